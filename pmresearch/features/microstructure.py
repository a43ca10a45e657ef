"""Family ``micro``: spreads, book depth imbalance, trade-direction imbalance and tick direction.

* quotes (per market ``slug`` of the decision row, known at ``ts``, at most 60 s old): absolute and
  relative spread of the Up and Down tokens, overround and underround of the two books, change of
  the Up mid over 30 s and 120 s, quote age;
* books (per token, known at ``ts``, at most 60 s old): top-of-book and k-level (3, 5, 10) depth
  imbalance ``(bid size - ask size) / (bid size + ask size)``, log depth, microprice minus mid.
  The Up token is the row's ``token_id`` column when given (e.g. books recorded without market
  metadata), else the book's token whose ``slug`` matches and ``outcome`` is ``Up``;
* exchange trades (``venue`` other than ``polymarket``, BTC symbols, known at ``max(ts, received_at)``): signed
  volume imbalance over 10 s, 60 s and 300 s, tick-rule direction of the last trade and the tick
  balance over 60 s (Lee & Ready 1991: a zero tick takes the previous direction), trade count; NaN
  when no exchange trade was known in the last 300 s (no data, rather than no trading);
* Polymarket trades of the row's market: net Up pressure (Up bought or Down sold, minus the
  reverse) over 60 s and 300 s as a share of the volume, trade count over 300 s (0 when the market
  had none, NaN before any Polymarket trade at all was known).

Windows are ``(t - w, t]`` on knowledge time, from cumulative sums (one pass, no per-row loop).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray, IntArray
from pmresearch.features.context import FeatureContext, to_ns
from pmresearch.features.inputs import knowledge_time
from pmresearch.features.registry import Block, feature_table, make_block

__all__ = ["BLOCKS", "book_snapshot_features", "tick_rule"]

_S = 1_000_000_000
QUOTE_MAX_AGE_S = 60
EXCHANGE_MAX_GAP_S = 300
DEPTH_LEVELS = (3, 5, 10)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(len(num), np.nan)
    ok = np.isfinite(den) & (den != 0)
    out[ok] = num[ok] / den[ok]
    return out


# ------------------------------------------------------------------------------------------- quotes
def _quotes(ctx: FeatureContext) -> dict[str, FloatArray]:
    q = ctx.inputs.quotes
    if q is None or not len(q) or "slug" not in ctx.rows.columns:
        return {}
    q = q.loc[q["slug"].isin(ctx.rows["slug"].dropna().unique()).to_numpy()]  # only the rows' markets

    def col(name: str) -> FloatArray:
        return (pd.to_numeric(q[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                if name in q.columns else np.full(len(q), np.nan))

    bu, au, bd, ad = col("best_bid_up"), col("best_ask_up"), col("best_bid_down"), col("best_ask_down")
    mid = (bu + au) / 2.0
    table = pd.DataFrame({
        "slug": q["slug"].astype(str).to_numpy(), "known": to_ns(knowledge_time("quotes", q, what="quotes")),
        "spread_up": au - bu, "mid_up": mid, "spread_down": ad - bd,
        "overround": au + ad - 1.0, "underround": 1.0 - bu - bd,
    })
    table["ts_ns"] = table["known"].astype(np.float64)
    cols = ["spread_up", "mid_up", "spread_down", "overround", "underround", "ts_ns"]
    tol = QUOTE_MAX_AGE_S * _S
    now = ctx.join_by_key(ctx.rows["slug"], table, key="slug", known="known", columns=cols, tolerance_ns=tol)
    out = {
        "micro__spread_up": now["spread_up"],
        "micro__rel_spread_up": _ratio(now["spread_up"], now["mid_up"]),
        "micro__spread_down": now["spread_down"],
        "micro__overround": now["overround"],
        "micro__underround": now["underround"],
        "micro__quote_age_s": (ctx.times() - now["ts_ns"]) / _S,
    }
    for w in (30, 120):
        before = ctx.join_by_key(ctx.rows["slug"], table, key="slug", known="known", columns=["mid_up"],
                                 tolerance_ns=tol, shift_ns=w * _S)
        out[f"micro__mid_up_change_{w}s"] = now["mid_up"] - before["mid_up"]
    return out


# -------------------------------------------------------------------------------------------- books
def book_snapshot_features(books: pd.DataFrame, tokens: Collection[str] | None = None) -> pd.DataFrame:
    """One row per (token_id, ts) book snapshot: best prices and sizes, depth over 3/5/10 levels.

    Parameters
    ----------
    books : DataFrame
        L2 levels (``ts``, ``token_id``, ``side``, ``level``, ``price``, ``size``).
    tokens : collection of str, optional
        Only these tokens (default all).

    Returns
    -------
    DataFrame
        ``token_id``, ``known`` (snapshot time, int64 ns), ``bid0``, ``ask0``, ``bid_size0``,
        ``ask_size0``, ``bid_depth_<k>``, ``ask_depth_<k>`` (sizes summed over levels ``< k``),
        sorted by ``known``.
    """
    codes_all, token_index = pd.factorize(books["token_id"])
    uniques = np.asarray(token_index, dtype=object).astype(str)
    sel = pd.to_numeric(books["level"]).to_numpy() < max(DEPTH_LEVELS)
    if tokens is not None:
        keep = np.flatnonzero(np.isin(uniques, np.asarray(list(tokens), dtype=object).astype(str)))
        sel &= np.isin(codes_all, keep)
    idx = np.flatnonzero(sel)
    codes, ts = codes_all[idx], to_ns(books["ts"])[idx]
    order = np.lexsort((ts, codes))
    idx, codes, ts = idx[order], codes[order], ts[order]
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (ts[1:] != ts[:-1])
    snap = np.cumsum(new) - 1
    n = int(snap[-1]) + 1 if len(snap) else 0
    out = pd.DataFrame({"token_id": uniques[codes[new]], "known": ts[new]})
    is_bid = (books["side"] == "bid").to_numpy(dtype=bool)[idx]
    lvl = pd.to_numeric(books["level"]).to_numpy()[idx]
    price = books["price"].to_numpy(dtype=np.float64)[idx]
    size = books["size"].to_numpy(dtype=np.float64)[idx]
    for s, on_side in (("bid", is_bid), ("ask", ~is_bid)):
        top = on_side & (lvl == 0)
        p0 = np.full(n, np.nan)
        q0 = np.full(n, np.nan)
        p0[snap[top]] = price[top]
        q0[snap[top]] = size[top]
        out[f"{s}0"], out[f"{s}_size0"] = p0, q0
        for k in DEPTH_LEVELS:
            m = on_side & (lvl < k)
            out[f"{s}_depth_{k}"] = np.bincount(snap[m], weights=size[m], minlength=n)
    return out.sort_values("known", kind="stable").reset_index(drop=True)


def _token_map(books: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(slug, outcome) -> token id, from the first row of each token."""
    if "slug" not in books.columns or "outcome" not in books.columns:
        return {}
    codes, _ = pd.factorize(books["token_id"])
    first = np.unique(codes, return_index=True)[1]
    meta = books.iloc[first][["slug", "outcome", "token_id"]].dropna()
    return {(str(a), str(b)): str(c) for a, b, c in meta.itertuples(index=False)}


def _token_keys(ctx: FeatureContext, mapping: dict[tuple[str, str], str], outcome: str) -> pd.Series | None:
    if outcome == "Up" and "token_id" in ctx.rows.columns:
        return ctx.rows["token_id"].astype("object")
    if "slug" not in ctx.rows.columns or not mapping:
        return None
    by_slug = {slug: tok for (slug, out), tok in mapping.items() if out == outcome}
    return ctx.rows["slug"].astype(str).map(by_slug)


def _books(ctx: FeatureContext) -> dict[str, FloatArray]:
    books = ctx.inputs.books
    if books is None or not len(books):
        return {}
    mapping = _token_map(books)
    keys_by = {o: _token_keys(ctx, mapping, o) for o in ("Up", "Down")}
    if all(k is None for k in keys_by.values()):
        return {}
    wanted = pd.concat([k for k in keys_by.values() if k is not None]).dropna().astype(str).unique()
    snaps = book_snapshot_features(books, tokens=wanted)  # only the rows' tokens
    cols = [c for c in snaps.columns if c not in ("token_id", "known")]
    out: dict[str, FloatArray] = {}
    for outcome, keys in keys_by.items():
        if keys is None:
            continue
        v = ctx.join_by_key(keys, snaps, key="token_id", known="known", columns=cols,
                            tolerance_ns=QUOTE_MAX_AGE_S * _S)
        suffix = outcome.lower()
        out[f"micro__top_imbalance_{suffix}"] = _ratio(v["bid_size0"] - v["ask_size0"], v["bid_size0"] + v["ask_size0"])
        if outcome == "Down":
            continue
        for k in DEPTH_LEVELS:
            bd, ad = v[f"bid_depth_{k}"], v[f"ask_depth_{k}"]
            out[f"micro__depth_imbalance_{k}_up"] = _ratio(bd - ad, bd + ad)
        total = v["bid_depth_5"] + v["ask_depth_5"]
        out["micro__log_depth_5_up"] = np.log(np.where(total > 0, total, np.nan))
        mid = (v["bid0"] + v["ask0"]) / 2.0
        micro = _ratio(v["bid0"] * v["ask_size0"] + v["ask0"] * v["bid_size0"], v["bid_size0"] + v["ask_size0"])
        out["micro__microprice_dev_up"] = micro - mid
    return out


# ------------------------------------------------------------------------------------------- trades
def tick_rule(price: FloatArray) -> FloatArray:
    """Tick-rule direction of each trade: +1 uptick, -1 downtick, a zero tick repeats the previous
    direction (0 before the first non-zero tick)."""
    d = np.sign(np.diff(price, prepend=np.nan))
    d[~np.isfinite(d)] = 0.0
    s = pd.Series(np.where(d == 0, np.nan, d)).ffill().fillna(0.0)
    return np.asarray(s.to_numpy(dtype=np.float64), dtype=np.float64)


def _window(cum: FloatArray, known: IntArray, t: IntArray, w_ns: int) -> FloatArray:
    """Sum over entries known in ``(t - w, t]`` from a prefix-sum array (``cum[i]`` = sum of 0..i)."""
    c = np.concatenate([[0.0], cum])
    hi = np.searchsorted(known, t, side="right")
    lo = np.searchsorted(known, t - w_ns, side="right")
    return np.asarray(c[hi] - c[lo], dtype=np.float64)


def _exchange(ctx: FeatureContext) -> dict[str, FloatArray]:
    tr = ctx.inputs.trades
    if tr is None or not len(tr):
        return {}
    venue_ok = (tr["venue"].astype(str) != "polymarket").to_numpy()
    symbol_ok = tr["symbol"].astype(str).str.upper().str.startswith("BTC").to_numpy()
    ex = tr.loc[venue_ok & symbol_ok]
    if not len(ex):
        return {}
    known = to_ns(knowledge_time("trades", ex, what="trades"))
    ts = to_ns(ex["ts"])
    order = np.lexsort((ts, known))
    known = known[order]
    price = ex["price"].to_numpy(dtype=np.float64)[order]
    qty = ex["qty"].to_numpy(dtype=np.float64)[order]
    sign = np.where(ex["side"].astype(str).to_numpy()[order] == "buy", 1.0, -1.0)
    tick = tick_rule(price)
    t = ctx.times()
    last = np.searchsorted(known, t, side="right") - 1
    fresh = (last >= 0) & (t - known[np.maximum(last, 0)] <= EXCHANGE_MAX_GAP_S * _S)
    cum_signed, cum_qty = np.cumsum(sign * qty), np.cumsum(qty)
    cum_tick, cum_n = np.cumsum(tick), np.cumsum(np.ones(len(qty)))
    out: dict[str, FloatArray] = {}
    for w in (10, 60, 300):
        out[f"micro__trade_imbalance_{w}s"] = _ratio(_window(cum_signed, known, t, w * _S),
                                                     _window(cum_qty, known, t, w * _S))
    n60 = _window(cum_n, known, t, 60 * _S)
    out["micro__tick_balance_60s"] = _ratio(_window(cum_tick, known, t, 60 * _S), n60)
    out["micro__tick_dir_last"] = np.where(last >= 0, tick[np.maximum(last, 0)], np.nan)
    out["micro__log_trades_60s"] = np.log1p(n60)
    return {k: np.where(fresh, v, np.nan) for k, v in out.items()}


def _polymarket(ctx: FeatureContext) -> dict[str, FloatArray]:
    tr = ctx.inputs.trades
    if tr is None or not len(tr) or "slug" not in ctx.rows.columns or "slug" not in tr.columns:
        return {}
    is_pm = (tr["venue"].astype(str) == "polymarket").to_numpy()
    if not is_pm.any() or "outcome" not in tr.columns:
        return {}
    # counts are 0, not NaN, once any Polymarket trade was known (as-of: "the feed was on")
    any_known = np.sort(to_ns(knowledge_time("trades", tr.loc[is_pm], what="trades")))
    feed_on = np.searchsorted(any_known, ctx.times(), side="right") > 0
    pm = tr.loc[is_pm & tr["slug"].isin(ctx.rows["slug"].dropna().unique()).to_numpy()]
    if not len(pm):
        zero = np.where(feed_on, 0.0, np.nan)
        return {"micro__pm_log_trades_300s": zero}
    known = to_ns(knowledge_time("trades", pm, what="trades"))
    up = np.where(pm["outcome"].astype(str).to_numpy() == "Up", 1.0, -1.0)
    buy = np.where(pm["side"].astype(str).to_numpy() == "buy", 1.0, -1.0)
    qty = pm["qty"].to_numpy(dtype=np.float64)
    table = pd.DataFrame({"slug": pm["slug"].astype(str).to_numpy(), "known": known, "signed": up * buy * qty,
                          "qty": qty, "n": 1.0}).sort_values(["slug", "known"], kind="stable")
    for c in ("signed", "qty", "n"):
        table[f"cum_{c}"] = table.groupby("slug", sort=False)[c].cumsum()
    table = table.sort_values("known", kind="stable")
    cols = ["cum_signed", "cum_qty", "cum_n"]
    now = ctx.join_by_key(ctx.rows["slug"], table, key="slug", known="known", columns=cols)
    now = {k: np.nan_to_num(v, nan=0.0) for k, v in now.items()}
    out: dict[str, FloatArray] = {}
    for w in (60, 300):
        before = ctx.join_by_key(ctx.rows["slug"], table, key="slug", known="known", columns=cols, shift_ns=w * _S)
        before = {k: np.nan_to_num(v, nan=0.0) for k, v in before.items()}
        out[f"micro__pm_up_pressure_{w}s"] = _ratio(now["cum_signed"] - before["cum_signed"],
                                                    now["cum_qty"] - before["cum_qty"])
        if w == 300:
            out["micro__pm_log_trades_300s"] = np.where(feed_on, np.log1p(now["cum_n"] - before["cum_n"]), np.nan)
    return out


#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    make_block("micro_quotes", "micro", _quotes, feature_table("""
        spread_up          | 0s   | price (0-1) | Up token best ask - best bid
        rel_spread_up      | 0s   | fraction    | Up spread / Up mid
        spread_down        | 0s   | price (0-1) | Down token best ask - best bid
        overround          | 0s   | price (0-1) | ask Up + ask Down - 1
        underround         | 0s   | price (0-1) | 1 - bid Up - bid Down
        quote_age_s        | 60s  | seconds     | age of the last quote of the market (<= 60 s, else NaN)
        mid_up_change_30s  | 30s  | price (0-1) | Up mid now minus Up mid 30 s earlier
        mid_up_change_120s | 120s | price (0-1) | Up mid now minus Up mid 120 s earlier
    """), inputs=("quotes", "rows")),
    make_block("micro_books", "micro", _books, feature_table("""
        top_imbalance_up      | 0s | -1..1       | (best bid size - best ask size) / sum, Up token
        depth_imbalance_3_up  | 0s | -1..1       | bid vs ask size over 3 levels, Up token
        depth_imbalance_5_up  | 0s | -1..1       | bid vs ask size over 5 levels, Up token
        depth_imbalance_10_up | 0s | -1..1       | bid vs ask size over 10 levels, Up token
        log_depth_5_up        | 0s | log shares  | ln(bid + ask size over 5 levels), Up token
        microprice_dev_up     | 0s | price (0-1) | size-weighted microprice minus mid, Up token
        top_imbalance_down    | 0s | -1..1       | (best bid size - best ask size) / sum, Down token
    """), inputs=("books", "rows")),
    make_block("micro_exchange_trades", "micro", _exchange, feature_table("""
        trade_imbalance_10s  | 10s  | -1..1     | (taker buy - taker sell qty) / qty, exchange trades, 10 s
        trade_imbalance_60s  | 60s  | -1..1     | taker buy/sell imbalance, exchange trades, 60 s
        trade_imbalance_300s | 300s | -1..1     | taker buy/sell imbalance, exchange trades, 300 s
        tick_balance_60s     | 60s  | -1..1     | mean tick-rule direction of exchange trades, 60 s
        tick_dir_last        | 300s | -1/0/1    | tick-rule direction of the last exchange trade
        log_trades_60s       | 60s  | log count | ln(1 + exchange trades in 60 s)
    """), inputs=("trades",)),
    make_block("micro_polymarket_trades", "micro", _polymarket, feature_table("""
        pm_up_pressure_60s  | 60s  | -1..1     | net Up-buying share of the market's Polymarket volume, 60 s
        pm_up_pressure_300s | 300s | -1..1     | net Up-buying share of the market's Polymarket volume, 300 s
        pm_log_trades_300s  | 300s | log count | ln(1 + the market's Polymarket trades in 300 s)
    """), inputs=("trades", "rows")),
)
