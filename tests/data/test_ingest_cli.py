"""``pmresearch ingest`` and ``pmresearch db backup/restore`` on both backends, through the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data import TABLES, connect, read_file

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "api-samples"


def _small_dir(shared_data: Path, root: Path) -> Path:
    """Real files of every loadable kind, small: quotes, markets, klines, oracle, trades, a websocket log."""
    d = root / "in"
    d.mkdir()
    for name in ("polymarket_btc_15m_quotes_2026-02-16.parquet", "polymarket_btc_15m_markets_2026-02-16.parquet",
                 "btcusdt_1m_2026-02-21_24.parquet", "chainlink_btcusd_2026-03-03am.parquet",
                 "btcusdt_trades_2026-03-03.parquet", "README.md"):
        (d / name).symlink_to(shared_data / name)
    src = next(shared_data.glob("polymarket_ws_*.jsonl.gz"))
    with gzip.open(src, "rt") as fh:
        head = [next(fh) for _ in range(30)]
    with gzip.open(d / "polymarket_ws_btc_5m_head.jsonl.gz", "wt") as fh:
        fh.writelines(head)
    (d / "binance_klines_btcusdt_1m_x.json").write_text((SAMPLES / "binance/klines_1m.json").read_text())
    return d


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.output


def test_ingest_backup_restore_through_the_cli(shared_data: Path, tmp_path: Path, pg_url: str) -> None:
    d = _small_dir(shared_data, tmp_path)
    duck = f"duckdb:///{tmp_path}/a.duckdb"
    out = _ok(["ingest", str(d), "--db", duck])
    assert f"skipped {d / 'README.md'}" in out  # every skipped file is named
    assert "polymarket_quotes: 8062 rows inserted" in out and "spot_prices: 4904 rows inserted" in out
    assert "warning: quotes skipped for" in out and "no token -> market mapping" in out
    again = _ok(["ingest", str(d), "--db", duck])
    assert "(0 new rows)" in again
    with connect(duck) as store:
        counts = store.counts()
        tables = {t: store.read_table(t) for t in TABLES}
    assert counts["polymarket_books"] > 0 and counts["trades"] == 5_418 and counts["oracle_prices"] == 311
    assert counts["polymarket_book_events"] > 0

    backup = tmp_path / "dump" / "a.tar"
    out = _ok(["db", "backup", str(backup), "--db", duck])
    assert "polymarket_quotes: 8062 rows" in out and backup.exists()
    for target in (pg_url, f"duckdb:///{tmp_path}/b.duckdb"):
        out = _ok(["db", "restore", str(backup), "--db", target])
        assert "polymarket_books: " + str(counts["polymarket_books"]) + " rows inserted" in out
        assert "trades: 0 rows inserted" in _ok(["db", "restore", str(backup), "--db", target])
        with connect(target) as store:
            assert store.counts() == counts
            for table, frame in tables.items():
                got = store.read_table(table)
                pd.testing.assert_frame_equal(got.reset_index(drop=True), frame.reset_index(drop=True),
                                              check_dtype=False, obj=f"{target} {table}")

    # the same directory straight into PostgreSQL gives the same rows
    pg_direct = pg_url.replace("?schema=", "?schema=d")
    try:
        _ok(["ingest", str(d), "--db", pg_direct])
        with connect(pg_direct) as store:
            assert store.counts() == counts
            pd.testing.assert_frame_equal(store.read_table("trades"), tables["trades"], check_dtype=False)
    finally:
        with connect(pg_direct) as store:
            store.query(f"DROP SCHEMA {pg_direct.rsplit('=', 1)[1]} CASCADE")


def test_ingest_errors_exit_1_naming_file_and_leave_the_store_unchanged(
        shared_data: Path, tmp_path: Path, store_url: str) -> None:
    d = _small_dir(shared_data, tmp_path)
    q = read_file(shared_data / "polymarket_btc_5m_quotes_2026-02-16.parquet")
    q.loc[3, "best_bid_up"] = float("nan")  # allowed: an empty side of the book
    q.loc[4, "best_ask_up"] = -0.2
    q.to_parquet(d / "polymarket_btc_5m_quotes_bad.parquet")
    _ok(["ingest", str(d / "btcusdt_1m_2026-02-21_24.parquet"), "--db", store_url])
    res = runner.invoke(app, ["ingest", str(d), "--db", store_url])
    assert res.exit_code == 1
    assert "polymarket_btc_5m_quotes_bad.parquet: column 'best_ask_up'" in res.output and "rows [4]" in res.output
    with connect(store_url) as store:
        assert store.counts() == {**dict.fromkeys(TABLES, 0), "spot_prices": 4_894}
    res = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--db", store_url])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_websocket_log_with_bad_received_at_names_line(tmp_path: Path) -> None:
    line = {"received_at": "soon", "message": {"event_type": "book", "asset_id": "1", "timestamp": "1",
                                               "bids": [], "asks": []}}
    d = tmp_path / "polymarket_ws_x.jsonl.gz"
    with gzip.open(d, "wt") as fh:
        fh.write(json.dumps(line) + "\n")
    res = runner.invoke(app, ["ingest", str(d), "--db", f"duckdb:///{tmp_path}/x.duckdb"])
    assert res.exit_code == 1 and "polymarket_ws_x.jsonl.gz: line 1: column 'received_at'" in res.output


@pytest.mark.parametrize("payload", [b"", b"not a tar at all"])
def test_restore_of_a_bad_file_is_a_clear_error(tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(payload)
    res = runner.invoke(app, ["db", "restore", str(bad), "--db", f"duckdb:///{tmp_path}/x.duckdb"])
    assert res.exit_code == 1 and "bad.tar: not a readable pmresearch backup" in res.output
