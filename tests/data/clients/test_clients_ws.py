"""Market-channel recorder against a local ``websockets`` server replaying the real frames of
../shared/api-samples/polymarket (ws_market_messages.jsonl and the contiguous XRP 15-minute stream).

The reference for the recorded file is the importer run on the source lines themselves: books
rebuilt from the recording must equal books rebuilt from the replayed frames.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from clients_replay import SAMPLES, Server, load
from typer.testing import CliRunner
from websockets.asyncio.server import ServerConnection, serve

from pmresearch.cli import app
from pmresearch.data.clients.http import MalformedResponse, RetryExhausted, RetryPolicy
from pmresearch.data.clients.ws import RecordStats, record_market_channel
from pmresearch.data.importers import collect, websocket_log

XRP = SAMPLES / "polymarket" / "ws_market_stream_xrp_updown_15m.jsonl"
MIXED = SAMPLES / "polymarket" / "ws_market_messages.jsonl"
FAST = RetryPolicy(base_s=0.0, timeout_s=5.0)


def lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.strip()]


@dataclass
class WsReplay:
    """Per-connection scripts of frames; records subscriptions and answers PING with PONG."""

    scripts: list[list[str]]
    subs: list[dict[str, object]] = field(default_factory=list)
    pings: int = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.subs.append(json.loads(await ws.recv()))
        n = len(self.subs)
        script = self.scripts[n - 1] if n <= len(self.scripts) else []
        for frame in script:
            await ws.send(frame)
        if n < len(self.scripts):
            await ws.close()  # drop the connection: the recorder must reconnect and resubscribe
            return
        async for msg in ws:
            if msg == "PING":
                self.pings += 1
                await ws.send("PONG")


def run_with(server: WsReplay, go: Callable[[str], Awaitable[RecordStats]]) -> RecordStats:
    async def main() -> RecordStats:
        async with serve(server.handler, "127.0.0.1", 0) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            return await go(f"ws://127.0.0.1:{port}")

    return asyncio.run(main())


def read_recording(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt") as fh:
        return [json.loads(ln) for ln in fh]


def test_records_real_stream_and_rebuilds_the_same_books(tmp_path: Path) -> None:
    frames = lines(XRP)
    server = WsReplay([frames])
    out = tmp_path / "polymarket_ws_xrp_15m_test.jsonl.gz"
    before = time.time()
    stats = run_with(server, lambda url: record_market_channel(["34203708", "47834631"], out, url=url,
                                                               max_messages=len(frames), retry=FAST))
    after = time.time()
    assert stats.messages == len(frames) == 68
    assert stats.events == {"book": 1, "price_change": 67}  # README: 1 book (an array of one) + 67 changes
    assert server.subs == [{"assets_ids": ["34203708", "47834631"], "type": "market"}]
    rec = read_recording(out)
    assert [r["message"] for r in rec] == [json.loads(f) for f in frames]
    stamps = [float(r["received_at"]) for r in rec]  # type: ignore[arg-type]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= after
    got, _ = websocket_log(out, snapshot_every_s=0)
    ref, _ = websocket_log(frames, where="source", snapshot_every_s=0)
    # the same books, known when the recorder received them (never before the exchange stamped them)
    pd.testing.assert_frame_equal(got["books"].drop(columns="ts"), ref["books"].drop(columns="ts"))
    assert (got["books"]["ts"] >= ref["books"]["ts"]).all() and (got["books"]["ts"] >= pd.Timestamp(
        before, unit="s", tz="UTC").floor("us")).all()
    assert len(got["books"]) > 0


def test_reconnects_and_resubscribes_after_a_drop(tmp_path: Path) -> None:
    frames = lines(MIXED)
    server = WsReplay([frames[:3], frames[3:]])
    out = tmp_path / "rec.jsonl.gz"
    stats = run_with(server, lambda url: record_market_channel(["a"], out, url=url, max_messages=len(frames),
                                                               retry=FAST))
    assert stats.connections == 2 and len(server.subs) == 2 and server.subs[0] == server.subs[1]
    assert [r["message"] for r in read_recording(out)] == [json.loads(f) for f in frames]
    assert stats.events == {"book": 3, "price_change": 2, "last_trade_price": 2, "tick_size_change": 1}


def test_ping_pong_not_recorded(tmp_path: Path) -> None:
    frames = lines(MIXED)[:2]
    server = WsReplay([[*frames, "PONG"]])
    out = tmp_path / "rec.jsonl.gz"
    stats = run_with(server, lambda url: record_market_channel(["a"], out, url=url, duration_s=0.5,
                                                               ping_interval_s=0.1, retry=FAST))
    assert stats.messages == 2 and len(read_recording(out)) == 2
    assert server.pings >= 2 and stats.pongs >= server.pings  # every PING answered, plus the scripted PONG


def test_malformed_frames_are_named_and_skipped_or_raised(tmp_path: Path) -> None:
    good = lines(MIXED)[2]
    server = WsReplay([[good, '{"market": "0x1", "price_changes": [', '{"hello": 1}', good]])
    stats = run_with(server, lambda url: record_market_channel(["a"], tmp_path / "a.jsonl.gz", url=url,
                                                               max_messages=2, retry=FAST))
    assert stats.messages == 2
    assert len(stats.malformed) == 2
    assert stats.malformed[0].startswith("frame 2: not JSON")
    assert stats.malformed[1].startswith("frame 3: not a market-channel event")
    server2 = WsReplay([[good, "{truncated"]])
    with pytest.raises(MalformedResponse, match=r"websocket ws://127\.0\.0\.1:\d+: frame 2: not JSON"):
        run_with(server2, lambda url: record_market_channel(["a"], tmp_path / "b.jsonl.gz", url=url,
                                                            max_messages=2, strict=True, retry=FAST))


def test_gives_up_after_max_reconnects(tmp_path: Path) -> None:
    server = WsReplay([[], [], [], [], []])  # every connection is dropped at once

    with pytest.raises(RetryExhausted, match="websocket ws://127"):
        run_with(server, lambda url: record_market_channel(["a"], tmp_path / "c.jsonl.gz", url=url,
                                                           max_messages=1, max_reconnects=2, retry=FAST))
    assert len(server.subs) == 3


def test_cli_fetch_polymarket_ws(tmp_path: Path) -> None:
    frames = lines(MIXED)
    server = WsReplay([frames])

    async def main() -> str:
        async with serve(server.handler, "127.0.0.1", 0) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            args = ["fetch", "polymarket", "ws", "--start", "2025-10-28T12:00Z", "--end", "2025-10-28T12:15Z",
                    "--token", "t1", "--token", "t2", "--max-messages", str(len(frames)),
                    "--ws-url", f"ws://127.0.0.1:{port}", "--out", str(tmp_path / "out"),
                    "--raw-root", str(tmp_path / "raw")]
            result = await asyncio.to_thread(CliRunner().invoke, app, args)
            assert result.exit_code == 0, result.output
            return result.output

    output = asyncio.run(main())
    assert f"recorded {len(frames)} messages" in output
    (path,) = (tmp_path / "out").glob("polymarket_ws_btc_15m_*.jsonl.gz")
    assert server.subs == [{"assets_ids": ["t1", "t2"], "type": "market"}]
    frames_out, _ = websocket_log(path)
    assert set(frames_out) >= {"books", "trades"}


def test_cli_ws_subscribes_to_the_tokens_of_the_range(replay_server: Server, tmp_path: Path) -> None:
    """Without --token, the range's markets come from Gamma (replayed) and both tokens of each are subscribed."""
    frames = lines(XRP)[:5]
    server = WsReplay([frames])
    events = load("polymarket/gamma_events_btc_updown_15m.json")
    expected = sorted(t for e in events for m in e["markets"] for t in json.loads(m["clobTokenIds"]))

    async def main() -> str:
        async with serve(server.handler, "127.0.0.1", 0) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            args = ["fetch", "polymarket", "ws", "--start", "2025-10-28T20:45Z", "--end", "2025-10-28T21:30Z",
                    "--max-messages", "5", "--ws-url", f"ws://127.0.0.1:{port}", "--gamma-url", replay_server.url,
                    "--out", str(tmp_path / "out"), "--raw-root", str(tmp_path / "raw")]
            result = await asyncio.to_thread(CliRunner().invoke, app, args)
            assert result.exit_code == 0, result.output
            return result.output

    asyncio.run(main())
    assert server.subs == [{"assets_ids": expected, "type": "market"}] and len(expected) == 6
    items, report = collect([tmp_path / "out"])
    assert sorted(kind for kind, _, _ in items) == ["book_events", "books", "markets"] and report.skipped == []
