"""compute_features: interface, strict as-of joins, worked examples per family, catalog, store reads."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.data.store import DuckDBStore
from pmresearch.features import (
    LAG_STATEMENT,
    REGISTRY,
    FeatureInputs,
    catalog,
    catalog_html,
    compute_features,
    default_registry,
    make_block,
    read_external,
)
from pmresearch.features.context import FeatureContext
from pmresearch.pricing import digital_bs
from pmresearch.simulate import World, simulate

T0 = pd.Timestamp("2026-06-15 00:00", tz="UTC")


def _klines(n: int = 300, start: pd.Timestamp = T0, seed: int = 0, symbol: str = "BTCUSDT") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 65_000.0 * np.exp(np.cumsum(rng.normal(0, 7e-4, n)))
    open_ = np.concatenate([[65_000.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range(start, periods=n, freq="1min", tz="UTC").astype("datetime64[us, UTC]"),
        "open": open_, "high": np.maximum(open_, close) * 1.0005, "low": np.minimum(open_, close) * 0.9995,
        "close": close, "volume": rng.gamma(2, 10, n), "quote_volume": np.nan, "trades": 100,
        "taker_buy_volume": np.nan, "symbol": symbol, "interval": "1m", "source": "test",
    })


def _rows(times: list[pd.Timestamp] | pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"t": pd.DatetimeIndex(times).astype("datetime64[us, UTC]")})


def test_shape_index_dtype_and_count(edge_world: World) -> None:
    inp = FeatureInputs.from_world(edge_world)
    m = edge_world.markets.iloc[:40]
    rows = pd.DataFrame({"t": (m["window_start"] + pd.Timedelta(minutes=5)).to_numpy(),
                         "slug": m["slug"].to_numpy(), "strike": m["strike"].to_numpy(),
                         "spot": m["strike"].to_numpy() * 1.001, "tau_s": 300.0}, index=pd.RangeIndex(100, 140))
    rows = rows.iloc[::-1]  # unsorted input keeps its order
    out = compute_features(rows, inp)
    assert list(out.index) == list(rows.index)
    assert out.shape[1] >= 80 and (out.dtypes == np.float64).all()
    assert all("__" in c for c in out.columns)
    assert out.notna().any().sum() >= 80
    sub = compute_features(rows, inp, ["vol__rv_1m_60m", "price__ret_5m"])
    pd.testing.assert_frame_equal(sub, out[["vol__rv_1m_60m", "price__ret_5m"]])


def test_bad_input_is_a_clear_error() -> None:
    inp = FeatureInputs(spot_1m=_klines())
    with pytest.raises(ValueError, match=r"unknown features.*price__ret_5min"):
        compute_features(_rows([T0]), inp, ["price__ret_5min"])
    with pytest.raises(ValueError, match="tz-aware"):
        compute_features(pd.DataFrame({"t": [pd.Timestamp("2026-06-15 01:00")]}), inp)
    with pytest.raises(ValueError, match="missing column 't'"):
        compute_features(pd.DataFrame({"x": [1]}), inp)
    naive = _klines()
    naive["ts"] = naive["ts"].dt.tz_localize(None)
    with pytest.raises(ValueError, match=r"spot_1m.*naive"):
        FeatureInputs(spot_1m=naive)


def test_bar_joins_at_close_only() -> None:
    kl = _klines(120)
    inp = FeatureInputs(spot_1m=kl)
    c = kl["close"].to_numpy()
    bar_close = T0 + pd.Timedelta(minutes=30)  # bar 29 (open 00:29) closes at 00:30
    rows = _rows([bar_close - pd.Timedelta(microseconds=1), bar_close, bar_close + pd.Timedelta(seconds=59)])
    r = compute_features(rows, inp, ["price__ret_1m"])["price__ret_1m"].to_numpy()
    assert r[0] == pytest.approx(math.log(c[28] / c[27]), rel=1e-12)
    assert r[1] == pytest.approx(math.log(c[29] / c[28]), rel=1e-12)
    assert r[2] == r[1]
    # after the data ends the last bar is not carried forward
    end = T0 + pd.Timedelta(minutes=120)
    late = compute_features(_rows([end, end + pd.Timedelta(minutes=1)]), inp, ["price__ret_1m"])
    assert np.isfinite(late.iloc[0, 0]) and np.isnan(late.iloc[1, 0])


def test_missing_bar_gives_nan_not_stale_values() -> None:
    kl = _klines(120).drop(index=[50]).reset_index(drop=True)
    out = compute_features(_rows([T0 + pd.Timedelta(minutes=51, seconds=10)]), FeatureInputs(spot_1m=kl),
                           ["price__ret_1m", "vol__rv_1m_15m"])
    assert out.isna().all(axis=None)
    # control: the same features are finite once the missing bar has left both windows
    later = compute_features(_rows([T0 + pd.Timedelta(minutes=70, seconds=10)]), FeatureInputs(spot_1m=kl),
                             ["price__ret_1m", "vol__rv_1m_15m"])
    assert np.isfinite(later.to_numpy(dtype=float)).all()


def test_off_grid_klines_are_rejected() -> None:
    kl = _klines(10)
    kl.loc[3, "ts"] = kl.loc[3, "ts"] + pd.Timedelta(seconds=7)
    with pytest.raises(ValueError, match="not on the 0 days 00:01:00 grid"):
        compute_features(_rows([T0 + pd.Timedelta(minutes=9)]), FeatureInputs(spot_1m=kl), ["price__ret_1m"])


@pytest.mark.parametrize(("day", "open_utc"), [("2026-07-15", "13:30"), ("2026-01-14", "14:30"),
                                               ("2026-03-09", "13:30"), ("2026-03-06", "14:30")])
def test_us_session_follows_dst(day: str, open_utc: str) -> None:
    """09:30 New York is 13:30 UTC under EDT and 14:30 UTC under EST (DST began 2026-03-08)."""
    t_open = pd.Timestamp(f"{day} {open_utc}", tz="UTC")
    names = ["time__min_since_us_open", "time__min_to_us_open", "time__us_session", "time__min_to_us_close"]
    out = compute_features(_rows([t_open - pd.Timedelta(minutes=1), t_open, t_open + pd.Timedelta(minutes=90)]),
                           FeatureInputs(spot_1m=_klines(5)), names)
    assert out["time__min_to_us_open"].iloc[0] == pytest.approx(1.0)
    assert out["time__us_session"].tolist() == [0.0, 1.0, 1.0]
    assert out["time__min_since_us_open"].iloc[2] == pytest.approx(90.0)
    assert out["time__min_to_us_close"].iloc[1] == pytest.approx(390.0)


def test_weekend_and_cyclical_time() -> None:
    t = pd.Timestamp("2026-06-13 18:00", tz="UTC")  # a Saturday
    out = compute_features(_rows([t]), FeatureInputs(spot_1m=_klines(5)), None).iloc[0]
    assert out["time__dow"] == 5 and out["time__weekend"] == 1 and out["time__hour"] == 18
    assert out["time__hour_sin"] == pytest.approx(math.sin(2 * math.pi * 18 / 24))
    # Friday 16:00 New York (20:00 UTC) was the last close, Monday 13:30 UTC the next open
    assert out["time__min_since_us_close"] == pytest.approx(22 * 60)
    assert out["time__min_to_us_open"] == pytest.approx((24 + 19.5) * 60)


def test_quote_features_worked_example() -> None:
    slug = "btc-updown-15m-1781481600"
    ts = pd.DatetimeIndex([T0 + pd.Timedelta(seconds=s) for s in (0, 20, 40)]).astype("datetime64[us, UTC]")
    quotes = pd.DataFrame({"ts": ts, "slug": slug, "best_bid_up": [0.40, 0.45, 0.50],
                           "best_ask_up": [0.42, 0.47, 0.54], "best_bid_down": [0.57, 0.52, 0.45],
                           "best_ask_down": [0.60, 0.55, 0.49]})
    inp = FeatureInputs(spot_1m=_klines(5), quotes=quotes)
    rows = pd.DataFrame({"t": [T0 + pd.Timedelta(seconds=45), T0 + pd.Timedelta(seconds=200)],
                         "slug": [slug, slug]})
    out = compute_features(rows, inp, [n for n in REGISTRY if REGISTRY[n].block == "micro_quotes"])
    r = out.iloc[0]
    assert r["micro__spread_up"] == pytest.approx(0.04)
    assert r["micro__rel_spread_up"] == pytest.approx(0.04 / 0.52)
    assert r["micro__spread_down"] == pytest.approx(0.04)
    assert r["micro__overround"] == pytest.approx(0.54 + 0.49 - 1)
    assert r["micro__underround"] == pytest.approx(1 - 0.50 - 0.45)
    assert r["micro__quote_age_s"] == pytest.approx(5.0)
    assert r["micro__mid_up_change_30s"] == pytest.approx(0.52 - 0.41)  # mid at 15 s is the 0 s quote
    assert out.iloc[1].isna().all()  # the last quote is 160 s old: stale


def test_book_features_worked_example() -> None:
    ts = pd.Timestamp("2026-06-15 00:00:10", tz="UTC")
    levels = []
    for side, prices, sizes in (("bid", [0.50, 0.49, 0.48, 0.47, 0.46], [100, 50, 50, 25, 25]),
                                ("ask", [0.52, 0.53, 0.54, 0.55, 0.56], [300, 10, 10, 10, 10])):
        levels += [{"side": side, "level": i, "price": p, "size": float(s)} for i, (p, s) in
                   enumerate(zip(prices, sizes, strict=True))]
    books = pd.DataFrame(levels).assign(ts=ts, slug="m", token_id="tok-up", outcome="Up")
    books["ts"] = books["ts"].astype("datetime64[us, UTC]")
    inp = FeatureInputs(spot_1m=_klines(5), books=books)
    out = compute_features(pd.DataFrame({"t": [ts, ts - pd.Timedelta(seconds=1)], "slug": ["m", "m"]}), inp,
                           [n for n in REGISTRY if REGISTRY[n].block == "micro_books"])
    r = out.iloc[0]
    assert r["micro__top_imbalance_up"] == pytest.approx((100 - 300) / 400)
    assert r["micro__depth_imbalance_3_up"] == pytest.approx((200 - 320) / 520)
    assert r["micro__depth_imbalance_5_up"] == pytest.approx((250 - 340) / 590)
    assert r["micro__log_depth_5_up"] == pytest.approx(math.log(590))
    micro = (0.50 * 300 + 0.52 * 100) / 400
    assert r["micro__microprice_dev_up"] == pytest.approx(micro - 0.51)
    assert out.iloc[1].isna().all()  # before the snapshot existed
    by_token = compute_features(pd.DataFrame({"t": [ts], "token_id": ["tok-up"]}), inp,
                                ["micro__top_imbalance_up"])
    assert by_token.iloc[0, 0] == pytest.approx(-0.5)


def test_exchange_trade_features_worked_example() -> None:
    base = pd.Timestamp("2026-06-15 00:10", tz="UTC")
    secs = [0, 5, 20, 50, 55]
    trades = pd.DataFrame({
        "ts": [base + pd.Timedelta(seconds=s) for s in secs], "price": [100.0, 101.0, 101.0, 100.5, 102.0],
        "qty": [1.0, 2.0, 3.0, 4.0, 5.0], "side": ["buy", "buy", "sell", "sell", "buy"],
        "received_at": [base + pd.Timedelta(seconds=s) for s in (0, 5, 21, 50, 70)],  # the last known late
        "symbol": "BTCUSDT", "venue": "binance",
    })
    trades["ts"] = trades["ts"].astype("datetime64[us, UTC]")
    trades["received_at"] = trades["received_at"].astype("datetime64[us, UTC]")
    inp = FeatureInputs(spot_1m=_klines(5), trades=trades)
    t = base + pd.Timedelta(seconds=58)
    names = [n for n in REGISTRY if REGISTRY[n].block == "micro_exchange_trades"]
    r = compute_features(_rows([t, base + pd.Timedelta(minutes=20)]), inp, names)
    # known by t: trades at 0, 5, 20 (known at 21) and 50 s; the 55 s trade is known only at 70 s
    assert r["micro__trade_imbalance_60s"].iloc[0] == pytest.approx((1 + 2 - 3 - 4) / 10)
    assert r["micro__trade_imbalance_10s"].iloc[0] == pytest.approx(-1.0)  # (48 s, 58 s]: the 50 s sell
    # tick rule: 0, +1, +1 (zero tick), -1
    assert r["micro__tick_dir_last"].iloc[0] == -1.0
    assert r["micro__tick_balance_60s"].iloc[0] == pytest.approx((0 + 1 + 1 - 1) / 4)
    assert r["micro__log_trades_60s"].iloc[0] == pytest.approx(math.log(5))
    assert r.iloc[1].isna().all()  # no trade in the last 300 s


def test_external_series_as_of_known_at() -> None:
    fg = pd.DataFrame({"ts": pd.to_datetime(["2026-06-14", "2026-06-15"], utc=True).astype("datetime64[us, UTC]"),
                       "value": [40.0, 55.0]})
    fg["known_at"] = fg["ts"] + pd.Timedelta(hours=1)
    inp = FeatureInputs(spot_1m=_klines(5), external={"fear_greed": fg})
    out = compute_features(_rows([T0 + pd.Timedelta(minutes=30), T0 + pd.Timedelta(hours=1)]), inp)
    assert out["cross__ext_fear_greed_value"].tolist() == [40.0, 55.0]
    assert "cross__ext_fear_greed_value" in set(catalog(inp)["name"])


def test_contract_features_match_numpy_and_digital_bs(edge_world: World) -> None:
    inp = FeatureInputs.from_world(edge_world)
    m = edge_world.markets.iloc[10:30]
    rows = pd.DataFrame({"t": m["window_start"] + pd.Timedelta(minutes=3), "strike": m["strike"].to_numpy(),
                         "spot": m["strike"].to_numpy() * np.linspace(0.998, 1.002, len(m)),
                         "tau_s": (m["window_end"] - m["window_start"]).dt.total_seconds() - 180.0,
                         "interval_minutes": m["interval_minutes"]})
    out = compute_features(rows, inp)
    # reference: the definitions written out with NumPy (ln S/K, tau_s / SECONDS_PER_YEAR, ln(S/K) / (sigma sqrt tau))
    lm = np.log(rows["spot"].to_numpy() / rows["strike"].to_numpy())
    tau = rows["tau_s"].to_numpy() / SECONDS_PER_YEAR
    ref = {"contract__log_moneyness": lm, "contract__tau_years": tau,
           "contract__z": lm / (out["vol__rv_1m_60m"].to_numpy() * np.sqrt(tau))}
    assert np.isfinite(ref["contract__z"]).all()
    for c, expected in ref.items():
        # ln(S/K) and z cross 0 (spot = strike mid-range): rtol with a floor of 1e-14 of each column's scale
        np.testing.assert_allclose(out[c], expected, rtol=1e-14, atol=1e-14 * float(np.max(np.abs(expected))))
    prob = digital_bs(rows["spot"].to_numpy(), rows["strike"].to_numpy(), rows["tau_s"].to_numpy() / SECONDS_PER_YEAR,
                      out["vol__rv_1m_60m"].to_numpy())
    np.testing.assert_allclose(out["contract__prob_bs"], prob, rtol=1e-14, atol=1e-15)  # probabilities: can be ~0
    assert out["contract__elapsed_frac"].iloc[0] == pytest.approx(180.0 / (60 * m["interval_minutes"].iloc[0]))


def test_lagged_block_uses_data_up_to_t_minus_lag() -> None:
    kl = _klines(120)

    def fn(ctx: FeatureContext) -> dict[str, np.ndarray]:
        grid = ctx.bars("spot_1m")
        assert grid is not None
        return ctx.join_bars(grid, {"test__close_lag": grid.frame["close"]})

    registry = default_registry()  # a private registry: the default one is never changed
    registry.register(make_block("test_lag", "test", fn, [("close_lag", "0s", "USD", "x")],
                                 inputs=("spot_1m",), lag="90s"))
    t = T0 + pd.Timedelta(minutes=40)
    out = compute_features(_rows([t]), FeatureInputs(spot_1m=kl), ["test__close_lag"], registry=registry)
    # data up to 00:38:30: the last bar closed by then opened at 00:37
    assert out.iloc[0, 0] == kl["close"].iloc[37]
    assert catalog(registry=registry).set_index("name").loc["test__close_lag", "lag"] == pd.Timedelta(seconds=90)
    assert "test__close_lag" in catalog_html(registry=registry) and "test__close_lag" not in catalog_html()
    assert "test__close_lag" not in REGISTRY and "test__close_lag" not in catalog()["name"].to_list()
    with pytest.raises(ValueError, match="unknown features"):
        compute_features(_rows([t]), FeatureInputs(spot_1m=kl), ["test__close_lag"])


def test_catalog_table() -> None:
    cat = catalog()
    assert list(cat.columns) == ["name", "family", "inputs", "lookback", "lag", "units", "description"]
    assert cat["name"].is_unique and len(cat) >= 81
    assert (cat["name"].str.split("__").str[0] == cat["family"]).all()
    assert set(cat["family"]) == {"price", "ta", "vol", "volume", "micro", "time", "cross", "contract"}
    assert (cat["lookback"] >= pd.Timedelta(0)).all()
    page = catalog_html(cat)
    assert "every feature uses data up to t - lag" in page.lower() and LAG_STATEMENT[:40] in page
    assert page.count("<tr>") == len(cat) + 1
    assert page.count("<h2>Feature catalog</h2>") == 1
    assert "<h2>" not in catalog_html(cat, title=None)  # for pages with their own heading


def test_from_store_matches_from_world(tmp_path: Path) -> None:
    world = simulate("edge", days=0.25, seed=5)
    world.write(tmp_path, books=False)
    with DuckDBStore("duckdb:///:memory:") as store:
        store.create_tables()
        store.load_data_dir(tmp_path)
        store.load_frames([("books", world.top_books, "top_books")])  # the snapshots' best levels, as from_world
        start, end = world.klines["ts"].min(), world.klines["ts"].max() + pd.Timedelta(minutes=1)
        inp = FeatureInputs.from_store(store, start=start, end=end)
        until = start + pd.Timedelta(hours=3)
        cut = FeatureInputs.from_store(store, start=start, end=end, until=until)
    direct = FeatureInputs.from_world(world)
    m = world.markets
    rows = pd.DataFrame({"t": (m["window_start"] + pd.Timedelta(minutes=4)).to_numpy(), "slug": m["slug"].to_numpy(),
                         "strike": m["strike"].to_numpy(), "spot": m["strike"].to_numpy(), "tau_s": 100.0})
    a, b = compute_features(rows, inp), compute_features(rows, direct)
    assert a.notna().any().sum() >= 80
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    assert cut.spot_1m["ts"].max() + pd.Timedelta(minutes=1) <= until
    early = rows[rows["t"] <= until]
    pd.testing.assert_frame_equal(compute_features(early, cut), compute_features(early, direct), rtol=1e-12)


def test_empty_rows_and_other_timezones() -> None:
    inp = FeatureInputs(spot_1m=_klines(120))
    empty = compute_features(pd.DataFrame({"t": pd.Series([], dtype="datetime64[us, UTC]")}), inp)
    assert empty.shape == (0, len(REGISTRY)) and (empty.dtypes == np.float64).all()
    t = T0 + pd.Timedelta(minutes=90)
    paris = pd.DataFrame({"t": [t.tz_convert("Europe/Paris")]})
    pd.testing.assert_frame_equal(compute_features(paris, inp), compute_features(_rows([t]), inp))


def test_read_external_file(tmp_path: Path) -> None:
    good = tmp_path / "es.csv"
    good.write_text("ts,close\n2026-06-15T00:30:00Z,5000.5\n2026-06-15T00:00:00Z,4990.0\n")
    frame = read_external(good)
    assert frame["close"].tolist() == [4990.0, 5000.5]
    inp = FeatureInputs(spot_1m=_klines(5), external={"es": frame})
    out = compute_features(_rows([T0 + pd.Timedelta(minutes=10), T0 + pd.Timedelta(minutes=30)]), inp,
                           ["cross__ext_es_close"])
    assert out.iloc[:, 0].tolist() == [4990.0, 5000.5]
    naive = tmp_path / "fg.csv"
    naive.write_text("ts,value\n2026-06-15 00:00:00,40\n")
    with pytest.raises(ValueError, match=r"fg\.csv, column 'ts'.*no timezone"):
        read_external(naive)
