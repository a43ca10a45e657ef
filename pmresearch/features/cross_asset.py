"""Family ``cross``: ETH returns and vol, rolling ETH/BTC correlation and beta, external series.

ETHUSDT and BTCUSDT 1-minute bars are put on one common grid (a bar missing in either is NaN) and
joined as-of at their close. External series (``FeatureInputs.external``) give one feature per value
column, ``cross__ext_<key>_<column>``: the last value whose knowledge time (``known_at``, else
``ts``) is ``<= t``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray
from pmresearch.features.context import BarGrid, FeatureContext, to_ns
from pmresearch.features.inputs import FeatureInputs
from pmresearch.features.price import safe_log
from pmresearch.features.registry import Block, feature_table, make_block
from pmresearch.features.volatility import realized_var, rolling_annualized_vol

__all__ = [
    "BLOCKS",
    "EXTERNAL_PREFIX",
    "cross_features",
    "external_columns",
    "external_feature_names",
    "external_values",
]

EXTERNAL_PREFIX = "cross__ext_"
_SKIP = {"ts", "known_at", "symbol", "source", "interval"}


def _on(grid: BarGrid, start: int, n: int) -> pd.DataFrame:
    frame = pd.DataFrame(np.nan, index=np.arange(n), columns=grid.frame.columns)
    pos = (grid.open_ns - start) // grid.step_ns
    frame.iloc[pos] = grid.frame.to_numpy()
    return frame


def cross_features(btc: pd.DataFrame, eth: pd.DataFrame) -> dict[str, pd.Series]:
    """``cross__`` features per bar of two aligned 1-minute bar frames (same index)."""
    le, lb = safe_log(eth["close"]), safe_log(btc["close"])
    re_, rb = le - le.shift(1), lb - lb.shift(1)
    out: dict[str, pd.Series] = {f"cross__eth_ret_{k}m": le - le.shift(k) for k in (1, 5, 15, 60)}
    for w in (60, 240):
        out[f"cross__eth_btc_corr_{w}m"] = rb.rolling(w, min_periods=w).corr(re_)
    cov = rb.rolling(240, min_periods=240).cov(re_)
    var = re_.rolling(240, min_periods=240).var()
    out["cross__btc_eth_beta_240m"] = cov / var.where(var > 0)
    ratio = lb - le
    out["cross__ratio_dist_60m"] = ratio - ratio.rolling(60, min_periods=60).mean()
    out["cross__eth_rv_60m"] = rolling_annualized_vol(realized_var(eth), 60, 60.0)
    return out


def _block(ctx: FeatureContext) -> dict[str, FloatArray]:
    btc, eth = ctx.bars("spot_1m"), ctx.bars("eth_1m")
    if btc is None or eth is None:
        return {}
    if btc.step_ns != eth.step_ns:
        raise ValueError("FeatureInputs.eth_1m and spot_1m have different bar lengths")
    start = int(min(btc.open_ns[0], eth.open_ns[0]))
    n = int((max(btc.open_ns[-1], eth.open_ns[-1]) - start) // btc.step_ns) + 1
    open_ns = start + np.arange(n, dtype=np.int64) * btc.step_ns
    joint = BarGrid(open_ns=open_ns, known_ns=open_ns + btc.step_ns, step_ns=btc.step_ns,
                    frame=pd.DataFrame(index=np.arange(n)))
    return ctx.join_bars(joint, cross_features(_on(btc, start, n), _on(eth, start, n)))


def _clean(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def external_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric value columns of an external series."""
    return [c for c in frame.columns if c not in _SKIP and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]


def external_feature_names(inputs: FeatureInputs) -> list[str]:
    """``cross__ext_<key>_<column>`` for every value column of every external series."""
    return [f"{EXTERNAL_PREFIX}{_clean(key)}_{_clean(c)}" for key, frame in inputs.external.items()
            for c in external_columns(frame)]


def external_values(ctx: FeatureContext) -> dict[str, FloatArray]:
    """As-of values of every external series' columns at the decision times."""
    out: dict[str, FloatArray] = {}
    for key, frame in ctx.inputs.external.items():
        cols = external_columns(frame)
        if not len(frame):
            out.update({f"{EXTERNAL_PREFIX}{_clean(key)}_{_clean(c)}": ctx.nan() for c in cols})
            continue
        known = to_ns(ctx.inputs.known_at(f"external:{key}"))
        order = np.argsort(known, kind="stable")
        idx = ctx.asof_index(known[order])
        ok, safe = idx >= 0, np.maximum(idx, 0)
        for c in cols:
            values = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)[order]
            out[f"{EXTERNAL_PREFIX}{_clean(key)}_{_clean(c)}"] = np.where(ok, values[safe], np.nan)
    return out


_F = feature_table("""
  eth_ret_1m        | 2min   | log return                 | ETHUSDT ln(close / close 1 min earlier)
  eth_ret_5m        | 6min   | log return                 | ETHUSDT 5-min log return
  eth_ret_15m       | 16min  | log return                 | ETHUSDT 15-min log return
  eth_ret_60m       | 61min  | log return                 | ETHUSDT 60-min log return
  eth_btc_corr_60m  | 61min  | correlation                | rolling correlation of 1m ETH and BTC log returns, 60 bars
  eth_btc_corr_240m | 241min | correlation                | rolling correlation of 1m ETH and BTC log returns, 240 bars
  btc_eth_beta_240m | 241min | beta                       | OLS beta of BTC on ETH 1m log returns, 240 bars
  ratio_dist_60m    | 60min  | log ratio                  | ln(BTC/ETH) minus its 60-bar mean
  eth_rv_60m        | 61min  | annualized vol (24/7 year) | realized vol of 60 ETH 1m log returns
""")
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    make_block("cross_1m", "cross", _block, _F, inputs=("spot_1m", "eth_1m")),
)
