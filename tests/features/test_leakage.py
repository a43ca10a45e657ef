"""Leakage audit on a simulated world (every registered feature) and planted leaky features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch._summary import Summary
from pmresearch.features import (
    REGISTRY,
    FeatureInputs,
    FeatureRegistry,
    LeakageAuditResult,
    leakage_audit,
    make_block,
)
from pmresearch.features.context import FeatureContext
from pmresearch.simulate import World

T0 = pd.Timestamp("2026-06-15 00:00", tz="UTC")


def _exchange_trades(world: World, seed: int) -> pd.DataFrame:
    """Synthetic exchange trades (the simulator has none): a few per 1-second bar near its close,
    received after a random latency, so trade knowledge times differ from trade times."""
    rng = np.random.default_rng(seed)
    k = world.klines_1s.iloc[::3]
    n = len(k)
    ts = k["ts"] + pd.to_timedelta(rng.uniform(0, 1.0, n), unit="s")
    return pd.DataFrame({
        "ts": ts.astype("datetime64[us, UTC]").to_numpy(), "price": k["close"].to_numpy(),
        "qty": rng.gamma(1.0, 0.05, n), "side": np.where(rng.random(n) < 0.5, "buy", "sell"),
        "received_at": (ts + pd.to_timedelta(rng.exponential(0.3, n), unit="s")).astype("datetime64[us, UTC]"),
        "symbol": "BTCUSDT", "venue": "binance",
    })


def _rows(world: World, seed: int, n: int) -> pd.DataFrame:
    """Decision rows in the second half of the day (so day-long look-backs are filled)."""
    rng = np.random.default_rng(seed)
    m = world.markets[world.markets["window_start"] >= T0 + pd.Timedelta(hours=13)].reset_index(drop=True)
    pick = m.iloc[rng.choice(len(m), size=n, replace=False)].reset_index(drop=True)
    length = (pick["window_end"] - pick["window_start"]).dt.total_seconds().to_numpy()
    off = rng.uniform(30, length - 10)
    t = pick["window_start"] + pd.to_timedelta(off, unit="s")
    # decision times sometimes exactly on a bar close, where an off-by-one join would show
    t = t.where(np.arange(n) % 2 == 0, t.dt.floor("1min"))
    spot = world.klines.set_index("ts")["close"]
    return pd.DataFrame({
        "t": t.astype("datetime64[us, UTC]"), "slug": pick["slug"], "interval_minutes": pick["interval_minutes"],
        "strike": pick["strike"], "tau_s": (pick["window_end"] - t).dt.total_seconds(),
        "spot": spot.reindex(t.dt.floor("1min") - pd.Timedelta(minutes=1)).to_numpy(),
    })


@pytest.fixture(scope="module")
def sim_inputs(edge_world: World) -> FeatureInputs:
    hourly = pd.DataFrame({"ts": pd.date_range(T0, periods=24, freq="1h", tz="UTC").astype("datetime64[us, UTC]"),
                           "close": np.linspace(5000, 5100, 24)})
    hourly["known_at"] = hourly["ts"] + pd.Timedelta(minutes=15)
    base = FeatureInputs.from_world(edge_world)
    return FeatureInputs(spot_1m=base.spot_1m, spot_1s=base.spot_1s, eth_1m=base.eth_1m, quotes=base.quotes,
                         books=base.books, trades=pd.concat([base.trades, _exchange_trades(edge_world, 3)],
                                                            ignore_index=True),
                         oracle=base.oracle, external={"es_futures": hourly})


def test_audit_passes_for_every_feature_on_simulated_world(edge_world: World, sim_inputs: FeatureInputs) -> None:
    rows = _rows(edge_world, seed=4, n=6)
    res = leakage_audit(rows, sim_inputs, n=6, seed=9)
    assert isinstance(res, LeakageAuditResult)
    assert len(res.table) == len(REGISTRY) + 1  # + the external series
    assert res.passed, res.summary()
    assert res.not_exercised == (), res.summary()  # every feature had data at the audited rows
    summary = res.summary()
    assert isinstance(summary, Summary) and summary.names == ("audit",)  # no "failing" table when all passed
    assert summary["audit"].loc["passed", "value"] == len(REGISTRY) + 1
    assert summary.title.startswith("Leakage audit PASSED") and "passed: " in str(res)
    assert str(res) == summary.as_text() and res._repr_html_() == summary.as_html() and "PASSED" in res._repr_html_()


def _planted(ctx: FeatureContext) -> dict[str, np.ndarray]:
    grid = ctx.bars("spot_1m")
    assert grid is not None
    close = grid.frame["close"]
    out = ctx.join_bars(grid, {
        "leak__next_close": np.log(close.shift(-1) / close),  # peeks at the next bar
        "leak__full_sample_z": (close - close.mean()) / close.std(),  # full-sample normalization
    })
    # joins the bar that opened by t (still forming) instead of the last one closed by t
    idx = np.searchsorted(grid.open_ns, ctx.times(), side="right") - 1
    out["leak__forming_bar"] = np.where(idx >= 0, close.to_numpy()[np.maximum(idx, 0)], np.nan)
    return out


def test_audit_catches_planted_leaky_features(edge_world: World) -> None:
    block = make_block("leak_test", "leak", _planted, [
        ("next_close", "0s", "log return", "planted: next bar's return"),
        ("full_sample_z", "0s", "z", "planted: z-score with full-sample mean and sd"),
        ("forming_bar", "0s", "USD", "planted: close of the bar still forming at t"),
    ], inputs=("spot_1m",))
    registry = FeatureRegistry([*REGISTRY.blocks.values(), block])  # private: the default one stays as it is
    inputs = FeatureInputs(spot_1m=edge_world.klines)
    rows = _rows(edge_world, seed=5, n=6)
    honest = ["price__ret_1m", "ta__rsi_15m", "vol__regime_60m", "volume__obv_flow_60m"]
    res = leakage_audit(rows, inputs, n=6, seed=1, names=[*block.names, *honest], registry=registry)
    assert not set(block.names) & set(REGISTRY)
    assert set(res.failing) == set(block.names), res.summary()
    bad = res.table.set_index("feature")
    assert (bad.loc[list(block.names), "truncation_failures"] > 0).all()
    assert (bad.loc[["leak__next_close", "leak__forming_bar"], "permutation_failures"] > 0).all()
    assert not res.passed and "FAILING: " in str(res) and "FAILED" in res._repr_html_()
    failing = res.summary()["failing"]
    assert set(failing.index) == set(block.names)
    assert (failing["truncation_failures"] > 0).all() and res.summary()["audit"].loc["passed", "value"] == len(honest)
    assert set(res.examples["feature"]) == set(block.names)


def test_permutation_keeps_knowledge_times(edge_world: World, sim_inputs: FeatureInputs) -> None:
    t = T0 + pd.Timedelta(hours=12, seconds=17)
    perm = sim_inputs.permute_after(t, np.random.default_rng(0))
    for name in ("spot_1m", "quotes", "books", "trades"):
        pd.testing.assert_series_equal(perm.known_at(name), sim_inputs.known_at(name))
        before = (sim_inputs.known_at(name) <= t).to_numpy()
        pd.testing.assert_frame_equal(getattr(perm, name)[before], getattr(sim_inputs, name)[before])
    after = (sim_inputs.known_at("spot_1m") > t).to_numpy()
    assert not np.array_equal(perm.spot_1m["close"].to_numpy()[after], sim_inputs.spot_1m["close"].to_numpy()[after])
    cut = sim_inputs.truncate(t)
    assert (cut.known_at("trades") <= t).all() and len(cut.trades) < len(sim_inputs.trades)
    assert len(cut.external["es_futures"]) == 12
