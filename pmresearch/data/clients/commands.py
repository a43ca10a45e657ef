"""What ``pmresearch fetch binance|coinbase|polymarket`` runs (the CLI part only parses options)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd

from pmresearch.data.clients.binance import BINANCE_URL, BinanceClient
from pmresearch.data.clients.coinbase import COINBASE_URL, CoinbaseClient
from pmresearch.data.clients.http import RetryPolicy, utc_range
from pmresearch.data.clients.output import FetchResult
from pmresearch.data.clients.polymarket import CLOB_URL, DATA_URL, GAMMA_URL, PolymarketClient
from pmresearch.data.clients.ws import WS_MARKET_URL, RecordStats, record_market_channel

__all__ = ["POLYMARKET_DATASETS", "fetch_binance", "fetch_coinbase", "fetch_polymarket", "record_polymarket_ws"]

#: What ``pmresearch fetch polymarket WHAT`` accepts.
POLYMARKET_DATASETS = ("markets", "prices", "book", "trades", "all", "ws")


def fetch_binance(*, symbol: str, interval: str, start: str, end: str, out: Path, raw_root: Path,
                  base_url: str | None = None, page_limit: int = 1000, concurrency: int = 4,
                  max_attempts: int = 6) -> FetchResult:
    """Binance klines of ``[start, end)`` (see :meth:`BinanceClient.fetch_klines`)."""
    client = BinanceClient(base_url=base_url or BINANCE_URL, raw_root=raw_root, page_limit=page_limit,
                           concurrency=concurrency, retry=RetryPolicy(max_attempts=max_attempts))
    return client.fetch_klines_sync(symbol, interval, start, end, out_dir=out)


def fetch_coinbase(*, product: str, granularity: int, start: str, end: str, out: Path, raw_root: Path,
                   base_url: str | None = None, concurrency: int = 4, max_attempts: int = 6) -> FetchResult:
    """Coinbase candles of ``[start, end)`` (see :meth:`CoinbaseClient.fetch_candles`)."""
    client = CoinbaseClient(base_url=base_url or COINBASE_URL, raw_root=raw_root, concurrency=concurrency,
                            retry=RetryPolicy(max_attempts=max_attempts))
    return client.fetch_candles_sync(product, granularity, start, end, out_dir=out)


def _polymarket(raw_root: Path, gamma_url: str | None, clob_url: str | None, data_url: str | None,
                concurrency: int, max_attempts: int) -> PolymarketClient:
    return PolymarketClient(gamma_url=gamma_url or GAMMA_URL, clob_url=clob_url or CLOB_URL,
                            data_url=data_url or DATA_URL, raw_root=raw_root, concurrency=concurrency,
                            retry=RetryPolicy(max_attempts=max_attempts))


def fetch_polymarket(what: str, *, start: str, end: str, out: Path, raw_root: Path, interval_minutes: int = 15,
                     asset: str = "btc", fidelity: int = 1, lead_minutes: int = 0, gamma_url: str | None = None,
                     clob_url: str | None = None, data_url: str | None = None, concurrency: int = 4,
                     max_attempts: int = 6) -> list[FetchResult]:
    """Polymarket ``markets``, ``prices``, ``book``, ``trades`` or ``all`` for the windows of ``[start, end)``."""
    client = _polymarket(raw_root, gamma_url, clob_url, data_url, concurrency, max_attempts)
    return client.run(what, start, end, interval_minutes=interval_minutes, asset=asset, out_dir=out,
                      fidelity=fidelity, lead_minutes=lead_minutes)


def record_polymarket_ws(*, start: str, end: str, out: Path, raw_root: Path, duration_s: float | None,
                         max_messages: int | None = None, interval_minutes: int = 15, asset: str = "btc",
                         gamma_url: str | None = None, ws_url: str | None = None,
                         tokens: list[str] | None = None, max_attempts: int = 6) -> RecordStats:
    """Record the market channel for the tokens of the markets in ``[start, end)`` (or ``tokens``).

    Writes ``out/polymarket_ws_<asset>_<m>m_<now>.jsonl.gz``; without ``tokens`` the range's markets
    are found on Gamma and written to ``out`` too (``polymarket_<asset>_<m>m_markets_...``), so
    ``pmresearch ingest`` of ``out`` maps tokens to markets and rebuilds quotes.
    """
    if duration_s is None and max_messages is None:
        raise ValueError("recording the websocket needs --duration (seconds) or --max-messages")
    client = _polymarket(raw_root, gamma_url, None, None, 4, max_attempts)
    utc_range(start, end)  # fail fast on a naive, unreadable or reversed range

    async def go() -> RecordStats:
        ids = list(tokens or [])
        if not ids:  # the range's markets, written beside the log so ingest maps tokens to markets
            await client.fetch_markets(start, end, interval_minutes=interval_minutes, asset=asset, out_dir=out)
            ids = sorted(await client.market_tokens(start, end, interval_minutes=interval_minutes, asset=asset))
        if not ids:
            raise ValueError(f"no {asset} {interval_minutes}m markets found for {start} .. {end}: nothing to record")
        now = pd.Timestamp.now(tz="UTC")
        path = Path(out) / f"polymarket_ws_{asset}_{interval_minutes}m_{now:%Y%m%dT%H%M%S}.jsonl.gz"
        return await record_market_channel(ids, path, url=ws_url or WS_MARKET_URL, duration_s=duration_s,
                                           max_messages=max_messages, retry=RetryPolicy(max_attempts=max_attempts))

    return asyncio.run(go())
