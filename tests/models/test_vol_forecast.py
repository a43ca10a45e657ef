"""Tests of the walk-forward volatility forecasters (pmresearch.models.vol_forecast)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.models.vol_forecast import (
    HAR_COLUMNS,
    GarchForecaster,
    HARForecaster,
    HVForecaster,
    MLForecaster,
    default_forecasters,
    fit_garch_arch,
    garch_filter,
    garch_horizon_variance,
    garch_recovery,
    simulate_garch,
    vol_panel,
    walk_forward_vol,
)
from pmresearch.simulate import make_config
from pmresearch.simulate.light import simulate_path


@pytest.fixture(scope="module")
def garch_returns() -> np.ndarray:
    return simulate_garch(3000, 7.2e-9, 0.06, 0.9, 0.06, nu=7.0, seed=42)


@pytest.mark.parametrize(("gjr", "dist"), [(False, "normal"), (True, "normal"), (True, "t")])
def test_filter_and_horizon_forecast_match_arch(garch_returns: np.ndarray, gjr: bool, dist: str) -> None:
    # Our numpy recursion reproduces arch's conditional variance and its analytic 15-step forecast.
    fit, res = fit_garch_arch(garch_returns, gjr=gjr, dist=dist)  # type: ignore[arg-type]
    scale2 = float(np.asarray(res.model.y)[0] / garch_returns[0]) ** 2  # arch fits returns x 10^k
    s2 = garch_filter(garch_returns, fit.omega, fit.alpha, fit.beta, fit.gamma, backcast=fit.backcast)
    np.testing.assert_allclose(s2[:-1] * scale2, res.conditional_volatility**2, rtol=1e-9)
    fc = res.forecast(horizon=15, reindex=False).variance.to_numpy()[-1]
    ours = garch_horizon_variance(s2[-1], fit.omega, fit.persistence, 15)
    assert float(ours) * scale2 == pytest.approx(float(fc.sum()), rel=1e-9)
    assert fit.converged
    params = fit.summary()["parameters"]["value"]  # the summary shows the fit's own numbers
    assert params["persistence"] == fit.persistence == fit.alpha + fit.beta + 0.5 * fit.gamma
    assert params["omega"] == fit.omega and (np.isnan(params["nu"]) if fit.nu is None else params["nu"] == fit.nu)
    assert str(fit).startswith("GARCH fit") and "converged" in str(fit)


def test_loglikelihood_hand_computed(garch_returns: np.ndarray) -> None:
    # arch's maximized log-likelihood equals the textbook Gaussian and standardized-t likelihoods
    # (Bollerslev 1987 for the t) evaluated on our own variance recursion, in arch's scaled units.
    for dist in ("normal", "t"):
        fit, res = fit_garch_arch(garch_returns, gjr=True, dist=dist)  # type: ignore[arg-type]
        e = np.asarray(res.model.y, dtype=np.float64)
        scale2 = float(e[0] / garch_returns[0]) ** 2
        s2 = garch_filter(garch_returns, fit.omega, fit.alpha, fit.beta, fit.gamma, backcast=fit.backcast)[:-1]
        s2 = s2 * scale2
        if dist == "normal":
            ll = -0.5 * np.sum(np.log(2 * np.pi) + np.log(s2) + e * e / s2)
        else:
            nu = float(fit.nu)  # type: ignore[arg-type]
            ll = np.sum(special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(np.pi * (nu - 2))
                        - 0.5 * np.log(s2) - (nu + 1) / 2 * np.log1p(e * e / (s2 * (nu - 2))))
        assert float(ll) == pytest.approx(float(res.loglikelihood), rel=1e-10)


def test_garch_parameters_recovered_within_3_se() -> None:
    # Acceptance: GARCH(1,1) parameters of simulated GARCH paths within 3 standard errors, with the
    # coverage of the 95% intervals across seeds reported (a larger study: benchmarks/bench_models.py).
    table = garch_recovery(range(8), n=3000)
    assert table["converged"].all()
    assert table["z"].abs().max() < 3.0, table.loc[table["z"].abs().idxmax()].to_dict()
    coverage = table.groupby("param")["covered"].mean()
    print("GARCH(1,1) 95% coverage over 8 seeds:", coverage.to_dict(), "max |z|:", table["z"].abs().max())
    assert table["covered"].mean() >= 0.8


def test_simulate_garch_unconditional_variance() -> None:
    # E[r^2] = omega / (1 - alpha - beta - gamma/2); unit-variance standardized t innovations.
    r = simulate_garch(100_000, 1e-6, 0.05, 0.85, 0.06, nu=8.0, seed=3)
    assert np.mean(r * r) == pytest.approx(1e-6 / (1 - 0.05 - 0.85 - 0.03), rel=0.06)
    with pytest.raises(ValueError, match="persistence"):
        simulate_garch(10, 1e-6, 0.2, 0.85, seed=0)


def test_panel_target_features_and_errors(make_bars: Callable[..., pd.DataFrame]) -> None:
    bars = make_bars(1.5, seed=1)
    panel = vol_panel(bars, horizon="15min")
    r = np.diff(np.log(bars["close"].to_numpy()), prepend=np.nan)
    for s in (0, 100, 1500):
        # targets are ~1e-5: pytest's implicit abs=1e-12 would be a 1e-7 relative slack; 1e-20 is 1e-15 of it
        assert panel.target[s] == pytest.approx(np.sum(r[s + 1 : s + 16] ** 2), rel=1e-12, abs=1e-20)
    assert np.isnan(panel.target[-15:]).all()
    assert panel.features["rv_1h"].iloc[200] == pytest.approx(np.mean(r[141:201] ** 2), rel=1e-12, abs=1e-20)
    assert panel.times[0] == bars["ts"].iloc[0] + pd.Timedelta(minutes=1)
    assert panel.train_rows(0, 100)[-1] == 85  # target of state 85 ends with bar 100
    gap = bars.drop(index=50).reset_index(drop=True)
    with pytest.raises(ValueError, match="row 50"):
        vol_panel(gap)
    naive = bars.assign(ts=bars["ts"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="naive"):
        vol_panel(naive)
    with pytest.raises(ValueError, match="whole number"):
        vol_panel(bars, horizon="90s")
    with pytest.raises(ValueError, match="'close'"):
        vol_panel(bars.assign(close=bars["close"].where(bars.index != 7, -1.0)))


def test_har_equals_statsmodels_ols(make_bars: Callable[..., pd.DataFrame]) -> None:
    # HAR-RV by OLS (Corsi 2009): our lstsq fit equals statsmodels OLS on the same rows.
    panel = vol_panel(make_bars(3.0, seed=2))
    lo, fit_at, stop = 0, 3000, 3500
    ours = HARForecaster().forecast(panel, lo, fit_at, stop)
    rows = panel.train_rows(lo, fit_at)
    x = panel.features.loc[:, list(HAR_COLUMNS)].to_numpy() * panel.horizon
    ok = np.all(np.isfinite(x[rows]), axis=1)
    res = sm.OLS(panel.target[rows][ok], sm.add_constant(x[rows][ok])).fit()
    ref = res.predict(sm.add_constant(x[fit_at:stop], has_constant="add"))
    floor = 0.01 * np.median(panel.target[rows][ok])
    # lstsq vs statsmodels' pinv (LAPACK, thread count): errors scale with the forecast level, not with each
    # value; floor 1e-10 of the median target (floor = 1% of it)
    np.testing.assert_allclose(ours, np.maximum(ref, floor), rtol=1e-8, atol=1e-8 * floor)


def test_no_look_ahead(make_bars: Callable[..., pd.DataFrame]) -> None:
    # Perturb every bar that closes after t: forecasts at states known by t must not change (bit for bit),
    # for every forecaster, across refits (rolling window) -- and later forecasts must change.
    bars = make_bars(3.0, seed=3)
    kw = {"min_train": "36h", "refit_every": "12h", "train_window": "30h"}
    extra = pd.DataFrame({"imbalance": np.sin(np.arange(len(bars)) / 7.0)},
                         index=bars["ts"] + pd.Timedelta(seconds=90))
    base = walk_forward_vol(bars, default_forecasters(), extra=extra, **kw)
    t = bars["ts"].iloc[0] + pd.Timedelta(hours=55, minutes=7)  # between refits (48 h and 60 h)
    closes_after = (bars["ts"] + pd.Timedelta(minutes=1)) > t
    rng = np.random.default_rng(0)
    moved = bars.copy()
    moved.loc[closes_after, "close"] *= np.exp(rng.normal(0, 0.01, int(closes_after.sum())))
    moved.loc[closes_after, "volume"] *= 3.0
    extra2 = extra.copy()
    extra2.loc[extra2.index > t, "imbalance"] = 5.0
    pert = walk_forward_vol(moved, default_forecasters(), extra=extra2, **kw)
    known = base.variance.index <= t
    assert known.sum() > 2000
    assert base.variance[known].notna().any().all()
    pd.testing.assert_frame_equal(base.variance[known], pert.variance[known], check_exact=True)
    later = ~known
    for col in base.variance.columns:
        assert not np.allclose(base.variance.loc[later, col], pert.variance.loc[later, col], equal_nan=True), col
    # as-of: a decision at t reads the state stamped at or before t
    stamps = base.variance.index
    got = base.asof(pd.DatetimeIndex([stamps[2500], stamps[2500] - pd.Timedelta(microseconds=1)]))
    vol = np.sqrt(base.variance.iloc[[2500, 2499]].to_numpy() * SECONDS_PER_YEAR / 900.0)
    np.testing.assert_allclose(got.to_numpy(), vol, rtol=1e-12)


def test_forecasters_compared_on_a_simulated_world(make_bars: Callable[..., pd.DataFrame]) -> None:
    # A 16-day world of the simulator's spot law: vol persists across 15-minute windows (AR(1) log-vol,
    # regimes, intraday cycle), so GARCH beats the trailing-HV benchmark by QLIKE (Patton 2011) with a
    # significant Diebold-Mariano test (HLN-corrected, non-overlapping targets).
    bars = make_bars(16.0, seed=5)
    # (the GJR, Student-t and seasonal variants are compared in benchmarks/bench_models.py)
    fcs = {"hv_1h": HVForecaster("1h"), "garch": GarchForecaster(), "har": HARForecaster(),
           "xgboost": MLForecaster("xgboost"), "lightgbm": MLForecaster("lightgbm")}
    res = walk_forward_vol(bars, fcs, min_train="4D", refit_every="2D")
    table = res.compare("hv_1h").table
    print(table.to_string())
    assert table.loc["garch", "qlike"] < table.loc["hv_1h", "qlike"]
    assert table.loc["garch", "dm_qlike"] < 0
    assert table.loc["garch", "p_qlike"] < 0.05
    assert table["n"].iloc[0] >= 500
    # every forecaster is unbiased for the mean realized variance to within 15%
    v = res.variance.dropna()
    y = res.realized.reindex(v.index)
    ratio = v[y.notna()].mean() / y.mean()
    assert ratio.between(0.85, 1.15).all(), ratio.to_dict()
    summ = res.summary()["forecasters"]
    assert list(summ.index) == list(fcs)
    assert (summ["mean_vol"] / summ["realized_mean_vol"]).between(0.8, 1.2).all()
    pd.testing.assert_frame_equal(res.summary().frame, res.forecaster_table)
    assert "<table" in res._repr_html_() and "<table" in res.compare()._repr_html_()
    assert str(res) == res.summary().as_text() and f"{len(res.fit_times)} refits" in str(res)
    comp = res.compare("hv_1h")
    pd.testing.assert_frame_equal(comp.summary()["comparison"], comp.table)
    assert "benchmark: hv_1h" in str(comp) and "h = 1" in str(comp)
    overlapping = res.compare("hv_1h", non_overlapping=False)
    assert overlapping.h == 15
    assert overlapping.table["n"].iloc[0] > 10 * table["n"].iloc[0]


def test_seasonal_garch_wins_when_the_intraday_cycle_dominates() -> None:
    # Constant vol but a strong intraday cycle (simulator seasonality 0.8, no AR vol, regimes or jumps):
    # deseasonalizing (Andersen & Bollerslev 1997) must beat plain GARCH by QLIKE, significantly.
    cfg = make_config("no-edge", seed=4, vol_of_vol=0.0, regime_p_enter=0.0, seasonality=0.8, jumps_per_day=0.0)
    path = simulate_path(cfg, 7 * 1440, step_s=60.0)
    bars = pd.DataFrame({"ts": path["ts"] - pd.Timedelta(minutes=1),
                         "close": cfg.s0 * np.exp(path["log_price"].to_numpy())})
    res = walk_forward_vol(bars, {"garch": GarchForecaster(), "garch_seasonal": GarchForecaster(seasonal=True)},
                           min_train="2D", refit_every="1D")
    table = res.compare("garch").table
    assert table.loc["garch_seasonal", "qlike"] < 0.85 * table.loc["garch", "qlike"]
    assert table.loc["garch_seasonal", "p_qlike"] < 0.01
    with pytest.raises(ValueError, match="full day"):
        walk_forward_vol(bars.iloc[:1000], {"s": GarchForecaster(seasonal=True)}, min_train="10h")
