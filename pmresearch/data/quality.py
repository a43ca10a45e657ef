"""Data-quality assessment of a store: completeness, gaps, anomalies, spreads, clock offsets, label flips.

:func:`assess_quality` reads a :class:`~pmresearch.data.store.Store` (read-only) and returns a
:class:`QualityResult`: frozen tables that ``pmresearch quality`` renders as an HTML report
(:mod:`pmresearch.reports.quality`). Every number comes from :mod:`pmresearch.data.cleaning` and
:func:`pmresearch.labels.outcomes_from_oracle`; nothing here modifies the store.

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

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from pmresearch._paths import display_path
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


def _frame_html(df: pd.DataFrame, caption: str, max_rows: int = 30) -> str:
    body = df.to_html(border=0, index=False, max_rows=max_rows, na_rep="—", float_format=lambda x: f"{x:.4g}")
    return f"<h4>{html.escape(caption)}</h4>{body}"


@dataclass(frozen=True)
class QualityResult:
    """The quality assessment of one store (see :func:`assess_quality`).

    Attributes
    ----------
    source : str
        The store URL (without credentials).
    counts : dict of str to int
        Rows per canonical table.
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
    skew_curves : dict of str to pandas.Series
        Correlation by lag (seconds) for each row of :attr:`clock_skew` (key ``target``).
    receipt_offsets : pandas.DataFrame
        Per collector with receipt stamps: ``table``, ``collector``, ``n``, ``share_early``,
        ``offset_s`` (add to ``received_at``; what DESIGN.md's knowledge time uses),
        ``median_latency_s`` (recorded) and ``corrected_median_latency_s``.
    labels : pandas.DataFrame
        Per market: ``slug``, ``interval_minutes``, ``window_start``, ``recorded``, ``oracle``,
        ``exchange`` (Int8, NA when unknown).
    label_agreement : pandas.DataFrame
        Per comparison and ``interval_minutes`` (``all`` too): ``n`` (both known), ``flips``,
        ``flip_rate``.
    notes : tuple of str
        What could not be computed and why.
    config : QualityConfig
        The thresholds used.
    """

    source: str
    counts: dict[str, int]
    series: pd.DataFrame
    completeness: pd.DataFrame
    gaps: pd.DataFrame
    anomalies: pd.DataFrame
    spread_by_hour: pd.DataFrame
    clock_skew: pd.DataFrame
    skew_curves: dict[str, pd.Series]
    receipt_offsets: pd.DataFrame
    labels: pd.DataFrame
    label_agreement: pd.DataFrame
    notes: tuple[str, ...] = ()
    config: QualityConfig = field(default_factory=QualityConfig)

    @property
    def clock_offsets(self) -> dict[str, pd.Timedelta]:
        """Collector -> clock offset, as :meth:`Store.as_of` takes it (``clock_offsets=``)."""
        return {str(r.collector): pd.Timedelta(float(cast(float, r.offset_s)), unit="s")
                for r in self.receipt_offsets.itertuples()}

    def summary(self) -> str:
        """A plain-text summary: rows, series coverage, anomalies, clock skew, offsets and label flips."""
        lines = [f"Data quality of {self.source}", "rows: " + ", ".join(f"{k} {v:,}" for k, v in self.counts.items())]
        for r in self.series.itertuples():
            lines.append(f"  {r.series}: {r.rows:,} rows, {r.gaps} gaps ({r.gap_s:,.0f} s), coverage {r.coverage:.1%}")
        flagged = self.anomalies[self.anomalies["count"] > 0]
        lines.append("anomalies: " + ("none" if flagged.empty else "; ".join(
            f"{r.series} {r.flag} {r.count:,}" for r in flagged.itertuples())))
        for r in self.clock_skew.itertuples():
            lines.append(f"clock skew {r.target} vs {r.reference}: {r.lag_s:+.1f} s (corr {r.correlation:.2f}), "
                         f"{'within' if r.within_tolerance else 'OUTSIDE'} {r.tolerance_s:.1f} s")
        for r in self.receipt_offsets.itertuples():
            lines.append(f"collector {r.collector}: clock offset {r.offset_s:+.3f} s "
                         f"({r.share_early:.0%} received before the event, n={r.n:,})")
        for r in self.label_agreement[self.label_agreement["interval_minutes"] == "all"].itertuples():
            rate = "n/a" if r.n == 0 else f"{r.flip_rate:.2%}"
            lines.append(f"label flips {r.comparison}: {r.flips} of {r.n} ({rate})")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<h3>Data quality of {html.escape(self.source)}</h3>",
                 _frame_html(self.series, "series"),
                 _frame_html(self.anomalies[self.anomalies["count"] > 0], "anomalies"),
                 _frame_html(self.clock_skew, "clock skew"),
                 _frame_html(self.receipt_offsets, "collector clock offsets"),
                 _frame_html(self.label_agreement, "label flips")]
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "".join(parts)


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
    return row, days, listed[["series", "where", "start", "end", "duration_s", "missing"]]


def _anomaly_rows(name: str, flags: pd.DataFrame, columns: list[str]) -> Iterator[dict[str, Any]]:
    n = len(flags)
    for c in columns:
        count = int(flags[c].sum()) if n else 0
        yield {"series": name, "flag": c, "count": count, "rows": n, "share": count / n if n else float("nan")}


def label_agreement(labels: pd.DataFrame) -> pd.DataFrame:
    """Label-flip rates between the outcome sources of :attr:`QualityResult.labels`.

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


def _labels(store: Store, notes: list[str]) -> pd.DataFrame:
    from pmresearch.labels import SETTLEMENT_SOURCE, exchange_proxy_outcomes, outcomes_from_oracle

    cols = ["slug", "interval_minutes", "window_start", "window_end", "outcome_up"]
    markets = store.query(f"SELECT {', '.join(cols)} FROM polymarket_resolutions ORDER BY window_start, slug")
    empty = pd.DataFrame({"slug": pd.Series(dtype=str), "interval_minutes": pd.Series(dtype="int64"),
                          "window_start": pd.Series(dtype="datetime64[us, UTC]"),
                          "recorded": pd.Series(dtype="Int8"), "oracle": pd.Series(dtype="Int8"),
                          "exchange": pd.Series(dtype="Int8")})
    if markets.empty:
        notes.append("no markets in the store: no label comparison")
        return empty
    markets = _utc(markets, "window_start", "window_end")
    markets["interval_minutes"] = markets["interval_minutes"].astype("int64")
    lo = (markets["window_start"].min() - pd.Timedelta(minutes=5)).to_pydatetime()
    hi = markets["window_end"].max().to_pydatetime()
    oracle = store.query("SELECT ts, price, source FROM oracle_prices WHERE source = ? AND feed = 'BTC/USD' "
                         "AND ts >= ? AND ts <= ? ORDER BY ts", [SETTLEMENT_SOURCE, lo, hi])
    if oracle.empty:
        from_oracle = pd.Series(pd.NA, index=pd.Index(markets["slug"].astype(str)), dtype="Int8")
        notes.append(f"no {SETTLEMENT_SOURCE} ticks over the markets' windows: no oracle outcomes")
    else:
        from_oracle = outcomes_from_oracle(markets, _utc(oracle, "ts"))
    klines = store.query("SELECT ts, open, close, source FROM spot_prices WHERE symbol = 'BTCUSDT' AND "
                         "\"interval\" = '1m' AND ts >= ? AND ts <= ? ORDER BY ts, source", [lo, hi])
    if klines.empty:
        proxy = pd.Series(pd.NA, index=pd.Index(markets["slug"].astype(str)), dtype="Int8")
        notes.append("no BTCUSDT 1m klines over the markets' windows: no exchange outcomes")
    else:
        proxy = exchange_proxy_outcomes(markets, _utc(klines, "ts"))
    return pd.DataFrame({
        "slug": markets["slug"].astype(str).to_numpy(),
        "interval_minutes": markets["interval_minutes"].to_numpy(),
        "window_start": markets["window_start"].to_numpy(),
        "recorded": pd.array(markets["outcome_up"].to_numpy(), dtype="Int8"),
        "oracle": pd.array(from_oracle.to_numpy(), dtype="Int8"),
        "exchange": pd.array(proxy.to_numpy(), dtype="Int8"),
    })


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
    cols = ["reference", "target", "lag_s", "correlation", "correlation_at_zero", "n", "tolerance_s",
            "within_tolerance"]
    return pd.DataFrame(rows, columns=cols), curves


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


def assess_quality(store: Store, config: QualityConfig | None = None) -> QualityResult:
    """Assess the data quality of every table of ``store`` (read-only).

    Parameters
    ----------
    store : Store
        A DuckDB or PostgreSQL store (:func:`pmresearch.data.store.connect`).
    config : QualityConfig, optional
        Thresholds; the defaults are documented on :class:`QualityConfig`.

    Returns
    -------
    QualityResult
        Completeness, gaps, anomalies, spreads by hour, clock skew, collector offsets and label flips.
    """
    cfg = config or QualityConfig()
    notes: list[str] = []
    counts = store.counts()
    series: list[_Series] = []
    anomalies: list[dict[str, Any]] = []
    refs: list[tuple[float, str, pd.Series]] = []
    oracles: list[tuple[str, pd.Series]] = []
    offsets: list[dict[str, Any]] = []
    price_flags = ["jump", "sigma"]

    def price_check(name: str, ts: pd.Series, price: pd.Series) -> None:
        f = flag_price_anomalies(ts, price, jump=cfg.jump, within=cfg.jump_within, k_sigma=cfg.k_sigma,
                                 window=cfg.sigma_window)
        anomalies.extend(_anomaly_rows(name, f, price_flags))

    def offset_row(table: str, collector: str, ts: pd.Series, received: pd.Series) -> None:
        have = received.notna()
        if not have.any():
            return
        off = receipt_offset(ts[have], received[have], quantile=cfg.receipt_quantile)
        offsets.append({"table": table, "collector": collector, "n": off.n, "share_early": off.share_early,
                        "offset_s": off.offset.total_seconds(),
                        "median_latency_s": off.median_latency.total_seconds(),
                        "corrected_median_latency_s": off.corrected_median_latency.total_seconds()})

    # --- klines -------------------------------------------------------------------------------------
    if counts.get("spot_prices"):
        keys = store.query('SELECT DISTINCT symbol, "interval", source FROM spot_prices ORDER BY 1, 2, 3')
        for sym, iv, src in keys.itertuples(index=False):
            k = _utc(store.query('SELECT ts, close FROM spot_prices WHERE symbol = ? AND "interval" = ? AND '
                                 "source = ? ORDER BY ts", [sym, iv, src]), "ts")
            name = f"klines {sym} {iv} {src}"
            step = _step_of(str(iv))
            series.append(_Series(name, "spot_prices", pd.DatetimeIndex(k["ts"]), step=step))
            closes_at = k["ts"] + (step or pd.Timedelta(0))  # a close is the price at the bar's end
            price_check(name, closes_at, k["close"])
            if str(sym).upper().startswith("BTC") and step is not None:
                refs.append((step.total_seconds(), name, pd.Series(k["close"].to_numpy(),
                                                                   index=pd.DatetimeIndex(closes_at))))
    # --- oracle --------------------------------------------------------------------------------------
    if counts.get("oracle_prices"):
        keys = store.query("SELECT DISTINCT source, feed FROM oracle_prices ORDER BY 1, 2")
        multi = keys["source"].duplicated(keep=False)
        for (src, feed), several in zip(keys.itertuples(index=False), multi, strict=True):
            o = _utc(store.query("SELECT ts, price, received_at FROM oracle_prices WHERE source = ? AND feed = ? "
                                 "ORDER BY ts", [src, feed]), "ts", "received_at")
            name = f"oracle {src} {feed}" if several else f"oracle {src}"
            series.append(_Series(name, "oracle_prices", pd.DatetimeIndex(o["ts"])))
            price_check(name, o["ts"], o["price"])
            if str(feed).upper().startswith("BTC"):
                oracles.append((name, pd.Series(o["price"].to_numpy(), index=pd.DatetimeIndex(o["ts"]))))
        for (src,) in keys[["source"]].drop_duplicates().itertuples(index=False):
            o = _utc(store.query("SELECT ts, received_at FROM oracle_prices WHERE source = ? ORDER BY ts, feed",
                                 [src]), "ts", "received_at")
            offset_row("oracle_prices", str(src), o["ts"], o["received_at"])
    # --- trades --------------------------------------------------------------------------------------
    if counts.get("trades"):
        keys = store.query("SELECT DISTINCT venue, symbol FROM trades ORDER BY 1, 2")
        poly = keys["venue"] == "polymarket"
        for venue, sym in keys[~poly].itertuples(index=False):
            t = _utc(store.query("SELECT ts, price, qty, side, received_at FROM trades WHERE venue = ? AND "
                                 "symbol = ? ORDER BY ts, trade_key", [venue, sym]), "ts", "received_at")
            name = f"trades {venue} {sym}"
            series.append(_Series(name, "trades", pd.DatetimeIndex(t["ts"])))
            price_check(name, t["ts"], t["price"])
            repeats = t.duplicated(["ts", "price", "qty", "side"])
            anomalies.extend(_anomaly_rows(name, pd.DataFrame({"repeated_print": repeats}), ["repeated_print"]))
            offset_row("trades", str(venue), t["ts"], t["received_at"])
            if str(sym).upper().startswith("BTC"):
                refs.append((0.0, name, pd.Series(t["price"].to_numpy(), index=pd.DatetimeIndex(t["ts"]))))
        if poly.any():
            t = _utc(store.query("SELECT ts, received_at FROM trades WHERE venue = 'polymarket' "
                                 "ORDER BY ts, trade_key"), "ts", "received_at")
            series.append(_Series("trades polymarket", "trades", pd.DatetimeIndex(t["ts"])))
            offset_row("trades", "polymarket", t["ts"], t["received_at"])
    # --- quotes --------------------------------------------------------------------------------------
    spreads: list[pd.DataFrame] = []
    if counts.get("polymarket_quotes"):
        q = _utc(store.query("SELECT ts, slug, interval_minutes, best_bid_up, best_ask_up, best_bid_down, "
                             "best_ask_down FROM polymarket_quotes ORDER BY slug, ts"), "ts")
        flags = flag_quotes(q, stale_after=cfg.stale_after, wide_spread=cfg.wide_spread)
        for iv, idx in q.groupby("interval_minutes", sort=True).groups.items():
            name = f"quotes {int(cast(int, iv))}m"
            sub = q.loc[idx]
            series.append(_Series(name, "polymarket_quotes", pd.DatetimeIndex(sub["ts"]), groups=sub["slug"]))
            anomalies.extend(_anomaly_rows(name, flags.loc[idx], list(flags.columns)))
            spreads.append(pd.DataFrame({"source": name, "ts": sub["ts"].to_numpy(),
                                         "bid": sub["best_bid_up"].to_numpy(dtype="float64"),
                                         "ask": sub["best_ask_up"].to_numpy(dtype="float64")}))
    # --- books ---------------------------------------------------------------------------------------
    if counts.get("polymarket_books"):
        b = _utc(store.query("SELECT token_id, ts, side, level, price FROM polymarket_books WHERE level = 0 "
                             "ORDER BY token_id, ts"), "ts")
        top = flag_books(b)
        series.append(_Series("books", "polymarket_books", pd.DatetimeIndex(top["ts"]), groups=top["token_id"]))
        anomalies.extend(_anomaly_rows("books", top, ["crossed", "locked", "one_sided"]))
        spreads.append(pd.DataFrame({"source": "books", "ts": top["ts"].to_numpy(),
                                     "bid": top["best_bid"].to_numpy(), "ask": top["best_ask"].to_numpy()}))
    # --- markets -------------------------------------------------------------------------------------
    market_days: list[dict[str, Any]] = []
    if counts.get("polymarket_resolutions"):
        m = _utc(store.query("SELECT slug, interval_minutes, window_start, outcome_up, source FROM "
                             "polymarket_resolutions ORDER BY window_start, slug"), "window_start")
        for (iv, src), g in m.groupby(["interval_minutes", "source"], sort=True):
            step = pd.Timedelta(minutes=int(cast(int, iv)))
            for day, d in g.groupby(g["window_start"].dt.floor("D"), sort=True):
                expected = int((d["window_start"].max() - d["window_start"].min()) / step) + 1
                market_days.append({"series": f"markets {int(cast(int, iv))}m {src}", "table": "polymarket_resolutions",
                                    "day": pd.Timestamp(day).date(), "rows": len(d), "expected": expected,
                                    "completeness": d["window_start"].nunique() / expected,
                                    "coverage": float(d["outcome_up"].notna().mean())})
        if len(market_days):
            notes.append("markets: completeness = windows present / windows between the day's first and last; "
                         "coverage = share with a recorded outcome")

    # --- assemble ------------------------------------------------------------------------------------
    series_rows, day_rows, gap_frames = [], [], []
    for s in series:
        row, days, gaps = _assess_series(s, cfg)
        series_rows.append(row)
        day_rows.extend(days)
        gap_frames.append(gaps)
    day_rows.extend(market_days)
    series_cols = ["series", "table", "regular", "step_s", "first", "last", "rows", "gaps", "missing", "gap_s",
                   "coverage"]
    gap_cols = ["series", "where", "start", "end", "duration_s", "missing"]
    nonempty_gaps = [g for g in gap_frames if len(g)]
    gaps_all = (pd.concat(nonempty_gaps, ignore_index=True) if nonempty_gaps
                else pd.DataFrame({c: pd.Series(dtype=object) for c in gap_cols}))

    spread_cols = ["source", "hour", "n", "median", "mean", "p90", "one_sided_share"]
    spread_rows = []
    for sp in spreads:
        ts = pd.DatetimeIndex(sp["ts"]).tz_convert("UTC")
        sp = sp.assign(hour=ts.hour, spread=sp["ask"] - sp["bid"],
                       one_sided=sp["bid"].isna() ^ sp["ask"].isna())
        for (src, hour), g in sp.groupby(["source", "hour"], sort=True):
            ok = g["spread"].dropna()
            ok = ok[ok >= 0]
            spread_rows.append({"source": src, "hour": int(cast(int, hour)), "n": len(ok),
                                "median": float(ok.median()) if len(ok) else float("nan"),
                                "mean": float(ok.mean()) if len(ok) else float("nan"),
                                "p90": float(ok.quantile(0.9)) if len(ok) else float("nan"),
                                "one_sided_share": float(g["one_sided"].mean())})
    refs.sort(key=lambda r: r[0])
    skew, curves = _skew([(n, s) for _, n, s in refs], oracles, cfg, notes)
    labels = _labels(store, notes)
    offset_cols = ["table", "collector", "n", "share_early", "offset_s", "median_latency_s",
                   "corrected_median_latency_s"]
    return QualityResult(
        source=_redact(display_path(store.url)), counts=counts,
        series=pd.DataFrame(series_rows, columns=series_cols),
        completeness=pd.DataFrame(day_rows, columns=["series", "table", "day", "rows", "expected", "completeness",
                                                     "coverage"]),
        gaps=gaps_all[gap_cols],
        anomalies=pd.DataFrame(anomalies, columns=["series", "flag", "count", "rows", "share"]),
        spread_by_hour=pd.DataFrame(spread_rows, columns=spread_cols),
        clock_skew=skew, skew_curves=curves,
        receipt_offsets=pd.DataFrame(offsets, columns=offset_cols),
        labels=labels, label_agreement=label_agreement(labels),
        notes=tuple(notes), config=cfg,
    )
