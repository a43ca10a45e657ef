"""Family ``vol``: realized, Parkinson and Garman-Klass volatility, EWMA vol and a vol-regime label.

All annualized on the 24/7 year (``SECONDS_PER_YEAR``): a per-bar variance of a ``b``-second bar
is multiplied by ``SECONDS_PER_YEAR / b``.

* realized: ``sqrt(mean r^2)`` of close-to-close log returns, zero mean (Andersen, Bollerslev,
  Diebold & Labys 2003); :mod:`pmresearch.features.vol_sources` applies it to other spot sources.
* Parkinson (1980): ``sigma^2 = mean(ln(H/L)^2) / (4 ln 2)``.
* Garman & Klass (1980), their estimator (5) as usually written:
  ``sigma^2 = mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)``. Both per-bar terms are those of
  :func:`pmresearch.pricing.vol.range_bar_variance` (continuous-path form, no discrete-sampling factor).
* EWMA: RiskMetrics (1996) ``s_t = lambda s_{t-1} + (1 - lambda) r_t^2`` with lambda = 0.94,
  :func:`pmresearch.pricing.vol.ewma_variance` started at the first squared return.
* regime: the percentile of the 60-minute realized vol within its own trailing day (1,440 values,
  at least 720), and a label -1 / 0 / 1 for the low / middle / high third.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.features.context import bar_block
from pmresearch.features.price import safe_log
from pmresearch.features.registry import Block
from pmresearch.pricing.vol import RangeMethod, ewma_variance, range_bar_variance

__all__ = [
    "BLOCKS",
    "garman_klass_var",
    "parkinson_var",
    "realized_var",
    "rolling_annualized_vol",
    "vol_features_1m",
    "vol_features_1s",
]

RV_MINUTES = (5, 15, 30, 60, 240)
RANGE_MINUTES = (5, 15, 60, 240)
RV_1S_MINUTES = (1, 5, 15)
REGIME_WINDOW = 1440


def realized_var(bars: pd.DataFrame) -> pd.Series:
    """Per-bar squared close-to-close log return."""
    lc = safe_log(bars["close"])
    r = lc - lc.shift(1)
    return r * r


def _range_var(bars: pd.DataFrame, method: RangeMethod) -> pd.Series:
    """Per-bar range variance of price bars: :func:`pmresearch.pricing.vol.range_bar_variance` of the
    log prices, continuous-path form (NaN where a price is missing or not positive)."""
    columns = ("high", "low") if method == "parkinson" else ("open", "high", "low", "close")
    logs = {c: safe_log(bars[c]).to_numpy() for c in columns}
    high, low = logs["high"], logs["low"]
    # Parkinson reads only the high and the low: open and close are placeholders there
    return pd.Series(range_bar_variance(logs.get("open", high), high, low, logs.get("close", low), method))


def parkinson_var(bars: pd.DataFrame) -> pd.Series:
    """Per-bar Parkinson variance ``ln(H/L)^2 / (4 ln 2)``."""
    return _range_var(bars, "parkinson")


def garman_klass_var(bars: pd.DataFrame) -> pd.Series:
    """Per-bar Garman-Klass variance ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2``."""
    return _range_var(bars, "garman_klass")


def rolling_annualized_vol(per_bar_var: pd.Series, window: int, bar_seconds: float) -> pd.Series:
    """``sqrt(mean of the last window per-bar variances x SECONDS_PER_YEAR / bar_seconds)``; NaN
    unless all ``window`` bars exist (negative means, possible for Garman-Klass, give NaN)."""
    mean = per_bar_var.rolling(window, min_periods=window).mean()
    ann = mean * (SECONDS_PER_YEAR / bar_seconds)
    out: pd.Series = np.sqrt(ann.where(ann >= 0))
    return out


def vol_features_1m(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """All ``vol__`` features of 1-minute bars, per bar."""
    rv, pk, gk = realized_var(bars), parkinson_var(bars), garman_klass_var(bars)
    out: dict[str, pd.Series] = {}
    for w in RV_MINUTES:
        out[f"vol__rv_1m_{w}m"] = rolling_annualized_vol(rv, w, 60.0)
    for w in RANGE_MINUTES:
        out[f"vol__parkinson_{w}m"] = rolling_annualized_vol(pk, w, 60.0)
        out[f"vol__garman_klass_{w}m"] = rolling_annualized_vol(gk, w, 60.0)
    # the package's one EWMA, started at the first squared return (pandas' adjust=False convention)
    ewma = ewma_variance(rv.to_numpy(dtype=np.float64), 0.94, min_periods=30, init="first")
    out["vol__ewma_094"] = pd.Series(np.sqrt(ewma * (SECONDS_PER_YEAR / 60.0)), index=rv.index)
    long = out["vol__rv_1m_240m"]
    out["vol__ratio_15m_240m"] = out["vol__rv_1m_15m"] / long.where(long > 0)
    pct = out["vol__rv_1m_60m"].rolling(REGIME_WINDOW, min_periods=REGIME_WINDOW // 2).rank(pct=True)
    out["vol__pctile_60m"] = pct
    out["vol__regime_60m"] = pd.Series(np.where(pct.isna(), np.nan, np.where(pct > 2 / 3, 1.0,
                                                                               np.where(pct < 1 / 3, -1.0, 0.0))))
    return out


def vol_features_1s(bars: pd.DataFrame) -> dict[str, pd.Series]:
    """Realized vol of 1-second returns over 1, 5 and 15 minutes."""
    rv = realized_var(bars)
    return {f"vol__rv_1s_{w}m": rolling_annualized_vol(rv, 60 * w, 1.0) for w in RV_1S_MINUTES}


_ANN = "annualized vol (24/7 year)"
_F = (
    [(f"rv_1m_{w}m", f"{w + 1}min", _ANN, f"realized vol of the last {w} 1m log returns (zero mean)")
     for w in RV_MINUTES]
    + [f for w in RANGE_MINUTES for f in (
        (f"parkinson_{w}m", f"{w}min", _ANN, f"Parkinson (1980) range vol over {w} 1m bars"),
        (f"garman_klass_{w}m", f"{w}min", _ANN, f"Garman-Klass (1980) vol over {w} 1m bars"))]
    + [("ewma_094", "50min", _ANN, "RiskMetrics EWMA vol of 1m returns, lambda 0.94"),
       ("ratio_15m_240m", "241min", "ratio", "rv_1m_15m / rv_1m_240m (vol term structure)"),
       ("pctile_60m", "1501min", "fraction", "percentile of rv_1m_60m within its trailing 1,440 values"),
       ("regime_60m", "1501min", "label -1/0/1", "vol regime: low / normal / high third of the trailing day")]
)
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    bar_block("vol_1m", "vol", "spot_1m", vol_features_1m, _F),
    bar_block(
        "vol_1s", "vol", "spot_1s", vol_features_1s,
        [(f"rv_1s_{w}m", f"{w}min", _ANN, f"realized vol of 1s log returns over {w} min") for w in RV_1S_MINUTES]),
)
