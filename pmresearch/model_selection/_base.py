"""The shared base of the purged splitters: times, groups, blocks, the purge, and the scikit-learn base class.

Each sample ``i`` has a decision time ``t_i`` (the index of ``t1``) and a label end time ``t1_i``
(its window's end): its label depends on data in ``[t_i, t1_i]``. A training sample ``j`` is
*purged* when ``[t_j, t1_j]`` overlaps the interval ``[t_i, t1_i + embargo]`` of any test sample
``i`` (closed intervals): the embargo extends each test block by a time span, never a row count.
Samples of one group (a market window) are never split between train and test; by default the
groups are the distinct label end times (all decision rows of a window share its ``window_end``).
"""

from __future__ import annotations

import copy
import inspect
import numbers
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import indexable

from pmresearch._time import ensure_utc

__all__ = ["purge_mask"]

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class _GroupsRequest:
    """``split`` requests ``groups`` by default under metadata routing.

    The same class attribute as scikit-learn's ``GroupsConsumerMixin``, which is private
    (``sklearn.model_selection._split``); used in its place when that mixin cannot be imported.
    """

    __metadata_request__split: ClassVar[dict[str, bool]] = {"groups": True}


try:
    from sklearn.model_selection._split import GroupsConsumerMixin as _GroupsConsumer
except ImportError:  # pragma: no cover - the mixin is private to scikit-learn and may move
    _GroupsConsumer = _GroupsRequest


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


def _span_us(value: pd.Timedelta, name: str) -> int:
    """A non-negative ``Timedelta`` parameter in microseconds; anything else is a clear error naming ``name``."""
    if not isinstance(value, pd.Timedelta):
        raise TypeError(f"{name} must be a pandas Timedelta (a time span, never a row count), got {value!r}")
    if value < pd.Timedelta(0):
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value // pd.Timedelta(microseconds=1))


def purge_mask(t: npt.ArrayLike, t1: npt.ArrayLike, test: npt.ArrayLike, embargo_us: int = 0) -> BoolArray:
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


def _groups(groups: npt.ArrayLike | None, end: npt.NDArray[np.int64], n: int) -> IntArray:
    """Integer group codes: the given groups, else one group per distinct label end time."""
    if groups is None:
        codes = pd.factorize(pd.Series(end))[0]
    else:
        g = np.asarray(groups)
        if g.shape[0] != n:
            raise ValueError(f"groups has {g.shape[0]} entries for {n} samples")
        null = np.flatnonzero(pd.isna(pd.Series(g)).to_numpy())
        if null.size:
            raise ValueError(f"groups must not be null: {null.size} null entries, the first at position {int(null[0])}")
        codes = pd.factorize(pd.Series(g))[0]
    return np.asarray(codes, dtype=np.intp)


def _n_samples(X: Any, n_t1: int) -> int:
    n = len(X) if hasattr(X, "__len__") else np.asarray(X).shape[0]
    if n != n_t1:
        raise ValueError(f"X has {n} rows but t1 has {n_t1} entries (t1 must be aligned with X's rows)")
    return int(n)


def _blocks(t: npt.NDArray[np.int64], codes: IntArray, n_blocks: int) -> IntArray:
    """Block of every sample: groups ordered by first decision time, cut into ``n_blocks`` contiguous runs."""
    order = _ordered_groups(t, codes)
    if order.size < n_blocks:
        raise ValueError(f"{order.size} groups cannot make {n_blocks} blocks")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    block_of_group = np.zeros(order.size, dtype=np.intp)
    for k, run in enumerate(np.array_split(np.arange(order.size), n_blocks)):
        block_of_group[run] = k
    out: IntArray = block_of_group[rank[codes]]
    return out


def _ordered_groups(t: npt.NDArray[np.int64], codes: IntArray) -> IntArray:
    """Group codes ordered by their first decision time (ties by code)."""
    first = pd.Series(t).groupby(codes).min()
    return np.asarray(first.sort_values(kind="stable").index, dtype=np.intp)


def _check_count(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class _Setup(NamedTuple):
    """What every split starts from, validated: times and embargo in microseconds, each sample's block."""

    t: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    embargo_us: int
    block: IntArray
    n_blocks: int
    n_groups: int


def _positions(train: BoolArray, test: BoolArray) -> tuple[IntArray, IntArray]:
    """``(train, test)`` masks as the position arrays scikit-learn splitters yield."""
    return np.flatnonzero(train).astype(np.intp), np.flatnonzero(test).astype(np.intp)


class _Abbreviated:
    """Stands for a long parameter in the base's ``repr`` (``t1`` has one row per sample)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _abbreviate_t1(t1: Any) -> Any:
    if not isinstance(t1, pd.Series):
        return t1
    if len(t1) and isinstance(t1.index, pd.DatetimeIndex):
        return _Abbreviated(f"<Series of {len(t1):,} label end times, decisions {t1.index.min()} "
                            f"to {t1.index.max()}>")
    return _Abbreviated(f"<Series of {len(t1):,} label end times>")


class _PurgedSplitter(_GroupsConsumer, BaseCrossValidator):  # type: ignore[misc]
    """What the purged splitters share: validation of ``t1``, ``groups`` and the embargo, the blocks
    of groups in time, ``split``/``get_n_splits``, ``groups`` routing and the base's ``repr``.

    A subclass validates its parameters in :meth:`_check_params` (returning its number of blocks),
    counts its splits in :meth:`_n_splits` and yields ``(train, test)`` masks in :meth:`_masks`.
    """

    t1: pd.Series
    embargo: pd.Timedelta

    @abstractmethod
    def _check_params(self) -> int:
        """Validate the parameters; the number of time blocks the groups are cut into."""

    @abstractmethod
    def _n_splits(self) -> int:
        """Number of splits (parameters already validated)."""

    @abstractmethod
    def _masks(self, s: _Setup) -> Iterator[tuple[BoolArray, BoolArray]]:
        """``(train, test)`` masks of every split, in order."""

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of ``(train, test)`` pairs :meth:`split` yields (``X``, ``y`` and ``groups`` are ignored).

        Raises
        ------
        ValueError
            On bad parameters.
        """
        self._check_params()
        return self._n_splits()

    def split(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` positions of every split, in order.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows aligned positionally with ``t1``.
        y : array-like of shape (n_samples,), optional
            Only its length is checked.
        groups : array-like of shape (n_samples,), optional
            Market windows (e.g. ``slug``): the samples of a group are never split between train
            and test. Default: one group per distinct label end time. Requested by default under
            scikit-learn's metadata routing (``params={"groups": g}``).

        Raises
        ------
        ValueError
            On misaligned ``t1``/``X``/``y``/``groups``, fewer groups than blocks, or bad parameters.
        TypeError
            When ``t1`` is not a Series or a time span (``embargo``, ``train_window``) not a Timedelta.
        """
        for train, test in self._masks(self._setup(X, y, groups)):
            yield _positions(train, test)

    def _setup(self, X: Any, y: Any, groups: npt.ArrayLike | None) -> _Setup:
        n_blocks = self._check_params()
        t, end = _times(self.t1)
        n = _n_samples(X, len(t))
        codes = _groups(groups, end, n)
        indexable(X, y, groups)  # scikit-learn's own check that X, y and groups have one length
        emb = _span_us(self.embargo, "embargo")
        return _Setup(t, end, emb, _blocks(t, codes, n_blocks), n_blocks, int(codes.max()) + 1 if n else 0)

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Constructor parameters, sorted: what the base's ``repr`` shows and :meth:`get_params` returns."""
        return sorted(name for name in inspect.signature(cls.__init__).parameters if name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name, as scikit-learn's ``clone`` expects (nothing nests: ``deep`` is moot)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def __repr__(self) -> str:
        """The base's ``repr`` (every constructor parameter), ``t1`` abbreviated to its length and span."""
        view = copy.copy(self)
        view.t1 = _abbreviate_t1(self.t1)
        return str(BaseCrossValidator.__repr__(view))
