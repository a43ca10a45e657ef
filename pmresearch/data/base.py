"""The store interface and what both backends share: tables, keys, frame preparation, conflict SQL.

:class:`Store` is the abstract base of :class:`pmresearch.data.store.DuckDBStore` and
:class:`pmresearch.data.postgres.PostgresStore`; both backend modules import this one, never each
other. Tables and keys follow DESIGN.md (re-loading a file changes nothing; a row whose key exists
with other values is an error). Loads are one transaction: bad input leaves the store unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pmresearch._progress import progress as progress_bar
from pmresearch.data.io import DataDir, data_files, read_file, recognize
from pmresearch.data.knowledge import BAR_LENGTHS
from pmresearch.data.knowledge import knowledge_time_sql as _knowledge_time_sql
from pmresearch.data.schemas import SCHEMAS, SchemaError, _duplicate_message, validate

__all__ = [
    "DEFAULT_DB_URL",
    "KIND_TABLE",
    "TABLES",
    "TIME_COLUMN",
    "LoadItem",
    "Store",
    "StoreBusyError",
    "db_url",
    "default_lock_timeout_s",
    "knowledge_time_sql",
    "redact_url",
    "table_columns",
]

DEFAULT_DB_URL = "duckdb:///data/pmresearch.duckdb"

#: table -> (data kind, primary key)
TABLES: dict[str, tuple[str, list[str]]] = {
    "spot_prices": ("klines", ["symbol", "interval", "ts"]),
    "oracle_prices": ("oracle", ["feed", "source", "ts"]),
    "polymarket_resolutions": ("markets", ["slug"]),
    "polymarket_quotes": ("quotes", ["slug", "ts"]),
    "polymarket_books": ("books", ["token_id", "ts", "side", "level"]),
    "polymarket_book_events": ("book_events", ["token_id", "ts", "side", "price"]),
    "trades": ("trades", ["venue", "symbol", "ts", "trade_key"]),
    "features": ("features", ["slug", "t"]),
    "paper_trades": ("paper_trades", ["session", "id"]),
}
KIND_TABLE = {kind: table for table, (kind, _) in TABLES.items()}

#: The time column of each time-series table (PostgreSQL partitions by it; as-of reads use it).
TIME_COLUMN: dict[str, str] = {
    "spot_prices": "ts", "oracle_prices": "ts", "polymarket_quotes": "ts", "polymarket_books": "ts",
    "polymarket_book_events": "ts", "trades": "ts", "features": "t",
}

_SQL_TYPES = {
    "float64": "DOUBLE", "int16": "SMALLINT", "Int8": "TINYINT", "Int64": "BIGINT", "str": "VARCHAR",
    "datetime64[us, UTC]": "TIMESTAMPTZ",
}

#: One load: (data kind, validated frame, source name used in error messages).
LoadItem = tuple[str, pd.DataFrame, str]

#: Bar lengths whose close time as-of reads know: the one table, in :mod:`pmresearch.data.knowledge`.
_INTERVAL_LENGTH = BAR_LENGTHS

#: Tables whose knowledge time is never before ``ts`` (see :func:`knowledge_time_sql`): an as-of read
#: adds the sargable ``ts <= as_of`` so the (lead, ts) index, zone maps and partition pruning apply.
_KNOWN_FROM_TS = ("spot_prices", "oracle_prices", "trades")


class StoreBusyError(TimeoutError):
    """Another process or thread holds the store (a DuckDB file, a PostgreSQL schema) past the wait allowed."""


def default_lock_timeout_s() -> float:
    """Seconds a store waits for another writer: ``$PMRESEARCH_LOCK_TIMEOUT_S``, else 60."""
    text = os.environ.get("PMRESEARCH_LOCK_TIMEOUT_S")
    try:
        return 60.0 if text is None else max(float(text), 0.0)
    except ValueError as exc:
        raise ValueError(f"PMRESEARCH_LOCK_TIMEOUT_S={text!r} is not a number of seconds") from exc


def redact_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages)."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def db_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$PMRESEARCH_DB``, else :data:`DEFAULT_DB_URL`."""
    return url or os.environ.get("PMRESEARCH_DB") or DEFAULT_DB_URL



def table_columns(table: str) -> list[tuple[str, str]]:
    """``(column, SQL type)`` of a canonical table, in storage order (generic SQL type names)."""
    kind = TABLES[table][0]
    cols = [(name, _SQL_TYPES.get(str(col.dtype), "VARCHAR")) for name, col in SCHEMAS[kind].columns.items()]
    if kind == "trades":
        cols.append(("trade_key", "VARCHAR"))
    return cols


def _columns(kind: str) -> list[tuple[str, str]]:
    return table_columns(KIND_TABLE[kind])


def _index_lead(table: str) -> str | None:
    """Lead column of the (symbol or slug, time) index of ``table``; None when none is needed.

    No index for tables without a time column, nor where the primary key already starts with
    (lead, time) (quotes, features): the key's own index serves those reads.
    """
    if table not in TIME_COLUMN:
        return None
    key = TABLES[table][1]
    names = {c for c, _ in table_columns(table)}
    lead = "symbol" if "symbol" in key else "slug" if "slug" in names else key[0]
    return None if key[:2] == [lead, TIME_COLUMN[table]] else lead


def _trade_keys(frame: pd.DataFrame) -> pd.Series:
    """``trade_id`` where present, else a hash of the row plus its position among identical rows."""
    basis = frame[["ts", "price", "qty", "side", "symbol", "venue"]].astype(str).agg("|".join, axis=1)
    occurrence = basis.groupby(basis).cumcount().astype(str)
    hashed = (basis + "#" + occurrence).map(lambda s: hashlib.blake2b(s.encode(), digest_size=12).hexdigest())
    if "trade_id" in frame.columns:
        return frame["trade_id"].astype("str").where(frame["trade_id"].notna(), hashed)
    return hashed


def knowledge_time_sql(table: str, clock_offsets: Mapping[str, pd.Timedelta] | None = None) -> str:
    """SQL expression of a row's knowledge time (DESIGN.md) in ``table`` (works in DuckDB and PostgreSQL).

    The rule of the table's data kind in :data:`pmresearch.data.knowledge.RULES`: klines are known at
    their bar's close (``ts`` + interval); oracle rounds and trades at ``max(ts, received_at + offset of
    their collector)``; markets at ``window_end``; everything else at its time column.
    ``clock_offsets`` maps a collector (the ``source`` column of oracle rows, the ``venue`` of trades)
    to the offset to add to its ``received_at``.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return _knowledge_time_sql(TABLES[table][0], clock_offsets)


def _prepare(kind: str, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The frame in table layout: trade keys added, absent optional columns null, exact repeats dropped.

    Raises
    ------
    SchemaError
        When two rows share a key with different values (names source, key, column and rows).
    """
    table = KIND_TABLE[kind]
    cols = [n for n, _ in _columns(kind)]
    data = frame.copy(deep=False)  # copy-on-write: the columns added below stay out of ``frame``
    if kind == "trades":
        data["trade_key"] = _trade_keys(data)
    for c in cols:
        if c not in data.columns:
            data[c] = None
    data = data[cols]
    key = TABLES[table][1]
    if data.duplicated(subset=key, keep=False).any():
        data = data[~data.duplicated(keep="first")]
        clash = data.duplicated(subset=key, keep=False)
        if clash.any():
            raise SchemaError(_duplicate_message(data, clash, key, source))
    return data


def _conflict_sql(table: str, staging: str) -> str:
    """SQL listing incoming rows whose key exists in ``table`` with other values."""
    key = TABLES[table][1]
    cols = [n for n, _ in table_columns(table) if n not in key]
    on = " AND ".join(f's."{k}" = t."{k}"' for k in key)
    differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in cols)
    keys = ", ".join(f's."{k}"' for k in key)
    picks = ", ".join(f'(s."{c}" IS DISTINCT FROM t."{c}") AS "{c}"' for c in cols)
    return f"SELECT {keys}, {picks} FROM {staging} s JOIN {table} t ON {on} WHERE {differs} LIMIT 5"


def _match_sql(table: str, staging: str) -> str:
    """SQL counting incoming rows whose key is stored: ``(matched, conflicting)``."""
    key = TABLES[table][1]
    cols = [n for n, _ in table_columns(table) if n not in key]
    on = " AND ".join(f's."{k}" = t."{k}"' for k in key)
    differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in cols)
    return f"SELECT count(*), count(*) FILTER (WHERE {differs}) FROM {staging} s JOIN {table} t ON {on}"


def _delete_keys_sql(table: str, staging: str) -> str:
    """SQL deleting the rows of ``table`` whose primary key is in ``staging`` (DuckDB and PostgreSQL)."""
    on = " AND ".join(f'stored."{k}" = incoming."{k}"' for k in TABLES[table][1])
    return f"DELETE FROM {table} AS stored USING {staging} AS incoming WHERE {on}"


def _conflict_error(table: str, source: str, rows: list[tuple[Any, ...]],
                    frame: pd.DataFrame | None = None) -> SchemaError:
    """The error for incoming rows whose key is stored with other values (first of ``rows``)."""
    key = TABLES[table][1]
    cols = [n for n, _ in table_columns(table) if n not in key]
    first = rows[0]
    bad = [c for c, flag in zip(cols, first[len(key):], strict=True) if flag]
    where = ""
    if frame is not None:
        hit = pd.Series(True, index=frame.index)
        for k, value in zip(key, first[:len(key)], strict=True):
            col = frame[k]
            if isinstance(col.dtype, pd.DatetimeTZDtype):
                hit &= col == pd.Timestamp(value).tz_convert("UTC")
            else:
                hit &= col.astype(str) == str(value)
        if hit.any():
            where = f" at row {frame.index[hit][0]}"
    return SchemaError(
        f"{source}: table {table}: key {dict(zip(key, map(str, first[:len(key)]), strict=True))}{where} is stored "
        f"with other values in column {bad[0] if bad else '?'!r} ({len(rows)}+ conflicting rows); nothing loaded")


def _table_items(items: Iterable[LoadItem], validated: bool) -> list[tuple[str, pd.DataFrame, str]]:
    """``(kind, frame, source)`` -> ``(table, frame in table layout, source)``, validating unless ``validated``."""
    tables: list[tuple[str, pd.DataFrame, str]] = []
    for kind, frame, source in items:
        if kind not in KIND_TABLE:
            raise ValueError(f"unknown data kind {kind!r}")
        checked = frame if validated else validate(frame, kind, source=source)
        tables.append((KIND_TABLE[kind], _prepare(kind, checked, source), source))
    return tables


class Store(ABC):
    """The store interface: canonical tables, transactional idempotent loads, UTC reads, backups.

    Implementations: :class:`DuckDBStore` and :class:`pmresearch.data.postgres.PostgresStore`.
    """

    url: str
    backend: str = "?"
    #: Test hook called with a stage name inside the load transaction: ``"copy"`` (PostgreSQL, while
    #: the COPY runs), ``"staged"`` (per table, before its insert), ``"inserted"`` (before COMMIT);
    #: replace-by-key loads (:meth:`replace_frames`) also call ``"deleted"`` (per table, after the
    #: delete of the rows being replaced, before the insert).
    fault_hook: Callable[[str], None] | None = None

    def _hook(self, stage: str) -> None:
        """Call :attr:`fault_hook` (when set) with ``stage``."""
        if self.fault_hook is not None:
            self.fault_hook(stage)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Close the connection(s)."""

    @abstractmethod
    def create_tables(self) -> None:
        """Create the canonical tables, their primary keys and (symbol or slug, ts) indexes."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL (``?`` placeholders) and return a DataFrame whose timestamps are tz-aware UTC."""

    @abstractmethod
    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a DataFrame to SQL under ``name`` for the life of the store's session."""

    @abstractmethod
    def _load_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        """Insert frames already in table layout, ``(table, frame, source)``, in ONE transaction.

        Rows whose key is stored with identical values are skipped; with other values the whole
        load fails. Returns rows inserted per table.
        """

    def count(self, table: str) -> int:
        """Row count of a table."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return int(self.query(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])

    def counts(self) -> dict[str, int]:
        """Row counts of every canonical table."""
        return {t: self.count(t) for t in TABLES}

    def load_frames(self, items: Iterable[LoadItem], *, validated: bool = False) -> dict[str, int]:
        """Load frames ``(kind, frame, source)`` in one transaction; rows inserted per table.

        Parameters
        ----------
        items : iterable of (kind, frame, source)
            Canonical frames; ``source`` names them in error messages (a file path, usually).
        validated : bool
            True when every frame already went through :func:`pmresearch.data.schemas.validate`
            (the importers' output); otherwise each one is validated here first.

        Raises
        ------
        SchemaError
            When a frame does not fit its schema, or a key repeats with different values, within
            the input or against stored rows; the store is then unchanged.
        """
        return self._load_tables(_table_items(items, validated))

    def load_frame(self, kind: str, frame: pd.DataFrame, source: str = "frame", *,
                   validated: bool = False) -> int:
        """Validate and insert a frame of ``kind`` (one transaction); returns the number of rows inserted."""
        return sum(self.load_frames([(kind, frame, source)], validated=validated).values())

    @abstractmethod
    def _replace_tables(self, items: Sequence[tuple[str, pd.DataFrame, str]]) -> dict[str, int]:
        """Replace by key frames already in table layout, ``(table, frame, source)``, in ONE transaction.

        For each item in turn: delete the stored rows whose key is in the frame, then insert the
        frame. Returns rows written per table.
        """

    def replace_frames(self, items: Iterable[LoadItem], *, validated: bool = False) -> dict[str, int]:
        """Replace by key: store frames ``(kind, frame, source)`` whose rows supersede stored ones.

        In ONE transaction, for each item in turn, the stored rows whose primary key (DESIGN.md)
        is in the frame are deleted and the frame's rows are inserted. Rows of the table with other
        keys are untouched. Unlike :meth:`load_frames` (where a stored key with other values is an
        error), this is for tables whose rows a later build legitimately changes, such as
        ``features`` (a label that was unknown under ``--until`` becomes known).

        Parameters
        ----------
        items : iterable of (kind, frame, source)
            Canonical frames; ``source`` names them in error messages.
        validated : bool
            True when every frame already went through :func:`pmresearch.data.schemas.validate`;
            otherwise each one is validated here first (the same path as :meth:`load_frames`).

        Returns
        -------
        dict
            Rows written per table (exact repeats within a frame count once).

        Raises
        ------
        SchemaError
            When a frame does not fit its schema or repeats a key with different values, or the
            database rejects a row (e.g. a null key); the store is then unchanged.
        """
        return self._replace_tables(_table_items(items, validated))

    def replace_frame(self, kind: str, frame: pd.DataFrame, source: str = "frame", *,
                      validated: bool = False) -> int:
        """Validate ``frame`` and replace the stored rows with its keys by it (one transaction).

        See :meth:`replace_frames`. Returns the number of rows written.
        """
        return sum(self.replace_frames([(kind, frame, source)], validated=validated).values())

    def load_data_dir(self, path: str | Path | DataDir) -> dict[str, int]:
        """Read, validate and load every recognized file of a data directory, all in one transaction.

        Returns rows inserted per table (every table of the directory's kinds, 0 when nothing new).
        """
        if isinstance(path, DataDir):
            items = [(kind, frame, f"{path.path}/{kind}") for kind, frame in path.frames.items()]
        else:
            files = data_files(path)  # refuses a missing or empty directory, naming it and the file prefixes
            items = []
            for p in progress_bar(files, desc="read", unit="file", leave=False):
                kind = recognize(p)
                assert kind is not None
                items.append((kind, read_file(p, kind), str(p)))
        out = {KIND_TABLE[k]: 0 for k, _, _ in items}
        out.update(self.load_frames(items, validated=True))
        return out

    def read_table(self, table: str) -> pd.DataFrame:
        """A whole table ordered by its primary key."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        order = ", ".join(f'"{k}"' for k in TABLES[table][1])
        cols = ", ".join(f'"{c}"' for c, _ in table_columns(table))
        return self.query(f"SELECT {cols} FROM {table} ORDER BY {order}")

    def as_of(self, table: str, as_of: pd.Timestamp | str, *, since: pd.Timestamp | str | None = None,
              where: Mapping[str, Any] | None = None,
              clock_offsets: Mapping[str, pd.Timedelta] | None = None) -> pd.DataFrame:
        """Rows of ``table`` whose knowledge time is ``<= as_of`` (and ``> since``), with column ``known_at``.

        Parameters
        ----------
        table : str
            A canonical table.
        as_of : pandas.Timestamp or str
            tz-aware UTC time; a naive time is an error.
        since : pandas.Timestamp or str, optional
            Only rows known strictly after it.
        where : mapping, optional
            Column equalities, e.g. ``{"symbol": "BTCUSDT"}``.
        clock_offsets : mapping, optional
            Per-collector clock offsets (see :func:`knowledge_time_sql`).

        Notes
        -----
        The filter is on knowledge time; bounds on ``ts`` that it implies are added so that indexes,
        zone maps and PostgreSQL partition pruning apply: ``ts <= as_of`` for klines, oracle rounds and
        trades (known at or after ``ts``, whatever the clock offsets), and for klines with ``since``,
        ``ts >= since - bar length`` (the longest known bar unless ``where`` pins the interval). Receipt-
        timed rows get no lower bound: a row may be received any time after its ``ts``.
        """
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        upper = _utc_ts(as_of, "as_of")
        kt = knowledge_time_sql(table, clock_offsets)
        cols = ", ".join(f'"{c}"' for c, _ in table_columns(table))
        conds, params = [f"{kt} <= ?"], [upper.to_pydatetime()]
        if since is not None:
            lower = _utc_ts(since, "since")
            conds.append(f"{kt} > ?")
            params.append(lower.to_pydatetime())
        valid = {c for c, _ in table_columns(table)}
        for col, value in (where or {}).items():
            if col not in valid:
                raise ValueError(f"unknown column {col!r} of {table}")
            conds.append(f'"{col}" = ?')
            params.append(value)
        # Sargable bounds on ts implied by the knowledge-time conditions above (they only narrow the scan):
        # knowledge time >= ts in these tables, whatever the clock offsets (greatest(ts, ...)).
        if table in _KNOWN_FROM_TS:
            conds.append('"ts" <= ?')
            params.append(upper.to_pydatetime())
        # A bar is known exactly its length after ts, so known > since implies ts > since - length. No
        # such bound for receipt-timed rows: a row may be received (and so known) any time after its ts.
        if since is not None and table == "spot_prices":
            length = _INTERVAL_LENGTH.get(str((where or {}).get("interval")), max(_INTERVAL_LENGTH.values()))
            conds.append('"ts" >= ?')
            params.append((lower - length).to_pydatetime())
        order = ", ".join(f'"{k}"' for k in TABLES[table][1])
        return self.query(f"SELECT {cols}, {kt} AS known_at FROM {table} WHERE {' AND '.join(conds)} "
                          f"ORDER BY known_at, {order}", params)

    def backup(self, path: str | Path) -> dict[str, int]:
        """Dump every table to one tar file of Parquet files (plus a manifest); rows per table.

        The format is the same for both backends, so a backup restores into either.
        """
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        tmp = out.with_name(out.name + ".part")
        with tarfile.open(tmp, "w") as tar:
            for table in progress_bar(TABLES, desc="backup", unit="table", leave=False):
                frame = self.read_table(table)
                counts[table] = len(frame)
                buf = io.BytesIO()
                pq.write_table(pa.Table.from_pandas(_typed(table, frame), preserve_index=False), buf,
                               compression="zstd")
                _add_bytes(tar, f"{table}.parquet", buf.getvalue())
            manifest = {"format": "pmresearch-backup-1", "backend": self.backend, "counts": counts}
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
        tmp.replace(out)
        return counts

    def restore(self, path: str | Path) -> dict[str, int]:
        """Load a :meth:`backup` file in one transaction (idempotent); rows inserted per table.

        Raises
        ------
        SchemaError
            When the file is not a readable backup or its rows conflict with stored ones.
        """
        src = Path(path)
        try:
            with tarfile.open(src, "r") as tar:
                manifest = json.loads(_read_member(tar, "manifest.json"))
                items = []
                for table in manifest["counts"]:
                    if table not in TABLES:
                        raise SchemaError(f"{src}: unknown table {table!r} in backup")
                    frame = pq.read_table(io.BytesIO(_read_member(tar, f"{table}.parquet"))).to_pandas()
                    if len(frame) != manifest["counts"][table]:
                        raise SchemaError(f"{src}: {table}: {len(frame)} rows, manifest says "
                                          f"{manifest['counts'][table]}")
                    items.append((table, _typed(table, frame), f"{src}:{table}"))
        except (tarfile.TarError, OSError, KeyError, ValueError, pa.ArrowInvalid) as exc:
            if isinstance(exc, SchemaError):
                raise
            raise SchemaError(f"{src}: not a readable pmresearch backup ({exc})") from exc
        return self._load_tables(items)


def _utc_ts(value: pd.Timestamp | str, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name}={value!r} is naive; pmresearch requires tz-aware UTC")
    return ts.tz_convert("UTC")


def _typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical dtypes of ``table`` (used for backups and restores)."""
    out = pd.DataFrame(index=frame.index)
    for col, sql in table_columns(table):
        s = frame[col] if col in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        if sql == "TIMESTAMPTZ":
            s = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif sql == "DOUBLE":
            s = s.astype("float64")
        elif sql in ("SMALLINT", "TINYINT", "BIGINT"):
            nullable_int: Any = {"SMALLINT": "Int16", "TINYINT": "Int8", "BIGINT": "Int64"}[sql]
            s = s.astype(nullable_int)
        else:
            s = s.astype("str").where(s.notna(), None)
        out[col] = s
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _read_member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    if f is None:
        raise KeyError(name)
    return f.read()
