"""Calibration statistics: a simulated world and a real data directory measured by the same code.

:func:`calibration_stats` takes canonical frames by kind (``klines``, ``oracle``, ``markets``, ``quotes``,
``books``, ``book_events``; ``../shared/data/README.md``) and measures the statistics of issue 13's table
(and quote interval, share of Up outcomes, vol level and its intraday cycle, mid calibration).
:func:`frames_from_world` and :func:`frames_from_dir` give those frames from a :class:`World` or from a
data directory, so both go through identical code; :func:`calibration_table` puts any number of sources
side by side with the real ranges of :data:`REAL_RANGES` and an ``inside`` flag per statistic.

A statistic whose inputs are absent is NaN with a note naming the missing input (no real period has
everything: README "What each period offers").

>>> from pmresearch.simulate import simulate
>>> from pmresearch.simulate.calibration import calibration_table
>>> calibration_table(simulate("no-edge", days=0.5, seed=1), "../shared/data")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pmresearch._summary import Summary, SummaryMixin
from pmresearch._time import SECONDS_PER_YEAR

if TYPE_CHECKING:
    from pmresearch.simulate.world import World

__all__ = [
    "CALIBRATION_KINDS",
    "REAL_RANGES",
    "CalibrationStats",
    "calibration_stats",
    "calibration_table",
    "frames_from_dir",
    "frames_from_world",
]

#: The frame kinds the statistics read.
CALIBRATION_KINDS = ("klines", "oracle", "markets", "quotes", "books", "book_events")

#: Real ranges of issue 13 ("Realistic worlds", its table and "Real ranges over the dev sample and its unseen
#: twin"): statistic -> (low, high). A single number has low == high (``inside`` then means within 25%).
REAL_RANGES: Mapping[str, tuple[float, float]] = types.MappingProxyType({
    "spread_median_c": (1.0, 1.0),
    "spread_p90_c": (1.0, 3.0),
    "ask_size_p10": (15.0, 19.0),
    "ask_size_median": (131.0, 142.0),
    "ask_size_p90": (460.0, 555.0),
    "touch_interval_median_s": (0.078, 0.081),
    "touch_interval_mean_s": (0.32, 0.46),
    "ask_change_interval_median_s": (0.043, 0.054),
    "ask_change_interval_mean_s": (0.10, 0.10),
    "levels_per_book": (99.0, 99.0),
    "oracle_ac1": (0.24, 0.33),
    "oracle_vr60": (2.1, 2.4),
    "tail_share_1m_pct": (0.27, 0.33),
    "tail_share_1s_pct": (0.5, 0.6),
    "abs_mid_bs_5m_c": (3.0, 4.5),
    "abs_mid_bs_10m_c": (3.0, 4.5),
})

#: Statistic -> what it is (the summary's description column).
DESCRIPTIONS: Mapping[str, str] = types.MappingProxyType({
    "spread_median_c": "Up-token spread, median (cents; best Up bid in [0.10, 0.90])",
    "spread_p90_c": "Up-token spread, p90 (cents)",
    "ask_size_p10": "best-ask size p10 (shares; best Up bid in [0.10, 0.90])",
    "ask_size_median": "best-ask size median",
    "ask_size_p90": "best-ask size p90",
    "touch_interval_median_s": "interval between changes of the best bid or ask price, median (s)",
    "touch_interval_mean_s": "  same, mean (s)",
    "ask_change_interval_median_s": "interval between changes of the best ask price or size, median (s)",
    "ask_change_interval_mean_s": "  same, mean (s)",
    "levels_per_book": "price levels per book (both sides), median",
    "oracle_ac1": "oracle 1-s returns: lag-1 autocorrelation",
    "oracle_vr60": "oracle variance ratio at 60 s",
    "tail_share_1m_pct": "share of 1m returns beyond 5 sd of the previous 1,440 (%)",
    "tail_share_1s_pct": "share of 1-s oracle returns beyond 5 sd of the previous 3,600 (%)",
    "abs_mid_bs_5m_c": "mean abs(mid - BS, 60-min RV) at 5 min into 15-min windows (cents)",
    "abs_mid_bs_10m_c": "same at 10 min (cents)",
    "quote_interval_median_s": "seconds between quote rows per market, median",
    "share_up": "share of Up outcomes",
    "rv_annual": "annualized realized vol of 1m returns",
    "rv_hour_peak_to_trough": "intraday cycle: max / min of RV by UTC hour",
    "mid_calibration_gap": "mid calibration: n-weighted mean abs(share Up - mean mid) over bins",
})

_BID_RANGE = (0.10, 0.90)
_DS_SOURCE = "chainlink-data-streams"


# ------------------------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class CalibrationStats(SummaryMixin):
    """The calibration statistics of one source (a world or a data directory).

    Attributes
    ----------
    values : mapping of str to float
        Statistic -> value (:data:`DESCRIPTIONS`); NaN where an input is absent.
    notes : tuple of str
        Why a statistic is NaN (the missing input), and the sample sizes.
    rv_by_hour : DataFrame
        Annualized RV of 1m returns by UTC hour (``hour``, ``rv``, ``n``).
    mid_calibration : DataFrame
        Per bin of the Up mid: ``n``, ``mean_mid``, ``share_up``.
    label : str
        What was measured.
    counts : mapping of str to int
        Statistic -> the sample size behind it (snapshots, intervals, returns, decision rows, markets; 0 where
        the input is absent).
    """

    values: Mapping[str, float]
    notes: tuple[str, ...] = ()
    rv_by_hour: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    mid_calibration: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    label: str = ""
    counts: Mapping[str, int] = field(default_factory=lambda: types.MappingProxyType({}))

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """One row per statistic: ``description``, ``value``, ``n``, ``real_low``, ``real_high``, ``inside``."""
        rows = []
        for name, value in self.values.items():
            lo, hi = REAL_RANGES.get(name, (math.nan, math.nan))
            rows.append({"statistic": name, "description": DESCRIPTIONS.get(name, ""), "value": value,
                         "n": self.counts.get(name, 0), "real_low": lo, "real_high": hi,
                         "inside": inside(name, value)})
        return pd.DataFrame(rows).set_index("statistic")

    def summary(self) -> Summary:
        """The statistics with the real ranges, the RV by hour and the mid calibration; notes on missing inputs."""
        tables: list[tuple[str, Any]] = [("statistics", self.frame)]
        if len(self.rv_by_hour):
            tables.append(("rv_by_hour", self.rv_by_hour))
        if len(self.mid_calibration):
            tables.append(("mid_calibration", self.mid_calibration))
        return Summary(f"Calibration statistics{': ' + self.label if self.label else ''}", tuple(tables),
                       notes=self.notes)


def inside(name: str, value: float) -> bool | None:
    """Whether ``value`` is inside the real range of ``name`` (within 25% of a single number); None without one."""
    if name not in REAL_RANGES:
        return None
    if not np.isfinite(value):
        return False
    lo, hi = REAL_RANGES[name]
    if lo == hi:
        return bool(abs(value - lo) <= 0.25 * abs(lo))
    return bool(lo <= value <= hi)


# ------------------------------------------------------------------------------------------------ inputs
def frames_from_world(world: World, *, book_days: int | None = 1) -> dict[str, pd.DataFrame]:
    """The canonical frames of a simulated world by kind (1m BTC klines, with its kline history before them
    when it has one, the Data Streams oracle, markets, quotes, book snapshots and book events), read
    through its public attributes (as :func:`frames_from_dir` reads the files it writes).

    The full-depth books are regenerated (:meth:`World.book_files`) for the first ``book_days`` UTC days
    of each window length only (``None``: every day): a day holds ~24 M book rows, and the book
    statistics are per-event and per-snapshot laws that one day of ~380 markets pins down (the real
    sample has two days of books).
    """
    out: dict[str, pd.DataFrame] = {}
    for kind in CALIBRATION_KINDS:
        if kind in ("books", "book_events") and hasattr(world, "book_files"):
            days: dict[int, list[str]] = {}
            for interval, day in world.book_days():
                days.setdefault(interval, []).append(day)
            parts = [frame for interval, ds in days.items() for day in ds[:book_days]
                     for _, frame in world.book_files(interval=interval, day=day, kinds=(kind,))]
            if parts:
                out[kind] = pd.concat(parts, ignore_index=True)
            continue
        frame = getattr(world, kind, None)
        if isinstance(frame, pd.DataFrame):
            out[kind] = frame
    history = getattr(world, "kline_history", None)
    if isinstance(history, pd.DataFrame) and len(history) and "klines" in out:
        out["klines"] = pd.concat([history, out["klines"]], ignore_index=True)
    return out


def frames_from_dir(path: str | Path, kinds: Iterable[str] = CALIBRATION_KINDS) -> dict[str, pd.DataFrame]:
    """The canonical frames of a data directory for ``kinds`` only (the other files are not read).

    Parquet/CSV files are read by :func:`pmresearch.data.io.read_file`; websocket recordings
    (``polymarket_ws_*.jsonl.gz``) by :func:`pmresearch.data.importers.read_websocket_log` with the
    directory's markets files for the token mapping, giving book events, book snapshots and quotes.
    """
    from pmresearch.data.importers import TokenResolver, read_websocket_log
    from pmresearch.data.io import data_files, read_file, recognize

    root = Path(path)
    want = set(kinds)
    files = data_files(root) if root.is_dir() else []
    parts: dict[str, list[pd.DataFrame]] = {}
    for p in files:
        kind = recognize(p)
        if kind in want or (kind == "markets" and want & {"books", "book_events", "quotes"}):
            parts.setdefault(str(kind), []).append(read_file(p, kind))
    ws = sorted(root.glob("polymarket_ws_*.jsonl.gz"))
    if ws and want & {"books", "book_events", "quotes"}:
        resolver = TokenResolver.build(markets=parts.get("markets", []))
        for p in ws:
            for kind, chunk in read_websocket_log(p, resolve=resolver).items:
                if kind in want:
                    parts.setdefault(kind, []).append(chunk)
    if "markets" not in want:
        parts.pop("markets", None)
    return {k: pd.concat(v, ignore_index=True) if len(v) > 1 else v[0] for k, v in parts.items()}


def _frames_of(source: Any) -> tuple[dict[str, pd.DataFrame], str]:
    if isinstance(source, str | Path):
        return frames_from_dir(source), str(source)
    if isinstance(source, Mapping):
        return dict(source), "frames"
    tag = getattr(source, "tag", None)
    return frames_from_world(source), str(tag or "world")


# ------------------------------------------------------------------------------------------------ statistics
def _count(counts: dict[str, int] | None, names: Iterable[str], n: int) -> None:
    """Record ``n``, the sample size behind each statistic of ``names`` (when a ``counts`` dict is given)."""
    if counts is not None:
        counts.update(dict.fromkeys(names, int(n)))


def _quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    return [float(v) for v in np.quantile(x, qs)] if len(x) else [math.nan] * len(qs)


def _up_touch(q: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The Up token's best bid and ask of quote rows, the Down book's complement where Up's side is null."""
    bid = q["best_bid_up"].astype("float64")
    ask = q["best_ask_up"].astype("float64")
    if "best_ask_down" in q:
        bid = bid.fillna(1.0 - q["best_ask_down"].astype("float64"))
    if "best_bid_down" in q:
        ask = ask.fillna(1.0 - q["best_bid_down"].astype("float64"))
    return bid, ask


def spread_stats(quotes: pd.DataFrame, counts: dict[str, int] | None = None) -> dict[str, float]:
    """Up-token spread median and p90 in cents, on quote snapshots whose best Up bid is in [0.10, 0.90].

    The spread is ``best_ask_up - best_bid_up`` (the Down book's complement where the Up side is null:
    Up bid = 1 - Down ask, Up ask = 1 - Down bid), rounded to 1e-6 cent.
    """
    bid, ask = _up_touch(quotes)
    ok = bid.between(*_BID_RANGE) & ask.notna()
    spread = np.round(((ask - bid)[ok] * 100.0).to_numpy(), 6)
    med, p90 = _quantiles(spread, (0.5, 0.9))
    _count(counts, ("spread_median_c", "spread_p90_c"), len(spread))
    return {"spread_median_c": med, "spread_p90_c": p90}


def _best_levels(books: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot (``ts``, ``token_id``): level-0 bid/ask price and size, the outcome and the level count."""
    b = books[["ts", "slug", "token_id", "outcome", "side", "level", "price", "size"]]
    keys = ["ts", "token_id"]
    levels = b.groupby(keys, sort=False, observed=True).size().rename("levels")
    top = b[b["level"] == 0]
    wide = top.pivot_table(index=keys, columns="side", values=["price", "size"], aggfunc="first", observed=True)
    wide.columns = [f"{col[1]}_{col[0]}" for col in wide.columns]
    meta = top.drop_duplicates(keys).set_index(keys)[["slug", "outcome"]]
    out = meta.join(wide).join(levels)
    for col in ("bid_price", "ask_price", "bid_size", "ask_size"):
        if col not in out:
            out[col] = np.nan
    return out.reset_index()


def book_snapshot_stats(books: pd.DataFrame, counts: dict[str, int] | None = None) -> dict[str, float]:
    """Best-ask size p10 / median / p90 of the Up token on book snapshots whose best Up bid is in
    [0.10, 0.90], and the median number of price levels per book (bids plus asks of one token's snapshot).

    The Up token's own snapshots are used; only a source without any Up-token snapshot is read from its
    Down books (Up bid = 1 - Down best ask, the Up best-ask size = the Down best-bid size). (On the real
    sample the mirrored Down books of the other markets give larger sizes than the Up books: a market
    effect, not a mirror one, so they are not mixed in.)
    """
    top = _best_levels(books)
    up = top[top["outcome"] == "Up"]
    down = top[top["outcome"] == "Down"] if up.empty else top.iloc[:0]
    bid_up = pd.concat([up["bid_price"], 1.0 - down["ask_price"]])
    size = pd.concat([up["ask_size"], down["bid_size"]])
    sel = size[bid_up.between(*_BID_RANGE) & size.notna()].to_numpy(dtype="float64")
    p10, med, p90 = _quantiles(sel, (0.1, 0.5, 0.9))
    _count(counts, ("ask_size_p10", "ask_size_median", "ask_size_p90"), len(sel))
    _count(counts, ("levels_per_book",), len(top))
    return {"ask_size_p10": p10, "ask_size_median": med, "ask_size_p90": p90,
            "levels_per_book": float(np.median(top["levels"])) if len(top) else math.nan}


def touch_kernel_python(tok: np.ndarray, ts: np.ndarray, tick: np.ndarray, size: np.ndarray, is_bid: np.ndarray,
                        out: np.ndarray) -> int:
    """Replay level events sorted by (token, time): after each instant (a run of equal ``tok`` and ``ts``)
    write ``best_bid, best_ask, ask_size`` (prices as ticks of 0.001, NaN for an empty side) to the next row
    of ``out``; the number of instants. The reference of :func:`touch_kernel` (its numba twin)."""
    bids = np.zeros(1001)
    asks = np.zeros(1001)
    bb, ba, k = -1, 1001, 0
    n = len(tok)
    for i in range(n):
        if i > 0 and tok[i] != tok[i - 1]:
            bids[:] = 0.0
            asks[:] = 0.0
            bb, ba = -1, 1001
        t = min(max(tick[i], 0), 1000)
        if is_bid[i]:
            bids[t] = size[i]
            if size[i] > 0 and t > bb:
                bb = t
            elif size[i] <= 0 and t == bb:
                while bb >= 0 and bids[bb] <= 0:
                    bb -= 1
        else:
            asks[t] = size[i]
            if size[i] > 0 and t < ba:
                ba = t
            elif size[i] <= 0 and t == ba:
                while ba <= 1000 and asks[ba] <= 0:
                    ba += 1
        if i == n - 1 or tok[i + 1] != tok[i] or ts[i + 1] != ts[i]:
            out[k, 0] = bb / 1000.0 if bb >= 0 else np.nan
            out[k, 1] = ba / 1000.0 if ba <= 1000 else np.nan
            out[k, 2] = asks[ba] if ba <= 1000 else np.nan
            k += 1
    return k


@functools.cache
def _touch_kernel_nb() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True)(touch_kernel_python)


def touch_kernel(tok: np.ndarray, ts: np.ndarray, tick: np.ndarray, size: np.ndarray, is_bid: np.ndarray,
                 out: np.ndarray) -> int:
    """:func:`touch_kernel_python` compiled by numba (the same function)."""
    return int(_touch_kernel_nb()(tok, ts, tick, size, is_bid, out))


def touch_series(events: pd.DataFrame, *, compiled: bool = True) -> pd.DataFrame:
    """The book of each token replayed from its level events: at each event instant, ``best_bid``,
    ``best_ask`` and ``ask_size`` (the size at the best ask). Columns ``token_id, ts, best_bid,
    best_ask, ask_size``; NaN for an empty side. Prices are on a 0.001 grid (:func:`touch_kernel`)."""
    e = events[["ts", "token_id", "side", "price", "size"]]
    codes, tokens = pd.factorize(e["token_id"].astype("str"))
    ts = e["ts"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    order = np.lexsort((ts, codes))
    tok, ts = codes[order].astype(np.int64), ts[order]
    tick = np.rint(e["price"].to_numpy(dtype="float64")[order] * 1000.0).astype(np.int64)
    size = e["size"].to_numpy(dtype="float64")[order]
    is_bid = (e["side"] == "bid").to_numpy()[order]
    out = np.full((len(tok), 3), np.nan)
    k = (touch_kernel if compiled else touch_kernel_python)(tok, ts, tick, size, is_bid, out)
    last = np.r_[(tok[1:] != tok[:-1]) | (ts[1:] != ts[:-1]), True] if len(tok) else np.array([], dtype=bool)
    return pd.DataFrame({"token_id": np.asarray(tokens)[tok[last]],
                         "ts": pd.to_datetime(ts[last], unit="us", utc=True),
                         "best_bid": out[:k, 0], "best_ask": out[:k, 1], "ask_size": out[:k, 2]})


def _change_intervals(touch: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Seconds between consecutive instants of a token at which any of ``cols`` changed (the first
    instant of a token is its initial state, not a change)."""
    out = []
    for _, g in touch.groupby("token_id", sort=False, observed=True):
        v = g[cols].to_numpy()
        same = (v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
        changed = ~same.all(axis=1)
        t = g["ts"].to_numpy()[1:][changed]
        if len(t) > 1:
            out.append(np.diff(t).astype("timedelta64[us]").astype(np.int64) / 1e6)
    return np.concatenate(out) if out else np.array([])


def book_event_stats(events: pd.DataFrame, counts: dict[str, int] | None = None) -> dict[str, float]:
    """From full-depth book events (the book replayed per token, :func:`touch_series`): the interval
    between changes of the best bid or ask price (median, mean), and between changes of the best ask
    price or size (median, mean), in seconds."""
    touch = touch_series(events)
    a = _change_intervals(touch, ["best_bid", "best_ask"])
    b = _change_intervals(touch, ["best_ask", "ask_size"])
    _count(counts, ("touch_interval_median_s", "touch_interval_mean_s"), len(a))
    _count(counts, ("ask_change_interval_median_s", "ask_change_interval_mean_s"), len(b))
    nan = math.nan
    return {"touch_interval_median_s": float(np.median(a)) if len(a) else nan,
            "touch_interval_mean_s": float(np.mean(a)) if len(a) else nan,
            "ask_change_interval_median_s": float(np.median(b)) if len(b) else nan,
            "ask_change_interval_mean_s": float(np.mean(b)) if len(b) else nan}


def oracle_grid(oracle: pd.DataFrame) -> np.ndarray:
    """Log price of the Data Streams oracle on its 1-s grid (NaN at missing seconds): rows of another
    source are dropped where a ``source`` column exists; a second's last tick stands for it."""
    o = oracle
    if "source" in o.columns:
        o = o[o["source"] == _DS_SOURCE]
    if o.empty:
        return np.array([])
    sec = (o["ts"].astype("datetime64[us, UTC]").astype("int64") // 1_000_000).to_numpy()
    s = pd.Series(np.log(o["price"].to_numpy(dtype="float64")), index=sec).sort_index()
    s = s[~s.index.duplicated(keep="last")]
    grid = np.full(int(s.index[-1] - s.index[0]) + 1, np.nan)
    grid[(s.index - s.index[0]).to_numpy()] = s.to_numpy()
    return grid


def oracle_stats(log_grid: np.ndarray, counts: dict[str, int] | None = None) -> dict[str, float]:
    """Oracle (Data Streams) 1-s returns on the 1-s grid of log prices: the lag-1 autocorrelation (over
    pairs of returns of three consecutive seconds) and the variance ratio at 60 s: variance of
    overlapping 60-s returns on the 1-s grid (gaps excluded: every second of the 60-s span present) over
    60 times the variance of the 1-s returns (returns over consecutive seconds)."""
    lp = np.asarray(log_grid, dtype="float64")
    r1 = lp[1:] - lp[:-1]
    ok = np.isfinite(r1)
    pair = ok[1:] & ok[:-1]
    a, b = r1[:-1][pair], r1[1:][pair]
    ac1 = float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and np.std(a) > 0 and np.std(b) > 0 else math.nan
    _count(counts, ("oracle_ac1",), len(a))
    vr = math.nan
    if len(lp) > 61 and ok.sum() > 2 and np.var(r1[ok]) > 0:
        bad = np.r_[0, np.cumsum(~ok)]
        full = (bad[60:] - bad[:-60]) == 0
        r60 = (lp[60:] - lp[:-60])[full]
        _count(counts, ("oracle_vr60",), len(r60))
        if len(r60) > 2:
            vr = float(np.var(r60) / (60.0 * np.var(r1[ok])))
    return {"oracle_ac1": ac1, "oracle_vr60": vr}


def tail_share(returns: np.ndarray, window: int, min_periods: int, k: float = 5.0) -> tuple[float, int]:
    """Share (in %) of returns beyond ``k`` sd of the previous ``window`` returns (at least ``min_periods``
    of them; sample sd), and how many returns had a reference sd."""
    r = pd.Series(np.asarray(returns, dtype="float64"))
    sd = r.rolling(window, min_periods=min_periods).std().shift(1)
    ok = sd.notna() & (sd > 0)
    n = int(ok.sum())
    if n == 0:
        return math.nan, 0
    return float(100.0 * ((r[ok].abs() / sd[ok]) > k).mean()), n


def kline_returns(klines: pd.DataFrame, symbol: str = "BTCUSDT") -> pd.Series:
    """Binance 1m log close-to-close returns over consecutive minutes, indexed by the later bar's open."""
    k = klines
    if "symbol" in k.columns:
        k = k[k["symbol"] == symbol]
    if "interval" in k.columns:
        k = k[k["interval"] == "1m"]
    k = k.drop_duplicates("ts").sort_values("ts")
    r = pd.Series(np.log(k["close"].to_numpy(dtype="float64")), index=pd.DatetimeIndex(k["ts"])).diff()
    step = k["ts"].diff().to_numpy() == np.timedelta64(60, "s")
    out: pd.Series = r[step]
    return out


def vol_stats(r: pd.Series) -> tuple[dict[str, float], pd.DataFrame]:
    """Annualized RV of 1m returns (``sqrt(sum r^2 * year / (n * 60 s))``, :func:`pmresearch.pricing.realized_vol`)
    overall and by UTC hour; the cycle as max / min of the hourly RV (hours with >= 30 returns)."""
    from pmresearch.pricing import realized_vol

    if len(r) == 0:
        return {"rv_annual": math.nan, "rv_hour_peak_to_trough": math.nan}, pd.DataFrame()
    rv = float(realized_vol(r.to_numpy(), 60.0 * len(r)))
    hour = pd.DatetimeIndex(r.index).hour
    rows = [{"hour": int(h), "rv": float(realized_vol(r[hour == h].to_numpy(), 60.0 * int((hour == h).sum()))),
             "n": int((hour == h).sum())} for h in sorted(set(hour))]
    by_hour = pd.DataFrame(rows).set_index("hour")
    good = by_hour[by_hour["n"] >= 30]["rv"]
    cycle = float(good.max() / good.min()) if len(good) > 1 and good.min() > 0 else math.nan
    return {"rv_annual": rv, "rv_hour_peak_to_trough": cycle}, by_hour


def _minute_closes(frames: Mapping[str, pd.DataFrame]) -> list[tuple[str, pd.Series]]:
    """1-minute spot series indexed by the minute's close, in order of preference: 1m BTCUSDT kline
    closes, the quote logger's reference price (last per minute), the Data Streams oracle (last per minute)."""
    out: list[tuple[str, pd.Series]] = []
    k = frames.get("klines")
    if k is not None and len(k):
        kk = k[(k["symbol"] == "BTCUSDT") & (k["interval"] == "1m")] if "symbol" in k else k
        if len(kk):
            kk = kk.drop_duplicates("ts")
            out.append(("klines", pd.Series(kk["close"].to_numpy(dtype="float64"),
                                            index=pd.DatetimeIndex(kk["ts"]) + pd.Timedelta(minutes=1)).sort_index()))
    for kind, col in (("quotes", "reference_price"), ("oracle", "price")):
        f = frames.get(kind)
        if f is not None and len(f) and col in f:
            if kind == "oracle" and "source" in f:
                f = f[f["source"] == _DS_SOURCE]
            f = f[f[col].notna()]
            if len(f):
                s = pd.Series(f[col].to_numpy(dtype="float64"), index=pd.DatetimeIndex(f["ts"])).sort_index()
                out.append((kind, s.resample("1min", label="right", closed="left").last().dropna()))
    return [(name, _log_returns(s)) for name, s in out]


def _log_returns(closes: pd.Series) -> pd.Series:
    lr = np.log(closes).diff()
    out: pd.Series = lr[closes.index.to_series().diff() == pd.Timedelta(minutes=1)]
    return out


def mid_bs_stats(frames: Mapping[str, pd.DataFrame], counts: dict[str, int] | None = None
                 ) -> tuple[dict[str, float], list[str]]:
    """Mean abs(market mid - Black-Scholes digital with 60-min realized vol) in cents at 5 and 10 minutes
    into 15-minute windows.

    The decision rows (:func:`pmresearch.labels.decision.decision_rows_from_frames`, offsets 5m and 10m)
    give the Up mid, spot, strike (the window's strike/start price as the rows define it) and ``tau_s``;
    sigma is :func:`pmresearch.pricing.realized_vol` of the 1-minute log returns closed in the 60 minutes
    before ``t`` (at least 30 of them; 1m klines, else the quote logger's reference price, else the oracle).
    """
    from pmresearch.labels.decision import decision_rows_from_frames
    from pmresearch.pricing import digital_bs, realized_vol

    nan = {"abs_mid_bs_5m_c": math.nan, "abs_mid_bs_10m_c": math.nan}
    need = {k: frames[k] for k in ("markets", "quotes", "klines", "oracle") if k in frames}
    for kind in ("markets", "quotes"):
        f = need.get(kind)
        if f is None or not len(f):
            return nan, [f"abs_mid_bs: NaN, no {kind}"]
        f = f[f["interval_minutes"] == 15]
        need[kind] = f.assign(slug=f["slug"].astype("str").astype(object))
    if not len(need["quotes"]):
        return nan, ["abs_mid_bs: NaN, no quotes of 15-min markets"]
    need["markets"] = need["markets"].drop_duplicates("slug")
    rows = decision_rows_from_frames(need, interval_minutes=15, offsets="5m,10m")
    series = _minute_closes(frames)
    rows = rows[rows["mid_up"].notna() & rows["spot"].notna() & rows["strike"].notna()]
    if rows.empty or not series:
        return nan, ["abs_mid_bs: NaN, no 15-min decision rows with mid, spot and strike (or no spot series)"]
    out: dict[str, list[float]] = {"5": [], "10": []}
    used: dict[str, int] = {}
    for t, ws, mid, spot, strike, tau in rows[["t", "window_start", "mid_up", "spot", "strike", "tau_s"]].itertuples(
            index=False):
        for name, lr in series:  # noqa: B007 (name is used after the loop)
            r = lr[(lr.index > t - pd.Timedelta(minutes=60)) & (lr.index <= t)].to_numpy()
            if len(r) >= 30:
                break
        else:
            continue
        used[name] = used.get(name, 0) + 1
        sigma = float(realized_vol(r, 60.0 * len(r)))
        p = float(digital_bs(spot, strike, tau / SECONDS_PER_YEAR, sigma))
        minute = round((t - ws).total_seconds() / 60.0)
        out[str(minute)].append(abs(mid - p))
    res = {f"abs_mid_bs_{m}m_c": float(100.0 * np.mean(v)) if v else math.nan for m, v in out.items()}
    for m, v in out.items():
        _count(counts, (f"abs_mid_bs_{m}m_c",), len(v))
    notes = [f"abs_mid_bs: {len(out['5'])} rows at 5 min, {len(out['10'])} at 10 min; RV from "
             + (", ".join(f"{k} ({v} rows)" for k, v in used.items()) or "nothing (< 30 returns in 60 min)")]
    return res, notes


def mid_calibration(quotes: pd.DataFrame, markets: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Per equal-width bin of the Up mid on [0, 1]: ``n`` quote rows, ``mean_mid`` and the realized
    ``share_up`` (markets with an outcome)."""
    mk = markets.drop_duplicates("slug")[["slug", "outcome_up"]]
    bid, ask = _up_touch(quotes)
    d = pd.DataFrame({"slug": quotes["slug"].to_numpy(), "mid": ((bid + ask) / 2.0).to_numpy()})
    d = d.merge(mk, on="slug", how="inner")
    d = d[d["mid"].notna() & d["outcome_up"].notna()]
    bins = pd.cut(d["mid"], list(np.linspace(0.0, 1.0, n_bins + 1)), include_lowest=True)
    y = d["outcome_up"].astype("float64")
    table = d.assign(y=y).groupby(bins, observed=True).agg(n=("y", "size"), mean_mid=("mid", "mean"),
                                                           share_up=("y", "mean"))
    table.index = table.index.astype(str)
    return table


def quote_interval(quotes: pd.DataFrame) -> float:
    """Median seconds between consecutive quote rows of the same market."""
    q = quotes[["slug", "ts"]].sort_values(["slug", "ts"], kind="stable")
    dt = q.groupby("slug", sort=False, observed=True)["ts"].diff().dropna()
    return float(dt.dt.total_seconds().median()) if len(dt) else math.nan


def calibration_stats(frames: Mapping[str, pd.DataFrame], label: str = "") -> CalibrationStats:
    """The calibration statistics of canonical frames by kind (the same code for a world and a directory).

    Definitions (issue 13):

    * spread and sizes on snapshots whose best Up bid is in [0.10, 0.90] (:func:`spread_stats` on the
      quotes, :func:`book_snapshot_stats` on the full-depth book snapshots, with levels per book);
    * full-depth book statistics where book events exist: interval between changes of the best bid or
      ask price (median, mean) and of the best ask price or size (median, mean) (:func:`book_event_stats`);
    * oracle (Data Streams) 1-s returns: lag-1 autocorrelation and variance ratio at 60 s: variance of
      overlapping 60-s oracle returns on the 1-s grid (gaps excluded) over 60 times the 1-s variance;
    * 1-minute tails: Binance 1m log returns divided by the sd of the previous 1,440 returns (at least
      720), share beyond 5; 1-second tails: the oracle's 1-s log returns over consecutive seconds divided
      by the sd of the previous 3,600, share beyond 5 (shares in %);
    * mean abs(market mid - BS with 60-min RV) at 5 and 10 min into 15-min windows (:func:`mid_bs_stats`);
    * quote interval, share of Up outcomes, vol level (annualized RV of 1m returns) and its intraday
      cycle (RV by UTC hour), mid calibration (binned mid vs realized Up frequency, n per bin).

    A statistic whose input is absent is NaN, with a note naming the input.
    """
    values: dict[str, float] = {}
    counts: dict[str, int] = {}
    notes: list[str] = []

    def missing(names: Iterable[str], what: str) -> None:
        for n in names:
            values[n] = math.nan
        notes.append(f"{', '.join(names)}: NaN, no {what}")

    quotes, markets = frames.get("quotes"), frames.get("markets")
    if quotes is not None and len(quotes):
        values.update(spread_stats(quotes, counts))
    else:
        missing(["spread_median_c", "spread_p90_c"], "quotes")
    books = frames.get("books")
    if books is not None and len(books):
        values.update(book_snapshot_stats(books, counts))
    else:
        missing(["ask_size_p10", "ask_size_median", "ask_size_p90", "levels_per_book"], "book snapshots (books)")
    events = frames.get("book_events")
    if events is not None and len(events):
        values.update(book_event_stats(events, counts))
    else:
        missing(["touch_interval_median_s", "touch_interval_mean_s", "ask_change_interval_median_s",
                 "ask_change_interval_mean_s"], "book events (book_events)")
    oracle = frames.get("oracle")
    grid = oracle_grid(oracle) if oracle is not None and len(oracle) else np.array([])
    if len(grid) > 61:
        values.update(oracle_stats(grid, counts))
        r1 = np.diff(grid)
        share, n = tail_share(r1[np.isfinite(r1)], 3600, 3600)
        values["tail_share_1s_pct"] = share
        _count(counts, ("tail_share_1s_pct",), n)
        notes.append(f"tail_share_1s_pct: {n} oracle 1-s returns with 3,600 previous" if n else
                     "tail_share_1s_pct: NaN, fewer than 3,601 oracle 1-s returns")
    else:
        missing(["oracle_ac1", "oracle_vr60", "tail_share_1s_pct"], "Data Streams oracle (1-s series)")
    klines = frames.get("klines")
    r = kline_returns(klines) if klines is not None and len(klines) else pd.Series(dtype="float64")
    if len(r):
        share, n = tail_share(r.to_numpy(), 1440, 720)
        values["tail_share_1m_pct"] = share
        _count(counts, ("tail_share_1m_pct",), n)
        notes.append(f"tail_share_1m_pct: {n} 1m returns with >= 720 previous" if n else
                     "tail_share_1m_pct: NaN, fewer than 721 consecutive 1m returns")
    else:
        missing(["tail_share_1m_pct"], "BTCUSDT 1m klines")
    if markets is not None and quotes is not None and len(quotes):
        res, more = mid_bs_stats(frames, counts)
        values.update(res)
        notes.extend(more)
    else:
        missing(["abs_mid_bs_5m_c", "abs_mid_bs_10m_c"], "markets and quotes")
    values["quote_interval_median_s"] = quote_interval(quotes) if quotes is not None and len(quotes) else math.nan
    if quotes is None or not len(quotes):
        notes.append("quote_interval_median_s: NaN, no quotes")
    if markets is not None and len(markets):
        y = markets.drop_duplicates("slug")["outcome_up"].dropna().astype("float64")
        values["share_up"] = float(y.mean()) if len(y) else math.nan
        _count(counts, ("share_up",), len(y))
        notes.append(f"share_up: {len(y)} markets with an outcome")
    else:
        missing(["share_up"], "markets")
    vol, by_hour = vol_stats(r)
    values.update(vol)
    _count(counts, ("rv_annual", "rv_hour_peak_to_trough"), len(r))
    if not len(r):
        notes.append("rv_annual, rv_hour_peak_to_trough: NaN, no BTCUSDT 1m klines")
    calib = pd.DataFrame()
    if markets is not None and quotes is not None and len(quotes):
        calib = mid_calibration(quotes, markets)
    if len(calib):
        gap = (calib["share_up"] - calib["mean_mid"]).abs()
        values["mid_calibration_gap"] = float((gap * calib["n"]).sum() / calib["n"].sum())
        _count(counts, ("mid_calibration_gap",), int(calib["n"].sum()))
    else:
        missing(["mid_calibration_gap"], "quotes of markets with an outcome")
    order = list(DESCRIPTIONS)
    ordered = {k: float(values[k]) for k in order if k in values}
    if quotes is not None and len(quotes):
        _count(counts, ("quote_interval_median_s",), len(quotes))
    sizes = {k: counts.get(k, 0) for k in ordered}
    return CalibrationStats(types.MappingProxyType(ordered), tuple(notes), by_hour, calib, label,
                            types.MappingProxyType(sizes))


def calibration_table(*sources: Any, names: Iterable[str] | None = None) -> pd.DataFrame:
    """Sources side by side: one row per statistic, a value and an ``n <name>`` column (the sample size behind
    the value) per source, the real range and an ``inside <name>`` flag per source.

    Parameters
    ----------
    *sources
        Each a :class:`~pmresearch.simulate.World`, a data-directory path, a mapping of frames by kind
        or a :class:`CalibrationStats`.
    names : iterable of str, optional
        Column names (default: the worlds' tags and the paths).
    """
    stats = [s if isinstance(s, CalibrationStats) else calibration_stats(*_frames_of(s)) for s in sources]
    labels = list(names) if names is not None else [s.label or f"source {i}" for i, s in enumerate(stats)]
    out = pd.DataFrame({"description": pd.Series(DESCRIPTIONS)})
    for label, s in zip(labels, stats, strict=True):
        out[label] = pd.Series(dict(s.values))
    for label, s in zip(labels, stats, strict=True):
        out[f"n {label}"] = pd.Series(dict(s.counts), dtype="Int64").reindex(out.index).fillna(0)
    out["real range"] = [_range_text(n) for n in out.index]
    for label, s in zip(labels, stats, strict=True):
        out[f"inside {label}"] = [inside(n, s.values.get(n, math.nan)) for n in out.index]
    out.index.name = "statistic"
    return out


def compare(sim: Any, real: Any) -> pd.DataFrame:
    """:func:`calibration_table` of a simulated source and a real one, columns ``sim`` and ``real``."""
    return calibration_table(sim, real, names=("sim", "real"))


def _range_text(name: str) -> str:
    if name not in REAL_RANGES:
        return ""
    lo, hi = REAL_RANGES[name]
    return f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"
