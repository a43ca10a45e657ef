"""The feature matrix and `pmresearch features`: decision rows x features, and --until never looks ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data import read_file
from pmresearch.data.store import Store, connect
from pmresearch.features import FeatureInputs, compute_features
from pmresearch.features.matrix import build_feature_matrix, build_feature_matrix_from_world
from pmresearch.labels import DECISION_COLUMNS, decision_rows
from pmresearch.simulate import World, simulate

SEED = 4


@pytest.fixture(scope="module")
def world() -> World:
    return simulate("edge", days=0.25, seed=SEED)


@pytest.fixture(scope="module")
def world_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB file holding the world (loaded once; tests only read it)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('world')}/w.duckdb"
    with connect(url) as store:
        _load(store, world)
    return url


def _load(store: Store, world: World) -> None:
    store.load_frames([(kind, getattr(world, attr), attr) for kind, attr in (
        ("markets", "markets"), ("oracle", "oracle"), ("klines", "klines"), ("klines", "klines_1s"),
        ("klines", "eth_klines"), ("quotes", "quotes"), ("books", "books"), ("trades", "trades"))])


def _until(world: World) -> pd.Timestamp:
    return pd.Timestamp(world.markets["window_start"].min()) + pd.Timedelta(hours=4, minutes=7, seconds=13)


def test_matrix_is_decision_rows_then_features(world: World, world_url: str) -> None:
    with connect(world_url) as store:
        matrix = build_feature_matrix(store, interval_minutes=15)
        rows = decision_rows(store, interval_minutes=15, every_s=30)
    assert list(matrix.columns[: len(DECISION_COLUMNS)]) == DECISION_COLUMNS
    feats = [c for c in matrix.columns if c not in DECISION_COLUMNS]
    assert len(feats) >= 80
    assert all(c.count("__") == 1 and matrix[c].dtype == np.float64 for c in feats)
    pd.testing.assert_frame_equal(matrix[DECISION_COLUMNS], rows)
    # the store path and the in-memory path agree, and equal compute_features on the world's frames
    direct = compute_features(rows, FeatureInputs.from_world(world))
    pd.testing.assert_frame_equal(matrix[feats], direct[feats])
    pd.testing.assert_frame_equal(build_feature_matrix_from_world(world, interval_minutes=15), matrix)
    assert matrix[feats].notna().all(axis=0).sum() >= 60  # most features are defined on a full world


def _truncated_copy(store: Store, until: pd.Timestamp, target: Store) -> None:
    """Only what ``store`` knew at ``until``: time series by knowledge time; markets opened by then,
    with the outcome blanked while the window is still running."""
    items = []
    for table, kind in (("spot_prices", "klines"), ("oracle_prices", "oracle"), ("polymarket_quotes", "quotes"),
                        ("polymarket_books", "books"), ("trades", "trades")):
        items.append((kind, store.as_of(table, until).drop(columns=["known_at", "trade_key"], errors="ignore"),
                      table))
    markets = store.read_table("polymarket_resolutions")
    markets = markets[markets["window_start"] <= until].copy()
    markets.loc[markets["window_end"] > until, ["outcome_up", "outcome_from", "last_price_up"]] = None
    items.append(("markets", markets, "markets"))
    target.load_frames(items)


def test_until_equals_a_store_holding_only_what_was_known(world: World, world_url: str, tmp_path: Path) -> None:
    until = _until(world)
    with connect(world_url) as full, connect(f"duckdb:///{tmp_path}/c.duckdb") as cut:
        _truncated_copy(full, until, cut)
        seed = {"interval_minutes": 15, "offsets": "0,1m,2m,5m,10m,14m"}  # the seed's offsets, 15-min windows
        with_until = build_feature_matrix(full, until=until, **seed)
        on_cut = build_feature_matrix(cut, **seed)
        everything = build_feature_matrix(full, **seed)
    on_cut = on_cut[on_cut["t"] <= until].reset_index(drop=True)
    assert with_until["t"].max() <= until and len(with_until) == len(on_cut) >= 90
    pd.testing.assert_frame_equal(with_until, on_cut)
    running = with_until["window_end"] > until
    assert running.any() and with_until.loc[running, "label"].isna().all()
    assert with_until.loc[~running, "label"].notna().all()
    # rows known by then are the full build's rows: no feature moved, only unknown labels are blank
    head = everything[everything["t"] <= until].reset_index(drop=True)
    pd.testing.assert_frame_equal(with_until.drop(columns=["label", "label_source"]),
                                  head.drop(columns=["label", "label_source"]))


def test_cli_writes_the_matrix(world: World, world_url: str, tmp_path: Path) -> None:
    url = world_url
    until = _until(world)
    out = tmp_path / "m" / "features.parquet"
    res = CliRunner().invoke(app, ["features", "--db", url, "--until", until.isoformat(), "--interval", "5",
                                   "--every-s", "60", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "features" in res.output and "label_source" in res.output
    got = pd.read_parquet(out)
    with connect(url) as store:
        expected = build_feature_matrix(store, until=until, interval_minutes=5, every_s=60)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert set(got["interval_minutes"]) == {5} and got["t"].max() <= until
    bad = CliRunner().invoke(app, ["features", "--db", url, "--until", "2026-06-15 12:00", "--out", str(out)])
    assert bad.exit_code == 1 and "timezone" in bad.output
    # the deprecated --every still works (with a warning) and gives the same matrix as --every-s
    old = tmp_path / "old.parquet"
    res = CliRunner().invoke(app, ["features", "--db", url, "--until", until.isoformat(), "--interval", "5",
                                   "--every", "1m", "--out", str(old)])
    assert res.exit_code == 0 and "warning: --every is deprecated; use --every-s" in res.output
    pd.testing.assert_frame_equal(pd.read_parquet(old), got)
    # an offset past the window's end is an error, not a silent drop; nothing is written
    gone = tmp_path / "none.parquet"
    res = CliRunner().invoke(app, ["features", "--db", url, "--interval", "15", "--offsets", "0,99m",
                                   "--out", str(gone)])
    assert res.exit_code == 1 and "decision offset 5940 s is at or after the end of window" in res.output
    assert not gone.exists()


def test_oracle_only_day_of_the_real_sample(shared_data: Path, tmp_path: Path) -> None:
    """A period with the settlement feed but no exchange klines (the Data Streams files of the sample):
    rows and oracle-based values exist, kline features are NaN rather than an error."""
    oracle = pd.concat([read_file(p) for p in sorted(shared_data.glob("chainlink_btcusd_ds_*.parquet"))],
                       ignore_index=True)
    markets = pd.concat([read_file(p) for p in sorted(shared_data.glob("polymarket_btc_*_markets_*.parquet"))],
                        ignore_index=True)
    inside = (markets["window_start"] >= oracle["ts"].min()) & (markets["window_end"] <= oracle["ts"].max())
    markets = markets[inside].drop_duplicates("slug").reset_index(drop=True)
    assert len(markets) > 20
    with connect(f"duckdb:///{tmp_path}/june.duckdb") as store:
        store.load_frames([("markets", markets, "m"), ("oracle", oracle, "o")])
        matrix = build_feature_matrix(store, offsets="1m,3m")
    assert len(matrix) == 2 * len(markets)
    assert set(matrix["spot_source"].dropna()) == {"oracle"} and matrix["spot"].notna().mean() > 0.95
    feats = [c for c in matrix.columns if c not in DECISION_COLUMNS]
    assert matrix[[c for c in feats if c.startswith("tech")]].isna().all().all()
    # control: features of the inputs that were loaded (the oracle and the market windows) do have values
    assert matrix[[c for c in feats if not c.startswith("tech")]].notna().any().sum() > 5


def test_collector_clock_behind_delays_what_features_see(world: World, tmp_path: Path) -> None:
    """A collector whose clock runs 3 s behind: with its offset, the features see each oracle tick 3 s
    later, exactly as if its ``received_at`` had been recorded 3 s later (the independent reference:
    a second store holding the shifted times, read without offsets). Before the offsets were threaded
    into ``FeatureInputs.from_store`` the first matrix equalled the uncorrected one."""
    name, source, shift = "price__oracle_ret_60s", "chainlink-data-streams", pd.Timedelta(seconds=3)
    offsets = {source: shift}
    shifted = world.oracle.copy()
    later = shifted["source"] == source
    shifted.loc[later, "received_at"] = shifted.loc[later, "received_at"] + shift
    urls = {}
    for label, oracle in (("as_recorded", world.oracle), ("shifted", shifted)):
        urls[label] = f"duckdb:///{tmp_path}/{label}.duckdb"
        with connect(urls[label]) as store:
            store.load_frames([("markets", world.markets, "markets"), ("oracle", oracle, "oracle"),
                               ("klines", world.klines, "klines")])
    kw = {"interval_minutes": 5, "names": [name], "offsets": "7s,40s,2m,4m"}
    with connect(urls["as_recorded"]) as store:
        corrected = build_feature_matrix(store, clock_offsets=offsets, **kw)
        uncorrected = build_feature_matrix(store, **kw)
    with connect(urls["shifted"]) as store:
        reference = build_feature_matrix(store, **kw)
    assert len(corrected) > 100
    np.testing.assert_array_equal(corrected[name].to_numpy(), reference[name].to_numpy())
    # non-vacuous: the delay changes what is seen on most rows, and some ticks become unknown
    differs = ~np.isclose(corrected[name], uncorrected[name], rtol=0, atol=0, equal_nan=True)
    assert differs.mean() > 0.5
    # and the decision rows' spot (read by decision_rows with the same offsets) agrees too
    pd.testing.assert_series_equal(corrected["spot"], reference["spot"])
