"""Calibration statistics (pmresearch.simulate.calibration): hand-worked answers, controls, the real sample, a world.

References: the lag-1 autocorrelation of an AR(1) is phi; an i.i.d. series has variance ratio 1; the MA(1)
``r_t = (e_t + e_{t-1}) / 2`` has lag-1 autocorrelation 1/2 and 60-s variance ``(1 + 4 * 59 + 1) / 4 = 59.5``
against ``60 * 1/2 = 30``: ratio 59.5 / 30 (Lo & MacKinlay 1988, the variance ratio of an MA(1)).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pmresearch.simulate.calibration import (
    REAL_RANGES,
    CalibrationStats,
    book_event_stats,
    book_snapshot_stats,
    calibration_stats,
    calibration_table,
    frames_from_dir,
    frames_from_world,
    inside,
    oracle_grid,
    oracle_stats,
    quote_interval,
    spread_stats,
    tail_share,
)

T0 = pd.Timestamp("2026-06-15", tz="UTC")


def _oracle(log_price: np.ndarray, drop: tuple[int, ...] = (), source: str = "chainlink-data-streams") -> pd.DataFrame:
    ts = T0 + pd.to_timedelta(np.arange(len(log_price)), unit="s")
    f = pd.DataFrame({"ts": ts, "price": np.exp(log_price), "source": source})
    return f.drop(index=list(drop)).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ oracle
def test_ar1_autocorrelation_is_phi() -> None:
    rng = np.random.default_rng(7)
    e = rng.standard_normal(200_000) * 1e-4
    r = np.empty_like(e)
    r[0] = e[0]
    for i in range(1, len(e)):
        r[i] = 0.3 * r[i - 1] + e[i]
    got = oracle_stats(oracle_grid(_oracle(np.r_[0.0, np.cumsum(r)])))
    assert got["oracle_ac1"] == pytest.approx(0.3, abs=0.01)  # se ~ 0.002
    # AR(1) variance ratio at q: 1 + 2 sum_{k<q} (1 - k/q) phi^k, about (1 + phi) / (1 - phi) = 1.857 for q = 60
    q = 60
    vr = 1 + 2 * sum((1 - k / q) * 0.3**k for k in range(1, q))
    assert got["oracle_vr60"] == pytest.approx(vr, abs=0.1)


def test_iid_variance_ratio_is_one_and_ma1_is_closed_form() -> None:
    rng = np.random.default_rng(3)
    e = rng.standard_normal(200_001) * 1e-4
    iid = oracle_stats(oracle_grid(_oracle(np.r_[0.0, np.cumsum(e[1:])])))
    assert iid["oracle_vr60"] == pytest.approx(1.0, abs=0.08)  # se ~ 0.02
    assert iid["oracle_ac1"] == pytest.approx(0.0, abs=0.01)
    ma = (e[1:] + e[:-1]) / 2.0
    smooth = oracle_stats(oracle_grid(_oracle(np.r_[0.0, np.cumsum(ma)])))
    assert smooth["oracle_vr60"] == pytest.approx(59.5 / 30.0, abs=0.1)
    assert smooth["oracle_ac1"] == pytest.approx(0.5, abs=0.01)


def test_gaps_are_excluded_and_other_sources_ignored() -> None:
    lp = np.zeros(400)
    lp[200:] = 0.01  # one step of 1% between seconds 199 and 200
    # with second 200 missing, no 1-s return nor any full 60-s span crosses the step: all returns 0
    grid = oracle_grid(_oracle(lp, drop=(200,)))
    assert np.isnan(grid[200]) and len(grid) == 400
    got = oracle_stats(grid)
    assert math.isnan(got["oracle_vr60"]) and math.isnan(got["oracle_ac1"])  # zero variance
    # control: without the gap the step is seen
    whole = oracle_stats(oracle_grid(_oracle(lp)))
    assert whole["oracle_vr60"] > 0
    # push-feed rows are not the Data Streams series
    assert len(oracle_grid(_oracle(lp, source="chainlink-polygon-aggregator"))) == 0


# ------------------------------------------------------------------------------------------------ tails
def test_planted_ten_sd_returns_counted_exactly() -> None:
    r = np.tile([1e-4, -1e-4], 2500)
    planted = (2000, 3000, 4000)
    r[list(planted)] = 1e-3  # 10 sd of the +-1e-4 series (sd of previous 1,440 <= 1.04e-4 after a plant)
    share, n = tail_share(r, 1440, 720)
    assert n == len(r) - 720
    assert share == pytest.approx(100.0 * 3 / (len(r) - 720), rel=1e-12)
    # the same series as klines through calibration_stats: close-to-close returns of consecutive minutes
    closes = 60_000.0 * np.exp(np.r_[0.0, np.cumsum(r)])
    k = pd.DataFrame({"ts": T0 + pd.to_timedelta(np.arange(len(closes)), unit="min"), "close": closes,
                      "symbol": "BTCUSDT", "interval": "1m"})
    stats = calibration_stats({"klines": k})
    assert stats["tail_share_1m_pct"] == pytest.approx(share, rel=1e-9)
    # control: a plant of 4 sd is not a tail
    r[list(planted)] = 4e-4
    assert tail_share(r, 1440, 720)[0] == 0.0


def test_one_second_tails_need_3600_previous() -> None:
    r = np.tile([1e-5, -1e-5], 2000)
    r[3700] = 1e-4
    assert tail_share(r, 3600, 3600) == (pytest.approx(100.0 / 400), 400)
    got = calibration_stats({"oracle": _oracle(np.r_[0.0, np.cumsum(r)])})
    assert got["tail_share_1s_pct"] == pytest.approx(100.0 / 400, rel=1e-9)


# ------------------------------------------------------------------------------------------------ quotes, books
def test_spread_by_hand_with_down_complement_and_bid_filter() -> None:
    q = pd.DataFrame({
        "best_bid_up": [0.50, 0.40, 0.05, np.nan, 0.70],
        "best_ask_up": [0.51, 0.43, 0.09, np.nan, 0.72],
        "best_bid_down": [np.nan, np.nan, np.nan, 0.38, np.nan],
        "best_ask_down": [np.nan, np.nan, np.nan, 0.40, np.nan],
    })
    # spreads in cents of rows with bid in [0.10, 0.90]: 1, 3, (row 2 excluded), 2 (0.60 / 0.62), 2
    counts: dict[str, int] = {}
    got = spread_stats(q, counts)
    assert got["spread_median_c"] == 2.0
    assert counts == {"spread_median_c": 4, "spread_p90_c": 4}  # the four rows in the bid range
    assert got["spread_p90_c"] == pytest.approx(np.quantile([1, 3, 2, 2], 0.9))
    # control: a wider ask changes the answer
    q.loc[0, "best_ask_up"] = 0.55
    assert spread_stats(q)["spread_median_c"] == 2.5


def _book(ts: pd.Timestamp, outcome: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
          slug: str = "btc-updown-15m-1") -> pd.DataFrame:
    rows = [{"ts": ts, "slug": slug, "token_id": f"{slug}-{outcome}", "outcome": outcome, "side": side,
             "level": i, "price": p, "size": z}
            for side, levels in (("bid", bids), ("ask", asks)) for i, (p, z) in enumerate(levels)]
    return pd.DataFrame(rows)


def test_book_snapshot_sizes_and_levels_by_hand() -> None:
    books = pd.concat([
        _book(T0, "Up", [(0.50, 10), (0.49, 20)], [(0.51, 100), (0.52, 5), (0.53, 5)]),
        _book(T0 + pd.Timedelta(seconds=2), "Up", [(0.60, 10)], [(0.61, 200)]),
        _book(T0 + pd.Timedelta(seconds=4), "Up", [(0.95, 10)], [(0.96, 999)]),  # bid above 0.90: excluded
        _book(T0, "Down", [(0.49, 7)], [(0.50, 10)]),  # an Up book exists: the Down books are not mixed in
    ], ignore_index=True)
    got = book_snapshot_stats(books)
    assert got["ask_size_median"] == 150.0
    assert got["ask_size_p10"] == pytest.approx(110.0)
    assert got["ask_size_p90"] == pytest.approx(190.0)
    assert got["levels_per_book"] == pytest.approx(np.median([5, 2, 2, 2]))
    # a source with Down books only: Up bid = 1 - Down ask, Up best-ask size = Down best-bid size
    down = book_snapshot_stats(books[books["outcome"] == "Down"])
    assert down["ask_size_median"] == 7.0


def _events(rows: list[tuple[float, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"ts": T0 + pd.Timedelta(seconds=t), "slug": "s", "token_id": "tok", "outcome": "Up",
                          "side": side, "price": p, "size": z} for t, side, p, z in rows])


def test_book_event_intervals_by_hand() -> None:
    ev = _events([
        (0.0, "bid", 0.50, 10), (0.0, "ask", 0.52, 5), (0.0, "ask", 0.53, 8),  # initial book: 0.50 / 0.52 x 5
        (0.1, "ask", 0.52, 7),  # ask size: an ask change, not a touch change
        (0.3, "bid", 0.51, 3),  # best bid up: a touch change
        (0.6, "ask", 0.52, 0),  # best ask removed: 0.53 x 8, both kinds
        (1.0, "bid", 0.40, 9),  # a level behind the touch: neither
        (1.6, "ask", 0.53, 4),  # best ask size: ask change
    ])
    counts: dict[str, int] = {}
    got = book_event_stats(ev, counts)
    assert counts["touch_interval_median_s"] == 1 and counts["ask_change_interval_mean_s"] == 2  # intervals
    # touch changes at 0.3, 0.6: one interval of 0.3 s
    assert got["touch_interval_median_s"] == pytest.approx(0.3)
    assert got["touch_interval_mean_s"] == pytest.approx(0.3)
    # ask changes at 0.1, 0.6, 1.6: intervals 0.5, 1.0
    assert got["ask_change_interval_median_s"] == pytest.approx(0.75)
    assert got["ask_change_interval_mean_s"] == pytest.approx(0.75)


def test_quote_interval_per_market() -> None:
    q = pd.DataFrame({"slug": ["a", "b", "a", "b", "a"],
                      "ts": T0 + pd.to_timedelta([0.0, 0.5, 2.0, 1.0, 4.0], unit="s")})
    assert quote_interval(q) == pytest.approx(np.median([2.0, 2.0, 0.5]))


# ------------------------------------------------------------------------------------------------ result
def test_missing_inputs_are_nan_with_a_note_beside_finite_ones() -> None:
    q = pd.DataFrame({"slug": ["a", "a"], "ts": [T0, T0 + pd.Timedelta(seconds=2)], "best_bid_up": [0.5, 0.5],
                      "best_ask_up": [0.51, 0.52]})
    s = calibration_stats({"quotes": q})
    assert isinstance(s, CalibrationStats)
    assert s["spread_median_c"] == pytest.approx(1.5)
    assert math.isnan(s["oracle_vr60"]) and math.isnan(s["touch_interval_median_s"])
    assert any("oracle_ac1" in n and "oracle" in n for n in s.notes)
    assert any("book events" in n for n in s.notes)
    assert "statistics" in s.summary().names
    assert s.frame.loc["spread_median_c", "inside"] in (True, False)


def test_inside_rule() -> None:
    assert inside("spread_median_c", 1.2) and not inside("spread_median_c", 1.3)  # 25% of a single number
    assert inside("oracle_vr60", 2.1) and not inside("oracle_vr60", 2.5)
    assert inside("share_up", 0.5) is None and inside("oracle_vr60", math.nan) is False


# ------------------------------------------------------------------------------------------------ real and simulated
#: Statistics of ../shared/data outside the issue's range, with why (measured here: see the module docstring).
REAL_OUTSIDE = {
    "ask_size_median": "125.7 on the Up books of this sample; the issue's range covers its unseen twin too",
    "ask_size_p90": "619 on this sample's Up books",
    "touch_interval_median_s": "0.086 s over both days (0.082 on 2026-04-13 alone)",
}


@pytest.mark.slow
def test_real_sample_in_the_issue_ranges(shared_data) -> None:
    s = calibration_stats(frames_from_dir(shared_data), "real")
    for name, (lo, hi) in REAL_RANGES.items():
        value = s[name]
        assert np.isfinite(value), (name, s.notes)
        if name in REAL_OUTSIDE:  # near: within 25% of the range (the issue's rule for a single number)
            assert lo * 0.75 <= value <= hi * 1.25, (name, value)
        else:
            assert inside(name, value), (name, value, (lo, hi))


@pytest.mark.slow
def test_simulated_world_finite_or_nan_with_note() -> None:
    from pmresearch.simulate import simulate

    w = simulate("no-edge", days=0.5, seed=1, progress=False)
    s = calibration_stats(frames_from_world(w), w.tag)
    notes = " ".join(s.notes)
    for name, value in s.values.items():
        assert np.isfinite(value) or name in notes, name
    assert np.isfinite(s["spread_median_c"]) and np.isfinite(s["oracle_vr60"])
    table = calibration_table(s, s, names=("a", "b"))
    assert list(table.columns[:3]) == ["description", "a", "b"]
    # every finite statistic says how many observations it stands on; the table carries them per source
    assert all(s.counts[k] > 0 for k, v in s.values.items() if np.isfinite(v))
    assert (table["n a"] == pd.Series(dict(s.counts))).all() and s.frame["n"].equals(pd.Series(dict(s.counts),
                                                                                                 name="n"))
    assert s.counts["share_up"] == w.markets["outcome_up"].notna().sum()
    assert (table["a"].fillna(-1) == table["b"].fillna(-1)).all()
    # the calibrated process and book on half a day (sampling sd of a 2-day world's statistic: 0.013 for the
    # autocorrelation, 0.077 for the variance ratio, 0.010 points for the 1-s tail share; test_realism.py)
    for name in ("spread_median_c", "spread_p90_c", "levels_per_book", "oracle_ac1", "oracle_vr60",
                 "tail_share_1s_pct", "ask_change_interval_median_s"):
        assert inside(name, s[name]), (name, s[name], REAL_RANGES[name])


@pytest.mark.slow
def test_world_kline_history_feeds_the_one_minute_tails() -> None:
    """A world's kline history (``kline_history_days``) joins its klines in the calibration frames, so the
    1-minute tail share stands on ~13 times as many returns; without it the statistic has a week's."""
    from pmresearch.simulate import simulate

    w = simulate("no-edge", days=0.5, seed=1, kline_history_days=6, intervals=(5,))
    k = frames_from_world(w)["klines"]
    assert len(k) == len(w.kline_history) + len(w.klines) == 6 * 1440 + 720
    assert k["ts"].is_monotonic_increasing and k["ts"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
    s = calibration_stats({"klines": k}, "k")
    assert s.counts["tail_share_1m_pct"] == len(k) - 1 - 720


def test_touch_kernel_compiled_equals_its_python_reference() -> None:
    from pmresearch.simulate.calibration import touch_series

    rng = np.random.default_rng(5)
    n = 3000
    ev = pd.DataFrame({"ts": T0 + pd.to_timedelta(np.sort(rng.integers(0, 600, n)) * 0.05, unit="s"),
                       "token_id": rng.choice(["a", "b", "c"], n), "side": rng.choice(["bid", "ask"], n),
                       "price": rng.integers(1, 100, n) / 100.0,
                       "size": np.where(rng.random(n) < 0.3, 0.0, rng.integers(1, 500, n).astype(float))})
    nb, py = touch_series(ev), touch_series(ev, compiled=False)
    pd.testing.assert_frame_equal(nb, py)
    assert nb["best_bid"].notna().any() and nb["best_ask"].notna().any()
    # an independent replay with dicts: the last instant of token "a"
    a = ev[ev["token_id"] == "a"]
    a = a.iloc[np.argsort(a["ts"].to_numpy(), kind="stable")]
    book: dict[tuple[str, float], float] = {}
    for side, p, z in a[["side", "price", "size"]].itertuples(index=False):
        book[(side, p)] = z
    bids = [p for (sd, p), z in book.items() if sd == "bid" and z > 0]
    asks = [p for (sd, p), z in book.items() if sd == "ask" and z > 0]
    last = nb[nb["token_id"] == "a"].iloc[-1]
    assert last["best_bid"] == pytest.approx(max(bids)) and last["best_ask"] == pytest.approx(min(asks))
    assert last["ask_size"] == book[("ask", min(asks))]


def test_mid_minus_black_scholes_by_hand() -> None:
    """A market whose mid is the BS digital (strike recorded, spot the quote logger's, 60 1m returns of
    +-1e-3: sigma = sqrt(60e-6 * year / 3600 s)) is 0 c off; the mid moved 2 c is 2 c off."""
    from pmresearch._time import SECONDS_PER_YEAR
    from pmresearch.pricing import digital_bs
    from pmresearch.simulate.calibration import mid_bs_stats

    start = T0 + pd.Timedelta(hours=2)
    end = start + pd.Timedelta(minutes=15)
    slug = f"btc-updown-15m-{int(start.timestamp())}"
    n = 2 * 60 + 15
    closes = 60_000.0 * np.exp(np.cumsum(np.tile([1e-3, -1e-3], n)[:n]))
    klines = pd.DataFrame({"ts": T0 + pd.to_timedelta(np.arange(n), unit="min"), "open": closes, "close": closes,
                           "symbol": "BTCUSDT", "interval": "1m"})
    sigma = math.sqrt(60 * 1e-6 * SECONDS_PER_YEAR / 3600.0)
    spot, strike = 60_010.0, 60_000.0
    rows = []
    for minute in (5, 10):
        t = start + pd.Timedelta(minutes=minute)
        p = float(digital_bs(spot, strike, (end - t).total_seconds() / SECONDS_PER_YEAR, sigma))
        rows.append({"ts": t - pd.Timedelta(seconds=1), "slug": slug, "market_id": "m", "interval_minutes": 15,
                     "window_start": start, "window_end": end, "strike": strike, "strike_logged": strike,
                     "reference_price": spot, "best_bid_up": p - 0.005, "best_ask_up": p + 0.005,
                     "best_bid_down": 1 - p - 0.005, "best_ask_down": 1 - p + 0.005, "source": "test"})
    quotes = pd.DataFrame(rows)
    markets = pd.DataFrame({"slug": [slug], "asset": ["BTC"], "interval_minutes": pd.array([15], dtype="int16"),
                            "window_start": [start], "window_end": [end], "outcome_up": pd.array([1], dtype="Int8"),
                            "outcome_from": ["resolution"], "strike": [strike], "source": ["test"]})
    got, notes = mid_bs_stats({"markets": markets, "quotes": quotes, "klines": klines})
    assert got["abs_mid_bs_5m_c"] == pytest.approx(0.0, abs=1e-9), notes
    assert got["abs_mid_bs_10m_c"] == pytest.approx(0.0, abs=1e-9), notes
    shifted = quotes.assign(best_bid_up=quotes["best_bid_up"] + 0.02, best_ask_up=quotes["best_ask_up"] + 0.02)
    moved, _ = mid_bs_stats({"markets": markets, "quotes": shifted, "klines": klines})
    assert moved["abs_mid_bs_5m_c"] == pytest.approx(2.0, abs=1e-9)
    assert moved["abs_mid_bs_10m_c"] == pytest.approx(2.0, abs=1e-9)
