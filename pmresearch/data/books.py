"""Order books: one representation for every source (websocket recordings, the simulator).

A book lands in two tables (DESIGN.md, "Books"):

* ``polymarket_book_events`` (data kind ``book_events``): one row per changed price level, key
  ``(token_id, ts, side, price)``; ``size`` is the level's new size and 0 removes it. A token's first
  update gives all its levels. The book at any instant is the replay of its events.
* ``polymarket_books`` (data kind ``books``): full-depth snapshots at a declared cadence, key
  ``(token_id, ts, side, level)``, level 0 the best (bids by price descending, asks ascending).

The snapshot rule (:data:`SNAPSHOT_EVERY_S`): a token's book is snapshotted at its first update and
then at its first update in each new ``snapshot_every_s``-second bucket of exchange time
(``floor(ts / every)``), so at most one snapshot per token and bucket, always at an update time.
``snapshot_every_s=0`` snapshots every update.

:class:`BookRecorder` is the streaming core (a dict per side and token, plain Python: only the
changed levels are emitted); the websocket importer and :func:`events_from_snapshots` both use it.
:func:`replay` is an independent, vectorised rebuild of full books from events; :func:`book_at`
reads the book at any instant from a store (the last snapshot at or before it plus the events
after), the same in DuckDB and PostgreSQL.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from pmresearch import rules
from pmresearch.data.schemas import validate

if TYPE_CHECKING:
    from pmresearch.data.store import Store

__all__ = [
    "BOOK_COLUMNS",
    "EVENT_COLUMNS",
    "SNAPSHOT_EVERY_S",
    "BookRecorder",
    "best_quotes",
    "book_as_of",
    "book_at",
    "complement",
    "events_from_snapshots",
    "replay",
    "snapshots_from_events",
    "up_quotes",
]

#: Default snapshot cadence of ``polymarket_books`` built from level changes, in seconds of exchange time.
SNAPSHOT_EVERY_S = 10.0

#: Columns of the ``book_events`` kind and of the ``books`` kind (the L2 schemas of the data README).
EVENT_COLUMNS = ["ts", "slug", "token_id", "outcome", "side", "price", "size"]
BOOK_COLUMNS = ["ts", "slug", "token_id", "outcome", "side", "level", "price", "size"]

_SIDES = ("bid", "ask")
Levels = dict[float, Any]  # price -> size (a float, or its text as received)


def complement(price: Any) -> Any:
    """``1 - price`` on the venue's tick grid (:func:`pmresearch.rules.round_to_tick`, nearest), so
    ``1 - 0.45`` is exactly ``0.55`` and a fine-tick price such as ``1 - 0.962 = 0.038`` stays as it is.

    The other token's book mirrors this one's: Up bid = 1 - Down ask, Up ask = 1 - Down bid. NaN
    stays NaN.
    """
    return rules.round_to_tick(1.0 - np.asarray(price, dtype="float64"), "nearest", clip=False)


def _utc_us(values: Any) -> pd.Series:
    """Epoch microseconds (int64) as a ``datetime64[us, UTC]`` Series."""
    return pd.Series(np.asarray(values, dtype="int64").view("datetime64[us]")).dt.tz_localize("UTC")


def _ts_us(value: pd.Timestamp | str) -> int:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{value!r} is naive; pmresearch requires tz-aware UTC")
    return int(ts.tz_convert("UTC").value) // 1000  # .value is in ns whatever the unit


class BookRecorder:
    """Streaming book keeper: the current book per token, the changed levels and periodic snapshots.

    Feed it full books in exchange-time order per token with :meth:`update` (or level changes with
    :meth:`apply`); it keeps one dict per side and token, appends one event per changed level (size
    0 for a removed level; a token's first update gives all its levels) and a full snapshot per the
    module's snapshot rule. Rows accumulate in compact arrays until taken with :meth:`take_events`
    and :meth:`take_snapshots`, so a caller can load them in chunks with bounded memory.

    Parameters
    ----------
    snapshot_every_s : float
        Snapshot cadence in seconds (see the module docstring); 0 snapshots every update.
    """

    def __init__(self, snapshot_every_s: float = SNAPSHOT_EVERY_S) -> None:
        if not snapshot_every_s >= 0:
            raise ValueError(f"snapshot_every_s must be >= 0, got {snapshot_every_s!r}")
        self.snapshot_every_s = float(snapshot_every_s)
        self._every_us = round(self.snapshot_every_s * 1e6)
        self._index: dict[str, int] = {}
        self.tokens: list[str] = []
        self.slugs: list[str | None] = []
        self.outcomes: list[str | None] = []
        self._books: list[tuple[Levels, Levels]] = []
        self._last_ts: list[int] = []
        self._bucket: list[int] = []
        self._new_events()
        self._new_snapshots()

    def _new_events(self) -> None:
        self._ev_ts, self._ev_tok, self._ev_side = array("q"), array("i"), array("b")
        self._ev_price, self._ev_size = array("d"), array("d")

    def _new_snapshots(self) -> None:
        self._sn_ts, self._sn_tok, self._sn_side = array("q"), array("i"), array("b")
        self._sn_level, self._sn_price, self._sn_size = array("h"), array("d"), array("d")

    @property
    def pending_events(self) -> int:
        """Event rows not yet taken."""
        return len(self._ev_ts)

    @property
    def pending_snapshots(self) -> int:
        """Snapshot rows not yet taken."""
        return len(self._sn_ts)

    def token(self, token_id: str, slug: str | None = None, outcome: str | None = None) -> int:
        """The index of ``token_id`` (registered with its slug and outcome on first sight)."""
        i = self._index.get(token_id)
        if i is None:
            i = self._index[token_id] = len(self.tokens)
            self.tokens.append(token_id)
            self.slugs.append(slug)
            self.outcomes.append(outcome)
            self._books.append(({}, {}))
            self._last_ts.append(-(1 << 62))
            self._bucket.append(-(1 << 62))
        return i

    def book(self, token_id: str) -> tuple[Levels, Levels] | None:
        """The current ``(bids, asks)`` of a token (price -> size; do not modify), or None if unseen."""
        i = self._index.get(token_id)
        return None if i is None else self._books[i]

    def apply(self, token_id: str, ts_us: int, changes: Iterable[tuple[str, float, Any]]) -> None:
        """Apply level changes ``(side, price, size)`` (size 0 removes) to a token's book at ``ts_us``."""
        i = self.token(token_id)
        bids, asks = (dict(d) for d in self._books[i])
        for side, price, size in changes:
            book = bids if side == "bid" else asks
            if float(size) == 0:
                book.pop(price, None)
            else:
                book[price] = size
        self.update(token_id, ts_us, bids, asks)

    def update(self, token_id: str, ts_us: int, bids: Levels, asks: Levels) -> None:
        """Record the token's full book as of ``ts_us`` (epoch microseconds; increasing per token).

        ``bids``/``asks`` map price (float) to size: a float, or its text as received (only changed
        levels are then parsed, the hot path of the websocket importer). They are kept, not copied;
        zero sizes mean no level.

        Raises
        ------
        ValueError
            When ``ts_us`` is not after the token's previous update, or a changed size is not a
            finite number >= 0.
        """
        i = self.token(token_id)
        if ts_us <= self._last_ts[i]:
            raise ValueError(f"token {token_id}: update at {ts_us} us is not after the previous one "
                             f"({self._last_ts[i]} us); updates of a token must be in exchange-time order")
        self._last_ts[i] = ts_us
        old_bids, old_asks = self._books[i]
        if old_bids != bids:
            bids = self._diff(i, ts_us, 0, old_bids, bids)
        if old_asks != asks:
            asks = self._diff(i, ts_us, 1, old_asks, asks)
        self._books[i] = (bids, asks)
        bucket = ts_us // self._every_us if self._every_us else ts_us
        if bucket != self._bucket[i]:
            self._bucket[i] = bucket
            self._snapshot(i, ts_us, bids, asks)

    def _diff(self, i: int, ts_us: int, side: int, old: Levels, new: Levels) -> Levels:
        """Append the changed levels of one side (set differences, in C); ``new`` without zero sizes."""
        rows: list[tuple[float, float]] = []
        zeros = []
        for p, s in new.items() - old.items():
            size = float(s)
            if not 0.0 <= size < math.inf:
                raise ValueError(f"size {s!r} at price {p} is not a finite number >= 0")
            if size == 0.0:
                zeros.append(p)
                if p not in old:
                    continue
            rows.append((p, size))
        rows.extend((p, 0.0) for p in old.keys() - new.keys())
        if zeros:
            new = {p: s for p, s in new.items() if p not in zeros}
        rows.sort()
        n = len(rows)
        self._ev_ts.extend([ts_us] * n)
        self._ev_tok.extend([i] * n)
        self._ev_side.extend([side] * n)
        self._ev_price.extend([p for p, _ in rows])
        self._ev_size.extend([s for _, s in rows])
        return new

    def _snapshot(self, i: int, ts_us: int, bids: Levels, asks: Levels) -> None:
        for side, levels in ((0, sorted(bids.items(), reverse=True)), (1, sorted(asks.items()))):
            n = len(levels)
            self._sn_ts.extend([ts_us] * n)
            self._sn_tok.extend([i] * n)
            self._sn_side.extend([side] * n)
            self._sn_level.extend(range(n))
            self._sn_price.extend([p for p, _ in levels])
            self._sn_size.extend([float(s) for _, s in levels])

    def _labels(self, codes: array[int]) -> dict[str, pd.Categorical]:
        idx = np.frombuffer(codes, dtype=np.int32) if len(codes) else np.zeros(0, dtype=np.int32)
        out = {"token_id": pd.Categorical.from_codes(idx, categories=pd.Index(self.tokens, dtype=object))}
        for name, values in (("slug", self.slugs), ("outcome", self.outcomes)):
            cats = pd.Index(sorted({v for v in values if v is not None}), dtype=object)
            lookup = np.array([cats.get_loc(v) if v is not None else -1 for v in values], dtype=np.int32)
            out[name] = pd.Categorical.from_codes(lookup[idx] if len(idx) else idx, categories=cats)
        return out

    def _row_labels(self, ts: array[int], codes: array[int], sides: array[int]) -> dict[str, Any]:
        """The leading columns of recorded rows: ``ts``, ``slug``, ``token_id``, ``outcome``, ``side``."""
        lab = self._labels(codes)
        side = np.frombuffer(sides, dtype=np.int8) if len(sides) else np.zeros(0, np.int8)
        return {
            "ts": _utc_us(np.frombuffer(ts, dtype=np.int64) if len(ts) else []),
            "slug": lab["slug"], "token_id": lab["token_id"], "outcome": lab["outcome"],
            "side": pd.Categorical.from_codes(side, categories=pd.Index(_SIDES, dtype=object)),
        }

    def take_events(self) -> pd.DataFrame:
        """The event rows recorded since the last call (``book_events`` columns, not validated)."""
        frame = pd.DataFrame({
            **self._row_labels(self._ev_ts, self._ev_tok, self._ev_side),
            "price": np.array(self._ev_price, dtype="float64"), "size": np.array(self._ev_size, dtype="float64"),
        })
        self._new_events()
        return frame

    def take_snapshots(self) -> pd.DataFrame:
        """The snapshot rows recorded since the last call (``books`` columns, not validated)."""
        frame = pd.DataFrame({
            **self._row_labels(self._sn_ts, self._sn_tok, self._sn_side),
            "level": np.array(self._sn_level, dtype="int16"),
            "price": np.array(self._sn_price, dtype="float64"), "size": np.array(self._sn_size, dtype="float64"),
        })
        self._new_snapshots()
        return frame


def _token_meta(frame: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """token_id -> (slug, outcome): the first non-null of each per token."""
    meta: dict[str, tuple[str | None, str | None]] = {}
    for token, grp in frame.groupby("token_id", sort=False, observed=True):
        slug = grp["slug"].dropna()
        outcome = grp["outcome"].dropna()
        meta[str(token)] = (str(slug.iloc[0]) if len(slug) else None,
                            str(outcome.iloc[0]) if len(outcome) else None)
    return meta


def _groups(frame: pd.DataFrame) -> Iterable[tuple[str, int, pd.DataFrame]]:
    """``(token_id, ts in us, rows)`` per update, in exchange-time order (ties: token order of first sight)."""
    if frame.empty:
        return
    ts = frame["ts"].dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64").to_numpy()
    data = frame.assign(_us=ts).sort_values(["_us"], kind="stable")
    for key, grp in data.groupby(["_us", "token_id"], sort=False, observed=True):
        us, token = cast(tuple[Any, Any], key)
        yield str(token), int(us), grp


def events_from_snapshots(levels: pd.DataFrame, *, source: str = "books") -> pd.DataFrame:
    """Level changes (``book_events``) from full books (``books`` rows, one full book per token and ts).

    Consecutive books of a token are diffed: the changed levels at each ts, size 0 for a level that
    disappeared, all levels at the token's first book. The inverse of :func:`snapshots_from_events`
    with ``snapshot_every_s=0``.

    Parameters
    ----------
    levels : DataFrame
        Canonical books (``ts, slug, token_id, outcome, side, level, price, size``).
    source : str
        Names the input in validation errors.
    """
    recorder = BookRecorder()
    meta = _token_meta(levels)
    for token, us, grp in _groups(levels):
        slug, outcome = meta[token]
        recorder.token(token, slug, outcome)
        bid = grp["side"].to_numpy() == "bid"
        price, size = grp["price"].to_numpy(dtype="float64"), grp["size"].to_numpy(dtype="float64")
        recorder.update(token, us, dict(zip(price[bid].tolist(), size[bid].tolist(), strict=True)),
                        dict(zip(price[~bid].tolist(), size[~bid].tolist(), strict=True)))
    return validate(_plain(recorder.take_events()), "book_events", source=source)


def snapshots_from_events(events: pd.DataFrame, every: float = SNAPSHOT_EVERY_S, *,
                          source: str = "book_events") -> pd.DataFrame:
    """Full-depth snapshots (``books``) of level changes at the cadence ``every`` seconds.

    The snapshot rule of the module docstring: a token's first update, then its first update in each
    new ``every``-second bucket of exchange time; ``every=0`` gives the book after every update.
    """
    recorder = BookRecorder(every)
    meta = _token_meta(events)
    for token, us, grp in _groups(events):
        slug, outcome = meta[token]
        recorder.token(token, slug, outcome)
        recorder.apply(token, us, zip(grp["side"].tolist(), grp["price"].tolist(), grp["size"].tolist(),
                                      strict=True))
    return validate(_plain(recorder.take_snapshots()), "books", source=source)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns as plain text (the canonical dtypes)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def replay(events: pd.DataFrame, until: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Full books of every token as of ``until`` (inclusive; default: after the last event).

    A vectorised rebuild independent of :class:`BookRecorder`: the last event of each
    ``(token_id, side, price)`` at or before ``until`` gives the level's size; size 0 means gone.

    Returns
    -------
    DataFrame
        ``books`` columns, bids by price descending then asks ascending per token, ``level`` 0 the
        best; ``ts`` is ``until`` (or the token's last event time when ``until`` is None).
    """
    ev = events
    if until is not None:
        ev = ev[ev["ts"] <= pd.Timestamp(_ts_us(until), unit="us", tz="UTC")]
    if ev.empty:
        return pd.DataFrame({c: pd.Series(dtype=events[c].dtype if c in events else "int16") for c in BOOK_COLUMNS})
    ev = ev.sort_values("ts", kind="stable")
    last_ts = ev.groupby("token_id", observed=True)["ts"].max()
    last = ev.drop_duplicates(["token_id", "side", "price"], keep="last")
    book = last[last["size"] > 0].copy()
    book["_desc"] = np.where(book["side"].astype(str) == "bid", -book["price"], book["price"])
    book["_side"] = (book["side"].astype(str) == "ask").astype("int8")
    book = book.sort_values(["token_id", "_side", "_desc"], kind="stable")
    book["level"] = book.groupby(["token_id", "_side"], observed=True).cumcount().astype("int16")
    if until is not None:
        book["ts"] = pd.Timestamp(_ts_us(until), unit="us", tz="UTC")
    else:
        book["ts"] = book["token_id"].map(last_ts).astype("datetime64[us, UTC]")
    return book[BOOK_COLUMNS].reset_index(drop=True)


def book_as_of(source: pd.DataFrame | Store, token_id: str, t: pd.Timestamp | str) -> pd.DataFrame:
    """The full book of ``token_id`` as it stood at ``t``: from an events frame or from a store.

    With a frame, :func:`replay` of the token's events at or before ``t``; with a store,
    :func:`book_at`. Columns as :func:`replay` (``ts`` is ``t``).
    """
    if isinstance(source, pd.DataFrame):
        return replay(source[source["token_id"] == token_id], until=t)
    return book_at(source, token_id, t)


def book_at(store: Store, token_id: str, t: pd.Timestamp | str) -> pd.DataFrame:
    """The full book of ``token_id`` at the instant ``t``, read from a store.

    The last ``polymarket_books`` snapshot at or before ``t`` plus the ``polymarket_book_events``
    after it up to ``t`` (all events up to ``t`` when there is no snapshot), replayed. Both backends
    give the same frame. An empty frame when the token has no data by ``t``.
    """
    at = pd.Timestamp(_ts_us(t), unit="us", tz="UTC")
    stamp = at.to_pydatetime()
    snap = store.query("SELECT max(ts) AS ts FROM polymarket_books WHERE token_id = ? AND ts <= ?",
                       [token_id, stamp])
    snap_ts = snap["ts"].iloc[0] if len(snap) else None
    cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    if snap_ts is not None and not pd.isna(snap_ts):
        base = store.query(f"SELECT {cols} FROM polymarket_books WHERE token_id = ? AND ts = ?",
                           [token_id, pd.Timestamp(snap_ts).to_pydatetime()])
        later = store.query(f"SELECT {cols} FROM polymarket_book_events WHERE token_id = ? AND ts > ? AND ts <= ? "
                            "ORDER BY ts, side, price", [token_id, pd.Timestamp(snap_ts).to_pydatetime(), stamp])
        # the snapshot is the whole book: levels absent from it are gone, so it replaces, not adds
        frames = [base, later] if len(later) else [base]
    else:
        frames = [store.query(f"SELECT {cols} FROM polymarket_book_events WHERE token_id = ? AND ts <= ? "
                              "ORDER BY ts, side, price", [token_id, stamp])]
    events = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for c in ("price", "size"):
        events[c] = events[c].astype("float64")
    events["ts"] = pd.to_datetime(events["ts"], utc=True).astype("datetime64[us, UTC]")
    return replay(events, until=at)


#: Prices of :func:`best_quotes` are levels of a 0.001 grid on [0, 1] (the venue's finest tick).
_QUOTE_SLOTS = 1001
_QUOTE_TOL = 1e-9
_QUOTE_COLUMNS = ["ts", "slug", "token_id", "outcome", "best_bid", "bid_size", "best_ask", "ask_size"]


def _first_rows_python(codes: Any, mask: Any, n_tokens: int) -> Any:
    """The first row of each token code (0 .. n_tokens - 1) where ``mask`` holds; -1 where none."""
    first = np.full(n_tokens, -1, dtype=np.int64)
    for i in range(codes.shape[0]):
        t = codes[i]
        if t >= 0 and mask[i] and first[t] < 0:
            first[t] = i
    return first


def _quotes_kernel_python(us: Any, tok: Any, slot: Any, bid: Any, zero: Any, n_tokens: int) -> Any:
    """Best levels of every token after each of its updates (the reference of :func:`_quotes_kernel_nb`).

    Rows are given in the order of a stable sort by ``us`` (epoch us); ``tok`` the token code (0 ..
    n_tokens - 1), ``slot`` the price as ``round(price * 1000)``, ``bid`` the side, ``zero`` a removal.
    An update is a ``(us, token)`` pair; updates are numbered by time, ties by the token's first row at
    that time (the order of ``_groups``), and a token's updates are applied in that order, each update's
    rows in their order. Returns ``(n, us, token, bid_key, bid_set, ask_key, ask_set)`` per update: the
    rows (in the input order) that inserted the best bid level (its price) and last set it (its size),
    the same for the best ask, -1 where that side is empty.
    """
    n = us.shape[0]
    # 1. updates: one per (us, token), numbered by time then first sight within the time
    grp = np.empty(n, dtype=np.int64)
    grp_us = np.empty(n, dtype=np.int64)
    grp_tok = np.empty(n, dtype=np.int64)
    mark = np.full(n_tokens, -1, dtype=np.int64)
    gid = np.zeros(n_tokens, dtype=np.int64)
    ng = 0
    i = 0
    while i < n:
        j = i
        while j < n and us[j] == us[i]:
            t = tok[j]
            if mark[t] != i:
                mark[t] = i
                gid[t] = ng
                grp_us[ng] = us[i]
                grp_tok[ng] = t
                ng += 1
            grp[j] = gid[t]
            j += 1
        i = j
    # 2. rows by token (a stable counting sort: each token's rows stay in update order)
    start = np.zeros(n_tokens + 1, dtype=np.int64)
    for r in range(n):
        start[tok[r] + 1] += 1
    for t in range(n_tokens):
        start[t + 1] += start[t]
    fill = start[:-1].copy()
    perm = np.empty(n, dtype=np.int64)
    for r in range(n):
        t = tok[r]
        perm[fill[t]] = r
        fill[t] += 1
    # 3. each token's book: the row that inserted each level (its price) and the row that last set it (size)
    bid_key = np.full(_QUOTE_SLOTS, -1, dtype=np.int64)
    bid_set = np.full(_QUOTE_SLOTS, -1, dtype=np.int64)
    ask_key = np.full(_QUOTE_SLOTS, -1, dtype=np.int64)
    ask_set = np.full(_QUOTE_SLOTS, -1, dtype=np.int64)
    out_bk = np.empty(ng, dtype=np.int64)
    out_bs = np.empty(ng, dtype=np.int64)
    out_ak = np.empty(ng, dtype=np.int64)
    out_as = np.empty(ng, dtype=np.int64)
    for t in range(n_tokens):
        a, b = start[t], start[t + 1]
        bb = -1  # best bid slot, -1: none
        ba = _QUOTE_SLOTS  # best ask slot, _QUOTE_SLOTS: none
        for q in range(a, b):
            r = perm[q]
            k = slot[r]
            if bid[r]:
                if zero[r]:
                    if bid_key[k] >= 0:
                        bid_key[k] = -1
                        bid_set[k] = -1
                        if k == bb:
                            bb = k - 1
                            while bb >= 0 and bid_key[bb] < 0:
                                bb -= 1
                else:
                    if bid_key[k] < 0:
                        bid_key[k] = r
                    bid_set[k] = r
                    if k > bb:
                        bb = k
            else:
                if zero[r]:
                    if ask_key[k] >= 0:
                        ask_key[k] = -1
                        ask_set[k] = -1
                        if k == ba:
                            ba = k + 1
                            while ba < _QUOTE_SLOTS and ask_key[ba] < 0:
                                ba += 1
                else:
                    if ask_key[k] < 0:
                        ask_key[k] = r
                    ask_set[k] = r
                    if k < ba:
                        ba = k
            g = grp[r]
            if q + 1 == b or grp[perm[q + 1]] != g:  # the update's last row: its quotes
                out_bk[g] = bid_key[bb] if bb >= 0 else -1
                out_bs[g] = bid_set[bb] if bb >= 0 else -1
                out_ak[g] = ask_key[ba] if ba < _QUOTE_SLOTS else -1
                out_as[g] = ask_set[ba] if ba < _QUOTE_SLOTS else -1
        for q in range(a, b):  # empty the book for the next token (only the slots it touched)
            k = slot[perm[q]]
            bid_key[k] = -1
            bid_set[k] = -1
            ask_key[k] = -1
            ask_set[k] = -1
    return ng, grp_us[:ng], grp_tok[:ng], out_bk, out_bs, out_ak, out_as


@functools.cache
def _quote_kernels_nb() -> tuple[Any, Any]:
    """The compiled twins of :func:`_first_rows_python` and :func:`_quotes_kernel_python` (numba is
    imported on first use, not with the data layer)."""
    import numba

    return (numba.njit(cache=True, nogil=True)(_first_rows_python),
            numba.njit(cache=True, nogil=True)(_quotes_kernel_python))


def _quote_price_slots(price: pd.Series, rows: Any) -> Any:
    """``round(price * 1000)`` as int64; a ValueError naming the first row off the grid or outside [0, 1]
    (``rows``: the positions of ``price``'s rows in the caller's frame)."""
    try:
        p = price.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"best_quotes: column 'price' is not numeric ({exc})") from None
    scaled = p * 1000.0
    k = np.rint(scaled)
    ok = (np.abs(p - k / 1000.0) <= _QUOTE_TOL) & (k >= 0) & (k <= _QUOTE_SLOTS - 1)  # False for NaN
    if not ok.all():
        pos = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"best_quotes: column 'price', row {int(rows[pos])} (index {price.index[pos]}): "
                         f"{price.iloc[pos]} is not a multiple of 0.001 in [0, 1] (within {_QUOTE_TOL:g})")
    return k.astype(np.int64)


def _quote_values(col: pd.Series, rows: Any) -> list[Any]:
    """The column's values at ``rows`` as Python objects (``tolist``), NaN where a row is -1."""
    vals = col.take(np.where(rows >= 0, rows, 0)).tolist()
    for i in np.flatnonzero(rows < 0).tolist():
        vals[i] = np.nan
    return vals


def best_quotes(events: pd.DataFrame, *, compiled: bool = True) -> pd.DataFrame:
    """Best bid and ask (with their sizes) of every token after each of its updates.

    An update is a token's rows at one ``ts``, applied in their order (size 0 removes a level, any
    other size sets it). Prices must be multiples of 0.001 in [0, 1] (within 1e-9; a ValueError names
    the first row that is not): each book is an array of 1001 levels, replayed by a numba kernel
    (``compiled=False``: its plain-Python reference, the same rows). Text columns may be plain or
    categorical, sizes floats or Decimal-like; rows without a token are ignored.

    Returns
    -------
    DataFrame
        ``ts, slug, token_id, outcome, best_bid, bid_size, best_ask, ask_size`` (NaN where that side
        of the book is empty), one row per token and update time, in time order (ties: the tokens'
        order of first sight at that time). ``slug`` and ``outcome`` are a token's first non-null.
    """
    us_all = events["ts"].dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64").to_numpy()
    token = events["token_id"]
    if isinstance(token.dtype, pd.CategoricalDtype):
        codes = token.cat.codes.to_numpy().astype(np.int64)
        uniques: Any = token.cat.categories
    else:
        codes, uniques = pd.factorize(token, use_na_sentinel=True)
        codes = codes.astype(np.int64)
    n_tokens = len(uniques)
    keep = np.flatnonzero(codes >= 0)
    if keep.size == 0:
        empty = pd.DataFrame([], columns=_QUOTE_COLUMNS)
        empty["ts"] = _utc_us(np.zeros(0, dtype=np.int64))
        return empty
    if keep.size < len(events):
        events = events.iloc[keep]
        us_all, codes = us_all[keep], codes[keep]
    slot = _quote_price_slots(events["price"], keep)
    bid = (events["side"] == "bid").to_numpy(dtype=bool, na_value=False)
    size = events["size"]
    zero = np.asarray(size.to_numpy() == 0, dtype=bool)
    first_rows, kernel = _quote_kernels_nb() if compiled else (_first_rows_python, _quotes_kernel_python)
    order = np.argsort(us_all, kind="stable")
    _, grp_us, grp_tok, bk, bs, ak, as_ = kernel(us_all[order], codes[order], slot[order], bid[order],
                                                 zero[order], n_tokens)
    # rows of the updates' quotes, as positions in ``events`` (the kernel's are in the sorted order)
    bk, bs, ak, as_ = (np.where(r >= 0, order[np.maximum(r, 0)], -1) for r in (bk, bs, ak, as_))

    # per token: str(token id) and its first non-null slug and outcome (in the rows' order)
    used = np.unique(grp_tok)
    meta: dict[str, list[Any]] = {"slug": [], "token_id": [str(uniques[t]) for t in used.tolist()], "outcome": []}
    for name in ("slug", "outcome"):
        col = events[name]
        first = first_rows(codes, col.notna().to_numpy(), n_tokens)[used]
        vals = col.take(np.maximum(first, 0)).tolist()
        meta[name] = [str(v) if f >= 0 else None for v, f in zip(vals, first.tolist(), strict=True)]
    # inferred as the rows of a plain frame would be (str, or object when all None): per token, then taken
    text = pd.DataFrame(list(zip(meta["slug"], meta["token_id"], meta["outcome"], strict=True)),
                        columns=["slug", "token_id", "outcome"])
    text = text.take(np.searchsorted(used, grp_tok)).reset_index(drop=True)

    price_col = events["price"]
    if price_col.dtype.kind == "f" and size.dtype.kind == "f":
        p = price_col.to_numpy(dtype="float64")
        s = size.to_numpy(dtype="float64")
        values = pd.DataFrame({
            "best_bid": np.where(bk >= 0, p[bk], np.nan), "bid_size": np.where(bs >= 0, s[bs], np.nan),
            "best_ask": np.where(ak >= 0, p[ak], np.nan), "ask_size": np.where(as_ >= 0, s[as_], np.nan)})
    else:  # Python objects (Decimal, int, ...): the values themselves, typed as rows of a plain frame would be
        values = pd.DataFrame(list(zip(_quote_values(price_col, bk), _quote_values(size, bs),
                                       _quote_values(price_col, ak), _quote_values(size, as_), strict=True)),
                              columns=["best_bid", "bid_size", "best_ask", "ask_size"])
    frame = pd.concat([text, values], axis=1)
    frame.insert(0, "ts", _utc_us(grp_us))
    return frame[_QUOTE_COLUMNS]


def up_quotes(best: pd.DataFrame, outcome: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Up-token best bid/ask from :func:`best_quotes` rows of Up or Down tokens.

    An Up token's rows pass through; a Down token's give Up bid = 1 - Down ask and Up ask = 1 -
    Down bid (:func:`complement`). ``outcome`` maps token id to ``Up``/``Down`` where the rows'
    ``outcome`` column is null. Returns ``ts, slug, token_id, best_bid_up, best_ask_up``.
    """
    out = best.copy()
    side = out["outcome"].astype(object)
    if outcome is not None:
        side = side.where(side.notna(), out["token_id"].map(outcome))
    down = (side == "Down").to_numpy()
    out["best_bid_up"] = np.where(down, complement(out["best_ask"]), out["best_bid"])
    out["best_ask_up"] = np.where(down, complement(out["best_bid"]), out["best_ask"])
    return out[["ts", "slug", "token_id", "best_bid_up", "best_ask_up"]]
