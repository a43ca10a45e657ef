"""Walk-forward volatility forecasters aligned to decision times (no look-ahead).

Every forecaster answers one question at each *state* ``s`` (the moment bar ``s`` has closed, its
knowledge time ``ts_s + bar``): the expected realized variance ``sum_{k=1..H} r_{s+k}^2`` of the
log returns of the next ``H`` bars (``H`` bars = the horizon, 15 minutes by default). A forecast at
state ``s`` reads bars ``0..s`` only, and model parameters come from fits on bars known at the last
refit time before ``s`` (a :class:`WalkForward` schedule: rolling or expanding windows, refit every
``refit_every`` bars, anchored at the first bar so the schedule never depends on later data).
A decision at time ``t`` uses the latest state whose knowledge time is ``<= t``
(:meth:`VolForecasts.asof`).

Forecasters
-----------
- :class:`HVForecaster`: trailing realized variance (the random-walk benchmark, BS+HV's vol).
- :class:`GarchForecaster`: GARCH(1,1) (Bollerslev 1986), GJR-GARCH(1,1,1) (Glosten, Jagannathan &
  Runkle 1993), normal or Student-t innovations, fitted by ``arch`` by maximum likelihood on scaled
  returns; between refits the conditional variance is filtered forward with the fitted parameters
  and the ``H``-step variance is the sum of the analytic multi-step forecasts. ``seasonal=True``
  fits on returns divided by intraday factors (Andersen & Bollerslev 1997) and scales back.
- :class:`HARForecaster`: HAR-RV (Corsi 2009) regression of the next-horizon realized variance on
  trailing realized variances over 15 min, 1 h, 4 h and 24 h, by OLS.
- :class:`MLForecaster`: gradient-boosted trees (XGBoost or LightGBM) on the seed's inputs
  (multi-window HV, volume, returns, time of day, day of week, optional exogenous columns such as
  book imbalance), trained on the log target with Duan's (1983) smearing back-transform.

Forecasts are compared with :func:`pmresearch.metrics.stats.qlike`, ``mse`` and the
Diebold-Mariano test (:meth:`VolForecasts.compare`).

References
----------
Bollerslev (1986); Glosten, Jagannathan & Runkle (1993); Corsi (2009); Patton (2011); Diebold &
Mariano (1995); Harvey, Leybourne & Newbold (1997); Duan (1983), "Smearing estimate", JASA 78.
``arch`` documentation: ``arch_model`` (mean ``Zero``, returns scaled to unit-order magnitude).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch._time import ensure_utc
from pmresearch._typing import FloatArray
from pmresearch.data.knowledge import knowledge_time
from pmresearch.metrics.stats import diebold_mariano, mse_loss, qlike_loss
from pmresearch.pricing.vol import annualize

__all__ = [
    "FEATURE_WINDOWS",
    "ForecastComparison",
    "GarchFit",
    "GarchForecaster",
    "HARForecaster",
    "HVForecaster",
    "MLForecaster",
    "VolForecaster",
    "VolForecasts",
    "VolPanel",
    "WalkForward",
    "default_forecasters",
    "fit_garch_arch",
    "garch_filter",
    "garch_horizon_variance",
    "garch_recovery",
    "simulate_garch",
    "vol_panel",
    "walk_forward_vol",
]

#: Trailing windows of the realized-variance features (HAR regressors and ML inputs).
FEATURE_WINDOWS: tuple[str, ...] = ("15min", "1h", "4h", "24h")


# --------------------------------------------------------------------------------------------------
# Panel: returns, trailing features and the (future) target, one row per bar state
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolPanel:
    """Bars turned into states for the forecasters.

    Attributes
    ----------
    times : DatetimeIndex
        Knowledge time of each state (bar open + bar length), UTC.
    returns : ndarray
        Close-to-close log return of each bar (``NaN`` for the first).
    features : DataFrame
        Trailing features at each state (bars ``<= s`` only), one column per input.
    target : ndarray
        ``sum_{k=1..H} r_{s+k}^2``: the realized variance of the next ``H`` bars. It is the *future*:
        forecasters may read ``target[s]`` only for ``s + H <= fit state`` (:meth:`train_rows`).
    horizon : int
        ``H``, the forecast horizon in bars.
    bar_s : float
        Bar length in seconds.
    """

    times: pd.DatetimeIndex
    returns: FloatArray
    features: pd.DataFrame
    target: FloatArray
    horizon: int
    bar_s: float

    def __len__(self) -> int:
        return int(self.returns.size)

    def train_rows(self, lo: int, fit_at: int) -> npt.NDArray[np.int64]:
        """States ``s`` in ``[lo, fit_at - H]`` whose targets are known at state ``fit_at``."""
        return np.arange(lo, max(lo, fit_at - self.horizon + 1), dtype=np.int64)

    def window_bars(self, window: str | pd.Timedelta) -> int:
        """Number of bars in a time window."""
        n = round(pd.Timedelta(window).total_seconds() / self.bar_s)
        if n < 1:
            raise ValueError(f"window {window!r} is shorter than one {self.bar_s:g} s bar")
        return n


def _rolling_sum(x: FloatArray, n: int) -> FloatArray:
    """Trailing sum of the last ``n`` values (NaN until ``n`` finite values are available)."""
    return np.asarray(pd.Series(x).rolling(n, min_periods=n).sum().to_numpy(dtype=np.float64), dtype=np.float64)


def vol_panel(
    bars: pd.DataFrame,
    *,
    horizon: str | pd.Timedelta = "15min",
    extra: pd.DataFrame | None = None,
) -> VolPanel:
    """Build the state panel from consecutive klines.

    Parameters
    ----------
    bars : DataFrame
        Klines in the canonical schema: ``ts`` (bar open, tz-aware UTC, increasing, equally spaced),
        ``close`` and optionally ``volume``. Gaps are an error (a 15-minute target over a gap would
        silently span more time).
    horizon : str or Timedelta
        Forecast horizon (a whole number of bars).
    extra : DataFrame, optional
        Exogenous inputs (e.g. book imbalance) indexed by tz-aware UTC *knowledge time*; each state
        takes the latest row known at its knowledge time (as-of, backward). Columns become
        ``extra__<name>`` features (NaN where nothing is known yet).

    Returns
    -------
    VolPanel
        Features per state: ``rv_<w>`` (mean squared return per bar over each of
        :data:`FEATURE_WINDOWS`), ``ret_15min`` and ``ret_1h`` (summed log returns), ``absret``
        (last bar), ``logvol_<w>`` (log mean volume over 15 min, 1 h, 24 h, when ``volume`` exists),
        ``minute_of_day`` and ``day_of_week`` (UTC, of the knowledge time), and the ``extra__*``.
    """
    for col in ("ts", "close"):
        if col not in bars.columns:
            raise ValueError(f"vol_panel: bars are missing column {col!r}")
    ts = ensure_utc(bars["ts"].reset_index(drop=True), what="vol_panel: bars column 'ts'")
    if len(ts) < 3:
        raise ValueError("vol_panel: need at least 3 bars")
    step = ts.diff().iloc[1:].dt.total_seconds().to_numpy()
    bar_s = float(np.median(step))
    if bar_s <= 0:
        raise ValueError("vol_panel: bars column 'ts' must be increasing")
    bad = np.flatnonzero(np.abs(step - bar_s) > 1e-6)
    if bad.size:
        i = int(bad[0]) + 1
        raise ValueError(f"vol_panel: bars are not equally spaced: row {i} (ts {ts.iloc[i]}) follows "
                         f"{ts.iloc[i - 1]}; expected {bar_s:g} s bars without gaps")
    close = bars["close"].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(close) | (close <= 0))
    if bad.size:
        raise ValueError(f"vol_panel: bars column 'close' must be positive and finite; row {int(bad[0])} "
                         f"is {close[bad[0]]!r}")
    h_bars = round(pd.Timedelta(horizon).total_seconds() / bar_s)
    if h_bars < 1 or abs(h_bars * bar_s - pd.Timedelta(horizon).total_seconds()) > 1e-6:
        raise ValueError(f"vol_panel: horizon {horizon!r} is not a whole number of {bar_s:g} s bars")
    times = pd.DatetimeIndex(knowledge_time("klines", pd.DataFrame({"ts": ts}), bar=pd.Timedelta(seconds=bar_s),
                                            what="vol_panel: bars"))
    r = np.diff(np.log(close), prepend=np.nan)
    r2 = r * r
    n = r.size
    feats: dict[str, FloatArray] = {}
    for w in FEATURE_WINDOWS:
        k = round(pd.Timedelta(w).total_seconds() / bar_s)
        feats[f"rv_{w}"] = _rolling_sum(r2, max(k, 1)) / max(k, 1)
    for w in ("15min", "1h"):
        feats[f"ret_{w}"] = _rolling_sum(r, max(round(pd.Timedelta(w).total_seconds() / bar_s), 1))
    feats["absret"] = np.abs(r)
    if "volume" in bars.columns:
        vol = bars["volume"].to_numpy(dtype=np.float64)
        for w in ("15min", "1h", "24h"):
            k = max(round(pd.Timedelta(w).total_seconds() / bar_s), 1)
            with np.errstate(divide="ignore"):
                feats[f"logvol_{w}"] = np.log(_rolling_sum(vol, k) / k)
    feats["minute_of_day"] = (times.hour * 60 + times.minute).to_numpy(dtype=np.float64)
    feats["day_of_week"] = times.day_of_week.to_numpy(dtype=np.float64)
    frame = pd.DataFrame(feats, index=times)
    if extra is not None:
        if not isinstance(extra.index, pd.DatetimeIndex) or extra.index.tz is None:
            raise ValueError("vol_panel: extra must be indexed by tz-aware UTC knowledge times")
        ex = extra.sort_index()
        ex_idx = pd.DatetimeIndex(ex.index).tz_convert("UTC").astype("datetime64[us, UTC]")
        pos = ex_idx.searchsorted(times, side="right") - 1
        for col in ex.columns:
            vals = ex[col].to_numpy(dtype=np.float64)
            frame[f"extra__{col}"] = np.where(pos >= 0, vals[np.clip(pos, 0, None)], np.nan)
    csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(r2))])
    target = np.full(n, np.nan)
    if n > h_bars:
        target[: n - h_bars] = csum[1 + h_bars : n + 1] - csum[1 : n + 1 - h_bars]
    return VolPanel(times=times, returns=r, features=frame, target=target, horizon=h_bars, bar_s=bar_s)


# --------------------------------------------------------------------------------------------------
# Forecasters
# --------------------------------------------------------------------------------------------------


class VolForecaster(Protocol):
    """A forecaster: fit on states ``lo..fit_at``, then forecast states ``fit_at..stop - 1``.

    ``forecast`` must read ``panel.returns``/``panel.features`` only at indices ``<= s`` for the
    forecast of state ``s``, and ``panel.target`` only at :meth:`VolPanel.train_rows`.
    """

    def forecast(self, panel: VolPanel, lo: int, fit_at: int, stop: int) -> FloatArray:
        """Variance forecasts of the next ``H`` bars for states ``fit_at..stop - 1``."""
        ...


@dataclass(frozen=True)
class HVForecaster:
    """Trailing realized variance over ``window`` scaled to the horizon (``H x`` mean squared return).

    The benchmark forecast: today's realized vol is tomorrow's (the vol of BS+HV).
    """

    window: str = "1h"
    """Trailing window (a pandas Timedelta string)."""

    def forecast(self, panel: VolPanel, lo: int, fit_at: int, stop: int) -> FloatArray:
        """See :class:`VolForecaster`."""
        k = panel.window_bars(self.window)
        mean_sq = _rolling_sum(panel.returns[:stop] ** 2, k) / k
        return np.asarray(mean_sq[fit_at:stop] * panel.horizon, dtype=np.float64)


@dataclass(frozen=True)
class GarchFit(SummaryMixin):
    """GARCH-family parameters in *return units* (not the optimizer's scaled units).

    Attributes
    ----------
    omega, alpha, gamma, beta : float
        ``s2_t = omega + (alpha + gamma 1{r_{t-1} < 0}) r_{t-1}^2 + beta s2_{t-1}`` (``gamma = 0``
        for plain GARCH).
    nu : float or None
        Student-t degrees of freedom (``None`` for normal innovations).
    backcast : float
        ``arch``'s start-up variance (exponentially weighted mean of the first 75 squared returns).
    converged : bool
        The optimizer reported success and raised no convergence warning.
    """

    omega: float
    alpha: float
    gamma: float
    beta: float
    nu: float | None
    backcast: float
    converged: bool

    @property
    def persistence(self) -> float:
        """``alpha + beta + gamma / 2`` (symmetric innovations: ``P(z < 0) = 1/2``)."""
        return self.alpha + self.beta + 0.5 * self.gamma

    def summary(self) -> Summary:
        """Table ``parameters`` (omega, alpha, gamma, beta, nu, persistence, backcast) and a convergence note."""
        params = {"omega": self.omega, "alpha": self.alpha, "gamma": self.gamma, "beta": self.beta,
                  "nu": np.nan if self.nu is None else self.nu, "persistence": self.persistence,
                  "backcast": self.backcast}
        notes = ["s2_t = omega + (alpha + gamma 1{r_{t-1} < 0}) r_{t-1}^2 + beta s2_{t-1}, in return units; "
                 + ("normal innovations" if self.nu is None else "Student-t innovations (nu degrees of freedom)"),
                 "converged" if self.converged else "the optimizer did not converge: treat the parameters with care"]
        return summary_table("GARCH fit", {"parameters": pd.Series(params, name="value", dtype=np.float64)}, notes)


def garch_filter(
    returns: npt.ArrayLike, omega: float, alpha: float, beta: float, gamma: float = 0.0, *, backcast: float
) -> FloatArray:
    """GJR-GARCH(1,1) conditional variances, one longer than ``returns``.

    ``s2[0] = omega + (alpha + gamma/2 + beta) * backcast`` and
    ``s2[t] = omega + (alpha + gamma 1{r_{t-1} < 0}) r_{t-1}^2 + beta s2[t-1]`` (``arch``'s recursion
    and start-up); ``s2[t]`` uses returns ``< t`` only, so ``s2[-1]`` is the one-step-ahead forecast
    after the last return.
    """
    r = np.asarray(returns, dtype=np.float64)
    x = np.empty(r.size + 1)
    x[0] = omega + (alpha + 0.5 * gamma + beta) * backcast
    x[1:] = omega + (alpha + gamma * (r < 0)) * r * r
    return np.asarray(lfilter([1.0], [1.0, -beta], x), dtype=np.float64)


def _horizon_coefs(omega: float, persistence: float, horizon: int) -> tuple[FloatArray, FloatArray]:
    a = np.zeros(horizon)
    b = np.ones(horizon)
    for k in range(1, horizon):
        a[k] = omega + persistence * a[k - 1]
        b[k] = persistence * b[k - 1]
    return a, b


def garch_horizon_variance(
    next_var: npt.ArrayLike, omega: float, persistence: float, horizon: int
) -> FloatArray:
    """Expected variance of the sum of the next ``horizon`` returns given the one-step variance.

    ``E[s2_{t+k}] = a_k + b_k s2_{t+1}`` with ``a_1 = 0, b_1 = 1, a_k = omega + p a_{k-1},
    b_k = p b_{k-1}`` (valid for any persistence ``p``, including ``p >= 1``); returns
    ``sum_k a_k + (sum_k b_k) s2_{t+1}``.
    """
    a, b = _horizon_coefs(omega, persistence, horizon)
    return np.asarray(a.sum() + b.sum() * np.asarray(next_var, dtype=np.float64), dtype=np.float64)


def _arch_scale(r: FloatArray) -> float:
    """Power of ten bringing the returns' sd to order 1 (``arch``'s optimizer works best there)."""
    sd = float(np.std(r))
    if not np.isfinite(sd) or sd <= 0:
        raise ValueError("GARCH fit: training returns have zero or undefined variance")
    return float(10.0 ** np.round(-np.log10(sd)))


def fit_garch_arch(
    returns: npt.ArrayLike, *, gjr: bool = False, dist: Literal["normal", "t"] = "normal"
) -> tuple[GarchFit, Any]:
    """Fit a zero-mean (GJR-)GARCH(1,1) with ``arch`` and return parameters in return units.

    Returns are multiplied by a power of ten (``_arch_scale``) before fitting, and ``omega`` and the
    backcast are divided back by its square. Returns ``(GarchFit, arch result)``; the ``arch``
    result is in scaled units. Optimizer warnings are caught and reported as ``converged``.
    """
    from arch import arch_model

    r = np.asarray(returns, dtype=np.float64)
    if r.size < 100 or not np.all(np.isfinite(r)):
        raise ValueError(f"GARCH fit: need >= 100 finite returns, got {r.size} ({np.sum(~np.isfinite(r))} bad)")
    c = _arch_scale(r)
    model = arch_model(r * c, mean="Zero", vol="GARCH", p=1, o=1 if gjr else 0, q=1, dist=dist, rescale=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(disp="off", options={"maxiter": 500})
    params = res.params
    fit = GarchFit(
        omega=float(params["omega"]) / c**2,
        alpha=float(params["alpha[1]"]),
        gamma=float(params["gamma[1]"]) if gjr else 0.0,
        beta=float(params["beta[1]"]),
        nu=float(params["nu"]) if dist == "t" else None,
        backcast=float(model.volatility.backcast(r * c)) / c**2,
        converged=int(res.convergence_flag) == 0 and not any("onvergence" in str(w.message) for w in caught),
    )
    return fit, res


@dataclass(frozen=True)
class GarchForecaster:
    """GARCH(1,1) / GJR-GARCH(1,1,1) with normal or Student-t innovations, fitted by ``arch``.

    Parameters
    ----------
    gjr : bool
        Add the GJR leverage term ``gamma r^2 1{r < 0}``.
    dist : {"normal", "t"}
        Innovation law (standardized Student-t: ``arch``'s ``StudentsT``).
    seasonal : bool
        Fit on returns divided by their intraday factor ``f_b`` (UTC time-of-day bucket ``b``,
        ``f_b^2`` = mean squared return in the bucket / overall, estimated on the training window
        only; Andersen & Bollerslev 1997) and multiply the ``k``-step variance forecasts back by the
        ``f^2`` of the bar they fall in (bar times are known in advance: the clock, not the data).
    seasonal_bucket : str
        Bucket length for ``seasonal`` (divides a day).
    """

    gjr: bool = False
    dist: Literal["normal", "t"] = "normal"
    seasonal: bool = False
    seasonal_bucket: str = "1h"

    def forecast(self, panel: VolPanel, lo: int, fit_at: int, stop: int) -> FloatArray:
        """See :class:`VolForecaster`: fit on returns of bars ``lo+1..fit_at``, filter through ``stop-1``."""
        first = max(lo, 1)
        r = panel.returns[first:stop]
        if self.seasonal:
            bucket_s = round(pd.Timedelta(self.seasonal_bucket).total_seconds())
            if bucket_s <= 0 or 86400 % bucket_s:
                raise ValueError(f"GarchForecaster: seasonal_bucket {self.seasonal_bucket!r} must divide a day")
            opens = panel.times[first:stop] - pd.Timedelta(seconds=panel.bar_s)
            bucket = _second_of_day(opens) // bucket_s
            n_train = fit_at - first + 1
            f2_by_bucket = _bucket_f2(r[:n_train], bucket[:n_train], 86400 // bucket_s, at=fit_at)
            r = r / np.sqrt(f2_by_bucket[bucket])
        fit, _ = fit_garch_arch(r[: fit_at - first + 1], gjr=self.gjr, dist=self.dist)
        s2 = garch_filter(r, fit.omega, fit.alpha, fit.beta, fit.gamma, backcast=fit.backcast)
        next_var = s2[fit_at - first + 1 : stop - first + 1]
        if not self.seasonal:
            return garch_horizon_variance(next_var, fit.omega, fit.persistence, panel.horizon)
        a, b = _horizon_coefs(fit.omega, fit.persistence, panel.horizon)
        # bar k (1..H) after state s opens at the state's knowledge time + (k - 1) bars
        start = _second_of_day(panel.times[fit_at:stop])
        secs = (start[:, None] + np.arange(panel.horizon)[None, :] * round(panel.bar_s)) % 86400
        f2 = f2_by_bucket[secs // bucket_s]
        return np.asarray(f2 @ a + (f2 @ b) * next_var, dtype=np.float64)


def _second_of_day(times: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    return np.asarray((times.hour * 3600 + times.minute * 60 + times.second).to_numpy(), dtype=np.int64)


def _bucket_f2(r: FloatArray, bucket: npt.NDArray[np.int64], n_buckets: int, *, at: int) -> FloatArray:
    """Intraday variance factors ``f_b^2`` (mean over buckets = 1) from returns and their buckets."""
    ok = np.isfinite(r)
    count = np.bincount(bucket[ok], minlength=n_buckets)
    if np.any(count == 0):
        raise ValueError(f"GarchForecaster(seasonal=True) fit at state {at}: {int(np.sum(count == 0))} time-of-day "
                         "buckets have no training returns (need at least one full day)")
    ms = np.bincount(bucket[ok], weights=r[ok] ** 2, minlength=n_buckets) / count
    if np.any(ms <= 0):
        raise ValueError(f"GarchForecaster(seasonal=True) fit at state {at}: a bucket has zero variance")
    return np.asarray(ms / ms.mean(), dtype=np.float64)


HAR_COLUMNS: tuple[str, ...] = tuple(f"rv_{w}" for w in FEATURE_WINDOWS)


@dataclass(frozen=True)
class HARForecaster:
    """HAR-RV (Corsi 2009): ``RV_{s -> s+H} = b0 + sum_w b_w H rv_w(s) + e`` by OLS.

    Regressors are the trailing mean squared returns over :data:`FEATURE_WINDOWS` (15 min, 1 h,
    4 h, 24 h: the intraday analogue of Corsi's day/week/month), scaled to the horizon. Forecasts
    are floored at 1% of the median training target (OLS can go negative).
    """

    sample_every: int = 1
    """Use every n-th training state (1: all; consecutive targets overlap)."""

    def forecast(self, panel: VolPanel, lo: int, fit_at: int, stop: int) -> FloatArray:
        """See :class:`VolForecaster`."""
        x_all = panel.features.loc[:, list(HAR_COLUMNS)].to_numpy(dtype=np.float64) * panel.horizon
        rows = panel.train_rows(lo, fit_at)[:: self.sample_every]
        x = x_all[rows]
        y = panel.target[rows]
        ok = np.all(np.isfinite(x), axis=1) & np.isfinite(y)
        if ok.sum() < 10 * (x.shape[1] + 1):
            raise ValueError(f"HAR fit at state {fit_at}: only {int(ok.sum())} complete training rows")
        design = np.column_stack([np.ones(int(ok.sum())), x[ok]])
        coef, *_ = np.linalg.lstsq(design, y[ok], rcond=None)
        pred = coef[0] + x_all[fit_at:stop] @ coef[1:]
        return np.asarray(np.maximum(pred, 0.01 * float(np.median(y[ok]))), dtype=np.float64)


@dataclass(frozen=True)
class MLForecaster:
    """Gradient-boosted trees on the panel's features, walk-forward.

    The trees learn a log-scale correction to a baseline: the target is
    ``log(RV_next) - log(H x baseline)`` (``RV_next`` floored at 1e-3 of its training median), the
    forecast ``H x baseline x exp(prediction) x mean(exp(residual))`` (Duan 1983 smearing, so it
    estimates the mean variance that QLIKE and MSE reward, not the median). Boosting from the
    baseline lets shallow trees extrapolate to vol levels unseen in training. Defaults are heavily
    shrunk (100 depth-2 trees, learning rate 0.02): on a few days of 1-minute data, deeper or
    faster boosting fitted noise and lost to the HV benchmark in our simulated worlds.

    Parameters
    ----------
    library : {"xgboost", "lightgbm"}
    n_estimators, max_depth, learning_rate : int, int, float
        Boosting settings.
    sample_every : int
        Use every n-th training state (overlapping targets carry little new information).
    seed : int
        Random seed of the booster (row/column subsampling); single-threaded, so deterministic.
    exclude : tuple of str
        Panel features left out. ``day_of_week`` is excluded by default: with less than a few weeks
        of training data the test days are weekdays never seen in training.
    baseline : str
        The panel feature (a per-bar variance) the trees correct.
    """

    library: Literal["xgboost", "lightgbm"] = "xgboost"
    n_estimators: int = 100
    max_depth: int = 2
    learning_rate: float = 0.02
    sample_every: int = 3
    seed: int = 0
    exclude: tuple[str, ...] = ("day_of_week",)
    baseline: str = "rv_1h"

    def _model(self) -> Any:
        if self.library == "xgboost":
            import xgboost

            return xgboost.XGBRegressor(
                n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
                subsample=0.8, colsample_bytree=0.8, tree_method="hist", n_jobs=1, random_state=self.seed,
            )
        if self.library == "lightgbm":
            import lightgbm

            return lightgbm.LGBMRegressor(
                n_estimators=self.n_estimators, max_depth=self.max_depth, num_leaves=2**self.max_depth,
                learning_rate=self.learning_rate, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                n_jobs=1, random_state=self.seed, deterministic=True, force_row_wise=True, verbose=-1,
            )
        raise ValueError(f"MLForecaster: unknown library {self.library!r}")

    def design(self, panel: VolPanel) -> FloatArray:
        """Model inputs: logs of the variance features, everything else as is, minus ``exclude``."""
        f = panel.features
        unknown = sorted(set(self.exclude) - set(f.columns))
        if unknown:
            raise ValueError(f"MLForecaster: exclude names unknown features {unknown}; have {list(f.columns)}")
        cols = []
        for c in f.columns:
            if c in self.exclude:
                continue
            v = f[c].to_numpy(dtype=np.float64)
            if c.startswith("rv_"):
                with np.errstate(divide="ignore"):
                    v = np.log(np.maximum(v, 1e-30) * panel.horizon)
            cols.append(v)
        return np.column_stack(cols)

    def forecast(self, panel: VolPanel, lo: int, fit_at: int, stop: int) -> FloatArray:
        """See :class:`VolForecaster`."""
        x_all = self.design(panel)
        core = np.all(np.isfinite(panel.features.loc[:, list(HAR_COLUMNS)].to_numpy()), axis=1)
        rows = panel.train_rows(lo, fit_at)[:: self.sample_every]
        rows = rows[core[rows] & np.isfinite(panel.target[rows])]
        if rows.size < 200:
            raise ValueError(f"MLForecaster fit at state {fit_at}: only {rows.size} complete training rows")
        y = panel.target[rows]
        floor = 1e-3 * float(np.median(y))
        base_all = np.log(np.maximum(panel.features[self.baseline].to_numpy(dtype=np.float64) * panel.horizon,
                                     floor))
        ly = np.log(np.maximum(y, floor)) - base_all[rows]
        model = self._model()
        model.fit(x_all[rows], ly)
        resid = ly - np.asarray(model.predict(x_all[rows]), dtype=np.float64)
        smear = float(np.mean(np.exp(resid)))
        out = np.full(stop - fit_at, np.nan)
        ok = core[fit_at:stop]
        if ok.any():
            pred = np.asarray(model.predict(x_all[fit_at:stop][ok]), dtype=np.float64)
            out[ok] = np.exp(pred + base_all[fit_at:stop][ok]) * smear
        return out


def default_forecasters(seed: int = 0) -> dict[str, VolForecaster]:
    """The issue's set: HV (1 h), GARCH, GJR, GARCH-t, GJR-t, seasonal GARCH, HAR-RV, XGBoost, LightGBM."""
    return {
        "hv_1h": HVForecaster("1h"),
        "garch": GarchForecaster(),
        "gjr": GarchForecaster(gjr=True),
        "garch_t": GarchForecaster(dist="t"),
        "gjr_t": GarchForecaster(gjr=True, dist="t"),
        "garch_seasonal": GarchForecaster(seasonal=True),
        "har": HARForecaster(),
        "xgboost": MLForecaster("xgboost", seed=seed),
        "lightgbm": MLForecaster("lightgbm", seed=seed),
    }


# --------------------------------------------------------------------------------------------------
# Walk-forward driver and results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkForward:
    """Refit schedule in bars: first fit at state ``min_train``, then every ``refit_every`` states.

    ``train_window`` bars (rolling) or ``None`` (expanding from the first bar). Fit points are
    anchored at the first bar, so truncating or changing data after ``t`` never moves a fit at or
    before ``t``.
    """

    min_train: int
    refit_every: int
    train_window: int | None = None

    def __post_init__(self) -> None:
        if self.min_train < 1 or self.refit_every < 1:
            raise ValueError("WalkForward: min_train and refit_every must be >= 1 bar")
        if self.train_window is not None and self.train_window < 2:
            raise ValueError("WalkForward: train_window must be >= 2 bars or None")

    def fit_points(self, n_states: int) -> list[int]:
        """States at which the models are (re)fitted."""
        return list(range(self.min_train, n_states, self.refit_every))

    def train_start(self, fit_at: int) -> int:
        """First state of the training window of the fit at ``fit_at``."""
        return 0 if self.train_window is None else max(0, fit_at - self.train_window + 1)


@dataclass(frozen=True)
class ForecastComparison(SummaryMixin):
    """QLIKE and MSE of each forecaster and Diebold-Mariano tests against a benchmark.

    ``table`` has one row per forecaster: ``n``, ``qlike``, ``mse``, and for each loss the HLN-corrected
    DM statistic and two-sided p-value of ``loss(model) - loss(benchmark)`` (negative: the model is
    better). ``h`` is the DM horizon used (1 for non-overlapping targets).
    """

    table: pd.DataFrame
    benchmark: str
    h: int

    def summary(self) -> Summary:
        """Table ``comparison`` (:attr:`table`); notes: the benchmark and the DM horizon."""
        return Summary("Volatility forecast comparison", (("comparison", self.table),),
                       (f"benchmark: {self.benchmark}; Diebold-Mariano (HLN-corrected) horizon h = {self.h}",
                        "dm_* < 0: the model's loss is below the benchmark's; p_* two-sided"))


@dataclass(frozen=True)
class VolForecasts(SummaryMixin):
    """Walk-forward variance forecasts per state (see :func:`walk_forward_vol`).

    Attributes
    ----------
    variance : DataFrame
        Forecast variance of the log return over the next ``horizon_s`` seconds, indexed by state
        knowledge time, one column per forecaster (NaN before the first fit).
    realized : Series
        The realized variance over that horizon *after* each state: the evaluation proxy, the
        future. Never use it as an input.
    horizon_s : float
    fit_times : DatetimeIndex
        Knowledge times of the refits.
    """

    variance: pd.DataFrame
    realized: pd.Series
    horizon_s: float
    fit_times: pd.DatetimeIndex

    @cached_property
    def forecaster_table(self) -> pd.DataFrame:
        """Per forecaster: states forecast, mean and median annualized vol forecast, and the same for
        the realized proxy (over the states where the forecaster and the proxy exist)."""
        vol = self.vol()
        real = pd.Series(annualize(self.realized.to_numpy(dtype=np.float64), self.horizon_s), index=self.realized.index)
        rows = {}
        for col in vol.columns:
            ok = vol[col].notna() & real.notna()
            rows[col] = {"n": int(vol[col].notna().sum()), "mean_vol": float(vol.loc[ok, col].mean()),
                         "median_vol": float(vol.loc[ok, col].median()), "realized_mean_vol": float(real[ok].mean()),
                         "refits": len(self.fit_times)}
        return pd.DataFrame(rows).T

    def summary(self) -> Summary:
        """Table ``forecasters`` (:attr:`forecaster_table`); notes: horizon, states and refits."""
        return Summary("Walk-forward volatility forecasts", (("forecasters", self.forecaster_table),),
                       (f"horizon {self.horizon_s / 60:g} min, {len(self.variance)} states, "
                        f"{len(self.fit_times)} refits",
                        "vols annualized on the 24/7 year; realized_mean_vol: the realized proxy over the same states"))

    def vol(self) -> pd.DataFrame:
        """Forecasts as annualized volatilities (24/7 year: ``sqrt(var x SECONDS_PER_YEAR / horizon_s)``,
        :func:`pmresearch.pricing.vol.annualize`)."""
        return pd.DataFrame(annualize(self.variance.to_numpy(dtype=np.float64), self.horizon_s),
                            index=self.variance.index, columns=self.variance.columns)

    def asof(self, decision_times: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
        """Annualized vol forecasts known at each decision time (latest state with knowledge time ``<= t``)."""
        t = pd.DatetimeIndex(ensure_utc(pd.Series(decision_times), what="decision_times"))
        pos = self.variance.index.searchsorted(t, side="right") - 1
        vals = self.vol().to_numpy(dtype=np.float64)
        out = np.where((pos >= 0)[:, None], vals[np.clip(pos, 0, None)], np.nan)
        return pd.DataFrame(out, index=t, columns=self.variance.columns)

    def add_to_rows(self, rows: pd.DataFrame, *, time_column: str = "t", prefix: str = "vol__") -> pd.DataFrame:
        """A copy of decision ``rows`` with one annualized forecast column per model.

        Columns are named ``<prefix><model>_<horizon minutes>m`` (``vol__garch_15m``), the names
        :func:`pmresearch.models.model_a_variant` reads; values are as of each row's ``time_column``.
        """
        if time_column not in rows.columns:
            raise ValueError(f"add_to_rows: rows have no column {time_column!r}")
        vols = self.asof(rows[time_column])
        out = rows.copy()
        minutes = f"{self.horizon_s / 60.0:g}m"
        for col in vols.columns:
            out[f"{prefix}{col}_{minutes}"] = vols[col].to_numpy()
        return out

    def compare(
        self,
        benchmark: str = "hv_1h",
        *,
        models: Sequence[str] | None = None,
        non_overlapping: bool = True,
    ) -> ForecastComparison:
        """QLIKE, MSE and DM tests on the states where every model and the proxy are available.

        With ``non_overlapping`` (default) states are thinned to one per horizon, so targets do not
        overlap and DM uses ``h = 1``; otherwise every state is used and DM uses ``h = H``.
        """
        names = list(self.variance.columns if models is None else models)
        if benchmark not in self.variance.columns:
            raise ValueError(f"compare: benchmark {benchmark!r} is not a forecast column {list(self.variance.columns)}")
        v = self.variance[list(dict.fromkeys([*names, benchmark]))]
        y = self.realized
        ok = (np.all(np.isfinite(v.to_numpy()), axis=1) & np.isfinite(y.to_numpy()) & (y.to_numpy() > 0))
        idx = np.flatnonzero(ok)
        h_states = max(1, round(self.horizon_s / float((self.variance.index[1] - self.variance.index[0])
                                                        .total_seconds())))
        if non_overlapping:
            idx = idx[(idx - idx[0]) % h_states == 0] if idx.size else idx
        h = 1 if non_overlapping else h_states
        yy = y.to_numpy()[idx]
        losses = {m: (qlike_loss(yy, v[m].to_numpy()[idx]), mse_loss(yy, v[m].to_numpy()[idx])) for m in v.columns}
        rows = []
        for m in names:
            q, s = losses[m]
            row: dict[str, Any] = {"model": m, "n": idx.size, "qlike": float(q.mean()), "mse": float(s.mean())}
            if m == benchmark:
                row.update(dm_qlike=np.nan, p_qlike=np.nan, dm_mse=np.nan, p_mse=np.nan)
            else:
                dq = diebold_mariano(q, losses[benchmark][0], h=h)
                dm = diebold_mariano(s, losses[benchmark][1], h=h)
                row.update(dm_qlike=dq.statistic, p_qlike=dq.pvalue, dm_mse=dm.statistic, p_mse=dm.pvalue)
            rows.append(row)
        return ForecastComparison(table=pd.DataFrame(rows).set_index("model"), benchmark=benchmark, h=h)


def walk_forward_vol(
    bars: pd.DataFrame,
    forecasters: Mapping[str, VolForecaster] | None = None,
    *,
    horizon: str | pd.Timedelta = "15min",
    min_train: str | pd.Timedelta = "2D",
    refit_every: str | pd.Timedelta = "6h",
    train_window: str | pd.Timedelta | None = None,
    extra: pd.DataFrame | None = None,
) -> VolForecasts:
    """Walk-forward variance forecasts of the next ``horizon`` at every bar state.

    Parameters
    ----------
    bars : DataFrame
        Consecutive klines (``ts``, ``close``, optional ``volume``): see :func:`vol_panel`.
    forecasters : mapping, optional
        Name -> forecaster; :func:`default_forecasters` when omitted.
    horizon : str or Timedelta
        Forecast horizon (15 minutes: one market window).
    min_train, refit_every : str or Timedelta
        Data before the first fit, and time between refits.
    train_window : str or Timedelta, optional
        Rolling training window; ``None`` for expanding.
    extra : DataFrame, optional
        Exogenous inputs indexed by knowledge time (e.g. book imbalance), for the ML forecasters.

    Returns
    -------
    VolForecasts
    """
    panel = vol_panel(bars, horizon=horizon, extra=extra)
    fcs = default_forecasters() if forecasters is None else dict(forecasters)
    sched = WalkForward(
        min_train=panel.window_bars(min_train),
        refit_every=panel.window_bars(refit_every),
        train_window=None if train_window is None else panel.window_bars(train_window),
    )
    n = len(panel)
    points = sched.fit_points(n)
    if not points:
        raise ValueError(f"walk_forward_vol: {n} bars are not more than min_train = {sched.min_train} bars")
    out = {name: np.full(n, np.nan) for name in fcs}
    for k, fit_at in enumerate(points):
        stop = points[k + 1] if k + 1 < len(points) else n
        lo = sched.train_start(fit_at)
        for name, fc in fcs.items():
            out[name][fit_at:stop] = fc.forecast(panel, lo, fit_at, stop)
    variance = pd.DataFrame(out, index=panel.times)
    realized = pd.Series(panel.target, index=panel.times, name="realized_variance")
    return VolForecasts(variance=variance, realized=realized, horizon_s=panel.horizon * panel.bar_s,
                        fit_times=panel.times[points])


# --------------------------------------------------------------------------------------------------
# Simulation (for parameter-recovery tests)
# --------------------------------------------------------------------------------------------------


def simulate_garch(
    n: int,
    omega: float,
    alpha: float,
    beta: float,
    gamma: float = 0.0,
    *,
    nu: float | None = None,
    seed: int,
    burn: int = 1000,
) -> FloatArray:
    """Simulate ``n`` returns of a zero-mean GJR-GARCH(1,1) with a seeded NumPy generator.

    Innovations are standard normal, or Student-t with ``nu > 2`` degrees of freedom scaled to unit
    variance (``arch``'s standardized t). The first ``burn`` draws are discarded (start at the
    unconditional variance).
    """
    p = alpha + beta + 0.5 * gamma
    if omega <= 0 or alpha < 0 or beta < 0 or p >= 1:
        raise ValueError(f"simulate_garch: need omega > 0, alpha, beta >= 0 and persistence < 1, got {p:g}")
    rng = np.random.default_rng(seed)
    m = n + burn
    if nu is None:
        z = rng.standard_normal(m)
    else:
        if nu <= 2:
            raise ValueError("simulate_garch: nu must exceed 2")
        z = rng.standard_t(nu, size=m) * np.sqrt((nu - 2.0) / nu)
    r = np.empty(m)
    s2 = omega / (1.0 - p)
    for t in range(m):  # a scalar recursion: the innovation scales the next variance
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0)) * r[t] * r[t] + beta * s2
    return np.asarray(r[burn:], dtype=np.float64)


def garch_recovery(
    seeds: Sequence[int],
    *,
    n: int = 3000,
    omega: float = 7.2e-9,
    alpha: float = 0.08,
    beta: float = 0.9,
    gamma: float = 0.0,
    nu: float | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Parameter recovery of ``arch`` fits on simulated (GJR-)GARCH(1,1) paths, one row per seed and parameter.

    Each seed simulates ``n`` returns (:func:`simulate_garch`; the defaults have the unconditional
    sd of 1-minute BTC returns, ``sqrt(omega / (1 - alpha - beta)) = 6e-4``), fits the matching model
    with :func:`fit_garch_arch` and reports the estimate, ``arch``'s robust (QMLE sandwich) standard
    error in return units, the error in standard-error units ``z`` and whether the ``level`` Wald
    interval covers the truth.
    """
    from scipy import stats

    truth = {"omega": omega, "alpha": alpha, "beta": beta}
    if gamma:
        truth["gamma"] = gamma
    if nu is not None:
        truth["nu"] = nu
    zcrit = float(stats.norm.ppf(0.5 + level / 2.0))
    rows = []
    for seed in seeds:
        r = simulate_garch(n, omega, alpha, beta, gamma, nu=nu, seed=int(seed))
        fit, res = fit_garch_arch(r, gjr=bool(gamma), dist="normal" if nu is None else "t")
        c2 = _arch_scale(r) ** 2
        est = {"omega": fit.omega, "alpha": fit.alpha, "beta": fit.beta, "gamma": fit.gamma, "nu": fit.nu}
        names = {"omega": "omega", "alpha": "alpha[1]", "beta": "beta[1]", "gamma": "gamma[1]", "nu": "nu"}
        for p, true in truth.items():
            se = float(res.std_err[names[p]]) / (c2 if p == "omega" else 1.0)
            e = float(est[p])  # type: ignore[arg-type]
            z = (e - true) / se
            rows.append({"seed": int(seed), "param": p, "true": true, "estimate": e, "std_error": se, "z": z,
                         "covered": abs(z) <= zcrit, "converged": fit.converged})
    return pd.DataFrame(rows)
