"""Schemas reject bad input clearly; the DuckDB store loads real and simulated data idempotently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pmresearch.data import DuckDBStore, SchemaError, read_file, validate
from pmresearch.data.store import parse_duckdb_url
from pmresearch.simulate import simulate


def test_real_sample_loads_and_reloading_changes_nothing(shared_data: Path) -> None:
    with DuckDBStore("duckdb:///:memory:") as store:
        first = store.load_data_dir(shared_data)
        def rows(pattern: str) -> int:
            return sum(len(read_file(f)) for f in sorted(shared_data.glob(pattern)))

        assert first["polymarket_quotes"] == rows("polymarket_btc_*_quotes_*.parquet") > 0
        assert first["trades"] == rows("btcusdt_trades_*.parquet") > 0  # exact duplicates kept apart by position
        assert store.load_data_dir(shared_data) == dict.fromkeys(first, 0)
        ts = store.query("SELECT ts FROM polymarket_quotes LIMIT 1")["ts"]
        assert str(ts.dt.tz) == "UTC"


def test_simulated_world_loads_like_a_data_dir(edge_world_dir: Path) -> None:
    with DuckDBStore("duckdb:///:memory:") as store:
        counts = store.load_data_dir(edge_world_dir)
        assert counts["polymarket_resolutions"] == 92 + 276  # warm-up hour, then 15- and 5-minute markets
        # every table the directory fills holds what the load reported, and something
        for table, n in counts.items():
            assert store.count(table) == n > 0, table
        # written with books=False: no full-depth book tables
        assert not {"polymarket_books", "polymarket_book_events"} & set(counts)


def test_simulated_world_with_books_loads_its_book_files(tmp_path: Path) -> None:
    """A tiny world written with its book files: the book tables hold exactly the world's book rows."""
    world = simulate("edge", days=0.125, seed=2, intervals=(5,))
    world.write(tmp_path / "world")
    assert world.book_counts["book_events"] > 0 and world.book_counts["books"] > 0
    with DuckDBStore("duckdb:///:memory:") as store:
        counts = store.load_data_dir(tmp_path / "world")
        assert counts["polymarket_book_events"] == world.book_counts["book_events"]
        assert counts["polymarket_books"] == world.book_counts["books"]
        assert store.count("polymarket_book_events") == world.book_counts["book_events"]
        assert store.count("polymarket_books") == world.book_counts["books"]
        assert store.count("polymarket_quotes") == counts["polymarket_quotes"] == len(world.quotes)


def _quotes(shared_data: Path) -> pd.DataFrame:
    return read_file(next(shared_data.glob("polymarket_btc_15m_quotes_*.parquet")))


def test_bad_inputs_name_file_column_and_row(shared_data: Path) -> None:
    q = _quotes(shared_data)
    naive = q.assign(ts=q["ts"].dt.tz_localize(None))
    with pytest.raises(SchemaError, match=r"f\.parquet: column 'ts': naive"):
        validate(naive, "quotes", source="f.parquet")
    with pytest.raises(SchemaError, match="missing column 'slug'"):
        validate(q.drop(columns="slug"), "quotes", source="f.parquet")
    bad = q.copy()
    bad.loc[7, "best_ask_up"] = 1.4
    with pytest.raises(SchemaError, match=r"column 'best_ask_up'.*rows \[7\]"):
        validate(bad, "quotes", source="f.parquet")
    dup = pd.concat([q.iloc[:3], q.iloc[[1]]], ignore_index=True)
    with pytest.raises(SchemaError, match="duplicate keys"):
        validate(dup, "quotes", source="f.parquet")


def test_truncated_parquet_is_a_clear_error(shared_data: Path, tmp_path: Path) -> None:
    src = next(shared_data.glob("polymarket_btc_15m_quotes_*.parquet")).read_bytes()
    cut = tmp_path / "polymarket_btc_15m_quotes_cut.parquet"
    cut.write_bytes(src[: len(src) // 2])
    with pytest.raises(SchemaError, match=r"polymarket_btc_15m_quotes_cut\.parquet: cannot read"):
        read_file(cut)


def test_failed_load_leaves_the_store_unchanged(shared_data: Path) -> None:
    q = _quotes(shared_data)
    with DuckDBStore("duckdb:///:memory:") as store:
        broken = q.copy()
        broken.loc[5, "slug"] = None
        not_null = r"q\.parquet: column 'slug': null/NaN values not allowed at rows \[5\]"
        with pytest.raises(SchemaError, match=not_null):  # caught by the schema
            store.load_frame("quotes", broken, "q.parquet")
        assert store.count("polymarket_quotes") == 0
        # past the schema (validated=True), the NOT NULL primary key fails inside the transaction:
        # DuckDB's own error is surfaced (not "transaction is aborted") and everything rolls back
        ok = q.iloc[:50]
        with pytest.raises(SchemaError, match=r"q\.parquet: table polymarket_quotes: .*(?i:null)"):
            store.load_frames([("quotes", ok, "ok.parquet"), ("quotes", broken, "q.parquet")], validated=True)
        assert store.count("polymarket_quotes") == 0
        assert store.load_frame("quotes", ok) == 50  # the connection is usable again


def test_duckdb_urls(tmp_path: Path) -> None:
    assert parse_duckdb_url("duckdb:///data/x.duckdb") == "data/x.duckdb"
    assert parse_duckdb_url("duckdb:////abs/x.duckdb") == "/abs/x.duckdb"
    with pytest.raises(ValueError, match="not a DuckDB URL"):
        parse_duckdb_url("postgresql://x")
    with DuckDBStore(f"duckdb:///{tmp_path}/nested/s.duckdb") as store:
        assert store.count("spot_prices") == 0
    assert (tmp_path / "nested" / "s.duckdb").exists()


def test_repeated_trade_id_with_other_values_is_refused_and_exact_repeats_count_once() -> None:
    ts = pd.Timestamp("2026-03-01", tz="UTC")
    trades = pd.DataFrame({"ts": [ts] * 4, "price": [1.0, 2.0, 1.0, 1.0], "qty": 1.0, "side": "buy",
                           "received_at": [ts] * 4, "symbol": "BTCUSDT", "venue": "binance",
                           "trade_id": ["7", "7", "8", "8"]})
    with DuckDBStore("duckdb:///:memory:") as store:
        with pytest.raises(SchemaError, match=r"t\.csv: duplicate keys .*conflicting values in column 'price' "
                                              r"at rows \[0, 1\].*'trade_key': '7'"):
            store.load_frame("trades", trades, "t.csv")
        assert store.count("trades") == 0
        assert store.load_frame("trades", trades.iloc[[0, 2, 3]], "t.csv") == 2  # ids 7 and 8 (8 twice, identical)
