"""The simulator's true P(up): calibrated against outcomes, equal to a Monte Carlo of its process.

The oracle is a smoothed spot (``oracle_smoothing_s``, process module): the Monte Carlo references
below run the filter recursion ``L_j = a (L_{j-1} + dC_j)`` step by step on the path grid with the
simulator's own increments (:func:`log_increments`), independently of the closed forms under test.
Calibration uses the light path mode: >= 20,000 independent windows with one uniformly random
decision time each (fixed seed), judged by one Hosmer-Lemeshow test at the 1% level. The
probabilities are not fitted to these outcomes, so the statistic is referred to chi-square with
``g`` (not ``g - 2``) degrees of freedom (Hosmer & Lemeshow, external validation).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pmresearch.simulate import SimConfig, make_config, simulate_decisions, true_prob_up
from pmresearch.simulate.config import REALISTIC_PROCESS
from pmresearch.simulate.process import log_increments, smoothing_factor

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


# A world with frequent large jumps so that the jump terms of the truth matter, with a smoothed oracle.
CFG = make_config("edge", jumps_per_day=48.0, jump_sd=0.002, jump_mean=-0.0005, drift=2.0, seed=3,
                  oracle_smoothing_s=1.6)
# The calibrated process (smoothed oracle, 1,000 small jumps a day scaled with the vol: at the states' sigma 0.3-0.9
# the jump sd is 1-3 x jump_sd) with a drift and a jump mean.
CFG_TAILS = make_config("edge", **{**REALISTIC_PROCESS, "jump_mean": -0.0001}, drift=2.0, seed=3)
# The smoothing slowed down so that the filter state matters over many seconds.
CFG_SLOW = make_config("edge", oracle_smoothing_s=8.0, drift=2.0, seed=3)


@pytest.mark.parametrize(("cfg", "interval", "settlement"), [
    (CFG, 15, "instant"), (CFG, 5, "instant"), (CFG, 15, "twap"), (CFG, 5, "twap"),
    (CFG_TAILS, 15, "instant"), (CFG_TAILS, 5, "twap"), (CFG_SLOW, 5, "instant"), (CFG_SLOW, 5, "twap"),
])
def test_true_prob_is_calibrated(cfg: SimConfig, interval: int, settlement: str) -> None:
    d = simulate_decisions(cfg, N_WINDOWS, interval_minutes=interval, settlement=settlement, seed=101)
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


def smoothed_oracle_mc(cfg: SimConfig, rng: np.random.Generator, n: int, x: float, lag0: float, sigma: float,
                       first_s: float, record_s: list[float] | np.ndarray) -> np.ndarray:
    """Monte Carlo of ``ln O - eps`` (spot minus the filter lag) at ``first_s + record_s`` seconds ahead.

    The path up to ``K`` steps before ``first_s`` is one exact increment (its weight in the lag at the
    recorded ticks is below ``a^K < 1e-13``); from there the filter runs step by step. Returns (n, len).
    """
    m = cfg.substeps_per_s
    a = smoothing_factor(cfg)
    k_lead = int(np.ceil(30.0 * cfg.oracle_smoothing_s * m))
    first = round(first_s * m)
    agg = max(first - k_lead, 0)
    log_x = np.full(n, x)
    lag = np.full(n, lag0)
    if agg > 0:
        inc, _, _ = log_increments(rng, agg / m, sigma, cfg, n)
        log_x += inc
        lag *= a**agg
    targets = {first + round(r * m): c for c, r in enumerate(record_s)}
    out = np.empty((n, len(record_s)))
    for step in range(agg + 1, max(targets) + 1):
        inc, _, jumps = log_increments(rng, 1.0 / m, sigma, cfg, n)
        log_x += inc
        lag = a * (lag + inc - jumps)
        if step in targets:
            out[:, targets[step]] = log_x - lag
    if 0 in targets and agg == first:  # the first record is now
        out[:, targets[0]] = log_x - lag
    return out


STATES = [  # (ln S/K, lag, tau_s, sigma)
    (0.0, 0.0, 600.0, 0.45), (0.001, 1e-4, 300.0, 0.6), (-0.002, -2e-4, 120.0, 0.3), (0.0005, 3e-4, 20.0, 0.45),
    (-0.0001, -2e-4, 3.0, 0.9), (0.0001, 3e-4, 1.0, 0.45),
]


@pytest.mark.parametrize("cfg", [CFG, CFG_TAILS, CFG_SLOW], ids=["jumps48", "tails", "slow"])
@pytest.mark.parametrize(("x", "lag", "tau_s", "sigma"), STATES)
def test_instant_truth_matches_monte_carlo(cfg: SimConfig, x: float, lag: float, tau_s: float, sigma: float) -> None:
    """Closed form vs 200,000 continuations of the filtered path drawn step by step, 4 SE (exact law)."""
    rng = np.random.default_rng(7)
    n = 200_000
    path = smoothed_oracle_mc(cfg, rng, n, x, lag, sigma, tau_s, [0.0])[:, 0]
    noise = cfg.oracle_noise_bps * 1e-4 * rng.standard_normal(n)
    mc = np.mean(path + noise >= 0.0)
    p = true_prob_up(cfg, spot=np.exp(x), strike=1.0, tau_s=tau_s, sigma=sigma, lag=lag)
    se = np.sqrt(max(mc * (1 - mc), 1e-12) / n)
    assert abs(p - mc) < 4 * se + 1e-6, (p, mc, se)


def test_lag_moves_the_truth() -> None:
    """Control: the same Monte Carlo against the truth that ignores the lag state fails (3 s, lag 3 bp)."""
    rng = np.random.default_rng(7)
    n = 200_000
    path = smoothed_oracle_mc(CFG_SLOW, rng, n, 0.0001, 3e-4, 0.45, 3.0, [0.0])[:, 0]
    mc = np.mean(path + CFG_SLOW.oracle_noise_bps * 1e-4 * rng.standard_normal(n) >= 0.0)
    p0 = true_prob_up(CFG_SLOW, spot=np.exp(0.0001), strike=1.0, tau_s=3.0, sigma=0.45)
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(p0 - mc) > 10 * se


# The TWAP truth is an approximation (geometric average, moment-matched jumps inside the lookback).
# Measured against 200,000 continuations of the exact arithmetic TWAP on these states its error was
# below 0.002 (most states well within 4 SE); the test allows 4 SE + 0.002.
TWAP_STATES = [  # (ln S/K, lag, tau_s, sigma, known ticks)
    (0.0, 0.0, 600.0, 0.45, 0), (0.0008, 1e-4, 90.0, 0.6, 0), (-0.0005, -2e-4, 45.0, 0.45, 15),
    (0.0002, 3e-4, 10.0, 0.9, 50),
]


@pytest.mark.parametrize("cfg", [CFG, CFG_TAILS, CFG_SLOW], ids=["jumps48", "tails", "slow"])
@pytest.mark.parametrize(("x", "lag", "tau_s", "sigma", "n_known"), TWAP_STATES)
def test_twap_truth_matches_monte_carlo(cfg: SimConfig, x: float, lag: float, tau_s: float, sigma: float,
                                        n_known: int) -> None:
    lookback = 60
    rng = np.random.default_rng(8)
    n = 200_000
    noise_sd = cfg.oracle_noise_bps * 1e-4
    known_log = x + noise_sd * rng.standard_normal(n_known)  # observed ticks (log price over strike)
    m = lookback - n_known  # unknown ticks, stamped tau_s - j seconds ahead (j = m-1 .. 0)
    path = smoothed_oracle_mc(cfg, rng, n, x, lag, sigma, tau_s - (m - 1), np.arange(m, dtype=float))
    future = path + noise_sd * rng.standard_normal((n, m))
    avg = (np.exp(known_log).sum() + np.exp(future).sum(axis=1)) / lookback
    mc = np.mean(avg >= 1.0)
    p = true_prob_up(cfg, spot=np.exp(x), strike=1.0, tau_s=tau_s, sigma=sigma,
                     twap_lookback_s=lookback, log_known_sum=known_log.sum(), lag=lag)
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(p - mc) < 4 * se + 0.002, (p, mc, se)


def test_true_prob_limits() -> None:
    """At expiry with no oracle noise the truth is the tie-Up indicator; far from it, 0 or 1."""
    cfg = make_config("no-edge", oracle_noise_bps=0.0, jumps_per_day=0.0)
    p = true_prob_up(cfg, spot=[100.0, 100.0, 99.0], strike=100.0, tau_s=[0.0, 0.0, 0.0], sigma=0.5)
    np.testing.assert_array_equal(p, [1.0, 1.0, 0.0])
    far = true_prob_up(cfg, spot=[110.0, 90.0], strike=100.0, tau_s=60.0, sigma=0.5)
    np.testing.assert_allclose(far, [1.0, 0.0], atol=1e-12)


def test_lag_recursion_and_twap_moments_match_brute_force() -> None:
    """``oracle_lag`` is the plain recursion ``L_j = a (L_{j-1} + dC_j)``; the TWAP moments equal direct
    sums over the future steps of each unknown tick's weights ``1 - a^(n_k - i + 1)``."""
    from pmresearch.simulate.process import _smoothed_twap_moments, oracle_lag

    cfg = make_config("no-edge", oracle_smoothing_s=1.3, substeps_per_s=4)
    a = smoothing_factor(cfg)
    assert a == np.exp(-1.0 / (4 * 1.3))
    dc = np.random.default_rng(0).standard_normal(500)
    ref = np.empty(500)
    prev = 0.7
    for j in range(500):
        prev = a * (prev + dc[j])
        ref[j] = prev
    np.testing.assert_allclose(oracle_lag(cfg, dc, lag0=0.7), ref, rtol=1e-12, atol=1e-14)
    lookback, m = 7, 4
    for tau in (1.0, 3.0, 7.0, 9.5, 20.0):
        ticks = [tau - k for k in range(lookback) if tau - k > 0]
        n_k = [round(t * m) for t in ticks]
        n_max = max(n_k)
        w = np.zeros(n_max + 1)  # total weight of future step i (1..n_max) in the sum of the unknown ticks
        for n in n_k:
            for i in range(1, n + 1):
                w[i] += 1.0 - a ** (n - i + 1)
        pw, csum, sq = _smoothed_twap_moments(a, m, np.array([tau]), lookback)
        assert pw[0] == pytest.approx(sum(a**n for n in n_k), rel=1e-12)
        assert csum[0] == pytest.approx(w.sum(), rel=1e-12)
        assert sq[0] == pytest.approx((w**2).sum(), rel=1e-12)
    # no smoothing: the Brownian sums of twap_log_moments (sum_min in steps)
    pw, csum, sq = _smoothed_twap_moments(0.0, m, np.array([9.5]), lookback)
    n_k = [round((9.5 - k) * m) for k in range(lookback)]
    assert pw[0] == 0.0 and csum[0] == sum(n_k)
    assert sq[0] == sum(min(p, q) for p in n_k for q in n_k)
