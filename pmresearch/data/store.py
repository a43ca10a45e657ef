"""Stores behind one interface: the embedded DuckDB store and (in :mod:`.postgres`) PostgreSQL.

The interface and what both backends share live in :mod:`pmresearch.data.base` (re-exported here).
Tables and keys follow DESIGN.md (re-loading a file changes nothing; a row whose key exists with
other values is an error). Loads are one transaction: bad input leaves the store unchanged.
URLs: ``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb``, ``duckdb:///:memory:``,
``postgresql://user@host:port/db[?schema=name]``; :func:`connect` picks the backend.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
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
    StoreBusyError,
    _conflict_error,
    _conflict_sql,
    _delete_keys_sql,
    _index_lead,
    db_url,
    default_lock_timeout_s,
    knowledge_time_sql,
    redact_url,
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
    "StoreBusyError",
    "check_duckdb_path",
    "connect",
    "db_url",
    "knowledge_time_sql",
    "parse_duckdb_url",
    "table_columns",
]


#: DuckDB's file signature: these 4 bytes at offset 8 of every database file.
_DUCKDB_MAGIC = b"DUCK"

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(path: str) -> threading.Lock:
    """The one in-process write lock of a DuckDB file (by resolved path; each ``:memory:`` store its own)."""
    if path == ":memory:":
        return threading.Lock()
    key = os.path.realpath(path)
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(key, threading.Lock())


def _is_lock_error(exc: BaseException) -> bool:
    """Whether a DuckDB error is another process's lock on the file or its WAL."""
    return "could not set lock" in str(exc).lower()


def check_duckdb_path(path: str | Path, url: str | None = None) -> None:
    """Refuse a DuckDB path the store could not use, before anything is opened or written.

    The path must be a DuckDB database file or not exist yet, and its directory (created if
    missing) must be writable (DuckDB writes its WAL beside the file).

    Raises
    ------
    ValueError
        When the path is a directory, or an existing file that is not a DuckDB database (a Parquet
        file, say: DuckDB would open it read-only, and a load would keep nothing).
    PermissionError
        When the directory cannot be created or written, or the file is read-only.
    """
    p = Path(path)
    where = redact_url(url) if url else str(p)
    if p.is_dir():
        raise ValueError(f"{where}: {p} is a directory, not a DuckDB database file; nothing loaded")
    if p.exists():
        try:
            with p.open("rb") as fh:
                head = fh.read(12)
        except OSError as exc:
            raise PermissionError(f"{where}: cannot read {p} ({exc.strerror or exc}); nothing loaded") from exc
        if head[8:12] != _DUCKDB_MAGIC:
            raise ValueError(f"{where}: {p} exists and is not a DuckDB database (no DuckDB header); "
                             "name a new file or a .duckdb database; nothing loaded")
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
        if p.exists():
            with p.open("r+b"):
                pass
    except OSError as exc:
        raise PermissionError(f"{where}: {parent if not p.exists() else p} is not writable "
                              f"({exc.strerror or exc}); nothing loaded") from exc


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

    def __init__(self, url: str = DEFAULT_DB_URL, lock_timeout_s: float | None = None) -> None:
        self.url = url
        self.lock_timeout_s = default_lock_timeout_s() if lock_timeout_s is None else float(lock_timeout_s)
        path = parse_duckdb_url(url)
        if path != ":memory:":
            check_duckdb_path(path, url)
        self._write_lock = _process_lock(path)
        self.con = self._open(path)
        try:
            self._exec("SET TimeZone = 'UTC'")
            with self._locked():
                self.create_tables()
        except BaseException:
            self.con.close()
            raise

    def _open(self, path: str) -> duckdb.DuckDBPyConnection:
        """Connect to ``path``; while another process holds the file, retry up to :attr:`lock_timeout_s`."""
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(path)
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(f"{redact_url(self.url)}: another process holds the DuckDB file "
                                         f"(gave up after {self.lock_timeout_s:g} s): {exc}") from exc
                time.sleep(0.1)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this file's in-process write lock (threads of one process share a DuckDB database, so two
        loads there would conflict at COMMIT); waits up to :attr:`lock_timeout_s`."""
        if not self._write_lock.acquire(timeout=self.lock_timeout_s):
            raise StoreBusyError(f"{redact_url(self.url)}: another load in this process holds the DuckDB file "
                                 f"(gave up after {self.lock_timeout_s:g} s)")
        try:
            yield
        finally:
            self._write_lock.release()

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

        with self._locked():
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
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            written: dict[str, int] = {}
            try:
                with self._transaction() as stage:
                    for i, (table, frame, source) in enumerate(items):
                        name = f"{prefix}_{i}"
                        cols = [n for n, _ in table_columns(table)]
                        stage(name, frame[cols])
                        written[table] = written.get(table, 0) + write_one(table, name, frame, cols, source)
                return written
            except duckdb.Error as exc:  # another process writes the file: its lock refused our COMMIT
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(f"{redact_url(self.url)}: another process holds the DuckDB file "
                                         f"(gave up after {self.lock_timeout_s:g} s): {exc}") from exc
                time.sleep(0.1)  # the transaction rolled back: run it again

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
        Passed to the backend (e.g. ``pool_size`` for PostgreSQL); ``lock_timeout_s`` (how long to
        wait for another writer of the same file or schema) to either.
    """
    resolved = db_url(url)
    if resolved.startswith("duckdb:///"):
        return DuckDBStore(resolved, lock_timeout_s=kwargs.get("lock_timeout_s"))
    if resolved.startswith(("postgresql://", "postgres://")):
        from pmresearch.data.postgres import PostgresStore

        return PostgresStore(resolved, **kwargs)
    raise ValueError(f"unsupported database URL {resolved!r}: use duckdb:///path.duckdb or postgresql://...")



