"""Fixtures for the model tests: 1-minute klines of the simulator's spot law, fast."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from pmresearch.simulate import make_config
from pmresearch.simulate.light import simulate_path


def minute_bars(days: float, seed: int, *, volume: bool = True) -> pd.DataFrame:
    """1-minute klines (``ts`` = bar open, ``close``, ``volume``) of the simulator's spot law.

    The path is :func:`pmresearch.simulate.light.simulate_path` (per-15-minute-window AR(1) log-vol,
    regimes, intraday cycle, Merton jumps) sampled each minute; volume is lognormal noise rising
    with the bar's absolute return (a stand-in for the full world's volume, which needs ``simulate``).
    """
    cfg = make_config("no-edge", seed=seed)
    path = simulate_path(cfg, round(days * 1440), step_s=60.0)
    close = cfg.s0 * np.exp(path["log_price"].to_numpy())
    out = pd.DataFrame({"ts": path["ts"] - pd.Timedelta(minutes=1), "close": close})
    if volume:
        rng = np.random.default_rng(seed + 1)
        r = np.abs(np.diff(np.log(close), prepend=np.log(cfg.s0)))
        out["volume"] = 18.0 * np.exp(0.5 * rng.standard_normal(close.size)) * (1.0 + 2000.0 * r)
    return out


@pytest.fixture(scope="session")
def make_bars() -> Callable[..., pd.DataFrame]:
    """The :func:`minute_bars` factory."""
    return minute_bars
