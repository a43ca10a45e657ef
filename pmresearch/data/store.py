"""The embedded DuckDB store: canonical tables with primary keys, transactional loads, UTC reads.

Tables and keys follow DESIGN.md (re-loading a file changes nothing). The database URL is
``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb`` or ``duckdb:///:memory:``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd

from pmresearch.data.io import DataDir, read_data_dir
from pmresearch.data.schemas import SCHEMAS

__all__ = ["DEFAULT_DB_URL", "TABLES", "DuckDBStore", "parse_duckdb_url"]

DEFAULT_DB_URL = "duckdb:///data/pmresearch.duckdb"

#: table -> (data kind, primary key)
TABLES: dict[str, tuple[str, list[str]]] = {
    "spot_prices": ("klines", ["symbol", "interval", "ts"]),
    "oracle_prices": ("oracle", ["feed", "source", "ts"]),
    "polymarket_resolutions": ("markets", ["slug"]),
    "polymarket_quotes": ("quotes", ["slug", "ts"]),
    "polymarket_books": ("books", ["token_id", "ts", "side", "level"]),
    "trades": ("trades", ["venue", "symbol", "ts", "trade_key"]),
}
KIND_TABLE = {kind: table for table, (kind, _) in TABLES.items()}

_SQL_TYPES = {
    "float64": "DOUBLE", "int16": "SMALLINT", "Int8": "TINYINT", "Int64": "BIGINT", "str": "VARCHAR",
    "datetime64[us, UTC]": "TIMESTAMPTZ",
}


def parse_duckdb_url(url: str) -> str:
    """The DuckDB database path of a ``duckdb:///`` URL (``:memory:`` allowed)."""
    prefix = "duckdb:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a DuckDB URL: {url!r} (expected duckdb:///relative.duckdb or duckdb:////abs.duckdb)")
    path = url[len(prefix):]
    if not path:
        raise ValueError(f"DuckDB URL {url!r} names no file")
    return path


def _columns(kind: str) -> list[tuple[str, str]]:
    cols = []
    for name, col in SCHEMAS[kind].columns.items():
        dtype = str(col.dtype)
        cols.append((name, _SQL_TYPES.get(dtype, "VARCHAR")))
    if kind == "trades":
        cols.append(("trade_key", "VARCHAR"))
    return cols


def _trade_keys(frame: pd.DataFrame) -> pd.Series:
    """``trade_id`` where present, else a hash of the row plus its position among identical rows."""
    basis = frame[["ts", "price", "qty", "side", "symbol", "venue"]].astype(str).agg("|".join, axis=1)
    occurrence = basis.groupby(basis).cumcount().astype(str)
    hashed = (basis + "#" + occurrence).map(lambda s: hashlib.blake2b(s.encode(), digest_size=12).hexdigest())
    if "trade_id" in frame.columns:
        return frame["trade_id"].astype("str").where(frame["trade_id"].notna(), hashed)
    return hashed


class DuckDBStore:
    """Canonical tables in one DuckDB file (or in memory).

    Examples
    --------
    >>> with DuckDBStore("duckdb:///:memory:") as store:  # doctest: +SKIP
    ...     store.load_data_dir("data/sim/edge")
    ...     store.query("select count(*) from polymarket_quotes")
    """

    def __init__(self, url: str = DEFAULT_DB_URL) -> None:
        self.url = url
        path = parse_duckdb_url(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(path)
        self._exec("SET TimeZone = 'UTC'")
        self.create_tables()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _exec(self, sql: str) -> list[Any]:
        """Run one statement and drain its result (DuckDB 2 requires it before the next one)."""
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def create_tables(self) -> None:
        """Create the canonical tables, their primary keys and (symbol or slug, ts) indexes."""
        for table, (kind, key) in TABLES.items():
            cols = ", ".join(f'"{n}" {t}' for n, t in _columns(kind))
            self._exec(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({', '.join(key)}))")
            lead = "slug" if "slug" in key and kind != "books" else "symbol" if "symbol" in key else key[0]
            if "ts" in key and lead != "ts":
                self._exec(f"CREATE INDEX IF NOT EXISTS {table}_{lead}_ts ON {table} ({lead}, ts)")

    def load_frame(self, kind: str, frame: pd.DataFrame) -> int:
        """Insert a validated frame of ``kind``; rows whose key exists already are left unchanged.

        Returns the number of rows inserted. The insert is one transaction.
        """
        table = KIND_TABLE[kind]
        cols = [n for n, _ in _columns(kind)]
        data = frame.copy()
        if kind == "trades":
            data["trade_key"] = _trade_keys(data)
        for c in cols:
            if c not in data.columns:
                data[c] = None
        before = self.count(table)
        self.con.register("_incoming", data[cols])
        try:
            self._exec("BEGIN TRANSACTION")
            quoted = ", ".join(f'"{c}"' for c in cols)
            self._exec(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _incoming ON CONFLICT DO NOTHING")
            self._exec("COMMIT")
        except Exception:
            self._exec("ROLLBACK")
            raise
        finally:
            self.con.unregister("_incoming")
        return self.count(table) - before

    def load_data_dir(self, path: str | Path | DataDir) -> dict[str, int]:
        """Read, validate and load every recognized file of a data directory.

        Returns rows inserted per table.
        """
        data = path if isinstance(path, DataDir) else read_data_dir(path)
        inserted: dict[str, int] = {}
        for kind, frame in data.frames.items():
            table = KIND_TABLE[kind]
            inserted[table] = inserted.get(table, 0) + self.load_frame(kind, frame)
        return inserted

    def count(self, table: str) -> int:
        """Row count of a table."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        rows = self._exec(f"SELECT count(*) FROM {table}")
        return int(rows[0][0])

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL and return a DataFrame whose tz-aware columns are in UTC."""
        frame = self.con.execute(sql, params).df() if params is not None else self.con.execute(sql).df()
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_convert("UTC")
        return frame

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a DataFrame to SQL under ``name`` for the life of the connection."""
        self.con.register(name, frame)
