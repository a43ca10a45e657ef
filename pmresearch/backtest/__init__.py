"""Backtests: the taker threshold engine and the go/no-go run."""

from __future__ import annotations

from pmresearch.backtest.engine import TRADE_COLUMNS, TakerThreshold, run_taker_threshold
from pmresearch.backtest.gonogo import Criterion, GoNoGoConfig, GoNoGoResult, evaluate, run_go_no_go

__all__ = [
    "TRADE_COLUMNS",
    "Criterion",
    "GoNoGoConfig",
    "GoNoGoResult",
    "TakerThreshold",
    "evaluate",
    "run_go_no_go",
    "run_taker_threshold",
]
