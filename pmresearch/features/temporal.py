"""Family ``time``: hour of day and day of week (raw and cyclical), US equity session clock.

Functions of the decision time ``t`` only. The US equity regular session is 09:30-16:00
America/New_York, Monday to Friday, converted per day with the tz database, so the UTC times move
with US daylight saving (13:30-20:00 UTC in summer, 14:30-21:00 UTC in winter). Exchange holidays
are not modelled: a holiday counts as a session day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmresearch._typing import FloatArray, IntArray
from pmresearch.features.context import FeatureContext, to_ns
from pmresearch.features.registry import Block, feature_table, make_block

__all__ = ["BLOCKS", "US_EQUITY_TZ", "temporal_features", "us_session_events"]

US_EQUITY_TZ = "America/New_York"
_OPEN, _CLOSE = pd.Timedelta(hours=9, minutes=30), pd.Timedelta(hours=16)
_NS_PER_MIN = 60e9


def us_session_events(start: pd.Timestamp, end: pd.Timestamp) -> tuple[IntArray, IntArray]:
    """UTC open and close times (ns) of the US regular sessions from a week before ``start`` to a
    week after ``end`` (weekdays; DST-aware)."""
    lo = (start.tz_convert(US_EQUITY_TZ).tz_localize(None).normalize() - pd.Timedelta(days=7))
    hi = (end.tz_convert(US_EQUITY_TZ).tz_localize(None).normalize() + pd.Timedelta(days=8))
    days = pd.date_range(lo, hi, freq="D")
    days = days[days.day_of_week < 5]
    opens = (days + _OPEN).tz_localize(US_EQUITY_TZ).tz_convert("UTC")
    closes = (days + _CLOSE).tz_localize(US_EQUITY_TZ).tz_convert("UTC")
    return to_ns(opens), to_ns(closes)


def temporal_features(t: pd.Series) -> dict[str, FloatArray]:
    """All ``time__`` features of decision times ``t`` (tz-aware UTC)."""
    idx = pd.DatetimeIndex(t).tz_convert("UTC")
    n = len(idx)
    if n == 0:
        return {}
    hour = (idx.hour + idx.minute / 60.0 + idx.second / 3600.0 + idx.microsecond / 3.6e9).to_numpy(np.float64)
    dow = idx.day_of_week.to_numpy(np.float64)
    week = dow + hour / 24.0
    out: dict[str, FloatArray] = {
        "time__hour": hour,
        "time__hour_sin": np.sin(2 * np.pi * hour / 24.0),
        "time__hour_cos": np.cos(2 * np.pi * hour / 24.0),
        "time__dow": dow,
        "time__dow_sin": np.sin(2 * np.pi * week / 7.0),
        "time__dow_cos": np.cos(2 * np.pi * week / 7.0),
        "time__weekend": (dow >= 5).astype(np.float64),
    }
    tn = to_ns(idx)
    opens, closes = us_session_events(idx.min(), idx.max())
    i_open = np.searchsorted(opens, tn, side="right") - 1
    i_close = np.searchsorted(closes, tn, side="right") - 1
    out["time__min_since_us_open"] = (tn - opens[i_open]) / _NS_PER_MIN
    out["time__min_to_us_open"] = (opens[i_open + 1] - tn) / _NS_PER_MIN
    out["time__min_since_us_close"] = (tn - closes[i_close]) / _NS_PER_MIN
    out["time__min_to_us_close"] = (closes[i_close + 1] - tn) / _NS_PER_MIN
    out["time__us_session"] = (opens[i_open] > closes[i_close]).astype(np.float64)
    return out


def _block(ctx: FeatureContext) -> dict[str, FloatArray]:
    return temporal_features(pd.Series(pd.to_datetime(ctx.times(), utc=True)))


_F = feature_table("""
    hour               | 0s | hours        | hour of day UTC, fractional (0-24)
    hour_sin           | 0s | -1..1        | sin(2 pi hour / 24)
    hour_cos           | 0s | -1..1        | cos(2 pi hour / 24)
    dow                | 0s | 0=Mon..6=Sun | day of week UTC
    dow_sin            | 0s | -1..1        | sin(2 pi (dow + hour/24) / 7)
    dow_cos            | 0s | -1..1        | cos(2 pi (dow + hour/24) / 7)
    weekend            | 0s | 0/1          | Saturday or Sunday UTC
    min_since_us_open  | 0s | minutes      | minutes since the last US equity open (09:30 New York, DST-aware)
    min_to_us_open     | 0s | minutes      | minutes to the next US equity open
    min_since_us_close | 0s | minutes      | minutes since the last US equity close (16:00 New York)
    min_to_us_close    | 0s | minutes      | minutes to the next US equity close
    us_session         | 0s | 0/1          | inside the US regular session (holidays not modelled)
""")
#: This family's blocks, in registration order (:mod:`pmresearch.features.families` lists them).
BLOCKS: tuple[Block, ...] = (
    make_block("time", "time", _block, _F, inputs=("rows",)),
)
