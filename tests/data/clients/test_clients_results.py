"""Issue 12: an empty answer for an ended range is retried, then reported, never checkpointed; the results' Summary.

The probe: a server answered ``[]`` for a past range, the chunk was checkpointed as complete, and a later run
against a healthy server still wrote 0 rows. Here the replay of the real payloads answers ``[]`` (a scripted
fault) and later answers normally; the reference rows are the payload itself.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from clients_replay import FakeClock, Fault, Server, fetch_cli, load

from pmresearch._summary import Summary
from pmresearch.data.clients.binance import BinanceClient
from pmresearch.data.clients.coinbase import CoinbaseClient
from pmresearch.data.clients.http import EmptyResponse, Manifest, RetryPolicy
from pmresearch.data.clients.polymarket import PolymarketClient
from pmresearch.data.clients.ws import RecordStats

KLINES = "/api/v3/klines"
CANDLES = "/products/BTC-USDT/candles"
K_START, K_END = "2021-10-22T23:03:00Z", "2021-10-22T23:13:00Z"  # binance/klines_1m.json: 10 bars
C_START, C_END = "2024-03-13T11:00Z", "2024-03-13T12:00Z"  # coinbase/candles_exchange.json: 1 candle
EMPTY = Fault(status=200, body=b"[]")
POLICY = RetryPolicy(base_s=0.0, max_attempts=3)


def _done(tmp_path: Path) -> dict[str, dict[str, object]]:
    (path,) = (tmp_path / "raw").rglob("manifest.jsonl")
    return Manifest.read(path)[1]


def _binance(server: Server, tmp_path: Path, clock: FakeClock) -> BinanceClient:
    return BinanceClient(base_url=server.url, raw_root=tmp_path / "raw", clock=clock, retry=POLICY)


def test_binance_one_empty_answer_is_retried(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, EMPTY)
    res = _binance(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", K_START, K_END,
                                                                          out_dir=tmp_path / "out")
    assert res.rows == {"btcusdt_1m_20211022T2303_20211022T2313.parquet": 10} and res.retries == 1
    got = pd.read_parquet(res.files[0])
    assert got["close"].tolist() == [float(r[4]) for r in load("binance/klines_1m.json")]


def test_binance_empty_past_range_is_reported_then_a_healthy_run_writes_rows(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(status=200, body=b"[]", repeat=True))
    client = _binance(replay_server, tmp_path, fake_clock)
    with pytest.raises(EmptyResponse, match=r"GET http://127\.0\.0\.1:\d+/api/v3/klines\?symbol=BTCUSDT.*"
                                            r"empty answer after 3 attempts although the range .* has ended; "
                                            r"the chunk is not checkpointed"):
        client.fetch_klines_sync("BTCUSDT", "1m", K_START, K_END, out_dir=tmp_path / "out")
    assert len(replay_server.replay.requests(KLINES)) == 3
    assert _done(tmp_path) == {} and not (tmp_path / "out").exists()
    replay_server.replay.faults.clear()  # the server is healthy again
    res = client.fetch_klines_sync("BTCUSDT", "1m", K_START, K_END, out_dir=tmp_path / "out")
    assert sum(res.rows.values()) == 10 and res.chunks == {"total": 1, "skipped": 0, "fetched": 1}
    assert len(_done(tmp_path)) == 1


def test_binance_cli_reports_the_empty_answer(replay_server: Server, tmp_path: Path) -> None:
    replay_server.replay.fault(KLINES, Fault(status=200, body=b"[]", repeat=True))
    res = fetch_cli("binance", replay_server, tmp_path, "--symbol", "BTCUSDT", "--interval", "1m",
                    "--start", K_START, "--end", K_END, "--max-attempts", "2")
    assert res.exit_code == 1
    assert "error: GET" in res.output and "empty answer after 2 attempts" in res.output
    assert "Traceback" not in res.output


def test_binance_range_still_open_is_not_retried_and_not_checkpointed(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    start, end = now - pd.Timedelta(minutes=5), now + pd.Timedelta(minutes=30)
    res = _binance(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", start, end,
                                                                          out_dir=tmp_path / "out")
    assert len(replay_server.replay.requests(KLINES)) == 1 and res.retries == 0  # no bars there yet: no retry
    assert sum(res.rows.values()) == 0 and _done(tmp_path) == {}  # asked again by the next run


def test_coinbase_empty_past_range_is_reported_then_a_healthy_run_writes_rows(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(CANDLES, Fault(status=200, body=b"[]", repeat=True))
    client = CoinbaseClient(base_url=replay_server.url, raw_root=tmp_path / "raw", clock=fake_clock, retry=POLICY)
    with pytest.raises(EmptyResponse, match=r"/products/BTC-USDT/candles\?granularity=3600.*empty answer after 3"):
        client.fetch_candles_sync("BTC-USDT", 3600, C_START, C_END, out_dir=tmp_path / "out")
    assert len(replay_server.replay.requests(CANDLES)) == 3 and _done(tmp_path) == {}
    replay_server.replay.faults.clear()
    res = client.fetch_candles_sync("BTC-USDT", 3600, C_START, C_END, out_dir=tmp_path / "out")
    ((t, *_),) = load("coinbase/candles_exchange.json")
    assert pd.read_parquet(res.files[0])["ts"].tolist() == [pd.Timestamp(t, unit="s", tz="UTC")]
    assert len(_done(tmp_path)) == 1


def test_gamma_empty_batch_of_ended_windows_is_reported_then_resumed(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault("/markets", Fault(status=200, body=b"[]", repeat=True))
    client = PolymarketClient(gamma_url=replay_server.url, clob_url=replay_server.url, data_url=replay_server.url,
                              raw_root=tmp_path / "raw", clock=fake_clock, retry=POLICY)
    with pytest.raises(EmptyResponse, match=r"/markets\?slug=btc-updown-15m-1761684300.*although the windows "
                                            r"btc-updown-15m-1761684300\.\.btc-updown-15m-1761686100 have ended"):
        client.run("markets", "2025-10-28T20:45Z", "2025-10-28T21:30Z", out_dir=tmp_path / "out")
    assert _done(tmp_path) == {}
    replay_server.replay.faults.clear()
    (res,) = client.run("markets", "2025-10-28T20:45Z", "2025-10-28T21:30Z", out_dir=tmp_path / "out")
    assert sum(res.rows.values()) == 3 and res.chunks["skipped"] == 0


def test_fetch_result_summary_is_a_summary_and_prints_the_lines_of_the_cli(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    res = _binance(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", K_START, K_END,
                                                                          out_dir=tmp_path / "out")
    summary = res.summary()
    assert isinstance(summary, Summary) and str(res) == summary.as_text() and res._repr_html_() == summary.as_html()
    assert summary.title == "fetch: 1 chunks fetched, 0 already done (of 1); 1 requests, 0 retries"
    (path,) = res.files
    assert summary["files"].to_dict("index") == {path.name: {"rows": 10, "path": str(path)}}
    assert summary.notes == (f"wrote 10 rows to {path}", f"manifest: {res.manifest}")
    with pytest.raises(TypeError):
        res.rows["x"] = 1  # type: ignore[index]  # the result holds no mutable mapping
    again = _binance(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", K_START, K_END,
                                                                            out_dir=tmp_path / "out")
    assert again.summary().title.startswith("fetch: 0 chunks fetched, 1 already done (of 1)")


def test_record_stats_summary() -> None:
    stats = RecordStats(messages=3, events={"price_change": 2, "book": 1}, pongs=4,
                        malformed=["frame 2: not JSON"], connections=2, path=Path("x.jsonl.gz"))
    summary = stats.summary()
    assert isinstance(summary, Summary) and str(stats) == summary.as_text()
    assert summary.title == "recorded 3 messages to x.jsonl.gz (book 1, price_change 2)"
    assert summary["events"]["events"].to_dict() == {"book": 1, "price_change": 2}
    assert summary.notes == ("connections: 2; PONG replies: 4; malformed frames skipped: 1",
                             "frame 2: not JSON")
    assert isinstance(stats.malformed, tuple)
    with pytest.raises(TypeError):
        stats.events["book"] = 2  # type: ignore[index]


def test_binance_empty_later_page_of_an_ended_range_is_kept_but_not_checkpointed(
        replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    first = load("binance/klines_1m.json")[0][0]
    replay_server.replay.page_cap[KLINES] = 4
    replay_server.replay.fault(KLINES, Fault(status=200, body=b"[]", repeat=True,
                                             when=lambda q: int(q["startTime"][0]) > first + 5 * 60_000))
    client = _binance(replay_server, tmp_path, fake_clock)
    res = client.fetch_klines_sync("BTCUSDT", "1m", K_START, K_END, out_dir=tmp_path / "out")
    assert sum(res.rows.values()) == 8 and res.notes == ("BTCUSDT 1m: 8 of 10 bars in range (gaps, or bars not "
                                                         "closed yet)",)
    starts = [int(q["startTime"][0]) for q in replay_server.replay.requests(KLINES)]
    assert starts == [first, first + 4 * 60_000] + [first + 8 * 60_000] * 3  # the empty page asked 3 times
    assert _done(tmp_path) == {}  # not recorded as done
    replay_server.replay.faults.clear()
    again = client.fetch_klines_sync("BTCUSDT", "1m", K_START, K_END, out_dir=tmp_path / "out")
    assert sum(again.rows.values()) == 10 and again.notes == () and len(_done(tmp_path)) == 1
