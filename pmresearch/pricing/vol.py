"""Volatility estimators: realized, bipower, range-based, EWMA and intraday seasonality.

Every estimator returns an *annualized* volatility on the 24/7 year: a variance ``v`` measured over
``h`` seconds annualizes as ``v * SECONDS_PER_YEAR / h`` (:data:`pmresearch._time.SECONDS_PER_YEAR`;
crypto has no nights or weekends, so no 252-day convention anywhere).

Array estimators take bars along the last axis (``(..., n_bars)``), so a matrix of windows is one call.
Time-series helpers (:func:`rolling_vol`, :func:`ewma_vol`, :func:`vol_asof`) stamp each value with
its *knowledge time* (the close of the last bar used, ``ts + bar``) so that a decision at ``t`` reads
only values known at ``t``.

Discrete sampling. A bar's high and low are the extremes of the *observed* prices, not of the
continuous path, so range-based estimators are biased low when a bar holds few observations (the
1-minute klines of the simulator hold 240 sub-second points; Binance 1-second bars a handful of
trades). Garman & Klass (1980, section 4) and Rogers & Satchell (1991, section 3) both show the
bias and its dependence on the number of observations ``n`` only (for a driftless Brownian motion
the expected estimator is ``c(n) sigma^2 dt`` by scaling). :func:`discrete_range_factor` computes
``c(n)`` by Monte Carlo of that Brownian motion (seeded; 200,000 bars, relative error about 0.15%),
and the estimators divide by it. Broadie, Glasserman & Kou (1997) give the leading term of the
same bias for the maximum, ``E[max] - beta sigma sqrt(dt/n)`` with ``beta = 0.5826``; the factor
converges to 1 at that ``n^{-1/2}`` rate (checked in the tests).

References
----------
Andersen, Bollerslev, Diebold & Labys (2003), realized volatility. Barndorff-Nielsen & Shephard
(2004), bipower variation. Parkinson (1980); Garman & Klass (1980); Rogers & Satchell (1991); Yang &
Zhang (2000). J.P. Morgan/Reuters (1996), *RiskMetrics Technical Document*: EWMA with lambda = 0.94.
Andersen & Bollerslev (1997), "Intraday periodicity and volatility persistence": seasonality factors.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import signal

from pmresearch._time import SECONDS_PER_YEAR, ensure_utc, to_utc
from pmresearch._typing import BoolArray, FloatArray

__all__ = [
    "RANGE_METHODS",
    "RangeMethod",
    "annualize",
    "bars_from_path",
    "bipower_variation",
    "bipower_vol",
    "discrete_range_factor",
    "ewma_variance",
    "ewma_vol",
    "intraday_seasonality",
    "range_bar_variance",
    "range_vol",
    "realized_vol",
    "rolling_vol",
    "seasonal_factor_at",
    "vol_asof",
    "yang_zhang_vol",
]

RangeMethod = Literal["parkinson", "garman_klass", "rogers_satchell"]
#: Range-based per-bar estimators (Yang-Zhang needs a window: :func:`yang_zhang_vol`).
RANGE_METHODS: tuple[RangeMethod, ...] = ("parkinson", "garman_klass", "rogers_satchell")

_LN2 = float(np.log(2.0))
_MU1 = float(np.sqrt(2.0 / np.pi))  # E|Z|


def _f64(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def annualize(variance: npt.ArrayLike, horizon_s: npt.ArrayLike) -> FloatArray:
    """Annualized volatility ``sqrt(variance * SECONDS_PER_YEAR / horizon_s)`` of a variance measured
    over ``horizon_s`` seconds (24/7 year)."""
    v = _f64(variance)
    return np.asarray(np.sqrt(np.maximum(v, 0.0) * SECONDS_PER_YEAR / _f64(horizon_s)), dtype=np.float64)


def bars_from_path(log_price: npt.ArrayLike, steps_per_bar: int, gap_steps: int = 0) -> dict[str, FloatArray]:
    """OHLC log-price bars from a sampled log-price path.

    ``log_price`` holds ``n_bars * (steps_per_bar + gap_steps) + 1`` points (the first is the start).
    Bar ``i`` opens ``gap_steps`` steps after the previous close and closes ``steps_per_bar`` steps
    later; high and low are the extremes of its ``steps_per_bar + 1`` observed points. With
    ``gap_steps = 0`` a bar opens at the previous close (a continuous 24/7 feed); the simulator's
    klines have ``gap_steps = 1`` (the open is the first sub-second point of the bar).

    Returns
    -------
    dict
        ``open``, ``high``, ``low``, ``close`` (log prices) and ``prev_close`` (the previous bar's
        close; the first bar's is the path start when ``gap_steps > 0``, else its open).
    """
    x = _f64(log_price)
    per = steps_per_bar + gap_steps
    n_bars = (x.size - 1) // per
    if steps_per_bar < 1 or gap_steps < 0 or n_bars < 1:
        raise ValueError("bars_from_path: need steps_per_bar >= 1, gap_steps >= 0 and one full bar of points")
    idx = np.arange(n_bars)[:, None] * per + gap_steps + np.arange(steps_per_bar + 1)[None, :]
    pts = x[idx]
    close = pts[:, -1]
    prev = np.concatenate([[x[0]], close[:-1]])
    return {"open": pts[:, 0], "high": pts.max(axis=1), "low": pts.min(axis=1), "close": close, "prev_close": prev}


def realized_vol(returns: npt.ArrayLike, horizon_s: npt.ArrayLike, *, axis: int = -1) -> FloatArray:
    """Realized volatility: ``sqrt(sum r^2 * SECONDS_PER_YEAR / horizon_s)`` (ABDL 2003).

    ``returns`` are log returns along ``axis`` covering ``horizon_s`` seconds in total (NaN-free).
    It estimates the quadratic variation: diffusion variance plus squared jumps.
    """
    r = _f64(returns)
    return annualize(np.sum(r * r, axis=axis), horizon_s)


def bipower_variation(returns: npt.ArrayLike, *, axis: int = -1) -> FloatArray:
    """Bipower variation ``mu1^-2 n/(n-1) sum |r_i| |r_{i-1}|`` (Barndorff-Nielsen & Shephard 2004).

    ``mu1 = E|Z| = sqrt(2/pi)``; the ``n/(n-1)`` factor corrects the ``n - 1`` products. Robust to
    jumps: it converges to the integrated diffusion variance.
    """
    r = np.moveaxis(np.abs(_f64(returns)), axis, -1)
    n = r.shape[-1]
    if n < 2:
        raise ValueError("bipower variation needs at least 2 returns")
    return np.asarray(np.sum(r[..., 1:] * r[..., :-1], axis=-1) * n / (n - 1) / _MU1**2, dtype=np.float64)


def bipower_vol(returns: npt.ArrayLike, horizon_s: npt.ArrayLike, *, axis: int = -1) -> FloatArray:
    """Annualized jump-robust volatility from :func:`bipower_variation` over ``horizon_s`` seconds."""
    return annualize(bipower_variation(returns, axis=axis), horizon_s)


def _raw_range(method: str, o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray) -> FloatArray:
    if method == "parkinson":
        return np.asarray((h - lo) ** 2 / (4.0 * _LN2), dtype=np.float64)
    if method == "garman_klass":
        return np.asarray(0.5 * (h - lo) ** 2 - (2.0 * _LN2 - 1.0) * (c - o) ** 2, dtype=np.float64)
    if method == "rogers_satchell":
        return np.asarray((h - c) * (h - o) + (lo - c) * (lo - o), dtype=np.float64)
    raise ValueError(f"unknown range method {method!r}; choose one of {RANGE_METHODS}")


@lru_cache(maxsize=64)
def _range_factors(steps_per_bar: int, n_paths: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_paths, 4_000_000 // steps_per_bar))
    totals = dict.fromkeys(RANGE_METHODS, 0.0)
    done = 0
    while done < n_paths:
        m = min(chunk, n_paths - done)
        path = np.zeros((m, steps_per_bar + 1))
        np.cumsum(rng.standard_normal((m, steps_per_bar)) / np.sqrt(steps_per_bar), axis=1, out=path[:, 1:])
        hi, lo = path.max(axis=1), path.min(axis=1)
        for method in RANGE_METHODS:
            totals[method] += float(np.sum(_raw_range(method, path[:, 0], hi, lo, path[:, -1])))
        done += m
    return {k: v / n_paths for k, v in totals.items()}


def discrete_range_factor(method: RangeMethod, steps_per_bar: int, n_paths: int = 200_000, seed: int = 0) -> float:
    """``c(n) = E[estimator] / (sigma^2 dt)`` for a driftless Brownian motion seen at ``n + 1`` points.

    Computed by Monte Carlo (``n_paths`` bars of ``n = steps_per_bar`` Gaussian steps, seeded, in
    chunks; relative standard error about 0.15%) and cached per ``n`` for all three methods.
    Exact limits: ``c -> 1`` as ``n -> inf`` (the continuous estimators are unbiased); for ``n = 1``
    the range is ``|r|``, so ``c = 1/(4 ln 2)`` (Parkinson), ``1.5 - 2 ln 2`` (Garman-Klass) and 0
    (Rogers-Satchell, which then cannot be corrected). See the module notes.
    """
    if method not in RANGE_METHODS:
        raise ValueError(f"unknown range method {method!r}; choose one of {RANGE_METHODS}")
    if steps_per_bar < 1:
        raise ValueError("steps_per_bar must be >= 1")
    if method == "rogers_satchell" and steps_per_bar < 2:
        raise ValueError("Rogers-Satchell is identically 0 on one-step bars: it needs steps_per_bar >= 2")
    return _range_factors(int(steps_per_bar), int(n_paths), int(seed))[method]


def range_bar_variance(
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    method: RangeMethod = "garman_klass",
    *,
    steps_per_bar: int | None = None,
) -> FloatArray:
    """Per-bar variance estimate from OHLC *log* prices.

    * Parkinson (1980): ``(ln H/L)^2 / (4 ln 2)``;
    * Garman & Klass (1980): ``0.5 (ln H/L)^2 - (2 ln 2 - 1) (ln C/O)^2``;
    * Rogers & Satchell (1991): ``ln(H/C) ln(H/O) + ln(L/C) ln(L/O)`` (drift-independent).

    The estimate covers the bar's open-to-close interval. ``steps_per_bar`` (the number of
    observed increments inside a bar) divides by :func:`discrete_range_factor`; ``None`` assumes a
    continuously observed path.
    """
    o, h, lo, c = (_f64(a) for a in (open_, high, low, close))
    raw = _raw_range(method, o, h, lo, c)
    if steps_per_bar is None:
        return raw
    return np.asarray(raw / discrete_range_factor(method, int(steps_per_bar)), dtype=np.float64)


def range_vol(
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    bar_s: float,
    method: RangeMethod = "garman_klass",
    *,
    steps_per_bar: int | None = None,
    gap_steps: int = 0,
    axis: int = -1,
) -> FloatArray:
    """Annualized range-based volatility over the bars along ``axis`` (OHLC log prices).

    The mean per-bar variance (:func:`range_bar_variance`) covers ``bar_s * steps_per_bar /
    (steps_per_bar + gap_steps)`` seconds of each bar (the open-to-close part).
    """
    v = range_bar_variance(open_, high, low, close, method, steps_per_bar=steps_per_bar)
    span = bar_s if steps_per_bar is None or gap_steps == 0 else bar_s * steps_per_bar / (steps_per_bar + gap_steps)
    return annualize(np.mean(v, axis=axis), span)


def yang_zhang_vol(
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    prev_close: npt.ArrayLike,
    bar_s: float,
    *,
    steps_per_bar: int | None = None,
    axis: int = -1,
) -> FloatArray:
    """Yang & Zhang (2000) volatility over the bars along ``axis`` (log prices).

    ``sigma^2 = V_o + k V_c + (1 - k) V_RS`` per bar with ``V_o`` the sample variance of the gap
    returns ``ln(O_i / C_{i-1})``, ``V_c`` that of ``ln(C_i / O_i)``, ``V_RS`` the mean
    Rogers-Satchell term (discrete-sampling corrected when ``steps_per_bar`` is given) and
    ``k = 0.34 / (1.34 + (n + 1) / (n - 1))``. It covers whole bars (gap included): annualized
    with ``bar_s``. Where gaps are empty (a bar opens at the previous close) ``V_o`` is 0.
    """
    o, h, lo, c, pc = (np.moveaxis(_f64(a), axis, -1) for a in (open_, high, low, close, prev_close))
    n = o.shape[-1]
    if n < 3:
        raise ValueError("Yang-Zhang needs at least 3 bars")
    gap = o - pc
    oc = c - o
    v_o = np.var(gap, axis=-1, ddof=1)
    v_c = np.var(oc, axis=-1, ddof=1)
    v_rs = np.mean(range_bar_variance(o, h, lo, c, "rogers_satchell", steps_per_bar=steps_per_bar), axis=-1)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    return annualize(v_o + k * v_c + (1.0 - k) * v_rs, bar_s)


def _bar_frame(bars: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.Series, float, BoolArray]:
    """Validated bar times, the bar length (median spacing, seconds) and a mask of the bars that
    follow their predecessor by exactly one bar (False after a missing bar and for the first one)."""
    missing = [c for c in ("ts", *columns) if c not in bars.columns]
    if missing:
        raise ValueError(f"bars: missing column(s) {missing} (need 'ts' = bar open time in UTC and {list(columns)})")
    ts = ensure_utc(bars["ts"], what="bars.ts")
    if len(ts) < 2:
        raise ValueError("bars need at least 2 rows")
    step_s = ts.diff().dt.total_seconds().to_numpy(dtype=np.float64)[1:]
    if np.any(~(step_s > 0.0)):
        row = int(np.flatnonzero(~(step_s > 0.0))[0]) + 1
        raise ValueError(f"bars.ts must be strictly increasing (row {row}: {ts.iloc[row]} after {ts.iloc[row - 1]})")
    for c in columns:
        x = bars[c].to_numpy(dtype=np.float64)
        if np.any(~(x > 0.0)):
            row = int(np.flatnonzero(~(x > 0.0))[0])
            raise ValueError(f"bars.{c}: prices must be positive and finite (row {row}: {x[row]})")
    bar_s = float(np.median(step_s))
    regular = np.concatenate([[False], np.abs(step_s - bar_s) < 1e-6])
    return ts, bar_s, regular


def _known_at(ts: pd.Series, bar_s: float) -> pd.DatetimeIndex:
    """Knowledge times of bars opening at ``ts``: their close, ``ts + bar``, in microseconds.

    The klines rule of :func:`pmresearch.data.knowledge.knowledge_time` (``kind="klines"`` with
    ``bar=``), written here because pricing sits below ``data`` in the import order (DESIGN.md) and
    its bar length is measured from the spacing, not read from an ``interval`` name; a test checks
    that the two agree.
    """
    return pd.DatetimeIndex((ts + pd.Timedelta(seconds=bar_s)).astype("datetime64[us, UTC]"))


def rolling_vol(
    bars: pd.DataFrame,
    window: str | pd.Timedelta,
    method: Literal["rv", "bipower", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang"] = "rv",
    *,
    steps_per_bar: int | None = None,
) -> pd.Series:
    """Annualized volatility of the bars in a trailing ``window`` (e.g. ``"15min"``, ``"1h"``, ``"4h"``,
    ``"24h"``), stamped at its knowledge time.

    Parameters
    ----------
    bars : DataFrame
        Consecutive klines with ``ts`` (bar open, UTC) and ``open``, ``high``, ``low``, ``close``
        prices; the bar length is the median spacing of ``ts``.
    window : str or Timedelta
        Trailing window; it holds ``window / bar`` bars (NaN until that many exist).
    method : str
        ``rv`` (close-to-close realized vol), ``bipower``, a range method or ``yang_zhang``.
    steps_per_bar : int, optional
        Observations per bar, for the discrete-sampling correction of range methods.

    Returns
    -------
    Series
        Indexed by knowledge time ``ts + bar`` (UTC), named ``<method>_<window>``. A window that spans
        a missing bar (a ``ts`` step other than the median one) is NaN: its bars cover more time than
        ``window`` and its returns straddle the hole.
    """
    cols = ("close",) if method in ("rv", "bipower") else ("open", "high", "low", "close")
    ts, bar_s, regular = _bar_frame(bars, cols)
    n = round(pd.Timedelta(window).total_seconds() / bar_s)
    if n < 2:
        raise ValueError(f"window {window!r} holds fewer than 2 bars of {bar_s:g} s")
    logs = {c: np.log(bars[c].to_numpy(dtype=np.float64)) for c in cols}
    cl_ = logs["close"]
    op_, hi_, lo_ = (logs.get(c, cl_) for c in ("open", "high", "low"))
    r = np.where(regular, np.diff(cl_, prepend=np.nan), np.nan)
    # a window of n bars whose n - 1 inner steps are not all one bar spans a hole
    inner_irregular = np.concatenate([[0.0], (~regular[1:]).astype(np.float64)])
    holes = pd.Series(inner_irregular).rolling(n - 1, min_periods=1).sum().to_numpy() > 0
    if method == "rv":
        per_bar = pd.Series(r * r)
        var = per_bar.rolling(n, min_periods=n).sum() / n
    elif method == "bipower":
        prod = pd.Series(np.abs(r) * np.abs(np.roll(r, 1)))
        prod.iloc[:2] = np.nan
        var = prod.rolling(n - 1, min_periods=n - 1).sum() / (n - 1) / _MU1**2
    elif method in RANGE_METHODS:
        per_bar = pd.Series(range_bar_variance(op_, hi_, lo_, cl_, method, steps_per_bar=steps_per_bar))
        var = per_bar.rolling(n, min_periods=n).mean()
    elif method == "yang_zhang":
        gap = pd.Series(np.where(regular, op_ - np.roll(cl_, 1), np.nan))
        oc = pd.Series(cl_ - op_)
        rs = pd.Series(range_bar_variance(op_, hi_, lo_, cl_, "rogers_satchell", steps_per_bar=steps_per_bar))
        k = 0.34 / (1.34 + (n + 1) / (n - 1))
        var = (gap.rolling(n, min_periods=n).var() + k * oc.rolling(n, min_periods=n).var()
               + (1.0 - k) * rs.rolling(n, min_periods=n).mean())
    else:
        raise ValueError(f"unknown method {method!r}")
    name = f"{method}_{pd.Timedelta(window).isoformat()}"
    out = np.where(holes, np.nan, annualize(var.to_numpy(), bar_s))
    return pd.Series(out, index=_known_at(ts, bar_s), name=name)


EwmaInit = Literal["mean", "first"]


def ewma_variance(
    x: npt.ArrayLike, lam: float = 0.94, *, min_periods: int = 30, init: EwmaInit | float = "mean"
) -> FloatArray:
    """RiskMetrics EWMA ``s_t = lam s_{t-1} + (1 - lam) x_t`` of per-bar squared returns ``x``.

    The one EWMA of the package: :func:`ewma_vol` and the ``vol__ewma_094`` feature both call it.

    Parameters
    ----------
    x : array_like
        1-D per-bar variances (squared returns); NaN marks a bar without an observation.
    lam : float
        Decay, in ``(0, 1)`` (RiskMetrics 1996: 0.94).
    min_periods : int
        Observations needed before a value is reported (NaN before).
    init : {"mean", "first"} or float
        Start of the recursion. ``"mean"``: the mean of the first ``min_periods`` observations is
        the value at the ``min_periods``-th one. ``"first"``: the first observation (pandas
        ``ewm(alpha=1 - lam, adjust=False, min_periods=...)``). A number: the value before the first
        bar, ``s_{-1}`` (arch's ``backcast``, so that ``s_t`` is arch's ``sigma2[t + 1]``).

    Returns
    -------
    ndarray
        ``s_t`` per bar. A missing bar holds the last value; the first observation after ``k``
        missing bars gets pandas' ``ignore_na=False`` weight, ``s = c s_prev + (1 - c) x`` with
        ``c = lam^(k+1) / (lam^(k+1) + 1 - lam)`` (weights by absolute position, renormalized).
    """
    if not 0.0 < lam < 1.0:
        raise ValueError("lam must be in (0, 1)")
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"ewma_variance: x must be 1-D, got shape {v.shape}")
    if min_periods < 0:
        raise ValueError(f"ewma_variance: min_periods must be >= 0, got {min_periods}")
    out = np.full(v.size, np.nan)
    obs = np.flatnonzero(~np.isnan(v))
    if isinstance(init, str):
        if init not in ("mean", "first"):
            raise ValueError(f"ewma_variance: init must be 'mean', 'first' or a number, got {init!r}")
        k = max(min_periods, 1) if init == "mean" else 1
        if obs.size < k:
            return out
        start = int(obs[k - 1])
        level = float(np.mean(v[obs[:k]])) if init == "mean" else float(v[start])
        out[start] = level
        last_obs = start
    else:
        level, start, last_obs = float(init), -1, -1
    # runs of consecutive observations after the start: within a run a first-order linear filter
    rest = obs[obs > start]
    if rest.size:
        breaks = np.flatnonzero(np.diff(rest) > 1) + 1
        for run in np.split(rest, breaks):
            a, b = int(run[0]), int(run[-1]) + 1
            gap = a - last_obs - 1
            if gap > 0:  # pandas' renormalized weight for the first observation after missing bars
                w_old = lam ** (gap + 1)
                c = w_old / (w_old + 1.0 - lam)
                level = c * level + (1.0 - c) * float(v[a])
                out[a] = level
                a += 1
            if b > a:
                out[a:b], _ = signal.lfilter([1.0 - lam], [1.0, -lam], v[a:b], zi=[lam * level])
                level = float(out[b - 1])
            last_obs = b - 1
    # missing bars hold the last value; values are reported from the min_periods-th observation
    seen = np.cumsum(~np.isnan(v))
    filled = np.where(np.isnan(out), np.nan, np.arange(v.size))
    held = np.fmax.accumulate(filled) if v.size else filled
    ok = ~np.isnan(held)
    out[ok] = out[held[ok].astype(np.int64)]
    out[(seen < min_periods) | (np.arange(v.size) < start)] = np.nan
    return out


def ewma_vol(bars: pd.DataFrame, lam: float = 0.94, *, min_bars: int = 30, init: EwmaInit = "mean") -> pd.Series:
    """RiskMetrics EWMA volatility ``s2_t = lam s2_{t-1} + (1 - lam) r_t^2`` on close-to-close log
    returns, annualized per bar (RiskMetrics Technical Document 1996: ``lam = 0.94`` for daily data;
    for intraday bars choose ``lam`` from the half-life you want, ``lam = 0.5 ** (1 / half_life_bars)``).

    :func:`ewma_variance` of the squared returns. Seeded with the mean of the first ``min_bars``
    squared returns (``init="mean"``) or with the first (``"first"``, pandas' ``adjust=False``); NaN
    before the ``min_bars``-th return. A return across missing bars enters as its squared size
    divided by the number of bars it spans (a per-bar variance). Indexed by knowledge time
    ``ts + bar``.
    """
    if not 0.0 < lam < 1.0:
        raise ValueError("lam must be in (0, 1)")
    ts, bar_s, _ = _bar_frame(bars, ("close",))
    r = np.diff(np.log(bars["close"].to_numpy(dtype=np.float64)), prepend=np.nan)
    step_s = ts.diff().dt.total_seconds().to_numpy(dtype=np.float64)[1:]
    spans = np.concatenate([[1.0], np.maximum(np.rint(step_s / bar_s), 1.0)])
    out = ewma_variance(r * r / spans, lam, min_periods=min_bars, init=init)
    return pd.Series(annualize(out, bar_s), index=_known_at(ts, bar_s), name=f"ewma_{lam:g}")


def vol_asof(series: pd.Series, decision_times: pd.Series | pd.DatetimeIndex) -> FloatArray:
    """The latest value of ``series`` (indexed by knowledge time) known at each decision time.

    Values stamped exactly at ``t`` are known at ``t``; none stamped after it is read.
    """
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        raise ValueError("series must be indexed by tz-aware UTC knowledge times")
    t = ensure_utc(pd.Series(decision_times), what="decision_times")
    idx = series.index.tz_convert("UTC").astype("datetime64[us, UTC]")
    pos = idx.searchsorted(pd.DatetimeIndex(t), side="right") - 1
    vals = series.to_numpy(dtype=np.float64)
    return np.where(pos >= 0, vals[np.clip(pos, 0, None)], np.nan)


def intraday_seasonality(
    returns: pd.Series, *, bucket: str = "1h", as_of: pd.Timestamp | str | None = None
) -> pd.Series:
    """Intraday volatility factors ``f_b = sqrt(mean r^2 in bucket b / mean r^2)`` by UTC time of day.

    Andersen & Bollerslev (1997): dividing returns by ``f_b`` removes the intraday cycle before
    fitting persistence models (GARCH, HAR); multiply forecasts back by it. Factors are normalized
    so that the mean of ``f_b^2`` over buckets is 1.

    Parameters
    ----------
    returns : Series
        Log returns indexed by tz-aware UTC bar times (equally spaced).
    bucket : str
        Bucket length (divides a day), e.g. ``"15min"`` or ``"1h"``.
    as_of : Timestamp, optional
        Use only returns stamped at or before it (no look-ahead into the estimation sample).

    Returns
    -------
    Series
        Factor per bucket, indexed by the bucket's start as seconds after midnight UTC.
    """
    if not isinstance(returns.index, pd.DatetimeIndex) or returns.index.tz is None:
        raise ValueError("returns must be indexed by tz-aware UTC times")
    r = returns.dropna()
    if as_of is not None:
        r = r[r.index <= to_utc(as_of)]
    b = int(pd.Timedelta(bucket).total_seconds())
    if b <= 0 or 86400 % b:
        raise ValueError(f"bucket {bucket!r} must divide a day")
    idx = pd.DatetimeIndex(r.index)
    sec = np.asarray(idx.hour * 3600 + idx.minute * 60 + idx.second, dtype=np.int64)
    key = (sec // b) * b
    ms = pd.Series(r.to_numpy(dtype=np.float64) ** 2).groupby(key).mean()
    full = ms.reindex(np.arange(0, 86400, b))
    if full.isna().any():
        raise ValueError("intraday_seasonality: some buckets have no returns (need at least one full day)")
    f2 = full / full.mean()
    return pd.Series(np.sqrt(f2.to_numpy()), index=pd.Index(full.index, name="second_of_day"), name="factor")


def seasonal_factor_at(factors: pd.Series, times: pd.Series | pd.DatetimeIndex) -> FloatArray:
    """The :func:`intraday_seasonality` factor in force at each UTC time."""
    t = pd.DatetimeIndex(ensure_utc(pd.Series(times), what="times"))
    b = int(factors.index[1] - factors.index[0]) if len(factors) > 1 else 86400
    sec = t.hour * 3600 + t.minute * 60 + t.second
    return np.asarray(factors.reindex((sec // b) * b).to_numpy(dtype=np.float64), dtype=np.float64)
