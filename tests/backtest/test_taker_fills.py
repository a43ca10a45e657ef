"""The taker threshold engine: fills after the taker delay at the standing ask, mirrored Down asks, fees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch import rules
from pmresearch.backtest import TakerThreshold, run_taker_threshold


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def test_fill_after_the_taker_delay_at_the_standing_ask() -> None:
    slug = "btc-updown-15m-1781486100"
    rows = pd.DataFrame({
        "t": [_ts("2026-06-15 01:16:00"), _ts("2026-06-15 01:17:00"), _ts("2026-06-15 01:18:00")],
        "slug": slug, "window_start": _ts("2026-06-15 01:15"), "window_end": _ts("2026-06-15 01:30"),
        "p_model": [0.70, 0.70, 0.70], "bid_up": [0.48, 0.48, 0.48], "ask_up": [0.50, 0.50, 0.50],
        "label": pd.array([1, 1, 1], dtype="Int8"),
    })
    quotes = pd.DataFrame({
        "slug": slug,
        "ts": [_ts("2026-06-15 01:16:00"), _ts("2026-06-15 01:16:00.1"), _ts("2026-06-15 01:17:00"),
               _ts("2026-06-15 01:17:00.2")],
        "best_bid_up": [0.48, 0.50, 0.48, 0.47], "best_ask_up": [0.50, 0.52, 0.50, 0.49],
        "true_prob_up": [0.6, 0.6, 0.6, 0.6],
    })
    markets = pd.DataFrame({"slug": [slug], "fee_rate": [np.nan], "fee_exponent": [np.nan]})
    trades, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.05, 10.0, 1))
    # 250 ms delay (2026-06-15): the first order meets an ask of 0.52 > its 0.50 limit and misses;
    # the second meets 0.49 and fills there; the third would meet only a quote 60 s old (> 10 s): missed.
    assert counts == {"signals": 3, "filled": 1, "missed": 2, "closed": 0, "unlabeled": 0}
    (tr,) = trades.itertuples()
    assert tr.t_fill == _ts("2026-06-15 01:17:00.25") and tr.price == 0.49
    fee = rules.taker_fee(10, 0.49, 0.07, 1.0)
    assert tr.fee == fee and tr.capital == pytest.approx(4.9 + fee)
    assert tr.pnl == pytest.approx(10 - 4.9 - fee)
    assert tr.true_edge == pytest.approx(0.6 - 0.49 - fee / 10)


def test_down_side_uses_the_mirrored_ask() -> None:
    slug = "btc-updown-15m-1781486100"
    rows = pd.DataFrame({"t": [_ts("2026-06-15 01:16:00")], "slug": slug, "window_start": _ts("2026-06-15 01:15"),
                         "window_end": _ts("2026-06-15 01:30"), "p_model": [0.2], "bid_up": [0.55],
                         "ask_up": [0.57], "label": pd.array([0], dtype="Int8")})
    quotes = pd.DataFrame({"slug": slug, "ts": [_ts("2026-06-15 01:15:59")], "best_bid_up": [0.55],
                           "best_ask_up": [0.57]})
    markets = pd.DataFrame({"slug": [slug], "fee_rate": [0.0], "fee_exponent": [1.0]})  # metadata: no fee
    trades, _ = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.1, 5.0, 1))
    assert trades["side"].tolist() == ["Down"] and trades["price"].tolist() == [0.45]
    assert trades["fee"].tolist() == [0.0] and trades["pnl"].tolist() == [pytest.approx(5 * 0.55)]


def test_no_fill_at_or_after_the_close_nor_against_a_stale_quote() -> None:
    """A decision 100 ms before the end reaches the book after it (250 ms delay): no trade, even at
    tau 0 where the model knows the outcome. A quote older than book_max_age_s at the fill: no trade."""
    slug = "btc-updown-15m-1781486100"
    end = _ts("2026-06-15 01:30")
    rows = pd.DataFrame({"t": [end - pd.Timedelta(milliseconds=100), _ts("2026-06-15 01:20:00")], "slug": slug,
                         "window_start": _ts("2026-06-15 01:15"), "window_end": end, "p_model": [0.99, 0.80],
                         "bid_up": [0.48, 0.48], "ask_up": [0.50, 0.50], "label": pd.array([1, 1], dtype="Int8")})
    quotes = pd.DataFrame({"slug": slug, "ts": [_ts("2026-06-15 01:19:45"), end - pd.Timedelta(seconds=1)],
                           "best_bid_up": [0.48, 0.48], "best_ask_up": [0.50, 0.50]})
    markets = pd.DataFrame({"slug": [slug], "fee_rate": [0.0], "fee_exponent": [1.0]})
    trades, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.05, 10.0, 2))
    # the first row's order arrives at 01:30:00.15 (closed); the second meets a quote 15.25 s old (> 10 s)
    assert trades.empty and counts == {"signals": 2, "filled": 0, "missed": 1, "closed": 1, "unlabeled": 0}
    fresh, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.05, 10.0, 2, book_max_age_s=20.0))
    assert len(fresh) == 1 and fresh["t"].iloc[0] == _ts("2026-06-15 01:20:00") and counts["closed"] == 1
