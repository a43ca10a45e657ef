"""The websocket decoder (one typed record per event) and the book of one token, each on its own.

References: the recorded line itself (values read with ``json`` and ``float``), and the README's event
shapes (``../shared/data/README.md``, the CLOB market-channel documentation quoted in DOMAIN.md).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from pathlib import Path

import pytest

from pmresearch.data import SchemaError
from pmresearch.data.importers import websocket_log
from pmresearch.data.ws_events import (
    BookEvent,
    LastTradeEvent,
    LevelChange,
    OtherEvent,
    PriceCache,
    PriceChangeEvent,
    TickSizeChangeEvent,
    TokenBook,
    decode_message,
)

AT = "log.jsonl.gz: line 7"


def test_a_real_recorded_book_line_decodes_to_its_levels(shared_data: Path) -> None:
    src = next(shared_data.glob("polymarket_ws_*.jsonl.gz"))
    with gzip.open(src, "rt") as fh:
        line = json.loads(next(fh))
    msg = decode_message(line, AT)
    assert msg.at == AT and msg.received == float(line["received_at"])
    raw = line["message"] if isinstance(line["message"], list) else [line["message"]]
    assert len(msg.events) == len(raw)
    for ev, ref in zip(msg.events, raw, strict=True):
        assert isinstance(ev, BookEvent)
        assert ev.asset_id == str(ref["asset_id"]) and ev.market == str(ref["market"])
        assert ev.ts_ms == int(ref["timestamp"])
        assert ev.bids == {float(lv["price"]): lv["size"] for lv in ref["bids"]}
        assert ev.asks == {float(lv["price"]): lv["size"] for lv in ref["asks"]}


def test_every_event_type_has_its_record() -> None:
    events = [
        {"event_type": "book", "asset_id": "1", "market": "0xm", "timestamp": "1000",
         "bids": [{"price": "0.45", "size": "10"}], "asks": [{"price": "0.55", "size": "5"}]},
        {"event_type": "price_change", "market": "0xm", "timestamp": "1001",
         "price_changes": [{"asset_id": "1", "price": "0.46", "size": "3", "side": "BUY"},
                           {"asset_id": "2", "price": "0.54", "size": "0", "side": "SELL"},
                           {"asset_id": "1", "price": "0.45", "size": "0", "side": "buy"}]},
        {"market": "0xm", "asset_id": "2", "timestamp": "1002",  # the older shape, no event_type
         "changes": [{"price": "0.5", "size": "7", "side": "SELL"}]},
        {"event_type": "last_trade_price", "asset_id": "1", "timestamp": "1003", "price": "0.46", "size": "2.5",
         "side": "BUY", "transaction_hash": ""},
        {"event_type": "tick_size_change", "asset_id": "1", "market": "0xm", "timestamp": "1004",
         "old_tick_size": "0.01", "new_tick_size": "0.001"},
        {"event_type": "best_bid_ask", "timestamp": "1005"},
    ]
    msg = decode_message({"received_at": 1.25, "message": events}, AT)
    book, change, old, trade, tick, other = msg.events
    assert msg.received == 1.25
    assert book == BookEvent("1", "0xm", 1000, {0.45: "10"}, {0.55: "5"})
    assert change == PriceChangeEvent("0xm", 1001, (LevelChange("1", "bid", 0.46, 3.0),
                                                    LevelChange("2", "ask", 0.54, 0.0),
                                                    LevelChange("1", "bid", 0.45, 0.0)))
    assert change.by_asset() == {"1": [("bid", 0.46, 3.0), ("bid", 0.45, 0.0)], "2": [("ask", 0.54, 0.0)]}
    assert old == PriceChangeEvent("0xm", 1002, (LevelChange("2", "ask", 0.5, 7.0),))
    assert trade == LastTradeEvent("1", 1003, 0.46, 2.5, "buy", None)  # an empty hash is no trade id
    assert tick == TickSizeChangeEvent("1", "0xm", 1004, "0.01", "0.001")
    assert other == OtherEvent("best_bid_ask", 1005)
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.ts_ms = 2  # type: ignore[misc]
    bare = decode_message(events[0], AT)  # a bare message, no envelope
    assert bare.received is None and bare.events == (book,)


@pytest.mark.parametrize(("obj", "pattern"), [
    ({"received_at": "soon", "message": {}}, r"column 'received_at': unparseable \('soon'\)"),
    ([1], "event is not an object"),
    ({"event_type": "book", "timestamp": "noon", "bids": []}, r"column 'timestamp': unparseable \('noon'\)"),
    ({"event_type": "book", "asset_id": "1", "bids": []}, "column 'timestamp': missing in book event"),
    ({"event_type": "book", "timestamp": "1", "bids": [{"price": "1.5", "size": "1"}]},
     r"column 'bids': level 0 price 1.5 / size 1.0 out of range"),
    ({"event_type": "book", "timestamp": "1", "asks": [{"price": "0.5", "size": "1"}, {"price": "x"}]},
     r"column 'asks': level 1 unparseable"),
    ({"event_type": "book", "timestamp": "1", "bids": "none"}, "column 'bids': levels are not a list"),
    ({"event_type": "price_change", "timestamp": "1", "price_changes": [{"asset_id": "1", "price": "0.5"}]},
     r"column 'price_changes': entry 0 unparseable"),
    ({"event_type": "price_change", "timestamp": "1",
      "price_changes": [{"asset_id": "1", "price": "0.5", "size": "inf", "side": "BUY"}]},
     r"column 'price_changes': entry 0 price 0.5 / size inf out of range"),
    ({"event_type": "price_change", "price_changes": []}, "column 'timestamp': missing in price_change event"),
    ({"event_type": "last_trade_price", "asset_id": "1", "price": "abc", "size": "1", "side": "BUY"},
     "last_trade_price unparseable"),
])
def test_malformed_events_name_the_line_and_the_field(obj: object, pattern: str) -> None:
    with pytest.raises(SchemaError, match=rf"^log\.jsonl\.gz: line 7: {pattern}"):
        decode_message(obj, AT)


def test_prices_are_parsed_once_per_text() -> None:
    cache = PriceCache()
    ev = {"event_type": "book", "timestamp": "1", "asset_id": "1", "bids": [{"price": "0.5", "size": "1"}]}
    decode_message(ev, AT, cache)
    decode_message(ev, AT, cache)
    assert cache == {"0.5": 0.5}
    with pytest.raises(ValueError, match="nan"):
        cache["nan"]


def test_token_book_replace_change_and_best_prices() -> None:
    book = TokenBook.from_event(BookEvent("1", None, 1, {0.45: "10", 0.40: "3"}, {0.55: "5"}))
    assert (book.best_bid, book.best_ask) == (0.45, 0.55)
    after = book.changed([("bid", 0.45, 0.0), ("bid", 0.47, 2.0), ("ask", 0.52, 1.0), ("ask", 0.60, 0.0)])
    assert after.bids == {0.40: "3", 0.47: 2.0} and after.asks == {0.55: "5", 0.52: 1.0}
    assert (after.best_bid, after.best_ask) == (0.47, 0.52)
    assert book.bids == {0.45: "10", 0.40: "3"} and book.asks == {0.55: "5"}  # copy on write
    empty = after.changed([("bid", 0.40, 0.0), ("bid", 0.47, 0.0)])
    assert math.isnan(empty.best_bid) and empty.best_ask == 0.52  # a finite side beside the empty one


def test_the_importer_names_the_line_of_a_malformed_event() -> None:
    good = {"event_type": "book", "asset_id": "1", "timestamp": "1000", "bids": [{"price": "0.4", "size": "1"}]}
    bad = dict(good, timestamp="1001", bids=[{"price": "0.4", "size": "-2"}])
    lines = [json.dumps(good), "PONG", json.dumps({"received_at": 1.0, "message": [bad]})]
    with pytest.raises(SchemaError, match=r"^x: line 3: column 'bids': level 0 price 0\.4 / size -2\.0 out of range"):
        websocket_log(lines, where="x")
    frames, _ = websocket_log(lines[:2], where="x")  # the lines before it load
    assert frames["book_events"]["size"].tolist() == [1.0]
