"""outcomes_from_oracle on the real Data Streams day, constructed ties and missing ticks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.data import read_file
from pmresearch.labels import outcomes_from_oracle


def _ds_day(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    markets = pd.concat([read_file(p) for p in sorted(shared_data.glob("polymarket_btc_*m_markets_*.parquet"))])
    oracle = pd.concat([read_file(p) for p in sorted(shared_data.glob("chainlink_btcusd_*.parquet"))])
    return markets, oracle


def test_matches_official_outcomes_where_both_ticks_exist(shared_data: Path) -> None:
    markets, oracle = _ds_day(shared_data)
    ds = oracle[oracle["source"] == "chainlink-data-streams"]
    ticks = set(ds["ts"])
    day = markets[markets["window_start"].isin(ticks) | markets["window_end"].isin(ticks)]
    assert len(day) > 200
    out = outcomes_from_oracle(day, oracle)
    both = day["window_start"].isin(ticks).to_numpy() & day["window_end"].isin(ticks).to_numpy()
    assert both.sum() > 200
    official = day["outcome_up"].to_numpy(dtype=float)
    np.testing.assert_array_equal(out.to_numpy(dtype=float, na_value=np.nan)[both], official[both])
    assert out[~both].isna().all()  # no nearest-tick fallback


def test_aggregator_rounds_do_not_settle(shared_data: Path) -> None:
    """February markets settle on Data Streams; the Polygon aggregator rounds must not be used."""
    markets, oracle = _ds_day(shared_data)
    feb = markets[markets["window_start"] < pd.Timestamp("2026-03-01", tz="UTC")]
    assert len(feb) > 0
    assert outcomes_from_oracle(feb, oracle).isna().all()
    # control: the aggregator's prices stamped exactly at these windows' boundaries still do not settle them, and
    # the very same ticks labelled as Data Streams do (so the NA above comes from the source rule, not from timing)
    rounds = oracle[oracle["source"] == "chainlink-polygon-aggregator"].sort_values("ts")
    edges = pd.Series(pd.concat([feb["window_start"], feb["window_end"]]).unique()).sort_values()
    at_edges = pd.merge_asof(pd.DataFrame({"ts": edges.to_numpy()}), rounds, on="ts", direction="nearest")
    assert len(rounds) > 0 and at_edges["price"].notna().all()
    assert outcomes_from_oracle(feb, at_edges).isna().all()
    settled = outcomes_from_oracle(feb, at_edges.assign(source="chainlink-data-streams"))
    assert settled.notna().all()


def _frame(prices: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.to_datetime(list(prices), utc=True).astype("datetime64[us, UTC]"),
                         "price": list(prices.values()), "source": "chainlink-data-streams"})


def _markets(starts: list[str], interval: int = 5) -> pd.DataFrame:
    ws = pd.to_datetime(starts, utc=True).astype("datetime64[us, UTC]")
    return pd.DataFrame({"slug": [f"btc-updown-{interval}m-{int(t.timestamp())}" for t in ws],
                         "interval_minutes": interval, "window_start": ws,
                         "window_end": ws + pd.Timedelta(minutes=interval)})


def test_tie_is_up_and_missing_is_na() -> None:
    oracle = _frame({"2026-06-15T00:00:00Z": 100.0, "2026-06-15T00:05:00Z": 100.0,
                     "2026-06-15T00:10:00Z": 99.0, "2026-06-15T00:20:00Z": 98.0})
    out = outcomes_from_oracle(_markets(["2026-06-15T00:00:00Z", "2026-06-15T00:05:00Z",
                                         "2026-06-15T00:15:00Z"]), oracle)
    assert out.tolist() == [1, 0, pd.NA]
    assert str(out.dtype) == "Int8"


def test_twap_rule_needs_every_tick_of_the_lookback() -> None:
    start = pd.Timestamp("2026-08-10T00:00:00Z")
    secs = pd.date_range(start - pd.Timedelta(seconds=40), start + pd.Timedelta(minutes=5), freq="s")
    prices = {str(t): 100.0 + 0.01 * i for i, t in enumerate(secs)}
    m = _markets([str(start)])
    assert outcomes_from_oracle(m, _frame(prices)).tolist() == [1]  # rising series, 30 s TWAP both ends
    missing = dict(prices)
    missing.pop(str(start + pd.Timedelta(seconds=290)))  # inside the end lookback (00:04:31 .. 00:05:00)
    assert outcomes_from_oracle(m, _frame(missing)).isna().all()
    # the instantaneous rule forced on the same data only needs the two stamps
    assert outcomes_from_oracle(m, _frame(missing), settlement="instant").tolist() == [1]


def test_naive_window_times_are_rejected() -> None:
    m = _markets(["2026-06-15T00:00:00Z"])
    m["window_start"] = m["window_start"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="naive"):
        outcomes_from_oracle(m, _frame({"2026-06-15T00:00:00Z": 1.0}))
