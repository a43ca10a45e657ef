"""Feature selection and reduction as scikit-learn transformers, plus a selection-stability report.

Every selector here works inside a :class:`sklearn.pipeline.Pipeline` evaluated with any
scikit-learn compatible splitter (``KFold``, ``GroupKFold``, ``pmresearch.model_selection.PurgedKFold``):
each one learns only from the data passed to ``fit`` (the training fold) and keeps pandas column
names through ``get_feature_names_out`` / ``set_output(transform="pandas")``.

Written here, because scikit-learn has no equivalent:

* :class:`CorrelationFilter` drops one feature of every pair with ``|r| > threshold`` (the earlier
  column is kept, so the result does not depend on anything but column order);
* :class:`FeatureClusterSelector` clusters features hierarchically (scipy) on ``1 - |Spearman rho|``
  and keeps one representative per cluster;
* :class:`MutualInfoSelector` and :class:`BinnedChi2Selector` rank features by scikit-learn's
  ``mutual_info_classif`` and by Pearson's chi-square test of independence between the quantile-binned
  feature and the class (computed with scikit-learn's ``chi2`` on the one-hot bins);
* :class:`PermutationImportanceSelector` keeps features by ``sklearn.inspection.permutation_importance``
  measured on held-out folds;
* :func:`selection_stability` refits a selector on every training fold and reports how stable the
  chosen set is (:class:`SelectionStability`: Jaccard, Kuncheva and Nogueira indices, per-feature
  frequency, a plotly figure).

Thin factories return scikit-learn's own objects with defaults suited to this project
(standardized inputs, log-loss scoring): :func:`variance_selector` (``VarianceThreshold``),
:func:`rfecv_selector` (``RFECV``), :func:`sequential_selector` (``SequentialFeatureSelector``),
:func:`l1_selector` (``SelectFromModel`` on an L1/elastic-net logistic regression),
:func:`tree_importance_selector` (``SelectFromModel`` on a random forest) and :func:`pca_reducer`
(``StandardScaler`` + ``PCA`` keeping 95% of the variance).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import (
    RFECV,
    SelectFromModel,
    SelectorMixin,
    SequentialFeatureSelector,
    VarianceThreshold,
    chi2,
    mutual_info_classif,
)
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from pmresearch._summary import Summary, SummaryMixin
from pmresearch.features._sklearn import AllowNaNMixin, TargetRequiredMixin, input_names

__all__ = [
    "BinnedChi2Selector",
    "CorrelationFilter",
    "FeatureClusterSelector",
    "MutualInfoSelector",
    "PermutationImportanceSelector",
    "SelectionStability",
    "jaccard_index",
    "kuncheva_index",
    "l1_selector",
    "nogueira_stability",
    "pca_reducer",
    "rfecv_selector",
    "selection_stability",
    "sequential_selector",
    "tree_importance_selector",
    "variance_selector",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def _abs_corr(X: FloatArray, method: str) -> FloatArray:
    """|correlation| matrix with pairwise-complete observations; undefined pairs (constant) -> 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = pd.DataFrame(X).corr(method=method).to_numpy(dtype=np.float64)  # type: ignore[arg-type]
    out: FloatArray = np.abs(np.nan_to_num(r, nan=0.0))
    np.fill_diagonal(out, 1.0)
    return out


def _top_k(order_keys: FloatArray, k: int | str, n: int, name: str) -> BoolArray:
    """Mask of the ``k`` best features by ``order_keys`` (smaller is better), ties by column order."""
    if k == "all":
        return np.ones(n, dtype=bool)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{name}: k must be a non-negative int or 'all', got {k!r}")
    mask = np.zeros(n, dtype=bool)
    mask[np.argsort(order_keys, kind="stable")[: min(int(k), n)]] = True
    return mask


# ----------------------------------------------------------------------------------------------------
# Hand-written selectors
# ----------------------------------------------------------------------------------------------------


class _SupportSelector(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    """A selector whose ``fit`` stores the boolean mask of the kept columns in ``support_``."""

    def _get_support_mask(self) -> BoolArray:
        check_is_fitted(self, "support_")
        mask: BoolArray = self.support_
        return mask


class CorrelationFilter(AllowNaNMixin, _SupportSelector):
    """Drop one feature of every highly correlated pair.

    Columns are visited in order; a column is kept unless its absolute correlation with an
    already-kept column exceeds ``threshold``. Of a correlated pair the earlier column is therefore
    always the one kept (order your columns by preference, e.g. the simpler feature first).

    Parameters
    ----------
    threshold : float, default 0.95
        Drop a column when ``|r| > threshold`` with a kept column.
    method : {"pearson", "spearman"}, default "pearson"
        Correlation measure (pairwise-complete observations; a constant column has no defined
        correlation and is never dropped here: use :func:`variance_selector` for it).

    Attributes
    ----------
    support_ : ndarray of bool
        Kept columns.
    dropped_ : pandas.DataFrame
        One row per dropped feature: the kept feature it duplicates (``kept``) and ``abs_r``.
    """

    def __init__(self, threshold: float = 0.95, method: Literal["pearson", "spearman"] = "pearson"):
        self.threshold = threshold
        self.method = method

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        """Find the columns to keep from the correlations of ``X``."""
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"CorrelationFilter: threshold must be in [0, 1], got {self.threshold}")
        if self.method not in ("pearson", "spearman"):
            raise ValueError(f"CorrelationFilter: method must be 'pearson' or 'spearman', got {self.method!r}")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        r = _abs_corr(X, self.method)
        names = input_names(self, X.shape[1])
        keep: list[int] = []
        dropped: list[tuple[str, str, float]] = []
        for j in range(X.shape[1]):
            if keep:
                rk = r[j, keep]
                best = int(np.argmax(rk))
                if rk[best] > self.threshold:
                    dropped.append((names[j], names[keep[best]], float(rk[best])))
                    continue
            keep.append(j)
        support = np.zeros(X.shape[1], dtype=bool)
        support[keep] = True
        self.support_ = support
        self.dropped_ = pd.DataFrame(dropped, columns=["feature", "kept", "abs_r"]).set_index("feature")
        return self


class FeatureClusterSelector(AllowNaNMixin, _SupportSelector):
    """Hierarchical clustering of features on ``1 - |Spearman rho|``; one representative per cluster.

    Parameters
    ----------
    distance_threshold : float, default 0.3
        Cut the dendrogram at this distance (``criterion="distance"`` of
        :func:`scipy.cluster.hierarchy.fcluster`): with average linkage, features whose mean
        ``|rho|`` exceeds ``1 - distance_threshold`` end up together. Ignored when ``n_clusters`` is set.
    n_clusters : int or None, default None
        Cut into at most this many clusters instead (``criterion="maxclust"``).
    method : {"average", "complete", "single", "weighted"}, default "average"
        Linkage (:func:`scipy.cluster.hierarchy.linkage`); methods that need Euclidean distances
        (ward, centroid, median) are refused.

    Attributes
    ----------
    clusters_ : pandas.Series
        Cluster number (1, 2, ... in order of each cluster's first column) per feature.
    representatives_ : list of str
        The kept feature of every cluster: the member with the largest mean ``|rho|`` to the other
        members (earliest column on ties).
    linkage_ : ndarray
        The scipy linkage matrix (for a dendrogram).
    """

    def __init__(
        self,
        distance_threshold: float = 0.3,
        n_clusters: int | None = None,
        method: Literal["average", "complete", "single", "weighted"] = "average",
    ):
        self.distance_threshold = distance_threshold
        self.n_clusters = n_clusters
        self.method = method

    def fit(self, X: Any, y: Any = None) -> FeatureClusterSelector:
        """Cluster the columns of ``X`` and pick the representatives."""
        if self.method not in ("average", "complete", "single", "weighted"):
            raise ValueError(f"FeatureClusterSelector: method {self.method!r} not supported (needs a linkage "
                             "valid for non-Euclidean distances: average, complete, single, weighted)")
        if self.n_clusters is None and not 0.0 <= self.distance_threshold <= 1.0:
            raise ValueError(f"FeatureClusterSelector: distance_threshold must be in [0, 1], got "
                             f"{self.distance_threshold}")
        if self.n_clusters is not None and self.n_clusters < 1:
            raise ValueError(f"FeatureClusterSelector: n_clusters must be >= 1, got {self.n_clusters}")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        p = X.shape[1]
        names = input_names(self, p)
        r = _abs_corr(X, "spearman")
        if p == 1:
            raw = np.array([1])
            self.linkage_ = np.empty((0, 4))
        else:
            dist = np.clip(1.0 - r, 0.0, 1.0)
            dist = (dist + dist.T) / 2.0
            np.fill_diagonal(dist, 0.0)
            self.linkage_ = linkage(squareform(dist, checks=False), method=self.method)
            if self.n_clusters is not None:
                raw = fcluster(self.linkage_, t=self.n_clusters, criterion="maxclust")
            else:
                raw = fcluster(self.linkage_, t=self.distance_threshold, criterion="distance")
        # renumber clusters by their first column so labels do not depend on the tree layout
        relabel: dict[int, int] = {}
        for lab in raw:
            relabel.setdefault(int(lab), len(relabel) + 1)
        labels = np.array([relabel[int(lab)] for lab in raw])
        support = np.zeros(p, dtype=bool)
        reps: list[str] = []
        for c in range(1, len(relabel) + 1):
            members = np.flatnonzero(labels == c)
            if members.size == 1:
                best = int(members[0])
            else:
                sub = r[np.ix_(members, members)]
                mean_r = (sub.sum(axis=1) - 1.0) / (members.size - 1)
                best = int(members[int(np.argmax(mean_r))])
            support[best] = True
            reps.append(names[best])
        self.clusters_ = pd.Series(labels, index=pd.Index(names, name="feature"), name="cluster")
        self.representatives_ = reps
        self.support_ = support
        return self


class MutualInfoSelector(TargetRequiredMixin, _SupportSelector):
    """Keep the ``k`` features with the highest mutual information with the class label.

    Scores come from :func:`sklearn.feature_selection.mutual_info_classif` (Kraskov k-NN estimator
    for continuous features). Ties keep the earlier column.

    Parameters
    ----------
    k : int or "all", default 10
        Number of features kept (all of them when ``k`` exceeds the number of features).
    n_neighbors : int, default 3
        Neighbours of the k-NN estimator.
    discrete_features : "auto", bool or array-like, default "auto"
        Passed to ``mutual_info_classif``.
    random_state : int, RandomState or None
        Seed of the small noise ``mutual_info_classif`` adds to continuous features.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Mutual information estimates (nats).
    """

    def __init__(self, k: int | str = 10, n_neighbors: int = 3, discrete_features: Any = "auto",
                 random_state: Any = None):
        self.k = k
        self.n_neighbors = n_neighbors
        self.discrete_features = discrete_features
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> MutualInfoSelector:
        """Score every feature of ``X`` against the labels ``y``."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if X.shape[0] <= self.n_neighbors:
            raise ValueError(f"MutualInfoSelector needs more rows than n_neighbors={self.n_neighbors}, got "
                             f"n_samples={X.shape[0]}")
        self.scores_ = mutual_info_classif(X, y, discrete_features=self.discrete_features,
                                           n_neighbors=self.n_neighbors, random_state=self.random_state)
        self.support_ = _top_k(-self.scores_, self.k, X.shape[1], "MutualInfoSelector")
        return self


class BinnedChi2Selector(TargetRequiredMixin, _SupportSelector):
    """Chi-square test of independence between each quantile-binned feature and the class.

    Each feature is cut at the quantiles of the fit data into at most ``n_bins`` bins (tied quantiles
    merge bins). The statistic is Pearson's chi-square of the bins x classes contingency table,
    computed as the sum over the one-hot bin columns of :func:`sklearn.feature_selection.chi2`
    (which equals the contingency-table statistic), with ``(bins - 1)(classes - 1)`` degrees of
    freedom. Features are ranked by p-value (log scale, so tiny p-values still rank), ties by
    statistic, then column order.

    Parameters
    ----------
    k : int or "all", default 10
        Number of features kept.
    n_bins : int, default 5
        Maximum number of quantile bins per feature.
    alpha : float or None, default None
        If set, additionally drop features whose p-value is not below ``alpha``.

    Attributes
    ----------
    scores_, pvalues_ : ndarray of shape (n_features,)
        Chi-square statistics and p-values.
    dof_ : ndarray of int
        Degrees of freedom per feature (0 for a constant feature: statistic 0, p-value 1).
    """

    def __init__(self, k: int | str = 10, n_bins: int = 5, alpha: float | None = None):
        self.k = k
        self.n_bins = n_bins
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> BinnedChi2Selector:
        """Bin every feature of ``X`` and test it against the labels ``y``."""
        if self.n_bins < 2:
            raise ValueError(f"BinnedChi2Selector: n_bins must be >= 2, got {self.n_bins}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        n_classes = np.unique(y).size
        p = X.shape[1]
        scores = np.zeros(p)
        dof = np.zeros(p, dtype=np.int64)
        logp = np.zeros(p)
        qs = np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]
        for j in range(p):
            col = X[:, j]
            edges = np.unique(np.quantile(col, qs))
            bins = np.searchsorted(edges, col, side="right")
            _, codes = np.unique(bins, return_inverse=True)
            n_b = int(codes.max()) + 1
            if n_b < 2 or n_classes < 2:
                continue
            onehot = np.zeros((col.size, n_b))
            onehot[np.arange(col.size), codes] = 1.0
            stat_per_bin, _ = chi2(onehot, y)
            scores[j] = float(np.sum(stat_per_bin))
            dof[j] = (n_b - 1) * (n_classes - 1)
            logp[j] = float(stats.chi2.logsf(scores[j], dof[j]))
        self.scores_ = scores
        self.dof_ = dof
        self.pvalues_ = np.exp(logp)
        order = np.lexsort((np.arange(p), -scores, logp))
        rank = np.empty(p)
        rank[order] = np.arange(p)
        support = _top_k(rank, self.k, p, "BinnedChi2Selector")
        if self.alpha is not None:
            support &= self.pvalues_ < self.alpha
        self.support_ = support
        return self


class PermutationImportanceSelector(TargetRequiredMixin, _SupportSelector):
    """Keep features whose permutation importance (on held-out data) is large enough.

    With ``cv`` set, a clone of ``estimator`` is fitted on each training fold and
    :func:`sklearn.inspection.permutation_importance` is measured on the matching test fold; the
    importances of all folds and repeats are pooled. With ``cv=None`` the importance is measured
    on the fit data itself (optimistic: the model has seen those rows).

    Parameters
    ----------
    estimator : estimator
        Any scikit-learn estimator (a Pipeline is fine).
    cv : int, splitter, iterable or None, default 5
        Any scikit-learn ``cv`` argument (``KFold``, ``GroupKFold``, ``PurgedKFold``, ...).
    scoring : str, callable or None, default "neg_log_loss"
        Score whose drop under permutation is the importance.
    n_repeats : int, default 5
        Permutations per feature and fold.
    k : int or None, default None
        Keep the ``k`` most important features; if None, keep those with
        ``importances_mean_ - n_std * importances_std_ > threshold`` (importance clearly above
        ``threshold`` across folds and repeats).
    threshold : float, default 0.0
        Minimum importance when ``k`` is None.
    n_std : float, default 2.0
        Standard deviations of the pooled importances subtracted before comparing with ``threshold``
        (0 compares the mean alone, which keeps about half of the pure-noise features).
    random_state : int, RandomState or None
        Seed of the permutations.

    Attributes
    ----------
    importances_ : ndarray of shape (n_features, n_folds * n_repeats)
    importances_mean_, importances_std_ : ndarray of shape (n_features,)
    """

    def __init__(self, estimator: Any, *, cv: Any = 5, scoring: Any = "neg_log_loss", n_repeats: int = 5,
                 k: int | None = None, threshold: float = 0.0, n_std: float = 2.0, random_state: Any = None):
        self.estimator = estimator
        self.cv = cv
        self.scoring = scoring
        self.n_repeats = n_repeats
        self.k = k
        self.threshold = threshold
        self.n_std = n_std
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> PermutationImportanceSelector:
        """Measure the permutation importance of every feature (``groups`` go to the splitter)."""
        X_raw = X
        X, y = validate_data(self, X, y, dtype=np.float64)
        if self.cv is None:
            splits = [(np.arange(len(y)), np.arange(len(y)))]
        else:
            cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
            splits = list(cv.split(X_raw, y, groups))
        chunks = []
        for train, test in splits:
            est = clone(self.estimator).fit(X[train], y[train])
            res = permutation_importance(est, X[test], y[test], scoring=self.scoring, n_repeats=self.n_repeats,
                                         random_state=self.random_state)
            chunks.append(np.asarray(res.importances, dtype=np.float64))
        self.importances_ = np.hstack(chunks)
        self.importances_mean_ = self.importances_.mean(axis=1)
        self.importances_std_ = self.importances_.std(axis=1)
        if self.k is not None:
            self.support_ = _top_k(-self.importances_mean_, self.k, X.shape[1], "PermutationImportanceSelector")
        else:
            self.support_ = self.importances_mean_ - self.n_std * self.importances_std_ > self.threshold
        return self


# ----------------------------------------------------------------------------------------------------
# Factories around scikit-learn's own selectors
# ----------------------------------------------------------------------------------------------------


def _scaled_logit(C: float = 1.0, l1_ratio: float = 0.0, solver: str = "newton-cholesky",
                  max_iter: int = 1000) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("model", LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, max_iter=max_iter))])


def variance_selector(threshold: float = 0.0) -> VarianceThreshold:
    """``sklearn.feature_selection.VarianceThreshold``: drop features whose training variance is <= ``threshold``.

    The variance is in the feature's own units: standardize beforehand only if a common threshold
    makes sense (the default 0 drops constant features).
    """
    return VarianceThreshold(threshold=threshold)


def rfecv_selector(estimator: Any = None, *, cv: Any = 5, scoring: Any = "neg_log_loss", step: int | float = 1,
                   min_features_to_select: int = 1, importance_getter: str = "auto") -> RFECV:
    """``sklearn.feature_selection.RFECV`` (recursive elimination, number of features chosen by CV).

    The default ``estimator`` is a standardized logistic regression, ranked by ``|coef|``
    (``importance_getter="named_steps.model.coef_"``). Pass ``groups`` to ``fit`` for group splitters.
    """
    if estimator is None:
        estimator = _scaled_logit()
        importance_getter = "named_steps.model.coef_"
    return RFECV(estimator, step=step, min_features_to_select=min_features_to_select, cv=cv, scoring=scoring,
                 importance_getter=importance_getter)


def sequential_selector(estimator: Any = None, *, n_features_to_select: int | float | str = "auto",
                        tol: float | None = None, direction: Literal["forward", "backward"] = "forward",
                        cv: Any = 5, scoring: Any = "neg_log_loss") -> SequentialFeatureSelector:
    """``sklearn.feature_selection.SequentialFeatureSelector`` (forward or backward stepwise selection).

    With ``n_features_to_select="auto"`` and ``tol`` set, adding (removing) features stops when the
    CV score improves by less than ``tol``. ``SequentialFeatureSelector.fit`` does not forward
    ``groups``: for a group or purged splitter pass ``cv=list(splitter.split(X, y, groups))``.
    """
    if estimator is None:
        estimator = _scaled_logit()
    return SequentialFeatureSelector(estimator, n_features_to_select=n_features_to_select, tol=tol,
                                     direction=direction, cv=cv, scoring=scoring)


def l1_selector(C: float = 0.1, l1_ratio: float = 1.0, *, threshold: float = 1e-5,
                max_iter: int = 10_000) -> SelectFromModel:
    """``SelectFromModel`` on a standardized L1 (``l1_ratio=1``) or elastic-net logistic regression.

    Features whose standardized coefficient is ``<= threshold`` in absolute value are dropped.
    Smaller ``C`` means a stronger penalty (fewer features). Solver: saga.
    """
    if not 0.0 < l1_ratio <= 1.0:
        raise ValueError(f"l1_selector: l1_ratio must be in (0, 1], got {l1_ratio}")
    return SelectFromModel(_scaled_logit(C=C, l1_ratio=l1_ratio, solver="saga", max_iter=max_iter),
                           threshold=threshold, importance_getter="named_steps.model.coef_")


def tree_importance_selector(n_estimators: int = 200, *, threshold: str | float = "mean",
                             min_samples_leaf: int = 5, max_features: int | None = None,
                             random_state: int | None = None) -> SelectFromModel:
    """``SelectFromModel`` on a ``RandomForestClassifier`` (impurity importance).

    Keeps the features with importance ``>= threshold`` (default: the mean importance), at most
    ``max_features`` of them. Impurity importance favours high-cardinality features; compare with
    :class:`PermutationImportanceSelector` on held-out folds.
    """
    forest = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                                    random_state=random_state, n_jobs=1)
    return SelectFromModel(forest, threshold=threshold, max_features=max_features)


def pca_reducer(variance: float = 0.95, *, standardize: bool = True) -> Pipeline:
    """``StandardScaler`` + ``PCA(n_components=variance, svd_solver="full")``.

    Keeps the fewest components whose explained variance ratio sums to at least ``variance``
    (standardizing first so features in large units do not dominate). Output columns are
    ``pca0, pca1, ...``.
    """
    if not 0.0 < variance < 1.0:
        raise ValueError(f"pca_reducer: variance must be in (0, 1), got {variance}")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())] if standardize else []
    steps.append(("pca", PCA(n_components=variance, svd_solver="full")))
    return Pipeline(steps)


# ----------------------------------------------------------------------------------------------------
# Stability
# ----------------------------------------------------------------------------------------------------


def jaccard_index(a: set[str], b: set[str]) -> float:
    """``|a & b| / |a | b|`` (1 for two empty sets)."""
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def kuncheva_index(a: set[str], b: set[str], n_features: int) -> float:
    """Kuncheva's consistency index of two subsets of equal size ``k`` out of ``n_features``.

    ``(r n - k^2) / (k (n - k))`` with ``r = |a & b|`` (Kuncheva 2007): 1 for identical sets, about
    0 for sets drawn at random, negative below chance. NaN when the sizes differ or ``k`` is 0 or
    ``n_features``.
    """
    k = len(a)
    if len(b) != k or k == 0 or k >= n_features:
        return math.nan
    r = len(a & b)
    return (r * n_features - k * k) / (k * (n_features - k))


def nogueira_stability(selected: npt.ArrayLike) -> float:
    """Nogueira, Sechidis & Brown (2018) stability of M selected sets (rows) over d features (columns).

    ``1 - mean_f s_f^2 / (kbar/d (1 - kbar/d))`` with ``s_f^2 = M/(M-1) p_f (1 - p_f)`` the unbiased
    variance of feature f's selection indicator and ``kbar`` the mean set size. Defined for sets of
    different sizes; 1 when all sets agree; NaN when every set is empty or full, or M < 2.
    """
    Z = np.asarray(selected, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(f"nogueira_stability expects a 2-D (sets x features) array, got shape {Z.shape}")
    M, d = Z.shape
    if M < 2 or d == 0:
        return math.nan
    kbar = Z.sum(axis=1).mean()
    if kbar == 0 or kbar == d:
        return math.nan
    p = Z.mean(axis=0)
    s2 = M / (M - 1) * p * (1 - p)
    return float(1.0 - s2.mean() / ((kbar / d) * (1.0 - kbar / d)))


@dataclass(frozen=True)
class SelectionStability(SummaryMixin):
    """Which features a selector chose on each training fold, and how stable that choice is.

    Attributes
    ----------
    selected : pandas.DataFrame
        Boolean, one row per fold (``fold_0``, ...), one column per input feature.
    selector_name : str
        ``type(selector).__name__``, for titles.
    """

    selected: pd.DataFrame
    selector_name: str

    @cached_property
    def frequency(self) -> pd.Series:
        """Fraction of folds that selected each feature, highest first (ties in column order)."""
        freq = self.selected.mean(axis=0).astype(np.float64)
        return freq.sort_values(ascending=False, kind="stable").rename("frequency")

    @cached_property
    def n_selected(self) -> pd.Series:
        """Size of the selected set per fold."""
        return self.selected.sum(axis=1).rename("n_selected")

    def _sets(self) -> list[set[str]]:
        return [{str(c) for c in self.selected.columns[row]} for row in self.selected.to_numpy(dtype=bool)]

    @cached_property
    def jaccard(self) -> float:
        """Mean pairwise Jaccard index over folds."""
        pairs = list(itertools.combinations(self._sets(), 2))
        return math.nan if not pairs else float(np.mean([jaccard_index(a, b) for a, b in pairs]))

    @cached_property
    def kuncheva(self) -> float:
        """Mean pairwise Kuncheva index (NaN unless every fold selected the same number of features)."""
        pairs = list(itertools.combinations(self._sets(), 2))
        n = self.selected.shape[1]
        return math.nan if not pairs else float(np.mean([kuncheva_index(a, b, n) for a, b in pairs]))

    @cached_property
    def nogueira(self) -> float:
        """Nogueira et al. (2018) stability estimator (handles sets of different sizes)."""
        return nogueira_stability(self.selected.to_numpy(dtype=np.float64))

    def summary(self) -> Summary:
        """Tables ``indices`` (fold and feature counts, mean set size and the three stability indices,
        one ``value`` column; also ``summary().frame``) and ``frequency`` (per feature, highest first)."""
        indices = pd.DataFrame({"value": {
            "folds": float(len(self.selected)), "features": float(self.selected.shape[1]),
            "mean_selected": float(self.n_selected.mean()), "jaccard": self.jaccard,
            "kuncheva": self.kuncheva, "nogueira": self.nogueira,
        }})
        notes = ("jaccard, kuncheva: mean over fold pairs; kuncheva is NaN unless every fold selected as many "
                 "features; nogueira: Nogueira, Sechidis & Brown (2018); 1 = the same set on every fold",)
        return Summary(f"Selection stability of {self.selector_name}",
                       (("indices", indices), ("frequency", self.frequency.to_frame())), notes)

    def figure(self) -> go.Figure:
        """Plotly figure: per-feature selection frequency (bars) and the fold x feature selection map."""
        order = list(self.frequency.index)
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.45, 0.55], vertical_spacing=0.05)
        fig.add_trace(go.Bar(x=order, y=self.frequency.to_numpy(), name="frequency"), row=1, col=1)
        fig.add_trace(go.Heatmap(x=order, y=list(self.selected.index),
                                 z=self.selected[order].to_numpy(dtype=np.float64), zmin=0, zmax=1,
                                 colorscale=[[0, "#f0f0f0"], [1, "#1f77b4"]], showscale=False, name="selected"),
                      row=2, col=1)
        fig.update_yaxes(title_text="fraction of folds", range=[0, 1], row=1, col=1)
        fig.update_yaxes(title_text="fold", autorange="reversed", row=2, col=1)
        fig.update_layout(
            title=(f"Selection stability of {self.selector_name}: Jaccard {self.jaccard:.2f}, "
                   f"Kuncheva {self.kuncheva:.2f}, Nogueira {self.nogueira:.2f}"),
            showlegend=False, template="plotly_white",
        )
        return fig


def _support_of(fitted: Any, names: list[str]) -> BoolArray:
    if hasattr(fitted, "get_support"):
        mask: BoolArray = np.asarray(fitted.get_support(), dtype=bool)
        return mask
    out = [str(c) for c in fitted.get_feature_names_out()]
    unknown = sorted(set(out) - set(names))
    if unknown:
        raise ValueError(f"selection_stability: the selector's output features {unknown[:5]} are not input "
                         "features (a reducer such as PCA has no selected set)")
    chosen = set(out)
    return np.array([n in chosen for n in names], dtype=bool)


def selection_stability(selector: Any, X: pd.DataFrame, y: Any, *, cv: Any = 5, groups: Any = None,
                        **fit_params: Any) -> SelectionStability:
    """Refit a clone of ``selector`` on every training fold of ``cv`` and collect the selected sets.

    Parameters
    ----------
    selector : estimator
        A selector with ``get_support`` (every selector of this module, sklearn's selectors) or a
        Pipeline of selectors whose ``get_feature_names_out`` is a subset of the input columns.
    X : pandas.DataFrame
        Features (column names become the feature names).
    y : array-like
        Labels.
    cv : int, splitter or iterable, default 5
        Any scikit-learn ``cv`` argument; the splitter sees ``X`` as given (DataFrame with its index).
    groups : array-like, optional
        Passed to ``cv.split``.
    **fit_params
        Passed to ``selector.fit``.

    Returns
    -------
    SelectionStability
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"selection_stability expects X as a pandas DataFrame, got {type(X).__name__}")
    names = [str(c) for c in X.columns]
    y_arr = np.asarray(y)
    splitter = check_cv(cv, y_arr, classifier=True)
    rows = []
    for train, _ in splitter.split(X, y_arr, groups):
        fitted = clone(selector).fit(X.iloc[train], y_arr[train], **fit_params)
        rows.append(_support_of(fitted, names))
    if len(rows) < 2:
        raise ValueError(f"selection_stability needs at least 2 folds, the splitter gave {len(rows)}")
    selected = pd.DataFrame(np.vstack(rows), columns=pd.Index(names, name="feature"),
                            index=pd.Index([f"fold_{i}" for i in range(len(rows))], name="fold"))
    return SelectionStability(selected=selected, selector_name=type(selector).__name__)
