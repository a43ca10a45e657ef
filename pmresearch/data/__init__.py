"""Schemas, the data-directory reader and the DuckDB store."""

from __future__ import annotations

from pmresearch.data.io import DataDir, read_data_dir, read_file, recognize
from pmresearch.data.schemas import SCHEMAS, SchemaError, validate
from pmresearch.data.store import DEFAULT_DB_URL, TABLES, DuckDBStore

__all__ = [
    "DEFAULT_DB_URL",
    "SCHEMAS",
    "TABLES",
    "DataDir",
    "DuckDBStore",
    "SchemaError",
    "read_data_dir",
    "read_file",
    "recognize",
    "validate",
]
