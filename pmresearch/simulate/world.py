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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import signal, special

from pmresearch import rules
from pmresearch._progress import progress as progress_bar
from pmresearch._summary import Summary, SummaryMixin, summary_table
from pmresearch._time import to_utc
from pmresearch._typing import FloatArray, IntArray
from pmresearch.config import to_mapping
from pmresearch.simulate.config import SimConfig, make_config
from pmresearch.simulate.oracle import push_update_indices, twap_values
from pmresearch.simulate.process import WINDOW_S, log_increments, oracle_lag, true_prob_up, window_vols

__all__ = ["World", "simulate", "simulate_config"]

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
    oracle
        The 1 Hz settlement stream (Chainlink Data Streams-like: spot plus i.i.d. noise).
    oracle_push
        The push-style feed derived from it (deviation or heartbeat rounds).
    markets
        5- and 15-minute markets with outcomes under the settlement rule in force.
    quotes
        Best bid/ask snapshots (~every 2 s) with ``true_prob_up``, the ground truth.
    books, trades
        L2 book levels (both tokens) and the noise takers' trade prints.
    truth
        Ground truth of the generating process per 15-minute volatility window: ``window_start``,
        ``sigma`` (annualized diffusion vol), ``jump_steps`` (path steps holding a jump: the jump count
        but for the ~1e-5 chance of two in one sub-second step) and ``jump_sum`` (sum of log-jumps).
        Not a data file: it is what estimators are checked against.
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
    books: pd.DataFrame
    trades: pd.DataFrame
    truth: pd.DataFrame
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def tag(self) -> str:
        """File-name suffix identifying this world."""
        c = self.config
        start = to_utc(c.start).strftime("%Y%m%d")
        days = f"{c.days:g}".replace(".", "p")
        return f"sim-{self.preset}-s{c.seed}-{start}-{days}d"

    def files(self) -> dict[str, pd.DataFrame]:
        """File name (with the data-directory prefix) -> frame, as :meth:`write` lays them out."""
        out: dict[str, pd.DataFrame] = {
            f"btcusdt_1m_{self.tag}.parquet": self.klines,
            f"btcusdt_1s_{self.tag}.parquet": self.klines_1s,
            f"ethusdt_1m_{self.tag}.parquet": self.eth_klines,
            f"chainlink_btcusd_ds_{self.tag}.parquet": self.oracle,
            f"chainlink_btcusd_push_{self.tag}.parquet": self.oracle_push,
        }
        for interval in self.config.intervals:
            sel = {
                "markets": self.markets[self.markets["interval_minutes"] == interval],
                "quotes": self.quotes[self.quotes["interval_minutes"] == interval],
                "books": self.books[self.books["slug"].str.startswith(f"btc-updown-{interval}m-")],
                "trades": self.trades[self.trades["slug"].str.startswith(f"btc-updown-{interval}m-")],
            }
            for kind, frame in sel.items():
                out[f"polymarket_btc_{interval}m_{kind}_{self.tag}.parquet"] = frame.reset_index(drop=True)
        return out

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write every file (Parquet, zstd) plus ``world.json`` into ``out_dir``; all or nothing.

        Files are written to a temporary directory beside ``out_dir`` and moved in only when all
        of them are complete.
        """
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".sim-", dir=target))
        try:
            names = []
            for name, frame in self.files().items():
                frame.to_parquet(tmp / name, compression="zstd", index=False)
                names.append(name)
            meta = {"preset": self.preset, "config": to_mapping(self.config), "summary": dict(self.stats)}
            self.truth.to_parquet(tmp / "truth_windows.parquet", compression="zstd", index=False)
            names.append("truth_windows.parquet")
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
            "book_rows": len(self.books),
            "polymarket_trades": len(self.trades),
            "share_up": float(self.markets["outcome_up"].astype(float).mean()),
            "mean_abs_mid_minus_true": float((mid - q["true_prob_up"]).abs().mean()),
            "median_spread": float((q["best_ask_up"] - q["best_bid_up"]).median()),
            "elapsed_s": round(self.elapsed_s, 2),
        })

    def summary(self) -> Summary:
        """:attr:`stats` as a one-column table, and the files :meth:`write` lays out."""
        files = pd.DataFrame({"rows": {name: len(frame) for name, frame in self.files().items()}})
        return summary_table(f"Simulated world {self.tag}", {"world": self.stats, "files": files},
                             notes=("mean_abs_mid_minus_true: mean |quoted mid - true P(up)| over every quote "
                                    "(the maker's distortion)",))


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
    """One independent random stream per component (``SeedSequence(seed).spawn(12)``, in this order)."""

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


class _Quotes(NamedTuple):
    """The maker's quotes of one window length."""

    qt: FloatArray  # quote times, seconds from the world's start (by window, then time)
    w_of: IntArray  # window of each quote
    bid: FloatArray
    ask: FloatArray
    frame: pd.DataFrame


def simulate_config(cfg: SimConfig, *, preset: str = "custom", progress: bool = False) -> World:
    """Simulate the world described by ``cfg`` (see :func:`simulate`).

    The steps: the time grid, one random stream per component, the spot paths, the klines, the oracle
    feeds, then per window length the markets, the maker's quotes, its books and the noise takers' trades.
    """
    t_clock = time.perf_counter()
    grid = _grid(cfg)
    rng = _Streams(*(np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(12)))
    bar = progress_bar(total=5, desc="simulate", enabled=progress, unit="stage")
    paths = _spot_paths(cfg, grid, rng)
    bar.update()
    klines_1s, klines, eth_klines = _kline_frames(cfg, grid, paths, rng)
    bar.update()
    oracle = _oracle_feeds(cfg, grid, paths, rng)
    bar.update()
    cum_log_o = np.cumsum(oracle.log_o)
    market_frames, quote_frames, book_frames, trade_frames = [], [], [], []
    for interval in cfg.intervals:
        mk = _markets(cfg, grid, interval, oracle.price)
        qs = _quotes(cfg, grid, mk, paths, cum_log_o, rng)
        snap = np.arange(qs.qt.size)[:: cfg.book_every]  # L2 books: every book_every-th snapshot
        market_frames.append(mk.frame)
        quote_frames.append(qs.frame)
        book_frames.append(_books(cfg, rng.book, grid.start_us, qs.qt[snap], mk.slugs[qs.w_of[snap]],
                                  mk.tok_up[qs.w_of[snap]], mk.tok_dn[qs.w_of[snap]], qs.bid[snap], qs.ask[snap]))
        trade_frames.append(_taker_trades(cfg, rng.trade, grid.start_us, mk.t0, mk.t1, mk.slugs, mk.tok_up,
                                          mk.tok_dn, qs.qt, qs.w_of, qs.bid, qs.ask))
    bar.update()
    markets = pd.concat(market_frames, ignore_index=True)
    quotes = pd.concat(quote_frames, ignore_index=True).sort_values(["ts", "slug"], ignore_index=True)
    books = pd.concat(book_frames, ignore_index=True)
    trades = pd.concat(trade_frames, ignore_index=True).sort_values(["ts", "trade_id"], ignore_index=True)
    bar.update()
    bar.close()
    return World(
        config=cfg, preset=preset, klines=klines, klines_1s=klines_1s, eth_klines=eth_klines,
        oracle=oracle.stream, oracle_push=oracle.push, markets=markets, quotes=quotes, books=books,
        trades=trades, truth=paths.truth, elapsed_s=time.perf_counter() - t_clock,
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
    sd_1s = np.repeat(sig_w, WINDOW_S) * np.sqrt(1.0 / (365.0 * 86400.0))
    zr = np.log(c / o) / np.maximum(sd_1s, 1e-12)
    beta = cfg.volume_abs_return_beta
    activity = (1.0 + beta * np.abs(zr)) / (1.0 + beta * np.sqrt(2.0 / np.pi))
    noise = np.exp(cfg.volume_noise * rng.standard_normal(n_sec) - 0.5 * cfg.volume_noise**2)
    vol = cfg.volume_per_s * size_scale * activity * noise
    n_tr = 1 + rng.poisson(vol / (cfg.trade_size_btc * size_scale))
    buy_share = np.clip(0.5 + 0.35 * np.tanh(zr), 0.02, 0.98)
    return o, h, low, c, vol, vol * (o + h + low + c) / 4.0, n_tr, vol * buy_share


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


def _quote_times(cfg: SimConfig, mk: _Markets, rng: np.random.Generator) -> tuple[FloatArray, IntArray]:
    """Quote times every ``quote_every_s`` plus jitter, strictly inside each window, and their window."""
    n_q = int(mk.interval * 60 / cfg.quote_every_s)
    offsets = np.arange(n_q) * cfg.quote_every_s
    qt = (mk.t0[:, None] + offsets[None, :] + rng.random((mk.t0.size, n_q)) * cfg.quote_jitter_s).ravel()
    w_of = np.repeat(np.arange(mk.t0.size), n_q)
    ok = qt < mk.t1[w_of]
    return qt[ok], w_of[ok]


def _beliefs(cfg: SimConfig, grid: _Grid, mk: _Markets, paths: _Paths, cum_log_o: FloatArray,
             qt: FloatArray, w_of: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """At each quote time: the spot, the true P(up) and the maker's P(up) (stale, vol-misjudged)."""
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


def _maker_book(cfg: SimConfig, p_mm: FloatArray, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """The maker's best bid and ask: its belief (with AR(1) logit noise) minus and plus the half spread."""
    if cfg.mm_noise > 0:
        rho = 0.9
        e = rng.standard_normal(p_mm.size) * cfg.mm_noise * np.sqrt(1.0 - rho * rho)
        ar = signal.lfilter([1.0], [1.0, -rho], e)
        p_mm = special.expit(special.logit(np.clip(p_mm, 1e-6, 1.0 - 1e-6)) + ar)
    bid = rules.round_to_tick(p_mm - cfg.half_spread, "down")
    ask = rules.round_to_tick(p_mm + cfg.half_spread, "up")
    bid = np.minimum(bid, 0.998)
    ask = np.where(ask <= bid, rules.round_to_tick(bid + rules.tick_size(bid), "nearest"), ask)
    return bid, ask


def _quotes(cfg: SimConfig, grid: _Grid, mk: _Markets, paths: _Paths, cum_log_o: FloatArray,
            rng: _Streams) -> _Quotes:
    """The maker's best bid/ask snapshots of one window length, with the true P(up) at each."""
    qt, w_of = _quote_times(cfg, mk, rng.quote_times)
    spot_q, p_true, p_mm = _beliefs(cfg, grid, mk, paths, cum_log_o, qt, w_of)
    bid, ask = _maker_book(cfg, p_mm, rng.mm)
    start_us = grid.start_us
    frame = pd.DataFrame({
        "ts": _ts(start_us, qt), "slug": pd.array(mk.slugs[w_of], dtype="str"),
        "market_id": pd.array(mk.market_ids[w_of], dtype="str"),
        "interval_minutes": np.full(qt.size, mk.interval, dtype=np.int16),
        "window_start": _ts(start_us, mk.t0[w_of]), "window_end": _ts(start_us, mk.t1[w_of]),
        "strike": mk.strike[w_of], "strike_logged": mk.strike[w_of], "reference_price": np.round(spot_q, 2),
        "best_bid_up": bid, "best_ask_up": ask,
        "best_bid_down": _mirror(ask), "best_ask_down": _mirror(bid),
        "source": SOURCE, "true_prob_up": p_true,
    })
    return _Quotes(qt=qt, w_of=w_of, bid=bid, ask=ask, frame=frame)


def _books(
    cfg: SimConfig, rng: np.random.Generator, start_us: int, ts_s: FloatArray, slug: np.ndarray,
    tok_up: np.ndarray, tok_dn: np.ndarray, bid: FloatArray, ask: FloatArray,
) -> pd.DataFrame:
    """L2 levels of both tokens at each snapshot; levels step one tick away from the best."""
    n, k = bid.size, cfg.book_levels
    bids = np.empty((n, k))
    asks = np.empty((n, k))
    bids[:, 0], asks[:, 0] = bid, ask
    for j in range(1, k):
        # one tick away; levels that leave [0.001, 0.999] stay outside it and are dropped below
        bids[:, j] = rules.round_to_tick(bids[:, j - 1] - rules.tick_size(bids[:, j - 1]), "nearest", clip=False)
        asks[:, j] = rules.round_to_tick(asks[:, j - 1] + rules.tick_size(asks[:, j - 1]), "nearest", clip=False)
    scale = cfg.depth_shares * cfg.depth_growth ** np.arange(k)
    bid_sz = np.round(scale * np.exp(0.5 * rng.standard_normal((n, k))), 2)
    ask_sz = np.round(scale * np.exp(0.5 * rng.standard_normal((n, k))), 2)
    level = np.tile(np.arange(k), n)
    parts = []
    # Up token: its own bids and asks; Down token: bids mirror Up asks, asks mirror Up bids.
    for token, outcome, side, px, sz in (
        (tok_up, "Up", "bid", bids, bid_sz), (tok_up, "Up", "ask", asks, ask_sz),
        (tok_dn, "Down", "bid", _mirror(asks, clip=False), ask_sz),
        (tok_dn, "Down", "ask", _mirror(bids, clip=False), bid_sz),
    ):
        valid = ((px >= 0.001) & (px <= 0.999)).ravel()
        parts.append(pd.DataFrame({
            "ts": _ts(start_us, np.repeat(ts_s, k))[valid].to_numpy(),
            "slug": np.repeat(slug, k)[valid], "token_id": np.repeat(token, k)[valid],
            "outcome": outcome, "side": side, "level": level[valid].astype(np.int16),
            "price": px.ravel()[valid], "size": sz.ravel()[valid],
        }))
    out = pd.concat(parts, ignore_index=True)
    for col in ("slug", "token_id", "outcome", "side"):
        out[col] = out[col].astype("str")
    return out.sort_values(["ts", "token_id", "side", "level"], ignore_index=True)


def _taker_trades(
    cfg: SimConfig, rng: np.random.Generator, start_us: int, t0: IntArray, t1: IntArray, slugs: np.ndarray,
    tok_up: np.ndarray, tok_dn: np.ndarray, qt: FloatArray, w_of: IntArray, bid: FloatArray, ask: FloatArray,
) -> pd.DataFrame:
    """Noise takers hitting the maker's best quote standing at their arrival."""
    length = t1 - t0
    counts = rng.poisson(cfg.taker_trades_per_min * length / 60.0)
    w = np.repeat(np.arange(t0.size), counts)
    t = t0[w] + rng.random(w.size) * length[w]
    # latest quote of the same window at or before t (quotes are ordered by window, then time)
    key_q = w_of * 1e5 + (qt - t0[w_of])
    key_t = w * 1e5 + (t - t0[w])
    qi = np.searchsorted(key_q, key_t, side="right") - 1
    valid = (qi >= 0) & (w_of[qi.clip(min=0)] == w)
    w, t, qi = w[valid], t[valid], qi[valid]
    up = rng.random(w.size) < 0.5
    buy = rng.random(w.size) < 0.5
    price_up = np.where(buy, ask[qi], bid[qi])
    price = np.where(up, price_up, _mirror(np.where(buy, bid[qi], ask[qi])))
    qty = np.round(cfg.taker_size_shares * np.exp(0.8 * rng.standard_normal(w.size)), 2)
    slug = slugs[w]
    seq = np.arange(w.size)
    return pd.DataFrame({
        "ts": _ts(start_us, t), "price": price, "qty": qty,
        "side": pd.array(np.where(buy, "buy", "sell"), dtype="str"),
        "received_at": _ts(start_us, t + 0.05 + rng.exponential(0.1, w.size)),
        "symbol": pd.array(np.where(up, tok_up[w], tok_dn[w]), dtype="str"), "venue": "polymarket",
        "slug": pd.array(slug, dtype="str"), "outcome": pd.array(np.where(up, "Up", "Down"), dtype="str"),
        "trade_id": pd.array([f"{s}-{i}" for s, i in zip(slug, seq, strict=True)], dtype="str"),
    })
