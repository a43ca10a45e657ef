"""Backtest engines: the taker threshold engine (the go/no-go experiment is
:mod:`pmresearch.experiments.go_no_go`)."""

from __future__ import annotations

from pmresearch.backtest.engine import (
    TRADE_COLUMNS,
    TakerBacktest,
    TakerThreshold,
    backtest_taker_threshold,
    run_taker_threshold,
)

__all__ = [
    "TRADE_COLUMNS",
    "TakerBacktest",
    "TakerThreshold",
    "backtest_taker_threshold",
    "run_taker_threshold",
]
