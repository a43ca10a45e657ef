"""Assemble a full simulated world: spot, klines, oracle feeds, markets, quotes, books and trades."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import signal, special

from pmresearch import rules
from pmresearch._progress import progress as progress_bar
from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch._time import to_utc
from pmresearch._typing import FloatArray, IntArray
from pmresearch.config import to_mapping
from pmresearch.simulate.config import SimConfig, make_config
from pmresearch.simulate.maker_book import (
    BookRows,
    MakerBookParams,
    events_frame,
    maker_book_events,
    snapshots_frame,
)
from pmresearch.simulate.oracle import push_update_indices, twap_values
from pmresearch.simulate.process import WINDOW_S, log_increments, oracle_lag, true_prob_up, window_vols

__all__ = ["EDGE_SCHEDULE", "SIMULATOR_VERSION", "TOP_LEVELS", "TRUE_PROBS_FILE", "World", "simulate",
           "simulate_config", "truth_at"]

_US = 1_000_000
SOURCE = "simulator"


def _ts(start_us: int, offsets_s: FloatArray | IntArray) -> pd.Series:
    """tz-aware UTC timestamps (microsecond precision) at ``start + offsets`` seconds."""
    us = start_us + np.round(np.asarray(offsets_s, dtype=np.float64) * _US).astype(np.int64)
    return pd.Series(pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC"))


def _mirror(up_price: FloatArray, *, clip: bool = True) -> FloatArray:
    """The Down token's price mirroring an Up grid price, ``1 - p`` put back on the tick grid."""
    return rules.round_to_tick(1.0 - up_price, "nearest", clip=clip)


def _token_id(seed: int, slug: str, outcome: str) -> str:
    digest = hashlib.blake2b(f"{seed}:{slug}:{outcome}".encode(), digest_size=32).digest()
    return str(int.from_bytes(digest, "big"))


@dataclass(frozen=True)
class World(SummaryMixin):
    """A simulated world in the canonical schemas (``../shared/data/README.md``).

    Attributes
    ----------
    config, preset
        What generated it (the world is a deterministic function of them).
    klines, klines_1s, eth_klines
        BTCUSDT 1-minute and 1-second klines, ETHUSDT 1-minute klines.
    kline_history
        BTCUSDT 1-minute klines of the ``kline_history_days`` before the start (empty by default), on the
        same vol and jump law from their own random stream, ending at the world's first open (written as
        ``btcusdt_1m_<tag>_history.parquet``; the real sample also holds a quarter of 1m klines).
    oracle
        The 1 Hz settlement stream (Chainlink Data Streams-like: a smoothed spot plus noise).
    oracle_push
        The push-style feed derived from it (deviation or heartbeat rounds).
    markets
        5- and 15-minute markets with outcomes under the settlement rule in force.
    quotes
        The Up token's best bid/ask at each full-depth snapshot of the event-level book (~every
        ``quote_every_s``, as the real logger recorded), with ``true_prob_up`` at each quote's own time.
    top_books
        Those snapshots' best :data:`TOP_LEVELS` levels per side (regenerated on first use, then cached: a
        day holds ~3 M rows; the full-depth snapshots are :attr:`books`, the change events
        :attr:`book_events`, also regenerated on demand).
    trades
        The noise takers' prints, at the touch of the event-level book standing at their arrival.
    truth
        Ground truth of the generating process per 15-minute volatility window: ``window_start``,
        ``sigma`` (annualized diffusion vol), ``jump_steps`` (path steps holding a jump: the jump count
        but for the ~1e-5 chance of two in one sub-second step) and ``jump_sum`` (sum of log-jumps).
        Not a data file: it is what estimators are checked against.
    true_probs
        The true P(up) of every market on the belief grid (``ts, slug, true_prob_up``, every
        ``belief_step_s``): the truth at any instant is the last grid value at or before it (exact when
        the grid step is one path step, the default). :func:`truth_at` looks it up.
    decision_edges
        The true edge of every reference decision (:data:`EDGE_SCHEDULE`: ``t, slug, interval_minutes,
        side, true_edge``), the per-row edge a strategy could at best capture (summarized in :attr:`stats`).
    """

    config: SimConfig
    preset: str
    klines: pd.DataFrame
    klines_1s: pd.DataFrame
    eth_klines: pd.DataFrame
    oracle: pd.DataFrame
    oracle_push: pd.DataFrame
    markets: pd.DataFrame
    quotes: pd.DataFrame
    trades: pd.DataFrame
    truth: pd.DataFrame
    true_probs: pd.DataFrame
    decision_edges: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    kline_history: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    book_inputs: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    book_counts: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def tag(self) -> str:
        """File-name suffix identifying this world."""
        c = self.config
        start = to_utc(c.start).strftime("%Y%m%d")
        days = f"{c.days:g}".replace(".", "p")
        return f"sim-{self.preset}-s{c.seed}-{start}-{days}d"

    def files(self) -> dict[str, pd.DataFrame]:
        """File name (with the data-directory prefix) -> frame of every file but the books (held in
        memory; the books are written day by day, :meth:`book_files`)."""
        out: dict[str, pd.DataFrame] = {
            f"btcusdt_1m_{self.tag}.parquet": self.klines,
            **({f"btcusdt_1m_{self.tag}_history.parquet": self.kline_history} if len(self.kline_history) else {}),
            f"btcusdt_1s_{self.tag}.parquet": self.klines_1s,
            f"ethusdt_1m_{self.tag}.parquet": self.eth_klines,
            f"chainlink_btcusd_ds_{self.tag}.parquet": self.oracle,
            f"chainlink_btcusd_push_{self.tag}.parquet": self.oracle_push,
        }
        for interval in self.config.intervals:
            sel = {
                "markets": self.markets[self.markets["interval_minutes"] == interval],
                "quotes": self.quotes[self.quotes["interval_minutes"] == interval],
                "trades": self.trades[self.trades["slug"].str.startswith(f"btc-updown-{interval}m-")],
            }
            for kind, frame in sel.items():
                out[f"polymarket_btc_{interval}m_{kind}_{self.tag}.parquet"] = frame.reset_index(drop=True)
        return out

    def book_days(self) -> list[tuple[int, str]]:
        """(window length, UTC day ``YYYYMMDD``) of every book file, in order."""
        out = []
        for inp in self.book_inputs:
            days = pd.DatetimeIndex(_ts(inp.start_us, inp.t0)).strftime("%Y%m%d")
            out += [(inp.interval, d) for d in dict.fromkeys(days)]
        return out

    def book_files(self, interval: int | None = None, day: str | None = None,
                   kinds: tuple[str, ...] = ("book_events", "books")) -> Iterator[tuple[str, pd.DataFrame]]:
        """File name -> frame of the books, one file per kind, window length and UTC day of the windows'
        starts (``polymarket_btc_{5m,15m}_{book_events,books}_<tag>-<YYYYMMDD>.parquet``), regenerated
        market by market (deterministic: the same rows as at :func:`simulate`). ``interval``/``day`` pick
        one; a day of one window length holds ~4 M event rows and ~8.5 M snapshot rows (~80 MB of Parquet)."""
        for inp in self.book_inputs:
            if interval is not None and inp.interval != interval:
                continue
            days = np.asarray(pd.DatetimeIndex(_ts(inp.start_us, inp.t0)).strftime("%Y%m%d"))
            for d in dict.fromkeys(days.tolist()):
                if day is not None and d != day:
                    continue
                parts: dict[str, list[pd.DataFrame]] = {k: [] for k in kinds}
                for i in np.flatnonzero(days == d):
                    events, snaps = _market_books(inp, int(i))
                    toks = (str(inp.tok_up[i]), str(inp.tok_dn[i]))
                    if "book_events" in parts:
                        parts["book_events"].append(events_frame(events, str(inp.slugs[i]), toks))
                    if "books" in parts:
                        parts["books"].append(snapshots_frame(snaps, str(inp.slugs[i]), toks))
                for kind, frames in parts.items():
                    frame = _concat_categorical(frames)
                    yield f"polymarket_btc_{inp.interval}m_{kind}_{self.tag}-{d}.parquet", frame

    @functools.cached_property
    def top_books(self) -> pd.DataFrame:
        """The full-depth snapshots' best :data:`TOP_LEVELS` levels per side (``books`` kind), every window
        regenerated (:meth:`book_files`' rows, cut to the top levels; ~110 MB a simulated day)."""
        frames = []
        for inp in self.book_inputs:
            parts, w_of = [], []
            for i in range(inp.t0.size):
                _, snaps = _market_books(inp, i)
                keep = snaps.level < TOP_LEVELS
                parts.append(_take(snaps, keep))
                w_of.append(np.full(int(keep.sum()), i, dtype=np.int64))
            rows = BookRows(*(np.concatenate([getattr(r, f) for r in parts]) for f in BookRows._fields))
            frames.append(_top_frame(rows, np.concatenate(w_of), inp))
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def book_events(self) -> pd.DataFrame:
        """Every book change event (``book_events`` kind), regenerated (a day holds ~8 M rows: for small worlds)."""
        return pd.concat([f for _, f in self.book_files(kinds=("book_events",))], ignore_index=True)

    @functools.cached_property
    def books(self) -> pd.DataFrame:
        """Every full-depth snapshot (``books`` kind), regenerated (a day holds ~17 M rows: for small worlds)."""
        return pd.concat([f for _, f in self.book_files(kinds=("books",))], ignore_index=True)

    def write(self, out_dir: str | Path, *, books: bool | tuple[str, ...] = True,
              progress: bool = False) -> list[Path]:
        """Write every file (Parquet, zstd), the truth files and ``world.json`` into ``out_dir``; all or nothing.

        The books are written one file per kind, window length and day (:meth:`book_files`), so memory
        stays that of one day. Files are written to a temporary directory beside ``out_dir`` and moved in
        only when all of them are complete. ``books=False`` leaves the book files out; a tuple of kinds
        (``("book_events",)``) writes only those.
        """
        kinds: tuple[str, ...] = ("book_events", "books") if books is True else (tuple(books) if books else ())
        unknown = sorted(set(kinds) - {"book_events", "books"})
        if unknown:
            raise ValueError(f"World.write: books must be True, False or book kinds ('book_events', 'books'), "
                             f"got {unknown}")
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".sim-", dir=target))
        try:
            names = []
            for name, frame in self.files().items():
                frame.to_parquet(tmp / name, compression="zstd", index=False)
                names.append(name)
            if kinds:
                bar = progress_bar(total=len(kinds) * len(self.book_days()), desc="write books", enabled=progress,
                                   unit="file")
                for name, frame in self.book_files(kinds=kinds):
                    frame.to_parquet(tmp / name, compression="zstd", index=False, row_group_size=1_000_000)
                    names.append(name)
                    del frame
                    bar.update()
                bar.close()
            meta = {"preset": self.preset, "simulator_version": SIMULATOR_VERSION, "config": to_mapping(self.config),
                    "summary": dict(self.stats)}
            self.truth.to_parquet(tmp / "truth_windows.parquet", compression="zstd", index=False)
            names.append("truth_windows.parquet")
            self.true_probs.to_parquet(tmp / TRUE_PROBS_FILE, compression="zstd", index=False)
            names.append(TRUE_PROBS_FILE)
            (tmp / "world.json").write_text(json.dumps(meta, indent=2, default=str))
            names.append("world.json")
            paths = []
            for name in names:
                os.replace(tmp / name, target / name)
                paths.append(target / name)
            return paths
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @functools.cached_property
    def stats(self) -> Mapping[str, Any]:
        """Headline counts and realized properties of the world (read-only; ``world.json``'s ``summary``)."""
        q = self.quotes
        mid = (q["best_bid_up"] + q["best_ask_up"]) / 2.0
        return types.MappingProxyType({
            "preset": self.preset,
            "start": str(self.klines["ts"].iloc[0]),
            "end": str(self.klines["ts"].iloc[-1] + pd.Timedelta(minutes=1)),
            "markets": len(self.markets),
            "quotes": len(q),
            "book_event_rows": int(self.book_counts.get("book_events", 0)),
            "book_rows": int(self.book_counts.get("books", 0)),
            "polymarket_trades": len(self.trades),
            "share_up": float(self.markets["outcome_up"].astype(float).mean()),
            "mean_abs_mid_minus_true": float((mid - q["true_prob_up"]).abs().mean()),
            "median_spread": float((q["best_ask_up"] - q["best_bid_up"]).median()),
            **self._edge_stats(),
            "elapsed_s": round(self.elapsed_s, 2),
        })

    def _edge_stats(self) -> dict[str, float]:
        """Per-row true edge of the reference decisions: mean, quantiles and the share at >= 1 c."""
        e = self.decision_edges["true_edge"].dropna() if len(self.decision_edges) else pd.Series(dtype=float)
        if e.empty:
            return {}
        good = e[e >= 0.01]
        return {"decision_rows": int(e.size), "row_true_edge_mean": float(e.mean()),
                "row_true_edge_p10": float(e.quantile(0.1)), "row_true_edge_p50": float(e.median()),
                "row_true_edge_p90": float(e.quantile(0.9)), "row_share_edge_ge_1c": float((e >= 0.01).mean()),
                "perfect_taker_trades": int(good.size),
                "perfect_taker_edge_mean": float(good.mean()) if good.size else float("nan")}

    def summary(self) -> Summary:
        """:attr:`stats` as a one-column table, and the files :meth:`write` lays out (books: rows per kind)."""
        rows = {name: len(frame) for name, frame in self.files().items()}
        rows.update({f"books ({kind}, {len(self.book_days())} files)": int(n) for kind, n in self.book_counts.items()})
        files = pd.DataFrame({"rows": rows})
        return summary_table(f"Simulated world {self.tag}", {"world": self.stats, "files": files},
                             notes=("mean_abs_mid_minus_true: mean |quoted mid - true P(up)| over every quote "
                                    "(the maker's distortion and the half-spread)",
                                    "row_true_edge_*: the better side's true P at t minus the ask of the event-level "
                                    "book at t + the taker delay minus the taker fee, at every reference decision "
                                    "(every 30 s from 60 s to 30 s before the end, 20 shares)",
                                    "perfect_taker_*: a taker who knows the truth and buys every reference row whose "
                                    "true edge is >= 1 c: its trades and their mean true edge per share (the most a "
                                    "model could capture; a real model's trades are noisier, see the go/no-go)"))


TRUE_PROBS_FILE = "truth_prob_up.parquet"


def truth_at(true_probs: pd.DataFrame, slugs: Any, times: Any) -> FloatArray:
    """The true P(up) of markets ``slugs`` at ``times`` (equal-length sequences, tz-aware): the last
    belief-grid value at or before each time (:attr:`World.true_probs`, or the world directory's
    :data:`TRUE_PROBS_FILE`); NaN before a market's first grid point, after its window, or for an
    unknown market."""
    t = pd.Series(pd.DatetimeIndex(times))
    if t.dt.tz is None:
        raise ValueError("truth_at: times must be tz-aware UTC")
    left = pd.DataFrame({"t": t.dt.tz_convert("UTC").astype("datetime64[us, UTC]"),
                         "slug": pd.Series(slugs, dtype=object).astype(str).to_numpy(), "_pos": np.arange(len(t))})
    if len(left) == 0:
        return np.empty(0)
    right = pd.DataFrame({"ts": pd.DatetimeIndex(true_probs["ts"]).astype("datetime64[us, UTC]"),
                          "slug": true_probs["slug"].astype(str).to_numpy(),
                          "p": true_probs["true_prob_up"].to_numpy(np.float64)})
    end = right.groupby("slug")["ts"].max()
    merged = pd.merge_asof(left.sort_values("t", kind="stable"), right.sort_values("ts", kind="stable"),
                           left_on="t", right_on="ts", by="slug", direction="backward")
    merged = merged.set_index("_pos").sort_index()
    p = merged["p"].to_numpy(np.float64, copy=True)
    # past the last grid point of its window (the market has closed) the truth is not a grid value
    last = merged["slug"].map(end)
    step = right["ts"].diff().dt.total_seconds()
    step_s = float(step[step > 0].min()) if (step > 0).any() else 0.0
    closed = (merged["t"] - last).dt.total_seconds().to_numpy(np.float64, na_value=np.nan) > step_s
    p[closed] = np.nan
    return p


def simulate(
    preset: str = "edge",
    days: float = 7.0,
    seed: int = 0,
    start: str = "2026-06-15",
    *,
    progress: bool = False,
    **overrides: Any,
) -> World:
    """Simulate a ground-truth world.

    Parameters
    ----------
    preset : {"edge", "no-edge", "hard"}
        Named maker faults (:data:`pmresearch.simulate.config.PRESETS`); ``overrides`` set any knob of
        :class:`~pmresearch.simulate.config.SimConfig`.
    days, seed, start
        Length, random seed and the UTC start (a 15-minute boundary). The world reads its fees,
        taker delay and settlement rule from :mod:`pmresearch.rules` at each timestamp.
    progress : bool
        Show a progress bar over the stages.

    Returns
    -------
    World
        Frames in the canonical schemas; ``quotes.true_prob_up`` is the true P(up) at every quote.
    """
    cfg = make_config(preset, days=days, seed=seed, start=start, **overrides)
    return simulate_config(cfg, preset=preset, progress=progress)


def _klines_frame(start_us: int, bar_s: int, bars: Bars, symbol: str) -> pd.DataFrame:
    o, h, low, c, vol, qvol, trades, tbv = bars
    n = o.size
    return pd.DataFrame({
        "ts": _ts(start_us, np.arange(n, dtype=np.float64) * bar_s),
        "open": o, "high": h, "low": low, "close": c, "volume": vol, "quote_volume": qvol,
        "trades": trades.astype(np.int64), "taker_buy_volume": tbv,
        "symbol": symbol, "interval": f"{bar_s}s" if bar_s < 60 else f"{bar_s // 60}m", "source": SOURCE,
    })


#: open, high, low, close, volume, quote volume, trade count, taker-buy volume
Bars = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray, FloatArray]


def _aggregate_bars(bars: Bars, k: int) -> Bars:
    """Aggregate consecutive groups of ``k`` bars exactly: first open, max high, min low, last close, sums."""
    o, h, low, c, v, qv, tb = (np.asarray(a, dtype=np.float64).reshape(-1, k) for a in (*bars[:6], bars[7]))
    n = np.asarray(bars[6], dtype=np.int64).reshape(-1, k)
    return (o[:, 0], h.max(axis=1), low.min(axis=1), c[:, -1], v.sum(axis=1), qv.sum(axis=1),
            n.sum(axis=1), tb.sum(axis=1))


#: Bumped whenever the same config would simulate a different world (a law, a calibrated default outside
#: :class:`SimConfig`, such as :class:`MakerBookParams`), so that worlds cached on disk (``world.json``) with
#: older code are rebuilt rather than reused.
SIMULATOR_VERSION = "13.3"


class _Grid(NamedTuple):
    """The time grid of a world: its start, path steps per second and lengths."""

    start: pd.Timestamp
    start_us: int  # the start in microseconds since the epoch
    m: int  # path steps per second
    n_sec: int  # seconds simulated (whole 15-minute windows)
    n_win: int  # 15-minute volatility windows

    @property
    def n_steps(self) -> int:
        return self.n_sec * self.m


class _Streams(NamedTuple):
    """One independent random stream per component (the children of ``SeedSequence(seed)`` in this order,
    :func:`_streams`)."""

    vol: np.random.Generator
    path: np.random.Generator
    eth: np.random.Generator
    volume: np.random.Generator
    oracle: np.random.Generator
    mm: np.random.Generator
    quote_times: np.random.Generator
    book: np.random.Generator
    trade: np.random.Generator
    missing: np.random.Generator
    latency: np.random.Generator
    eth_volume: np.random.Generator


def _seed_children(seed: int) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed)``'s children: one per :class:`_Streams` field, then the kline history's."""
    return np.random.SeedSequence(seed).spawn(len(_Streams._fields) + 1)


def _streams(seed: int) -> _Streams:
    """The world's component streams (children are deterministic by index: adding the history's last
    child left these unchanged)."""
    return _Streams(*(np.random.default_rng(s) for s in _seed_children(seed)[:-1]))


class _Paths(NamedTuple):
    """Spot log-paths at every path step and the per-window volatility."""

    sig_w: FloatArray  # annualized diffusion vol per 15-minute window
    log_s: FloatArray  # BTC log-price, n_steps + 1 points
    log_e: FloatArray  # ETH log-price, n_steps + 1 points
    truth: pd.DataFrame
    lag: FloatArray  # oracle filter state L = C - E (process module) at every path step, n_steps + 1 points


class _Oracle(NamedTuple):
    log_o: FloatArray  # log of the 1 Hz oracle price at 0..n_sec s
    price: FloatArray
    stream: pd.DataFrame
    push: pd.DataFrame


class _Markets(NamedTuple):
    """The markets of one window length."""

    interval: int
    t0: IntArray  # window starts, seconds from the world's start
    t1: IntArray
    lookback: IntArray  # TWAP lookback of each window's settlement (0: instant)
    strike: FloatArray
    slugs: np.ndarray
    market_ids: np.ndarray
    tok_up: np.ndarray
    tok_dn: np.ndarray
    frame: pd.DataFrame


def simulate_config(cfg: SimConfig, *, preset: str = "custom", progress: bool = False) -> World:
    """Simulate the world described by ``cfg`` (see :func:`simulate`).

    The steps: the time grid, one random stream per component, the spot paths, the klines, the oracle
    feeds, then per window length the markets, the maker's quotes, its books and the noise takers' trades.
    """
    t_clock = time.perf_counter()
    grid = _grid(cfg)
    rng = _streams(cfg.seed)
    bar = progress_bar(total=5, desc="simulate", enabled=progress, unit="stage")
    paths = _spot_paths(cfg, grid, rng)
    bar.update()
    klines_1s, klines, eth_klines = _kline_frames(cfg, grid, paths, rng)
    history = _kline_history(cfg, grid)
    bar.update()
    oracle = _oracle_feeds(cfg, grid, paths, rng)
    bar.update()
    cum_log_o = np.cumsum(oracle.log_o)
    market_frames, quote_frames, trade_frames, truth_frames, inputs = [], [], [], [], []
    edge_frames = []
    counts = {"book_events": 0, "books": 0}
    for interval in cfg.intervals:
        mk = _markets(cfg, grid, interval, oracle.price)
        maker = _maker(cfg, grid, mk, paths, cum_log_o)
        market_frames.append(mk.frame)
        quote_frames.append(maker.quotes)
        trade_frames.append(maker.trades)
        truth_frames.append(maker.true_probs)
        inputs.append(maker.books)
        edge_frames.append(maker.decision_edges)
        counts["book_events"] += int(maker.event_rows.sum())
        counts["books"] += int(maker.snapshot_rows.sum())
    bar.update()
    markets = pd.concat(market_frames, ignore_index=True)
    quotes = pd.concat(quote_frames, ignore_index=True).sort_values(["ts", "slug"], ignore_index=True)
    trades = pd.concat(trade_frames, ignore_index=True).sort_values(["ts", "trade_id"], ignore_index=True)
    # one categorical slug across the window lengths (as text, a 30-day world's 41 M grid rows would be ~3 GB)
    slug = pd.api.types.union_categoricals([f["slug"] for f in truth_frames], sort_categories=True)
    true_probs = pd.concat([f.drop(columns="slug") for f in truth_frames], ignore_index=True)
    true_probs.insert(1, "slug", pd.Series(slug, index=true_probs.index))
    bar.update()
    bar.close()
    return World(
        config=cfg, preset=preset, klines=klines, klines_1s=klines_1s, eth_klines=eth_klines,
        oracle=oracle.stream, oracle_push=oracle.push, markets=markets, quotes=quotes, trades=trades,
        truth=paths.truth, true_probs=true_probs,
        decision_edges=pd.concat(edge_frames, ignore_index=True), kline_history=history, book_inputs=tuple(inputs),
        book_counts=types.MappingProxyType(counts), elapsed_s=time.perf_counter() - t_clock,
    )


def _grid(cfg: SimConfig) -> _Grid:
    """The time grid of ``cfg``: the start must be a 15-minute boundary and the world two windows long."""
    start = to_utc(cfg.start, what="simulator start")
    if start.value % (WINDOW_S * 10**9) != 0:
        raise ValueError(f"simulator start {start} must fall on a 15-minute boundary (volatility windows)")
    n_sec = round(cfg.days * 86400 / WINDOW_S) * WINDOW_S
    if n_sec < 2 * WINDOW_S:
        raise ValueError("simulator: days must cover at least two 15-minute windows")
    return _Grid(start=start, start_us=start.value // 1000, m=cfg.substeps_per_s, n_sec=n_sec,
                 n_win=n_sec // WINDOW_S)


def _spot_paths(cfg: SimConfig, grid: _Grid, rng: _Streams) -> _Paths:
    """BTC and ETH log-paths (per-window vol, Merton jumps common to both) and the truth per window."""
    m, n_win, n_steps = grid.m, grid.n_win, grid.n_steps
    sig_w = window_vols(cfg, grid.start, n_win, rng.vol)
    sig_step = np.repeat(sig_w, WINDOW_S * m)
    inc, z, jumps = log_increments(rng.path, 1.0 / m, sig_step, cfg, n_steps)
    per_window = jumps.reshape(n_win, WINDOW_S * m)
    truth = pd.DataFrame({
        "window_start": _ts(grid.start_us, np.arange(n_win, dtype=np.float64) * WINDOW_S),
        "sigma": sig_w, "jump_steps": (per_window != 0.0).sum(axis=1), "jump_sum": per_window.sum(axis=1),
    })
    log_s = np.empty(n_steps + 1)
    log_s[0] = np.log(cfg.s0)
    np.cumsum(inc, out=log_s[1:])
    log_s[1:] += log_s[0]
    dt_y = (1.0 / m) / (365.0 * 86400.0)
    z_eth = cfg.eth_rho * z + np.sqrt(1.0 - cfg.eth_rho**2) * rng.eth.standard_normal(n_steps)
    inc_e = cfg.drift * dt_y + cfg.eth_vol_ratio * sig_step * np.sqrt(dt_y) * z_eth + cfg.eth_jump_beta * jumps
    log_e = np.log(cfg.eth_s0) + np.concatenate([[0.0], np.cumsum(inc_e)])
    lag = np.empty(n_steps + 1)
    lag[0] = 0.0  # the filter starts on the spot; the warm-up lets it reach its stationary law
    lag[1:] = oracle_lag(cfg, inc - jumps)
    return _Paths(sig_w=sig_w, log_s=log_s, log_e=log_e, truth=truth, lag=lag)


def _one_second_bars(cfg: SimConfig, grid: _Grid, sig_w: FloatArray, log_path: FloatArray,
                     rng: np.random.Generator, size_scale: float) -> Bars:
    """1-second OHLC of a log-path with volume rising with the standardized |return|."""
    n_sec, m = grid.n_sec, grid.m
    p = np.exp(log_path[: grid.n_steps]).reshape(n_sec, m)
    o, h, low, c = p[:, 0], p.max(axis=1), p.min(axis=1), p[:, -1]
    return _with_volume(cfg, (o, h, low, c), np.repeat(sig_w, WINDOW_S), rng, size_scale)


def _with_volume(cfg: SimConfig, ohlc: tuple[FloatArray, FloatArray, FloatArray, FloatArray], sigma_1s: FloatArray,
                 rng: np.random.Generator, size_scale: float) -> Bars:
    """1-second bars from their OHLC: volume, trade count and taker-buy share rising with |return| / sd."""
    o, h, low, c = ohlc
    n_sec = o.size
    sd_1s = sigma_1s * np.sqrt(1.0 / (365.0 * 86400.0))
    zr = np.log(c / o) / np.maximum(sd_1s, 1e-12)
    beta = cfg.volume_abs_return_beta
    activity = (1.0 + beta * np.abs(zr)) / (1.0 + beta * np.sqrt(2.0 / np.pi))
    noise = np.exp(cfg.volume_noise * rng.standard_normal(n_sec) - 0.5 * cfg.volume_noise**2)
    vol = cfg.volume_per_s * size_scale * activity * noise
    n_tr = 1 + rng.poisson(vol / (cfg.trade_size_btc * size_scale))
    buy_share = np.clip(0.5 + 0.35 * np.tanh(zr), 0.02, 0.98)
    return o, h, low, c, vol, vol * (o + h + low + c) / 4.0, n_tr, vol * buy_share


def _kline_history(cfg: SimConfig, grid: _Grid) -> pd.DataFrame:
    """``cfg.kline_history_days`` of BTCUSDT 1m klines ending at the world's start (its first open), on the
    world's vol and jump law at 1-s steps (exact increments; bars from the 1-s points), day by day.

    Whole 15-minute windows; the history's own random stream, so the world itself is unchanged by it."""
    n_win = round(cfg.kline_history_days * 86400 / WINDOW_S)
    if n_win == 0:
        return pd.DataFrame()
    rng = np.random.default_rng(_seed_children(cfg.seed)[-1])  # after the world's own streams
    start = grid.start - pd.Timedelta(seconds=n_win * WINDOW_S)
    sig_w = window_vols(cfg, start, n_win, rng)
    per_day = 86400 // WINDOW_S
    parts: list[Bars] = []
    level = 0.0  # log price relative to the history's start
    for d0 in range(0, n_win, per_day):
        sig_s = np.repeat(sig_w[d0:d0 + per_day], WINDOW_S)
        inc, _, _ = log_increments(rng, 1.0, sig_s, cfg, sig_s.size)
        lp = level + np.concatenate([[0.0], np.cumsum(inc)])
        level = float(lp[-1])
        p = np.exp(lp)
        o, c = p[:-1], p[1:]
        parts.append(_aggregate_bars(_with_volume(cfg, (o, np.maximum(o, c), np.minimum(o, c), c), sig_s, rng, 1.0),
                                     60))
    scale = cfg.s0 / np.exp(level)  # the last close is the world's first open
    bars = tuple(np.concatenate([b[i] for b in parts]) for i in range(8))
    o, h, low, c, v, qv, n, tb = bars
    scaled: Bars = (o * scale, h * scale, low * scale, c * scale, v, qv * scale, n.astype(np.int64), tb)
    return _klines_frame(start.value // 1000, 60, scaled, "BTCUSDT")


def _kline_frames(cfg: SimConfig, grid: _Grid, paths: _Paths,
                  rng: _Streams) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """BTCUSDT 1-second and 1-minute klines and ETHUSDT 1-minute klines."""
    b1 = _one_second_bars(cfg, grid, paths.sig_w, paths.log_s, rng.volume, 1.0)
    klines_1s = _klines_frame(grid.start_us, 1, b1, "BTCUSDT")
    klines = _klines_frame(grid.start_us, 60, _aggregate_bars(b1, 60), "BTCUSDT")
    be = _one_second_bars(cfg, grid, paths.sig_w, paths.log_e, rng.eth_volume, cfg.s0 / cfg.eth_s0)
    eth_klines = _klines_frame(grid.start_us, 60, _aggregate_bars(be, 60), "ETHUSDT")
    return klines_1s, klines, eth_klines


def _oracle_feeds(cfg: SimConfig, grid: _Grid, paths: _Paths, rng: _Streams) -> _Oracle:
    """The 1 Hz settlement stream (smoothed spot plus i.i.d. noise, latency, missing ticks) and the push feed."""
    n_sec, start_us = grid.n_sec, grid.start_us
    noise_sd = cfg.oracle_noise_bps * 1e-4
    # ticks at 0..n_sec s: spot minus the filter lag, plus noise
    log_o = (paths.log_s - paths.lag)[:: grid.m] + noise_sd * rng.oracle.standard_normal(n_sec + 1)
    oracle_px = np.exp(log_o)
    sec = np.arange(n_sec + 1, dtype=np.float64)
    lat = rng.latency.exponential(cfg.oracle_latency_s, n_sec + 1)
    keep = rng.missing.random(n_sec + 1) >= cfg.oracle_missing_rate
    stream = pd.DataFrame({
        "ts": _ts(start_us, sec),
        "price": oracle_px,
        "price_exact": pd.array([f"{v:.12f}" for v in oracle_px], dtype="str"),
        "round_id": pd.array([None] * (n_sec + 1), dtype="Int64"),
        "server_ts": _ts(start_us, sec + 0.5 * lat),
        "received_at": _ts(start_us, sec + lat),
        "feed": "BTC/USD",
        "source": "chainlink-data-streams",
    })[keep].reset_index(drop=True)
    push_idx = push_update_indices(sec, oracle_px, cfg.push_deviation, cfg.push_heartbeat_s)
    push_ts = np.floor(sec[push_idx])
    push = pd.DataFrame({
        "ts": _ts(start_us, push_ts),
        "price": np.round(oracle_px[push_idx], 8),
        "price_exact": pd.array([None] * push_idx.size, dtype="str"),
        "round_id": pd.array(np.arange(1, push_idx.size + 1) + 10_000_000, dtype="Int64"),
        "server_ts": pd.Series(pd.NaT, index=range(push_idx.size), dtype="datetime64[us, UTC]"),
        "received_at": _ts(start_us, push_ts + 2.0 + lat[push_idx]),
        "feed": "BTC/USD",
        "source": "chainlink-polygon-aggregator",
    })
    return _Oracle(log_o=log_o, price=oracle_px, stream=stream, push=push)


def _settlement_lookbacks(cfg: SimConfig, interval: int, starts: list[pd.Timestamp]) -> IntArray:
    """The TWAP lookback of each window's settlement (0: instant), from the timeline or forced."""
    forced = {"instant": 0, "twap": cfg.twap_lookback_s or rules.DEFAULT_TWAP_LOOKBACK_S[interval]}
    lb = np.empty(len(starts), dtype=np.int64)
    for i, ws in enumerate(starts):
        if cfg.settlement == "timeline":
            rule = rules.settlement_rule_at(ws, interval, cfg.twap_lookback_s or None)
            lb[i] = rule.twap_lookback_s if rule.mode == "twap" else 0
        else:
            lb[i] = forced[cfg.settlement]
    return lb


def _markets(cfg: SimConfig, grid: _Grid, interval: int, oracle_px: FloatArray) -> _Markets:
    """The markets of one window length: windows after the warm-up, strikes and outcomes by the rule."""
    length = interval * 60
    longest = cfg.twap_lookback_s or rules.DEFAULT_TWAP_LOOKBACK_S[interval]
    first = max(cfg.warmup_minutes * 60, longest)
    first = int(np.ceil(first / length)) * length
    t0 = np.arange(first, grid.n_sec - length + 1, length, dtype=np.int64)
    t1 = t0 + length
    starts = [grid.start + pd.Timedelta(seconds=int(s)) for s in t0]
    lb = _settlement_lookbacks(cfg, interval, starts)
    strike = np.where(lb > 0, 0.0, oracle_px[t0])
    end_val = np.where(lb > 0, 0.0, oracle_px[t1])
    for L in np.unique(lb[lb > 0]):
        sel = lb == L
        strike[sel] = twap_values(oracle_px, t0[sel], int(L))
        end_val[sel] = twap_values(oracle_px, t1[sel], int(L))
    outcome = rules.SettlementRule("chainlink-data-streams", "instant").outcome(strike, end_val)
    slugs = np.array([f"btc-updown-{interval}m-{(grid.start_us // _US) + int(s)}" for s in t0])
    fee_rate, fee_exp = rules.fees_at(pd.DatetimeIndex(starts))
    market_ids = np.array([str(int(hashlib.blake2b(s.encode(), digest_size=4).hexdigest(), 16)) for s in slugs])
    tok_up = np.array([_token_id(cfg.seed, s, "Up") for s in slugs])
    tok_dn = np.array([_token_id(cfg.seed, s, "Down") for s in slugs])
    frame = pd.DataFrame({
        "slug": pd.array(slugs, dtype="str"), "asset": "BTC",
        "interval_minutes": np.full(t0.size, interval, dtype=np.int16),
        "window_start": _ts(grid.start_us, t0), "window_end": _ts(grid.start_us, t1),
        "outcome_up": pd.array(outcome, dtype="Int8"), "outcome_from": "resolution",
        "strike": strike, "last_price_up": outcome.astype(np.float64),
        "market_id": pd.array(market_ids, dtype="str"), "clob_token_id_up": pd.array(tok_up, dtype="str"),
        "fee_rate": fee_rate, "fee_exponent": fee_exp, "source": SOURCE,
    })
    return _Markets(interval, t0, t1, lb, strike, slugs, market_ids, tok_up, tok_dn, frame)


#: Points per block of :func:`_beliefs` (its Poisson weights are points x terms: ~0.6 GB at 2^18 points).
BELIEF_BLOCK = 1 << 18


def _beliefs(cfg: SimConfig, grid: _Grid, mk: _Markets, paths: _Paths, cum_log_o: FloatArray,
             qt: FloatArray, w_of: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """At each quote time: the spot, the true P(up) and the maker's P(up) (stale, vol-misjudged), computed
    in blocks of :data:`BELIEF_BLOCK` points (elementwise: the same values, a bounded memory)."""
    if qt.size <= BELIEF_BLOCK:
        return _beliefs_block(cfg, grid, mk, paths, cum_log_o, qt, w_of)
    out = [np.empty(qt.size) for _ in range(3)]
    for lo in range(0, qt.size, BELIEF_BLOCK):
        part = _beliefs_block(cfg, grid, mk, paths, cum_log_o, qt[lo:lo + BELIEF_BLOCK], w_of[lo:lo + BELIEF_BLOCK])
        for dst, src in zip(out, part, strict=True):
            dst[lo:lo + BELIEF_BLOCK] = src
    return out[0], out[1], out[2]


def _beliefs_block(cfg: SimConfig, grid: _Grid, mk: _Markets, paths: _Paths, cum_log_o: FloatArray,
                   qt: FloatArray, w_of: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_beliefs` on one block of points."""
    m = grid.m
    t1 = mk.t1
    g = np.floor(qt * m + 1e-9).astype(np.int64)  # last realized path step
    state_s = g / m
    tau_s = t1[w_of] - state_s
    sigma_q = paths.sig_w[(g // (WINDOW_S * m)).clip(max=grid.n_win - 1)]
    lb_q = mk.lookback[w_of]
    known_hi = np.minimum(np.floor(state_s + 1e-9).astype(np.int64), t1[w_of])
    base_idx = t1[w_of] - lb_q  # the average's ticks are stamped base+1 .. t1
    known_sum = np.where((lb_q > 0) & (known_hi > base_idx), cum_log_o[known_hi] - cum_log_o[base_idx], 0.0)
    spot_q = np.exp(paths.log_s[g])
    g_mm = np.maximum(g - round(cfg.mm_stale_s * m), 0)
    spot_mm = np.exp(paths.log_s[g_mm])
    p_true = np.empty(qt.size)
    p_mm = np.empty(qt.size)
    for L in np.unique(lb_q):
        sel = lb_q == L
        common = {"strike": mk.strike[w_of[sel]], "tau_s": tau_s[sel], "twap_lookback_s": int(L),
                  "log_known_sum": known_sum[sel]}
        p_true[sel] = true_prob_up(cfg, spot=spot_q[sel], sigma=sigma_q[sel], lag=paths.lag[g[sel]], **common)
        p_mm[sel] = true_prob_up(cfg, spot=spot_mm[sel], sigma=sigma_q[sel] * cfg.mm_vol_mult,
                                 lag=paths.lag[g_mm[sel]],
                                 include_jumps=not cfg.mm_ignores_jumps, **common)
    return spot_q, p_true, p_mm


def _belief_grid(cfg: SimConfig, mk: _Markets) -> tuple[FloatArray, IntArray, int]:
    """The belief grid of one window length: every ``belief_step_s`` from each window's start (seconds
    from the world's start, by window then time), the window of each point, and points per window."""
    n_b = round(mk.interval * 60 / cfg.belief_step_s)
    offsets = np.arange(n_b) * cfg.belief_step_s
    return (mk.t0[:, None] + offsets[None, :]).ravel(), np.repeat(np.arange(mk.t0.size), n_b), n_b


def _maker_noise(cfg: SimConfig, p_mm: FloatArray, rng: np.random.Generator) -> FloatArray:
    """The maker's belief with AR(1) logit noise (stationary sd ``mm_noise``, correlation time
    ``mm_noise_time_s``) along the belief grid."""
    if cfg.mm_noise <= 0:
        return p_mm
    rho = float(np.exp(-cfg.belief_step_s / cfg.mm_noise_time_s))
    e = rng.standard_normal(p_mm.size) * cfg.mm_noise * np.sqrt(1.0 - rho * rho)
    first = cfg.mm_noise * rng.standard_normal()  # the stationary law from the first point
    ar, _ = signal.lfilter([1.0], [1.0, -rho], e, zi=np.array([rho * first]))
    return np.asarray(special.expit(special.logit(np.clip(p_mm, 1e-6, 1.0 - 1e-6)) + ar), dtype=np.float64)


class _BookInputs(NamedTuple):
    """What regenerates the maker's books of one window length exactly (:func:`_market_books`)."""

    interval: int
    seed: int
    start_us: int
    t0: IntArray
    t1: IntArray
    slugs: np.ndarray
    tok_up: np.ndarray
    tok_dn: np.ndarray
    grid_s: FloatArray  # belief grid offsets within a window (s)
    belief: FloatArray  # the maker's P(up) on the grid, [window, point]
    snapshot_every_s: float


def _market_books(inp: _BookInputs, i: int) -> tuple[BookRows, BookRows]:
    """Book events and full-depth snapshots of window ``i``: a deterministic function of the world's seed,
    the window length and the window's start (its own random stream), so any subset regenerates alone."""
    start_us = inp.start_us + int(inp.t0[i]) * _US
    end_us = inp.start_us + int(inp.t1[i]) * _US
    ts = start_us + np.round(inp.grid_s * _US).astype(np.int64)
    rng = np.random.default_rng([inp.seed, 0xB00C, inp.interval, int(inp.t0[i])])
    return maker_book_events(ts, inp.belief[i], start_us, end_us, rng, _book_params(inp.interval),
                             snapshot_every_s=inp.snapshot_every_s)


@functools.cache
def _book_params(interval: int) -> MakerBookParams:
    """The calibrated book parameters of a window length (immutable: validated once, not per market)."""
    return MakerBookParams.for_window(interval)


@numba.njit(cache=True)
def _touch_kernel(ts: Any, token: Any, side: Any, tick: Any, size: Any) -> tuple[Any, Any, Any]:  # pragma: no cover
    """The Up token's (token 0) best bid and ask tick after each of its update times (-1: empty side)."""
    bids = np.zeros(101)
    asks = np.zeros(101)
    n = ts.size
    out_ts = np.empty(n, np.int64)
    out_bid = np.empty(n, np.int64)
    out_ask = np.empty(n, np.int64)
    k = 0
    i = 0
    while i < n:
        t = ts[i]
        touched = False
        while i < n and ts[i] == t:
            if token[i] == 0:
                if side[i] == 0:
                    bids[tick[i]] = size[i]
                else:
                    asks[tick[i]] = size[i]
                touched = True
            i += 1
        if touched:
            bb = -1
            for j in range(100, -1, -1):
                if bids[j] > 0:
                    bb = j
                    break
            ba = -1
            for j in range(101):
                if asks[j] > 0:
                    ba = j
                    break
            out_ts[k] = t
            out_bid[k] = bb
            out_ask[k] = ba
            k += 1
    return out_ts[:k], out_bid[:k], out_ask[:k]


def _touch(events: BookRows) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    """The Up token's best bid and ask after each of its updates (times, bid, ask; NaN where empty)."""
    ts, bb, ba = _touch_kernel(events.ts_us, events.token, events.side, events.tick.astype(np.int64),
                               events.size.astype(np.float64))
    return ts, np.where(bb >= 0, bb / 100.0, np.nan), np.where(ba >= 0, ba / 100.0, np.nan)


#: The reference decision schedule of :attr:`World.decision_edges` (the go/no-go's default): every 30 s
#: from 60 s after a window's start to 30 s before its end, orders of this many shares.
EDGE_SCHEDULE = {"first_s": 60, "every_s": 30, "last_s": 30, "shares": 20.0}


def _decision_edges(mk: _Markets, i: int, touch: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
                    p_true: FloatArray, step_s: float, start_us: int) -> pd.DataFrame:
    """The true edge of each reference decision of window ``i`` (:data:`EDGE_SCHEDULE`): the better
    side's true P at ``t`` minus the ask standing at ``t`` + the taker delay (the event-level touch)
    minus the taker fee per share at that ask."""
    sch = EDGE_SCHEDULE
    t = np.arange(mk.t0[i] + sch["first_s"], mk.t1[i] - sch["last_s"] + 1e-9, sch["every_s"], dtype=np.float64)
    ts = _ts(start_us, t)
    p = p_true[np.round((t - mk.t0[i]) / step_s).astype(np.int64)]
    delay = np.asarray(rules.taker_delay_at(ts), dtype=np.float64)
    arrival_us = start_us + np.round((t + delay) * _US).astype(np.int64)
    ts_touch, bid_t, ask_t = touch
    k = np.searchsorted(ts_touch, arrival_us, side="right") - 1
    bid = np.where(k >= 0, bid_t[k.clip(min=0)], np.nan)
    ask = np.where(k >= 0, ask_t[k.clip(min=0)], np.nan)
    ask_dn = rules.round_to_tick(1.0 - bid, "up")
    rate, expo = rules.fees_at(pd.DatetimeIndex(ts))
    n = sch["shares"]
    e_up = p - ask - rules.taker_fee(n, ask, rate, expo) / n
    e_dn = (1.0 - p) - ask_dn - rules.taker_fee(n, ask_dn, rate, expo) / n
    return pd.DataFrame({"t": ts, "slug": str(mk.slugs[i]), "interval_minutes": np.int16(mk.interval),
                         "side": np.where(e_up >= e_dn, "Up", "Down"), "true_edge": np.maximum(e_up, e_dn)})


def _take(rows: BookRows, keep: npt.NDArray[np.bool_]) -> BookRows:
    """The rows where ``keep``."""
    return BookRows(rows.ts_us[keep], rows.token[keep], rows.side[keep], rows.tick[keep], rows.size[keep],
                    rows.level[keep])


class _Maker(NamedTuple):
    """The maker's side of one window length: quotes, top-of-book snapshots, trades, truth, counts."""

    quotes: pd.DataFrame
    trades: pd.DataFrame
    true_probs: pd.DataFrame
    books: _BookInputs
    event_rows: IntArray  # book event rows per window
    snapshot_rows: IntArray
    decision_edges: pd.DataFrame


TOP_LEVELS = 10  # levels per side kept in memory (World.top_books)


def _maker(cfg: SimConfig, grid: _Grid, mk: _Markets, paths: _Paths, cum_log_o: FloatArray) -> _Maker:
    """Beliefs on the grid, the event-level books, the ~2-s quotes taken from their snapshots (with the
    truth at each quote's own time), the noise takers' trades at the touch standing at their arrival."""
    qt_b, w_b, n_b = _belief_grid(cfg, mk)
    _, p_true_b, p_mm_b = _beliefs(cfg, grid, mk, paths, cum_log_o, qt_b, w_b)
    belief = _maker_noise(cfg, p_mm_b, np.random.default_rng([cfg.seed, 0x3A3A, mk.interval])).reshape(mk.t0.size, n_b)
    del p_mm_b  # the maker's noiseless belief: not needed past its noisy version (a 30-day grid: 166 MB)
    inp = _BookInputs(mk.interval, cfg.seed, grid.start_us, mk.t0, mk.t1, mk.slugs, mk.tok_up, mk.tok_dn,
                      np.arange(n_b, dtype=np.float64) * cfg.belief_step_s, belief, cfg.quote_every_s)
    start_us = grid.start_us
    snaps_all, w_snap, trades, edges = [], [], [], []  # snapshots: the Up token's level 0 only (the quotes)
    n_ev = np.zeros(mk.t0.size, dtype=np.int64)
    n_sn = np.zeros(mk.t0.size, dtype=np.int64)
    for i in range(mk.t0.size):
        events, snaps = _market_books(inp, i)
        n_ev[i], n_sn[i] = events.ts_us.size, snaps.ts_us.size
        keep = (snaps.level == 0) & (snaps.token == 0)
        snaps_all.append(_take(snaps, keep))
        w_snap.append(np.full(int(keep.sum()), i, dtype=np.int64))
        touch = _touch(events)
        trades.append(_taker_trades(cfg, mk, i, touch, start_us))
        # the grid runs window by window (_belief_grid): window i's points are one contiguous slice
        edges.append(_decision_edges(mk, i, touch, p_true_b[i * n_b:(i + 1) * n_b], cfg.belief_step_s, start_us))
    top_rows = BookRows(*(np.concatenate([getattr(r, f) for r in snaps_all]) for f in BookRows._fields))
    w_top = np.concatenate(w_snap)
    # quotes: the Up token's level 0 at each snapshot time
    best = np.ones(w_top.size, dtype=bool)
    key = w_top[best] * (1 << 44) + (top_rows.ts_us[best] - start_us)  # (window, time) as one sortable key
    uniq, inv = np.unique(key, return_inverse=True)
    bid = np.full(uniq.size, np.nan)
    ask = np.full(uniq.size, np.nan)
    sd = top_rows.side[best]
    bid[inv[sd == 0]] = top_rows.price[best][sd == 0]
    ask[inv[sd == 1]] = top_rows.price[best][sd == 1]
    w_of = uniq >> 44
    qts_us = start_us + (uniq & ((1 << 44) - 1))
    ok = ~(np.isnan(bid) & np.isnan(ask))  # a one-sided book is quoted with NaN on its empty side, as logged
    qts_us, w_of, bid, ask = qts_us[ok], w_of[ok], bid[ok], ask[ok]
    qt = (qts_us - start_us) / _US
    spot_q, p_true, _ = _beliefs(cfg, grid, mk, paths, cum_log_o, qt, w_of)
    ts_q = pd.Series(pd.DatetimeIndex(qts_us.astype("datetime64[us]")).tz_localize("UTC"))
    frame = pd.DataFrame({
        "ts": ts_q, "slug": pd.array(mk.slugs[w_of], dtype="str"),
        "market_id": pd.array(mk.market_ids[w_of], dtype="str"),
        "interval_minutes": np.full(qt.size, mk.interval, dtype=np.int16),
        "window_start": _ts(start_us, mk.t0[w_of]), "window_end": _ts(start_us, mk.t1[w_of]),
        "strike": mk.strike[w_of], "strike_logged": mk.strike[w_of], "reference_price": np.round(spot_q, 2),
        "best_bid_up": bid, "best_ask_up": ask,
        "best_bid_down": _mirror(ask), "best_ask_down": _mirror(bid),
        "source": SOURCE, "true_prob_up": p_true,
    })
    true_probs = pd.DataFrame({
        "ts": _ts(start_us, qt_b),
        "slug": pd.Categorical.from_codes(w_b, categories=pd.Index(mk.slugs.astype(object))),
        "true_prob_up": p_true_b,
    })
    trade_frame = pd.concat(trades, ignore_index=True)
    return _Maker(frame, trade_frame, true_probs, inp, n_ev, n_sn, pd.concat(edges, ignore_index=True))


def _top_frame(rows: BookRows, w_of: IntArray, mk: _BookInputs) -> pd.DataFrame:
    """``books``-kind rows of several windows at once (text columns dictionary-encoded, as
    :func:`~pmresearch.simulate.maker_book.snapshots_frame`)."""
    def cat(codes: IntArray, labels: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(np.asarray(labels, dtype=object)))

    n_w = mk.t0.size
    return pd.DataFrame({
        "ts": pd.DatetimeIndex(rows.ts_us.view("datetime64[us]")).tz_localize("UTC"),
        "slug": cat(w_of, mk.slugs),
        "token_id": cat(w_of + n_w * rows.token.astype(np.int64), np.concatenate([mk.tok_up, mk.tok_dn])),
        "outcome": cat(rows.token.astype(np.int64), np.array(["Up", "Down"])),
        "side": cat(rows.side.astype(np.int64), np.array(["bid", "ask"])),
        "level": rows.level.astype(np.int16), "price": rows.price, "size": rows.size.astype(np.float64),
    })


def _concat_categorical(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames whose text columns are categoricals, keeping them categorical (union of
    the categories; ``pd.concat`` would fall back to object text)."""
    out = pd.concat(frames, ignore_index=True)
    for col in ("slug", "token_id", "outcome", "side"):
        if col in out and not isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = pd.Categorical(pd.api.types.union_categoricals([f[col] for f in frames]))
    return out


def _taker_trades(cfg: SimConfig, mk: _Markets, i: int, touch: tuple[npt.NDArray[np.int64], FloatArray, FloatArray],
                  start_us: int) -> pd.DataFrame:
    """Noise takers of window ``i`` hitting the best quote of the event-level book standing at their arrival."""
    rng = np.random.default_rng([cfg.seed, 0x7AD3, mk.interval, int(mk.t0[i])])
    length = float(mk.t1[i] - mk.t0[i])
    n = int(rng.poisson(cfg.taker_trades_per_min * length / 60.0))
    t = np.sort(mk.t0[i] + rng.random(n) * length)
    t_us = start_us + np.round(t * _US).astype(np.int64)
    ts_touch, bid_t, ask_t = touch
    k = np.searchsorted(ts_touch, t_us, side="right") - 1
    valid = k >= 0
    k = k.clip(min=0)
    bid, ask = bid_t[k], ask_t[k]
    valid &= ~(np.isnan(bid) | np.isnan(ask))
    up = rng.random(n) < 0.5
    buy = rng.random(n) < 0.5
    qty = np.round(cfg.taker_size_shares * np.exp(0.8 * rng.standard_normal(n)), 2)
    lat = 0.05 + rng.exponential(0.1, n)
    price = np.where(up, np.where(buy, ask, bid), _mirror(np.where(buy, bid, ask)))
    sel = np.flatnonzero(valid)
    slug = str(mk.slugs[i])
    return pd.DataFrame({
        "ts": _ts(start_us, t[sel]), "price": price[sel], "qty": qty[sel],
        "side": pd.array(np.where(buy[sel], "buy", "sell"), dtype="str"),
        "received_at": _ts(start_us, t[sel] + lat[sel]),
        "symbol": pd.array(np.where(up[sel], str(mk.tok_up[i]), str(mk.tok_dn[i])), dtype="str"),
        "venue": "polymarket", "slug": pd.array(np.full(sel.size, slug), dtype="str"),
        "outcome": pd.array(np.where(up[sel], "Up", "Down"), dtype="str"),
        "trade_id": pd.array([f"{slug}-{j}" for j in range(sel.size)], dtype="str"),
    })
