"""Trading performance and its uncertainty: per-trade statistics and a window-clustered bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from pmresearch._summary import Summary, SummaryMixin

__all__ = ["RatioBound", "cluster_ratio_lower_bound", "max_drawdown", "trade_stats"]


def max_drawdown(pnl: npt.ArrayLike) -> float:
    """Largest peak-to-trough fall of the cumulative PnL (a positive number; 0 when none)."""
    equity = np.concatenate([[0.0], np.cumsum(np.asarray(pnl, dtype=np.float64))])
    return float(np.max(np.maximum.accumulate(equity) - equity))


def trade_stats(trades: pd.DataFrame, *, time_col: str = "t") -> dict[str, float]:
    """Headline statistics of a trade list with ``pnl`` and ``capital`` columns.

    Returns trades, win rate (share with ``pnl > 0``), total and mean PnL, return on capital
    (``sum pnl / sum capital``), per-trade Sharpe (mean / sd), annualized daily Sharpe (sqrt(365):
    a 24/7 market; days without trades count as zero PnL) and maximum drawdown.
    """
    n = len(trades)
    if n == 0:
        return {"trades": 0.0, "win_rate": float("nan"), "total_pnl": 0.0, "mean_pnl": float("nan"),
                "return_on_capital": float("nan"), "sharpe_per_trade": float("nan"),
                "sharpe_daily_annualized": float("nan"), "max_drawdown": 0.0}
    pnl = trades["pnl"].to_numpy(dtype=np.float64)
    sd = pnl.std(ddof=1) if n > 1 else float("nan")
    days = trades[time_col].dt.floor("D")
    daily = pd.Series(pnl, index=days.to_numpy()).groupby(level=0).sum()
    full = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0.0)
    d_sd = full.std(ddof=1) if len(full) > 1 else float("nan")
    return {
        "trades": float(n),
        "win_rate": float(np.mean(pnl > 0)),
        "total_pnl": float(pnl.sum()),
        "mean_pnl": float(pnl.mean()),
        "return_on_capital": float(pnl.sum() / trades["capital"].sum()),
        "sharpe_per_trade": float(pnl.mean() / sd) if sd and sd > 0 else float("nan"),
        "sharpe_daily_annualized": float(full.mean() / d_sd * np.sqrt(365.0)) if d_sd and d_sd > 0 else float("nan"),
        "max_drawdown": max_drawdown(pnl),
    }


@dataclass(frozen=True)
class RatioBound(SummaryMixin):
    """A ratio statistic with its one-sided bootstrap lower confidence bound."""

    estimate: float
    lower: float
    confidence: float
    n_clusters: int
    n_resamples: int

    def summary(self) -> Summary:
        """The estimate and its bound as a :class:`~pmresearch._summary.Summary`."""
        table = pd.DataFrame({"estimate": [self.estimate], "lower": [self.lower], "confidence": [self.confidence],
                              "clusters": [self.n_clusters], "resamples": [self.n_resamples]}, index=["ratio"])
        return Summary("Ratio with a one-sided cluster-bootstrap lower bound", (("bound", table),),
                       notes=(f"percentile bootstrap over {self.n_clusters} clusters, {self.n_resamples} resamples",))


def cluster_ratio_lower_bound(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    clusters: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> RatioBound:
    """One-sided lower confidence bound of ``sum(numerator) / sum(denominator)`` resampling clusters.

    Rows are summed within clusters (market windows: trades of one window share its outcome, so
    they are not independent) and the clusters are resampled with replacement (percentile bootstrap,
    ``scipy.stats.bootstrap`` with ``paired=True`` and ``alternative="greater"``). With
    ``denominator = 1`` per trade this bounds the mean PnL per trade; with the capital at risk it
    bounds the PnL per unit of capital.
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    groups = pd.Series(np.asarray(clusters))
    if num.size == 0:
        return RatioBound(float("nan"), float("nan"), confidence, 0, n_resamples)
    codes, _ = pd.factorize(groups)
    k = int(codes.max()) + 1
    num_c = np.bincount(codes, weights=num, minlength=k)
    den_c = np.bincount(codes, weights=den, minlength=k)
    estimate = float(num_c.sum() / den_c.sum())
    if k < 2:
        return RatioBound(estimate, float("nan"), confidence, k, n_resamples)

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(a.sum(axis=axis) / b.sum(axis=axis))

    res = stats.bootstrap(
        (num_c, den_c), ratio, paired=True, vectorized=True, n_resamples=n_resamples,
        confidence_level=confidence, method="percentile", alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return RatioBound(estimate, float(res.confidence_interval.low), confidence, k, n_resamples)
