"""Coinbase Exchange candles client against the replay of the real payload (coinbase/candles_exchange.json)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from clients_replay import FakeClock, Fault, Server, fetch_cli, load
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data.clients.coinbase import CoinbaseClient
from pmresearch.data.clients.http import EmptyResponse, MalformedResponse, Manifest, RetryPolicy
from pmresearch.data.importers import coinbase_candles, import_file
from pmresearch.data.io import recognize

PATH = "/products/BTC-USDT/candles"
START, END = "2024-03-13T11:00Z", "2024-03-13T12:00Z"


def client(server: Server, tmp_path: Path, clock: FakeClock) -> CoinbaseClient:
    return CoinbaseClient(base_url=server.url, raw_root=tmp_path / "raw", clock=clock,
                          retry=RetryPolicy(base_s=0.0, max_attempts=3))


def test_fetch_real_candle_row_order_time_low_high_open_close(replay_server: Server, tmp_path: Path,
                                                               fake_clock: FakeClock) -> None:
    res = client(replay_server, tmp_path, fake_clock).fetch_candles_sync("BTC-USDT", 3600, START, END,
                                                                          out_dir=tmp_path / "out")
    (path,) = res.files
    assert path.name == "btcusdt_1h_20240313T1100_20240313T1200.parquet"
    got = pd.read_parquet(path)
    ((t, low, high, open_, close, volume),) = load("coinbase/candles_exchange.json")
    assert got["ts"].tolist() == [pd.Timestamp(t, unit="s", tz="UTC")]
    assert (got["open"].iloc[0], got["high"].iloc[0], got["low"].iloc[0], got["close"].iloc[0],
            got["volume"].iloc[0]) == (open_, high, low, close, volume)
    assert got["symbol"].iloc[0] == "BTCUSDT" and got["interval"].iloc[0] == "1h"
    (q,) = replay_server.replay.requests(PATH)
    assert q["granularity"] == ["3600"]
    assert pd.Timestamp(q["start"][0]) == pd.Timestamp(START) and pd.Timestamp(q["end"][0]) == pd.Timestamp(START)
    raw = next(p for p in (tmp_path / "raw").rglob("*.json") if p.name[0].isdigit() and "meta" not in p.name)
    assert len(import_file(raw)[0][0][1]) == 1  # the raw file + sidecar load through the importer


def test_chunks_of_300_candles(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    """720 one-minute candles go as 3 requests of 300; the replay has no 1-minute candles there, so each
    chunk (a range that has ended) is asked max_attempts times, then refused and not checkpointed."""
    with pytest.raises(EmptyResponse, match=r"/products/BTC-USDT/candles\?granularity=60&start=2024-03-13T00:00"
                                            r".*empty answer after 3 attempts .*not checkpointed"):
        client(replay_server, tmp_path, fake_clock).fetch_candles_sync(
            "BTC-USDT", 60, "2024-03-13T00:00Z", "2024-03-13T12:00Z", out_dir=tmp_path / "out")
    asked = [pd.Timestamp(q["start"][0]) for q in replay_server.replay.requests(PATH)]
    starts = sorted(set(asked))
    assert len(starts) == 3 and len(asked) == 3 * 3  # 720 one-minute candles / 300 per request, 3 attempts each
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [18000.0, 18000.0]
    _, done, _ = Manifest.read(next((tmp_path / "raw").rglob("manifest.jsonl")))
    assert done == {} and not (tmp_path / "out").exists()


def test_advanced_trade_payload_parses_newest_first() -> None:
    """The Advanced Trade candles sample (strings, newest first) goes through the same importer."""
    payload = load("coinbase/candles_advanced_trade.json")
    frame = coinbase_candles(payload, product="BTC-USD", granularity_s=3600)
    assert frame["ts"].is_monotonic_increasing
    assert frame["close"].tolist() == [float(c["close"]) for c in reversed(payload["candles"])]


def test_error_object_instead_of_rows(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(PATH, Fault(status=200, body=json.dumps({"message": "NotFound"}).encode()))
    with pytest.raises(MalformedResponse, match=r"/products/BTC-USDT/candles.*expected a JSON array of candles"):
        client(replay_server, tmp_path, fake_clock).fetch_candles_sync("BTC-USDT", 3600, START, END,
                                                                        out_dir=tmp_path / "out")
    replay_server.replay.fault(PATH, Fault(status=200, body=b'[[1710327600, "73241.5", 1, 1, 1, 1]]'))
    with pytest.raises(MalformedResponse, match=r"row 0: expected \[time, low, high, open, close, volume\] numbers"):
        client(replay_server, tmp_path, fake_clock).fetch_candles_sync("BTC-USDT", 3600, START, END,
                                                                        out_dir=tmp_path / "out")


def test_cli_fetch_coinbase(replay_server: Server, tmp_path: Path) -> None:
    result = fetch_cli("coinbase", replay_server, tmp_path, "--product", "BTC-USDT", "--granularity", "3600",
                       "--start", START, "--end", END)
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows" in result.output
    assert "not recognized" not in result.output  # `pmresearch ingest` loads what `fetch coinbase` writes
    (written,) = (tmp_path / "out").glob("*.parquet")
    assert recognize(written) == "klines"
    bad = CliRunner().invoke(app, ["fetch", "coinbase", "--granularity", "120", "--start", START, "--end", END,
                                   "--base-url", replay_server.url, "--raw-root", str(tmp_path / "raw")])
    assert bad.exit_code == 1 and "granularity 120 not allowed" in bad.output
