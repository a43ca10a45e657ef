"""Model benchmarks and studies, each printed with its baseline from the same run.

* GARCH filter: the ``scipy.signal.lfilter`` recursion vs a plain Python loop (same numbers), on a
  30-day 1-minute series.
* Walk-forward forecasting: states forecast per second for the default forecaster set.
* GARCH(1,1) parameter recovery: 95% interval coverage and the largest |error| in standard errors
  over 100 simulated paths of 3,000 and 10,000 returns (the issue's acceptance study; the tests
  run 8 seeds of 3,000).
* Forecast comparison: QLIKE per forecaster relative to the trailing-HV benchmark and DM p-values,
  on three 16-day simulated worlds.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _timing import best_time

from pmresearch.models.vol_forecast import (
    GarchForecaster,
    HARForecaster,
    HVForecaster,
    MLForecaster,
    garch_filter,
    garch_recovery,
    simulate_garch,
    walk_forward_vol,
)
from pmresearch.simulate import make_config
from pmresearch.simulate.light import simulate_path


def _bars(days: float, seed: int) -> pd.DataFrame:
    cfg = make_config("no-edge", seed=seed)
    path = simulate_path(cfg, round(days * 1440), step_s=60.0)
    return pd.DataFrame({"ts": path["ts"] - pd.Timedelta(minutes=1),
                         "close": cfg.s0 * np.exp(path["log_price"].to_numpy())})


def bench_garch_filter() -> str:
    n = 30 * 1440
    r = simulate_garch(n, 7.2e-9, 0.06, 0.9, 0.06, seed=0)
    om, al, be, ga, bc = 7.2e-9, 0.06, 0.9, 0.06, float(np.mean(r[:75] ** 2))

    def loop() -> list[float]:
        s2 = om + (al + 0.5 * ga + be) * bc
        out = [s2]
        for x in r:
            s2 = om + (al + ga * (x < 0)) * x * x + be * s2
            out.append(s2)
        return out

    t_vec = best_time(lambda: garch_filter(r, om, al, be, ga, backcast=bc))
    t_loop = best_time(loop)
    assert np.allclose(garch_filter(r, om, al, be, ga, backcast=bc), loop(), rtol=1e-10)
    return (f"GARCH filter ({n:,} 1-minute returns): lfilter {t_vec * 1e3:.2f} ms, Python loop "
            f"{t_loop * 1e3:.0f} ms; ratio {t_loop / t_vec:,.0f}x")


def bench_walk_forward() -> str:
    bars = _bars(10.0, 1)
    fcs = {"hv_1h": HVForecaster("1h"), "garch": GarchForecaster(), "har": HARForecaster(),
           "xgboost": MLForecaster("xgboost")}
    t = time.perf_counter()
    res = walk_forward_vol(bars, fcs, min_train="3D", refit_every="1D")
    wall = time.perf_counter() - t
    n = int(res.variance.notna().all(axis=1).sum())
    return (f"walk-forward ({len(fcs)} forecasters, {len(res.fit_times)} refits): {n:,} states in {wall:.1f} s; "
            f"{n / wall:,.0f} states per second")


def bench_garch_coverage(seeds: int = 100, sizes: tuple[int, ...] = (3000, 10_000)) -> str:
    lines = []
    for n in sizes:
        t = time.perf_counter()
        table = garch_recovery(range(seeds), n=n)
        wall = time.perf_counter() - t
        cov = table.groupby("param")["covered"].mean()
        within3 = float((table["z"].abs() < 3).mean())
        lines.append(f"  n={n:,} ({wall:.0f} s): 95% coverage " + ", ".join(f"{k} {v:.2f}" for k, v in cov.items())
                     + f"; share within 3 SE {within3:.3f}; max |z| {table['z'].abs().max():.2f}")
    return f"GARCH(1,1) recovery over {seeds} simulated paths per size (arch robust SEs):\n" + "\n".join(lines)


def bench_forecast_comparison(seeds: tuple[int, ...] = (5, 6, 7)) -> str:
    lines = []
    for seed in seeds:
        fcs = {"hv_1h": HVForecaster("1h"), "garch": GarchForecaster(), "garch_t": GarchForecaster(dist="t"),
               "gjr": GarchForecaster(gjr=True), "garch_seasonal": GarchForecaster(seasonal=True),
               "har": HARForecaster(), "xgboost": MLForecaster("xgboost"),
               "lightgbm": MLForecaster("lightgbm")}
        res = walk_forward_vol(_bars(16.0, seed), fcs, min_train="4D", refit_every="2D")
        tab = res.compare("hv_1h").table
        rel = tab["qlike"] / tab.loc["hv_1h", "qlike"]
        lines.append(f"  seed {seed} (n={int(tab['n'].iloc[0])}): " + ", ".join(
            f"{m} {rel[m]:.3f}" + ("" if m == "hv_1h" else f" (p={tab.loc[m, 'p_qlike']:.3f})") for m in tab.index))
    return "QLIKE relative to hv_1h (DM p-value, HLN, non-overlapping 15-min targets):\n" + "\n".join(lines)


BENCHMARKS = [bench_garch_filter, bench_walk_forward, bench_garch_coverage, bench_forecast_comparison]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
