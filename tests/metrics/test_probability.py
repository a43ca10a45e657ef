"""Probability scores against independent references: scikit-learn (log loss, Brier, AUC, logistic regression),
statsmodels (cluster-robust OLS), scipy (Wilson intervals) and hand-worked arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from pmresearch.metrics.probability import (
    brier_loss,
    calibration_fit,
    expected_calibration_error,
    log_loss,
    murphy_decomposition,
    paired_difference,
    probability_scores,
    reliability_table,
)


def _sample(n: int = 4000, seed: int = 0, a: float = 0.0, b: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts p and outcomes drawn from logit P(y = 1) = a + b logit(p): calibrated when (a, b) = (0, 1)."""
    rng = np.random.default_rng(seed)
    p = special.expit(rng.normal(0.0, 1.2, n))
    y = (rng.random(n) < special.expit(a + b * special.logit(p))).astype(float)
    return y, p


def test_log_loss_and_brier_match_scikit_learn() -> None:
    y, p = _sample()
    assert log_loss(y, p).mean() == pytest.approx(sk_log_loss(y, p), rel=1e-12)
    assert brier_loss(y, p).mean() == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    s = probability_scores(y, p)
    assert s["auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12) and s["n"] == y.size
    # by hand: ln 2 for a coin, and the clip keeps a confident miss finite: -ln(1e-6)
    assert log_loss([1, 0], [0.5, 0.5]).tolist() == pytest.approx([np.log(2)] * 2, rel=1e-15)
    assert log_loss([1], [0.0])[0] == pytest.approx(-np.log(1e-6), rel=1e-12)


def test_ece_by_hand() -> None:
    # bin [0.2, 0.3): forecasts 0.2, 0.2, outcomes 1, 0 -> |0.5 - 0.2| x 2/4; bin [0.9, 1]: 1.0, 0.9, outcomes 1, 1
    # -> |1 - 0.95| x 2/4: ECE = 0.15 + 0.025
    assert expected_calibration_error([1, 0, 1, 1], [0.2, 0.2, 1.0, 0.9]) == pytest.approx(0.175, rel=1e-12)


def test_murphy_parts_sum_to_the_brier_score_and_match_hand_values() -> None:
    y, p = _sample(n=3000, seed=1, b=0.7)
    m = murphy_decomposition(y, p, n_bins=10)
    total = m.reliability - m.resolution + m.uncertainty + m.within_variance - 2 * m.within_covariance
    assert total == pytest.approx(m.brier, rel=1e-12) and m.brier == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    # hand: forecasts constant within bins (within terms vanish): bin 0.25 holds outcomes 1,0,0,0; bin 0.75 1,1,1,0
    h = murphy_decomposition([1, 0, 0, 0, 1, 1, 1, 0], [0.25] * 4 + [0.75] * 4, n_bins=2)
    assert h.reliability == pytest.approx(0.0, abs=1e-15) and h.uncertainty == pytest.approx(0.25, rel=1e-15)
    assert h.resolution == pytest.approx(0.0625, rel=1e-12)  # (0.25 - 0.5)^2 and (0.75 - 0.5)^2, averaged
    assert h.within_variance == 0.0 and h.brier == pytest.approx(0.1875, rel=1e-12)  # 0.25 - 0.0625
    assert "reliability" in str(h)


def test_reliability_bands_are_wilson_intervals() -> None:
    y, p = _sample(n=2000, seed=2)
    t = reliability_table(y, p, n_bins=10)
    assert t["n"].sum() == y.size and (t["lo"] < t["hi"]).all()
    for _, row in t.iterrows():
        k = round(row["observed"] * row["n"])
        ci = stats.binomtest(k, int(row["n"])).proportion_ci(confidence_level=0.95, method="wilson")
        assert row["band_lo"] == pytest.approx(ci.low, rel=1e-9) and row["band_hi"] == pytest.approx(ci.high, rel=1e-9)
    # calibrated forecasts: the diagonal lies in most bands (95% each; at least 8 of 10 here)
    inside = (t["band_lo"] <= t["mean_forecast"]) & (t["mean_forecast"] <= t["band_hi"])
    assert inside.sum() >= 8


def test_calibration_fit_recovers_the_generating_slope() -> None:
    y, p = _sample(n=20_000, seed=3, a=0.2, b=0.6)
    fit = calibration_fit(y, p)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(special.logit(p)[:, None], y)
    assert fit.slope == pytest.approx(float(ref.coef_[0, 0]), rel=1e-5)
    assert fit.intercept == pytest.approx(float(ref.intercept_[0]), rel=1e-4)
    assert abs(fit.slope - 0.6) < 4 * fit.slope_se and abs(fit.intercept - 0.2) < 4 * fit.intercept_se
    calibrated = calibration_fit(*_sample(n=20_000, seed=4))
    assert abs(calibrated.slope - 1.0) < 4 * calibrated.slope_se
    assert abs(calibrated.intercept) < 4 * calibrated.intercept_se
    assert "slope" in str(fit)


def test_paired_difference_is_statsmodels_cluster_robust_ols() -> None:
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(60), 25)
    shock = rng.normal(0, 0.3, 60)[g]  # rows of one window share a shock: clustering matters
    a, b = rng.random(g.size) + shock, rng.random(g.size)
    r = paired_difference(a, b, g)
    ols = sm.OLS(a - b, np.ones(g.size)).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert r.mean_diff == pytest.approx(float(ols.params[0]), rel=1e-12)
    assert r.se == pytest.approx(float(ols.bse[0]), rel=1e-10)
    assert r.n == g.size and r.n_clusters == 60
    naive = float(np.std(a - b, ddof=1) / np.sqrt(g.size))
    assert r.se > 2 * naive  # the shared shocks make the naive SE far too small
    assert "clusters" in str(r)


@pytest.mark.parametrize(("y", "p", "match"), [
    ([0, 1], [0.5], "differ in length"),
    ([0, 2], [0.5, 0.5], "0 or 1; position 1"),
    ([0, 1], [0.5, 1.5], r"\[0, 1\]; position 1"),
    ([0, 1], [np.nan, 0.5], "non-finite forecast values, first at position 0"),
    ([], [], "no rows"),
])
def test_bad_input_is_named(y: list[float], p: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        probability_scores(y, p)


def test_degenerate_calibration_and_paired_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="every outcome is 1"):
        calibration_fit([1, 1, 1], [0.2, 0.5, 0.7])
    with pytest.raises(ValueError, match="constant"):
        calibration_fit([0, 1, 1], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="two clusters"):
        paired_difference([0.1, 0.2], [0.3, 0.1], ["w", "w"])
    with pytest.raises(ValueError, match="loss_b is not finite at position 1"):
        paired_difference([0.1, 0.2], [0.3, np.inf], ["a", "b"])
    with pytest.raises(ValueError, match="cluster label missing at position 0"):
        paired_difference([0.1, 0.2], [0.3, 0.1], pd.Series([None, "b"]))
