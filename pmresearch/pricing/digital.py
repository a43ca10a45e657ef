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

import inspect
import math
from collections.abc import Callable, Sequence
from typing import ParamSpec

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray, IntArray
from pmresearch.pricing._kernels import BLOCK, PARAM_NAMES, digital_kernel, digital_kernel_threads
from pmresearch.pricing.poisson import poisson_weights

__all__ = [
    "JumpClass",
    "digital_bs",
    "digital_delta",
    "digital_merton",
    "digital_twap",
    "digital_vega",
    "gaussian_jump_up_probability",
    "twap_log_moments",
]

#: (expected jump count, mean of one jump's log-size contribution, its variance)
JumpClass = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]


def _f64(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _check_positive(name: str, x: FloatArray) -> None:
    if np.any(~((x > 0.0) & (x < np.inf))):
        raise ValueError(f"{name} must be positive and finite (got a value <= 0, inf or NaN)")


def _check_nonneg(name: str, x: FloatArray) -> None:
    if np.any(~((x >= 0.0) & (x < np.inf))):
        raise ValueError(f"{name} must be >= 0 and finite (got a negative value, inf or NaN)")


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

    Raises
    ------
    ValueError
        Naming the first invalid input and its index (non-finite values, ``S, K <= 0``, negative
        ``tau`` or ``sigma``).

    Notes
    -----
    One fused numba pass with the validation inside (:func:`pmresearch.pricing._kernels.digital_kernel`,
    shared with :func:`digital_merton`) after NumPy's ``ln(S/K)``, on ``numba.get_num_threads()``
    threads for large arrays (the same bits with any thread count); the normal CDF is SciPy's Cephes
    ``ndtr``, ported bit for bit, so the values are those of NumPy + ``scipy.special.ndtr``.
    """
    return _digital((S, K, tau, sigma, r, 0.0, 0.0, 0.0), "r", 1e-12)


_RULES = {"tau": ">= 0 and finite", "sigma": ">= 0 and finite", "lam": ">= 0 and finite",
          "sigma_j": ">= 0 and finite"}


def _digital(args: tuple[npt.ArrayLike, ...], drift_name: str, tol: float) -> FloatArray:
    """Broadcast ``(S, K, tau, sigma, drift, lam, mu_j, sigma_j)`` and run the fused kernel.

    ``ln(S/K)`` is computed by NumPy (vectorized); the kernel validates every element in the same
    pass and the error is raised here afterwards. Arrays of two :data:`BLOCK` s or more run on
    ``numba.get_num_threads()`` threads (:func:`~pmresearch.pricing._kernels.digital_kernel_threads`,
    bit-identical to the one-thread kernel).
    """
    s, k = _f64(args[0]), _f64(args[1])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.divide(s, k)
        x = np.log(x, out=x) if isinstance(x, np.ndarray) else np.log(x)
    arrs = [np.asarray(x, dtype=np.float64)] + [_f64(a) for a in args[2:]]
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    flat, steps = _kernel_inputs(arrs, shape)
    size = math.prod(shape)
    x_, tau_, sigma_, drift_, lam_, mu_j_, sigma_j_ = flat
    threads = min(numba.get_num_threads(), size // BLOCK) if size >= 2 * BLOCK else 1
    try:
        if threads > 1:
            out, n_bad = digital_kernel_threads(x_, tau_, sigma_, drift_, lam_, mu_j_, sigma_j_, steps, size,
                                                float(tol), threads)
        else:
            out, n_bad = digital_kernel(x_, tau_, sigma_, drift_, lam_, mu_j_, sigma_j_, steps, size, float(tol))
    except ZeroDivisionError:  # the Poisson series of an astronomically large expected jump count
        counts = lam_ * tau_
        at = int(np.argmax(np.where(np.isfinite(counts), counts, -np.inf)))
        lam_at = float(lam_[at if lam_.size > 1 else 0])
        raise ValueError(f"expected jump count lam * tau = {float(counts[at]):.3g} is beyond the Poisson series "
                         f"(lam {lam_at:.3g} per year): out of the model's range") from None
    if n_bad:
        _check_positive("S", s)
        _check_positive("K", k)
        names = {"drift": drift_name, "log_moneyness": "S/K"}
        for j, a in enumerate(flat):
            ok = np.abs(a) < np.inf if PARAM_NAMES[j] in ("log_moneyness", "drift", "mu_j") else (a >= 0) & (a < np.inf)
            if not np.all(ok):
                name = names.get(PARAM_NAMES[j], PARAM_NAMES[j])
                at = int(np.flatnonzero(~ok)[0])
                where = tuple(int(i) for i in np.unravel_index(at, shape)) if shape and steps[j] else ()
                rule = _RULES.get(name, "a positive finite ratio (ln(S/K) overflows)" if name == "S/K" else "finite")
                raise ValueError(f"{name} must be {rule} (got {float(a[at])!r} at index {where})")
        at = int(np.flatnonzero(np.isnan(out.reshape(-1)))[0])
        where = tuple(int(i) for i in np.unravel_index(at, shape)) if shape else ()
        v = {name: np.float64(a[at * step]) for name, a, step in zip(PARAM_NAMES, flat, steps, strict=True)}
        with np.errstate(over="ignore", invalid="ignore"):
            terms = (f"sigma^2 tau = {v['sigma'] ** 2 * v['tau']:.3g}, drift tau = {v['drift'] * v['tau']:.3g}, "
                     f"lam tau = {v['lam'] * v['tau']:.3g}")
        raise ValueError(f"{n_bad} pricing input(s) are finite but out of the model's range: first at index "
                         f"{where}, where {terms} (beyond double precision)")
    return np.asarray(out.reshape(shape), dtype=np.float64)


def _kernel_inputs(arrs: list[FloatArray], shape: tuple[int, ...]) -> tuple[list[FloatArray], IntArray]:
    """1-D kernel inputs and their read steps: an input of one element is read with step 0 (no
    broadcast copy), one of the result's shape in place (copied only when not C-contiguous); only
    partial broadcasts (``(n, 1)`` against ``(n, m)``) are materialized."""
    steps = np.array([0 if a.size == 1 else 1 for a in arrs], dtype=np.int64)
    flat = [a.reshape(1) if a.size == 1 else
            np.ascontiguousarray(a if a.shape == shape else np.broadcast_to(a, shape)).reshape(-1) for a in arrs]
    return flat, steps


def _jump_mixture(classes: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]], level: int,
                  weight: FloatArray, mean_acc: FloatArray, var_acc: FloatArray, total: FloatArray) -> FloatArray:
    """``total`` plus the Poisson-weighted Gaussian probabilities of every count combination from class
    ``level`` on, in lexicographic order. A module function, not a closure: a nested function naming itself
    is a reference cycle that held the Poisson weights until the cyclic GC ran (which counts objects, not
    bytes: a simulated world's belief grid piled up ~1 KB per point that way)."""
    if level == len(classes):
        return total + weight * _up_prob(mean_acc, var_acc)
    _, mj_a, vj_a, weights = classes[level]
    for n, w in enumerate(weights):
        total = _jump_mixture(classes, level + 1, weight * w, mean_acc + n * mj_a, var_acc + n * vj_a, total)
    return total


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
        weights, _ = poisson_weights(lam_a, tol)
        classes.append((lam_a, mj_a, vj_a, weights))
    shape = np.broadcast_shapes(m0.shape, v0.shape, *[np.broadcast_shapes(c[0].shape, c[1].shape, c[2].shape)
                                                      for c in classes])
    total = _jump_mixture(classes, 0, np.ones(shape), m0, v0, np.zeros(shape, dtype=np.float64))
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
    result is ``sum_n Pois(n; lam tau) N(d2_n)`` with ``d2_n = (ln(S/K) + (r - lam kappa - sigma^2/2)
    tau + n mu_j) / sqrt(sigma^2 tau + n sigma_j^2)``, each element's series truncated where its
    neglected Poisson mass is below ``tol`` (a numba kernel; :func:`_merton_series_np` is the NumPy
    reference it is tested against). Where ``lam tau = 0`` it equals :func:`digital_bs` bit for bit.

    Parameters
    ----------
    S, K : array_like
        Spot and strike, positive.
    tau : array_like
        Time to expiry in years of 365 days, ``>= 0``.
    sigma : array_like
        Annualized diffusion volatility, ``>= 0``.
    lam : array_like
        Jump intensity per year, ``>= 0``.
    mu_j, sigma_j : array_like
        Mean and standard deviation (``>= 0``) of one log-jump.
    r : array_like, default 0
        Risk-free rate: the drift of ``S`` under the risk-neutral measure.
    mu : array_like, optional
        Real-world expected rate of return of ``S`` (replaces ``r`` in the drift, compensator kept).
        For a log drift ``g`` of the whole process (as :func:`~pmresearch.pricing.jumps.fit_merton`
        estimates) use ``mu = g + lam kappa + sigma^2 / 2``.
    tol : float, default 1e-12
        Truncation: neglected Poisson mass per element (absolute error bound), in ``(0, 1e-3)``.

    Returns
    -------
    ndarray
        Undiscounted probabilities in ``[0, 1]``, float64, the broadcast shape of the inputs.
    """
    if not 0.0 < tol < 1e-3:
        raise ValueError(f"tol must be in (0, 1e-3), got {tol}")
    return _digital((S, K, tau, sigma, r if mu is None else mu, lam, mu_j, sigma_j), "r" if mu is None else "mu",
                    tol)


def _merton_series_np(
    mean: FloatArray, var0: FloatArray, count_mean: FloatArray, mu_j: FloatArray, var_j: FloatArray, tol: float
) -> FloatArray:
    """NumPy reference of :func:`~pmresearch.pricing._kernels.merton_series_kernel`: the same series,
    every element run to the term count the largest ``count_mean`` needs (tested against the kernel)."""
    shape = np.broadcast_shapes(mean.shape, var0.shape, count_mean.shape, mu_j.shape, var_j.shape)
    total = np.zeros(shape, dtype=np.float64)
    mass = np.zeros(shape, dtype=np.float64)
    for w, n in _poisson_terms(count_mean, tol):
        total += w * _up_prob(mean + n * mu_j, var0 + n * var_j)
        mass += w
    # normalized like the kernel: a rounding error common to all weights cancels
    return np.asarray(np.clip(total / mass, 0.0, 1.0), dtype=np.float64)


def _poisson_terms(count_mean: FloatArray, tol: float) -> list[tuple[FloatArray, float]]:
    """``(Pois(n; count_mean), n)`` for ``n = 0 .. n_terms - 1`` of :func:`poisson_weights`: the
    neglected mass of every element is below ``tol`` (the package's one truncation rule)."""
    weights, _ = poisson_weights(count_mean, tol)
    return [(w, float(n)) for n, w in enumerate(weights)]


def _greek_terms(
    S: npt.ArrayLike,
    K: npt.ArrayLike,
    tau: npt.ArrayLike,
    sigma: npt.ArrayLike,
    r: npt.ArrayLike = 0.0,
    *,
    lam: npt.ArrayLike = 0.0,
    mu_j: npt.ArrayLike = 0.0,
    sigma_j: npt.ArrayLike = 0.0,
    mu: npt.ArrayLike | None = None,
    tol: float = 1e-12,
) -> tuple[FloatArray, FloatArray]:
    """Delta and vega of the (Merton-series) digital probability, term by term.

    Term ``n`` is ``N(z_n)`` with ``z_n = m_n / sqrt(v_n)``, ``m_n = ln(S/K) + (r - lam kappa -
    sigma^2/2) tau + n mu_j`` and ``v_n = sigma^2 tau + n sigma_j^2``, so ``dN/dS = phi(z_n) / (S
    sqrt(v_n))`` and ``dN/dsigma = phi(z_n) (-sigma tau / sqrt(v_n) - m_n sigma tau / v_n^{3/2})``.
    Where ``v_n = 0`` the term is an indicator and both derivatives are 0 (a Dirac mass at the
    strike is reported as 0, never NaN). The signature of :func:`digital_delta` and :func:`digital_vega`.
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
    shape = np.broadcast_shapes(mean.shape, t.shape, v.shape, mj.shape, sj.shape, lam_a.shape)
    delta = np.zeros(shape, dtype=np.float64)
    vega = np.zeros(shape, dtype=np.float64)
    terms = _poisson_terms(lam_a * t, tol) if np.any(lam_a > 0.0) else [(np.ones(shape), 0.0)]
    for w, n in terms:
        m_n = mean + n * mj
        v_n = v * v * t + n * sj * sj
        pos = v_n > 0.0
        sd = np.sqrt(np.where(pos, v_n, 1.0))
        z = m_n / sd
        pdf = np.where(pos, np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi), 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d_term = pdf / (s * sd)
            v_term = -pdf * (v * t / sd) - pdf * z * (v * t / np.where(pos, v_n, 1.0))
        delta += w * np.where(pdf > 0.0, d_term, 0.0)
        vega += w * np.where(pdf > 0.0, v_term, 0.0)
    return delta, vega


_P = ParamSpec("_P")


def _greek(
    terms: Callable[_P, tuple[FloatArray, FloatArray]], index: int, name: str, doc: str
) -> Callable[_P, FloatArray]:
    """Output ``index`` of ``terms`` as the public function ``name``: the greeks share one signature."""

    def greek(*args: _P.args, **kwargs: _P.kwargs) -> FloatArray:
        return terms(*args, **kwargs)[index]

    greek.__name__ = greek.__qualname__ = name
    greek.__doc__ = doc
    greek.__signature__ = inspect.signature(terms).replace(return_annotation="FloatArray")  # type: ignore[attr-defined]
    return greek


digital_delta = _greek(_greek_terms, 0, "digital_delta", """Delta ``dP/dS`` of the digital probability
    (:func:`digital_bs`, or :func:`digital_merton` when ``lam > 0``).

    Black-Scholes: ``phi(d2) / (S sigma sqrt(tau))`` (Hull, binary options: the cash-or-nothing call's
    delta is ``exp(-r tau)`` times it). Merton: the Poisson-weighted sum of the per-count terms.
    Undiscounted like the probabilities; 0 where the variance is 0 (``tau = 0`` or ``sigma = 0``
    without jumps). Arguments as in :func:`digital_merton`: ``digital_delta(S, K, tau, sigma, r=0.0, *,
    lam=0.0, mu_j=0.0, sigma_j=0.0, mu=None, tol=1e-12)``.

    Returns
    -------
    ndarray
        Delta per unit of spot (``>= 0``).
    """)

digital_vega = _greek(_greek_terms, 1, "digital_vega", """Vega ``dP/dsigma`` of the digital probability
    (per unit of annualized diffusion volatility).

    Black-Scholes: ``-phi(d2) d1 / sigma`` (Hull, binary options; equal to ``-phi(d2) (d2/sigma +
    sqrt(tau))``, which stays finite as ``sigma -> 0``). Merton: the Poisson-weighted sum of the
    per-count terms (jump variance does not depend on ``sigma``). 0 where the variance is 0.
    Arguments as in :func:`digital_merton`: ``digital_vega(S, K, tau, sigma, r=0.0, *, lam=0.0,
    mu_j=0.0, sigma_j=0.0, mu=None, tol=1e-12)``.

    Returns
    -------
    ndarray
        Vega per unit of volatility (negative in the money, positive out of it).
    """)


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
