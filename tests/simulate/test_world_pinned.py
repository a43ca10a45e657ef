"""The simulator's output pinned bit for bit: any refactoring of :func:`simulate_config` must keep these.

The hashes are SHA-256 (first 16 hex digits) of ``pandas.util.hash_pandas_object(frame, index=True)``.

Spot, oracle, markets and truth (``klines, klines_1s, eth_klines, oracle, oracle_push, markets,
truth``) are the pins of the former simulator, unchanged by issue 13's event-level books (checked at
that commit, pandas 3.1 / numpy 2.4):

* ``SIMPLE_EDGE``: ``simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01,
  **SIMPLE_PROCESS)`` reproduces the former ``EDGE`` hashes (recorded at commit 9ece4bf, pandas 2.2,
  on the then-default process) of all seven frames, and its pinned kline and oracle values.
* ``REALISTIC_EDGE``: the same world on the default (calibrated) process reproduces the former
  ``REALISTIC_EDGE`` hashes (recorded with ``**REALISTIC_PROCESS``, now the defaults) of all seven
  frames; ``HARD_TWAP``'s ``markets`` and ``oracle_push`` reproduce the former ``REALISTIC_HARD_TWAP``.

The maker's side (``quotes, top_books, trades, true_probs, decision_edges`` and one day of
:meth:`World.book_files`) was recorded from the code at issue 13's event-book commit (3d9e67f,
event-level maker books, quotes from their ~2-s snapshots), pandas 3.1 / numpy 2.4.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pmresearch.simulate import SIMPLE_PROCESS, World, simulate


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()).hexdigest()[:16]


SIMPLE_EDGE = {  # simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01, **SIMPLE_PROCESS)
    # the former EDGE pins (commit 9ece4bf)
    "klines": (720, "3a785676fdf6b17f"),
    "klines_1s": (43200, "dc2abbc887a04ed1"),
    "eth_klines": (720, "87c2b124c2160395"),
    "oracle": (42751, "bb22260ab05ac9cc"),
    "oracle_push": (868, "af4723667894af96"),
    "markets": (176, "2e7a003643021d57"),
    "truth": (48, "c423f9ef0f0473e4"),
    # recorded at issue 13's event-book commit (3d9e67f)
    "quotes": (39598, "0b11ef25bba4eca7"),
    "top_books": (1490074, "57192764accc994c"),
    "trades": (1913, "baafbf9ea09d5dd2"),
    "true_probs": (316800, "08d34fb8f977232c"),
    "decision_edges": (2288, "428e791c0974a32a"),
}

REALISTIC_EDGE = {  # as SIMPLE_EDGE on the default (calibrated) process
    # the former REALISTIC_EDGE pins (issue 13, smoothed-oracle commit)
    "klines": (720, "73b2e3479e9fb012"),
    "klines_1s": (43200, "67f6e108cd66f646"),
    "eth_klines": (720, "657424d403e99ba3"),
    "oracle": (42751, "a1f16bab2fd619d4"),
    "oracle_push": (871, "8ddc7213d348b237"),
    "markets": (176, "66c97674b465b602"),
    "truth": (48, "3422e7221b4a9514"),
    # recorded at issue 13's event-book commit (3d9e67f)
    "quotes": (39598, "61d3ed27e14e71de"),
    "top_books": (1471614, "7040eb0478609d0d"),
    "trades": (1906, "49613b2a58b29571"),
    "true_probs": (316800, "a1deec14d84bee60"),
    "decision_edges": (2288, "310a7db4e3cb7469"),
}

#: The ``hard`` preset's faults when these pins were recorded (the preset was recalibrated afterwards).
HARD_AT_PIN = {"mm_stale_s": 3.0, "mm_vol_mult": 1.1, "mm_noise": 0.05}

HARD_TWAP = {  # simulate("hard", days=0.25, seed=4, settlement="twap", intervals=(5,), mm_noise=0.0)
    "markets": (60, "4b962d52a162bb81"),  # the former REALISTIC_HARD_TWAP pin
    "oracle_push": (371, "8b745296a26832c2"),  # the former REALISTIC_HARD_TWAP pin
    "quotes": (9000, "dda9679413bd4cde"),
    "top_books": (325066, "fb93f61c541e3f9f"),
    "trades": (419, "485d007dccbfa882"),
    "true_probs": (72000, "2c686cd5a72d67fc"),
    "decision_edges": (480, "3ea7b43acc90b3a8"),
}

BOOK_FILES = {  # simulate("hard", days=0.125, seed=4, intervals=(5,)).book_files(5, "20260615")
    "polymarket_btc_5m_book_events_sim-hard-s4-20260615-0p125d-20260615.parquet": (339362, "5ecdbe781259e2e4"),
    "polymarket_btc_5m_books_sim-hard-s4-20260615-0p125d-20260615.parquet": (704364, "655a0e1a74d1c1e8"),
}


def _pins(world: World, names: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {n: (len(getattr(world, n)), _digest(getattr(world, n))) for n in names}


@pytest.fixture(scope="module")
def simple_edge() -> World:
    return simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01, **SIMPLE_PROCESS)


@pytest.mark.parametrize("name", sorted(SIMPLE_EDGE))
def test_simple_edge_world_is_pinned(simple_edge: World, name: str) -> None:
    frame = getattr(simple_edge, name)
    assert (len(frame), _digest(frame)) == SIMPLE_EDGE[name]


def test_simple_edge_world_pinned_values(simple_edge: World) -> None:
    # printed with repr() by the run that recorded the hashes (the kline and oracle values: the former pins)
    assert float(simple_edge.quotes["true_prob_up"].iloc[100]) == 0.49410548763701156
    assert float(simple_edge.klines["close"].iloc[-1]) == 67971.98936687011
    assert float(simple_edge.oracle["price"].iloc[500]) == 64994.06874426829


def test_realistic_edge_world_is_pinned() -> None:
    w = simulate("edge", days=0.5, seed=11, intervals=(15, 5), oracle_missing_rate=0.01)
    assert _pins(w, REALISTIC_EDGE) == REALISTIC_EDGE
    assert float(w.quotes["true_prob_up"].iloc[100]) == 0.5047327248083119
    assert float(w.klines["close"].iloc[-1]) == 67749.44823659376
    assert float(w.oracle["price"].iloc[500]) == 64953.787400513946


def test_twap_world_is_pinned() -> None:
    w = simulate("hard", days=0.25, seed=4, settlement="twap", intervals=(5,), **{**HARD_AT_PIN, "mm_noise": 0.0})
    assert _pins(w, HARD_TWAP) == HARD_TWAP


def test_book_files_are_pinned() -> None:
    w = simulate("hard", days=0.125, seed=4, intervals=(5,), **HARD_AT_PIN)
    assert {name: (len(f), _digest(f)) for name, f in w.book_files(5, "20260615")} == BOOK_FILES
