"""The one Poisson-weight rule against SciPy: weights, the truncated tail, and its users."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pmresearch.pricing import digital_merton, gaussian_jump_up_probability
from pmresearch.pricing.poisson import poisson_span, poisson_span_py, poisson_weights

MEANS = np.concatenate([[0.0], np.geomspace(1e-9, 2000.0, 120), [0.5, 1.0, 2.0, 10.0, 100.0]])
TOLS = (1e-3, 1e-6, 1e-9, 1e-12, 1e-15)


@pytest.mark.parametrize("tol", TOLS)
def test_weights_are_scipy_pmf_and_the_tail_is_below_tol(tol: float) -> None:
    """Reference: ``scipy.stats.poisson.pmf`` / ``sf`` (SciPy 1.17). The neglected mass
    ``P(N >= n_terms)`` is below ``tol`` and at most one term more than the fewest that achieve it."""
    for lam_t in MEANS:
        w, n_terms = poisson_weights(lam_t, tol)
        assert w.shape == (n_terms,)
        ref = stats.poisson.pmf(np.arange(n_terms), lam_t)
        # log-space weights: relative error ~ eps * |n ln L| (< 1e-11 up to L = 2000); weights are at most 1,
        # so an absolute floor of 1e-18 is far below every tol tested and covers the far tails' subnormals
        np.testing.assert_allclose(w, ref, rtol=1e-11, atol=1e-18)
        assert stats.poisson.sf(n_terms - 1, lam_t) < tol
        if n_terms >= 3:
            assert stats.poisson.sf(n_terms - 3, lam_t) >= tol  # not far past the fewest terms


def test_span_kernel_is_the_python_rule() -> None:
    """The numba kernels call the compiled twin of the very function tested here; the skipped lower
    counts hold less than 1e-30."""
    for lam_t in MEANS:
        for tol in TOLS:
            lo, hi = poisson_span_py(float(lam_t), tol)
            assert poisson_span(float(lam_t), tol) == (lo, hi)
            assert poisson_weights(lam_t, tol)[1] == hi + 1
            if lo > 0:
                assert stats.poisson.cdf(lo - 1, lam_t) < 1e-30


def test_arrays_fixed_counts_and_logs() -> None:
    lam_t = np.array([[0.0, 0.3], [2.0, 40.0]])
    w, n_terms = poisson_weights(lam_t, 1e-12)
    assert w.shape == (n_terms, 2, 2) and n_terms == poisson_weights(40.0, 1e-12)[1]
    np.testing.assert_array_equal(w[:, 0, 0], np.r_[1.0, np.zeros(n_terms - 1)])  # L = 0: no jump, surely
    log_w, k = poisson_weights(lam_t, n_terms=4, log=True)
    assert k == 4 and log_w[1, 0, 0] == -np.inf
    np.testing.assert_allclose(log_w[:, 1, 1], stats.poisson.logpmf(np.arange(4), 40.0), rtol=1e-13, atol=0)
    with pytest.raises(ValueError, match="lam_t"):
        poisson_weights([-1.0, 1.0])
    with pytest.raises(ValueError, match="n_terms"):
        poisson_weights(1.0, n_terms=0)


def test_series_users_agree_under_the_rule() -> None:
    """The numba Merton digital and the NumPy compound-Poisson sum keep the same counts and agree to
    the rule's bound (each neglects less than tol = 1e-12 of mass; probabilities, so atol)."""
    rng = np.random.default_rng(3)
    n = 400
    s = 100.0 * np.exp(rng.normal(0.0, 0.01, n))
    tau = rng.uniform(1.0, 900.0, n) / (365 * 86400)
    sig = rng.uniform(0.2, 1.0, n)
    lam = rng.choice([4.0, 48.0, 5e3, 5e5], n) * 365.0
    mj, sj = rng.normal(0.0, 0.003, n), rng.uniform(0.0, 0.005, n)
    kappa = np.expm1(mj + 0.5 * sj * sj)
    mean = np.log(s / 100.0) - (lam * kappa + 0.5 * sig * sig) * tau
    direct = gaussian_jump_up_probability(mean, sig * sig * tau, [(lam * tau, mj, sj * sj)])
    np.testing.assert_allclose(digital_merton(s, 100.0, tau, sig, lam, mj, sj), direct, rtol=0, atol=3e-12)
