"""Poisson weights of jump mixtures: one truncation rule for every series in the package.

The Merton (1976) digital, its Greeks, the simulator's true probability
(:func:`~pmresearch.pricing.digital.gaussian_jump_up_probability`) and the Merton likelihood
(:mod:`pmresearch.pricing.jumps`) all sum ``Pois(n; L) f(n)`` over jump counts ``n``. They keep the
counts :func:`poisson_span` chooses and weight them by :func:`poisson_weights`:

* the series stops at the first count ``n`` past the mode whose remaining tail ``P(N > n)`` is below
  ``tol``; the tail is bounded by the geometric series ``w_{n+1} / (1 - L / (n + 2))`` (the ratios
  ``w_{k+1} / w_k = L / (k + 1)`` fall below ``L / (n + 2)`` after ``n + 1``), taken relative to the
  mass summed so far, so a rounding error common to every weight cannot stop it early;
* counts below ``L - 12 sqrt(L) - 12`` (mass < 1e-30) are skipped by the per-element kernel;
* weights are evaluated in log space, ``n ln L - L - ln n!``: no overflow of ``L^n`` or ``n!``.

:func:`poisson_span` is plain Python compiled by numba (the kernels call the compiled twin, the
tests the Python one, as arch does with its recursions).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

from pmresearch._typing import FloatArray

__all__ = ["poisson_span", "poisson_span_py", "poisson_weights"]


def poisson_span_py(lam_t: float, tol: float) -> tuple[int, int]:
    """First and last jump count ``(n_lo, n_hi)`` kept for a Poisson mean ``lam_t``.

    ``P(N > n_hi) < tol`` (the module's tail rule) and ``P(N < n_lo) < 1e-30``; ``(0, 0)`` when
    ``lam_t <= 0``. The search stops at ``lam_t + 40 sqrt(lam_t) + 60`` whatever ``tol``.
    """
    if lam_t <= 0.0:
        return 0, 0
    sq = math.sqrt(lam_t)
    n_lo = max(0, int(lam_t - 12.0 * sq - 12.0))
    n_cap = int(lam_t + 40.0 * sq + 60.0)
    n = n_lo
    w = math.exp(n * math.log(lam_t) - lam_t - math.lgamma(n + 1.0))
    mass = w
    while n < n_cap:
        nxt = w * lam_t / (n + 1.0)
        ratio = lam_t / (n + 2.0)
        if ratio < 1.0 and nxt / (1.0 - ratio) < tol * mass:
            break
        n += 1
        w = nxt
        mass += w
    return n_lo, n


#: The compiled twin of :func:`poisson_span_py`, callable from numba kernels.
poisson_span = numba.njit(cache=True)(poisson_span_py)


@numba.njit(cache=True)
def _last_count(lam_t: FloatArray, tol: float) -> int:
    """The largest ``n_hi`` of :func:`poisson_span` over a 1-D array of means (0 when empty)."""
    hi = 0
    for v in lam_t:
        hi = max(hi, poisson_span(v, tol)[1])
    return hi


def poisson_weights(
    lam_t: npt.ArrayLike, tol: float = 1e-12, *, n_terms: int | None = None, log: bool = False
) -> tuple[FloatArray, int]:
    """Poisson weights ``Pois(n; lam_t)`` for ``n = 0 .. n_terms - 1``, computed in log space.

    Parameters
    ----------
    lam_t : array_like
        Poisson means (``>= 0``, finite), any shape.
    tol : float, default 1e-12
        Truncation: the neglected mass ``P(N >= n_terms)`` is below ``tol`` for every element
        (the largest :func:`poisson_span` over the elements).
    n_terms : int, optional
        A fixed number of terms instead (``tol`` is then not used): a likelihood optimized over
        ``lam`` needs the same terms for every ``lam`` to stay smooth.
    log : bool, default False
        Return ``log Pois(n; lam_t)`` (``-inf`` for ``n > 0`` where ``lam_t = 0``).

    Returns
    -------
    weights, n_terms
        ``weights[n]`` has the shape of ``lam_t``; ``weights`` is ``(n_terms, *lam_t.shape)``.
    """
    lt = np.asarray(lam_t, dtype=np.float64)
    if np.any(~((lt >= 0.0) & (lt < np.inf))):
        raise ValueError("poisson_weights: lam_t must be >= 0 and finite")
    if n_terms is None:
        if not 0.0 < tol < 1.0:
            raise ValueError(f"poisson_weights: tol must be in (0, 1), got {tol}")
        n_terms = 1 + _last_count(np.ascontiguousarray(lt).reshape(-1), float(tol))
    elif n_terms < 1:
        raise ValueError(f"poisson_weights: n_terms must be >= 1, got {n_terms}")
    n = np.arange(n_terms, dtype=np.float64).reshape((n_terms,) + (1,) * lt.ndim)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_l = np.log(lt)
        log_w = np.where(lt > 0.0, n * log_l - lt - special.gammaln(n + 1.0), np.where(n == 0.0, 0.0, -np.inf))
    return (log_w if log else np.exp(log_w)), int(n_terms)
