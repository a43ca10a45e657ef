"""Family ``ta``: RSI (1, 5, 15-minute bars), MACD and signal, stochastic oscillator, Bollinger, ATR.

The indicator functions follow the definitions of the ``ta`` package (Padial, bukosabino/ta), which
the tests use as the reference: Wilder's RSI and ATR (Wilder 1978, *New Concepts in Technical
Trading Systems*) with smoothing ``alpha = 1/n``; MACD (Appel) with EMAs of span 12/26/9; the
stochastic %K/%D (Lane); Bollinger bands with the population standard deviation.

RSI on k-minute bars is computed *rolling*: at every 1-minute close it is Wilder's RSI of the
k-minute bars ending at that close (the 1-minute grid split into its k phases), so it updates every
minute instead of only at clock-aligned k-minute closes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch.features.context import bar_block
from pmresearch.features.registry import Block, feature_table

__all__ = ["BLOCKS", "atr", "bollinger", "macd", "phase_rsi", "rsi", "stochastic", "technical_features"]


def _wilder_rsi_frame(close: pd.DataFrame, n: int) -> pd.DataFrame:
    """Wilder's RSI down each column of a frame (one pandas call for all columns)."""
    diff = close.diff()
    first = close.iloc[:1]
    diff.iloc[:1] = first.where(first.isna(), 0.0)  # the first bar counts as no change (as ``ta`` does)
    up = diff.clip(lower=0.0)
    down = (-diff).clip(lower=0.0)
    ema_up = up.ewm(alpha=1.0 / n, min_periods=n, adjust=False).mean()
    ema_down = down.ewm(alpha=1.0 / n, min_periods=n, adjust=False).mean()
    rs = ema_up / ema_down.where(ema_down > 0)
    out = 100.0 - 100.0 / (1.0 + rs)
    return out.where(~((ema_down == 0) & ema_up.notna()), 100.0)


def rsi(close: pd.Series, n: int = 14) -> pd.Series:
    """Wilder's RSI (0-100): ``100 - 100 / (1 + avg gain / avg loss)``, smoothing ``alpha = 1/n``.

    100 where there were gains but no losses; NaN for the first ``n - 1`` values (the first bar
    counts as a zero change).
    """
    out = _wilder_rsi_frame(pd.DataFrame({"c": close.to_numpy(dtype=np.float64)}), n)["c"]
    return pd.Series(out.to_numpy(), index=close.index)


def phase_rsi(close: pd.Series, k: int, n: int = 14) -> pd.Series:
    """RSI of k-bar bars ending at every bar: Wilder's RSI on each phase ``close[j::k]``.

    The phases are the columns of a ``(ceil(len / k), k)`` matrix, so all of them take one call.
    """
    values = close.to_numpy(dtype=np.float64)
    m = -(-len(values) // k)
    padded = np.full(m * k, np.nan)
    padded[: len(values)] = values
    out = _wilder_rsi_frame(pd.DataFrame(padded.reshape(m, k)), n).to_numpy().reshape(-1)[: len(values)]
    return pd.Series(out, index=close.index)


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[pd.Series, pd.Series]:
    """MACD line (EMA_fast - EMA_slow of the close) and its signal line (EMA_signal of the line)."""
    ema_f = close.ewm(span=fast, min_periods=fast, adjust=False).mean()
    ema_s = close.ewm(span=slow, min_periods=slow, adjust=False).mean()
    line = ema_f - ema_s
    return line, line.ewm(span=signal, min_periods=signal, adjust=False).mean()


def stochastic(high: pd.Series, low: pd.Series, close: pd.Series, n: int = 14,
               smooth: int = 3) -> tuple[pd.Series, pd.Series]:
    """Stochastic %K = 100 (C - min L_n) / (max H_n - min L_n) and %D = SMA_smooth(%K)."""
    lo = low.rolling(n, min_periods=n).min()
    hi = high.rolling(n, min_periods=n).max()
    width = hi - lo
    k = 100.0 * (close - lo) / width.where(width > 0)
    return k, k.rolling(smooth, min_periods=smooth).mean()


def bollinger(close: pd.Series, n: int = 20, k: float = 2.0) -> tuple[pd.Series, pd.Series]:
    """Bollinger %B = (C - lower) / (upper - lower) and width (upper - lower) / SMA (a fraction),
    bands SMA_n +- k x population std."""
    mid = close.rolling(n, min_periods=n).mean()
    sd = close.rolling(n, min_periods=n).std(ddof=0)
    upper, lower = mid + k * sd, mid - k * sd
    band = upper - lower
    return (close - lower) / band.where(band > 0), band / mid


def atr(high: pd.Series, low: pd.Series, close: pd.Series, n: int = 14) -> pd.Series:
    """Wilder's average true range: seeded with the mean of the first ``n`` true ranges, then
    ``ATR_t = (ATR_{t-1} (n - 1) + TR_t) / n``. The first bar's true range is its high - low."""
    prev = close.shift(1)
    tr = pd.concat([high - low, (high - prev).abs(), (low - prev).abs()], axis=1).max(axis=1, skipna=True)
    tr = tr.where(high.notna() & low.notna())
    seeded = tr.copy()
    seeded.iloc[: n - 1] = np.nan
    if len(tr) >= n:
        seeded.iloc[n - 1] = tr.iloc[:n].mean(skipna=False)
    return seeded.ewm(alpha=1.0 / n, adjust=False, min_periods=1).mean().where(seeded.notna() | tr.notna())


def technical_features(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """All ``ta__`` features per 1-minute bar; MACD and ATR are divided by the close (scale-free)."""
    close, high, low = bars["close"], bars["high"], bars["low"]
    out: dict[str, pd.Series] = {}
    for k in (1, 5, 15):
        out[f"ta__rsi_{k}m"] = phase_rsi(close, k, 14)
    line, sig = macd(close)
    out["ta__macd"] = line / close
    out["ta__macd_signal"] = sig / close
    out["ta__macd_hist"] = (line - sig) / close
    k_line, d_line = stochastic(high, low, close, 14, 3)
    out["ta__stoch_k"] = k_line
    out["ta__stoch_d"] = d_line
    for n in (20, 60):
        pos, width = bollinger(close, n, 2.0)
        out[f"ta__bb_pos_{n}m"] = pos
        out[f"ta__bb_width_{n}m"] = width
    for n in (14, 60):
        out[f"ta__atr_{n}m"] = atr(high, low, close, n) / close
    return out




_F = feature_table("""
    rsi_1m       | 42min  | 0-100             | Wilder RSI(14) of 1-minute bars
    rsi_5m       | 210min | 0-100             | Wilder RSI(14) of rolling 5-minute bars ending at the last 1m close
    rsi_15m      | 630min | 0-100             | Wilder RSI(14) of rolling 15-minute bars ending at the last 1m close
    macd         | 78min  | fraction of price | MACD line EMA12 - EMA26 of 1m closes, / close
    macd_signal  | 105min | fraction of price | MACD signal line (EMA9 of MACD), / close
    macd_hist    | 105min | fraction of price | MACD - signal, / close
    stoch_k      | 14min  | 0-100             | stochastic %K(14) on 1m bars
    stoch_d      | 16min  | 0-100             | stochastic %D: 3-bar SMA of %K
    bb_pos_20m   | 20min  | fraction          | Bollinger %B (20 bars, 2 sd)
    bb_width_20m | 20min  | fraction of price | Bollinger width (upper - lower) / SMA (20 bars, 2 sd)
    bb_pos_60m   | 60min  | fraction          | Bollinger %B (60 bars, 2 sd)
    bb_width_60m | 60min  | fraction of price | Bollinger width (60 bars, 2 sd)
    atr_14m      | 42min  | fraction of price | Wilder ATR(14) of 1m bars / close
    atr_60m      | 180min | fraction of price | Wilder ATR(60) of 1m bars / close
""")
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    bar_block("ta_1m", "ta", "spot_1m", technical_features, _F),
)
