"""Family ``contract``: the decision row's own contract terms and Model A probabilities.

From the row's ``spot`` (S_t), ``strike`` (K) and ``tau_s`` (seconds to the window end), plus the
``vol`` features for sigma: ``log_moneyness`` = ln(S/K), ``tau_years`` = tau_s / SECONDS_PER_YEAR,
``z`` = ln(S/K) / (sigma sqrt(tau)) with sigma the 60-minute realized vol (``z_rv15`` with the
15-minute one), and Black-Scholes digital probabilities ``P(S_T >= K)``
(:func:`pmresearch.pricing.digital_bs`, zero rate) with each of three vols. NaN where an input is
missing.
"""

from __future__ import annotations

import numpy as np

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray
from pmresearch.features.context import FeatureContext
from pmresearch.features.registry import Block, feature_table, make_block
from pmresearch.pricing import digital_bs

__all__ = ["BLOCKS", "contract_features"]

_VOLS = {"": "vol__rv_1m_60m", "_rv15": "vol__rv_1m_15m", "_ewma": "vol__ewma_094"}


def _col(ctx: FeatureContext, name: str) -> FloatArray:
    if name not in ctx.rows.columns:
        return ctx.nan()
    return np.asarray(ctx.rows[name].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def contract_features(spot: FloatArray, strike: FloatArray, tau_s: FloatArray,
                      vols: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Contract features from arrays (``vols`` maps a name suffix to an annualized vol array)."""
    ok = np.isfinite(spot) & np.isfinite(strike) & (spot > 0) & (strike > 0)
    lm = np.full(len(spot), np.nan)
    lm[ok] = np.log(spot[ok] / strike[ok])
    tau = np.where(np.isfinite(tau_s) & (tau_s >= 0), tau_s / SECONDS_PER_YEAR, np.nan)
    out: dict[str, FloatArray] = {"contract__log_moneyness": lm, "contract__tau_years": tau}
    for suffix, sigma in vols.items():
        denom = sigma * np.sqrt(tau)
        good = ok & np.isfinite(denom) & (denom > 0)
        z = np.full(len(spot), np.nan)
        z[good] = lm[good] / denom[good]
        if suffix in ("", "_rv15"):
            out[f"contract__z{suffix}"] = z
        prob = np.full(len(spot), np.nan)
        usable = ok & np.isfinite(tau) & np.isfinite(sigma) & (sigma >= 0)
        if usable.any():
            prob[usable] = digital_bs(spot[usable], strike[usable], tau[usable], sigma[usable])
        out[f"contract__prob_bs{suffix}"] = prob
    return out


def _block(ctx: FeatureContext) -> dict[str, FloatArray]:
    vols = {suffix: ctx.feature(name) for suffix, name in _VOLS.items()}
    out = contract_features(_col(ctx, "spot"), _col(ctx, "strike"), _col(ctx, "tau_s"), vols)
    if "interval_minutes" in ctx.rows.columns:
        length = _col(ctx, "interval_minutes") * 60.0
        out["contract__elapsed_frac"] = np.where(length > 0, 1.0 - _col(ctx, "tau_s") / length, np.nan)
    return out


#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    make_block("contract", "contract", _block, feature_table("""
        log_moneyness | 0s    | log ratio           | ln(S_t / K) from the row's spot and strike
        tau_years     | 0s    | years (24/7)        | tau_s / SECONDS_PER_YEAR
        z             | 61min | standard deviations | ln(S/K) / (sigma sqrt(tau)), sigma = vol__rv_1m_60m
        z_rv15        | 16min | standard deviations | ln(S/K) / (sigma sqrt(tau)), sigma = vol__rv_1m_15m
        prob_bs       | 61min | probability         | Model A: digital_bs(S, K, tau, vol__rv_1m_60m)
        prob_bs_rv15  | 16min | probability         | Model A: digital_bs(S, K, tau, vol__rv_1m_15m)
        prob_bs_ewma  | 50min | probability         | Model A: digital_bs(S, K, tau, vol__ewma_094)
        elapsed_frac  | 0s    | fraction            | share of the market window elapsed (needs interval_minutes)
    """), inputs=("rows", "spot_1m")),
)
