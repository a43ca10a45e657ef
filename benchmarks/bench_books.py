"""Book benchmarks: the streaming websocket importer vs a plain pandas baseline, in the same run.

A seeded synthetic recording in the shape of the real ones (full-depth ``book`` messages, 99 levels a
book, up to a dozen levels changing per message, 20 tokens) is read two ways:

* ``read_websocket_log``: decode line by line, keep the current book per token, emit the changed
  levels (``book_events``) and a snapshot per token every 10 s, validated;
* baseline: ``pandas.read_json(lines=True)`` then ``explode`` + ``json_normalize`` of every level of
  every message (one row per level per message: the old ``polymarket_books`` layout), unvalidated.

Printed: messages per second of each, the ratio, and rows produced by each (what a store would hold).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
from _timing import best_time

from pmresearch.data.importers import read_websocket_log

N_MESSAGES = 20_000
N_TOKENS = 20
LEVELS = 99


def synthetic_recording(seed: int = 0) -> list[str]:
    """Envelope lines of ``book`` messages: each token's book drifts by ~12 changed levels a message."""
    rng = np.random.default_rng(seed)
    prices = np.round(np.arange(1, 100) / 100, 2)
    books = {t: rng.gamma(2.0, 300.0, (2, LEVELS)).round(2) for t in range(N_TOKENS)}
    t0 = 1_776_081_408_000
    lines = []
    for k in range(N_MESSAGES):
        token = int(rng.integers(N_TOKENS))
        book = books[token]
        idx = rng.integers(0, LEVELS, 12)
        book[rng.integers(0, 2, 12), idx] = rng.gamma(2.0, 300.0, 12).round(2)
        mid = 50
        msg = {"market": f"0x{token:064x}", "asset_id": str(10**76 + token), "timestamp": str(t0 + 150 * k),
               "event_type": "book",
               "bids": [{"price": f"{p:g}", "size": f"{s:g}"} for p, s in zip(prices[:mid], book[0, :mid],
                                                                               strict=True)],
               "asks": [{"price": f"{p:g}", "size": f"{s:g}"} for p, s in zip(prices[mid:], book[1, mid:],
                                                                               strict=True)]}
        lines.append(json.dumps({"received_at": (t0 + 150 * k) / 1000, "message": msg}))
    return lines


def _baseline(text: str) -> int:
    raw = pd.read_json(io.StringIO(text), lines=True)
    msgs = pd.json_normalize(raw["message"].tolist())
    rows = 0
    for side in ("bids", "asks"):
        levels = msgs[["asset_id", "timestamp", side]].explode(side).dropna(subset=[side])
        flat = pd.json_normalize(levels[side].tolist())
        frame = pd.DataFrame({"token_id": levels["asset_id"].to_numpy(),
                              "ts": levels["timestamp"].astype("int64").to_numpy(),
                              "price": flat["price"].astype("float64").to_numpy(),
                              "size": flat["size"].astype("float64").to_numpy()})
        frame["level"] = frame.groupby(["token_id", "ts"]).cumcount()
        rows += len(frame)
    return rows


def bench_websocket_books() -> str:
    lines = synthetic_recording()
    text = "\n".join(lines)
    ours = best_time(lambda: read_websocket_log(lines, where="bench"), repeat=2)
    log = read_websocket_log(lines, where="bench")
    rows = {kind: sum(len(f) for k, f in log.items if k == kind) for kind in ("book_events", "books")}
    base = best_time(lambda: _baseline(text), repeat=2)
    base_rows = _baseline(text)
    return (f"websocket books ({N_MESSAGES:,} messages, {N_TOKENS} tokens, {LEVELS} levels a book): streaming "
            f"importer {N_MESSAGES / ours:,.0f} msg/s vs pandas read_json+explode {N_MESSAGES / base:,.0f} msg/s: "
            f"ratio {base / ours:,.2f}x; rows {rows['book_events']:,} events + {rows['books']:,} snapshot levels vs "
            f"{base_rows:,} per-message levels ({base_rows / (rows['book_events'] + rows['books']):,.1f}x fewer)")


BENCHMARKS = [bench_websocket_books]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(bench(), flush=True)
