"""Tests of the volatility losses and the Diebold-Mariano test (pmresearch.metrics.stats)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from pmresearch.metrics.stats import diebold_mariano, mse, mse_loss, qlike, qlike_loss


def test_qlike_hand_values() -> None:
    # Patton (2011) eq. 24 normalized: L(y, h) = y/h - ln(y/h) - 1; hand-computed values.
    y = np.array([1.0, 2.0, 1.0, 4.0])
    h = np.array([1.0, 1.0, 2.0, 2.0])
    expected = np.array([0.0, 2.0 - np.log(2.0) - 1.0, 0.5 - np.log(0.5) - 1.0, 2.0 - np.log(2.0) - 1.0])
    np.testing.assert_allclose(qlike_loss(y, h), expected, rtol=0, atol=1e-15)
    assert qlike(y, h) == pytest.approx(expected.mean(), abs=1e-15)
    np.testing.assert_allclose(mse_loss(y, h), [0.0, 1.0, 1.0, 4.0])
    assert mse(y, h) == pytest.approx(1.5)


def test_qlike_is_minimized_by_the_conditional_mean() -> None:
    # Patton (2011): E[L(y, h)] is minimized at h = E[y] for a noisy unbiased proxy. y = 2 chi2_1 / 1.
    rng = np.random.default_rng(11)
    y = 2.0 * rng.chisquare(1, size=200_000)
    grid = np.linspace(1.0, 3.0, 41)
    best = grid[np.argmin([qlike(y, np.full_like(y, g)) for g in grid])]
    assert abs(best - y.mean()) < 0.06


def test_qlike_rejects_bad_forecasts() -> None:
    with pytest.raises(ValueError, match="entry 1"):
        qlike_loss([1.0, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shapes differ"):
        qlike_loss([1.0], [1.0, 2.0])


def test_dm_h1_hand_computed() -> None:
    # Hand computation: d = [1, -1, 2, 0, 3], dbar = 1, g0 = (0 + 4 + 1 + 1 + 4)/5 = 2,
    # DM = 1 / sqrt(2/5) = 1.5811...; HLN factor sqrt((5 + 1 - 2 + 0)/5) = sqrt(0.8).
    la = np.array([2.0, 0.0, 3.0, 1.0, 4.0])
    lb = np.ones(5)
    raw = diebold_mariano(la, lb, h=1, hln=False)
    assert raw.statistic == pytest.approx(1.0 / np.sqrt(0.4), abs=1e-12)
    assert raw.pvalue == pytest.approx(2 * stats.norm.sf(1.0 / np.sqrt(0.4)), abs=1e-12)
    hln = diebold_mariano(la, lb, h=1)
    assert hln.statistic == pytest.approx(np.sqrt(0.8) / np.sqrt(0.4), abs=1e-12)
    assert hln.pvalue == pytest.approx(2 * stats.t.sf(np.sqrt(2.0), df=4), abs=1e-12)
    assert diebold_mariano(la, lb, alternative="greater").pvalue == pytest.approx(hln.pvalue / 2, abs=1e-12)


@pytest.mark.parametrize("h", [1, 3, 15])
def test_dm_matches_statsmodels_hac(h: int) -> None:
    # Independent implementation: statsmodels OLS of d on a constant with a HAC covariance using the
    # uniform (rectangular) kernel over h - 1 lags and no small-sample correction is DM's variance.
    rng = np.random.default_rng(100 + h)
    n = 600
    e = rng.standard_normal(n + h)
    d = 0.1 + np.convolve(e, np.ones(h) / h, mode="valid")[:n]  # MA(h-1) differential
    la = d + 5.0
    lb = np.full(n, 5.0)
    res = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform",
                                                              "use_correction": False})
    dm = diebold_mariano(la, lb, h=h, hln=False)
    assert dm.kernel == "uniform"
    assert dm.statistic == pytest.approx(float(res.tvalues[0]), rel=1e-10)
    corr = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert diebold_mariano(la, lb, h=h).statistic == pytest.approx(float(res.tvalues[0]) * corr, rel=1e-10)


def test_dm_size_under_the_null() -> None:
    # Under equal accuracy (i.i.d. differentials, mean 0) the 5% two-sided test rejects about 5%.
    rng = np.random.default_rng(7)
    rejections = 0
    reps = 2000
    for _ in range(reps):
        d = rng.standard_normal(40)
        rejections += diebold_mariano(d, np.zeros(40)).pvalue < 0.05
    # Binomial(2000, 0.05): sd = 0.0049; the t(n-1) law is exact for Gaussian i.i.d. d.
    assert abs(rejections / reps - 0.05) < 0.015


def test_dm_bartlett_fallback_and_errors() -> None:
    # A strongly negatively autocorrelated differential makes the rectangular variance negative.
    d = np.tile([1.0, -1.0], 50) + 0.01
    res = diebold_mariano(d, np.zeros_like(d), h=4, hln=False)
    assert res.kernel == "bartlett"
    # Independent reference: statsmodels' Newey-West HAC (Bartlett weights 1 - k/(maxlags + 1), maxlags = h - 1).
    nw = sm.OLS(d, np.ones(d.size)).fit(cov_type="HAC", cov_kwds={"maxlags": 3, "kernel": "bartlett",
                                                                  "use_correction": False})
    assert res.statistic == pytest.approx(float(nw.tvalues[0]), rel=1e-10)
    with pytest.raises(ValueError, match="zero variance"):
        diebold_mariano(np.ones(10), np.ones(10))
    with pytest.raises(ValueError, match="h must be"):
        diebold_mariano(np.ones(10), np.zeros(10), h=0)
