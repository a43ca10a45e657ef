"""Replaying a recorded market-channel log: records in exchange-time order, applied per instant.

:class:`WsReader` takes the decoded lines (:func:`pmresearch.data.ws_events.decode_message`), puts their
book records back in exchange-time order within :data:`REORDER_WINDOW_MS`, applies the records of one
exchange millisecond to each token's :class:`~pmresearch.data.ws_events.TokenBook`, hands the books to
:class:`~pmresearch.data.books.BookRecorder` (book events and snapshots) and rebuilds quotes from the best
prices, in validated chunks. :func:`pmresearch.data.importers.read_websocket_log` drives it.
"""

from __future__ import annotations

import heapq
import math
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pmresearch._progress import progress as progress_bar
from pmresearch.data.books import BookRecorder, complement
from pmresearch.data.schemas import SchemaError, validate
from pmresearch.data.ws_events import (
    BookEvent,
    LastTradeEvent,
    PriceCache,
    PriceChangeEvent,
    TokenBook,
    WsMessage,
    check_levels,
    decode_message,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pmresearch.data.importers import TokenInfo

__all__ = ["CHUNK_ROWS", "REORDER_WINDOW_MS", "LogLines", "WsReader"]

#: Rows per load item of book events, snapshots and quotes (dictionary-encoded, ~25 bytes a row): long
#: recordings load in chunks. Large enough that a day's events go into an empty PostgreSQL table by one
#: COPY (measured: 105 s vs 172 s with 500,000-row chunks on the sample; DuckDB's peak memory is the same).
CHUNK_ROWS = 2_000_000
#: Rows validated at a time within a chunk (validation makes plain-text copies of the columns).
_VALIDATE_ROWS = 100_000
#: Messages are put back in exchange-time order within this window (recordings show a few ms of disorder).
REORDER_WINDOW_MS = 2_000



class LogLines:
    """Lines of a websocket log (gzip or plain), as bytes; a gzip cut mid-write yields its complete lines.

    After iteration, ``truncated`` says whether the gzip stream lacked its end marker and ``dropped``
    how many (decompressed) bytes of incomplete last line were left out.
    """

    def __init__(self, path: Path, where: str) -> None:
        self.path, self.where = path, where
        self.truncated, self.dropped = False, 0

    def __iter__(self) -> Iterator[bytes]:
        gz = self.path.suffix == ".gz"
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh, progress_bar(total=size, desc=self.path.name, unit="B", unit_scale=True,
                                                       leave=False) as bar:
            d = zlib.decompressobj(wbits=31) if gz else None
            tail = b""
            while True:
                raw = fh.read(1 << 16)
                bar.update(len(raw))
                if not raw:
                    break
                data = raw
                chunks = []
                while d is not None and data:
                    try:
                        chunks.append(d.decompress(data))
                    except zlib.error as exc:
                        raise SchemaError(f"{self.where}: cannot read websocket log (gzip: {exc})") from exc
                    data = d.unused_data if d.eof else b""
                    if d.eof and data:  # another gzip member follows
                        d = zlib.decompressobj(wbits=31)
                text = tail + (b"".join(chunks) if d is not None else raw)
                lines = text.split(b"\n")
                tail = lines.pop()
                yield from lines
            if d is not None and not d.eof:
                self.truncated, self.dropped = True, len(tail)
            elif tail:
                yield tail


def _us(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).tz_convert("UTC").value) // 1000  # .value is in ns whatever the unit


@dataclass
class _Quotes:
    """Columns of the quote rows rebuilt from books (Up and Down best prices per slug and update)."""

    ts: array[int] = field(default_factory=lambda: array("q"))
    slug: array[int] = field(default_factory=lambda: array("i"))
    values: array[float] = field(default_factory=lambda: array("d"))  # 4 per row: up bid/ask, down bid/ask
    seen: array[int] = field(default_factory=lambda: array("b"))  # 2 per row: Up book seen, Down book seen


#: One message of the reorder heap: (exchange ms, arrival order, token, market, the token's record, line, receipt us).
_Pending = tuple[int, int, str, str | None, BookEvent | list[tuple[str, float, float]], str, int]


class WsReader:
    """Streaming state of one websocket log: decoded records (:mod:`pmresearch.data.ws_events`) put back in
    exchange-time order and applied per instant to each token's :class:`~pmresearch.data.ws_events.TokenBook`;
    books recorded by :class:`BookRecorder`; quotes, trades and counts."""

    def __init__(self, where: str, resolve: Callable[[str, str | None], TokenInfo | None], snapshot_every_s: float,
                 chunk_rows: int) -> None:
        self.where, self.resolve, self.chunk_rows = where, resolve, chunk_rows
        self.recorder = BookRecorder(snapshot_every_s)
        self.prices = PriceCache()
        self.books: dict[str, TokenBook] = {}  # per token: its book as recorded after the last instant
        self.heap: list[_Pending] = []
        self.seq, self.newest, self.done = 0, -(1 << 62), -(1 << 62)
        self.stamp = -(1 << 62)  # knowledge stamp (us) of the last instant processed
        self.items: list[tuple[str, pd.DataFrame]] = []
        self.trades: list[dict[str, Any]] = []
        self.counts = dict.fromkeys(("book", "price_change", "last_trade_price", "other", "orphan_change", "late",
                                     "book_events", "books", "quotes"), 0)
        self.infos: dict[str, TokenInfo | None] = {}
        self.unmapped: set[str] = set()
        self.slugs: dict[str, int] = {}
        self.slug_info: list[TokenInfo] = []
        self.state: list[list[float]] = []  # per slug: up bid, up ask, down bid, down ask, up seen, down seen
        self.quotes = _Quotes()

    def message(self, obj: Any, at: str) -> None:
        """Decode one parsed line, then apply it (see :meth:`apply`)."""
        self.apply(decode_message(obj, at, self.prices))

    def apply(self, msg: WsMessage) -> None:
        """Queue a decoded line's book records by exchange time, keep its trades, count its events, and
        process the instants the reorder window has passed."""
        for ev in msg.events:
            if isinstance(ev, BookEvent):
                self._push(ev.ts_ms, ev.asset_id, ev.market, ev, msg)
                self.counts["book"] += 1
            elif isinstance(ev, PriceChangeEvent):
                for asset, changes in ev.by_asset().items():
                    self._push(ev.ts_ms, asset, ev.market, changes, msg)
                self.counts["price_change"] += 1
            elif isinstance(ev, LastTradeEvent):
                self.trades.append({"ts": ev.ts_ms, "price": ev.price, "qty": ev.size, "side": ev.side,
                                    "received_at": msg.received, "symbol": ev.asset_id, "venue": "polymarket",
                                    "trade_id": ev.transaction_hash})
                self.counts["last_trade_price"] += 1
            else:  # tick_size_change and the rest change no level
                self.counts["other"] += 1
        self._pop(self.newest - REORDER_WINDOW_MS)

    def _push(self, ts: int, asset: str, market: str | None, record: BookEvent | list[tuple[str, float, float]],
              msg: WsMessage) -> None:
        if ts <= self.done:  # its instant was processed already: more than the window out of order
            self.counts["late"] += 1
            return
        self.seq += 1
        recv_us = -1 if msg.received is None else math.ceil(msg.received * 1_000_000)
        heapq.heappush(self.heap, (ts, self.seq, asset, market, record, msg.at, recv_us))
        self.newest = max(self.newest, ts)

    def _pop(self, upto: int) -> None:
        """Process, in exchange-time order, every instant at or before ``upto`` (ms).

        Each instant's rows are stamped with its knowledge time (DESIGN.md): the exchange time, or the
        latest ``received_at`` of its messages when that is later (a message is not known before the
        recorder had it), and never before the previous instant's stamp (+1 us: a book applied after
        another cannot have been known before it).
        """
        heap = self.heap
        while heap and heap[0][0] <= upto:
            ts = heap[0][0]
            group = []
            while heap and heap[0][0] == ts:
                group.append(heapq.heappop(heap))
            self.stamp = max(ts * 1000, max(g[6] for g in group), self.stamp + 1)
            self._instant(self.stamp, group)
            self.done = ts
        if self.recorder.pending_events >= self.chunk_rows:
            self._chunk("book_events", self.recorder.take_events())
        if self.recorder.pending_snapshots >= self.chunk_rows:
            self._chunk("books", self.recorder.take_snapshots())
        if len(self.quotes.ts) >= self.chunk_rows:
            self._chunk("quotes", self._take_quotes())

    def _instant(self, stamp: int, group: list[_Pending]) -> None:
        """All messages of one exchange millisecond: each token's book after the last of them, stamped
        ``stamp`` (us, the instant's knowledge time, see :meth:`_pop`)."""
        books, markets, where = self._instant_books(group)
        touched: set[int] = set()
        for asset, book in books.items():
            info = self._record(asset, markets[asset], stamp, book, where[asset])
            if info is None:
                self.unmapped.add(asset)
                continue
            touched.add(self._quote_state(info, book))
        q = self.quotes
        for k in sorted(touched):
            st = self.state[k]
            q.ts.append(stamp)
            q.slug.append(k)
            q.values.extend(st[:4])
            q.seen.extend((int(st[4]), int(st[5])))

    def _instant_books(self, group: list[_Pending]) -> tuple[dict[str, TokenBook], dict[str, str | None],
                                                             dict[str, str]]:
        """Each token's book after the instant's records (in arrival order), its market and its last line."""
        books: dict[str, TokenBook] = {}
        markets: dict[str, str | None] = {}
        where: dict[str, str] = {}
        for _, _, asset, market, record, at, _ in group:
            where[asset] = at
            if isinstance(record, BookEvent):
                books[asset] = TokenBook.from_event(record)
            else:
                base = books.get(asset) or self.books.get(asset)
                if base is None:  # no full book seen yet: a delta alone is not a book
                    self.counts["orphan_change"] += len(record)
                    continue
                books[asset] = base.changed(record)
            markets[asset] = market
        return books, markets, where

    def _record(self, asset: str, market: str | None, stamp: int, book: TokenBook, at: str) -> TokenInfo | None:
        """Hand a token's new book to the recorder (its events and snapshots); the token's market, if known."""
        if asset not in self.infos:
            self.infos[asset] = self.resolve(asset, market)
        info = self.infos[asset]
        self.recorder.token(asset, info.slug if info else None, info.outcome if info else None)
        try:
            self.recorder.update(asset, stamp, book.bids, book.asks)
        except ValueError as exc:  # a size that does not parse: name the message's line and level
            for name, side in (("bids", book.bids), ("asks", book.asks)):
                check_levels([{"price": p, "size": z} for p, z in side.items()], at, name)
            raise SchemaError(f"{at}: {exc}") from exc
        recorded = self.recorder.book(asset)
        assert recorded is not None
        self.books[asset] = TokenBook(*recorded)
        return info

    def _quote_state(self, info: TokenInfo, book: TokenBook) -> int:
        """Update the best prices of the token's side of its market; the market's index."""
        k = self.slugs.get(info.slug)
        if k is None:
            k = self.slugs[info.slug] = len(self.slug_info)
            self.slug_info.append(info)
            self.state.append([math.nan] * 4 + [0.0, 0.0])
        st, off = self.state[k], (0 if info.outcome == "Up" else 2)
        st[off] = book.best_bid
        st[off + 1] = book.best_ask
        st[4 + off // 2] = 1.0
        return k

    def _take_quotes(self) -> pd.DataFrame:
        q, self.quotes = self.quotes, _Quotes()
        n = len(q.ts)
        vals = np.frombuffer(q.values, dtype=np.float64).reshape(n, 4) if n else np.zeros((0, 4))
        seen = np.frombuffer(q.seen, dtype=np.int8).reshape(n, 2).astype(bool) if n else np.zeros((0, 2), bool)
        k = np.frombuffer(q.slug, dtype=np.int32) if n else np.zeros(0, np.int32)
        # the token not recorded mirrors the one that is: Up bid = 1 - Down ask, Up ask = 1 - Down bid
        bid_up = np.where(seen[:, 0], vals[:, 0], complement(vals[:, 3]))
        ask_up = np.where(seen[:, 0], vals[:, 1], complement(vals[:, 2]))
        bid_down = np.where(seen[:, 1], vals[:, 2], complement(vals[:, 1]))
        ask_down = np.where(seen[:, 1], vals[:, 3], complement(vals[:, 0]))
        info = self.slug_info
        slugs = pd.Categorical.from_codes(k, categories=pd.Index([i.slug for i in info], dtype=object))

        def per_slug(values: list[Any], dtype: Any) -> Any:
            return np.asarray(values, dtype=dtype)[k] if len(values) else np.zeros(0, dtype=dtype)

        frame = pd.DataFrame({
            "ts": (np.frombuffer(q.ts, dtype=np.int64) if n else np.zeros(0, np.int64)).view("datetime64[us]"),
            "slug": slugs,
            "market_id": per_slug([i.market_id for i in info], object),
            "interval_minutes": per_slug([i.interval_minutes for i in info], "int16"),
            "window_start": per_slug([_us(i.window_start) for i in info], "int64").view("datetime64[us]"),
            "window_end": per_slug([_us(i.window_end) for i in info], "int64").view("datetime64[us]"),
            "strike": per_slug([np.nan if i.strike is None else i.strike for i in info], "float64"),
            "strike_logged": np.nan, "reference_price": np.nan,
            "best_bid_up": bid_up, "best_ask_up": ask_up, "best_bid_down": bid_down, "best_ask_down": ask_down,
            "source": "polymarket-ws",
        })
        for c in ("ts", "window_start", "window_end"):
            frame[c] = frame[c].dt.tz_localize("UTC")
        return frame

    def _chunk(self, kind: str, frame: pd.DataFrame) -> None:
        """Validate one chunk (in slices) and keep it as built: canonical dtypes, except that its text
        columns stay dictionary-encoded (a byte or two a row instead of the whole token id)."""
        if frame.empty:
            return
        self.counts[kind] += len(frame)
        for start in range(0, len(frame), _VALIDATE_ROWS):
            validate(frame.iloc[start:start + _VALIDATE_ROWS], kind, source=self.where)
        self.items.append((kind, frame))

    def finish(self) -> None:
        """Process what the reorder window still holds and take the last chunks (the trades stay in
        :attr:`trades`, as decoded: epoch ms and receipt seconds)."""
        self._pop(1 << 62)
        self._chunk("book_events", self.recorder.take_events())
        self._chunk("books", self.recorder.take_snapshots())
        self._chunk("quotes", self._take_quotes())

    def notes(self, snapshot_every_s: float) -> list[str]:
        c = self.counts
        out = [f"{self.where}: {c['book']} book, {c['price_change']} price_change, {c['last_trade_price']} "
               f"last_trade_price, {c['other']} other events; {c['orphan_change']} level changes of tokens without "
               f"a book snapshot ignored; {c['book_events']} book events, {c['books']} snapshot levels (every "
               f"{snapshot_every_s:g} s), {c['quotes']} quotes"]
        if c["late"]:
            out.append(f"warning: {self.where}: {c['late']} message(s) more than {REORDER_WINDOW_MS / 1000:g} s out "
                       "of exchange-time order ignored")
        return out
