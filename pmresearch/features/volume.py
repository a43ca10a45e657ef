"""Family ``volume``: volume trend, VWAP distance, on-balance volume flow, volume spikes, taker share.

Per 1-minute bar, joined as-of like the price features. VWAP uses the typical price
``(H + L + C) / 3`` (as the ``ta`` package does), so it works on OHLCV-only files. On-balance
volume (Granville 1963) is cumulative from wherever the data starts, so its level means nothing;
the feature is its change over a window divided by the volume traded in it (in [-1, 1]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch.features.context import bar_block
from pmresearch.features.price import safe_log
from pmresearch.features.registry import Block, feature_table

__all__ = ["BLOCKS", "obv_step", "rolling_vwap", "volume_features"]


def rolling_vwap(bars: pd.DataFrame, window: int) -> pd.Series:
    """Rolling VWAP of the typical price over ``window`` bars (NaN when no volume traded)."""
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    pv = (typical * bars["volume"]).rolling(window, min_periods=window).sum()
    v = bars["volume"].rolling(window, min_periods=window).sum()
    return pv / v.where(v > 0)


def obv_step(bars: pd.DataFrame) -> pd.Series:
    """Per-bar on-balance-volume increment: +V on an up close, -V on a down close, 0 when unchanged."""
    d = bars["close"].diff()
    return pd.Series(np.sign(d.to_numpy()) * bars["volume"].to_numpy(), index=bars.index)


def _zscore(x: pd.Series, window: int) -> pd.Series:
    m = x.rolling(window, min_periods=window).mean()
    s = x.rolling(window, min_periods=window).std(ddof=1)
    return (x - m) / s.where(s > 0)


def volume_features(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """All ``volume__`` features per 1-minute bar."""
    v = bars["volume"]
    out: dict[str, pd.Series] = {}
    for short, long in ((5, 60), (15, 240)):
        a = v.rolling(short, min_periods=short).mean()
        b = v.rolling(long, min_periods=long).mean()
        out[f"volume__trend_{short}m_{long}m"] = safe_log(a) - safe_log(b)
    out["volume__z_60m"] = _zscore(v, 60)
    v5 = v.rolling(5, min_periods=5).sum()
    out["volume__z5_240m"] = _zscore(v5, 240)
    lc = safe_log(bars["close"])
    for w in (15, 60, 240):
        out[f"volume__vwap_dist_{w}m"] = lc - safe_log(rolling_vwap(bars, w))
    step = obv_step(bars)
    for w in (15, 60):
        vs = v.rolling(w, min_periods=w).sum()
        out[f"volume__obv_flow_{w}m"] = step.rolling(w, min_periods=w).sum() / vs.where(vs > 0)
    for w in (5, 15):
        vs = v.rolling(w, min_periods=w).sum()
        buy = bars["taker_buy_volume"].rolling(w, min_periods=w).sum()
        out[f"volume__taker_buy_share_{w}m"] = buy / vs.where(vs > 0)
    out["volume__trades_z_60m"] = _zscore(bars["trades"], 60)
    return out




_F = feature_table("""
    trend_5m_60m        | 60min  | log ratio | ln(mean 1m volume over 5 min / over 60 min)
    trend_15m_240m      | 240min | log ratio | ln(mean 1m volume over 15 min / over 240 min)
    z_60m               | 60min  | z-score   | volume spike: (last 1m volume - 60-bar mean) / 60-bar sd
    z5_240m             | 244min | z-score   | 5-min volume vs its trailing 240 values
    vwap_dist_15m       | 15min  | log ratio | ln(close / 15-min VWAP of the typical price)
    vwap_dist_60m       | 60min  | log ratio | ln(close / 60-min VWAP)
    vwap_dist_240m      | 240min | log ratio | ln(close / 240-min VWAP)
    obv_flow_15m        | 16min  | fraction  | OBV change over 15 min / volume over 15 min
    obv_flow_60m        | 61min  | fraction  | OBV change over 60 min / volume over 60 min
    taker_buy_share_5m  | 5min   | fraction  | taker-buy volume / volume, 5 min (Binance klines only)
    taker_buy_share_15m | 15min  | fraction  | taker-buy volume / volume, 15 min
    trades_z_60m        | 60min  | z-score   | trade-count spike: (last 1m count - 60-bar mean) / sd
""")
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    bar_block("volume_1m", "volume", "spot_1m", volume_features, _F),
)
