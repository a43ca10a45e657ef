"""Numba kernels for the digital pricers, each tested against a NumPy/SciPy reference.

One fused pass over the elements (validation, drift, the Poisson series, the normal CDF) after
NumPy's vectorized ``ln(S/K)``, in blocks: inside a block, the arithmetic of a chunk of elements
first, then their normal CDFs; large arrays run their blocks on ``numba.get_num_threads()`` threads
(:func:`digital_kernel_threads`), with the same bits whatever the thread count. The kernel is shared
so that ``digital_merton`` with ``lam = 0`` is ``digital_bs`` bit for bit, and ``digital_bs`` equals
the vectorized NumPy + ``scipy.special.ndtr`` digital bit for bit. Measured in
``benchmarks/bench_pricing.py``: the validated ``digital_bs`` against that unvalidated NumPy digital,
and ``digital_merton`` against the NumPy Poisson mixture with ``scipy.stats.poisson`` weights; the
Merton series, truncated per element instead of running every element to the largest element's
term count, is also faster than the vectorized NumPy series on one thread. The normal CDF is a port
of Cephes ``ndtr`` (Moshier, Cephes Math Library 2.9, as in SciPy's ``special.ndtr``); it agrees
with SciPy bit for bit on the tested range.
"""

from __future__ import annotations

import math
import queue
import threading

import numba
import numpy as np

from pmresearch._typing import FloatArray, IntArray
from pmresearch.pricing.poisson import poisson_span

__all__ = [
    "BLOCK", "CHUNK", "PARAM_NAMES", "digital_kernel", "digital_kernel_threads", "merton_series_kernel", "ndtr_kernel",
]

#: Names of the kernel's inputs, in order (error codes index into it).
PARAM_NAMES = ("log_moneyness", "tau", "sigma", "drift", "lam", "mu_j", "sigma_j")

_SQRT1_2 = 0.7071067811865476
_NDTR_ONE, _NDTR_ZERO = 8.5, -38.5  # N(a) rounds to exactly 1 above, 0 below
_MAXLOG = 7.09782712893383996732e2
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0, 4.86371970985681366614e1,
      1.96520832956077098242e2, 5.26445194995477358631e2, 9.34528527171957607540e2, 1.02755188689515710272e3,
      5.57535335369399327526e2)
_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2, 9.75708501743205489753e2,
      1.82390916687909736289e3, 2.24633760818710981792e3, 1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0, 6.16021097993053585195e0,
      7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1, 1.70814450747565897222e1,
      9.60896809063285878198e0, 3.36907645100081516050e0)
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3, 7.00332514112805075473e3,
      5.55923013010394962768e4)
_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3, 2.26290000613890934246e4,
      4.92673942608635921086e4)


@numba.njit(cache=True)
def _erf_small(x: float) -> float:
    """Cephes ``erf`` for ``|x| <= 1``: ``x T(x^2) / U(x^2)``."""
    z = x * x
    t = (((_T[0] * z + _T[1]) * z + _T[2]) * z + _T[3]) * z + _T[4]
    u = ((((z + _U[0]) * z + _U[1]) * z + _U[2]) * z + _U[3]) * z + _U[4]
    return x * t / u


@numba.njit(cache=True)
def _erfc_pos(x: float) -> float:
    """Cephes ``erfc`` for ``x >= 1``: ``exp(-x^2) P(x)/Q(x)`` (``x < 8``) or ``R(x)/S(x)``."""
    z = -x * x
    if z < -_MAXLOG:
        return 0.0
    e = math.exp(z)
    if x < 8.0:
        p = ((((((((_P[0] * x + _P[1]) * x + _P[2]) * x + _P[3]) * x + _P[4]) * x + _P[5]) * x + _P[6]) * x
              + _P[7]) * x + _P[8])
        q = (((((((x + _Q[0]) * x + _Q[1]) * x + _Q[2]) * x + _Q[3]) * x + _Q[4]) * x + _Q[5]) * x + _Q[6]) * x + _Q[7]
    else:
        p = ((((_R[0] * x + _R[1]) * x + _R[2]) * x + _R[3]) * x + _R[4]) * x + _R[5]
        q = (((((x + _S[0]) * x + _S[1]) * x + _S[2]) * x + _S[3]) * x + _S[4]) * x + _S[5]
    return e * p / q


@numba.njit(cache=True)
def _ndtr(a: float) -> float:
    """Standard normal CDF (Cephes ``ndtr``); the far tails return their rounded values directly
    (``1 - N(8.5) < 2^-54`` rounds ``N`` to exactly 1; ``N(-38.5)`` underflows to 0)."""
    if a > _NDTR_ONE:
        return 1.0
    if a < _NDTR_ZERO:
        return 0.0
    x = a * _SQRT1_2
    z = abs(x)
    if z < 1.0:
        return 0.5 + 0.5 * _erf_small(x)
    y = 0.5 * _erfc_pos(z)
    return 1.0 - y if x > 0.0 else y


@numba.njit(cache=True)
def _up(mean: float, var: float) -> float:
    """``P(mean + sqrt(var) Z >= 0)``; the indicator ``mean >= 0`` when ``var == 0`` (ties Up)."""
    if var > 0.0:
        return _ndtr(mean / math.sqrt(var))
    return 1.0 if mean >= 0.0 else 0.0


@numba.njit(cache=True)
def _series(mean: float, var0: float, lam_t: float, mu_j: float, var_j: float, tol: float) -> float:
    """``sum_n Pois(n; lam_t) P(mean + n mu_j + sqrt(var0 + n var_j) Z >= 0)``, truncated per element.

    The counts are :func:`pmresearch.pricing.poisson.poisson_span`'s (the package's one truncation
    rule: the neglected upper tail below ``tol``, the skipped lower counts below 1e-30). The first
    weight is evaluated in log space (no underflow for large ``L``), the rest by ``w_n = w_{n-1} L / n``,
    and the sum is divided by the accumulated weight: the first weight's rounding (its log holds
    ``n ln L``, thousands for large ``L``) is common to all weights and cancels, and the result moves
    by at most the neglected mass.
    """
    if lam_t <= 0.0:
        return _up(mean, var0)
    n, n_hi = poisson_span(lam_t, tol)
    w = math.exp(n * math.log(lam_t) - lam_t - math.lgamma(n + 1.0))
    total = 0.0
    cum = 0.0
    while True:
        total += w * _up(mean + n * mu_j, var0 + n * var_j)
        cum += w
        if n >= n_hi:
            break
        n += 1
        w *= lam_t / n
    return min(max(total / cum, 0.0), 1.0)


@numba.njit(cache=True)
def merton_series_kernel(
    mean: FloatArray, var0: FloatArray, count_mean: FloatArray, mu_j: FloatArray, var_j: FloatArray, tol: float
) -> FloatArray:
    """The Merton series (see ``_series``) on 1-D arrays of its Gaussian/Poisson parameters."""
    out = np.empty(mean.size)
    for i in range(mean.size):
        out[i] = _series(mean[i], var0[i], count_mean[i], mu_j[i], var_j[i], tol)
    return out


@numba.njit(cache=True)
def ndtr_kernel(z: FloatArray) -> FloatArray:
    """Standard normal CDF of a 1-D array (tested against ``scipy.special.ndtr``)."""
    out = np.empty(z.size)
    for i in range(z.size):
        out[i] = _ndtr(z[i])
    return out


#: Elements per block of :func:`digital_kernel_threads` (about a millisecond of work): the work is
#: split into fixed blocks, not one share per thread.
BLOCK = 1 << 15

#: Elements per pass inside a block (a few kB of buffers, in L1).
CHUNK = 512

_DONE, _NO_JUMPS, _JUMPS, _INVALID = 0, 1, 2, 3  # _DONE = _NO_JUMPS - 1


@numba.njit(cache=True, nogil=True)
def _digital_block(
    log_moneyness: FloatArray, tau: FloatArray, sigma: FloatArray, drift: FloatArray, lam: FloatArray,
    mu_j: FloatArray, sigma_j: FloatArray, steps: IntArray, lo: int, hi: int, tol: float, out: FloatArray,
) -> int:
    """Elements ``lo .. hi - 1`` of :func:`digital_kernel` into ``out``; returns how many are NaN.

    Two passes per chunk of :data:`CHUNK` elements. The first validates each element (finite; tau,
    sigma, lam, sigma_j >= 0) and computes ``mean = x + (d - lam kappa - sigma^2/2) tau`` and
    ``var0 = sigma^2 tau``; without jumps (``lam tau <= 0``) it goes on to ``z = mean / sqrt(var0)``,
    or ``+inf``/``-inf`` by the sign of ``mean`` when ``var0 = 0`` (whose ``N`` is the indicator
    ``mean >= 0`` that ``_up`` returns), and writes ``N(z)`` at once where it is a tail of
    :func:`_ndtr` (exactly 0 or 1). The second pass visits only the rest, listed without branching:
    ``N(z)``, the Poisson series (``_series``) with jumps, NaN where invalid. Per element these are
    the operations of ``_series(mean, var0, lam tau, mu_j, sigma_j^2, tol)``, so the same bits; split
    so, the arithmetic is not thrown away by mispredicted branches, and the CDF's branches see
    similar inputs in a row.
    """
    n_bad = 0
    s0, s1, s2, s3, s4, s5, s6 = steps[0], steps[1], steps[2], steps[3], steps[4], steps[5], steps[6]
    z_or_mean = np.empty(CHUNK)
    var0 = np.empty(CHUNK)
    lam_t = np.empty(CHUNK)
    kind = np.empty(CHUNK, dtype=np.int8)
    pending = np.empty(CHUNK, dtype=np.int64)
    for start in range(lo, hi, CHUNK):
        n_pending = 0
        for j in range(min(CHUNK, hi - start)):
            i = start + j
            x, t, v, d = log_moneyness[i * s0], tau[i * s1], sigma[i * s2], drift[i * s3]
            la, mj, sj = lam[i * s4], mu_j[i * s5], sigma_j[i * s6]
            # `&`, not `and`: one predictable branch instead of fourteen
            finite = (math.isfinite(x) & math.isfinite(t) & math.isfinite(v) & math.isfinite(d)
                      & math.isfinite(la) & math.isfinite(mj) & math.isfinite(sj))
            k = _INVALID
            if finite and min(min(t, v), min(la, sj)) >= 0.0:
                lam_kappa = la * math.expm1(mj + 0.5 * sj * sj) if la > 0.0 else 0.0
                mean = x + (d - lam_kappa - 0.5 * v * v) * t
                var = v * v * t
                lt = la * t
                if not (math.isfinite(mean) & math.isfinite(var)):
                    pass  # finite inputs whose moments overflow (sigma^2 beyond double): invalid, not a tail
                elif lt <= 0.0:
                    z = mean / math.sqrt(var) if var > 0.0 else (np.inf if mean >= 0.0 else -np.inf)
                    # arithmetic, not `if`: these signs are random, a branch on them mispredicts
                    out[i] = np.float64(z > _NDTR_ONE)
                    k = _NO_JUMPS - int((z > _NDTR_ONE) | (z < _NDTR_ZERO))  # _DONE in the tails
                    z_or_mean[j] = z
                else:
                    k = _JUMPS
                    z_or_mean[j], var0[j], lam_t[j] = mean, var, lt
            kind[j] = k
            pending[n_pending] = j
            n_pending += k != _DONE
        for q in range(n_pending):
            j = pending[q]
            i = start + j
            if kind[j] == _NO_JUMPS:
                p = _ndtr(z_or_mean[j])
            elif kind[j] == _JUMPS:
                sj = sigma_j[i * s6]
                p = _series(z_or_mean[j], var0[j], lam_t[j], mu_j[i * s5], sj * sj, tol)
            else:
                p = np.nan
            out[i] = p
            if p != p:
                n_bad += 1
    return n_bad


@numba.njit(cache=True)
def digital_kernel(
    log_moneyness: FloatArray, tau: FloatArray, sigma: FloatArray, drift: FloatArray, lam: FloatArray,
    mu_j: FloatArray, sigma_j: FloatArray, steps: IntArray, n: int, tol: float,
) -> tuple[FloatArray, int]:
    """Merton (1976) digital ``P(S_T >= K)`` for ``n`` elements in one pass (Black-Scholes when ``lam = 0``).

    ``log_moneyness = ln(S/K)`` comes in precomputed (NumPy's SIMD logarithm is several times faster
    than a scalar one here, and its values are the reference's). Each input is 1-D and read at
    ``i * steps[j]`` (``steps[j] = 0`` broadcasts a single value). Log drift ``drift - lam kappa -
    sigma^2 / 2`` with ``kappa = exp(mu_j + sigma_j^2 / 2) - 1`` (``lam kappa = 0`` when ``lam = 0``).
    Returns ``(out, n_bad)``: elements with an invalid input (not finite; tau, sigma, lam or sigma_j
    negative) are NaN and counted in ``n_bad``. One thread; :func:`digital_kernel_threads` is the
    same computation on blocks spread over several.
    """
    out = np.empty(n)
    n_bad = _digital_block(log_moneyness, tau, sigma, drift, lam, mu_j, sigma_j, steps, 0, n, tol, out)
    return out, n_bad


def digital_kernel_threads(
    log_moneyness: FloatArray, tau: FloatArray, sigma: FloatArray, drift: FloatArray, lam: FloatArray,
    mu_j: FloatArray, sigma_j: FloatArray, steps: IntArray, n: int, tol: float, threads: int,
) -> tuple[FloatArray, int]:
    """:func:`digital_kernel` on ``threads`` threads (the caller and ``threads - 1`` helpers, joined
    before it returns).

    The blocks of :data:`BLOCK` elements are taken one at a time by whichever thread is free, so a
    core busy with other work delays one block rather than half the array; the compiled block
    releases the GIL. The values are the same bit for bit whatever the thread count or the order
    the blocks run in: each element is computed alone and only integer counts are summed.
    """
    out = np.empty(n)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for lo in range(0, n, BLOCK):
        todo.put(lo)
    counts: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        bad = 0
        try:
            while True:
                try:
                    lo = todo.get_nowait()
                except queue.Empty:
                    break
                bad += _digital_block(log_moneyness, tau, sigma, drift, lam, mu_j, sigma_j, steps, lo,
                                      min(lo + BLOCK, n), tol, out)
        except BaseException as exc:  # re-raised by the caller's thread
            errors.append(exc)
        counts.append(bad)

    helpers = [threading.Thread(target=work, name=f"pmresearch-digital-{j}", daemon=True) for j in range(threads - 1)]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return out, sum(counts)
