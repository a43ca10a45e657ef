"""Digital pricing against a textbook value, its own limits and Monte Carlo of the same laws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing import digital_bs, digital_merton, digital_twap, twap_log_moments


def test_digital_bs_textbook_value() -> None:
    """Haug (2007), *The Complete Guide to Option Pricing Formulas*, cash-or-nothing example:
    S=100, K=80, T=0.75, r=0.06, b=0, sigma=0.35, cash 10 -> put 2.6710."""
    p_up = digital_bs(100.0, 80.0, 0.75, 0.35, 0.0)  # cost of carry b = 0: zero drift
    put = 10.0 * np.exp(-0.06 * 0.75) * (1.0 - p_up)
    assert put == pytest.approx(2.6710, abs=5e-5)


def test_digital_bs_closed_form_and_edges() -> None:
    s = np.array([100.0, 101.0, 99.0, 100.0, 100.0, 1e6, 1e-6])
    p = digital_bs(s, 100.0, np.array([0.1, 0.0, 0.0, 0.0, 1e-30, 0.1, 0.1]), 0.5)
    d2 = (np.log(100.0 / 100.0) - 0.125 * 0.1) / (0.5 * np.sqrt(0.1))
    assert p[0] == pytest.approx(special.ndtr(d2), rel=1e-15)
    np.testing.assert_array_equal(p[1:4], [1.0, 0.0, 1.0])  # tau = 0: indicator, ties Up
    assert p[5] == pytest.approx(1.0) and p[6] == pytest.approx(0.0)
    assert np.all(np.isfinite(p))
    # sigma = 0: indicator of the forward S e^{r tau} >= K
    np.testing.assert_array_equal(digital_bs([99.0, 99.0], 100.0, 1.0, 0.0, [0.0, 0.02]), [0.0, 1.0])


def test_digital_bs_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="S must be positive"):
        digital_bs(-1.0, 100.0, 0.1, 0.5)
    with pytest.raises(ValueError, match="sigma"):
        digital_bs(100.0, 100.0, 0.1, np.nan)


def test_merton_equals_bs_without_jumps() -> None:
    rng = np.random.default_rng(0)
    s, k = rng.uniform(50, 150, 1000), rng.uniform(50, 150, 1000)
    tau, sig = rng.uniform(0, 1, 1000), rng.uniform(0.05, 1.5, 1000)
    merton = digital_merton(s, k, tau, sig, 0.0, -0.1, 0.2, 0.03)
    np.testing.assert_array_equal(merton, digital_bs(s, k, tau, sig, 0.03))


@pytest.mark.parametrize(("lam", "mu_j", "sigma_j"), [(3.0, -0.05, 0.10), (20.0, 0.02, 0.04)])
def test_merton_matches_monte_carlo(lam: float, mu_j: float, sigma_j: float) -> None:
    """Exact draws of the jump-diffusion terminal law (Merton 1976), 400,000 paths, within 4 SE."""
    rng = np.random.default_rng(42)
    n, s, k, tau, sig, r = 400_000, 100.0, 102.0, 0.5, 0.3, 0.01
    kappa = np.expm1(mu_j + 0.5 * sigma_j**2)
    counts = rng.poisson(lam * tau, n)
    log_st = (np.log(s) + (r - lam * kappa - 0.5 * sig**2) * tau + sig * np.sqrt(tau) * rng.standard_normal(n)
              + counts * mu_j + sigma_j * np.sqrt(counts) * rng.standard_normal(n))
    mc = np.mean(log_st >= np.log(k))
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(digital_merton(s, k, tau, sig, lam, mu_j, sigma_j, r) - mc) < 4 * se


def test_twap_moments_match_brute_force() -> None:
    for tau in [0.3, 1.0, 17.5, 59.0, 60.0, 61.2, 600.0]:
        u = tau - np.arange(60.0)
        u = u[u > 1e-9]
        m, sum_u, sum_min, u_first, span, _, _ = twap_log_moments(tau, 60)
        assert m == u.size
        # years: 1e-8 .. 1e-3; pytest's implicit abs=1e-12 would be slack up to 1e-4 relative, so abs=1e-20
        assert sum_u == pytest.approx(u.sum() / SECONDS_PER_YEAR, rel=1e-12, abs=1e-20)
        assert sum_min == pytest.approx(np.minimum.outer(u, u).sum() / SECONDS_PER_YEAR, rel=1e-12, abs=1e-20)
        assert u_first == pytest.approx(u.min() / SECONDS_PER_YEAR, rel=1e-12, abs=1e-20)
        assert span == pytest.approx((u.max() - u.min()) / SECONDS_PER_YEAR, rel=1e-12, abs=1e-20)


def test_twap_with_one_tick_is_the_merton_real_world_digital() -> None:
    """A 1-tick average is the instantaneous value: drift mu (no compensator) equals Merton with
    mu = drift + lam kappa + sigma^2 / 2."""
    tau_s = np.array([600.0, 30.0, 2.0])
    lam, mu_j, sj, drift = 500.0, -0.01, 0.02, 0.3
    p = digital_twap(0.0, 101.0, 100.0, tau_s, 0.5, 1, drift=drift, lam=lam, mu_j=mu_j, sigma_j=sj)
    kappa = np.expm1(mu_j + 0.5 * sj**2)
    ref = digital_merton(101.0, 100.0, tau_s / SECONDS_PER_YEAR, 0.5, lam, mu_j, sj, mu=drift + lam * kappa + 0.125)
    # probabilities from two series (TWAP moments vs the Merton kernel): their truncation error is absolute
    np.testing.assert_allclose(p, ref, rtol=1e-12, atol=1e-13)
