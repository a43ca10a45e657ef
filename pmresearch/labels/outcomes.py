"""Window outcomes recomputed from the settlement oracle under the rule in force."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from pmresearch import rules
from pmresearch._time import require_utc_column
from pmresearch._typing import FloatArray
from pmresearch.data.knowledge import bar_length

__all__ = [
    "LABEL_SOURCES",
    "SETTLEMENT_SOURCE",
    "exchange_proxy_outcomes",
    "outcomes_from_oracle",
    "settlement_values",
    "tick_grid",
    "window_labels",
]

#: The oracle source that settles 5- and 15-minute markets (Chainlink Data Streams).
SETTLEMENT_SOURCE = "chainlink-data-streams"

#: Label sources in their order of preference (DESIGN.md). A recorded outcome whose ``outcome_from``
#: is not ``resolution`` (e.g. the quote logger's ``final-book``) is labelled ``resolution:<outcome_from>``.
LABEL_SOURCES = ("resolution", "oracle", "exchange-proxy")


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


def tick_grid(stamps: pd.DatetimeIndex, stream: pd.Series, lookback_s: int) -> FloatArray:
    """Values of ``stream`` (indexed by stamp) at the 1 Hz stamps a settlement reads, one row per stamp.

    Row ``i`` holds the ticks stamped ``(stamps[i] - lookback, stamps[i]]`` in time order, or the one
    tick stamped exactly ``stamps[i]`` when ``lookback_s <= 0``; NaN where a tick is missing.
    """
    width = max(int(lookback_s), 1)
    offsets = pd.to_timedelta(np.arange(width - 1, -1, -1), unit="s").to_numpy().astype(f"timedelta64[{stamps.unit}]")
    grid = stamps.tz_convert(None).to_numpy()[:, None] - offsets[None, :]
    flat = stream.reindex(pd.DatetimeIndex(grid.ravel(), tz="UTC")).to_numpy(dtype=np.float64)
    return np.asarray(flat.reshape(len(stamps), width), dtype=np.float64)


def settlement_values(stamps: pd.DatetimeIndex, stream: pd.Series, lookback_s: int) -> np.ndarray:
    """Reference value at each stamp: the tick stamped exactly then (``lookback_s == 0``) or the mean
    of the ``lookback_s`` 1 Hz ticks stamped ``(stamp - lookback, stamp]`` (:func:`tick_grid`). NaN
    where any needed tick is missing: there is no nearest-tick fallback.
    """
    vals = tick_grid(stamps, stream, lookback_s)
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


def exchange_proxy_outcomes(markets: pd.DataFrame, klines: pd.DataFrame) -> pd.Series:
    """Exchange proxy of each window's outcome: 1-minute close at the window end >= open at its start.

    Parameters
    ----------
    markets : DataFrame
        ``slug``, ``window_start``, ``window_end``.
    klines : DataFrame
        1-minute bars of one symbol (``ts`` = bar open time, ``open``, ``close``); the open of the bar
        starting at ``window_start`` and the close of the bar starting at ``window_end - 1 min``.

    Returns
    -------
    Series
        Int8 indexed by slug: 1 when close >= open (ties Up), 0 otherwise, NA where a bar is missing.
    """
    require_utc_column(markets, "window_start", what="markets")
    require_utc_column(markets, "window_end", what="markets")
    index = pd.Index(markets["slug"].astype("str"), name="slug")
    if klines.empty:
        return pd.Series(pd.NA, index=index, dtype="Int8")
    require_utc_column(klines, "ts", what="klines")
    bars = klines.drop_duplicates("ts").set_index("ts")
    bars.index = pd.DatetimeIndex(bars.index).tz_convert("UTC")
    first_open = bars["open"].astype("float64").reindex(pd.DatetimeIndex(markets["window_start"])).to_numpy()
    last_close = bars["close"].astype("float64").reindex(
        pd.DatetimeIndex(markets["window_end"]) - bar_length("1m")).to_numpy()
    up = np.where(np.isnan(first_open) | np.isnan(last_close), np.nan, (last_close >= first_open).astype(float))
    return pd.Series(pd.array(up, dtype="Int8"), index=index)


def window_labels(
    markets: pd.DataFrame,
    *,
    oracle: pd.DataFrame | None = None,
    klines: pd.DataFrame | None = None,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The outcome of every window in DESIGN.md's order of sources, with the source used.

    1. the recorded resolution (``outcome_up``; ``label_source`` ``"resolution"``, or
       ``"resolution:<outcome_from>"`` when the market file says it came from elsewhere, such as a
       logger's final book);
    2. :func:`outcomes_from_oracle` under the settlement rule in force (``"oracle"``);
    3. :func:`exchange_proxy_outcomes` on 1-minute klines (``"exchange-proxy"``).

    Parameters
    ----------
    markets : DataFrame
        Canonical markets.
    oracle, klines : DataFrame, optional
        Oracle ticks and 1-minute klines of the spot symbol (already truncated by knowledge time
        when ``until`` matters).
    until : Timestamp, optional
        A window ending after it has no label (its outcome is not known yet).

    Returns
    -------
    DataFrame
        Indexed by slug: ``label`` (Int8, NA unknown) and ``label_source`` (str, null when unknown).
    """
    require_utc_column(markets, "window_end", what="markets")
    index = pd.Index(markets["slug"].astype("str"), name="slug")
    label = pd.Series(pd.NA, index=index, dtype="Int8")
    if "outcome_up" in markets.columns:
        label = pd.Series(pd.array(markets["outcome_up"].to_numpy(dtype=object), dtype="Int8"), index=index)
    source = pd.Series(None, index=index, dtype="str")
    origin = (markets["outcome_from"].astype("str").where(markets["outcome_from"].notna(), "resolution")
              if "outcome_from" in markets.columns else pd.Series("resolution", index=markets.index))
    origin = origin.where(origin == "resolution", "resolution:" + origin)
    have = label.notna().to_numpy()
    source[have] = origin.to_numpy()[have]
    candidates: list[tuple[str, pd.Series]] = []
    if oracle is not None and not oracle.empty:
        candidates.append(("oracle", outcomes_from_oracle(markets, oracle)))
    if klines is not None and not klines.empty:
        candidates.append(("exchange-proxy", exchange_proxy_outcomes(markets, klines)))
    for name, values in candidates:
        fill = (label.isna() & values.notna()).to_numpy()
        label[fill] = values[fill]
        source[fill] = name
    if until is not None:
        late = (pd.DatetimeIndex(markets["window_end"]) > until)
        label[late] = pd.NA
        source[late] = None
    return pd.DataFrame({"label": label, "label_source": source.astype("str").where(source.notna(), None)})
