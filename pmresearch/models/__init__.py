"""Models: volatility forecasters (walk-forward, no look-ahead) and Model A (digital-option classifier)."""

from __future__ import annotations

from pmresearch.models.model_a import MODEL_A_VARIANTS, ModelA, model_a_variant
from pmresearch.models.vol_forecast import (
    ForecastComparison,
    GarchForecaster,
    HARForecaster,
    HVForecaster,
    MLForecaster,
    VolForecasts,
    WalkForward,
    default_forecasters,
    simulate_garch,
    vol_panel,
    walk_forward_vol,
)

__all__ = [
    "MODEL_A_VARIANTS",
    "ForecastComparison",
    "GarchForecaster",
    "HARForecaster",
    "HVForecaster",
    "MLForecaster",
    "ModelA",
    "VolForecasts",
    "WalkForward",
    "default_forecasters",
    "model_a_variant",
    "simulate_garch",
    "vol_panel",
    "walk_forward_vol",
]
