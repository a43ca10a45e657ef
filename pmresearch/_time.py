"""Time units and UTC enforcement shared by every layer.

Every timestamp in pmresearch is timezone-aware UTC; naive input is an error, never a guess.
Times to expiry travel as seconds (``tau_s``) and are converted to years of 365 days only at the
pricing boundary (:data:`SECONDS_PER_YEAR`), because crypto trades 24/7.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = ["SECONDS_PER_YEAR", "ensure_utc", "require_utc_column", "to_utc"]

#: Seconds in the 24/7 year used to annualize every volatility and time to expiry.
SECONDS_PER_YEAR: float = 365.0 * 86400.0


def to_utc(value: pd.Timestamp | dt.datetime | dt.date | str, *, what: str = "timestamp") -> pd.Timestamp:
    """Parse one timestamp and return it as a tz-aware UTC ``pd.Timestamp``.

    A bare date (``"2026-06-15"`` or a ``datetime.date``) means midnight UTC. A string or datetime
    that carries a time of day must carry an explicit offset (``Z`` or ``+00:00``); naive times
    are rejected because their zone would be a guess.

    Raises
    ------
    ValueError
        If the value is naive with a time component, or cannot be parsed.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return pd.Timestamp(value.isoformat(), tz="UTC")
    if isinstance(value, str):
        text = value.strip()
        try:
            ts = pd.Timestamp(text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}: cannot parse {value!r} as a timestamp") from exc
        if ts.tzinfo is None:
            is_bare_date = len(text) == 10 and text[4] == "-" and text[7] == "-"
            if not is_bare_date:
                raise ValueError(
                    f"{what}: {value!r} has no timezone; write it in UTC with an explicit offset, "
                    f"e.g. '{text}Z' or '{text}+00:00'"
                )
            ts = ts.tz_localize("UTC")
        return ts.tz_convert("UTC")
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{what}: {value!r} is a naive timestamp; pmresearch requires tz-aware UTC")
    return ts.tz_convert("UTC")


def ensure_utc(series: pd.Series, *, what: str) -> pd.Series:
    """Return ``series`` as ``datetime64[us, UTC]``; naive or non-datetime input is a ``ValueError``.

    Timezone-aware values in another zone (DuckDB returns ``Etc/UTC``) are converted to UTC.
    """
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(series.dtype):
            raise ValueError(f"{what}: timestamps are naive; pmresearch requires tz-aware UTC")
        raise ValueError(f"{what}: expected tz-aware UTC timestamps, got dtype {series.dtype}")
    out: pd.Series = series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out


def require_utc_column(frame: pd.DataFrame, column: str, *, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` and ``column`` unless it holds tz-aware timestamps."""
    if column not in frame.columns:
        raise ValueError(f"{what}: missing column {column!r}")
    ensure_utc(frame[column], what=f"{what}, column {column!r}")
