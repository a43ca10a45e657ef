"""Purged cross-validation splitters for overlapping labels (López de Prado 2018, ch. 7 and 12).

Each sample ``i`` has a decision time ``t_i`` (the index of ``t1``) and a label end time ``t1_i``
(its window's end): its label depends on data in ``[t_i, t1_i]``. A training sample ``j`` is
*purged* when ``[t_j, t1_j]`` overlaps the interval ``[t_i, t1_i + embargo]`` of any test sample
``i`` (closed intervals): the embargo extends each test block by a time span, never a row count.
Samples of one group (a market window) are never split between train and test; by default the
groups are the distinct label end times (all decision rows of a window share its ``window_end``).

The three splitters are scikit-learn cross-validators built on
:class:`sklearn.model_selection.BaseCrossValidator` (``split(X, y, groups)``, ``get_n_splits``, the
base's ``repr``) and request ``groups`` under scikit-learn's metadata routing, like ``GroupKFold``:
``cross_val_score(est, X, y, cv=cv, groups=g)`` works without routing, and
``cross_val_score(est, X, y, cv=cv, params={"groups": g})`` with ``enable_metadata_routing=True``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from pmresearch.model_selection._base import BoolArray, _check_count, _PurgedSplitter, _Setup, _span_us, purge_mask
from pmresearch.model_selection.combinatorial import CombinatorialPurgedKFold

__all__ = ["CombinatorialPurgedKFold", "PurgedKFold", "PurgedWalkForward", "purge_mask"]


class PurgedKFold(_PurgedSplitter):
    """K-fold over contiguous blocks of groups in time, purged and embargoed by label end times.

    Parameters
    ----------
    n_splits : int
        Number of folds (>= 2).
    t1 : Series
        Label end times indexed by decision time, aligned positionally with ``X``'s rows.
    embargo : Timedelta
        Extra time after each test block during which training samples are also dropped.

    Notes
    -----
    Groups (``groups`` in :meth:`split`, else the distinct ``t1`` values) are ordered by their first
    decision time and cut into ``n_splits`` contiguous blocks of (almost) equal numbers of groups;
    each block is a test fold. Training samples are every other sample not purged by
    :func:`purge_mask`, so a fold in the middle trains on data before and after it (López de Prado
    2018, *Advances in Financial Machine Learning*, sec. 7.4).

    Examples
    --------
    >>> cv = PurgedKFold(5, t1=rows.set_index("t")["window_end"], embargo=pd.Timedelta("15min"))  # doctest: +SKIP
    >>> cross_val_score(model, X, y, cv=cv, groups=rows["slug"])  # doctest: +SKIP
    """

    def __init__(self, n_splits: int = 5, *, t1: pd.Series, embargo: pd.Timedelta = pd.Timedelta(0)) -> None:  # noqa: B008
        self.n_splits = n_splits
        self.t1 = t1
        self.embargo = embargo

    def _check_params(self) -> int:
        return _check_count("n_splits", self.n_splits, 2)

    def _n_splits(self) -> int:
        return int(self.n_splits)

    def _masks(self, s: _Setup) -> Iterator[tuple[BoolArray, BoolArray]]:
        for k in range(s.n_blocks):
            test = s.block == k
            yield ~purge_mask(s.t, s.end, test, s.embargo_us), test


class PurgedWalkForward(_PurgedSplitter):
    """Walk-forward splits by time: train on the past (expanding or rolling), test on the next block.

    Parameters
    ----------
    n_splits : int
        Number of test blocks (>= 1). Groups ordered in time are cut into ``n_splits + 1``
        contiguous blocks; block 0 only trains, blocks 1..n_splits are tested in turn.
    t1 : Series
        Label end times indexed by decision time, aligned positionally with ``X``'s rows.
    train_window : Timedelta, optional
        Rolling window: train only on samples whose decision time is within this span before the
        test block's first decision time. None (default) expands from the start.
    embargo : Timedelta
        Gap before each test block: a training sample is kept only when its label ends more than
        ``embargo`` before the test block's first decision time (``t1_j + embargo < t_test``), which
        also purges every label overlapping the test block. Samples after the test block are never
        used.
    """

    def __init__(self, n_splits: int = 5, *, t1: pd.Series, train_window: pd.Timedelta | None = None,
                 embargo: pd.Timedelta = pd.Timedelta(0)) -> None:  # noqa: B008
        self.n_splits = n_splits
        self.t1 = t1
        self.train_window = train_window
        self.embargo = embargo

    def _window_us(self) -> int | None:
        if self.train_window is None:
            return None
        window = _span_us(self.train_window, "train_window")
        if window <= 0:
            raise ValueError(f"train_window must be positive, got {self.train_window}")
        return window

    def _check_params(self) -> int:
        self._window_us()
        return _check_count("n_splits", self.n_splits, 1) + 1

    def _n_splits(self) -> int:
        return int(self.n_splits)

    def _masks(self, s: _Setup) -> Iterator[tuple[BoolArray, BoolArray]]:
        window = self._window_us()
        for k in range(1, s.n_blocks):
            test = s.block == k
            start = int(s.t[test].min())
            train = (s.block < k) & (s.end + s.embargo_us < start)
            if window is not None:
                train &= s.t >= start - window
            yield train, test
