"""Fixtures of the client tests: the replay server of the real API payloads and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clients_replay import SAMPLES, FakeClock, Server, serve_replay


@pytest.fixture
def replay_server() -> Iterator[Server]:
    """The replay server (real payloads of ../shared/api-samples), stopped after the test."""
    if not (SAMPLES / "README.md").exists():
        pytest.fail(f"api samples not found at {SAMPLES}: put shared/ beside the repository "
                    "or set PMRESEARCH_API_SAMPLES")
    with serve_replay() as server:
        yield server


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()
