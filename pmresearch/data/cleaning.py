"""Cleaning: UTC enforcement, de-duplication, gaps, flagged bounded forward-fill, anomaly flags,
collector receipt offsets and clock-skew estimates between sources.

Nothing here silently repairs data: every filled row and every anomaly is a flag column the caller
can see, and forward-fill never carries a value further than the declared maximum gap. Every
function is causal where it looks along time (no flag or fill uses data stamped after the row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from pmresearch._summary import Summary, SummaryMixin
from pmresearch.data.schemas import SchemaError

__all__ = [
    "ClockSkew",
    "ReceiptOffset",
    "deduplicate",
    "ensure_utc",
    "estimate_clock_skew",
    "fill_gaps",
    "find_gaps",
    "flag_books",
    "flag_price_anomalies",
    "flag_quotes",
    "receipt_offset",
]

_ONE_S = pd.Timedelta(seconds=1)
_STALE = pd.Timedelta(seconds=30)
_MAX_LAG = pd.Timedelta(seconds=60)
_TOLERANCE = pd.Timedelta(seconds=2)


def _utc_index(values: pd.Series | pd.Index, what: str) -> pd.DatetimeIndex:
    """``values`` as a tz-aware UTC DatetimeIndex; naive or non-timestamp input is a SchemaError."""
    idx = pd.DatetimeIndex(values) if isinstance(values.dtype, pd.DatetimeTZDtype) else None
    if idx is None:
        kind = "naive timestamps" if pd.api.types.is_datetime64_dtype(values.dtype) else f"dtype {values.dtype}"
        raise SchemaError(f"{what}: {kind}; pmresearch requires tz-aware UTC timestamps")
    return idx.tz_convert("UTC")


def ensure_utc(frame: pd.DataFrame, columns: Sequence[str] | None = None, *, source: str = "frame") -> pd.DataFrame:
    """Return a copy of ``frame`` with its timestamp columns converted to UTC.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame.
    columns : sequence of str, optional
        The timestamp columns to check; default every datetime column.
    source : str
        Name used in error messages (a file name).

    Returns
    -------
    pandas.DataFrame
        The copy, every checked column ``datetime64[..., UTC]``.

    Raises
    ------
    SchemaError
        Naming ``source`` and the column, for naive timestamps, a column that is not a timestamp
        column, or a missing column.
    """
    out = frame.copy()
    names = list(columns) if columns is not None else [
        c for c in out.columns if pd.api.types.is_datetime64_any_dtype(out[c].dtype)]
    for c in names:
        if c not in out.columns:
            raise SchemaError(f"{source}: missing column {c!r}")
        dtype = out[c].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(dtype):
            raise SchemaError(f"{source}: column {c!r}: naive timestamps; pmresearch requires tz-aware UTC")
        else:
            raise SchemaError(f"{source}: column {c!r}: not a timestamp column ({dtype})")
    return out


def deduplicate(frame: pd.DataFrame, keys: Sequence[str], *, source: str = "frame") -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate rows (the first copy stays); return the frame and the number dropped.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows.
    keys : sequence of str
        The columns that identify a row (the table's primary key).
    source : str
        Name used in error messages.

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        The frame without exact repeats, and how many rows were dropped.

    Raises
    ------
    SchemaError
        When rows share ``keys`` but differ elsewhere (names source, keys and rows): which one is
        right cannot be decided here.
    """
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise SchemaError(f"{source}: missing key column(s) {missing}")
    exact = frame.duplicated(keep="first")
    out = frame[~exact]
    clash = out.duplicated(subset=list(keys), keep=False)
    if clash.any():
        raise SchemaError(f"{source}: rows {list(out.index[clash][:5])} share keys {list(keys)} with other values")
    return out, int(exact.sum())


def find_gaps(ts: pd.Series | pd.Index, expected: pd.Timedelta, *, factor: float = 1.5,
              min_gap: pd.Timedelta | None = None, groups: pd.Series | None = None) -> pd.DataFrame:
    """Gaps of a time series: consecutive distinct stamps further apart than the threshold.

    Parameters
    ----------
    ts : pandas.Series or Index
        tz-aware UTC stamps (any order; repeats allowed).
    expected : pandas.Timedelta
        The nominal spacing (bar length, tick period).
    factor : float
        A gap is a spacing longer than ``factor * expected`` ...
    min_gap : pandas.Timedelta, optional
        ... and at least ``min_gap`` (for irregular event streams).
    groups : pandas.Series, optional
        A key per stamp (a market, a token): gaps are found within each group only, so the time
        between two groups is never a gap.

    Returns
    -------
    pandas.DataFrame
        ``start`` (last stamp before), ``end`` (first stamp after), ``duration``, ``missing``
        (whole ``expected`` steps absent) and, with ``groups``, ``group``; sorted by group and start.

    Raises
    ------
    SchemaError
        For naive stamps.
    """
    if expected <= pd.Timedelta(0):
        raise ValueError(f"find_gaps: expected spacing must be positive, got {expected}")
    idx = _utc_index(ts, "find_gaps: ts")
    if groups is not None and len(groups) != len(idx):
        raise ValueError(f"find_gaps: groups ({len(groups)}) and ts ({len(idx)}) differ in length")
    keys = np.zeros(len(idx), dtype=np.int64) if groups is None else pd.factorize(groups.to_numpy())[0]
    frame = pd.DataFrame({"g": keys, "t": idx.as_unit("ns").asi8}).drop_duplicates()
    frame = frame.sort_values(["g", "t"], kind="stable")
    g, t = frame["g"].to_numpy(), frame["t"].to_numpy()
    threshold = expected * factor
    if min_gap is not None:
        threshold = max(threshold, min_gap)
    diff = np.diff(t)
    mask = (g[1:] == g[:-1]) & (diff > threshold.value)
    start = pd.DatetimeIndex(t[:-1][mask], tz="UTC")
    end = pd.DatetimeIndex(t[1:][mask], tz="UTC")
    out = pd.DataFrame({"start": start, "end": end, "duration": pd.to_timedelta(diff[mask], unit="ns"),
                        "missing": np.round(diff[mask] / expected.value).astype(np.int64) - 1})
    if groups is not None:
        labels = pd.factorize(groups.to_numpy())[1]
        out.insert(0, "group", np.asarray(labels)[g[1:][mask]])
    return out


def fill_gaps(frame: pd.DataFrame, *, freq: pd.Timedelta, max_gap: pd.Timedelta, ts: str = "ts",
              columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Complete ``frame`` on a regular ``freq`` grid by forward-fill, never beyond ``max_gap``.

    The grid starts at the first stamp. A grid point without a row is filled from the last real row
    before it only when that row is at most ``max_gap`` old: this is what a live system knows at
    that moment (whether an open gap will turn out long is unknown while it is open), so the fill
    is causal. Grid points further into a longer gap are not created: the gap stays visible.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with unique tz-aware UTC stamps in column ``ts`` (off-grid rows are kept as they are).
    freq : pandas.Timedelta
        Grid step.
    max_gap : pandas.Timedelta
        The oldest a carried value may be.
    ts : str
        The time column.
    columns : sequence of str, optional
        Columns to forward-fill (default all); the others are null on filled rows.

    Returns
    -------
    pandas.DataFrame
        Original rows (``filled=False``) plus inserted rows (``filled=True``), sorted by ``ts``,
        with ``fill_age``: the time since the real row a value was carried from (0 on real rows).

    Raises
    ------
    SchemaError
        For a missing or naive time column.
    ValueError
        For repeated stamps, a non-positive ``freq`` or a negative ``max_gap``.
    """
    if ts not in frame.columns:
        raise SchemaError(f"fill_gaps: missing column {ts!r}")
    if freq <= pd.Timedelta(0) or max_gap < pd.Timedelta(0):
        raise ValueError(f"fill_gaps: need freq > 0 and max_gap >= 0, got freq={freq}, max_gap={max_gap}")
    stamps = _utc_index(frame[ts], f"fill_gaps: column {ts!r}")
    data = frame.set_axis(stamps).drop(columns=[ts]).sort_index()
    if data.index.has_duplicates:
        dup = data.index[data.index.duplicated()][:3]
        raise ValueError(f"fill_gaps: repeated stamps {list(map(str, dup))}; deduplicate first")
    if data.empty:
        return frame.assign(filled=pd.Series(dtype=bool), fill_age=pd.Series(dtype="timedelta64[ns]"))
    grid = pd.date_range(data.index.min(), data.index.max(), freq=freq)
    grid = grid[~grid.isin(data.index)]
    real = pd.Series(data.index, index=data.index)
    source = real.reindex(grid, method="ffill")
    age = pd.Series(grid, index=grid) - source
    keep = (age <= max_gap).to_numpy()
    new = grid[keep]
    cols = list(columns) if columns is not None else list(data.columns)
    unknown = [c for c in cols if c not in data.columns]
    if unknown:
        raise SchemaError(f"fill_gaps: unknown column(s) {unknown}")
    out = data.reindex(data.index.union(new))
    filled = out.index.isin(new)
    origin = pd.DatetimeIndex(pd.Series(out.index.where(~filled), index=out.index).ffill())
    if filled.any():  # each filled row copies the real row it follows, exactly (nulls included)
        for c in cols:
            out.loc[filled, c] = data[c].reindex(origin[filled]).to_numpy()
    out["filled"] = filled
    out["fill_age"] = (pd.Series(out.index, index=out.index) - origin).to_numpy()
    out.index.name = ts
    return out.reset_index()


def flag_price_anomalies(ts: pd.Series, price: pd.Series, *, jump: float = 0.05,
                         within: pd.Timedelta = _ONE_S, k_sigma: float = 8.0,
                         window: int = 300) -> pd.DataFrame:
    """Flag moves larger than ``jump`` (relative) within ``within``, and returns beyond ``k_sigma``.

    ``jump``: the price differs by more than ``jump`` from any earlier price stamped within
    ``within`` before it (so a move spread over several ticks inside one second counts).
    ``sigma``: the return from the previous row exceeds ``k_sigma`` times the standard deviation
    of the ``window`` returns before it (the return itself excluded; at least ``window // 10``).
    Both look only backwards.

    Parameters
    ----------
    ts : pandas.Series
        tz-aware UTC stamps (any order).
    price : pandas.Series
        Positive prices aligned with ``ts``.
    jump, within, k_sigma, window
        The thresholds above.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``price`` (same index): ``ret`` (return from the previous row by time),
        ``jump`` and ``sigma`` (bool).

    Raises
    ------
    SchemaError
        For naive stamps or non-positive prices.
    """
    if len(ts) != len(price):
        raise ValueError(f"flag_price_anomalies: ts ({len(ts)}) and price ({len(price)}) differ in length")
    stamps = _utc_index(ts, "flag_price_anomalies: ts").as_unit("ns").asi8
    p_in = price.to_numpy(dtype="float64")
    bad = ~(p_in > 0)
    if bad.any():
        raise SchemaError(f"flag_price_anomalies: non-positive or NaN price at rows {list(price.index[bad][:5])}")
    order = np.argsort(stamps, kind="stable")
    t = stamps[order]
    p = p_in[order]
    ret = np.full(len(p), np.nan)
    ret[1:] = p[1:] / p[:-1] - 1.0
    s = pd.Series(p, index=pd.DatetimeIndex(t))
    lo = s.rolling(within, closed="left").min().to_numpy()
    hi = s.rolling(within, closed="left").max().to_numpy()
    with np.errstate(invalid="ignore"):
        move = np.fmax(np.abs(p / lo - 1.0), np.abs(p / hi - 1.0))
    is_jump = np.nan_to_num(move, nan=0.0) > jump
    sd = pd.Series(ret).rolling(window, min_periods=max(10, window // 10)).std().shift(1).to_numpy()
    with np.errstate(invalid="ignore"):
        is_sigma = np.abs(ret) > k_sigma * sd
    out = pd.DataFrame({"ret": ret, "jump": is_jump, "sigma": np.nan_to_num(is_sigma, nan=0).astype(bool)})
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return out.iloc[inverse].set_axis(price.index)


def flag_quotes(quotes: pd.DataFrame, *, stale_after: pd.Timedelta = _STALE,
                wide_spread: float = 0.10) -> pd.DataFrame:
    """Flag best bid/ask snapshots of the Up token (and the Down token where logged).

    Parameters
    ----------
    quotes : pandas.DataFrame
        Canonical quotes (``ts``, ``slug``, ``best_bid_up``, ``best_ask_up``, optionally the Down side).
    stale_after : pandas.Timedelta
        ``stale``: the Up best bid/ask has not changed within the market for longer than this.
    wide_spread : float
        ``wide``: ask - bid above this.

    Returns
    -------
    pandas.DataFrame
        Same index as ``quotes``: ``crossed`` (bid > ask), ``locked`` (bid == ask), ``one_sided``
        (exactly one side empty), ``empty`` (both empty), ``wide``, ``stale``, and
        ``crossed_down`` / ``one_sided_down`` for the Down token (False where not logged).

    Raises
    ------
    SchemaError
        For a missing column or naive stamps.
    """
    need = ["ts", "slug", "best_bid_up", "best_ask_up"]
    missing = [c for c in need if c not in quotes.columns]
    if missing:
        raise SchemaError(f"flag_quotes: missing column(s) {missing}")
    _utc_index(quotes["ts"], "flag_quotes: column 'ts'")
    q = quotes.sort_values(["slug", "ts"], kind="stable")
    bid, ask = q["best_bid_up"].astype("float64"), q["best_ask_up"].astype("float64")
    flags = pd.DataFrame(index=q.index)
    flags["crossed"] = (bid > ask).to_numpy()
    flags["locked"] = (bid == ask).to_numpy()
    flags["one_sided"] = (bid.isna() ^ ask.isna()).to_numpy()
    flags["empty"] = (bid.isna() & ask.isna()).to_numpy()
    flags["wide"] = ((ask - bid) > wide_spread).to_numpy()
    state = bid.astype(str) + "/" + ask.astype(str)
    change = (state != state.groupby(q["slug"]).shift(1)) | (q["slug"] != q["slug"].shift(1))
    run_id = change.cumsum()
    since = q["ts"].groupby(run_id).transform("min")
    flags["stale"] = ((q["ts"] - since) > stale_after).to_numpy()
    if {"best_bid_down", "best_ask_down"} <= set(q.columns):
        bd, ad = q["best_bid_down"].astype("float64"), q["best_ask_down"].astype("float64")
        flags["crossed_down"] = (bd > ad).to_numpy()
        flags["one_sided_down"] = (bd.isna() ^ ad.isna()).to_numpy()
    else:
        flags["crossed_down"] = False
        flags["one_sided_down"] = False
    return flags.reindex(quotes.index)


def flag_books(books: pd.DataFrame) -> pd.DataFrame:
    """Top of book of each L2 snapshot ``(token_id, ts)`` and its flags.

    Parameters
    ----------
    books : pandas.DataFrame
        Canonical L2 levels (``token_id``, ``ts``, ``side``, ``level``, ``price``).

    Returns
    -------
    pandas.DataFrame
        One row per snapshot: ``token_id``, ``ts``, ``best_bid``, ``best_ask`` (NaN for an empty
        side), ``crossed`` (best bid > best ask), ``locked`` (equal), ``one_sided`` (one side empty).

    Raises
    ------
    SchemaError
        For a missing column or naive stamps.
    """
    need = ["token_id", "ts", "side", "level", "price"]
    missing = [c for c in need if c not in books.columns]
    if missing:
        raise SchemaError(f"flag_books: missing column(s) {missing}")
    _utc_index(books["ts"], "flag_books: column 'ts'")
    snaps = books[["token_id", "ts"]].drop_duplicates()
    top = books[books["level"] == 0].pivot_table(index=["token_id", "ts"], columns="side", values="price",
                                                 aggfunc="first")
    top = top.reindex(pd.MultiIndex.from_frame(snaps))
    for side in ("bid", "ask"):
        if side not in top.columns:
            top[side] = np.nan
    out = pd.DataFrame({"best_bid": top["bid"].astype("float64"), "best_ask": top["ask"].astype("float64")})
    out["crossed"] = (out["best_bid"] > out["best_ask"]).to_numpy()
    out["locked"] = (out["best_bid"] == out["best_ask"]).to_numpy()
    out["one_sided"] = (out["best_bid"].isna() ^ out["best_ask"].isna()).to_numpy()
    return out.reset_index().sort_values(["token_id", "ts"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ReceiptOffset(SummaryMixin):
    """How a collector's receipt stamps ``received_at`` compare with the event times ``ts``.

    Attributes
    ----------
    offset : pandas.Timedelta
        What to add to ``received_at`` to correct the collector's clock: the smallest shift that
        makes receipts follow their events (a receipt can never precede its event), i.e. minus the
        ``quantile``-th quantile of ``received_at - ts`` when that is negative, else 0. A low
        quantile, not the minimum, so a few mis-stamped rows do not set it.
    share_early : float
        Share of rows stamped as received before they happened (impossible with a correct clock).
    median_latency : pandas.Timedelta
        Median of ``received_at - ts`` as recorded (before correction).
    n : int
        Rows with both stamps.
    quantile : float
        The quantile used.
    """

    offset: pd.Timedelta
    share_early: float
    median_latency: pd.Timedelta
    n: int
    quantile: float = 0.01

    @cached_property
    def corrected_median_latency(self) -> pd.Timedelta:
        """Median receipt latency after adding :attr:`offset`."""
        return self.median_latency + self.offset

    def summary(self) -> Summary:
        """The estimate as a :class:`~pmresearch._summary.Summary`: a one-row table (seconds) and one line."""
        table = pd.DataFrame({"n": [self.n], "share_early": [self.share_early],
                              "offset_s": [self.offset.total_seconds()],
                              "median_latency_s": [self.median_latency.total_seconds()],
                              "corrected_median_latency_s": [self.corrected_median_latency.total_seconds()],
                              "quantile": [self.quantile]}, index=pd.Index(["receipts"]))
        line = (f"n={self.n}: {self.share_early:.0%} received before the event; clock offset "
                f"{self.offset.total_seconds():+.3f} s; median receipt latency "
                f"{self.median_latency.total_seconds():+.3f} s recorded, "
                f"{self.corrected_median_latency.total_seconds():+.3f} s corrected")
        return Summary("Collector clock offset", (("offset", table),), (line,))


def receipt_offset(ts: pd.Series, received_at: pd.Series, *, quantile: float = 0.01) -> ReceiptOffset:
    """Estimate a collector's clock offset from event times and its receipt times (both tz-aware UTC).

    Parameters
    ----------
    ts, received_at : pandas.Series
        Event and receipt stamps, aligned (rows where either is null are ignored).
    quantile : float
        Low quantile of ``received_at - ts`` taken as the fastest receipt (see :class:`ReceiptOffset`).

    Returns
    -------
    ReceiptOffset
        The estimate (offset 0 when receipts already follow events).
    """
    if not 0.0 <= quantile < 0.5:
        raise ValueError(f"receipt_offset: quantile must be in [0, 0.5), got {quantile}")
    t = _utc_index(ts, "receipt_offset: ts")
    r = _utc_index(received_at, "receipt_offset: received_at")
    if len(t) != len(r):
        raise ValueError(f"receipt_offset: ts ({len(t)}) and received_at ({len(r)}) differ in length")
    both = ~(np.asarray(pd.isna(t)) | np.asarray(pd.isna(r)))
    lag = r.as_unit("ns").asi8[both] - t.as_unit("ns").asi8[both]  # exact integer nanoseconds
    if lag.size == 0:
        return ReceiptOffset(pd.Timedelta(0), 0.0, pd.Timedelta(0), 0, quantile)
    low = int(np.quantile(lag, quantile, method="lower"))
    return ReceiptOffset(offset=pd.Timedelta(max(0, -low), unit="ns"), share_early=float(np.mean(lag < 0)),
                         median_latency=pd.Timedelta(int(np.quantile(lag, 0.5, method="lower")), unit="ns"),
                         n=int(lag.size), quantile=quantile)


@dataclass(frozen=True)
class ClockSkew(SummaryMixin):
    """Lag of source ``b`` behind source ``a``, from the cross-correlation of their returns.

    ``lag > 0`` means ``b`` moves after ``a``: ``b(t)`` tracks ``a(t - lag)``.

    Attributes
    ----------
    lag : pandas.Timedelta
        The lag maximizing the correlation.
    correlation : float
        The correlation at ``lag``.
    correlation_at_zero : float
        The correlation at lag 0 (NaN when not computable).
    tolerance : pandas.Timedelta
        The declared tolerance; :attr:`within_tolerance` compares ``|lag|`` with it.
    step : pandas.Timedelta
        Resolution of the lag grid.
    n : int
        Return pairs of ``b`` used at ``lag``.
    curve : pandas.Series
        Correlation by lag (index: lag in seconds).
    """

    lag: pd.Timedelta
    correlation: float
    correlation_at_zero: float
    tolerance: pd.Timedelta
    step: pd.Timedelta
    n: int
    curve: pd.Series = field(repr=False, compare=False)

    @cached_property
    def within_tolerance(self) -> bool:
        """Whether ``|lag| <= tolerance``."""
        return abs(self.lag) <= self.tolerance

    def summary(self) -> Summary:
        """The estimate as a :class:`~pmresearch._summary.Summary`: a one-row table (seconds) and one line."""
        table = pd.DataFrame({"lag_s": [self.lag.total_seconds()], "correlation": [self.correlation],
                              "correlation_at_zero": [self.correlation_at_zero], "n": [self.n],
                              "step_s": [self.step.total_seconds()], "tolerance_s": [self.tolerance.total_seconds()],
                              "within_tolerance": [self.within_tolerance]}, index=pd.Index(["b behind a"]))
        verdict = "within" if self.within_tolerance else "OUTSIDE"
        line = (f"lag {self.lag.total_seconds():+.1f} s (corr {self.correlation:.2f}, at 0 s "
                f"{self.correlation_at_zero:.2f}, n={self.n}), {verdict} tolerance "
                f"{self.tolerance.total_seconds():.1f} s")
        return Summary("Clock skew", (("skew", table),), (line,))


def _clean_series(s: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    idx = s.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise SchemaError(f"estimate_clock_skew: series {name} needs a tz-aware UTC DatetimeIndex")
    v = s.to_numpy(dtype="float64")
    ok = np.isfinite(v) & (v > 0)
    clean = pd.Series(np.log(v[ok]), index=idx[ok]).sort_index()
    clean = clean[~clean.index.duplicated(keep="last")]
    return pd.DatetimeIndex(clean.index).as_unit("ns").asi8, clean.to_numpy()


def estimate_clock_skew(a: pd.Series, b: pd.Series, *, step: pd.Timedelta = _ONE_S,
                        max_lag: pd.Timedelta = _MAX_LAG, tolerance: pd.Timedelta = _TOLERANCE,
                        max_stale: pd.Timedelta | None = None, min_pairs: int = 20) -> ClockSkew:
    """Estimate how far ``b`` lags ``a`` (e.g. an oracle behind an exchange) by cross-correlation.

    The correlation is taken in ``b``'s own event time, so sparse feeds (a push oracle updating
    once a minute) work as well as dense ones: for each pair of consecutive ``b`` updates
    ``(t_{i-1}, t_i)`` the log return of ``b`` is paired with the log return of ``a`` between
    ``t_{i-1} - L`` and ``t_i - L`` (``a`` read as of those times), and the lag ``L`` on a
    ``step`` grid in ``[-max_lag, max_lag]`` with the highest correlation wins (ties: smallest
    ``|L|``). For two 1 Hz series this is the ordinary cross-correlation of 1-second returns.

    Parameters
    ----------
    a : pandas.Series
        The reference prices (e.g. exchange trades, or kline closes stamped at the bar's close),
        indexed by tz-aware UTC stamps.
    b : pandas.Series
        The other source's prices, same form.
    step, max_lag : pandas.Timedelta
        The lag grid.
    tolerance : pandas.Timedelta
        The declared tolerance reported with the estimate.
    max_stale : pandas.Timedelta, optional
        ``a`` read as of a time is unusable when its last update is older than this (collector
        gaps); default 10 times ``a``'s median spacing, at least ``step``.
    min_pairs : int
        Lags with fewer usable return pairs are skipped.

    Returns
    -------
    ClockSkew
        The estimate and the correlation curve.

    Raises
    ------
    SchemaError
        If an index is not tz-aware.
    ValueError
        If no lag has ``min_pairs`` usable pairs (the series barely overlap).
    """
    if step <= pd.Timedelta(0) or max_lag < pd.Timedelta(0):
        raise ValueError(f"estimate_clock_skew: need step > 0 and max_lag >= 0 (got {step}, {max_lag})")
    ta, va = _clean_series(a, "a")
    tb, vb = _clean_series(b, "b")
    if len(ta) < 2 or len(tb) < 2:
        raise ValueError("estimate_clock_skew: each series needs at least two prices")
    if max_stale is None:
        max_stale = max(pd.Timedelta(int(np.median(np.diff(ta))) * 10, unit="ns"), step)
    stale_ns = max_stale.value
    rb = np.diff(vb)
    k_max = int(max_lag / step)
    lags = np.arange(-k_max, k_max + 1)
    corr = np.full(len(lags), np.nan)
    counts = np.zeros(len(lags), dtype=np.int64)
    for j, k in enumerate(lags):
        when = tb - k * step.value
        pos = np.searchsorted(ta, when, side="right") - 1
        ok = (pos >= 0) & (when - ta[np.maximum(pos, 0)] <= stale_ns) & (when <= ta[-1])
        xa = va[np.maximum(pos, 0)]
        ra = np.diff(xa)
        pair = ok[1:] & ok[:-1]
        x, y = ra[pair], rb[pair]
        counts[j] = int(pair.sum())
        if counts[j] < min_pairs or np.std(x) == 0 or np.std(y) == 0:
            continue
        corr[j] = float(np.corrcoef(x, y)[0, 1])
    if not np.isfinite(corr).any():
        raise ValueError(f"estimate_clock_skew: no lag has {min_pairs} usable return pairs (too little overlap)")
    best = np.nanmax(corr)
    candidates = np.flatnonzero(corr >= best - 1e-12)
    j = int(candidates[np.argmin(np.abs(lags[candidates]))])
    zero = corr[k_max]
    curve = pd.Series(corr, index=pd.Index(lags * step.total_seconds(), name="lag_s"), name="correlation")
    return ClockSkew(lag=int(lags[j]) * step, correlation=float(corr[j]), correlation_at_zero=float(zero),
                     tolerance=tolerance, step=step, n=int(counts[j]), curve=curve)
