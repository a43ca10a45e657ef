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
from pmresearch.data.books import best_quotes, replay, snapshots_from_events
from pmresearch.data.io import recognize
from pmresearch.labels import outcomes_from_oracle
from pmresearch.simulate import SIMPLE_PROCESS, World, make_config, simulate, truth_at
from pmresearch.simulate.config import REALISTIC_PROCESS
from pmresearch.simulate.maker_book import MakerBookParams
from pmresearch.simulate.oracle import push_update_indices, push_update_indices_py, twap_values
from pmresearch.simulate.world import EDGE_SCHEDULE, TOP_LEVELS, TRUE_PROBS_FILE


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
    w = simulate("edge", days=0.25, seed=2, start="2026-08-10")
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


def _bracket(interval: int) -> float:
    """How far a no-edge maker's bid may sit above the truth (and its ask below): the base mid stays
    within ``recenter_ticks`` of the belief and the base spread is at least one tick, so the best bid is
    at most ``recenter_ticks - 0.5`` ticks above it (flickers and lagging sides only widen the touch)."""
    return (MakerBookParams.for_window(interval).recenter_ticks - 0.5) * 0.01 + 1e-9


def _tiny(preset: str = "edge", seed: int = 4) -> World:
    """Three hours, 5-minute markets only (24 of them): small enough for the full books (~0.3 M event rows)."""
    return simulate(preset, days=0.125, seed=seed, intervals=(5,))


def test_no_edge_maker_brackets_the_truth(edge_world: World) -> None:
    """The no-edge maker quotes around the truth on the 0.01 grid: where a side is present, bid <= true +
    bracket and ask >= min(true - bracket, 0.99) (1 tick on 5-minute books, 0.25 on 15-minute), at the
    ~2-s quotes and at every event of the book."""
    w = simulate("no-edge", days=0.25, seed=4)
    q = w.quotes
    for interval in (5, 15):
        qi = q[q["interval_minutes"] == interval]
        tol = _bracket(interval)
        bid, ask, p = qi["best_bid_up"], qi["best_ask_up"], qi["true_prob_up"]
        assert (bid.notna() & ask.notna()).mean() > 0.9  # one-sided books are rare...
        assert (p[bid.isna()] < 0.05).mean() > 0.9  # ...and mostly a truth near 0 (no bid below the grid)
        assert ((bid <= p + tol) | bid.isna()).all()
        assert ((ask >= np.minimum(p - tol, 0.99)) | ask.isna()).all()  # 0.99: the grid's last price
        assert (bid - p).max() > tol - 0.005  # the bracket is nearly reached: not a loose bound
        two = bid.notna() & ask.notna()
        assert (ask[two] > bid[two]).all()
    np.testing.assert_allclose(q["best_bid_down"], 1.0 - q["best_ask_up"], atol=1e-12)  # NaN where NaN
    np.testing.assert_allclose(q["best_ask_down"], 1.0 - q["best_bid_up"], atol=1e-12)
    # every touch of the event-level book, against the truth at its own time
    tiny = _tiny("no-edge")
    up = best_quotes(tiny.book_events).query("outcome == 'Up'")
    p_ev = truth_at(tiny.true_probs, up["slug"], up["ts"])
    assert len(up) > 100_000 and not np.isnan(p_ev).any()
    tol = _bracket(5)
    assert ((up["best_bid"].to_numpy() <= p_ev + tol) | up["best_bid"].isna().to_numpy()).all()
    assert ((up["best_ask"].to_numpy() >= np.minimum(p_ev - tol, 0.99)) | up["best_ask"].isna().to_numpy()).all()
    # the edge maker does not
    e = edge_world.quotes
    tol_e = e["interval_minutes"].map({5: _bracket(5), 15: _bracket(15)})
    outside = (e["best_ask_up"] < e["true_prob_up"] - tol_e) | (e["best_bid_up"] > e["true_prob_up"] + tol_e)
    assert outside.mean() > 0.5


@pytest.fixture(scope="module")
def tiny_edge() -> World:
    return _tiny("edge", seed=4)


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain str (the books' categoricals and the canonical text compare alike)."""
    cols = [c for c in ("slug", "token_id", "outcome", "side") if c in frame]
    return frame.astype(dict.fromkeys(cols, str))


def test_quotes_books_and_trades_are_consistent(tiny_edge: World) -> None:
    w = tiny_edge
    q, b, ev, t = w.quotes, w.books, w.book_events, w.trades
    assert (q["ts"] >= q["window_start"]).all() and (q["ts"] < q["window_end"]).all()
    gaps = q.groupby("slug")["ts"].diff().dt.total_seconds().dropna()
    assert 1.5 < gaps.median() < 2.5  # ~2 s snapshots
    both = q["best_bid_up"].notna() & q["best_ask_up"].notna()
    assert both.mean() > 0.9 and (q.loc[both, "best_ask_up"] > q.loc[both, "best_bid_up"]).all()
    # quotes = level 0 of the Up token's snapshot at the same ts (NaN on an empty side)
    top = b[(b["level"] == 0) & (b["outcome"] == "Up")].astype({"slug": str, "side": str})
    best = top.pivot_table(index=["ts", "slug"], columns="side", values="price")
    snap_keys = b[b["outcome"] == "Up"][["ts", "slug"]].astype({"slug": str}).drop_duplicates()
    assert len(snap_keys) == len(best) == len(q)
    joined = best.join(q.set_index(["ts", "slug"])[["best_bid_up", "best_ask_up"]], how="inner")
    assert len(joined) == len(q)
    np.testing.assert_array_equal(joined["bid"], joined["best_bid_up"])
    np.testing.assert_array_equal(joined["ask"], joined["best_ask_up"])
    # top_books: the snapshots' best TOP_LEVELS levels per side, row for row
    pd.testing.assert_frame_equal(_text(w.top_books), _text(b[b["level"] < TOP_LEVELS].reset_index(drop=True)),
                                  check_exact=True)
    # full depth: levels 0..n-1 per snapshot side, the Down book the mirror of the Up book
    g = b.groupby(["ts", "token_id", "side"], observed=True)["level"]
    np.testing.assert_array_equal(g.max().to_numpy() + 1, g.size().to_numpy())
    assert g.size().median() > TOP_LEVELS
    up_ask = b[(b["outcome"] == "Up") & (b["side"] == "ask")].sort_values(["ts", "slug", "level"], kind="stable")
    dn_bid = b[(b["outcome"] == "Down") & (b["side"] == "bid")].sort_values(["ts", "slug", "level"], kind="stable")
    np.testing.assert_array_equal(up_ask["level"].to_numpy(), dn_bid["level"].to_numpy())
    np.testing.assert_allclose(dn_bid["price"].to_numpy(), 1.0 - up_ask["price"].to_numpy(), atol=1e-12)
    np.testing.assert_array_equal(dn_bid["size"].to_numpy(), up_ask["size"].to_numpy())
    # the snapshots are the book rebuilt from its events (pmresearch.data.books), at the 2-s rule
    slug = str(q["slug"].iloc[len(q) // 2])
    ev1, b1 = ev[ev["slug"] == slug], b[b["slug"] == slug]
    keys = ["ts", "token_id", "side", "level"]
    rebuilt = snapshots_from_events(ev1, every=w.config.quote_every_s)
    pd.testing.assert_frame_equal(_text(rebuilt).sort_values(keys, ignore_index=True),
                                  _text(b1).sort_values(keys, ignore_index=True), check_dtype=False, check_exact=True)
    at = b1["ts"].iloc[len(b1) // 3]
    pd.testing.assert_frame_equal(_text(replay(ev1, until=at)).sort_values(keys, ignore_index=True),
                                  _text(b1[b1["ts"] == at]).sort_values(keys, ignore_index=True), check_dtype=False,
                                  check_exact=True)
    # trades: at the touch of the traded token's event-level book standing at the trade's time
    touch = best_quotes(ev).astype({"token_id": str}).sort_values("ts", kind="stable")
    tr = pd.merge_asof(t.assign(symbol=t["symbol"].astype(str)).sort_values("ts", kind="stable"), touch,
                       on="ts", left_by="symbol", right_by="token_id", direction="backward")
    assert len(tr) == len(t) > 100 and set(tr["outcome_x"]) == {"Up", "Down"}
    expected = np.where(tr["side"] == "buy", tr["best_ask"], tr["best_bid"])
    np.testing.assert_allclose(tr["price"].to_numpy(), expected, atol=1e-12)
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
    a = simulate("hard", days=0.125, seed=9)
    b = simulate("hard", days=0.125, seed=9)
    c = simulate("hard", days=0.125, seed=10)
    for name in ("quotes", "top_books", "trades", "true_probs", "decision_edges"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    day = a.book_days()[0]
    for (na, fa), (nb, fb) in zip(a.book_files(*day), b.book_files(*day), strict=True):
        assert na == nb
        pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    assert not np.array_equal(a.klines["close"], c.klines["close"])
    # maker knobs do not move the spot path: worlds with the same seed share it
    d = simulate("no-edge", days=0.125, seed=9)
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
    # not data files (books=False: no book files either)
    assert sorted(p.name for p in data.skipped) == sorted([TRUE_PROBS_FILE, "truth_windows.parquet", "world.json"])
    assert "books" not in data.frames and "book_events" not in data.frames
    assert not any("book" in n for n in names)
    pd.testing.assert_frame_equal(data.frames["markets"].sort_values("slug", ignore_index=True),
                                  validate(edge_world.markets, "markets").sort_values("slug", ignore_index=True),
                                  check_dtype=False)
    assert len(data.frames["quotes"]) == len(edge_world.quotes)
    assert "true_prob_up" in data.frames["quotes"]
    assert len(data.frames["klines"]) == len(edge_world.klines) * 2 + len(edge_world.klines_1s)
    pd.testing.assert_frame_equal(pd.read_parquet(edge_world_dir / TRUE_PROBS_FILE), edge_world.true_probs,
                                  check_categorical=False)


def test_write_books_and_read_back(tiny_edge: World, tmp_path: Path) -> None:
    """The book files round-trip, one per kind and day, with the rows counted at simulate time."""
    paths = tiny_edge.write(tmp_path)
    files = dict(tiny_edge.book_files())
    assert len(files) == 2 * len(tiny_edge.book_days()) and set(files) <= {p.name for p in paths}
    for name, frame in files.items():
        back = pd.read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(_text(back), _text(frame), check_dtype=False, check_exact=True)
    for kind in ("book_events", "books"):
        n = sum(len(f) for name, f in files.items() if f"_{kind}_" in name)
        assert n == tiny_edge.book_counts[kind] > 0
    data = read_data_dir(tmp_path)
    assert len(data.frames["book_events"]) == tiny_edge.book_counts["book_events"]
    assert len(data.frames["books"]) == tiny_edge.book_counts["books"]
    assert len(data.frames["quotes"]) == len(tiny_edge.quotes)


def test_write_picks_book_kinds(tmp_path: Path) -> None:
    w = simulate("no-edge", days=0.125, seed=2, intervals=(5,))
    names = [p.name for p in w.write(tmp_path / "ev", books=("book_events",))]
    books = [n for n in names if n.startswith("polymarket_btc_5m_book")]
    assert books and all("_book_events_" in n for n in books)
    assert not any("_books_" in n for n in names)
    with pytest.raises(ValueError, match=r"\['x'\]"):
        w.write(tmp_path / "bad", books=("x",))
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_bad_configs_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        make_config("edge", sigmaa=0.3)
    with pytest.raises(ConfigError, match="mm_noise_time_s"):
        make_config("edge", mm_noise_time_s=-0.1)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['half_spread'\]"):
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
    rows = summ["files"]["rows"]
    books = rows[rows.index.str.startswith("books (")]
    assert len(books) == 2 and books.sum() == sum(edge_world.book_counts.values()) > 0
    assert rows.drop(books.index).sum() == sum(len(f) for f in edge_world.files().values())
    assert s["book_event_rows"] == edge_world.book_counts["book_events"]
    assert s["book_rows"] == edge_world.book_counts["books"]
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


@pytest.mark.parametrize("scaled", [True, False])
def test_jump_sizes_scale_with_the_window_vol(scaled: bool) -> None:
    """With ``jumps_scale_with_vol`` a step's log-jump law at vol ``sigma`` is ``N(k mu, (k sd)^2)`` per jump,
    ``k = sigma / cfg.sigma``: single jumps at sigma 0.6 (base 0.3, so k = 2) pass a Kolmogorov-Smirnov test
    against N(2 x -0.001, (2 x 0.002)^2) (scipy) and fail it against the unscaled law; without the flag k = 1."""
    from scipy import stats

    from pmresearch.simulate import simulate_path

    cfg = make_config("edge", jumps_per_day=2000.0, jump_sd=0.002, jump_mean=-0.001, sigma=0.3, seed=5,
                      jumps_scale_with_vol=scaled)
    p = simulate_path(cfg, 86_400 * 4, sigma=0.6)
    one = p.loc[p["jump_count"] == 1, "jump"].to_numpy()
    assert one.size > 7000
    k = 2.0 if scaled else 1.0
    assert stats.kstest(one, stats.norm(-0.001 * k, 0.002 * k).cdf).pvalue > 1e-3
    assert stats.kstest(one, stats.norm(-0.001 * (3.0 - k), 0.002 * (3.0 - k)).cdf).pvalue < 1e-6


def test_kline_history_precedes_the_world_on_its_law() -> None:
    """``kline_history_days`` prepends 1m klines ending at the world's first open: whole minutes, the same
    columns, the last close equal to ``s0`` (the world's first open); the world itself is unchanged (its
    streams are not touched), and the history's annualized vol is near the world's vol law."""
    base = simulate("no-edge", days=0.5, seed=3)
    w = simulate("no-edge", days=0.5, seed=3, kline_history_days=3)
    h = w.kline_history
    assert len(base.kline_history) == 0 and len(h) == 3 * 1440
    assert list(h.columns) == list(w.klines.columns)
    assert h["ts"].iloc[-1] + pd.Timedelta(minutes=1) == w.klines["ts"].iloc[0]
    assert h["ts"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
    assert h["close"].iloc[-1] == pytest.approx(w.config.s0, rel=1e-12)
    assert (h["high"] >= h[["open", "close"]].max(axis=1)).all()
    assert (h["low"] <= h[["open", "close"]].min(axis=1)).all()
    pd.testing.assert_frame_equal(w.klines, base.klines)
    pd.testing.assert_frame_equal(w.oracle, base.oracle)
    rv = np.log(h["close"]).diff().std() * np.sqrt(525_600)
    assert 0.2 < rv < 1.2, rv
    assert any(name.endswith("_history.parquet") for name in w.files())
    assert not any(name.endswith("_history.parquet") for name in base.files())


@pytest.mark.parametrize("smoothed", [True, False])
def test_smoothed_oracle_lags_the_exchange(smoothed: bool) -> None:
    """With :data:`REALISTIC_PROCESS` the oracle's 1-s return follows the exchange's return two seconds
    earlier (correlation 0.09 on this seed, sampling sd ~0.005); with spot plus white noise
    (:data:`SIMPLE_PROCESS`, no smoothing) it does not
    (-0.005). The exchange's 1-s close is the last sub-second step of its bar, hence lag 2, not 1."""
    process = REALISTIC_PROCESS if smoothed else SIMPLE_PROCESS
    w = simulate("no-edge", days=0.5, seed=2, intervals=(15,), **process)
    lo = np.log(w.oracle["price"].to_numpy())  # ticks at 0..n s
    ls = np.log(np.concatenate([[w.klines_1s["open"].iloc[0]], w.klines_1s["close"].to_numpy()]))
    n = min(lo.size, ls.size)
    ro, rs = np.diff(lo[:n]), np.diff(ls[:n])
    lead = np.corrcoef(ro[2:], rs[:-2])[0, 1]
    if smoothed:
        assert lead > 0.05
    else:
        assert abs(lead) < 0.03


def test_book_files_regenerate_identically(tiny_edge: World) -> None:
    """Two calls of book_files give the same files, with the rows counted at simulate time; one
    interval and day select a subset of them."""
    first = list(tiny_edge.book_files())
    second = list(tiny_edge.book_files())
    assert [n for n, _ in first] == [n for n, _ in second] and len(first) == 2
    for (_, a), (_, b) in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for kind in ("book_events", "books"):
        assert sum(len(f) for n, f in first if f"_{kind}_" in n) == tiny_edge.book_counts[kind]
    (interval, day), = tiny_edge.book_days()
    only = list(tiny_edge.book_files(interval, day, kinds=("books",)))
    assert [n for n, _ in only] == [n for n, _ in first if "_books_" in n]
    assert sum(len(f) for _, f in only) == tiny_edge.book_counts["books"]
    assert not list(tiny_edge.book_files(interval, "19990101"))


def test_truth_at_looks_up_the_grid(tiny_edge: World) -> None:
    tp = tiny_edge.true_probs
    step = pd.Timedelta(seconds=tiny_edge.config.belief_step_s)
    sample = tp.iloc[np.linspace(0, len(tp) - 1, 500).astype(int)]
    slugs = sample["slug"].astype(str).to_numpy()
    # exactly the grid values at grid times, the previous one between grid points
    np.testing.assert_array_equal(truth_at(tp, slugs, sample["ts"]), sample["true_prob_up"].to_numpy())
    np.testing.assert_array_equal(truth_at(tp, slugs, sample["ts"] + step * 0.6), sample["true_prob_up"].to_numpy())
    np.testing.assert_array_equal(truth_at(tp, slugs, sample["ts"] + step - pd.Timedelta(microseconds=1)),
                                  sample["true_prob_up"].to_numpy())
    nxt = tp["true_prob_up"].to_numpy()[sample.index[:-1] + 1]
    same = tp["slug"].to_numpy()[sample.index[:-1] + 1] == tp["slug"].to_numpy()[sample.index[:-1]]
    np.testing.assert_array_equal(truth_at(tp, slugs[:-1][same], sample["ts"].iloc[:-1][same] + step), nxt[same])
    # NaN after a window's end, before its first grid point, and for an unknown market
    m = tiny_edge.markets.iloc[[0, 5]]
    after = truth_at(tp, m["slug"], m["window_end"] + pd.Timedelta(seconds=1))
    before = truth_at(tp, m["slug"], m["window_start"] - pd.Timedelta(seconds=1))
    assert np.isnan(after).all() and np.isnan(before).all()
    assert not np.isnan(truth_at(tp, m["slug"], m["window_end"] - pd.Timedelta(milliseconds=1))).any()
    assert np.isnan(truth_at(tp, ["btc-updown-5m-0"], [m["window_start"].iloc[0]])).all()
    assert truth_at(tp, [], pd.DatetimeIndex([], tz="UTC")).size == 0
    with pytest.raises(ValueError, match="tz-aware"):
        truth_at(tp, m["slug"], m["window_start"].dt.tz_localize(None))


def test_quotes_carry_the_truth_at_their_time(tiny_edge: World) -> None:
    """A quote's true_prob_up is the truth at the quote's own time: the belief grid's value at the last
    path step (the grid step is one path step), so exactly truth_at of true_probs."""
    q = tiny_edge.quotes
    assert tiny_edge.config.belief_step_s * tiny_edge.config.substeps_per_s == 1
    p = truth_at(tiny_edge.true_probs, q["slug"], q["ts"])
    assert not np.isnan(p).any()
    np.testing.assert_allclose(q["true_prob_up"].to_numpy(), p, rtol=0, atol=1e-12)


def test_decision_edges_are_the_true_edge_at_the_event_book() -> None:
    """On no-edge the reference decisions lose about the half-spread plus the fee (the better side gains
    back the maker's within-tick error); each row's edge is recomputed from the event-level touch."""
    w = _tiny("no-edge", seed=5)
    de = w.decision_edges
    assert list(de.columns) == ["t", "slug", "interval_minutes", "side", "true_edge"]
    sch = EDGE_SCHEDULE
    per = int((300 - sch["first_s"] - sch["last_s"]) // sch["every_s"]) + 1  # decisions per 5-minute window
    assert len(de) == per * len(w.markets) and set(de["side"]) == {"Up", "Down"}
    # recompute: the better side's true P at t minus the ask standing at t + delay minus the fee
    up = best_quotes(w.book_events).query("outcome == 'Up'").astype({"slug": str}).sort_values("ts", kind="stable")
    arrival = de["t"] + pd.to_timedelta(np.asarray(rules.taker_delay_at(de["t"]), dtype=float), unit="s")
    left = pd.DataFrame({"ts": arrival.astype("datetime64[us, UTC]"), "slug": de["slug"].astype(str),
                         "_pos": np.arange(len(de))}).sort_values("ts", kind="stable")
    touch = pd.merge_asof(left, up, on="ts", by="slug", direction="backward").set_index("_pos").sort_index()
    p = truth_at(w.true_probs, de["slug"], de["t"])
    n = EDGE_SCHEDULE["shares"]
    rate, expo = rules.fees_at(pd.DatetimeIndex(de["t"]))
    ask_up, bid_up = touch["best_ask"].to_numpy(), touch["best_bid"].to_numpy()
    ask_dn = rules.round_to_tick(1.0 - bid_up, "up")
    fee_up = rules.taker_fee(n, ask_up, rate, expo) / n
    fee_dn = rules.taker_fee(n, ask_dn, rate, expo) / n
    e_up, e_dn = p - ask_up - fee_up, (1.0 - p) - ask_dn - fee_dn
    np.testing.assert_allclose(de["true_edge"].to_numpy(), np.maximum(e_up, e_dn), rtol=0, atol=1e-12)
    e = de["true_edge"]
    assert e.notna().mean() > 0.95
    cost = ((ask_up - bid_up) / 2.0 + np.where(de["side"] == "Up", fee_up, fee_dn))
    assert e.mean() < -0.005 and (e > 0.01).mean() < 0.02
    assert -np.nanmean(cost) < e.mean() < -np.nanmean(cost) + 0.01
    assert w.stats["row_true_edge_mean"] == pytest.approx(e.mean())


def test_beliefs_in_blocks_are_the_same_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long worlds compute the beliefs in blocks (bounded memory): blocks of 1,000 points give the same
    world as one block. Not bit for bit: the Merton series is truncated per block where the neglected Poisson
    mass falls below its tolerance (pmresearch.pricing.digital.gaussian_jump_up_probability), so the truth
    moves by at most that (measured: 5% of points differ, by ulps); prices and trades are identical."""
    from pmresearch.simulate import world as world_module

    kw = {"days": 0.125, "seed": 8, "intervals": (5,)}
    whole = simulate("realistic", **kw)
    monkeypatch.setattr(world_module, "BELIEF_BLOCK", 1000)
    blocks = simulate("realistic", **kw)
    assert whole.true_probs.shape[0] > 20 * 1000  # many blocks
    for name in ("quotes", "true_probs", "trades", "decision_edges"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(blocks, name), check_exact=False, rtol=0.0,
                                      atol=1e-12, obj=name)
    pd.testing.assert_frame_equal(whole.trades, blocks.trades, check_exact=True)
    q = ["ts", "slug", "best_bid_up", "best_ask_up"]
    pd.testing.assert_frame_equal(whole.quotes[q], blocks.quotes[q], check_exact=True)
