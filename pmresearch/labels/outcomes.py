"""Window outcomes recomputed from the settlement oracle under the rule in force."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from pmresearch import rules
from pmresearch._time import require_utc_column

__all__ = ["SETTLEMENT_SOURCE", "outcomes_from_oracle", "settlement_values"]

#: The oracle source that settles 5- and 15-minute markets (Chainlink Data Streams).
SETTLEMENT_SOURCE = "chainlink-data-streams"


def _stream(oracle: pd.DataFrame) -> pd.Series:
    """The settlement stream as a price Series indexed by its (unique) stamp."""
    require_utc_column(oracle, "ts", what="oracle")
    if "price" not in oracle.columns:
        raise ValueError("oracle: missing column 'price'")
    frame = oracle
    if "source" in oracle.columns:
        frame = oracle[oracle["source"] == SETTLEMENT_SOURCE]
    series = pd.Series(frame["price"].to_numpy(dtype=np.float64), index=pd.DatetimeIndex(frame["ts"]))
    series = series[~series.index.duplicated(keep="first")]
    return series.sort_index()


def settlement_values(stamps: pd.DatetimeIndex, stream: pd.Series, lookback_s: int) -> np.ndarray:
    """Reference value at each stamp: the tick stamped exactly then (``lookback_s == 0``) or the mean
    of the ``lookback_s`` 1 Hz ticks stamped ``(stamp - lookback, stamp]``. NaN where any needed tick
    is missing: there is no nearest-tick fallback.
    """
    if lookback_s <= 0:
        return np.asarray(stream.reindex(stamps).to_numpy(dtype=np.float64))
    offsets = pd.to_timedelta(np.arange(lookback_s - 1, -1, -1), unit="s")
    grid = stamps.tz_convert(None).to_numpy()[:, None] - offsets.to_numpy()[None, :]
    flat = stream.reindex(pd.DatetimeIndex(grid.ravel(), tz="UTC")).to_numpy(dtype=np.float64)
    vals = flat.reshape(len(stamps), lookback_s)
    out = np.asarray(vals.mean(axis=1), dtype=np.float64)
    out[np.isnan(vals).any(axis=1)] = np.nan
    return out


def outcomes_from_oracle(
    markets: pd.DataFrame,
    oracle: pd.DataFrame,
    *,
    settlement: Literal["timeline", "instant", "twap"] = "timeline",
    twap_lookback_s: int | None = None,
) -> pd.Series:
    """Outcome of each market recomputed from the Data Streams oracle under the rule in force.

    Parameters
    ----------
    markets : DataFrame
        Canonical markets (``slug``, ``interval_minutes``, ``window_start``, ``window_end``).
    oracle : DataFrame
        Canonical oracle ticks; only rows of source ``chainlink-data-streams`` settle.
    settlement : {"timeline", "instant", "twap"}
        ``"timeline"`` (default) applies the rule in force at each window; the others force one
        (for worlds simulated with a forced mode).
    twap_lookback_s : int, optional
        TWAP lookback (default: the timeline's for the interval).

    Returns
    -------
    Series
        Int8 indexed by slug: 1 Up (``end >= start``: ties resolve Up), 0 Down, NA where a needed
        tick is missing (instantaneous rule: the ticks stamped exactly at the window start and end;
        TWAP rule: every 1 Hz tick of both averaging lookbacks). The rule is looked up in
        :mod:`pmresearch.rules` at each market's ``window_start``; hourly markets (settled on the
        exchange candle) are NA here.
    """
    for col in ("slug", "interval_minutes"):
        if col not in markets.columns:
            raise ValueError(f"markets: missing column {col!r}")
    require_utc_column(markets, "window_start", what="markets")
    require_utc_column(markets, "window_end", what="markets")
    stream = _stream(oracle)
    out = pd.Series(pd.NA, index=pd.Index(markets["slug"].astype("str"), name="slug"), dtype="Int8")
    if markets.empty:
        return out
    starts = pd.DatetimeIndex(markets["window_start"])
    ends = pd.DatetimeIndex(markets["window_end"])
    intervals = markets["interval_minutes"].to_numpy()
    rule_keys = []
    for ws, iv in zip(starts, intervals, strict=True):
        if int(iv) == 60:
            rule_keys.append(-1)
            continue
        if settlement == "timeline":
            rule = rules.settlement_rule_at(ws, int(iv), twap_lookback_s)
            rule_keys.append(rule.twap_lookback_s if rule.mode == "twap" else 0)
        elif settlement == "twap":
            rule_keys.append(twap_lookback_s or rules.DEFAULT_TWAP_LOOKBACK_S[int(iv)])
        else:
            rule_keys.append(0)
    keys = np.asarray(rule_keys)
    values = np.full(len(markets), pd.NA, dtype=object)
    tie_rule = rules.SettlementRule(SETTLEMENT_SOURCE, "instant")
    for lookback in np.unique(keys[keys >= 0]):
        sel = keys == lookback
        start_v = settlement_values(starts[sel], stream, int(lookback))
        end_v = settlement_values(ends[sel], stream, int(lookback))
        ok = ~(np.isnan(start_v) | np.isnan(end_v))
        res = np.full(int(sel.sum()), pd.NA, dtype=object)
        res[ok] = tie_rule.outcome(start_v[ok], end_v[ok])
        values[sel] = res
    return pd.Series(pd.array(values, dtype="Int8"), index=out.index)
