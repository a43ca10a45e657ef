"""Jump tests and maximum-likelihood calibration of Merton's jump-diffusion from high-frequency returns.

References
----------
Barndorff-Nielsen & Shephard (2004, 2006): bipower variation and the jump test; the ratio form with
tripower quarticity follows Huang & Tauchen (2005), "The relative contribution of jumps to total price
variance", J. Financial Econometrics 3. Lee & Mykland (2008), "Jumps in financial markets: a new
nonparametric test and jump dynamics", RFS 21: standardized returns against a Gumbel critical value.
Merton (1976): returns over ``dt`` are a Poisson mixture of normals; the likelihood is the mixture
density and standard errors come from the inverse observed information (numerical Hessian), with the
delta method for the transformed parameters.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special, stats

from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import BoolArray, FloatArray
from pmresearch.pricing.poisson import poisson_weights
from pmresearch.pricing.vol import bipower_variation

__all__ = ["BNSJumpTest", "JumpLaw", "MertonFit", "bns_jump_test", "fit_merton", "lee_mykland_jumps", "merton_loglik"]

_MU1 = float(np.sqrt(2.0 / np.pi))
_MU43 = float(2.0 ** (2.0 / 3.0) * special.gamma(7.0 / 6.0) / special.gamma(0.5))


def _real(owner: str, name: str, value: Any) -> float:
    """``value`` as a float, refusing booleans, strings and other non-numbers with a message naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float strictly between 0 and 1 (the level of a test, or 1 - the coverage of an interval)."""
    a = _real("alpha", "alpha", alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1 (0.05 for 95% intervals), got {alpha!r}")
    return a


@dataclass(frozen=True)
class JumpLaw:
    """Merton's (1976) jump law of ``ln S``: compound Poisson jumps, ``lam`` a year, each ``N(mu_j, sigma_j^2)``.

    One object for the three jump parameters that :class:`pmresearch.models.ModelA`,
    :func:`pmresearch.models.model_a_variant`, the simulator's process and the Model A experiment pass
    around; :func:`pmresearch.pricing.digital_merton` takes its fields
    (``digital_merton(S, K, tau, sigma, law.lam, law.mu_j, law.sigma_j)``).

    Parameters
    ----------
    lam : float
        Jump intensity, jumps per year of the 24/7 year (``SECONDS_PER_YEAR``, 365 days); >= 0 and finite.
    mu_j : float
        Mean of one log-jump; finite.
    sigma_j : float
        Standard deviation of one log-jump; >= 0 and finite.

    Raises
    ------
    TypeError
        A field is not a real number (a string, a boolean, None).
    ValueError
        A field is out of its bounds (negative or non-finite ``lam`` or ``sigma_j``, non-finite ``mu_j``).

    Examples
    --------
    >>> law = JumpLaw.from_daily(4.0, mu_j=0.0, sigma_j=0.003)
    >>> law.lam, law.jumps_per_day
    (1460.0, 4.0)
    >>> JumpLaw.none().has_jumps
    False
    """

    lam: float = 0.0
    mu_j: float = 0.0
    sigma_j: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lam", "mu_j", "sigma_j"):
            object.__setattr__(self, name, _real("JumpLaw", name, getattr(self, name)))
        if not 0.0 <= self.lam < math.inf:
            raise ValueError(f"JumpLaw: lam (jumps per year) must be >= 0 and finite, got {self.lam!r}")
        if not math.isfinite(self.mu_j):
            raise ValueError(f"JumpLaw: mu_j (mean log-jump) must be finite, got {self.mu_j!r}")
        if not 0.0 <= self.sigma_j < math.inf:
            raise ValueError(f"JumpLaw: sigma_j (sd of a log-jump) must be >= 0 and finite, got {self.sigma_j!r}")

    @classmethod
    def none(cls) -> JumpLaw:
        """No jumps (``lam = 0``): Merton pricing equals Black-Scholes."""
        return cls(0.0, 0.0, 0.0)

    @classmethod
    def from_daily(cls, jumps_per_day: float, mu_j: float = 0.0, sigma_j: float = 0.0) -> JumpLaw:
        """The law with ``jumps_per_day`` jumps a day (``lam = 365 jumps_per_day``)."""
        return cls(_real("JumpLaw", "jumps_per_day", jumps_per_day) * 365.0, mu_j, sigma_j)

    @classmethod
    def from_fit(cls, fit: MertonFit) -> JumpLaw:
        """The fitted jump law of a :func:`fit_merton` result (its ``lam``, ``mu_j``, ``sigma_j`` estimates)."""
        p = fit.params
        return cls(float(p["lam"]), float(p["mu_j"]), float(p["sigma_j"]))

    @property
    def has_jumps(self) -> bool:
        """``lam > 0``."""
        return self.lam > 0.0

    @property
    def jumps_per_day(self) -> float:
        """Jump intensity per day (``lam / 365``)."""
        return self.lam / 365.0

    @property
    def kappa(self) -> float:
        """Mean relative jump size ``E[e^J] - 1 = exp(mu_j + sigma_j^2 / 2) - 1`` (the compensator's factor)."""
        return math.expm1(self.mu_j + 0.5 * self.sigma_j**2)

    @property
    def second_moment(self) -> float:
        """``E[J^2] = mu_j^2 + sigma_j^2`` of one log-jump."""
        return self.mu_j**2 + self.sigma_j**2

    @property
    def annual_variance(self) -> float:
        """Variance the jumps add to ``ln S`` per year: ``lam E[J^2] = lam (mu_j^2 + sigma_j^2)``."""
        return self.lam * self.second_moment

    def count_mean(self, tau: npt.ArrayLike) -> FloatArray:
        """Expected number of jumps ``lam tau`` over ``tau`` years."""
        return np.asarray(self.lam * np.asarray(tau, dtype=np.float64), dtype=np.float64)

    def jump_class(self, tau: npt.ArrayLike) -> tuple[FloatArray, float, float]:
        """``(lam tau, mu_j, sigma_j^2)``: the jump class of
        :func:`pmresearch.pricing.gaussian_jump_up_probability` over ``tau`` years."""
        return self.count_mean(tau), self.mu_j, self.sigma_j**2


@dataclass(frozen=True)
class BNSJumpTest(SummaryMixin):
    """Result of the Barndorff-Nielsen-Shephard ratio jump test (one value per window)."""

    z: FloatArray
    pvalue: FloatArray
    rv: FloatArray
    bv: FloatArray
    relative_jump: FloatArray

    def reject(self, alpha: float = 0.05) -> BoolArray:
        """Windows where the one-sided test rejects "no jump" at level ``alpha``."""
        return np.asarray(self.pvalue < check_alpha(alpha), dtype=np.bool_)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Windows tested, windows rejected at ``alpha``, and the mean statistic and relative jump."""
        rejected = self.reject(alpha)
        table = {"windows": int(np.size(self.z)), f"rejected at {alpha:g}": int(np.sum(rejected)),
                 "mean z": float(np.mean(self.z)) if np.size(self.z) else np.nan,
                 "mean relative jump (RV - BV) / RV": float(np.mean(self.relative_jump)) if np.size(self.z)
                 else np.nan}
        return summary_table("Barndorff-Nielsen-Shephard jump test", {"test": table},
                             ("z is asymptotically N(0, 1) without jumps; p-values are one-sided (large z: jumps)",))


def bns_jump_test(returns: npt.ArrayLike, *, axis: int = -1) -> BNSJumpTest:
    """Barndorff-Nielsen-Shephard jump test on the windows of ``returns`` (returns along ``axis``).

    ``RJ = (RV - BV) / RV`` and ``z = RJ / sqrt(((pi/2)^2 + pi - 5) / n * max(1, TQ / BV^2))`` with
    tripower quarticity ``TQ = n mu_{4/3}^{-3} n/(n-2) sum |r_i r_{i-1} r_{i-2}|^{4/3}`` (Huang &
    Tauchen 2005, ratio statistic). ``z`` is asymptotically N(0, 1) without jumps; large ``z`` means
    jumps. p-values are one-sided.
    """
    r = np.moveaxis(np.asarray(returns, dtype=np.float64), axis, -1)
    n = r.shape[-1]
    if n < 3:
        raise ValueError("the BNS test needs at least 3 returns per window")
    rv = np.sum(r * r, axis=-1)
    bv = bipower_variation(r)
    a = np.abs(r) ** (4.0 / 3.0)
    tq = n * _MU43**-3 * n / (n - 2) * np.sum(a[..., 2:] * a[..., 1:-1] * a[..., :-2], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rj = np.where(rv > 0, (rv - bv) / rv, 0.0)
        ratio = np.where(bv > 0, tq / (bv * bv), 1.0)
    z = rj / np.sqrt(((np.pi / 2.0) ** 2 + np.pi - 5.0) / n * np.maximum(1.0, ratio))
    return BNSJumpTest(z=np.asarray(z), pvalue=np.asarray(stats.norm.sf(z)), rv=np.asarray(rv),
                       bv=np.asarray(bv), relative_jump=np.asarray(rj))


def lee_mykland_jumps(returns: npt.ArrayLike, *, window: int = 270, alpha: float = 0.01) -> BoolArray:
    """Flag individual jump returns with the Lee & Mykland (2008) test.

    ``L_i = r_i / sigma_i`` where ``sigma_i^2`` is the bipower variation of the ``window`` returns
    *before* ``i`` divided by ``window - 1`` (instantaneous volatility, robust to jumps and not using
    ``r_i``). The maximum of ``n`` standardized normals is Gumbel after centring by ``C_n =
    sqrt(2 log n)/c - (log pi + log log n) / (2 c sqrt(2 log n))`` and scaling by ``S_n = 1/(c
    sqrt(2 log n))``, ``c = sqrt(2/pi)``; a return is a jump when ``(|L_i| - C_n) / S_n > -log(-log(1 -
    alpha))``. The first ``window + 1`` returns are never flagged (no volatility estimate yet). The
    paper's ``window`` guidance is ``sqrt(252 x bars per day)`` to ``252 x bars per day``; 270 suits 1-minute
    to 5-minute data.
    """
    alpha = check_alpha(alpha)
    r = np.asarray(returns, dtype=np.float64)
    n = r.size
    if n <= window + 1:
        raise ValueError(f"need more than window + 1 = {window + 1} returns")
    prod = np.abs(r[1:]) * np.abs(r[:-1])  # prod[j] = |r_{j+1}| |r_j|
    csum = np.concatenate([[0.0], np.cumsum(prod)])
    idx = np.arange(window + 1, n)
    # products among r_{i-window} .. r_{i-1}: prod[i-window .. i-2]
    bv = (csum[idx - 1] - csum[idx - window]) / (window - 1) / _MU1**2
    c = _MU1
    log_n = np.log(n)
    c_n = np.sqrt(2.0 * log_n) / c - (np.log(np.pi) + np.log(log_n)) / (2.0 * c * np.sqrt(2.0 * log_n))
    s_n = 1.0 / (c * np.sqrt(2.0 * log_n))
    crit = -np.log(-np.log(1.0 - alpha))
    flags = np.zeros(n, dtype=np.bool_)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (np.abs(r[idx]) / np.sqrt(bv) - c_n) / s_n
    flags[idx] = np.nan_to_num(stat, nan=0.0) > crit
    return flags


_NAMES = ("mu", "sigma", "lam", "mu_j", "sigma_j")


def merton_loglik(
    returns: npt.ArrayLike, dt_years: float, mu: float, sigma: float, lam: float, mu_j: float, sigma_j: float,
    *, n_max: int | None = None,
) -> float:
    """Log-likelihood of i.i.d. returns over ``dt_years`` under Merton's (1976) jump-diffusion.

    ``r ~ sum_n Pois(n; lam dt) N(mu dt + n mu_j, sigma^2 dt + n sigma_j^2)`` where ``mu`` is the
    real-world log drift of the diffusion part (annualized). The series stops at ``n_max`` (default:
    where the Poisson tail is below 1e-12, :func:`~pmresearch.pricing.poisson.poisson_weights`).
    """
    r = np.asarray(returns, dtype=np.float64)
    lt = lam * dt_years
    log_w, n_terms = poisson_weights(lt, 1e-12, n_terms=None if n_max is None else n_max + 1, log=True)
    ns = np.arange(n_terms, dtype=np.float64)
    var = sigma * sigma * dt_years + ns * sigma_j * sigma_j
    mean = mu * dt_years + ns * mu_j
    comp = log_w[:, None] + stats.norm.logpdf(r[None, :], mean[:, None], np.sqrt(var)[:, None])
    return float(np.sum(special.logsumexp(comp, axis=0)))


_LOG_SCALE = ("sigma", "lam", "sigma_j")


@dataclass(frozen=True)
class MertonFit(SummaryMixin):
    """Maximum-likelihood Merton jump-diffusion parameters with standard errors.

    Parameters are annualized on the 24/7 year: ``mu`` (diffusion log drift), ``sigma``, ``lam``
    (jumps per year), and the log-jump law ``N(mu_j, sigma_j^2)`` (:attr:`jumps`).
    """

    params: pd.Series
    std_errors: pd.Series
    cov: pd.DataFrame
    loglik: float
    n_obs: int
    dt_years: float
    converged: bool

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals of coverage ``1 - alpha`` (columns ``lower``, ``upper``, one row per parameter).

        With ``z = Phi^-1(1 - alpha / 2)``: ``sigma``, ``lam``, ``sigma_j`` are built on the log scale
        (``p exp(-+ z se / p)``, the delta-method interval of ``log p`` mapped back: always positive), the
        others on the natural scale (``p -+ z se``).

        Raises
        ------
        ValueError
            If ``alpha`` is not strictly between 0 and 1.
        """
        z = float(stats.norm.ppf(1.0 - check_alpha(alpha) / 2.0))
        rows = {}
        for name in _NAMES:
            p, se = float(self.params[name]), float(self.std_errors[name])
            if name in _LOG_SCALE and p > 0:
                rows[name] = (p * np.exp(-z * se / p), p * np.exp(z * se / p))
            else:
                rows[name] = (p - z * se, p + z * se)
        return pd.DataFrame(rows, index=["lower", "upper"]).T

    @cached_property
    def jumps(self) -> JumpLaw:
        """The fitted jump law (``lam``, ``mu_j``, ``sigma_j``), for :class:`pmresearch.models.ModelA`."""
        return JumpLaw.from_fit(self)

    @cached_property
    def pricing_mu(self) -> float:
        """The ``mu`` argument of :func:`~pmresearch.pricing.digital_merton` that reproduces the fitted
        real-world law: ``mu + lam kappa + sigma^2 / 2`` with ``kappa = exp(mu_j + sigma_j^2 / 2) - 1``
        (the fit's ``mu`` is the diffusion's log drift; ``digital_merton`` takes an expected rate of
        return and subtracts the compensator and the Ito term)."""
        p = self.params
        kappa = float(np.expm1(p["mu_j"] + 0.5 * p["sigma_j"] ** 2))
        return float(p["mu"] + p["lam"] * kappa + 0.5 * p["sigma"] ** 2)

    @cached_property
    def jumps_per_day(self) -> float:
        """Jump intensity per day."""
        return float(self.params["lam"]) / 365.0

    def summary(self, alpha: float = 0.05) -> Summary:
        """Estimates, standard errors and ``1 - alpha`` Wald intervals (table ``estimates``: columns
        ``estimate``, ``std_error``, ``lower``, ``upper``), and the fit (table ``fit``: log-likelihood,
        observations, seconds per return, convergence)."""
        est = pd.DataFrame({"estimate": self.params, "std_error": self.std_errors}).join(self.conf_int(alpha))
        fit = {"log-likelihood": float(self.loglik), "observations": int(self.n_obs),
               "seconds per return": float(self.dt_years * SECONDS_PER_YEAR), "jumps per day": self.jumps_per_day,
               "converged": bool(self.converged)}
        notes = [f"{100.0 * (1.0 - alpha):g}% Wald intervals from the inverse observed information; sigma, lam and "
                 "sigma_j on the log scale (always positive)",
                 "annualized on the 24/7 year (365 days): mu is the diffusion's log drift, lam jumps per year, "
                 "log-jumps N(mu_j, sigma_j^2)"]
        if not self.converged:
            notes.append("the optimizer did not report convergence: the estimates and standard errors are suspect")
        return summary_table("Merton jump-diffusion: maximum likelihood", {"estimates": est, "fit": fit}, notes)


def _hessian(fn: Callable[[FloatArray], float], x: FloatArray, h: FloatArray) -> FloatArray:
    """Central-difference Hessian of the scalar function ``fn`` at ``x`` with steps ``h``."""
    k = x.size
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            v = (fn(x + ei + ej) - fn(x + ei - ej) - fn(x - ei + ej) + fn(x - ei - ej)) / (4.0 * h[i] * h[j])
            out[i, j] = out[j, i] = v
    return out


def fit_merton(
    returns: npt.ArrayLike,
    step_s: float,
    *,
    start: dict[str, float] | None = None,
    n_max: int = 3,
) -> MertonFit:
    """Maximum-likelihood Merton (1976) parameters from equally spaced high-frequency log returns.

    Parameters
    ----------
    returns : array_like
        Log returns over ``step_s`` seconds each (1 s to a few minutes; at these horizons more than
        ``n_max`` jumps in one step has negligible probability).
    step_s : float
        Seconds per return.
    start : dict, optional
        Starting values; default: ``sigma`` from bipower variation, jumps from the returns beyond 5
        bipower standard deviations.
    n_max : int
        Truncation of the Poisson mixture per return.

    Returns
    -------
    MertonFit
        Estimates with standard errors from the inverse observed information of the likelihood in
        the unconstrained parameters ``(mu, log sigma, log lam, mu_j, log sigma_j)`` mapped back by the
        delta method.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 100:
        raise ValueError("fit_merton needs at least 100 returns")
    dt = step_s / SECONDS_PER_YEAR
    sd_bv = float(np.sqrt(bipower_variation(r) / r.size))
    big = np.abs(r - np.median(r)) > 5.0 * sd_bv
    if start is None:
        n_big = max(int(big.sum()), 1)
        start = {
            "mu": 0.0,
            "sigma": sd_bv / np.sqrt(dt),
            "lam": n_big / (r.size * dt),
            "mu_j": float(np.mean(r[big])) if big.any() else 0.0,
            "sigma_j": float(np.std(r[big])) if big.sum() > 1 else 5.0 * sd_bv,
        }
    # scale returns to units of the diffusion sd per step, for a well-conditioned optimizer
    scale = sd_bv if sd_bv > 0 else float(np.std(r))
    x = r / scale

    ns = np.arange(n_max + 1, dtype=np.float64)

    def negll(theta: FloatArray) -> float:
        m, log_s, log_l, mj, log_sj = theta
        lt = np.exp(log_l) * dt
        if not 0.0 <= lt < np.inf:  # an optimizer step far out: no likelihood there
            return np.inf
        log_w, _ = poisson_weights(lt, n_terms=n_max + 1, log=True)  # one count for every lam: smooth
        var = np.exp(2 * log_s) + ns * np.exp(2 * log_sj)
        mean = m + ns * mj
        comp = log_w[:, None] - 0.5 * (np.log(2 * np.pi * var)[:, None] + (x[None, :] - mean[:, None]) ** 2
                                        / var[:, None])
        return -float(np.sum(special.logsumexp(comp, axis=0)))

    # theta in scaled units: diffusion mean/sd per step, jump mean/sd in scaled units
    theta0 = np.array([
        start["mu"] * dt / scale,
        np.log(start["sigma"] * np.sqrt(dt) / scale),
        np.log(start["lam"]),
        start["mu_j"] / scale,
        np.log(max(start["sigma_j"], 1e-3 * scale) / scale),
    ])
    best = optimize.minimize(negll, theta0, method="BFGS", options={"gtol": 1e-5})
    if not best.success:  # polish a BFGS line-search stall with a derivative-free pass
        nm = optimize.minimize(negll, best.x, method="Nelder-Mead",
                               options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 20_000})
        best = nm if nm.fun <= best.fun else best
    th = best.x
    hess = _hessian(negll, th, np.full(th.size, 1e-4))
    cov_t = np.linalg.inv(hess)
    m, log_s, log_l, mj, log_sj = th
    params = np.array([m * scale / dt, np.exp(log_s) * scale / np.sqrt(dt), np.exp(log_l), mj * scale,
                       np.exp(log_sj) * scale])
    jac = np.diag([scale / dt, params[1], params[2], scale, params[4]])  # d params / d theta
    cov = jac @ cov_t @ jac.T
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return MertonFit(
        params=pd.Series(params, index=list(_NAMES), name="estimate"),
        std_errors=pd.Series(se, index=list(_NAMES), name="std_error"),
        cov=pd.DataFrame(cov, index=list(_NAMES), columns=list(_NAMES)),
        loglik=-float(best.fun) - r.size * np.log(scale),
        n_obs=int(r.size),
        dt_years=dt,
        converged=bool(best.success),
    )

