"""The data a feature computation may read, with each row's knowledge time (DESIGN.md).

:class:`FeatureInputs` bundles canonical frames (only the BTCUSDT 1-minute klines are required).
Every frame carries a ``known_at`` column: the store's own (``Store.as_of`` computes it, clock
offsets included) or, for in-memory frames, the rule of :mod:`pmresearch.data.knowledge` with the
inputs' ``clock_offsets``: klines are known at their bar's close (``ts`` + bar length), oracle
rounds and trades at ``max(ts, received_at + clock offset of their collector)``, quotes and books at
``ts``, external series at their ``known_at`` column when they have one, else at ``ts``.
:meth:`FeatureInputs.truncate` and :meth:`FeatureInputs.permute_after` are what the leakage audit
(and ``pmresearch features --until``) use, so they cut on the same corrected times as the features.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pmresearch._time import ensure_utc, to_utc
from pmresearch.data import knowledge as _knowledge
from pmresearch.data.knowledge import ClockOffsets, bar_length, check_clock_offsets

if TYPE_CHECKING:
    from pmresearch.data.store import Store
    from pmresearch.simulate import World

__all__ = ["FRAME_KINDS", "FeatureInputs", "knowledge_time", "read_external"]

#: FeatureInputs field -> data kind of its frame.
FRAME_KINDS: dict[str, str] = {
    "spot_1m": "klines", "spot_1s": "klines", "eth_1m": "klines", "quotes": "quotes", "books": "books",
    "trades": "trades", "oracle": "oracle",
}
#: Bar length of each klines field.
BAR_LENGTH: dict[str, pd.Timedelta] = {"spot_1m": bar_length("1m"), "spot_1s": bar_length("1s"),
                                       "eth_1m": bar_length("1m")}
#: Columns that locate a row in time or identify it; :meth:`FeatureInputs.permute_after` keeps them.
_FIXED_COLUMNS = {
    "ts", "received_at", "server_ts", "known_at", "slug", "token_id", "outcome", "side", "level", "symbol",
    "interval", "source", "venue", "feed", "market_id", "window_start", "window_end", "interval_minutes",
    "trade_id", "trade_key", "round_id",
}
_BOOK_VALUES = ("price", "size")  # books keep their (token, ts, side, level) layout


#: An empty canonical klines frame: ``FeatureInputs.spot_1m`` when there are no klines.
_EMPTY_KLINES = pd.DataFrame({
    "ts": pd.Series(dtype="datetime64[us, UTC]"), "open": pd.Series(dtype="float64"),
    "high": pd.Series(dtype="float64"), "low": pd.Series(dtype="float64"), "close": pd.Series(dtype="float64"),
    "volume": pd.Series(dtype="float64"), "quote_volume": pd.Series(dtype="float64"),
    "trades": pd.Series(dtype="Int64"), "taker_buy_volume": pd.Series(dtype="float64"),
    "symbol": pd.Series(dtype="str"), "interval": pd.Series(dtype="str"), "source": pd.Series(dtype="str"),
})


def knowledge_time(kind: str, frame: pd.DataFrame, *, bar: pd.Timedelta | None = None,
                   clock_offsets: ClockOffsets | None = None, what: str = "frame") -> pd.Series:
    """Knowledge time of every row of a canonical frame (tz-aware UTC Series aligned with ``frame``).

    A frame that already carries ``known_at`` (every :class:`FeatureInputs` frame does: the store's,
    or the one computed with the inputs' clock offsets) is known then; otherwise the rule of
    :func:`pmresearch.data.knowledge.knowledge_time` applies.

    Parameters
    ----------
    kind : {"klines", "oracle", "trades", "quotes", "books", "external"}
        Data kind of the frame.
    frame : DataFrame
        The frame; it needs ``ts`` (and uses ``received_at`` / ``known_at`` where present).
    bar : Timedelta, optional
        Bar length for klines (else their ``interval`` column).
    clock_offsets : mapping, optional
        Collector -> offset added to its ``received_at`` (oracle, trades).
    what : str
        Name used in error messages.
    """
    if "ts" not in frame.columns:
        raise ValueError(f"{what}: missing column 'ts'")
    if kind == "klines" and bar is None and "interval" not in frame.columns:
        raise ValueError(f"{what}: klines need a bar length (or an 'interval' column)")
    if "known_at" not in frame.columns:
        return _knowledge.knowledge_time(kind, frame, clock_offsets=clock_offsets, bar=bar, what=what)
    ts = ensure_utc(frame["ts"], what=f"{what}, column 'ts'")
    known = ensure_utc(frame["known_at"], what=f"{what}, column 'known_at'")
    early = (known < ts).to_numpy()
    if early.any():
        raise ValueError(f"{what}: known_at earlier than ts at rows {list(frame.index[early][:5])}")
    if kind == "external":
        return known
    # a supplied known_at never makes a row known earlier than its kind's rule (a bar before its
    # close, a tick before its receipt): the later of the two
    rule = _knowledge.knowledge_time(kind, frame.drop(columns=["known_at"]), clock_offsets=clock_offsets, bar=bar,
                                     strict=False, what=what)
    out: pd.Series = known.where(rule.isna() | (known >= rule), rule)
    return out


def read_external(path: str | Path) -> pd.DataFrame:
    """Read an external series (Parquet or CSV) for ``FeatureInputs.external``.

    The file needs a ``ts`` column of tz-aware UTC times (CSV: ISO 8601 with an offset, e.g.
    ``2026-06-15T14:30:00Z``) and numeric value columns; an optional ``known_at`` column gives the
    publication time. Rows are sorted by ``ts``.

    Raises
    ------
    ValueError
        Naming the file and column, on a missing or naive ``ts``/``known_at`` or no numeric column.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"external series {p} does not exist")
    frame = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    if "ts" not in frame.columns:
        raise ValueError(f"{p}: missing column 'ts'")
    for col in ("ts", "known_at"):
        if col not in frame.columns:
            continue
        if not isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            try:
                parsed = pd.to_datetime(frame[col], format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{p}, column {col!r}: cannot parse timestamps ({exc})") from exc
            if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
                raise ValueError(f"{p}, column {col!r}: timestamps have no timezone; write them in UTC with an "
                                 "explicit offset (e.g. 2026-06-15T14:30:00Z)")
            frame[col] = parsed
        frame[col] = ensure_utc(frame[col], what=f"{p}, column {col!r}")
    values = [c for c in frame.columns if c not in ("ts", "known_at") and pd.api.types.is_numeric_dtype(frame[c])]
    if not values:
        raise ValueError(f"{p}: no numeric value column besides 'ts'")
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class FeatureInputs:
    """Canonical frames a feature computation reads (all optional but ``spot_1m``).

    Attributes
    ----------
    spot_1m : DataFrame
        BTCUSDT 1-minute klines (canonical klines schema; ``ts`` is the bar open).
    spot_1s : DataFrame, optional
        BTCUSDT 1-second klines.
    eth_1m : DataFrame, optional
        ETHUSDT 1-minute klines.
    quotes, books, trades, oracle : DataFrame, optional
        Polymarket best bid/ask snapshots, L2 book levels, trades (exchange trades are the rows
        whose ``venue`` is not ``polymarket``), oracle ticks.
    external : mapping of str to DataFrame
        Optional external series (e.g. S&P futures, a fear-and-greed index): ``ts`` plus numeric
        value columns, and optionally ``known_at`` (publication time, ``>= ts``). Each value column
        becomes the feature ``cross__ext_<key>_<column>``, joined as-of by knowledge time.
    clock_offsets : mapping of str to Timedelta
        Per-collector clock offsets (:mod:`pmresearch.data.knowledge`): added to the ``received_at``
        of oracle rows (by ``source``) and trades (by ``venue``) of frames that have no ``known_at``
        column yet. Every frame gets its ``known_at`` column at construction.
    """

    spot_1m: pd.DataFrame
    spot_1s: pd.DataFrame | None = None
    eth_1m: pd.DataFrame | None = None
    quotes: pd.DataFrame | None = None
    books: pd.DataFrame | None = None
    trades: pd.DataFrame | None = None
    oracle: pd.DataFrame | None = None
    external: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    clock_offsets: ClockOffsets = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clock_offsets", check_clock_offsets(self.clock_offsets))
        if self.spot_1m is None:
            raise TypeError("FeatureInputs.spot_1m is required (an empty klines frame when there are none)")
        for name in FRAME_KINDS:
            frame = getattr(self, name)
            if frame is None:
                continue
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"FeatureInputs.{name}: expected a DataFrame, got {type(frame).__name__}")
            if "ts" not in frame.columns:
                raise ValueError(f"FeatureInputs.{name}: missing column 'ts'")
            ensure_utc(frame["ts"], what=f"FeatureInputs.{name}, column 'ts'")
            if "known_at" not in frame.columns or frame["known_at"].isna().any():
                # rows without a knowledge time (e.g. frames concatenated with new rows) get the rule's
                rule = knowledge_time(FRAME_KINDS[name], frame.drop(columns=["known_at"], errors="ignore"),
                                      bar=BAR_LENGTH.get(name), clock_offsets=self.clock_offsets,
                                      what=f"FeatureInputs.{name}")
                known = rule if "known_at" not in frame.columns else ensure_utc(
                    frame["known_at"], what=f"FeatureInputs.{name}, column 'known_at'").fillna(rule)
                object.__setattr__(self, name, frame.assign(known_at=known.astype("datetime64[us, UTC]")))
        for key, frame in self.external.items():
            if not str(key).replace("_", "").isalnum():
                raise ValueError(f"FeatureInputs.external: key {key!r} must be alphanumeric/underscore")
            if "ts" not in frame.columns:
                raise ValueError(f"FeatureInputs.external[{key!r}]: missing column 'ts'")
            ensure_utc(frame["ts"], what=f"FeatureInputs.external[{key!r}], column 'ts'")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_world(cls, world: World) -> FeatureInputs:
        """The inputs of a simulated :class:`~pmresearch.simulate.World` (Data Streams oracle; its books are
        the snapshots' best :data:`~pmresearch.simulate.world.TOP_LEVELS` levels, all the book features read)."""
        return cls(spot_1m=world.klines, spot_1s=world.klines_1s, eth_1m=world.eth_klines, quotes=world.quotes,
                   books=world.top_books, trades=world.trades, oracle=world.oracle)

    @classmethod
    def from_store(cls, store: Store, *, start: pd.Timestamp | str, end: pd.Timestamp | str,
                   until: pd.Timestamp | str | None = None, require_klines: bool = True,
                   clock_offsets: ClockOffsets | None = None) -> FeatureInputs:
        """Read the inputs known in ``[start, min(end, until)]`` from a store (either backend).

        Parameters
        ----------
        store : Store
            A :class:`pmresearch.data.store.Store`; reads go through :meth:`Store.as_of`.
        start, end : Timestamp or str
            tz-aware UTC bounds on the rows' knowledge time. Give ``start`` early enough for the
            longest look-back you need (the catalog's ``lookback`` column; a day covers them all).
        until : Timestamp or str, optional
            Drop rows whose knowledge time is after it (``pmresearch features --until``).
        require_klines : bool
            Raise when no BTCUSDT 1m klines are known in the range (default); when False, ``spot_1m``
            is an empty klines frame instead (the other inputs are still read).
        clock_offsets : mapping, optional
            Per-collector clock offsets, applied by the store's knowledge time: every frame keeps
            the store's ``known_at`` column, so features, ``truncate`` and the leakage audit all
            use the corrected times.
        """
        lo, hi = to_utc(start, what="start"), to_utc(end, what="end")
        if until is not None:
            hi = min(hi, to_utc(until, what="until"))
        since = lo - pd.Timedelta(microseconds=1)
        offsets = check_clock_offsets(clock_offsets)

        def read(table: str, where: Mapping[str, Any] | None = None) -> pd.DataFrame | None:
            frame = store.as_of(table, hi, since=since, where=where, clock_offsets=offsets)
            return frame.reset_index(drop=True) if len(frame) else None

        spot = read("spot_prices", {"symbol": "BTCUSDT", "interval": "1m"})
        if spot is None and not require_klines:
            spot = _EMPTY_KLINES.copy()
        if spot is None:
            raise ValueError(f"{store.url}: no BTCUSDT 1m klines known between {lo} and {hi}")
        return cls(
            spot_1m=spot,
            spot_1s=read("spot_prices", {"symbol": "BTCUSDT", "interval": "1s"}),
            eth_1m=read("spot_prices", {"symbol": "ETHUSDT", "interval": "1m"}),
            quotes=read("polymarket_quotes"), books=read("polymarket_books"), trades=read("trades"),
            oracle=read("oracle_prices"), clock_offsets=offsets,
        )

    def __repr__(self) -> str:
        parts = []
        for name, frame in self.frames().items():
            span = f" {frame['ts'].min()} .. {frame['ts'].max()}" if len(frame) else ""
            parts.append(f"{name}: {len(frame):,} rows{span}")
        return "FeatureInputs(" + "; ".join(parts) + ")"

    # ------------------------------------------------------------------ views
    def frames(self) -> dict[str, pd.DataFrame]:
        """Present frames by field name (externals as ``external:<key>``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name in FRAME_KINDS}
        out = {k: v for k, v in out.items() if v is not None}
        out.update({f"external:{k}": v for k, v in self.external.items()})
        return out

    def known_at(self, name: str) -> pd.Series:
        """Knowledge time of every row of the frame ``name`` (a field, or ``external:<key>``)."""
        if name.startswith("external:"):
            key = name.split(":", 1)[1]
            return knowledge_time("external", self.external[key], what=f"external[{key!r}]")
        frame = getattr(self, name)
        return knowledge_time(FRAME_KINDS[name], frame, bar=BAR_LENGTH.get(name), clock_offsets=self.clock_offsets,
                              what=f"FeatureInputs.{name}")

    def has(self, name: str) -> bool:
        """Whether the frame ``name`` is present and non-empty."""
        frame = getattr(self, name, None)
        return frame is not None and len(frame) > 0

    def truncate(self, until: pd.Timestamp | str) -> FeatureInputs:
        """The inputs without rows whose knowledge time is after ``until``."""
        cut = to_utc(until, what="until")
        changes: dict[str, Any] = {}
        for name, frame in self.frames().items():
            keep = (self.known_at(name) <= cut).to_numpy()
            if name.startswith("external:"):
                continue
            changes[name] = frame.loc[keep].reset_index(drop=True)
        changes["external"] = {
            k: v.loc[(self.known_at(f"external:{k}") <= cut).to_numpy()].reset_index(drop=True)
            for k, v in self.external.items()
        }
        return replace(self, **changes)

    def permute_after(self, t: pd.Timestamp | str, rng: np.random.Generator) -> FeatureInputs:
        """The inputs with the values of every row known after ``t`` shuffled among those rows.

        Time and identity columns (``ts``, ``received_at``, ``slug``, ``side``, ``level``, ...)
        stay in place so every row keeps its knowledge time; the value columns of the rows known
        after ``t`` are permuted jointly (whole rows, so e.g. a bar stays a valid bar).
        """
        cut = to_utc(t, what="t")
        changes: dict[str, Any] = {}
        ext: dict[str, pd.DataFrame] = {}
        for name, frame in self.frames().items():
            after = np.flatnonzero((self.known_at(name) > cut).to_numpy())
            out = frame.copy()
            if len(after) > 1:
                cols = [c for c in frame.columns if c not in _FIXED_COLUMNS]
                if name == "books":
                    cols = [c for c in _BOOK_VALUES if c in frame.columns]
                perm = after[rng.permutation(len(after))]
                for c in cols:
                    values = frame[c].to_numpy(copy=True)
                    values[after] = frame[c].to_numpy()[perm]
                    out[c] = pd.Series(values, index=frame.index, dtype=frame[c].dtype)
            if name.startswith("external:"):
                ext[name.split(":", 1)[1]] = out
            else:
                changes[name] = out
        changes["external"] = ext
        return replace(self, **changes)
