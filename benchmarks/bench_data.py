"""Data-layer benchmarks: bulk ingest and an as-of read in each store, as ratios against pandas in the same run.

* ingest: one year of 1-minute klines (525,600 rows) loaded with ``Store.load_frame`` (validation, one
  transaction, key checks, idempotent insert; for PostgreSQL a binary COPY into month partitions built
  and attached by the load) vs pandas ``DataFrame.to_sql`` through SQLAlchemy (duckdb-engine for DuckDB,
  psycopg for PostgreSQL) on a 50,000-row subset into a plain table, compared per row; each side the
  fastest of :data:`INGEST_REPEAT` runs into a fresh store or table.
* as-of read: the 1,440 bars known during one day (``Store.as_of`` with ``since``), vs
  ``pandas.read_sql`` of the same rows through SQLAlchemy.

DuckDB runs on a file in a temporary directory; PostgreSQL on the local server
(``$PMRESEARCH_BENCH_PG``, default ``postgresql://postgres@127.0.0.1:5432/test``) in a throwaway schema
that is dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _timing import best_time

from pmresearch.data.schemas import validate
from pmresearch.data.store import Store, connect

PG_BASE = os.environ.get("PMRESEARCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
N_ROWS = 365 * 1440
N_SUBSET = 50_000
DAY = pd.Timestamp("2025-07-01", tz="UTC")


def year_of_klines(seed: int = 0) -> pd.DataFrame:
    """One year (2025) of canonical BTCUSDT 1-minute klines from a seeded random walk, validated."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01", periods=N_ROWS, freq="1min", tz="UTC").as_unit("us")
    log_p = np.log(65_000.0) + np.cumsum(rng.normal(0.0, 6e-4, N_ROWS + 1))
    o, c = np.exp(log_p[:-1]), np.exp(log_p[1:])
    wick = np.exp(np.abs(rng.normal(0.0, 3e-4, (2, N_ROWS))))
    vol = rng.gamma(2.0, 10.0, N_ROWS)
    frame = pd.DataFrame({
        "ts": ts, "open": o, "high": np.maximum(o, c) * wick[0], "low": np.minimum(o, c) / wick[1], "close": c,
        "volume": vol, "quote_volume": vol * (o + c) / 2.0, "trades": rng.integers(100, 5_000, N_ROWS),
        "taker_buy_volume": vol * rng.uniform(0.3, 0.7, N_ROWS), "symbol": "BTCUSDT", "interval": "1m",
        "source": "bench",
    })
    return validate(frame, "klines", source="bench klines")


#: Timed ingests per side (each into a fresh table or store); the fastest counts, as in ``best_time``:
#: the machine is shared, and a single run of either side can be slowed several-fold by other load.
INGEST_REPEAT = 3


def _to_sql_rate(engine: Any, frame: pd.DataFrame, schema: str | None) -> float:
    """Rows/s of the fastest of :data:`INGEST_REPEAT` ``to_sql`` appends into a new table (the last one,
    ``bench_to_sql``, is kept for the read baseline)."""
    import sqlalchemy as sa

    rates = []
    for k in range(INGEST_REPEAT):
        name = "bench_to_sql" if k == INGEST_REPEAT - 1 else f"bench_scratch_{k}"
        t = time.perf_counter()
        frame.to_sql(name, engine, schema=schema, index=False, if_exists="append")
        rates.append(len(frame) / (time.perf_counter() - t))
        if name != "bench_to_sql":
            with engine.begin() as con:
                con.execute(sa.text(f"DROP TABLE {schema + '.' if schema else ''}{name}"))
    return max(rates)


def _read_sql_rate(engine: Any, schema: str | None) -> float:
    table = f"{schema}.bench_to_sql" if schema else "bench_to_sql"
    lo, hi = DAY - pd.Timedelta(minutes=1), DAY + pd.Timedelta(days=1) - pd.Timedelta(minutes=1)
    sql = f"SELECT * FROM {table} WHERE symbol = 'BTCUSDT' AND ts > '{lo.isoformat()}' AND ts <= '{hi.isoformat()}'"
    n = len(pd.read_sql(sql, engine))
    return n / best_time(lambda: pd.read_sql(sql, engine))


def _ingest_rate(store: Store, frame: pd.DataFrame) -> float:
    """Rows/s of one load of the whole frame into an empty store."""
    t = time.perf_counter()
    inserted = store.load_frame("klines", frame, "bench klines")
    rate = len(frame) / (time.perf_counter() - t)
    assert inserted == len(frame), (inserted, len(frame))
    return rate


def _store_rates(urls: list[str], frame: pd.DataFrame) -> tuple[float, float]:
    """Ingest rows/s (the fastest load into each of the fresh stores ``urls``) and as-of read rows/s
    (one day: 1,440 bars) in the last one."""
    rates = []
    for url in urls[:-1]:
        with connect(url) as store:
            rates.append(_ingest_rate(store, frame))
    with connect(urls[-1]) as store:
        rates.append(_ingest_rate(store, frame))
        return max(rates), _read_rate(store)


def _read_rate(store: Store) -> float:

    def read() -> pd.DataFrame:
        return store.as_of("spot_prices", DAY + pd.Timedelta(days=1), since=DAY, where={"symbol": "BTCUSDT"})

    rows = len(read())
    assert rows == 1440, rows  # bars closing (known) within the day
    return rows / best_time(read)


def _line(name: str, ingest: float, read: float, base_ingest: float, base_read: float) -> str:
    return (f"{name}: ingest {N_ROWS:,} 1m klines at {ingest:,.0f} rows/s vs pandas to_sql {base_ingest:,.0f} rows/s "
            f"({N_SUBSET:,}-row subset): ratio {ingest / base_ingest:,.1f}x per row; as-of read of one day "
            f"{read:,.0f} rows/s vs pandas read_sql {base_read:,.0f} rows/s: ratio {read / base_read:,.1f}x")


def bench_duckdb_ingest() -> str:
    import duckdb
    import sqlalchemy as sa

    frame = year_of_klines()
    with tempfile.TemporaryDirectory() as tmp:
        ingest, read = _store_rates([f"duckdb:///{Path(tmp) / f'bench{k}.duckdb'}" for k in range(INGEST_REPEAT)],
                                    frame)
        base_path = Path(tmp) / "baseline.duckdb"
        engine = sa.create_engine(f"duckdb:///{base_path}")
        try:
            base_ingest = _to_sql_rate(engine, frame.iloc[:N_SUBSET].copy(), None)
        finally:
            engine.dispose()
        rest = frame.iloc[N_SUBSET:]  # the rest of the year, not timed, so both reads search a full year
        with duckdb.connect(str(base_path)) as con:
            con.register("rest", rest)
            con.execute("INSERT INTO bench_to_sql SELECT * FROM rest")
        engine = sa.create_engine(f"duckdb:///{base_path}")
        try:
            base_read = _read_sql_rate(engine, None)
        finally:
            engine.dispose()
    return _line("DuckDB", ingest, read, base_ingest, base_read)


def _copy_rest(rest: pd.DataFrame, schema: str) -> None:
    """Append ``rest`` to the baseline table by text COPY (untimed filler; fast, unlike to_sql)."""
    import psycopg

    cols = ", ".join(f'"{c}"' for c in rest.columns)
    with psycopg.connect(PG_BASE) as con, con.cursor() as cur, cur.copy(
            f"COPY {schema}.bench_to_sql ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(rest.to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ"))


def bench_postgres_ingest() -> str:
    import psycopg
    import sqlalchemy as sa

    frame = year_of_klines()
    schemas = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(INGEST_REPEAT)]
    schema = schemas[-1]  # the read baselines share it
    sa_url = PG_BASE.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(sa_url)
    try:
        ingest, read = _store_rates([f"{PG_BASE}?schema={s}" for s in schemas], frame)
        base_ingest = _to_sql_rate(engine, frame.iloc[:N_SUBSET].copy(), schema)
        _copy_rest(frame.iloc[N_SUBSET:], schema)  # not timed: both reads then search a full year
        base_read = _read_sql_rate(engine, schema)
    finally:
        engine.dispose()
        with psycopg.connect(PG_BASE, autocommit=True) as con:
            for s in schemas:
                con.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
    return _line("PostgreSQL", ingest, read, base_ingest, base_read)


BENCHMARKS = [bench_duckdb_ingest, bench_postgres_ingest]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
