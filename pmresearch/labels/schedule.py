"""When decisions are taken in a market window: one :class:`DecisionSchedule` for every caller.

A schedule is either a **grid** (``every_s``, ``first_s``, ``last_s``: decisions at
``window_start + first_s + k * every_s`` for every ``k`` with the decision at least ``last_s``
before the window's end) or explicit **offsets** from the window start (``offsets_s``, e.g. the
seed's ``0, 1m, 2m, 5m, 10m, 14m``). User parameters are seconds (names end in ``_s``); inside,
every duration is an integer number of microseconds, the resolution of every stored timestamp
(``datetime64[us, UTC]``), so two schedules that print alike give identical times.

An explicit offset at or after a window's end is an error naming the offset and the window, not a
silent drop (an offset of ``99m`` is a typo, not a request for no rows).

Old parameter names (``decision_every_s``, ``first_decision_s``, ``last_decision_s``; the CLI's
``--every``) are deprecated aliases: :data:`DEPRECATED_NAMES` maps them to the current ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["DEPRECATED_NAMES", "DecisionSchedule", "parse_duration_s", "parse_offsets", "rename_deprecated"]

#: Deprecated parameter names -> their current names (configs, notebook parameters, keywords).
DEPRECATED_NAMES: dict[str, str] = {
    "decision_every_s": "every_s", "first_decision_s": "first_s", "last_decision_s": "last_s",
}

_US_PER_S = 1_000_000
_US: Literal["datetime64[us, UTC]"] = "datetime64[us, UTC]"


def rename_deprecated(params: Mapping[str, Any], *, what: str = "parameters",
                      names: Mapping[str, str] = DEPRECATED_NAMES) -> dict[str, Any]:
    """``params`` with deprecated names replaced by current ones (a ``FutureWarning`` per name).

    Raises
    ------
    ValueError
        When both the old and the new name are given.
    """
    out = dict(params)
    for old, new in names.items():
        if old not in out:
            continue
        if new in out:
            raise ValueError(f"{what}: both {old!r} (deprecated) and {new!r} given; keep {new!r}")
        warnings.warn(f"{what}: {old!r} is deprecated; use {new!r}", FutureWarning, stacklevel=3)
        out[new] = out.pop(old)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_duration_s(item: str | float | pd.Timedelta, *, what: str = "duration") -> float:
    """Seconds of one duration: ``"30s"``, ``"1m"``, ``"90"`` (seconds), a number, or a Timedelta."""
    if isinstance(item, pd.Timedelta):
        seconds = item.total_seconds()
    elif isinstance(item, int | float | np.integer | np.floating) and not isinstance(item, bool):
        seconds = float(item)
    else:
        text = str(item).strip()
        try:
            seconds = (float(text) if _is_number(text) else pd.Timedelta(text).total_seconds())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}: cannot read {item!r} as a time span (e.g. 30s, 1m, 90)") from exc
    if not math.isfinite(seconds):
        raise ValueError(f"{what}: {item!r} is not finite")
    return seconds


def parse_offsets(spec: str | Sequence[str | float | pd.Timedelta]) -> list[pd.Timedelta]:
    """Decision offsets from a spec: ``"0,1m,2m,5m,10m,14m"``, ``"30s,90s"`` or a list of them.

    Bare numbers are seconds. Offsets are sorted and deduplicated; a negative one is an error.
    """
    items = [s for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out: list[pd.Timedelta] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        seconds = parse_duration_s(item, what="offsets")
        if seconds < 0:
            raise ValueError(f"offsets: {item!r} is negative; offsets count from the window start")
        out.append(pd.Timedelta(microseconds=round(seconds * _US_PER_S)))
    if not out:
        raise ValueError("offsets: no offset given")
    return sorted(set(out))


def _us(seconds: float, name: str) -> int:
    if not math.isfinite(seconds):
        raise ValueError(f"decision schedule: {name} must be finite, got {seconds!r}")
    return round(seconds * _US_PER_S)


@dataclass(frozen=True)
class DecisionSchedule:
    """When decisions are taken in each market window.

    Parameters
    ----------
    every_s : float, optional
        Seconds between grid decisions (ignored when ``offsets_s`` is given).
    first_s : float
        First grid decision, seconds after the window start.
    last_s : float
        Grid decisions stop at least this many seconds before the window end.
    offsets_s : sequence of float, optional
        Explicit offsets in seconds from the window start; when given, they are the schedule.

    Examples
    --------
    >>> DecisionSchedule(every_s=60, first_s=60, last_s=60).describe()
    'every 60 s from 60 s after the start to 60 s before the end'
    >>> DecisionSchedule.from_offsets("0,1m,2m,5m,10m,14m").offsets_s
    (0.0, 60.0, 120.0, 300.0, 600.0, 840.0)
    """

    every_s: float | None = 30.0
    first_s: float = 60.0
    last_s: float = 30.0
    offsets_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.offsets_s is not None:
            offs = parse_offsets(list(self.offsets_s))
            object.__setattr__(self, "offsets_s", tuple(o / pd.Timedelta(seconds=1) for o in offs))
            return
        if self.every_s is None or not self.every_s > 0 or not math.isfinite(self.every_s):
            raise ValueError(f"decision schedule: every_s must be a positive number of seconds, got {self.every_s!r}")
        for name in ("first_s", "last_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"decision schedule: {name} must be >= 0 seconds, got {value!r}")
        if _us(self.every_s, "every_s") < 1:
            raise ValueError(f"decision schedule: every_s {self.every_s!r} is below one microsecond")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_offsets(cls, spec: str | Sequence[str | float | pd.Timedelta]) -> DecisionSchedule:
        """Explicit offsets from a spec (see :func:`parse_offsets`)."""
        return cls(offsets_s=tuple(o / pd.Timedelta(seconds=1) for o in parse_offsets(spec)))

    @classmethod
    def coerce(cls, schedule: DecisionSchedule | None = None, *, every_s: float | None = 30.0,
               first_s: float = 60.0, last_s: float = 30.0,
               offsets: Sequence[str | float | pd.Timedelta] | str | None = None) -> DecisionSchedule:
        """``schedule`` if given (then the loose keywords must be left at their defaults), else one
        built from them: ``offsets`` when given, else the grid."""
        if schedule is not None:
            if not isinstance(schedule, DecisionSchedule):
                raise TypeError(f"schedule: expected a DecisionSchedule, got {type(schedule).__name__}")
            if offsets is not None or (every_s, first_s, last_s) != (30.0, 60.0, 30.0):
                raise ValueError("give either schedule= or every_s/first_s/last_s/offsets, not both")
            return schedule
        if offsets is not None:
            return cls.from_offsets(offsets)
        return cls(every_s=every_s, first_s=first_s, last_s=last_s)

    # ------------------------------------------------------------------ integer microseconds
    @property
    def every_us(self) -> int | None:
        """Grid spacing in microseconds (None for explicit offsets)."""
        return None if self.offsets_s is not None or self.every_s is None else _us(self.every_s, "every_s")

    @property
    def first_us(self) -> int:
        """First grid decision after the window start, microseconds."""
        return _us(self.first_s, "first_s")

    @property
    def last_us(self) -> int:
        """Minimum time from the last grid decision to the window end, microseconds."""
        return _us(self.last_s, "last_s")

    @property
    def offsets_us(self) -> np.ndarray | None:
        """Explicit offsets in microseconds (int64, sorted), or None for a grid."""
        if self.offsets_s is None:
            return None
        return np.array([_us(o, "offset") for o in self.offsets_s], dtype=np.int64)

    def describe(self) -> str:
        """One line for reports and logs."""
        if self.offsets_s is not None:
            return "at " + ", ".join(f"{o:g} s" for o in self.offsets_s) + " after the window start"
        return (f"every {self.every_s:g} s from {self.first_s:g} s after the start to {self.last_s:g} s "
                "before the end")

    def window_offsets_us(self, length_us: int) -> np.ndarray:
        """Offsets (microseconds, int64) of the decisions in one window of ``length_us``.

        Raises
        ------
        ValueError
            When an explicit offset is at or after the window end.
        """
        offs = self.offsets_us
        if offs is not None:
            if len(offs) and offs[-1] >= length_us:
                raise ValueError(f"decision offset {offs[-1] / _US_PER_S:g} s is at or after the end of a "
                                 f"{length_us / _US_PER_S:g} s window")
            return offs
        every = self.every_us
        assert every is not None
        stop = length_us - self.last_us
        if stop < self.first_us:
            return np.empty(0, dtype=np.int64)
        return np.arange(self.first_us, stop + 1, every, dtype=np.int64)

    def times(self, markets: pd.DataFrame) -> pd.DataFrame:
        """Decision times of each market window.

        Parameters
        ----------
        markets : DataFrame
            ``slug``, ``interval_minutes``, ``window_start``, ``window_end`` (tz-aware UTC).

        Returns
        -------
        DataFrame
            ``slug, interval_minutes, window_start, window_end, t`` sorted by ``(t, slug)``.

        Raises
        ------
        ValueError
            On a missing column, or an explicit offset at or after the end of a window (naming the
            offset, the window and its length: select windows long enough, e.g. ``--interval 15``).
        """
        from pmresearch._time import ensure_utc

        cols = ["slug", "interval_minutes", "window_start", "window_end"]
        missing = [c for c in cols if c not in markets.columns]
        if missing:
            raise ValueError(f"markets: missing column(s) {missing}")
        start = ensure_utc(markets["window_start"], what="markets, column 'window_start'").astype(_US)
        end = ensure_utc(markets["window_end"], what="markets, column 'window_end'").astype(_US)
        epoch = pd.Timestamp(0, tz="UTC")
        start_us = ((start - epoch) // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)
        length_us = ((end - start) // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)
        offs = self.offsets_us
        if offs is not None:
            if len(markets) and len(offs):
                short = np.flatnonzero(offs[-1] >= length_us)
                if len(short):
                    i = int(short[0])
                    raise ValueError(
                        f"decision offset {offs[-1] / _US_PER_S:g} s is at or after the end of window "
                        f"{markets['slug'].iloc[i]!r} ({length_us[i] / _US_PER_S:g} s long; {len(short)} of "
                        f"{len(markets)} windows are too short): pick offsets inside the window or select "
                        "longer windows")
            grid = np.broadcast_to(offs, (len(markets), len(offs)))
            which, k = np.nonzero(np.ones(grid.shape, dtype=bool))
            step = grid[which, k]
        else:
            every = self.every_us
            assert every is not None
            longest = int(length_us.max(initial=0))
            cand = np.arange(self.first_us, max(longest - self.last_us, self.first_us - 1) + 1, every, dtype=np.int64)
            valid = cand[None, :] <= (length_us - self.last_us)[:, None]
            which, k = np.nonzero(valid)
            step = cand[k]
        out = markets[cols].iloc[which].reset_index(drop=True)
        out["window_start"] = start.iloc[which].to_numpy()
        out["window_end"] = end.iloc[which].to_numpy()
        out["window_start"] = out["window_start"].astype(_US)
        out["window_end"] = out["window_end"].astype(_US)
        t_us = start_us[which] + step
        out["t"] = pd.Series(pd.to_datetime(t_us, unit="us", utc=True), dtype=_US)
        return out.sort_values(["t", "slug"], ignore_index=True)
