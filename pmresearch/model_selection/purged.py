"""Purged cross-validation splitters for overlapping labels (López de Prado 2018, ch. 7).

Each sample ``i`` has a decision time ``t_i`` (the index of ``t1``) and a label end time ``t1_i``
(its window's end): its label depends on data in ``[t_i, t1_i]``. A training sample ``j`` is
*purged* when ``[t_j, t1_j]`` overlaps the interval ``[t_i, t1_i + embargo]`` of any test sample
``i`` (closed intervals): the embargo extends each test block by a time span, never a row count.
Samples of one group (a market window) are never split between train and test; by default the
groups are the distinct label end times (all decision rows of a window share its ``window_end``).

Both splitters are scikit-learn cross-validators (``split(X, y, groups)``, ``get_n_splits``) and
work with :func:`sklearn.model_selection.cross_val_score`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pmresearch._time import ensure_utc

__all__ = ["CombinatorialPurgedKFold", "PurgedKFold", "PurgedWalkForward", "purge_mask"]

IntArray = npt.NDArray[np.intp]


def _times(t1: pd.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(t, t1)`` as int64 microseconds since the epoch, validated (tz-aware UTC, ``t1 >= t``)."""
    if not isinstance(t1, pd.Series):
        raise TypeError(f"t1 must be a pandas Series of label end times indexed by decision time, got {type(t1)}")
    if not isinstance(t1.index, pd.DatetimeIndex):
        raise ValueError("t1: the index must be the decision times (a tz-aware DatetimeIndex)")
    start = ensure_utc(pd.Series(t1.index, index=range(len(t1))), what="t1.index (decision times)")
    end = ensure_utc(pd.Series(t1.to_numpy(), index=range(len(t1))), what="t1 (label end times)")
    if start.isna().any() or end.isna().any():
        raise ValueError("t1: decision and label end times must not be null")
    epoch = pd.Timestamp(0, tz="UTC")
    t = np.asarray(((start - epoch) // pd.Timedelta(microseconds=1)).to_numpy(), dtype=np.int64)
    e = np.asarray(((end - epoch) // pd.Timedelta(microseconds=1)).to_numpy(), dtype=np.int64)
    bad = np.flatnonzero(e < t)
    if bad.size:
        raise ValueError(f"t1: label end time before decision time at position {int(bad[0])}")
    return t, e


def _embargo_us(embargo: pd.Timedelta) -> int:
    if not isinstance(embargo, pd.Timedelta):
        raise TypeError(f"embargo must be a pandas Timedelta (a time span, never a row count), got {embargo!r}")
    if embargo < pd.Timedelta(0):
        raise ValueError(f"embargo must be >= 0, got {embargo}")
    return int(embargo // pd.Timedelta(microseconds=1))


def purge_mask(t: npt.ArrayLike, t1: npt.ArrayLike, test: npt.ArrayLike, embargo_us: int = 0) -> npt.NDArray[np.bool_]:
    """Samples whose ``[t, t1]`` overlaps ``[t_i, t1_i + embargo]`` of any test sample ``i``.

    Parameters
    ----------
    t, t1 : array_like of int
        Decision and label end times (any integer time unit, e.g. microseconds).
    test : array_like of bool or int
        Test samples (a mask or positions).
    embargo_us : int
        Embargo in the same unit as ``t``.

    Returns
    -------
    ndarray of bool
        True where a sample must not be used for training (test samples included).

    Notes
    -----
    The test intervals are merged into disjoint blocks (each extended by the embargo); a sample
    overlaps some block exactly when the last block starting at or before its ``t1`` ends at or
    after its ``t``. O(n log n).
    """
    t_arr = np.asarray(t, dtype=np.int64)
    e_arr = np.asarray(t1, dtype=np.int64)
    sel = np.asarray(test)
    pos = np.flatnonzero(sel) if sel.dtype == bool else sel.astype(np.intp)
    out = np.zeros(t_arr.shape[0], dtype=bool)
    if pos.size == 0:
        return out
    order = np.argsort(t_arr[pos], kind="stable")
    starts = t_arr[pos][order]
    ends = e_arr[pos][order] + int(embargo_us)
    # merge overlapping intervals: a new block starts where t exceeds every earlier end
    run_end = np.maximum.accumulate(ends)
    new_block = np.ones(starts.size, dtype=bool)
    new_block[1:] = starts[1:] > run_end[:-1]
    block_id = np.cumsum(new_block) - 1
    block_start = starts[new_block]
    block_end = np.zeros(block_start.size, dtype=np.int64)
    np.maximum.at(block_end, block_id, ends)
    k = np.searchsorted(block_start, e_arr, side="right") - 1
    ok = k >= 0
    out[ok] = block_end[k[ok]] >= t_arr[ok]
    out[pos] = True
    return out


def _groups(groups: npt.ArrayLike | None, end: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.intp]:
    """Integer group codes: the given groups, else one group per distinct label end time."""
    if groups is None:
        codes = pd.factorize(pd.Series(end))[0]
    else:
        g = np.asarray(groups)
        if g.shape[0] != n:
            raise ValueError(f"groups has {g.shape[0]} entries for {n} samples")
        codes = pd.factorize(pd.Series(g))[0]
    return np.asarray(codes, dtype=np.intp)


def _n_samples(X: Any, n_t1: int) -> int:
    n = len(X) if hasattr(X, "__len__") else np.asarray(X).shape[0]
    if n != n_t1:
        raise ValueError(f"X has {n} rows but t1 has {n_t1} entries (t1 must be aligned with X's rows)")
    return int(n)


def _blocks(t: npt.NDArray[np.int64], codes: npt.NDArray[np.intp], n_blocks: int) -> npt.NDArray[np.intp]:
    """Block of every sample: groups ordered by first decision time, cut into ``n_blocks`` contiguous runs."""
    order = _ordered_groups(t, codes)
    if order.size < n_blocks:
        raise ValueError(f"{order.size} groups cannot make {n_blocks} blocks")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    block_of_group = np.zeros(order.size, dtype=np.intp)
    for k, run in enumerate(np.array_split(np.arange(order.size), n_blocks)):
        block_of_group[run] = k
    out: npt.NDArray[np.intp] = block_of_group[rank[codes]]
    return out


def _ordered_groups(t: npt.NDArray[np.int64], codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Group codes ordered by their first decision time (ties by code)."""
    first = pd.Series(t).groupby(codes).min()
    return np.asarray(first.sort_values(kind="stable").index, dtype=np.intp)


def _check_count(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _split_setup(
    X: Any, groups: npt.ArrayLike | None, t1: pd.Series, embargo: pd.Timedelta, n_blocks: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, npt.NDArray[np.intp]]:
    """What every splitter starts from: decision and label end times (int64 microseconds), the
    embargo in microseconds and each sample's time block (:func:`_blocks`), all validated."""
    t, end = _times(t1)
    n = _n_samples(X, len(t))
    emb = _embargo_us(embargo)
    return t, end, emb, _blocks(t, _groups(groups, end, n), n_blocks)


def _positions(train: npt.NDArray[np.bool_], test: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """``(train, test)`` masks as the position arrays scikit-learn splitters yield."""
    return np.flatnonzero(train).astype(np.intp), np.flatnonzero(test).astype(np.intp)


class PurgedKFold:
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

    def __repr__(self) -> str:
        return f"PurgedKFold(n_splits={self.n_splits}, n_samples={len(self.t1)}, embargo={self.embargo!r})"

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds."""
        return int(self.n_splits)

    def split(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` positions for each fold.

        Raises
        ------
        ValueError
            On misaligned ``t1``/``groups``, fewer groups than folds, or bad ``n_splits``/``embargo``.
        """
        _check_count("n_splits", self.n_splits, 2)
        t, end, emb, fold = _split_setup(X, groups, self.t1, self.embargo, int(self.n_splits))
        for k in range(self.n_splits):
            test = fold == k
            yield _positions(~purge_mask(t, end, test, emb), test)


class PurgedWalkForward:
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

    def __repr__(self) -> str:
        return (f"PurgedWalkForward(n_splits={self.n_splits}, n_samples={len(self.t1)}, "
                f"train_window={self.train_window!r}, embargo={self.embargo!r})")

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of test blocks."""
        return int(self.n_splits)

    def split(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` positions for each test block, in time order.

        Raises
        ------
        ValueError
            On misaligned inputs, too few groups, or bad parameters.
        """
        _check_count("n_splits", self.n_splits, 1)
        window = None if self.train_window is None else _embargo_us(self.train_window)
        if window is not None and window <= 0:
            raise ValueError(f"train_window must be positive, got {self.train_window}")
        t, end, emb, block = _split_setup(X, groups, self.t1, self.embargo, int(self.n_splits) + 1)
        for k in range(1, self.n_splits + 1):
            test = block == k
            start = int(t[test].min())
            train = (block < k) & (end + emb < start)
            if window is not None:
                train &= t >= start - window
            yield _positions(train, test)


class CombinatorialPurgedKFold:
    """Combinatorial purged cross-validation (López de Prado 2018, sec. 12.4).

    Groups ordered in time are cut into ``n_blocks`` contiguous blocks; every choice of
    ``n_test_blocks`` of them is one split's test set, and the training set is every other sample
    not purged or embargoed by :func:`purge_mask`. There are ``C(n_blocks, n_test_blocks)`` splits
    and each sample is tested ``C(n_blocks - 1, n_test_blocks - 1)`` times (the number of backtest
    paths).

    Parameters
    ----------
    n_blocks : int
        Number of blocks (>= 2).
    n_test_blocks : int
        Blocks per test set (1 <= n_test_blocks < n_blocks); 1 is :class:`PurgedKFold`.
    t1 : Series
        Label end times indexed by decision time, aligned positionally with ``X``'s rows.
    embargo : Timedelta
        Extra time after each test block during which training samples are also dropped.
    """

    def __init__(self, n_blocks: int = 6, n_test_blocks: int = 2, *, t1: pd.Series,
                 embargo: pd.Timedelta = pd.Timedelta(0)) -> None:  # noqa: B008
        self.n_blocks = n_blocks
        self.n_test_blocks = n_test_blocks
        self.t1 = t1
        self.embargo = embargo

    def __repr__(self) -> str:
        return (f"CombinatorialPurgedKFold(n_blocks={self.n_blocks}, n_test_blocks={self.n_test_blocks}, "
                f"n_samples={len(self.t1)}, embargo={self.embargo!r})")

    def _check(self) -> None:
        _check_count("n_blocks", self.n_blocks, 2)
        if not isinstance(self.n_test_blocks, (int, np.integer)) or not 1 <= self.n_test_blocks < self.n_blocks:
            raise ValueError(f"n_test_blocks must be an integer in [1, n_blocks), got {self.n_test_blocks!r}")

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits, ``C(n_blocks, n_test_blocks)``."""
        self._check()
        return math.comb(int(self.n_blocks), int(self.n_test_blocks))

    @property
    def n_paths(self) -> int:
        """Backtest paths: how many times each sample is tested, ``C(n_blocks - 1, n_test_blocks - 1)``."""
        self._check()
        return math.comb(int(self.n_blocks) - 1, int(self.n_test_blocks) - 1)

    def split(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` positions for every combination of test blocks (lexicographic order)."""
        self._check()
        t, end, emb, block = _split_setup(X, groups, self.t1, self.embargo, int(self.n_blocks))
        for combo in itertools.combinations(range(int(self.n_blocks)), int(self.n_test_blocks)):
            test = np.isin(block, combo)
            yield _positions(~purge_mask(t, end, test, emb), test)
