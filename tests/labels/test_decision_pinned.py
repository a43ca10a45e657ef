"""One market, two decision times: every column of decision_rows_from_frames pinned by hand, and the keywords the
store and feature-matrix paths forward to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch.features.matrix import build_feature_matrix_from_world
from pmresearch.labels import DECISION_COLUMNS, decision_rows, decision_rows_from_frames
from pmresearch.simulate import simulate

START = pd.Timestamp("2026-06-15", tz="UTC")  # instantaneous Data Streams settlement (DESIGN.md)
US = "datetime64[us, UTC]"


def _frames() -> dict[str, pd.DataFrame]:
    """A 5-minute market from 00:00; the settlement feed ticks each second from 23:59 to 00:06 at
    100 + 0.01 k (k seconds since 23:59), received on time; one quote at 00:01:30."""
    ws = START
    markets = pd.DataFrame({"slug": [f"btc-updown-5m-{int(ws.timestamp())}"], "interval_minutes": [5],
                            "window_start": [ws], "window_end": [ws + pd.Timedelta(minutes=5)],
                            "strike": [np.nan], "outcome_up": pd.array([pd.NA], dtype="Int8"),
                            "outcome_from": [None]})
    ticks = pd.date_range(START - pd.Timedelta(minutes=1), START + pd.Timedelta(minutes=6), freq="s")
    oracle = pd.DataFrame({"ts": ticks, "price": 100.0 + 0.01 * np.arange(len(ticks)), "received_at": ticks,
                           "feed": "BTC/USD", "source": "chainlink-data-streams"})
    quotes = pd.DataFrame({"ts": [START + pd.Timedelta(seconds=90)], "slug": markets["slug"],
                           "best_bid_up": [0.40], "best_ask_up": [0.44], "reference_price": [55.0],
                           "strike": [np.nan]})
    for frame, cols in ((markets, ("window_start", "window_end")), (oracle, ("ts", "received_at")),
                        (quotes, ("ts",))):
        for c in cols:
            frame[c] = frame[c].astype(US)
    return {"markets": markets, "oracle": oracle, "quotes": quotes}


def test_every_column_of_two_rows_by_hand() -> None:
    frames = _frames()
    rows = decision_rows_from_frames(frames, interval_minutes=5, offsets=["1m", "2m"])
    slug = frames["markets"]["slug"].iloc[0]
    nan = np.nan
    expected = pd.DataFrame({
        "t": pd.Series([START + pd.Timedelta(minutes=1), START + pd.Timedelta(minutes=2)]).astype(US),
        "slug": [slug, slug], "interval_minutes": pd.Series([5, 5], dtype="int16"),
        "window_start": pd.Series([START, START]).astype(US),
        "window_end": pd.Series([START + pd.Timedelta(minutes=5)] * 2).astype(US),
        "tau_s": [240.0, 180.0],
        "strike": [100.0 + 0.01 * 60] * 2, "strike_source": ["oracle", "oracle"],  # the tick at 00:00:00
        "spot": [100.0 + 0.01 * 120, 100.0 + 0.01 * 180], "spot_source": ["oracle", "oracle"],
        # the tick at 00:05:00 (103.6) >= the strike (100.6): Up
        "label": pd.array([1, 1], dtype="Int8"), "label_source": ["oracle", "oracle"],
        "bid_up": [nan, 0.40], "ask_up": [nan, 0.44], "mid_up": [nan, (0.40 + 0.44) / 2.0],
        "spread_up": [nan, 0.44 - 0.40], "bid_size_up": [nan, nan], "ask_size_up": [nan, nan],
        "book_age_s": [nan, 30.0], "spot_age_s": [0.0, 0.0],
    })[DECISION_COLUMNS]
    pd.testing.assert_frame_equal(rows, expected, check_exact=True, check_dtype=False)
    assert rows["interval_minutes"].dtype == "int16" and rows["label"].dtype == "Int8"
    assert str(rows["t"].dtype) == US


def test_forwarded_keywords_reach_the_rows() -> None:
    """decision_rows and the matrix builders pass the schedule and max_staleness on (DecisionRowOptions)."""
    frames = _frames()
    stale = decision_rows_from_frames(frames, interval_minutes=5, offsets=["2m"], max_staleness=pd.Timedelta(0))
    assert stale["spot"].iloc[0] == 100.0 + 0.01 * 180 and np.isnan(stale["bid_up"].iloc[0])  # 30 s old: dropped
    world = simulate("edge", days=0.1, seed=4)
    full = build_feature_matrix_from_world(world, interval_minutes=5, offsets="1m,2m", names=[])
    strict = build_feature_matrix_from_world(world, interval_minutes=5, offsets="1m,2m", names=[],
                                             max_staleness=pd.Timedelta(0))
    assert set(full["t"] - full["window_start"]) == {pd.Timedelta(minutes=1), pd.Timedelta(minutes=2)}
    assert full["book_age_s"].max() > 0 and (strict["book_age_s"].dropna() == 0).all()
    # refused before the store is read (None has no read_table: reading it would be an AttributeError)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['every'\]"):
        decision_rows(None, every=30)  # type: ignore[arg-type, call-arg]
