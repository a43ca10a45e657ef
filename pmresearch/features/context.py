"""What a feature block sees: the sorted decision rows, the inputs and strictly as-of join helpers.

Series features are computed once per input on a complete bar grid (missing bars are NaN, so a
window over a gap is NaN rather than silently longer) and joined to the decision times by
knowledge time: the value at ``t`` is the one of the last bar with ``ts + bar <= t - lag``, and
only if that bar is the latest one that could be closed by then (no stale carry past the end of
the data). Nothing is computed per decision row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray, IntArray
from pmresearch.features.inputs import BAR_LENGTH, FeatureInputs
from pmresearch.features.registry import Block, FeatureRegistry, FeatureRow, make_block

__all__ = ["BAR_COLUMNS", "BarGrid", "FeatureContext", "bar_block", "bar_grid", "to_ns"]

#: Kline columns carried by a :class:`BarGrid` (float64, NaN where missing).
BAR_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume")
_MAX_BARS = 100_000_000


def to_ns(values: pd.Series | pd.DatetimeIndex) -> IntArray:
    """tz-aware timestamps as int64 nanoseconds since the epoch."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is None:
        raise ValueError("naive timestamps; pmresearch requires tz-aware UTC")
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


@dataclass(frozen=True)
class BarGrid:
    """Klines on a complete, regular grid of bar open times (missing bars are NaN rows).

    Attributes
    ----------
    open_ns, known_ns : ndarray of int64
        Bar open time and knowledge time (close, ``open + step``) in ns.
    step_ns : int
        Bar length in ns.
    frame : DataFrame
        :data:`BAR_COLUMNS` as float64 on a RangeIndex aligned with the arrays.
    """

    open_ns: IntArray
    known_ns: IntArray
    step_ns: int
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.open_ns)

    @property
    def step_minutes(self) -> float:
        """Bar length in minutes."""
        return self.step_ns / 60e9


def bar_grid(frame: pd.DataFrame, step: pd.Timedelta, *, what: str = "klines") -> BarGrid:
    """Put klines on a complete grid of bar open times from the first bar to the last.

    Raises
    ------
    ValueError
        If a bar's ``ts`` is off the grid of its bar length (names the row), or a bar repeats
        with different values.
    """
    step_ns = int(step.value)
    ts = to_ns(frame["ts"])
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    data = frame.iloc[order]
    if len(ts) > 1:
        dup = np.flatnonzero(ts[1:] == ts[:-1]) + 1
        if len(dup):
            close = data["close"].to_numpy(dtype=np.float64)
            if np.any(close[dup] != close[dup - 1]):
                raise ValueError(f"{what}: bar at {pd.Timestamp(ts[dup[0]], tz='UTC')} repeats with other values")
            keep = np.ones(len(ts), dtype=bool)
            keep[dup] = False
            ts, data = ts[keep], data.iloc[keep]
    first = int(ts[0]) if len(ts) else 0
    rel = ts - first
    off = np.flatnonzero(rel % step_ns)
    if len(off):
        raise ValueError(f"{what}: bar time {pd.Timestamp(int(ts[off[0]]), tz='UTC')} (row {data.index[off[0]]}) "
                         f"is not on the {step} grid starting at {pd.Timestamp(first, tz='UTC')}")
    pos = rel // step_ns
    n = int(pos[-1]) + 1 if len(pos) else 0
    if n > _MAX_BARS:
        raise ValueError(f"{what}: {n:,} bars from first to last is too many for one grid")
    cols: dict[str, FloatArray] = {}
    for c in BAR_COLUMNS:
        arr = np.full(n, np.nan)
        if c in data.columns:
            arr[pos] = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        cols[c] = arr
    open_ns = first + np.arange(n, dtype=np.int64) * step_ns
    return BarGrid(open_ns=open_ns, known_ns=open_ns + step_ns, step_ns=step_ns, frame=pd.DataFrame(cols))


class FeatureContext:
    """Decision rows sorted by ``t``, the inputs, caches, and as-of join helpers for blocks.

    Parameters
    ----------
    rows : DataFrame
        Decision rows sorted by ``t`` with a RangeIndex.
    inputs : FeatureInputs
        The data.
    registry : FeatureRegistry
        Where :meth:`feature` finds other features' blocks.
    """

    def __init__(self, rows: pd.DataFrame, inputs: FeatureInputs, registry: FeatureRegistry) -> None:
        self.rows = rows
        self.inputs = inputs
        self.registry = registry
        self.n = len(rows)
        self.t_ns: IntArray = to_ns(rows["t"]) if self.n else np.zeros(0, dtype=np.int64)
        self._grids: dict[str, BarGrid | None] = {}
        self._computed: dict[str, FloatArray] = {}
        self._done: set[str] = set()
        self.current_lag_ns: int = 0

    # ---------------------------------------------------------------- basics
    def nan(self) -> FloatArray:
        """An all-NaN column."""
        return np.full(self.n, np.nan)

    def times(self, lag_ns: int | None = None) -> IntArray:
        """Decision times minus the lag (of the block being computed unless given), ns."""
        return self.t_ns - (self.current_lag_ns if lag_ns is None else lag_ns)

    def bars(self, name: str) -> BarGrid | None:
        """The bar grid of a klines input (``spot_1m``, ``spot_1s``, ``eth_1m``), or None if absent."""
        if name not in self._grids:
            frame = getattr(self.inputs, name)
            self._grids[name] = (bar_grid(frame, BAR_LENGTH[name], what=f"FeatureInputs.{name}")
                                 if frame is not None and len(frame) else None)
        return self._grids[name]

    def feature(self, name: str) -> FloatArray:
        """Another feature's values for these rows (its block is computed once and cached)."""
        if name not in self._computed:
            self.run_block(self.registry.block_of(name).name)
        return self._computed.get(name, self.nan())

    def run_block(self, block_name: str) -> None:
        """Compute a block (once) and cache its features."""
        if block_name in self._done:
            return
        block = self.registry.blocks[block_name]
        saved = self.current_lag_ns
        self.current_lag_ns = int(block.lag.value)
        try:
            out = dict(block.fn(self)) if self.n else {}
        finally:
            self.current_lag_ns = saved
        self._done.add(block_name)
        for spec in block.specs:
            values = out.get(spec.name)
            if values is None:
                self._computed[spec.name] = self.nan()
                continue
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (self.n,):
                raise ValueError(f"block {block_name!r} returned shape {arr.shape} for {spec.name}, "
                                 f"expected ({self.n},)")
            self._computed[spec.name] = arr

    def values(self, names: Sequence[str]) -> dict[str, FloatArray]:
        """Computed values of ``names`` (blocks must have run)."""
        return {n: self._computed[n] for n in names}

    # ---------------------------------------------------------------- joins
    def asof_index(self, known_ns: IntArray, *, tolerance_ns: int | None = None) -> IntArray:
        """Index of the last entry of sorted ``known_ns`` that is ``<= t - lag`` (-1 if none or too old)."""
        t = self.times()
        idx = np.searchsorted(known_ns, t, side="right") - 1
        if tolerance_ns is not None:
            safe = np.maximum(idx, 0)
            idx = np.where((idx >= 0) & (t - known_ns[safe] < tolerance_ns), idx, -1)
        return np.asarray(idx, dtype=np.int64)

    def join_bars(self, grid: BarGrid, columns: Mapping[str, pd.Series | FloatArray]) -> dict[str, FloatArray]:
        """Values per bar joined to the decision rows: the latest bar closed by ``t - lag``.

        NaN where that bar is missing or the data ended before it closed.
        """
        idx = self.asof_index(grid.known_ns, tolerance_ns=grid.step_ns)
        ok = idx >= 0
        safe = np.maximum(idx, 0)
        out: dict[str, FloatArray] = {}
        for name, col in columns.items():
            arr = np.asarray(col, dtype=np.float64)
            out[name] = np.where(ok, arr[safe] if len(arr) else np.nan, np.nan)
        return out

    def join_by_key(self, row_keys: pd.Series | np.ndarray, table: pd.DataFrame, *, key: str, known: str,
                    columns: Sequence[str], tolerance_ns: int | None = None,
                    shift_ns: int = 0) -> dict[str, FloatArray]:
        """As-of join per key (e.g. slug): for each row, the last ``table`` entry of its key known by
        ``t - lag - shift_ns`` (and not older than ``tolerance_ns``)."""
        # integer key codes: factorize each side, then map the rows' keys into the table's
        r_codes, r_uniques = pd.factorize(pd.Series(table[key]).to_numpy(), use_na_sentinel=True)
        l_codes, l_uniques = pd.factorize(pd.Series(row_keys).to_numpy(), use_na_sentinel=True)
        lookup = pd.Index(np.asarray(r_uniques, dtype=object).astype(str)).get_indexer(
            np.asarray(l_uniques, dtype=object).astype(str))
        lk = np.where(l_codes >= 0, lookup[np.maximum(l_codes, 0)] if len(lookup) else -1, -1)
        left = pd.DataFrame({"_t": self.times() - shift_ns, "_k": lk, "_pos": np.arange(self.n)})
        right = pd.DataFrame({"_t": np.asarray(table[known], dtype=np.int64), "_k": r_codes})
        for c in columns:
            right[c] = np.asarray(table[c], dtype=np.float64)
        left, right = left[left["_k"] >= 0], right[right["_k"] >= 0]
        out = {c: self.nan() for c in columns}
        if left.empty or right.empty:
            return out
        merged = pd.merge_asof(left.sort_values("_t", kind="stable"), right.sort_values("_t", kind="stable"),
                               on="_t", by="_k", direction="backward", allow_exact_matches=True,
                               tolerance=tolerance_ns)
        pos = merged["_pos"].to_numpy()
        for c in columns:
            out[c][pos] = merged[c].to_numpy(dtype=np.float64, na_value=np.nan)
        return out



def bar_block(
    name: str,
    family: str,
    input_name: str,
    per_bar: Callable[[pd.DataFrame], Mapping[str, pd.Series | FloatArray]],
    features: Sequence[FeatureRow],
) -> Block:
    """A :class:`~pmresearch.features.registry.Block` of series features of one klines input.

    The block computes ``per_bar(grid.frame)`` once on the input's bar grid (:meth:`FeatureContext.bars`)
    and joins the values to the decision rows as-of (:meth:`FeatureContext.join_bars`); it returns no
    features (all NaN) when the input is absent. Its declared input is ``input_name``, the one it reads.

    Parameters
    ----------
    name, family : str
        Block name and feature family.
    input_name : str
        ``spot_1m``, ``spot_1s`` or ``eth_1m``.
    per_bar : callable
        :data:`BAR_COLUMNS` frame in, ``{feature name: values per bar}`` out.
    features : sequence of (short name, lookback, units, description)
        As in :func:`~pmresearch.features.registry.make_block`.
    """

    def block(ctx: FeatureContext) -> dict[str, FloatArray]:
        grid = ctx.bars(input_name)
        if grid is None:
            return {}
        return ctx.join_bars(grid, per_bar(grid.frame))

    return make_block(name, family, block, features, inputs=(input_name,))
