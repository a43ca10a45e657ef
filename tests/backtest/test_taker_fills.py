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
    # the second meets 0.49 and fills there; the window's one position is then taken.
    assert counts == {"signals": 3, "filled": 1, "missed": 1}
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
