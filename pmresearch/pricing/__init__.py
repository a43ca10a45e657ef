"""Digital option pricing (Black-Scholes, Merton jump-diffusion, TWAP settlement), volatility
estimators (:mod:`pmresearch.pricing.vol`) and jump tests and calibration (:mod:`pmresearch.pricing.jumps`),
Poisson weights (:mod:`pmresearch.pricing.poisson`)."""

from __future__ import annotations

from pmresearch.pricing.digital import (
    JumpClass,
    digital_bs,
    digital_delta,
    digital_merton,
    digital_twap,
    digital_vega,
    gaussian_jump_up_probability,
    twap_log_moments,
)
from pmresearch.pricing.jumps import (
    BNSJumpTest,
    JumpLaw,
    MertonFit,
    bns_jump_test,
    fit_merton,
    lee_mykland_jumps,
    merton_loglik,
)
from pmresearch.pricing.poisson import poisson_weights
from pmresearch.pricing.vol import (
    annualize,
    bipower_variation,
    bipower_vol,
    ewma_variance,
    ewma_vol,
    intraday_seasonality,
    range_vol,
    realized_vol,
    rolling_vol,
    seasonal_factor_at,
    vol_asof,
    yang_zhang_vol,
)

__all__ = [
    "BNSJumpTest",
    "JumpClass",
    "JumpLaw",
    "MertonFit",
    "annualize",
    "bipower_variation",
    "bipower_vol",
    "bns_jump_test",
    "digital_bs",
    "digital_delta",
    "digital_merton",
    "digital_twap",
    "digital_vega",
    "ewma_variance",
    "ewma_vol",
    "fit_merton",
    "gaussian_jump_up_probability",
    "intraday_seasonality",
    "lee_mykland_jumps",
    "merton_loglik",
    "poisson_weights",
    "range_vol",
    "realized_vol",
    "rolling_vol",
    "seasonal_factor_at",
    "twap_log_moments",
    "vol_asof",
    "yang_zhang_vol",
]
