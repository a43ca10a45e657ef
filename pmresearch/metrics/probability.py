"""Scores of probability forecasts of a binary outcome (Model B's scoring against the market, issue 14).

Every function takes outcomes ``y`` (0/1) and forecasts ``p`` of ``P(y = 1)`` on the same rows, refuses NaN,
infinite or out-of-range values with the position of the first bad one, and needs no ground truth: the same
code scores a model, the market-implied probability and (on simulated rows) the truth.

References
----------
Brier, G. (1950), "Verification of forecasts expressed in terms of probability", Monthly Weather Review 78.
Murphy, A. (1973), "A new vector partition of the probability score", J. Applied Meteorology 12: reliability,
resolution and uncertainty.
Stephenson, D., Coelho, C. & Jolliffe, I. (2008), "Two extra components in the Brier score decomposition",
Weather and Forecasting 23: with binned forecasts ``BS = REL - RES + UNC + WBV - 2 WBC`` exactly (within-bin
variance of the forecasts and within-bin covariance of forecasts and outcomes).
Cox, D. (1958), "Two further applications of a model for binary regression", Biometrika 45: the calibration
slope and intercept, a logistic regression of the outcome on ``logit(p)`` (1 and 0 when calibrated).
Naeini, M., Cooper, G. & Hauskrecht, M. (2015), "Obtaining well calibrated probabilities using Bayesian
binning", AAAI: the expected calibration error over equal-width bins.
Wilson, E. (1927), "Probable inference, the law of succession, and statistical inference", JASA 22: the
binomial band of a reliability diagram's observed frequency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch._typing import FloatArray

__all__ = [
    "CalibrationFit",
    "MurphyDecomposition",
    "PairedDifference",
    "brier_loss",
    "calibration_fit",
    "expected_calibration_error",
    "log_loss",
    "murphy_decomposition",
    "paired_difference",
    "probability_scores",
    "reliability_table",
]

#: Forecasts are clipped to ``[CLIP, 1 - CLIP]`` inside the log loss (a forecast of exactly 0 or 1 that is
#: wrong would otherwise score infinity and swamp every mean).
CLIP = 1e-6


def _check(y: npt.ArrayLike, p: npt.ArrayLike, what: str) -> tuple[FloatArray, FloatArray]:
    """``y`` and ``p`` as float arrays of one length; ``y`` in {0, 1}, ``p`` in [0, 1], all finite."""
    ya = np.asarray(y, dtype=np.float64).ravel()
    pa = np.asarray(p, dtype=np.float64).ravel()
    if ya.shape != pa.shape:
        raise ValueError(f"{what}: outcomes and forecasts differ in length ({ya.size} and {pa.size})")
    if ya.size == 0:
        raise ValueError(f"{what}: no rows to score")
    for name, arr in (("outcome", ya), ("forecast", pa)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"{what}: {bad.size} non-finite {name} values, first at position {bad[0]} "
                             f"({arr[bad[0]]})")
    bad = np.flatnonzero((ya != 0.0) & (ya != 1.0))
    if bad.size:
        raise ValueError(f"{what}: outcomes must be 0 or 1; position {bad[0]} holds {ya[bad[0]]}")
    bad = np.flatnonzero((pa < 0.0) | (pa > 1.0))
    if bad.size:
        raise ValueError(f"{what}: forecasts must lie in [0, 1]; position {bad[0]} holds {pa[bad[0]]}")
    return ya, pa


def log_loss(y: npt.ArrayLike, p: npt.ArrayLike, *, clip: float = CLIP) -> FloatArray:
    """Per-row log loss ``-(y ln p + (1 - y) ln(1 - p))`` (nats), ``p`` clipped to ``[clip, 1 - clip]``."""
    ya, pa = _check(y, p, "log_loss")
    if not 0.0 <= clip < 0.5:
        raise ValueError(f"log_loss: clip must be in [0, 0.5), got {clip}")
    q = np.clip(pa, clip, 1.0 - clip)
    return np.asarray(-(ya * np.log(q) + (1.0 - ya) * np.log1p(-q)), dtype=np.float64)


def brier_loss(y: npt.ArrayLike, p: npt.ArrayLike) -> FloatArray:
    """Per-row Brier loss ``(p - y)^2``."""
    ya, pa = _check(y, p, "brier_loss")
    return np.asarray((pa - ya) ** 2, dtype=np.float64)


def _bins(p: FloatArray, n_bins: int) -> npt.NDArray[np.int64]:
    """Equal-width bin of each forecast on [0, 1] (1.0 falls in the last bin)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> float:
    """``sum_k (n_k / n) |o_k - f_k|`` over ``n_bins`` equal-width bins (``f_k`` mean forecast, ``o_k``
    observed frequency of bin ``k``; empty bins contribute nothing)."""
    ya, pa = _check(y, p, "expected_calibration_error")
    b = _bins(pa, n_bins)
    f_sum = np.bincount(b, weights=pa, minlength=n_bins)
    o_sum = np.bincount(b, weights=ya, minlength=n_bins)
    return float(np.abs(o_sum - f_sum).sum() / ya.size)  # sum_k (n_k / n) |o_k - f_k|


@dataclass(frozen=True)
class MurphyDecomposition(SummaryMixin):
    """The Brier score's parts over equal-width forecast bins (Stephenson et al. 2008):
    ``brier = reliability - resolution + uncertainty + within_variance - 2 within_covariance`` exactly."""

    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    within_variance: float
    within_covariance: float
    n: int
    n_bins: int

    def summary(self) -> Summary:
        """The parts and their sum against the Brier score."""
        parts = {"brier": self.brier, "reliability": self.reliability, "resolution": self.resolution,
                 "uncertainty": self.uncertainty, "within-bin variance": self.within_variance,
                 "within-bin covariance": self.within_covariance, "n": self.n, "bins": self.n_bins}
        return summary_table("Murphy decomposition of the Brier score", {"parts": parts})


def murphy_decomposition(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> MurphyDecomposition:
    """Reliability ``(1/n) sum_k n_k (f_k - o_k)^2``, resolution ``(1/n) sum_k n_k (o_k - obar)^2``,
    uncertainty ``obar (1 - obar)`` and the two within-bin terms (module references)."""
    ya, pa = _check(y, p, "murphy_decomposition")
    n = ya.size
    b = _bins(pa, n_bins)
    n_k = np.bincount(b, minlength=n_bins).astype(np.float64)
    live = n_k > 0
    safe = np.where(live, n_k, 1.0)
    f_k = np.bincount(b, weights=pa, minlength=n_bins) / safe
    o_k = np.bincount(b, weights=ya, minlength=n_bins) / safe
    obar = float(ya.mean())
    dp, dy = pa - f_k[b], ya - o_k[b]
    return MurphyDecomposition(
        brier=float(np.mean((pa - ya) ** 2)),
        reliability=float((n_k * (f_k - o_k) ** 2)[live].sum() / n),
        resolution=float((n_k * (o_k - obar) ** 2)[live].sum() / n),
        uncertainty=obar * (1.0 - obar),
        within_variance=float(np.mean(dp * dp)),
        within_covariance=float(np.mean(dp * dy)),
        n=n, n_bins=n_bins,
    )


def reliability_table(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Per equal-width bin with rows: ``lo, hi, n, mean_forecast, observed`` and the Wilson ``1 - alpha``
    band of the observed frequency (``band_lo, band_hi``): where the diagonal leaves the band, the forecasts
    of that bin are miscalibrated beyond binomial noise. Empty bins are left out."""
    from statsmodels.stats.proportion import proportion_confint

    ya, pa = _check(y, p, "reliability_table")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"reliability_table: alpha must be in (0, 1), got {alpha}")
    b = _bins(pa, n_bins)
    n_k = np.bincount(b, minlength=n_bins)
    ones = np.bincount(b, weights=ya, minlength=n_bins)
    f_sum = np.bincount(b, weights=pa, minlength=n_bins)
    live = np.flatnonzero(n_k > 0)
    lo, hi = proportion_confint(ones[live], n_k[live], alpha=alpha, method="wilson")
    return pd.DataFrame({
        "lo": live / n_bins, "hi": (live + 1) / n_bins, "n": n_k[live].astype(np.int64),
        "mean_forecast": f_sum[live] / n_k[live], "observed": ones[live] / n_k[live],
        "band_lo": np.asarray(lo, dtype=np.float64), "band_hi": np.asarray(hi, dtype=np.float64),
    })


@dataclass(frozen=True)
class CalibrationFit(SummaryMixin):
    """Cox's logistic recalibration ``logit P(y = 1) = intercept + slope logit(p)`` with standard errors:
    slope 1 and intercept 0 for calibrated forecasts; a slope below 1 means over-confident forecasts."""

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    n: int

    def summary(self) -> Summary:
        """Slope and intercept with their standard errors."""
        table = pd.DataFrame({"estimate": [self.slope, self.intercept],
                              "std_error": [self.slope_se, self.intercept_se]}, index=["slope", "intercept"])
        return summary_table("calibration slope and intercept (Cox 1958)", {"fit": table}, notes=(f"n = {self.n}",))


def calibration_fit(y: npt.ArrayLike, p: npt.ArrayLike, *, clip: float = CLIP) -> CalibrationFit:
    """Maximum-likelihood logistic regression of ``y`` on ``[1, logit(p)]`` (statsmodels ``Logit``), with
    ``p`` clipped to ``[clip, 1 - clip]``.

    Raises
    ------
    ValueError
        If the outcomes are all equal or the forecasts constant (nothing to regress), or the fit diverges
        (outcomes perfectly separated by the forecasts).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    ya, pa = _check(y, p, "calibration_fit")
    if ya.min() == ya.max():
        raise ValueError(f"calibration_fit: every outcome is {ya[0]:g}; the slope is not identified")
    x = special.logit(np.clip(pa, clip, 1.0 - clip))
    if np.ptp(x) == 0.0:
        raise ValueError("calibration_fit: the forecasts are constant; the slope is not identified")
    try:
        res = sm.Logit(ya, sm.add_constant(x, has_constant="add")).fit(disp=0, maxiter=100)
    except PerfectSeparationError as err:  # older statsmodels raise; newer warn and return inf
        raise ValueError(f"calibration_fit: the forecasts separate the outcomes perfectly ({err})") from err
    params, se = np.asarray(res.params), np.asarray(res.bse)
    if not (np.isfinite(params).all() and np.isfinite(se).all()):
        raise ValueError("calibration_fit: the fit diverged (outcomes separated by the forecasts)")
    return CalibrationFit(slope=float(params[1]), intercept=float(params[0]), slope_se=float(se[1]),
                          intercept_se=float(se[0]), n=int(ya.size))


def probability_scores(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> dict[str, float]:
    """The headline entry of one forecaster: ``{log_loss, brier, ece, auc, n}`` (means over the rows; AUC
    from scikit-learn, NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    ya, pa = _check(y, p, "probability_scores")
    auc = float(roc_auc_score(ya, pa)) if ya.min() != ya.max() else float("nan")
    return {"log_loss": float(log_loss(ya, pa).mean()), "brier": float(brier_loss(ya, pa).mean()),
            "ece": expected_calibration_error(ya, pa, n_bins), "auc": auc, "n": int(ya.size)}


@dataclass(frozen=True)
class PairedDifference(SummaryMixin):
    """Mean of per-row loss differences ``a - b`` with its standard error clustered by ``clusters``."""

    mean_diff: float
    se: float
    n: int
    n_clusters: int

    @property
    def z(self) -> float:
        """``mean_diff / se``."""
        return self.mean_diff / self.se if self.se > 0 else float("nan")

    def summary(self) -> Summary:
        """The difference, its clustered standard error and the counts."""
        return summary_table("paired loss difference (clustered)", {"difference": {
            "mean difference": self.mean_diff, "std error": self.se, "z": self.z, "rows": self.n,
            "clusters": self.n_clusters}})


def paired_difference(loss_a: npt.ArrayLike, loss_b: npt.ArrayLike, clusters: npt.ArrayLike) -> PairedDifference:
    """``mean(a - b)`` on the same rows and its cluster-robust standard error
    ``sqrt(G / (G - 1) sum_g (sum_{i in g} (d_i - dbar))^2) / n`` over ``G`` clusters (the CR1 estimator of an
    OLS of ``d`` on a constant, as statsmodels' ``cov_type="cluster"``): rows of one market window (or one
    15-minute block when 5- and 15-minute markets are pooled) share their outcome, so they are not
    independent.

    Raises
    ------
    ValueError
        On unequal lengths, non-finite losses (position named) or fewer than two clusters.
    """
    a = np.asarray(loss_a, dtype=np.float64).ravel()
    b = np.asarray(loss_b, dtype=np.float64).ravel()
    g = pd.Series(np.asarray(clusters).ravel())
    if not a.size == b.size == g.size:
        raise ValueError(f"paired_difference: lengths differ (a {a.size}, b {b.size}, clusters {g.size})")
    if a.size == 0:
        raise ValueError("paired_difference: no rows")
    for name, arr in (("loss_a", a), ("loss_b", b)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"paired_difference: {name} is not finite at position {bad[0]} ({arr[bad[0]]})")
    if g.isna().any():
        raise ValueError(f"paired_difference: cluster label missing at position {int(np.flatnonzero(g.isna())[0])}")
    d = a - b
    dbar = float(d.mean())
    sums = pd.Series(d - dbar).groupby(g.to_numpy(), sort=False).sum().to_numpy()
    n_g = sums.size
    if n_g < 2:
        raise ValueError(f"paired_difference: need at least two clusters, got {n_g}")
    se = float(np.sqrt(n_g / (n_g - 1) * float((sums**2).sum())) / d.size)
    return PairedDifference(mean_diff=dbar, se=se, n=int(d.size), n_clusters=int(n_g))
