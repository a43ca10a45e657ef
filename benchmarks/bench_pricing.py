"""Pricing benchmarks, each printed as a ratio against a baseline timed in the same run.

* ``digital_bs``: 1,000,000 evaluations vs a per-option QuantLib loop (a new ``CashOrNothingPayoff``
  and ``BlackCalculator`` per row, since K varies) timed on a 20,000-row subset, compared per
  evaluation; the values agree to 1e-10.
* ``digital_merton``: 1,000,000 evaluations at simulator-like jump rates (4 to 48 jumps a day, up to
  15 minutes to expiry) vs a per-option QuantLib loop (the Poisson series of ``BlackCalculator``
  terms, truncated at the same tolerance) on a 20,000-row subset, compared per evaluation.
* against what a user would write instead, on the same 1,000,000 rows: the validated public
  ``digital_bs`` vs the unvalidated vectorized NumPy + ``scipy.special.ndtr`` digital, and the
  validated public ``digital_merton`` vs the NumPy Poisson-mixture sum with ``scipy.stats.poisson``
  weights and ``scipy.special.ndtr``, truncated where the neglected mass is below the same tolerance
  for every row. Each pair is timed alternately in the same run (best of several repeats, after
  warm-up and JIT compilation) and the values are compared (bit for bit for ``digital_bs``).
* numba: the Merton series kernel vs the vectorized NumPy series (the package's own reference).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numba
import numpy as np
import QuantLib as ql
from _timing import best_time
from scipy import special, stats

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray
from pmresearch.pricing import digital_bs, digital_merton
from pmresearch.pricing._kernels import merton_series_kernel
from pmresearch.pricing.digital import _merton_series_np, _up_prob

N, SUB, TOL = 1_000_000, 20_000, 1e-12


def _inputs(seed: int) -> dict[str, FloatArray]:
    rng = np.random.default_rng(seed)
    return {
        "s": rng.uniform(60_000, 70_000, N), "k": rng.uniform(60_000, 70_000, N),
        "tau": rng.uniform(1, 900, N) / SECONDS_PER_YEAR, "sig": rng.uniform(0.2, 1.0, N),
        "r": rng.uniform(0.0, 0.05, N), "lam": rng.uniform(4.0, 48.0, N) * 365.0,
        "mj": rng.normal(0.0, 0.001, N), "sj": rng.uniform(0.001, 0.005, N),
    }


def _ql_digital(s: float, k: float, tau: float, sig: float, r: float) -> float:
    payoff = ql.CashOrNothingPayoff(ql.Option.Call, k, 1.0)
    return float(ql.BlackCalculator(payoff, s * math.exp(r * tau), sig * math.sqrt(tau), 1.0).value())


def _ql_merton(s: float, k: float, tau: float, sig: float, r: float, lam: float, mj: float, sj: float) -> float:
    """Merton (1976) digital as a Poisson series of QuantLib ``BlackCalculator`` values."""
    payoff = ql.CashOrNothingPayoff(ql.Option.Call, k, 1.0)
    kappa = math.expm1(mj + 0.5 * sj * sj)
    log_fwd = math.log(s) + (r - lam * kappa) * tau
    lt = lam * tau
    w, n, cum, total = math.exp(-lt), 0, 0.0, 0.0
    while True:
        sd = math.sqrt(sig * sig * tau + n * sj * sj)
        fwd = math.exp(log_fwd + n * (mj + 0.5 * sj * sj))  # E[S_T | n jumps]
        total += w * ql.BlackCalculator(payoff, fwd, sd, 1.0).value()
        cum += w
        if cum > 1.0 - TOL and n >= lt:
            return total / cum
        n += 1
        w *= lt / n


def bench_digital_bs() -> str:
    x = _inputs(0)
    t_vec = best_time(lambda: digital_bs(x["s"], x["k"], x["tau"], x["sig"], x["r"]))
    rows = list(zip(*(x[c][:SUB].tolist() for c in ("s", "k", "tau", "sig", "r")), strict=True))
    t_ql = best_time(lambda: [_ql_digital(*row) for row in rows], repeat=2)
    ref = np.array([_ql_digital(*row) for row in rows])
    err = float(np.max(np.abs(ref - digital_bs(x["s"][:SUB], x["k"][:SUB], x["tau"][:SUB], x["sig"][:SUB],
                                               x["r"][:SUB]))))
    assert err < 1e-10, err
    per_vec, per_ql = t_vec / N, t_ql / SUB
    return (f"digital_bs: {N:,} rows in {t_vec * 1e3:.0f} ms ({per_vec * 1e9:.0f} ns each); QuantLib per-option "
            f"loop {per_ql * 1e6:.1f} us each (max |diff| {err:.1e}); ratio {per_ql / per_vec:,.0f}x per evaluation")


def bench_digital_merton() -> str:
    x = _inputs(1)
    args = (x["s"], x["k"], x["tau"], x["sig"], x["lam"], x["mj"], x["sj"], x["r"])
    digital_merton(*(a[:10] for a in args))  # compile/load the kernel outside the timing
    t_vec = best_time(lambda: digital_merton(*args))
    rows = list(zip(*(x[c][:SUB].tolist() for c in ("s", "k", "tau", "sig", "r", "lam", "mj", "sj")), strict=True))
    t0 = time.perf_counter()
    ref = np.array([_ql_merton(*row) for row in rows])
    t_ql = time.perf_counter() - t0
    err = float(np.max(np.abs(ref - digital_merton(*(a[:SUB] for a in args)))))
    assert err < 1e-10, err
    per_vec, per_ql = t_vec / N, t_ql / SUB
    return (f"digital_merton (4-48 jumps/day, <= 15 min): {N:,} rows in {t_vec * 1e3:.0f} ms "
            f"({per_vec * 1e9:.0f} ns each); QuantLib per-option series {per_ql * 1e6:.1f} us each "
            f"(max |diff| {err:.1e}); ratio {per_ql / per_vec:,.0f}x per evaluation")


def _bs_numpy(s: FloatArray, k: FloatArray, tau: FloatArray, sig: FloatArray, r: FloatArray) -> FloatArray:
    """The vectorized NumPy + ``scipy.special.ndtr`` Black-Scholes digital (no validation)."""
    return _up_prob(np.log(s / k) + (r - 0.5 * sig * sig) * tau, sig * sig * tau)


def _merton_numpy(s: FloatArray, k: FloatArray, tau: FloatArray, sig: FloatArray, lam: FloatArray, mj: FloatArray,
                  sj: FloatArray, r: FloatArray) -> FloatArray:
    """The Merton (1976) digital as a user would write it: ``sum_n Pois(n; lam tau) N(d2_n)`` with
    ``scipy.stats.poisson`` weights, up to the count where the neglected mass ``P(N > n)`` of the
    largest ``lam tau`` (so of every row) is below ``TOL`` (no validation; ``sigma^2 tau > 0``)."""
    lt = lam * tau
    n_max = int(stats.poisson.isf(TOL, lt.max()))
    mean = np.log(s / k) + (r - lam * np.expm1(mj + 0.5 * sj * sj) - 0.5 * sig * sig) * tau
    total = np.zeros_like(mean)
    for n in range(n_max + 1):
        total += stats.poisson.pmf(n, lt) * special.ndtr((mean + n * mj) / np.sqrt(sig * sig * tau + n * sj * sj))
    return total


def _paired_best(fn_a: Callable[[], object], fn_b: Callable[[], object], repeat: int = 7) -> tuple[float, float]:
    """Best of ``repeat`` alternate calls of ``fn_a`` and ``fn_b`` (after one warm-up call each), in
    seconds: both see the same load of a shared machine."""
    fn_a(), fn_b()
    pairs = [(best_time(fn_a, repeat=1), best_time(fn_b, repeat=1)) for _ in range(repeat)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def bench_vs_numpy() -> str:
    """The validated public calls against the unvalidated NumPy/SciPy code they replace."""
    x = _inputs(2)
    bs_args = (x["s"], x["k"], x["tau"], x["sig"], x["r"])
    got, ref = digital_bs(*bs_args), _bs_numpy(*bs_args)
    assert np.array_equal(got, ref), "digital_bs differs from NumPy + scipy ndtr"
    t_bs, t_bs_np = _paired_best(lambda: digital_bs(*bs_args), lambda: _bs_numpy(*bs_args))
    m_args = (x["s"], x["k"], x["tau"], x["sig"], x["lam"], x["mj"], x["sj"], x["r"])
    err = float(np.max(np.abs(digital_merton(*m_args) - _merton_numpy(*m_args))))
    assert err < 1e-10, err
    t_m, t_m_np = _paired_best(lambda: digital_merton(*m_args), lambda: _merton_numpy(*m_args), repeat=5)
    threads = numba.get_num_threads()
    return (f"digital_bs (validated, {threads} numba threads) {t_bs * 1e3:.1f} ms vs NumPy + scipy ndtr "
            f"{t_bs_np * 1e3:.1f} ms ({N:,} rows, equal bit for bit): ratio {t_bs_np / t_bs:.2f}x\n"
            f"digital_merton (validated) {t_m * 1e3:.1f} ms vs NumPy Poisson mixture (scipy.stats.poisson weights, "
            f"ndtr, tol {TOL:g}) {t_m_np * 1e3:.0f} ms (max |diff| {err:.1e}): ratio {t_m_np / t_m:.2f}x")


def bench_numba_kernels() -> str:
    x = _inputs(2)
    kappa = np.expm1(x["mj"] + 0.5 * x["sj"] ** 2)
    mean = np.log(x["s"] / x["k"]) + (x["r"] - x["lam"] * kappa - 0.5 * x["sig"] ** 2) * x["tau"]
    series = (mean, x["sig"] ** 2 * x["tau"], x["lam"] * x["tau"], x["mj"], x["sj"] ** 2)
    merton_series_kernel(*(a[:10] for a in series), TOL)
    t_kernel = best_time(lambda: merton_series_kernel(*series, TOL))
    t_np = best_time(lambda: _merton_series_np(*series, TOL))
    return (f"numba Merton series (one thread) {t_kernel * 1e3:.0f} ms vs NumPy series {t_np * 1e3:.0f} ms: ratio "
            f"{t_np / t_kernel:.1f}x")


BENCHMARKS = [bench_vs_numpy, bench_digital_bs, bench_digital_merton, bench_numba_kernels]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
