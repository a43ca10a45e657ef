"""Store fixtures for the label tests (the pattern of tests/data/conftest.py): each PostgreSQL test
gets its own schema on the real local server; an unreachable server is a failure, never a skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_BASE = os.environ.get("PMRESEARCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # a failure, never a skip (CI=true or not)
        pytest.fail(f"PostgreSQL at {PG_BASE} is unreachable ({exc}); the label store tests need the real server")


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One URL per backend: a fresh DuckDB file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path_factory.mktemp('db')}/s.duckdb"
        return
    _admin().close()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_BASE}?schema={schema}"
    with _admin() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
