"""The data-quality and features report helpers (notebooks/05_data_features.ipynb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.config import ConfigError, from_mapping
from pmresearch.features.leakage import LeakageAuditResult
from pmresearch.reports import data_features as df5


def _matrix(n: int = 60) -> pd.DataFrame:
    """Decision rows of two window lengths with features of three families."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2026-06-15", periods=n, freq="1min", tz="UTC")
    rows = pd.DataFrame({"t": np.repeat(t, 2), "slug": ["a", "b"] * n, "interval_minutes": [5, 15] * n})
    m = len(rows)
    sparse = np.where(np.arange(m) % 4 == 0, rng.normal(size=m), np.nan)  # known on a quarter of the rows
    return rows.assign(**{
        "price__r1": rng.normal(size=m), "price__r2": rng.normal(size=m), "price__sparse": sparse,
        "time__hour": np.tile([0.0, 1.0, 2.0], m // 3 + 1)[:m],  # three values: a cycle, not a series
        "vol__a": rng.normal(size=m), "vol__b": rng.normal(size=m), "ta__never": np.full(m, np.nan),
    })


def test_config_validates_its_parameters() -> None:
    with pytest.raises(ConfigError, match="interval_minutes"):
        from_mapping(df5.DataFeaturesConfig, {"interval_minutes": 10})
    with pytest.raises(ConfigError, match="cv_folds"):
        from_mapping(df5.DataFeaturesConfig, {"cv_folds": 1})
    with pytest.raises(ConfigError, match="unknown"):
        from_mapping(df5.DataFeaturesConfig, {"n_folds": 3})


def test_feature_columns_by_coverage() -> None:
    m = _matrix()
    assert df5.feature_columns(m) == ["price__r1", "price__r2", "price__sparse", "time__hour", "vol__a", "vol__b"]
    assert "price__sparse" not in df5.feature_columns(m, 0.5)


def test_stationarity_subset_takes_families_in_turn_and_skips_cycles() -> None:
    m = _matrix()
    # one row per t of the longest windows; sparse (coverage 0 there: rows 0, 4, ... are the 5-minute ones)
    # and the three-valued hour are left out
    assert df5.stationarity_subset(m, 3, 0.5) == ["price__r1", "vol__a", "price__r2"]
    assert df5.stationarity_subset(m, 10, 0.5) == ["price__r1", "vol__a", "price__r2", "vol__b"]
    result = df5.stationarity_check(m, ["price__r1", "vol__a"], max_lag=2)
    assert list(result.table.index) == ["price__r1", "vol__a"]
    assert (result.table["n_obs"] == 60).all()  # one observation per decision time
    assert set(result.table["verdict"]) == {"stationary"}  # white noise (ADF rejects, KPSS does not)


def test_audit_by_family_adds_up() -> None:
    table = pd.DataFrame({
        "feature": ["price__a", "price__b", "vol__c"], "family": ["price", "price", "vol"], "checked": 5,
        "non_null": [5, 0, 3], "truncation_failures": [0, 0, 2], "permutation_failures": [0, 0, 1],
        "max_abs_diff": [0.0, 0.0, 0.5],
    })
    table["passed"] = (table["truncation_failures"] == 0) & (table["permutation_failures"] == 0)
    audit = LeakageAuditResult(table=table, times=(), seed=0, rtol=1e-9, atol=1e-12, examples=pd.DataFrame())
    out = df5.audit_by_family(audit)
    assert out.loc["price"].tolist()[:4] == [2, 2, 0, 1]
    assert out.loc["vol"].tolist()[:4] == [1, 0, 1, 1]
    assert out.loc["all"].tolist() == [3, 2, 1, 2, 0.5]


def test_a_given_store_with_rows_is_read_as_it_is(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    cfg = from_mapping(df5.DataFeaturesConfig, {"db": db, "days": 0.05, "seed": 2})
    first = df5.open_store(cfg, root=tmp_path)
    first.store.close()
    assert first.source.startswith("simulated edge world") and first.loaded["polymarket_quotes"] > 0
    again = df5.open_store(cfg, root=tmp_path)
    again.store.close()
    assert again.source == "existing store" and again.loaded == {}
    assert again.counts == first.counts  # nothing simulated into it a second time
    with pytest.raises(ConfigError, match="no such directory"):
        df5.open_store(from_mapping(df5.DataFeaturesConfig, {"data_dir": "missing", "db": db}), root=tmp_path)
