"""Binance spot REST klines (``/api/v3/klines``), rate-limited, retried, resumable.

Documented limits (Binance spot "LIMITS", ``exchangeInfo``): request weight 6000 per minute per
IP; ``/api/v3/klines`` weighs 2. Rows are ``[open_time_ms, open, high, low, close, volume,
close_time_ms, quote_volume, trades, taker_buy_base, taker_buy_quote, ignore]``; at most 1000 per
request, so a range is split into chunks of 1000 bars, each paged by ``startTime`` until covered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmresearch.data.clients.http import (
    Chunk,
    EmptyResponse,
    EndpointLimit,
    MalformedResponse,
    stored_responses,
    utc_range,
)
from pmresearch.data.clients.output import DEFAULT_OUT_DIR, FetchResult, range_tag
from pmresearch.data.clients.rest import OneHostClient, bars_result
from pmresearch.data.importers import binance_klines_json

__all__ = ["BINANCE_LIMITS", "BINANCE_URL", "BINANCE_WEIGHTS", "INTERVAL_MS", "BinanceClient"]

BINANCE_URL = "https://api.binance.com"
#: REQUEST_WEIGHT 6000 per minute per IP (Binance spot API, "LIMITS").
BINANCE_LIMITS: tuple[EndpointLimit, ...] = (EndpointLimit("", 6000, 60.0),)
#: Weight per request by path prefix.
BINANCE_WEIGHTS = {"/api/v3/klines": 2.0}
KLINES_PATH = "/api/v3/klines"

INTERVAL_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
               "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000,
               "1d": 86_400_000}


def _check_rows(payload: Any, endpoint: str) -> list[list[Any]]:
    if not isinstance(payload, list):
        raise MalformedResponse(endpoint, f"expected a JSON array of klines, got {type(payload).__name__}: "
                                          f"{str(payload)[:120]}")
    for i, row in enumerate(payload):
        if not isinstance(row, list) or len(row) != 12:
            raise MalformedResponse(endpoint, f"row {i}: expected a 12-element kline array, got {str(row)[:120]}")
        if not isinstance(row[0], int):
            raise MalformedResponse(endpoint, f"row {i}: open time {row[0]!r} is not an integer (ms)")
    return payload


@dataclass
class BinanceClient(OneHostClient):
    """Fetch Binance spot klines into ``raw_root/binance/`` and canonical Parquet.

    The fields of :class:`~pmresearch.data.clients.rest.OneHostClient` (``raw_root``, ``retry``, ``clock``,
    ``concurrency``, ``base_url`` = :data:`BINANCE_URL`, ``limits`` = :data:`BINANCE_LIMITS`, the documented
    request weight per minute), and ``page_limit``: rows per request (``limit``, at most 1000).
    """

    base_url: str = BINANCE_URL
    limits: Sequence[EndpointLimit] = BINANCE_LIMITS
    page_limit: int = 1000

    async def fetch_klines(self, symbol: str, interval: str, start: Any, end: Any, *,
                           out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Download klines with open time in ``[start, end)`` and write ``<symbol>_<interval>_<range>.parquet``.

        Candles not closed at fetch time are dropped; the chunk holding them is not checkpointed,
        so a later re-run completes it. A chunk whose range has ended must hold bars: an empty page is
        asked again (the retry policy's attempts); an empty first page is then an
        :class:`~pmresearch.data.clients.http.EmptyResponse`, a later one a gap at the chunk's end that
        is kept without checkpointing the chunk (the next run asks again).
        """
        symbol = symbol.upper()
        if interval not in INTERVAL_MS:
            raise ValueError(f"unknown Binance interval {interval!r}; one of {sorted(INTERVAL_MS)}")
        if not 1 <= self.page_limit <= 1000:
            raise ValueError(f"page_limit must be in [1, 1000], got {self.page_limit}")
        t0, t1 = utc_range(start, end)
        step = INTERVAL_MS[interval]
        s_ms = -(-int(t0.value // 1_000_000) // step) * step  # first bar open >= start
        e_ms = int(t1.value // 1_000_000)
        span = self.page_limit * step  # one request per chunk unless the server pages shorter
        chunks = [Chunk(f"{a}-{min(a + span, e_ms)}", {"start": a, "end": min(a + span, e_ms)})
                  for a in range(s_ms, e_ms, span)]
        dataset = Path("binance") / "klines" / f"{symbol}_{interval}_{range_tag(t0, t1)}"
        raw, manifest = self._dataset(dataset, {"symbol": symbol, "interval": interval, "start": t0.isoformat(),
                                                "end": t1.isoformat()})
        async with self._host(BINANCE_WEIGHTS) as http:
            endpoint = f"GET {http.base_url}{KLINES_PATH}"

            async def work(chunk: Chunk) -> dict[str, Any]:
                a, b = int(chunk.params["start"]), int(chunk.params["end"])
                cursor, files, rows, page = a, [], 0, 0
                final = True
                while cursor < b:
                    params = {"symbol": symbol, "interval": interval, "startTime": cursor, "endTime": b - 1,
                              "limit": self.page_limit}
                    ended = b <= time.time() * 1000  # a range that has ended holds bars
                    try:
                        resp = await http.get_nonempty(KLINES_PATH, params,
                                                       why=f"the range {cursor}..{b} ms has ended" if ended else None)
                    except EmptyResponse:
                        if cursor == a:
                            raise
                        final = False  # a gap at the chunk's end, or an answer lost: asked again by the next run
                        break
                    data = _check_rows(resp.payload, f"{endpoint}?symbol={symbol}&startTime={cursor}")
                    rel = dataset / f"{a}_p{page:03d}.json"
                    raw.write(rel, resp, {"symbol": symbol, "interval": interval})
                    files.append(str(rel))
                    rows += len(data)
                    page += 1
                    if not data:
                        final = final and b <= int(resp.fetched_at.value // 1_000_000)  # bars still to come
                        break
                    last = int(data[-1][0])
                    if last < cursor:
                        raise MalformedResponse(endpoint, f"page starting {cursor} ends at {last}: not advancing")
                    cursor = last + step
                    if last + step > int(resp.fetched_at.value // 1_000_000):
                        final = False  # a still-open candle: fetch this chunk again next run
                        break
                return {"files": files, "rows": rows, "final": final}

            counts = await self._run(chunks, work, manifest, f"binance {symbol} {interval}")
            stats = http.stats
        frames = (binance_klines_json(payload, symbol=symbol, interval=interval, where=where, fetched_at=fetched)
                  for _, where, payload, fetched in stored_responses(raw, manifest, chunks))
        return bars_result(frames, binance_klines_json([], symbol=symbol, interval=interval), start=t0, end=t1,
                           name=f"{symbol.lower()}_{interval}_{range_tag(t0, t1)}.parquet", out_dir=out_dir,
                           where=f"binance klines {symbol} {interval}", expected=(e_ms - s_ms + step - 1) // step,
                           label=f"{symbol} {interval}", missing="bars in range (gaps, or bars not closed yet)",
                           unrecognized="ingest the raw JSON instead", manifest=manifest, counts=counts,
                           stats=stats)

    def fetch_klines_sync(self, symbol: str, interval: str, start: Any, end: Any, *,
                          out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """:meth:`fetch_klines` run to completion in a fresh event loop."""
        return asyncio.run(self.fetch_klines(symbol, interval, start, end, out_dir=out_dir))
