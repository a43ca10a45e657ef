"""Trading metrics against hand computations and an independent t-interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pmresearch.metrics import cluster_ratio_lower_bound, max_drawdown, trade_stats


def test_max_drawdown_by_hand() -> None:
    assert max_drawdown([1.0, -2.0, 3.0, -4.0, 1.0]) == 4.0  # peak 2 -> trough -2
    assert max_drawdown([1.0, 1.0]) == 0.0
    assert max_drawdown([-1.0]) == 1.0


def test_bootstrap_bound_agrees_with_t_bound_for_iid_trades() -> None:
    """With one trade per window the clustered bound is the bootstrap of the mean; for 2,000 i.i.d.
    draws it agrees with the one-sided Student-t bound to within 10% of the standard error."""
    rng = np.random.default_rng(1)
    x = rng.normal(0.05, 1.0, 2000)
    b = cluster_ratio_lower_bound(x, np.ones(x.size), np.arange(x.size), n_resamples=20_000, seed=2)
    se = x.std(ddof=1) / np.sqrt(x.size)
    t_bound = x.mean() - stats.t.ppf(0.95, x.size - 1) * se
    assert b.estimate == pytest.approx(x.mean())
    assert abs(b.lower - t_bound) < 0.1 * se


def test_clustering_widens_the_bound() -> None:
    """Ten trades sharing each window's outcome are one observation, not ten."""
    rng = np.random.default_rng(3)
    per_window = rng.normal(0.02, 1.0, 300)
    pnl = np.repeat(per_window, 10)
    windows = np.repeat(np.arange(300), 10)
    clustered = cluster_ratio_lower_bound(pnl, np.ones(pnl.size), windows, seed=0)
    naive = cluster_ratio_lower_bound(pnl, np.ones(pnl.size), np.arange(pnl.size), seed=0)
    assert clustered.estimate == pytest.approx(naive.estimate)
    assert clustered.estimate - clustered.lower > 2.5 * (naive.estimate - naive.lower)


def test_trade_stats() -> None:
    t = pd.DataFrame({"t": pd.to_datetime(["2026-06-15 01:00", "2026-06-15 02:00", "2026-06-17 01:00"], utc=True),
                      "pnl": [2.0, -1.0, 1.0], "capital": [5.0, 5.0, 10.0]})
    s = trade_stats(t)
    assert s["trades"] == 3 and s["win_rate"] == pytest.approx(2 / 3)
    assert s["return_on_capital"] == pytest.approx(2.0 / 20.0)
    daily = np.array([1.0, 0.0, 1.0])  # the empty day counts as zero
    assert s["sharpe_daily_annualized"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(365))
    assert trade_stats(t.iloc[:0])["trades"] == 0
