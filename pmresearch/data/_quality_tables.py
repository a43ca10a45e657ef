"""The steps of :func:`pmresearch.data.quality.assess_quality` (internal): read each table of a store, then assess
each time series (gaps, completeness per UTC day, coverage), spreads by hour and the exchange-vs-oracle clock skew.

:class:`Found` collects what the table readers (:data:`READERS`, one per canonical table, in report order) find;
:func:`series_tables`, :func:`spread_by_hour` and :func:`clock_skew_table` turn it into the frames of a
:class:`~pmresearch.data.quality.QualityResult`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

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

if TYPE_CHECKING:
    from pmresearch.data.quality import QualityConfig

__all__ = ["ANOMALY_COLS", "OFFSET_COLS", "READERS", "Found", "clock_skew_table", "series_tables", "spread_by_hour",
           "utc"]

_DAY = pd.Timedelta(days=1)
_UNITS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}

#: Columns of the frames of a :class:`~pmresearch.data.quality.QualityResult`.
_SERIES_COLS = ["series", "table", "regular", "step_s", "first", "last", "rows", "gaps", "missing", "gap_s",
                "coverage"]
_DAY_COLS = ["series", "table", "day", "rows", "expected", "completeness", "coverage"]
_GAP_COLS = ["series", "where", "start", "end", "duration_s", "missing"]
ANOMALY_COLS = ["series", "flag", "count", "rows", "share"]
_SPREAD_COLS = ["source", "hour", "n", "median", "mean", "p90", "one_sided_share"]
_SKEW_COLS = ["reference", "target", "lag_s", "correlation", "correlation_at_zero", "n", "tolerance_s",
              "within_tolerance"]
OFFSET_COLS = ["table", "collector", "n", "share_early", "offset_s", "median_latency_s",
               "corrected_median_latency_s"]


def _step_of(interval: str) -> pd.Timedelta | None:
    m = re.fullmatch(r"(\d+)([smhdw])", str(interval))
    if not m:
        return None
    return pd.Timedelta(f"{int(m.group(1))}{_UNITS[m.group(2)]}")


@dataclass
class _Series:
    """One time series under assessment (internal)."""

    name: str
    table: str
    stamps: pd.DatetimeIndex  # every row's stamp (repeats allowed)
    groups: pd.Series | None = None  # per-row sub-series key (market / token) for gaps; None: one series
    step: pd.Timedelta | None = None  # known nominal step (regular)


def utc(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
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


def clock_skew_table(refs: list[tuple[str, pd.Series]], oracles: list[tuple[str, pd.Series]], cfg: QualityConfig,
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


# ------------------------------------------------------------------------- reading the store, table by table
@dataclass
class Found:
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


def _read_klines(store: Store, found: Found) -> None:
    """Klines per (symbol, interval, source): a regular series, prices at the bars' closes."""
    keys = store.query('SELECT DISTINCT symbol, "interval", source FROM spot_prices ORDER BY 1, 2, 3')
    for sym, iv, src in keys.itertuples(index=False):
        k = utc(store.query('SELECT ts, close FROM spot_prices WHERE symbol = ? AND "interval" = ? AND '
                             "source = ? ORDER BY ts", [sym, iv, src]), "ts")
        name = f"klines {sym} {iv} {src}"
        step = _step_of(str(iv))
        found.series.append(_Series(name, "spot_prices", pd.DatetimeIndex(k["ts"]), step=step))
        closes_at = k["ts"] + (step or pd.Timedelta(0))  # a close is the price at the bar's end
        found.price_check(name, closes_at, k["close"])
        if str(sym).upper().startswith("BTC") and step is not None:
            found.refs.append((step.total_seconds(), name, _price_series(k["close"], closes_at)))


def _read_oracle(store: Store, found: Found) -> None:
    """Oracle rounds per source (and feed, where a source has several), then each source's clock offset."""
    keys = store.query("SELECT DISTINCT source, feed FROM oracle_prices ORDER BY 1, 2")
    multi = keys["source"].duplicated(keep=False)
    for (src, feed), several in zip(keys.itertuples(index=False), multi, strict=True):
        o = utc(store.query("SELECT ts, price, received_at FROM oracle_prices WHERE source = ? AND feed = ? "
                             "ORDER BY ts", [src, feed]), "ts", "received_at")
        name = f"oracle {src} {feed}" if several else f"oracle {src}"
        found.series.append(_Series(name, "oracle_prices", pd.DatetimeIndex(o["ts"])))
        found.price_check(name, o["ts"], o["price"])
        if str(feed).upper().startswith("BTC"):
            found.oracles.append((name, _price_series(o["price"], o["ts"])))
    for (src,) in keys[["source"]].drop_duplicates().itertuples(index=False):
        o = utc(store.query("SELECT ts, received_at FROM oracle_prices WHERE source = ? ORDER BY ts, feed",
                             [src]), "ts", "received_at")
        found.offset_row("oracle_prices", str(src), o["ts"], o["received_at"])


def _read_trades(store: Store, found: Found) -> None:
    """Exchange trades per (venue, symbol) with repeated prints flagged; Polymarket trades as one series."""
    keys = store.query("SELECT DISTINCT venue, symbol FROM trades ORDER BY 1, 2")
    poly = keys["venue"] == "polymarket"
    for venue, sym in keys[~poly].itertuples(index=False):
        t = utc(store.query("SELECT ts, price, qty, side, received_at FROM trades WHERE venue = ? AND "
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
        t = utc(store.query("SELECT ts, received_at FROM trades WHERE venue = 'polymarket' "
                             "ORDER BY ts, trade_key"), "ts", "received_at")
        found.series.append(_Series("trades polymarket", "trades", pd.DatetimeIndex(t["ts"])))
        found.offset_row("trades", "polymarket", t["ts"], t["received_at"])


def _read_quotes(store: Store, found: Found) -> None:
    """Quotes per market interval (gapped per market), their flags and Up-token spreads."""
    q = utc(store.query("SELECT ts, slug, interval_minutes, best_bid_up, best_ask_up, best_bid_down, "
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


def _read_books(store: Store, found: Found) -> None:
    """Top-of-book snapshots (gapped per token), their flags and spreads."""
    b = utc(store.query("SELECT token_id, ts, side, level, price FROM polymarket_books WHERE level = 0 "
                         "ORDER BY token_id, ts"), "ts")
    top = flag_books(b)
    found.series.append(_Series("books", "polymarket_books", pd.DatetimeIndex(top["ts"]), groups=top["token_id"]))
    found.anomalies.extend(_anomaly_rows("books", top, ["crossed", "locked", "one_sided"]))
    found.spreads.append(pd.DataFrame({"source": "books", "ts": top["ts"].to_numpy(),
                                       "bid": top["best_bid"].to_numpy(), "ask": top["best_ask"].to_numpy()}))


def _read_markets(store: Store, found: Found) -> None:
    """Markets per (interval, source) and UTC day: windows present of those expected, share resolved."""
    m = utc(store.query("SELECT slug, interval_minutes, window_start, outcome_up, source FROM "
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
READERS: tuple[tuple[str, Callable[[Store, Found], None]], ...] = (
    ("spot_prices", _read_klines), ("oracle_prices", _read_oracle), ("trades", _read_trades),
    ("polymarket_quotes", _read_quotes), ("polymarket_books", _read_books),
    ("polymarket_resolutions", _read_markets),
)


# ---------------------------------------------------------------------------------------------- assembling
def series_tables(found: Found) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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


def spread_by_hour(spreads: list[pd.DataFrame]) -> pd.DataFrame:
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
