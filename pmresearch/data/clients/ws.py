"""Recorder for the Polymarket CLOB market channel (``/ws/market``).

Subscribes with token ids (``{"assets_ids": [...], "type": "market"}``), sends a text ``PING``
periodically (the server answers ``PONG``, which is not recorded), and writes every message as a
gzip JSON line ``{"received_at": <unix seconds>, "message": <the message as received>}`` -- the
format of ``polymarket_ws_*.jsonl.gz`` that ``pmresearch ingest`` rebuilds into books, quotes and
trades. A dropped connection is re-opened (with backoff) and re-subscribed; a ``book`` event then
arrives again and resets the books, so nothing is rebuilt from a gap.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pmresearch._summary import Summary, SummaryMixin
from pmresearch.data.clients.http import MalformedResponse, RetryExhausted, RetryPolicy

__all__ = ["WS_MARKET_URL", "RecordStats", "record_market_channel", "record_market_channel_sync"]

log = logging.getLogger(__name__)

WS_MARKET_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
_KNOWN = {"book", "price_change", "last_trade_price", "tick_size_change", "best_bid_ask", "new_market",
          "market_resolved"}


@dataclass(frozen=True)
class RecordStats(SummaryMixin):
    """What a recording session received.

    Attributes
    ----------
    messages : int
        JSON messages written (a message may be an array of events).
    events : mapping
        Events per ``event_type`` (``book`` arrays count each book); read-only.
    pongs : int
        ``PONG`` replies (not written).
    malformed : tuple of str
        Frames that were not JSON messages of the channel (each named), not written.
    connections : int
        Connections opened (1 + reconnects).
    path : Path or None
        The file written.
    """

    messages: int = 0
    events: Mapping[str, int] = field(default_factory=dict)
    pongs: int = 0
    malformed: Sequence[str] = ()
    connections: int = 0
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", MappingProxyType(dict(self.events)))
        object.__setattr__(self, "malformed", tuple(self.malformed))

    def summary(self) -> Summary:
        """The session as a :class:`~pmresearch._summary.Summary`: messages and events as its title, events
        per type as a table, connections, PONG replies and the first malformed frames as notes."""
        events = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items())) or "none"
        table = pd.DataFrame({"events": [self.events[k] for k in sorted(self.events)]},
                             index=pd.Index(sorted(self.events), name="event_type"))
        notes = [f"connections: {self.connections}; PONG replies: {self.pongs}; "
                 f"malformed frames skipped: {len(self.malformed)}", *self.malformed[:5]]
        return Summary(f"recorded {self.messages} messages to {self.path} ({events})", (("events", table),),
                       tuple(notes))


@dataclass
class _Tally:
    """The counts of a session while it records (:class:`RecordStats` is the frozen result)."""

    path: Path
    messages: int = 0
    events: dict[str, int] = field(default_factory=dict)
    pongs: int = 0
    malformed: list[str] = field(default_factory=list)
    connections: int = 0

    def result(self) -> RecordStats:
        return RecordStats(self.messages, self.events, self.pongs, self.malformed, self.connections, self.path)


def _event_kind(ev: Any) -> str | None:
    if not isinstance(ev, dict):
        return None
    kind = ev.get("event_type")
    if isinstance(kind, str):
        return kind
    if "bids" in ev or "asks" in ev:
        return "book"
    if "price_changes" in ev or "changes" in ev:
        return "price_change"
    return None


async def record_market_channel(token_ids: Sequence[str], out_path: str | Path, *, url: str = WS_MARKET_URL,
                                duration_s: float | None = None, max_messages: int | None = None,
                                ping_interval_s: float = 10.0, max_reconnects: int = 10,
                                retry: RetryPolicy | None = None, strict: bool = False) -> RecordStats:
    """Record the market channel for ``token_ids`` into ``out_path`` (gzip JSON lines, appended).

    Stops after ``duration_s`` seconds or ``max_messages`` messages (one of them is required).

    Raises
    ------
    MalformedResponse
        With ``strict=True``, on the first frame that is not a JSON message of the channel (the
        message names the URL, the frame number and the frame).
    RetryExhausted
        When the connection dropped more than ``max_reconnects`` times.
    """
    if not token_ids:
        raise ValueError("record_market_channel: no token ids to subscribe to")
    if duration_s is None and max_messages is None:
        raise ValueError("record_market_channel: give duration_s or max_messages")
    policy = retry or RetryPolicy()
    rng = random.Random(policy.seed)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s if duration_s is not None else None
    stats = _Tally(path=Path(out_path))
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    subscribe = json.dumps({"assets_ids": list(token_ids), "type": "market"})
    frame_no = 0
    failures = 0

    def done() -> bool:
        return ((max_messages is not None and stats.messages >= max_messages)
                or (deadline is not None and loop.time() >= deadline))

    with gzip.open(out_path, "at", encoding="utf-8") as fh:
        while not done():
            try:
                async with connect(url, ping_interval=None, open_timeout=policy.timeout_s) as ws:
                    stats.connections += 1
                    await ws.send(subscribe)
                    while not done():
                        timeout = ping_interval_s
                        if deadline is not None:
                            timeout = max(0.0, min(timeout, deadline - loop.time()))
                        try:
                            frame = await asyncio.wait_for(ws.recv(), timeout=timeout)
                        except TimeoutError:
                            if not done():
                                await ws.send("PING")
                            continue
                        frame_no += 1
                        received = time.time()
                        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
                        if text.strip() == "PONG":
                            stats.pongs += 1
                            continue
                        try:
                            msg = json.loads(text)
                        except json.JSONDecodeError as exc:
                            problem = f"frame {frame_no}: not JSON ({exc.msg} at char {exc.pos}): {text[:80]!r}"
                        else:
                            events = msg if isinstance(msg, list) else [msg]
                            kinds = [_event_kind(ev) for ev in events]
                            if events and all(k is not None for k in kinds):
                                fh.write(json.dumps({"received_at": received, "message": msg},
                                                    separators=(",", ":")) + "\n")
                                stats.messages += 1
                                failures = 0
                                for k in kinds:
                                    key = k if k in _KNOWN else "other"
                                    stats.events[key] = stats.events.get(key, 0) + 1
                                continue
                            problem = f"frame {frame_no}: not a market-channel event: {text[:80]!r}"
                        if strict:
                            raise MalformedResponse(f"websocket {url}", problem)
                        log.warning("websocket %s: %s (skipped)", url, problem)
                        stats.malformed.append(problem)
                    fh.flush()
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError) as exc:
                fh.flush()
                if done():
                    break
                failures += 1
                if failures > max_reconnects:
                    raise RetryExhausted(f"websocket {url}", failures, f"{type(exc).__name__}: {exc}") from exc
                wait = policy.backoff(failures, rng)
                log.info("websocket %s: %s; reconnecting in %.2f s", url, exc, wait)
                await asyncio.sleep(wait)
    return stats.result()


def record_market_channel_sync(token_ids: Sequence[str], out_path: str | Path, **kwargs: Any) -> RecordStats:
    """:func:`record_market_channel` run to completion in a fresh event loop."""
    return asyncio.run(record_market_channel(token_ids, out_path, **kwargs))
