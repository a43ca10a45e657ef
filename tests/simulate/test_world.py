"""The full simulated world: structure, exact aggregation, settlement, schemas, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch import rules
from pmresearch._summary import Summary
from pmresearch.config import ConfigError
from pmresearch.data import read_data_dir, validate
from pmresearch.data.io import recognize
from pmresearch.labels import outcomes_from_oracle
from pmresearch.simulate import World, make_config, simulate
from pmresearch.simulate.config import REALISTIC_PROCESS
from pmresearch.simulate.oracle import push_update_indices, push_update_indices_py, twap_values


def test_klines_aggregate_exactly_from_seconds(edge_world: World) -> None:
    s, m = edge_world.klines_1s, edge_world.klines
    assert len(s) == 60 * len(m) == 86_400
    g = s.groupby(s["ts"].dt.floor("min"))
    agg = pd.DataFrame({
        "open": g["open"].first(), "high": g["high"].max(), "low": g["low"].min(), "close": g["close"].last(),
        "volume": g["volume"].sum(), "trades": g["trades"].sum(), "taker_buy_volume": g["taker_buy_volume"].sum(),
    })
    mi = m.set_index("ts")
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(agg[col].to_numpy(), mi[col].to_numpy())
    for col in ("volume", "trades", "taker_buy_volume"):
        # sums of 60 seconds in two orders (pandas' groupby vs the simulator's): the rounding scales with
        # the minute's volume, so a near-empty minute gets a floor of 1e-12 of the largest one
        ref = mi[col].to_numpy()
        np.testing.assert_allclose(agg[col].to_numpy(), ref, rtol=1e-12, atol=1e-12 * float(np.abs(ref).max()))
    assert (m["interval"] == "1m").all() and (s["interval"] == "1s").all()


def test_every_timestamp_is_utc(edge_world: World) -> None:
    for name, frame in edge_world.files().items():
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                assert str(frame[col].dt.tz) == "UTC", (name, col)


def test_outputs_pass_the_canonical_schemas(edge_world: World) -> None:
    for name, frame in edge_world.files().items():
        kind = recognize(name)
        assert kind is not None, name
        validate(frame, kind, source=name)


def test_outcomes_follow_the_settlement_rule(edge_world: World) -> None:
    m = edge_world.markets
    recomputed = outcomes_from_oracle(m, edge_world.oracle)
    assert recomputed.notna().all()
    np.testing.assert_array_equal(recomputed.to_numpy(dtype=int), m["outcome_up"].to_numpy(dtype=int))
    # strike = oracle tick stamped at the window start (instantaneous rule before 2026-08-07)
    stream = edge_world.oracle.set_index("ts")["price"]
    np.testing.assert_array_equal(m["strike"].to_numpy(), stream.reindex(m["window_start"]).to_numpy())
    up = stream.reindex(m["window_end"]).to_numpy() >= m["strike"].to_numpy()
    np.testing.assert_array_equal(up.astype(int), m["outcome_up"].to_numpy(dtype=int))


def test_tie_resolves_up_in_the_simulated_settlement() -> None:
    """Rounding the oracle to whole dollars makes ties common; every tie must resolve Up."""
    w = simulate("no-edge", days=0.5, seed=5, oracle_noise_bps=0.0, sigma=0.02, jumps_per_day=0.0,
                 intervals=(5,), warmup_minutes=0)
    oracle = w.oracle.assign(price=np.round(w.oracle["price"]))
    out = outcomes_from_oracle(w.markets, oracle)
    stream = oracle.set_index("ts")["price"]
    start = stream.reindex(w.markets["window_start"]).to_numpy()
    end = stream.reindex(w.markets["window_end"]).to_numpy()
    ties = start == end
    assert ties.sum() >= 5
    assert (out.to_numpy(dtype=int)[ties] == 1).all()


def test_twap_settlement_world() -> None:
    w = simulate("edge", days=0.5, seed=2, start="2026-08-10")
    assert set(w.markets["fee_rate"]) == {0.07}
    out = outcomes_from_oracle(w.markets, w.oracle)  # the timeline says TWAP from 2026-08-07
    np.testing.assert_array_equal(out.to_numpy(dtype=int), w.markets["outcome_up"].to_numpy(dtype=int))
    m15 = w.markets[w.markets["interval_minutes"] == 15]
    stream = w.oracle.set_index("ts")["price"].to_numpy()
    idx = ((m15["window_start"] - w.oracle["ts"].iloc[0]).dt.total_seconds()).to_numpy(dtype=int)
    np.testing.assert_allclose(m15["strike"].to_numpy(), twap_values(stream, idx, 60), rtol=1e-15)


def test_world_reads_rules_from_its_start() -> None:
    w = simulate("no-edge", days=0.5, seed=1, start="2026-02-10", intervals=(15,))
    assert set(w.markets["fee_rate"]) == {0.25} and set(w.markets["fee_exponent"]) == {2.0}


def test_no_edge_maker_brackets_the_truth(edge_world: World) -> None:
    w = simulate("no-edge", days=0.5, seed=4)
    q = w.quotes
    # Prices live on 0.001..0.999: beyond that the grid cannot represent the truth, and the
    # quote sits at the grid's end (an edge below 0.1 cent per share, far under any threshold).
    inside = q["true_prob_up"].between(0.001, 0.999)
    assert inside.mean() > 0.9
    assert (q.loc[inside, "best_bid_up"] <= q.loc[inside, "true_prob_up"] + 1e-12).all()
    assert (q.loc[inside, "best_ask_up"] >= q.loc[inside, "true_prob_up"] - 1e-12).all()
    high, low = q["true_prob_up"] > 0.999, q["true_prob_up"] < 0.001
    assert (q.loc[high, "best_ask_up"] == 0.999).all() and (q.loc[high, "best_bid_up"] < 0.999).all()
    assert (q.loc[low, "best_bid_up"] == 0.001).all() and (q.loc[low, "best_ask_up"] > 0.001).all()
    np.testing.assert_allclose(q["best_bid_down"], 1.0 - q["best_ask_up"], atol=1e-12)
    # the edge maker does not
    e = edge_world.quotes
    assert ((e["best_ask_up"] < e["true_prob_up"]) | (e["best_bid_up"] > e["true_prob_up"])).mean() > 0.2


def test_quotes_books_and_trades_are_consistent(edge_world: World) -> None:
    q, b, t = edge_world.quotes, edge_world.books, edge_world.trades
    assert (q["ts"] >= q["window_start"]).all() and (q["ts"] < q["window_end"]).all()
    gaps = q[q["interval_minutes"] == 15].groupby("slug")["ts"].diff().dt.total_seconds().dropna()
    assert 1.5 < gaps.median() < 2.5  # ~2 s snapshots
    assert (q["best_ask_up"] > q["best_bid_up"]).all()
    top = b[(b["level"] == 0) & (b["outcome"] == "Up")]
    best = top.pivot_table(index=["ts", "slug"], columns="side", values="price")
    joined = best.join(q.set_index(["ts", "slug"])[["best_bid_up", "best_ask_up"]], how="inner")
    assert len(joined) == len(best)
    np.testing.assert_array_equal(joined["bid"], joined["best_bid_up"])
    np.testing.assert_array_equal(joined["ask"], joined["best_ask_up"])
    levels = b.groupby(["ts", "token_id", "side"])["level"].max() + 1
    assert levels.max() == 4 and levels.median() == 4
    assert set(t["venue"]) == {"polymarket"} and t["trade_id"].is_unique
    assert (t["price"] > 0).all() and (t["price"] < 1).all()


def test_volume_is_correlated_with_absolute_returns(edge_world: World) -> None:
    k = edge_world.klines_1s
    r = np.abs(np.log(k["close"] / k["open"]))
    assert np.corrcoef(r, k["volume"])[0, 1] > 0.1


def test_eth_is_correlated_with_btc(edge_world: World) -> None:
    b = np.log(edge_world.klines["close"]).diff().dropna()
    e = np.log(edge_world.eth_klines["close"]).diff().dropna()
    assert 0.65 < np.corrcoef(b, e)[0, 1] < 0.9  # rho 0.8 on shocks, common jumps


def test_deterministic_from_seed() -> None:
    a = simulate("hard", days=0.25, seed=9)
    b = simulate("hard", days=0.25, seed=9)
    c = simulate("hard", days=0.25, seed=10)
    pd.testing.assert_frame_equal(a.quotes, b.quotes)
    pd.testing.assert_frame_equal(a.books, b.books)
    assert not np.array_equal(a.klines["close"], c.klines["close"])
    # maker knobs do not move the spot path: worlds with the same seed share it
    d = simulate("no-edge", days=0.25, seed=9)
    pd.testing.assert_frame_equal(a.klines, d.klines)


def test_push_feed_kernel_matches_python() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(5000.0)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 2e-4, 5000)))
    fast, slow = push_update_indices(t, p, 0.001, 60.0), push_update_indices_py(t, p, 0.001, 60.0)
    np.testing.assert_array_equal(fast, slow)
    assert np.diff(t[fast]).max() <= 60.0
    moves = np.abs(p[fast[1:]] / p[fast[:-1]] - 1.0)
    assert ((moves >= 0.001) | (np.diff(t[fast]) >= 60.0)).all()


def test_oracle_missing_ticks_make_outcomes_na() -> None:
    w = simulate("edge", days=0.5, seed=6, oracle_missing_rate=0.02, intervals=(5,))
    out = outcomes_from_oracle(w.markets, w.oracle)
    known = out.notna().to_numpy()
    assert 0 < (~known).sum() < len(out)
    np.testing.assert_array_equal(out[known].to_numpy(dtype=int), w.markets["outcome_up"].to_numpy(dtype=int)[known])


def test_write_and_read_back(edge_world: World, edge_world_dir: Path) -> None:
    names = sorted(p.name for p in edge_world_dir.iterdir())
    assert "world.json" in names
    data = read_data_dir(edge_world_dir)
    assert sorted(p.name for p in data.skipped) == ["truth_windows.parquet", "world.json"]  # not data files
    pd.testing.assert_frame_equal(data.frames["markets"].sort_values("slug", ignore_index=True),
                                  validate(edge_world.markets, "markets").sort_values("slug", ignore_index=True),
                                  check_dtype=False)
    assert len(data.frames["quotes"]) == len(edge_world.quotes)
    assert "true_prob_up" in data.frames["quotes"]
    assert len(data.frames["klines"]) == len(edge_world.klines) * 2 + len(edge_world.klines_1s)


def test_bad_configs_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        make_config("edge", sigmaa=0.3)
    with pytest.raises(ConfigError, match="mm_noise_time_s"):
        make_config("edge", mm_noise_time_s=-0.1)
    with pytest.raises(ConfigError, match="unknown key 'half_spread'"):
        make_config("edge", half_spread=0.01)  # a knob of the old snapshot maker: now the book's own law
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("bogus")
    with pytest.raises(ValueError, match="15-minute boundary"):
        simulate("edge", days=0.5, start="2026-06-15T00:07:00Z")
    with pytest.raises(ValueError, match="no timezone"):
        simulate("edge", days=0.5, start="2026-06-15 00:15")


def test_summary_reports_the_maker_distortion(edge_world: World) -> None:
    s = edge_world.stats
    assert s["markets"] == len(edge_world.markets)
    assert s["mean_abs_mid_minus_true"] > 0.02
    with pytest.raises(TypeError):
        s["markets"] = 0  # type: ignore[index]  # read-only
    summ = edge_world.summary()
    assert isinstance(summ, Summary) and summ.names == ("world", "files")
    assert summ["world"].loc["markets", "value"] == len(edge_world.markets)
    assert summ["files"]["rows"].sum() == sum(len(f) for f in edge_world.files().values())
    assert str(edge_world) == summ.as_text() and edge_world.tag in str(edge_world)
    assert edge_world._repr_html_() == summ.as_html()
    assert rules.rules_at(edge_world.markets["window_start"].iloc[0]).fee.rate == 0.07


def test_presets_order_the_maker_distortion() -> None:
    """Same seed, same spot path: the hard maker strays from the truth more than no-edge, less than edge."""
    gap = {p: simulate(p, days=0.25, seed=8).stats["mean_abs_mid_minus_true"] for p in ("no-edge", "hard", "edge")}
    assert gap["no-edge"] < gap["hard"] < gap["edge"]


def test_world_truth_matches_its_path(edge_world: World) -> None:
    t = edge_world.truth
    assert len(t) == 96 and (t["sigma"] > 0).all()
    # realized variance of 1 s bars over a window is close to sigma^2 x 900 s (plus its jumps)
    k = edge_world.klines_1s
    r = np.log(k["close"]).diff().fillna(np.log(k["close"].iloc[0] / k["open"].iloc[0]))
    rv = (r * r).groupby(k["ts"].dt.floor("15min")).sum().to_numpy()
    expected = t["sigma"].to_numpy() ** 2 * 900 / (365 * 86400) + t["jump_sum"].to_numpy() ** 2
    ratio = rv / expected
    assert 0.9 < np.median(ratio) < 1.1


def test_simulate_path_has_the_configured_law() -> None:
    from pmresearch.simulate import simulate_path

    cfg = make_config("edge", jumps_per_day=200.0, jump_sd=0.002, seed=4)
    p = simulate_path(cfg, 86_400 * 3, sigma=0.5)
    r = np.diff(np.concatenate([[np.log(cfg.s0)], p["log_price"].to_numpy()])) - p["jump"].to_numpy()
    sd_ann = r.std() * np.sqrt(365 * 86400)
    assert abs(sd_ann - 0.5) < 0.01  # 259,200 Gaussian increments: relative SE ~0.14%
    total = int(p["jump_count"].sum())
    assert abs(total - 600) < 4 * np.sqrt(600)  # Poisson(200/day x 3 days)
    assert str(p["ts"].dt.tz) == "UTC"


@pytest.mark.parametrize("smoothed", [True, False])
def test_smoothed_oracle_lags_the_exchange(smoothed: bool) -> None:
    """With :data:`REALISTIC_PROCESS` the oracle's 1-s return follows the exchange's return two seconds
    earlier (correlation 0.09 on this seed, sampling sd ~0.005); with spot plus white noise it does not
    (-0.005). The exchange's 1-s close is the last sub-second step of its bar, hence lag 2, not 1."""
    w = simulate("no-edge", days=0.5, seed=2, intervals=(15,), **(REALISTIC_PROCESS if smoothed else {}))
    lo = np.log(w.oracle["price"].to_numpy())  # ticks at 0..n s
    ls = np.log(np.concatenate([[w.klines_1s["open"].iloc[0]], w.klines_1s["close"].to_numpy()]))
    n = min(lo.size, ls.size)
    ro, rs = np.diff(lo[:n]), np.diff(ls[:n])
    lead = np.corrcoef(ro[2:], rs[:-2])[0, 1]
    if smoothed:
        assert lead > 0.05
    else:
        assert abs(lead) < 0.03
