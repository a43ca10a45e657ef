"""The taker threshold engine: the edge a strategy trades on is net of the fee its fill is charged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch import rules
from pmresearch.backtest import TakerThreshold, run_taker_threshold
from pmresearch.backtest.engine import fee_per_share


def _market(start: str, p_model: float, bid_up: float, ask_up: float, label: int,
            fee: tuple[float, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One 15-minute market with one decision row at start + 1 min and a book that does not move."""
    t0 = pd.Timestamp(start, tz="UTC")
    slug = f"btc-updown-15m-{int(t0.timestamp())}"
    t = t0 + pd.Timedelta(minutes=1)
    rows = pd.DataFrame({"t": [t], "slug": slug, "window_start": t0, "window_end": t0 + pd.Timedelta(minutes=15),
                         "p_model": [p_model], "bid_up": [bid_up], "ask_up": [ask_up],
                         "label": pd.array([label], dtype="Int8")})
    quotes = pd.DataFrame({"slug": slug, "ts": [t - pd.Timedelta(seconds=1)], "best_bid_up": [bid_up],
                           "best_ask_up": [ask_up], "true_prob_up": [p_model]})
    rate, expo = fee if fee is not None else (np.nan, np.nan)
    markets = pd.DataFrame({"slug": [slug], "fee_rate": [rate], "fee_exponent": [expo]})
    return rows, quotes, markets


# (start, p_model, bid_up, ask_up, label, market fee, shares, side, price, fee charged, edge), worked by hand:
CASES = [
    # 2026-06-15: rate 0.07, exponent 1. 20 * 0.07 * 0.49 * 0.51 = 0.34986 (5 decimals: the floor keeps it);
    # edge = 0.60 - 0.49 - 0.34986 / 20 = 0.092507.
    ("2026-06-15 01:15", 0.60, 0.47, 0.49, 1, None, 20.0, "Up", 0.49, 0.34986, 0.092507),
    # 2026-02-20 (launch schedule, rate 0.25, exponent 2; no taker delay): 20 * 0.25 * (0.41 * 0.59)^2
    # = 0.29257805, floored to 0.29257; edge = 0.50 - 0.41 - 0.29257 / 20 = 0.0753715 (0.0753710975 unfloored).
    ("2026-02-20 10:00", 0.50, 0.39, 0.41, 0, None, 20.0, "Up", 0.41, 0.29257, 0.0753715),
    # Down at the mirror of a fine-tick bid: ask_down = 1 - 0.965 = 0.035; 13 * 0.07 * 0.035 * 0.965
    # = 0.03073525, floored to 0.03073; edge = (1 - 0.02) - 0.035 - 0.03073 / 13 = 0.94263615384...
    ("2026-06-15 02:00", 0.02, 0.965, 0.967, 0, None, 13.0, "Down", 0.035, 0.03073, 0.945 - 0.03073 / 13),
    # market metadata overrides the timeline: rate 0.1, exponent 1 on 7 shares at 0.33:
    # 7 * 0.1 * 0.33 * 0.67 = 0.15477 (kept); edge = 0.45 - 0.33 - 0.15477 / 7 = 0.0978957142857...
    ("2026-06-15 03:00", 0.45, 0.31, 0.33, 1, (0.1, 1.0), 7.0, "Up", 0.33, 0.15477, 0.12 - 0.15477 / 7),
]


@pytest.mark.parametrize("case", CASES, ids=["v2-fee", "launch-fee-floored", "down-fine-tick", "metadata-fee"])
def test_edge_equals_the_charged_pnl_per_share(case: tuple) -> None:
    start, p_model, bid, ask, label, fee_md, shares, side, price, fee, edge = case
    rows, quotes, markets = _market(start, p_model, bid, ask, label, fee_md)
    trades, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.01, shares, 1))
    assert counts == {"signals": 1, "filled": 1, "missed": 0, "closed": 0, "unlabeled": 0}
    (tr,) = trades.itertuples()
    assert (tr.side, tr.price, tr.shares) == (side, price, shares)
    # the fee charged is rules.taker_fee of the fill, and it is the hand-worked one
    assert tr.fee == pytest.approx(fee, abs=1e-12)
    rate, expo = fee_md if fee_md is not None else (v[0] for v in rules.fees_at(pd.DatetimeIndex(rows["t"])))
    assert tr.fee == rules.taker_fee(shares, price, rate, expo)
    # the strategy's edge is the expected P&L per share of the fill at its own probability ...
    p_side = p_model if side == "Up" else 1.0 - p_model
    assert tr.edge == pytest.approx(edge, abs=1e-12)
    assert tr.edge == pytest.approx(p_side - tr.price - tr.fee / tr.shares, abs=1e-15)
    # ... so the realized P&L per share is the edge plus the outcome's surprise, fee included
    won = float(tr.won)
    assert tr.pnl / tr.shares == pytest.approx(tr.edge + (won - p_side), abs=1e-12)
    assert tr.true_edge == pytest.approx(tr.edge, abs=1e-15)  # true_prob_up = p_model here


def test_the_floored_fee_decides_the_signal() -> None:
    """A threshold between the floored edge (0.0753715) and the unfloored one (0.0753710975) trades:
    the strategy compares the fee it will be charged, not the formula before the 5-decimal floor."""
    rows, quotes, markets = _market("2026-02-20 10:00", 0.50, 0.39, 0.41, 0)
    unfloored = 0.50 - 0.41 - 0.25 * (0.41 * 0.59) ** 2
    assert unfloored == pytest.approx(0.0753710975, abs=1e-12)
    trades, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.0753713, 20.0, 1))
    assert counts["filled"] == 1 and trades["edge"].iloc[0] == pytest.approx(0.0753715, abs=1e-12)
    _, counts = run_taker_threshold(rows, quotes, markets, TakerThreshold(0.0753716, 20.0, 1))
    assert counts["signals"] == 0


def test_fee_per_share_is_the_floored_fee_over_shares() -> None:
    px = np.array([0.41, 0.5, 0.035])
    got = fee_per_share(20.0, px, np.array([0.25, 0.07, 0.07]), np.array([2.0, 1.0, 1.0]))
    # 20 * 0.25 * (0.41 * 0.59)^2 = 0.29257805 -> 0.29257; 20 * 0.07 * 0.25 = 0.35; 20 * 0.07 * 0.035 * 0.965
    # = 0.047285 -> 0.04728 (the floor takes 2.5e-7 per share)
    np.testing.assert_allclose(got, [0.29257 / 20, 0.35 / 20, 0.04728 / 20], rtol=0, atol=1e-15)
