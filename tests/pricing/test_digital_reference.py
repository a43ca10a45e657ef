"""Digital pricing against QuantLib, Monte Carlo of the same laws and finite differences.

References: QuantLib 1.44 ``BlackCalculator`` with a ``CashOrNothingPayoff`` (value, ``delta``,
``vega``); Merton (1976) for the jump-diffusion terminal law; Turnbull & Wakeman (1991) / Levy (1992)
moment matching for the TWAP digital, checked by Monte Carlo of the exact arithmetic average.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import QuantLib as ql
from scipy import special

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing import digital_bs, digital_delta, digital_merton, digital_twap, digital_vega
from pmresearch.pricing._kernels import merton_series_kernel, ndtr_kernel
from pmresearch.pricing.digital import _merton_series_np


def _grid() -> tuple[np.ndarray, ...]:
    """10,800 inputs: moneyness from deep out to deep in, 1 s to 2 years, 1% to 300% vol, rates."""
    k = np.array([50.0, 80.0, 95.0, 99.0, 99.9, 100.0, 100.1, 101.0, 105.0, 120.0, 200.0, 1000.0])
    tau = np.array([1.0 / SECONDS_PER_YEAR, 60.0 / SECONDS_PER_YEAR, 900.0 / SECONDS_PER_YEAR, 1 / 365, 0.02,
                    0.1, 0.25, 0.5, 1.0, 2.0])
    sig = np.array([0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.0, 2.0, 3.0])
    r = np.array([-0.01, 0.0, 0.02, 0.05, 0.1, 0.3, 0.6, 1.0, 1.5])
    grid = np.array(list(itertools.product(k, tau, sig, r)))
    return np.full(len(grid), 100.0), grid[:, 0], grid[:, 1], grid[:, 2], grid[:, 3]


def _ql_black(s: float, k: float, tau: float, sig: float, r: float) -> tuple[float, float, float]:
    """QuantLib's cash-or-nothing (payout 1) value, delta and vega with no discounting."""
    payoff = ql.CashOrNothingPayoff(ql.Option.Call, k, 1.0)
    calc = ql.BlackCalculator(payoff, s * np.exp(r * tau), sig * np.sqrt(tau), 1.0)
    return calc.value(), calc.delta(s), calc.vega(tau)


def test_digital_bs_matches_quantlib_on_a_grid() -> None:
    """``digital_bs`` equals QuantLib ``BlackCalculator`` (stdDev = sigma sqrt(tau), forward S e^{r tau},
    discount 1) to 1e-10 on 10,800 inputs."""
    s, k, tau, sig, r = _grid()
    assert s.size >= 10_000
    ref = np.array([_ql_black(*row)[0] for row in zip(s, k, tau, sig, r, strict=True)])
    got = digital_bs(s, k, tau, sig, r)
    np.testing.assert_allclose(got, ref, rtol=0.0, atol=1e-10)
    assert ref.min() < 1e-6 and ref.max() > 1.0 - 1e-6  # the grid reaches both tails
    assert np.mean((ref > 0.01) & (ref < 0.99)) > 0.3  # and the informative middle


def test_greeks_match_quantlib() -> None:
    """Delta and vega equal QuantLib's ``BlackCalculator.delta(spot)`` and ``vega(maturity)`` (Hull's
    cash-or-nothing greeks ``phi(d2)/(S sigma sqrt(tau))`` and ``-phi(d2) d1 / sigma``)."""
    s, k, tau, sig, r = (a[::7] for a in _grid())
    ref = np.array([_ql_black(*row)[1:] for row in zip(s, k, tau, sig, r, strict=True)])
    np.testing.assert_allclose(digital_delta(s, k, tau, sig, r), ref[:, 0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(digital_vega(s, k, tau, sig, r), ref[:, 1], rtol=1e-8, atol=1e-10)


def test_merton_greeks_match_finite_differences() -> None:
    """Merton delta and vega against central differences of :func:`digital_merton` (step 1e-5 relative)."""
    rng = np.random.default_rng(3)
    n = 200
    s, k = rng.uniform(90, 110, n), rng.uniform(90, 110, n)
    tau, sig = rng.uniform(0.01, 1.0, n), rng.uniform(0.1, 1.0, n)
    lam, mj, sj, r = rng.uniform(0.5, 30, n), rng.uniform(-0.1, 0.1, n), rng.uniform(0.01, 0.2, n), 0.02
    hs, hv = 1e-5 * s, 1e-5 * sig
    fd_delta = (digital_merton(s + hs, k, tau, sig, lam, mj, sj, r)
                - digital_merton(s - hs, k, tau, sig, lam, mj, sj, r)) / (2 * hs)
    fd_vega = (digital_merton(s, k, tau, sig + hv, lam, mj, sj, r)
               - digital_merton(s, k, tau, sig - hv, lam, mj, sj, r)) / (2 * hv)
    np.testing.assert_allclose(digital_delta(s, k, tau, sig, r, lam=lam, mu_j=mj, sigma_j=sj), fd_delta,
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(digital_vega(s, k, tau, sig, r, lam=lam, mu_j=mj, sigma_j=sj), fd_vega,
                               rtol=1e-5, atol=1e-8)


def test_edges_are_finite_indicators() -> None:
    """tau -> 0, sigma -> 0 and deep in/out of the money: no NaN, indicator limits, ties Up."""
    s = np.array([100.0, 100.001, 99.999, 1e8, 1e-8, 100.0])
    tau = np.array([0.0, 1e-300, 0.0, 1.0, 1.0, 1.0])
    sig = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.0])
    for p in (digital_bs(s, 100.0, tau, sig), digital_merton(s, 100.0, tau, sig, 50.0, -0.01, 0.02)):
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p[[0, 1, 2]], [1.0, 1.0, 0.0])
        assert p[3] == pytest.approx(1.0) and p[4] == pytest.approx(0.0, abs=1e-15)
    # an at-the-money digital an instant before expiry is 1/2 (the limit), at expiry the tie rule's 1
    assert float(digital_bs(100.0, 100.0, 1e-300, 0.5)) == pytest.approx(0.5)
    for g in (digital_delta(s, 100.0, tau, sig), digital_vega(s, 100.0, tau, sig),
              digital_delta(s, 100.0, tau, sig, lam=5.0, mu_j=0.0, sigma_j=0.01)):
        assert np.all(np.isfinite(g))
        np.testing.assert_array_equal(g[[0, 2]], 0.0)  # zero variance: no slope (not NaN)
    np.testing.assert_array_equal(digital_vega(s, 100.0, tau, sig)[5], 0.0)
    # sigma = 0 with jumps: only the no-jump term is an indicator; the rest are smooth
    p0 = digital_merton(100.0, 100.0, 1.0, 0.0, 2.0, 0.0, 0.1)
    # Merton (1976) series by hand: the n = 0 term is 1{-lam kappa >= 0} = 0, term n is N(-lam kappa / (0.1 sqrt n))
    n = np.arange(1, 60)
    ref = np.sum(np.exp(-2.0 + n * np.log(2.0) - special.gammaln(n + 1.0))
                 * special.ndtr(-2.0 * np.expm1(0.005) / (0.1 * np.sqrt(n))))
    assert float(p0) == pytest.approx(float(ref), abs=1e-12)


def test_merton_equals_bs_exactly_without_jumps_on_the_grid() -> None:
    s, k, tau, sig, r = _grid()
    np.testing.assert_array_equal(digital_merton(s, k, tau, sig, 0.0, 0.05, 0.3, r), digital_bs(s, k, tau, sig, r))


def test_merton_kernel_matches_numpy_reference() -> None:
    """The numba series (per-element truncation) equals the vectorized NumPy series on 3,000
    heterogeneous inputs: expected jump counts from 0 to 3,000, zero diffusion and zero jump variance."""
    rng = np.random.default_rng(5)
    n = 3000
    mean, var0 = rng.normal(0.0, 0.05, n), rng.uniform(0.0, 0.01, n)
    count = np.exp(rng.uniform(np.log(1e-4), np.log(3000.0), n))
    mj, vj = rng.normal(0.0, 0.002, n), rng.uniform(0.0, 1e-5, n)
    var0[::10], count[::7], vj[::11] = 0.0, 0.0, 0.0
    got = merton_series_kernel(mean, var0, count, mj, vj, 1e-12)
    ref = _merton_series_np(mean, var0, count, mj, vj, 1e-12)
    np.testing.assert_allclose(got, ref, rtol=0.0, atol=2e-12)
    assert np.ptp(got) > 0.9  # not a degenerate set


def test_ndtr_kernel_equals_scipy() -> None:
    """The kernel's Cephes ``ndtr`` port equals ``scipy.special.ndtr`` (the same Cephes approximations)
    bit for bit from -40 to 40, through every branch (|x| < 1, 1 <= |x| < 8, beyond, underflow)."""
    z = np.concatenate([np.linspace(-40.0, 40.0, 200_001), np.random.default_rng(1).normal(0.0, 3.0, 50_000)])
    np.testing.assert_array_equal(ndtr_kernel(z), special.ndtr(z))


def test_merton_broadcasts_and_validates() -> None:
    s = np.array([[99.0], [100.0], [101.0]])
    p = digital_merton(s, np.array([99.5, 100.5]), 0.01, 0.5, np.array([0.0, 40.0]), -0.01, 0.02)
    assert p.shape == (3, 2) and p.dtype == np.float64
    assert p[2, 0] == digital_bs(101.0, 99.5, 0.01, 0.5)  # lam = 0 column: exactly Black-Scholes
    with pytest.raises(ValueError, match="lam"):
        digital_merton(100.0, 100.0, 0.1, 0.5, -1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="mu_j"):
        digital_merton(100.0, 100.0, 0.1, 0.5, 1.0, np.nan, 0.1)
    with pytest.raises(ValueError, match="tol"):
        digital_merton(100.0, 100.0, 0.1, 0.5, 1.0, 0.0, 0.1, tol=0.0)
    with pytest.raises(ValueError, match=r"sigma must be >= 0 and finite \(got -0.2 at index \(0, 1\)\)"):
        digital_bs(s, 100.0, 0.1, np.array([0.2, -0.2]))
    with pytest.raises(ValueError, match="K must be positive"):
        digital_bs(100.0, np.array([100.0, 0.0]), 0.1, 0.2)
    with pytest.raises(ValueError, match=r"mu must be finite"):
        digital_merton(100.0, 100.0, 0.1, 0.5, 1.0, 0.0, 0.1, mu=np.inf)
    with pytest.raises(ValueError, match="tau"):
        digital_bs(100.0, 100.0, np.inf, 0.2)


def _merton_mc(rng: np.random.Generator, n: int, s: float, k: float, tau: float, sig: float, drift_log: float,
               lam: float, mu_j: float, sigma_j: float) -> tuple[float, float]:
    counts = rng.poisson(lam * tau, n)
    log_st = (np.log(s) + drift_log * tau + sig * np.sqrt(tau) * rng.standard_normal(n)
              + counts * mu_j + sigma_j * np.sqrt(counts) * rng.standard_normal(n))
    p = float(np.mean(log_st >= np.log(k)))
    return p, np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    ("s", "k", "tau", "sig", "lam", "mu_j", "sigma_j", "r"),
    [
        (100.0, 100.0, 900 / SECONDS_PER_YEAR, 0.5, 1460.0, 0.0, 0.003, 0.0),  # simulator-like, 15 min
        (100.0, 100.05, 300 / SECONDS_PER_YEAR, 0.8, 17_520.0, -0.001, 0.004, 0.0),  # 48 jumps/day, 5 min
        (100.0, 90.0, 0.25, 0.2, 1.0, -0.2, 0.15, 0.05),  # rare large crash jumps
        (100.0, 110.0, 1.0, 0.3, 5.0, 0.05, 0.1, 0.01),
        (100.0, 100.0, 0.1, 0.05, 50.0, 0.0, 0.05, 0.0),  # jump-dominated variance
    ],
)
def test_merton_matches_monte_carlo_1e6(s: float, k: float, tau: float, sig: float, lam: float, mu_j: float,
                                        sigma_j: float, r: float) -> None:
    """Exact draws of Merton's (1976) risk-neutral terminal law, 1,000,000 paths, within 4 SE."""
    kappa = np.expm1(mu_j + 0.5 * sigma_j**2)
    mc, se = _merton_mc(np.random.default_rng(7), 1_000_000, s, k, tau, sig, r - lam * kappa - 0.5 * sig**2,
                        lam, mu_j, sigma_j)
    assert abs(float(digital_merton(s, k, tau, sig, lam, mu_j, sigma_j, r)) - mc) < 4 * se


def test_merton_real_world_drift_matches_monte_carlo() -> None:
    """``mu=`` replaces r in the log drift ``mu - lam kappa - sigma^2/2`` (real-world probability)."""
    s, k, tau, sig, lam, mj, sj, mu = 100.0, 103.0, 0.5, 0.4, 8.0, -0.03, 0.06, 0.25
    kappa = np.expm1(mj + 0.5 * sj**2)
    mc, se = _merton_mc(np.random.default_rng(8), 1_000_000, s, k, tau, sig, mu - lam * kappa - 0.5 * sig**2,
                        lam, mj, sj)
    p = float(digital_merton(s, k, tau, sig, lam, mj, sj, 0.0, mu=mu))
    assert abs(p - mc) < 4 * se
    assert abs(float(digital_merton(s, k, tau, sig, lam, mj, sj, 0.0)) - mc) > 10 * se  # the option matters


def _twap_mc(rng: np.random.Generator, n_paths: int, s: float, k: float, tau_s: float, sig: float, lookback: int,
             drift: float, lam: float, mu_j: float, sigma_j: float, noise: float) -> tuple[float, float]:
    """Monte Carlo of the exact arithmetic average of ``lookback`` 1 Hz noisy ticks ending at expiry
    (``tau_s >= lookback``: no tick known yet), in chunks of 100,000 paths."""
    u_first = (tau_s - (lookback - 1)) / SECONDS_PER_YEAR
    dt = np.concatenate([[u_first], np.full(lookback - 1, 1.0 / SECONDS_PER_YEAR)])
    hits, chunk = 0, 100_000
    for _ in range(n_paths // chunk):
        counts = rng.poisson(lam * dt, (chunk, lookback))
        inc = (drift * dt + sig * np.sqrt(dt) * rng.standard_normal((chunk, lookback))
               + counts * mu_j + sigma_j * np.sqrt(counts) * rng.standard_normal((chunk, lookback)))
        log_o = np.log(s) + np.cumsum(inc, axis=1) + noise * rng.standard_normal((chunk, lookback))
        hits += int(np.count_nonzero(np.exp(log_o).mean(axis=1) >= k))
    p = hits / n_paths
    return p, np.sqrt(p * (1 - p) / n_paths)


@pytest.mark.parametrize(
    ("k", "tau_s", "sig", "drift", "lam", "tol_extra"),
    [
        (100.02, 300.0, 0.7, 1.0, 0.0, 0.0),  # pure diffusion: the geometric approximation is exact to ~1e-7
        (100.0, 600.0, 0.45, 0.0, 17_520.0, 0.003),  # jumps: moment matching, documented error <= 0.0025
    ],
)
def test_twap_digital_matches_monte_carlo_1e6(k: float, tau_s: float, sig: float, drift: float, lam: float,
                                             tol_extra: float) -> None:
    """60-tick TWAP digital vs 1,000,000 Monte Carlo paths of the arithmetic average (Levy 1992 style
    moment matching): within 4 SE for a diffusion, 4 SE + the documented approximation error with jumps."""
    lookback, noise, mj, sj = 60, 0.5e-4, 0.0, 0.003
    mc, se = _twap_mc(np.random.default_rng(11), 1_000_000, 100.0, k, tau_s, sig, lookback, drift, lam, mj, sj, noise)
    p = float(digital_twap(0.0, 100.0, k, tau_s, sig, lookback, drift=drift, lam=lam, mu_j=mj, sigma_j=sj,
                           noise_sd=noise))
    assert abs(p - mc) < 4 * se + tol_extra
