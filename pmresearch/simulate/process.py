"""The generating process shared by the full world and the light path mode.

Spot follows, within each 15-minute window ``w``,

    d ln S = drift dt + sigma_w dW + dJ,

with ``J`` compound Poisson (``jumps_per_day``, log-jumps ``N(k_w jump_mean, (k_w jump_sd)^2)``). ``sigma_w`` is
constant within a window and changes between windows: ``sigma_w = sigma exp(season(hour) + h_w) x
(regime_high_mult if high regime)``, where ``h_w`` is a stationary Gaussian AR(1) and the regime a
two-state Markov chain. With ``jumps_scale_with_vol`` the jump sizes scale with the window's vol,
``k_w = sigma_w / sigma`` (:func:`jump_scale`; else ``k_w = 1``): the jumps' share of the variance is
then the same in calm and busy windows, as the real oracle's autocorrelation, which does not swing
with the vol level, requires.

The settlement oracle (Chainlink Data Streams-like) is a smoothed, lagging view of the exchanges. Write
``ln S = C + J`` (``C`` the drift-plus-diffusion part, ``J`` the jumps). On the path grid (steps of
``h = 1 / substeps_per_s`` seconds) ``C`` is smoothed exponentially, ``E_j = a E_{j-1} + (1 - a) C_j``
with ``a = exp(-h / oracle_smoothing_s)``, and the oracle ticks once a second at

    ln O = E + J + eps = ln S - L + eps,        eps ~ N(0, (oracle_noise_bps 1e-4)^2) i.i.d.,

where the *lag* ``L = C - E`` follows ``L_j = a (L_{j-1} + dC_j)``. Jumps (price gaps) reach the oracle
at once; only the diffusive moves are smoothed, which makes its 1-s returns positively autocorrelated
(variance ratio above 1). Seen from step ``g`` with lag ``L_g``, the oracle ``n`` steps ahead is

    ln O_{g+n} = ln S_g - a^n L_g + sum_{j=1..n} (1 - a^j) dC_{g+n+1-j} + (J_{g+n} - J_g) + eps,

Gaussian given the jump count, so the true P(up) stays a Merton series in closed form
(:func:`true_prob_up`): the mean gains ``-a^n L_g`` and the diffusion variance is
``sigma^2 h sum_j (1 - a^j)^2``. With ``oracle_smoothing_s = 0`` the oracle is spot plus noise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import signal

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray
from pmresearch.pricing import JumpLaw, gaussian_jump_up_probability
from pmresearch.pricing.digital import twap_log_moments
from pmresearch.simulate.config import SimConfig

__all__ = [
    "WINDOW_S",
    "draw_jump_counts",
    "draw_jumps",
    "jump_law",
    "jump_rate_per_year",
    "jump_scale",
    "lag_step",
    "log_increments",
    "oracle_lag",
    "smoothing_factor",
    "stationary_lag",
    "true_prob_up",
    "window_vols",
]

#: Volatility is constant within these 15-minute windows (5-minute windows nest inside them).
WINDOW_S = 900


def jump_law(cfg: SimConfig) -> JumpLaw:
    """The world's jump law: ``cfg.jumps_per_day`` a day (``lam`` per year of 365 days), log-jumps
    ``N(cfg.jump_mean, cfg.jump_sd^2)``."""
    return JumpLaw.from_daily(cfg.jumps_per_day, cfg.jump_mean, cfg.jump_sd)


def jump_scale(cfg: SimConfig, sigma: npt.ArrayLike) -> FloatArray:
    """The factor ``k`` of the log-jump law at diffusion vol ``sigma``: log-jumps are ``N(k jump_mean, (k
    jump_sd)^2)`` with ``k = sigma / cfg.sigma`` when ``cfg.jumps_scale_with_vol``, else 1."""
    s = np.asarray(sigma, dtype=np.float64)
    if not cfg.jumps_scale_with_vol:
        return np.ones(s.shape)
    return np.asarray(s / cfg.sigma, dtype=np.float64)


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
    ``z`` (standard normal shocks) is returned so that a correlated asset can share it. The jumps are
    drawn at the base law and multiplied by :func:`jump_scale` (a sum of ``n`` jumps ``N(n mu, n sd^2)``
    times ``k`` is ``N(n k mu, n (k sd)^2)``: the scaled law exactly).
    """
    dt = np.asarray(dt_s, dtype=np.float64) / SECONDS_PER_YEAR
    z = rng.standard_normal(size)
    law = jump_law(cfg)
    jumps = draw_jumps(rng, law.count_mean(dt), law.mu_j, law.sigma_j, size)
    if cfg.jumps_scale_with_vol:
        jumps = jumps * jump_scale(cfg, np.broadcast_to(np.asarray(sigma, dtype=np.float64), jumps.shape))
    inc = cfg.drift * dt + np.asarray(sigma) * np.sqrt(dt) * z + jumps
    return np.asarray(inc, dtype=np.float64), z, jumps


def smoothing_factor(cfg: SimConfig) -> float:
    """The oracle filter's per-step factor ``a = exp(-h / oracle_smoothing_s)`` (0: no smoothing)."""
    if cfg.oracle_smoothing_s <= 0.0:
        return 0.0
    return float(np.exp(-1.0 / (cfg.substeps_per_s * cfg.oracle_smoothing_s)))


def oracle_lag(cfg: SimConfig, continuous_inc: npt.ArrayLike, lag0: float = 0.0) -> FloatArray:
    """The lag ``L = C - E`` after each path step, ``L_j = a (L_{j-1} + dC_j)``, from ``L_0 = lag0``.

    ``continuous_inc`` holds the drift-plus-diffusion increments ``dC`` of ``ln S`` (no jumps).
    """
    a = smoothing_factor(cfg)
    dc = np.asarray(continuous_inc, dtype=np.float64)
    if a == 0.0:
        return np.zeros(dc.shape)
    out, _ = signal.lfilter([a], [1.0, -a], dc, zi=[a * lag0])
    return np.asarray(out, dtype=np.float64)


def lag_step(
    cfg: SimConfig, rng: np.random.Generator, z: npt.ArrayLike, sigma: npt.ArrayLike, k_steps: npt.ArrayLike,
    lag0: npt.ArrayLike,
) -> FloatArray:
    """The oracle lag ``k_steps`` path steps on, drawn jointly with the diffusion over those steps.

    ``z`` is the standard normal of the continuous increment ``dC = drift k h + sigma sqrt(k h) z`` over the
    ``k`` steps (as :func:`log_increments` draws it). Exactly: ``L_k = a^k L_0 + drift h A(k) + sigma
    sqrt(h) (A(k) / sqrt(k) z + sqrt(B(k) - A(k)^2 / k) xi)`` with ``A(k) = sum_{j=1..k} a^j``, ``B(k) =
    sum a^{2j}`` (the covariance of ``sum dC_i`` and ``sum a^{k+1-i} dC_i``), ``xi`` a fresh normal.
    """
    a = smoothing_factor(cfg)
    z_a = np.asarray(z, dtype=np.float64)
    if a == 0.0:
        return np.zeros(z_a.shape)
    k = np.asarray(k_steps, dtype=np.float64)
    h = 1.0 / (cfg.substeps_per_s * SECONDS_PER_YEAR)
    big_a, big_b = _geo(a, np.broadcast_to(k, z_a.shape), 1), _geo(a, np.broadcast_to(k, z_a.shape), 2)
    safe_k = np.maximum(k, 1.0)
    resid = np.sqrt(np.maximum(big_b - big_a * big_a / safe_k, 0.0))
    xi = rng.standard_normal(z_a.shape)
    sd = np.asarray(sigma, dtype=np.float64) * np.sqrt(h)
    out = a**k * np.asarray(lag0, dtype=np.float64) + cfg.drift * h * big_a + sd * (big_a / np.sqrt(safe_k) * z_a
                                                                                     + resid * xi)
    return np.asarray(out, dtype=np.float64)


def stationary_lag(cfg: SimConfig, rng: np.random.Generator, sigma: npt.ArrayLike) -> FloatArray:
    """A draw of the lag from its stationary law at constant ``sigma``: mean ``drift h a / (1 - a)``,
    variance ``sigma^2 h a^2 / (1 - a^2)``."""
    a = smoothing_factor(cfg)
    s = np.asarray(sigma, dtype=np.float64)
    if a == 0.0:
        return np.zeros(s.shape)
    h = 1.0 / (cfg.substeps_per_s * SECONDS_PER_YEAR)
    mean = cfg.drift * h * a / (1.0 - a)
    return np.asarray(mean + s * np.sqrt(h * a * a / (1.0 - a * a)) * rng.standard_normal(s.shape), dtype=np.float64)


def _geo(a: float, n: FloatArray, power: int) -> FloatArray:
    """``sum_{j=1..n} a^(power j)`` (``n`` may be fractional: the closed form is used as is)."""
    if a == 0.0:
        return np.zeros(n.shape)
    q = a**power
    return np.asarray(q * (1.0 - q**n) / (1.0 - q), dtype=np.float64)


def _smoothed_twap_moments(
    a: float, m_steps: int, tau_s: FloatArray, lookback: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per element: ``(sum_k a^{n_k}, sum_k c_k, sum_i W_i^2)`` over the unknown ticks ``k`` of a TWAP.

    Tick ``k`` (``k = 0..u-1`` before expiry) lies ``n_k = tau m - k m`` steps ahead; ``c_k = n_k -
    A(n_k)`` is the sum of its filter weights ``1 - a^j`` and ``sum_i W_i^2`` the sum over future steps of
    the squared total weight, ``sum_{k,l} sum_{j <= min} (1 - a^j)(1 - a^{j+d_kl})``: per pair with
    ``n_k <= n_l`` and ``d = n_l - n_k``, ``n_k - A(n_k) - a^d A(n_k) + a^d B(n_k)`` with ``A(n) = sum a^j``,
    ``B(n) = sum a^{2j}`` (for ``a = 0`` these reduce to ``sum min(n_k, n_l)``: the Brownian case).
    """
    shape = tau_s.shape
    tau = tau_s.ravel()
    u_all = np.where(tau > 0.0, np.minimum(np.floor(tau - 1e-9) + 1.0, lookback), 0.0)
    uniq, inv = np.unique(np.stack([tau, u_all]), axis=1, return_inverse=True)
    inv = np.asarray(inv).ravel()
    t_u, u_u = uniq[0], uniq[1]
    k = np.arange(lookback, dtype=np.float64)[None, :]
    n_k = (t_u[:, None] - k) * m_steps
    live = k < u_u[:, None]
    n_k = np.where(live, n_k, 0.0)
    big_a, big_b = _geo(a, n_k, 1), _geo(a, n_k, 2)
    pw = np.where(live, a**n_k, 0.0) if a > 0 else np.zeros(n_k.shape)
    diag = n_k - 2.0 * big_a + big_b
    # pairs with the later ticks l < k (larger n_l, d = (k - l) m): sum_{r=1..k} a^{r m}
    g = _geo(a, np.broadcast_to(k, n_k.shape).astype(np.float64), m_steps) if a > 0 else np.zeros(n_k.shape)
    off = k * (n_k - big_a) + g * (big_b - big_a)
    sq = np.where(live, diag + 2.0 * off, 0.0).sum(axis=1)
    csum = np.where(live, n_k - big_a, 0.0).sum(axis=1)
    return pw.sum(axis=1)[inv].reshape(shape), csum[inv].reshape(shape), sq[inv].reshape(shape)


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
    lag: npt.ArrayLike = 0.0,
) -> FloatArray:
    """P(settlement value >= strike | the generating state) under the world's process.

    ``spot`` is the latent spot at the decision, ``lag`` the oracle filter's state there (``L = C - E``,
    module docstring; 0 without smoothing), ``tau_s`` the seconds from that state to the settlement
    stamp (a whole number of path steps in the world), ``sigma`` the window's diffusion vol.

    Instantaneous settlement (``twap_lookback_s == 0``) is exact: with ``n = tau m`` steps of ``h``,
    ``sum_k Pois(k; lam tau) N((ln(S/K) - a^n L + drift h sum_j c_j + k mu_j) / sqrt(sigma^2 h sum_j
    c_j^2 + k sd_j^2 + noise^2))``, ``c_j = 1 - a^j`` (``a = 0``: the plain Merton series with the
    oracle noise). TWAP settlement averages ``ln O`` over the lookback's ticks (geometric for
    arithmetic, as :func:`pmresearch.pricing.digital_twap`): its Gaussian part is exact for the
    filtered diffusion (:func:`_smoothed_twap_moments`), jumps between unknown ticks are moment-matched
    as in ``digital_twap`` (``log_known_sum`` is the sum of ``ln O`` over the ticks already stamped).
    """
    law = jump_law(cfg)
    lam = law.lam if include_jumps else 0.0
    noise = cfg.oracle_noise_bps * 1e-4
    a = smoothing_factor(cfg)
    m_steps = cfg.substeps_per_s
    h = 1.0 / (m_steps * SECONDS_PER_YEAR)
    tau_arr = np.asarray(tau_s, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    log_s = np.log(np.asarray(spot, dtype=np.float64))
    log_k = np.log(np.asarray(strike, dtype=np.float64))
    lag_a = np.asarray(lag, dtype=np.float64)
    k_j = jump_scale(cfg, s)
    mu_j, var_j = law.mu_j * k_j, (law.sigma_j * k_j) ** 2
    if twap_lookback_s > 0:
        shape = np.broadcast_shapes(tau_arr.shape, s.shape, log_s.shape, log_k.shape, lag_a.shape,
                                    np.shape(log_known_sum))
        tau_b = np.broadcast_to(tau_arr, shape)
        n_ticks = float(twap_lookback_s)
        u, _, _, u_first, span, w_mean, w_sq = twap_log_moments(tau_b, twap_lookback_s, 1.0)
        pw, csum, sq = _smoothed_twap_moments(a, m_steps, tau_b, twap_lookback_s)
        known = np.asarray(log_known_sum, dtype=np.float64)
        mean = (known + u * log_s - pw * lag_a + cfg.drift * h * csum) / n_ticks - log_k
        var = s * s * h * sq / (n_ticks * n_ticks) + u * noise * noise / (n_ticks * n_ticks)
        jumps = []
        if lam > 0:
            frac = u / n_ticks
            jumps = [(lam * u_first, frac * mu_j, frac * frac * var_j),
                     (lam * span, w_mean * mu_j, w_sq * (var_j + mu_j * mu_j) - (w_mean * mu_j) ** 2)]
        return gaussian_jump_up_probability(mean, var, jumps)
    tau = tau_arr / SECONDS_PER_YEAR
    n = tau_arr * m_steps
    big_a, big_b = _geo(a, n, 1), _geo(a, n, 2)
    decay = a**n if a > 0 else np.zeros(n.shape)
    mean = log_s - log_k - decay * lag_a + cfg.drift * h * (n - big_a)
    var = s * s * h * (n - 2.0 * big_a + big_b) + noise * noise
    classes = [(law.count_mean(tau), mu_j, var_j)] if lam > 0 else []
    return gaussian_jump_up_probability(mean, var, classes)
