"""The simulator's output pinned bit for bit: any refactoring of :func:`simulate_config` must keep these.

The hashes are SHA-256 (first 16 hex digits) of ``pandas.util.hash_pandas_object(frame, index=True)``,
recorded from the code as of commit 9ece4bf (before ``simulate_config`` was split into steps) with
pandas 2.2 / numpy 2 as pinned by ``constraints.txt``. The worlds are small (half a day and a quarter
day) and cover both window lengths, the timeline, forced-TWAP settlement, missing oracle ticks and the
maker's noise on and off.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pmresearch.simulate import simulate


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()).hexdigest()[:16]


EDGE = {  # simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01)
    "klines": (720, "3a785676fdf6b17f"),
    "klines_1s": (43200, "dc2abbc887a04ed1"),
    "eth_klines": (720, "87c2b124c2160395"),
    "oracle": (42751, "bb22260ab05ac9cc"),
    "oracle_push": (868, "af4723667894af96"),
    "markets": (176, "2e7a003643021d57"),
    "quotes": (39600, "692e9377756fa3b2"),
    "books": (123924, "47db15cdeb28f539"),
    "trades": (1999, "5ec920b56d2db2a8"),
    "truth": (48, "c423f9ef0f0473e4"),
}

HARD_TWAP = {  # simulate("hard", days=0.25, seed=4, settlement="twap", intervals=(5,), mm_noise=0.0)
    "markets": (60, "a93cd7495764ae5e"),
    "quotes": (9000, "8f86b66c5f4ddc31"),
    "books": (27414, "83546f2cb641d636"),
    "trades": (472, "92aac56de28314da"),
    "oracle_push": (372, "6dd448fbe2d2f1f5"),
}


@pytest.fixture(scope="module")
def edge_half_day():  # type: ignore[no-untyped-def]
    return simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01)


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_world_is_pinned(edge_half_day, name: str) -> None:  # type: ignore[no-untyped-def]
    frame = getattr(edge_half_day, name)
    assert (len(frame), _digest(frame)) == EDGE[name]


def test_edge_world_pinned_values(edge_half_day) -> None:  # type: ignore[no-untyped-def]
    # a few values printed with repr() by the same run as the hashes: exact equality, no tolerance
    assert float(edge_half_day.quotes["true_prob_up"].iloc[100]) == 0.4970868125606554
    assert float(edge_half_day.klines["close"].iloc[-1]) == 67971.98936687011
    assert float(edge_half_day.oracle["price"].iloc[500]) == 64994.06874426829


def test_twap_world_is_pinned() -> None:
    w = simulate("hard", days=0.25, seed=4, settlement="twap", intervals=(5,), mm_noise=0.0)
    assert {n: (len(getattr(w, n)), _digest(getattr(w, n))) for n in HARD_TWAP} == HARD_TWAP
