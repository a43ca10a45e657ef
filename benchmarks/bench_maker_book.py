"""Maker-book benchmark: one simulated day of event-level books (pmresearch.simulate.maker_book).

A day of BTC markets, 288 five-minute and 96 fifteen-minute windows (384 markets, two tokens each), each
fed a Black-Scholes belief path on the world's 0.25-s grid. Printed: event and snapshot rows per day,
their bytes as NumPy arrays (what the generator holds) and as ``book_events``/``books`` frames, wall
time of the numba kernel path (after a warm-up compile) and of the frame building, and the peak RSS.
The issue-13 budget (a 7-day world in < 2 min, a 30-day one in < 6 min, < 8 GB) is for the whole world:
the books must be a fraction of it, and a world is written day by day.
"""

from __future__ import annotations

import math
import resource
import sys
import time

import numpy as np
from scipy.stats import norm

from pmresearch.simulate import maker_book as mb

US = 1_000_000
DAY0 = 1_780_000_000_000_000 - 1_780_000_000_000_000 % (86_400 * US)


def belief_path(rng: np.random.Generator, start_us: int, minutes: int, step_s: float = 0.25) -> tuple[
        np.ndarray, np.ndarray]:
    n = int(minutes * 60 / step_s)
    ts = start_us + np.round(np.arange(n) * step_s * US).astype(np.int64)
    sig = 0.45 / math.sqrt(365 * 86400)
    x = np.r_[0.0, np.cumsum(sig * math.sqrt(step_s) * rng.standard_normal(n - 1))]
    tau = np.maximum(minutes * 60 - np.arange(n) * step_s, step_s)
    return ts, norm.cdf(x / (sig * np.sqrt(tau)))


def one_day(seed: int, frames: bool) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n_ev = n_sn = bytes_arrays = bytes_frames = 0
    t_gen = t_frame = 0.0
    for minutes in (5, 15):
        for w in range(86_400 // (minutes * 60)):
            start = DAY0 + w * minutes * 60 * US
            ts, p = belief_path(rng, start, minutes)
            t0 = time.perf_counter()
            ev, sn = mb.maker_book_events(ts, p, start, start + minutes * 60 * US, rng,
                                          mb.MakerBookParams.for_window(minutes))
            t_gen += time.perf_counter() - t0
            n_ev += len(ev.ts_us)
            n_sn += len(sn.ts_us)
            bytes_arrays += sum(a.nbytes for a in ev) + sum(a.nbytes for a in sn)
            if frames:
                t0 = time.perf_counter()
                ids = (f"u{minutes}-{w}", f"d{minutes}-{w}")
                e = mb.events_frame(ev, f"m{minutes}-{w}", ids)
                s = mb.snapshots_frame(sn, f"m{minutes}-{w}", ids)
                t_frame += time.perf_counter() - t0
                bytes_frames += int(e.memory_usage(deep=True).sum() + s.memory_usage(deep=True).sum())
    return {"event_rows": n_ev, "snapshot_rows": n_sn, "array_mb": bytes_arrays / 1e6,
            "frame_mb": bytes_frames / 1e6, "generate_s": t_gen, "frames_s": t_frame}


def bench_maker_book() -> str:
    """The numba kernel against its plain-Python reference (what the kernel was written from and is tested equal
    to) on the same three 5-minute windows, then the kernel on a whole day."""
    from _timing import best_time

    windows = [(DAY0 + w * 300 * US, *belief_path(np.random.default_rng(w), DAY0 + w * 300 * US, 5)) for w in range(3)]
    params = mb.MakerBookParams.for_window(5)

    def run(compiled: bool) -> int:
        rows = 0
        for start, ts, p in windows:
            ev, _ = mb.maker_book_events(ts, p, start, start + 300 * US, np.random.default_rng(7), params,
                                         compiled=compiled)
            rows += len(ev.ts_us)
        return rows

    rows = run(True)  # compiled (or loaded from the cache) before timing
    t_nb, t_py = best_time(lambda: run(True)), best_time(lambda: run(False), repeat=1)
    day = one_day(1, frames=False)
    return (f"maker book: 3 five-minute windows ({rows:,} event rows) numba {t_nb * 1e3:.0f} ms vs the plain-Python "
            f"reference {t_py * 1e3:.0f} ms: ratio {t_py / t_nb:,.0f}x; one day of 384 markets "
            f"{day['event_rows']:,.0f} events + {day['snapshot_rows']:,.0f} snapshot rows in {day['generate_s']:.2f} s")


BENCHMARKS = [bench_maker_book]


def main() -> None:
    ts, p = belief_path(np.random.default_rng(0), DAY0, 5)
    mb.maker_book_events(ts, p, DAY0, DAY0 + 300 * US, np.random.default_rng(0))  # compile / load the cache
    frames = "--no-frames" not in sys.argv
    r = one_day(1, frames)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print("one day, 384 markets (288 x 5m + 96 x 15m), both tokens:")
    for k, v in r.items():
        print(f"  {k:>14}: {v:,.2f}" if isinstance(v, float) else f"  {k:>14}: {v:,}")
    print(f"  event rows / market: {r['event_rows'] / 384:,.0f}; "
          f"snapshot rows / market: {r['snapshot_rows'] / 384:,.0f}")
    print(f"  peak RSS (whole process): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
