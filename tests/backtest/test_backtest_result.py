"""The backtest's result object: the same trades and counts as :func:`run_taker_threshold`, read-only,
with cached statistics and a :class:`Summary`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch._summary import Summary
from pmresearch.backtest import TakerBacktest, TakerThreshold, backtest_taker_threshold, run_taker_threshold
from pmresearch.metrics import trade_stats


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # two windows, one winning and one losing Up position (the layout of test_taker_fills)
    rows, quotes = [], []
    for i, (start, label) in enumerate((("2026-06-15 01:15", 1), ("2026-06-15 01:30", 0))):
        slug = f"btc-updown-15m-{i}"
        w0 = _ts(start)
        rows.append(pd.DataFrame({
            "t": [w0 + pd.Timedelta(minutes=1)], "slug": slug, "window_start": w0,
            "window_end": w0 + pd.Timedelta(minutes=15), "p_model": [0.70], "bid_up": [0.48], "ask_up": [0.50],
            "label": pd.array([label], dtype="Int8"),
        }))
        quotes.append(pd.DataFrame({"slug": slug, "ts": [w0 + pd.Timedelta(minutes=1)], "best_bid_up": [0.48],
                                    "best_ask_up": [0.50]}))
    markets = pd.DataFrame({"slug": ["btc-updown-15m-0", "btc-updown-15m-1"], "fee_rate": [np.nan, np.nan],
                            "fee_exponent": [np.nan, np.nan]})
    return pd.concat(rows, ignore_index=True), pd.concat(quotes, ignore_index=True), markets


def test_result_matches_the_tuple_engine() -> None:
    rows, quotes, markets = _inputs()
    strategy = TakerThreshold(0.05, 10.0, 1)
    res = backtest_taker_threshold(rows, quotes, markets, strategy)
    trades, counts = run_taker_threshold(rows, quotes, markets, strategy)
    assert isinstance(res, TakerBacktest) and res.strategy == strategy
    pd.testing.assert_frame_equal(res.trades, trades)
    assert dict(res.counts) == counts == {"signals": 2, "filled": 2, "missed": 0, "closed": 0, "unlabeled": 0}
    assert dict(res.stats) == pytest.approx(trade_stats(trades), nan_ok=True)
    assert res.stats is res.stats  # cached
    with pytest.raises(TypeError):
        res.counts["filled"] = 0  # type: ignore[index]
    s = res.summary()
    assert isinstance(s, Summary) and s.names == ("trades", "counts")
    assert s["trades"].loc["trades", "value"] == 2.0 and s["counts"].loc["filled", "value"] == 2
    # one win (10 shares pay 1 each) and one loss, each costing 10 x 0.50 + fee
    assert s["trades"].loc["win_rate", "value"] == 0.5
    assert str(res) == s.as_text() and res._repr_html_() == s.as_html()
