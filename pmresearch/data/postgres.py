"""The PostgreSQL store: psycopg 3 with a connection pool, COPY bulk loads, time-partitioned tables.

Time-series tables are hypertables when ``CREATE EXTENSION timescaledb`` works, else declaratively
range-partitioned by their time column with one partition per calendar month, created inside the
load transaction that first needs it. A URL may carry ``?schema=NAME`` (created if missing, then the
session's ``search_path``), which keeps parallel test runs apart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from pmresearch.data.schemas import SchemaError
from pmresearch.data.base import (
    TABLES,
    TIME_COLUMN,
    Store,
    _conflict_error,
    _conflict_sql,
    _delete_keys_sql,
    _index_lead,
    _match_sql,
    table_columns,
)

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
    """

    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.conninfo, self.schema = parse_postgres_url(url)
        self._closed = False
        try:
            self._session = psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot connect to PostgreSQL at {self.conninfo}: {exc}") from exc
        self._session.execute("SET TimeZone = 'UTC'")
        if self.schema is not None:
            self._session.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self.schema)))
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
            self.timescale = timescale_available(conn)
            for table in TABLES:
                for stmt in table_ddl(table, timescale=self.timescale):
                    conn.execute(stmt)

    def _load_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, self._insert_new, "loaded")

    def _replace_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        return self._write(items, self._replace_keys, "stored")

    def _write(self, items: Sequence[tuple[str, pd.DataFrame, str]],
               write_one: Callable[[psycopg.Connection[Any], int, str, pd.DataFrame, str], int],
               verb: str) -> dict[str, int]:
        """ONE transaction over ``items``: month partitions, then ``write_one(conn, i, table, frame, source)``
        (rows written) per non-empty item; a database error (e.g. a NULL key) names the item's source."""
        written: dict[str, int] = {}
        table, source = "?", "?"
        try:
            with self.pool.connection() as conn, conn.transaction():
                self.load_backend_pid = int(conn.info.backend_pid)
                for i, (table, frame, source) in enumerate(items):
                    rows = 0
                    if len(frame):
                        time_col = TIME_COLUMN.get(table)
                        times = frame[time_col].dropna() if time_col is not None else None
                        if times is not None and len(times) and not self.timescale:
                            for stmt in month_partitions(table, times.min(), times.max()):
                                conn.execute(stmt)
                        rows = write_one(conn, i, table, frame, source)
                    written[table] = written.get(table, 0) + rows
                if self.fault_hook is not None:
                    self.fault_hook("inserted")
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
            raise SchemaError(f"{source}: table {table}: {str(exc).splitlines()[0]}; nothing {verb}") from exc
        return written

    def _stage(self, conn: psycopg.Connection[Any], staging: str, table: str, frame: pd.DataFrame) -> str:
        """COPY ``frame`` into a new temporary table ``staging`` shaped like ``table``; the column list."""
        cols = [n for n, _ in table_columns(table)]
        quoted = ", ".join(f'"{c}"' for c in cols)
        conn.execute(f"CREATE TEMP TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        self._copy(conn, staging, quoted, frame[cols])
        return quoted

    def _insert_new(self, conn: psycopg.Connection[Any], i: int, table: str, frame: pd.DataFrame,
                    source: str) -> int:
        """Insert the rows of ``frame`` whose key is not stored (an empty table is COPYed into directly)."""
        first = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()
        if first is not None and first[0]:
            # empty table: COPY straight in (keys are unique within a prepared frame)
            cols = [n for n, _ in table_columns(table)]
            self._copy(conn, table, ", ".join(f'"{c}"' for c in cols), frame[cols])
            if self.fault_hook is not None:
                self.fault_hook("staged")
            return len(frame)
        staging = f"_incoming_{i}"
        quoted = self._stage(conn, staging, table, frame)
        row = conn.execute(_match_sql(table, staging)).fetchone()
        matched, conflicting = (int(row[0]), int(row[1])) if row else (0, 0)
        if conflicting:
            raise _conflict_error(table, source, conn.execute(_conflict_sql(table, staging)).fetchall(), frame)
        if self.fault_hook is not None:
            self.fault_hook("staged")
        if matched == len(frame):  # every row is stored already, identically: nothing to insert
            return 0
        cur = conn.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staging} ON CONFLICT DO NOTHING")
        return max(cur.rowcount, 0)

    def _replace_keys(self, conn: psycopg.Connection[Any], i: int, table: str, frame: pd.DataFrame,
                      source: str) -> int:
        """Delete the stored rows whose key is in ``frame``, then insert ``frame``."""
        staging = f"_replacing_{i}"
        quoted = self._stage(conn, staging, table, frame)
        if self.fault_hook is not None:
            self.fault_hook("staged")
        conn.execute(_delete_keys_sql(table, staging))
        if self.fault_hook is not None:
            self.fault_hook("deleted")
        cur = conn.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {staging}")
        return max(cur.rowcount, 0)

    def _copy(self, conn: psycopg.Connection[Any], target: str, quoted: str, frame: pd.DataFrame) -> None:
        """COPY ``frame`` into ``target`` in 4 MiB chunks (the ``"copy"`` hook runs after the first)."""
        with conn.cursor() as cur, cur.copy(f"COPY {target} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
            data = _csv(frame)
            for off in range(0, len(data), 1 << 22):
                copy.write(data[off:off + (1 << 22)])
                if off == 0 and self.fault_hook is not None:
                    self.fault_hook("copy")  # the COPY is running on the server

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
