"""The feature matrix in the store's ``features`` table: exact round trip, replace-by-key, atomicity, CLI.

Runs on both backends (the ``store_url`` fixture: a fresh DuckDB file or PostgreSQL schema).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data.schemas import SchemaError
from pmresearch.data.store import Store, connect
from pmresearch.features.matrix import (
    build_feature_matrix,
    decode_feature_values,
    encode_feature_values,
    read_feature_matrix,
    store_feature_matrix,
)
from pmresearch.labels import DECISION_COLUMNS
from pmresearch.simulate import World, simulate

SEED = 5
OFFSETS = "0,1m,2m,5m,10m,14m"


@pytest.fixture(scope="module")
def world() -> World:
    return simulate("edge", days=0.25, seed=SEED)


@pytest.fixture(scope="module")
def world_dir(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world_store")
    world.write(out, books=False)  # the full-depth books stay out of the store: its best levels are loaded below
    return out


def _until(world: World) -> pd.Timestamp:
    """A time inside a running window, so some rows built at it have unknown labels."""
    return pd.Timestamp(world.markets["window_start"].min()) + pd.Timedelta(hours=3, minutes=7, seconds=13)


@pytest.fixture(scope="module")
def builds(world: World, world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The world's matrices, built once from a DuckDB store: every 30 s (``all``), and at the fixed
    offsets in full (``full``) and at ``_until`` (``early``). The tests store them on each backend."""
    with connect(f"duckdb:///{tmp_path_factory.mktemp('build')}/b.duckdb") as store:
        store.load_data_dir(world_dir)
        store.load_frames([("books", world.top_books, "top_books")])
        seed = {"interval_minutes": 15, "offsets": OFFSETS}  # the seed's offsets fit 15-minute windows
        return {"all": build_feature_matrix(store), "full": build_feature_matrix(store, **seed),
                "early": build_feature_matrix(store, until=_until(world), **seed)}


def _bits(frame: pd.DataFrame) -> np.ndarray:
    """The float64 values as raw IEEE-754 bit patterns (so -0.0 != 0.0 and NaN payloads compare)."""
    return frame.to_numpy(dtype="float64").view(np.uint64)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, dtypes and values; floats bit for bit."""
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    feats = [c for c in expected.columns if c not in DECISION_COLUMNS]
    assert np.array_equal(_bits(got[feats]), _bits(expected[feats]))


def _feature_names(matrix: pd.DataFrame) -> list[str]:
    return [c for c in matrix.columns if c not in DECISION_COLUMNS]


def test_values_encoding_round_trips_exactly() -> None:
    """Floats come back bit for bit (repr round-trip, Python language reference / IEEE-754 binary64)."""
    specials = [0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.0,
                math.inf, -math.inf, math.nan, 1.0 / 3.0, -123456.789e-7]
    t = pd.Timestamp("2026-06-08T00:01:00Z")
    rows = pd.DataFrame({c: [None] * len(specials) for c in DECISION_COLUMNS})
    rows["t"] = pd.Series([t] * len(specials), dtype="datetime64[us, UTC]")
    matrix = rows.assign(fam__x=np.array(specials), fam__y=np.array(specials[::-1]))
    text = encode_feature_values(matrix)

    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON token {name}")

    parsed = [json.loads(v, parse_constant=no_constants) for v in text]  # strict JSON: no NaN/Infinity tokens
    assert list(parsed[0]) == ["fam__x", "fam__y"]
    assert parsed[8] == {"fam__x": None, "fam__y": 2.2250738585072014e-308}
    assert parsed[6] == {"fam__x": "Infinity", "fam__y": 0.0} and math.copysign(1.0, parsed[6]["fam__y"]) == -1.0
    back = decode_feature_values(text)
    assert list(back.columns) == ["fam__x", "fam__y"] and (back.dtypes == np.float64).all()
    assert [struct.pack("<d", v) for v in back["fam__x"]] == [struct.pack("<d", v) for v in specials]
    assert np.array_equal(_bits(back), _bits(matrix[["fam__x", "fam__y"]]))


def test_values_decoding_rejects_bad_text_and_fills_missing_names() -> None:
    mixed = decode_feature_values(pd.Series(['{"a__x":1.5,"a__y":null}', None, '{"a__y":2,"b__z":-0.25}']))
    assert list(mixed.columns) == ["a__x", "a__y", "b__z"]
    expected = np.array([[1.5, np.nan, np.nan], [np.nan, np.nan, np.nan], [np.nan, 2.0, -0.25]])
    np.testing.assert_array_equal(mixed.to_numpy(), expected)
    with pytest.raises(ValueError, match=r"row 1, feature 'a__x'"):
        decode_feature_values(pd.Series(['{"a__x":1.0}', '{"a__x":"high"}']))
    with pytest.raises(ValueError, match=r"row 0: expected a JSON object"):
        decode_feature_values(pd.Series(["[1.0]"]))
    with pytest.raises(ValueError, match=r"row 0: not JSON"):
        decode_feature_values(pd.Series(["{nope"]))
    frame = pd.DataFrame({c: [None] for c in DECISION_COLUMNS}).assign(fam__s=["text"])
    with pytest.raises(ValueError, match=r"feature column 'fam__s'"):
        encode_feature_values(frame)


def test_round_trip_through_the_store(builds: dict[str, pd.DataFrame], store_url: str) -> None:
    matrix = builds["all"]
    with connect(store_url) as store:
        assert store_feature_matrix(store, matrix) == len(matrix) > 500
        raw = store.read_table("features")
        back = read_feature_matrix(store)
        fifteen = read_feature_matrix(store, interval_minutes=15)
    _assert_same(back, matrix)
    _assert_same(fifteen, matrix[matrix["interval_minutes"] == 15].reset_index(drop=True))
    feats = _feature_names(matrix)
    assert len(feats) >= 80 and matrix[feats].isna().any().any()  # NaNs exist, so null handling is exercised
    # the table: decision-row columns as columns, features as one JSON object per row, NaN as null
    assert list(raw.columns) == [*DECISION_COLUMNS, "values"] and len(raw) == len(matrix)
    raw = raw.sort_values(["t", "slug"]).reset_index(drop=True)
    nulls = sum(v is None for text in raw["values"] for v in json.loads(text).values())
    assert nulls == int(matrix[feats].isna().sum().sum())
    assert list(json.loads(raw["values"].iloc[0])) == feats


def test_later_build_replaces_rows_by_key(world: World, builds: dict[str, pd.DataFrame], store_url: str) -> None:
    until = _until(world)
    early, full = builds["early"], builds["full"]
    with connect(store_url) as store:
        running = early["window_end"] > until
        assert running.any() and early.loc[running, "label"].isna().all() and len(early) < len(full)

        store_feature_matrix(store, early)
        assert store.count("features") == len(early)
        _assert_same(read_feature_matrix(store), early)

        store_feature_matrix(store, full)  # labels became known, more rows arrived: no duplicates, no error
        assert store.count("features") == len(full)
        stored = read_feature_matrix(store)
        _assert_same(stored, full)
        head = stored[stored["t"] <= until]
        assert len(head) == len(early) and head.loc[running.to_numpy(), "label"].notna().all()

        # the early build again: its rows go back to unknown labels, the later rows stay, count unchanged
        store_feature_matrix(store, early)
        assert store.count("features") == len(full)
        again = read_feature_matrix(store)
        _assert_same(again[again["t"] <= until].reset_index(drop=True), early)
        _assert_same(again[again["t"] > until].reset_index(drop=True),
                     full[full["t"] > until].reset_index(drop=True))

        # reading "as of" until from the full rows gives what a build at until gives
        store_feature_matrix(store, full)
        _assert_same(read_feature_matrix(store, until=until), early)


def _stage_fault(stage: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == stage:
            raise RuntimeError(f"injected fault at {stage}")
    return hook


def test_a_failed_replace_leaves_the_table_unchanged(builds: dict[str, pd.DataFrame], store_url: str) -> None:
    matrix = builds["full"]
    with connect(store_url) as store:
        store_feature_matrix(store, matrix)
        before = store.read_table("features")

        changed = matrix.copy()
        feats = _feature_names(matrix)
        changed.loc[:9, feats[0]] = changed.loc[:9, feats[0]].fillna(0.0) + 1.0
        changed.loc[:9, "label"] = pd.NA
        bad = changed.copy()
        bad.loc[5, "slug"] = np.nan  # a NaN in a non-null key: the schema check refuses it
        with pytest.raises(SchemaError, match=r"column 'slug'.*rows \[5\]"):
            store_feature_matrix(store, bad, source="bad build")
        pd.testing.assert_frame_equal(store.read_table("features"), before)

        # past the schema check (validated=True), the database refuses the null key inside the transaction
        frame = bad[DECISION_COLUMNS].assign(values=encode_feature_values(bad))
        with pytest.raises(SchemaError, match=r"bad rows: table features"):
            store.replace_frame("features", frame, "bad rows", validated=True)
        pd.testing.assert_frame_equal(store.read_table("features"), before)

        # a failure after the delete, or just before COMMIT, rolls the delete back
        for stage in ("deleted", "inserted"):
            store.fault_hook = _stage_fault(stage)
            with pytest.raises(RuntimeError, match=stage):
                store_feature_matrix(store, changed)
            store.fault_hook = None
            pd.testing.assert_frame_equal(store.read_table("features"), before)
            _assert_same(read_feature_matrix(store), matrix)

        # and without a fault the same replace goes through
        store_feature_matrix(store, changed)
        _assert_same(read_feature_matrix(store), changed)


def _store_rows(store: Store) -> int:
    return store.count("features")


def test_cli_store_flag(world: World, world_dir: Path, store_url: str, tmp_path: Path) -> None:
    until = _until(world)
    with connect(store_url) as store:
        store.load_data_dir(world_dir)
        store.load_frames([("books", world.top_books, "top_books")])
    out = tmp_path / "f.parquet"
    base = ["features", "--db", store_url, "--interval", "15", "--every", "1m", "--out", str(out)]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 0, res.output
    assert "stored" not in res.output  # off by default
    with connect(store_url) as store:
        assert _store_rows(store) == 0

    res = CliRunner().invoke(app, [*base, "--until", until.isoformat(), "--store"])
    assert res.exit_code == 0, res.output
    early = pd.read_parquet(out)
    assert f"stored {len(early)} rows in the features table (0 replaced stored rows)" in res.output

    res = CliRunner().invoke(app, [*base, "--store"])
    assert res.exit_code == 0, res.output
    full = pd.read_parquet(out)
    assert f"stored {len(full)} rows in the features table ({len(early)} replaced stored rows)" in res.output
    with connect(store_url) as store:
        assert _store_rows(store) == len(full)
        stored = read_feature_matrix(store)
    _assert_same(stored, full)
    assert set(stored["interval_minutes"]) == {15} and stored["label"].notna().all()
