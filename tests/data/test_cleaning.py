"""Cleaning: hand-built frames with known answers, real quirks, bounded fill, receipt offsets and clock skew."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch._summary import Summary
from pmresearch.data import SchemaError, read_file
from pmresearch.data.cleaning import (
    deduplicate,
    ensure_utc,
    estimate_clock_skew,
    fill_gaps,
    find_gaps,
    flag_books,
    flag_price_anomalies,
    flag_quotes,
    receipt_offset,
)
from pmresearch.simulate import SIMPLE_PROCESS, simulate
from pmresearch.simulate.oracle import push_update_indices

T0 = pd.Timestamp("2026-01-01", tz="UTC")
S = pd.Timedelta(seconds=1)


def _bars() -> pd.DataFrame:
    ts = pd.date_range(T0, periods=10, freq="1min")
    keep = [0, 1, 2, 4, 5, 9]  # a 1-bar gap (3) and a 3-bar gap (6, 7, 8)
    return pd.DataFrame({"ts": ts[keep], "close": [1.0, 2, 3, 5, 6, 10], "symbol": "X"})


def test_gaps_are_found_with_known_answers() -> None:
    bars = _bars()
    gaps = find_gaps(bars["ts"], pd.Timedelta(minutes=1))
    assert gaps["missing"].tolist() == [1, 3]
    assert gaps["start"].tolist() == [T0 + pd.Timedelta(minutes=2), T0 + pd.Timedelta(minutes=5)]
    assert gaps["duration"].tolist() == [pd.Timedelta(minutes=2), pd.Timedelta(minutes=4)]
    assert find_gaps(bars["ts"], pd.Timedelta(minutes=1), min_gap=pd.Timedelta(minutes=3))["missing"].tolist() == [3]
    assert find_gaps(bars["ts"][:3], pd.Timedelta(minutes=1)).empty
    # two markets an hour apart, one with a hole: only the hole is a gap
    two = pd.Series(list(bars["ts"]) + list(bars["ts"] + pd.Timedelta(hours=1)))
    market = pd.Series(["a"] * 6 + ["b"] * 6)
    grouped = find_gaps(two, pd.Timedelta(minutes=1), groups=market)
    assert grouped["group"].tolist() == ["a", "a", "b", "b"] and grouped["missing"].tolist() == [1, 3, 1, 3]
    assert find_gaps(two, pd.Timedelta(minutes=1))["duration"].max() == pd.Timedelta(minutes=51)
    with pytest.raises(SchemaError, match="naive"):
        find_gaps(bars["ts"].dt.tz_localize(None), pd.Timedelta(minutes=1))


def test_forward_fill_is_causal_bounded_and_flagged() -> None:
    bars = _bars()
    minute = pd.Timedelta(minutes=1)
    out = fill_gaps(bars, freq=minute, max_gap=minute)
    # 3 filled from 2; 6 filled from 5 (1 min old); 7 and 8 would be older than 1 min: not created
    assert out["ts"].dt.minute.tolist() == [0, 1, 2, 3, 4, 5, 6, 9]
    assert out.loc[out["filled"], "close"].tolist() == [3.0, 6.0]
    assert out.loc[out["filled"], "fill_age"].tolist() == [minute, minute]
    assert (out.loc[~out["filled"], "fill_age"] == pd.Timedelta(0)).all()
    wide = fill_gaps(bars, freq=minute, max_gap=3 * minute)
    assert len(wide) == 10 and wide.loc[wide["filled"], "close"].tolist() == [3.0, 6.0, 6.0, 6.0]
    assert wide["symbol"].eq("X").all()
    only = fill_gaps(bars, freq=minute, max_gap=3 * minute, columns=["close"])
    assert only.loc[only["filled"], "symbol"].isna().all()
    with pytest.raises(ValueError, match="repeated stamps"):
        fill_gaps(pd.concat([bars, bars.iloc[[0]]]), freq=minute, max_gap=minute)
    with pytest.raises(SchemaError, match="naive"):
        fill_gaps(bars.assign(ts=bars["ts"].dt.tz_localize(None)), freq=minute, max_gap=minute)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fill_never_exceeds_max_gap_and_flags_every_filled_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = pd.date_range(T0, periods=2000, freq="1s")
    keep = np.sort(rng.choice(len(grid), size=1200, replace=False))
    frame = pd.DataFrame({"ts": grid[keep], "price": rng.normal(100, 1, keep.size)})
    max_gap = pd.Timedelta(seconds=3)
    out = fill_gaps(frame, freq=S, max_gap=max_gap)
    # independent count: a run of m missing seconds gets min(m, 3) filled rows
    runs = np.diff(keep) - 1
    assert int(out["filled"].sum()) == int(np.minimum(runs, 3).sum())
    assert (out["fill_age"] <= max_gap).all()
    real = out[~out["filled"]]
    assert real["ts"].tolist() == frame["ts"].tolist() and real["price"].tolist() == frame["price"].tolist()
    last_real = pd.Series(real["ts"].to_numpy(), index=real.index).reindex(out.index).ffill()
    src_price = pd.Series(real["price"].to_numpy(), index=real.index).reindex(out.index).ffill()
    assert (out["ts"] - pd.DatetimeIndex(last_real) == out["fill_age"]).all()
    assert np.array_equal(out["price"].to_numpy(), src_price.to_numpy())


def test_utc_enforcement_and_dedup() -> None:
    bars = _bars()
    with pytest.raises(SchemaError, match="column 'ts': naive"):
        ensure_utc(bars.assign(ts=bars["ts"].dt.tz_localize(None)), source="f.csv")
    with pytest.raises(SchemaError, match=r"f\.csv: missing column 'when'"):
        ensure_utc(bars, ["when"], source="f.csv")
    with pytest.raises(SchemaError, match="column 'close': not a timestamp"):
        ensure_utc(bars, ["close"])
    ny = ensure_utc(bars.assign(ts=bars["ts"].dt.tz_convert("America/New_York")))
    assert str(ny["ts"].dt.tz) == "UTC" and ny["ts"].equals(bars["ts"])
    doubled = pd.concat([bars, bars.iloc[[2]]], ignore_index=True)
    out, dropped = deduplicate(doubled, ["ts"])
    assert dropped == 1 and len(out) == len(bars)
    clash = pd.concat([bars, bars.iloc[[2]].assign(close=99.0)], ignore_index=True)
    with pytest.raises(SchemaError, match=r"f\.csv: rows \[2, 6\] share keys \['ts'\]"):
        deduplicate(clash, ["ts"], source="f.csv")


def test_price_jump_within_one_second_and_k_sigma() -> None:
    rng = np.random.default_rng(3)
    ts = pd.Series(pd.date_range(T0, periods=2000, freq="1s"))
    price = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 1e-4, 2000))))
    price.iloc[1500] *= 1.06  # +6 % in one second, then back
    price.iloc[800] *= 1.004  # 40 sigma but below 5 %
    flags = flag_price_anomalies(ts, price)
    assert flags.index[flags["jump"]].tolist() == [1500, 1501]
    assert {800, 801, 1500, 1501} <= set(flags.index[flags["sigma"]]) and flags["sigma"].sum() <= 6
    slow = flag_price_anomalies(ts.iloc[::5].reset_index(drop=True), price.iloc[::5].reset_index(drop=True))
    assert not slow["jump"].any()  # 5 % across 5 seconds is not a 1-second jump
    # +6 % in three ticks of +2 % inside one second: each step is small, the 1-second move is not
    ticks = pd.Series([T0, T0 + 3 * S, T0 + 3.3 * S, T0 + 3.6 * S, T0 + 3.9 * S, T0 + 10 * S])
    px = pd.Series([100.0, 100.0, 102.0, 104.04, 106.12, 106.12], index=list("abcdef"))
    f = flag_price_anomalies(ticks, px)
    assert f.index[f["jump"]].tolist() == ["e"] and f.index.tolist() == list("abcdef")
    shuffled = flag_price_anomalies(ticks.iloc[::-1], px.iloc[::-1])  # any input order, aligned output
    assert shuffled.loc[list("abcdef"), "jump"].tolist() == f["jump"].tolist()
    with pytest.raises(SchemaError, match="naive"):
        flag_price_anomalies(ts.dt.tz_localize(None), price)
    with pytest.raises(SchemaError, match=r"non-positive or NaN price at rows \[3\]"):
        flag_price_anomalies(ts[:5], pd.Series([1.0, 2, 3, np.nan, 5]))


def test_quote_flags_on_a_hand_built_book() -> None:
    t = [T0 + i * 10 * S for i in range(8)]
    q = pd.DataFrame({
        "ts": t, "slug": ["m"] * 8,
        #            ok    crossed locked one-sided empty  wide   same   same (stale after 30 s)
        "best_bid_up": [0.40, 0.52, 0.50, np.nan, np.nan, 0.20, 0.20, 0.20],
        "best_ask_up": [0.42, 0.50, 0.50, 0.55, np.nan, 0.45, 0.45, 0.45],
        "best_bid_down": [0.58, 0.50, 0.50, 0.45, np.nan, 0.55, 0.55, np.nan],
        "best_ask_down": [0.60, 0.49, 0.50, np.nan, np.nan, 0.80, 0.80, 0.80],
    }, index=[10, 11, 12, 13, 14, 15, 16, 17])
    f = flag_quotes(q.iloc[::-1])  # order of the input does not matter
    assert f.index.tolist() == q.index[::-1].tolist()
    f = f.loc[q.index]
    assert f.index[f["crossed"]].tolist() == [11]
    assert f.index[f["locked"]].tolist() == [12]
    assert f.index[f["one_sided"]].tolist() == [13]
    assert f.index[f["empty"]].tolist() == [14]
    assert f.index[f["wide"]].tolist() == [15, 16, 17]
    assert f.index[f["stale"]].tolist() == []  # unchanged for 20 s only
    f2 = flag_quotes(q, stale_after=pd.Timedelta(seconds=15))
    assert f2.index[f2["stale"]].tolist() == [17]
    assert f.index[f["crossed_down"]].tolist() == [11]
    assert f.index[f["one_sided_down"]].tolist() == [13, 17]
    other = q.assign(slug=["m"] * 7 + ["n"])  # a new market starts a new run
    assert not flag_quotes(other, stale_after=pd.Timedelta(seconds=15))["stale"].any()
    with pytest.raises(SchemaError, match="missing column"):
        flag_quotes(q.drop(columns=["best_ask_up"]))


def test_real_quotes_crossed_one_sided_and_stale_are_flagged(shared_data: Path) -> None:
    q = read_file(shared_data / "polymarket_btc_15m_quotes_2026-02-16.parquet")
    flags = flag_quotes(q)
    assert flags.index.equals(q.index)
    assert flags["one_sided"].sum() == int((q["best_bid_up"].isna() ^ q["best_ask_up"].isna()).sum()) > 0
    assert flags["crossed"].sum() == int((q["best_bid_up"] > q["best_ask_up"]).sum())
    assert 0 < flags["stale"].sum() < len(q) and flags["wide"].sum() > 0


def test_book_flags() -> None:
    books = pd.DataFrame({
        "token_id": ["a", "a", "a", "b", "c", "c", "d", "d", "e"], "ts": [T0] * 9,
        "side": ["bid", "ask", "bid", "bid", "bid", "ask", "bid", "ask", "ask"],
        "level": [0, 0, 1, 0, 0, 0, 0, 0, 0], "price": [0.4, 0.5, 0.39, 0.3, 0.6, 0.55, 0.5, 0.5, 0.7]})
    f = flag_books(books).set_index("token_id")
    assert f["crossed"].to_dict() == {"a": False, "b": False, "c": True, "d": False, "e": False}
    assert f["locked"].to_dict() == {"a": False, "b": False, "c": False, "d": True, "e": False}
    assert f["one_sided"].to_dict() == {"a": False, "b": True, "c": False, "d": False, "e": True}
    assert f.loc["a", "best_bid"] == 0.4 and np.isnan(f.loc["e", "best_bid"])


def test_receipt_offset_recovers_a_planted_clock_error_and_the_real_collectors(shared_data: Path) -> None:
    rng = np.random.default_rng(5)
    ts = pd.Series(T0 + pd.to_timedelta(np.sort(rng.uniform(0, 3600, 5000)), unit="s"))
    latency = 0.05 + rng.exponential(0.1, ts.size)  # >= 50 ms, as a real receipt
    received = ts + pd.to_timedelta(latency - 2.5, unit="s")  # the collector's clock is 2.5 s behind
    off = receipt_offset(ts, received)
    # the 1 % quantile of latency is 0.05 + 0.1 * -ln(0.99) = 0.051 s, so the offset is 2.5 - 0.051 s
    assert abs(off.offset.total_seconds() - (2.5 - 0.05 - 0.1 * -np.log(0.99))) < 0.003
    assert off.share_early == 1.0 and off.n == 5000
    fresh = receipt_offset(ts, ts + pd.Timedelta(milliseconds=50))
    assert fresh.offset == pd.Timedelta(0) and fresh.median_latency == pd.Timedelta(milliseconds=50)
    tr = read_file(shared_data / "btcusdt_trades_2026-03-03.parquet")
    real = receipt_offset(tr["ts"], tr["received_at"])  # README: received ~2.7 s before the trade on 98 %
    assert 0.95 < real.share_early < 0.99 and pd.Timedelta(seconds=2.6) < real.offset < pd.Timedelta(seconds=2.8)
    assert real.corrected_median_latency >= pd.Timedelta(0)
    summary = off.summary()
    assert isinstance(summary, Summary) and str(off) == summary.as_text() and off._repr_html_() == summary.as_html()
    row = summary["offset"].loc["receipts"]
    assert row["offset_s"] == off.offset.total_seconds() and row["n"] == 5000 and row["share_early"] == 1.0
    assert row["corrected_median_latency_s"] == (off.median_latency + off.offset).total_seconds()
    assert summary.notes[0].startswith("n=5000: 100% received before the event; clock offset +2.4")
    with pytest.raises(SchemaError, match="naive"):
        receipt_offset(tr["ts"].dt.tz_localize(None), tr["received_at"])


def _exchange_and_oracle(seed: int) -> tuple[pd.Series, pd.Series]:
    w = simulate("edge", days=0.25, seed=seed, **SIMPLE_PROCESS)  # unsmoothed: the planted lag is the only lag
    k = w.klines_1s
    ex = pd.Series(k["close"].to_numpy(), index=pd.DatetimeIndex(k["ts"]) + S)  # a close is known at bar end
    orc = pd.Series(w.oracle["price"].to_numpy(), index=pd.DatetimeIndex(w.oracle["ts"]))
    return ex, orc


def test_clock_skew_recovers_a_planted_lag_on_a_simulated_oracle() -> None:
    ex, orc = _exchange_and_oracle(seed=4)
    base = estimate_clock_skew(ex, orc)
    assert base.lag == pd.Timedelta(0) and base.within_tolerance and base.correlation > 0.3
    late = orc.copy()
    late.index = late.index + 2 * S  # the oracle stamps everything 2 s late
    est = estimate_clock_skew(ex, late)
    assert est.lag == 2 * S and est.within_tolerance and est.correlation > 0.3
    assert est.curve.idxmax() == 2.0 and est.correlation > est.correlation_at_zero + 0.2
    early = orc.copy()
    early.index = early.index - 5 * S
    e5 = estimate_clock_skew(ex, early)
    assert e5.lag == -5 * S and not e5.within_tolerance
    summary = e5.summary()
    assert isinstance(summary, Summary) and str(e5) == summary.as_text()
    row = summary["skew"].iloc[0]
    assert row["lag_s"] == -5.0 and not row["within_tolerance"] and row["n"] == e5.n
    assert row["correlation"] == e5.correlation and row["tolerance_s"] == e5.tolerance.total_seconds()
    assert "OUTSIDE tolerance" in summary.notes[0] and "within tolerance" in est.summary().notes[0]
    # a sparse push feed derived from the late oracle: event-time correlation still finds 2 s
    sec = (late.index - late.index[0]).total_seconds().to_numpy()
    push = late.iloc[push_update_indices(sec, late.to_numpy(), 0.0005, 60)]
    assert len(push) < len(late) / 20 and estimate_clock_skew(ex, push).lag == 2 * S
    with pytest.raises(SchemaError, match="tz-aware"):
        estimate_clock_skew(ex.tz_localize(None), orc)
    with pytest.raises(ValueError, match="usable return pairs"):
        estimate_clock_skew(ex, orc.set_axis(orc.index + pd.Timedelta(days=3)))


def test_clock_skew_on_the_real_data_streams_oracle(shared_data: Path) -> None:
    ds = read_file(shared_data / "chainlink_btcusd_ds_2026-06-08.parquet")  # real 1 Hz, 1,842 seconds missing
    day = pd.Series(ds["price"].to_numpy(), index=pd.DatetimeIndex(ds["ts"]))
    a = day.iloc[:20_000]
    rng = np.random.default_rng(9)
    for lag_s in (2, 7):
        b = a.set_axis(a.index + lag_s * S) * np.exp(rng.normal(0, 2e-5, len(a)))  # delayed, noisy copy
        sec = (b.index - b.index[0]).total_seconds().to_numpy()
        sparse = b.iloc[push_update_indices(sec, b.to_numpy(), 0.0005, 60)]  # push-style rounds
        for target in (b, sparse):
            est = estimate_clock_skew(a, target)
            assert est.lag == lag_s * S, (lag_s, len(target), est.summary())
            assert est.within_tolerance == (lag_s <= 2)
