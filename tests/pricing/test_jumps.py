"""Jump tests and Merton maximum likelihood on simulated paths with known jumps (light path mode).

References: Barndorff-Nielsen & Shephard (2006) / Huang & Tauchen (2005) ratio jump test; Lee & Mykland
(2008); Merton (1976) mixture likelihood, checked against a direct ``scipy.stats`` evaluation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing import digital_merton, gaussian_jump_up_probability
from pmresearch.pricing.jumps import bns_jump_test, fit_merton, lee_mykland_jumps, merton_loglik
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
        ci = fit.conf_int.loc["lam"]
        cover_lam += int(ci["lower"] <= lam_true <= ci["upper"])
        cover_sig += int(abs(fit.params["sigma"] - 0.5) < 3 * fit.std_errors["sigma"])
        if seed == 0:  # the reported log-likelihood is the model's, at the estimates
            p = fit.params
            assert fit.loglik == pytest.approx(
                merton_loglik(r, fit.dt_years, p["mu"], p["sigma"], p["lam"], p["mu_j"], p["sigma_j"], n_max=3),
                rel=1e-9)
            assert set(fit.summary().columns) == {"estimate", "std_error", "lower", "upper"}
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
