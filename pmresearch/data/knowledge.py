"""Knowledge time, defined once (DESIGN.md): when each stored row could have been known.

Every as-of read (SQL in either backend), every in-memory join (decision rows, features, the
leakage audit, ``--until``) and every simulated world uses this module, so the rule for a kind of
data lives in exactly one place: :data:`RULES` names, per data kind,

* the **time column** the row is stamped with (``ts``; ``window_end`` for a market's outcome;
  ``t`` for stored decision rows),
* the **bar rule** of bars (klines are known at their close, ``ts`` plus the bar length of their
  ``interval``; :data:`BAR_LENGTHS` is the one table of bar lengths), or the **receipt rule** of
  rows that carry a receipt time (``max(ts, received_at + clock offset)``: never before the event),
* the **collector** column whose measured clock offset applies to the receipt time (the oracle's
  ``source``, the trades' ``venue``).

:func:`knowledge_time_sql` renders the rule as a SQL expression (DuckDB and PostgreSQL) and
:func:`knowledge_time` computes it on a pandas frame; a property test checks that the two agree
for random frames and offsets. Clock offsets map a collector to the :class:`~pandas.Timedelta`
to **add** to its ``received_at`` (positive when its clock runs behind, as measured by
:func:`pmresearch.data.quality.collector_clock_offsets`); they are applied at microsecond
resolution, the resolution of every stored timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "BAR_LENGTHS",
    "RULES",
    "ClockOffsets",
    "KnowledgeRule",
    "bar_length",
    "check_clock_offsets",
    "knowledge_time",
    "knowledge_time_sql",
]

#: Per-collector clock offsets: collector name -> time to add to its ``received_at``.
ClockOffsets = Mapping[str, pd.Timedelta]

#: Bar length of every kline interval name we read (Binance and Coinbase names). A bar of any
#: other length has no known close: as-of reads never return it (no guess, no look-ahead).
BAR_LENGTHS: dict[str, pd.Timedelta] = {
    "1s": pd.Timedelta(seconds=1), "1m": pd.Timedelta(minutes=1), "3m": pd.Timedelta(minutes=3),
    "5m": pd.Timedelta(minutes=5), "15m": pd.Timedelta(minutes=15), "30m": pd.Timedelta(minutes=30),
    "1h": pd.Timedelta(hours=1), "2h": pd.Timedelta(hours=2), "4h": pd.Timedelta(hours=4),
    "6h": pd.Timedelta(hours=6), "8h": pd.Timedelta(hours=8), "12h": pd.Timedelta(hours=12),
    "1d": pd.Timedelta(days=1), "3d": pd.Timedelta(days=3), "1w": pd.Timedelta(days=7),
}
_US = pd.Timedelta(microseconds=1)


def bar_length(interval: str) -> pd.Timedelta:
    """The bar length of a kline ``interval`` name (``"1m"`` -> 1 minute).

    Raises
    ------
    ValueError
        For a name that is not in :data:`BAR_LENGTHS`.
    """
    try:
        return BAR_LENGTHS[interval]
    except KeyError:
        raise ValueError(f"unknown bar length {interval!r}; known: {', '.join(BAR_LENGTHS)}") from None


@dataclass(frozen=True)
class KnowledgeRule:
    """How the rows of one data kind become known.

    Attributes
    ----------
    kind : str
        The data kind (``klines``, ``oracle``, ...).
    time_column : str
        The row's own time stamp.
    bar_column : str or None
        For bars: the column naming the bar length (known at ``time + length``).
    receipt_column : str or None
        For received rows: the receipt time (known at ``max(time, receipt + offset)``).
    collector_column : str or None
        The column naming the collector whose clock offset applies to the receipt time.
    published_column : str or None
        For external series: an optional publication-time column (known then; ``>= time``).
    """

    kind: str
    time_column: str = "ts"
    bar_column: str | None = None
    receipt_column: str | None = None
    collector_column: str | None = None
    published_column: str | None = None


#: The rule of every data kind (the store's tables map to these kinds).
RULES: dict[str, KnowledgeRule] = {
    "klines": KnowledgeRule("klines", bar_column="interval"),
    "oracle": KnowledgeRule("oracle", receipt_column="received_at", collector_column="source"),
    "trades": KnowledgeRule("trades", receipt_column="received_at", collector_column="venue"),
    "quotes": KnowledgeRule("quotes"),
    "books": KnowledgeRule("books"),
    "book_events": KnowledgeRule("book_events"),
    "markets": KnowledgeRule("markets", time_column="window_end"),
    "features": KnowledgeRule("features", time_column="t"),
    "paper_trades": KnowledgeRule("paper_trades"),
    "external": KnowledgeRule("external", published_column="known_at"),
}


def _rule(kind: str) -> KnowledgeRule:
    try:
        return RULES[kind]
    except KeyError:
        raise ValueError(f"knowledge time: unknown data kind {kind!r}; one of {sorted(RULES)}") from None


def check_clock_offsets(clock_offsets: ClockOffsets | None) -> dict[str, pd.Timedelta]:
    """Validated offsets: names are non-empty text, values Timedeltas at whole microseconds.

    Raises
    ------
    ValueError
        Naming the collector whose offset is not a finite Timedelta, or an empty name.
    """
    out: dict[str, pd.Timedelta] = {}
    for name, off in (clock_offsets or {}).items():
        if not isinstance(name, str) or not name or "'" in name:
            raise ValueError(f"clock offsets: collector name {name!r} must be non-empty text without quotes")
        if not isinstance(off, pd.Timedelta | np.timedelta64) or pd.isna(off):
            raise ValueError(f"clock offsets: offset of {name!r} must be a pandas Timedelta, got {off!r}")
        out[name] = pd.Timedelta(off).round("us")
    return out


def knowledge_time_sql(kind: str, clock_offsets: ClockOffsets | None = None) -> str:
    """The knowledge time of a row of ``kind`` as a SQL expression (DuckDB and PostgreSQL).

    Parameters
    ----------
    kind : str
        A key of :data:`RULES`.
    clock_offsets : mapping, optional
        Collector -> offset added to its receipt time (kinds with a receipt rule only).

    Returns
    -------
    str
        An expression over the table's own columns; NULL for a bar of unknown length.
    """
    rule = _rule(kind)
    t = f'"{rule.time_column}"'
    if rule.bar_column is not None:
        cases = " ".join(f"WHEN '{k}' THEN INTERVAL '{int(v / _US)} microseconds'" for k, v in BAR_LENGTHS.items())
        return f'({t} + CASE "{rule.bar_column}" {cases} ELSE NULL END)'
    if rule.receipt_column is not None:
        offsets = check_clock_offsets(clock_offsets)
        shift = "INTERVAL '0 microseconds'"
        if offsets and rule.collector_column is not None:
            cases = " ".join(f"WHEN '{name}' THEN INTERVAL '{int(off / _US)} microseconds'"
                             for name, off in offsets.items())
            shift = f'CASE "{rule.collector_column}" {cases} ELSE INTERVAL \'0 microseconds\' END'
        return f'greatest({t}, coalesce("{rule.receipt_column}" + {shift}, {t}))'
    return t


def _utc(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    from pmresearch._time import ensure_utc

    if column not in frame.columns:
        raise ValueError(f"{what}: missing column {column!r}")
    return ensure_utc(frame[column], what=f"{what}, column {column!r}")


def knowledge_time(kind: str, frame: pd.DataFrame, *, clock_offsets: ClockOffsets | None = None,
                   bar: pd.Timedelta | None = None, strict: bool = True, what: str = "frame") -> pd.Series:
    """The knowledge time of every row of ``frame`` (a ``datetime64[us, UTC]`` Series aligned with it).

    The pandas twin of :func:`knowledge_time_sql`: both give the same instant for every row.

    Parameters
    ----------
    kind : str
        A key of :data:`RULES`.
    frame : DataFrame
        Rows of that kind with their canonical columns (tz-aware UTC times).
    clock_offsets : mapping, optional
        Collector -> offset added to its receipt time.
    bar : Timedelta, optional
        The bar length of every row (klines), overriding their ``interval`` column.
    strict : bool
        Klines of an unknown bar length raise (default); when False they get NaT, as in SQL.
    what : str
        Names the frame in error messages.

    Raises
    ------
    ValueError
        On a missing or naive time column, an unknown bar length (``strict``), or a publication
        time earlier than the row's time.
    """
    rule = _rule(kind)
    t = _utc(frame, rule.time_column, what)
    if rule.bar_column is not None:
        if bar is not None:
            return (t + pd.Timedelta(bar)).astype("datetime64[us, UTC]")
        if rule.bar_column not in frame.columns:
            raise ValueError(f"{what}: missing column {rule.bar_column!r} (or pass the bar length)")
        lengths = frame[rule.bar_column].map(BAR_LENGTHS)
        unknown = lengths.isna() & frame[rule.bar_column].notna()
        if strict and unknown.any():
            first = frame.index[unknown][0]
            raise ValueError(f"{what}: unknown bar length {frame.loc[first, rule.bar_column]!r} at row {first}; "
                             f"known: {', '.join(BAR_LENGTHS)}")
        return (t + lengths.astype("timedelta64[us]")).astype("datetime64[us, UTC]")
    if rule.receipt_column is not None:
        if rule.receipt_column not in frame.columns:
            return t
        rec = _utc(frame, rule.receipt_column, what)
        offsets = check_clock_offsets(clock_offsets)
        if offsets and rule.collector_column is not None and rule.collector_column in frame.columns:
            shift = frame[rule.collector_column].map(offsets).fillna(pd.Timedelta(0)).astype("timedelta64[us]")
            rec = rec + shift
        out: pd.Series = t.where(rec.isna() | (rec <= t), rec)
        return out.astype("datetime64[us, UTC]")
    if rule.published_column is not None and rule.published_column in frame.columns:
        known = _utc(frame, rule.published_column, what)
        early = known < t
        if early.any():
            raise ValueError(f"{what}: {rule.published_column} earlier than {rule.time_column} at rows "
                             f"{list(frame.index[early][:5])}")
        return known
    return t
