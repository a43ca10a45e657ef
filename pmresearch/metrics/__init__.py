"""Pure metric functions: trading performance and statistical bounds."""

from __future__ import annotations

from pmresearch.metrics.trading import RatioBound, cluster_ratio_lower_bound, max_drawdown, trade_stats

__all__ = ["RatioBound", "cluster_ratio_lower_bound", "max_drawdown", "trade_stats"]
