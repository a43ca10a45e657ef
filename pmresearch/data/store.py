"""Stores behind one interface: the embedded DuckDB store and (in :mod:`.postgres`) PostgreSQL.

The interface and what both backends share live in :mod:`pmresearch.data.base` (re-exported here).
Tables and keys follow DESIGN.md (re-loading a file changes nothing; a row whose key exists with
other values is an error). Loads are one transaction: bad input leaves the store unchanged.
URLs: ``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb``, ``duckdb:///:memory:``,
``postgresql://user@host:port/db[?schema=name]``; :func:`connect` picks the backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pmresearch.data.base import (
    DEFAULT_DB_URL,
    KIND_TABLE,
    TABLES,
    TIME_COLUMN,
    LoadItem,
    Store,
    _conflict_error,
    _conflict_sql,
    _delete_keys_sql,
    _index_lead,
    db_url,
    knowledge_time_sql,
    table_columns,
)
from pmresearch.data.schemas import SchemaError

__all__ = [
    "DEFAULT_DB_URL",
    "KIND_TABLE",
    "TABLES",
    "TIME_COLUMN",
    "DuckDBStore",
    "LoadItem",
    "Store",
    "backup_command",
    "connect",
    "db_url",
    "knowledge_time_sql",
    "parse_duckdb_url",
    "restore_command",
    "table_columns",
]


def parse_duckdb_url(url: str) -> str:
    """The DuckDB database path of a ``duckdb:///`` URL (``:memory:`` allowed)."""
    prefix = "duckdb:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a DuckDB URL: {url!r} (expected duckdb:///relative.duckdb or duckdb:////abs.duckdb)")
    path = url[len(prefix):]
    if not path:
        raise ValueError(f"DuckDB URL {url!r} names no file")
    return path



class DuckDBStore(Store):
    """Canonical tables in one DuckDB file (or in memory).

    Examples
    --------
    >>> with DuckDBStore("duckdb:///:memory:") as store:  # doctest: +SKIP
    ...     store.load_data_dir("data/sim/edge")
    ...     store.query("select count(*) from polymarket_quotes")
    """

    backend = "duckdb"

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

    def _exec(self, sql: str) -> list[Any]:
        """Run one statement and drain its result (DuckDB 2 requires it before the next one)."""
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def create_tables(self) -> None:
        """Create the canonical tables, their primary keys and (symbol or slug, ts) indexes."""
        for table, (_, key) in TABLES.items():
            cols = ", ".join(f'"{n}" {t}' for n, t in table_columns(table))
            self._exec(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({', '.join(key)}))")
            lead = _index_lead(table)
            if lead is not None:
                self._exec(f"CREATE INDEX IF NOT EXISTS {table}_{lead}_ts ON {table} ({lead}, {TIME_COLUMN[table]})")

    def count(self, table: str) -> int:
        """Row count of a table."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        rows = self._exec(f"SELECT count(*) FROM {table}")
        return int(rows[0][0])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Callable[[str, pd.DataFrame], None]]:
        """One transaction with staged frames: yields ``stage(name, frame)``; commits at the end of the
        block, rolls back on any error, and always unregisters what was staged."""
        staged: list[str] = []

        def stage(name: str, frame: pd.DataFrame) -> None:
            self.con.register(name, frame)
            staged.append(name)

        self._exec("BEGIN TRANSACTION")
        try:
            yield stage
            self._hook("inserted")
            self._exec("COMMIT")
        except BaseException:
            # Roll back FIRST: in an aborted transaction DuckDB refuses every other statement, and an
            # error there would hide the original one.
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already rolled back
                self.con.execute("ROLLBACK")
            raise
        finally:
            for name in staged:
                self.con.unregister(name)

    def _insert(self, table: str, staged: str, cols: list[str], source: str, *, ignore_existing: bool) -> None:
        """``INSERT INTO table SELECT ... FROM staged``; a database error names the source and table."""
        quoted = ", ".join(f'"{c}"' for c in cols)
        conflict = " ON CONFLICT DO NOTHING" if ignore_existing else ""
        try:
            self._exec(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staged}{conflict}")
        except duckdb.Error as exc:  # e.g. a NULL key: name the source, keep DuckDB's own message
            verb = "loaded" if ignore_existing else "stored"
            raise SchemaError(f"{source}: table {table}: {exc}; nothing {verb}") from exc

    def _write(self, items: Sequence[tuple[str, pd.DataFrame, str]], prefix: str,
               write_one: Callable[[str, str, pd.DataFrame, list[str], str], int]) -> dict[str, int]:
        """ONE transaction over ``items``: each frame staged as ``{prefix}_{i}``, then
        ``write_one(table, staged, frame, columns, source)`` (rows written) adds it to its table."""
        written: dict[str, int] = {}
        with self._transaction() as stage:
            for i, (table, frame, source) in enumerate(items):
                name = f"{prefix}_{i}"
                cols = [n for n, _ in table_columns(table)]
                stage(name, frame[cols])
                written[table] = written.get(table, 0) + write_one(table, name, frame, cols, source)
        return written

    def _load_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, "_incoming", self._insert_new)

    def _replace_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, "_replacing", self._replace_keys)

    def _insert_new(self, table: str, staged: str, frame: pd.DataFrame, cols: list[str], source: str) -> int:
        """Insert the staged rows whose key is not stored; a stored key with other values is an error."""
        clash = self._exec(_conflict_sql(table, staged))
        if clash:
            raise _conflict_error(table, source, clash, frame)
        self._hook("staged")
        before = self.count(table)
        self._insert(table, staged, cols, source, ignore_existing=True)
        return self.count(table) - before

    def _replace_keys(self, table: str, staged: str, frame: pd.DataFrame, cols: list[str], source: str) -> int:
        """Delete the stored rows whose key is staged, then insert the staged rows."""
        self._hook("staged")
        self._exec(_delete_keys_sql(table, staged))
        self._hook("deleted")
        self._insert(table, staged, cols, source, ignore_existing=False)
        return len(frame)

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


def connect(url: str | None = None, **kwargs: Any) -> Store:
    """Open the store a URL names (``--db`` / ``$PMRESEARCH_DB`` / the default DuckDB file).

    Parameters
    ----------
    url : str, optional
        ``duckdb:///...`` or ``postgresql://...`` (``postgres://`` also accepted).
    **kwargs
        Passed to the backend (e.g. ``pool_size`` for PostgreSQL).
    """
    resolved = db_url(url)
    if resolved.startswith("duckdb:///"):
        return DuckDBStore(resolved)
    if resolved.startswith(("postgresql://", "postgres://")):
        from pmresearch.data.postgres import PostgresStore

        return PostgresStore(resolved, **kwargs)
    raise ValueError(f"unsupported database URL {resolved!r}: use duckdb:///path.duckdb or postgresql://...")


def backup_command(file: str | Path, url: str | None = None) -> list[str]:
    """``pmresearch db backup FILE [--db URL]``: dump every table; the lines to print."""
    with connect(url) as store:
        counts = store.backup(file)
        where = store.url
    return [f"{t}: {n} rows" for t, n in counts.items()] + [f"backed up {where} to {file}"]


def restore_command(file: str | Path, url: str | None = None) -> list[str]:
    """``pmresearch db restore FILE [--db URL]``: load a backup (idempotent, one transaction)."""
    with connect(url) as store:
        counts = store.restore(file)
        where = store.url
    return [f"{t}: {n} rows inserted" for t, n in counts.items()] + [f"restored {file} into {where}"]
