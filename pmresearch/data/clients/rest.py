"""What the REST clients share: their common fields, the raw dataset of a fetch, and the bar files they write.

:class:`RestClient` holds the fields every venue client has (raw root, retry policy, clock, concurrency)
and the steps every fetch takes: open an HTTP client against one base URL, open the raw dataset and its
manifest, run the chunks; :class:`OneHostClient` adds the base URL and limits of a one-host venue.
:func:`bars_result` is the last step of the two kline clients (Binance, Coinbase): the stored pages as
one canonical klines file, with a note when bars are missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pmresearch.data.clients.http import (
    DEFAULT_RAW_ROOT,
    Chunk,
    Clock,
    EndpointLimit,
    HttpClient,
    HttpStats,
    Manifest,
    RawStore,
    RetryPolicy,
    run_chunks,
)
from pmresearch.data.clients.output import FetchResult, bars_in_range, write_canonical
from pmresearch.data.io import recognize

__all__ = ["OneHostClient", "RestClient", "bars_result"]


@dataclass
class RestClient:
    """Fields and steps shared by the REST clients (their own fields follow these).

    Parameters
    ----------
    raw_root : Path
        Root of the raw store (``data/raw``).
    retry : RetryPolicy, optional
        Backoff and attempts (also the attempts of an empty answer where data must exist).
    clock : Clock, optional
        Time source of the rate limiters and waits.
    concurrency : int
        Chunks fetched at once.
    """

    raw_root: Path = DEFAULT_RAW_ROOT
    retry: RetryPolicy | None = None
    clock: Clock | None = None
    concurrency: int = 4

    def _client(self, base_url: str, limits: Sequence[EndpointLimit],
                weights: Mapping[str, float] | None = None) -> HttpClient:
        """A rate-limited, retrying HTTP client against ``base_url`` (use it with ``async with``)."""
        return HttpClient(base_url, limits=limits, weights=weights, retry=self.retry, clock=self.clock)

    def _dataset(self, dataset: Path, params: Mapping[str, Any]) -> tuple[RawStore, Manifest]:
        """The raw store and the manifest (checkpoint) of ``dataset`` fetched with ``params``."""
        raw = RawStore(self.raw_root)
        return raw, Manifest(raw.root / dataset / "manifest.jsonl", params)

    async def _run(self, chunks: Sequence[Chunk], work: Callable[[Chunk], Awaitable[Mapping[str, Any]]],
                   manifest: Manifest, desc: str) -> dict[str, int]:
        """Run the chunks not yet done, ``concurrency`` at a time (see :func:`run_chunks`)."""
        return await run_chunks(chunks, work, manifest, concurrency=self.concurrency, desc=desc)


@dataclass
class OneHostClient(RestClient):
    """A client of one REST root: its base URL and client-side rate limits (after :class:`RestClient`'s fields).

    Parameters
    ----------
    base_url : str
        The venue's REST root (a local replay server in tests); each venue sets its own default.
    limits : sequence of EndpointLimit
        Client-side rate limits; each venue's default is its documented limit.
    """

    base_url: str = ""
    limits: Sequence[EndpointLimit] = ()

    def _host(self, weights: Mapping[str, float] | None = None) -> HttpClient:
        """An HTTP client against :attr:`base_url` with :attr:`limits`."""
        return self._client(self.base_url, self.limits, weights)


def bars_result(frames: Iterable[pd.DataFrame], empty: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp,
                name: str, out_dir: str | Path, where: str, expected: int, label: str, missing: str,
                unrecognized: str,
                manifest: Manifest, counts: dict[str, int], stats: HttpStats) -> FetchResult:
    """Write the fetched bars of ``[start, end)`` as canonical klines ``out_dir/name``; the fetch's result.

    Parameters
    ----------
    frames, empty
        Parsed pages, and the parser's output for no rows (see :func:`bars_in_range`).
    expected : int
        Bars the range holds; fewer gives the note ``"<label>: <n> of <expected> <missing>"``.
    unrecognized : str
        The note's tail when ``name`` is not recognized by the ingest prefixes.
    """
    frame = bars_in_range(list(frames), empty, start, end)
    path = write_canonical(frame, "klines", out_dir, name, where=where)
    notes = [] if len(frame) == expected else [f"{label}: {len(frame)} of {expected} {missing}"]
    if recognize(name) != "klines":
        notes.append(f"{name}: not recognized by the `pmresearch ingest` prefixes; {unrecognized}")
    return FetchResult([path], manifest.path, counts, {name: len(frame)}, stats.requests, stats.retries, notes)
