"""Foundation benchmarks, each printed as a ratio against a baseline timed in the same run.

* push feed: the numba kernel vs the plain Python loop on the same 1 Hz week.
* simulator: a 7-day world, as simulated seconds per wall-clock second.

``digital_bs`` is benchmarked in ``bench_pricing.py`` (against a per-option QuantLib loop).
"""

from __future__ import annotations

import time

import numpy as np
from _timing import best_time

from pmresearch.simulate import simulate
from pmresearch.simulate.oracle import push_update_indices, push_update_indices_py


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


BENCHMARKS = [bench_push_feed, bench_simulator]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
