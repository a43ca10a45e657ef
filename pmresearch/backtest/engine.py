"""A taker threshold backtest: buy the side the model finds cheap, at the ask after the taker delay.

At each decision row the strategy compares the model's P(up) with the all-in cost of each token
(best ask plus the taker fee per share at that price: :func:`fee_per_share`, the fee
:func:`pmresearch.rules.taker_fee` charges the order, 5-decimal floor included; the Down ask is the
Up bid mirrored onto the tick grid by :func:`pmresearch.rules.round_to_tick`). When the net edge of a side reaches the
threshold it sends a marketable limit order at the ask it sees; the order reaches the book after the
venue's taker delay (:func:`pmresearch.rules.taker_delay_at`) and fills at the ask standing then,
provided that ask is not above its limit. The position is held to settlement.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pmresearch import rules
from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch.config import Validated, param
from pmresearch.metrics.trading import trade_stats

__all__ = ["TRADE_COLUMNS", "TakerBacktest", "TakerThreshold", "backtest_taker_threshold", "fee_per_share",
           "run_taker_threshold"]

TRADE_COLUMNS = [
    "t", "slug", "window_start", "window_end", "side", "p_model", "ask_seen", "edge", "t_fill", "book_source", "price",
    "shares", "fee", "capital", "label", "won", "pnl", "true_prob_up", "true_edge",
]


@dataclass(frozen=True)
class TakerThreshold(Validated):
    """Parameters of the taker threshold strategy, checked on construction (a bound broken raises
    :class:`~pmresearch.config.ConfigError` naming the field and the bound)."""

    edge_threshold: float = param(0.03, ge=0.0, le=1.0, doc="net edge (prob units, after fees) to trade")
    shares: float = param(20.0, ge=5.0, doc="order size in shares (venue minimum 5)")
    max_trades_per_window: int = param(1, ge=1, doc="positions per market window")
    book_max_age_s: float = param(10.0, gt=0.0, le=60.0,
                                  doc="a fill needs a quote at most this old at the fill time (at most 60 s: an "
                                      "older quote is not the book a taker would meet)")


def fee_per_share(shares: float, price: np.ndarray, rate: np.ndarray, expo: np.ndarray) -> np.ndarray:
    """Taker fee per share of an order of ``shares`` at ``price``.

    :func:`pmresearch.rules.taker_fee` of the order (floored to 5 decimals on its total) divided by
    ``shares``: the fee the strategy deducts from its edge is the fee the fill is charged.
    """
    return np.asarray(rules.taker_fee(shares, price, rate, expo) / shares, dtype=np.float64)


def _down_ask(bid_up: np.ndarray) -> np.ndarray:
    """The Down ask mirroring an Up bid: ``1 - bid`` put back on the tick grid, rounded up (an ask
    is never made cheaper than the book allows; exact for bids on the grid; NaN stays NaN)."""
    return rules.round_to_tick(1.0 - np.asarray(bid_up, dtype=np.float64), "up")


TruthAt = Callable[[Any, Any], np.ndarray]


def run_taker_threshold(
    rows: pd.DataFrame, quotes: pd.DataFrame, markets: pd.DataFrame, strategy: TakerThreshold, *,
    touch: pd.DataFrame | None = None, truth: TruthAt | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Simulate the strategy over decision rows.

    Parameters
    ----------
    rows : DataFrame
        Decision rows (DESIGN.md columns) with a ``p_model`` column.
    quotes : DataFrame
        Canonical quotes of the same markets (the book after the delay is looked up here); a
        ``true_prob_up`` column (simulated worlds) is carried into the trades.
    markets : DataFrame
        Canonical markets; their ``fee_rate``/``fee_exponent`` override the timeline when present.
    strategy : TakerThreshold
    touch : DataFrame, optional
        The Up token's best bid and ask after every update of the event-level book (``ts, slug,
        best_bid_up, best_ask_up``; :func:`pmresearch.data.books.best_quotes` then
        :func:`~pmresearch.data.books.up_quotes`). When given, an order fills at the touch standing at
        its arrival (markets without touch rows fall back to ``quotes``), not at the ~2-s snapshot.
    truth : callable, optional
        ``truth(slugs, times) -> P(up)`` (simulated worlds, :func:`pmresearch.simulate.world.truth_at`):
        the trades' ``true_prob_up`` is the truth at the fill's arrival; else the quotes' ``true_prob_up``
        (the last quote at or before it) when they carry one.

    Returns
    -------
    trades, counts
        One row per filled order (:data:`TRADE_COLUMNS`) and counts of ``signals``, ``filled`` and
        ``missed`` (no quote at most ``book_max_age_s`` old at the fill, or the ask moved above the
        limit during the delay), ``closed`` (the order reached the book at or after the window's end)
        and ``unlabeled`` (filled, but the window's outcome is unknown: not in the trades).
    """
    need = {"t", "slug", "window_start", "window_end", "p_model", "bid_up", "ask_up", "label"}
    missing = need - set(rows.columns)
    if missing:
        raise ValueError(f"decision rows: missing columns {sorted(missing)}")
    sig = _signals(rows, markets, strategy)
    counts = {"signals": len(sig), "filled": 0, "missed": 0, "closed": 0, "unlabeled": 0}
    if sig.empty:
        return pd.DataFrame(columns=TRADE_COLUMNS), counts
    sig, fillable, open_at_fill = _fills(sig, quotes, strategy, touch=touch, truth=truth)
    counts["closed"] = int((~open_at_fill).sum())
    filled = sig[fillable].sort_values("t", kind="stable")
    filled = filled.groupby("slug", sort=False).head(strategy.max_trades_per_window)
    counts["missed"] = int((~fillable).sum()) - counts["closed"]
    counts["filled"] = len(filled)
    if filled.empty:
        return pd.DataFrame(columns=TRADE_COLUMNS), counts
    out = _settle(filled, strategy)
    counts["unlabeled"] = int(out["label"].isna().sum())
    out = out[out["label"].notna()]
    return out[TRADE_COLUMNS].reset_index(drop=True), counts


def _signals(rows: pd.DataFrame, markets: pd.DataFrame, strategy: TakerThreshold) -> pd.DataFrame:
    """The rows where the better side's net edge (model P minus ask minus fee per share) reaches the
    threshold, with ``side``, ``edge``, ``ask_seen`` and the fee parameters ``rate``/``expo``."""
    r = rows[rows["p_model"].notna() & rows["bid_up"].notna() & rows["ask_up"].notna()].copy()
    fees = markets.set_index("slug")[["fee_rate", "fee_exponent"]]
    rate_tl, expo_tl = rules.fees_at(pd.DatetimeIndex(r["t"]))
    r["rate"] = r["slug"].map(fees["fee_rate"]).fillna(pd.Series(rate_tl, index=r.index))
    r["expo"] = r["slug"].map(fees["fee_exponent"]).fillna(pd.Series(expo_tl, index=r.index))
    p = r["p_model"].to_numpy(dtype=np.float64)
    ask_up = r["ask_up"].to_numpy(dtype=np.float64)
    ask_dn = _down_ask(r["bid_up"].to_numpy(dtype=np.float64))
    rate, expo = r["rate"].to_numpy(dtype=np.float64), r["expo"].to_numpy(dtype=np.float64)
    edge_up = p - ask_up - fee_per_share(strategy.shares, ask_up, rate, expo)
    edge_dn = (1.0 - p) - ask_dn - fee_per_share(strategy.shares, ask_dn, rate, expo)
    r["side"] = np.where(edge_up >= edge_dn, "Up", "Down")
    r["edge"] = np.maximum(edge_up, edge_dn)
    r["ask_seen"] = np.where(edge_up >= edge_dn, ask_up, ask_dn)
    return r[r["edge"] >= strategy.edge_threshold].copy()


def _book_at(sig: pd.DataFrame, book: pd.DataFrame, max_age_s: float | None) -> pd.DataFrame:
    """Columns of the last ``book`` row (``ts``, ``slug``) at or before each signal's ``t_fill``."""
    q = book.sort_values("ts", kind="stable")
    tol = pd.Timedelta(seconds=max_age_s) if max_age_s is not None else None
    return pd.merge_asof(sig[["t_fill", "slug"]].reset_index(), q, left_on="t_fill", right_on="ts", by="slug",
                         direction="backward", tolerance=tol).set_index("index").reindex(sig.index)


def _fills(sig: pd.DataFrame, quotes: pd.DataFrame, strategy: TakerThreshold, *, touch: pd.DataFrame | None = None,
           truth: TruthAt | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The signals (sorted by fill time) with ``t_fill``, ``price`` (the ask standing after the taker
    delay: from the event-level ``touch`` where the market has one, else the last quote at most
    ``book_max_age_s`` old), ``book_source`` and ``true_prob_up``; which of them fill, and which reach the
    book before the window closes."""
    delay = np.asarray(rules.taker_delay_at(pd.DatetimeIndex(sig["t"])), dtype=np.float64)
    sig["t_fill"] = (sig["t"] + pd.to_timedelta(delay, unit="s")).astype("datetime64[us, UTC]")
    qcols = ["slug", "ts", "best_bid_up", "best_ask_up"] + (["true_prob_up"] if "true_prob_up" in quotes else [])
    sig = sig.sort_values("t_fill", kind="stable")
    # the book standing at the fill: the last quote known by then, at most book_max_age_s old
    book = _book_at(sig, quotes[qcols], strategy.book_max_age_s)
    sig["book_source"] = "quotes"
    if touch is not None and len(touch):
        live = _book_at(sig, touch[["slug", "ts", "best_bid_up", "best_ask_up"]], strategy.book_max_age_s)
        has = sig["slug"].isin(set(touch["slug"].astype(str))).to_numpy()
        for col in ("best_bid_up", "best_ask_up"):
            book[col] = np.where(has, live[col].to_numpy(dtype=np.float64), book[col].to_numpy(dtype=np.float64))
        sig.loc[has, "book_source"] = "events"
    fill_px = np.where(sig["side"] == "Up", book["best_ask_up"].to_numpy(dtype=np.float64),
                       _down_ask(book["best_bid_up"].to_numpy(dtype=np.float64)))
    # an order reaching the book at or after the window's end does not trade (the market has closed)
    open_at_fill = (sig["t_fill"] < sig["window_end"]).to_numpy()
    fillable = open_at_fill & ~np.isnan(fill_px) & (fill_px <= sig["ask_seen"].to_numpy() + 1e-12)
    sig["price"] = fill_px
    if truth is not None:
        sig["true_prob_up"] = truth(sig["slug"].to_numpy(), sig["t_fill"])
    else:
        sig["true_prob_up"] = book.get("true_prob_up", np.nan)
    return sig, fillable, open_at_fill


def _settle(filled: pd.DataFrame, strategy: TakerThreshold) -> pd.DataFrame:
    """Fees, capital, outcome and PnL of the filled orders held to settlement, and the true expected
    edge per share at the fill (simulated worlds)."""
    out = filled.copy()
    out["shares"] = strategy.shares
    price = out["price"].to_numpy(dtype=np.float64)
    out["fee"] = rules.taker_fee(strategy.shares, price, out["rate"].to_numpy(), out["expo"].to_numpy())
    out["capital"] = strategy.shares * price + out["fee"]
    up = out["side"].to_numpy() == "Up"
    label = out["label"].astype("float64").to_numpy()
    out["won"] = np.where(up, label == 1.0, label == 0.0)
    out["pnl"] = strategy.shares * out["won"].astype(np.float64) - out["capital"]
    p_true = out["true_prob_up"].to_numpy(dtype=np.float64)
    out["true_edge"] = np.where(up, p_true, 1.0 - p_true) - price - out["fee"].to_numpy() / strategy.shares
    return out


@dataclass(frozen=True)
class TakerBacktest(SummaryMixin):
    """The result of a taker threshold backtest (:func:`backtest_taker_threshold`), immutable.

    Attributes
    ----------
    strategy : TakerThreshold
        The parameters that ran.
    trades : DataFrame
        One row per filled, labelled order (:data:`TRADE_COLUMNS`).
    counts : mapping of str to int
        ``signals``, ``filled``, ``missed``, ``closed`` and ``unlabeled`` (read-only;
        :func:`run_taker_threshold` says what each counts).
    """

    strategy: TakerThreshold
    trades: pd.DataFrame = field(repr=False)
    counts: Mapping[str, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", types.MappingProxyType(dict(self.counts)))

    @functools.cached_property
    def stats(self) -> Mapping[str, float]:
        """:func:`~pmresearch.metrics.trading.trade_stats` of the trades (read-only)."""
        return types.MappingProxyType(trade_stats(self.trades))

    def summary(self) -> Summary:
        """The trade statistics, the counts and the strategy's parameters."""
        s = self.strategy
        return summary_table("Taker threshold backtest", {"trades": self.stats, "counts": self.counts},
                             notes=(f"edge threshold {s.edge_threshold:g} after fees, {s.shares:g} shares, at most "
                                    f"{s.max_trades_per_window} per window, book at most {s.book_max_age_s:g} s old "
                                    "at the fill",))


def backtest_taker_threshold(
    rows: pd.DataFrame, quotes: pd.DataFrame, markets: pd.DataFrame, strategy: TakerThreshold, *,
    touch: pd.DataFrame | None = None, truth: TruthAt | None = None,
) -> TakerBacktest:
    """:func:`run_taker_threshold` as a result object (:class:`TakerBacktest`)."""
    trades, counts = run_taker_threshold(rows, quotes, markets, strategy, touch=touch, truth=truth)
    return TakerBacktest(strategy=strategy, trades=trades, counts=counts)
