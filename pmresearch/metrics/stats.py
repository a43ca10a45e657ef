"""Volatility-forecast losses and the Diebold-Mariano test of equal predictive accuracy.

Losses compare a variance *forecast* ``h`` with a variance *proxy* ``y`` (e.g. the realized variance
of the next 15 minutes). Patton (2011) shows that MSE and QLIKE are the two members of his family
that rank forecasts consistently when the proxy is noisy but unbiased; QLIKE is the more robust to
the proxy's noise and penalizes under-prediction of variance more than over-prediction.

References
----------
Patton, A. (2011), "Volatility forecast comparison using imperfect volatility proxies", Journal of
Econometrics 160: QLIKE ``y/h - ln(y/h) - 1`` (normalized so that a perfect forecast scores 0).
Diebold, F. & Mariano, R. (1995), "Comparing predictive accuracy", JBES 13.
Harvey, D., Leybourne, S. & Newbold, P. (1997), "Testing the equality of prediction mean squared
errors", International Journal of Forecasting 13: the small-sample correction and Student-t
reference distribution with ``n - 1`` degrees of freedom.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from pmresearch._summary import Summary, SummaryMixin
from pmresearch._typing import FloatArray

__all__ = ["DMResult", "diebold_mariano", "mse", "mse_loss", "qlike", "qlike_loss"]

Alternative = Literal["two-sided", "less", "greater"]


def _pair(y: npt.ArrayLike, h: npt.ArrayLike, what: str) -> tuple[FloatArray, FloatArray]:
    ya = np.asarray(y, dtype=np.float64)
    ha = np.asarray(h, dtype=np.float64)
    if ya.shape != ha.shape:
        raise ValueError(f"{what}: proxy and forecast shapes differ: {ya.shape} vs {ha.shape}")
    return ya, ha


def mse_loss(y: npt.ArrayLike, h: npt.ArrayLike) -> FloatArray:
    """Squared error ``(y - h)^2`` per observation (NaN where either is NaN)."""
    ya, ha = _pair(y, h, "mse_loss")
    return np.asarray((ya - ha) ** 2, dtype=np.float64)


def qlike_loss(y: npt.ArrayLike, h: npt.ArrayLike) -> FloatArray:
    """QLIKE loss ``y/h - ln(y/h) - 1`` per observation (Patton 2011, eq. 24, normalized).

    ``h`` must be positive and ``y`` non-negative; ``y = 0`` gives ``+inf`` (the log term), so
    supply a positive proxy (a realized variance over a window with a non-zero return).

    Raises
    ------
    ValueError
        If a forecast is not positive or a proxy is negative (NaN entries are passed through).
    """
    ya, ha = _pair(y, h, "qlike_loss")
    if np.any(ha <= 0):
        bad = int(np.flatnonzero(ha <= 0)[0])
        raise ValueError(f"qlike_loss: forecasts must be positive; entry {bad} is {ha.flat[bad]!r}")
    if np.any(ya < 0):
        bad = int(np.flatnonzero(ya < 0)[0])
        raise ValueError(f"qlike_loss: proxies must be non-negative; entry {bad} is {ya.flat[bad]!r}")
    ratio = ya / ha
    with np.errstate(divide="ignore"):
        return np.asarray(ratio - np.log(ratio) - 1.0, dtype=np.float64)


def mse(y: npt.ArrayLike, h: npt.ArrayLike) -> float:
    """Mean squared error over the entries where both are finite."""
    loss = mse_loss(y, h)
    return float(np.mean(loss[np.isfinite(loss)]))


def qlike(y: npt.ArrayLike, h: npt.ArrayLike) -> float:
    """Mean QLIKE loss over the entries where both are finite (see :func:`qlike_loss`)."""
    loss = qlike_loss(y, h)
    return float(np.mean(loss[np.isfinite(loss)]))


@dataclass(frozen=True)
class DMResult(SummaryMixin):
    """Diebold-Mariano test of equal expected loss of forecasts A and B (``d = loss_a - loss_b``).

    Attributes
    ----------
    statistic : float
        The DM statistic (HLN-corrected when ``hln``); negative means A has the smaller loss.
    pvalue : float
        Against ``alternative``: ``"less"`` tests that A's expected loss is smaller than B's.
    mean_diff : float
        Mean loss difference ``mean(loss_a - loss_b)``.
    n, h : int
        Number of loss pairs and forecast horizon (autocovariances of ``d`` up to lag ``h - 1``).
    hln : bool
        Whether the Harvey-Leybourne-Newbold correction and the ``t(n - 1)`` law were used.
    alternative : str
    kernel : str
        ``"uniform"`` (DM 1995's truncated rectangular window) or ``"bartlett"`` when the rectangular
        long-run variance came out non-positive (Newey-West weights, always positive).
    """

    statistic: float
    pvalue: float
    mean_diff: float
    n: int
    h: int
    hln: bool
    alternative: str
    kernel: str

    @functools.cached_property
    def table(self) -> pd.Series:
        """The result as a labelled Series (``statistic``, ``pvalue``, ..., ``kernel``)."""
        return pd.Series({
            "statistic": self.statistic, "pvalue": self.pvalue, "mean_diff": self.mean_diff, "n": self.n,
            "h": self.h, "hln": self.hln, "alternative": self.alternative, "kernel": self.kernel,
        }, name="diebold_mariano")

    def summary(self) -> Summary:
        """The test as a :class:`~pmresearch._summary.Summary` (one table, ``"test"``: :attr:`table`)."""
        law = f"Student-t with {self.n - 1} df (HLN-corrected)" if self.hln else "N(0, 1) (no small-sample correction)"
        return Summary("Diebold-Mariano test of equal predictive accuracy", (("test", self.table.to_frame("value")),),
                       notes=(f"d = loss_a - loss_b; negative statistic: A has the smaller loss; reference law {law}",
                              f"alternative {self.alternative!r}, horizon h = {self.h}, {self.kernel} kernel"))


def diebold_mariano(
    loss_a: npt.ArrayLike,
    loss_b: npt.ArrayLike,
    h: int = 1,
    *,
    hln: bool = True,
    alternative: Alternative = "two-sided",
) -> DMResult:
    """Diebold-Mariano (1995) test with the Harvey-Leybourne-Newbold (1997) correction.

    With ``d_t = loss_a_t - loss_b_t``, ``n`` pairs and autocovariances
    ``g_k = (1/n) sum_{t>k} (d_t - dbar)(d_{t-k} - dbar)``, the statistic is
    ``DM = dbar / sqrt((g_0 + 2 sum_{k=1}^{h-1} g_k) / n)`` (asymptotically N(0, 1)). HLN multiply it
    by ``sqrt((n + 1 - 2h + h(h - 1)/n) / n)`` and compare with Student-t on ``n - 1`` degrees of
    freedom. Rows where either loss is not finite are dropped (pairs stay aligned).

    Parameters
    ----------
    loss_a, loss_b : array_like
        Per-period losses of the two forecasts, in time order.
    h : int
        Forecast horizon in periods: ``h``-step forecasts have MA(``h - 1``) loss differentials.
        Use ``h > 1`` when consecutive targets overlap (e.g. 15-minute targets evaluated every minute).
    hln : bool
        Apply the small-sample correction (default) or report the raw DM statistic with N(0, 1).
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    DMResult
    """
    a, b = _pair(loss_a, loss_b, "diebold_mariano")
    if a.ndim != 1:
        raise ValueError("diebold_mariano: losses must be one-dimensional time series")
    if h < 1:
        raise ValueError(f"diebold_mariano: h must be >= 1, got {h}")
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"diebold_mariano: unknown alternative {alternative!r}")
    d = a - b
    d = d[np.isfinite(d)]
    n = d.size
    if n < max(3, 2 * h):
        raise ValueError(f"diebold_mariano: need at least max(3, 2h) = {max(3, 2 * h)} finite pairs, got {n}")
    dbar = float(d.mean())
    e = d - dbar
    gam = np.array([float(e[k:] @ e[: n - k]) / n for k in range(h)])
    lrv = gam[0] + 2.0 * gam[1:].sum()
    kernel = "uniform"
    if lrv <= 0.0:
        kernel = "bartlett"
        w = 1.0 - np.arange(h) / h
        lrv = gam[0] + 2.0 * float((w[1:] * gam[1:]).sum())
    if lrv <= 0.0:
        raise ValueError("diebold_mariano: loss differential has zero variance (identical forecasts?)")
    stat = dbar / np.sqrt(lrv / n)
    if hln:
        stat *= np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
        cdf, sf = float(stats.t.cdf(stat, df=n - 1)), float(stats.t.sf(stat, df=n - 1))
    else:
        cdf, sf = float(stats.norm.cdf(stat)), float(stats.norm.sf(stat))
    if alternative == "two-sided":
        p = 2.0 * min(cdf, sf)
    elif alternative == "less":
        p = cdf
    else:
        p = sf
    return DMResult(statistic=float(stat), pvalue=min(p, 1.0), mean_diff=dbar, n=n, h=h, hln=hln,
                    alternative=alternative, kernel=kernel)
