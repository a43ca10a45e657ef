"""Schemas, the data-directory reader and the stores (DuckDB embedded, PostgreSQL) behind ``connect(url)``."""

from __future__ import annotations

from pmresearch.data.io import DataDir, read_data_dir, read_file, recognize, validate_files
from pmresearch.data.schemas import SCHEMAS, SchemaError, validate
from pmresearch.data.store import DEFAULT_DB_URL, TABLES, DuckDBStore, Store, connect

__all__ = [
    "DEFAULT_DB_URL",
    "SCHEMAS",
    "TABLES",
    "DataDir",
    "DuckDBStore",
    "SchemaError",
    "Store",
    "connect",
    "read_data_dir",
    "read_file",
    "recognize",
    "validate",
    "validate_files",
]
