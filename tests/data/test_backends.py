"""Both backends behind one interface: same counts and answers, idempotent, transactional, as-of safe."""

from __future__ import annotations

import gzip
import itertools
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from pmresearch.data import SchemaError, read_file
from pmresearch.data.importers import collect
from pmresearch.data.postgres import (
    PostgresStore,
    month_partitions,
    parse_postgres_url,
    qmark_to_pyformat,
    table_ddl,
    timescale_available,
)
from pmresearch.data.store import TABLES, DuckDBStore, Store, connect, db_url, knowledge_time_sql

QUERIES = [
    "SELECT symbol, interval, count(*) AS n, min(ts) AS first, max(ts) AS last, sum(volume) AS vol "
    "FROM spot_prices GROUP BY symbol, interval ORDER BY symbol, interval",
    "SELECT slug, ts, best_bid_up, best_ask_up, strike FROM polymarket_quotes "
    "WHERE best_bid_up > best_ask_up OR best_bid_up IS NULL ORDER BY slug, ts",
    "SELECT outcome_up, outcome_from, count(*) AS n FROM polymarket_resolutions "
    "GROUP BY outcome_up, outcome_from ORDER BY outcome_up NULLS FIRST, outcome_from NULLS FIRST",
    "SELECT source, count(*) AS n, avg(price) AS p, max(received_at) AS r FROM oracle_prices "
    "GROUP BY source ORDER BY source",
    "SELECT count(DISTINCT trade_key) AS k, count(*) AS n, sum(qty) AS q FROM trades",
    "SELECT token_id, side, count(*) AS n, count(DISTINCT ts) AS snaps, max(price) AS hi, sum(size) AS sz "
    "FROM polymarket_books GROUP BY token_id, side ORDER BY token_id, side",
    "SELECT token_id, slug, outcome, side, count(*) AS n, count(DISTINCT ts) AS updates, sum(size) AS sz, "
    "count(*) FILTER (WHERE size = 0) AS removed FROM polymarket_book_events "
    "GROUP BY token_id, slug, outcome, side ORDER BY token_id, side",
    "SELECT slug, count(*) AS n, min(best_bid_up) AS lo, max(best_ask_up) AS hi, sum(best_bid_down) AS s "
    "FROM polymarket_quotes WHERE source = 'polymarket-ws' GROUP BY slug ORDER BY slug",
]

#: Lines of each websocket recording in the sliced sample (the whole logs are 221k messages).
WS_LINES = 1_500


def _sliced_sample(shared_data: Path, root: Path) -> Path:
    """The real sample as a data directory of slices: every Parquet file (symlinked), the README, and the
    first :data:`WS_LINES` lines of each websocket recording."""
    d = root / "sample"
    d.mkdir()
    for p in sorted(shared_data.iterdir()):
        if p.name.startswith("polymarket_ws_"):
            with gzip.open(p, "rt", encoding="utf-8") as src, gzip.open(d / p.name, "wt", encoding="utf-8") as dst:
                dst.writelines(itertools.islice(src, WS_LINES))
        else:
            (d / p.name).symlink_to(p)
    return d


def _norm(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_numeric_dtype(out[c]) and not isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].astype("float64").round(6)
    return out.reset_index(drop=True)


def test_real_sample_same_in_duckdb_and_postgres(shared_data: Path, tmp_path: Path, pg_url: str) -> None:
    sample = _sliced_sample(shared_data, tmp_path)
    items, report = collect([sample])  # every file, the websocket log slices included, read once
    assert [p.name for p, _ in report.skipped] == ["README.md"]
    assert not any(n.startswith("warning:") for n in report.notes), report.notes  # the markets file maps tokens
    results = {}
    for url in (f"duckdb:///{tmp_path}/real.duckdb", pg_url):
        with connect(url) as store:
            first = store.load_frames(items)
            again = store.load_frames(items)
            assert again == dict.fromkeys(first, 0), url
            results[store.backend] = (store.counts(), [_norm(store.query(q)) for q in QUERIES])
    (dc, dq), (pc, pq_) = results["duckdb"], results["postgresql"]
    assert dc == pc
    klines = sum(len(read_file(p)) for p in sample.glob("btcusdt_1m_*.parquet"))
    def rows(pattern: str) -> int:
        return sum(len(read_file(p)) for p in sample.glob(pattern))

    assert dc["oracle_prices"] == rows("chainlink_btcusd_*.parquet")
    assert dc["trades"] == rows("btcusdt_trades_*.parquet") and dc["spot_prices"] == klines
    # the quote files, plus Up quotes rebuilt from the books
    ws_quotes = dc["polymarket_quotes"] - rows("polymarket_btc_*_quotes_*.parquet")
    assert 0 < ws_quotes <= 2 * WS_LINES
    assert dc["polymarket_book_events"] > dc["polymarket_books"] > 0
    for a, b in zip(dq, pq_, strict=True):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    crossed = dq[1]
    assert len(crossed) > 0  # crossed / one-sided quotes are real and load


def _first(shared_data: Path, prefix: str) -> Path:
    """The first file of the sample with this prefix (no date or name beyond the prefix is assumed)."""
    files = sorted(shared_data.glob(f"{prefix}*.parquet"))
    assert files, f"no {prefix}* in {shared_data}"
    return files[0]


def _world_files(shared_data: Path, tmp: Path) -> Path:
    d = tmp / "in"
    d.mkdir(parents=True)
    for prefix in ("polymarket_btc_15m_quotes_", "btcusdt_1m_", "polymarket_btc_15m_markets_"):
        src = _first(shared_data, prefix)
        (d / src.name).symlink_to(src)
    return d


def _bad_cases(shared_data: Path) -> dict[str, tuple[pd.DataFrame, str, str]]:
    q = read_file(_first(shared_data, "polymarket_btc_15m_quotes_"))
    k = read_file(_first(shared_data, "btcusdt_1m_"))
    cases: dict[str, tuple[pd.DataFrame, str, str]] = {}
    cases["naive"] = (q.assign(ts=q["ts"].dt.tz_localize(None)), "quotes", r"column 'ts': naive")
    cases["missing"] = (q.drop(columns="best_ask_up"), "quotes", r"missing column 'best_ask_up'")
    wrong = q.assign(best_bid_up=q["best_bid_up"].astype(str))
    wrong.loc[11, "best_bid_up"] = "n/a"
    cases["dtype"] = (wrong, "quotes", r"column 'best_bid_up': wrong dtype.*rows \[11\]")
    nan = k.copy()
    nan.loc[4, "close"] = float("nan")
    cases["nan"] = (nan, "klines", r"column 'close'.*rows \[4\]")
    out = q.copy()
    out.loc[9, "best_ask_down"] = 1.2
    cases["range"] = (out, "quotes", r"column 'best_ask_down'.*rows \[9\]")
    dup = pd.concat([q.iloc[:5], q.iloc[[2]].assign(best_bid_up=0.11)], ignore_index=True)
    cases["dupkey"] = (dup, "quotes", r"duplicate keys .* conflicting values in column 'best_bid_up' at rows \[2, 5\]")
    return cases


def test_each_bad_file_is_named_and_leaves_store_unchanged(
        shared_data: Path, tmp_path: Path, store_url: str) -> None:
    with connect(store_url) as store:
        store.load_frame("klines", read_file(_first(shared_data, "btcusdt_1m_")).iloc[:100])
        before = store.counts()
        for name, (frame, kind, pattern) in _bad_cases(shared_data).items():
            d = _world_files(shared_data, tmp_path / name)
            prefix = {"quotes": "polymarket_btc_5m_quotes", "klines": "ethusdt_1m"}[kind]
            bad = d / f"{prefix}_bad.parquet"
            frame.to_parquet(bad)
            with pytest.raises(SchemaError, match=pattern) as info:
                store.load_data_dir(d)
            assert str(bad) in str(info.value), name
            assert store.counts() == before, name
        truncated = tmp_path / "trunc"
        truncated.mkdir()
        src = _first(shared_data, "btcusdt_trades_").read_bytes()
        (truncated / "btcusdt_trades_cut.parquet").write_bytes(src[: len(src) // 3])
        with pytest.raises(SchemaError, match=r"btcusdt_trades_cut\.parquet: cannot read"):
            store.load_data_dir(truncated)
        assert store.counts() == before


def test_conflicting_reingest_is_rejected_identical_is_a_noop(shared_data: Path, store_url: str) -> None:
    q = read_file(_first(shared_data, "polymarket_btc_5m_quotes_"))
    with connect(store_url) as store:
        assert store.load_frame("quotes", q, "a.parquet") == len(q)
        assert store.load_frame("quotes", q, "a.parquet") == 0
        changed = q.copy()
        changed.loc[17, "best_bid_up"] = 0.5 if changed.loc[17, "best_bid_up"] != 0.5 else 0.4
        extra = q.iloc[:0]
        clash = r"b\.parquet: table polymarket_quotes: key .* at row 17 is stored .*column 'best_bid_up'"
        with pytest.raises(SchemaError, match=clash):
            store.load_frames([("quotes", changed, "b.parquet"), ("quotes", extra, "c.parquet")])
        assert store.count("polymarket_quotes") == len(q)
        stored = store.query("SELECT best_bid_up FROM polymarket_quotes WHERE slug = ? AND ts = ?",
                             [q.loc[17, "slug"], q.loc[17, "ts"].to_pydatetime()])
        assert stored["best_bid_up"].iloc[0] == pytest.approx(q.loc[17, "best_bid_up"], nan_ok=True)


def test_identical_trade_prints_are_kept_apart_by_position(shared_data: Path, store_url: str) -> None:
    tr = read_file(_first(shared_data, "btcusdt_trades_")).iloc[:6]
    twice = pd.concat([tr, tr.iloc[[2, 2]]], ignore_index=True)  # three identical prints of row 2
    with connect(store_url) as store:
        assert store.load_frame("trades", twice, "t") == 8
        assert store.load_frame("trades", twice, "t") == 0  # same file again: nothing new
        keys = store.read_table("trades")["trade_key"]
        assert keys.is_unique and len(keys) == 8
        # the same file with one more identical print adds exactly that print
        assert store.load_frame("trades", pd.concat([twice, tr.iloc[[2]]], ignore_index=True), "t") == 1
        poly = tr.assign(venue="polymarket", trade_id=[f"0x{i}" for i in range(6)])
        assert store.load_frame("trades", poly, "p") == 6
        ids = store.query("SELECT trade_key FROM trades WHERE venue = 'polymarket' ORDER BY trade_key")
        assert ids["trade_key"].tolist() == [f"0x{i}" for i in range(6)]


def test_as_of_never_returns_rows_known_later(shared_data: Path, store_url: str) -> None:
    k = read_file(_first(shared_data, "btcusdt_1m_"))
    tr = read_file(_first(shared_data, "btcusdt_trades_"))
    mk = read_file(_first(shared_data, "polymarket_btc_15m_markets_"))
    with connect(store_url) as store:
        store.load_frames([("klines", k, "k"), ("trades", tr, "t"), ("markets", mk, "m")])
        # 30 s after the close of a bar in the middle of the file: that bar is known, the next one is not
        t = k["ts"].iloc[len(k) // 2] + pd.Timedelta(minutes=1, seconds=30)
        kl = store.as_of("spot_prices", t, since=t - pd.Timedelta(days=1), where={"symbol": "BTCUSDT"})
        assert kl["ts"].max() == k["ts"].iloc[len(k) // 2]  # the next bar closes 30 s after t
        assert (kl["known_at"] <= t).all() and (kl["known_at"] > t - pd.Timedelta(days=1)).all()
        closes = k["ts"] + pd.Timedelta(minutes=1)
        expected = k[(closes <= t) & (closes > t - pd.Timedelta(days=1))]
        assert len(kl) == len(expected)
        cut = tr["ts"].iloc[3000]
        late = {"binance": pd.Timedelta(seconds=10)}
        trades = store.as_of("trades", cut, clock_offsets=late)
        known = pd.concat([tr["ts"], tr["received_at"] + pd.Timedelta(seconds=10)], axis=1).max(axis=1)
        assert len(trades) == int((known <= cut).sum()) < int((tr["ts"] <= cut).sum())
        assert (trades["known_at"] <= cut).all()
        w = mk["window_end"].sort_values().iloc[5]
        markets = store.as_of("polymarket_resolutions", w)
        assert set(markets["slug"]) == set(mk.loc[mk["window_end"] <= w, "slug"])
        with pytest.raises(ValueError, match="naive"):
            store.as_of("trades", "2026-03-03 09:00")
        # a bar length with no known close time is never returned (rather than guessed)
        store.load_frame("klines", k.iloc[:3].assign(interval="7m"), "odd")
        far = pd.Timestamp("2100-01-01", tz="UTC")
        assert store.as_of("spot_prices", far, where={"interval": "7m"}).empty
        assert len(store.as_of("spot_prices", far, where={"interval": "1m"})) == len(k)


def test_backup_restore_round_trip_and_across_backends(
        shared_data: Path, tmp_path: Path, store_url: str, pg_url: str) -> None:
    q = read_file(_first(shared_data, "polymarket_btc_5m_quotes_"))
    tr = read_file(_first(shared_data, "btcusdt_trades_"))
    mk = read_file(_first(shared_data, "polymarket_btc_5m_markets_"))
    file = tmp_path / "b" / "backup.tar"
    with connect(store_url) as store:
        store.load_frames([("quotes", q, "q"), ("trades", tr, "t"), ("markets", mk, "m")])
        counts = store.backup(file)
        originals = {t: store.read_table(t) for t in ("polymarket_quotes", "trades", "polymarket_resolutions")}
    assert counts["polymarket_quotes"] == len(q) and counts["trades"] == len(tr)
    other = pg_url if store_url.startswith("duckdb") else f"duckdb:///{tmp_path}/other.duckdb"
    for target in (f"duckdb:///{tmp_path}/restored.duckdb", other):
        with connect(target) as fresh:
            assert fresh.restore(file)["trades"] == len(tr)
            assert fresh.restore(file) == dict.fromkeys(TABLES, 0)
            for table, frame in originals.items():
                pd.testing.assert_frame_equal(_norm(fresh.read_table(table)), _norm(frame), check_dtype=False)
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with connect(f"duckdb:///{tmp_path}/x.duckdb") as store, pytest.raises(SchemaError, match=r"junk\.tar"):
        store.restore(tmp_path / "junk.tar")


@pytest.mark.parametrize("stage", ["copy", "inserted"])
def test_postgres_connection_killed_mid_load_leaves_no_rows(
        shared_data: Path, pg_url: str, pg_base: str, stage: str) -> None:
    k = read_file(shared_data / "btcusdt_1m_2025q1.parquet").iloc[:20_000]
    q = read_file(_first(shared_data, "polymarket_btc_15m_quotes_"))
    with PostgresStore(pg_url) as store:
        killed: list[int] = []

        def kill(at: str) -> None:  # pg_terminate_backend from a second connection, mid-load
            if at == stage and not killed:
                assert store.load_backend_pid is not None
                with psycopg.connect(pg_base, autocommit=True) as admin:
                    row = admin.execute("SELECT pg_terminate_backend(%s)", [store.load_backend_pid]).fetchone()
                    assert row is not None and row[0] is True
                killed.append(store.load_backend_pid)

        store.fault_hook = kill
        with pytest.raises(psycopg.OperationalError):
            store.load_frames([("quotes", q, "q"), ("klines", k, "k")])
        assert killed
        store.fault_hook = None
        assert store.counts() == dict.fromkeys(TABLES, 0)  # the quotes loaded before the kill are gone too
        assert store.load_frame("klines", k.iloc[:10]) == 10  # the pool replaced the dead connection


def test_duckdb_process_killed_mid_load_leaves_no_rows(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    script = textwrap.dedent(f"""
        import os
        from pmresearch.data import read_file
        from pmresearch.data.store import DuckDBStore
        k = read_file({str(shared_data / "btcusdt_1m_2026-02-21_24.parquet")!r})
        s = DuckDBStore("duckdb:///{db}")
        s.load_frame("klines", k.iloc[:50])
        s.fault_hook = lambda stage: os._exit(3) if stage == "inserted" else None
        s.load_frame("klines", k.iloc[50:])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 3, proc.stderr
    with DuckDBStore(f"duckdb:///{db}") as store:
        assert store.count("spot_prices") == 50


def test_postgres_layout_partitions_indexes_and_timescale_paths(shared_data: Path, pg_url: str, pg_base: str) -> None:
    with PostgresStore(pg_url) as store, psycopg.connect(pg_base) as conn:
        assert store.timescale is False and timescale_available(conn) is False  # not installed here
        k = read_file(_first(shared_data, "btcusdt_1m_"))
        store.load_frame("klines", k)
        # one monthly partition per month the file covers
        assert store.partitions("spot_prices") == sorted({f"spot_prices_p{m:%Y%m}" for m in k["ts"]})
        kinds = store.query("SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = ? ORDER BY 1", [store.schema])
        rel = dict(zip(kinds["name"], kinds["kind"], strict=True))
        assert rel["spot_prices"] == "p" and rel["polymarket_resolutions"] == "r" and rel["paper_trades"] == "r"
        assert {"spot_prices_symbol_ts", "trades_symbol_ts", "polymarket_books_slug_ts", "oracle_prices_feed_ts",
                "polymarket_quotes_pkey"} <= set(rel)  # (slug, ts) of quotes is their key's index
        assert "polymarket_quotes_slug_ts" not in rel
    hyper = table_ddl("polymarket_quotes", timescale=True)
    assert "PARTITION BY" not in hyper[0] and "create_hypertable('polymarket_quotes', by_range('ts'" in hyper[1]
    plain = table_ddl("polymarket_quotes", timescale=False)
    assert plain[0].endswith("PARTITION BY RANGE (ts)") and not any("hypertable" in s for s in plain)
    assert table_ddl("polymarket_resolutions", timescale=True) == table_ddl("polymarket_resolutions", timescale=False)
    parts = month_partitions("x", pd.Timestamp("2025-12-31", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC"))
    assert len(parts) == 2 and "FROM ('2025-12-01T00:00:00+00:00') TO ('2026-01-01T00:00:00+00:00')" in parts[0]


def test_hypertable_path_is_taken_when_timescale_works(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # TimescaleDB is not installed here, so pretend the extension works: the store must then issue
    # create_hypertable (which fails without the extension), not PARTITION BY, and create nothing.
    import pmresearch.data.postgres as pgmod

    monkeypatch.setattr(pgmod, "timescale_available", lambda conn: True)
    with pytest.raises(psycopg.errors.UndefinedFunction, match="create_hypertable"):
        PostgresStore(pg_url)
    monkeypatch.undo()
    schema = parse_postgres_url(pg_url)[1]
    with psycopg.connect(parse_postgres_url(pg_url)[0]) as conn:
        n = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema]).fetchone()
    assert n == (0,)  # the DDL ran in one transaction
    with PostgresStore(pg_url) as store:  # the fallback: partitioned tables
        assert store.timescale is False and store.partitions("spot_prices") == []


def test_urls_and_connect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_postgres_url("postgresql://u@h:1/db?schema=abc&sslmode=disable") == (
        "postgresql://u@h:1/db?sslmode=disable", "abc")
    with pytest.raises(ValueError, match="schema name"):
        parse_postgres_url("postgresql://u@h/db?schema=a;drop")
    assert qmark_to_pyformat("SELECT '?%' , ? WHERE x LIKE '%a'") == "SELECT '?%%' , %s WHERE x LIKE '%%a'"
    monkeypatch.setenv("PMRESEARCH_DB", f"duckdb:///{tmp_path}/env.duckdb")
    assert db_url(None) == f"duckdb:///{tmp_path}/env.duckdb"
    with connect() as store:
        assert isinstance(store, DuckDBStore) and isinstance(store, Store)
    with pytest.raises(ValueError, match="unsupported database URL"):
        connect("sqlite:///x.db")
    with pytest.raises(ConnectionError, match="cannot connect"):
        PostgresStore(f"postgresql://postgres@127.0.0.1:1/test?schema=s_{uuid.uuid4().hex[:6]}")
    assert "INTERVAL '2500000 microseconds'" in knowledge_time_sql("trades", {"binance": pd.Timedelta("2.5s")})
    assert os.environ["PMRESEARCH_DB"].endswith("env.duckdb")


def test_postgres_new_month_partitions_match_the_ddl_path_and_loads_stay_transactional(pg_url: str) -> None:
    # Rows of a month without a partition are bulk-loaded into a new table that is then attached; its
    # keys and indexes must be those PARTITION OF gives (the replace path still creates partitions that way).
    ts = pd.date_range("2026-01-31 23:00", periods=120, freq="1min", tz="UTC").as_unit("us")  # Jan and Feb
    k = pd.DataFrame({"ts": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0,
                      "quote_volume": 4.0, "trades": 5, "taker_buy_volume": 1.0, "symbol": "BTCUSDT",
                      "interval": "1m", "source": "test"})
    with PostgresStore(pg_url) as store:
        assert store.load_frame("klines", k.iloc[:60]) == 60  # January only: bulk path
        march = k.assign(ts=k["ts"] + pd.Timedelta(days=40), source="replaced")
        assert store.replace_frame("klines", march.iloc[:10]) == 10  # March via PARTITION OF
        assert store.load_frame("klines", k) == 60  # January stored (identical), February new
        assert store.load_frame("klines", k) == 0
        assert store.partitions("spot_prices") == ["spot_prices_p202601", "spot_prices_p202602",
                                                   "spot_prices_p202603"]

        def layout(part: str) -> tuple[list[str], list[str]]:
            idx = store.query("SELECT indexdef FROM pg_indexes WHERE schemaname = ? AND tablename = ? ORDER BY 1",
                              [store.schema, part])["indexdef"].str.replace(part, "P").tolist()
            cons = store.query("SELECT contype::text AS t FROM pg_constraint WHERE conrelid = ?::regclass ORDER BY 1",
                               [part])["t"].tolist()
            return idx, cons

        assert layout("spot_prices_p202601") == layout("spot_prices_p202602") == layout("spot_prices_p202603")
        assert layout("spot_prices_p202602")[1] == ["p"]  # the primary key; the range CHECK is gone
        assert len(layout("spot_prices_p202602")[0]) == 2  # key and (symbol, ts) index

        # a conflict in a stored month rolls back the new month loaded beside it
        bad = pd.concat([k.iloc[:1].assign(close=1.2), k.iloc[:1].assign(ts=k["ts"].iloc[0] + pd.DateOffset(months=6))])
        with pytest.raises(SchemaError, match="stored with other values in column 'close'"):
            store.load_frame("klines", bad)
        assert store.partitions("spot_prices") == ["spot_prices_p202601", "spot_prices_p202602",
                                                   "spot_prices_p202603"]
        assert store.count("spot_prices") == 130
