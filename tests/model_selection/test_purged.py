"""Purged k-fold, walk-forward and combinatorial splitters against López de Prado's reference purge (AFML snippets
7.1-7.2, fig. 12.1), and their scikit-learn base (groups routing, repr, clone)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, cross_validate

from pmresearch._summary import Summary
from pmresearch.labels import label_end_times
from pmresearch.model_selection import CombinatorialPurgedKFold, PurgedKFold, PurgedWalkForward, purge_mask


def _rows(seed: int, days: float = 0.5, every_s: int = 60) -> pd.DataFrame:
    """Decision rows of interleaved 5- and 15-minute windows, a few windows dropped at random."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-06-15", tz="UTC")
    frames = []
    for minutes in (5, 15):
        n = int(days * 1440 / minutes)
        ws = start + pd.to_timedelta(np.arange(n) * minutes, unit="min")
        ws = ws[rng.random(n) > 0.1]
        for w in ws:
            t = w + pd.to_timedelta(np.arange(0, minutes * 60, every_s), unit="s")
            frames.append(pd.DataFrame({"t": t, "window_end": w + pd.Timedelta(minutes=minutes),
                                        "slug": f"btc-updown-{minutes}m-{int(w.timestamp())}"}))
    rows = pd.concat(frames).sort_values(["t", "slug"], ignore_index=True)
    rows["t"] = rows["t"].astype("datetime64[us, UTC]")
    rows["window_end"] = rows["window_end"].astype("datetime64[us, UTC]")
    return rows


def _t1(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(rows["window_end"].to_numpy(), index=pd.DatetimeIndex(rows["t"]))


def _np(col: pd.Series) -> np.ndarray:
    """UTC times as naive datetime64 (for NumPy arithmetic in the references)."""
    return col.dt.tz_convert(None).to_numpy()


def _ldp_train(t: np.ndarray, t1: np.ndarray, test: np.ndarray, embargo: np.timedelta64) -> np.ndarray:
    """AFML snippet 7.1 (getTrainTimes) with the embargo of snippet 7.2, positional, one test interval at a time.

    A candidate is dropped when it starts within a test interval, ends within it, or envelops it.
    """
    keep = ~test.copy()
    for i in np.flatnonzero(test):
        lo, hi = t[i], t1[i] + embargo
        starts_in = (lo <= t) & (t <= hi)
        ends_in = (lo <= t1) & (t1 <= hi)
        envelops = (t <= lo) & (hi <= t1)
        keep &= ~(starts_in | ends_in | envelops)
    return np.flatnonzero(keep)


@pytest.mark.parametrize("embargo", [pd.Timedelta(0), pd.Timedelta(minutes=7), pd.Timedelta(hours=1)])
@pytest.mark.parametrize("use_groups", [True, False])
def test_kfold_equals_the_reference_purge(embargo: pd.Timedelta, use_groups: bool) -> None:
    rows = _rows(seed=11)
    cv = PurgedKFold(5, t1=_t1(rows), embargo=embargo)
    t = _np(rows["t"])
    t1 = _np(rows["window_end"])
    groups = rows["slug"] if use_groups else None
    seen = np.zeros(len(rows), dtype=int)
    folds = list(cv.split(rows, groups=groups))
    assert len(folds) == cv.get_n_splits() == 5
    for train, test in folds:
        mask = np.zeros(len(rows), dtype=bool)
        mask[test] = True
        seen[test] += 1
        np.testing.assert_array_equal(train, _ldp_train(t, t1, mask, embargo.to_timedelta64()))
        # no training label interval overlaps a test label interval extended by the embargo
        for j in train[:: max(1, len(train) // 400)]:
            assert not ((t[j] <= t1[test] + embargo.to_timedelta64()) & (t1[j] >= t[test])).any()
        # groups intact: no window on both sides
        assert not set(rows["slug"].iloc[train]) & set(rows["slug"].iloc[test])
    np.testing.assert_array_equal(seen, 1)  # the test folds partition the samples


def test_kfold_test_folds_are_contiguous_blocks_of_windows() -> None:
    rows = _rows(seed=3)
    folds = list(PurgedKFold(4, t1=_t1(rows)).split(rows, groups=rows["slug"]))
    first_t = rows.groupby("slug")["t"].min()
    spans = []
    for _, test in folds:
        g = first_t[rows["slug"].iloc[test].unique()]
        spans.append((g.min(), g.max()))
        # every window whose first decision time falls strictly inside the fold's span is in the fold
        inside = first_t[(first_t > g.min()) & (first_t < g.max())]
        assert set(inside.index) <= set(g.index)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_embargo_removes_samples_after_each_test_block() -> None:
    rows = _rows(seed=5)
    t1 = _t1(rows)
    t = rows["t"]
    embargo = pd.Timedelta(minutes=30)
    for (tr0, te0), (tr1, te1) in zip(PurgedKFold(5, t1=t1).split(rows),
                                      PurgedKFold(5, t1=t1, embargo=embargo).split(rows), strict=True):
        np.testing.assert_array_equal(te0, te1)
        assert set(tr1) <= set(tr0)
        block_end = rows["window_end"].iloc[te1].max()
        after = (t > block_end) & (t <= block_end + embargo)
        assert not after.iloc[tr1].any()  # nothing starts within the embargo after the block
        if block_end + embargo < t.max():
            assert after.iloc[tr0].any()  # ... and without the embargo something would have


def test_purge_mask_matches_brute_force_on_random_intervals() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        t = np.sort(rng.integers(0, 1000, n))
        t1 = t + rng.integers(0, 120, n)
        test = rng.random(n) < 0.3
        emb = int(rng.integers(0, 50))
        brute = test.copy()
        for j in range(n):
            brute[j] |= bool(((t[j] <= t1[test] + emb) & (t1[j] >= t[test])).any())
        np.testing.assert_array_equal(purge_mask(t, t1, test, emb), brute)


def test_cross_val_score_runs_with_groups() -> None:
    rows = _rows(seed=2)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(len(rows), 3))
    y = (X[:, 0] + rng.normal(scale=0.5, size=len(rows)) > 0).astype(int)
    cv: PurgedKFold | PurgedWalkForward | CombinatorialPurgedKFold
    for cv in (PurgedKFold(5, t1=_t1(rows), embargo=pd.Timedelta(minutes=15)),
               PurgedWalkForward(4, t1=_t1(rows), train_window=pd.Timedelta(hours=3)),
               CombinatorialPurgedKFold(5, 2, t1=_t1(rows), embargo=pd.Timedelta(minutes=15))):
        scores = cross_val_score(LogisticRegression(), X, y, cv=cv, groups=rows["slug"])
        assert scores.shape == (cv.get_n_splits(),)
        assert (scores > 0.7).all()  # the signal in column 0 is learnt on every fold


def test_combinatorial_splits_against_the_reference_purge() -> None:
    """C(6, 2) = 15 splits, each sample tested C(5, 1) = 5 times (AFML sec. 12.4); one test block is PurgedKFold."""
    rows = _rows(seed=12)
    t, t1 = _np(rows["t"]), _np(rows["window_end"])
    embargo = pd.Timedelta(minutes=20)
    cv = CombinatorialPurgedKFold(6, 2, t1=_t1(rows), embargo=embargo)
    splits = list(cv.split(rows, groups=rows["slug"]))
    assert len(splits) == cv.get_n_splits() == 15 and cv.n_paths == 5
    tested = np.zeros(len(rows), dtype=int)
    for train, test in splits:
        mask = np.zeros(len(rows), dtype=bool)
        mask[test] = True
        tested[test] += 1
        np.testing.assert_array_equal(train, _ldp_train(t, t1, mask, embargo.to_timedelta64()))
        assert not set(rows["slug"].iloc[train]) & set(rows["slug"].iloc[test])
    np.testing.assert_array_equal(tested, 5)
    one = CombinatorialPurgedKFold(5, 1, t1=_t1(rows), embargo=embargo).split(rows, groups=rows["slug"])
    kfold = PurgedKFold(5, t1=_t1(rows), embargo=embargo).split(rows, groups=rows["slug"])
    for (a_tr, a_te), (b_tr, b_te) in zip(one, kfold, strict=True):
        np.testing.assert_array_equal(a_tr, b_tr)
        np.testing.assert_array_equal(a_te, b_te)
    with pytest.raises(ValueError, match="n_test_blocks"):
        CombinatorialPurgedKFold(4, 4, t1=_t1(rows)).get_n_splits()


def _wf_reference(t: np.ndarray, t1: np.ndarray, test: np.ndarray, embargo: np.timedelta64,
                  window: np.timedelta64 | None, past: np.ndarray) -> np.ndarray:
    """Training set of one walk-forward split by brute force: earlier blocks, label ends before test - embargo."""
    start = t[test].min()
    out = []
    for j in np.flatnonzero(past):
        if t1[j] + embargo >= start:
            continue
        if window is not None and t[j] < start - window:
            continue
        out.append(j)
    return np.asarray(out, dtype=int)


@pytest.mark.parametrize("window", [None, pd.Timedelta(hours=2)])
def test_walk_forward_against_brute_force(window: pd.Timedelta | None) -> None:
    rows = _rows(seed=9)
    embargo = pd.Timedelta(minutes=10)
    cv = PurgedWalkForward(4, t1=_t1(rows), train_window=window, embargo=embargo)
    t = _np(rows["t"])
    t1 = _np(rows["window_end"])
    splits = list(cv.split(rows, groups=rows["slug"]))
    assert len(splits) == 4
    tested = np.zeros(len(rows), dtype=bool)
    sizes = []
    for train, test in splits:
        mask = np.zeros(len(rows), dtype=bool)
        mask[test] = True
        past = ~mask & (_np(rows.groupby("slug")["t"].transform("min")) < t[test].min())
        ref = _wf_reference(t, t1, mask, embargo.to_timedelta64(),
                            None if window is None else window.to_timedelta64(), past)
        np.testing.assert_array_equal(train, ref)
        assert t1[train].max() + embargo.to_timedelta64() < t[test].min()
        assert not set(rows["slug"].iloc[train]) & set(rows["slug"].iloc[test])
        sizes.append(len(train))
        tested |= mask
    if window is None:
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # expanding
    else:
        assert max(sizes) - min(sizes) < 0.2 * max(sizes)  # rolling: about constant


def test_decision_rows_feed_the_splitter() -> None:
    """label_end_times(rows) is the t1 the splitters take; windows stay whole."""
    rows = _rows(seed=8)
    t1 = label_end_times(rows)
    pd.testing.assert_series_equal(t1, _t1(rows), check_names=False)
    for train, test in PurgedKFold(3, t1=t1).split(rows, groups=rows["slug"]):
        assert rows["slug"].iloc[test].map(rows["slug"].value_counts()).eq(
            rows["slug"].iloc[test].map(rows["slug"].iloc[test].value_counts())).all()
        assert len(train) > 0


def test_bad_inputs_are_clear_errors() -> None:
    rows = _rows(seed=1, days=0.2)
    t1 = _t1(rows)
    with pytest.raises(TypeError, match="Timedelta"):
        list(PurgedKFold(3, t1=t1, embargo=5).split(rows))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aligned"):
        list(PurgedKFold(3, t1=t1).split(rows.iloc[:-1]))
    naive = pd.Series(t1.to_numpy(), index=t1.index.tz_localize(None))
    with pytest.raises(ValueError, match="naive"):
        list(PurgedKFold(3, t1=naive).split(rows))
    with pytest.raises(ValueError, match="groups"):
        list(PurgedKFold(10_000, t1=t1).split(rows))
    backwards = pd.Series(t1.index - pd.Timedelta(minutes=1), index=t1.index)
    with pytest.raises(ValueError, match="before decision time"):
        list(PurgedWalkForward(2, t1=backwards).split(rows))
    with pytest.raises(TypeError, match="train_window must be a pandas Timedelta"):
        list(PurgedWalkForward(2, t1=t1, train_window=60).split(rows))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_splits must be an integer >= 2"):
        PurgedKFold(1, t1=t1).get_n_splits()
    with pytest.raises(ValueError, match="n_splits must be an integer >= 1"):
        PurgedWalkForward(True, t1=t1).get_n_splits()
    groups = rows["slug"].to_numpy(dtype=object)
    groups[7] = None
    with pytest.raises(ValueError, match="null entries, the first at position 7"):
        list(PurgedKFold(3, t1=t1).split(rows, groups=groups))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        list(PurgedKFold(3, t1=t1).split(rows, rows["slug"].iloc[:-1]))
    assert len(list(PurgedKFold(3, t1=t1).split(rows, rows["slug"]))) == 3  # the same call, aligned


# ------------------------------------------------------------------------------------------------
# scikit-learn base: groups routing, repr, get_params/clone
# ------------------------------------------------------------------------------------------------


def _signal(rows: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(len(rows), 3))
    return X, (X[:, 0] + rng.normal(scale=0.5, size=len(rows)) > 0).astype(int)


def _same_splits(a: list[tuple[np.ndarray, np.ndarray]], b: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    pairs = zip(a, b, strict=False)
    return len(a) == len(b) and all(np.array_equal(x, u) and np.array_equal(y, v) for (x, y), (u, v) in pairs)


@pytest.mark.parametrize("make_cv", [
    lambda t1: PurgedKFold(4, t1=t1, embargo=pd.Timedelta(minutes=15)),
    lambda t1: PurgedWalkForward(3, t1=t1, embargo=pd.Timedelta(minutes=5)),
    lambda t1: CombinatorialPurgedKFold(4, 2, t1=t1, embargo=pd.Timedelta(minutes=15)),
])
def test_groups_reach_the_splitter_with_and_without_metadata_routing(make_cv: Any) -> None:
    """cross_validate's train/test indices are the splitter's own for these groups, routed or passed directly."""
    rows = _rows(seed=4)
    X, y = _signal(rows, 4)
    cv = make_cv(_t1(rows))
    groups = rows["t"].dt.floor("2h").to_numpy()  # coarser than the default groups (one per window end)
    expected = list(cv.split(X, y, groups=groups))
    assert not _same_splits(expected, list(cv.split(X, y)))  # so groups that are dropped show
    est = LogisticRegression()
    legacy = cross_validate(est, X, y, cv=cv, groups=groups, return_indices=True)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = cross_validate(est, X, y, cv=cv, params={"groups": groups}, return_indices=True)
        routed_scores = cross_val_score(est, X, y, cv=cv, params={"groups": groups})
        with pytest.raises(ValueError, match="params"):  # under routing, scikit-learn refuses the direct argument
            cross_val_score(est, X, y, cv=cv, groups=groups)
    assert sklearn.get_config()["enable_metadata_routing"] is False  # the global config is restored
    for result in (legacy, routed):
        got = list(zip(result["indices"]["train"], result["indices"]["test"], strict=True))
        assert _same_splits(got, expected)
    np.testing.assert_array_equal(routed_scores, cross_val_score(est, X, y, cv=cv, groups=groups))
    np.testing.assert_array_equal(routed_scores, legacy["test_score"])


def test_groups_request_is_scikit_learns_and_the_fallback_is_the_same() -> None:
    """split requests groups by default, as GroupKFold does; the fallback mixin makes the same request."""
    from sklearn.model_selection import BaseCrossValidator, GroupKFold, KFold

    from pmresearch.model_selection._base import _GroupsRequest

    class _Probe(_GroupsRequest, BaseCrossValidator):
        def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
            return 2

        def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
            yield from ()

    group_kfold = GroupKFold().get_metadata_routing()._serialize()
    assert group_kfold == {"split": {"groups": True}}
    assert KFold().get_metadata_routing()._serialize() != group_kfold  # a splitter without the request differs
    t1 = _t1(_rows(seed=1, days=0.1))
    for cv in (PurgedKFold(3, t1=t1), PurgedWalkForward(2, t1=t1), CombinatorialPurgedKFold(4, 2, t1=t1), _Probe()):
        assert cv.get_metadata_routing()._serialize() == group_kfold
    with sklearn.config_context(enable_metadata_routing=True):  # set_split_request: generated by scikit-learn
        cv = PurgedKFold(3, t1=t1).set_split_request(groups=False)
        assert cv.get_metadata_routing()._serialize() == {"split": {"groups": False}}


def test_repr_and_params_come_from_the_constructor() -> None:
    t = pd.DatetimeIndex(["2026-06-15 00:00", "2026-06-15 00:01", "2026-06-15 00:02"], tz="UTC")
    t1 = pd.Series(t + pd.Timedelta(minutes=5), index=t)
    span = "t1=<Series of 3 label end times, decisions 2026-06-15 00:00:00+00:00 to 2026-06-15 00:02:00+00:00>"
    cv = PurgedKFold(3, t1=t1, embargo=pd.Timedelta(minutes=15))
    assert repr(cv) == f"PurgedKFold(embargo=Timedelta('0 days 00:15:00'), n_splits=3,\n      {span})"
    assert repr(CombinatorialPurgedKFold(4, 2, t1=t1)) == (
        "CombinatorialPurgedKFold(embargo=Timedelta('0 days 00:00:00'),\n"
        "             max_combinations=10000, n_blocks=4, n_test_blocks=2,\n"
        f"             {span})")
    assert cv.t1 is t1  # the repr abbreviates a copy's t1, not the splitter's
    assert cv.get_params() == {"embargo": pd.Timedelta(minutes=15), "n_splits": 3, "t1": t1}
    assert set(PurgedWalkForward(2, t1=t1).get_params()) == {"embargo", "n_splits", "t1", "train_window"}
    rows = _rows(seed=6, days=0.2)
    wf = PurgedWalkForward(3, t1=_t1(rows), train_window=pd.Timedelta(hours=1), embargo=pd.Timedelta(minutes=5))
    twin = clone(wf)
    assert twin is not wf and twin.t1 is not wf.t1 and repr(twin) == repr(wf)
    assert _same_splits(list(twin.split(rows)), list(wf.split(rows)))


# ------------------------------------------------------------------------------------------------
# CPCV: backtest paths, summary, the cap on combinations
# ------------------------------------------------------------------------------------------------

# AFML fig. 12.1 (N = 6 groups, k = 2): the 15 splits in lexicographic order (G1G2, G1G3, ..., G5G6) and the 5
# paths; path p takes each group from the p-th split that tests it. Worked by hand: group 0 is tested by splits
# 0-4, group 1 by 0, 5, 6, 7, 8, group 2 by 1, 5, 9, 10, 11, group 3 by 2, 6, 9, 12, 13, group 4 by 3, 7, 10, 12, 14,
# group 5 by 4, 8, 11, 13, 14.
AFML_6_2_PATHS = np.array([
    [0, 0, 1, 2, 3, 4],
    [1, 5, 5, 6, 7, 8],
    [2, 6, 9, 9, 10, 11],
    [3, 7, 10, 12, 12, 13],
    [4, 8, 11, 13, 14, 14],
])


def test_path_ids_hand_worked_six_two() -> None:
    t1 = _t1(_rows(seed=1, days=0.1))
    cv = CombinatorialPurgedKFold(6, 2, t1=t1)
    np.testing.assert_array_equal(cv.get_path_ids(), AFML_6_2_PATHS)


@pytest.mark.parametrize(("n", "k"), [(6, 2), (5, 3), (4, 1), (7, 3), (8, 7)])
def test_path_ids_use_each_fold_once_per_path(n: int, k: int) -> None:
    cv = CombinatorialPurgedKFold(n, k, t1=_t1(_rows(seed=1, days=0.1)))
    ids = cv.get_path_ids()
    combos = list(itertools.combinations(range(n), k))
    assert ids.shape == (cv.n_paths, n) == (math.comb(n - 1, k - 1), n)
    for b in range(n):
        assert sum(b in c for c in combos) == cv.n_paths  # each fold appears in exactly n_paths test sets
        assert sorted(ids[:, b]) == [s for s, c in enumerate(combos) if b in c]  # ... each on one path
    for p in range(cv.n_paths):
        assert all(b in combos[ids[p, b]] for b in range(n))  # the split chosen for fold b tests fold b
    np.testing.assert_array_equal(np.bincount(ids.ravel(), minlength=len(combos)), k)  # every split used k times


def test_reassembled_paths_predict_every_row_once_per_path() -> None:
    rows = _rows(seed=13)
    X, y = _signal(rows, 13)
    cv = CombinatorialPurgedKFold(6, 2, t1=_t1(rows), embargo=pd.Timedelta(minutes=10))
    splits = list(cv.split(X, y, groups=rows["slug"]))
    # the rows of each fold, derived from the splits alone: those tested by every split that tests the fold
    combos = list(itertools.combinations(range(6), 2))
    fold_rows = [np.asarray(sorted(set.intersection(*(set(splits[s][1]) for s, c in enumerate(combos) if b in c))))
                 for b in range(6)]
    fold_ids = cv.get_fold_ids(X, groups=rows["slug"])
    for b in range(6):
        np.testing.assert_array_equal(np.flatnonzero(fold_ids == b), fold_rows[b])
    preds = []
    for train, test in splits:
        p = np.full(len(rows), np.nan)
        p[test] = LogisticRegression().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        preds.append(p)
    for path in cv.get_path_ids():
        covered = np.zeros(len(rows), dtype=int)
        reassembled = np.full(len(rows), np.nan)
        for b, s in enumerate(path):
            assert set(fold_rows[b]) <= set(splits[s][1])
            covered[fold_rows[b]] += 1
            reassembled[fold_rows[b]] = preds[s][fold_rows[b]]
        np.testing.assert_array_equal(covered, 1)
        assert np.isfinite(reassembled).all()
        assert ((reassembled > 0.5) == y).mean() > 0.7  # the signal in column 0, out of sample on the whole path


def test_summary_counts_against_the_reference_purge() -> None:
    rows = _rows(seed=12)
    t, t1 = _np(rows["t"]), _np(rows["window_end"])
    embargo = pd.Timedelta(minutes=20)
    cv = CombinatorialPurgedKFold(6, 2, t1=_t1(rows), embargo=embargo)
    summary = cv.summary(rows, groups=rows["slug"])
    assert isinstance(summary, Summary) and summary.names == ("configuration", "splits", "paths")
    table = summary["splits"]
    assert len(table) == 15
    for (train, test), (_, row) in zip(cv.split(rows, groups=rows["slug"]), table.iterrows(), strict=True):
        mask = np.zeros(len(rows), dtype=bool)
        mask[test] = True
        kept_no_embargo = _ldp_train(t, t1, mask, np.timedelta64(0, "us"))
        kept = _ldp_train(t, t1, mask, embargo.to_timedelta64())
        assert (row["train"], row["test"]) == (len(train), len(test)) == (len(kept), int(mask.sum()))
        assert row["purged"] == (~mask).sum() - len(kept_no_embargo)
        assert row["embargoed"] == len(kept_no_embargo) - len(kept)
    assert table["purged"].sum() > 0 and table["embargoed"].sum() > 0
    config = summary["configuration"]["value"]
    assert (config["samples"], config["groups"], config["splits"], config["paths"]) == (
        len(rows), rows["slug"].nunique(), 15, 5)
    assert (config["folds (n_blocks)"], config["test folds per split (n_test_blocks)"]) == (6, 2)
    np.testing.assert_array_equal(summary["paths"].to_numpy(), AFML_6_2_PATHS)
    assert str(summary).startswith("Combinatorial purged cross-validation")


def test_too_many_combinations_is_refused_with_a_way_out() -> None:
    t1 = _t1(_rows(seed=1, days=0.1))
    cv = CombinatorialPurgedKFold(20, 10, t1=t1)
    # C(20, 10) = 184,756; C(16, 10) = 8,008 <= 10,000 < C(17, 10) = 19,448; C(20, 4) = 4,845 <= 10,000 < C(20, 5)
    message = (r"C\(20, 10\) = 184,756 splits.*above max_combinations=10,000.*n_blocks=16 or fewer "
               r"\(C\(16, 10\) = 8,008\).*n_test_blocks=4.*max_combinations=184756")
    with pytest.raises(ValueError, match=message):
        cv.get_n_splits()
    with pytest.raises(ValueError, match="184,756 splits"):
        next(cv.split(np.zeros(len(t1))))
    with pytest.raises(ValueError, match="184,756 splits"):
        cv.get_path_ids()
    assert CombinatorialPurgedKFold(20, 10, t1=t1, max_combinations=184_756).get_n_splits() == 184_756
    assert CombinatorialPurgedKFold(16, 10, t1=t1).get_n_splits() == 8008  # the way out the message names
    with pytest.raises(ValueError, match="max_combinations must be an integer >= 1"):
        CombinatorialPurgedKFold(6, 2, t1=t1, max_combinations=0).get_n_splits()
