"""Family ``price``: returns, distance from moving averages, high/low ranges, acceleration.

Computed once on the BTCUSDT 1-minute bar grid (and the 1-second grid for sub-minute returns) and
joined as-of: at ``t`` the latest bar counted is the last one closed by ``t`` (``ts + bar <= t``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray
from pmresearch.features.context import FeatureContext, bar_block, to_ns
from pmresearch.features.inputs import knowledge_time
from pmresearch.features.registry import Block, feature_table, make_block
from pmresearch.labels.outcomes import SETTLEMENT_SOURCE

__all__ = ["BLOCKS", "ORACLE_SOURCE", "RETURN_MINUTES", "price_features_1m", "price_features_1s", "safe_log",
           "settlement_oracle"]

RETURN_MINUTES = (1, 2, 5, 10, 15, 30, 60)
MA_MINUTES = (5, 15, 60)
RANGE_MINUTES = (1, 5, 15, 60)
ACCEL_MINUTES = (1, 5, 15)
SUBMINUTE_SECONDS = (10, 30)
#: The oracle stream the ``price__oracle_*`` features read (the feed that settles the markets).
ORACLE_SOURCE = SETTLEMENT_SOURCE
ORACLE_MAX_AGE_S = 10
ORACLE_RETURN_SECONDS = (60, 300)


def safe_log(x: pd.Series | FloatArray) -> pd.Series:
    """Natural log with NaN for non-positive values (no warnings)."""
    s = pd.Series(np.asarray(x, dtype=np.float64))
    return pd.Series(np.log(s.where(s > 0)), dtype=np.float64)


def price_features_1m(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """Price features per 1-minute bar (value at the bar's close), from ``open/high/low/close``.

    ``ret_<k>m`` = ln(C_t / C_{t-k}); ``ma_dist_<w>m`` = ln(C_t / SMA_w(C)); ``ema_dist_<w>m`` =
    ln(C_t / EMA_w(C)) (span ``w``, no bias correction); ``hl_range_<w>m`` = ln(max H / min L) over
    the last ``w`` bars; ``close_in_range_60m`` = (C - min L) / (max H - min L) over 60 bars;
    ``accel_<k>m`` = ret_k(t) - ret_k(t - k), the second difference of the log price.
    """
    close, high, low = bars["close"], bars["high"], bars["low"]
    lc = safe_log(close)
    out: dict[str, pd.Series] = {}
    rets = {k: lc - lc.shift(k) for k in RETURN_MINUTES}
    for k, r in rets.items():
        out[f"price__ret_{k}m"] = r
    for w in MA_MINUTES:
        out[f"price__ma_dist_{w}m"] = lc - safe_log(close.rolling(w, min_periods=w).mean())
        out[f"price__ema_dist_{w}m"] = lc - safe_log(close.ewm(span=w, adjust=False, min_periods=w).mean())
    for w in RANGE_MINUTES:
        hi = high.rolling(w, min_periods=w).max()
        lo = low.rolling(w, min_periods=w).min()
        out[f"price__hl_range_{w}m"] = safe_log(hi) - safe_log(lo)
    hi60, lo60 = high.rolling(60, min_periods=60).max(), low.rolling(60, min_periods=60).min()
    width = hi60 - lo60
    out["price__close_in_range_60m"] = (close - lo60) / width.where(width > 0)
    for k in ACCEL_MINUTES:
        r = rets[k]
        out[f"price__accel_{k}m"] = r - r.shift(k)
    return out


def price_features_1s(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """Sub-minute log returns ``ret_<k>s`` = ln(C_t / C_{t-k}) on 1-second bars."""
    lc = safe_log(bars["close"])
    return {f"price__ret_{k}s": lc - lc.shift(k) for k in SUBMINUTE_SECONDS}


def settlement_oracle(ctx: FeatureContext) -> pd.DataFrame | None:
    """The oracle rows of the settlement feed (:data:`ORACLE_SOURCE`), or None when there are none."""
    ora = ctx.inputs.oracle
    if ora is None or not len(ora):
        return None
    ds = ora.loc[(ora["source"].astype(str) == ORACLE_SOURCE).to_numpy()]
    return ds if len(ds) else None


def _block_oracle(ctx: FeatureContext) -> dict[str, FloatArray]:
    ds = settlement_oracle(ctx)
    if ds is None:
        return {}
    known = to_ns(knowledge_time("oracle", ds, what="oracle"))
    order = np.argsort(known, kind="stable")
    known = known[order]
    lp = safe_log(ds["price"].to_numpy(dtype=np.float64)[order]).to_numpy()
    tol = ORACLE_MAX_AGE_S * 1_000_000_000

    def at(shift_s: int) -> FloatArray:
        t = ctx.times() - shift_s * 1_000_000_000
        idx = np.searchsorted(known, t, side="right") - 1
        ok = (idx >= 0) & (t - known[np.maximum(idx, 0)] <= tol)
        return np.where(ok, lp[np.maximum(idx, 0)], np.nan)

    now = at(0)
    out = {f"price__oracle_ret_{k}s": now - at(k) for k in ORACLE_RETURN_SECONDS}
    grid = ctx.bars("spot_1m")
    if grid is not None:
        close = ctx.join_bars(grid, {"c": safe_log(grid.frame["close"])})["c"]
        out["price__oracle_basis"] = now - close
    return out


_F: list[tuple[str, str, str, str]] = (
    [(f"ret_{k}m", f"{k + 1}min", "log return", f"ln(close / close {k} min earlier), last closed 1m bars")
     for k in RETURN_MINUTES]
    + [f for w in MA_MINUTES for f in (
        (f"ma_dist_{w}m", f"{w}min", "log ratio", f"ln(close / {w}-min simple moving average)"),
        (f"ema_dist_{w}m", f"{3 * w}min", "log ratio", f"ln(close / {w}-min EMA), span {w} bars"))]
    + [(f"hl_range_{w}m", f"{w}min", "log ratio", f"ln(highest high / lowest low) over {w} 1m bars")
       for w in RANGE_MINUTES]
    + [("close_in_range_60m", "60min", "fraction", "(close - 60-min low) / (60-min high - 60-min low)")]
    + [(f"accel_{k}m", f"{2 * k + 1}min", "log return", f"ret_{k}m now minus ret_{k}m {k} min earlier")
       for k in ACCEL_MINUTES]
)
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    bar_block("price_1m", "price", "spot_1m", price_features_1m, _F),
    bar_block(
        "price_1s", "price", "spot_1s", price_features_1s,
        [(f"ret_{k}s", f"{k + 1}s", "log return", f"ln(close / close {k} s earlier), last closed 1s bars")
         for k in SUBMINUTE_SECONDS]),
    make_block("price_oracle", "price", _block_oracle, feature_table("""
        oracle_ret_60s  | 70s  | log return | Data Streams oracle: ln(price / price 60 s earlier), ticks <= 10 s old
        oracle_ret_300s | 310s | log return | Data Streams oracle: ln(price / price 300 s earlier)
        oracle_basis    | 70s  | log ratio  | ln(Data Streams price / last closed BTCUSDT 1m close)
    """), inputs=("oracle", "spot_1m")),
)
