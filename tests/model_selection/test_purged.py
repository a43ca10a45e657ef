"""Purged k-fold and walk-forward splitters against López de Prado's reference purge (AFML snippets 7.1-7.2)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

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
