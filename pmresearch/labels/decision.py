"""Decision rows: one row per market window and decision time, with strike, spot, label and market state.

Every value joined to a decision time ``t`` is known at ``t`` by its knowledge time (DESIGN.md):
oracle ticks at ``max(ts, received_at + clock offset)``, klines at their bar's close (``ts`` plus the
bar length), quotes and books at their stamp. The joins are pandas ``merge_asof`` on those knowledge
times, so the same code serves every store backend (DuckDB and PostgreSQL, read through
:meth:`~pmresearch.data.store.Store.as_of`) and in-memory frames (simulated worlds).

Sources, in their declared order (the first one known at ``t`` wins; the choice is in the row):

* ``spot`` (S_t): ``"oracle"`` (the Data Streams settlement feed), ``"quote-reference"`` (the quote
  logger's live exchange price), ``"exchange-kline"`` (close of the last 1-minute bar closed by ``t``).
* ``strike``: ``"recorded"`` (the market's strike, known at the window start), ``"quote-logger"``
  (the strike column of the latest quote of the window), ``"oracle"`` (the settlement value at the
  window start under the rule in force, once every needed tick is known), ``"exchange-proxy"`` (the
  exchange open of the window's first 1-minute bar, known once that bar has closed).
* ``label``: see :func:`pmresearch.labels.outcomes.window_labels`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

import numpy as np
import pandas as pd

from pmresearch import rules
from pmresearch._time import ensure_utc, require_utc_column, to_utc
from pmresearch.data.knowledge import knowledge_time
from pmresearch.data.store import Store
from pmresearch.labels.outcomes import SETTLEMENT_SOURCE, tick_grid, window_labels
from pmresearch.labels.schedule import DecisionSchedule, parse_offsets

if TYPE_CHECKING:
    from typing import TypeAlias

    from pandas.api.extensions import ExtensionArray
    from typing_extensions import Unpack

    _Columns: TypeAlias = dict[str, pd.Series | np.ndarray | ExtensionArray]  # new columns of the decision rows

__all__ = [
    "AGE_COLUMNS",
    "DECISION_COLUMNS",
    "DEFAULT_MAX_STALENESS",
    "MARKET_STATE_COLUMNS",
    "SPOT_SOURCES",
    "STRIKE_SOURCES",
    "DecisionFrames",
    "DecisionRowOptions",
    "DecisionSchedule",
    "decision_rows",
    "decision_rows_from_frames",
    "decision_times",
    "label_end_times",
    "parse_offsets",
    "read_decision_frames",
    "with_known_at",
]

#: The market state at ``t`` (null where unknown).
MARKET_STATE_COLUMNS = ["bid_up", "ask_up", "mid_up", "spread_up", "bid_size_up", "ask_size_up"]

#: Ages (seconds from the knowledge time of the value used to ``t``) of the as-of inputs of a row.
AGE_COLUMNS = ["book_age_s", "spot_age_s"]

#: DESIGN.md's fixed decision-row columns, in order.
DECISION_COLUMNS = [
    "t", "slug", "interval_minutes", "window_start", "window_end", "tau_s", "strike", "strike_source",
    "spot", "spot_source", "label", "label_source", *MARKET_STATE_COLUMNS, *AGE_COLUMNS,
]

#: Spot sources in their order of preference.
SPOT_SOURCES = ("oracle", "quote-reference", "exchange-kline")
#: Strike sources in their order of preference.
STRIKE_SOURCES = ("recorded", "quote-logger", "oracle", "exchange-proxy")

#: Far-future bound used when no ``until`` is given.
_NO_UNTIL = pd.Timestamp("2200-01-01", tz="UTC")
_US: Literal["datetime64[us, UTC]"] = "datetime64[us, UTC]"
#: Default maximum age (by knowledge time) of an as-of value.
DEFAULT_MAX_STALENESS = pd.Timedelta(minutes=2)

DecisionFrames = dict[str, pd.DataFrame]
"""Inputs of :func:`decision_rows_from_frames` by kind: ``markets``, ``oracle``, ``klines``, ``quotes``, ``books``."""


class DecisionRowOptions(TypedDict, total=False):
    """Keywords that :func:`decision_rows` and the feature-matrix builders pass on to
    :func:`decision_rows_from_frames`, which holds their defaults: the decision times (``every_s``, ``first_s``,
    ``last_s``, ``offsets`` or a ``schedule``) and the oldest as-of value used (``max_staleness``)."""

    every_s: float | None
    first_s: float
    last_s: float
    offsets: Sequence[str | float | pd.Timedelta] | str | None
    schedule: DecisionSchedule | None
    max_staleness: pd.Timedelta


# --------------------------------------------------------------------------------------------- times
def decision_times(
    markets: pd.DataFrame,
    every_s: float | None = 30.0,
    first_s: float = 60.0,
    last_s: float = 30.0,
    *,
    offsets: Sequence[str | float | pd.Timedelta] | str | None = None,
    schedule: DecisionSchedule | None = None,
) -> pd.DataFrame:
    """Decision times of each market window (:meth:`DecisionSchedule.times`).

    Parameters
    ----------
    markets : DataFrame
        ``slug``, ``interval_minutes``, ``window_start``, ``window_end``.
    every_s, first_s, last_s : float
        Grid ``window_start + first_s + k every_s`` up to ``window_end - last_s`` (used when
        ``offsets`` is None).
    offsets : str or sequence, optional
        Explicit offsets from the window start (see :func:`parse_offsets`), e.g. ``0,1m,2m,5m,10m,14m``;
        an offset at or after a window's end is an error.
    schedule : DecisionSchedule, optional
        The schedule itself (instead of the four keywords above).

    Returns
    -------
    DataFrame
        ``slug, interval_minutes, window_start, window_end, t`` sorted by ``(t, slug)``.
    """
    sched = DecisionSchedule.coerce(schedule, every_s=every_s, first_s=first_s, last_s=last_s, offsets=offsets)
    return sched.times(markets)


def label_end_times(rows: pd.DataFrame) -> pd.Series:
    """``t1`` for the purged splitters: each row's label end time (``window_end``) indexed by ``t``.

    Positionally aligned with ``rows`` (pass ``rows["slug"]`` as the groups).
    """
    for col in ("t", "window_end"):
        require_utc_column(rows, col, what="decision rows")
    return pd.Series(rows["window_end"].to_numpy(), index=pd.DatetimeIndex(rows["t"], name="t"), name="t1")


# ---------------------------------------------------------------------------------- knowledge times
def with_known_at(kind: str, frame: pd.DataFrame,
                  clock_offsets: Mapping[str, pd.Timedelta] | None = None) -> pd.DataFrame:
    """``frame`` with a ``known_at`` column (DESIGN.md knowledge time) when it lacks one.

    The rule of :func:`pmresearch.data.knowledge.knowledge_time`: ``klines``: ``ts`` + bar length;
    ``oracle``: ``max(ts, received_at + offset of its source)``; ``quotes``/``books``: ``ts``;
    ``markets``: ``window_end`` (the outcome's knowledge time). A ``known_at`` column already there
    (a store read) is kept.
    """
    out = frame.copy()
    if "known_at" in frame.columns:
        out["known_at"] = ensure_utc(out["known_at"], what=f"{kind}, column 'known_at'")
        return out
    out["known_at"] = knowledge_time(kind, out, clock_offsets=clock_offsets, what=kind)
    return out


# ------------------------------------------------------------------------------------------ reading
def read_decision_frames(
    store: Store,
    *,
    until: pd.Timestamp | str | None = None,
    spot_symbol: str = "BTCUSDT",
    kline_interval: str = "1m",
    clock_offsets: Mapping[str, pd.Timedelta] | None = None,
) -> DecisionFrames:
    """Read what decision rows need from a store (any backend), each row with its ``known_at``.

    Markets are read whole (a window's metadata is known at its start); every time series is read
    through :meth:`Store.as_of` at ``until`` (all of it when None).
    """
    upper = _NO_UNTIL if until is None else to_utc(until, what="until")
    markets = store.read_table("polymarket_resolutions")
    oracle = store.as_of("oracle_prices", upper, where={"source": SETTLEMENT_SOURCE}, clock_offsets=clock_offsets)
    klines = store.as_of("spot_prices", upper, where={"symbol": spot_symbol, "interval": kline_interval})
    quotes = store.as_of("polymarket_quotes", upper)
    books = store.as_of("polymarket_books", upper, where={"level": 0, "outcome": "Up"})
    return {"markets": markets, "oracle": oracle, "klines": klines, "quotes": quotes, "books": books}


def decision_rows(
    store: Store,
    *,
    interval_minutes: int | None = 15,
    until: pd.Timestamp | str | None = None,
    spot_symbol: str = "BTCUSDT",
    clock_offsets: Mapping[str, pd.Timedelta] | None = None,
    **options: Unpack[DecisionRowOptions],
) -> pd.DataFrame:
    """Decision rows of every market window in a store (DuckDB or PostgreSQL).

    Reads what the rows need (:func:`read_decision_frames`) and builds them with
    :func:`decision_rows_from_frames`.

    Parameters
    ----------
    store : Store
        An open store (:func:`pmresearch.data.store.connect`).
    interval_minutes : int, optional
        Only windows of this length (None: all).
    until : Timestamp or str, optional
        Ignore every row whose knowledge time is after it: decision rows with ``t > until`` are
        dropped, inputs are truncated, and a window ending after ``until`` has a null label.
    spot_symbol : str
        Exchange symbol of the 1-minute klines (spot fallback and exchange proxies).
    clock_offsets : mapping, optional
        Per-collector clock offsets added to ``received_at`` (see
        :func:`pmresearch.data.store.knowledge_time_sql`).
    **options
        ``every_s``, ``first_s``, ``last_s``, ``offsets``, ``schedule`` (decision times) and ``max_staleness``,
        with the defaults of :func:`decision_rows_from_frames` (:class:`DecisionRowOptions`).

    Returns
    -------
    DataFrame
        :data:`DECISION_COLUMNS`, sorted by ``(t, slug)``.
    """
    unknown = sorted(set(options) - DecisionRowOptions.__optional_keys__)
    if unknown:  # before reading the store, as an explicit signature would
        raise TypeError(f"decision_rows() got unexpected keyword arguments {unknown}")
    frames = read_decision_frames(store, until=until, spot_symbol=spot_symbol, clock_offsets=clock_offsets)
    return decision_rows_from_frames(frames, interval_minutes=interval_minutes, until=until, spot_symbol=spot_symbol,
                                     clock_offsets=clock_offsets, **options)


# ------------------------------------------------------------------------------------------ joining
def _asof(rows: pd.DataFrame, right: pd.DataFrame, cols: list[str], *, by: str | None,
          tolerance: pd.Timedelta) -> pd.DataFrame:
    """Values of ``cols`` of the last ``right`` row known at each row's ``t`` (``known_at <= t``),
    plus ``age_s``: seconds from that row's knowledge time to ``t`` (NaN where none is known)."""
    out = pd.DataFrame(index=rows.index, columns=[*cols, "age_s"], dtype="float64")
    if right.empty or rows.empty:
        return out
    keys = ["known_at"] + ([by] if by else [])
    r = right[keys + [c for c in cols if c not in keys]].dropna(subset=keys).copy()
    r["known_at"] = r["known_at"].astype(_US)
    r["_known"] = r["known_at"]
    r = r.sort_values("known_at", kind="stable")
    left = rows[["t"] + ([by] if by else [])].copy()
    left["_pos"] = np.arange(len(left))
    left = left.sort_values("t", kind="stable")
    merged = pd.merge_asof(left, r, left_on="t", right_on="known_at", by=by, direction="backward",
                           allow_exact_matches=True, tolerance=tolerance)
    merged = merged.set_index("_pos").sort_index()
    for c in cols:
        out[c] = merged[c].to_numpy(dtype=np.float64)
    age = (merged["t"] - merged["_known"]).dt.total_seconds()
    out["age_s"] = age.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _fill_in_order(candidates: Sequence[tuple[str, pd.Series]], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """First non-null value among the candidates, and the name of the candidate it came from."""
    value = pd.Series(np.nan, index=index, dtype="float64")
    source = pd.Series(None, index=index, dtype="str")
    for name, cand in candidates:
        fill = value.isna() & cand.notna()
        value[fill] = cand[fill]
        source[fill] = name
    return value, source


def _age_of(source: pd.Series, ages: Mapping[str, pd.Series]) -> pd.Series:
    """The age of the candidate each row's value came from (``source`` names it; NaN where none)."""
    out = pd.Series(np.nan, index=source.index, dtype="float64")
    for name, age in ages.items():
        pick = (source == name).to_numpy()
        out[pick] = age.to_numpy(dtype=np.float64)[pick]
    return out


def _lookback_s(window_start: pd.Timestamp, interval_minutes: int) -> int:
    """Oracle ticks averaged at a window's start under the rule in force (0: the one tick stamped
    then; -1: not settled on the oracle, e.g. hourly markets)."""
    if interval_minutes == 60:
        return -1
    rule = rules.settlement_rule_at(window_start, interval_minutes)
    return int(rule.twap_lookback_s) if rule.mode == "twap" else 0


def _oracle_strike(markets: pd.DataFrame, oracle: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Settlement value at each window start (rule in force) and when all its ticks were known."""
    idx = pd.Index(markets["slug"])
    value = pd.Series(np.nan, index=idx)
    known = pd.Series(pd.NaT, index=idx, dtype=_US)
    if oracle.empty or markets.empty:
        return value, known
    stream = oracle.sort_values("known_at").drop_duplicates("ts", keep="first").set_index("ts").sort_index()
    stream.index = pd.DatetimeIndex(stream.index).as_unit("us")
    price = stream["price"].astype("float64")
    epoch = pd.Timestamp(0, tz="UTC")
    kt_us = ((stream["known_at"].astype(_US) - epoch) // pd.Timedelta(microseconds=1)).astype("float64")
    starts = pd.DatetimeIndex(markets["window_start"]).as_unit("us")
    looks = np.array([_lookback_s(ws, int(iv)) for ws, iv in zip(
        starts, markets["interval_minutes"].to_numpy(), strict=True)], dtype=np.int64)
    vals = np.full(len(markets), np.nan)
    kts = np.full(len(markets), np.nan)
    for look in np.unique(looks[looks >= 0]):
        sel = np.flatnonzero(looks == look)
        p = tick_grid(starts[sel], price, int(look))
        k = tick_grid(starts[sel], kt_us, int(look))
        ok = ~np.isnan(p).any(axis=1)
        vals[sel[ok]] = p[ok].mean(axis=1)
        kts[sel[ok]] = k[ok].max(axis=1)
    value[:] = vals
    have = ~np.isnan(kts)
    known[have] = pd.to_datetime(kts[have].astype(np.int64), unit="us", utc=True)
    return value, known


def _empty_rows() -> pd.DataFrame:
    """No decision rows, with the columns and dtypes of real ones."""
    times = {c: pd.Series(dtype=_US) for c in ("t", "window_start", "window_end")}
    text = {c: pd.Series(dtype="str") for c in ("slug", "strike_source", "spot_source", "label_source")}
    data: dict[str, pd.Series] = {**times, **text, "interval_minutes": pd.Series(dtype="int16"),
                                  "label": pd.Series(dtype="Int8")}
    return pd.DataFrame({c: data.get(c, pd.Series(dtype="float64")) for c in DECISION_COLUMNS})


def _selected_markets(frames: Mapping[str, pd.DataFrame], interval_minutes: int | None) -> pd.DataFrame:
    """The markets of ``frames`` (checked), of one window length unless None, sorted by (window start, slug)."""
    if "markets" not in frames:
        raise ValueError("decision rows: frames must include 'markets'")
    markets = frames["markets"].copy()
    for col in ("slug", "interval_minutes", "window_start", "window_end"):
        if col not in markets.columns:
            raise ValueError(f"markets: missing column {col!r}")
    for col in ("window_start", "window_end"):
        markets[col] = ensure_utc(markets[col], what=f"markets, column {col!r}")
    if interval_minutes is not None:
        markets = markets[markets["interval_minutes"] == interval_minutes]
    return markets.sort_values(["window_start", "slug"]).reset_index(drop=True)


def _input_frame(frames: Mapping[str, pd.DataFrame], kind: str, *, spot_symbol: str, upper: pd.Timestamp | None,
                 clock_offsets: Mapping[str, pd.Timedelta] | None) -> pd.DataFrame:
    """One input (``oracle``, ``klines``, ``quotes``, ``books``) with its knowledge times: the rows decision rows
    read (the settlement feed, ``spot_symbol`` 1-minute bars, the Up token's level 0), known by ``upper``."""
    frame = frames.get(kind)
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["ts", "known_at"]).astype({"ts": _US, "known_at": _US})
    out = with_known_at(kind, frame, clock_offsets)
    if kind == "oracle" and "source" in out.columns:
        out = out[out["source"] == SETTLEMENT_SOURCE]
    if kind == "klines":
        out = out[(out["symbol"] == spot_symbol) & (out["interval"] == "1m")]
    if kind == "books":
        out = out[(out["level"] == 0) & (out["outcome"] == "Up") & out["slug"].notna()]
    if upper is not None:
        out = out[out["known_at"] <= upper]
    return out.reset_index(drop=True)


def _quote_state(rows: pd.DataFrame, quotes: pd.DataFrame, tolerance: pd.Timedelta
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As of each row's ``t``: the quote logger's latest reference price (any market: ``reference_price``,
    ``age_s``) and the row's own market's latest quote (``best_bid_up``, ``best_ask_up``, ``strike``, ``age_s``)."""
    if quotes.empty:
        return (pd.DataFrame(np.nan, index=rows.index, columns=["reference_price", "age_s"]),
                pd.DataFrame(np.nan, index=rows.index, columns=["best_bid_up", "best_ask_up", "strike", "age_s"]))
    ref = quotes.dropna(subset=["reference_price"]).sort_values(["known_at", "ts"])
    return (_asof(rows, ref, ["reference_price"], by=None, tolerance=tolerance),
            _asof(rows, quotes, ["best_bid_up", "best_ask_up", "strike"], by="slug", tolerance=tolerance))


def _spot(rows: pd.DataFrame, oracle: pd.DataFrame, klines: pd.DataFrame, reference: pd.DataFrame,
          tolerance: pd.Timedelta) -> _Columns:
    """``spot`` S_t, ``spot_source`` and ``spot_age_s``: the first of :data:`SPOT_SOURCES` known at ``t``."""
    ora = _asof(rows, oracle, ["price"], by=None, tolerance=tolerance)
    kl = _asof(rows, klines, ["close"], by=None, tolerance=tolerance)
    spot, source = _fill_in_order([("oracle", ora["price"]), ("quote-reference", reference["reference_price"]),
                                   ("exchange-kline", kl["close"])], rows.index)
    age = _age_of(source, {"oracle": ora["age_s"], "quote-reference": reference["age_s"],
                           "exchange-kline": kl["age_s"]})
    return {"spot": spot, "spot_source": source, "spot_age_s": age}


def _exchange_open(mk: pd.DataFrame, klines: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Open of each window's first 1-minute bar (indexed by slug) and when it was known (the bar's close)."""
    if klines.empty:
        return pd.Series(np.nan, index=mk.index), pd.Series(pd.NaT, index=mk.index, dtype=_US)
    bars = klines.drop_duplicates("ts").set_index("ts")
    ws = pd.DatetimeIndex(mk["window_start"])
    return (pd.Series(bars["open"].reindex(ws).to_numpy(dtype=np.float64), index=mk.index),
            pd.Series(bars["known_at"].reindex(ws).to_numpy(), index=mk.index))


def _strike(rows: pd.DataFrame, markets: pd.DataFrame, oracle: pd.DataFrame, klines: pd.DataFrame,
            quote_strike: pd.Series) -> _Columns:
    """``strike`` and ``strike_source``: the first of :data:`STRIKE_SOURCES` known at ``t``."""
    mk = markets.set_index("slug")
    slugs, t = rows["slug"], rows["t"]

    def known(values: pd.Series, known_at: pd.Series) -> pd.Series:
        v = slugs.map(values).astype("float64")
        k = pd.Series(pd.to_datetime(slugs.map(known_at), utc=True), index=rows.index)
        return v.where(k.notna() & (k <= t))

    recorded = mk["strike"].astype("float64") if "strike" in mk.columns else pd.Series(np.nan, index=mk.index)
    ora_strike, ora_known = _oracle_strike(markets, oracle)
    open_at, open_known = _exchange_open(mk, klines)
    strike, source = _fill_in_order([
        ("recorded", known(recorded, mk["window_start"])),
        ("quote-logger", quote_strike),
        ("oracle", known(ora_strike, ora_known)),
        ("exchange-proxy", known(open_at, open_known)),
    ], rows.index)
    return {"strike": strike, "strike_source": source}


def _labels(rows: pd.DataFrame, markets: pd.DataFrame, oracle: pd.DataFrame, klines: pd.DataFrame,
            upper: pd.Timestamp | None) -> _Columns:
    """``label``, ``label_source`` (per window, null when it ends after ``upper``) and ``tau_s``."""
    labels = window_labels(markets, oracle=oracle, klines=klines, until=upper)
    slugs = rows["slug"]
    return {"label": pd.array(slugs.map(labels["label"]).to_numpy(dtype=object), dtype="Int8"),
            "label_source": slugs.map(labels["label_source"]).astype("str"),
            "tau_s": (rows["window_end"] - rows["t"]).dt.total_seconds().astype("float64")}


def _market_state(rows: pd.DataFrame, quote: pd.DataFrame, books: pd.DataFrame,
                  tolerance: pd.Timedelta) -> _Columns:
    """:data:`MARKET_STATE_COLUMNS` and ``book_age_s``: each side from the latest quote, else the Up token's
    level-0 book, its age from where it came; sizes from the book (the quotes carry none)."""
    bid, ask = quote["best_bid_up"].copy(), quote["best_ask_up"].copy()
    bid_size = pd.Series(np.nan, index=rows.index)
    ask_size = pd.Series(np.nan, index=rows.index)
    bid_age = quote["age_s"].where(bid.notna())
    ask_age = quote["age_s"].where(ask.notna())
    if not books.empty:
        bstate = _asof(rows, books[books["side"] == "bid"], ["price", "size"], by="slug", tolerance=tolerance)
        astate = _asof(rows, books[books["side"] == "ask"], ["price", "size"], by="slug", tolerance=tolerance)
        for price, size, age, state in ((bid, bid_size, bid_age, bstate), (ask, ask_size, ask_age, astate)):
            from_book = price.isna() & state["price"].notna()
            price[from_book] = state.loc[from_book, "price"]
            age[from_book] = state.loc[from_book, "age_s"]
            size[:] = state["size"]  # the Up token's level-0 size (the quotes carry no sizes)
    bid, ask = bid.astype("float64"), ask.astype("float64")
    return {"book_age_s": np.fmax(bid_age.to_numpy(dtype=np.float64), ask_age.to_numpy(dtype=np.float64)),
            "bid_up": bid, "ask_up": ask, "mid_up": (bid + ask) / 2.0, "spread_up": ask - bid,
            "bid_size_up": bid_size.astype("float64"), "ask_size_up": ask_size.astype("float64")}


def decision_rows_from_frames(
    frames: Mapping[str, pd.DataFrame],
    *,
    interval_minutes: int | None = 15,
    every_s: float | None = 30.0,
    first_s: float = 60.0,
    last_s: float = 30.0,
    offsets: Sequence[str | float | pd.Timedelta] | str | None = None,
    until: pd.Timestamp | str | None = None,
    spot_symbol: str = "BTCUSDT",
    max_staleness: pd.Timedelta = DEFAULT_MAX_STALENESS,
    clock_offsets: Mapping[str, pd.Timedelta] | None = None,
    schedule: DecisionSchedule | None = None,
) -> pd.DataFrame:
    """Decision rows from in-memory canonical frames (a store read, or a simulated world's frames).

    Parameters
    ----------
    frames : mapping
        ``markets`` (required), and any of ``oracle``, ``klines``, ``quotes``, ``books`` in the
        canonical schemas; rows lacking ``known_at`` get their DESIGN.md knowledge time. Oracle rows
        of another source than the settlement feed, klines of another symbol or bar length than
        ``spot_symbol``/1m, and book rows other than the Up token's level 0 are ignored.
    interval_minutes : int, optional
        Only windows of this length (None: all).
    every_s, first_s, last_s, offsets, schedule
        Decision times (see :func:`decision_times`; ``schedule`` instead of the other four).
    until : Timestamp or str, optional
        Ignore every row whose knowledge time is after it: decision rows with ``t > until`` are
        dropped, inputs are truncated, and a window ending after ``until`` has a null label.
    spot_symbol : str
        Exchange symbol of the 1-minute klines (spot fallback and exchange proxies).
    max_staleness : Timedelta
        An as-of value older than this (by knowledge time) is treated as unknown.
    clock_offsets : mapping, optional
        Per-collector clock offsets added to ``received_at`` (see
        :func:`pmresearch.data.store.knowledge_time_sql`).

    Returns
    -------
    DataFrame
        :data:`DECISION_COLUMNS`, sorted by ``(t, slug)``.
    """
    upper = None if until is None else to_utc(until, what="until")
    markets = _selected_markets(frames, interval_minutes)
    oracle, klines, quotes, books = (_input_frame(frames, kind, spot_symbol=spot_symbol, upper=upper,
                                                  clock_offsets=clock_offsets)
                                     for kind in ("oracle", "klines", "quotes", "books"))
    rows = decision_times(markets, every_s, first_s, last_s, offsets=offsets, schedule=schedule)
    if upper is not None:
        rows = rows[rows["t"] <= upper].reset_index(drop=True)
    rows["interval_minutes"] = rows["interval_minutes"].astype("int16")
    if rows.empty:
        return _empty_rows()
    reference, quote = _quote_state(rows, quotes, max_staleness)
    rows = rows.assign(**_spot(rows, oracle, klines, reference, max_staleness),
                       **_strike(rows, markets, oracle, klines, quote["strike"]),
                       **_labels(rows, markets, oracle, klines, upper),
                       **_market_state(rows, quote, books, max_staleness))
    out = rows[DECISION_COLUMNS].reset_index(drop=True)
    for col in ("strike_source", "spot_source", "label_source"):
        out[col] = out[col].astype("str").where(out[col].notna(), None)
    return out
