"""Market-channel websocket events as typed records, and the book of one token they update.

Decode, then apply (the pattern of nautilus' ``adapters/polymarket/schemas/book.py``): :func:`decode_message`
turns one recorded line (``{"received_at": <unix s>, "message": <msg>}`` or a bare message; a message is
one event or an array of events) into a :class:`WsMessage` of frozen records, one type per ``event_type``
(:class:`BookEvent`, :class:`PriceChangeEvent`, :class:`LastTradeEvent`, :class:`TickSizeChangeEvent`,
:class:`OtherEvent`), raising :class:`~pmresearch.data.schemas.SchemaError` naming the line and the field
of the first malformed one; :class:`TokenBook` is one token's L2 book, replaced by a ``book`` event and
changed by level changes. :mod:`pmresearch.data.ws_reader` (behind ``importers.websocket_log``) orders the records by
exchange time and applies them.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pmresearch.data.schemas import SchemaError

__all__ = [
    "BookEvent",
    "Event",
    "LastTradeEvent",
    "LevelChange",
    "OtherEvent",
    "PriceChangeEvent",
    "TickSizeChangeEvent",
    "TokenBook",
    "WsMessage",
    "decode_message",
]


@dataclass(frozen=True, slots=True)
class BookEvent:
    """A ``book`` event: a token's full book at exchange time ``ts_ms`` (price -> size text as received)."""

    asset_id: str
    market: str | None
    ts_ms: int
    bids: dict[float, str]
    asks: dict[float, str]


@dataclass(frozen=True, slots=True)
class LevelChange:
    """One level of a ``price_change`` event: ``side`` ``bid`` or ``ask``, ``size`` 0 removes the level."""

    asset_id: str
    side: str
    price: float
    size: float


@dataclass(frozen=True, slots=True)
class PriceChangeEvent:
    """A ``price_change`` event (the 2025 ``price_changes`` or the older ``changes`` shape): level changes."""

    market: str | None
    ts_ms: int
    changes: tuple[LevelChange, ...]

    def by_asset(self) -> dict[str, list[tuple[str, float, float]]]:
        """``(side, price, size)`` changes per token, tokens in order of first appearance."""
        out: dict[str, list[tuple[str, float, float]]] = {}
        for ch in self.changes:
            out.setdefault(ch.asset_id, []).append((ch.side, ch.price, ch.size))
        return out


@dataclass(frozen=True, slots=True)
class LastTradeEvent:
    """A ``last_trade_price`` event: one trade print (``side`` lower case, the aggressor's)."""

    asset_id: str
    ts_ms: int | None
    price: float
    size: float
    side: str
    transaction_hash: str | None


@dataclass(frozen=True, slots=True)
class TickSizeChangeEvent:
    """A ``tick_size_change`` event (kept as received; it changes no level)."""

    asset_id: str | None
    market: str | None
    ts_ms: int | None
    old_tick_size: str | None
    new_tick_size: str | None


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """Any other event (``best_bid_ask``, ``new_market``, ``market_resolved``, unknown ones): counted only."""

    event_type: str
    ts_ms: int | None


Event = BookEvent | PriceChangeEvent | LastTradeEvent | TickSizeChangeEvent | OtherEvent


@dataclass(frozen=True, slots=True)
class WsMessage:
    """One recorded line: where it is (``<file>: line <n>``), when the recorder had it, and its events."""

    at: str
    received: float | None
    events: tuple[Event, ...]


class PriceCache(dict[str, float]):
    """Price text -> float, parsed and range-checked once per distinct text (raises ValueError when bad)."""

    def __missing__(self, key: str) -> float:
        value = float(key)
        if not 0.0 <= value <= 1.0:  # NaN fails too
            raise ValueError(key)
        self[key] = value
        return value


_LEVEL = operator.itemgetter("price", "size")


def book_side(ev: Mapping[str, Any], name: str, prices: PriceCache, at: str) -> dict[float, str]:
    """``[{price, size}, ...]`` as ``{price: size text}``: the hot path, prices parsed once per distinct
    text, sizes parsed by the recorder only where they changed; :func:`check_levels` names any problem."""
    levels = ev.get(name) or []
    try:
        return {prices[p]: s for p, s in map(_LEVEL, levels)}
    except (KeyError, TypeError, ValueError, AttributeError):
        check_levels(levels, at, name)  # raises the precise error
        raise SchemaError(f"{at}: column {name!r}: unreadable levels") from None


def check_levels(levels: Any, where: str, side: str) -> list[tuple[float, float]]:
    """``[{price, size}, ...]`` parsed as floats; a :class:`SchemaError` names the side and level of a bad one."""
    if not isinstance(levels, list):
        raise SchemaError(f"{where}: column '{side}': levels are not a list")
    out = []
    for j, lv in enumerate(levels):
        try:
            price, size = float(lv["price"]), float(lv["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{where}: column '{side}': level {j} unparseable ({lv!r})") from exc
        if not (0.0 <= price <= 1.0) or not (0.0 <= size < math.inf):
            raise SchemaError(f"{where}: column '{side}': level {j} price {price} / size {size} out of range")
        out.append((price, size))
    return out


def _kind(ev: Mapping[str, Any]) -> Any:
    return ev.get("event_type") or ("book" if "bids" in ev or "asks" in ev else
                                    "price_change" if "price_changes" in ev or "changes" in ev else "other")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _book(ev: Mapping[str, Any], ts: int | None, at: str, prices: PriceCache) -> BookEvent:
    bids, asks = book_side(ev, "bids", prices, at), book_side(ev, "asks", prices, at)
    if ts is None:
        raise SchemaError(f"{at}: column 'timestamp': missing in book event")
    return BookEvent(str(ev.get("asset_id")), _text(ev.get("market")), ts, bids, asks)


def _price_change(ev: Mapping[str, Any], ts: int | None, at: str) -> PriceChangeEvent:
    changes = ev.get("price_changes") or [dict(c, asset_id=ev.get("asset_id")) for c in ev.get("changes", [])]
    out = []
    for j, ch in enumerate(changes):
        try:
            asset, price, size = str(ch["asset_id"]), float(ch["price"]), float(ch["size"])
            side = "bid" if str(ch["side"]).upper() == "BUY" else "ask"
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{at}: column 'price_changes': entry {j} unparseable ({ch!r})") from exc
        if not (0.0 <= price <= 1.0) or not (0.0 <= size < math.inf):
            raise SchemaError(f"{at}: column 'price_changes': entry {j} price {price} / size {size} out of range")
        out.append(LevelChange(asset, side, price, size))
    if ts is None:
        raise SchemaError(f"{at}: column 'timestamp': missing in price_change event")
    return PriceChangeEvent(_text(ev.get("market")), ts, tuple(out))


def _last_trade(ev: Mapping[str, Any], ts: int | None, at: str) -> LastTradeEvent:
    try:
        return LastTradeEvent(str(ev["asset_id"]), ts, float(ev["price"]), float(ev["size"]), str(ev["side"]).lower(),
                              ev.get("transaction_hash") or None)
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"{at}: last_trade_price unparseable ({exc})") from exc


def decode_event(ev: Any, at: str, prices: PriceCache) -> Event:
    """One event object as its typed record; a :class:`SchemaError` names ``at`` and the field."""
    if not isinstance(ev, dict):
        raise SchemaError(f"{at}: event is not an object")
    kind = _kind(ev)
    try:  # exchange time in epoch ms
        ts = int(ev["timestamp"]) if "timestamp" in ev else None
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{at}: column 'timestamp': unparseable ({ev.get('timestamp')!r})") from exc
    if kind == "book":
        return _book(ev, ts, at, prices)
    if kind == "price_change":
        return _price_change(ev, ts, at)
    if kind == "last_trade_price":
        return _last_trade(ev, ts, at)
    if kind == "tick_size_change":
        return TickSizeChangeEvent(_text(ev.get("asset_id")), _text(ev.get("market")), ts,
                                   _text(ev.get("old_tick_size")), _text(ev.get("new_tick_size")))
    return OtherEvent(str(kind), ts)


def decode_message(obj: Any, at: str, prices: PriceCache | None = None) -> WsMessage:
    """One parsed JSON line as a :class:`WsMessage` (see the module docstring).

    Parameters
    ----------
    obj : object
        The line's JSON value: the recorder's envelope or a bare message (an event or a list of events).
    at : str
        Where the line is (``<file>: line <n>``); every error message starts with it.
    prices : PriceCache, optional
        Book prices already parsed (a reader keeps one for the whole log).

    Raises
    ------
    SchemaError
        For an unparseable ``received_at`` or ``timestamp``, an event that is not an object, a level
        or trade that does not parse or is out of range, or a book or price change without a timestamp.
    """
    prices = PriceCache() if prices is None else prices
    received: float | None = None
    if isinstance(obj, dict) and "message" in obj and "received_at" in obj:
        try:
            received = float(obj["received_at"])
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{at}: column 'received_at': unparseable ({obj['received_at']!r})") from exc
        obj = obj["message"]
    events = tuple(decode_event(ev, at, prices) for ev in (obj if isinstance(obj, list) else [obj]))
    return WsMessage(at, received, events)


class TokenBook:
    """The L2 book of one token: price -> size per side (size text as received, or a float).

    A ``book`` event replaces it (:meth:`from_event`); level changes give a new book (:meth:`changed`,
    copy on write: the book a recorder holds is never modified). Zero sizes may stay in a book built
    from an event; they mean no level.
    """

    __slots__ = ("asks", "bids")

    def __init__(self, bids: dict[float, Any], asks: dict[float, Any]) -> None:
        self.bids, self.asks = bids, asks

    @classmethod
    def from_event(cls, ev: BookEvent) -> TokenBook:
        """The book a ``book`` event gives (its level dicts, not copied)."""
        return cls(ev.bids, ev.asks)

    def changed(self, changes: Iterable[tuple[str, float, float]]) -> TokenBook:
        """This book with ``(side, price, size)`` changes applied in order (size 0 removes the level)."""
        bids, asks = dict(self.bids), dict(self.asks)
        for side, price, size in changes:
            book = bids if side == "bid" else asks
            if size == 0:
                book.pop(price, None)
            else:
                book[price] = size
        return TokenBook(bids, asks)

    @property
    def best_bid(self) -> float:
        """The highest bid price (NaN without bids)."""
        return max(self.bids) if self.bids else math.nan

    @property
    def best_ask(self) -> float:
        """The lowest ask price (NaN without asks)."""
        return min(self.asks) if self.asks else math.nan
