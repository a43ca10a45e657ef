"""The fused, two-thread digital kernel: NumPy + SciPy values bit for bit, whatever the thread count,
with every bad input refused by the same message wherever it stands.

References: the vectorized NumPy digital ``N(d2)`` with ``scipy.special.ndtr`` (Hull, binary options:
``d2 = (ln(S/K) + (r - sigma^2/2) tau) / (sigma sqrt(tau))``, the indicator ``ln(S/K) + r tau >= 0``
where ``sigma^2 tau = 0``), written out below independently of the package.
"""

from __future__ import annotations

import inspect
import math
import re

import numba
import numpy as np
import pytest
from scipy import special

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing import digital_bs, digital_delta, digital_merton, digital_vega
from pmresearch.pricing._kernels import BLOCK, _series, digital_kernel, digital_kernel_threads
from pmresearch.pricing.digital import _kernel_inputs

N_LARGE = 100_000  # several kernel blocks: the two-thread path
assert N_LARGE >= 2 * BLOCK


def _numpy_digital(s: np.ndarray, k: np.ndarray, tau: np.ndarray, sig: np.ndarray, r: np.ndarray) -> np.ndarray:
    """What a user writes with NumPy and ``scipy.special.ndtr`` (no validation)."""
    mean = np.log(s / k) + (r - 0.5 * sig * sig) * tau
    var = sig * sig * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        z = mean / np.sqrt(var)
    return np.where(var > 0.0, special.ndtr(z), np.where(mean >= 0.0, 1.0, 0.0))


def _inputs(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """BTC-like spots and strikes, 0 s to 2 years, vols from 0 (every 17th row) to 3, tau 0 every 13th."""
    rng = np.random.default_rng(seed)
    s, k = rng.uniform(60_000, 70_000, n), rng.uniform(60_000, 70_000, n)
    tau = np.concatenate([rng.uniform(0, 900, n // 2) / SECONDS_PER_YEAR, rng.uniform(0, 2, n - n // 2)])
    sig, r = rng.uniform(0, 3, n), rng.uniform(-0.05, 0.2, n)
    tau[::13], sig[::17] = 0.0, 0.0
    return s, k, tau, sig, r



def test_digital_bs_equals_numpy_and_scipy_ndtr_bit_for_bit() -> None:
    """300,000 rows through the two-thread kernel and 5,000 through the one-thread one: the same float64
    values as the NumPy + ``scipy.special.ndtr`` digital, including the zero-variance indicators."""
    for n in (300_000, 5_000):
        s, k, tau, sig, r = _inputs(n, n)
        got, ref = digital_bs(s, k, tau, sig, r), _numpy_digital(s, k, tau, sig, r)
        assert got.dtype == np.float64 and got.shape == (n,)
        np.testing.assert_array_equal(got, ref)
        assert 0.0 < np.mean((got > 0.01) & (got < 0.99)) < 1.0 and np.any(got == 0.0) and np.any(got == 1.0)


def test_thread_count_does_not_change_results() -> None:
    """One, two and three worker threads give identical bits, for Black-Scholes and for Merton series whose
    term counts vary from row to row (uneven blocks); the public calls (on ``numba.get_num_threads()`` threads,
    however many this machine has) equal the one-thread kernel. The thread count is passed to the kernel
    explicitly, so the check runs on a one-core machine too."""
    rng = np.random.default_rng(4)
    s, k, tau, sig, r = _inputs(N_LARGE, 1)
    lam = np.where(rng.random(N_LARGE) < 0.5, 0.0, np.exp(rng.uniform(0.0, 12.0, N_LARGE)))
    mj, sj = rng.normal(0.0, 0.01, N_LARGE), rng.uniform(0.0, 0.02, N_LARGE)
    x = np.log(s / k)
    public = {"bs": digital_bs(s, k, tau, sig, r), "merton": digital_merton(s, k, tau, sig, lam, mj, sj, r)}
    assert not np.array_equal(public["bs"], public["merton"])  # the jumps matter
    for name, jumps in (("bs", np.zeros(1)), ("merton", lam)):
        flat, steps = _kernel_inputs([x, tau, sig, r, jumps, mj, sj], x.shape)
        serial, bad_serial = digital_kernel(*flat, steps, x.size, 1e-12)
        np.testing.assert_array_equal(public[name], serial)
        for threads in (1, 2, 3):
            parallel, bad_parallel = digital_kernel_threads(*flat, steps, x.size, 1e-12, threads)
            np.testing.assert_array_equal(parallel, serial)
            assert bad_serial == bad_parallel == 0


@numba.njit(cache=False)
def _one_at_a_time(x: np.ndarray, tau: np.ndarray, sigma: np.ndarray, drift: np.ndarray, lam: np.ndarray,
                   mu_j: np.ndarray, sigma_j: np.ndarray, tol: float) -> np.ndarray:
    """The kernel's definition element by element (as it was before the two-pass blocks): validate,
    ``mean = x + (d - lam kappa - sigma^2/2) tau``, then the tested Poisson series ``_series``."""
    out = np.empty(x.size)
    for i in range(x.size):
        t, v, d, la, mj, sj = tau[i], sigma[i], drift[i], lam[i], mu_j[i], sigma_j[i]
        if not (abs(x[i]) < np.inf and 0.0 <= t < np.inf and 0.0 <= v < np.inf and abs(d) < np.inf
                and 0.0 <= la < np.inf and abs(mj) < np.inf and 0.0 <= sj < np.inf):
            out[i] = np.nan
            continue
        lam_kappa = la * math.expm1(mj + 0.5 * sj * sj) if la > 0.0 else 0.0
        out[i] = _series(x[i] + (d - lam_kappa - 0.5 * v * v) * t, v * v * t, la * t, mj, sj * sj, tol)
    return out


def test_blocked_kernel_equals_the_element_by_element_definition() -> None:
    """Serial and threaded kernels equal the one-element-at-a-time formula bit for bit on 150,000
    mixed rows (no jumps, jumps, lam tau = 0, zero variance, every kind of invalid value), with the
    count of invalid rows."""
    rng = np.random.default_rng(12)
    n = 150_000
    x = rng.normal(0.0, 0.01, n)
    tau, sig = rng.uniform(0.0, 1e-4, n), rng.uniform(0.0, 1.5, n)
    drift, lam = rng.uniform(-0.1, 0.3, n), np.where(rng.random(n) < 0.5, 0.0, np.exp(rng.uniform(0, 12, n)))
    mj, sj = rng.normal(0.0, 0.01, n), rng.uniform(0.0, 0.02, n)
    tau[::11], sig[::13], x[::17] = 0.0, 0.0, 0.0
    cols = [x, tau, sig, drift, lam, mj, sj]
    bad_at = rng.choice(n, 70, replace=False)
    for j, i in enumerate(bad_at):
        cols[j % 7][i] = (np.nan, np.inf, -np.inf, -1.0)[j % 4] if j % 7 in (1, 2, 4, 6) else (np.nan, np.inf)[j % 2]
    ref = _one_at_a_time(*cols, 1e-12)
    n_nan = int(np.count_nonzero(np.isnan(ref)))
    assert n_nan >= 60 and np.count_nonzero((ref > 0.01) & (ref < 0.99)) > n // 4
    flat, steps = _kernel_inputs(cols, (n,))
    for out, n_bad in (digital_kernel(*flat, steps, n, 1e-12), digital_kernel_threads(*flat, steps, n, 1e-12, 2)):
        np.testing.assert_array_equal(out, ref)
        assert n_bad == n_nan


_BASE = {"S": 65_000.0, "K": 65_100.0, "tau": 300 / SECONDS_PER_YEAR, "sigma": 0.5, "r": 0.01}
_BAD_BS = [
    (name, bad, msg)
    for name, bads, msg in [
        ("S", (np.nan, np.inf, -np.inf, -1.0, 0.0), "S must be positive and finite (got a value <= 0, inf or NaN)"),
        ("K", (np.nan, np.inf, -np.inf, -1.0, 0.0), "K must be positive and finite (got a value <= 0, inf or NaN)"),
        ("tau", (np.nan, np.inf, -np.inf, -1e-9), "tau must be >= 0 and finite (got {bad!r} at index ({at},))"),
        ("sigma", (np.nan, np.inf, -np.inf, -0.2), "sigma must be >= 0 and finite (got {bad!r} at index ({at},))"),
        ("r", (np.nan, np.inf, -np.inf), "r must be finite (got {bad!r} at index ({at},))"),
    ]
    for bad in bads
]


@pytest.mark.parametrize("at", [0, N_LARGE // 2, N_LARGE - 1], ids=["first", "middle", "last"])
@pytest.mark.parametrize(("name", "bad", "msg"), _BAD_BS)
def test_bad_input_anywhere_is_refused_with_its_name_and_index(name: str, bad: float, msg: str, at: int) -> None:
    """A NaN, an infinity or a negative value at the first, a middle or the last of 100,000 rows: the
    message of the one-pass validation (argument, value, index), on the two-thread path."""
    args = {key: np.full(N_LARGE, value) for key, value in _BASE.items()}
    assert np.all(np.isfinite(digital_bs(**args)))  # the same rows are accepted when valid
    args[name][at] = bad
    with pytest.raises(ValueError, match="^" + re.escape(msg.format(bad=bad, at=at)) + "$"):
        digital_bs(**args)


@pytest.mark.parametrize("at", [0, N_LARGE // 2, N_LARGE - 1], ids=["first", "middle", "last"])
@pytest.mark.parametrize(("name", "bad", "rule"), [
    ("lam", np.nan, ">= 0 and finite"), ("lam", -1.0, ">= 0 and finite"), ("lam", np.inf, ">= 0 and finite"),
    ("mu_j", np.nan, "finite"), ("mu_j", -np.inf, "finite"),
    ("sigma_j", -0.01, ">= 0 and finite"), ("sigma_j", np.inf, ">= 0 and finite"),
    ("mu", np.nan, "finite"),
])
def test_bad_jump_input_anywhere_is_refused(name: str, bad: float, rule: str, at: int) -> None:
    jumps = {"lam": 1460.0, "mu_j": 0.0, "sigma_j": 0.003, "mu": 0.1}
    args = {key: np.full(N_LARGE, value) for key, value in {**_BASE, **jumps}.items()}
    assert np.all(np.isfinite(digital_merton(**args)))
    args[name][at] = bad
    with pytest.raises(ValueError, match="^" + re.escape(f"{name} must be {rule} (got {bad!r} at index ({at},))")):
        digital_merton(**args)


def test_bad_input_in_a_broadcast_names_the_broadcast_index() -> None:
    """The index is in the result's shape (row, column) for a partial broadcast, absent for a scalar."""
    sig = np.full((3, 40_000), 0.5)
    sig[2, 39_999] = np.nan
    with pytest.raises(ValueError, match=re.escape("sigma must be >= 0 and finite (got nan at index (2, 39999))")):
        digital_bs(np.full((3, 1), 100.0), np.full(40_000, 101.0), 0.1, sig)
    with pytest.raises(ValueError, match=re.escape("tau must be >= 0 and finite (got -1.0 at index ())")):
        digital_bs(np.full(N_LARGE, 100.0), 101.0, -1.0, 0.5)
    with pytest.raises(ValueError, match=re.escape("S/K must be a positive finite ratio (ln(S/K) overflows) "
                                                   "(got inf at index ())")):
        digital_bs(1e300, 1e-300, 0.1, 0.2)


def test_same_shape_contiguous_inputs_are_not_copied() -> None:
    """Contiguous float64 inputs of the result's shape are read in place, scalars with step 0; only a
    partial broadcast or a non-contiguous input is copied, and the values of the broadcast are NumPy's."""
    full = [np.arange(6.0).reshape(2, 3) + j for j in range(3)]
    col, scalar = np.array([[10.0], [20.0]]), np.array(0.5)
    strided = np.arange(12.0).reshape(2, 6)[:, ::2]
    flat, steps = _kernel_inputs([*full, col, scalar, strided], (2, 3))
    for a, f in zip(full, flat[:3], strict=True):
        assert np.shares_memory(a, f)
    np.testing.assert_array_equal(flat[3], np.broadcast_to(col, (2, 3)).ravel())
    np.testing.assert_array_equal(flat[4], [0.5])
    np.testing.assert_array_equal(flat[5], strided.ravel())
    np.testing.assert_array_equal(steps, [1, 1, 1, 1, 0, 1])
    assert all(f.flags.c_contiguous and f.ndim == 1 for f in flat)


def test_shapes_dtypes_and_scalars_are_kept() -> None:
    """Scalars give a 0-d float64 array; integers are accepted; broadcasting follows NumPy."""
    p = digital_bs(100, 101, 0.1, 0.3)
    assert isinstance(p, np.ndarray) and p.shape == () and p.dtype == np.float64
    assert float(p) == float(_numpy_digital(*(np.float64(v) for v in (100, 101, 0.1, 0.3, 0.0))))
    grid = digital_bs(np.linspace(90.0, 110.0, 300)[:, None], np.linspace(95.0, 105.0, 400), 0.1, 0.3)
    assert grid.shape == (300, 400) and grid.dtype == np.float64
    s, k = np.broadcast_arrays(np.linspace(90.0, 110.0, 300)[:, None], np.linspace(95.0, 105.0, 400))
    zeros = np.zeros_like(s)
    np.testing.assert_array_equal(grid, _numpy_digital(s, k, zeros + 0.1, zeros + 0.3, zeros))
    assert digital_bs(np.empty(0), 100.0, 0.1, 0.3).shape == (0,)


def test_greeks_share_one_signature() -> None:
    """``digital_delta`` and ``digital_vega`` are the two outputs of one term-by-term computation, with
    the documented keyword-only jump arguments (a misspelt one is refused)."""
    params = list(inspect.signature(digital_delta).parameters)
    assert params == ["S", "K", "tau", "sigma", "r", "lam", "mu_j", "sigma_j", "mu", "tol"]
    assert inspect.signature(digital_vega) == inspect.signature(digital_delta)
    assert digital_delta.__name__ == "digital_delta" and "Delta" in (digital_delta.__doc__ or "")
    with pytest.raises(TypeError):
        digital_vega(100.0, 100.0, 0.1, 0.3, lamb=1.0)  # type: ignore[call-arg]
    # Hull's Black-Scholes delta phi(d2) / (S sigma sqrt(tau)) at S = K, tau = 0.25, sigma = 0.2, r = 0
    d2 = -0.5 * 0.2 * 0.5
    assert float(digital_delta(100.0, 100.0, 0.25, 0.2)) == pytest.approx(
        np.exp(-0.5 * d2 * d2) / np.sqrt(2 * np.pi) / (100.0 * 0.2 * 0.5), rel=1e-13)


@pytest.mark.parametrize("n", [1, 5, 200_000])  # scalar-like, one thread, the threaded path
def test_out_of_range_inputs_name_the_overflowing_term(n: int) -> None:
    """Finite inputs whose variance or expected jump count overflows are refused with the term and the index,
    not a bare count or a ZeroDivisionError (a valid neighbour prices: control)."""
    sigma = np.full(n, 0.5)
    sigma[n // 2] = 1e200
    with pytest.raises(ValueError, match=rf"out of the model's range: first at index \({n // 2},\), where "
                                         r"sigma\^2 tau = inf"):
        digital_bs(np.full(n, 100.0), 100.0, 0.1, sigma)
    lam = np.full(n, 4.0)
    lam[-1] = 1e300
    with pytest.raises(ValueError, match=r"expected jump count lam \* tau = 1e\+299 is beyond the Poisson series"):
        digital_merton(np.full(n, 100.0), 100.0, 0.1, 0.5, lam, 0.0, 0.01)
    assert np.isfinite(digital_merton(np.full(n, 100.0), 100.0, 0.1, 0.5, np.full(n, 4.0), 0.0, 0.01)).all()
    # at expiry an overflowing variance is refused too (it used to read as "below the strike": 0 for S > K)
    with pytest.raises(ValueError, match="out of the model's range"):
        digital_bs(np.full(n, 2.0), 1.0, 0.0, sigma)
    assert (digital_bs(np.full(n, 2.0), 1.0, 0.0, 0.5) == 1.0).all()
