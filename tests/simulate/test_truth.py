"""The simulator's true P(up): calibrated against outcomes, equal to a Monte Carlo of its process.

Calibration uses the light path mode: >= 20,000 independent windows with one uniformly random
decision time each (fixed seed), judged by one Hosmer-Lemeshow test at the 1% level. The
probabilities are not fitted to these outcomes, so the statistic is referred to chi-square with
``g`` (not ``g - 2``) degrees of freedom (Hosmer & Lemeshow, external validation).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pmresearch.simulate import make_config, simulate_decisions, true_prob_up
from pmresearch.simulate.process import log_increments

N_WINDOWS = 20_000


def hosmer_lemeshow_pvalue(p: np.ndarray, y: np.ndarray, groups: int = 10) -> float:
    """Hosmer-Lemeshow p-value over deciles of predicted probability (df = groups: not fitted)."""
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for idx in np.array_split(order, groups):
        n, expected, observed = idx.size, p[idx].sum(), y[idx].sum()
        pbar = expected / n
        stat += (observed - expected) ** 2 / (n * pbar * (1.0 - pbar))
    return float(stats.chi2.sf(stat, groups))


# A world with frequent jumps so that the jump terms of the truth matter.
CFG = make_config("edge", jumps_per_day=48.0, jump_sd=0.002, jump_mean=-0.0005, drift=2.0, seed=3)


@pytest.mark.parametrize(("interval", "settlement"), [(15, "instant"), (5, "instant"), (15, "twap"), (5, "twap")])
def test_true_prob_is_calibrated(interval: int, settlement: str) -> None:
    d = simulate_decisions(CFG, N_WINDOWS, interval_minutes=interval, settlement=settlement, seed=101)
    assert len(d) >= 20_000
    p, y = d["true_prob_up"].to_numpy(), d["outcome"].to_numpy()
    assert hosmer_lemeshow_pvalue(p, y) > 0.01
    # the decisions span the whole window, so the probabilities are far from 0.5 late in it
    assert (np.abs(p - 0.5) > 0.4).mean() > 0.1


def test_calibration_test_has_power() -> None:
    """The same test rejects a maker-like belief with volatility misestimated by 1.5x."""
    d = simulate_decisions(CFG, N_WINDOWS, interval_minutes=15, seed=101)
    wrong = true_prob_up(CFG, spot=d["spot"], strike=d["strike"], tau_s=d["tau_s"], sigma=1.5 * d["sigma"])
    assert hosmer_lemeshow_pvalue(wrong, d["outcome"].to_numpy()) < 0.01


STATES = [  # (ln S/K, tau_s, sigma)
    (0.0, 600.0, 0.45), (0.001, 300.0, 0.6), (-0.002, 120.0, 0.3), (0.0005, 20.0, 0.45), (-0.0001, 3.0, 0.9),
]


@pytest.mark.parametrize(("x", "tau_s", "sigma"), STATES)
def test_instant_truth_matches_monte_carlo(x: float, tau_s: float, sigma: float) -> None:
    """Closed form vs 400,000 continuations drawn with the simulator's own increments, 4 SE."""
    rng = np.random.default_rng(7)
    n = 400_000
    inc, _, _ = log_increments(rng, tau_s, sigma, CFG, n)
    noise = CFG.oracle_noise_bps * 1e-4 * rng.standard_normal(n)
    mc = np.mean(x + inc + noise >= 0.0)
    p = true_prob_up(CFG, spot=np.exp(x), strike=1.0, tau_s=tau_s, sigma=sigma)
    se = np.sqrt(max(mc * (1 - mc), 1e-12) / n)
    assert abs(p - mc) < 4 * se + 1e-6


# The TWAP truth is an approximation (geometric average, moment-matched jumps inside the lookback).
# Measured against 200,000 continuations of the exact arithmetic TWAP on these states its error was
# below 0.002 (most states well within 4 SE); the test allows 4 SE + 0.002.
TWAP_STATES = [  # (ln S/K, tau_s, sigma, known ticks)
    (0.0, 600.0, 0.45, 0), (0.0008, 90.0, 0.6, 0), (-0.0005, 45.0, 0.45, 15), (0.0002, 10.0, 0.9, 50),
]


@pytest.mark.parametrize(("x", "tau_s", "sigma", "n_known"), TWAP_STATES)
def test_twap_truth_matches_monte_carlo(x: float, tau_s: float, sigma: float, n_known: int) -> None:
    lookback = 60
    rng = np.random.default_rng(8)
    n = 200_000
    noise_sd = CFG.oracle_noise_bps * 1e-4
    known_log = x + noise_sd * rng.standard_normal(n_known)  # observed ticks (log price over strike)
    m = lookback - n_known  # unknown ticks, stamped tau_s - j seconds ahead (j = m-1 .. 0)
    first, _, _ = log_increments(rng, tau_s - (m - 1), sigma, CFG, (n, 1))  # exact law up to the first
    rest, _, _ = log_increments(rng, 1.0, sigma, CFG, (n, m - 1))  # then one-second steps
    path = x + np.cumsum(np.concatenate([first, rest], axis=1), axis=1)
    future = path + noise_sd * rng.standard_normal((n, m))
    avg = (np.exp(known_log).sum() + np.exp(future).sum(axis=1)) / lookback
    mc = np.mean(avg >= 1.0)
    p = true_prob_up(CFG, spot=np.exp(x), strike=1.0, tau_s=tau_s, sigma=sigma, twap_lookback_s=lookback,
                     log_known_sum=known_log.sum())
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(p - mc) < 4 * se + 0.002, (p, mc, se)


def test_true_prob_limits() -> None:
    """At expiry with no oracle noise the truth is the tie-Up indicator; far from it, 0 or 1."""
    cfg = make_config("no-edge", oracle_noise_bps=0.0, jumps_per_day=0.0)
    p = true_prob_up(cfg, spot=[100.0, 100.0, 99.0], strike=100.0, tau_s=[0.0, 0.0, 0.0], sigma=0.5)
    np.testing.assert_array_equal(p, [1.0, 1.0, 0.0])
    far = true_prob_up(cfg, spot=[110.0, 90.0], strike=100.0, tau_s=60.0, sigma=0.5)
    np.testing.assert_allclose(far, [1.0, 0.0], atol=1e-12)
