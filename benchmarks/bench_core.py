"""Foundation benchmarks, each printed as a ratio against a baseline timed in the same run.

* ``digital_bs``: the vectorized kernel on 1,000,000 rows vs a per-row ``math.erf`` loop timed on a
  20,000-row subset, compared per evaluation.
* push feed: the numba kernel vs the plain Python loop on the same 1 Hz week.
* simulator: a 7-day world, as simulated seconds per wall-clock second.
"""

from __future__ import annotations

import math
import time

import numpy as np
from _timing import best_time

from pmresearch.pricing import digital_bs
from pmresearch.simulate import simulate
from pmresearch.simulate.oracle import push_update_indices, push_update_indices_py


def bench_digital_bs() -> str:
    rng = np.random.default_rng(0)
    n, sub = 1_000_000, 20_000
    s, k = rng.uniform(60_000, 70_000, n), rng.uniform(60_000, 70_000, n)
    tau, sig = rng.uniform(1, 900, n) / (365 * 86400), rng.uniform(0.2, 1.0, n)
    t_vec = best_time(lambda: digital_bs(s, k, tau, sig))

    def loop() -> list[float]:
        out = []
        for i in range(sub):
            v = sig[i] * math.sqrt(tau[i])
            d2 = (math.log(s[i] / k[i]) - 0.5 * sig[i] ** 2 * tau[i]) / v
            out.append(0.5 * (1.0 + math.erf(d2 / math.sqrt(2.0))))
        return out

    t_loop = best_time(loop)
    ref = np.array(loop())
    assert np.allclose(ref, digital_bs(s[:sub], k[:sub], tau[:sub], sig[:sub]), atol=1e-12)
    per_vec, per_loop = t_vec / n, t_loop / sub
    return (f"digital_bs: {n:,} rows in {t_vec * 1e3:.1f} ms ({n / t_vec:,.0f}/s); per-row loop "
            f"{sub / t_loop:,.0f}/s; ratio {per_loop / per_vec:,.0f}x per evaluation")


def bench_push_feed() -> str:
    rng = np.random.default_rng(1)
    n = 7 * 86400
    t = np.arange(n, dtype=np.float64)
    p = 65_000 * np.exp(np.cumsum(rng.normal(0, 8e-5, n)))
    push_update_indices(t[:10], p[:10], 0.001, 60)  # compile outside the timing
    t_fast = best_time(lambda: push_update_indices(t, p, 0.001, 60))
    t_slow = best_time(lambda: push_update_indices_py(t, p, 0.001, 60), repeat=1)
    return (f"push feed (1 Hz week): numba {t_fast * 1e3:.1f} ms, Python {t_slow * 1e3:.0f} ms; "
            f"ratio {t_slow / t_fast:,.0f}x")


def bench_simulator() -> str:
    t = time.perf_counter()
    w = simulate("edge", days=7, seed=0)
    wall = time.perf_counter() - t
    return (f"simulator: 7 days ({len(w.quotes):,} quotes, {len(w.books):,} book rows) in {wall:.1f} s; "
            f"{7 * 86400 / wall:,.0f} simulated seconds per second")


BENCHMARKS = [bench_digital_bs, bench_push_feed, bench_simulator]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
