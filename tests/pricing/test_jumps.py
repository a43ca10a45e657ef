"""Jump tests and Merton maximum likelihood on simulated paths with known jumps (light path mode).

References: Barndorff-Nielsen & Shephard (2006) / Huang & Tauchen (2005) ratio jump test; Lee & Mykland
(2008); Merton (1976) mixture likelihood, checked against a direct ``scipy.stats`` evaluation; the jump
law's moments against ``scipy.stats`` (lognormal mean, normal second moment); Wald intervals worked by
hand from ``scipy.stats.norm.ppf``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pmresearch._summary import Summary
from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing import JumpLaw, digital_merton, gaussian_jump_up_probability
from pmresearch.pricing.jumps import MertonFit, bns_jump_test, fit_merton, lee_mykland_jumps, merton_loglik
from pmresearch.simulate import make_config, simulate_path


def _returns(seed: int, n: int, step_s: float, **knobs: float) -> tuple[np.ndarray, np.ndarray]:
    """Log returns of a constant-vol (50%) light path and the sum of the log-jumps in each step."""
    cfg = make_config("edge", **knobs)
    path = simulate_path(cfg, n, step_s=step_s, sigma=0.5, seed=seed)
    r = np.diff(path["log_price"].to_numpy(), prepend=np.log(cfg.s0))
    return r, path["jump"].to_numpy()


def test_merton_loglik_matches_direct_mixture() -> None:
    """The mixture log-likelihood equals a direct sum of Poisson-weighted normal densities."""
    rng = np.random.default_rng(0)
    r = rng.normal(0, 3e-4, 500)
    r[::50] += 0.004
    dt, mu, sig, lam, mj, sj = 10 / (365 * 86400), 1.0, 0.5, 20_000.0, 0.001, 0.003
    dens = sum(stats.poisson.pmf(n, lam * dt) * stats.norm.pdf(r, mu * dt + n * mj, np.sqrt(sig**2 * dt + n * sj**2))
               for n in range(8))
    assert merton_loglik(r, dt, mu, sig, lam, mj, sj) == pytest.approx(np.sum(np.log(dens)), rel=1e-12)


def test_merton_mle_intensity_interval_covers_truth() -> None:
    """20 seeds of one day of 10-second returns, 40 jumps a day (40 expected per seed): the 95%
    interval of the jump intensity covers the truth in >= 17 of 20, sigma within 3 SE in >= 17."""
    lam_true = 40.0 * 365.0
    cover_lam = cover_sig = 0
    for seed in range(20):
        r, _ = _returns(seed, 8640, 10.0, jumps_per_day=40.0, jump_mean=0.0005, jump_sd=0.003)
        fit = fit_merton(r, 10.0)
        assert fit.converged
        ci = fit.conf_int()
        cover_lam += int(float(ci.at["lam", "lower"]) <= lam_true <= float(ci.at["lam", "upper"]))
        cover_sig += int(abs(fit.params["sigma"] - 0.5) < 3 * fit.std_errors["sigma"])
        if seed == 0:  # the reported log-likelihood is the model's, at the estimates
            p = fit.params
            assert fit.loglik == pytest.approx(
                merton_loglik(r, fit.dt_years, p["mu"], p["sigma"], p["lam"], p["mu_j"], p["sigma_j"], n_max=3),
                rel=1e-9)
            summary = fit.summary()
            assert isinstance(summary, Summary) and summary.names == ("estimates", "fit")
            assert list(summary.frame.columns) == ["estimate", "std_error", "lower", "upper"]
            pd.testing.assert_frame_equal(summary.frame[["lower", "upper"]], fit.conf_int(), check_names=False)
            assert summary["fit"].loc["observations", "value"] == fit.n_obs == r.size
            assert str(fit) == summary.as_text() and "95% Wald" in str(fit) and "<table" in fit._repr_html_()
            assert fit.jumps == JumpLaw(p["lam"], p["mu_j"], p["sigma_j"])
            # pricing_mu makes digital_merton the fitted real-world law: ln S_T = ln S + mu tau + sigma W
            # + compound-Poisson jumps, summed directly by gaussian_jump_up_probability
            tau = 900.0 / SECONDS_PER_YEAR
            direct = gaussian_jump_up_probability(np.log(1.0 / 1.001) + p["mu"] * tau, p["sigma"] ** 2 * tau,
                                                  [(p["lam"] * tau, p["mu_j"], p["sigma_j"] ** 2)])
            priced = digital_merton(1.0, 1.001, tau, p["sigma"], p["lam"], p["mu_j"], p["sigma_j"], mu=fit.pricing_mu)
            assert float(priced) == pytest.approx(float(direct), abs=1e-11)
    assert cover_lam >= 17, cover_lam
    assert cover_sig >= 17, cover_sig


def test_bns_test_size_and_power() -> None:
    """200 one-hour windows of 1-second returns: without jumps the 5% test rejects at a rate
    consistent with 5% (binomial bound); windows holding a jump of at least 0.2% (~0.4 of the hour's
    diffusion sd, a 15% share of its variance) are rejected in > 90%, jump-free windows at ~5%."""
    r0, _ = _returns(1, 200 * 3600, 1.0, jumps_per_day=0.0)
    res0 = bns_jump_test(r0.reshape(200, 3600))
    rate = float(res0.reject(0.05).mean())
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)
    assert abs(float(np.mean(res0.z))) < 0.3  # approximately N(0, 1) under the null
    r1, jumps = _returns(2, 200 * 3600, 1.0, jumps_per_day=12.0, jump_sd=0.003)
    res1 = bns_jump_test(r1.reshape(200, 3600))
    biggest = np.abs(jumps.reshape(200, 3600)).max(axis=1)
    big, none = biggest >= 0.002, biggest == 0.0
    assert big.sum() >= 30 and none.sum() >= 30
    assert res1.reject(0.05)[big].mean() > 0.9
    assert res1.reject(0.05)[none].mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / none.sum())
    table = res1.summary()["test"]["value"]
    assert table["windows"] == 200 and table["rejected at 0.05"] == int(res1.reject(0.05).sum()) > 0
    assert table["mean z"] == pytest.approx(float(np.mean(res1.z)), rel=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        res1.reject(1.0)


def test_lee_mykland_flags_the_true_jumps() -> None:
    """Two days of 10-second returns (diffusion sd 2.8e-4 per step) with 40 jumps a day of sd 0.3%:
    the flags are true jump steps (precision >= 0.9) and find the jumps larger than 10 diffusion sd
    (recall >= 0.9); the 1% critical value is about 6.6 sd, so smaller jumps are legitimately missed."""
    r, jumps = _returns(3, 2 * 8640, 10.0, jumps_per_day=40.0, jump_sd=0.003)
    flags = lee_mykland_jumps(r, window=270, alpha=0.01)
    sd = 0.5 * np.sqrt(10.0 / SECONDS_PER_YEAR)
    any_jump, big = jumps != 0.0, np.abs(jumps) > 10.0 * sd
    any_jump[:271] = big[:271] = False  # never flagged: no volatility estimate yet
    assert big.sum() >= 15
    assert np.sum(flags & any_jump) / max(1, flags.sum()) >= 0.9
    assert np.sum(flags & big) / big.sum() >= 0.9
    with pytest.raises(ValueError, match="window"):
        lee_mykland_jumps(r[:100], window=270)
    with pytest.raises(ValueError, match="alpha"):  # a level outside (0, 1) gives no critical value
        lee_mykland_jumps(r, window=270, alpha=1.0)


def test_jump_law_moments_match_scipy() -> None:
    law = JumpLaw(lam=2000.0, mu_j=-0.004, sigma_j=0.012)
    # kappa = E[e^J] - 1, J ~ N(mu_j, sigma_j^2): the mean of a lognormal with s = sigma_j, scale = e^mu_j
    assert law.kappa == pytest.approx(float(stats.lognorm(s=0.012, scale=math.exp(-0.004)).mean()) - 1.0,
                                      rel=1e-12, abs=1e-17)
    # compound Poisson: Var(sum_{i<=N} J_i) = lam E[J^2] per year, E[J^2] the normal's second raw moment
    assert law.second_moment == pytest.approx(float(stats.norm(-0.004, 0.012).moment(2)), rel=1e-12)
    assert law.annual_variance == pytest.approx(2000.0 * (0.004**2 + 0.012**2), rel=1e-15)
    assert law.jumps_per_day == pytest.approx(2000.0 / 365.0, rel=1e-15)
    assert JumpLaw.from_daily(4.0, -0.004, 0.012) == JumpLaw(1460.0, -0.004, 0.012)
    count, mj, vj = law.jump_class(np.array([0.5, 2.0]))
    np.testing.assert_array_equal(count, [1000.0, 4000.0])
    assert (mj, vj) == (-0.004, 0.012**2)
    none = JumpLaw.none()
    assert none == JumpLaw() and not none.has_jumps and law.has_jumps
    assert none.kappa == 0.0 and none.annual_variance == 0.0
    assert isinstance(JumpLaw(np.float64(1.0), 0, 0).mu_j, float)  # numbers are stored as floats


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"lam": -1.0}, ValueError, r"lam \(jumps per year\) must be >= 0 and finite, got -1\.0"),
    ({"lam": math.inf}, ValueError, "lam .* finite"),
    ({"lam": math.nan}, ValueError, "lam"),
    ({"sigma_j": -0.01}, ValueError, r"sigma_j \(sd of a log-jump\) must be >= 0"),
    ({"sigma_j": math.inf}, ValueError, "sigma_j"),
    ({"mu_j": math.nan}, ValueError, r"mu_j \(mean log-jump\) must be finite"),
    ({"mu_j": -math.inf}, ValueError, "mu_j"),
    ({"lam": "4"}, TypeError, "lam must be a real number, got str"),
    ({"sigma_j": None}, TypeError, "sigma_j must be a real number"),
    ({"lam": True}, TypeError, "got bool"),
])
def test_jump_law_refuses_bad_fields(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        JumpLaw(**kwargs)  # type: ignore[arg-type]
    assert JumpLaw(**{k: 0.0 for k in kwargs}) == JumpLaw.none()  # the same field at 0 is accepted


def _hand_fit() -> MertonFit:
    """A fit with round numbers, for interval arithmetic by hand."""
    names = ["mu", "sigma", "lam", "mu_j", "sigma_j"]
    params = pd.Series([0.5, 0.4, 1000.0, -0.002, 0.003], index=names)
    se = pd.Series([0.2, 0.01, 150.0, 0.001, 0.0005], index=names)
    return MertonFit(params=params, std_errors=se, cov=pd.DataFrame(np.diag(se**2), names, names), loglik=-12.5,
                     n_obs=4000, dt_years=10.0 / SECONDS_PER_YEAR, converged=True)


@pytest.mark.parametrize("alpha", [0.05, 0.20])
def test_conf_int_is_the_wald_interval_at_alpha(alpha: float) -> None:
    fit = _hand_fit()
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))  # 1.95996... at 5%, 1.28155... at 20%
    assert z == pytest.approx({0.05: 1.959963984540054, 0.20: 1.2815515655446004}[alpha], rel=1e-12)
    ci = fit.conf_int(alpha)
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == ["mu", "sigma", "lam", "mu_j", "sigma_j"]
    # natural scale: estimate -+ z se
    assert ci.loc["mu", "lower"] == pytest.approx(0.5 - z * 0.2, rel=1e-14)
    assert ci.loc["mu", "upper"] == pytest.approx(0.5 + z * 0.2, rel=1e-14)
    assert ci.loc["mu_j", "lower"] == pytest.approx(-0.002 - z * 0.001, rel=1e-14)
    assert ci.loc["mu_j", "upper"] == pytest.approx(-0.002 + z * 0.001, rel=1e-14)
    # log scale (delta method for log p: se(log p) = se / p), mapped back: p exp(-+ z se / p)
    assert ci.loc["lam", "lower"] == pytest.approx(1000.0 * math.exp(-z * 0.15), rel=1e-14)
    assert ci.loc["lam", "upper"] == pytest.approx(1000.0 * math.exp(z * 0.15), rel=1e-14)
    assert ci.loc["sigma", "lower"] == pytest.approx(0.4 * math.exp(-z * 0.025), rel=1e-14)
    assert ci.loc["sigma_j", "upper"] == pytest.approx(0.003 * math.exp(z * 0.5 / 3.0), rel=1e-14)
    # the summary shows the same interval, and says its level
    est = fit.summary(alpha)["estimates"]
    pd.testing.assert_frame_equal(est[["lower", "upper"]], ci, check_names=False)
    assert f"{100 * (1 - alpha):g}% Wald intervals" in fit.summary(alpha).as_text()


def test_conf_int_narrows_as_alpha_grows_and_refuses_alpha_outside_0_1() -> None:
    fit = _hand_fit()
    wide, narrow = fit.conf_int(0.01), fit.conf_int(0.5)
    assert ((wide["lower"] < narrow["lower"]) & (narrow["upper"] < wide["upper"])).all()
    pd.testing.assert_frame_equal(fit.conf_int(), fit.conf_int(0.05))
    for bad in (0.0, 1.0, -0.05, 1.5, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"alpha must be strictly between 0 and 1"):
            fit.conf_int(bad)
        with pytest.raises(ValueError, match="alpha"):
            fit.summary(bad)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        fit.conf_int("0.05")  # type: ignore[arg-type]
    assert "did not report convergence" not in str(fit)
    stalled = dataclasses.replace(fit, converged=False)
    assert "did not report convergence" in str(stalled)
