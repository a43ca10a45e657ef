"""Light path mode: independent windows, one decision each, simulating only what the truth needs.

The full world simulates every sub-second step of every window. Checking that the true P(up) is
calibrated needs tens of thousands of *independent* windows but only three things per window: the
strike, the state at one decision time and the settlement value. Under instantaneous settlement
this mode draws the exact increments between the three times (normal plus compound Poisson, the same
:func:`~pmresearch.simulate.process.log_increments` as the full world) and the oracle filter's lag
jointly with them (:func:`~pmresearch.simulate.process.lag_step`, from its stationary law at the
strike); under TWAP settlement it draws the 1 Hz path and lag over the window and both averaging
lookbacks. Both use
:func:`~pmresearch.simulate.process.true_prob_up` and the window-volatility law of the full world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch._time import SECONDS_PER_YEAR, to_utc
from pmresearch.rules import DEFAULT_TWAP_LOOKBACK_S, SettlementRule
from pmresearch.simulate.config import SimConfig
from pmresearch.simulate.process import (
    WINDOW_S,
    draw_jump_counts,
    jump_law,
    jump_scale,
    lag_step,
    log_increments,
    stationary_lag,
    true_prob_up,
    window_vols,
)

__all__ = ["simulate_decisions", "simulate_path"]

_TIE_UP = SettlementRule("light", "instant")


def simulate_decisions(
    cfg: SimConfig,
    n_windows: int,
    *,
    interval_minutes: int = 15,
    settlement: str = "instant",
    twap_lookback_s: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Simulate ``n_windows`` independent windows, each with one uniformly random decision time.

    Parameters
    ----------
    cfg : SimConfig
        Process parameters (volatility law, jumps, drift, oracle noise).
    n_windows : int
        Number of independent windows.
    interval_minutes : int
        Window length (5 or 15).
    settlement : {"instant", "twap"}
        Settlement mode; TWAP uses ``twap_lookback_s`` (default: the timeline's for the interval).
    seed : int, optional
        Random seed (default ``cfg.seed``).

    Returns
    -------
    DataFrame
        One row per window: ``sigma``, ``tau_s`` (decision to settlement stamp), ``spot``, ``strike``,
        ``log_known_sum``, ``true_prob_up`` and ``outcome`` (1 Up, 0 Down, ties Up).
    """
    if n_windows < 1:
        raise ValueError("n_windows must be >= 1")
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    length = interval_minutes * 60
    sigma = window_vols(cfg, to_utc(cfg.start), n_windows, rng)
    # the hour of day of each window only shapes sigma; windows are independent paths
    noise_sd = cfg.oracle_noise_bps * 1e-4
    m_steps = cfg.substeps_per_s
    if settlement == "instant":
        a = np.round(rng.random(n_windows) * length * m_steps) / m_steps  # decision, on the path grid
        lag0 = stationary_lag(cfg, rng, sigma)  # the oracle filter's state at the strike
        inc1, z1, _ = log_increments(rng, a, sigma, cfg, n_windows)
        lag1 = lag_step(cfg, rng, z1, sigma, a * m_steps, lag0)
        inc2, z2, _ = log_increments(rng, length - a, sigma, cfg, n_windows)
        lag2 = lag_step(cfg, rng, z2, sigma, (length - a) * m_steps, lag1)
        log_s0 = np.log(cfg.s0)
        strike = np.exp(log_s0 - lag0 + noise_sd * rng.standard_normal(n_windows))
        spot = np.exp(log_s0 + inc1)
        end = np.exp(log_s0 + inc1 + inc2 - lag2 + noise_sd * rng.standard_normal(n_windows))
        tau_s = length - a
        known = np.zeros(n_windows)
        lag = lag1
        lookback = 0
    elif settlement == "twap":
        lookback = twap_lookback_s or DEFAULT_TWAP_LOOKBACK_S[interval_minutes]
        n_pts = length + lookback  # 1 Hz ticks stamped t0-L+1 .. t1, relative index 0 .. n_pts-1
        inc, z, _ = log_increments(rng, 1.0, sigma[:, None], cfg, (n_windows, n_pts - 1))
        log_s = np.log(cfg.s0) + np.concatenate([np.zeros((n_windows, 1)), np.cumsum(inc, axis=1)], axis=1)
        lags = np.empty(log_s.shape)
        lags[:, 0] = stationary_lag(cfg, rng, sigma)
        for j in range(1, n_pts):  # the filter state second by second (exact joint law with the increments)
            lags[:, j] = lag_step(cfg, rng, z[:, j - 1], sigma, m_steps, lags[:, j - 1])
        log_o = log_s - lags + noise_sd * rng.standard_normal(log_s.shape)
        o = np.exp(log_o)
        strike = o[:, :lookback].mean(axis=1)  # TWAP stamped at t0 (index lookback-1)
        end = o[:, -lookback:].mean(axis=1)
        d = rng.integers(0, length, n_windows)  # decision d whole seconds after t0
        idx = lookback - 1 + d
        spot = np.exp(log_s[np.arange(n_windows), idx])
        lag = lags[np.arange(n_windows), idx]
        tau_s = (length - d).astype(np.float64)
        first_avg = n_pts - lookback  # index of the first tick of the settlement average
        cum = np.cumsum(log_o, axis=1)
        known = np.where(idx >= first_avg, cum[np.arange(n_windows), idx] - cum[:, first_avg - 1], 0.0)
    else:
        raise ValueError(f"settlement must be 'instant' or 'twap', got {settlement!r}")
    p = true_prob_up(cfg, spot=spot, strike=strike, tau_s=tau_s, sigma=sigma, twap_lookback_s=lookback,
                     log_known_sum=known, lag=lag)
    return pd.DataFrame({
        "sigma": sigma, "tau_s": tau_s, "spot": spot, "strike": strike, "log_known_sum": known, "lag": lag,
        "true_prob_up": p, "outcome": _TIE_UP.outcome(strike, end),
    })


def simulate_path(
    cfg: SimConfig,
    n_steps: int,
    *,
    step_s: float = 1.0,
    sigma: float | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """A spot path alone: ``n_steps`` exact increments of ``step_s`` seconds from ``cfg.start``.

    The volatility follows the world's law per 15-minute window (or is the constant ``sigma`` when
    given); jumps follow ``cfg``. Nothing else (oracle, markets, books) is simulated: this is what
    estimator and calibration tests need, fast.

    Returns
    -------
    DataFrame
        ``ts`` (end of each step, UTC), ``log_price`` (at ``ts``), ``sigma`` (true annualized diffusion
        vol of the step), ``jump_count`` (exact Poisson count in the step) and ``jump`` (sum of its
        log-jumps). The first row is the first step's end; the start price is ``cfg.s0``.
    """
    if n_steps < 1:
        raise ValueError("n_steps must be >= 1")
    if step_s <= 0 or (WINDOW_S / step_s) % 1:
        raise ValueError(f"step_s must divide {WINDOW_S} s (a volatility window), got {step_s}")
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    start = to_utc(cfg.start)
    per_window = round(WINDOW_S / step_s)
    if sigma is None:
        sig = np.repeat(window_vols(cfg, start, n_steps // per_window + 1, rng), per_window)[:n_steps]
    else:
        sig = np.full(n_steps, float(sigma))
    dt = step_s / SECONDS_PER_YEAR
    law = jump_law(cfg)
    counts, jumps = draw_jump_counts(rng, law.lam * dt, law.mu_j, law.sigma_j, n_steps)
    jumps = jumps * jump_scale(cfg, sig)
    inc = cfg.drift * dt + sig * np.sqrt(dt) * rng.standard_normal(n_steps) + jumps
    ts = start + pd.to_timedelta((np.arange(1, n_steps + 1) * step_s * 1e6).round().astype(np.int64), unit="us")
    return pd.DataFrame({
        "ts": pd.Series(ts).astype("datetime64[us, UTC]"),
        "log_price": np.log(cfg.s0) + np.cumsum(inc),
        "sigma": sig, "jump_count": counts, "jump": jumps,
    })
