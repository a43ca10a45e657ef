"""The generating process shared by the full world and the light path mode.

Spot follows, within each 15-minute window ``w``,

    d ln S = drift dt + sigma_w dW + dJ,

with ``J`` compound Poisson (``jumps_per_day``, log-jumps ``N(jump_mean, jump_sd^2)``). ``sigma_w`` is
constant within a window and changes between windows: ``sigma_w = sigma exp(season(hour) + h_w) x
(regime_high_mult if high regime)``, where ``h_w`` is a stationary Gaussian AR(1) and the regime a
two-state Markov chain. The settlement oracle ticks once a second at ``O = S exp(eps)``,
``eps ~ N(0, (oracle_noise_bps 1e-4)^2)`` i.i.d.: spot plus small relative noise, which keeps the true
P(up) in closed form (:func:`true_prob_up`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray
from pmresearch.pricing import JumpLaw, digital_twap, gaussian_jump_up_probability
from pmresearch.simulate.config import SimConfig

__all__ = [
    "WINDOW_S",
    "draw_jump_counts",
    "draw_jumps",
    "jump_law",
    "jump_rate_per_year",
    "log_increments",
    "true_prob_up",
    "window_vols",
]

#: Volatility is constant within these 15-minute windows (5-minute windows nest inside them).
WINDOW_S = 900


def jump_law(cfg: SimConfig) -> JumpLaw:
    """The world's jump law: ``cfg.jumps_per_day`` a day (``lam`` per year of 365 days), log-jumps
    ``N(cfg.jump_mean, cfg.jump_sd^2)``."""
    return JumpLaw.from_daily(cfg.jumps_per_day, cfg.jump_mean, cfg.jump_sd)


def jump_rate_per_year(cfg: SimConfig) -> float:
    """Jump intensity per year of 365 days (``jump_law(cfg).lam``)."""
    return jump_law(cfg).lam


def window_vols(cfg: SimConfig, first_start: pd.Timestamp, n_windows: int, rng: np.random.Generator) -> FloatArray:
    """Annualized diffusion volatility of ``n_windows`` consecutive 15-minute windows.

    The AR(1) component starts in its stationary law and the regime chain in its stationary
    distribution, so any window is a draw from the same marginal law.
    """
    k = np.arange(n_windows)
    hours = (first_start.hour + first_start.minute / 60.0 + k * WINDOW_S / 3600.0) % 24.0
    season = cfg.seasonality * np.cos(2.0 * np.pi * (hours - cfg.seasonality_peak_hour) / 24.0)
    phi = cfg.vol_ar
    innov = rng.standard_normal(n_windows) * cfg.vol_of_vol * np.sqrt(1.0 - phi * phi)
    h = np.empty(n_windows)
    prev = rng.standard_normal() * cfg.vol_of_vol
    for i in range(n_windows):  # a short recursion: one step per 15-minute window
        prev = phi * prev + innov[i]
        h[i] = prev
    p_in, p_out = cfg.regime_p_enter, cfg.regime_p_exit
    stationary_high = p_in / (p_in + p_out) if p_in + p_out > 0 else 0.0
    u = rng.random(n_windows + 1)
    high = np.empty(n_windows, dtype=bool)
    state = bool(u[0] < stationary_high)
    for i in range(n_windows):
        state = bool(u[i + 1] >= p_out) if state else bool(u[i + 1] < p_in)
        high[i] = state
    mult = np.where(high, cfg.regime_high_mult, 1.0)
    return np.asarray(cfg.sigma * np.exp(season + h) * mult, dtype=np.float64)


def draw_jump_counts(
    rng: np.random.Generator, count_mean: npt.ArrayLike, mean: float, sd: float, size: int | tuple[int, ...]
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Jump counts ``N ~ Poisson(count_mean)`` and the sums of ``N`` i.i.d. ``N(mean, sd^2)`` log-jumps."""
    n = rng.poisson(np.broadcast_to(np.asarray(count_mean, dtype=np.float64), size)).astype(np.int64)
    out = np.zeros(n.shape, dtype=np.float64)
    hit = n > 0
    if np.any(hit):
        nh = n[hit].astype(np.float64)
        out[hit] = nh * mean + sd * np.sqrt(nh) * rng.standard_normal(nh.shape)
    return n, out


def draw_jumps(
    rng: np.random.Generator, count_mean: npt.ArrayLike, mean: float, sd: float, size: int | tuple[int, ...]
) -> FloatArray:
    """Sum of ``Poisson(count_mean)`` i.i.d. ``N(mean, sd^2)`` log-jumps per element (exact law)."""
    return draw_jump_counts(rng, count_mean, mean, sd, size)[1]


def log_increments(
    rng: np.random.Generator, dt_s: npt.ArrayLike, sigma: npt.ArrayLike, cfg: SimConfig, size: int | tuple[int, ...]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Exact increments of ``ln S`` over steps of ``dt_s`` seconds at volatility ``sigma``.

    Returns ``(increment, z, jumps)`` where ``increment = drift dt + sigma sqrt(dt) z + jumps``;
    ``z`` (standard normal shocks) is returned so that a correlated asset can share it.
    """
    dt = np.asarray(dt_s, dtype=np.float64) / SECONDS_PER_YEAR
    z = rng.standard_normal(size)
    law = jump_law(cfg)
    jumps = draw_jumps(rng, law.count_mean(dt), law.mu_j, law.sigma_j, size)
    inc = cfg.drift * dt + np.asarray(sigma) * np.sqrt(dt) * z + jumps
    return np.asarray(inc, dtype=np.float64), z, jumps


def true_prob_up(
    cfg: SimConfig,
    *,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    tau_s: npt.ArrayLike,
    sigma: npt.ArrayLike,
    twap_lookback_s: int = 0,
    log_known_sum: npt.ArrayLike = 0.0,
    include_jumps: bool = True,
) -> FloatArray:
    """P(settlement value >= strike | the generating state) under the world's process.

    ``spot`` is the latent spot at the decision, ``tau_s`` the seconds from that state to the
    settlement stamp, ``sigma`` the window's diffusion vol. Instantaneous settlement
    (``twap_lookback_s == 0``) is exact: ``sum_n Pois(n; lam tau) N((ln(S/K) + drift tau + n mu_j) /
    sqrt(sigma^2 tau + n sd_j^2 + noise^2))`` (the Merton series with the oracle noise variance
    added). TWAP settlement uses :func:`pmresearch.pricing.digital_twap` (``log_known_sum`` is the sum
    of ``ln O`` over the average's ticks already stamped).
    """
    law = jump_law(cfg)
    lam = law.lam if include_jumps else 0.0
    noise = cfg.oracle_noise_bps * 1e-4
    if twap_lookback_s > 0:
        return digital_twap(
            log_known_sum, spot, strike, tau_s, sigma, twap_lookback_s,
            drift=cfg.drift, lam=lam, mu_j=law.mu_j, sigma_j=law.sigma_j, noise_sd=noise,
        )
    tau = np.asarray(tau_s, dtype=np.float64) / SECONDS_PER_YEAR
    s = np.asarray(sigma, dtype=np.float64)
    mean = np.log(np.asarray(spot, dtype=np.float64) / np.asarray(strike, dtype=np.float64)) + cfg.drift * tau
    var = s * s * tau + noise * noise
    jumps = [law.jump_class(tau)] if lam > 0 else []
    return gaussian_jump_up_probability(mean, var, jumps)
