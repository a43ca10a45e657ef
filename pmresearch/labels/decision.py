"""Decision rows: one row per market window and decision time, with strike, spot, label and market state.

Every value joined to a decision time ``t`` is known at ``t``: the oracle by its knowledge time
(``max(ts, received_at)``), 1-minute klines by their close time (``ts + 1 min``), quotes and books by
their stamp. The columns are DESIGN.md's fixed decision-row columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch.data.store import DuckDBStore
from pmresearch.labels.outcomes import SETTLEMENT_SOURCE, outcomes_from_oracle, settlement_values

__all__ = ["DECISION_COLUMNS", "decision_rows", "decision_times"]

DECISION_COLUMNS = [
    "t", "slug", "interval_minutes", "window_start", "window_end", "tau_s", "strike", "strike_source",
    "spot", "spot_source", "label", "label_source", "bid_up", "ask_up", "mid_up", "spread_up",
    "bid_size_up", "ask_size_up",
]


def _labelled(mask: pd.Series, name: str) -> pd.Series:
    """A string Series: ``name`` where ``mask``, else null."""
    return pd.Series(name, index=mask.index, dtype="str").where(mask.to_numpy(), None)


def decision_times(markets: pd.DataFrame, every_s: float, first_s: float, last_s: float) -> pd.DataFrame:
    """Decision times ``window_start + first_s + k every_s`` up to ``window_end - last_s`` per market."""
    if every_s <= 0:
        raise ValueError("every_s must be positive")
    length = (markets["window_end"] - markets["window_start"]).dt.total_seconds().to_numpy()
    offsets = np.arange(first_s, float(length.max(initial=0.0)) - last_s + 1e-9, every_s)
    frames = []
    for off in offsets:
        sel = off <= length - last_s
        if not sel.any():
            continue
        part = markets.loc[sel, ["slug", "interval_minutes", "window_start", "window_end"]].copy()
        part["t"] = part["window_start"] + pd.Timedelta(seconds=float(off))
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=["slug", "interval_minutes", "window_start", "window_end", "t"])
    out = pd.concat(frames, ignore_index=True).sort_values(["t", "slug"], ignore_index=True)
    out["t"] = out["t"].astype("datetime64[us, UTC]")
    return pd.DataFrame(out)


def decision_rows(
    store: DuckDBStore,
    *,
    interval_minutes: int | None = 15,
    every_s: float = 30.0,
    first_s: float = 60.0,
    last_s: float = 30.0,
    spot_symbol: str = "BTCUSDT",
) -> pd.DataFrame:
    """Build decision rows from the store's markets, oracle, klines, quotes and books.

    ``spot`` comes from, in order: the Data Streams oracle (``spot_source = "oracle"``), the quote
    logger's reference price (``"quote-reference"``), the close of the last complete 1-minute kline
    (``"exchange-kline"``). ``strike``: the recorded strike (``"recorded"``), the oracle tick stamped
    at the window start (``"oracle"``), the exchange open at the window start (``"exchange-proxy"``).
    ``label``: the recorded resolution (``"resolution"``), the oracle under the rule in force
    (``"oracle"``), the exchange proxy close >= open (``"exchange-proxy"``).
    """
    markets = store.query("SELECT * FROM polymarket_resolutions ORDER BY window_start, slug")
    if interval_minutes is not None:
        markets = markets[markets["interval_minutes"] == interval_minutes].reset_index(drop=True)
    rows = decision_times(markets, every_s, first_s, last_s)
    if rows.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)
    store.register("_decisions", rows)
    joined = store.query(
        f"""
        WITH ora AS (
            SELECT ts, price, greatest(ts, coalesce(received_at, ts)) AS kt
            FROM oracle_prices WHERE source = '{SETTLEMENT_SOURCE}'
        ),
        kl AS (
            SELECT ts + INTERVAL 1 MINUTE AS kt, close FROM spot_prices
            WHERE symbol = '{spot_symbol}' AND interval = '1m'
        ),
        up_bid AS (SELECT slug, ts, size FROM polymarket_books WHERE outcome = 'Up' AND side = 'bid' AND level = 0),
        up_ask AS (SELECT slug, ts, size FROM polymarket_books WHERE outcome = 'Up' AND side = 'ask' AND level = 0)
        SELECT d.t, d.slug, o.price AS oracle_spot, k.close AS kline_spot,
               q.reference_price AS quote_spot, q.best_bid_up AS bid_up, q.best_ask_up AS ask_up,
               q.strike AS quote_strike, b.size AS bid_size_up, a.size AS ask_size_up
        FROM _decisions d
        ASOF LEFT JOIN ora o ON d.t >= o.kt
        ASOF LEFT JOIN kl k ON d.t >= k.kt
        ASOF LEFT JOIN polymarket_quotes q ON d.slug = q.slug AND d.t >= q.ts
        ASOF LEFT JOIN up_bid b ON d.slug = b.slug AND d.t >= b.ts
        ASOF LEFT JOIN up_ask a ON d.slug = a.slug AND d.t >= a.ts
        """
    )
    rows = rows.merge(joined, on=["t", "slug"], how="left", validate="one_to_one")

    # spot S_t in the declared order of sources
    spot = rows["oracle_spot"].copy()
    source = _labelled(spot.notna(), "oracle")
    for col, name in (("quote_spot", "quote-reference"), ("kline_spot", "exchange-kline")):
        fill = spot.isna() & rows[col].notna()
        spot[fill] = rows.loc[fill, col]
        source[fill] = name
    rows["spot"], rows["spot_source"] = spot, source

    # strike and label per market
    oracle = store.query(f"SELECT ts, price, source FROM oracle_prices WHERE source = '{SETTLEMENT_SOURCE}'")
    mk = markets.set_index("slug")
    strike = mk["strike"].astype("float64")
    strike_src = _labelled(strike.notna(), "recorded")
    stream = pd.Series(oracle["price"].to_numpy(), index=pd.DatetimeIndex(oracle["ts"])).sort_index()
    stream = stream[~stream.index.duplicated()]
    from_oracle = pd.Series(settlement_values(pd.DatetimeIndex(mk["window_start"]), stream, 0), index=mk.index)
    klines = store.query(
        f"SELECT ts, open, close FROM spot_prices WHERE symbol = '{spot_symbol}' AND interval = '1m'"
    ).set_index("ts")
    open_at = pd.Series(klines["open"].reindex(pd.DatetimeIndex(mk["window_start"])).to_numpy(), index=mk.index)
    for values, name in ((from_oracle, "oracle"), (open_at, "exchange-proxy")):
        fill = strike.isna() & values.notna()
        strike[fill] = values[fill]
        strike_src[fill] = name
    label = mk["outcome_up"].astype("Int8")
    label_src = _labelled(label.notna(), "resolution")
    recomputed = outcomes_from_oracle(markets, oracle)
    last_close = klines["close"].reindex(
        pd.DatetimeIndex(mk["window_end"]) - pd.Timedelta(minutes=1)).to_numpy()
    proxy = pd.Series(pd.array(np.where(np.isnan(last_close) | open_at.isna().to_numpy(), np.nan,
                                        (last_close >= open_at.to_numpy()).astype(float)), dtype="Int8"),
                      index=mk.index)
    for values, name in ((recomputed, "oracle"), (proxy, "exchange-proxy")):
        fill = label.isna() & values.notna()
        label[fill] = values[fill]
        label_src[fill] = name

    rows["strike"] = rows["slug"].map(strike).to_numpy(dtype=np.float64)
    rows["strike_source"] = rows["slug"].map(strike_src).astype("str")
    rows["label"] = pd.array(rows["slug"].map(label).to_numpy(), dtype="Int8")
    rows["label_source"] = rows["slug"].map(label_src).astype("str")
    rows["tau_s"] = (rows["window_end"] - rows["t"]).dt.total_seconds()
    rows["mid_up"] = (rows["bid_up"] + rows["ask_up"]) / 2.0
    rows["spread_up"] = rows["ask_up"] - rows["bid_up"]
    return rows[DECISION_COLUMNS].reset_index(drop=True)
