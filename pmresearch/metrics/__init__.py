"""Pure metric functions: trading performance and statistical bounds."""

from __future__ import annotations

from pmresearch.metrics.stats import DMResult, diebold_mariano, mse, mse_loss, qlike, qlike_loss
from pmresearch.metrics.trading import RatioBound, cluster_ratio_lower_bound, max_drawdown, trade_stats

__all__ = [
    "DMResult",
    "RatioBound",
    "cluster_ratio_lower_bound",
    "diebold_mariano",
    "max_drawdown",
    "mse",
    "mse_loss",
    "qlike",
    "qlike_loss",
    "trade_stats",
]
