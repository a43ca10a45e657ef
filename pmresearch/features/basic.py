"""The first feature families: realized volatility from 1-minute klines and contract features.

Every feature uses data up to its decision time ``t``: a 1-minute bar enters once it has closed
(``ts + 1 min <= t``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray
from pmresearch.data.store import DuckDBStore
from pmresearch.features.contract import contract_features
from pmresearch.features.volatility import realized_var, rolling_annualized_vol

__all__ = ["add_contract_features", "add_realized_vol", "realized_vol_1m"]


def realized_vol_1m(closes: pd.Series, window: int) -> pd.Series:
    """Annualized realized volatility of the last ``window`` 1-minute log returns (zero-mean RV).

    ``sqrt(sum r^2 / n x SECONDS_PER_YEAR / 60)`` over close-to-close returns, with ``n = window``
    (NaN until ``window`` returns exist) (Andersen, Bollerslev, Diebold & Labys 2003). The same
    computation as the ``vol__rv_1m_<w>m`` features (:func:`pmresearch.features.volatility.realized_var`
    and :func:`~pmresearch.features.volatility.rolling_annualized_vol`); a non-positive close gives NaN.
    """
    per_bar = realized_var(pd.DataFrame({"close": closes.to_numpy(dtype=np.float64)}))
    out = rolling_annualized_vol(per_bar, window, 60.0)
    return pd.Series(out.to_numpy(dtype=np.float64), index=closes.index)


def add_realized_vol(
    store: DuckDBStore, rows: pd.DataFrame, *, window_minutes: int = 60, symbol: str = "BTCUSDT"
) -> pd.DataFrame:
    """Add ``vol__rv_1m_<window>m``: realized vol of the ``window_minutes`` bars closed by ``t``.

    Bars are consecutive in time; a gap in the klines makes the window span more wall-clock time
    than its name says (issue-level cleaning flags gaps).
    """
    kl = store.query(
        "SELECT ts, close FROM spot_prices WHERE symbol = ? AND interval = '1m' ORDER BY ts", [symbol]
    )
    name = f"vol__rv_1m_{window_minutes}m"
    out = rows.copy()
    if kl.empty:
        out[name] = np.nan
        return out
    vol = pd.DataFrame({
        "known_at": (kl["ts"] + pd.Timedelta(minutes=1)).astype("datetime64[us, UTC]"),
        name: realized_vol_1m(kl["close"], window_minutes).to_numpy(),
    })
    order = out["t"].argsort(kind="stable")
    merged = pd.merge_asof(
        out.iloc[order][["t"]].reset_index(), vol, left_on="t", right_on="known_at", direction="backward",
    ).set_index("index")
    out[name] = merged[name].reindex(out.index)
    return out


def add_contract_features(rows: pd.DataFrame, vol_column: str) -> pd.DataFrame:
    """Add ``contract__log_moneyness`` (ln S/K), ``contract__tau_years`` and ``contract__z``
    (``ln(S/K) / (sigma sqrt(tau))``, the standardized distance to the strike), with sigma from
    ``vol_column``: the ``contract`` family's definitions (:func:`pmresearch.features.contract.contract_features`;
    NaN where an input is missing or out of range)."""
    out = rows.copy()

    def col(name: str) -> FloatArray:
        return np.asarray(out[name].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)

    features = contract_features(col("spot"), col("strike"), col("tau_s"), {"": col(vol_column)})
    for name in ("contract__log_moneyness", "contract__tau_years", "contract__z"):
        out[name] = features[name]
    return out
