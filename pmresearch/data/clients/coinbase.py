"""Coinbase Exchange REST candles (``/products/{product}/candles``), rate-limited, retried, resumable.

Documented limits (Coinbase Exchange "REST Rate Limits"): public endpoints 10 requests per second
per IP, bursts up to 15, as a lazy-fill token bucket (which :class:`TokenBucket` is). A response
holds at most 300 candles, rows ``[time_s, low, high, open, close, volume]``, newest first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pmresearch.data.clients.http import Chunk, EndpointLimit, MalformedResponse, stored_responses, utc_range
from pmresearch.data.clients.output import DEFAULT_OUT_DIR, FetchResult, range_tag
from pmresearch.data.clients.rest import OneHostClient, bars_result
from pmresearch.data.importers import coinbase_candles

__all__ = ["COINBASE_LIMITS", "COINBASE_URL", "GRANULARITIES", "CoinbaseClient"]

COINBASE_URL = "https://api.exchange.coinbase.com"
#: Public endpoints: 10 requests/s per IP, bursts up to 15 (a token bucket, as documented).
COINBASE_LIMITS: tuple[EndpointLimit, ...] = (EndpointLimit("", 10, 1.0, burst=15, token_bucket=True),)
#: Allowed ``granularity`` values (seconds) and their interval names.
GRANULARITIES = {60: "1m", 300: "5m", 900: "15m", 3600: "1h", 21600: "6h", 86400: "1d"}
MAX_CANDLES = 300


def _check_rows(payload: Any, endpoint: str) -> list[list[Any]]:
    if not isinstance(payload, list):
        raise MalformedResponse(endpoint, f"expected a JSON array of candles, got {str(payload)[:120]}")
    for i, row in enumerate(payload):
        if (not isinstance(row, list) or len(row) != 6
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)):
            raise MalformedResponse(endpoint, f"row {i}: expected [time, low, high, open, close, volume] numbers, "
                                              f"got {str(row)[:120]}")
    return payload


@dataclass
class CoinbaseClient(OneHostClient):
    """Fetch Coinbase Exchange candles into ``raw_root/coinbase/`` and canonical Parquet.

    Its fields are those of :class:`~pmresearch.data.clients.rest.OneHostClient`, with ``base_url`` =
    :data:`COINBASE_URL` and ``limits`` = :data:`COINBASE_LIMITS` (the documented public token bucket).
    """

    base_url: str = COINBASE_URL
    limits: Sequence[EndpointLimit] = COINBASE_LIMITS

    async def fetch_candles(self, product: str, granularity_s: int, start: Any, end: Any, *,
                            out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Download candles opening in ``[start, end)``; write ``<product>_<interval>_<range>.parquet``.

        The file's symbol is the product without the dash (``BTCUSD``). Chunks of 300 candles, one
        request each; candles not closed at fetch time are dropped and their chunk is fetched again
        by the next run. A chunk whose range has ended must hold candles: an empty answer is asked
        again (the retry policy's attempts), then an :class:`~pmresearch.data.clients.http.EmptyResponse`,
        and the chunk is not checkpointed.
        """
        if granularity_s not in GRANULARITIES:
            raise ValueError(f"granularity {granularity_s} not allowed; one of {sorted(GRANULARITIES)}")
        product = product.upper()
        t0, t1 = utc_range(start, end)
        g = granularity_s
        s = -(-int(t0.value // 1_000_000_000) // g) * g
        e = int(t1.value // 1_000_000_000)
        chunks = [Chunk(f"{a}-{min(a + MAX_CANDLES * g, e)}", {"start": a, "end": min(a + MAX_CANDLES * g, e)})
                  for a in range(s, e, MAX_CANDLES * g)]
        interval = GRANULARITIES[g]
        dataset = Path("coinbase") / "candles" / f"{product}_{interval}_{range_tag(t0, t1)}"
        raw, manifest = self._dataset(dataset, {"product": product, "granularity": g, "start": t0.isoformat(),
                                                "end": t1.isoformat()})
        path_ = f"/products/{product}/candles"
        async with self._host() as http:
            async def work(chunk: Chunk) -> dict[str, Any]:
                a, b = int(chunk.params["start"]), int(chunk.params["end"])
                last_open = b - g
                params = {"granularity": g,
                          "start": pd.Timestamp(a, unit="s", tz="UTC").isoformat(),
                          "end": pd.Timestamp(last_open, unit="s", tz="UTC").isoformat()}
                ended = b <= time.time()  # a range that has ended holds candles
                why = f"the range {params['start']}..{params['end']} has ended" if ended else None
                resp = await http.get_nonempty(path_, params, why=why)
                rows = _check_rows(resp.payload, f"GET {http.base_url}{path_}?start={params['start']}")
                rel = dataset / f"{a}.json"
                raw.write(rel, resp, {"product": product, "granularity": g})
                final = b <= int(resp.fetched_at.value // 1_000_000_000)
                return {"files": [str(rel)], "rows": len(rows), "final": final}

            counts = await self._run(chunks, work, manifest, f"coinbase {product} {interval}")
            stats = http.stats
        frames = (coinbase_candles(payload, product=product, granularity_s=g, where=where, fetched_at=fetched)
                  for _, where, payload, fetched in stored_responses(raw, manifest, chunks))
        symbol = product.replace("-", "").lower()
        return bars_result(frames, coinbase_candles([], product=product, granularity_s=g), start=t0, end=t1,
                           name=f"{symbol}_{interval}_{range_tag(t0, t1)}.parquet", out_dir=out_dir,
                           where=f"coinbase candles {product} {interval}", expected=(e - s + g - 1) // g,
                           label=f"{product} {interval}",
                           missing="candles in range (Coinbase omits empty intervals)",
                           unrecognized=f"ingest the raw JSON under {raw.root / dataset} instead, or rename",
                           manifest=manifest, counts=counts, stats=stats)

    def fetch_candles_sync(self, product: str, granularity_s: int, start: Any, end: Any, *,
                           out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """:meth:`fetch_candles` run to completion in a fresh event loop."""
        return asyncio.run(self.fetch_candles(product, granularity_s, start, end, out_dir=out_dir))
