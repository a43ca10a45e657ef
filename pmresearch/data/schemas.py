"""Canonical data schemas (pandera) and the one validation path every importer and the simulator use.

The schemas follow ``../shared/data/README.md``. Every timestamp column must be tz-aware UTC;
prices of Polymarket tokens lie in [0, 1]; every float column is finite (``+inf``/``-inf`` are refused;
NaN only where the column is nullable); integer columns hold whole numbers; a window ends after it starts;
keys must be unique. :func:`validate` raises :class:`SchemaError` naming the source, the column and the
first offending rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError as _PanderaSchemaError
from pandera.errors import SchemaErrors as _PanderaSchemaErrors

__all__ = ["KEYS", "SCHEMAS", "SchemaError", "validate"]


class SchemaError(ValueError):
    """A frame does not fit its canonical schema; the message names source, column and rows."""


_PROB = [pa.Check.in_range(0.0, 1.0)]
_POS = [pa.Check.gt(0.0)]
_NONNEG = [pa.Check.ge(0.0)]
#: Columns each frame-wide check reads (named in its error message).
_CHECK_COLUMNS: dict[str, tuple[str, ...]] = {}


def _frame_check(fn: Any, name: str, columns: tuple[str, ...]) -> pa.Check:
    _CHECK_COLUMNS[name] = columns
    return pa.Check(fn, name=name)


#: A market window ends after it starts (markets, quotes and feature rows all carry the window).
_WINDOW = _frame_check(lambda d: d["window_end"] > d["window_start"], "window_end > window_start",
                       ("window_start", "window_end"))


def _utc(nullable: bool = False) -> pa.Column:
    return pa.Column(
        pd.DatetimeTZDtype("us", "UTC"), nullable=nullable, coerce=False,
    )


#: Refuses +inf/-inf (NaN is the null check's business: allowed only in nullable columns).
_FINITE = pa.Check(lambda s: ~np.isinf(s), name="finite", error="finite (not +inf/-inf)")


def _float(nullable: bool = False, checks: list[pa.Check] | None = None) -> pa.Column:
    """A float column; finite unless a range check with finite bounds already refuses infinities."""
    checks = list(checks or [])
    if checks is not _PROB and not any(c is _PROB[0] for c in checks):
        checks.append(_FINITE)
    return pa.Column(float, nullable=nullable, checks=checks, coerce=True)


def _str(nullable: bool = False, checks: list[pa.Check] | None = None) -> pa.Column:
    return pa.Column(str, nullable=nullable, checks=checks or [], coerce=True)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "klines": pa.DataFrameSchema(
        {
            "ts": _utc(),
            "open": _float(checks=_POS), "high": _float(checks=_POS), "low": _float(checks=_POS),
            "close": _float(checks=_POS), "volume": _float(checks=_NONNEG),
            "quote_volume": _float(nullable=True, checks=_NONNEG),
            "trades": pa.Column("Int64", nullable=True, coerce=True),
            "taker_buy_volume": _float(nullable=True, checks=_NONNEG),
            "symbol": _str(), "interval": _str(), "source": _str(),
        },
        checks=[_frame_check(lambda d: (d["high"] >= d[["open", "close", "low"]].max(axis=1)) &
                             (d["low"] <= d[["open", "close"]].min(axis=1)), "high >= open, close >= low",
                             ("open", "high", "low", "close"))],
    ),
    "oracle": pa.DataFrameSchema({
        "ts": _utc(), "price": _float(checks=_POS), "price_exact": _str(nullable=True),
        "round_id": pa.Column("Int64", nullable=True, coerce=True),
        "server_ts": _utc(nullable=True), "received_at": _utc(nullable=True),
        "feed": _str(), "source": _str(),
    }),
    "markets": pa.DataFrameSchema({
        "slug": _str(checks=[pa.Check.str_matches(r"^[a-z0-9]+-updown-\d+m-\d+$")]),
        "asset": _str(), "interval_minutes": pa.Column("int16", coerce=True, checks=[pa.Check.isin([5, 15, 60])]),
        "window_start": _utc(), "window_end": _utc(),
        "outcome_up": pa.Column("Int8", nullable=True, coerce=True, checks=[pa.Check.isin([0, 1])]),
        "outcome_from": _str(nullable=True), "strike": _float(nullable=True, checks=_POS),
        "last_price_up": _float(nullable=True, checks=_PROB), "market_id": _str(nullable=True),
        "clob_token_id_up": _str(nullable=True), "fee_rate": _float(nullable=True, checks=_NONNEG),
        "fee_exponent": _float(nullable=True, checks=_NONNEG), "source": _str(),
    }, checks=[_WINDOW]),
    "quotes": pa.DataFrameSchema({
        "ts": _utc(), "slug": _str(), "market_id": _str(nullable=True),
        "interval_minutes": pa.Column("int16", coerce=True), "window_start": _utc(), "window_end": _utc(),
        "strike": _float(nullable=True, checks=_POS), "strike_logged": _float(nullable=True, checks=_POS),
        "reference_price": _float(nullable=True, checks=_POS),
        "best_bid_up": _float(nullable=True, checks=_PROB), "best_ask_up": _float(nullable=True, checks=_PROB),
        "best_bid_down": _float(nullable=True, checks=_PROB), "best_ask_down": _float(nullable=True, checks=_PROB),
        "source": _str(),
        "true_prob_up": pa.Column(float, nullable=False, required=False, checks=_PROB, coerce=True),
    }, checks=[_WINDOW]),
    "trades": pa.DataFrameSchema({
        "ts": _utc(), "price": _float(checks=_POS), "qty": _float(checks=_POS),
        "side": _str(checks=[pa.Check.isin(["buy", "sell"])]), "received_at": _utc(nullable=True),
        "symbol": _str(), "venue": _str(),
        "trade_id": pa.Column(str, nullable=True, required=False, coerce=True),
        "slug": pa.Column(str, nullable=True, required=False, coerce=True),
        "outcome": pa.Column(str, nullable=True, required=False, coerce=True),
    }),
    "books": pa.DataFrameSchema({
        "ts": _utc(), "slug": _str(nullable=True), "token_id": _str(),
        "outcome": _str(nullable=True), "side": _str(checks=[pa.Check.isin(["bid", "ask"])]),
        "level": pa.Column("int16", coerce=True, checks=_NONNEG), "price": _float(checks=_PROB),
        "size": _float(checks=_NONNEG),
    }),
    "book_events": pa.DataFrameSchema({
        "ts": _utc(), "slug": _str(nullable=True), "token_id": _str(),
        "outcome": _str(nullable=True), "side": _str(checks=[pa.Check.isin(["bid", "ask"])]),
        "price": _float(checks=_PROB), "size": _float(checks=_NONNEG),
    }),
    "features": pa.DataFrameSchema({
        "t": _utc(), "slug": _str(), "interval_minutes": pa.Column("int16", coerce=True),
        "window_start": _utc(), "window_end": _utc(), "tau_s": _float(checks=_NONNEG),
        "strike": _float(nullable=True, checks=_POS), "strike_source": _str(nullable=True),
        "spot": _float(nullable=True, checks=_POS), "spot_source": _str(nullable=True),
        "label": pa.Column("Int8", nullable=True, coerce=True, checks=[pa.Check.isin([0, 1])]),
        "label_source": _str(nullable=True),
        "bid_up": _float(nullable=True, checks=_PROB), "ask_up": _float(nullable=True, checks=_PROB),
        "mid_up": _float(nullable=True, checks=_PROB), "spread_up": _float(nullable=True),
        "bid_size_up": _float(nullable=True, checks=_NONNEG), "ask_size_up": _float(nullable=True, checks=_NONNEG),
        "book_age_s": _float(nullable=True, checks=_NONNEG), "spot_age_s": _float(nullable=True, checks=_NONNEG),
        "values": pa.Column(str, nullable=True, required=False, coerce=True),
    }, checks=[_WINDOW]),
    "paper_trades": pa.DataFrameSchema({
        "session": _str(), "id": _str(), "ts": _utc(), "slug": _str(), "outcome": _str(),
        "side": _str(checks=[pa.Check.isin(["buy", "sell"])]), "price": _float(checks=_PROB),
        "size": _float(checks=_POS), "fee": _float(nullable=True, checks=_NONNEG), "status": _str(nullable=True),
    }),
}

#: Natural keys of each kind within one file (duplicates are an error).
KEYS: dict[str, list[str]] = {
    "klines": ["symbol", "interval", "ts"],
    "oracle": ["feed", "source", "ts"],
    "markets": ["slug"],
    "quotes": ["slug", "ts"],
    "books": ["token_id", "ts", "side", "level"],
    "book_events": ["token_id", "ts", "side", "price"],
    "features": ["slug", "t"],
    "paper_trades": ["session", "id"],
    "trades": [],  # trade ticks may repeat exactly (README); keys come from trade_id or position
}


def _describe(exc: Any, source: str) -> str:
    inner = getattr(exc, "schema_errors", None)
    if inner:  # SchemaErrors (e.g. dtype coercion): describe the first underlying error
        first = inner[0]
        cases = getattr(exc, "failure_cases", None)
        column = getattr(first, "column_name", None)
        if column is None and isinstance(cases, pd.DataFrame) and "column" in cases:
            column = cases["column"].iloc[0]
        if isinstance(cases, pd.DataFrame) and "index" in cases and not cases.empty:
            rows = cases["index"].head(5).tolist()
            vals = cases["failure_case"].head(5).tolist() if "failure_case" in cases else []
            return f"{source}: column {column!r}: wrong dtype, cannot coerce at rows {rows} (values {vals})"
        return f"{source}: column {column!r}: " + str(first).splitlines()[0]
    cases = getattr(exc, "failure_cases", None)
    column = getattr(exc, "column_name", None) or getattr(getattr(exc, "schema", None), "name", None)
    head = f"{source}: column {column!r}: " if column else f"{source}: "
    if isinstance(cases, pd.DataFrame) and not cases.empty:
        rows = list(dict.fromkeys(cases.get("index", pd.Series(dtype=object)).tolist()))[:5]
        check = getattr(exc, "check", None)
        if check == "not_nullable":
            return f"{head}null/NaN values not allowed at rows {rows}"
        what = getattr(check, "error", None) or getattr(check, "name", None) or check or "check"
        if not column:  # a check across columns: its failure cases are whole rows
            cols = _CHECK_COLUMNS.get(str(getattr(check, "name", "")))
            head = f"{source}: columns {list(cols)}: " if cols else head
            return f"{head}failed {what} at rows {rows}"
        vals = cases.get("failure_case", pd.Series(dtype=object)).head(5).tolist()
        return f"{head}failed {what} at rows {rows} (values {vals})"
    return head + str(exc).splitlines()[0]


def validate(frame: pd.DataFrame, kind: str, *, source: str = "frame") -> pd.DataFrame:
    """Validate ``frame`` against the canonical schema ``kind``; return it with canonical dtypes.

    Raises
    ------
    SchemaError
        On a missing column, a naive or non-UTC timestamp, a wrong dtype, a null where none is
        allowed, a value out of range, or duplicate keys; the message names ``source``, the
        column and the first offending rows.
    """
    if kind not in SCHEMAS:
        raise ValueError(f"unknown data kind {kind!r}; one of {sorted(SCHEMAS)}")
    schema = SCHEMAS[kind]
    for name, col in schema.columns.items():
        if name not in frame.columns:
            if col.required:
                raise SchemaError(f"{source}: missing column {name!r} (kind {kind})")
            continue
        dtype = frame[name].dtype
        if isinstance(col.dtype.type, pd.DatetimeTZDtype) or str(col.dtype).startswith("datetime64"):
            if pd.api.types.is_datetime64_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype):
                raise SchemaError(f"{source}: column {name!r}: naive timestamps; pmresearch requires tz-aware UTC")
            if not isinstance(dtype, pd.DatetimeTZDtype):
                if frame[name].isna().all() and col.nullable:
                    frame = frame.assign(**{name: pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")})
                    continue
                raise SchemaError(f"{source}: column {name!r}: expected tz-aware UTC timestamps, got {dtype}")
            frame = frame.assign(**{name: frame[name].dt.tz_convert("UTC").astype("datetime64[us, UTC]")})
    _check_integers(frame, schema, source)
    try:
        out = schema.validate(frame, lazy=False)
    except (_PanderaSchemaError, _PanderaSchemaErrors) as exc:
        raise SchemaError(_describe(exc, source)) from None
    keys = KEYS[kind]
    if keys:
        dup = out.duplicated(subset=keys, keep=False)
        if dup.any():
            raise SchemaError(_duplicate_message(out, dup, keys, source))
    return out


def _check_integers(frame: pd.DataFrame, schema: pa.DataFrameSchema, source: str) -> None:
    """Integer columns hold whole numbers: name the column, rows and values that are not (pandera's
    coercion error names no row), and the nulls of a non-nullable one."""
    for name, col in schema.columns.items():
        if name not in frame.columns or not pd.api.types.is_integer_dtype(str(col.dtype)):
            continue
        values = frame[name]
        if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            continue  # already whole numbers (an Int dtype's nulls are pandera's to judge)
        missing = values.isna()
        number = pd.to_numeric(values.where(~missing), errors="coerce")
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(number) & (number == np.round(number))
        bad = ~missing & ~whole
        if bad.any():
            rows = values.index[bad.to_numpy()][:5].tolist()
            raise SchemaError(f"{source}: column {name!r}: not a whole number at rows {rows} "
                              f"(values {values[bad].head(5).tolist()})")
        if missing.any() and not col.nullable:
            rows = values.index[missing.to_numpy()][:5].tolist()
            raise SchemaError(f"{source}: column {name!r}: null/NaN values not allowed at rows {rows}")


def _duplicate_message(frame: pd.DataFrame, dup: pd.Series, keys: list[str], source: str) -> str:
    """Name the first repeated key, its rows and the columns whose values differ between them."""
    first = frame.loc[dup].iloc[0]
    same = frame.loc[dup][(frame.loc[dup, keys] == first[keys]).all(axis=1)]
    rows = list(same.index[:5])
    differ = [c for c in frame.columns if c not in keys and same[c].astype(str).nunique(dropna=False) > 1]
    what = (f"with conflicting values in column {differ[0]!r}" if differ else "repeated with identical values")
    n = int(dup.sum())
    return (f"{source}: duplicate keys {keys} {what} at rows {rows} (key "
            f"{ {k: str(first[k]) for k in keys} }; {n} rows share a key)")
