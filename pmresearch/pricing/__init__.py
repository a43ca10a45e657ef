"""Digital option pricing (Black-Scholes, Merton jump-diffusion, TWAP settlement)."""

from __future__ import annotations

from pmresearch.pricing.digital import (
    JumpClass,
    digital_bs,
    digital_merton,
    digital_twap,
    gaussian_jump_up_probability,
    twap_log_moments,
)

__all__ = [
    "JumpClass",
    "digital_bs",
    "digital_merton",
    "digital_twap",
    "gaussian_jump_up_probability",
    "twap_log_moments",
]
