"""Helpers of the client tests: a local HTTP server replaying ../shared/api-samples, with faults.

Routes (each answers from the recorded payloads, filtered by the query as the venue would):
Binance ``/api/v3/klines``, Coinbase ``/products/<id>/candles``, Gamma ``/markets?slug=...``,
CLOB ``/prices-history`` and ``/book``, Data API ``/trades``. ``page_cap`` caps rows per page to
force pagination; faults (429 with Retry-After, 500, delays past the client timeout, truncated
bodies, dropped connections) are queued per path. Every request is logged. Nothing here touches
the real venues.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
from click.testing import Result
from typer.testing import CliRunner

from pmresearch.cli import app

REPO = Path(__file__).resolve().parents[3]
SAMPLES = Path(os.environ.get("PMRESEARCH_API_SAMPLES", REPO.parent / "shared" / "api-samples"))


def load(rel: str) -> Any:
    """One recorded payload (JSON) of the api-samples folder."""
    return json.loads((SAMPLES / rel).read_text())


@dataclass
class Fault:
    """A scripted misbehaviour for the next request matching ``path`` (and ``when``, if given)."""

    status: int | None = None  # answer this status with ``body``
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error": "scripted"}'
    delay_s: float = 0.0  # sleep before answering normally (past the client timeout)
    truncate: bool = False  # answer the real body cut in half, status 200
    drop: bool = False  # close the connection without an answer
    repeat: bool = False  # stays queued (a permanent fault)
    when: Callable[[dict[str, list[str]]], bool] | None = None


class FakeClock:
    """A fake clock for rate limiters and retry waits: ``sleep`` advances time and records the wait."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The fake time."""
        return self.t

    async def sleep(self, seconds: float) -> None:
        """Advance the fake time by ``seconds`` (no real waiting)."""
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class Replay:
    """State of the replay server: payload indexes, the request log, faults and page caps."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, dict[str, list[str]]]] = []
        self.faults: dict[str, deque[Fault]] = {}
        self.page_cap: dict[str, int] = {}
        self.delay_s: dict[str, float] = {}
        self.files_served: set[str] = set()
        self.klines = load("binance/klines_1m.json")
        self.candles = load("coinbase/candles_exchange.json")
        self.gamma: dict[str, tuple[str, dict[str, Any]]] = {}
        for rel in ("polymarket/gamma_market_btc_updown_15m_active.json",
                    "polymarket/gamma_market_btc_updown_5m_by_id.json",
                    "polymarket/gamma_markets_btc_updown_5m_resolved.json",
                    "polymarket/gamma_markets_btc_updown_5m.json",
                    "polymarket/gamma_market_btc_updown_5m_twap_subset.json"):
            data = load(rel)
            for m in data if isinstance(data, list) else [data]:
                self.gamma[m["slug"]] = (rel, m)
        for event in load("polymarket/gamma_events_btc_updown_15m.json"):
            for m in event["markets"]:  # the market objects exactly as nested in the event
                self.gamma[m["slug"]] = ("polymarket/gamma_events_btc_updown_15m.json", m)
        self.books = {}
        for rel in ("polymarket/clob_book_btc_updown_5m.json", "polymarket/clob_book_empty_ask.json"):
            book = load(rel)
            self.books[book["asset_id"]] = (rel, book)
        by_id = load("polymarket/gamma_market_btc_updown_5m_by_id.json")
        # The prices-history fixture was recorded for a token of that market; served for its first token.
        self.history_token = json.loads(by_id["clobTokenIds"])[0]
        self.history = load("polymarket/clob_prices_history.json")
        self.trades = load("polymarket/data_api_trades.json")

    # ------------------------------------------------------------------ scripting
    def fault(self, path: str, *faults: Fault) -> None:
        """Queue faults for requests to ``path``."""
        with self.lock:
            self.faults.setdefault(path, deque()).extend(faults)

    def requests(self, path: str | None = None) -> list[dict[str, list[str]]]:
        """Queries of the logged requests (to ``path`` if given)."""
        with self.lock:
            return [q for p, q in self.log if path is None or p == path]

    def _take_fault(self, path: str, query: dict[str, list[str]]) -> Fault | None:
        with self.lock:
            queue = self.faults.get(path)
            if not queue:
                return None
            for f in list(queue):
                if f.when is None or f.when(query):
                    if not f.repeat:
                        queue.remove(f)
                    return f
        return None

    # ------------------------------------------------------------------ routes
    def route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        """The status and JSON payload the venue would answer."""
        cap = self.page_cap.get(path)
        if path == "/api/v3/klines":
            self.files_served.add("binance/klines_1m.json")
            a, b = int(q["startTime"][0]), int(q["endTime"][0])
            limit = min(int(q.get("limit", ["500"])[0]), cap or 1000)
            return 200, [r for r in self.klines if a <= r[0] <= b][:limit]
        if path.startswith("/products/") and path.endswith("/candles"):
            self.files_served.add("coinbase/candles_exchange.json")
            a = pd.Timestamp(q["start"][0]).timestamp()
            b = pd.Timestamp(q["end"][0]).timestamp()
            if q.get("granularity") != ["3600"]:  # the payload was recorded with granularity=3600
                return 200, []
            return 200, [r for r in self.candles if a <= r[0] <= b]
        if path == "/markets":
            slugs = q.get("slug", [])
            out = []
            for s in slugs:
                if s in self.gamma:
                    self.files_served.add(self.gamma[s][0])
                    out.append(self.gamma[s][1])
            return 200, out[: int(q.get("limit", ["20"])[0])]
        if path == "/prices-history":
            token = q["market"][0]
            a, b = int(q["startTs"][0]), int(q["endTs"][0])
            if token != self.history_token:
                return 200, {"history": []}
            self.files_served.add("polymarket/clob_prices_history.json")
            return 200, {"history": [p for p in self.history["history"] if a <= p["t"] <= b]}
        if path == "/book":
            token = q["token_id"][0]
            if token not in self.books:
                return 404, {"error": "No orderbook exists for the requested token id"}
            self.files_served.add(self.books[token][0])
            return 200, self.books[token][1]
        if path == "/trades":
            self.files_served.add("polymarket/data_api_trades.json")
            market = q["market"][0]
            offset, limit = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["100"])[0])
            limit = min(limit, cap or limit)
            rows = [r for r in self.trades if r["conditionId"] == market]
            return 200, rows[offset: offset + limit]
        return 404, {"error": f"no route {path}"}


class _Handler(BaseHTTPRequestHandler):
    replay: Replay

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        replay = self.server.replay  # type: ignore[attr-defined]
        with replay.lock:
            replay.log.append((path, query))
        delay = replay.delay_s.get(path, 0.0)
        fault = replay._take_fault(path, query)
        try:
            if fault is not None and fault.drop:
                self.close_connection = True
                self.connection.close()
                return
            if fault is not None and fault.delay_s:
                time.sleep(fault.delay_s)
            if delay:
                time.sleep(delay)
            if fault is not None and fault.status is not None:
                self._send(fault.status, fault.body, fault.headers)
                return
            status, payload = replay.route(path, query)
            body = json.dumps(payload).encode()
            if fault is not None and fault.truncate:
                body = body[: len(body) // 2]
            self._send(status, body, {})
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Server:
    """A running replay server: its base URL and state."""

    url: str
    replay: Replay


def fetch_cli(venue: str, server: Server, tmp_path: Path, *options: str) -> Result:
    """``pmresearch fetch <venue> <options>`` against the replay server, raw files and output under ``tmp_path``."""
    return CliRunner().invoke(app, ["fetch", venue, *options, "--base-url", server.url,
                                    "--raw-root", str(tmp_path / "raw"), "--out", str(tmp_path / "out")])


@contextmanager
def serve_replay() -> Iterator[Server]:
    """Run a replay server on 127.0.0.1 with an ephemeral port until the block exits."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.replay = Replay()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield Server(f"http://{host!s}:{port}", httpd.replay)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
