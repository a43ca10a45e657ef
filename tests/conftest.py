"""Shared fixtures: the real data sample, small simulated worlds and stores on both backends.

PostgreSQL fixtures use the real local server (``$PMRESEARCH_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``), one throwaway schema per test; an unreachable
server is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pmresearch.simulate import World, simulate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PMRESEARCH_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_BASE = os.environ.get("PMRESEARCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample (``../shared/data``, or ``$PMRESEARCH_SHARED_DATA``). Absent, it is a failure, not a skip."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.fail(f"real data sample not found at {SHARED_DATA}: put shared/ beside the repository "
                    "or set PMRESEARCH_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def edge_world() -> World:
    """One simulated day of the edge preset (both 5- and 15-minute markets)."""
    return simulate("edge", days=1, seed=11)


@pytest.fixture(scope="session")
def edge_world_dir(edge_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``edge_world`` written as a data directory, without its book files (tests of those write their own)."""
    out = tmp_path_factory.mktemp("edge_world")
    edge_world.write(out, books=False)
    return out


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # a failure, never a skip (CI=true or not)
        pytest.fail(f"PostgreSQL at {PG_BASE} is unreachable ({exc}); the store tests need the real server")


def _pg_schema_url() -> Iterator[str]:
    """A ``postgresql://...?schema=t_<random>`` URL (the server checked first); the schema is dropped afterwards."""
    _admin().close()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_BASE}?schema={schema}"
    with _admin() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def pg_base() -> str:
    """The server URL (without schema) of the local test PostgreSQL; unreachable is a failure."""
    _admin().close()
    return PG_BASE


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A ``postgresql://...?schema=t_<random>`` URL; the schema is dropped afterwards."""
    yield from _pg_schema_url()


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One URL per backend: a fresh DuckDB file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path_factory.mktemp('db')}/s.duckdb"
        return
    yield from _pg_schema_url()
