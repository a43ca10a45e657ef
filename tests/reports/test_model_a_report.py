"""The Model A experiment (notebooks/06_model_a.ipynb) against independent computations, and its figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.config import ConfigError, from_mapping
from pmresearch.experiments import model_a as ma
from pmresearch.labels import DecisionSchedule
from pmresearch.models import ModelA, VolForecasts
from pmresearch.reports import model_a_report as plots
from pmresearch.simulate import SIMPLE_PROCESS, World, simulate


@pytest.fixture(scope="module")
def world() -> World:
    """A quarter-day world with many jumps (24 windows, about a dozen jumps)."""
    return simulate("no-edge", days=0.25, seed=3, jumps_per_day=48.0)


@pytest.fixture(scope="module")
def big_jump_world() -> World:
    """The same quarter day under the former, jump-light process (:data:`SIMPLE_PROCESS`: jumps of sd 0.003,
    ~57 one-second diffusion sds at sigma 0.45) with 48 jumps a day: every jump stands out of the diffusion.
    The calibrated default's jumps (sd 0.00033, ~6 one-second sds at sigma 0.30, 1,300 a day) are mostly
    below what the Merton MLE can tell from the diffusion (it finds about a quarter of their intensity)."""
    return simulate("no-edge", days=0.25, seed=3, **(SIMPLE_PROCESS | {"jumps_per_day": 48.0}))


def test_config_rejects_what_the_notebook_cannot_do() -> None:
    with pytest.raises(ConfigError, match="data_dir"):
        from_mapping(ma.ModelAConfig, {"data_dir": "../shared/data"})
    with pytest.raises(ConfigError, match="36"):
        from_mapping(ma.ModelAConfig, {"min_train_hours": 30.0})
    with pytest.raises(ConfigError, match="raise days"):
        from_mapping(ma.ModelAConfig, {"days": 1.5, "min_train_hours": 36.0})
    with pytest.raises(ConfigError, match="interval_minutes"):
        from_mapping(ma.ModelAConfig, {"interval_minutes": 10})
    cfg = from_mapping(ma.ModelAConfig, {"days": 1.5, "ml": False, "min_train_hours": 26.0})
    assert cfg.days == 1.5 and cfg.ml is False


def test_window_estimates_match_a_direct_computation(world: World) -> None:
    est = ma.window_estimates(world)
    assert len(est) == len(world.truth) == 24
    np.testing.assert_array_equal(est["true_sigma"], world.truth["sigma"].to_numpy())
    np.testing.assert_array_equal(est["jumps"], world.truth["jump_steps"].to_numpy())
    # Independent: group the 1 s closes by the 15-minute window of their bar open; the first return of
    # the world starts from the first bar's open.
    k = world.klines_1s.sort_values("ts")
    logc = np.log(k["close"].to_numpy())
    r = pd.Series(np.diff(logc, prepend=np.log(k["open"].iloc[0])), index=k["ts"].dt.floor("15min").to_numpy())
    rv = np.sqrt(r.pow(2).groupby(level=0).sum() * SECONDS_PER_YEAR / 900.0)
    # annualized vols of order 0.1-1 summed in another order (groupby vs a reshaped row sum): the atol floor
    # (1e-14, about 100 ulps of 0.5) keeps the check independent of summation order
    np.testing.assert_allclose(est["rv_1s"], rv.to_numpy(), rtol=1e-12, atol=1e-14)
    # Bipower variation, Barndorff-Nielsen & Shephard (2004): (pi / 2) n / (n - 1) sum |r_i| |r_{i-1}|
    bpv = r.groupby(level=0).apply(lambda x: math.pi / 2 * len(x) / (len(x) - 1)
                                   * float(np.sum(np.abs(x.to_numpy()[1:]) * np.abs(x.to_numpy()[:-1]))))
    np.testing.assert_allclose(est["bv_1s"], np.sqrt(bpv.to_numpy() * SECONDS_PER_YEAR / 900.0), rtol=1e-12,
                               atol=1e-14)
    # Bipower is jump-robust: within ~3% of the true sigma per window (BNS 2004 asymptotic variance
    # (pi^2/4 + pi - 5) sigma^4 / n of the variance, n = 900); realized vol overshoots where jumps are.
    table = ma.estimator_table(est)
    assert table.loc["bv_1s", "rmse log ratio"] < 0.06
    assert table.loc["rv_1s", "bias (jump windows)"] > table.loc["bv_1s", "bias (jump windows)"]
    # Discrete-sampling-corrected range estimators are unbiased without jumps (to sampling error).
    for name in ("parkinson_1s", "garman_klass_1m", "yang_zhang_1m"):
        assert abs(table.loc[name, "bias (no-jump windows)"]) < 0.08, name


def test_true_expected_variance_is_diffusion_plus_the_jump_law(world: World) -> None:
    c = world.config
    var = ma.true_expected_variance(world)
    t = 900.0 / (365 * 86400)
    sigma = world.truth["sigma"].to_numpy()
    k = sigma / c.sigma if c.jumps_scale_with_vol else 1.0  # jump sizes scale with the window's vol
    assert c.jumps_scale_with_vol and np.ptp(sigma) > 0  # the scaled case, with windows of different vol
    expect = sigma**2 * t + c.jumps_per_day * 365 * t * (c.jump_mean**2 + c.jump_sd**2) * k**2
    # 15-minute variances are ~1e-5: the floor 1e-19 is 1e-14 of them (a few ulps of the products)
    np.testing.assert_allclose(var.to_numpy(), expect, rtol=1e-14, atol=1e-19)
    assert var.index[0] == world.truth["window_start"].iloc[0]


def test_jump_table_puts_the_truth_beside_the_fit(big_jump_world: World) -> None:
    world = big_jump_world
    fit = ma.fit_jumps(world)
    table = ma.jump_table(fit, world)
    assert table.loc["lam", "truth"] == world.config.jumps_per_day * 365
    assert table.loc["sigma_j", "truth"] == world.config.jump_sd
    covered = (table["lower"] <= table["truth"]) & (table["truth"] <= table["upper"])
    pd.testing.assert_series_equal(table["covered"], covered, check_names=False)
    # a dozen jumps in a quarter day: the intensity is found within a factor of three
    assert table.attrs["jumps_in_sample"] > 5
    assert 1 / 3 < table.loc["lam", "estimate"] / table.attrs["realized_lam"] < 3


def test_score_models_matches_hand_computed_log_loss_and_brier() -> None:
    rng = np.random.default_rng(0)
    n = 400
    rows = pd.DataFrame({
        "t": pd.date_range("2026-06-15", periods=n, freq="1min", tz="UTC"),
        "slug": [f"w{i // 10}" for i in range(n)],
        "spot": 65_000 * np.exp(rng.normal(0, 0.002, n)), "strike": np.full(n, 65_000.0),
        "tau_s": rng.uniform(30, 870, n), "sigma": rng.uniform(0.2, 0.8, n),
        "label": pd.array(rng.integers(0, 2, n), dtype="Int8"),
        "mid_up": rng.uniform(0.05, 0.95, n), "true_prob_up": rng.uniform(0.05, 0.95, n),
    })
    rows.loc[3, "mid_up"] = np.nan  # rows lacking an input are left out
    scores, probs = ma.score_models(rows, {"bs": ModelA("bs", "sigma")})
    assert scores.attrs["rows"] == n - 1 == len(probs)
    d = rows.drop(index=3)
    tau = d["tau_s"].to_numpy() / SECONDS_PER_YEAR
    sig = d["sigma"].to_numpy()
    # Black-Scholes digital N(d2), clipped to [1e-6, 1 - 1e-6] like ModelA and score_models
    d2 = (np.log(d["spot"] / d["strike"]).to_numpy() - 0.5 * sig**2 * tau) / (sig * np.sqrt(tau))
    p = np.clip(norm.cdf(d2), 1e-6, 1 - 1e-6)
    y = d["label"].astype(float).to_numpy()
    ll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    # sklearn's means against numpy's (another summation order); scores are O(0.1-1), floor 1e-12
    assert scores.loc["bs", "log_loss"] == pytest.approx(ll, rel=1e-9, abs=1e-12)
    assert scores.loc["bs", "brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-9, abs=1e-12)
    q = d["true_prob_up"].to_numpy()
    ll_true = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    assert scores.loc["bs", "excess_log_loss"] == pytest.approx(ll - ll_true, rel=1e-9, abs=1e-12)  # may be ~0
    assert scores.loc["true P(up)", "excess_log_loss"] == 0.0
    assert scores.loc["bs", "mae_vs_true_p"] == pytest.approx(np.mean(np.abs(p - q)), rel=1e-9, abs=1e-12)
    fig = plots.reliability_figure(probs, ["bs"], n_bins=5)
    assert {t.name for t in fig.data} >= {"bs", "market mid", "true P(up)"}


def test_forecast_table_scores_against_the_realized_and_the_true_variance(world: World) -> None:
    # Hand-built forecasts at the world's window starts (one state per 15-minute horizon).
    rng = np.random.default_rng(5)
    truth = ma.true_expected_variance(world)
    idx = pd.DatetimeIndex(truth.index)
    true_v = truth.to_numpy()
    fc = pd.DataFrame({ma.BENCHMARK: true_v * rng.lognormal(0.0, 0.5, len(idx)),
                       "good": true_v * rng.lognormal(0.0, 0.1, len(idx))}, index=idx)
    fc.iloc[0] = np.nan  # before the first fit: left out of both comparisons
    realized = pd.Series(true_v * rng.chisquare(4, len(idx)) / 4.0, index=idx)
    vf = VolForecasts(variance=fc, realized=realized, horizon_s=900.0, fit_times=idx[1:2])
    table = ma.forecast_table(vf, world)
    y, h = true_v[1:], fc.iloc[1:]
    for m in fc.columns:
        ratio = y / h[m].to_numpy()
        # Patton (2011) QLIKE y/h - ln(y/h) - 1 and squared error, against the true expected variance
        # QLIKE of a good forecaster is near 0 (~5e-3 here): an explicit floor of 1e-14, below any real gap
        assert table.loc[m, "qlike_truth"] == pytest.approx(np.mean(ratio - np.log(ratio) - 1.0), rel=1e-12,
                                                            abs=1e-14)
        # squared errors of ~1e-5 variances are ~1e-11: approx's implicit abs=1e-12 would accept 10% errors
        assert table.loc[m, "mse_truth"] == pytest.approx(np.mean((y - h[m].to_numpy()) ** 2), rel=1e-12,
                                                          abs=1e-24)
        r = realized.to_numpy()[1:] / h[m].to_numpy()
        assert table.loc[m, "qlike"] == pytest.approx(np.mean(r - np.log(r) - 1.0), rel=1e-12, abs=1e-14)
    assert (table["n_truth"] == len(idx) - 1).all() and (table["n"] == len(idx) - 1).all()
    assert np.isnan(table.loc[ma.BENCHMARK, ["dm_qlike_truth", "p_qlike_truth", "p_mse_truth"]]).all()
    assert table.loc["good", "dm_qlike_truth"] < 0 and table.loc["good", "p_qlike_truth"] < 0.05
    fig = plots.forecast_score_figure(table, ma.BENCHMARK)
    ratios = {tr.name: dict(zip(tr.x, tr.y, strict=True)) for tr in fig.data}
    assert ratios["vs true expected variance"][ma.BENCHMARK] == 1.0
    assert ratios["vs true expected variance"]["good"] == pytest.approx(
        table.loc["good", "qlike_truth"] / table.loc[ma.BENCHMARK, "qlike_truth"], rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError, match="benchmark 'garch'"):
        plots.forecast_score_figure(table, "garch")


def test_config_gives_its_decision_schedule() -> None:
    cfg = from_mapping(ma.Config, {"every_s": 120.0})
    assert ma.Config is ma.ModelAConfig and ma.Result is ma.ModelAResult
    assert cfg.schedule == DecisionSchedule(every_s=120.0, first_s=60.0, last_s=30.0)
    # decisions 60 s after the start, every 120 s, up to 30 s before the end of a 15-minute window
    np.testing.assert_array_equal(cfg.schedule.window_offsets_us(900_000_000) // 1_000_000, np.arange(60, 871, 120))


def test_estimator_figures_take_their_labels(world: World) -> None:
    est = ma.window_estimates(world)
    fig = plots.estimator_figure(est, ma.ESTIMATORS)
    assert [a.text for a in fig.layout.annotations] == [ma.ESTIMATORS[n] for n in
                                                        ("rv_1s", "bv_1s", "rv_1m", "garman_klass_1m")]
    assert plots.estimator_figure(est).layout.annotations[0].text == "rv_1s"  # no labels: the column names
    names = {tr.name for tr in plots.vol_timeline_figure(est, ma.ESTIMATORS).data}
    assert {"true sigma", ma.ESTIMATORS["bv_1s"], ma.ESTIMATORS["rv_1m"]} <= names
