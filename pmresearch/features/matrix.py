"""The feature matrix: decision rows (labels, market state) x every registered feature.

:func:`build_feature_matrix` is what ``pmresearch features`` writes: :func:`pmresearch.labels.decision_rows`
joined column-wise with :func:`pmresearch.features.compute_features` on the same rows. With ``until``
both halves ignore every row whose knowledge time (DESIGN.md) is after it, so the matrix built at
``until`` equals one built from a store that only holds what was known then.

:func:`store_feature_matrix` saves a matrix into the store's ``features`` table (``pmresearch
features --store``): the decision-row columns as columns and the feature values as one JSON object
per row in ``values``, replacing stored rows with the same ``(slug, t)``; :func:`read_feature_matrix`
reads it back as the same frame (columns, dtypes, values, NaN where NaN).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pmresearch._time import to_utc
from pmresearch.data.store import Store
from pmresearch.features.engine import compute_features
from pmresearch.features.inputs import _EMPTY_KLINES, FeatureInputs
from pmresearch.labels.decision import (
    DECISION_COLUMNS,
    DecisionRowOptions,
    decision_rows,
    decision_rows_from_frames,
)
from pmresearch.labels.schedule import DecisionSchedule, parse_duration_s

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pmresearch.simulate import World

__all__ = [
    "DEFAULT_LOOKBACK",
    "build_feature_matrix",
    "build_feature_matrix_from_world",
    "decode_feature_values",
    "encode_feature_values",
    "features_command",
    "read_feature_matrix",
    "store_feature_matrix",
    "write_feature_matrix",
]

#: Data read before the first decision time, enough for every registered feature's look-back.
DEFAULT_LOOKBACK = pd.Timedelta(days=1)



def _join(rows: pd.DataFrame, inputs: FeatureInputs | None, names: Sequence[str] | None) -> pd.DataFrame:
    if inputs is None:
        inputs = FeatureInputs(spot_1m=_EMPTY_KLINES.copy())
    feats = compute_features(rows, inputs, names)
    clash = [c for c in feats.columns if c in rows.columns]
    if clash:
        raise ValueError(f"feature names {clash[:5]} collide with decision-row columns")
    return pd.concat([rows, feats], axis=1)


def _store_inputs(store: Store, rows: pd.DataFrame, until: pd.Timestamp | None,
                  lookback: pd.Timedelta, clock_offsets: Mapping[str, pd.Timedelta] | None) -> FeatureInputs | None:
    """The store's feature inputs around the rows (None when there are no rows). Without BTCUSDT
    1m klines there (e.g. an oracle-only day) the other inputs still feed the features that use
    them; kline features are NaN."""
    if rows.empty:
        return None
    return FeatureInputs.from_store(store, start=rows["t"].min() - lookback, end=rows["t"].max(), until=until,
                                    require_klines=False, clock_offsets=clock_offsets)


def build_feature_matrix(
    store: Store,
    *,
    until: pd.Timestamp | str | None = None,
    interval_minutes: int | None = None,
    names: Sequence[str] | None = None,
    lookback: pd.Timedelta = DEFAULT_LOOKBACK,
    clock_offsets: Mapping[str, pd.Timedelta] | None = None,
    **options: Unpack[DecisionRowOptions],
) -> pd.DataFrame:
    """Decision rows x features from a store (DuckDB or PostgreSQL).

    Parameters
    ----------
    store : Store
        An open store (:func:`pmresearch.data.store.connect`); read only.
    until : Timestamp or str, optional
        Ignore rows whose knowledge time is after it: decision rows after it are dropped, labels
        of windows ending after it are null, and feature inputs are truncated there.
    interval_minutes : int, optional
        Only windows of this length (None, the default: every window).
    names : sequence of str, optional
        Features to compute (default: every registered feature).
    lookback : Timedelta
        How much data before the first decision time the features may read.
    clock_offsets : mapping, optional
        See :func:`pmresearch.labels.decision_rows`.
    **options
        ``every_s``, ``first_s``, ``last_s``, ``offsets``, ``schedule`` (decision times: see
        :func:`pmresearch.labels.decision_times`; a :class:`~pmresearch.labels.DecisionSchedule` instead of the
        other four) and ``max_staleness``, passed on to :func:`pmresearch.labels.decision_rows`
        (:class:`~pmresearch.labels.decision.DecisionRowOptions`).

    Returns
    -------
    DataFrame
        :data:`pmresearch.labels.DECISION_COLUMNS` followed by one float64 column per feature
        (``<family>__<name>``), one row per window and decision time, sorted by ``(t, slug)``.
    """
    upper = None if until is None else to_utc(until, what="until")
    rows = decision_rows(store, interval_minutes=interval_minutes, until=upper, clock_offsets=clock_offsets, **options)
    return _join(rows, _store_inputs(store, rows, upper, lookback, clock_offsets), names)


def build_feature_matrix_from_world(
    world: World,
    *,
    interval_minutes: int | None = None,
    until: pd.Timestamp | str | None = None,
    names: Sequence[str] | None = None,
    **options: Unpack[DecisionRowOptions],
) -> pd.DataFrame:
    """Decision rows x features of a simulated world, without a store (same columns and keywords as
    :func:`build_feature_matrix`; the rows from :func:`pmresearch.labels.decision_rows_from_frames`)."""
    upper = None if until is None else to_utc(until, what="until")
    frames = {"markets": world.markets, "oracle": world.oracle, "klines": world.klines, "quotes": world.quotes,
              "books": world.top_books}
    rows = decision_rows_from_frames(frames, interval_minutes=interval_minutes, until=upper, **options)
    inputs = FeatureInputs.from_world(world)
    if upper is not None:
        inputs = inputs.truncate(upper)
    return _join(rows, inputs, names)


def write_feature_matrix(matrix: pd.DataFrame, out: str | Path) -> Path:
    """Write a feature matrix to Parquet (zstd) atomically: a partial file never replaces ``out``."""
    _feature_columns(matrix)  # raises unless every decision-row column is there
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    matrix.to_parquet(tmp, index=False, compression="zstd")
    tmp.replace(path)
    return path


#: Text stored in ``values`` for infinite feature values (JSON has no number for them).
_INF_TEXT = {"Infinity": math.inf, "-Infinity": -math.inf}
_TEXT_COLUMNS = ("slug", "strike_source", "spot_source", "label_source")
_TIME_COLUMNS = ("t", "window_start", "window_end")


def _feature_columns(matrix: pd.DataFrame) -> list[str]:
    missing = [c for c in DECISION_COLUMNS if c not in matrix.columns]
    if missing:
        raise ValueError(f"not a feature matrix: missing decision-row columns {missing}")
    return [c for c in matrix.columns if c not in DECISION_COLUMNS]


def encode_feature_values(matrix: pd.DataFrame) -> pd.Series:
    """The feature values of each row as one JSON object (what the ``features`` table stores in ``values``).

    Parameters
    ----------
    matrix : DataFrame
        A feature matrix (:func:`build_feature_matrix`): every column that is not a decision-row
        column is a feature and must be numeric.

    Returns
    -------
    Series of str
        Same index as ``matrix``: ``{"<family>__<name>": value, ...}`` in column order, floats
        written with ``repr`` precision (so they read back bit for bit), NaN as ``null``, and
        infinities as the strings ``"Infinity"`` / ``"-Infinity"`` (strict JSON has no number for them).

    Raises
    ------
    ValueError
        When a decision-row column is missing or a feature column is not numeric (names the column).
    """
    names = _feature_columns(matrix)
    values = np.empty((len(matrix), len(names)), dtype=object)
    for j, name in enumerate(names):
        col = matrix[name]
        if not isinstance(name, str) or not (pd.api.types.is_numeric_dtype(col.dtype)
                                             and not pd.api.types.is_bool_dtype(col.dtype)):
            raise ValueError(f"feature column {name!r}: expected a float column, got {col.dtype}")
        num = col.to_numpy(dtype="float64", na_value=np.nan)
        out = num.astype(object)  # Python floats: json writes them with repr, which round-trips exactly
        out[np.isnan(num)] = None
        out[num == math.inf] = "Infinity"
        out[num == -math.inf] = "-Infinity"
        values[:, j] = out
    text = [json.dumps(dict(zip(names, row, strict=True)), allow_nan=False, separators=(",", ":"))
            for row in values]
    return pd.Series(text, index=matrix.index, dtype="str")


def _as_float(value: object) -> float:
    if value is None:
        return math.nan
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if isinstance(value, str) and value in _INF_TEXT:
        return _INF_TEXT[value]
    raise ValueError(f"not a feature value: {value!r}")


def decode_feature_values(values: pd.Series) -> pd.DataFrame:
    """The inverse of :func:`encode_feature_values`: one float64 column per feature name.

    Parameters
    ----------
    values : Series
        JSON objects (text); a null entry is a row without feature values (all NaN).

    Returns
    -------
    DataFrame
        Same index as ``values``; columns in order of first appearance; NaN where a value is
        null or a row lacks the name.

    Raises
    ------
    ValueError
        On text that is not a JSON object of numbers (names the row).
    """
    objects: list[dict[str, object]] = []
    names: dict[str, None] = {}
    for pos, text in enumerate(values.tolist()):
        if text is None or (isinstance(text, float) and math.isnan(text)):
            objects.append({})
            continue
        try:
            obj = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"features.values at row {values.index[pos]!r}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"features.values at row {values.index[pos]!r}: expected a JSON object, "
                             f"got {type(obj).__name__}")
        objects.append(obj)
        names.update(dict.fromkeys(obj))
    cols = list(names)
    grid = np.full((len(objects), len(cols)), None, dtype=object)
    keys = tuple(cols)
    where = {c: j for j, c in enumerate(cols)}
    for i, obj in enumerate(objects):
        if tuple(obj) == keys:
            grid[i, :] = list(obj.values())
        else:
            for k, v in obj.items():
                grid[i, where[k]] = v
    convert = np.frompyfunc(_as_float, 1, 1)
    try:
        data = convert(grid).astype("float64") if grid.size else grid.astype("float64")
    except ValueError:
        for i, obj in enumerate(objects):
            for k, v in obj.items():
                try:
                    _as_float(v)
                except ValueError as exc:
                    raise ValueError(f"features.values at row {values.index[i]!r}, feature {k!r}: {exc}") from None
        raise
    return pd.DataFrame(data, index=values.index, columns=pd.Index(cols, dtype=object))


def store_feature_matrix(store: Store, matrix: pd.DataFrame, *, source: str = "feature matrix") -> int:
    """Save a feature matrix into the store's ``features`` table, replacing rows with the same ``(slug, t)``.

    Decision-row columns are stored as columns and the features as one JSON object per row in
    ``values`` (:func:`encode_feature_values`). Rows are replaced, not merged, in one transaction
    (:meth:`pmresearch.data.store.Store.replace_frame`): a later build legitimately changes rows
    (a label unknown under ``until`` becomes known; more data arrives), and a failure leaves the
    table unchanged. Stored rows whose key is not in ``matrix`` stay.

    Parameters
    ----------
    store : Store
        An open store.
    matrix : DataFrame
        A feature matrix (:func:`build_feature_matrix`).
    source : str
        Names the matrix in error messages.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    SchemaError
        When the decision rows do not fit the ``features`` schema (e.g. a null key), naming the column and rows.
    ValueError
        When a decision-row column is missing or a feature column is not numeric.
    """
    frame = matrix[DECISION_COLUMNS].copy()
    frame["values"] = encode_feature_values(matrix)
    return store.replace_frame("features", frame, source)


def read_feature_matrix(
    store: Store,
    *,
    until: pd.Timestamp | str | None = None,
    interval_minutes: int | None = None,
) -> pd.DataFrame:
    """The feature matrix saved in the store's ``features`` table (:func:`store_feature_matrix`).

    Parameters
    ----------
    store : Store
        An open store.
    until : Timestamp or str, optional
        Only rows with ``t <= until``, and labels as known then: the label (and its source) of a
        window ending after ``until`` is null, as :func:`build_feature_matrix` gives with ``until``.
    interval_minutes : int, optional
        Only windows of this length.

    Returns
    -------
    DataFrame
        :data:`pmresearch.labels.DECISION_COLUMNS` with their dtypes, then one float64 column per
        feature (``<family>__<name>``, in stored order), sorted by ``(t, slug)``: equal to the
        matrix that was stored.
    """
    cols = ", ".join(f'"{c}"' for c in [*DECISION_COLUMNS, "values"])
    conds: list[str] = []
    params: list[object] = []
    upper = None if until is None else to_utc(until, what="until")
    if upper is not None:
        conds.append('"t" <= ?')
        params.append(upper.to_pydatetime())
    if interval_minutes is not None:
        conds.append('"interval_minutes" = ?')
        params.append(int(interval_minutes))
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    raw = store.query(f'SELECT {cols} FROM features{where} ORDER BY "t", "slug"', params or None)
    rows = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for col in DECISION_COLUMNS:
        s = raw[col].reset_index(drop=True)
        if col in _TIME_COLUMNS:
            rows[col] = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif col in _TEXT_COLUMNS:
            rows[col] = s.astype("str").where(s.notna(), None)
        elif col == "interval_minutes":
            rows[col] = s.astype("int16")
        elif col == "label":
            rows[col] = s.astype("Int8")
        else:
            rows[col] = s.astype("float64")
    if upper is not None:
        late = rows["window_end"] > upper
        rows.loc[late, "label"] = pd.NA
        rows.loc[late, "label_source"] = None
    feats = decode_feature_values(raw["values"].reset_index(drop=True))
    return pd.concat([rows, feats], axis=1)


def features_command(
    out: str | Path,
    *,
    db: str | None = None,
    until: str | None = None,
    offsets: str | None = None,
    every_s: float | str = 30.0,
    interval_minutes: int | None = None,
    names: Sequence[str] | None = None,
    store: bool = False,
    every: str | None = None,
) -> tuple[Path, pd.DataFrame, tuple[int, int] | None]:
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
        Explicit decision offsets from each window start (``0,1m,2m,5m,10m,14m``); overrides ``every_s``.
        An offset at or after the end of a selected window is an error.
    every_s : float or str
        Decision-time spacing in seconds (or a span such as ``30s``, ``1m``) from one minute into the
        window to 30 s before its end.
    interval_minutes : int, optional
        Only windows of this length.
    names : sequence of str, optional
        Features to compute (default all).
    store : bool
        Also save the matrix into the store's ``features`` table (:func:`store_feature_matrix`),
        replacing stored rows with the same ``(slug, t)``.
    every : str, optional
        Deprecated alias of ``every_s`` (a ``FutureWarning``).

    Returns
    -------
    (Path, DataFrame, (int, int) or None)
        The written file, the matrix, and with ``store`` the rows written to the ``features``
        table and how many of them replaced stored rows.
    """
    import warnings

    from pmresearch.data.store import connect

    if every is not None:
        warnings.warn("features: 'every' is deprecated; use 'every_s'", FutureWarning, stacklevel=2)
        every_s = every
    step_s = parse_duration_s(every_s, what="--every-s")
    if step_s <= 0:
        raise ValueError(f"--every-s: expected a positive time span (e.g. 30 or 30s), got {every_s!r}")
    schedule = DecisionSchedule.from_offsets(offsets) if offsets is not None else DecisionSchedule(every_s=step_s)
    upper = None if until is None else to_utc(until, what="--until")
    stored: tuple[int, int] | None = None
    with connect(db) as db_store:
        matrix = build_feature_matrix(db_store, until=upper, interval_minutes=interval_minutes,
                                      schedule=schedule, names=names)
        if store:
            before = db_store.count("features")
            written = store_feature_matrix(db_store, matrix, source=f"features for {out}")
            stored = (written, before + written - db_store.count("features"))
    return write_feature_matrix(matrix, out), matrix, stored
