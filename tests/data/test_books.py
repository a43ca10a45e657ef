"""Books: level-change events and snapshots from real recordings (slices), replay, as-of reads, Up quotes.

Every test reads a SLICE of the real websocket logs (their first lines, written to a temporary
.jsonl.gz) and compares with references computed here from the raw messages, independently of
:class:`pmresearch.data.books.BookRecorder`.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import zlib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.cli import ingest_command
from pmresearch.data import SchemaError
from pmresearch.data.books import (
    book_as_of,
    book_at,
    complement,
    events_from_snapshots,
    replay,
    snapshots_from_events,
)
from pmresearch.data.importers import REORDER_WINDOW_MS, ingest, websocket_log
from pmresearch.data.io import read_file
from pmresearch.data.store import connect

N_LINES = 2_000
#: The recordings and markets files by prefix only (the sample's periods may change).
WS_GLOB, MARKETS_GLOB = "polymarket_ws_*.jsonl.gz", "polymarket_btc_*_markets_*.parquet"


def recordings(shared_data: Path) -> list[Path]:
    files = sorted(shared_data.glob(WS_GLOB))
    assert files, f"no {WS_GLOB} in {shared_data}"
    return files

Book = tuple[dict[float, float], dict[float, float]]


def head_lines(src: Path, n: int) -> list[str]:
    """The first ``n`` lines of a gzip recording (never the whole file)."""
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        return list(itertools.islice(fh, n))


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(lines)
    return path


def markets_slice(shared_data: Path, lines: list[str]) -> pd.DataFrame:
    """The rows of the markets file whose condition id appears in ``lines``."""
    ids = {json.loads(line)["message"]["market"] for line in lines}
    m = pd.concat([read_file(f) for f in sorted(shared_data.glob(MARKETS_GLOB))], ignore_index=True)
    return m[m["market_id"].isin(ids)].drop_duplicates("slug").reset_index(drop=True)


def knowledge_stamps(lines: list[str]) -> dict[int, pd.Timestamp]:
    """Reference knowledge time of each exchange-ms instant (DESIGN.md): its exchange time, or the latest
    ``received_at`` of its messages when that is later, and strictly after the previous instant's (1 us)."""
    received: dict[int, int] = {}
    for line in lines:
        obj = json.loads(line)
        ms = int(obj["message"]["timestamp"])
        received[ms] = max(received.get(ms, -1), math.ceil(float(obj["received_at"]) * 1_000_000))
    out, prev = {}, -(1 << 62)
    for ms in sorted(received):
        prev = max(ms * 1000, received[ms], prev + 1)
        out[ms] = pd.Timestamp(prev, unit="us", tz="UTC")
    return out


def message_books(lines: list[str]) -> dict[str, list[tuple[pd.Timestamp, Book]]]:
    """Reference: each token's full book per exchange ms (the last message of a ms), in time order,
    stamped with the instant's knowledge time (:func:`knowledge_stamps`)."""
    per: dict[str, dict[int, Book]] = {}
    for line in lines:
        msg = json.loads(line)["message"]
        books = per.setdefault(msg["asset_id"], {})
        books[int(msg["timestamp"])] = ({float(lv["price"]): float(lv["size"]) for lv in msg["bids"]},
                                        {float(lv["price"]): float(lv["size"]) for lv in msg["asks"]})
    stamps = knowledge_stamps(lines)
    return {token: [(stamps[ms], books[ms]) for ms in sorted(books)] for token, books in per.items()}


def as_book(frame: pd.DataFrame) -> Book:
    bids = frame[frame["side"] == "bid"]
    asks = frame[frame["side"] == "ask"]
    return (dict(zip(bids["price"], bids["size"], strict=True)), dict(zip(asks["price"], asks["size"], strict=True)))


def assert_levels_numbered(frame: pd.DataFrame) -> None:
    for side, ascending in (("bid", False), ("ask", True)):
        s = frame[frame["side"] == side]
        assert s["level"].tolist() == list(range(len(s)))
        assert s["price"].is_monotonic_increasing if ascending else s["price"].is_monotonic_decreasing


@pytest.fixture(scope="module")
def lines(shared_data: Path) -> list[str]:
    return head_lines(recordings(shared_data)[0], N_LINES)


@pytest.fixture(scope="module")
def frames(lines: list[str], shared_data: Path) -> dict[str, pd.DataFrame]:
    out, _ = websocket_log(lines, markets=markets_slice(shared_data, lines), where="slice")
    return out


def test_replaying_the_events_reproduces_every_recorded_book(lines: list[str],
                                                             frames: dict[str, pd.DataFrame]) -> None:
    events = frames["book_events"]
    ref = message_books(lines)
    assert len(events) < sum(len(b) + len(a) for books in ref.values() for _, (b, a) in books) / 5
    checked = 0
    for token, books in ref.items():
        ev = events[events["token_id"] == token].sort_values("ts", kind="stable")
        by_ts = dict(list(ev.groupby("ts")))
        state: Book = ({}, {})
        for ts, book in books:  # an independent replay: apply each instant's changes, compare with the message
            for r in by_ts.pop(ts, ev.iloc[:0]).itertuples():
                side = state[0] if r.side == "bid" else state[1]
                if r.size == 0:
                    del side[r.price]  # a removal is of a level that existed
                else:
                    side[r.price] = r.size
            assert state == book, (token, ts)
            checked += 1
        assert not by_ts  # no event at an instant without a message
        first = ev[ev["ts"] == books[0][0]]
        assert as_book(first) == books[0][1]  # the first message gives all its levels
    assert checked == sum(len(b) for b in ref.values()) > 1_500
    rng = np.random.default_rng(3)
    token = next(iter(ref))
    for i in rng.choice(len(ref[token]), 20, replace=False):
        ts, book = ref[token][i]
        got = replay(events[events["token_id"] == token], until=ts)
        assert as_book(got) == book
        assert_levels_numbered(got)


def test_snapshots_are_full_books_at_the_declared_cadence(lines: list[str], frames: dict[str, pd.DataFrame]) -> None:
    snaps = frames["books"]
    ref = message_books(lines)
    for token, books in ref.items():
        expected, last_bucket = [], None
        for ts, _ in books:  # the rule: first update of each token in each 10 s bucket of its (knowledge) time
            bucket = ts.value // 10_000_000_000
            if bucket != last_bucket:
                expected.append(ts)
                last_bucket = bucket
        got = snaps[snaps["token_id"] == token]
        assert sorted(got["ts"].unique()) == expected
        lookup = dict(books)
        for ts, snap in got.groupby("ts"):
            assert as_book(snap) == lookup[ts]
            assert_levels_numbered(snap)
    # the pure conversions agree with the importer
    events = frames["book_events"]
    order = ["token_id", "ts", "side", "level"]
    pd.testing.assert_frame_equal(snapshots_from_events(events, 10.0).sort_values(order).reset_index(drop=True),
                                  snaps.sort_values(order).reset_index(drop=True))
    every = snapshots_from_events(events, 0.0)
    assert every["ts"].nunique() == len({ts for b in ref.values() for ts, _ in b})
    back = events_from_snapshots(every)
    key = ["token_id", "ts", "side", "price"]
    pd.testing.assert_frame_equal(back.sort_values(key).reset_index(drop=True),
                                  events.sort_values(key).reset_index(drop=True))


def test_book_as_of_random_instants_is_the_last_message_book(lines: list[str],
                                                             frames: dict[str, pd.DataFrame]) -> None:
    events = frames["book_events"]
    ref = message_books(lines)
    rng = np.random.default_rng(7)
    lo, hi = events["ts"].min(), events["ts"].max() + pd.Timedelta(seconds=1)
    for t in lo + (hi - lo) * rng.random(40):
        for token, books in ref.items():
            before = [b for ts, b in books if ts <= t]
            got = book_as_of(events, token, t)
            assert as_book(got) == (before[-1] if before else ({}, {})), (token, t)
            assert (got["ts"] == t.floor("us")).all()
    with pytest.raises(ValueError, match="naive"):
        book_as_of(events, next(iter(ref)), "2026-04-13 12:00")


def test_up_quotes_from_a_down_book_are_its_complement(shared_data: Path, lines: list[str], tmp_path: Path) -> None:
    markets = markets_slice(shared_data, lines)
    up_tokens = set(markets["clob_token_id_up"])
    down_only = [line for line in lines if json.loads(line)["message"]["asset_id"] not in up_tokens]
    assert 0 < len(down_only) < len(lines)  # this market recorded both tokens: keep the Down one only
    d = tmp_path / "in"
    d.mkdir()
    write_gz(d / "polymarket_ws_btc_5m_down.jsonl.gz", down_only)
    markets.to_parquet(d / "polymarket_btc_5m_markets_slice.parquet")
    with connect(f"duckdb:///{tmp_path}/q.duckdb") as store:
        rep = ingest(store, [d])
        quotes = store.read_table("polymarket_quotes")
        events = store.read_table("polymarket_book_events")
    assert not any(n.startswith("warning:") for n in rep.notes), rep.notes
    assert set(events["outcome"]) == {"Down"} and set(events["slug"]) == set(markets["slug"])
    row = markets.iloc[0]
    assert (quotes["market_id"] == row["market_id"]).all() and (quotes["window_start"] == row["window_start"]).all()
    assert (quotes["window_end"] == row["window_end"]).all() and (quotes["source"] == "polymarket-ws").all()
    checked = 0
    by_ts = quotes.set_index("ts")
    stamps = knowledge_stamps(down_only)
    for line in down_only:
        msg = json.loads(line)["message"]
        ts = stamps[int(msg["timestamp"])]
        q = by_ts.loc[ts]
        best_ask = min((Decimal(lv["price"]) for lv in msg["asks"]), default=None)
        best_bid = max((Decimal(lv["price"]) for lv in msg["bids"]), default=None)
        # exact decimal arithmetic as the reference: 1 - 0.45 is 0.55, not 0.5499999...
        assert q["best_bid_up"] == (float(1 - best_ask) if best_ask is not None else pytest.approx(np.nan, nan_ok=True))
        assert q["best_ask_up"] == (float(1 - best_bid) if best_bid is not None else pytest.approx(np.nan, nan_ok=True))
        assert q["best_bid_down"] == float(best_bid) and q["best_ask_down"] == float(best_ask)
        checked += 1
    assert checked == len(down_only) == len(quotes)
    assert complement(0.45) == 0.55 and complement(0.962) == 0.038 and np.isnan(complement(np.nan))


def test_without_markets_books_load_by_token_and_quotes_are_skipped_with_one_warning(
        shared_data: Path, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    tokens = set()
    files = recordings(shared_data)[:2]
    for src in files:
        head = head_lines(src, 300)
        tokens |= {json.loads(line)["message"]["asset_id"] for line in head}
        write_gz(d / src.name.replace(".jsonl", "_head.jsonl"), head)
    out = ingest_command([d], f"duckdb:///{tmp_path}/n.duckdb")
    warnings = [line for line in out if line.startswith("warning:")]
    assert len(warnings) == 1, out
    assert f"quotes skipped for {len(tokens)} websocket token(s) of {len(files)} file(s)" in warnings[0]
    assert "polymarket_quotes: 0 rows inserted" in out or not any("polymarket_quotes" in x for x in out)
    with connect(f"duckdb:///{tmp_path}/n.duckdb") as store:
        books = store.read_table("polymarket_books")
        assert store.count("polymarket_quotes") == 0 and store.count("polymarket_book_events") > 0
    assert books["slug"].isna().all() and books["outcome"].isna().all()
    assert set(books["token_id"]) == tokens


def test_truncated_recording_loads_its_complete_lines_and_warns(shared_data: Path, tmp_path: Path) -> None:
    raw = recordings(shared_data)[0].read_bytes()[:300_000]  # a recording cut mid-write: no gzip end marker
    d = tmp_path / "in"
    d.mkdir()
    cut = d / "polymarket_ws_btc_5m_cut.jsonl.gz"
    cut.write_bytes(raw)
    text = zlib.decompressobj(wbits=31).decompress(raw)  # reference: what the cut stream decodes to
    complete = text[: text.rfind(b"\n") + 1]
    dropped = len(text) - len(complete)
    assert dropped > 0
    out = ingest_command([d], f"duckdb:///{tmp_path}/t.duckdb")
    n = complete.count(b"\n")
    expected = (f"warning: {cut}: file truncated (gzip stream without its end marker): loaded its {n} complete "
                f"lines, dropped the incomplete last line ({dropped} bytes)")
    assert expected in out, out
    ref, _ = websocket_log(complete.decode().splitlines(), where="complete lines")
    with connect(f"duckdb:///{tmp_path}/t.duckdb") as store:
        assert store.count("polymarket_book_events") == len(ref["book_events"])
        assert store.count("polymarket_books") == len(ref["books"])


def test_malformed_line_names_file_and_line_and_nothing_is_loaded(
        shared_data: Path, lines: list[str], tmp_path: Path, store_url: str) -> None:
    d = tmp_path / "in"
    d.mkdir()
    bad = [*lines[:300], '{"received_at": 1776081408.5, "message": {"market": \n', *lines[300:600]]
    write_gz(d / "polymarket_ws_btc_5m_bad.jsonl.gz", bad)
    markets_slice(shared_data, lines).to_parquet(d / "polymarket_btc_5m_markets_slice.parquet")
    with connect(store_url) as store:
        with pytest.raises(SchemaError, match=r"polymarket_ws_btc_5m_bad\.jsonl\.gz: line 301: not JSON"):
            ingest(store, [d])
        assert store.counts() == dict.fromkeys(store.counts(), 0)


def test_messages_out_of_order_are_put_back_in_exchange_time_order() -> None:
    def line(ts: int, bid: str, recv: float) -> str:
        msg = {"market": "0xm", "asset_id": "7", "timestamp": str(ts), "event_type": "book",
               "bids": [{"price": bid, "size": "10"}], "asks": [{"price": "0.9", "size": "5"}]}
        return json.dumps({"received_at": recv, "message": msg})

    t0 = 1_776_081_408_000
    log = [line(t0, "0.40", 1.0), line(t0 + 9, "0.42", 1.1), line(t0 + 2, "0.41", 1.2),  # 7 ms late: reordered
           line(t0 + 5_000, "0.43", 1.3), line(t0 + 8_000, "0.44", 1.4),
           line(t0 + 4_000, "0.39", 1.5)]  # older than an instant already processed: ignored
    frames, notes = websocket_log(log, where="ooo")
    ev = frames["book_events"]
    bids = ev[(ev["side"] == "bid") & (ev["size"] > 0)].sort_values("ts")
    assert bids["price"].tolist() == [0.40, 0.41, 0.42, 0.43, 0.44]
    assert (bids["ts"] - pd.Timestamp(t0, unit="ms", tz="UTC")).dt.total_seconds().mul(1000).round().tolist() == [
        0, 2, 9, 5000, 8000]
    assert any(f"1 message(s) more than {REORDER_WINDOW_MS / 1000:g} s out of exchange-time order ignored" in n
               for n in notes)


def test_book_at_is_the_same_in_duckdb_and_postgres(shared_data: Path, lines: list[str], tmp_path: Path,
                                                    pg_url: str) -> None:
    d = tmp_path / "in"
    d.mkdir()
    write_gz(d / "polymarket_ws_btc_5m_slice.jsonl.gz", lines)
    markets_slice(shared_data, lines).to_parquet(d / "polymarket_btc_5m_markets_slice.parquet")
    ref = message_books(lines)
    rng = np.random.default_rng(11)
    first = min(b[0][0] for b in ref.values())
    last = max(b[-1][0] for b in ref.values()) + pd.Timedelta(seconds=2)
    instants = [first - pd.Timedelta(seconds=1), *(first + (last - first) * rng.random(25))]
    got: dict[str, list[pd.DataFrame]] = {}
    for url in (f"duckdb:///{tmp_path}/b.duckdb", pg_url):
        with connect(url) as store:
            ingest(store, [d])
            got[store.backend] = [book_at(store, token, t) for t in instants for token in sorted(ref)]
    for i, (a, b) in enumerate(zip(got["duckdb"], got["postgresql"], strict=True)):
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=f"book {i}")
    for i, (t, token) in enumerate((t, token) for t in instants for token in sorted(ref)):
        before = [b for ts, b in ref[token] if ts <= t]
        assert as_book(got["duckdb"][i]) == (before[-1] if before else ({}, {})), (token, t)
        if before:
            assert_levels_numbered(got["duckdb"][i])


def test_a_message_received_late_is_not_known_before_it_arrived() -> None:
    """Exchange time 12:00:01 but received 7 s later (a delayed burst, as on 2026-04-13): its book,
    and the Up quote it gives, are known at the receipt, not at the exchange stamp (DESIGN.md)."""
    def line(ts_ms: int, bid: str, recv_s: float) -> str:
        msg = {"market": "0xm", "asset_id": "7", "timestamp": str(ts_ms), "event_type": "book",
               "bids": [{"price": bid, "size": "10"}], "asks": [{"price": "0.9", "size": "5"}]}
        return json.dumps({"received_at": recv_s, "message": msg})

    t0 = 1_776_081_600_000  # ms
    log = [line(t0, "0.40", t0 / 1000 + 0.01), line(t0 + 1_000, "0.55", t0 / 1000 + 8.0),
           line(t0 + 1_001, "0.56", t0 / 1000 + 8.0)]  # received with the late one: later still
    frames, _ = websocket_log(log, where="late")
    events = frames["book_events"]
    at = pd.Timestamp(t0, unit="ms", tz="UTC")
    assert as_book(book_as_of(events, "7", at + pd.Timedelta(seconds=5)))[0] == {0.40: 10.0}  # not yet 0.55
    seen = at + pd.Timedelta(seconds=8)
    assert as_book(book_as_of(events, "7", seen))[0] == {0.55: 10.0}
    assert as_book(book_as_of(events, "7", seen + pd.Timedelta(microseconds=1)))[0] == {0.56: 10.0}
    assert (events["ts"] >= at).all() and events["ts"].is_monotonic_increasing
