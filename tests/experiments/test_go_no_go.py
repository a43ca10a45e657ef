"""The go/no-go experiment: verdict rules, worlds with and without an edge, the real sample's inputs
(vol source and age, the same feature values as `pmresearch features`), and both store backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch._summary import Summary
from pmresearch.experiments.go_no_go import Config, ensure_world, evaluate, run, world_touch


def test_verdict_requires_every_criterion() -> None:
    cfg = Config(min_trades=3, n_bootstrap=1000)
    good = pd.DataFrame({"pnl": [1.0, 1.2, 0.9, 1.1], "capital": [5.0] * 4, "slug": list("abcd")})
    assert evaluate(good, cfg)[0] == "GO"
    few = good.iloc[:2]
    decision, crit = evaluate(few, cfg)
    assert decision == "NO-GO" and [c.passed for c in crit] == [False, True, True]
    mixed = pd.DataFrame({"pnl": [3.0, -2.5, 2.0, -2.4], "capital": [5.0] * 4, "slug": list("abcd")})
    assert evaluate(mixed, cfg)[0] == "NO-GO"


@pytest.mark.parametrize(("preset", "expected"), [("edge", "GO"), ("no-edge", "NO-GO")])
def test_go_no_go_finds_the_edge_that_is_there(preset: str, expected: str, tmp_path: Path) -> None:
    """Thresholds as in params/04_go_no_go (200 trades, 95% bounds above zero), 3 simulated days."""
    cfg = Config(run_name=preset, preset=preset, days=3.0, seed=5, n_bootstrap=2000)
    result = run(cfg, root=tmp_path, progress=False)
    assert result.decision == expected
    truth = result.trades["true_edge"].mean()
    # the simulator's ground truth agrees: the trades' true expected edge has the verdict's sign
    assert (truth > 0) == (expected == "GO")
    head = result.headline()
    assert head["decision"] == expected and len(head["criteria"]) == 3
    assert set(result.sources["label_source"]) == {"resolution"}
    assert (tmp_path / "data" / "runs" / "04_go_no_go" / f"{preset}.duckdb").exists()
    summ = result.summary()
    assert isinstance(summ, Summary) and summ.title == f"Go/no-go: {expected}"
    assert list(summ["criteria"].index) == [c.name for c in result.criteria]
    assert summ["trades"].loc["trades", "value"] == len(result.trades)
    assert summ["counts"].loc["decision rows", "value"] == len(result.rows)
    assert str(result) == summ.as_text() and result._repr_html_() == summ.as_html()
    label = result.sources_table["label_source"]
    assert label[label > 0].to_dict() == dict(result.sources["label_source"]) and (label >= 0).all()
    with pytest.raises(TypeError):
        result.stats["trades"] = 0.0  # type: ignore[index]  # read-only
    with pytest.raises(TypeError):
        result.sources["label_source"]["x"] = 1  # type: ignore[index]
    tr = result.trades
    assert (tr["book_source"] == "events").all()  # every fill read the event-level book
    assert head["mean_true_edge_per_share"] == pytest.approx(truth)
    if preset == "no-edge":
        _no_snapshot_gift(cfg, tmp_path, tr)


def _no_snapshot_gift(cfg: Config, root: Path, tr: pd.DataFrame) -> None:
    """Issue 13's acceptance on ``no-edge``: the maker quotes the true P, so a trade's true edge is minus
    (half-spread + fee) of the book it hit, on average within 0.3 c; and the realized PnL per share agrees
    with the mean true edge within 2.5 standard errors clustered by window (hand-written sandwich SE)."""
    data_dir, _ = ensure_world(cfg, root)  # the run's world, reused from world.json
    touch = world_touch(data_dir, (cfg.interval_minutes,) if cfg.interval_minutes else (5, 15)).sort_values("ts")
    at = pd.merge_asof(tr[["slug", "t_fill"]].reset_index().sort_values("t_fill", kind="stable"),
                       touch[["slug", "ts", "best_bid_up", "best_ask_up"]].astype({"slug": str}),
                       left_on="t_fill", right_on="ts", by="slug", direction="backward").set_index("index").sort_index()
    half = (at["best_ask_up"] - at["best_bid_up"]).to_numpy() / 2.0  # Down's spread mirrors Up's
    fee = (tr["fee"] / tr["shares"]).to_numpy()
    expected = -(half + fee).mean()
    assert len(tr) >= 30 and np.isfinite(half).all()
    assert abs(tr["true_edge"].mean() - expected) < 0.003, (tr["true_edge"].mean(), expected)
    x = (tr["pnl"] / tr["shares"]).to_numpy()
    dev = pd.Series(x - x.mean()).groupby(tr["slug"].to_numpy()).sum()
    se = float(np.sqrt((dev**2).sum())) / len(x)
    assert abs(x.mean() - tr["true_edge"].mean()) < 2.5 * se, (x.mean(), tr["true_edge"].mean(), se)


def test_db_may_be_a_plain_path(tmp_path: Path) -> None:
    cfg = Config(run_name="p", days=0.5, seed=2, db="stores/run.duckdb", n_bootstrap=200)
    result = run(cfg, root=tmp_path, progress=False)
    assert (tmp_path / "stores" / "run.duckdb").exists()
    assert len(result.rows) > 0


def _real_sample_without_books(shared_data: Path, tmp_path: Path) -> Path:
    """The real sample's files except the websocket recordings (their books are tested in tests/data)."""
    out = tmp_path / "real"
    out.mkdir()
    for f in shared_data.iterdir():
        if f.is_file() and not f.name.startswith("polymarket_ws_") and f.suffix == ".parquet":
            (out / f.name).symlink_to(f)
    return out


def test_real_sample_vol_is_the_features_vol_and_says_its_source_and_age(shared_data: Path, tmp_path: Path) -> None:
    """The go/no-go's vol__rv_1m_60m is `pmresearch features`'s on every row (the same registered
    feature, missing where the klines are stale), and each row names the vol it used and its age."""
    from pmresearch.data.store import connect
    from pmresearch.features.matrix import features_command

    data = _real_sample_without_books(shared_data, tmp_path)
    db = f"duckdb:///{tmp_path}/real.duckdb"
    cfg = Config(run_name="real", data_dir=str(data), db=db, interval_minutes=15, every_s=60, n_bootstrap=200,
                 min_trades=1)
    result = run(cfg, root=tmp_path, progress=False)
    rows = result.rows
    _, matrix, _ = features_command(tmp_path / "m.parquet", db=db, interval_minutes=15, every_s=60)
    assert len(rows) == len(matrix) > 1000
    pd.testing.assert_series_equal(rows["vol__rv_1m_60m"], matrix["vol__rv_1m_60m"])
    for name in ("vol__rv_ref_60m", "vol__rv_oracle_60m"):
        pd.testing.assert_series_equal(rows[name], matrix[name])
    # independent check of the staleness limit: the value exists exactly where the 61 bars closing in
    # the hour before floor(t, 1 min) are all there (a period without klines gets none, however old
    # the last klines are)
    with connect(db) as store:
        bars = set(store.query("SELECT ts FROM spot_prices WHERE symbol = 'BTCUSDT' AND interval = '1m'")["ts"])
    last_open = rows["t"].dt.floor("1min") - pd.Timedelta(minutes=1)
    complete = np.array([all(b - pd.Timedelta(minutes=k) in bars for k in range(61)) for b in last_open])
    np.testing.assert_array_equal(rows["vol__rv_1m_60m"].notna().to_numpy(), complete)
    assert (~complete).sum() > 100 and complete.sum() > 100  # both cases occur in the sample
    # every row says which vol it used and how old it was; a row with no fresh vol is not traded
    used = rows["vol_source"].notna()
    assert set(rows.loc[used, "vol_source"]) <= set(cfg.vol_features)
    first = rows["vol__rv_1m_60m"].notna()
    assert (rows.loc[first, "vol_source"] == "vol__rv_1m_60m").all()
    fallback = used & ~first
    assert fallback.sum() > 0 and rows.loc[fallback, "vol_source"].isin(["vol__rv_ref_60m", "vol__rv_oracle_60m"]).all()
    # the age is the newest input's: the bar closing on floor(t, 1 min) for klines, the registered age
    # feature (the newest price sampled, up to 60 s before that boundary) for the other sources
    on_bar = (rows["t"] - rows["t"].dt.floor("1min")).dt.total_seconds()
    np.testing.assert_array_equal(rows.loc[first, "vol_age_s"], on_bar[first])
    for name in ("vol__rv_ref_60m", "vol__rv_oracle_60m"):
        pick = rows["vol_source"] == name
        np.testing.assert_array_equal(rows.loc[pick, "vol_age_s"], rows.loc[pick, f"{name}_age_s"])
        assert (rows.loc[pick, "vol_age_s"] >= on_bar[pick]).all() and (rows.loc[pick, "vol_age_s"] < 120).all()
    assert rows.loc[~used, "vol_age_s"].isna().all() and rows.loc[~used, "p_model"].isna().all()
    assert set(result.ages.index) == {"spot", "book", "vol"} and result.ages.loc["vol", "known"] == used.sum()
    assert set(result.sources["vol_source"]) <= {*cfg.vol_features, "none"}
    if len(result.trades):
        traded = rows.set_index(["slug", "t"]).loc[list(zip(result.trades["slug"], result.trades["t"], strict=True))]
        assert traded["vol"].notna().all()


def test_postgresql_store_gives_the_same_verdict_bit_for_bit(pg_url: str, tmp_path: Path) -> None:
    """The same world on DuckDB and PostgreSQL: identical decision, criteria values, rows and trades
    (every read ordered; no SQL-side float aggregation)."""
    common = {"days": 0.5, "seed": 2, "n_bootstrap": 500, "min_trades": 5}
    duck = run(Config(run_name="duck", **common), root=tmp_path, progress=False)
    pg = run(Config(run_name="pg", db=pg_url, **common), root=tmp_path, progress=False)
    assert len(duck.trades) >= 5
    assert pg.decision == duck.decision
    assert [c.as_dict() for c in pg.criteria] == [c.as_dict() for c in duck.criteria]
    pd.testing.assert_frame_equal(pg.rows, duck.rows, check_exact=True)
    pd.testing.assert_frame_equal(pg.trades, duck.trades, check_exact=True)
    assert pd.Series(pg.stats).equals(pd.Series(duck.stats))  # NaN (e.g. a half-day Sharpe) equals NaN


def test_deprecated_schedule_names_still_work() -> None:
    from pmresearch.config import from_mapping
    from pmresearch.labels.schedule import rename_deprecated

    with pytest.warns(FutureWarning) as caught:
        params = rename_deprecated({"decision_every_s": 45.0, "first_decision_s": 0.0}, what="04_go_no_go")
    assert sorted(str(w.message) for w in caught) == [
        "04_go_no_go: 'decision_every_s' is deprecated; use 'every_s'",
        "04_go_no_go: 'first_decision_s' is deprecated; use 'first_s'"]
    cfg = from_mapping(Config, params)
    assert (cfg.schedule.every_s, cfg.schedule.first_s, cfg.schedule.last_s) == (45.0, 0.0, 30.0)
    with pytest.raises(ValueError, match="not registered features"):
        Config(vol_features=("vol__nope",))


def test_calibration_compares_model_and_market_on_the_same_rows() -> None:
    """The market mid is known on 3 of 6 labelled rows: both Brier scores are over those 3 (hand-worked)."""
    from pmresearch.reports.gonogo_plots import calibration_figure

    rows = pd.DataFrame({"slug": list("aabbcc"), "label": pd.array([1, 0, 1, 0, 1, pd.NA], dtype="Int8"),
                         "p_model": [0.9, 0.2, 0.6, 0.5, 0.8, 0.5], "mid_up": [0.7, np.nan, 0.5, np.nan, 0.6, 0.4]})
    names = [t.name for t in calibration_figure(rows).data][1:]
    # same rows 0, 2, 4: model (0.01 + 0.16 + 0.04) / 3 = 0.07; mid (0.09 + 0.25 + 0.16) / 3 = 0.1667
    assert names == ["model (BS): Brier 0.0700 (n=3)", "market mid: Brier 0.1667 (n=3)"]


def test_cached_world_is_rebuilt_when_the_simulator_changed(tmp_path: Path) -> None:
    """``ensure_world`` reuses a world written with the same config and simulator version, and rebuilds one
    written by other simulator code (its ``world.json`` names another ``simulator_version``)."""
    import json

    from pmresearch.simulate.world import SIMULATOR_VERSION

    cfg = Config(run_name="cache", preset="no-edge", days=0.05, seed=3)
    path, _ = ensure_world(cfg, tmp_path)
    meta_file = path / "world.json"
    meta = json.loads(meta_file.read_text())
    assert meta["simulator_version"] == SIMULATOR_VERSION
    marker = path / "marker"
    marker.write_text("kept while the world is reused")
    assert ensure_world(cfg, tmp_path)[0] == path and marker.exists()
    meta_file.write_text(json.dumps({**meta, "simulator_version": "older"}))
    assert ensure_world(cfg, tmp_path)[0] == path
    assert not marker.exists() and json.loads(meta_file.read_text())["simulator_version"] == SIMULATOR_VERSION
