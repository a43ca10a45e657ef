"""Feature validation: ADF/KPSS table, missing-data policy, train-fitted winsorizing.

References: ``statsmodels.tsa.stattools.adfuller`` / ``kpss`` called directly on the same series;
numpy quantiles of the training fold for the winsorizing bounds; hand counts for the missing-data
report. Estimator contract: ``sklearn.utils.estimator_checks.check_estimator``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from estimator_contract import assert_passes_estimator_checks
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline
from statsmodels.tools.sm_exceptions import InterpolationWarning
from statsmodels.tsa.stattools import adfuller, kpss

from pmresearch._summary import Summary
from pmresearch.features.validation import (
    MissingDataImputer,
    MissingDataPolicy,
    MissingRule,
    StationarityResult,
    Winsorizer,
    stationarity_table,
)


def _ar1(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi**2) if abs(phi) < 1 else e[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    n = 500
    rng = np.random.default_rng(20261125)
    x = np.full(n, np.nan)
    x[:15] = rng.standard_normal(15)
    return pd.DataFrame({
        "walk": _ar1(1.0, n, seed=1),  # random walk: unit root
        "ar05": _ar1(0.5, n, seed=2),  # AR(1) phi=0.5: stationary
        "flat": np.full(n, 2.5),
        "empty": np.full(n, np.nan),
        "short": x,
        "flag": rng.random(n) < 0.3,  # boolean feature, tested as 0/1
    })


def _reference(x: np.ndarray, regression: str = "c") -> tuple[float, float, int, float, float, int]:
    adf = adfuller(x, regression=regression, autolag="AIC", result_object=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InterpolationWarning)
        kp = kpss(x, regression=regression, nlags="auto", result_object=True)
    return adf.statistic, adf.pvalue, adf.lags, kp.statistic, kp.pvalue, kp.lags


@pytest.mark.reference_live
def test_stationarity_matches_statsmodels_and_known_answers(series: pd.DataFrame) -> None:
    res = stationarity_table(series)
    assert isinstance(res, StationarityResult)
    t = res.table
    for col in ("walk", "ar05"):
        ref = _reference(series[col].to_numpy())
        got = t.loc[col, ["adf_stat", "adf_pvalue", "adf_lags", "kpss_stat", "kpss_pvalue", "kpss_lags"]]
        # statsmodels' regressions go through LAPACK (thread count); p-values can be ~0: a floor of 1e-12
        # (statistics are O(1), p-values in [0, 1])
        np.testing.assert_allclose(got.to_numpy(dtype=float), np.array(ref, dtype=float), rtol=1e-12, atol=1e-12)
    assert t.loc["walk", "verdict"] == "non-stationary"
    assert t.loc["ar05", "verdict"] == "stationary"
    # the random walk's KPSS statistic is beyond the 1% table value: p-value is an upper bound
    assert t.loc["walk", "kpss_pvalue_bound"] == "<="
    assert t.loc["walk", "kpss_stat"] > 0.739  # KPSS (1992) Table 1, eta_mu 1% critical value
    assert t.loc["ar05", "adf_stat"] < -2.86  # MacKinnon (2010) 5% asymptotic critical value, constant
    assert t.loc["flag", "verdict"] == "stationary"  # i.i.d. Bernoulli


def test_stationarity_degenerate_columns_get_verdicts(series: pd.DataFrame) -> None:
    t = stationarity_table(series).table
    assert t.loc["flat", "verdict"] == "constant"
    assert t.loc["empty", "verdict"] == "all-NaN"
    assert t.loc["short", "verdict"] == "too few observations"
    assert "15 non-NaN" in t.loc["short", "note"]
    assert np.isnan(t.loc["flat", "adf_stat"])
    res = stationarity_table(series)
    counts = res.counts
    assert counts["constant"] == 1 and counts["all-NaN"] == 1 and counts["stationary"] == 2
    assert res.non_stationary == ("walk",)
    html = res._repr_html_()
    assert "<table" in html and "non-stationary: 1" in html
    summary = res.summary()
    assert isinstance(summary, Summary) and summary.names == ("features", "verdicts")
    assert list(summary.frame.index) == list(series.columns)
    assert summary["verdicts"]["features"].to_dict() == counts.to_dict()
    assert summary.frame.loc["walk", "verdict"] == "non-stationary"
    assert str(res) == summary.as_text() and html == summary.as_html()


@pytest.mark.reference_live
def test_trend_stationary_depends_on_deterministic_terms() -> None:
    n = 600
    x = 0.05 * np.arange(n) + _ar1(0.5, n, seed=3)
    frame = pd.DataFrame({"trend": x})
    with_trend = stationarity_table(frame, regression="ct").table.loc["trend"]
    ref = _reference(x, "ct")
    assert with_trend["adf_stat"] == pytest.approx(ref[0], rel=1e-12)
    assert with_trend["kpss_stat"] == pytest.approx(ref[3], rel=1e-12)
    assert with_trend["verdict"] == "stationary"
    level_only = stationarity_table(frame, regression="c").table.loc["trend", "verdict"]
    assert level_only != "stationary"  # KPSS around a constant rejects a trending series


def test_stationarity_bad_input() -> None:
    with pytest.raises(TypeError, match="'name'"):
        stationarity_table(pd.DataFrame({"name": ["a", "b"]}))
    with pytest.raises(TypeError, match="DataFrame"):
        stationarity_table(np.zeros((10, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        stationarity_table(pd.DataFrame({"x": [1.0]}), alpha=1.5)


# ------------------------------------------------------------------------------------------------
# Missing data
# ------------------------------------------------------------------------------------------------


def test_missing_rule_parsing() -> None:
    assert MissingRule.parse("ffill:3") == MissingRule("ffill", limit=3)
    assert MissingRule.parse("constant:-1.5") == MissingRule("constant", value=-1.5)
    assert MissingRule.parse("indicator") == MissingRule("indicator", value=0.0)
    assert MissingRule.parse("drop_row").kind == "drop_row"
    for bad in ("ffill", "constant", "median", "ffill:x", "keep:1"):
        with pytest.raises(ValueError, match="bad missing-data rule"):
            MissingRule.parse(bad)
    with pytest.raises(ValueError, match="limit"):
        MissingRule("ffill", limit=0)


@pytest.fixture
def gappy() -> pd.DataFrame:
    nan = np.nan
    idx = pd.date_range("2026-06-15", periods=8, freq="30s", tz="UTC")
    return pd.DataFrame({
        "a__ff": [1.0, nan, nan, nan, 5.0, nan, 7.0, 8.0],
        "b__const": [nan, 2.0, 3.0, nan, 5.0, 6.0, 7.0, 8.0],
        "c__ind": [1.0, 2.0, nan, 4.0, 5.0, 6.0, nan, 8.0],
        "d__drop": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, nan],
        "e__keep": [nan, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    }, index=idx)


def test_missing_policy_apply_and_report(gappy: pd.DataFrame) -> None:
    policy = MissingDataPolicy({"a__ff": "ffill:2", "b__const": "constant:0", "c__ind": "indicator:-1",
                                "d__drop": "drop_row"}, default="keep")
    res = policy.apply(gappy)
    out = res.data
    # hand-computed: ffill limit 2 fills rows 1, 2 from row 0 and row 5 from row 4; row 3 stays NaN
    np.testing.assert_array_equal(out["a__ff"].to_numpy(), [1.0, 1.0, 1.0, np.nan, 5.0, 5.0, 7.0])
    np.testing.assert_array_equal(out["b__const"].to_numpy(), [0.0, 2, 3, 0, 5, 6, 7])
    np.testing.assert_array_equal(out["c__ind"].to_numpy(), [1.0, 2, -1, 4, 5, 6, -1])
    np.testing.assert_array_equal(out["c__ind_missing"].to_numpy(), [0.0, 0, 1, 0, 0, 0, 1])
    assert out.index.equals(gappy.index[:7])  # the row with d__drop missing is gone
    assert res.n_rows_dropped == 1 and res.n_rows_in == 8
    rep = res.report
    assert rep.loc["a__ff", ["n_missing", "n_filled", "n_missing_after"]].tolist() == [4, 3, 1]
    assert rep.loc["b__const", ["n_missing", "n_filled", "n_missing_after"]].tolist() == [2, 2, 0]
    assert rep.loc["d__drop", ["n_missing", "n_rows_dropped", "n_missing_after"]].tolist() == [1, 1, 0]
    assert rep.loc["e__keep", ["rule", "n_missing", "n_missing_after"]].tolist() == ["keep NaN", 1, 1]
    assert rep.loc["c__ind", "indicator"] == "c__ind_missing"
    assert "forward-fill (limit 2)" in res._repr_html_()
    summary = res.summary()
    assert isinstance(summary, Summary) and summary.names == ("report",)
    pd.testing.assert_frame_equal(summary.frame, rep)
    assert "8 rows in, 1 dropped, 7 out" in str(res)
    assert policy.table(list(gappy.columns)).loc["d__drop", "rule"] == "drop row"
    assert gappy["a__ff"].isna().sum() == 4  # input untouched


def test_missing_policy_ffill_within_groups() -> None:
    # two windows at the same decision times (duplicate index labels), rows sorted by t
    idx = pd.DatetimeIndex(["2026-06-15 00:00", "2026-06-15 00:00", "2026-06-15 00:01", "2026-06-15 00:01",
                            "2026-06-15 00:02", "2026-06-15 00:02"], tz="UTC")
    X = pd.DataFrame({"f": [1.0, 10.0, np.nan, np.nan, np.nan, 30.0]}, index=idx)
    slug = ["a", "b", "a", "b", "a", "b"]
    grouped = MissingDataPolicy({"f": "ffill:5"}).apply(X, groups=slug).data["f"].to_numpy()
    np.testing.assert_array_equal(grouped, [1.0, 10.0, 1.0, 10.0, 1.0, 30.0])
    plain = MissingDataPolicy({"f": "ffill:5"}).apply(X).data["f"].to_numpy()
    np.testing.assert_array_equal(plain, [1.0, 10.0, 10.0, 10.0, 10.0, 30.0])  # crosses windows
    with pytest.raises(ValueError, match="one label per row"):
        MissingDataPolicy().apply(X, groups=["a"])


def test_time_order_and_tz_are_enforced(gappy: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="not in time order"):
        MissingDataPolicy().apply(gappy.iloc[::-1])
    with pytest.raises(ValueError, match="tz-naive"):
        stationarity_table(gappy.tz_localize(None))


def test_missing_policy_errors(gappy: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"not in the data: \['zz'\]"):
        MissingDataPolicy({"zz": "keep"}).apply(gappy)
    with pytest.raises(ValueError, match="bad missing-data rule"):
        MissingDataPolicy({"a__ff": "ffill"})


def test_missing_imputer_in_pipeline_keeps_names(gappy: pd.DataFrame) -> None:
    imp = MissingDataImputer({"a__ff": "ffill:2", "c__ind": "indicator"}, default="constant:0")
    imp.set_output(transform="pandas")
    out = imp.fit_transform(gappy.drop(columns="d__drop"))
    assert list(out.columns) == ["a__ff", "b__const", "c__ind", "e__keep", "c__ind_missing"]
    np.testing.assert_array_equal(out["a__ff"].to_numpy(), [1.0, 1, 1, np.nan, 5, 5, 7, 8])  # ffill rule only
    np.testing.assert_array_equal(out["b__const"].to_numpy(), [0.0, 2, 3, 0, 5, 6, 7, 8])  # the default rule
    np.testing.assert_array_equal(out["c__ind_missing"].to_numpy(), [0.0, 0, 1, 0, 0, 0, 1, 0])
    assert out.index.equals(gappy.index)
    with pytest.raises(ValueError, match="cannot drop rows inside a Pipeline"):
        MissingDataImputer(default="drop_row").fit(gappy)
    with pytest.raises(ValueError, match=r"not in the data: \['nope'\]"):
        MissingDataImputer({"nope": "keep"}).fit(gappy)


# ------------------------------------------------------------------------------------------------
# Winsorizing
# ------------------------------------------------------------------------------------------------


def test_winsorizer_bounds_come_from_fit_data_only() -> None:
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"x": rng.standard_t(3, 400), "y": rng.standard_normal(400)})
    test = pd.DataFrame({"x": [-100.0, 0.0, 100.0, np.nan], "y": [50.0, -50.0, 0.1, 0.2]})
    w = Winsorizer(lower=0.05, upper=0.95).set_output(transform="pandas").fit(train)
    ref_lo = np.quantile(train.to_numpy(), 0.05, axis=0)
    ref_hi = np.quantile(train.to_numpy(), 0.95, axis=0)
    # quantiles interpolated in another code path; a bound near 0 would make rtol alone demand bit equality
    # (data are O(1): the floor is 1e-15 of their scale)
    np.testing.assert_allclose(w.lower_bounds_, ref_lo, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(w.upper_bounds_, ref_hi, rtol=1e-15, atol=1e-15)
    out = w.transform(test)
    assert list(out.columns) == ["x", "y"]
    np.testing.assert_allclose(out["x"].to_numpy()[:3], [ref_lo[0], 0.0, ref_hi[0]], rtol=1e-15, atol=1e-15)
    assert np.isnan(out["x"].iloc[3])  # NaN passes through
    np.testing.assert_allclose(out["y"].to_numpy(), [ref_hi[1], ref_lo[1], 0.1, 0.2])
    # the test data's own extremes did not move the bounds
    w2 = Winsorizer(lower=0.05, upper=0.95).fit(train)
    w2.transform(test)
    np.testing.assert_array_equal(w2.lower_bounds_, w.lower_bounds_)
    assert list(w.bounds_.index) == ["x", "y"]


def test_winsorizer_in_cross_validation_uses_each_training_fold() -> None:
    rng = np.random.default_rng(6)
    X = pd.DataFrame({"a": rng.standard_t(2, 300), "b": rng.standard_normal(300)})
    y = (X["b"] + rng.standard_normal(300) > 0).astype(int)
    pipe = Pipeline([("w", Winsorizer(0.02, 0.98)), ("clf", LogisticRegression(solver="newton-cholesky"))])
    cv = KFold(3)
    res = cross_validate(pipe, X, y, cv=cv, return_estimator=True)
    for est, (train, _test) in zip(res["estimator"], cv.split(X), strict=True):
        w = est.named_steps["w"]
        np.testing.assert_allclose(w.lower_bounds_, np.quantile(X.iloc[train].to_numpy(), 0.02, axis=0))
        np.testing.assert_allclose(w.upper_bounds_, np.quantile(X.iloc[train].to_numpy(), 0.98, axis=0))
        # and they differ from the full-sample bounds (so the check above can fail)
        assert not np.allclose(w.upper_bounds_, np.quantile(X.to_numpy(), 0.98, axis=0))


def test_winsorizer_bad_params() -> None:
    with pytest.raises(ValueError, match=r"lower < 0\.5 < upper"):
        Winsorizer(lower=0.6, upper=0.9).fit(np.zeros((5, 1)))


@pytest.mark.parametrize("estimator", [Winsorizer(), MissingDataImputer(), MissingDataImputer(default="indicator"),
                                       MissingDataImputer(default="ffill:2")], ids=repr)
def test_sklearn_estimator_checks(estimator: object) -> None:
    assert_passes_estimator_checks(estimator)
