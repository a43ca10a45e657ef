"""Importers: canonical files, Binance klines (REST JSON, monthly dump CSV), Coinbase candles,
Polymarket Gamma markets, data-api trades, prices-history and recorded market-websocket logs.

Every importer returns frames in the canonical schemas, validated by the one path
(:func:`pmresearch.data.schemas.validate`), as ``(kind, frame, source)`` items ready for
:meth:`pmresearch.data.store.Store.load_frames`. :func:`ingest` loads paths (files or directories)
in one transaction and names every file it skips.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pmresearch._progress import progress as progress_bar
from pmresearch.data.books import SNAPSHOT_EVERY_S, _plain
from pmresearch.data.io import no_data_files_error, read_file, recognize
from pmresearch.data.schemas import SchemaError, validate
from pmresearch.data.store import KIND_TABLE, LoadItem, Store
from pmresearch.data.ws_reader import CHUNK_ROWS, REORDER_WINDOW_MS, LogLines, WsReader

__all__ = [
    "BINANCE_DUMP_RE",
    "CHUNK_ROWS",
    "REORDER_WINDOW_MS",
    "IngestReport",
    "TokenInfo",
    "TokenResolver",
    "WebsocketLog",
    "binance_dump",
    "binance_klines_json",
    "coinbase_candles",
    "collect",
    "epoch_to_utc",
    "gamma_markets",
    "import_file",
    "ingest",
    "polymarket_trades",
    "prices_history",
    "read_websocket_log",
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


@dataclass(frozen=True)
class TokenResolver:
    """Which market and outcome a recorded token is.

    ``tokens`` maps token ids (Gamma metadata gives both tokens, canonical markets the Up token);
    ``up_by_market`` maps a condition id (the ``market`` of websocket messages, the ``market_id`` of
    the 2026-04 markets file) to its Up token and market. A recorded token of a known market that is
    not its Up token is the Down token.
    """

    tokens: Mapping[str, TokenInfo] = field(default_factory=dict)
    up_by_market: Mapping[str, tuple[str, TokenInfo]] = field(default_factory=dict)

    @classmethod
    def build(cls, tokens: Mapping[str, TokenInfo] | None = None,
              markets: Sequence[pd.DataFrame] = ()) -> TokenResolver:
        """From token metadata and canonical markets frames (their Up tokens and condition ids)."""
        known = dict(tokens or {})
        by_market: dict[str, tuple[str, TokenInfo]] = {}
        for frame in markets:
            for token, info in token_map(frame).items():
                known.setdefault(token, info)
                if info.market_id:
                    by_market[info.market_id] = (token, info)
        return cls(known, by_market)

    def __call__(self, asset: str, market: str | None) -> TokenInfo | None:
        info = self.tokens.get(asset)
        if info is not None or market is None:
            return info
        hit = self.up_by_market.get(market)
        if hit is None:
            return None
        up_token, up = hit
        return up if asset == up_token else dataclasses.replace(up, outcome="Down")


@dataclass(frozen=True)
class WebsocketLog:
    """What :func:`read_websocket_log` read: load items (chunks), notes, tokens without a market."""

    items: list[tuple[str, pd.DataFrame]]
    notes: list[str]
    unmapped: frozenset[str]
    where: str = "websocket log"


def read_websocket_log(path_or_lines: str | Path | Iterable[str], *, resolve: TokenResolver | None = None,
                       where: str | None = None, snapshot_every_s: float = SNAPSHOT_EVERY_S,
                       chunk_rows: int = CHUNK_ROWS) -> WebsocketLog:
    """Stream a recorded market-channel log into validated chunks of book events, snapshots, quotes, trades.

    Memory stays bounded: the gzip is read line by line, only the current book per token is kept
    (:class:`pmresearch.data.books.BookRecorder`), and rows leave in chunks of ``chunk_rows``, each
    validated, with dictionary-encoded text columns. Messages are re-ordered by exchange time within
    :data:`REORDER_WINDOW_MS`; the messages of one millisecond form one update per token. Book events,
    snapshots and quotes are stamped with their knowledge time: the exchange time, or the latest
    ``received_at`` of the instant's messages when that is later (a delayed burst is not known before
    it arrived), never before the previous instant's stamp.

    A gzip cut mid-write (no end marker) loads its complete lines and adds a ``warning:`` note with
    the bytes of the incomplete last line dropped. A malformed line is a :class:`SchemaError` naming
    the file and line.
    """
    resolve = resolve or TokenResolver()
    if isinstance(path_or_lines, str | Path):
        p = Path(path_or_lines)
        where = where or str(p)
        lines: Iterable[bytes | str] = LogLines(p, where)
    else:
        lines = path_or_lines
        where = where or "websocket log"
    reader = WsReader(where, resolve, snapshot_every_s, chunk_rows)
    n = 0
    try:
        for n, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text in (b"PONG", b"PING", "PONG", "PING"):
                continue
            at = f"{where}: line {n}"
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise SchemaError(f"{at}: not JSON ({getattr(exc, 'msg', exc)})") from exc
            reader.message(obj, at)
    except OSError as exc:
        raise SchemaError(f"{where}: cannot read websocket log ({exc})") from exc
    reader.finish()
    if reader.trades:
        reader.items.append(("trades", _ws_trades(reader.trades, reader.infos, where)))
    notes = reader.notes(snapshot_every_s)
    if isinstance(lines, LogLines) and lines.truncated:
        notes.append(f"warning: {where}: file truncated (gzip stream without its end marker): loaded its {n} "
                     f"complete lines, dropped the incomplete last line ({lines.dropped} bytes)")
    return WebsocketLog(reader.items, notes, frozenset(reader.unmapped), where)


def _ws_trades(trades: list[dict[str, Any]], infos: Mapping[str, TokenInfo | None], where: str) -> pd.DataFrame:
    """The ``last_trade_price`` prints of a log as canonical trades (slug and outcome where the token is known)."""
    tr = pd.DataFrame(trades)
    tr["ts"] = epoch_to_utc(tr["ts"], unit="ms")
    tr["received_at"] = _seconds_to_utc(tr["received_at"])
    tr["slug"] = tr["symbol"].map(lambda a: i.slug if (i := infos.get(a)) else None)
    tr["outcome"] = tr["symbol"].map(lambda a: i.outcome if (i := infos.get(a)) else None)
    tr = tr.drop_duplicates().reset_index(drop=True)
    return validate(tr, "trades", source=where)


def _unmapped_warning(tokens: int, files: int) -> str:
    return (f"warning: quotes skipped for {tokens} websocket token(s) of {files} file(s): no token -> market "
            "mapping (put the markets file, polymarket_btc_*_markets_*.parquet with market_id and "
            "clob_token_id_up, beside the recording, or load the markets' Gamma metadata first); their books "
            "load by token id")


def websocket_log(path_or_lines: str | Path | Iterable[str], *, tokens: Mapping[str, TokenInfo] | None = None,
                  markets: pd.DataFrame | None = None, where: str | None = None,
                  snapshot_every_s: float = SNAPSHOT_EVERY_S) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Rebuild book events, book snapshots, quotes and trades from a recorded market-channel log.

    Lines are ``{"received_at": <unix s>, "message": <msg>}`` (the recorder's envelope) or bare
    messages; a message is one event or an array of events. ``book`` events replace a token's book,
    ``price_change`` events (both the 2025 ``price_changes`` and the older ``changes`` shape) update
    it; ``last_trade_price`` gives a trade. Book events hold each update's changed levels, books a
    full snapshot per ``snapshot_every_s`` (:mod:`pmresearch.data.books`). Quotes need to know which
    market and outcome a token is: ``tokens`` (token id -> market) or ``markets`` (canonical markets
    with ``market_id`` = condition id and ``clob_token_id_up``; the other token of a market is Down,
    whose book gives the Up quotes by complement). Tokens without either load by token id (slug and
    outcome null) and get no quotes, with a ``warning:`` note.

    Returns
    -------
    frames : dict
        ``{"book_events", "books", "quotes", "trades"}`` (present when non-empty), validated, canonical dtypes.
    notes : list of str
        What was read and skipped, and why.
    """
    resolve = TokenResolver.build(tokens, [markets] if markets is not None else [])
    log = read_websocket_log(path_or_lines, resolve=resolve, where=where, snapshot_every_s=snapshot_every_s)
    parts: dict[str, list[pd.DataFrame]] = {}
    for kind, frame in log.items:
        parts.setdefault(kind, []).append(frame)
    frames = {kind: validate(pd.concat([_plain(f) for f in fs], ignore_index=True), kind, source=log.where)
              for kind, fs in parts.items()}
    notes = list(log.notes)
    if log.unmapped:
        notes.append(_unmapped_warning(len(log.unmapped), 1))
    return frames, notes


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
                symbol: str | None = None, interval: str | None = None,
                markets: Sequence[pd.DataFrame] = (),
                snapshot_every_s: float = SNAPSHOT_EVERY_S) -> tuple[list[LoadItem], list[str]]:
    """Read one file of any supported format into validated load items, plus notes.

    Recognized: canonical Parquet/CSV by prefix (data README), Binance dumps by name, market-
    websocket logs by prefix, and JSON by content (Binance klines, Coinbase candles, Gamma markets,
    data-api trades, prices-history). A ``NAME.meta.json`` sidecar written by ``pmresearch fetch``
    supplies ``symbol``/``interval``/``fetched_at``. A websocket log's tokens are mapped to markets by
    ``tokens``, ``markets`` and the markets files in the log's own directory (see
    :func:`websocket_log`); its books are snapshotted every ``snapshot_every_s`` seconds.

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
        log = _import_websocket_log(p, tokens, markets, {}, snapshot_every_s)
        notes = log.notes + ([_unmapped_warning(len(log.unmapped), 1)] if log.unmapped else [])
        return [(k, f, where) for k, f in log.items], notes
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
        gamma, _ = gamma_markets(payload, where=where)
        if len(gamma):
            return [("markets", gamma, where)], []
    raise ValueError(f"{p}: not a recognized data file (prefix, Binance dump name or JSON shape)")


def _sibling_markets(path: Path, cache: dict[Path, pd.DataFrame]) -> list[pd.DataFrame]:
    """The canonical markets files in the directory of ``path`` (read once per ``cache``)."""
    out = []
    for q in sorted(path.parent.iterdir()):
        if q.is_file() and recognize(q) == "markets":
            if q not in cache:
                cache[q] = read_file(q, "markets")
            out.append(cache[q])
    return out


def _import_websocket_log(p: Path, tokens: Mapping[str, TokenInfo] | None, markets: Sequence[pd.DataFrame],
                          cache: dict[Path, pd.DataFrame], snapshot_every_s: float) -> WebsocketLog:
    resolve = TokenResolver.build(tokens, [*markets, *_sibling_markets(p, cache)])
    return read_websocket_log(p, resolve=resolve, where=str(p), snapshot_every_s=snapshot_every_s)


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


def _is_metadata(p: Path) -> bool:
    return p.name.endswith(".meta.json") or p.name == "README.md"


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    """The files of ``paths`` (a directory gives its files); a directory without one data file is refused."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = [q for q in sorted(p.iterdir()) if q.is_file() and not q.name.startswith(".")]
            if not any(not _is_metadata(q) for q in inside):
                raise no_data_files_error(p)
            out.extend(inside)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return out


@dataclass
class _Reading:
    """What reading the inputs found so far (filled while the items are handed over)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def _read_items(paths: Sequence[str | Path], reading: _Reading, *, tokens: Mapping[str, TokenInfo] | None,
                symbol: str | None, interval: str | None, markets: Sequence[pd.DataFrame],
                snapshot_every_s: float, exclude_kinds: Collection[str] = ()) -> Iterator[LoadItem]:
    """Read and validate the inputs file by file, yielding load items as each file is read (see :func:`collect`)."""
    files = _expand(paths)
    cache: dict[Path, pd.DataFrame] = {}
    unmapped: set[str] = set()
    unmapped_files = 0
    known: dict[str, TokenInfo] = dict(tokens or {})
    for p in files:  # metadata first
        if p.suffix == ".json" and not p.name.endswith(".meta.json"):
            try:
                _, toks = gamma_markets(_load_json(p), where=str(p))
            except (SchemaError, ValueError):
                continue
            known.update(toks)
    for p in progress_bar(files, desc="read", unit="file"):
        if _is_metadata(p):
            reading.skipped.append((p, "metadata/readme"))
            continue
        if recognize(p) in exclude_kinds:
            reading.skipped.append((p, f"excluded kind {recognize(p)}"))
            continue
        try:
            if _WS_RE.match(p.name) and recognize(p) is None:
                log = _import_websocket_log(p, known, markets, cache, snapshot_every_s)
                got, more = [(k, f, str(p)) for k, f in log.items], log.notes
                unmapped |= log.unmapped
                unmapped_files += bool(log.unmapped)
                del log
                _release_freed_memory()
            elif p in cache:  # a markets file already read to map websocket tokens
                got, more = [("markets", cache[p], str(p))], []
            else:
                got, more = import_file(p, tokens=known, symbol=symbol, interval=interval)
        except ValueError as exc:
            if isinstance(exc, SchemaError):
                raise
            reading.skipped.append((p, str(exc).split(": ", 1)[-1]))
            continue
        reading.notes.extend(more)
        reading.files.append(p)
        got = [item for item in got if item[0] not in exclude_kinds]
        got.reverse()
        while got:  # hand each item over without keeping a reference to it
            item = got.pop()
            reading.kinds.append(item[0])
            yield item
            del item
    dirs = [Path(raw) for raw in paths if Path(raw).is_dir()]
    if dirs and not reading.files:  # nothing loadable: refuse rather than report "0 new rows"
        raise no_data_files_error(dirs[0])
    if unmapped:
        reading.notes.append(_unmapped_warning(len(unmapped), unmapped_files))


def collect(paths: Sequence[str | Path], *, tokens: Mapping[str, TokenInfo] | None = None,
            symbol: str | None = None, interval: str | None = None, markets: Sequence[pd.DataFrame] = (),
            snapshot_every_s: float = SNAPSHOT_EVERY_S) -> tuple[list[LoadItem], IngestReport]:
    """Read and validate files and directories without loading them: load items and a report.

    Gamma metadata and canonical markets files among the inputs or beside a websocket log (plus
    ``tokens`` and ``markets``) map websocket tokens to markets, so quotes can be rebuilt from books;
    tokens left without a market get one ``warning:`` note for all files. Files that match no
    format are listed in ``report.skipped`` with the reason.
    """
    reading = _Reading()
    items = list(_read_items(paths, reading, tokens=tokens, symbol=symbol, interval=interval, markets=markets,
                             snapshot_every_s=snapshot_every_s))
    return items, IngestReport(inserted={}, files=reading.files, skipped=reading.skipped, notes=reading.notes)


def _release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Parsing a recording churns through millions of small objects; without this the process keeps
    their pages while the store's database engine (with its own allocator) grows beside them.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def ingest(store: Store, paths: Sequence[str | Path], *, symbol: str | None = None,
           interval: str | None = None, exclude_kinds: Collection[str] = ()) -> IngestReport:
    """Validate and load files and directories into ``store`` in ONE transaction.

    ``exclude_kinds`` names data kinds not to load (e.g. ``("books", "book_events")``: a simulated
    world's full-depth books, read from its files instead); their files are listed as skipped.

    Markets already stored also map websocket tokens to markets (their Up tokens, and by condition id
    their Down tokens). A directory loads every file it recognizes and reports each file it skips;
    any bad file aborts the whole load (the store is unchanged).
    """
    stored: list[pd.DataFrame] = []
    if store.count("polymarket_resolutions"):
        stored.append(store.query("SELECT * FROM polymarket_resolutions"))
    reading = _Reading()
    items = _read_items(paths, reading, tokens=None, symbol=symbol, interval=interval, markets=stored,
                        snapshot_every_s=SNAPSHOT_EVERY_S, exclude_kinds=frozenset(exclude_kinds))
    loaded = store.load_frames(items, validated=True)  # files are read as the load consumes them
    inserted = {KIND_TABLE[k]: 0 for k in reading.kinds}
    inserted.update(loaded)
    return IngestReport(inserted=inserted, files=reading.files, skipped=reading.skipped, notes=reading.notes)

