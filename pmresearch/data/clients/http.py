"""HTTP plumbing shared by the venue clients: rate limits, retries, raw store and checkpoints.

* :class:`TokenBucket` -- client-side rate limit. :meth:`TokenBucket.for_window` builds one that can
  never exceed ``limit`` requests (or weight) in ANY window of ``period_s`` seconds, which is how the
  venues document their limits (Polymarket "per 10 s", Binance "weight per minute").
* :class:`RetryPolicy` -- exponential backoff with full jitter on 429, 5xx, timeouts, transport
  errors and truncated JSON; a ``Retry-After`` header is obeyed.
* :class:`HttpClient` -- an ``httpx.AsyncClient`` wrapper applying both; errors are :class:`ApiError`
  subclasses naming the endpoint and what was wrong.
* :class:`RawStore` and :class:`Manifest` -- raw responses are kept as received under a raw root
  (``data/raw`` by default) and a manifest records completed chunks, so a re-run skips them.
* :func:`run_chunks` -- run chunk coroutines concurrently with a progress bar and the manifest.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pandas as pd

from pmresearch._progress import progress as progress_bar

__all__ = [
    "DEFAULT_RAW_ROOT",
    "ApiError",
    "Chunk",
    "Clock",
    "EmptyResponse",
    "EndpointLimit",
    "HttpClient",
    "HttpStats",
    "HttpStatusError",
    "MalformedResponse",
    "Manifest",
    "RawStore",
    "Response",
    "RetryExhausted",
    "RetryPolicy",
    "SystemClock",
    "TokenBucket",
    "atomic_write_bytes",
    "empty_list",
    "run_chunks",
    "stored_responses",
    "utc_range",
    "utc_timestamp",
]

log = logging.getLogger(__name__)

#: Where raw responses and manifests go unless told otherwise (relative to the working directory).
DEFAULT_RAW_ROOT = Path("data/raw")


class ApiError(RuntimeError):
    """A venue request failed; the message names the endpoint and what was wrong."""

    def __init__(self, endpoint: str, message: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class HttpStatusError(ApiError):
    """The server answered with an HTTP error status that is not retried (e.g. 400, 404)."""

    def __init__(self, endpoint: str, status: int, body: str) -> None:
        super().__init__(endpoint, f"HTTP {status}: {body[:200]!r}")
        self.status = status


class MalformedResponse(ApiError):
    """The response body is not valid JSON or does not have the documented shape."""


class RetryExhausted(ApiError):
    """Every attempt failed with a retryable error (429, 5xx, timeout, truncated body)."""

    def __init__(self, endpoint: str, attempts: int, last: str) -> None:
        super().__init__(endpoint, f"gave up after {attempts} attempts; last error: {last}")
        self.attempts = attempts
        self.last = last


class EmptyResponse(ApiError):
    """An empty answer where data must exist (a range that has ended), after every retry: never checkpointed."""

    def __init__(self, endpoint: str, attempts: int, why: str) -> None:
        super().__init__(endpoint, f"empty answer after {attempts} attempts although {why}; the chunk is not "
                                   "checkpointed (run again to retry it, or narrow the range if it truly has no data)")
        self.attempts = attempts


def empty_list(payload: Any) -> bool:
    """Whether an answer is ``[]`` (a list of rows without one row)."""
    return isinstance(payload, list) and not payload


def utc_timestamp(value: str | pd.Timestamp | Any, *, name: str = "time") -> pd.Timestamp:
    """A tz-aware UTC timestamp from ISO text or a Timestamp; naive input is an error.

    Parameters
    ----------
    value : str or Timestamp
        ``2026-06-08`` (a date alone is read as midnight UTC), ``2026-06-08T12:00Z`` or a tz-aware time.
    name : str
        What the value is, for the error message.

    Returns
    -------
    pandas.Timestamp
        The time in UTC.

    Raises
    ------
    ValueError
        For unparseable text or a naive time with a clock part.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            ts = pd.Timestamp(text)
        except ValueError as exc:
            raise ValueError(f"{name} {value!r} is not a time") from exc
        if ts.tzinfo is None:
            if len(text) == 10:  # a bare date: midnight UTC by convention
                return ts.tz_localize("UTC")
            raise ValueError(f"{name} {value!r} has no time zone; give UTC explicitly (e.g. {text}Z)")
        return ts.tz_convert("UTC")
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} {value!r} is naive; pmresearch requires tz-aware UTC")
    return ts.tz_convert("UTC")


def utc_range(start: str | pd.Timestamp | Any, end: str | pd.Timestamp | Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` of a fetch as UTC timestamps (see :func:`utc_timestamp`).

    Raises
    ------
    ValueError
        For an unreadable or naive bound, or ``end <= start``.
    """
    t0, t1 = utc_timestamp(start, name="start"), utc_timestamp(end, name="end")
    if t1 <= t0:
        raise ValueError(f"end {t1} must be after start {t0}")
    return t0, t1


class Clock(Protocol):
    """Time source of the rate limiter and the retry waits (a fake one in tests)."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of wall time."""
        await asyncio.sleep(seconds)


_EPS = 1e-9


class TokenBucket:
    """An asyncio token bucket: ``capacity`` tokens, refilled at ``rate`` tokens per second.

    Acquisitions are served first come, first served (an :class:`asyncio.Lock` is held while a
    caller waits), so a large request is not starved by small ones.

    Parameters
    ----------
    capacity : float
        Burst size (the bucket starts full).
    rate : float
        Tokens added per second.
    clock : Clock, optional
        Time source; :class:`SystemClock` by default.
    name : str
        For log messages.
    """

    def __init__(self, capacity: float, rate: float, *, clock: Clock | None = None, name: str = "bucket") -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"token bucket {name}: capacity and rate must be > 0, got {capacity}, {rate}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.name = name
        self.clock: Clock = clock or SystemClock()
        self._tokens = float(capacity)
        self._stamp: float | None = None
        self._lock: asyncio.Lock | None = None

    @classmethod
    def for_window(cls, limit: float, period_s: float, *, burst: float | None = None, clock: Clock | None = None,
                   name: str = "bucket") -> TokenBucket:
        """A bucket that never exceeds ``limit`` in any window of ``period_s`` seconds.

        In a window of length ``W`` a bucket admits at most ``capacity + rate * W``; with
        ``capacity = burst`` and ``rate = (limit - burst) / period_s`` that is exactly ``limit`` for
        ``W = period_s``. The default burst is a tenth of the limit.
        """
        b = max(1.0, limit / 10.0) if burst is None else float(burst)
        if not 0 < b < limit:
            raise ValueError(f"token bucket {name}: burst must be in (0, {limit}), got {b}")
        return cls(b, (limit - b) / period_s, clock=clock, name=name)

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available and take them."""
        if cost > self.capacity:
            raise ValueError(f"token bucket {self.name}: cost {cost} exceeds capacity {self.capacity}")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._refill(self.clock.monotonic())
            while self._tokens < cost - _EPS:  # tolerance: float refills may land a hair short
                await self.clock.sleep((cost - self._tokens) / self.rate)
                self._refill(self.clock.monotonic())
            self._tokens -= cost


@dataclass(frozen=True)
class EndpointLimit:
    """A documented rate limit: at most ``limit`` per ``period_s`` seconds on paths starting with ``prefix``.

    ``prefix=""`` is the host's overall limit. ``token_bucket=True`` means the venue documents a
    token bucket itself (Coinbase: ``limit`` per second with bursts of ``burst``); otherwise the limit
    is a window and :meth:`TokenBucket.for_window` enforces it.
    """

    prefix: str
    limit: float
    period_s: float
    burst: float | None = None
    token_bucket: bool = False

    def bucket(self, clock: Clock | None, host: str) -> TokenBucket:
        """The bucket enforcing this limit."""
        name = f"{host}{self.prefix or ' (overall)'}"
        if self.token_bucket:
            return TokenBucket(self.burst or self.limit, self.limit / self.period_s, clock=clock, name=name)
        return TokenBucket.for_window(self.limit, self.period_s, burst=self.burst, clock=clock, name=name)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and full jitter.

    Retried: HTTP 429 (and Binance's 418), 5xx, timeouts, transport errors and bodies that are not
    complete JSON. The wait before attempt ``k + 1`` (``k`` = failures so far) is uniform in
    ``[0, min(cap_s, base_s * 2**(k-1))]``, or the server's ``Retry-After`` when it sends one (capped
    at ``retry_after_cap_s``). ``seed`` makes the jitter reproducible.
    """

    max_attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0
    retry_after_cap_s: float = 300.0
    timeout_s: float = 30.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_s < 0 or self.cap_s < 0 or self.timeout_s <= 0:
            raise ValueError("base_s and cap_s must be >= 0 and timeout_s > 0")

    def backoff(self, failures: int, rng: random.Random) -> float:
        """The jittered wait after ``failures`` failed attempts (``failures >= 1``)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0 ** (failures - 1)))


def _retry_after(value: str | None, now_wall: float) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_wall)


@dataclass(frozen=True)
class Response:
    """A successful response: parsed JSON, the raw body as received, the URL and the fetch time."""

    payload: Any
    body: bytes
    url: str
    fetched_at: pd.Timestamp


@dataclass
class HttpStats:
    """Counters of one client: requests sent, retries, and responses per status."""

    requests: int = 0
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class HttpClient:
    """Rate-limited, retrying JSON GETs against one base URL.

    Parameters
    ----------
    base_url : str
        E.g. ``https://api.binance.com`` (tests point it at a local server).
    limits : sequence of EndpointLimit
        Documented limits; every limit whose prefix starts the request path is charged.
    weights : mapping, optional
        Path prefix to request weight (Binance charges weight, not requests); default 1.
    retry : RetryPolicy, optional
        Backoff, attempts and timeout.
    clock : Clock, optional
        Time source of limits and waits (fake in tests).
    transport : httpx.AsyncBaseTransport, optional
        Passed to :class:`httpx.AsyncClient`.
    """

    def __init__(self, base_url: str, *, limits: Sequence[EndpointLimit] = (),
                 weights: Mapping[str, float] | None = None, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.limits = list(limits)
        self._buckets = [(lim.prefix, lim.bucket(self.clock, self.base_url)) for lim in self.limits]
        self.weights = dict(weights or {})
        self.stats = HttpStats()
        self._rng = random.Random(self.retry.seed)
        self._transport = transport
        self._headers = {"User-Agent": "pmresearch", **(headers or {})}
        self._client: httpx.AsyncClient | None = None
        self._cooldown_until = float("-inf")

    async def __aenter__(self) -> HttpClient:
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.retry.timeout_s,
                                         transport=self._transport, headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _weight(self, path: str) -> float:
        best = ("", 1.0)
        for prefix, w in self.weights.items():
            if path.startswith(prefix) and len(prefix) >= len(best[0]):
                best = (prefix, w)
        return best[1]

    async def _throttle(self, path: str) -> None:
        while (pause := self._cooldown_until - self.clock.monotonic()) > 0:  # a Retry-After pauses the host
            await self.clock.sleep(pause)
        cost = self._weight(path)
        for prefix, bucket in self._buckets:
            if path.startswith(prefix):
                await bucket.acquire(cost)

    async def get_json(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
                       ) -> Response:
        """GET ``path`` and parse the JSON body, with rate limits and retries.

        Raises
        ------
        HttpStatusError
            On a non-retryable 4xx status.
        MalformedResponse
            When the body is not JSON after every retry (the message says where it broke).
        RetryExhausted
            When every attempt got 429, 5xx, a timeout or a transport error.
        """
        if self._client is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        endpoint = f"GET {self.base_url}{path}"
        last = ""
        policy = self.retry
        for attempt in range(1, policy.max_attempts + 1):
            await self._throttle(path)
            self.stats.requests += 1
            wait: float | None = None
            try:
                resp = await self._client.get(path, params=_query(params))
            except httpx.TimeoutException as exc:
                last = f"timeout after {policy.timeout_s} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"transport error ({type(exc).__name__}: {exc})"
            else:
                self.stats.statuses[resp.status_code] = self.stats.statuses.get(resp.status_code, 0) + 1
                status = resp.status_code
                if status in (418, 429) or status >= 500:  # 418: Binance's ban, sent with Retry-After
                    last = f"HTTP {status}"
                    ra = _retry_after(resp.headers.get("Retry-After"), time.time())
                    if ra is not None:
                        wait = min(ra, policy.retry_after_cap_s)
                        self._cooldown_until = max(self._cooldown_until, self.clock.monotonic() + wait)
                        last += f" (Retry-After {resp.headers.get('Retry-After')})"
                elif status >= 400:
                    raise HttpStatusError(f"{endpoint}{_fmt_params(params)}", status, resp.text)
                else:
                    body = resp.content
                    try:
                        payload = json.loads(body)
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        where = (f"at char {exc.pos} of {len(body)} bytes" if isinstance(exc, json.JSONDecodeError)
                                 else "not UTF-8")
                        last = f"invalid or truncated JSON {where}: {body[-60:]!r}"
                        if attempt == policy.max_attempts:
                            raise MalformedResponse(f"{endpoint}{_fmt_params(params)}",
                                                    f"{last} (after {attempt} attempts)") from None
                    else:
                        return Response(payload, body, str(resp.url), pd.Timestamp.now(tz="UTC"))
            if attempt == policy.max_attempts:
                break
            if wait is None:
                wait = policy.backoff(attempt, self._rng)
            else:  # the cooldown already makes the next request wait; do not wait twice
                wait = max(0.0, self._cooldown_until - self.clock.monotonic())
            self.stats.retries += 1
            log.info("%s: %s; retry %d/%d in %.2f s", endpoint, last, attempt, policy.max_attempts - 1, wait)
            await self.clock.sleep(wait)
        raise RetryExhausted(f"{endpoint}{_fmt_params(params)}", policy.max_attempts, last)

    async def get_nonempty(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
                           *, why: str | None, empty: Callable[[Any], bool] = empty_list) -> Response:
        """:meth:`get_json` where the answer must hold data: an empty one (``empty(payload)``, by default
        ``[]``) is asked again with the retry policy's backoff, and after ``max_attempts`` answers is an
        :class:`EmptyResponse` (which :func:`run_chunks` never checkpoints).

        ``why`` says why data must exist (``"the range has ended"``), for the message; ``None`` means it
        need not (a range still open), and the first answer is returned as it is. A shape error of the
        payload is the caller's to check after this returns; ``empty`` sees any JSON value.
        """
        if why is None:
            return await self.get_json(path, params)
        policy = self.retry
        for attempt in range(1, policy.max_attempts + 1):
            resp = await self.get_json(path, params)
            if not empty(resp.payload):
                return resp
            if attempt == policy.max_attempts:
                break
            self.stats.retries += 1
            wait = policy.backoff(attempt, self._rng)
            log.info("GET %s%s: empty answer although %s; retry %d/%d in %.2f s", self.base_url, path, why,
                     attempt, policy.max_attempts - 1, wait)
            await self.clock.sleep(wait)
        raise EmptyResponse(f"GET {self.base_url}{path}{_fmt_params(params)}", policy.max_attempts, why)


def _query(params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None) -> httpx.QueryParams:
    if not params:
        return httpx.QueryParams()
    items = params.items() if isinstance(params, Mapping) else params
    return httpx.QueryParams([(str(k), str(v)) for k, v in items])


def _fmt_params(params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None) -> str:
    if not params:
        return ""
    items = params.items() if isinstance(params, Mapping) else params
    text = "&".join(f"{k}={v}" for k, v in items)
    return f"?{text[:200]}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and :func:`os.replace` (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RawStore:
    """Raw responses as received, under ``root`` (``data/raw`` by default).

    Each body ``NAME.json`` gets a sidecar ``NAME.json.meta.json`` with the URL, the fetch time and
    what the importers need to read it (``symbol``, ``interval``, ``product``, ``granularity``,
    ``token_id``), so ``pmresearch ingest`` can load raw files too.
    """

    def __init__(self, root: str | Path = DEFAULT_RAW_ROOT) -> None:
        self.root = Path(root)

    def write(self, relpath: str | Path, response: Response, meta: Mapping[str, Any] | None = None) -> Path:
        """Store one response body and its sidecar; returns the body's path."""
        path = self.root / relpath
        info = {"url": response.url, "fetched_at": response.fetched_at.isoformat(),
                "sha256": hashlib.sha256(response.body).hexdigest(), **(meta or {})}
        atomic_write_bytes(path.with_name(path.name + ".meta.json"), json.dumps(info, indent=1).encode())
        atomic_write_bytes(path, response.body)
        return path

    def read(self, relpath: str | Path) -> tuple[Any, dict[str, Any]]:
        """A stored body, parsed, and its sidecar.

        Raises
        ------
        MalformedResponse
            When the stored file is not JSON (named by path).
        """
        path = self.root / relpath
        side = path.with_name(path.name + ".meta.json")
        try:
            payload = json.loads(path.read_bytes())
            meta = json.loads(side.read_bytes()) if side.exists() else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedResponse(str(path), f"stored raw response unreadable ({exc})") from exc
        return payload, meta


class Manifest:
    """Checkpoint of one fetch: which chunks are complete, with their raw files.

    An append-only JSON-lines journal at ``path``: the first line holds the dataset's parameters,
    each further line one completed chunk, appended and fsynced as the chunk completes (so a long
    run costs one short write per chunk, not a rewrite of the whole manifest). A run killed at
    any moment leaves at worst a partial last line, which the next run drops; a re-run with the
    same parameters skips the completed chunks.

    Parameters
    ----------
    path : Path
        The journal (``<raw root>/<venue>/<dataset>/manifest.jsonl``).
    params : mapping
        The parameters that define the dataset; a manifest made with other parameters is an error.
    """

    def __init__(self, path: Path, params: Mapping[str, Any]) -> None:
        self.path = path
        self.params = json.loads(json.dumps(dict(params), default=str))
        self.chunks: dict[str, dict[str, Any]] = {}
        self.unfinished: set[str] = set()
        if path.exists():
            stored, chunks, clean = self.read(path)
            if stored != self.params:
                raise ValueError(f"{path}: manifest was made with other parameters {stored} "
                                 f"(now {self.params}); use another raw root or delete it")
            self.chunks = chunks
            if not clean:  # a run was killed while appending: drop the partial line
                self.save()
        else:
            self.save()

    @staticmethod
    def read(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], bool]:
        """Parameters, completed chunks and whether the file ended cleanly (no partial last line).

        Raises
        ------
        ValueError
            When the file is not a manifest, or a line other than the last is corrupt.
        """
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read manifest ({exc})") from exc
        try:
            head = json.loads(lines[0])
            params = head["params"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a manifest (line 1 has no parameters: {exc}); "
                             "delete it to start over") from exc
        chunks: dict[str, dict[str, Any]] = {}
        clean = True
        body = lines[1:]
        for i, line in enumerate(body, start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                chunks[str(entry["key"])] = dict(entry["info"])
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                if any(rest.strip() for rest in body[i - 1:]):
                    raise ValueError(f"{path}: manifest line {i} is corrupt ({exc}); delete it to start over") from exc
                clean = False
        if lines[-1].strip():
            clean = False  # no final newline: the last append may be partial
        return dict(params), chunks, clean

    def done(self, key: str) -> bool:
        """Whether chunk ``key`` completed in an earlier or this run."""
        return key in self.chunks and key not in self.unfinished

    def mark_done(self, key: str, info: Mapping[str, Any]) -> None:
        """Record chunk ``key`` as complete (``info``: its raw files, row counts...): append and fsync."""
        self.chunks[key] = dict(info)
        self.unfinished.discard(key)
        line = json.dumps({"key": key, "info": self.chunks[key]}, sort_keys=True, default=str) + "\n"
        with open(self.path, "ab") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())

    def save(self) -> None:
        """Rewrite the whole journal atomically (chunks unfinished in this run are left out)."""
        out = [json.dumps({"params": self.params}, sort_keys=True)]
        out += [json.dumps({"key": k, "info": v}, sort_keys=True, default=str)
                for k, v in self.chunks.items() if k not in self.unfinished]
        atomic_write_bytes(self.path, ("\n".join(out) + "\n").encode())


@dataclass(frozen=True)
class Chunk:
    """One resumable unit of work: a key for the manifest and its parameters."""

    key: str
    params: Mapping[str, Any]


def stored_responses(raw: RawStore, manifest: Manifest, chunks: Sequence[Chunk]) -> Iterator[
        tuple[Chunk, str, Any, pd.Timestamp | None]]:
    """Every raw response the manifest lists for ``chunks``, in chunk order.

    Yields
    ------
    chunk : Chunk
        The chunk the response belongs to.
    where : str
        The raw file's path (for error messages).
    payload : object
        The parsed JSON body.
    fetched_at : pandas.Timestamp or None
        When it was fetched (from the sidecar; None when the sidecar lacks it).
    """
    for chunk in chunks:
        for rel in manifest.chunks.get(chunk.key, {}).get("files", []):
            payload, meta = raw.read(rel)
            fetched = pd.Timestamp(meta["fetched_at"]) if "fetched_at" in meta else None
            yield chunk, str(raw.root / rel), payload, fetched


async def run_chunks(chunks: Sequence[Chunk], work: Callable[[Chunk], Awaitable[Mapping[str, Any]]],
                     manifest: Manifest, *, concurrency: int = 4, desc: str = "fetch") -> dict[str, int]:
    """Run ``work`` on every chunk not yet done in ``manifest``, ``concurrency`` at a time.

    Each completed chunk is checkpointed at once. When a chunk fails, the others still finish and
    are checkpointed; then the first error is raised (a re-run resumes from there).

    Returns
    -------
    dict
        ``{"total": n, "skipped": already done, "fetched": done now}``.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    todo = [c for c in chunks if not manifest.done(c.key)]
    skipped = len(chunks) - len(todo)
    sem = asyncio.Semaphore(concurrency)
    bar = progress_bar(total=len(chunks), initial=skipped, desc=desc, unit="chunk", leave=False)

    async def one(chunk: Chunk) -> None:
        async with sem:
            info = await work(chunk)
            if info.get("final", True):
                manifest.mark_done(chunk.key, info)
            else:  # e.g. holds a still-open candle: used now, fetched again by the next run
                manifest.chunks[chunk.key] = dict(info)
                manifest.unfinished.add(chunk.key)
            bar.update(1)

    try:
        results = await asyncio.gather(*(one(c) for c in todo), return_exceptions=True)
    finally:
        bar.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        first = errors[0]
        log.error("%s: %d of %d chunks failed; completed chunks are checkpointed in %s",
                  desc, len(errors), len(todo), manifest.path)
        raise first
    return {"total": len(chunks), "skipped": skipped, "fetched": len(todo)}
