"""The taker threshold backtest and the go/no-go verdict on worlds with and without an edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch import rules
from pmresearch.backtest import GoNoGoConfig, TakerThreshold, evaluate, run_go_no_go, run_taker_threshold


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


def test_verdict_requires_every_criterion() -> None:
    cfg = GoNoGoConfig(min_trades=3, n_bootstrap=1000)
    good = pd.DataFrame({"pnl": [1.0, 1.2, 0.9, 1.1], "capital": [5.0] * 4, "slug": list("abcd")})
    assert evaluate(good, cfg)[0] == "GO"
    few = good.iloc[:2]
    decision, crit = evaluate(few, cfg)
    assert decision == "NO-GO" and [c.passed for c in crit] == [False, True, True]
    mixed = pd.DataFrame({"pnl": [3.0, -2.5, 2.0, -2.4], "capital": [5.0] * 4, "slug": list("abcd")})
    assert evaluate(mixed, cfg)[0] == "NO-GO"


@pytest.mark.parametrize(("preset", "expected"), [("edge", "GO"), ("no-edge", "NO-GO")])
def test_go_no_go_finds_the_edge_that_is_there(preset: str, expected: str, tmp_path: Path) -> None:
    """Thresholds as in params/04_go_no_go (200 trades, 95% bounds above zero), 3 simulated days."""
    cfg = GoNoGoConfig(run_name=preset, preset=preset, days=3.0, seed=5, n_bootstrap=2000)
    result = run_go_no_go(cfg, root=tmp_path, progress=False)
    assert result.decision == expected
    truth = result.trades["true_edge"].mean()
    # the simulator's ground truth agrees: the trades' true expected edge has the verdict's sign
    assert (truth > 0) == (expected == "GO")
    head = result.headline()
    assert head["decision"] == expected and len(head["criteria"]) == 3
    assert set(result.sources["label_source"]) == {"resolution"}
    assert (tmp_path / "data" / "runs" / "04_go_no_go" / f"{preset}.duckdb").exists()


def test_db_may_be_a_plain_path(tmp_path: Path) -> None:
    cfg = GoNoGoConfig(run_name="p", days=0.5, seed=2, db="stores/run.duckdb", n_bootstrap=200)
    result = run_go_no_go(cfg, root=tmp_path, progress=False)
    assert (tmp_path / "stores" / "run.duckdb").exists()
    assert len(result.rows) > 0
