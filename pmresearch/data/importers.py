"""Importers: canonical files, Binance klines (REST JSON, monthly dump CSV), Coinbase candles,
Polymarket Gamma markets, data-api trades, prices-history and recorded market-websocket logs.

Every importer returns frames in the canonical schemas, validated by the one path
(:func:`pmresearch.data.schemas.validate`), as ``(kind, frame, source)`` items ready for
:meth:`pmresearch.data.store.Store.load_frames`. :func:`ingest` loads paths (files or directories)
in one transaction and names every file it skips.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch._progress import progress as progress_bar
from pmresearch.data.io import read_file, recognize
from pmresearch.data.schemas import SchemaError, validate
from pmresearch.data.store import KIND_TABLE, LoadItem, Store, connect

__all__ = [
    "BINANCE_DUMP_RE",
    "IngestReport",
    "TokenInfo",
    "binance_dump",
    "binance_klines_json",
    "coinbase_candles",
    "collect",
    "epoch_to_utc",
    "gamma_markets",
    "import_file",
    "ingest",
    "ingest_command",
    "polymarket_trades",
    "prices_history",
    "token_map",
    "websocket_log",
]

#: Binance public dump names: ``BTCUSDT-1m-2025-01.csv`` (also daily ``-2025-01-31``, ``.zip``).
BINANCE_DUMP_RE = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[smhdwM])-\d{4}-\d{2}(-\d{2})?\.(csv|zip)$")
_WS_RE = re.compile(r"^polymarket_ws_.*\.jsonl(\.gz)?$")
_INTERVAL_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_KLINE_COLS = ["ts", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades",
               "taker_buy_volume", "taker_buy_quote", "ignore"]


def epoch_to_utc(values: Any, *, unit: str | None = None) -> pd.Series:
    """Epoch numbers to UTC timestamps (microsecond precision).

    With ``unit=None`` each value's unit is inferred from its size: seconds below 1e11, milliseconds
    below 1e14, microseconds below 1e17, else nanoseconds (Binance dumps switched from ms to us on
    2025-01-01, so one file may even mix them).
    """
    num = pd.to_numeric(pd.Series(values), errors="raise").astype("float64")
    if unit is not None:
        scale = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
        micros: Any = num * scale
    else:
        absn = num.abs()
        micros = np.where(absn < 1e11, num * 1e6, np.where(absn < 1e14, num * 1e3,
                                                           np.where(absn < 1e17, num, num / 1e3)))
    out = pd.to_datetime(np.round(np.asarray(micros, dtype="float64")).astype("int64"), unit="us", utc=True)
    return pd.Series(out, index=getattr(values, "index", None)).astype("datetime64[us, UTC]")


def _seconds_to_utc(values: pd.Series) -> pd.Series:
    """Epoch seconds (float, possibly null) to UTC timestamps rounded to the microsecond."""
    num = pd.to_numeric(values, errors="raise").astype("float64")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    ok = num.notna()
    if ok.any():
        out[ok] = epoch_to_utc(num[ok], unit="s")
    return out


def _interval_seconds(interval: str) -> int:
    m = re.fullmatch(r"(\d+)([smhdw])", interval)
    if not m:
        raise ValueError(f"unknown kline interval {interval!r}")
    return int(m.group(1)) * _INTERVAL_S[m.group(2)]


def _klines_frame(raw: pd.DataFrame, symbol: str, interval: str, source: str, where: str,
                  fetched_at: pd.Timestamp | None = None) -> pd.DataFrame:
    try:
        for c in _KLINE_COLS[1:]:
            raw[c] = pd.to_numeric(raw[c], errors="raise")
        ts = epoch_to_utc(raw["ts"])
        close_time = epoch_to_utc(raw["close_time"])
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"{where}: unparseable kline values ({exc})") from exc
    frame = pd.DataFrame({
        "ts": ts, "open": raw["open"], "high": raw["high"], "low": raw["low"], "close": raw["close"],
        "volume": raw["volume"], "quote_volume": raw["quote_volume"], "trades": raw["trades"].astype("Int64"),
        "taker_buy_volume": raw["taker_buy_volume"], "symbol": symbol, "interval": interval, "source": source,
    })
    if fetched_at is not None:  # the still-open candle would change later: drop it
        frame = frame[close_time < fetched_at].reset_index(drop=True)
    return validate(frame, "klines", source=where)


def binance_dump(path: str | Path, *, symbol: str | None = None, interval: str | None = None) -> pd.DataFrame:
    """A Binance monthly/daily kline dump (CSV without header, or its zip) as canonical klines.

    Timestamps may be milliseconds (to 2024) or microseconds (from 2025); both are read. Symbol and
    interval come from the file name (``BTCUSDT-1m-2025-01.csv``) unless given.
    """
    p = Path(path)
    m = BINANCE_DUMP_RE.match(p.name)
    symbol = symbol or (m.group("symbol") if m else None)
    interval = interval or (m.group("interval") if m else None)
    if symbol is None or interval is None:
        raise ValueError(f"{p}: name is not SYMBOL-INTERVAL-YYYY-MM.csv; pass symbol= and interval=")
    try:
        raw = pd.read_csv(p, header=None, names=_KLINE_COLS, dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SchemaError(f"{p}: cannot read Binance dump ({exc})") from exc
    if len(raw) and not str(raw.iloc[0, 0]).strip().isdigit():  # some dumps carry a header row
        raw = raw.iloc[1:].reset_index(drop=True)
    return _klines_frame(raw, symbol, interval, "binance-dump", str(p))


def binance_klines_json(payload: Any, *, symbol: str, interval: str, where: str = "binance klines",
                        fetched_at: pd.Timestamp | None = None) -> pd.DataFrame:
    """Binance REST ``/api/v3/klines`` rows (12-element arrays, numbers as strings) as canonical klines.

    When ``fetched_at`` is given, candles not closed by then (the last, still-open one) are dropped.
    """
    if not isinstance(payload, list) or any(not isinstance(r, list) or len(r) != 12 for r in payload):
        raise SchemaError(f"{where}: expected a list of 12-element kline arrays")
    raw = pd.DataFrame(payload, columns=_KLINE_COLS, dtype=object)
    return _klines_frame(raw, symbol, interval, "binance-rest", where, fetched_at)


def coinbase_candles(payload: Any, *, product: str, granularity_s: int, where: str = "coinbase candles",
                     fetched_at: pd.Timestamp | None = None) -> pd.DataFrame:
    """Coinbase candles as canonical klines: Exchange rows ``[time, low, high, open, close, volume]``
    (newest first) or Advanced Trade ``{"candles": [{start, low, high, open, close, volume}]}``."""
    rows = payload.get("candles") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise SchemaError(f"{where}: expected a list of candles")
    if rows and isinstance(rows[0], dict):
        raw = pd.DataFrame(rows).rename(columns={"start": "time"})
    else:
        if any(not isinstance(r, list) or len(r) != 6 for r in rows):
            raise SchemaError(f"{where}: expected [time, low, high, open, close, volume] rows")
        raw = pd.DataFrame(rows, columns=["time", "low", "high", "open", "close", "volume"])
    try:
        num = raw[["time", "low", "high", "open", "close", "volume"]].apply(pd.to_numeric, errors="raise")
    except (ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"{where}: unparseable candle values ({exc})") from exc
    ts = epoch_to_utc(num["time"], unit="s")
    names = {60: "1m", 300: "5m", 900: "15m", 3600: "1h", 21600: "6h", 86400: "1d"}
    frame = pd.DataFrame({
        "ts": ts, "open": num["open"], "high": num["high"], "low": num["low"], "close": num["close"],
        "volume": num["volume"], "quote_volume": np.nan, "trades": pd.array([pd.NA] * len(num), dtype="Int64"),
        "taker_buy_volume": np.nan, "symbol": product.replace("-", "").upper(),
        "interval": names.get(granularity_s, f"{granularity_s}s"), "source": "coinbase",
    })
    if fetched_at is not None:
        frame = frame[frame["ts"] + pd.Timedelta(seconds=granularity_s) <= fetched_at]
    frame = frame.sort_values("ts").reset_index(drop=True)  # newest first on the wire
    return validate(frame, "klines", source=where)


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else []
        except json.JSONDecodeError:
            return []
    return list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class TokenInfo:
    """What a CLOB token id is: its market's slug, outcome (Up/Down) and window."""

    slug: str
    outcome: str
    market_id: str | None
    interval_minutes: int
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    strike: float | None = None


def _iter_gamma_markets(payload: Any) -> Iterator[dict[str, Any]]:
    items = payload if isinstance(payload, list) else [payload]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "clobTokenIds" in item or "outcomePrices" in item:
            yield item
        for market in item.get("markets", []) or []:
            if isinstance(market, dict):
                merged = dict(market)
                merged.setdefault("events", [{k: v for k, v in item.items() if k != "markets"}])
                yield merged


_SLUG_RE = re.compile(r"^(?P<asset>[a-z0-9]+)-updown-(?P<minutes>\d+)m-(?P<start>\d+)$")


def _gamma_row(m: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
    slug = str(m.get("slug", ""))
    sm = _SLUG_RE.match(slug)
    if sm is None:
        return None
    minutes = int(sm.group("minutes"))
    start = pd.Timestamp(int(sm.group("start")), unit="s", tz="UTC")
    event = (m.get("events") or [{}])[0] or {}
    if m.get("eventStartTime"):
        start = pd.Timestamp(m["eventStartTime"]).tz_convert("UTC")
    end = start + pd.Timedelta(minutes=minutes)
    outcomes = [str(o) for o in _json_list(m.get("outcomes"))]
    prices = _json_list(m.get("outcomePrices"))
    tokens = [str(t) for t in _json_list(m.get("clobTokenIds"))]
    up = outcomes.index("Up") if "Up" in outcomes else 0
    last_up = float(prices[up]) if len(prices) > up else None
    resolved = bool(m.get("closed")) and last_up in (0.0, 1.0)
    meta = event.get("eventMetadata") or m.get("eventMetadata") or {}
    fee = m.get("feeSchedule") or {}
    fees_enabled = m.get("feesEnabled")
    row = {
        "slug": slug, "asset": sm.group("asset"), "interval_minutes": minutes,
        "window_start": start, "window_end": end,
        "outcome_up": int(last_up) if resolved and last_up is not None else None,
        "outcome_from": "resolution" if resolved else None,
        "strike": float(meta["priceToBeat"]) if isinstance(meta, dict) and meta.get("priceToBeat") else None,
        "last_price_up": last_up, "market_id": str(m["id"]) if m.get("id") is not None else None,
        "clob_token_id_up": tokens[up] if len(tokens) > up else None,
        "fee_rate": float(fee["rate"]) if "rate" in fee else (0.0 if fees_enabled is False else None),
        "fee_exponent": float(fee["exponent"]) if "exponent" in fee else (0.0 if fees_enabled is False else None),
        "source": "gamma",
    }
    names = outcomes if len(outcomes) == len(tokens) else ["Up", "Down"][: len(tokens)]
    return row, list(zip(tokens, names, strict=True))


def gamma_markets(payload: Any, *, where: str = "gamma") -> tuple[pd.DataFrame, dict[str, TokenInfo]]:
    """Gamma market or event objects (one, a list, or events with ``markets``) of ``*-updown-*`` markets.

    Returns the canonical markets frame and the token map (both tokens of each market). The JSON-in-
    strings fields (``outcomes``, ``outcomePrices``, ``clobTokenIds``) are decoded; a market is
    resolved when it is closed with outcome prices 1/0; the strike is ``eventMetadata.priceToBeat``.
    """
    rows, tokens = [], {}
    for m in _iter_gamma_markets(payload):
        parsed = _gamma_row(m)
        if parsed is None:
            continue
        row, toks = parsed
        rows.append(row)
        for token, outcome in toks:
            tokens[token] = TokenInfo(row["slug"], outcome, row["market_id"], row["interval_minutes"],
                                      row["window_start"], row["window_end"], row["strike"])
    cols = ["slug", "asset", "interval_minutes", "window_start", "window_end", "outcome_up", "outcome_from",
            "strike", "last_price_up", "market_id", "clob_token_id_up", "fee_rate", "fee_exponent", "source"]
    frame = pd.DataFrame(rows, columns=cols)
    for c in ("window_start", "window_end"):
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[us, UTC]")
    frame["outcome_up"] = frame["outcome_up"].astype("Int8")
    for c in ("strike", "last_price_up", "fee_rate", "fee_exponent"):
        frame[c] = frame[c].astype("float64")
    frame = frame.drop_duplicates("slug", keep="last").reset_index(drop=True)
    return validate(frame, "markets", source=where), tokens


def token_map(markets: pd.DataFrame) -> dict[str, TokenInfo]:
    """Up-token map from canonical markets (the Down token id is not in that schema)."""
    out = {}
    for r in markets.dropna(subset=["clob_token_id_up"]).to_dict("records"):
        row: dict[Any, Any] = dict(r)
        out[str(row["clob_token_id_up"])] = TokenInfo(
            str(row["slug"]), "Up", None if pd.isna(row["market_id"]) else str(row["market_id"]),
            int(row["interval_minutes"]), pd.Timestamp(row["window_start"]), pd.Timestamp(row["window_end"]),
            None if pd.isna(row["strike"]) else float(row["strike"]))
    return out


def polymarket_trades(payload: Any, *, where: str = "data-api trades") -> pd.DataFrame:
    """Data API ``/trades`` (v1 list, camelCase) or ``/v2/trades`` (``{data: [...]}``, snake_case) as trades.

    The API has no trade id, so rows are keyed by hash and position (DESIGN.md); ``symbol`` is the token id.
    """
    rows = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise SchemaError(f"{where}: expected a list of trades")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise SchemaError(f"{where}: row {i}: not an object")
        if str(r.get("type", "TRADE")).upper() != "TRADE":
            continue
        try:
            out.append({
                "ts": int(r["timestamp"]), "price": float(r["price"]), "qty": float(r["size"]),
                "side": str(r["side"]).lower(), "symbol": str(r.get("asset") or r.get("token_id")),
                "slug": r.get("slug"), "outcome": r.get("outcome"),
            })
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{where}: row {i}: column {exc!s}: missing or unparseable") from exc
    frame = pd.DataFrame(out, columns=["ts", "price", "qty", "side", "symbol", "slug", "outcome"])
    frame["ts"] = epoch_to_utc(frame["ts"], unit="s") if len(frame) else pd.Series(dtype="datetime64[us, UTC]")
    frame["received_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    frame["venue"] = "polymarket"
    frame["trade_id"] = None
    return validate(frame, "trades", source=where)


def prices_history(payload: Any, *, token_id: str, where: str = "prices-history") -> pd.DataFrame:
    """CLOB ``/prices-history`` (``{"history": [{t, p}]}``) or data-api v2 (``{"data": [{timestamp, price}]}``).

    Returns ``ts`` (UTC), ``token_id``, ``price``: a 1-minute series of the token's price. It has no
    canonical table (it is neither a best bid/ask nor a trade), so :func:`ingest` keeps it raw only.
    """
    if not isinstance(payload, dict):
        raise SchemaError(f"{where}: expected an object with 'history' or 'data'")
    points = payload.get("history", payload.get("data"))
    if not isinstance(points, list):
        raise SchemaError(f"{where}: expected an object with 'history' or 'data'")
    try:
        t = [int(p.get("t", p.get("timestamp"))) for p in points]
        price = [float(p.get("p", p.get("price"))) for p in points]
    except (TypeError, ValueError, AttributeError) as exc:
        raise SchemaError(f"{where}: unparseable point ({exc})") from exc
    frame = pd.DataFrame({"ts": epoch_to_utc(pd.Series(t, dtype="int64"), unit="s"), "token_id": token_id,
                          "price": price})
    bad = frame.index[(frame["price"] < 0) | (frame["price"] > 1)]
    if len(bad):
        raise SchemaError(f"{where}: column 'price': outside [0, 1] at rows {list(bad[:5])}")
    return frame


def _levels(levels: Any, where: str, side: str) -> list[tuple[float, float]]:
    if not isinstance(levels, list):
        raise SchemaError(f"{where}: column '{side}': levels are not a list")
    out = []
    for j, lv in enumerate(levels):
        try:
            price, size = float(lv["price"]), float(lv["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{where}: column '{side}': level {j} unparseable ({lv!r})") from exc
        if not (0.0 <= price <= 1.0) or size < 0 or np.isnan(price) or np.isnan(size):
            raise SchemaError(f"{where}: column '{side}': level {j} price {price} / size {size} out of range")
        out.append((price, size))
    return out


@dataclass
class _WsState:
    bids: dict[str, dict[float, float]] = field(default_factory=dict)
    asks: dict[str, dict[float, float]] = field(default_factory=dict)


def websocket_log(path_or_lines: str | Path | Iterable[str], *, tokens: Mapping[str, TokenInfo] | None = None,
                  where: str | None = None) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Rebuild books, quotes and trades from a recorded market-channel log.

    Lines are ``{"received_at": <unix s>, "message": <msg>}`` (the recorder's envelope) or bare
    messages; a message is one event or an array of events. ``book`` events replace a token's book,
    ``price_change`` events (both the 2025 ``price_changes`` and the older ``changes`` shape) update
    it, each giving a snapshot (the last one per token and exchange timestamp is kept);
    ``last_trade_price`` gives a trade. Quotes need ``tokens`` (token id -> market); without it they are
    skipped, with the reason in the returned notes.

    Returns
    -------
    frames : dict
        ``{"books": ..., "trades": ..., "quotes": ...}`` (present when non-empty), validated.
    notes : list of str
        What was skipped and why.
    """
    if isinstance(path_or_lines, str | Path):
        p = Path(path_or_lines)
        where = where or str(p)
        opener: Any = gzip.open if p.suffix == ".gz" else open
        try:
            with opener(p, "rt", encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise SchemaError(f"{where}: cannot read websocket log ({exc})") from exc
    else:
        lines = list(path_or_lines)
        where = where or "websocket log"
    state = _WsState()
    snaps: dict[tuple[str, int], tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}
    trades: list[dict[str, Any]] = []
    counts = {"book": 0, "price_change": 0, "last_trade_price": 0, "other": 0, "orphan_change": 0}
    for n, line in enumerate(progress_bar(lines, desc="websocket log", unit="msg", leave=False), start=1):
        if not line.strip() or line.strip() in ("PONG", "PING"):
            continue
        at = f"{where}: line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{at}: not JSON ({exc.msg})") from exc
        received: float | None = None
        if isinstance(obj, dict) and "message" in obj and "received_at" in obj:
            try:
                received = float(obj["received_at"])
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"{at}: column 'received_at': unparseable ({obj['received_at']!r})") from exc
            obj = obj["message"]
        for ev in obj if isinstance(obj, list) else [obj]:
            if not isinstance(ev, dict):
                raise SchemaError(f"{at}: event is not an object")
            kind = ev.get("event_type") or ("book" if "bids" in ev or "asks" in ev else
                                            "price_change" if "price_changes" in ev or "changes" in ev else "other")
            try:  # exchange time in epoch ms, converted once per column at the end
                ts = int(ev["timestamp"]) if "timestamp" in ev else None
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"{at}: column 'timestamp': unparseable ({ev.get('timestamp')!r})") from exc
            if kind == "book":
                asset = str(ev.get("asset_id"))
                bids, asks = _levels(ev.get("bids", []), at, "bids"), _levels(ev.get("asks", []), at, "asks")
                state.bids[asset] = dict(bids)
                state.asks[asset] = dict(asks)
                if ts is None:
                    raise SchemaError(f"{at}: column 'timestamp': missing in book event")
                snaps[(asset, ts)] = (list(state.bids[asset].items()), list(state.asks[asset].items()))
                counts["book"] += 1
            elif kind == "price_change":
                changes = ev.get("price_changes") or [
                    dict(c, asset_id=ev.get("asset_id")) for c in ev.get("changes", [])]
                touched = set()
                for j, ch in enumerate(changes):
                    try:
                        asset, price, size = str(ch["asset_id"]), float(ch["price"]), float(ch["size"])
                        side = str(ch["side"]).upper()
                    except (KeyError, TypeError, ValueError) as exc:
                        raise SchemaError(f"{at}: column 'price_changes': entry {j} unparseable ({ch!r})") from exc
                    if asset not in state.bids:  # no full book seen yet: a delta alone is not a book
                        counts["orphan_change"] += 1
                        continue
                    book = (state.bids if side == "BUY" else state.asks)[asset]
                    if size == 0:
                        book.pop(price, None)
                    else:
                        book[price] = size
                    touched.add(asset)
                if ts is None:
                    raise SchemaError(f"{at}: column 'timestamp': missing in price_change event")
                for asset in touched:
                    snaps[(asset, ts)] = (list(state.bids.get(asset, {}).items()),
                                          list(state.asks.get(asset, {}).items()))
                counts["price_change"] += 1
            elif kind == "last_trade_price":
                try:
                    trades.append({"ts": ts, "price": float(ev["price"]), "qty": float(ev["size"]),
                                   "side": str(ev["side"]).lower(), "received_at": received,
                                   "symbol": str(ev["asset_id"]), "venue": "polymarket",
                                   "trade_id": ev.get("transaction_hash") or None})
                except (KeyError, TypeError, ValueError) as exc:
                    raise SchemaError(f"{at}: last_trade_price unparseable ({exc})") from exc
                counts["last_trade_price"] += 1
            else:
                counts["other"] += 1
    notes = [f"{where}: {counts['book']} book, {counts['price_change']} price_change, "
             f"{counts['last_trade_price']} last_trade_price, {counts['other']} other events; "
             f"{counts['orphan_change']} level changes of tokens without a book snapshot ignored"]
    frames: dict[str, pd.DataFrame] = {}
    book_rows: list[tuple[Any, ...]] = []
    for (asset, ts), (bids, asks) in snaps.items():
        info = (tokens or {}).get(asset)
        for side, levels, rev in (("bid", bids, True), ("ask", asks, False)):
            for level, (price, size) in enumerate(sorted(levels, key=lambda x: x[0], reverse=rev)):
                book_rows.append((ts, info.slug if info else None, asset, info.outcome if info else None,
                                  side, level, price, size))
    if book_rows:
        books = pd.DataFrame(book_rows, columns=["ts", "slug", "token_id", "outcome", "side", "level", "price", "size"])
        books["ts"] = epoch_to_utc(books["ts"], unit="ms")
        frames["books"] = validate(books, "books", source=where)
    if trades:
        tr = pd.DataFrame(trades)
        tr["ts"] = epoch_to_utc(tr["ts"], unit="ms")
        tr["received_at"] = _seconds_to_utc(tr["received_at"])
        if tokens:
            tr["slug"] = tr["symbol"].map(lambda a: tokens[a].slug if a in tokens else None)
            tr["outcome"] = tr["symbol"].map(lambda a: tokens[a].outcome if a in tokens else None)
        tr = tr.drop_duplicates().reset_index(drop=True)
        frames["trades"] = validate(tr, "trades", source=where)
    quotes = _ws_quotes(snaps, tokens or {})
    if quotes is not None:
        frames["quotes"] = validate(quotes, "quotes", source=where)
    elif snaps:
        notes.append(f"{where}: quotes skipped: no token -> market mapping for "
                     f"{len({a for a, _ in snaps})} token(s) (load the markets' Gamma metadata first)")
    return frames, notes


_Snaps = Mapping[tuple[str, int], tuple[list[tuple[float, float]], list[tuple[float, float]]]]


def _ws_quotes(snaps: _Snaps,
               tokens: Mapping[str, TokenInfo]) -> pd.DataFrame | None:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    last: dict[str, dict[str, float | None]] = {}
    for (asset, ts), (bids, asks) in sorted(snaps.items(), key=lambda kv: kv[0][1]):
        info = tokens.get(asset)
        if info is None:
            continue
        side = "up" if info.outcome == "Up" else "down"
        cur = last.setdefault(info.slug, {})
        cur[f"best_bid_{side}"] = max((p for p, _ in bids), default=None)
        cur[f"best_ask_{side}"] = min((p for p, _ in asks), default=None)
        rows[(info.slug, ts)] = {
            "ts": ts, "slug": info.slug, "market_id": info.market_id, "interval_minutes": info.interval_minutes,
            "window_start": info.window_start, "window_end": info.window_end, "strike": info.strike,
            "strike_logged": None, "reference_price": None, **{k: cur.get(k) for k in (
                "best_bid_up", "best_ask_up", "best_bid_down", "best_ask_down")}, "source": "polymarket-ws",
        }
    if not rows:
        return None
    frame = pd.DataFrame(list(rows.values()))
    frame["ts"] = epoch_to_utc(frame["ts"], unit="ms")
    for c in ("window_start", "window_end"):
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[us, UTC]")
    for c in ("strike", "strike_logged", "reference_price", "best_bid_up", "best_ask_up", "best_bid_down",
              "best_ask_down"):
        frame[c] = frame[c].astype("float64")
    return frame


def _meta(path: Path) -> dict[str, Any]:
    side = path.with_name(path.name + ".meta.json")
    if side.exists():
        data = json.loads(side.read_text())
        return data if isinstance(data, dict) else {}
    return {}


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not valid JSON ({exc})") from exc


def import_file(path: str | Path, *, tokens: Mapping[str, TokenInfo] | None = None,
                symbol: str | None = None, interval: str | None = None) -> tuple[list[LoadItem], list[str]]:
    """Read one file of any supported format into validated load items, plus notes.

    Recognized: canonical Parquet/CSV by prefix (data README), Binance dumps by name, market-
    websocket logs by prefix, and JSON by content (Binance klines, Coinbase candles, Gamma markets,
    data-api trades, prices-history). A ``NAME.meta.json`` sidecar written by ``pmresearch fetch``
    supplies ``symbol``/``interval``/``fetched_at``.

    Raises
    ------
    ValueError
        When the file matches no known format.
    SchemaError
        When it does but its content is bad (naming file, column and row).
    """
    p = Path(path)
    where = str(p)
    kind = recognize(p)
    if kind is not None:
        return [(kind, read_file(p, kind), where)], []
    if BINANCE_DUMP_RE.match(p.name):
        return [("klines", binance_dump(p, symbol=symbol, interval=interval), where)], []
    if _WS_RE.match(p.name):
        frames, notes = websocket_log(p, tokens=tokens)
        return [(k, f, where) for k, f in frames.items()], notes
    if p.suffix == ".json" and not p.name.endswith(".meta.json"):
        meta = _meta(p)
        fetched = pd.Timestamp(meta["fetched_at"]) if "fetched_at" in meta else None
        payload = _load_json(p)
        first = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(first, list) and len(first) == 12:
            sym = symbol or meta.get("symbol") or _name_part(p, 2) or "BTCUSDT"
            iv = interval or meta.get("interval") or _name_part(p, 3) or "1m"
            return [("klines", binance_klines_json(payload, symbol=sym.upper(), interval=iv, where=where,
                                                   fetched_at=fetched), where)], []
        if (isinstance(first, list) and len(first) == 6) or (isinstance(payload, dict) and "candles" in payload):
            product = meta.get("product") or symbol or "BTC-USD"
            gran = int(meta.get("granularity", 60 if isinstance(first, list) else 3600))
            return [("klines", coinbase_candles(payload, product=product, granularity_s=gran, where=where,
                                                fetched_at=fetched), where)], []
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(payload, dict) and ("history" in payload or (
                isinstance(data, list) and data and "resolution_seconds" in data[0])):
            ph = prices_history(payload, token_id=str(meta.get("token_id", "?")), where=where)
            return [], [f"{where}: prices-history ({len(ph)} points) has no canonical table; kept raw only"]
        rows = payload.get("data") if isinstance(payload, dict) else payload
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) and (
                "proxyWallet" in rows[0] or "proxy_wallet" in rows[0]):
            return [("trades", polymarket_trades(payload, where=where), where)], []
        markets, _ = gamma_markets(payload, where=where)
        if len(markets):
            return [("markets", markets, where)], []
    raise ValueError(f"{p}: not a recognized data file (prefix, Binance dump name or JSON shape)")


def _name_part(p: Path, i: int) -> str | None:
    parts = p.stem.split("_")
    return parts[i] if p.name.startswith("binance_klines_") and len(parts) > i else None


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest` did: rows inserted per table, files read, files skipped with reasons, notes."""

    inserted: dict[str, int]
    files: list[Path]
    skipped: list[tuple[Path, str]]
    notes: list[str]


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(q for q in sorted(p.iterdir()) if q.is_file() and not q.name.startswith("."))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return out


def collect(paths: Sequence[str | Path], *, tokens: Mapping[str, TokenInfo] | None = None,
            symbol: str | None = None, interval: str | None = None) -> tuple[list[LoadItem], IngestReport]:
    """Read and validate files and directories without loading them: load items and a report.

    Gamma metadata among the inputs (plus ``tokens``) map websocket tokens to markets, so quotes can
    be rebuilt from books. Files that match no format are listed in ``report.skipped`` with the reason.
    """
    files = _expand(paths)
    known: dict[str, TokenInfo] = dict(tokens or {})
    for p in files:  # metadata first
        if p.suffix == ".json" and not p.name.endswith(".meta.json"):
            try:
                _, toks = gamma_markets(_load_json(p), where=str(p))
            except (SchemaError, ValueError):
                continue
            known.update(toks)
    items: list[LoadItem] = []
    used: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    notes: list[str] = []
    for p in progress_bar(files, desc="read", unit="file"):
        if p.name.endswith(".meta.json") or p.name == "README.md":
            skipped.append((p, "metadata/readme"))
            continue
        try:
            got, more = import_file(p, tokens=known, symbol=symbol, interval=interval)
        except ValueError as exc:
            if isinstance(exc, SchemaError):
                raise
            skipped.append((p, str(exc).split(": ", 1)[-1]))
            continue
        items.extend(got)
        notes.extend(more)
        used.append(p)
    return items, IngestReport(inserted={}, files=used, skipped=skipped, notes=notes)


def ingest(store: Store, paths: Sequence[str | Path], *, symbol: str | None = None,
           interval: str | None = None) -> IngestReport:
    """Validate and load files and directories into ``store`` in ONE transaction.

    Markets already stored also map websocket tokens (Up tokens) to markets. A directory loads every
    file it recognizes and reports each file it skips; any bad file aborts the whole load (the
    store is unchanged).
    """
    tokens: dict[str, TokenInfo] = {}
    if store.count("polymarket_resolutions"):
        tokens.update(token_map(store.query("SELECT * FROM polymarket_resolutions")))
    items, report = collect(paths, tokens=tokens, symbol=symbol, interval=interval)
    inserted = {KIND_TABLE[k]: 0 for k, _, _ in items}
    inserted.update(store.load_frames(items, validated=True))
    return IngestReport(inserted=inserted, files=report.files, skipped=report.skipped, notes=report.notes)


def ingest_command(paths: Sequence[str | Path], url: str | None = None, *, symbol: str | None = None,
                   interval: str | None = None) -> list[str]:
    """``pmresearch ingest PATH... [--db URL]``: load into the store a URL names; the lines to print.

    The lines give rows inserted per table, every file read, every file skipped (with the reason)
    and the importers' notes. Errors (:class:`SchemaError` naming file, column and row) propagate,
    and the store is then unchanged.
    """
    with connect(url) as store:
        report = ingest(store, paths, symbol=symbol, interval=interval)
        where = store.url
    lines = [f"read {p}" for p in report.files]
    lines += [f"skipped {p}: {why}" for p, why in report.skipped]
    lines += list(report.notes)
    lines += [f"{table}: {n} rows inserted" for table, n in sorted(report.inserted.items())]
    lines.append(f"loaded {len(report.files)} files into {where} ({sum(report.inserted.values())} new rows)")
    return lines
