"""Digital (cash-or-nothing) probabilities under Black-Scholes, Merton jump-diffusion and TWAP settlement.

All functions return the probability ``P(ref(T) >= K)`` (ties Up), undiscounted: the price of a
digital paying 1 is ``exp(-r tau)`` times it. ``tau`` and volatilities are annualized on the 24/7
year (:data:`pmresearch._time.SECONDS_PER_YEAR`). Inputs broadcast (NumPy rules) and outputs are
float64 arrays; zero-variance cases (``tau -> 0`` or ``sigma -> 0``) return the indicator of the
forward being at or above the strike, never NaN.

References
----------
Hull, *Options, Futures, and Other Derivatives*, binary options: ``price = Q exp(-rT) N(d2)``.
Merton (1976), "Option pricing when underlying stock returns are discontinuous", JFE 3: Poisson
mixture of lognormals; a digital is the Poisson-weighted sum of ``N(d2_n)``.
Turnbull & Wakeman (1991), Levy (1992): moment matching for averages (used for TWAP settlement).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray

__all__ = [
    "JumpClass",
    "digital_bs",
    "digital_merton",
    "digital_twap",
    "gaussian_jump_up_probability",
    "twap_log_moments",
]

#: (expected jump count, mean of one jump's log-size contribution, its variance)
JumpClass = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]


def _f64(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _check_positive(name: str, x: FloatArray) -> None:
    if np.any(~(x > 0.0)):
        raise ValueError(f"{name} must be positive and finite (got a value <= 0 or NaN)")


def _check_nonneg(name: str, x: FloatArray) -> None:
    if np.any(~(x >= 0.0)):
        raise ValueError(f"{name} must be >= 0 (got a negative value or NaN)")


def _up_prob(mean: FloatArray, var: FloatArray) -> FloatArray:
    """P(mean + sqrt(var) Z >= 0); the indicator ``mean >= 0`` where ``var == 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0.0, mean / np.sqrt(np.where(var > 0.0, var, 1.0)), 0.0)
    return np.where(var > 0.0, special.ndtr(z), (mean >= 0.0).astype(np.float64))


def digital_bs(
    S: npt.ArrayLike, K: npt.ArrayLike, tau: npt.ArrayLike, sigma: npt.ArrayLike, r: npt.ArrayLike = 0.0
) -> FloatArray:
    """Black-Scholes probability that ``S_T >= K``: ``N(d2)``.

    ``d2 = (ln(S/K) + (r - sigma^2/2) tau) / (sigma sqrt(tau))`` (Hull, binary options).

    Parameters
    ----------
    S, K : array_like
        Spot and strike, positive.
    tau : array_like
        Time to expiry in years of 365 days, ``>= 0``.
    sigma : array_like
        Annualized volatility, ``>= 0``.
    r : array_like, default 0
        Continuously compounded rate (drift of the risk-neutral measure).

    Returns
    -------
    ndarray
        Undiscounted probabilities in ``[0, 1]``; ``1{S e^{r tau} >= K}`` when ``sigma sqrt(tau) = 0``.
    """
    s, k, t, v, rr = (_f64(a) for a in (S, K, tau, sigma, r))
    _check_positive("S", s)
    _check_positive("K", k)
    _check_nonneg("tau", t)
    _check_nonneg("sigma", v)
    mean = np.log(s / k) + (rr - 0.5 * v * v) * t
    return _up_prob(mean, v * v * t)


def gaussian_jump_up_probability(
    mean: npt.ArrayLike,
    var: npt.ArrayLike,
    jumps: Sequence[JumpClass] = (),
    tol: float = 1e-12,
) -> FloatArray:
    """``P(mean + sqrt(var) Z + sum of compound-Poisson Gaussian jumps >= 0)``.

    Each jump class ``(count_mean, jump_mean, jump_var)`` adds ``N ~ Poisson(count_mean)`` independent
    ``N(jump_mean, jump_var)`` terms. The Poisson series is truncated where the neglected Poisson mass
    is below ``tol`` for every element, so the absolute truncation error is below
    ``tol * len(jumps)``. Zero-variance terms contribute an indicator (ties count as Up).
    """
    m0 = _f64(mean)
    v0 = _f64(var)
    _check_nonneg("variance", v0)
    if not jumps:
        return _up_prob(m0, v0)
    classes = []
    for lam, mj, vj in jumps:
        lam_a, mj_a, vj_a = _f64(lam), _f64(mj), _f64(vj)
        _check_nonneg("jump count mean", lam_a)
        _check_nonneg("jump variance", vj_a)
        n_max = int(stats.poisson.ppf(1.0 - tol, float(np.max(lam_a)))) + 1 if lam_a.size else 0
        classes.append((lam_a, mj_a, vj_a, n_max))
    shape = np.broadcast_shapes(m0.shape, v0.shape, *[np.broadcast_shapes(c[0].shape, c[1].shape, c[2].shape)
                                                      for c in classes])
    total = np.zeros(shape, dtype=np.float64)

    def recurse(level: int, weight: FloatArray, mean_acc: FloatArray, var_acc: FloatArray) -> None:
        nonlocal total
        if level == len(classes):
            total = total + weight * _up_prob(mean_acc, var_acc)
            return
        lam_a, mj_a, vj_a, n_max = classes[level]
        for n in range(n_max + 1):
            w = stats.poisson.pmf(n, lam_a)
            recurse(level + 1, weight * w, mean_acc + n * mj_a, var_acc + n * vj_a)

    recurse(0, np.ones(shape), m0, v0)
    return np.asarray(np.clip(total, 0.0, 1.0), dtype=np.float64)


def digital_merton(
    S: npt.ArrayLike,
    K: npt.ArrayLike,
    tau: npt.ArrayLike,
    sigma: npt.ArrayLike,
    lam: npt.ArrayLike,
    mu_j: npt.ArrayLike,
    sigma_j: npt.ArrayLike,
    r: npt.ArrayLike = 0.0,
    *,
    mu: npt.ArrayLike | None = None,
    tol: float = 1e-12,
) -> FloatArray:
    """Merton (1976) jump-diffusion probability that ``S_T >= K``.

    ``ln S_T = ln S + (r - lam kappa - sigma^2/2) tau + sigma W_tau + sum_{i<=N} Y_i`` with
    ``N ~ Poisson(lam tau)``, ``Y ~ N(mu_j, sigma_j^2)`` and ``kappa = exp(mu_j + sigma_j^2/2) - 1``
    (risk-neutral convention). ``mu`` replaces ``r`` in the drift for a real-world probability. The
    result is ``sum_n Pois(n; lam tau) N(d2_n)``, truncated where the neglected Poisson mass is below
    ``tol``; with ``lam = 0`` it equals :func:`digital_bs` exactly.
    """
    s, k, t, v = (_f64(a) for a in (S, K, tau, sigma))
    lam_a, mj, sj, rr = (_f64(a) for a in (lam, mu_j, sigma_j, r))
    _check_positive("S", s)
    _check_positive("K", k)
    _check_nonneg("tau", t)
    _check_nonneg("sigma", v)
    _check_nonneg("lam", lam_a)
    _check_nonneg("sigma_j", sj)
    drift = rr if mu is None else _f64(mu)
    kappa = np.expm1(mj + 0.5 * sj * sj)
    mean = np.log(s / k) + (drift - lam_a * kappa - 0.5 * v * v) * t
    if not np.any(lam_a > 0.0):
        return _up_prob(mean, v * v * t)
    return gaussian_jump_up_probability(mean, v * v * t, [(lam_a * t, mj, sj * sj)], tol=tol)


def twap_log_moments(
    tau_s: npt.ArrayLike, lookback_s: int, step_s: float = 1.0
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Time structure of a TWAP over the ``L = lookback_s / step_s`` ticks ending at expiry.

    The average's ticks are stamped ``j * step`` seconds before expiry (``j = 0..L-1``); seen from a
    decision ``tau_s`` seconds before expiry, tick ``j`` lies ``u_j = tau_s - j step`` ahead and is
    still unknown when ``u_j > 0``. With ``m`` unknown ticks (the ``j < m``), in closed form:

    * ``sum_u = m tau - step m (m - 1) / 2``;
    * ``sum_{i,k} min(u_i, u_k) = sum_j u_j (2 j + 1) = tau m^2 - step (m-1) m (4m + 1) / 6``, the
      Brownian covariance sum (the ``j``-th latest tick is the minimum of ``2j + 1`` ordered pairs);
    * a jump between two unknown ticks moves ``1..m-1`` of them, equally likely, so its weight in the
      average has mean ``m / (2L)`` and mean square ``m (2m - 1) / (6 L^2)``.

    Returns ``(m, sum_u, sum_min, u_first, span, w_mean, w_sq_mean)`` per element, horizons in years.
    """
    tau = _f64(tau_s)
    n_ticks = round(lookback_s / step_s)
    if n_ticks < 1:
        raise ValueError("TWAP lookback must cover at least one tick")
    # Unknown ticks: j = 0..m-1 with tau - j*step > 0 (a tick stamped exactly now is known).
    m = np.where(tau > 0.0, np.minimum(np.floor((tau - 1e-9) / step_s) + 1.0, n_ticks), 0.0)
    sum_u = (m * tau - step_s * m * (m - 1.0) / 2.0) / SECONDS_PER_YEAR
    sum_min = (tau * m * m - step_s * (m - 1.0) * m * (4.0 * m + 1.0) / 6.0) / SECONDS_PER_YEAR
    u_first = np.where(m > 0, tau - (m - 1.0) * step_s, 0.0) / SECONDS_PER_YEAR
    span = np.where(m > 0, (m - 1.0) * step_s, 0.0) / SECONDS_PER_YEAR
    lf = float(n_ticks)
    w_mean = np.where(m > 1, m / (2.0 * lf), 0.0)
    w_sq = np.where(m > 1, m * (2.0 * m - 1.0) / (6.0 * lf * lf), 0.0)
    return m, sum_u, sum_min, u_first, span, w_mean, w_sq


def digital_twap(
    log_known_sum: npt.ArrayLike,
    S: npt.ArrayLike,
    K: npt.ArrayLike,
    tau_s: npt.ArrayLike,
    sigma: npt.ArrayLike,
    lookback_s: int,
    *,
    drift: npt.ArrayLike = 0.0,
    lam: npt.ArrayLike = 0.0,
    mu_j: npt.ArrayLike = 0.0,
    sigma_j: npt.ArrayLike = 0.0,
    noise_sd: npt.ArrayLike = 0.0,
    step_s: float = 1.0,
    tol: float = 1e-12,
) -> FloatArray:
    """Approximate ``P(TWAP >= K)`` for a settlement averaging ``lookback_s`` 1 Hz ticks before expiry.

    The reference ticks are ``O = S exp(eps)`` with i.i.d. ``eps ~ N(0, noise_sd^2)`` on a spot that
    follows ``d ln S = drift dt + sigma dW + jumps`` (``lam`` per year, log-jumps ``N(mu_j, sigma_j^2)``,
    no compensator: ``drift`` is the real-world log drift). The arithmetic TWAP is approximated by the
    geometric one (their logs differ by half the cross-sectional variance of the ticks, about
    ``sigma^2 L / 6`` years, i.e. ~1e-7 for 60 s at 50% vol), whose log is Gaussian given the jump
    counts; jumps before the first unknown tick move every unknown tick, jumps between unknown ticks
    are matched by their first two moments (Turnbull-Wakeman / Levy style). Measured against a
    400,000-path Monte Carlo of the exact arithmetic 60-tick TWAP on 60 states (ln S/K within
    +-0.1%, 3 s to 10 min to expiry, 30% and 90% vol), the largest absolute error was 0.0025 with
    the simulator's default jumps and 0.0022 with 48 jumps a day; ``tests/simulate/test_truth.py``
    checks it within 4 standard errors + 0.002 on a fixed subset.

    Parameters
    ----------
    log_known_sum : array_like
        Sum of ``ln O`` over the ticks of the average already observed (0 when none is).
    S, K : array_like
        Current spot and the strike.
    tau_s : array_like
        Seconds to expiry (the stamp of the settlement value).
    sigma, drift, lam, mu_j, sigma_j : array_like
        Annualized diffusion volatility, log drift, jump intensity per year and log-jump law.
    noise_sd : array_like
        Standard deviation of the reference's log-noise around spot.
    lookback_s : int
        Length of the averaging window in seconds.
    """
    s, k, v = _f64(S), _f64(K), _f64(sigma)
    _check_positive("S", s)
    _check_positive("K", k)
    _check_nonneg("sigma", v)
    n_ticks = float(round(lookback_s / step_s))
    m, sum_u, sum_min, u_first, span, w_mean, w_sq = twap_log_moments(tau_s, lookback_s, step_s)
    lam_a, mj, sj, dr, sd = (_f64(a) for a in (lam, mu_j, sigma_j, drift, noise_sd))
    mean = (_f64(log_known_sum) + m * np.log(s) + dr * sum_u) / n_ticks - np.log(k)
    var = v * v * sum_min / (n_ticks * n_ticks) + m * sd * sd / (n_ticks * n_ticks)
    frac = m / n_ticks
    jumps: list[JumpClass] = []
    if np.any(lam_a > 0.0):
        jumps = [
            (lam_a * u_first, frac * mj, frac * frac * sj * sj),
            (lam_a * span, w_mean * mj, w_sq * (sj * sj + mj * mj) - (w_mean * mj) ** 2),
        ]
    return gaussian_jump_up_probability(mean, var, jumps, tol=tol)
