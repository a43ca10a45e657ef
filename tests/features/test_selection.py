"""Feature selection and reduction on planted structure, pipelines with group/purged splitters, stability.

Planted data: y ~ Bernoulli(1/2); five informative features ``inf_i = s_i (2y - 1) + N(0, 1)`` with
shifts s = (1.0, 0.8, 0.7, 0.6, 0.5); twenty N(0, 1) noise features; ``dup_inf_0`` = inf_0 + N(0, 0.05^2);
a constant. References: closed-form mutual information of the two-Gaussian mixture (numerical
integration), ``scipy.stats.chi2_contingency``, ``sklearn.inspection.permutation_importance`` called
directly, the eigenvalues of the correlation matrix (numpy) for the PCA component count, hand-computed
Jaccard/Kuncheva/Nogueira indices (Kuncheva 2007; Nogueira, Sechidis & Brown 2018).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from estimator_contract import assert_passes_estimator_checks
from scipy import integrate, stats
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pmresearch._summary import Summary
from pmresearch.features.selection import (
    BinnedChi2Selector,
    CorrelationFilter,
    FeatureClusterSelector,
    MutualInfoSelector,
    PermutationImportanceSelector,
    jaccard_index,
    kuncheva_index,
    l1_selector,
    nogueira_stability,
    pca_reducer,
    rfecv_selector,
    selection_stability,
    sequential_selector,
    tree_importance_selector,
    variance_selector,
)
from pmresearch.features.validation import MissingDataImputer, Winsorizer
from pmresearch.model_selection import PurgedKFold

SHIFTS = np.array([1.0, 0.8, 0.7, 0.6, 0.5])
INF = [f"inf_{i}" for i in range(5)]


def _planted(seed: int, n: int = 1000, n_noise: int = 20) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    inf = SHIFTS * (2 * y[:, None] - 1) + rng.standard_normal((n, 5))
    noise = rng.standard_normal((n, n_noise))
    cols = {f"inf_{i}": inf[:, i] for i in range(5)}
    cols |= {f"noise_{i}": noise[:, i] for i in range(n_noise)}
    cols["dup_inf_0"] = inf[:, 0] + 0.05 * rng.standard_normal(n)
    cols["const"] = np.full(n, 3.0)
    return pd.DataFrame(cols), pd.Series(y, name="label")


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    return _planted(seed=1)


@pytest.fixture(scope="module")
def clean(planted: tuple[pd.DataFrame, pd.Series]) -> tuple[pd.DataFrame, pd.Series]:
    """Informative + noise only (no duplicate, no constant)."""
    X, y = planted
    return X.drop(columns=["dup_inf_0", "const"]), y


def _logit() -> LogisticRegression:
    return LogisticRegression(solver="newton-cholesky")


# ------------------------------------------------------------------------------------------------
# Filters
# ------------------------------------------------------------------------------------------------


def test_correlation_filter_drops_the_later_duplicate(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = planted
    cf = CorrelationFilter(threshold=0.95).fit(X, y)
    assert cf.dropped_.index.tolist() == ["dup_inf_0"]
    assert cf.dropped_.loc["dup_inf_0", "kept"] == "inf_0"
    r = abs(np.corrcoef(X["inf_0"], X["dup_inf_0"])[0, 1])
    assert cf.dropped_.loc["dup_inf_0", "abs_r"] == pytest.approx(r, rel=1e-12)
    assert list(cf.get_feature_names_out()) == [c for c in X.columns if c != "dup_inf_0"]
    # deterministic by column order: put the duplicate first and it is the one kept
    order = ["dup_inf_0", *[c for c in X.columns if c != "dup_inf_0"]]
    cf2 = CorrelationFilter().fit(X[order], y)
    assert cf2.dropped_.index.tolist() == ["inf_0"]
    # a threshold above the duplicate's |r| keeps everything; Spearman sees the same pair
    assert CorrelationFilter(threshold=min(r + 1e-9, 1.0)).fit(X).dropped_.empty
    assert CorrelationFilter(method="spearman").fit(X).dropped_.index.tolist() == ["dup_inf_0"]
    out = cf.set_output(transform="pandas").transform(X)
    assert isinstance(out, pd.DataFrame) and "dup_inf_0" not in out.columns


def test_variance_selector_drops_constant(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = planted
    vt = variance_selector().fit(X)
    assert [c for c in X.columns if c not in vt.get_feature_names_out()] == ["const"]


def _true_mi(shift: float) -> float:
    """I(X; Y) in nats for X | Y ~ N(+-shift, 1), P(Y=1) = 1/2: h(mixture) - h(N(0, 1))."""
    def f(x: float) -> float:
        return float(0.5 * stats.norm.pdf(x, shift) + 0.5 * stats.norm.pdf(x, -shift))

    h = integrate.quad(lambda x: -f(x) * np.log(f(x)), -12.0, 12.0)[0]
    return float(h - 0.5 * np.log(2 * np.pi * np.e))


def test_mutual_info_recovers_informative_and_matches_closed_form(
    clean: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = clean
    mi = MutualInfoSelector(k=5, random_state=0).fit(X, y)
    assert list(mi.get_feature_names_out()) == INF
    ref = np.array([_true_mi(s) for s in SHIFTS])  # 0.337, 0.245, 0.198, 0.153, 0.111 nats
    np.testing.assert_allclose(mi.scores_[:5], ref, atol=0.05)
    assert mi.scores_[5:].max() < ref.min() / 2  # noise well below the weakest planted feature


def test_binned_chi2_equals_contingency_table_test(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    sel = BinnedChi2Selector(k=5, n_bins=5).fit(X, y)
    assert list(sel.get_feature_names_out()) == INF
    for j, col in enumerate(X.columns[:8]):
        table = pd.crosstab(pd.qcut(X[col], 5, labels=False), y)
        ref = stats.chi2_contingency(table.to_numpy(), correction=False)
        assert sel.scores_[j] == pytest.approx(ref.statistic, rel=1e-10)
        assert sel.dof_[j] == ref.dof == 4
        assert sel.pvalues_[j] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    with_alpha = BinnedChi2Selector(k="all", alpha=0.001).fit(X, y)
    assert set(INF) <= set(with_alpha.get_feature_names_out())
    assert len(with_alpha.get_feature_names_out()) <= 6  # at most one noise feature at 0.1% over 20


# ------------------------------------------------------------------------------------------------
# Embedded and wrapper methods
# ------------------------------------------------------------------------------------------------


def test_l1_and_elastic_net_find_informative(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    l1 = l1_selector(C=0.05).fit(X, y)
    chosen = set(l1.get_feature_names_out())
    assert chosen == set(INF)
    enet = l1_selector(C=0.05, l1_ratio=0.5).fit(X, y)
    chosen_enet = set(enet.get_feature_names_out())
    assert set(INF) <= chosen_enet and len(chosen_enet) <= 10  # the L2 part keeps a few small noise weights
    with pytest.raises(ValueError, match="l1_ratio"):
        l1_selector(l1_ratio=0.0)


def test_tree_importance_finds_informative(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    sel = tree_importance_selector(n_estimators=100, random_state=0).fit(X, y)
    assert set(sel.get_feature_names_out()) == set(INF)


def test_permutation_importance_matches_sklearn_and_finds_informative(
    clean: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = clean
    groups = np.arange(len(y)) // 25
    sel = PermutationImportanceSelector(_logit(), cv=GroupKFold(3), n_repeats=3, random_state=0)
    sel.fit(X, y, groups=groups)
    assert set(sel.get_feature_names_out()) == set(INF)
    assert sel.importances_.shape == (X.shape[1], 9)
    top5 = PermutationImportanceSelector(_logit(), cv=KFold(3), n_repeats=3, k=5, random_state=0).fit(X, y)
    assert list(top5.get_feature_names_out()) == INF
    # cv=None: the same numbers as sklearn's permutation_importance on the fitted model
    direct = PermutationImportanceSelector(_logit(), cv=None, n_repeats=4, random_state=3).fit(X, y)
    ref = permutation_importance(_logit().fit(X.to_numpy(), y), X.to_numpy(), y, scoring="neg_log_loss",
                                 n_repeats=4, random_state=3)
    # rtol for the bulk, an atol floor for importances near 0 (noise features: ~1e-6, where the last bits
    # depend on BLAS summation order and thread count)
    np.testing.assert_allclose(direct.importances_, ref.importances, rtol=1e-10, atol=1e-12)


def test_rfecv_with_group_kfold(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    X10 = X.iloc[:600, :10]
    groups = np.arange(600) // 20
    rfe = rfecv_selector(cv=GroupKFold(3)).fit(X10, y.iloc[:600], groups=groups)
    chosen = set(rfe.get_feature_names_out())
    assert set(INF) <= chosen and len(chosen) <= 7
    assert rfe.ranking_[:5].max() == 1


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_sequential_selection_with_group_splits(clean: tuple[pd.DataFrame, pd.Series], direction: str) -> None:
    X, y = clean
    X8, y8 = X.iloc[:600, :8], y.iloc[:600]
    groups = np.arange(600) // 20
    splits = list(GroupKFold(3).split(X8, y8, groups))
    tol = 0.002 if direction == "forward" else -0.002
    sfs = sequential_selector(tol=tol, direction=direction, cv=splits).fit(X8, y8)  # type: ignore[arg-type]
    assert set(sfs.get_feature_names_out()) == set(INF)


# ------------------------------------------------------------------------------------------------
# Reduction and clustering
# ------------------------------------------------------------------------------------------------


def _factor_data(seed: int, n: int = 800) -> tuple[pd.DataFrame, list[list[str]]]:
    """Three latent factors, four noisy copies each, plus three independent features."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    truth: list[list[str]] = []
    for f in range(3):
        z = rng.standard_normal(n)
        names = [f"f{f}_{i}" for i in range(4)]
        for name in names:
            cols[name] = z + 0.25 * rng.standard_normal(n)
        truth.append(names)
    for i in range(3):
        cols[f"solo_{i}"] = rng.standard_normal(n)
        truth.append([f"solo_{i}"])
    frame = pd.DataFrame(cols)
    order = rng.permutation(frame.columns)  # interleave the clusters
    return frame[order], truth


def test_pca_component_count_matches_eigenvalues_and_sklearn() -> None:
    X, _ = _factor_data(seed=4)
    red = pca_reducer(0.95).set_output(transform="pandas").fit(X)
    n = red.named_steps["pca"].n_components_
    eig = np.sort(np.linalg.eigvalsh(np.corrcoef(X.to_numpy(), rowvar=False)))[::-1]
    ref = int(np.searchsorted(np.cumsum(eig) / eig.sum(), 0.95) + 1)
    assert n == ref
    assert n == PCA(n_components=0.95, svd_solver="full").fit(StandardScaler().fit_transform(X)).n_components_
    assert 4 <= n <= 15  # 3 strong factors + some of the 3 independent columns and noise
    out = red.transform(X)
    assert list(out.columns) == [f"pca{i}" for i in range(n)]


def test_feature_clusters_recover_planted_groups() -> None:
    X, truth = _factor_data(seed=5)
    sel = FeatureClusterSelector(distance_threshold=0.3).fit(X)
    got = {frozenset(g.index) for _, g in sel.clusters_.groupby(sel.clusters_)}
    assert got == {frozenset(t) for t in truth}
    reps = sel.representatives_
    assert len(reps) == 6 and all(sum(r in t for r in reps) == 1 for t in truth)
    assert list(sel.get_feature_names_out()) == [c for c in X.columns if c in reps]
    # the representative has the highest mean |Spearman rho| with its cluster (scipy reference)
    rho = np.abs(stats.spearmanr(X.to_numpy()).statistic)
    cols = list(X.columns)
    for t in truth:
        if len(t) > 1:
            idx = [cols.index(c) for c in t]
            sub = rho[np.ix_(idx, idx)]
            assert t[int(np.argmax(sub.sum(axis=1)))] in reps
    assert FeatureClusterSelector(n_clusters=3).fit(X).clusters_.nunique() == 3
    with pytest.raises(ValueError, match="ward"):
        FeatureClusterSelector(method="ward").fit(X)  # type: ignore[arg-type]


def test_clustering_puts_duplicate_with_its_source(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = planted
    clusters = FeatureClusterSelector().fit(X).clusters_
    assert clusters["inf_0"] == clusters["dup_inf_0"]
    assert clusters.value_counts().max() == 2


# ------------------------------------------------------------------------------------------------
# Pipelines with group and purged splitters
# ------------------------------------------------------------------------------------------------


def _selection_pipeline() -> Pipeline:
    return Pipeline([
        ("impute", MissingDataImputer(default="constant:0")),
        ("winsor", Winsorizer(0.01, 0.99)),
        ("corr", CorrelationFilter(0.95)),
        ("var", variance_selector()),
        ("mi", MutualInfoSelector(k=5, random_state=0)),
        ("clf", _logit()),
    ])


def test_pipeline_keeps_names_and_cross_validates(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = planted
    X = X.copy()
    X.iloc[::37, 3] = np.nan  # a gappy feature, filled by the imputer
    pipe = _selection_pipeline().set_output(transform="pandas")
    pipe.fit(X, y)
    assert list(pipe[:-1].get_feature_names_out()) == INF
    assert list(pipe[:-1].transform(X).columns) == INF
    groups = np.arange(len(y)) // 25
    scores = cross_val_score(pipe, X, y, cv=GroupKFold(5), groups=groups, scoring="roc_auc")
    assert scores.min() > 0.8  # Bayes AUC of the planted model is about 0.86


def _decision_rows(seed: int, n_windows: int = 80, per_window: int = 10) -> tuple[pd.DataFrame, pd.Series, pd.Series,
                                                                                     np.ndarray]:
    """Decision rows every 60 s inside 15-minute windows; one label per window."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-06-15", tz="UTC")
    t = [start + pd.Timedelta(minutes=15 * w + i) for w in range(n_windows) for i in range(per_window)]
    window = np.repeat(np.arange(n_windows), per_window)
    y_win = rng.integers(0, 2, n_windows)
    y = y_win[window]
    n = len(t)
    X = pd.DataFrame(SHIFTS * (2 * y[:, None] - 1) + rng.standard_normal((n, 5)), columns=INF)
    for i in range(8):
        X[f"noise_{i}"] = rng.standard_normal(n)
    X["dup_inf_0"] = X["inf_0"] + 0.05 * rng.standard_normal(n)
    index = pd.DatetimeIndex(t, name="t")
    X.index = index
    t1 = pd.Series(start + pd.to_timedelta(15 * (window + 1), unit="min"), index=index, name="window_end")
    return X, pd.Series(y, index=index, name="label"), t1, window


def test_pipeline_and_rfecv_with_purged_kfold() -> None:
    X, y, t1, window = _decision_rows(seed=9)
    cv = PurgedKFold(4, t1=t1, embargo=pd.Timedelta("15min"))
    pipe = _selection_pipeline().set_output(transform="pandas")
    scores = cross_val_score(pipe, X, y, cv=cv, groups=window, scoring="roc_auc")
    assert len(scores) == 4 and scores.min() > 0.75
    rfe = rfecv_selector(cv=cv).fit(X.drop(columns="dup_inf_0"), y, groups=window)
    assert set(INF) <= set(rfe.get_feature_names_out())
    stab = selection_stability(CorrelationFilter(), X, y, cv=cv, groups=window)
    assert stab.selected.shape == (4, X.shape[1])
    assert not stab.selected["dup_inf_0"].any() and stab.selected["inf_0"].all()


# ------------------------------------------------------------------------------------------------
# Stability
# ------------------------------------------------------------------------------------------------


def test_stability_indices_hand_computed() -> None:
    a, b = {"f1", "f2", "f3"}, {"f1", "f2", "f4"}
    assert jaccard_index(a, b) == pytest.approx(2 / 4)
    # Kuncheva (2007): (r n - k^2) / (k (n - k)) with r=2, k=3, n=6 -> 3/9
    assert kuncheva_index(a, b, 6) == pytest.approx(1 / 3)
    assert np.isnan(kuncheva_index(a, {"f1"}, 6))
    # Nogueira et al. (2018): p = (1, 1, .5, .5, 0, 0), s^2 = 2 p (1-p) -> mean 1/6; kbar/d = 1/2 -> 1 - (1/6)/(1/4)
    Z = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 0, 0]])
    assert nogueira_stability(Z) == pytest.approx(1 / 3)  # equals Kuncheva for two equal-size sets
    assert nogueira_stability(np.ones((3, 4))) != nogueira_stability(np.ones((3, 4)))  # NaN: all full
    assert nogueira_stability(np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0]])) == pytest.approx(1.0)
    # three sets of different sizes, by hand: p = (1, 2/3, 1/3, 0), s^2 = 1.5 p(1-p), kbar = 2, d = 4
    Z3 = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]])
    s2 = 1.5 * np.array([0.0, 2 / 9, 2 / 9, 0.0])
    assert nogueira_stability(Z3) == pytest.approx(1 - s2.mean() / 0.25)


def test_selection_stability_report(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    stable = selection_stability(MutualInfoSelector(k=5, random_state=0), X, y, cv=KFold(5))
    assert stable.frequency[INF].tolist() == [1.0] * 5
    assert stable.jaccard == 1.0 and stable.kuncheva == pytest.approx(1.0) and stable.nogueira == pytest.approx(1.0)
    # k=8 forces three noise picks per fold, which vary: less stable, but the planted five stay
    loose = selection_stability(MutualInfoSelector(k=8, random_state=0), X, y, cv=KFold(5))
    assert loose.frequency[INF].min() == 1.0
    assert loose.jaccard < 1.0 and loose.nogueira < stable.nogueira
    assert loose.n_selected.tolist() == [8] * 5
    summary = loose.summary()
    assert isinstance(summary, Summary) and summary.names == ("indices", "frequency")
    assert summary.frame.loc["jaccard", "value"] == loose.jaccard
    assert summary["indices"].loc["folds", "value"] == 5.0 and summary["indices"].loc["mean_selected", "value"] == 8.0
    pd.testing.assert_series_equal(summary["frequency"]["frequency"], loose.frequency)
    assert str(loose) == summary.as_text() and loose._repr_html_() == summary.as_html()
    fig = loose.figure()
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    assert np.asarray(fig.data[1].z).shape == (5, X.shape[1])
    assert "MutualInfoSelector" in loose._repr_html_()
    with pytest.raises(ValueError, match="not input features"):
        selection_stability(pca_reducer(), X, y, cv=KFold(3))


def test_selectors_clone_and_refit_identically(clean: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = clean
    for sel in (CorrelationFilter(), FeatureClusterSelector(), BinnedChi2Selector(k=3)):
        a = sel.fit(X, y).get_support()
        b = clone(sel).fit(X, y).get_support()
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimator", [
    CorrelationFilter(), CorrelationFilter(method="spearman"), FeatureClusterSelector(),
    FeatureClusterSelector(n_clusters=2), MutualInfoSelector(k=2, random_state=0), BinnedChi2Selector(k=2),
    PermutationImportanceSelector(_logit(), cv=2, n_repeats=1, k=2, scoring=None, random_state=0),
], ids=repr)
def test_sklearn_estimator_checks(estimator: object) -> None:
    assert_passes_estimator_checks(estimator)
