"""The feature matrix: decision rows (labels, market state) x every registered feature.

:func:`build_feature_matrix` is what ``pmresearch features`` writes: :func:`pmresearch.labels.decision_rows`
joined column-wise with :func:`pmresearch.features.compute_features` on the same rows. With ``until``
both halves ignore every row whose knowledge time (DESIGN.md) is after it, so the matrix built at
``until`` equals one built from a store that only holds what was known then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pmresearch._time import to_utc
from pmresearch.data.store import Store
from pmresearch.features.engine import compute_features
from pmresearch.features.inputs import FeatureInputs
from pmresearch.labels.decision import (
    DECISION_COLUMNS,
    DEFAULT_MAX_STALENESS,
    decision_rows,
    decision_rows_from_frames,
)

if TYPE_CHECKING:
    from pmresearch.simulate import World

__all__ = [
    "DEFAULT_LOOKBACK",
    "build_feature_matrix",
    "build_feature_matrix_from_world",
    "features_command",
    "write_feature_matrix",
]

#: Data read before the first decision time, enough for every registered feature's look-back.
DEFAULT_LOOKBACK = pd.Timedelta(days=1)

_EMPTY_KLINES = pd.DataFrame({
    "ts": pd.Series(dtype="datetime64[us, UTC]"), "open": pd.Series(dtype="float64"),
    "high": pd.Series(dtype="float64"), "low": pd.Series(dtype="float64"), "close": pd.Series(dtype="float64"),
    "volume": pd.Series(dtype="float64"), "quote_volume": pd.Series(dtype="float64"),
    "trades": pd.Series(dtype="Int64"), "taker_buy_volume": pd.Series(dtype="float64"),
    "symbol": pd.Series(dtype="str"), "interval": pd.Series(dtype="str"), "source": pd.Series(dtype="str"),
})


def _join(rows: pd.DataFrame, inputs: FeatureInputs | None, names: Sequence[str] | None) -> pd.DataFrame:
    if inputs is None:
        inputs = FeatureInputs(spot_1m=_EMPTY_KLINES.copy())
    feats = compute_features(rows, inputs, names)
    clash = [c for c in feats.columns if c in rows.columns]
    if clash:
        raise ValueError(f"feature names {clash[:5]} collide with decision-row columns")
    return pd.concat([rows, feats], axis=1)


def _store_inputs(store: Store, rows: pd.DataFrame, until: pd.Timestamp | None,
                  lookback: pd.Timedelta) -> FeatureInputs | None:
    """The store's feature inputs around the rows, or None when it holds no BTCUSDT 1m klines there."""
    if rows.empty:
        return None
    start, end = rows["t"].min() - lookback, rows["t"].max()
    hi = end if until is None else min(end, until)
    since = start - pd.Timedelta(microseconds=1)
    probe = store.as_of("spot_prices", hi, since=since, where={"symbol": "BTCUSDT", "interval": "1m"})
    if probe.empty:
        # no exchange klines in range (e.g. an oracle-only day): the other inputs still feed the
        # features that use them; kline features are NaN
        def read(table: str, where: Mapping[str, str] | None = None) -> pd.DataFrame | None:
            frame = store.as_of(table, hi, since=since, where=where).drop(columns=["known_at"])
            return frame.reset_index(drop=True) if len(frame) else None

        return FeatureInputs(
            spot_1m=_EMPTY_KLINES.copy(), spot_1s=read("spot_prices", {"symbol": "BTCUSDT", "interval": "1s"}),
            eth_1m=read("spot_prices", {"symbol": "ETHUSDT", "interval": "1m"}), quotes=read("polymarket_quotes"),
            books=read("polymarket_books"), trades=read("trades"), oracle=read("oracle_prices"))
    return FeatureInputs.from_store(store, start=start, end=end, until=until)


def build_feature_matrix(
    store: Store,
    *,
    until: pd.Timestamp | str | None = None,
    interval_minutes: int | None = None,
    every_s: float | None = 30.0,
    first_s: float = 60.0,
    last_s: float = 30.0,
    offsets: Sequence[str | float | pd.Timedelta] | str | None = None,
    names: Sequence[str] | None = None,
    lookback: pd.Timedelta = DEFAULT_LOOKBACK,
    max_staleness: pd.Timedelta = DEFAULT_MAX_STALENESS,
    clock_offsets: Mapping[str, pd.Timedelta] | None = None,
) -> pd.DataFrame:
    """Decision rows x features from a store (DuckDB or PostgreSQL).

    Parameters
    ----------
    store : Store
        An open store.
    until : Timestamp or str, optional
        Ignore rows whose knowledge time is after it: decision rows after it are dropped, labels
        of windows ending after it are null, and feature inputs are truncated there.
    interval_minutes : int, optional
        Only windows of this length (None, the default: every window).
    every_s, first_s, last_s, offsets
        Decision times (see :func:`pmresearch.labels.decision_times`).
    names : sequence of str, optional
        Features to compute (default: every registered feature).
    lookback : Timedelta
        How much data before the first decision time the features may read.
    max_staleness, clock_offsets
        See :func:`pmresearch.labels.decision_rows`.

    Returns
    -------
    DataFrame
        :data:`pmresearch.labels.DECISION_COLUMNS` followed by one float64 column per feature
        (``<family>__<name>``), one row per window and decision time, sorted by ``(t, slug)``.
    """
    upper = None if until is None else to_utc(until, what="until")
    rows = decision_rows(store, interval_minutes=interval_minutes, every_s=every_s, first_s=first_s,
                         last_s=last_s, offsets=offsets, until=upper, max_staleness=max_staleness,
                         clock_offsets=clock_offsets)
    return _join(rows, _store_inputs(store, rows, upper, lookback), names)


def build_feature_matrix_from_world(
    world: World,
    *,
    until: pd.Timestamp | str | None = None,
    interval_minutes: int | None = None,
    every_s: float | None = 30.0,
    first_s: float = 60.0,
    last_s: float = 30.0,
    offsets: Sequence[str | float | pd.Timedelta] | str | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Decision rows x features of a simulated world, without a store (same columns as
    :func:`build_feature_matrix`)."""
    upper = None if until is None else to_utc(until, what="until")
    frames = {"markets": world.markets, "oracle": world.oracle, "klines": world.klines, "quotes": world.quotes,
              "books": world.books}
    rows = decision_rows_from_frames(frames, interval_minutes=interval_minutes, every_s=every_s, first_s=first_s,
                                     last_s=last_s, offsets=offsets, until=upper)
    inputs = FeatureInputs.from_world(world)
    if upper is not None:
        inputs = inputs.truncate(upper)
    return _join(rows, inputs, names)


def write_feature_matrix(matrix: pd.DataFrame, out: str | Path) -> Path:
    """Write a feature matrix to Parquet (zstd) atomically: a partial file never replaces ``out``."""
    missing = [c for c in DECISION_COLUMNS if c not in matrix.columns]
    if missing:
        raise ValueError(f"not a feature matrix: missing decision-row columns {missing}")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    matrix.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(path)
    return path


def features_command(
    out: str | Path,
    *,
    db: str | None = None,
    until: str | None = None,
    offsets: str | None = None,
    every: str = "30s",
    interval_minutes: int | None = None,
    names: Sequence[str] | None = None,
) -> tuple[Path, pd.DataFrame]:
    """What ``pmresearch features`` does: build the matrix from the store at ``db`` and write it.

    Parameters
    ----------
    out : str or Path
        Parquet file to write.
    db : str, optional
        Database URL (default ``$PMRESEARCH_DB``, else the default DuckDB file).
    until : str, optional
        ISO time with an offset (``2026-06-08T12:00:00Z``); see :func:`build_feature_matrix`.
    offsets : str, optional
        Explicit decision offsets from each window start (``0,1m,2m,5m,10m,14m``); overrides ``every``.
    every : str
        Decision-time spacing (``30s``, ``1m`` or seconds) from one minute into the window to 30 s
        before its end.
    interval_minutes : int, optional
        Only windows of this length.
    names : sequence of str, optional
        Features to compute (default all).

    Returns
    -------
    (Path, DataFrame)
        The written file and the matrix.
    """
    from pmresearch.data.store import connect
    from pmresearch.labels.decision import parse_offsets

    step = parse_offsets(every)
    if len(step) != 1 or step[0] <= pd.Timedelta(0):
        raise ValueError(f"--every: expected one positive time span (e.g. 30s), got {every!r}")
    upper = None if until is None else to_utc(until, what="--until")
    with connect(db) as store:
        matrix = build_feature_matrix(store, until=upper, interval_minutes=interval_minutes,
                                      every_s=step[0].total_seconds(), offsets=offsets, names=names)
    return write_feature_matrix(matrix, out), matrix
