"""Family ``vol`` from spot sources other than exchange klines, each under its own name.

``vol__rv_1m_60m`` is the realized vol of BTCUSDT 1-minute klines and nothing else. Where a period
has no klines (the quote logger's days, the oracle-only days of the real sample), the same
estimator on another spot source gets another name, so a number never changes meaning with the
data that happened to be there:

* ``vol__rv_ref_60m``: the quote logger's live exchange price (``reference_price`` of the quotes);
* ``vol__rv_oracle_60m``: the Chainlink Data Streams settlement feed (the oracle rows of
  ``pmresearch.features.price.ORACLE_SOURCE``).

The estimator is the klines one (Andersen, Bollerslev, Diebold & Labys 2003): zero-mean realized
variance of the last 60 one-minute log returns, annualized on the 24/7 year,
``sqrt(mean r^2 x SECONDS_PER_YEAR / 60)``. The 1-minute prices are sampled on the minute grid: the
price at a boundary ``b`` is the last one *known* at ``b`` (knowledge time, DESIGN.md) and at most
:data:`SAMPLE_MAX_AGE_S` old, else missing; a return with a missing end is missing and the value is
NaN unless all 60 returns exist (the klines feature's rule). At a decision time ``t`` the value is the
one at the last boundary ``<= t``, known at ``floor(t, 1 min)``. Its newest input, the sample at
that boundary, may be up to :data:`SAMPLE_MAX_AGE_S` older: ``vol__rv_ref_60m_age_s`` and
``vol__rv_oracle_60m_age_s`` give the age at ``t`` of that newest price (NaN where the vol is NaN).
For the klines feature the newest input is the bar closing on the boundary, so its age is
:func:`minute_value_age_s`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray, IntArray
from pmresearch.features.context import FeatureContext, to_ns
from pmresearch.features.inputs import knowledge_time
from pmresearch.features.price import settlement_oracle
from pmresearch.features.registry import Block, make_block

__all__ = ["BLOCKS", "RV_WINDOW_MINUTES", "SAMPLE_MAX_AGE_S", "minute_rv", "minute_rv_and_age", "minute_value_age_s"]

#: Look-back of the realized vol, in one-minute returns.
RV_WINDOW_MINUTES = 60
#: A minute sample is the last price known at the boundary, at most this many seconds old.
SAMPLE_MAX_AGE_S = 60
_MIN_NS = 60 * 1_000_000_000


def minute_rv(known_ns: IntArray, price: FloatArray, t_ns: IntArray, *, window: int = RV_WINDOW_MINUTES,
              max_age_ns: int = SAMPLE_MAX_AGE_S * 1_000_000_000) -> FloatArray:
    """Annualized realized vol of ``window`` one-minute log returns ending at the last boundary ``<= t``
    (see :func:`minute_rv_and_age`, which also gives the age of its newest price)."""
    return minute_rv_and_age(known_ns, price, t_ns, window=window, max_age_ns=max_age_ns)[0]


def minute_rv_and_age(known_ns: IntArray, price: FloatArray, t_ns: IntArray, *, window: int = RV_WINDOW_MINUTES,
                      max_age_ns: int = SAMPLE_MAX_AGE_S * 1_000_000_000) -> tuple[FloatArray, FloatArray]:
    """Annualized realized vol of ``window`` one-minute log returns ending at the last boundary ``<= t``.

    Parameters
    ----------
    known_ns : int64 array
        Knowledge times of the prices (ns since the epoch), ascending.
    price : float array
        The prices, aligned with ``known_ns``.
    t_ns : int64 array
        Decision times (ns since the epoch).
    window : int
        Number of one-minute returns.
    max_age_ns : int
        A boundary's sample is missing when the last price known there is older than this.

    Returns
    -------
    (float array, float array)
        The vol, aligned with ``t_ns`` (NaN unless all ``window + 1`` samples exist and are positive),
        and the age in seconds at ``t`` of the newest price it used (NaN where the vol is NaN).
    """
    t = np.asarray(t_ns, dtype=np.int64)
    out = np.full(len(t), np.nan)
    if not len(t) or not len(known_ns):
        return out, out.copy()
    boundary = (t // _MIN_NS) * _MIN_NS
    uniq, inverse = np.unique(boundary, return_inverse=True)
    grid = uniq[:, None] - np.arange(window, -1, -1, dtype=np.int64)[None, :] * _MIN_NS
    idx = np.searchsorted(known_ns, grid, side="right") - 1
    safe = np.maximum(idx, 0)
    ok = (idx >= 0) & (grid - known_ns[safe] <= max_age_ns) & (price[safe] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        logp = np.where(ok, np.log(np.where(ok, price[safe], 1.0)), np.nan)
    r = np.diff(logp, axis=1)
    var = np.mean(r * r, axis=1)  # NaN as soon as one return is missing
    vol = np.sqrt(var * (SECONDS_PER_YEAR / 60.0))[inverse]
    newest = known_ns[safe[:, -1]][inverse]
    age = np.where(np.isnan(vol), np.nan, (t - newest) / 1e9)
    return np.asarray(vol, dtype=np.float64), np.asarray(age, dtype=np.float64)


def minute_value_age_s(t: pd.Series) -> pd.Series:
    """Age at ``t`` of a value computed on the minute grid (this module, and 1-minute bar features):
    seconds from ``floor(t, 1 min)``, when it became known, to ``t``."""
    return pd.Series((t - t.dt.floor("1min")).dt.total_seconds().to_numpy(dtype=np.float64), index=t.index)


def _series(known: IntArray, price: FloatArray) -> tuple[IntArray, FloatArray]:
    """Sorted by knowledge time; of prices known at the same instant, the last one."""
    order = np.argsort(known, kind="stable")
    k, p = known[order], price[order]
    last = np.r_[k[1:] != k[:-1], True] if len(k) else np.zeros(0, dtype=bool)
    return k[last], p[last]


def _reference_prices(ctx: FeatureContext) -> tuple[IntArray, FloatArray] | None:
    """The quote logger's reference prices by knowledge time (None when there are none)."""
    q = ctx.inputs.quotes
    if q is None or not len(q) or "reference_price" not in q.columns:
        return None
    q = q.loc[q["reference_price"].notna().to_numpy()]
    if not len(q):
        return None
    return _series(to_ns(knowledge_time("quotes", q, what="quotes")), q["reference_price"].to_numpy(dtype=np.float64))


def _oracle_prices(ctx: FeatureContext) -> tuple[IntArray, FloatArray] | None:
    """The settlement oracle's prices by knowledge time (None when there are none)."""
    ds = settlement_oracle(ctx)
    if ds is None:
        return None
    return _series(to_ns(knowledge_time("oracle", ds, what="oracle")), ds["price"].to_numpy(dtype=np.float64))


_ANN = "annualized vol (24/7 year)"
_LOOKBACK = f"{RV_WINDOW_MINUTES + 2}min"


def _rv_block(source: str, input_name: str, prices: Callable[[FeatureContext], tuple[IntArray, FloatArray] | None],
              of: str, noun: str) -> Block:
    """Block ``vol_<source>``: ``vol__rv_<source>_60m`` of the prices ``prices(ctx)`` gives, and its age."""
    vol_name = f"rv_{source}_{RV_WINDOW_MINUTES}m"

    def block(ctx: FeatureContext) -> dict[str, FloatArray]:
        series = prices(ctx)
        if series is None:
            return {}
        vol, age = minute_rv_and_age(*series, ctx.times())
        return {f"vol__{vol_name}": vol, f"vol__{vol_name}_age_s": age}

    return make_block(f"vol_{source}", "vol", block, [
        (vol_name, _LOOKBACK, _ANN, f"realized vol of the last {RV_WINDOW_MINUTES} 1m log returns of {of} "
         f"(minute samples <= {SAMPLE_MAX_AGE_S} s old)"),
        (f"{vol_name}_age_s", _LOOKBACK, "seconds", f"age at t of the newest {noun} price in {vol_name}"),
    ], inputs=(input_name,))


#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    _rv_block("ref", "quotes", _reference_prices, "the quote logger's reference price", "reference"),
    _rv_block("oracle", "oracle", _oracle_prices, "the Data Streams oracle", "oracle"),
)
