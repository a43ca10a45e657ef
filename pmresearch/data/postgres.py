"""The PostgreSQL store: psycopg 3 with a connection pool, COPY bulk loads, time-partitioned tables.

Time-series tables are hypertables when ``CREATE EXTENSION timescaledb`` works, else declaratively
range-partitioned by their time column with one partition per calendar month, created inside the
load transaction that first needs it. A URL may carry ``?schema=NAME`` (created if missing, then the
session's ``search_path``), which keeps parallel test runs apart.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from pmresearch.data.base import (
    TABLES,
    TIME_COLUMN,
    Store,
    StoreBusyError,
    _conflict_error,
    _conflict_sql,
    _delete_keys_sql,
    _index_lead,
    _match_sql,
    default_lock_timeout_s,
    redact_url,
    table_columns,
)
from pmresearch.data.schemas import SchemaError

__all__ = [
    "PG_TYPES",
    "PostgresStore",
    "month_partitions",
    "parse_postgres_url",
    "qmark_to_pyformat",
    "table_ddl",
    "timescale_available",
]

#: generic SQL type -> PostgreSQL type
PG_TYPES = {"DOUBLE": "double precision", "SMALLINT": "smallint", "TINYINT": "smallint", "BIGINT": "bigint",
            "VARCHAR": "text", "TIMESTAMPTZ": "timestamptz"}

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def parse_postgres_url(url: str) -> tuple[str, str | None]:
    """Split a ``postgresql://`` URL into a libpq conninfo URL and the optional ``schema`` parameter."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not _SCHEMA_RE.match(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_RE.pattern}")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment)), schema


def qmark_to_pyformat(sql: str) -> str:
    """Turn ``?`` placeholders (DuckDB style) into ``%s`` and escape ``%``, leaving quoted text alone."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def table_ddl(table: str, *, timescale: bool) -> list[str]:
    """The DDL statements creating ``table`` (and its index) on the hypertable or the partitioned path.

    Parameters
    ----------
    table : str
        A canonical table.
    timescale : bool
        True: a plain table turned into a TimescaleDB hypertable on its time column. False:
        ``PARTITION BY RANGE`` on the time column (partitions are added per month on load).
        Tables without a time column are plain tables either way.
    """
    _, key = TABLES[table]
    cols = ", ".join(f'"{n}" {PG_TYPES[t]}' for n, t in table_columns(table))
    time_col = TIME_COLUMN.get(table)
    body = f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({', '.join(key)}))"
    out: list[str] = []
    if time_col is None:
        out.append(body)
    elif timescale:
        out.append(body)
        out.append(f"SELECT create_hypertable('{table}', by_range('{time_col}', INTERVAL '7 days'), "
                   "if_not_exists => TRUE, migrate_data => TRUE)")
    else:
        out.append(f"{body} PARTITION BY RANGE ({time_col})")
    lead = _index_lead(table)
    if lead is not None and time_col is not None:
        out.append(f"CREATE INDEX IF NOT EXISTS {table}_{lead}_ts ON {table} ({lead}, {time_col})")
    return out


def _month_names(table: str, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Names of the month partitions of ``table`` covering ``[start, end]`` (those of :func:`month_partitions`)."""
    months = pd.date_range(pd.Timestamp(year=start.year, month=start.month, day=1, tz="UTC"), end, freq="MS")
    return [f"{table}_p{m:%Y%m}" for m in months]


def month_partitions(table: str, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """``CREATE TABLE ... PARTITION OF`` statements covering the months of ``[start, end]`` (UTC)."""
    first = pd.Timestamp(year=start.year, month=start.month, day=1, tz="UTC")
    out = []
    month = first
    while month <= end:
        nxt = month + pd.offsets.MonthBegin(1)
        out.append(f"CREATE TABLE IF NOT EXISTS {table}_p{month:%Y%m} PARTITION OF {table} "
                   f"FOR VALUES FROM ('{month.isoformat()}') TO ('{nxt.isoformat()}')")
        month = nxt
    return out


def timescale_available(conn: psycopg.Connection[Any]) -> bool:
    """Whether TimescaleDB is usable: installed already, or ``CREATE EXTENSION timescaledb`` succeeds.

    The attempt runs in a savepoint, so a failure leaves the surrounding transaction usable.
    """
    row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if row is not None and row[0]:
        return True
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error:
        return False
    return True


def _csv(frame: pd.DataFrame) -> bytes:
    """CSV for ``COPY ... (FORMAT csv)`` written by Arrow: null (and NaN) unquoted-empty, strings
    quoted (so an empty string stays one), timestamps ISO with ``Z``, exact to the microsecond."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed-type object columns: as text
        text = {c: frame[c].astype(str).where(frame[c].notna(), None)
                for c in frame.columns if frame[c].dtype == object}
        table = pa.Table.from_pandas(frame.assign(**text), preserve_index=False)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buf.getvalue()


#: 2000-01-01T00:00Z (PostgreSQL's epoch of binary timestamps) in Unix microseconds.
_PG_EPOCH_US = 946_684_800_000_000
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_BINARY_WIDTH = {"DOUBLE": 8, "BIGINT": 8, "SMALLINT": 2, "TINYINT": 2, "TIMESTAMPTZ": 8}


class _NotBinary(Exception):
    """A column the binary encoder does not take as is (the CSV path then handles the frame)."""


#: One column in COPY BINARY: (field lengths, -1 for null; start of each field in ``data``; data bytes).
_Cells = tuple[np.ndarray, np.ndarray, np.ndarray]


def _fixed_cells(values: np.ndarray, null: np.ndarray, dtype: str) -> _Cells:
    """Fixed-width big-endian fields of ``values`` (``dtype`` such as ``">f8"``); ``null`` rows are NULL."""
    data = np.ascontiguousarray(values, dtype=dtype).view(np.uint8)
    width = np.dtype(dtype).itemsize
    lengths = np.where(null, -1, width).astype(np.int64)
    return lengths, np.arange(len(values), dtype=np.int64) * width, data


def _text_cells(col: pd.Series) -> _Cells:
    """UTF-8 fields of a text column (Arrow's offsets and data buffers, no per-row Python)."""
    try:
        arr = pa.array(col, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _NotBinary from exc
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        n = len(arr)
        return np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros(0, np.uint8)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise _NotBinary
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    assert offsets_buf is not None
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    lengths[arr.is_null().to_numpy(zero_copy_only=False)] = -1
    return lengths, offsets[:-1], data


def _binary_cells(col: pd.Series, sql_type: str) -> _Cells:
    """One column of a canonical table (generic SQL type ``sql_type``) as COPY BINARY fields.

    NaN in a float column is NULL (as on the CSV path); a value the target type cannot hold as
    given (a fraction in an integer column, an out-of-range small integer, a naive timestamp)
    raises :class:`_NotBinary`, leaving it to the CSV path and PostgreSQL's own error.
    """
    n = len(col)
    if col.isna().all():
        return np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros(0, np.uint8)
    if sql_type == "TIMESTAMPTZ":
        if not isinstance(col.dtype, pd.DatetimeTZDtype):
            raise _NotBinary
        stamps = col.dt.tz_convert("UTC").dt.as_unit("us")
        null = stamps.isna().to_numpy()
        return _fixed_cells(np.where(null, 0, stamps.array.asi8 - _PG_EPOCH_US), null, ">i8")
    if sql_type == "DOUBLE":
        try:
            values = col.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise _NotBinary from exc
        return _fixed_cells(values, np.isnan(values), ">f8")
    if sql_type in ("BIGINT", "SMALLINT", "TINYINT"):
        try:
            ints = col.astype("Int64").array
        except (TypeError, ValueError) as exc:
            raise _NotBinary from exc
        null = np.asarray(ints.isna())
        values = ints.to_numpy(dtype="int64", na_value=0)
        if sql_type != "BIGINT":
            if len(values) and (values.min() < -(1 << 15) or values.max() >= 1 << 15):
                raise _NotBinary
            return _fixed_cells(values, null, ">i2")
        return _fixed_cells(values, null, ">i8")
    return _text_cells(col)


def _binary(frame: pd.DataFrame, sql_types: Sequence[str]) -> np.ndarray:
    """``frame`` in PostgreSQL's COPY BINARY format (uint8 array), columns typed by ``sql_types``.

    Built column by column with NumPy scatters: rows are laid out as ``int16`` field count, then per
    field ``int32`` length (-1 for NULL) and the big-endian value or UTF-8 text.

    Raises
    ------
    _NotBinary
        For a column the encoder does not take as is (see :func:`_binary_cells`).
    """
    n = len(frame)
    cells = [_binary_cells(frame[c], t) for c, t in zip(frame.columns, sql_types, strict=True)]
    sizes = [4 + np.maximum(lengths, 0) for lengths, _, _ in cells]
    row_sizes = 2 + np.sum(sizes, axis=0) if cells else np.full(n, 2, np.int64)
    head = len(_BINARY_HEADER)
    out = np.empty(head + int(row_sizes.sum()) + 2, dtype=np.uint8)
    out[:head] = np.frombuffer(_BINARY_HEADER, dtype=np.uint8)
    out[-2:] = 0xFF  # trailer: field count -1
    count = np.frombuffer(np.array(len(cells), dtype=">i2").tobytes(), dtype=np.uint8)
    if n and all((lengths == lengths[0]).all() for lengths, _, _ in cells):
        # every field of a column the same length (the common case): the rows are one 2-D block
        block = out[head:head + n * int(row_sizes[0])].reshape(n, int(row_sizes[0]))
        block[:, :2].view(">i2")[:, 0] = len(cells)  # one whole field per row copied, not byte by byte
        at = 2
        for lengths, starts, data in cells:
            width = int(max(lengths[0], 0))
            block[:, at:at + 4].view(">i4")[:, 0] = lengths[0]
            if width:
                first = int(starts[0])
                values = (data[first:first + n * width] if (starts == first + width * np.arange(n)).all()
                          else data[starts[:, None] + np.arange(width)].ravel())
                block[:, at + 4:at + 4 + width].view(f"V{width}")[:, 0] = values.view(f"V{width}")
            at += 4 + width
        return out
    pos = head + np.cumsum(row_sizes) - row_sizes
    out[pos[:, None] + np.arange(2)] = count
    pos = pos + 2
    for (lengths, starts, data), size in zip(cells, sizes, strict=True):
        out[pos[:, None] + np.arange(4)] = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        present = lengths > 0
        if present.any():
            widths = lengths[present]
            within = np.arange(int(widths.sum()), dtype=np.int64) - np.repeat(np.cumsum(widths) - widths, widths)
            out[np.repeat(pos[present] + 4, widths) + within] = data[np.repeat(starts[present], widths) + within]
        pos = pos + size
    return out


def _encode(frame: pd.DataFrame, table: str) -> tuple[bytes | np.ndarray, str]:
    """The rows of ``frame`` for ``COPY table``, and the COPY format: the binary one (built with NumPy,
    no per-row Python, no text parsing on the server), or CSV when a column is not as the binary
    encoder takes it."""
    columns = table_columns(table)
    frame = frame[[c for c, _ in columns]]
    try:
        return _binary(frame, [t for _, t in columns]), "binary"
    except _NotBinary:
        return _csv(frame), "csv"


_PG_OF_DTYPE = {"float64": "double precision", "int64": "bigint", "Int64": "bigint", "int32": "integer",
                "int16": "smallint", "Int16": "smallint", "Int8": "smallint", "int8": "smallint", "bool": "boolean"}


class PostgresStore(Store):
    """Canonical tables in PostgreSQL (one schema), loaded with COPY inside one transaction.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/db`` with optional ``?schema=NAME``.
    pool_size : int
        Maximum connections of the pool used for loads.
    lock_timeout_s : float, optional
        How long a load waits for another one writing the same schema (an advisory lock per
        schema) before :class:`~pmresearch.data.base.StoreBusyError`; default
        ``$PMRESEARCH_LOCK_TIMEOUT_S``, else 60.
    """

    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 4, lock_timeout_s: float | None = None) -> None:
        self.url = url
        self.lock_timeout_s = default_lock_timeout_s() if lock_timeout_s is None else float(lock_timeout_s)
        self.conninfo, self.schema = parse_postgres_url(url)
        self._closed = False
        try:
            self._session = psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot connect to PostgreSQL at {self.conninfo}: {exc}") from exc
        self._session.execute("SET TimeZone = 'UTC'")
        if self.schema is not None:
            known = self._session.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                          [self.schema]).fetchone()
            if not (known and known[0]):
                with self._session.transaction():  # concurrent CREATE SCHEMA IF NOT EXISTS can collide
                    self._lock(self._session)
                    self._session.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        pgsql.Identifier(self.schema)))
            self._session.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema)))
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.conninfo, min_size=1, max_size=pool_size, configure=self._configure, open=True,
            name=f"pmresearch-{self.schema or 'public'}")
        self.timescale = False
        #: Server process of the connection running the latest load (tests kill it mid-load).
        self.load_backend_pid: int | None = None
        try:
            self.create_tables()
        except BaseException:
            self.close()
            raise

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        conn.execute("SET TimeZone = 'UTC'")
        if self.schema is not None:
            conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema)))
        conn.autocommit = False

    def __enter__(self) -> PostgresStore:
        return self

    def close(self) -> None:
        """Close the pool and the session connection."""
        if not self._closed:
            self._closed = True
            self.pool.close()
            self._session.close()

    def create_tables(self) -> None:
        """Create the tables (hypertables when TimescaleDB works, else range-partitioned) and indexes."""
        with self.pool.connection() as conn, conn.transaction():
            if self._tables_exist(conn):  # readers never wait for a running load
                return
            self._lock(conn)
            self.timescale = timescale_available(conn)
            for table in TABLES:
                for stmt in table_ddl(table, timescale=self.timescale):
                    conn.execute(stmt)

    def _tables_exist(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether every canonical table exists in the schema already (and so whether it is a hypertable set)."""
        rows = conn.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                            "AND c.relkind IN ('r', 'p')").fetchall()
        if not set(TABLES) <= {r[0] for r in rows}:
            return False
        row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if row is not None and row[0]:
            hyper = conn.execute("SELECT count(*) FROM timescaledb_information.hypertables "
                                 "WHERE hypertable_schema = current_schema()").fetchone()
            self.timescale = bool(hyper and hyper[0])
        return True

    def _load_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, self._insert_new, "loaded")

    def _replace_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, self._replace_keys, "stored")

    def _write(self, items: Sequence[tuple[str, pd.DataFrame, str]],
               write_one: Callable[[psycopg.Connection[Any], int, str, pd.DataFrame, str], int],
               verb: str) -> dict[str, int]:
        """ONE transaction over ``items``, under this schema's advisory lock: ``write_one(conn, i, table,
        frame, source)`` (rows written; it adds the month partitions it needs) per non-empty item; a
        database error (e.g. a NULL key) names the item's source."""
        written: dict[str, int] = {}
        table, source = "?", "?"
        try:
            with self.pool.connection() as conn, conn.transaction():
                self.load_backend_pid = int(conn.info.backend_pid)
                self._lock(conn)
                # the key checks hash-join a whole frame against the stored rows: in memory, not in batches on disk
                conn.execute("SET LOCAL work_mem = '256MB'")
                for i, (table, frame, source) in enumerate(items):
                    rows = 0
                    if len(frame):
                        rows = write_one(conn, i, table, frame, source)
                    written[table] = written.get(table, 0) + rows
                self._hook("inserted")
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
            raise SchemaError(f"{source}: table {table}: {str(exc).splitlines()[0]}; nothing {verb}") from exc
        return written

    def _add_partitions(self, conn: psycopg.Connection[Any], table: str, frame: pd.DataFrame) -> None:
        """Create the month partitions of ``table`` that the rows of ``frame`` need and that do not exist yet
        (one catalog query; no statement for a month already there)."""
        time_col = TIME_COLUMN.get(table)
        if time_col is None or self.timescale:
            return
        times = frame[time_col].dropna()
        if not len(times):
            return
        existing = self._partition_names(conn, table)
        for name, stmt in zip(_month_names(table, times.min(), times.max()),
                              month_partitions(table, times.min(), times.max()), strict=True):
            if name not in existing:
                conn.execute(stmt)

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        """Take this schema's advisory transaction lock: one writer per schema at a time.

        Waits (polling ``pg_try_advisory_xact_lock``) up to :attr:`lock_timeout_s`, then raises
        :class:`~pmresearch.data.base.StoreBusyError` naming the store.
        """
        key = f"pmresearch:{self.schema or 'public'}"
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key]).fetchone()
            if row is not None and row[0]:
                return
            if time.monotonic() >= deadline:
                raise StoreBusyError(f"{redact_url(self.url)}: another load holds schema "
                                     f"{self.schema or 'public'!r}; gave up after {self.lock_timeout_s:g} s")
            time.sleep(0.05)

    def _stage(self, conn: psycopg.Connection[Any], staging: str, table: str, frame: pd.DataFrame) -> str:
        """COPY ``frame`` into a new temporary table ``staging`` shaped like ``table``; the column list."""
        cols = [n for n, _ in table_columns(table)]
        conn.execute(f"CREATE TEMP TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        self._copy(conn, staging, table, frame[cols])
        return ", ".join(f'"{c}"' for c in cols)

    def _insert_new(self, conn: psycopg.Connection[Any], i: int, table: str, frame: pd.DataFrame,
                    source: str) -> int:
        """Insert the rows of ``frame`` whose key is not stored.

        Rows of months without a partition yet cannot match a stored key (the time column is in every
        key): they are bulk-loaded into new partitions (:meth:`_load_new_months`). An empty table
        takes the rest by COPY straight in (keys are unique within a prepared frame); otherwise the
        rest is staged and checked against stored rows set-wise, in one query.
        """
        fresh, frame = self._load_new_months(conn, table, frame)
        if not len(frame):
            self._hook("staged")
            return fresh
        first = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
        if first is not None and first[0]:
            self._add_partitions(conn, table, frame)
            self._copy(conn, table, table, frame[[n for n, _ in table_columns(table)]])
            self._hook("staged")
            return fresh + len(frame)
        self._add_partitions(conn, table, frame)
        staging = f"_incoming_{i}"
        quoted = self._stage(conn, staging, table, frame)
        row = conn.execute(_match_sql(table, staging)).fetchone()
        matched, conflicting = (int(row[0]), int(row[1])) if row else (0, 0)
        if conflicting:
            raise _conflict_error(table, source, conn.execute(_conflict_sql(table, staging)).fetchall(), frame)
        self._hook("staged")
        if matched == len(frame):  # every row is stored already, identically: nothing to insert
            return fresh
        cur = conn.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staging} ON CONFLICT DO NOTHING")
        return fresh + max(cur.rowcount, 0)

    def _load_new_months(self, conn: psycopg.Connection[Any], table: str,
                         frame: pd.DataFrame) -> tuple[int, pd.DataFrame]:
        """Bulk-load the rows of months that have no partition yet; ``(rows loaded, the other rows)``.

        Per such month: a new table with a CHECK of the month's range, COPY into it, then its primary
        key and index built once over the loaded rows (a sorted build, not one insertion per row), and
        ``ATTACH PARTITION`` (the CHECK spares its validation scan). Hypertables, tables without a
        time column and rows without a time are left to the caller.
        """
        time_col = TIME_COLUMN.get(table)
        if time_col is None or self.timescale or not len(frame):
            return 0, frame
        times = frame[time_col]
        if not isinstance(times.dtype, pd.DatetimeTZDtype):
            return 0, frame
        month = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[M]")
        if np.isnat(month).any():  # a NULL time: the database's own error, on the caller's path
            return 0, frame
        existing = self._partition_names(conn, table)
        if not (month[1:] >= month[:-1]).all():  # group the months (loads are usually in time order already)
            order = np.argsort(month, kind="stable")
            frame, month = frame.take(order), month[order]
        starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
        bounds = [*starts.tolist(), len(month)]
        rest: list[pd.DataFrame] = []
        new: list[tuple[str, pd.Timestamp, pd.DataFrame]] = []
        for lo, hi in itertools.pairwise(bounds):
            start = pd.Timestamp(month[lo]).tz_localize("UTC")
            name = f"{table}_p{start:%Y%m}"
            if name in existing:
                rest.append(frame.iloc[lo:hi])
            else:
                new.append((name, start, frame.iloc[lo:hi]))
        if not new:
            return 0, frame
        # encode the months in a worker thread while the server loads and indexes the previous ones
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmresearch-encode")
        try:
            encoded = [pool.submit(_encode, rows, table) for _, _, rows in new]
            for (name, start, _), data in zip(new, encoded, strict=True):
                self._attach_month(conn, table, name, start, data.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        loaded = sum(len(rows) for _, _, rows in new)
        return loaded, pd.concat(rest) if rest else frame.iloc[:0]

    def _attach_month(self, conn: psycopg.Connection[Any], table: str, name: str, start: pd.Timestamp,
                      rows: tuple[bytes | np.ndarray, str]) -> None:
        """Create partition ``name`` of ``table`` for the month from ``start`` holding ``rows`` (encoded by
        :func:`_encode`; see :meth:`_load_new_months`); it ends up as :func:`month_partitions` makes one."""
        time_col = TIME_COLUMN[table]
        lo, hi = start.isoformat(), (start + pd.offsets.MonthBegin(1)).isoformat()
        conn.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS, CONSTRAINT {name}_range "
                     f"CHECK ({time_col} >= '{lo}' AND {time_col} < '{hi}'))")
        self._copy(conn, name, table, rows)
        conn.execute(f"ALTER TABLE {name} ADD PRIMARY KEY ({', '.join(TABLES[table][1])})")
        lead = _index_lead(table)
        if lead is not None:
            conn.execute(f"CREATE INDEX ON {name} ({lead}, {time_col})")
        conn.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')")
        conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")

    def _partition_names(self, conn: psycopg.Connection[Any], table: str) -> set[str]:
        """Names of the existing partitions of ``table``."""
        rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = %s::regclass", [table]).fetchall()
        return {r[0] for r in rows}

    def _replace_keys(self, conn: psycopg.Connection[Any], i: int, table: str, frame: pd.DataFrame,
                      source: str) -> int:
        """Delete the stored rows whose key is in ``frame``, then insert ``frame``."""
        self._add_partitions(conn, table, frame)
        staging = f"_replacing_{i}"
        quoted = self._stage(conn, staging, table, frame)
        self._hook("staged")
        conn.execute(_delete_keys_sql(table, staging))
        self._hook("deleted")
        cur = conn.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staging}")
        return max(cur.rowcount, 0)

    def _copy(self, conn: psycopg.Connection[Any], target: str, table: str,
              frame: pd.DataFrame | tuple[bytes | np.ndarray, str]) -> None:
        """COPY ``frame`` (the columns of canonical ``table``, in order; or its :func:`_encode` result)
        into ``target`` in 4 MiB chunks. The ``"copy"`` hook runs after the first chunk."""
        quoted = ", ".join(f'"{c}"' for c, _ in table_columns(table))
        data, fmt = _encode(frame, table) if isinstance(frame, pd.DataFrame) else frame
        view = memoryview(data)  # type: ignore[arg-type]  # ndarray exports the buffer protocol
        with conn.cursor() as cur, cur.copy(f"COPY {target} ({quoted}) FROM STDIN WITH (FORMAT {fmt})") as copy:
            for off in range(0, len(view), 1 << 22):
                copy.write(view[off:off + (1 << 22)])
                if off == 0:
                    self._hook("copy")  # the COPY is running on the server

    def backend_pid(self) -> int:
        """Process id of the session connection's server backend."""
        return int(self._session.info.backend_pid)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL (``?`` or ``%(name)s`` placeholders) on the session; timestamps come back UTC."""
        text = qmark_to_pyformat(sql) if params is None or not isinstance(params, Mapping) else sql
        with self._session.cursor() as cur:
            cur.execute(text, params)
            if cur.description is None:
                return pd.DataFrame()
            names = [d.name for d in cur.description]
            type_names = [_type_name(self._session, d.type_code) for d in cur.description]
            rows = cur.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(
            {n: pd.Series(dtype=object) for n in names})
        for name, tname in zip(names, type_names, strict=True):
            col = frame[name]
            if tname == "timestamptz":
                frame[name] = pd.to_datetime(col, utc=True).astype("datetime64[us, UTC]")
            elif tname == "timestamp":
                frame[name] = pd.to_datetime(col).astype("datetime64[us]")
            elif tname in ("float8", "float4", "numeric"):
                frame[name] = col.astype("float64")
            elif tname in ("int2", "int4", "int8"):
                nullable = col.isna().any()
                wide: Any = {"int2": "Int16", "int4": "Int32", "int8": "Int64"}[tname]
                frame[name] = col.astype(wide) if nullable else col.astype(wide.lower())
        return frame

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Copy a DataFrame into a session temporary table ``name`` (replacing an earlier one)."""
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError(f"bad table name {name!r}")
        defs = []
        for col in frame.columns:
            dtype = frame[col].dtype
            if isinstance(dtype, pd.DatetimeTZDtype):
                pg = "timestamptz"
            elif pd.api.types.is_datetime64_dtype(dtype):
                raise ValueError(f"register {name}: column {col!r} has naive timestamps; use tz-aware UTC")
            else:
                pg = _PG_OF_DTYPE.get(str(dtype), "text")
            defs.append(f'"{col}" {pg}')
        self._session.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self._session.execute(f"CREATE TEMP TABLE {name} ({', '.join(defs)})")
        with self._session.cursor() as cur, cur.copy(
                f"COPY {name} FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(_csv(frame))

    def count(self, table: str) -> int:
        """Row count of a table."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        row = self._session.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def partitions(self, table: str) -> list[str]:
        """Names of the partitions of ``table`` (empty for plain tables and hypertables)."""
        rows = self._session.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.oid = %s::regclass ORDER BY 1", [table]).fetchall()
        return [r[0] for r in rows]


_TYPE_CACHE: dict[int, str] = {}


def _type_name(conn: psycopg.Connection[Any], oid: int) -> str:
    if oid not in _TYPE_CACHE:
        info = conn.adapters.types.get(oid)
        if info is not None:
            _TYPE_CACHE[oid] = info.name
        else:
            row = conn.execute("SELECT typname FROM pg_type WHERE oid = %s", [oid]).fetchone()
            _TYPE_CACHE[oid] = str(row[0]) if row else "unknown"
    return _TYPE_CACHE[oid]
