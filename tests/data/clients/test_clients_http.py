"""Rate limiter, retries and errors of pmresearch.data.clients.http, against the local replay server.

Rate-limit checks count events per window on a fake clock (no wall-time asserts). The bound a
token bucket admits in a window of length W is ``capacity + rate * W`` (the standard token-bucket
arrival curve, e.g. RFC 2697 / Le Boudec & Thiran, "Network Calculus", sec. 1.2.2), which
:meth:`TokenBucket.for_window` sets equal to the documented limit.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from pathlib import Path

import pandas as pd
import pytest
from clients_replay import FakeClock, Fault, Server

from pmresearch.data.clients.http import (
    EndpointLimit,
    HttpClient,
    HttpStatusError,
    MalformedResponse,
    Manifest,
    RetryExhausted,
    RetryPolicy,
    TokenBucket,
    _retry_after,
    utc_range,
    utc_timestamp,
)

KLINES = "/api/v3/klines"
Q = {"symbol": "BTCUSDT", "interval": "1m", "startTime": 0, "endTime": 2_000_000_000_000, "limit": 1000}


def max_in_window(times: list[float], window: float, eps: float = 1e-9) -> int:
    """The largest number of events in any half-open window [t, t + window) (maximal at an event start)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + window - eps:
            j += 1
        best = max(best, j - i)
    return best


def grant_times(bucket: TokenBucket, n: int, clock: FakeClock) -> list[float]:
    """Clock times at which ``n`` one-token acquisitions from ``bucket``, one after another, were granted."""
    times: list[float] = []

    async def main() -> None:
        for _ in range(n):
            await bucket.acquire()
            times.append(clock.monotonic())

    asyncio.run(main())
    return times


def test_window_bucket_never_exceeds_the_limit_in_any_window(fake_clock: FakeClock) -> None:
    limit, period, burst = 100, 10.0, 10
    times = grant_times(TokenBucket.for_window(limit, period, burst=burst, clock=fake_clock), 1000, fake_clock)
    assert max_in_window(times, period) <= limit
    assert max_in_window(times, period) >= limit - 1  # and it uses the limit, not a fraction of it
    # steady rate (limit - burst) / period after the initial burst: (1000 - 10) / 9 per s = 110 s
    assert times[-1] == pytest.approx((1000 - burst) / ((limit - burst) / period), rel=1e-9)


def test_window_bucket_holds_with_concurrent_tasks_and_weights(fake_clock: FakeClock) -> None:
    bucket = TokenBucket.for_window(60, 6.0, burst=6, clock=fake_clock)
    events: list[tuple[float, float]] = []

    async def worker(cost: float) -> None:
        for _ in range(40):
            await bucket.acquire(cost)
            events.append((fake_clock.monotonic(), cost))

    async def main() -> None:
        await asyncio.gather(worker(1.0), worker(2.0), worker(1.0))

    asyncio.run(main())
    weight_times = [t for t, c in events for _ in range(int(c))]
    assert max_in_window(weight_times, 6.0) <= 60
    assert len(events) == 120


def test_documented_token_bucket_coinbase_shape(fake_clock: FakeClock) -> None:
    """Coinbase: 10 requests/s, bursts up to 15 -> 15 at once, then one every 0.1 s."""
    times = grant_times(EndpointLimit("", 10, 1.0, burst=15, token_bucket=True).bucket(fake_clock, "cb"), 115,
                        fake_clock)
    assert times[14] == 0.0 and times[15] > 0.0
    assert times[-1] == pytest.approx(10.0)
    assert max_in_window(times, 1.0) <= 15 + 10


def test_bucket_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket.for_window(10, 1.0, burst=10)
    with pytest.raises(ValueError, match="capacity"):
        asyncio.run(TokenBucket(2, 1.0).acquire(3))


class _Recording(HttpClient):
    """HttpClient that records the (fake) time of every request it lets through its limits."""

    sent: list[float]

    async def _throttle(self, path: str) -> None:
        await super()._throttle(path)
        self.sent.append(self.clock.monotonic())


def test_client_charges_overall_and_endpoint_limits_with_weights(replay_server: Server,
                                                                  fake_clock: FakeClock) -> None:
    limits = [EndpointLimit("", 40, 10.0, burst=4), EndpointLimit(KLINES, 20, 10.0, burst=2)]
    client = _Recording(replay_server.url, limits=limits, weights={KLINES: 2.0}, clock=fake_clock)
    client.sent = []

    async def main() -> None:
        async with client:
            await asyncio.gather(*(client.get_json(KLINES, Q) for _ in range(30)))

    asyncio.run(main())
    assert len(replay_server.replay.requests(KLINES)) == 30
    # weight 2 against the endpoint's 20 per 10 s -> at most 10 requests in any 10 s window
    assert max_in_window(client.sent, 10.0) <= 10
    assert max_in_window(client.sent, 10.0) >= 9


def test_429_waits_exactly_retry_after_then_succeeds(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(status=429, headers={"Retry-After": "7"}),
                               Fault(status=429, headers={"Retry-After": "3"}))

    async def main() -> list[list[object]]:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=RetryPolicy(seed=1)) as c:
            resp = await c.get_json(KLINES, Q)
            assert c.stats.statuses == {429: 2, 200: 1}
            payload: list[list[object]] = resp.payload
            return payload

    rows = asyncio.run(main())
    assert fake_clock.sleeps == [7.0, 3.0]
    assert len(rows) == 10


def test_retry_after_http_date_and_garbage() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert _retry_after(date, now) == pytest.approx(30, abs=1.0)
    assert _retry_after("soon", now) is None
    assert _retry_after(None, now) is None


def test_500_backoff_is_exponential_with_full_jitter(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, *[Fault(status=500) for _ in range(4)])
    policy = RetryPolicy(max_attempts=5, base_s=1.0, cap_s=100.0, seed=42)

    async def main() -> None:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=policy) as c:
            await c.get_json(KLINES, Q)

    asyncio.run(main())
    rng = random.Random(42)  # independent reference: the same seeded full-jitter draws
    expected = [rng.uniform(0.0, 1.0 * 2.0 ** k) for k in range(4)]
    assert fake_clock.sleeps == pytest.approx(expected)
    assert all(0 <= s <= 2.0 ** k for k, s in enumerate(fake_clock.sleeps))


def test_retries_exhausted_names_endpoint_and_last_error(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(status=503, repeat=True))

    async def main() -> None:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=RetryPolicy(max_attempts=3)) as c:
            await c.get_json(KLINES, Q)

    with pytest.raises(RetryExhausted, match=r"GET http://127\.0\.0\.1:\d+/api/v3/klines.*3 attempts.*HTTP 503"):
        asyncio.run(main())
    assert len(replay_server.replay.requests(KLINES)) == 3


def test_timeout_is_retried(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(delay_s=0.6))
    policy = RetryPolicy(timeout_s=0.15, base_s=0.01)

    async def main() -> int:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=policy) as c:
            resp = await c.get_json(KLINES, Q)
            assert c.stats.retries == 1
            return len(resp.payload)

    assert asyncio.run(main()) == 10


def test_timeouts_exhausted_say_timeout(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(delay_s=0.5, repeat=True))
    policy = RetryPolicy(timeout_s=0.1, base_s=0.0, max_attempts=2)

    async def main() -> None:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=policy) as c:
            await c.get_json(KLINES, Q)

    with pytest.raises(RetryExhausted, match=r"timeout after 0\.1 s"):
        asyncio.run(main())


def test_dropped_connection_is_retried(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(drop=True))

    async def main() -> int:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=RetryPolicy(base_s=0.0)) as c:
            return len((await c.get_json(KLINES, Q)).payload)

    assert asyncio.run(main()) == 10


def test_truncated_json_is_retried_then_reported(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(truncate=True))

    async def once() -> int:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=RetryPolicy(base_s=0.0)) as c:
            return len((await c.get_json(KLINES, Q)).payload)

    assert asyncio.run(once()) == 10
    replay_server.replay.fault(KLINES, Fault(truncate=True, repeat=True))
    body = json.dumps(replay_server.replay.klines).encode()

    async def always() -> None:
        async with HttpClient(replay_server.url, clock=fake_clock, retry=RetryPolicy(max_attempts=2)) as c:
            await c.get_json(KLINES, Q)

    with pytest.raises(MalformedResponse, match=rf"/api/v3/klines\?symbol=BTCUSDT.*invalid or truncated JSON at "
                                                rf"char \d+ of {len(body) // 2} bytes.*after 2 attempts"):
        asyncio.run(always())


def test_404_is_not_retried(replay_server: Server, fake_clock: FakeClock) -> None:
    async def main() -> None:
        async with HttpClient(replay_server.url, clock=fake_clock) as c:
            await c.get_json("/book", {"token_id": "123"})

    with pytest.raises(HttpStatusError, match=r"/book\?token_id=123: HTTP 404.*No orderbook") as info:
        asyncio.run(main())
    assert info.value.status == 404
    assert len(replay_server.replay.requests("/book")) == 1


def test_transport_error_without_server(fake_clock: FakeClock) -> None:
    # a port nobody listens on (bind, read the port, close): connection refused, retried, then exhausted
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        async with HttpClient(f"http://127.0.0.1:{port}", clock=fake_clock,
                              retry=RetryPolicy(max_attempts=2, base_s=0.0)) as c:
            await c.get_json("/x")

    with pytest.raises(RetryExhausted, match="transport error") as info:
        asyncio.run(main())
    assert info.value.attempts == 2 and "ConnectError" in info.value.last  # refused: retried, then given up


def test_manifest_journal_resumes_and_refuses_other_parameters(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    m = Manifest(path, {"symbol": "BTCUSDT"})
    m.mark_done("a", {"files": ["x.json"]})
    m.mark_done("b", {"files": ["y.json"]})
    assert Manifest(path, {"symbol": "BTCUSDT"}).done("b")
    assert len(path.read_text().splitlines()) == 3  # parameters + one appended line per chunk
    with pytest.raises(ValueError, match=r"m\.jsonl: manifest was made with other parameters"):
        Manifest(path, {"symbol": "ETHUSDT"})
    # a run killed in the middle of an append leaves a partial last line: dropped, file repaired
    with open(path, "ab") as fh:
        fh.write(b'{"key": "c", "info": {"fil')
    again = Manifest(path, {"symbol": "BTCUSDT"})
    assert sorted(again.chunks) == ["a", "b"] and Manifest.read(path)[2]
    # corruption before the end is an error, not silently skipped
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{oops", lines[2]]) + "\n")
    with pytest.raises(ValueError, match=r"m\.jsonl: manifest line 2 is corrupt"):
        Manifest(path, {"symbol": "BTCUSDT"})
    path.write_text('{"params": {"symbol": "BTC')
    with pytest.raises(ValueError, match=r"m\.jsonl: not a manifest"):
        Manifest(path, {"symbol": "BTCUSDT"})


def test_utc_timestamp_rules() -> None:
    assert utc_timestamp("2026-06-08") == pd.Timestamp("2026-06-08T00:00Z")
    assert utc_timestamp("2026-06-08T02:00+02:00") == pd.Timestamp("2026-06-08T00:00Z")
    with pytest.raises(ValueError, match="no time zone"):
        utc_timestamp("2026-06-08T00:00")
    with pytest.raises(ValueError, match="naive"):
        utc_timestamp(pd.Timestamp("2026-06-08"))
    with pytest.raises(ValueError, match="is not a time"):
        utc_timestamp("yesterday-ish")
    assert utc_range("2026-06-08", "2026-06-08T01:00Z") == (pd.Timestamp("2026-06-08T00:00Z"),
                                                           pd.Timestamp("2026-06-08T01:00Z"))
    with pytest.raises(ValueError, match=r"end 2026-06-08 00:00:00\+00:00 must be after start"):
        utc_range("2026-06-08", "2026-06-08")
    with pytest.raises(ValueError, match=r"end .* naive"):
        utc_range("2026-06-08", pd.Timestamp("2026-06-09"))


def test_retry_after_pauses_every_request_to_the_host(replay_server: Server, fake_clock: FakeClock) -> None:
    replay_server.replay.fault(KLINES, Fault(status=429, headers={"Retry-After": "5"}))
    client = _Recording(replay_server.url, clock=fake_clock, retry=RetryPolicy(max_attempts=1))
    client.sent = []

    async def main() -> None:
        async with client:
            with pytest.raises(RetryExhausted, match="Retry-After 5"):
                await client.get_json(KLINES, Q)
            await client.get_json("/book", {"token_id": replay_server.replay.history_token})  # another endpoint

    asyncio.run(main())
    assert client.sent == [0.0, 5.0] and fake_clock.sleeps == [5.0]
