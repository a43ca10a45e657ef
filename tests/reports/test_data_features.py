"""The data-quality and features experiment (notebooks/05_data_features.ipynb) and its figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pmresearch.config import ConfigError, from_mapping
from pmresearch.experiments import data_features as df5
from pmresearch.features.leakage import LeakageAuditResult
from pmresearch.labels import DecisionSchedule
from pmresearch.reports import data_features as plots


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


def test_config_gives_its_decision_schedule() -> None:
    cfg = from_mapping(df5.Config, {"every_s": 120.0})
    assert df5.Config is df5.DataFeaturesConfig and df5.Result is df5.DataFeaturesResult
    assert cfg.schedule == DecisionSchedule(every_s=120.0, first_s=60.0, last_s=30.0)


HEADLINE_KEYS = {
    "source", "decision_rows", "windows", "features", "share_up", "quality_series", "quality_min_coverage",
    "quality_anomaly_rows", "quality_label_flip_rate", "leakage_passed", "leakage_failing", "leakage_rows",
    "stationary", "non_stationary", "stationarity_tested", "selection_nogueira", "selection_jaccard", "top_feature",
    "rows_by_table", "stationarity_verdicts", "selection_frequency",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> df5.DataFeaturesResult:
    """A run on a tenth of a day (about ten seconds)."""
    cfg = from_mapping(df5.Config, {"days": 0.1, "seed": 1, "every_s": 120.0, "leakage_rows": 2, "cv_folds": 2,
                                    "stationarity_features": 3, "stationarity_max_lag": 2, "top_k": 3})
    return df5.run(cfg, root=tmp_path_factory.mktemp("run05"), progress=False)


def test_run_holds_what_the_notebook_shows(result: df5.DataFeaturesResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.matrix = pd.DataFrame()  # type: ignore[misc]
    head = result.headline()
    assert set(head) == HEADLINE_KEYS  # the keys of reports/05_data_features/<run>.json
    # every 120 s from 60 s after the start to 30 s before the end of a 15-minute window: 60, 180, ..., 780
    per_window = len(result.config.schedule.window_offsets_us(900_000_000))
    assert per_window == 7 and head["decision_rows"] == per_window * head["windows"] > 0
    assert ((result.matrix["t"] - result.matrix["window_start"]).dt.total_seconds() % 120 == 60).all()
    assert head["leakage_passed"] is True and head["leakage_rows"] == 2
    assert head["stationarity_tested"] == len(result.stationarity.table) <= 3
    assert head["rows_by_table"] == result.counts and result.loaded["polymarket_quotes"] > 0
    assert result.store_table().loc["polymarket_quotes", "loaded by this run"] == result.loaded["polymarket_quotes"]
    assert result.matrix_summary().loc["decision rows", "value"] == f"{head['decision_rows']:,}"
    assert result.audit_by_family().loc["all", "features"] == len(result.audit.table)
    assert set(result.timings) == {"load_s", "quality_s", "matrix_s", "leakage_s", "stationarity_s", "selection_s"}
    assert result.source in result._repr_html_()


def test_figures_take_result_parts(result: df5.DataFeaturesResult) -> None:
    cov = plots.coverage_figure(result.matrix)
    assert isinstance(cov, go.Figure) and {tr.name for tr in cov.data} >= {"price", "vol"}
    assert f"{len(result.matrix):,} decision rows" in cov.layout.title.text
    st = plots.stationarity_figure(result.stationarity)
    assert sum(len(tr.x) for tr in st.data) == int(result.stationarity.table[["adf_pvalue", "kpss_pvalue"]]
                                                   .notna().all(axis=1).sum())
    sel = plots.selection_figure(result.stability, result.config.top_k)
    assert "top-3 selection across 2 purged folds" in sel.layout.title.text
