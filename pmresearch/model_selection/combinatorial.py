"""Combinatorial purged cross-validation (López de Prado 2018, sec. 12.4): splits, backtest paths and a summary."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pmresearch._summary import Summary, summary_table
from pmresearch.model_selection._base import BoolArray, IntArray, _check_count, _PurgedSplitter, _Setup, purge_mask

__all__ = ["CombinatorialPurgedKFold"]


def _combinations_message(n_blocks: int, n_test_blocks: int, count: int, cap: int) -> str:
    """Why ``C(n_blocks, n_test_blocks)`` splits are refused, and the nearest settings within ``cap``."""
    fixes = []
    n_ok = None
    for n in range(n_test_blocks + 1, n_blocks):  # C(n, k) grows with n: stop at the first one over the cap
        if math.comb(n, n_test_blocks) > cap:
            break
        n_ok = n
    if n_ok is not None:
        fixes.append(f"n_blocks={n_ok} or fewer (C({n_ok}, {n_test_blocks}) = {math.comb(n_ok, n_test_blocks):,})")
    k_ok = None
    for k in range(1, n_blocks // 2 + 1):  # C(n, k) grows with k up to n / 2
        if math.comb(n_blocks, k) > cap:
            break
        k_ok = k
    if k_ok is not None and k_ok != n_test_blocks:
        fixes.append(f"n_test_blocks={k_ok}, further from n_blocks / 2 (C({n_blocks}, {k_ok}) = "
                     f"{math.comb(n_blocks, k_ok):,})")
    fixes.append(f"max_combinations={count} if you mean to fit that many models")
    return (f"CombinatorialPurgedKFold: n_blocks={n_blocks} and n_test_blocks={n_test_blocks} make "
            f"C({n_blocks}, {n_test_blocks}) = {count:,} splits, one model fit each, above max_combinations="
            f"{cap:,}; nothing was split. Use " + ", or ".join(fixes) + ".")


class CombinatorialPurgedKFold(_PurgedSplitter):
    """Combinatorial purged cross-validation (López de Prado 2018, sec. 12.4).

    Groups ordered in time are cut into ``n_blocks`` contiguous blocks (the group-folds); every
    choice of ``n_test_blocks`` of them is one split's test set, and the training set is every other
    sample not purged or embargoed by :func:`purge_mask`. There are ``C(n_blocks, n_test_blocks)``
    splits and each sample is tested ``C(n_blocks - 1, n_test_blocks - 1)`` times (the number of
    backtest paths, :attr:`n_paths`; :meth:`get_path_ids` says which split tests which block on
    each path).

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
    max_combinations : int, default 10_000
        Most splits allowed: each is a model fit, and ``C(n, k)`` explodes near ``k = n / 2``
        (``C(20, 10) = 184,756``). More is a ``ValueError`` naming the count and how to reduce it.

    Examples
    --------
    >>> cv = CombinatorialPurgedKFold(6, 2, t1=t1, embargo=pd.Timedelta("15min"))  # doctest: +SKIP
    >>> cv.get_n_splits(), cv.n_paths  # doctest: +SKIP
    (15, 5)
    >>> print(cv.summary(X, groups=rows["slug"]))  # doctest: +SKIP
    """

    def __init__(self, n_blocks: int = 6, n_test_blocks: int = 2, *, t1: pd.Series,
                 embargo: pd.Timedelta = pd.Timedelta(0), max_combinations: int = 10_000) -> None:  # noqa: B008
        self.n_blocks = n_blocks
        self.n_test_blocks = n_test_blocks
        self.t1 = t1
        self.embargo = embargo
        self.max_combinations = max_combinations

    def _check_params(self) -> int:
        n_blocks = _check_count("n_blocks", self.n_blocks, 2)
        k = self.n_test_blocks
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k < n_blocks:
            raise ValueError(f"n_test_blocks must be an integer in [1, n_blocks), got {k!r}")
        cap = _check_count("max_combinations", self.max_combinations, 1)
        count = math.comb(n_blocks, int(k))
        if count > cap:
            raise ValueError(_combinations_message(n_blocks, int(k), count, cap))
        return n_blocks

    def _n_splits(self) -> int:
        """``C(n_blocks, n_test_blocks)``."""
        return math.comb(int(self.n_blocks), int(self.n_test_blocks))

    def _combinations(self) -> list[tuple[int, ...]]:
        """Test blocks of every split, in :meth:`split`'s (lexicographic) order."""
        n_blocks = self._check_params()
        return list(itertools.combinations(range(n_blocks), int(self.n_test_blocks)))

    @property
    def n_paths(self) -> int:
        """Backtest paths: how many times each sample is tested, ``C(n_blocks - 1, n_test_blocks - 1)``."""
        self._check_params()
        return math.comb(int(self.n_blocks) - 1, int(self.n_test_blocks) - 1)

    def _masks(self, s: _Setup) -> Iterator[tuple[BoolArray, BoolArray]]:
        for combo in self._combinations():
            test = np.isin(s.block, combo)
            yield ~purge_mask(s.t, s.end, test, s.embargo_us), test

    def get_path_ids(self) -> IntArray:
        """Which split tests each block on each backtest path.

        Returns
        -------
        ndarray of int, shape (n_paths, n_blocks)
            ``ids[p, b]`` is the position (in :meth:`split`'s order) of the split whose test set
            supplies block ``b`` on path ``p``. Path ``p`` takes each block from the ``p``-th split,
            in order, that tests it (López de Prado 2018, sec. 12.4 and fig. 12.1), so every split
            appears ``n_test_blocks`` times in the array and every block once per path.

        Notes
        -----
        A path's out-of-sample predictions are reassembled as: for each block ``b``, the predictions
        of split ``ids[p, b]`` on the rows of block ``b`` (:meth:`get_fold_ids`); every row is
        predicted exactly once per path. skfolio's ``CombinatorialPurgedCV.recombined_paths`` is this
        array transposed; its ``get_path_ids()`` is the inverse map (for each split and each of its
        test blocks in order, the path).
        """
        combos = self._combinations()
        n_blocks = int(self.n_blocks)
        ids = np.empty((self.n_paths, n_blocks), dtype=np.intp)
        used = np.zeros(n_blocks, dtype=np.intp)
        for split_id, combo in enumerate(combos):
            for b in combo:
                ids[used[b], b] = split_id
                used[b] += 1
        return ids

    def get_fold_ids(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> IntArray:
        """The block (group-fold, ``0 .. n_blocks - 1``) of every row, as :meth:`split` cuts them."""
        return self._setup(X, y, groups).block

    def summary(self, X: Any, y: Any = None, groups: npt.ArrayLike | None = None) -> Summary:
        """The splits of ``X``: folds, paths, and per split the train/test sizes and what purging removed.

        Tables: ``configuration`` (folds, test folds, splits, paths, samples, groups, embargo, the
        range of train and test sizes), ``splits`` (per split: test blocks, ``train``, ``test``,
        ``purged`` = training candidates whose label interval overlaps a test label interval,
        ``embargoed`` = removed only by the embargo) and ``paths`` (:meth:`get_path_ids`).
        """
        s = self._setup(X, y, groups)
        n = len(s.t)
        rows = []
        for combo in self._combinations():
            test = np.isin(s.block, combo)
            overlap = purge_mask(s.t, s.end, test, 0) & ~test
            removed = purge_mask(s.t, s.end, test, s.embargo_us) & ~test
            rows.append({"test blocks": ", ".join(map(str, combo)), "train": n - int(test.sum()) - int(removed.sum()),
                         "test": int(test.sum()), "purged": int(overlap.sum()),
                         "embargoed": int((removed & ~overlap).sum())})
        splits = pd.DataFrame(rows).rename_axis("split")
        paths = pd.DataFrame(self.get_path_ids(), columns=[f"block {b}" for b in range(s.n_blocks)]
                             ).rename_axis("path")
        config = {
            "samples": n, "groups": s.n_groups, "folds (n_blocks)": s.n_blocks,
            "test folds per split (n_test_blocks)": int(self.n_test_blocks), "splits": len(splits),
            "paths": self.n_paths, "embargo": str(self.embargo),
            "train size (min / mean / max)": _range(splits["train"]),
            "test size (min / mean / max)": _range(splits["test"]),
            "purged per split (mean)": f"{splits['purged'].mean():.1f}",
            "embargoed per split (mean)": f"{splits['embargoed'].mean():.1f}",
        }
        notes = (
            f"Groups ordered by first decision time are cut into {s.n_blocks} contiguous blocks; each split tests "
            f"{int(self.n_test_blocks)} of them and trains on the rest, less purged and embargoed samples.",
            "purged: [t, t1] overlaps a test [t, t1]; embargoed: overlaps only once the test intervals are extended "
            f"by the embargo ({self.embargo}).",
            f"paths[p, b]: the split whose test set supplies block b on path p; each row is tested once per path "
            f"({self.n_paths} paths).",
        )
        return summary_table("Combinatorial purged cross-validation",
                             {"configuration": config, "splits": splits, "paths": paths}, notes)


def _range(sizes: pd.Series) -> str:
    return f"{int(sizes.min()):,} / {sizes.mean():,.1f} / {int(sizes.max()):,}"
