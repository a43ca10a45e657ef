"""Venue clients: Binance klines, Coinbase candles, Polymarket Gamma / CLOB / Data API, market websocket.

All REST clients share :mod:`pmresearch.data.clients.http`: client-side rate limits at the
documented limits (token buckets), retries with exponential backoff and jitter on 429/5xx/timeouts
(``Retry-After`` obeyed), raw responses kept under a raw root (``data/raw``), a manifest per dataset
so a re-run skips completed chunks, and canonical Parquet output named with the data-directory
prefixes. Base URLs are constructor arguments (and CLI options), so tests use local servers.
"""

from __future__ import annotations

from pmresearch.data.clients.binance import BINANCE_URL, BinanceClient
from pmresearch.data.clients.coinbase import COINBASE_URL, CoinbaseClient
from pmresearch.data.clients.http import (
    DEFAULT_RAW_ROOT,
    ApiError,
    EndpointLimit,
    HttpClient,
    HttpStatusError,
    MalformedResponse,
    Manifest,
    RawStore,
    RetryExhausted,
    RetryPolicy,
    TokenBucket,
)
from pmresearch.data.clients.output import DEFAULT_OUT_DIR, FetchResult
from pmresearch.data.clients.polymarket import CLOB_URL, DATA_URL, GAMMA_URL, PolymarketClient, window_slugs
from pmresearch.data.clients.ws import WS_MARKET_URL, RecordStats, record_market_channel

__all__ = [
    "BINANCE_URL",
    "CLOB_URL",
    "COINBASE_URL",
    "DATA_URL",
    "DEFAULT_OUT_DIR",
    "DEFAULT_RAW_ROOT",
    "GAMMA_URL",
    "WS_MARKET_URL",
    "ApiError",
    "BinanceClient",
    "CoinbaseClient",
    "EndpointLimit",
    "FetchResult",
    "HttpClient",
    "HttpStatusError",
    "MalformedResponse",
    "Manifest",
    "PolymarketClient",
    "RawStore",
    "RecordStats",
    "RetryExhausted",
    "RetryPolicy",
    "TokenBucket",
    "record_market_channel",
    "window_slugs",
]
