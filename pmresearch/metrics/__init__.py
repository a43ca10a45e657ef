"""Pure metric functions: trading performance, statistical bounds and scores of probability forecasts."""

from __future__ import annotations

from pmresearch.metrics.probability import (
    CalibrationFit,
    MurphyDecomposition,
    PairedDifference,
    brier_loss,
    calibration_fit,
    expected_calibration_error,
    log_loss,
    murphy_decomposition,
    paired_difference,
    probability_scores,
    reliability_table,
)
from pmresearch.metrics.stats import DMResult, diebold_mariano, mse, mse_loss, qlike, qlike_loss
from pmresearch.metrics.trading import RatioBound, cluster_ratio_lower_bound, max_drawdown, trade_stats

__all__ = [
    "CalibrationFit",
    "DMResult",
    "MurphyDecomposition",
    "PairedDifference",
    "RatioBound",
    "brier_loss",
    "calibration_fit",
    "cluster_ratio_lower_bound",
    "diebold_mariano",
    "expected_calibration_error",
    "log_loss",
    "max_drawdown",
    "mse",
    "mse_loss",
    "murphy_decomposition",
    "paired_difference",
    "probability_scores",
    "qlike",
    "qlike_loss",
    "reliability_table",
    "trade_stats",
]
