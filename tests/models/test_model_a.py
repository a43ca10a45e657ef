"""Tests of ModelA: pricing wiring, the scikit-learn classifier contract, calibration and scoring."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.models import MODEL_A_VARIANTS, GarchForecaster, HVForecaster, ModelA, model_a_variant, walk_forward_vol
from pmresearch.pricing import JumpLaw, digital_bs, digital_merton
from pmresearch.pricing.jumps import MertonFit
from pmresearch.simulate import SIMPLE_PROCESS, make_config
from pmresearch.simulate.light import simulate_decisions
from pmresearch.simulate.process import jump_law

# the former process (spot plus white noise as the oracle, no smoothing lag: Model A has none), with jumps
CFG = make_config("no-edge", seed=21, **{**SIMPLE_PROCESS, "jumps_per_day": 24.0, "jump_sd": 0.004})


@pytest.fixture(scope="module")
def decisions() -> pd.DataFrame:
    """Independent 15-minute windows of the simulator with the true P(up) (instant settlement)."""
    return simulate_decisions(CFG, 6000, seed=21)


def _grid(seed: int, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "spot": 65_000.0 * np.exp(rng.normal(0.0, 0.003, n)),
        "strike": np.full(n, 65_000.0),
        "tau_s": rng.uniform(0.0, 900.0, n),
        "sigma": rng.uniform(0.05, 1.5, n),
        "other": rng.normal(size=n),  # ignored by ModelA
    })


def test_bs_and_merton_wiring_equal_the_pricing_functions() -> None:
    x = _grid(1)
    tau = x["tau_s"].to_numpy() / SECONDS_PER_YEAR
    bs = ModelA("bs").fit(x).predict_proba(x)[:, 1]
    np.testing.assert_array_equal(bs, np.clip(digital_bs(x["spot"], x["strike"], tau, x["sigma"]), 1e-6, 1 - 1e-6))
    lam, mu_j, sj = 5000.0, -0.001, 0.004
    law = JumpLaw(lam, mu_j, sj)
    mer = ModelA("merton", jumps=law, vol_is_total=False, clip=0.0).fit(x).prob_up(x)
    ref = digital_merton(x["spot"], x["strike"], tau, x["sigma"], lam, mu_j, sj)
    np.testing.assert_array_equal(mer, ref)
    # vol_is_total: the diffusion part is sqrt(sigma^2 - lam (mu_j^2 + sigma_j^2)).
    tot = ModelA("merton", jumps=law, clip=0.0).fit(x).prob_up(x)
    sig_d = np.sqrt(np.maximum(x["sigma"] ** 2 - lam * (mu_j**2 + sj**2), (0.05 * x["sigma"]) ** 2))
    np.testing.assert_array_equal(tot, digital_merton(x["spot"], x["strike"], tau, sig_d, lam, mu_j, sj))
    # Merton with lam = 0 is Black-Scholes exactly (Merton 1976 with no jumps): the default and JumpLaw.none().
    no_jumps = ModelA("merton", clip=0.0).fit(x).prob_up(x)
    np.testing.assert_array_equal(no_jumps, ModelA("bs", clip=0.0).fit(x).prob_up(x))
    np.testing.assert_array_equal(ModelA("merton", jumps=JumpLaw.none(), clip=0.0).fit(x).prob_up(x), no_jumps)
    assert not np.array_equal(mer, no_jumps)  # the jump law is priced, not dropped


def test_matches_simulator_truth(decisions: pd.DataFrame) -> None:
    # The simulator's true P(up) is the real-world Merton series with oracle noise (an independent
    # implementation: simulate.process.true_prob_up); Model A with the true diffusion vol and jump law
    # differs only by the risk-neutral drift and the 0.5 bp oracle noise.
    m = ModelA("merton", jumps=jump_law(CFG), vol_is_total=False, clip=0.0).fit(decisions)
    p = m.prob_up(decisions)
    truth = decisions["true_prob_up"].to_numpy()
    assert np.max(np.abs(p - truth)) < 0.02
    assert np.mean(np.abs(p - truth)) < 0.002
    y = decisions["outcome"].to_numpy()
    ll_a = log_loss(y, np.clip(p, 1e-9, 1 - 1e-9))
    ll_truth = log_loss(y, np.clip(truth, 1e-9, 1 - 1e-9))
    assert abs(ll_a - ll_truth) < 0.002
    # A mis-specified vol (x2) scores worse by log-loss and Brier.
    bad = ModelA("bs", vol_mult=2.0).fit(decisions).prob_up(decisions)
    assert log_loss(y, bad) > ll_a + 0.01
    assert brier_score_loss(y, bad) > brier_score_loss(y, p)


def test_classifier_contract_on_valid_data() -> None:
    x = _grid(2)
    y = (np.random.default_rng(3).random(len(x)) < 0.5).astype(int)
    est = ModelA("merton", jumps=JumpLaw(1000.0, 0.0, 0.003))
    assert est.__dict__ == {k: v for k, v in est.get_params().items()}  # no work in __init__
    with pytest.raises(NotFittedError):
        est.predict_proba(x)
    assert est.fit(x, y) is est
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert est.n_features_in_ == 4
    assert list(est.feature_names_in_) == ["spot", "strike", "tau_s", "sigma"]
    proba = est.predict_proba(x)
    assert proba.shape == (len(x), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_array_equal(est.predict(x), (proba[:, 1] >= 0.5).astype(int))
    # clone, pickle, idempotent fit, subset and order invariance
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "classes_")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(x), proba)
    np.testing.assert_array_equal(est.fit(x, y).predict_proba(x), proba)
    perm = np.random.default_rng(4).permutation(len(x))
    np.testing.assert_array_equal(est.predict_proba(x.iloc[perm]), proba[perm])
    np.testing.assert_array_equal(est.predict_proba(x.iloc[:7]), proba[:7])
    # arrays in the documented column order give the same answer as the frame
    arr = x[["spot", "strike", "tau_s", "sigma"]].to_numpy()
    np.testing.assert_array_equal(ModelA("merton", jumps=JumpLaw(1000.0, 0.0, 0.003)).fit(arr, y).predict_proba(arr),
                                  proba)
    est.set_params(vol_mult=1.5)
    assert not np.array_equal(est.predict_proba(x), proba)


def test_errors_name_column_and_row() -> None:
    x = _grid(5)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['sigma_garch'\]"):
        ModelA("bs", "sigma_garch").fit(x)
    bad = x.copy()
    bad.loc[3, "sigma"] = -0.1
    with pytest.raises(ValueError, match="column 'sigma', row 3"):
        ModelA().fit(bad)
    bad = x.copy()
    bad.loc[2, "spot"] = 0.0
    with pytest.raises(ValueError, match="'spot' must be > 0; row 2"):
        ModelA().fit(bad)
    with pytest.raises(ValueError, match="Only binary classification"):
        ModelA().fit(x, np.arange(len(x)) % 3)
    with pytest.raises(ValueError, match="pricer must be"):
        ModelA("heston").fit(x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown Model A variant"):
        model_a_variant("svi")


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_sklearn_estimator_checks() -> None:
    # scikit-learn's generic checks feed arbitrary feature counts, negative values and arbitrary labels.
    # Model A's domain is exactly 4 positive columns and labels {0 Down, 1 Up}: every check that does not
    # pass must fail *because of that domain* (its exception chain names it), and the core contract checks pass.
    results = check_estimator(ModelA(), on_fail=None, on_skip=None)
    domain = ("needs 4 columns", "Only binary classification is supported", "must be > 0")

    def chain(exc: BaseException | None) -> str:
        out = []
        while exc is not None:
            out.append(str(exc))
            exc = exc.__cause__ or exc.__context__
        return " <- ".join(out)

    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    failed = [r for r in results if r["status"] == "failed"]
    unexplained = [(r["check_name"], chain(r["exception"])[:200]) for r in failed
                   if not any(d in chain(r["exception"]) for d in domain)]
    assert unexplained == []
    core = {"check_no_attributes_set_in_init", "check_estimators_unfitted", "check_parameters_default_constructible",
            "check_get_params_invariance", "check_set_params", "check_estimator_cloneable", "check_mixin_order",
            "check_fit2d_1feature", "check_classifiers_regression_target", "check_classifier_not_supporting_multiclass",
            "check_positive_only_tag_during_fit", "check_estimators_empty_data_messages", "check_supervised_y_no_nan",
            "check_do_not_raise_errors_in_init_or_set_params"}
    assert core <= passed, sorted(core - passed)
    assert len(passed) >= 26


def test_calibrated_and_cross_validated_like_model_b(decisions: pd.DataFrame) -> None:
    x = decisions[["spot", "strike", "tau_s", "sigma"]]
    y = decisions["outcome"].to_numpy()
    base = ModelA("bs", vol_mult=1.6)  # over-dispersed vol: probabilities too close to 1/2
    cal = CalibratedClassifierCV(base, method="isotonic", cv=3).fit(x, y)
    p_cal = cal.predict_proba(x)[:, 1]
    p_raw = base.fit(x, y).prob_up(x)
    assert log_loss(y, np.clip(p_cal, 1e-6, 1 - 1e-6)) < log_loss(y, p_raw)
    scores = cross_val_score(ModelA("bs"), x, y, cv=4, scoring="neg_log_loss")
    assert scores.shape == (4,)
    assert np.all(np.isfinite(scores))
    pipe = make_pipeline(ModelA("bs")).fit(x, y)
    np.testing.assert_array_equal(pipe.predict_proba(x), ModelA("bs").fit(x, y).predict_proba(x))


def test_variants() -> None:
    x = _grid(6).rename(columns={"sigma": "vol__garch_15m"})
    x["vol__rv_1m_60m"] = x["vol__garch_15m"] * 1.1
    assert set(MODEL_A_VARIANTS) == {"bs_hv", "bs_garch", "merton_garch"}
    hv = model_a_variant("bs_hv").fit(x).prob_up(x)
    ga = model_a_variant("bs_garch").fit(x).prob_up(x)
    mg = model_a_variant("merton_garch", jumps=JumpLaw(2000.0, 0.0, 0.003)).fit(x).prob_up(x)
    tau = x["tau_s"].to_numpy() / SECONDS_PER_YEAR
    np.testing.assert_array_equal(hv, np.clip(digital_bs(x["spot"], x["strike"], tau, x["vol__rv_1m_60m"]),
                                              1e-6, 1 - 1e-6))
    np.testing.assert_array_equal(ga, np.clip(digital_bs(x["spot"], x["strike"], tau, x["vol__garch_15m"]),
                                              1e-6, 1 - 1e-6))
    assert not np.array_equal(mg, ga)


def test_variants_end_to_end_with_walk_forward_vol(make_bars: Callable[..., pd.DataFrame]) -> None:
    # Decision rows 5 minutes into each 15-minute window (strike = close at the window start, label =
    # close at the end >= strike); vol forecasts as of t; the three variants scored like any classifier.
    bars = make_bars(8.0, seed=9)
    fc = walk_forward_vol(bars, {"hv": HVForecaster("1h"), "garch": GarchForecaster()},
                          min_train="2D", refit_every="1D")
    close = pd.Series(bars["close"].to_numpy(), index=bars["ts"] + pd.Timedelta(minutes=1))  # by close time
    starts = pd.date_range(close.index[0] + pd.Timedelta("2D"), close.index[-1] - pd.Timedelta("15min"), freq="15min")
    rows = pd.DataFrame({"window_start": starts, "t": starts + pd.Timedelta("5min")})
    rows["strike"] = close.reindex(rows["window_start"]).to_numpy()
    rows["spot"] = close.reindex(rows["t"]).to_numpy()
    rows["tau_s"] = 600.0
    rows["label"] = (close.reindex(rows["window_start"] + pd.Timedelta("15min")).to_numpy()
                     >= rows["strike"]).astype(int)
    rows = fc.add_to_rows(rows)
    assert {"vol__hv_15m", "vol__garch_15m"} <= set(rows.columns)
    np.testing.assert_array_equal(rows["vol__garch_15m"], fc.asof(rows["t"])["garch"].to_numpy())
    rows = rows.rename(columns={"vol__hv_15m": "vol__rv_1m_60m"})
    y = rows["label"].to_numpy()
    scores = {}
    for name in MODEL_A_VARIANTS:
        est = model_a_variant(name, jumps=JumpLaw.from_daily(4.0, 0.0, 0.003)).fit(rows, y)
        scores[name] = log_loss(y, est.predict_proba(rows)[:, 1])
    print("Model A log-loss on", len(rows), "windows:", scores)
    assert len(rows) >= 550
    # informative: all beat the coin flip (ln 2) by a clear margin on 10-minute horizons
    assert max(scores.values()) < np.log(2.0) - 0.05


def test_variant_reads_a_merton_fit() -> None:
    # The jump parameters of a pricing.jumps.fit_merton result feed merton_garch (constructed directly:
    # the MLE itself is tested in tests/pricing/test_jumps.py).
    names = ["mu", "sigma", "lam", "mu_j", "sigma_j"]
    params = pd.Series([0.0, 0.45, 1460.0, -0.0005, 0.003], index=names)
    fit = MertonFit(params=params, std_errors=params.abs() * 0.1, cov=pd.DataFrame(np.eye(5), names, names),
                    loglik=0.0, n_obs=1000, dt_years=1.0 / SECONDS_PER_YEAR, converged=True)
    est = model_a_variant("merton_garch", jumps=fit)
    assert est.jumps == JumpLaw(1460.0, -0.0005, 0.003) == JumpLaw.from_fit(fit) == fit.jumps == est.jump_law
    x = _grid(8).rename(columns={"sigma": "vol__garch_15m"})
    ref = ModelA("merton", "vol__garch_15m", jumps=JumpLaw(1460.0, -0.0005, 0.003)).fit(x).prob_up(x)
    np.testing.assert_array_equal(est.fit(x).prob_up(x), ref)
    np.testing.assert_array_equal(model_a_variant("merton_garch", jumps=fit.jumps).fit(x).prob_up(x), ref)
    with pytest.raises(TypeError, match=r"JumpLaw\.from_fit"):  # a fit is not a jump law for the estimator
        ModelA("merton", "vol__garch_15m", jumps=fit).fit(x)  # type: ignore[arg-type]


def test_jump_law_is_one_estimator_parameter() -> None:
    # get_params / set_params / clone carry the JumpLaw as one parameter; changing it changes the prices.
    x = _grid(10)
    law = JumpLaw(3000.0, -0.002, 0.004)
    est = ModelA("merton", jumps=law, vol_is_total=False, clip=0.0)
    assert est.get_params()["jumps"] is law
    assert {k: est.get_params()[k] for k in ("lam", "mu_j", "sigma_j")} == dict.fromkeys(("lam", "mu_j", "sigma_j"))
    c = clone(est)
    assert c.jumps == law
    p = est.fit(x).prob_up(x)
    tau = x["tau_s"].to_numpy() / SECONDS_PER_YEAR
    np.testing.assert_array_equal(p, digital_merton(x["spot"], x["strike"], tau, x["sigma"], 3000.0, -0.002, 0.004))
    other = JumpLaw(30.0, -0.002, 0.004)
    est.set_params(jumps=other)
    assert est.jumps is other
    np.testing.assert_array_equal(est.prob_up(x),
                                  digital_merton(x["spot"], x["strike"], tau, x["sigma"], 30.0, -0.002, 0.004))
    with pytest.raises(TypeError, match="jumps must be a JumpLaw"):
        ModelA("merton", jumps=(1.0, 0.0, 0.1)).fit(x)  # type: ignore[arg-type]


def test_old_jump_keywords_are_deprecated_aliases() -> None:
    x = _grid(11)
    law = JumpLaw(5000.0, -0.001, 0.004)
    ref = ModelA("merton", jumps=law).fit(x).prob_up(x)
    old = ModelA("merton", lam=5000.0, mu_j=-0.001, sigma_j=0.004)  # stored as given: no work in __init__
    assert old.jumps is None and old.get_params()["lam"] == 5000.0 and old.jump_law == law
    with pytest.warns(DeprecationWarning, match=r"jumps=JumpLaw") as record:
        np.testing.assert_array_equal(clone(old).fit(x).prob_up(x), ref)
    assert {w.filename for w in record} == {__file__}  # the warning points at the caller of fit / prob_up
    with pytest.warns(DeprecationWarning, match="ModelA"):
        np.testing.assert_array_equal(ModelA("merton", sigma_j=0.004, lam=5000.0, mu_j=-0.001).fit(x).prob_up(x), ref)
    with pytest.warns(DeprecationWarning, match="model_a_variant") as record:
        mg = model_a_variant("merton_garch", garch_column="sigma", lam=5000.0, mu_j=-0.001, sigma_j=0.004)
    assert mg.jumps == law and mg.lam is None and record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the variant's estimator carries the JumpLaw: no further warning
        np.testing.assert_array_equal(mg.fit(x).prob_up(x), ref)
    with pytest.raises(TypeError, match="not both"):
        ModelA("merton", jumps=law, lam=1.0).fit(x)
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(ValueError, match="lam"):  # bounds apply
        ModelA("merton", lam=-1.0).fit(x)


def test_missing_vol_is_named() -> None:
    x = _grid(9)
    x.loc[4, "sigma"] = np.nan
    with pytest.raises(ValueError, match=r"column 'sigma' has a missing or non-finite value at row 4"):
        ModelA().fit(x)
