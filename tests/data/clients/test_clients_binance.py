"""Binance klines client against the replay of the real ``/api/v3/klines`` payload (binance/klines_1m.json).

The independent reference for every value is the payload itself, read with ``json`` and ``float``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from clients_replay import FakeClock, Fault, Server, fetch_cli, load
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data.clients.binance import BinanceClient
from pmresearch.data.clients.http import MalformedResponse, Manifest, RetryExhausted, RetryPolicy
from pmresearch.data.importers import import_file
from pmresearch.data.io import recognize

KLINES = "/api/v3/klines"
START, END = "2021-10-22T23:03:00Z", "2021-10-22T23:13:00Z"  # the payload's 10 bars


def reference() -> pd.DataFrame:
    rows = load("binance/klines_1m.json")
    return pd.DataFrame({
        "ts": pd.to_datetime([r[0] for r in rows], unit="ms", utc=True),
        "open": [float(r[1]) for r in rows], "high": [float(r[2]) for r in rows],
        "low": [float(r[3]) for r in rows], "close": [float(r[4]) for r in rows],
        "volume": [float(r[5]) for r in rows], "quote_volume": [float(r[7]) for r in rows],
        "trades": [int(r[8]) for r in rows], "taker_buy_volume": [float(r[9]) for r in rows],
    })


def client(server: Server, tmp_path: Path, clock: FakeClock, **kw: object) -> BinanceClient:
    return BinanceClient(base_url=server.url, raw_root=tmp_path / "raw", clock=clock,
                         retry=RetryPolicy(base_s=0.0, max_attempts=3), **kw)  # type: ignore[arg-type]


def check_output(path: Path) -> None:
    got = pd.read_parquet(path)
    ref = reference()
    assert len(got) == 10
    assert str(got["ts"].dtype) == "datetime64[us, UTC]"
    for col in ref.columns:
        if col == "ts":
            assert (got["ts"].to_numpy() == ref["ts"].astype("datetime64[us, UTC]").to_numpy()).all()
        else:
            assert got[col].astype(float).tolist() == ref[col].astype(float).tolist(), col
    assert set(got["symbol"]) == {"BTCUSDT"} and set(got["interval"]) == {"1m"}


def test_fetch_replays_real_payload_into_canonical_parquet(replay_server: Server, tmp_path: Path,
                                                           fake_clock: FakeClock) -> None:
    res = client(replay_server, tmp_path, fake_clock).fetch_klines_sync("btcusdt", "1m", START, END,
                                                                         out_dir=tmp_path / "out")
    (path,) = res.files
    assert path.name == "btcusdt_1m_20211022T2303_20211022T2313.parquet"
    assert recognize(path) == "klines"  # the ingest prefix
    check_output(path)
    assert res.chunks == {"total": 1, "skipped": 0, "fetched": 1}
    assert res.notes == ()
    # raw response kept as received, with a sidecar the importer understands
    raws = sorted((tmp_path / "raw" / "binance" / "klines").rglob("*_p000.json"))
    assert len(raws) == 1 and json.loads(raws[0].read_text()) == load("binance/klines_1m.json")
    items, _ = import_file(raws[0])
    assert len(items[0][1]) == 10


def test_pagination_and_chunking(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.page_cap[KLINES] = 3  # the server returns at most 3 rows whatever we ask
    res = client(replay_server, tmp_path, fake_clock, page_limit=4, concurrency=2).fetch_klines_sync(
        "BTCUSDT", "1m", START, END, out_dir=tmp_path / "out")
    check_output(res.files[0])
    starts = sorted(int(q["startTime"][0]) for q in replay_server.replay.requests(KLINES))
    t0 = 1634943780000
    # chunks of 4 bars [0,4) [4,8) [8,10); pages of 3: 0,3 | 4,7 | 8 (the second page of each continues)
    assert starts == [t0 + 60_000 * k for k in (0, 3, 4, 7, 8)]
    assert res.chunks["total"] == 3


def test_resume_after_failure_skips_completed_chunks(replay_server: Server, tmp_path: Path,
                                                     fake_clock: FakeClock) -> None:
    t0 = 1634943780000
    bad = t0 + 60_000 * 4  # the second chunk fails permanently in the first run
    replay_server.replay.fault(KLINES, Fault(status=500, repeat=True, when=lambda q: int(q["startTime"][0]) == bad))
    c = client(replay_server, tmp_path, fake_clock, page_limit=2, concurrency=1)
    with pytest.raises(RetryExhausted, match="HTTP 500"):
        c.fetch_klines_sync("BTCUSDT", "1m", START, END, out_dir=tmp_path / "out")
    first = [int(q["startTime"][0]) for q in replay_server.replay.requests(KLINES)]
    _, chunks, clean = Manifest.read(next((tmp_path / "raw").rglob("manifest.jsonl")))
    done = sorted(chunks)
    assert clean
    assert len(done) == 4  # 5 chunks of 2 bars; all but the failed one completed and were checkpointed
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.parquet"))
    replay_server.replay.faults.clear()
    replay_server.replay.log.clear()
    res = c.fetch_klines_sync("BTCUSDT", "1m", START, END, out_dir=tmp_path / "out")
    second = [int(q["startTime"][0]) for q in replay_server.replay.requests(KLINES)]
    assert second == [bad]  # only the failed chunk is fetched again
    assert res.chunks == {"total": 5, "skipped": 4, "fetched": 1}
    assert first.count(bad) == 3  # it had been tried max_attempts times
    check_output(res.files[0])
    # a third run fetches nothing and writes the same file
    replay_server.replay.log.clear()
    res3 = c.fetch_klines_sync("BTCUSDT", "1m", START, END, out_dir=tmp_path / "out")
    assert replay_server.replay.requests(KLINES) == [] and res3.chunks["fetched"] == 0
    check_output(res3.files[0])


def test_resume_after_sigkill(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    """A run killed with SIGKILL mid-way leaves a valid manifest; the re-run fetches only what is missing."""
    replay_server.replay.delay_s[KLINES] = 0.5  # 10 chunks x 0.5 s: ample time to kill it half-way
    cmd = [sys.executable, "-c", "from pmresearch.cli import app; app()", "fetch", "binance",
           "--symbol", "BTCUSDT", "--interval", "1m", "--start", START, "--end", END,
           "--base-url", replay_server.url, "--raw-root", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
           "--page-limit", "1", "--concurrency", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    manifest_path = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list((tmp_path / "raw").rglob("manifest.jsonl"))
            if found and found[0].stat().st_size and len(Manifest.read(found[0])[1]) >= 2:
                manifest_path = found[0]
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert manifest_path is not None, "the subprocess never checkpointed a chunk"
    done = set(Manifest.read(manifest_path)[1])
    assert 2 <= len(done) < 10
    replay_server.replay.delay_s.clear()
    replay_server.replay.log.clear()
    res = client(replay_server, tmp_path, fake_clock, page_limit=1, concurrency=1).fetch_klines_sync(
        "BTCUSDT", "1m", START, END, out_dir=tmp_path / "out")
    refetched = {f"{int(q['startTime'][0])}-{int(q['endTime'][0]) + 1}" for q in replay_server.replay.requests(KLINES)}
    assert refetched.isdisjoint(done)
    assert res.chunks["skipped"] == len(done) and res.chunks["fetched"] == 10 - len(done)
    assert len(refetched) == 10 - len(done)
    check_output(res.files[0])


def test_malformed_rows_name_the_endpoint(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    rows = load("binance/klines_1m.json")
    rows[3] = rows[3][:11]
    replay_server.replay.fault(KLINES, Fault(status=200, body=json.dumps(rows).encode()))
    with pytest.raises(MalformedResponse, match=r"/api/v3/klines\?symbol=BTCUSDT.*row 3: expected a 12-element"):
        client(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", START, END,
                                                                       out_dir=tmp_path / "out")
    replay_server.replay.fault(KLINES, Fault(status=200, body=b'{"code": -1121, "msg": "Invalid symbol."}'))
    with pytest.raises(MalformedResponse, match="expected a JSON array of klines"):
        client(replay_server, tmp_path, fake_clock).fetch_klines_sync("BTCUSDT", "1m", START, END,
                                                                       out_dir=tmp_path / "out")


def test_naive_and_reversed_times_are_errors(tmp_path: Path) -> None:
    c = BinanceClient(base_url="http://127.0.0.1:9", raw_root=tmp_path)
    with pytest.raises(ValueError, match="no time zone"):
        c.fetch_klines_sync("BTCUSDT", "1m", "2021-10-22T23:03:00", END)
    with pytest.raises(ValueError, match="must be after"):
        c.fetch_klines_sync("BTCUSDT", "1m", END, START)
    with pytest.raises(ValueError, match="unknown Binance interval"):
        c.fetch_klines_sync("BTCUSDT", "7m", START, END)


def test_cli_fetch_binance(replay_server: Server, tmp_path: Path) -> None:
    result = fetch_cli("binance", replay_server, tmp_path, "--symbol", "BTCUSDT", "--interval", "1m",
                       "--start", START, "--end", END)
    assert result.exit_code == 0, result.output
    assert "wrote 10 rows" in result.output
    check_output(tmp_path / "out" / "btcusdt_1m_20211022T2303_20211022T2313.parquet")
    bad = CliRunner().invoke(app, ["fetch", "binance", "--start", "2021-10-22T23:03:00", "--end", END,
                                   "--base-url", replay_server.url, "--raw-root", str(tmp_path / "raw")])
    assert bad.exit_code == 1 and "no time zone" in bad.output
