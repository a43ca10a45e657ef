"""The Model A experiment (``notebooks/06_model_a.ipynb``): each ingredient against the ground truth.

Model A prices ``P(up)`` as a digital option from a volatility forecast (and a jump law). On a
simulated world every ingredient has a ground truth: ``World.truth`` holds the diffusion volatility
and the jumps of each 15-minute window, the simulator config the jump law, and every quote its
``true_prob_up``. :func:`run` measures each ingredient against it:

1. volatility *estimators* per window (realized, bipower, range-based, Yang-Zhang) vs the true sigma;
2. walk-forward volatility *forecasters* (HV, GARCH, GJR, HAR, XGBoost, LightGBM) scored by QLIKE and
   MSE against the realized proxy and against the true expected variance, with Diebold-Mariano tests;
3. the Merton jump MLE with its confidence intervals vs the simulator's jump law;
4. Model A variants scored by log loss and Brier against the outcomes (at the decision times of
   ``cfg.schedule``) and compared with the market mid and the true ``P(up)``.

Examples
--------
>>> from pmresearch.experiments.model_a import Config, run
>>> cfg = Config(days=1.75, every_s=120.0)                 # doctest: +SKIP
>>> result = run(cfg)                                      # doctest: +SKIP
>>> result.headline()["best_model_a"]                      # doctest: +SKIP

Figures of a result: :mod:`pmresearch.reports.model_a_report`
(``estimator_figure(result.estimates, result.estimators)``, ``jump_figure(result.jumps)``, ...).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from pmresearch._progress import progress as progress_bar
from pmresearch._summary import Summary
from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.config import ConfigError, param
from pmresearch.experiments._common import ExperimentResult, frozen_mapping
from pmresearch.labels import DecisionSchedule, decision_rows_from_frames
from pmresearch.models import ModelA, VolForecasts, default_forecasters, model_a_variant, walk_forward_vol
from pmresearch.pricing import JumpLaw, bipower_vol, fit_merton, range_vol, realized_vol, yang_zhang_vol
from pmresearch.pricing.jumps import MertonFit, check_alpha
from pmresearch.simulate import World, WorldParams, simulate, truth_at
from pmresearch.simulate.process import jump_law, jump_scale

__all__ = [
    "BENCHMARK",
    "ESTIMATORS",
    "NOTEBOOK",
    "REFERENCES",
    "WINDOW_S",
    "Config",
    "ModelAConfig",
    "ModelAResult",
    "Result",
    "decision_frame",
    "devolatilized_returns",
    "estimator_table",
    "fit_jumps",
    "forecast_table",
    "forecast_vol",
    "jump_table",
    "model_a_models",
    "run",
    "score_models",
    "simulate_world",
    "true_expected_variance",
    "window_estimates",
]

#: The notebook this experiment serves.
NOTEBOOK = "06_model_a"

#: Length of the simulator's volatility windows (and of the forecast horizon), seconds.
WINDOW_S = 900

#: The forecaster every other one is tested against.
BENCHMARK = "hv_1h"

#: Volatility estimators per window: column -> description.
ESTIMATORS: dict[str, str] = {
    "rv_1s": "realized vol, 1 s returns",
    "bv_1s": "bipower vol, 1 s returns (jump-robust)",
    "parkinson_1s": "Parkinson, 1 s bars (discrete-sampling corrected)",
    "rv_1m": "realized vol, 1 min returns",
    "garman_klass_1m": "Garman-Klass, 1 min bars (discrete-sampling corrected)",
    "yang_zhang_1m": "Yang-Zhang, 1 min bars (discrete-sampling corrected)",
}

#: Predictors scored beside Model A that are not Model A candidates (they know the truth, or are the market).
REFERENCES: tuple[str, ...] = ("bs_true_sigma", "merton_true", "market mid", "true P(up)")

_ML_MIN_TRAIN_H = 36.0


@dataclass(frozen=True)
class ModelAConfig(WorldParams):
    """Parameters of ``notebooks/06_model_a.ipynb`` (a simulated world: ``data_dir`` must be empty;
    ``db`` is accepted but unused, nothing is stored). Model A decides every ``every_s`` seconds of
    each window (:attr:`schedule`)."""

    days: float = param(3.0, gt=0.0, le=31.0, doc="simulated days")
    jumps_per_day: float = param(4.0, ge=0.0, le=1000.0, doc="simulated Merton jumps per day")
    interval_minutes: int = param(15, choices=(5, 15), doc="market windows scored by Model A")
    every_s: float = param(60.0, gt=0.0, le=900.0, doc="seconds between decision times in a window")
    min_train_hours: float = param(36.0, ge=26.0, le=24.0 * 30, doc="data before the first forecaster fit")
    refit_hours: float = param(6.0, gt=0.0, le=24.0 * 7, doc="hours between forecaster refits")
    ml: bool = param(True, doc="include the XGBoost and LightGBM forecasters")
    n_bins: int = param(10, ge=2, le=50, doc="probability bins of the reliability diagrams")

    def __post_init__(self) -> None:
        if self.data_dir:
            raise ConfigError(f"06_model_a: data_dir={self.data_dir!r}: this notebook measures Model A against "
                              "a simulated world's ground truth; leave data_dir empty")
        if self.ml and self.min_train_hours < _ML_MIN_TRAIN_H:
            raise ConfigError(f"06_model_a: min_train_hours={self.min_train_hours:g}: the XGBoost/LightGBM "
                              f"forecasters need >= {_ML_MIN_TRAIN_H:g} h of data before their first fit "
                              "(or set ml: false)")
        if self.min_train_hours + 2.0 > 24.0 * self.days:
            raise ConfigError(f"06_model_a: min_train_hours={self.min_train_hours:g} leaves less than 2 h of a "
                              f"{self.days:g}-day world to forecast; raise days")

    @property
    def schedule(self) -> DecisionSchedule:
        """The decision times in each window: every ``every_s`` seconds, from the schedule's default
        first decision (60 s after the start) to its default last (30 s before the end)."""
        return DecisionSchedule(every_s=self.every_s)


#: The experiment's config under its generic name.
Config = ModelAConfig


def _at(frame: pd.DataFrame, row: Any, col: Any) -> float:
    """``frame.loc[row, col]`` as a float (NaN and booleans included)."""
    return float(cast(Any, frame.loc[row, col]))


def simulate_world(cfg: ModelAConfig, *, progress: bool = False) -> World:
    """The simulated world of ``cfg`` (its jump intensity from ``cfg.jumps_per_day``)."""
    return simulate(cfg.preset, days=cfg.days, seed=cfg.seed, start=cfg.start, jumps_per_day=cfg.jumps_per_day,
                    progress=progress)


# --------------------------------------------------------------------------------------------------
# Estimators per window
# --------------------------------------------------------------------------------------------------


def _window_bars(bars: pd.DataFrame, truth: pd.DataFrame, bar_s: int, what: str) -> dict[str, np.ndarray]:
    """Log OHLC of the bars of each truth window, shape (windows, bars per window)."""
    k = bars.sort_values("ts", kind="stable").reset_index(drop=True)
    per = WINDOW_S // bar_s
    n = min(len(k) // per, len(truth))
    if n < 1:
        raise ValueError(f"{what}: fewer than {per} bars: not one {WINDOW_S} s window")
    k = k.iloc[: n * per]
    step = k["ts"].diff().dt.total_seconds().iloc[1:]
    if (step != bar_s).any() or k["ts"].iloc[0] != truth["window_start"].iloc[0]:
        raise ValueError(f"{what}: bars are not consecutive {bar_s} s bars starting at the first truth window "
                         f"({truth['window_start'].iloc[0]})")
    out = {c: np.log(k[c].to_numpy(dtype=np.float64)).reshape(n, per) for c in ("open", "high", "low", "close")}
    flat = out["close"].ravel()
    out["prev_close"] = np.concatenate([[out["open"][0, 0]], flat[:-1]]).reshape(n, per)
    out["returns"] = out["close"] - out["prev_close"]
    return out


def window_estimates(world: World) -> pd.DataFrame:
    """Each estimator of :data:`ESTIMATORS` per 15-minute window, beside the window's true sigma.

    Returns
    -------
    DataFrame
        ``window_start``, ``true_sigma`` (annualized diffusion vol), ``jumps`` (jumps in the window)
        and one annualized estimate per estimator, from the window's own bars only.
    """
    truth = world.truth.reset_index(drop=True)
    s1 = _window_bars(world.klines_1s, truth, 1, "klines_1s")
    m1 = _window_bars(world.klines[world.klines["symbol"] == "BTCUSDT"], truth, 60, "klines 1m")
    n = min(s1["close"].shape[0], m1["close"].shape[0])
    # a simulated 1 s bar holds m path points (m - 1 increments); the step to the next bar's open is a
    # gap; a 1 min bar holds 60 m points: the discrete-sampling corrections need those counts
    m = int(world.config.substeps_per_s)
    est = {
        "rv_1s": realized_vol(s1["returns"][:n], float(WINDOW_S)),
        "bv_1s": bipower_vol(s1["returns"][:n], float(WINDOW_S)),
        "parkinson_1s": (range_vol(s1["open"][:n], s1["high"][:n], s1["low"][:n], s1["close"][:n], 1.0, "parkinson",
                                   steps_per_bar=m - 1, gap_steps=1) if m >= 2 else np.full(n, np.nan)),
        "rv_1m": realized_vol(m1["returns"][:n], float(WINDOW_S)),
        "garman_klass_1m": range_vol(m1["open"][:n], m1["high"][:n], m1["low"][:n], m1["close"][:n], 60.0,
                                     "garman_klass", steps_per_bar=60 * m - 1, gap_steps=1),
        "yang_zhang_1m": yang_zhang_vol(m1["open"][:n], m1["high"][:n], m1["low"][:n], m1["close"][:n],
                                        m1["prev_close"][:n], 60.0, steps_per_bar=60 * m - 1),
    }
    out = pd.DataFrame({"window_start": truth["window_start"].iloc[:n].to_numpy(),
                        "true_sigma": truth["sigma"].iloc[:n].to_numpy(dtype=np.float64),
                        "jumps": truth["jump_steps"].iloc[:n].to_numpy(dtype=np.int64)})
    for name, values in est.items():
        out[name] = np.asarray(values, dtype=np.float64)
    return out


def estimator_table(est: pd.DataFrame) -> pd.DataFrame:
    """Per estimator: mean ratio to the true sigma minus one (bias) in windows without and with jumps,
    RMSE of the log ratio, and the correlation with the truth."""
    jump = est["jumps"] > 0
    rows = {}
    for name, desc in ESTIMATORS.items():
        ratio = est[name] / est["true_sigma"]
        ok = np.isfinite(ratio) & (ratio > 0)
        rows[name] = {
            "estimator": desc,
            "bias (no-jump windows)": float(ratio[ok & ~jump].mean() - 1.0) if (ok & ~jump).any() else np.nan,
            "bias (jump windows)": float(ratio[ok & jump].mean() - 1.0) if (ok & jump).any() else np.nan,
            "rmse log ratio": float(np.sqrt(np.mean(np.log(ratio[ok]) ** 2))) if ok.any() else np.nan,
            "corr with truth": float(np.corrcoef(est.loc[ok, name], est.loc[ok, "true_sigma"])[0, 1])
            if ok.sum() > 2 else np.nan,
        }
    out = pd.DataFrame(rows).T
    out.attrs["windows"], out.attrs["jump_windows"] = len(est), int(jump.sum())
    return out


# --------------------------------------------------------------------------------------------------
# Forecasters
# --------------------------------------------------------------------------------------------------


def forecast_vol(world: World, cfg: ModelAConfig) -> VolForecasts:
    """Walk-forward 15-minute variance forecasts from the world's BTC 1-minute klines."""
    fcs = default_forecasters(cfg.seed)
    if not cfg.ml:
        fcs = {k: v for k, v in fcs.items() if k not in ("xgboost", "lightgbm")}
    bars = world.klines[(world.klines["symbol"] == "BTCUSDT") & (world.klines["interval"] == "1m")]
    return walk_forward_vol(bars.sort_values("ts", kind="stable"), fcs, horizon=pd.Timedelta(seconds=WINDOW_S),
                            min_train=pd.Timedelta(hours=cfg.min_train_hours),
                            refit_every=pd.Timedelta(hours=cfg.refit_hours))


def true_expected_variance(world: World) -> pd.Series:
    """The true expected log-return variance of each 15-minute window, indexed by its start:
    ``sigma^2 T + lam T k^2 (mu_j^2 + sigma_j^2)`` with ``T`` the window in years (diffusion plus the
    jump law's expected contribution, :attr:`pmresearch.pricing.JumpLaw.second_moment`, at the window's
    jump scale ``k``, :func:`pmresearch.simulate.process.jump_scale`: 1 unless jumps scale with the vol)."""
    law = jump_law(world.config)
    horizon = WINDOW_S / SECONDS_PER_YEAR
    sigma = world.truth["sigma"].to_numpy(dtype=np.float64)
    k = jump_scale(world.config, sigma)
    var = sigma**2 * horizon + law.lam * horizon * law.second_moment * k**2
    return pd.Series(var, index=pd.DatetimeIndex(world.truth["window_start"]), name="true_variance")


def forecast_table(vf: VolForecasts, world: World) -> pd.DataFrame:
    """QLIKE and MSE of each forecaster against the realized variance (``VolForecasts.compare``, one
    state per horizon) and against the true expected variance (states at window starts), with
    Diebold-Mariano statistics and p-values against :data:`BENCHMARK` (negative: better)."""
    comp = vf.compare(BENCHMARK).table
    truth = true_expected_variance(world)
    v = vf.variance.reindex(truth.index)
    n = int(np.all(np.isfinite(v.to_numpy()), axis=1).sum())
    if n < 3:
        raise ValueError(f"forecast_table: only {n} windows with every forecast; simulate more days")
    # the same comparison with the true expected variance of each window as the proxy (one state per window)
    vs_truth = VolForecasts(variance=v, realized=truth, horizon_s=vf.horizon_s, fit_times=vf.fit_times)
    extra = vs_truth.compare(BENCHMARK).table.drop(columns="dm_mse").add_suffix("_truth")
    out = comp.join(extra)
    return out.astype({c: "float64" for c in out.columns})


# --------------------------------------------------------------------------------------------------
# Jumps
# --------------------------------------------------------------------------------------------------


def devolatilized_returns(world: World) -> tuple[np.ndarray, float]:
    """1-second log returns divided by their window's bipower vol and rescaled to the median one.

    The Merton model has one constant diffusion vol; the simulator's changes every window (AR(1)
    log-vol, regimes, an intraday cycle). Fitted on raw returns, the MLE explains that
    heteroskedasticity with thousands of tiny "jumps". Dividing each window's returns by its own
    jump-robust bipower vol (an estimate from the data, not the truth) removes it and leaves the
    jumps, which bipower variation ignores.

    Returns
    -------
    (ndarray, float)
        The returns and the median bipower vol they are scaled to.
    """
    s1 = _window_bars(world.klines_1s, world.truth.reset_index(drop=True), 1, "klines_1s")
    r = s1["returns"]
    bv = bipower_vol(r, float(WINDOW_S))
    scale = float(np.median(bv))
    return np.asarray((r / bv[:, None] * scale).ravel(), dtype=np.float64), scale


def fit_jumps(world: World) -> MertonFit:
    """:func:`pmresearch.pricing.fit_merton` on the devolatilized 1-second returns."""
    r, _ = devolatilized_returns(world)
    return fit_merton(r, 1.0)


def jump_table(fit: MertonFit, world: World, alpha: float = 0.05) -> pd.DataFrame:
    """The MLE's estimates and ``1 - alpha`` intervals (95% by default) beside the simulator's law, and
    whether they cover it.

    The truth of ``sigma`` is the median true window sigma (the returns are rescaled to the median
    window vol; jumps that scale with the vol then have the law of that vol: ``mu_j``, ``sigma_j`` times
    its jump scale); ``lam`` also shows the jumps that actually happened, per year (``attrs["realized_lam"]``);
    ``attrs["alpha"]`` is the intervals' ``alpha``.
    """
    c = world.config
    law = jump_law(c)
    days = len(world.truth) * WINDOW_S / 86400.0
    sigma_med = float(world.truth["sigma"].median())
    k = float(jump_scale(c, sigma_med))  # rescaled to the median vol, vol-scaled jumps are those of that vol
    truth = {"mu": c.drift, "sigma": sigma_med, "lam": law.lam, "mu_j": law.mu_j * k, "sigma_j": law.sigma_j * k}
    s = fit.summary(alpha)["estimates"]
    out = pd.DataFrame({"estimate": s["estimate"], "std_error": s["std_error"], "lower": s["lower"],
                        "upper": s["upper"], "truth": pd.Series(truth)})
    out["covered"] = (out["lower"] <= out["truth"]) & (out["truth"] <= out["upper"])
    out.attrs["alpha"] = check_alpha(alpha)
    out.attrs["jumps_in_sample"] = int(world.truth["jump_steps"].sum())
    out.attrs["realized_lam"] = float(world.truth["jump_steps"].sum()) / days * 365.0
    return out


# --------------------------------------------------------------------------------------------------
# Model A against the truth
# --------------------------------------------------------------------------------------------------


def decision_frame(world: World, vf: VolForecasts, cfg: ModelAConfig) -> pd.DataFrame:
    """Decision rows of the world with ``true_prob_up`` (the truth at ``t`` itself, :func:`truth_at`), the true
    sigma of the window holding ``t`` (``true_sigma``) and the vol forecasts as of ``t``
    (``vol__<model>_15m``)."""
    frames = {"markets": world.markets, "oracle": world.oracle, "klines": world.klines, "quotes": world.quotes,
              "books": world.top_books}
    rows = decision_rows_from_frames(frames, interval_minutes=cfg.interval_minutes, schedule=cfg.schedule)
    order = rows[["t", "slug"]].reset_index().sort_values("t", kind="stable")
    rows["true_prob_up"] = truth_at(world.true_probs, rows["slug"], rows["t"])  # the truth as of t itself
    tw = world.truth[["window_start", "sigma"]].sort_values("window_start")
    sig = pd.merge_asof(order, tw, left_on="t", right_on="window_start", direction="backward")
    rows["true_sigma"] = sig.set_index("index")["sigma"].reindex(rows.index)
    return vf.add_to_rows(rows)


def model_a_models(fit: MertonFit, world: World, vol_columns: list[str]) -> dict[str, ModelA]:
    """The Model A variants to score, and two references that know the true sigma.

    ``bs_hv``, ``bs_garch``, ``merton_garch`` (jump law from ``fit``) and, when the forecasts exist,
    ``bs_har`` and ``bs_xgboost``; references: ``bs_true_sigma`` (Black-Scholes with the window's true
    diffusion vol, no jumps) and ``merton_true`` (true vol and true jump law: the simulator's model
    up to the risk-neutral drift and the oracle noise).
    """
    models = {
        "bs_hv": model_a_variant("bs_hv", hv_column="vol__hv_1h_15m"),
        "bs_garch": model_a_variant("bs_garch", garch_column="vol__garch_15m"),
        "merton_garch": model_a_variant("merton_garch", garch_column="vol__garch_15m", jumps=JumpLaw.from_fit(fit)),
    }
    for name in ("har", "xgboost"):
        if f"vol__{name}_15m" in vol_columns:
            models[f"bs_{name}"] = ModelA("bs", f"vol__{name}_15m")
    models["bs_true_sigma"] = ModelA("bs", "true_sigma")
    models["merton_true"] = ModelA("merton", "true_sigma", jumps=jump_law(world.config), vol_is_total=False)
    return models


def score_models(rows: pd.DataFrame, models: dict[str, ModelA], clip: float = 1e-6,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log loss and Brier of every model, the market mid and the true ``P(up)`` on the rows where all
    of them exist, with the mean absolute gap to the true ``P(up)``.

    Returns
    -------
    (DataFrame, DataFrame)
        The score table (one row per predictor: ``log_loss``, ``brier``, ``excess_log_loss`` over the
        truth's, ``mae_vs_true_p``) and the scored rows' probabilities (``label``, ``slug``, ``t`` and
        one column per predictor).
    """
    from sklearn.metrics import brier_score_loss, log_loss

    need = {"label", "mid_up", "true_prob_up", "spot", "strike", "tau_s"}
    for m in models.values():
        need.add(m.vol_column)
    ok = np.all(np.isfinite(rows[sorted(need)].astype("float64").to_numpy()), axis=1)
    d = rows[ok].reset_index(drop=True)
    if d.empty or d["label"].nunique() < 2:
        raise ValueError(f"score_models: {len(d)} rows with every input and a label (both outcomes needed); "
                         "simulate more days or lower min_train_hours")
    probs = pd.DataFrame({"t": d["t"], "slug": d["slug"], "label": d["label"].astype("int64")})
    for name, model in models.items():
        probs[name] = model.fit(d).prob_up(d)
    probs["market mid"] = d["mid_up"].to_numpy(dtype=np.float64)
    probs["true P(up)"] = d["true_prob_up"].to_numpy(dtype=np.float64)
    y = probs["label"].to_numpy()
    truth = np.clip(probs["true P(up)"].to_numpy(), clip, 1 - clip)
    ll_truth = float(log_loss(y, truth, labels=[0, 1]))
    table = {}
    for name in [*models, "market mid", "true P(up)"]:
        p = np.clip(probs[name].to_numpy(), clip, 1 - clip)
        ll = float(log_loss(y, p, labels=[0, 1]))
        table[name] = {"log_loss": ll, "brier": float(brier_score_loss(y, p)), "excess_log_loss": ll - ll_truth,
                       "mae_vs_true_p": float(np.mean(np.abs(p - truth)))}
    out = pd.DataFrame(table).T
    out.attrs["rows"], out.attrs["windows"] = len(d), int(d["slug"].nunique())
    return out, probs


# --------------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAResult(ExperimentResult):
    """Everything ``notebooks/06_model_a.ipynb`` shows, immutable (``models`` and ``timings`` are read-only
    mappings).

    Attributes
    ----------
    config : ModelAConfig
        The parameters of the run.
    world : World
        The simulated world (:func:`simulate_world`).
    estimates : DataFrame
        Each estimator per window beside the true sigma (:func:`window_estimates`).
    estimator_table : DataFrame
        Bias, RMSE and correlation per estimator (:func:`estimator_table`).
    forecasts : VolForecasts
        The walk-forward variance forecasts (:func:`forecast_vol`).
    forecast_table : DataFrame
        QLIKE and MSE against the realized and the true variance (:func:`forecast_table`).
    jump_fit : MertonFit
        The Merton MLE on the devolatilized returns (:func:`fit_jumps`).
    jumps : DataFrame
        The MLE beside the simulator's jump law (:func:`jump_table`).
    rows : DataFrame
        The decision rows with the truth and the forecasts (:func:`decision_frame`).
    models : mapping of str to ModelA
        The scored Model A variants and references (:func:`model_a_models`).
    scores : DataFrame
        Log loss, Brier and gaps to the truth per predictor (:func:`score_models`).
    probs : DataFrame
        The scored rows' probabilities per predictor.
    timings : mapping of str to float
        Wall time of each step, seconds.
    """

    config: ModelAConfig
    world: World = field(repr=False)
    estimates: pd.DataFrame = field(repr=False)
    estimator_table: pd.DataFrame = field(repr=False)
    forecasts: VolForecasts = field(repr=False)
    forecast_table: pd.DataFrame = field(repr=False)
    jump_fit: MertonFit = field(repr=False)
    jumps: pd.DataFrame = field(repr=False)
    rows: pd.DataFrame = field(repr=False)
    models: Mapping[str, ModelA] = field(repr=False)
    scores: pd.DataFrame = field(repr=False)
    probs: pd.DataFrame = field(repr=False)
    timings: Mapping[str, float] = field(default_factory=frozen_mapping)

    def __post_init__(self) -> None:
        super().__post_init__()  # dicts (timings) become read-only mappings
        object.__setattr__(self, "models", frozen_mapping(self.models))

    @property
    def benchmark(self) -> str:
        """The forecaster every other one is tested against (:data:`BENCHMARK`)."""
        return BENCHMARK

    @property
    def estimators(self) -> dict[str, str]:
        """The estimator columns of :attr:`estimates` and their descriptions (:data:`ESTIMATORS`)."""
        return dict(ESTIMATORS)

    def world_summary(self) -> pd.DataFrame:
        """Preset, days, seed, jump intensity, windows, jumps and the median true sigma of the world."""
        cfg, truth = self.config, self.world.truth
        return pd.Series({"preset": cfg.preset, "days": cfg.days, "seed": cfg.seed, "jumps per day": cfg.jumps_per_day,
                          "15-minute windows": len(truth), "jumps": int(truth["jump_steps"].sum()),
                          "median true sigma": f"{truth['sigma'].median():.3f}"}, name="world").to_frame()

    def best_model_a(self, references: tuple[str, ...] = REFERENCES) -> str:
        """The Model A variant of least log loss (references left out)."""
        candidates = self.scores.drop(index=[r for r in references if r in self.scores.index])
        return str(candidates["log_loss"].idxmin())

    def headline(self) -> dict[str, Any]:
        """The figures written to ``reports/06_model_a/<run>.json`` and shown in the index."""
        cfg, est_table, fc_table, jumps, scores = (self.config, self.estimator_table, self.forecast_table,
                                                   self.jumps, self.scores)
        best_fc = str(fc_table["qlike_truth"].idxmin())
        best = self.best_model_a()
        out: dict[str, Any] = {
            "world": f"{cfg.preset}, {cfg.days:g} days, seed {cfg.seed}",
            "windows_scored": scores.attrs.get("windows"),
            "rows_scored": scores.attrs.get("rows"),
            "bv_1s_rmse_log": _at(est_table, "bv_1s", "rmse log ratio"),
            "rv_1s_jump_bias": _at(est_table, "rv_1s", "bias (jump windows)"),
            "best_forecaster": best_fc,
            "best_forecaster_qlike_ratio": (_at(fc_table, best_fc, "qlike_truth")
                                            / _at(fc_table, BENCHMARK, "qlike_truth")),
            "best_forecaster_dm_p": _at(fc_table, best_fc, "p_qlike_truth"),
            "garch_dm_p": _at(fc_table, "garch", "p_qlike_truth") if "garch" in fc_table.index else None,
            "jump_lam": _at(jumps, "lam", "estimate"),
            "jump_lam_true": _at(jumps, "lam", "truth"),
            "jump_lam_covered": bool(_at(jumps, "lam", "covered")),
            "jump_sigma_j_covered": bool(_at(jumps, "sigma_j", "covered")),
            "best_model_a": best,
            "log_loss_best_model_a": _at(scores, best, "log_loss"),
            "log_loss_market": _at(scores, "market mid", "log_loss"),
            "log_loss_truth": _at(scores, "true P(up)", "log_loss"),
            "brier_best_model_a": _at(scores, best, "brier"),
            "brier_market": _at(scores, "market mid", "brier"),
            "brier_truth": _at(scores, "true P(up)", "brier"),
        }
        out["scores"] = {str(k): {str(c): _at(scores, k, c) for c in scores.columns} for k in scores.index}
        return out

    def summary(self) -> Summary:
        """Table ``scores`` (:attr:`scores`: log loss, Brier and gaps to the truth of Model A, the market mid
        and the truth), table ``jumps`` (:attr:`jumps`: the jump MLE beside the simulator's law) and table
        ``world`` (:meth:`world_summary`); notes: rows scored and the best Model A variant."""
        scores = self.scores
        notes = (f"{scores.attrs.get('rows', len(self.probs)):,} decision rows in {scores.attrs.get('windows', '?')} "
                 f"windows of {self.config.preset} ({self.config.days:g} days, seed {self.config.seed})",
                 f"best Model A variant by log loss: {self.best_model_a()} (references left out: "
                 f"{', '.join(REFERENCES)})")
        return Summary("Model A against the ground truth",
                       (("scores", scores), ("jumps", self.jumps), ("world", self.world_summary())), notes)


#: The experiment's result under its generic name.
Result = ModelAResult


def run(cfg: ModelAConfig, *, progress: bool = True) -> ModelAResult:
    """Simulate the world of ``cfg`` and measure every ingredient of Model A against its truth.

    Parameters
    ----------
    cfg : ModelAConfig
        The parameters.
    progress : bool
        Show a progress bar over the steps (``TQDM_DISABLE=1`` turns it off whatever this says).

    Returns
    -------
    ModelAResult

    Raises
    ------
    ValueError
        If the world is too short for the forecasts or the scores (see :func:`forecast_table` and
        :func:`score_models`).
    """
    timings: dict[str, float] = {}
    steps = progress_bar(total=5, desc="06_model_a", unit="step", enabled=progress)

    def lap(name: str, clock: float) -> float:
        timings[f"{name}_s"] = time.perf_counter() - clock
        steps.update()
        return time.perf_counter()

    try:
        clock = time.perf_counter()
        world = simulate_world(cfg, progress=progress)
        clock = lap("world", clock)
        est = window_estimates(world)
        est_table = estimator_table(est)
        clock = lap("estimators", clock)
        vf = forecast_vol(world, cfg)
        fc_table = forecast_table(vf, world)
        clock = lap("forecasts", clock)
        fit = fit_jumps(world)
        jumps = jump_table(fit, world)
        clock = lap("jumps", clock)
        rows = decision_frame(world, vf, cfg)
        models = model_a_models(fit, world, list(rows.columns))
        scores, probs = score_models(rows, models)
        lap("model_a", clock)
    finally:
        steps.close()
    return ModelAResult(config=cfg, world=world, estimates=est, estimator_table=est_table, forecasts=vf,
                        forecast_table=fc_table, jump_fit=fit, jumps=jumps, rows=rows, models=models, scores=scores,
                        probs=probs, timings=timings)
