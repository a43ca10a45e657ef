"""Data-quality assessment of a store: completeness, gaps, anomalies, spreads, clock offsets, label flips.

:func:`assess_quality` reads a :class:`~pmresearch.data.store.Store` (read-only) and returns a
:class:`QualityResult`: frozen tables that ``pmresearch quality`` renders as an HTML report
(:mod:`pmresearch.reports.quality`). Every number comes from :mod:`pmresearch.data.cleaning`;
nothing here modifies the store.

Labels. The outcome of a market by each label source is the labels layer's knowledge, and ``data``
never imports ``labels`` (DESIGN.md: imports point downward). So the label-flip tables are passed
in: :func:`pmresearch.labels.outcome_sources` recomputes each market's outcome from the oracle and
the exchange proxy, and :func:`pmresearch.labels.assess_quality_with_labels` (what ``pmresearch
quality`` and the 05 notebook call) gives them to :func:`assess_quality`, which counts the flips
with :func:`label_agreement`. Called alone, :func:`assess_quality` leaves the label tables empty and
says so in its notes.

Series. Each time series of the store is one row of :attr:`QualityResult.series`: klines per
(symbol, interval, source), oracle rounds per source, trades per (venue, symbol) (Polymarket trades
as one series per venue), quotes per market interval, L2 snapshots per token. A series is *regular*
when its nominal step is known (kline bars) or when at least half its spacings equal the median
spacing (a 1 Hz oracle); completeness is then rows / expected steps inside the series' own span,
clipped to each UTC day. Irregular series (trades, push oracles, quotes, books) have no expected
count: their *coverage* is the share of their span not inside a gap. Quotes and books are gapped
per market / token, so the time between two markets is never a gap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import pandas as pd

from pmresearch._paths import display_path
from pmresearch._summary import Summary, SummaryMixin
from pmresearch.data.cleaning import (
    ClockSkew,
    estimate_clock_skew,
    find_gaps,
    flag_books,
    flag_price_anomalies,
    flag_quotes,
    receipt_offset,
)
from pmresearch.data.store import Store

__all__ = ["QualityConfig", "QualityResult", "assess_quality", "collector_clock_offsets", "label_agreement"]

_DAY = pd.Timedelta(days=1)
_SECONDS = {n: pd.Timedelta(seconds=n) for n in (1, 2, 10, 30, 60)}  # immutable defaults of QualityConfig
_UNITS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}

#: Columns of the frames of a :class:`QualityResult`.
_SERIES_COLS = ["series", "table", "regular", "step_s", "first", "last", "rows", "gaps", "missing", "gap_s",
                "coverage"]
_DAY_COLS = ["series", "table", "day", "rows", "expected", "completeness", "coverage"]
_GAP_COLS = ["series", "where", "start", "end", "duration_s", "missing"]
_ANOMALY_COLS = ["series", "flag", "count", "rows", "share"]
_SPREAD_COLS = ["source", "hour", "n", "median", "mean", "p90", "one_sided_share"]
_SKEW_COLS = ["reference", "target", "lag_s", "correlation", "correlation_at_zero", "n", "tolerance_s",
              "within_tolerance"]
_OFFSET_COLS = ["table", "collector", "n", "share_early", "offset_s", "median_latency_s",
                "corrected_median_latency_s"]
#: The per-market outcome table :func:`assess_quality` takes as ``labels``.
_LABEL_COLS = ["slug", "interval_minutes", "window_start", "recorded", "oracle", "exchange"]
_NOT_ASSESSED = ("label flips: not assessed (pmresearch.labels.assess_quality_with_labels compares the outcome "
                 "sources)")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality assessment (all declared, none hidden).

    Attributes
    ----------
    stale_after : pandas.Timedelta
        A quote whose best bid/ask has not changed for longer is ``stale``.
    wide_spread : float
        A quote wider than this (ask - bid) is ``wide``.
    jump, jump_within : float, pandas.Timedelta
        A price moving more than ``jump`` (relative) within ``jump_within`` is a ``jump``.
    k_sigma, sigma_window : float, int
        A return beyond ``k_sigma`` times the standard deviation of the previous ``sigma_window``
        returns is a ``sigma`` anomaly.
    gap_factor : float
        Regular series: a spacing above ``gap_factor`` steps is a gap.
    irregular_gap_factor, min_gap : float, pandas.Timedelta
        Irregular series: a spacing above ``irregular_gap_factor`` median spacings and above
        ``min_gap`` is a gap.
    skew_step, skew_max_lag, skew_tolerance : pandas.Timedelta
        The lag grid of the exchange-vs-oracle clock-skew estimate and its tolerance.
    receipt_quantile : float
        Quantile used by :func:`~pmresearch.data.cleaning.receipt_offset`.
    max_gaps_listed : int
        The longest gaps listed per series (all are counted).
    """

    stale_after: pd.Timedelta = _SECONDS[30]
    wide_spread: float = 0.10
    jump: float = 0.05
    jump_within: pd.Timedelta = _SECONDS[1]
    k_sigma: float = 8.0
    sigma_window: int = 300
    gap_factor: float = 1.5
    irregular_gap_factor: float = 20.0
    min_gap: pd.Timedelta = _SECONDS[10]
    skew_step: pd.Timedelta = _SECONDS[1]
    skew_max_lag: pd.Timedelta = _SECONDS[60]
    skew_tolerance: pd.Timedelta = _SECONDS[2]
    receipt_quantile: float = 0.01
    max_gaps_listed: int = 50


@dataclass(frozen=True)
class QualityResult(SummaryMixin):
    """The quality assessment of one store (see :func:`assess_quality`).

    Attributes
    ----------
    source : str
        The store URL (without credentials).
    counts : mapping of str to int
        Rows per canonical table (read-only).
    series : pandas.DataFrame
        One row per time series: ``series``, ``table``, ``regular``, ``step_s``, ``first``,
        ``last``, ``rows``, ``gaps``, ``missing``, ``gap_s`` (time left uncovered by gaps: each gap's
        duration beyond one step), ``coverage`` (1 - ``gap_s`` / span).
    completeness : pandas.DataFrame
        Per series and UTC ``day``: ``rows``, ``expected`` (regular series), ``completeness``,
        ``coverage``. Markets: windows expected between the first and last of the day.
    gaps : pandas.DataFrame
        The longest gaps per series: ``series``, ``where`` (the market or token, for quotes and
        books), ``start``, ``end``, ``duration_s``, ``missing``.
    anomalies : pandas.DataFrame
        Per series and ``flag``: ``count``, ``rows`` checked, ``share``.
    spread_by_hour : pandas.DataFrame
        Up-token spread by UTC hour: ``source`` (``quotes 5m`` ..., ``books``), ``hour``, ``n``,
        ``median``, ``mean``, ``p90``, ``one_sided_share``.
    clock_skew : pandas.DataFrame
        Per oracle source: ``reference`` (exchange series), ``target``, ``lag_s``, ``correlation``,
        ``correlation_at_zero``, ``n``, ``tolerance_s``, ``within_tolerance``.
    skew_curves : mapping of str to pandas.Series
        Correlation by lag (seconds) for each row of :attr:`clock_skew` (key ``target``; read-only).
    receipt_offsets : pandas.DataFrame
        Per collector with receipt stamps: ``table``, ``collector``, ``n``, ``share_early``,
        ``offset_s`` (add to ``received_at``; what DESIGN.md's knowledge time uses),
        ``median_latency_s`` (recorded) and ``corrected_median_latency_s``.
    labels : pandas.DataFrame
        Per market: ``slug``, ``interval_minutes``, ``window_start``, ``recorded``, ``oracle``,
        ``exchange`` (Int8, NA when unknown); empty unless the labels layer provided it
        (:func:`pmresearch.labels.assess_quality_with_labels`).
    label_agreement : pandas.DataFrame
        Per comparison and ``interval_minutes`` (``all`` too): ``n`` (both known), ``flips``,
        ``flip_rate`` (:func:`label_agreement` of :attr:`labels`).
    notes : tuple of str
        What could not be computed and why.
    config : QualityConfig
        The thresholds used.
    """

    source: str
    counts: Mapping[str, int]
    series: pd.DataFrame
    completeness: pd.DataFrame
    gaps: pd.DataFrame
    anomalies: pd.DataFrame
    spread_by_hour: pd.DataFrame
    clock_skew: pd.DataFrame
    skew_curves: Mapping[str, pd.Series]
    receipt_offsets: pd.DataFrame
    labels: pd.DataFrame
    label_agreement: pd.DataFrame
    notes: tuple[str, ...] = ()
    config: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        object.__setattr__(self, "skew_curves", MappingProxyType(dict(self.skew_curves)))
        object.__setattr__(self, "notes", tuple(self.notes))

    @cached_property
    def clock_offsets(self) -> Mapping[str, pd.Timedelta]:
        """Collector -> clock offset (read-only), as :meth:`Store.as_of` takes it (``clock_offsets=``)."""
        return MappingProxyType({str(r.collector): pd.Timedelta(float(cast(float, r.offset_s)), unit="s")
                                 for r in self.receipt_offsets.itertuples()})

    def summary(self) -> Summary:
        """Rows per table, series coverage, flagged anomalies, clock skew, collector offsets and label flips.

        Returns
        -------
        Summary
            Tables ``rows`` (per canonical table), ``series`` (rows, gaps, uncovered seconds, coverage),
            ``anomalies`` (the flags raised at least once), ``clock skew``, ``collector clock offsets`` and
            ``label flips`` (over all intervals); the notes are :attr:`notes`.
        """
        flagged = self.anomalies[self.anomalies["count"] > 0]
        flips = self.label_agreement[self.label_agreement["interval_minutes"] == "all"]
        tables = (
            ("rows", pd.DataFrame({"rows": pd.Series(dict(self.counts), dtype="int64")})),
            ("series", self.series.set_index("series")[["rows", "gaps", "gap_s", "coverage"]]),
            ("anomalies", flagged.set_index(["series", "flag"])[["count", "rows", "share"]]),
            ("clock skew", self.clock_skew.set_index("target")[
                ["reference", "lag_s", "correlation", "tolerance_s", "within_tolerance"]]),
            ("collector clock offsets", self.receipt_offsets.set_index("collector")[
                ["table", "offset_s", "share_early", "n"]]),
            ("label flips", flips.set_index("comparison")[["n", "flips", "flip_rate"]]),
        )
        return Summary(f"Data quality of {self.source}", tables, self.notes)


def _step_of(interval: str) -> pd.Timedelta | None:
    m = re.fullmatch(r"(\d+)([smhdw])", str(interval))
    if not m:
        return None
    return pd.Timedelta(f"{int(m.group(1))}{_UNITS[m.group(2)]}")


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


@dataclass
class _Series:
    """One time series under assessment (internal)."""

    name: str
    table: str
    stamps: pd.DatetimeIndex  # every row's stamp (repeats allowed)
    groups: pd.Series | None = None  # per-row sub-series key (market / token) for gaps; None: one series
    step: pd.Timedelta | None = None  # known nominal step (regular)


def _utc(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def _median_step(stamps: pd.DatetimeIndex, groups: pd.Series | None) -> tuple[pd.Timedelta, bool]:
    """Median spacing of distinct stamps within each group, and whether the series is regular."""
    frame = pd.DataFrame({"g": 0 if groups is None else groups.to_numpy(), "t": stamps.as_unit("ns").asi8})
    frame = frame.drop_duplicates().sort_values(["g", "t"], kind="stable")
    d = frame["t"].diff().to_numpy()[(frame["g"] == frame["g"].shift(1)).to_numpy()]
    if len(d) == 0:
        return pd.Timedelta(seconds=1), False
    med = int(np.median(d))
    return pd.Timedelta(max(med, 1), unit="ns"), bool(np.mean(d == med) >= 0.5)


def _day_overlap(starts: np.ndarray, ends: np.ndarray, day0: int, day1: int) -> int:
    """Total nanoseconds of the intervals (start, end) inside [day0, day1)."""
    if len(starts) == 0:
        return 0
    lo = np.maximum(starts, day0)
    hi = np.minimum(ends, day1)
    return int(np.clip(hi - lo, 0, None).sum())


def _assess_series(s: _Series, cfg: QualityConfig) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame]:
    """Summary row, per-day rows and gaps of one series."""
    if s.step is not None:
        step, regular = s.step, True
    else:
        step, regular = _median_step(s.stamps, s.groups)
    factor = cfg.gap_factor if regular else cfg.irregular_gap_factor
    min_gap = None if regular else cfg.min_gap
    gaps = find_gaps(s.stamps, step, factor=factor, min_gap=min_gap, groups=s.groups)
    key = np.zeros(len(s.stamps), dtype=np.int64) if s.groups is None else pd.factorize(s.groups.to_numpy())[0]
    t_ns = pd.Series(s.stamps.as_unit("ns").asi8)
    bounds = t_ns.groupby(key).agg(["min", "max"])
    spans = list(zip(bounds["min"].to_numpy(dtype=np.int64), bounds["max"].to_numpy(dtype=np.int64), strict=True))
    # the uncovered time of a gap: beyond one nominal step after its last stamp
    g_start = (pd.DatetimeIndex(gaps["start"]).as_unit("ns").asi8 + step.value if len(gaps)
               else np.array([], dtype=np.int64))
    g_end = pd.DatetimeIndex(gaps["end"]).as_unit("ns").asi8 if len(gaps) else np.array([], dtype=np.int64)
    span_lo = np.array([a for a, _ in spans], dtype=np.int64)
    span_hi = np.array([b for _, b in spans], dtype=np.int64)
    span_total = int((span_hi - span_lo).sum())
    gap_total = int((g_end - g_start).sum()) if len(gaps) else 0
    coverage = 1.0 - gap_total / span_total if span_total > 0 else float("nan")
    first, last = s.stamps.min(), s.stamps.max()
    row = {"series": s.name, "table": s.table, "regular": regular, "step_s": step.total_seconds(),
           "first": first, "last": last, "rows": len(s.stamps), "gaps": len(gaps),
           "missing": int(gaps["missing"].sum()) if regular and len(gaps) else (0 if regular else pd.NA),
           "gap_s": gap_total / 1e9, "coverage": coverage}
    days = []
    day_of = s.stamps.floor("D")
    rows_per_day = pd.Series(1, index=day_of).groupby(level=0).sum()
    step_ns = step.value
    for day, n in rows_per_day.items():
        day_ts = pd.Timestamp(cast(pd.Timestamp, day))
        d0 = day_ts.value
        d1 = d0 + _DAY.value
        span_day = _day_overlap(span_lo, span_hi + (step_ns if regular else 0), d0, d1)
        gap_day = _day_overlap(g_start, g_end, d0, d1)
        expected = round(span_day / step_ns) if regular else None
        days.append({"series": s.name, "table": s.table, "day": day_ts.date(), "rows": int(n),
                     "expected": expected,
                     "completeness": (min(int(n), expected) / expected) if expected else float("nan"),
                     "coverage": (1.0 - gap_day / span_day) if span_day > 0 else float("nan")})
    where = gaps["group"].astype(str) if "group" in gaps.columns else ""
    listed = gaps.assign(series=s.name, where=where,
                         duration_s=gaps["duration"].dt.total_seconds() if len(gaps) else [])
    listed = listed.sort_values("duration_s", ascending=False).head(cfg.max_gaps_listed)
    return row, days, listed[_GAP_COLS]


def _anomaly_rows(name: str, flags: pd.DataFrame, columns: list[str]) -> Iterator[dict[str, Any]]:
    n = len(flags)
    for c in columns:
        count = int(flags[c].sum()) if n else 0
        yield {"series": name, "flag": c, "count": count, "rows": n, "share": count / n if n else float("nan")}


def label_agreement(labels: pd.DataFrame) -> pd.DataFrame:
    """Label-flip rates between the outcome sources of :attr:`QualityResult.labels`.

    The labels layer builds the table (:func:`pmresearch.labels.outcome_sources`); this only counts.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``interval_minutes`` and the Int8 columns ``recorded``, ``oracle``, ``exchange``.

    Returns
    -------
    pandas.DataFrame
        ``comparison`` (``exchange vs recorded``, ``oracle vs recorded``, ``exchange vs oracle``),
        ``interval_minutes`` (each, and ``all``), ``n`` (markets where both are known), ``flips``
        and ``flip_rate`` (NaN when ``n`` is 0).
    """
    rows = []
    pairs = [("exchange", "recorded"), ("oracle", "recorded"), ("exchange", "oracle")]
    groups: list[tuple[str, pd.DataFrame]] = [("all", labels)]
    groups += [(str(int(cast(int, iv))), g) for iv, g in labels.groupby("interval_minutes", sort=True)]
    for a, b in pairs:
        for iv, g in groups:
            both = g[a].notna() & g[b].notna()
            n = int(both.sum())
            flips = int((g.loc[both, a] != g.loc[both, b]).sum())
            rows.append({"comparison": f"{a} vs {b}", "interval_minutes": iv, "n": n, "flips": flips,
                         "flip_rate": flips / n if n else float("nan")})
    return pd.DataFrame(rows)


def _empty_labels() -> pd.DataFrame:
    """The per-market outcome table without markets."""
    return pd.DataFrame({"slug": pd.Series(dtype=str), "interval_minutes": pd.Series(dtype="int64"),
                         "window_start": pd.Series(dtype="datetime64[us, UTC]"),
                         "recorded": pd.Series(dtype="Int8"), "oracle": pd.Series(dtype="Int8"),
                         "exchange": pd.Series(dtype="Int8")})


def _skew(refs: list[tuple[str, pd.Series]], oracles: list[tuple[str, pd.Series]], cfg: QualityConfig,
          notes: list[str]) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    rows, curves = [], {}
    for target, ob in oracles:
        done = False
        for ref, ra in refs:  # finest reference first
            lo = max(ra.index.min(), ob.index.min()) - cfg.skew_max_lag
            hi = min(ra.index.max(), ob.index.max()) + cfg.skew_max_lag
            if hi <= lo:
                continue
            a, b = ra[(ra.index >= lo) & (ra.index <= hi)], ob[(ob.index >= lo) & (ob.index <= hi)]
            try:
                est: ClockSkew = estimate_clock_skew(a, b, step=cfg.skew_step, max_lag=cfg.skew_max_lag,
                                                     tolerance=cfg.skew_tolerance)
            except ValueError:
                continue
            rows.append({"reference": ref, "target": target, "lag_s": est.lag.total_seconds(),
                         "correlation": est.correlation, "correlation_at_zero": est.correlation_at_zero,
                         "n": est.n, "tolerance_s": est.tolerance.total_seconds(),
                         "within_tolerance": est.within_tolerance})
            curves[target] = est.curve
            done = True
            break
        if not done:
            notes.append(f"clock skew of {target}: no exchange series overlaps it")
    return pd.DataFrame(rows, columns=_SKEW_COLS), curves


def collector_clock_offsets(store: Store, *, quantile: float = 0.01) -> dict[str, pd.Timedelta]:
    """Clock offset of every collector with receipt stamps, for knowledge times (DESIGN.md).

    The collectors are the ``source`` of oracle rows and the ``venue`` of trades (the names
    :func:`pmresearch.data.store.knowledge_time_sql` matches); each offset comes from
    :func:`~pmresearch.data.cleaning.receipt_offset` over all of that collector's rows.

    Parameters
    ----------
    store : Store
        The store (read-only).
    quantile : float
        See :func:`~pmresearch.data.cleaning.receipt_offset`.

    Returns
    -------
    dict of str to pandas.Timedelta
        Pass it as ``Store.as_of(..., clock_offsets=...)``.
    """
    out: dict[str, pd.Timedelta] = {}
    for table, who in (("oracle_prices", "source"), ("trades", "venue")):
        names = store.query(f"SELECT DISTINCT {who} FROM {table} WHERE received_at IS NOT NULL ORDER BY 1")
        for (name,) in names.itertuples(index=False):
            rows = _utc(store.query(f"SELECT ts, received_at FROM {table} WHERE {who} = ? AND received_at IS NOT NULL",
                                    [name]), "ts", "received_at")
            out[str(name)] = receipt_offset(rows["ts"], rows["received_at"], quantile=quantile).offset
    return out


# ------------------------------------------------------------------------- reading the store, table by table
@dataclass
class _Found:
    """What the table readers of :func:`assess_quality` collect, in reading order (internal)."""

    cfg: QualityConfig
    series: list[_Series] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    refs: list[tuple[float, str, pd.Series]] = field(default_factory=list)  # (step s, name, BTC exchange prices)
    oracles: list[tuple[str, pd.Series]] = field(default_factory=list)  # (name, BTC oracle prices)
    offsets: list[dict[str, Any]] = field(default_factory=list)
    spreads: list[pd.DataFrame] = field(default_factory=list)
    market_days: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def price_check(self, name: str, ts: pd.Series, price: pd.Series) -> None:
        """Jump and sigma flags of one price series."""
        cfg = self.cfg
        f = flag_price_anomalies(ts, price, jump=cfg.jump, within=cfg.jump_within, k_sigma=cfg.k_sigma,
                                 window=cfg.sigma_window)
        self.anomalies.extend(_anomaly_rows(name, f, ["jump", "sigma"]))

    def offset_row(self, table: str, collector: str, ts: pd.Series, received: pd.Series) -> None:
        """The receipt clock offset of one collector (nothing when it records no receipt times)."""
        have = received.notna()
        if not have.any():
            return
        off = receipt_offset(ts[have], received[have], quantile=self.cfg.receipt_quantile)
        self.offsets.append({"table": table, "collector": collector, "n": off.n, "share_early": off.share_early,
                             "offset_s": off.offset.total_seconds(),
                             "median_latency_s": off.median_latency.total_seconds(),
                             "corrected_median_latency_s": off.corrected_median_latency.total_seconds()})


def _price_series(values: pd.Series, stamps: pd.Series) -> pd.Series:
    return pd.Series(values.to_numpy(), index=pd.DatetimeIndex(stamps))


def _read_klines(store: Store, found: _Found) -> None:
    """Klines per (symbol, interval, source): a regular series, prices at the bars' closes."""
    keys = store.query('SELECT DISTINCT symbol, "interval", source FROM spot_prices ORDER BY 1, 2, 3')
    for sym, iv, src in keys.itertuples(index=False):
        k = _utc(store.query('SELECT ts, close FROM spot_prices WHERE symbol = ? AND "interval" = ? AND '
                             "source = ? ORDER BY ts", [sym, iv, src]), "ts")
        name = f"klines {sym} {iv} {src}"
        step = _step_of(str(iv))
        found.series.append(_Series(name, "spot_prices", pd.DatetimeIndex(k["ts"]), step=step))
        closes_at = k["ts"] + (step or pd.Timedelta(0))  # a close is the price at the bar's end
        found.price_check(name, closes_at, k["close"])
        if str(sym).upper().startswith("BTC") and step is not None:
            found.refs.append((step.total_seconds(), name, _price_series(k["close"], closes_at)))


def _read_oracle(store: Store, found: _Found) -> None:
    """Oracle rounds per source (and feed, where a source has several), then each source's clock offset."""
    keys = store.query("SELECT DISTINCT source, feed FROM oracle_prices ORDER BY 1, 2")
    multi = keys["source"].duplicated(keep=False)
    for (src, feed), several in zip(keys.itertuples(index=False), multi, strict=True):
        o = _utc(store.query("SELECT ts, price, received_at FROM oracle_prices WHERE source = ? AND feed = ? "
                             "ORDER BY ts", [src, feed]), "ts", "received_at")
        name = f"oracle {src} {feed}" if several else f"oracle {src}"
        found.series.append(_Series(name, "oracle_prices", pd.DatetimeIndex(o["ts"])))
        found.price_check(name, o["ts"], o["price"])
        if str(feed).upper().startswith("BTC"):
            found.oracles.append((name, _price_series(o["price"], o["ts"])))
    for (src,) in keys[["source"]].drop_duplicates().itertuples(index=False):
        o = _utc(store.query("SELECT ts, received_at FROM oracle_prices WHERE source = ? ORDER BY ts, feed",
                             [src]), "ts", "received_at")
        found.offset_row("oracle_prices", str(src), o["ts"], o["received_at"])


def _read_trades(store: Store, found: _Found) -> None:
    """Exchange trades per (venue, symbol) with repeated prints flagged; Polymarket trades as one series."""
    keys = store.query("SELECT DISTINCT venue, symbol FROM trades ORDER BY 1, 2")
    poly = keys["venue"] == "polymarket"
    for venue, sym in keys[~poly].itertuples(index=False):
        t = _utc(store.query("SELECT ts, price, qty, side, received_at FROM trades WHERE venue = ? AND "
                             "symbol = ? ORDER BY ts, trade_key", [venue, sym]), "ts", "received_at")
        name = f"trades {venue} {sym}"
        found.series.append(_Series(name, "trades", pd.DatetimeIndex(t["ts"])))
        found.price_check(name, t["ts"], t["price"])
        repeats = t.duplicated(["ts", "price", "qty", "side"])
        found.anomalies.extend(_anomaly_rows(name, pd.DataFrame({"repeated_print": repeats}), ["repeated_print"]))
        found.offset_row("trades", str(venue), t["ts"], t["received_at"])
        if str(sym).upper().startswith("BTC"):
            found.refs.append((0.0, name, _price_series(t["price"], t["ts"])))
    if poly.any():
        t = _utc(store.query("SELECT ts, received_at FROM trades WHERE venue = 'polymarket' "
                             "ORDER BY ts, trade_key"), "ts", "received_at")
        found.series.append(_Series("trades polymarket", "trades", pd.DatetimeIndex(t["ts"])))
        found.offset_row("trades", "polymarket", t["ts"], t["received_at"])


def _read_quotes(store: Store, found: _Found) -> None:
    """Quotes per market interval (gapped per market), their flags and Up-token spreads."""
    q = _utc(store.query("SELECT ts, slug, interval_minutes, best_bid_up, best_ask_up, best_bid_down, "
                         "best_ask_down FROM polymarket_quotes ORDER BY slug, ts"), "ts")
    flags = flag_quotes(q, stale_after=found.cfg.stale_after, wide_spread=found.cfg.wide_spread)
    for iv, idx in q.groupby("interval_minutes", sort=True).groups.items():
        name = f"quotes {int(cast(int, iv))}m"
        sub = q.loc[idx]
        found.series.append(_Series(name, "polymarket_quotes", pd.DatetimeIndex(sub["ts"]), groups=sub["slug"]))
        found.anomalies.extend(_anomaly_rows(name, flags.loc[idx], list(flags.columns)))
        found.spreads.append(pd.DataFrame({"source": name, "ts": sub["ts"].to_numpy(),
                                           "bid": sub["best_bid_up"].to_numpy(dtype="float64"),
                                           "ask": sub["best_ask_up"].to_numpy(dtype="float64")}))


def _read_books(store: Store, found: _Found) -> None:
    """Top-of-book snapshots (gapped per token), their flags and spreads."""
    b = _utc(store.query("SELECT token_id, ts, side, level, price FROM polymarket_books WHERE level = 0 "
                         "ORDER BY token_id, ts"), "ts")
    top = flag_books(b)
    found.series.append(_Series("books", "polymarket_books", pd.DatetimeIndex(top["ts"]), groups=top["token_id"]))
    found.anomalies.extend(_anomaly_rows("books", top, ["crossed", "locked", "one_sided"]))
    found.spreads.append(pd.DataFrame({"source": "books", "ts": top["ts"].to_numpy(),
                                       "bid": top["best_bid"].to_numpy(), "ask": top["best_ask"].to_numpy()}))


def _read_markets(store: Store, found: _Found) -> None:
    """Markets per (interval, source) and UTC day: windows present of those expected, share resolved."""
    m = _utc(store.query("SELECT slug, interval_minutes, window_start, outcome_up, source FROM "
                         "polymarket_resolutions ORDER BY window_start, slug"), "window_start")
    for (iv, src), g in m.groupby(["interval_minutes", "source"], sort=True):
        step = pd.Timedelta(minutes=int(cast(int, iv)))
        for day, d in g.groupby(g["window_start"].dt.floor("D"), sort=True):
            expected = int((d["window_start"].max() - d["window_start"].min()) / step) + 1
            found.market_days.append({"series": f"markets {int(cast(int, iv))}m {src}",
                                      "table": "polymarket_resolutions", "day": pd.Timestamp(day).date(),
                                      "rows": len(d), "expected": expected,
                                      "completeness": d["window_start"].nunique() / expected,
                                      "coverage": float(d["outcome_up"].notna().mean())})
    if len(found.market_days):
        found.notes.append("markets: completeness = windows present / windows between the day's first and last; "
                           "coverage = share with a recorded outcome")


#: The readers in report order, each run when its table has rows.
_READERS: tuple[tuple[str, Callable[[Store, _Found], None]], ...] = (
    ("spot_prices", _read_klines), ("oracle_prices", _read_oracle), ("trades", _read_trades),
    ("polymarket_quotes", _read_quotes), ("polymarket_books", _read_books),
    ("polymarket_resolutions", _read_markets),
)


# ---------------------------------------------------------------------------------------------- assembling
def _series_tables(found: _Found) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``series``, ``completeness`` and ``gaps`` frames of the series found."""
    series_rows, day_rows, gap_frames = [], [], []
    for s in found.series:
        row, days, gaps = _assess_series(s, found.cfg)
        series_rows.append(row)
        day_rows.extend(days)
        gap_frames.append(gaps)
    day_rows.extend(found.market_days)
    nonempty_gaps = [g for g in gap_frames if len(g)]
    gaps_all = (pd.concat(nonempty_gaps, ignore_index=True) if nonempty_gaps
                else pd.DataFrame({c: pd.Series(dtype=object) for c in _GAP_COLS}))
    return (pd.DataFrame(series_rows, columns=_SERIES_COLS), pd.DataFrame(day_rows, columns=_DAY_COLS),
            gaps_all[_GAP_COLS])


def _spread_by_hour(spreads: list[pd.DataFrame]) -> pd.DataFrame:
    """Up-token spread statistics per source and UTC hour (two-sided, uncrossed rows)."""
    rows = []
    for sp in spreads:
        ts = pd.DatetimeIndex(sp["ts"]).tz_convert("UTC")
        sp = sp.assign(hour=ts.hour, spread=sp["ask"] - sp["bid"],
                       one_sided=sp["bid"].isna() ^ sp["ask"].isna())
        for (src, hour), g in sp.groupby(["source", "hour"], sort=True):
            ok = g["spread"].dropna()
            ok = ok[ok >= 0]
            rows.append({"source": src, "hour": int(cast(int, hour)), "n": len(ok),
                         "median": float(ok.median()) if len(ok) else float("nan"),
                         "mean": float(ok.mean()) if len(ok) else float("nan"),
                         "p90": float(ok.quantile(0.9)) if len(ok) else float("nan"),
                         "one_sided_share": float(g["one_sided"].mean())})
    return pd.DataFrame(rows, columns=_SPREAD_COLS)


def _checked_labels(labels: pd.DataFrame | None, label_notes: Sequence[str], notes: list[str]) -> pd.DataFrame:
    """The per-market outcome table given (an empty one for None), its notes appended to ``notes``."""
    notes.extend(str(n) for n in label_notes)
    if labels is None:
        if not label_notes:
            notes.append(_NOT_ASSESSED)
        return _empty_labels()
    missing = [c for c in _LABEL_COLS if c not in labels.columns]
    if missing:
        raise ValueError(f"assess_quality: labels lack the columns {missing} (expected {_LABEL_COLS}; "
                         "see pmresearch.labels.outcome_sources)")
    return labels


def assess_quality(store: Store, config: QualityConfig | None = None, *, labels: pd.DataFrame | None = None,
                   label_notes: Sequence[str] = ()) -> QualityResult:
    """Assess the data quality of every table of ``store`` (read-only).

    Parameters
    ----------
    store : Store
        A DuckDB or PostgreSQL store (:func:`pmresearch.data.store.connect`).
    config : QualityConfig, optional
        Thresholds; the defaults are documented on :class:`QualityConfig`.
    labels : pandas.DataFrame, optional
        Each market's outcome by source (columns of :attr:`QualityResult.labels`), from the labels layer
        (:func:`pmresearch.labels.outcome_sources`); its flips are counted with :func:`label_agreement`.
        None: no label comparison (empty tables), with a note saying why (``label_notes``, or that labels
        were not assessed).
    label_notes : sequence of str
        What the labels layer could not compute (appended to the notes).

    Returns
    -------
    QualityResult
        Completeness, gaps, anomalies, spreads by hour, clock skew, collector offsets and label flips.

    See Also
    --------
    pmresearch.labels.assess_quality_with_labels : this, with the label flips of the store's markets.
    """
    cfg = config or QualityConfig()
    counts = store.counts()
    found = _Found(cfg)
    for table, read in _READERS:
        if counts.get(table):
            read(store, found)
    series, completeness, gaps = _series_tables(found)
    found.refs.sort(key=lambda r: r[0])
    skew, curves = _skew([(n, s) for _, n, s in found.refs], found.oracles, cfg, found.notes)
    outcomes = _checked_labels(labels, label_notes, found.notes)
    return QualityResult(
        source=_redact(display_path(store.url)), counts=counts, series=series, completeness=completeness,
        gaps=gaps, anomalies=pd.DataFrame(found.anomalies, columns=_ANOMALY_COLS),
        spread_by_hour=_spread_by_hour(found.spreads), clock_skew=skew, skew_curves=curves,
        receipt_offsets=pd.DataFrame(found.offsets, columns=_OFFSET_COLS),
        labels=outcomes, label_agreement=label_agreement(outcomes), notes=tuple(found.notes), config=cfg,
    )
