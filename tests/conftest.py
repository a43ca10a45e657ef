"""Shared fixtures: the real data sample and small simulated worlds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pmresearch.simulate import World, simulate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PMRESEARCH_SHARED_DATA", REPO.parent / "shared" / "data"))


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
    """``edge_world`` written as a data directory."""
    out = tmp_path_factory.mktemp("edge_world")
    edge_world.write(out)
    return out
