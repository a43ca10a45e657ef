"""Feature-matrix benchmark: 30 simulated days, decision rows every 30 s, every registered feature.

The world is ``simulate("edge", days=30, seed=0)`` (the full simulator, not the light mode;
``PMRESEARCH_BENCH_FEATURE_DAYS`` overrides the day count). Decision rows: every market window
(5- and 15-minute), every 30 s from its start to 30 s before its end, with slug, strike, spot (last
closed 1m close) and tau_s. The timed pass is one :func:`compute_features` call over all rows and
all features, printed as rows/s.

Baseline, timed in the same run: a naive per-row computation of a subset of features (5-minute
return, 15-minute MA distance, 60-minute hourly-range, 60-minute realized vol, 15-minute Parkinson
vol, Up spread of the row's market), where each row slices the data known at its ``t`` and computes
from scratch, on a random sample of rows. It is checked to agree with the vectorized values, and
the ratio is per row for the same subset.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.features import REGISTRY, FeatureInputs, compute_features
from pmresearch.labels import decision_times
from pmresearch.simulate import World, simulate

SUBSET = ["price__ret_5m", "price__ma_dist_15m", "price__hl_range_60m", "vol__rv_1m_60m", "vol__parkinson_15m",
          "micro__spread_up"]


def decision_rows(world: World, every_s: float = 30.0) -> pd.DataFrame:
    """Rows every ``every_s`` seconds inside each market window (:func:`pmresearch.labels.decision_times`,
    from the window start to ``every_s`` before its end), with strike, tau_s and the last closed 1m close."""
    rows = decision_times(world.markets, every_s, 0.0, every_s)
    rows["strike"] = rows["slug"].map(world.markets.set_index("slug")["strike"]).astype("float64")
    rows["tau_s"] = (rows["window_end"] - rows["t"]).dt.total_seconds()
    closes = pd.Series(world.klines["close"].to_numpy(), index=world.klines["ts"] + pd.Timedelta(minutes=1))
    idx = np.searchsorted(closes.index.to_numpy(), rows["t"].to_numpy(), side="right") - 1
    rows["spot"] = np.where(idx >= 0, closes.to_numpy()[np.maximum(idx, 0)], np.nan)
    return rows.drop(columns=["window_start", "window_end"])


def naive_row(t: pd.Timestamp, slug: str, kl: pd.DataFrame, quotes: pd.DataFrame) -> list[float]:
    """The SUBSET features of one row, from the data known at ``t`` only, with plain Python."""
    known = kl[kl["ts"] + pd.Timedelta(minutes=1) <= t]
    c, h, lo = (known[k].to_numpy() for k in ("close", "high", "low"))
    ret5 = math.log(c[-1] / c[-6])
    ma15 = math.log(c[-1] / (sum(c[-15:]) / 15))
    hl60 = math.log(max(h[-60:]) / min(lo[-60:]))
    r = [math.log(c[i] / c[i - 1]) for i in range(len(c) - 60, len(c))]
    rv60 = math.sqrt(sum(x * x for x in r) / 60 * SECONDS_PER_YEAR / 60)
    pk = math.sqrt(sum(math.log(h[i] / lo[i]) ** 2 for i in range(len(c) - 15, len(c)))
                   / (4 * math.log(2) * 15) * SECONDS_PER_YEAR / 60)
    q = quotes[(quotes["slug"] == slug) & (quotes["ts"] <= t)]
    spread = (float(q["best_ask_up"].iloc[-1] - q["best_bid_up"].iloc[-1])
              if len(q) and (t - q["ts"].iloc[-1]).total_seconds() < 60 else float("nan"))
    return [ret5, ma15, hl60, rv60, pk, spread]


def bench_features() -> str:
    days = float(os.environ.get("PMRESEARCH_BENCH_FEATURE_DAYS", "30"))
    clock = time.perf_counter()
    world = simulate("edge", days=days, seed=0)
    sim_s = time.perf_counter() - clock
    inputs = FeatureInputs.from_world(world)
    rows = decision_rows(world)
    rows = rows[rows["t"] >= rows["t"].min() + pd.Timedelta(hours=5)].reset_index(drop=True)  # warm look-backs
    compute_features(rows.iloc[:50], inputs)  # numba compilation of the pricing kernels outside the timing
    clock = time.perf_counter()
    matrix = compute_features(rows, inputs)
    full_s = time.perf_counter() - clock
    clock = time.perf_counter()
    sub_vec = compute_features(rows, inputs, SUBSET)
    sub_s = time.perf_counter() - clock
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(len(rows), size=min(200, len(rows)), replace=False))
    clock = time.perf_counter()
    naive = np.array([naive_row(rows.at[i, "t"], rows.at[i, "slug"], world.klines, world.quotes) for i in sample])
    naive_s = time.perf_counter() - clock
    ref = sub_vec.iloc[sample].to_numpy()
    assert np.allclose(naive, ref, rtol=1e-9, atol=1e-12, equal_nan=True), "naive and vectorized features differ"
    n, n_feat = len(rows), matrix.shape[1]
    assert n_feat >= 80 and n_feat == len(REGISTRY)
    filled = int(matrix.notna().any().sum())
    per_vec, per_naive = sub_s / n, naive_s / len(sample)
    return (f"features: {days:g} simulated days (simulated in {sim_s:.0f} s), {n:,} decision rows every 30 s x "
            f"{n_feat} features ({filled} non-empty) in {full_s:.1f} s = {n / full_s:,.0f} rows/s "
            f"({n * n_feat / full_s:,.0f} values/s); subset of {len(SUBSET)}: vectorized {n / sub_s:,.0f} rows/s, "
            f"naive per-row {len(sample) / naive_s:,.0f} rows/s; ratio {per_naive / per_vec:,.0f}x per row "
            f"(all {n_feat} features vectorized vs {len(SUBSET)} naive: {per_naive / (full_s / n):,.0f}x)")


BENCHMARKS = [bench_features]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
