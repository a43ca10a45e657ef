"""Label-flip checks live in the labels layer; the data layer counts what it is given and never imports labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pmresearch.data.quality as data_quality
from pmresearch.data.store import connect
from pmresearch.labels import (
    assess_quality_with_labels,
    exchange_proxy_outcomes,
    label_agreement,
    outcome_sources,
    outcomes_from_oracle,
)
from pmresearch.simulate import simulate

DATA = Path(__file__).resolve().parents[2] / "pmresearch" / "data"


def test_the_counting_function_is_shared_not_copied() -> None:
    """``pmresearch.labels.label_agreement`` is the data layer's function (the import rule itself is checked by
    ``tests/test_import_rules.py``)."""
    assert label_agreement is data_quality.label_agreement


def test_outcome_sources_are_the_outcome_functions_of_the_labels_layer() -> None:
    """Reference: the public outcome functions called directly on the world's frames."""
    world = simulate("edge", days=0.25, seed=5)
    with connect("duckdb:///:memory:") as store:
        store.load_frames([("klines", world.klines, "k"), ("oracle", world.oracle, "o"),
                           ("markets", world.markets, "m")])
        sources = outcome_sources(store)
        result = assess_quality_with_labels(store)
    table = sources.table
    assert table is not None and sources.notes == ()
    markets = world.markets.sort_values(["window_start", "slug"]).reset_index(drop=True)
    assert table["slug"].tolist() == markets["slug"].tolist() and len(table) > 50
    oracle = outcomes_from_oracle(markets, world.oracle)
    proxy = exchange_proxy_outcomes(markets, world.klines)
    assert table["oracle"].tolist() == oracle.tolist() and table["exchange"].tolist() == proxy.tolist()
    assert table["recorded"].tolist() == markets["outcome_up"].tolist()
    assert table["exchange"].notna().all() and (table["exchange"] == 0).any() and (table["exchange"] == 1).any()
    pd.testing.assert_frame_equal(result.labels, table)
    pd.testing.assert_frame_equal(result.label_agreement, label_agreement(table))


def test_outcome_sources_without_markets_or_inputs_say_why() -> None:
    world = simulate("edge", days=0.1, seed=2)
    with connect("duckdb:///:memory:") as store:
        empty = outcome_sources(store)
        store.load_frames([("markets", world.markets, "m")])
        bare = outcome_sources(store)
    assert empty.table is None and empty.notes == ("no markets in the store: no label comparison",)
    assert bare.table is not None and len(bare.table) == len(world.markets)
    assert bare.table["oracle"].isna().all() and bare.table["exchange"].isna().all()
    assert bare.table["recorded"].notna().all()
    assert bare.notes == ("no chainlink-data-streams ticks over the markets' windows: no oracle outcomes",
                          "no BTCUSDT 1m klines over the markets' windows: no exchange outcomes")


def test_assess_quality_refuses_a_label_table_without_its_columns() -> None:
    with connect("duckdb:///:memory:") as store, pytest.raises(ValueError, match=r"lack the columns \['slug'"):
        data_quality.assess_quality(store, labels=pd.DataFrame({"interval_minutes": [5]}))
