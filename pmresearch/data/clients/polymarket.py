"""Polymarket REST clients: Gamma markets by slug, CLOB prices-history and book, data-api trades.

The markets of a time range are found by slug: the slug of a BTC 15-minute market is
``btc-updown-15m-<window start, unix seconds>`` (DOMAIN.md), so the windows of ``[start, end)`` give
the slugs, asked from Gamma ``GET /markets?slug=a&slug=b...`` in batches. Every other dataset
(prices-history, books, trades) starts from those markets and reuses the Gamma step's checkpoint.

Documented limits per 10 s (DOMAIN.md): Gamma 4000 overall, ``/markets`` 300, ``/events`` 500;
CLOB 9000 overall, ``/book`` 1500, ``/prices-history`` 1000; Data API 1000 overall, ``/trades`` 200.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pmresearch.data.clients.http import (
    Chunk,
    EndpointLimit,
    HttpStatusError,
    MalformedResponse,
    stored_responses,
    utc_range,
    utc_timestamp,
)
from pmresearch.data.clients.output import DEFAULT_OUT_DIR, FetchResult, range_tag, write_canonical, write_parquet
from pmresearch.data.clients.rest import RestClient
from pmresearch.data.importers import TokenInfo, gamma_markets, polymarket_trades, prices_history, websocket_log
from pmresearch.data.schemas import SchemaError

__all__ = [
    "CLOB_LIMITS",
    "CLOB_URL",
    "DATA_LIMITS",
    "DATA_URL",
    "GAMMA_LIMITS",
    "GAMMA_URL",
    "MarketRef",
    "PolymarketClient",
    "window_slugs",
]

GAMMA_URL = "https://gamma-api.polymarket.com"
CLOB_URL = "https://clob.polymarket.com"
DATA_URL = "https://data-api.polymarket.com"
GAMMA_LIMITS: tuple[EndpointLimit, ...] = (
    EndpointLimit("", 4000, 10.0), EndpointLimit("/markets", 300, 10.0), EndpointLimit("/events", 500, 10.0))
CLOB_LIMITS: tuple[EndpointLimit, ...] = (
    EndpointLimit("", 9000, 10.0), EndpointLimit("/book", 1500, 10.0), EndpointLimit("/prices-history", 1000, 10.0))
DATA_LIMITS: tuple[EndpointLimit, ...] = (EndpointLimit("", 1000, 10.0), EndpointLimit("/trades", 200, 10.0))


def window_slugs(start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc") -> list[str]:
    """Slugs of the ``<asset>-updown-<m>m-<unix>`` markets whose window starts in ``[start, end)``.

    Examples
    --------
    >>> window_slugs("2025-10-28T20:45Z", "2025-10-28T21:15Z")
    ['btc-updown-15m-1761684300', 'btc-updown-15m-1761685200']
    """
    if interval_minutes not in (5, 15, 60):
        raise ValueError(f"interval_minutes must be 5, 15 or 60, got {interval_minutes}")
    t0, t1 = utc_timestamp(start, name="start"), utc_timestamp(end, name="end")
    step = interval_minutes * 60
    first = -(-int(t0.value // 1_000_000_000) // step) * step
    last = int(t1.value // 1_000_000_000)
    return [f"{asset.lower()}-updown-{interval_minutes}m-{s}" for s in range(first, last, step)]


@dataclass(frozen=True)
class MarketRef:
    """What the other endpoints need of a Gamma market: slug, condition id, tokens and window."""

    slug: str
    condition_id: str | None
    tokens: dict[str, str]  # token id -> outcome
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    closed: bool


def _check_gamma(payload: Any, endpoint: str) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise MalformedResponse(endpoint, f"expected a JSON array of markets, got {str(payload)[:120]}")
    for i, m in enumerate(payload):
        if not isinstance(m, dict) or not isinstance(m.get("slug"), str):
            raise MalformedResponse(endpoint, f"market {i}: not an object with a 'slug' ({str(m)[:120]})")
        for key in ("clobTokenIds", "outcomes"):
            value = m.get(key)
            try:
                decoded = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                decoded = None
            if value is not None and not isinstance(decoded, list):
                raise MalformedResponse(endpoint, f"market {m['slug']}: field {key!r} is not a JSON list "
                                                  f"(got {str(value)[:80]})")
    return payload


def _check_history(payload: Any, endpoint: str) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("history"), list):
        raise MalformedResponse(endpoint, f"expected an object with a 'history' array, got {str(payload)[:120]}")
    for i, p in enumerate(payload["history"]):
        if (not isinstance(p, dict) or not isinstance(p.get("t"), int)
                or not isinstance(p.get("p"), int | float) or isinstance(p.get("p"), bool)):
            raise MalformedResponse(endpoint, f"point {i}: expected {{t: int, p: number}}, got {str(p)[:120]}")


def _check_book(payload: Any, endpoint: str) -> None:
    if not isinstance(payload, dict):
        raise MalformedResponse(endpoint, f"expected a book object, got {str(payload)[:120]}")
    for key in ("asset_id", "timestamp", "bids", "asks"):
        if key not in payload:
            raise MalformedResponse(endpoint, f"book has no {key!r} field (keys {sorted(payload)[:12]})")
    for side in ("bids", "asks"):
        if not isinstance(payload[side], list):
            raise MalformedResponse(endpoint, f"book field {side!r} is not a list")


def _check_trades(payload: Any, endpoint: str) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise MalformedResponse(endpoint, f"expected a JSON array of trades, got {str(payload)[:120]}")
    for i, r in enumerate(payload):
        if not isinstance(r, dict):
            raise MalformedResponse(endpoint, f"trade {i}: not an object ({str(r)[:120]})")
    return payload


def _market_ref(m: Mapping[str, Any], tokens: Mapping[str, TokenInfo]) -> MarketRef | None:
    mine = {t: info for t, info in tokens.items() if info.slug == m.get("slug")}
    if not mine:
        return None
    info = next(iter(mine.values()))
    cid = m.get("conditionId")
    return MarketRef(str(m["slug"]), str(cid) if cid else None, {t: i.outcome for t, i in mine.items()},
                     info.window_start, info.window_end, bool(m.get("closed")))


@dataclass
class _Markets:
    """The Gamma step's result: the range, market objects, canonical frame, token map, refs, counts, notes."""

    start: pd.Timestamp
    end: pd.Timestamp
    objects: list[dict[str, Any]]
    frame: pd.DataFrame
    tokens: dict[str, TokenInfo]
    refs: list[MarketRef]
    counts: dict[str, int]
    manifest: Path
    requests: int
    retries: int
    notes: list[str] = field(default_factory=list)


@dataclass
class PolymarketClient(RestClient):
    """Fetch Polymarket metadata, prices-history, books and trades into ``raw_root/polymarket/``.

    Parameters
    ----------
    gamma_url, clob_url, data_url : str
        Base URLs of Gamma, the CLOB and the Data API (a local replay server in tests).
    gamma_limits, clob_limits, data_limits : sequence of EndpointLimit
        Client-side rate limits (the documented ones by default).
    raw_root, retry, clock, concurrency
        As for every client (:class:`~pmresearch.data.clients.rest.RestClient`).
    slugs_per_request : int
        Slugs asked per Gamma ``/markets`` request.
    trades_page : int
        ``limit`` of a data-api ``/trades`` page.
    trades_max_offset : int
        The data-api's paging cap: a market with more trades is reported as truncated.
    """

    gamma_url: str = GAMMA_URL
    clob_url: str = CLOB_URL
    data_url: str = DATA_URL
    gamma_limits: Sequence[EndpointLimit] = GAMMA_LIMITS
    clob_limits: Sequence[EndpointLimit] = CLOB_LIMITS
    data_limits: Sequence[EndpointLimit] = DATA_LIMITS
    slugs_per_request: int = 20
    trades_page: int = 500
    trades_max_offset: int = 10_000

    # ------------------------------------------------------------------ Gamma
    async def _markets(self, start: Any, end: Any, interval_minutes: int, asset: str) -> _Markets:
        """The Gamma markets of the windows starting in ``[start, end)``, asked by slug in batches.

        A batch whose windows have all ended must find markets: an empty answer is asked again (the
        retry policy's attempts), then an :class:`~pmresearch.data.clients.http.EmptyResponse`, and the
        batch is not checkpointed.
        """
        t0, t1 = utc_range(start, end)
        slugs = window_slugs(t0, t1, interval_minutes=interval_minutes, asset=asset)
        n = max(1, self.slugs_per_request)
        batches = [slugs[i:i + n] for i in range(0, len(slugs), n)]
        chunks = [Chunk(f"{b[0]}..{b[-1]}", {"slugs": b}) for b in batches]
        dataset = Path("polymarket") / "gamma" / f"{asset}_{interval_minutes}m_{range_tag(t0, t1)}"
        raw, manifest = self._dataset(dataset, {"asset": asset, "interval_minutes": interval_minutes,
                                                "start": t0.isoformat(), "end": t1.isoformat()})
        async with self._client(self.gamma_url, self.gamma_limits) as http:
            async def work(chunk: Chunk) -> dict[str, Any]:
                wanted = list(chunk.params["slugs"])
                params = [("slug", s) for s in wanted] + [("limit", len(wanted))]
                ended = int(wanted[-1].rsplit("-", 1)[-1]) + 60 * interval_minutes <= time.time()
                why = f"the windows {wanted[0]}..{wanted[-1]} have ended" if ended else None  # so were listed
                resp = await http.get_nonempty("/markets", params, why=why)
                endpoint = f"GET {http.base_url}/markets?slug={wanted[0]}..{wanted[-1]}"
                objs = _check_gamma(resp.payload, endpoint)
                rel = dataset / f"markets_{wanted[0].rsplit('-', 1)[-1]}.json"
                raw.write(rel, resp, {"slugs": wanted})
                try:
                    gamma_markets(objs, where=f"{endpoint} ({raw.root / rel})")
                except SchemaError as exc:
                    raise MalformedResponse(endpoint, str(exc)) from exc
                found = {o["slug"] for o in objs}
                return {"files": [str(rel)], "found": len(found & set(wanted)),
                        "missing": [s for s in wanted if s not in found]}

            counts = await self._run(chunks, work, manifest, f"gamma {asset} {interval_minutes}m")
            stats = http.stats
        wanted_all = set(slugs)
        objects: dict[str, dict[str, Any]] = {}
        missing = [slug for chunk in chunks for slug in manifest.chunks.get(chunk.key, {}).get("missing", [])]
        for _, _, payload, _ in stored_responses(raw, manifest, chunks):
            for o in payload:
                if o.get("slug") in wanted_all:
                    objects[o["slug"]] = o
        objs = [objects[s] for s in slugs if s in objects]
        frame, tokens = gamma_markets(objs, where=f"gamma markets {dataset}")
        refs = [r for r in (_market_ref(o, tokens) for o in objs) if r is not None]
        notes = [f"{len(missing)} of {len(slugs)} windows have no Gamma market (e.g. {missing[:3]})"] if missing else []
        return _Markets(t0, t1, objs, frame, tokens, refs, counts, manifest.path, stats.requests, stats.retries,
                        notes)

    async def fetch_markets(self, start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc",
                            out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Find the markets whose window starts in ``[start, end)`` by slug; write canonical markets.

        Output: ``polymarket_<asset>_<m>m_markets_<range>.parquet``.
        """
        mk = await self._markets(start, end, interval_minutes, asset)
        name = f"polymarket_{asset}_{interval_minutes}m_markets_{range_tag(mk.start, mk.end)}.parquet"
        path = write_canonical(mk.frame, "markets", out_dir, name, where="gamma markets")
        return FetchResult([path], mk.manifest, mk.counts, {name: len(mk.frame)}, mk.requests, mk.retries, mk.notes)

    # ------------------------------------------------------------------ CLOB prices-history
    async def fetch_prices_history(self, start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc",
                                   fidelity: int = 1, lead_minutes: int = 0,
                                   out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Price history (``fidelity`` minutes; 1 is the finest) of both tokens of each market.

        The range asked is the market's window, from ``lead_minutes`` before its start (the market
        trades for hours before its window opens) to its end.

        Output: ``polymarket_<asset>_<m>m_prices_<range>.parquet`` with ``ts``, ``token_id``,
        ``price``, ``slug``, ``outcome``. It has no canonical store table (neither a quote nor a
        trade), so ``pmresearch ingest`` skips it; the raw JSON is kept too.
        """
        mk = await self._markets(start, end, interval_minutes, asset)
        t0, t1 = mk.start, mk.end
        tag = range_tag(t0, t1)
        dataset = Path("polymarket") / "prices" / f"{asset}_{interval_minutes}m_{tag}_f{fidelity}_lead{lead_minutes}"
        raw, manifest = self._dataset(dataset, {"asset": asset, "interval_minutes": interval_minutes,
                                                "start": t0.isoformat(), "end": t1.isoformat(), "fidelity": fidelity,
                                                "lead_minutes": lead_minutes})
        lead = 60 * lead_minutes
        chunks = [Chunk(token, {"slug": ref.slug, "outcome": outcome,
                                "start": int(ref.window_start.timestamp()) - lead,
                                "end": int(ref.window_end.timestamp())})
                  for ref in mk.refs for token, outcome in ref.tokens.items()]
        async with self._client(self.clob_url, self.clob_limits) as http:
            async def work(chunk: Chunk) -> dict[str, Any]:
                p = chunk.params
                params = {"market": chunk.key, "startTs": p["start"], "endTs": p["end"], "fidelity": fidelity}
                resp = await http.get_json("/prices-history", params)
                endpoint = f"GET {http.base_url}/prices-history?market={chunk.key[:12]}...&startTs={p['start']}"
                _check_history(resp.payload, endpoint)
                rel = dataset / f"{p['slug']}_{str(p['outcome']).lower()}.json"
                raw.write(rel, resp, {"token_id": chunk.key, "slug": p["slug"], "outcome": p["outcome"]})
                try:
                    rows = len(prices_history(resp.payload, token_id=chunk.key, where=endpoint))
                except SchemaError as exc:
                    raise MalformedResponse(endpoint, str(exc)) from exc
                return {"files": [str(rel)], "rows": rows}

            counts = await self._run(chunks, work, manifest, f"prices-history {asset} {interval_minutes}m")
            stats = http.stats
        frames = [prices_history(payload, token_id=chunk.key, where=where).assign(
                      slug=chunk.params["slug"], outcome=chunk.params["outcome"])
                  for chunk, where, payload, _ in stored_responses(raw, manifest, chunks)]
        frame = (pd.concat(frames, ignore_index=True) if frames else
                 pd.DataFrame({"ts": pd.Series(dtype="datetime64[us, UTC]"), "token_id": pd.Series(dtype=str),
                               "price": pd.Series(dtype=float), "slug": pd.Series(dtype=str),
                               "outcome": pd.Series(dtype=str)}))
        frame = frame.drop_duplicates(["token_id", "ts"], keep="last").sort_values(["slug", "outcome", "ts"])
        name = f"polymarket_{asset}_{interval_minutes}m_prices_{tag}.parquet"
        path = write_parquet(frame, out_dir, name)
        notes = [*mk.notes, f"{name}: prices-history has no canonical store table; `pmresearch ingest` skips it"]
        return FetchResult([path], manifest.path, counts, {name: len(frame)}, mk.requests + stats.requests,
                           mk.retries + stats.retries, notes)

    # ------------------------------------------------------------------ CLOB book
    async def fetch_books(self, start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc",
                          out_dir: str | Path = DEFAULT_OUT_DIR, only_open: bool = True) -> FetchResult:
        """L2 book snapshots, now, of the tokens of the markets in ``[start, end)`` (open ones by default).

        Output: ``polymarket_<asset>_<m>m_books_<snapshot time>.parquet`` (canonical L2 levels,
        level 0 = best) and the matching ``..._quotes_...`` file. Each run is a new snapshot; its
        manifest only resumes that snapshot's tokens. A token without a book (HTTP 404, e.g. a
        resolved market) is noted and skipped.
        """
        mk = await self._markets(start, end, interval_minutes, asset)
        snap = pd.Timestamp.now(tz="UTC").floor("min")
        tag = f"{snap:%Y%m%dT%H%M}"
        rtag = range_tag(mk.start, mk.end)
        dataset = Path("polymarket") / "book" / f"{asset}_{interval_minutes}m_{rtag}_at{tag}"
        raw, manifest = self._dataset(dataset, {"asset": asset, "snapshot": tag, "interval_minutes": interval_minutes})
        refs = [r for r in mk.refs if not (only_open and r.closed)]
        chunks = [Chunk(token, {"slug": ref.slug, "outcome": outcome}) for ref in refs for token, outcome in
                  ref.tokens.items()]
        async with self._client(self.clob_url, self.clob_limits) as http:
            async def work(chunk: Chunk) -> dict[str, Any]:
                endpoint = f"GET {http.base_url}/book?token_id={chunk.key}"
                try:
                    resp = await http.get_json("/book", {"token_id": chunk.key})
                except HttpStatusError as exc:
                    if exc.status == 404:
                        return {"files": [], "missing": True}
                    raise
                _check_book(resp.payload, endpoint)
                if str(resp.payload.get("asset_id")) != chunk.key:
                    raise MalformedResponse(endpoint, f"book is for asset {resp.payload.get('asset_id')}, "
                                                      f"not the requested token")
                rel = dataset / f"{chunk.params['slug']}_{str(chunk.params['outcome']).lower()}.json"
                raw.write(rel, resp, {"token_id": chunk.key, "slug": chunk.params["slug"]})
                try:
                    websocket_log([json.dumps(resp.payload)], where=endpoint)
                except SchemaError as exc:
                    raise MalformedResponse(endpoint, str(exc)) from exc
                return {"files": [str(rel)]}

            counts = await self._run(chunks, work, manifest, f"book {asset} {interval_minutes}m")
            stats = http.stats
        lines = [json.dumps(payload) for _, _, payload, _ in stored_responses(raw, manifest, chunks)]
        missing = sum(bool(manifest.chunks.get(chunk.key, {}).get("missing")) for chunk in chunks)
        notes = list(mk.notes)
        if missing:
            notes.append(f"{missing} of {len(chunks)} tokens have no order book (HTTP 404)")
        files: list[Path] = []
        rows: dict[str, int] = {}
        if lines:
            frames, more = websocket_log(lines, tokens=mk.tokens, where=f"books {dataset}")
            notes += more
            for kind in ("books", "quotes"):
                if kind in frames:
                    name = f"polymarket_{asset}_{interval_minutes}m_{kind}_{tag}.parquet"
                    files.append(write_canonical(frames[kind], kind, out_dir, name, where=f"clob {kind}"))
                    rows[name] = len(frames[kind])
        return FetchResult(files, manifest.path, counts, rows, mk.requests + stats.requests,
                           mk.retries + stats.retries, notes)

    # ------------------------------------------------------------------ Data API trades
    async def fetch_trades(self, start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc",
                           out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Public trades of every market whose window starts in ``[start, end)``.

        Output: ``polymarket_<asset>_<m>m_trades_<range>.parquet`` (canonical trades, venue ``polymarket``).
        """
        mk = await self._markets(start, end, interval_minutes, asset)
        markets = {r.slug: r.condition_id for r in mk.refs if r.condition_id}
        rtag = range_tag(mk.start, mk.end)
        res = await self.fetch_trades_for(markets, tag=f"{asset}_{interval_minutes}m_{rtag}", out_dir=out_dir,
                                          name=f"polymarket_{asset}_{interval_minutes}m_trades_{rtag}.parquet")
        return FetchResult(res.files, res.manifest, res.chunks, res.rows, mk.requests + res.requests,
                           mk.retries + res.retries, [*mk.notes, *res.notes])

    async def fetch_trades_for(self, markets: Mapping[str, str], *, tag: str, name: str,
                               out_dir: str | Path = DEFAULT_OUT_DIR) -> FetchResult:
        """Public trades of the given markets (slug -> condition id), paged by ``offset``.

        Pages advance by the number of rows received until an empty page (so a server that
        caps ``limit`` below ours loses nothing) or ``trades_max_offset`` (noted as truncated).
        """
        dataset = Path("polymarket") / "trades" / tag
        raw, manifest = self._dataset(dataset, {"markets": dict(sorted(markets.items())), "page": self.trades_page})
        chunks = [Chunk(slug, {"condition_id": cid}) for slug, cid in markets.items()]
        async with self._client(self.data_url, self.data_limits) as http:
            async def work(chunk: Chunk) -> dict[str, Any]:
                cid = str(chunk.params["condition_id"])
                offset, files, rows, truncated = 0, [], 0, False
                while True:
                    if offset >= self.trades_max_offset:
                        truncated = True
                        break
                    params = {"market": cid, "limit": self.trades_page, "offset": offset}
                    resp = await http.get_json("/trades", params)
                    endpoint = f"GET {http.base_url}/trades?market={cid}&offset={offset}"
                    page = _check_trades(resp.payload, endpoint)
                    if not page:
                        break
                    rel = dataset / f"{chunk.key}_o{offset:06d}.json"
                    raw.write(rel, resp, {"slug": chunk.key, "condition_id": cid, "offset": offset})
                    try:
                        polymarket_trades(page, where=endpoint)
                    except SchemaError as exc:
                        raise MalformedResponse(endpoint, str(exc)) from exc
                    files.append(str(rel))
                    rows += len(page)
                    offset += len(page)
                return {"files": files, "rows": rows, "truncated": truncated}

            counts = await self._run(chunks, work, manifest, "data-api trades")
            stats = http.stats
        frames = [polymarket_trades(payload, where=where)
                  for _, where, payload, _ in stored_responses(raw, manifest, chunks)]
        truncated = [chunk.key for chunk in chunks if manifest.chunks.get(chunk.key, {}).get("truncated")]
        frame = pd.concat(frames, ignore_index=True) if frames else polymarket_trades([])
        frame = frame.sort_values("ts", kind="stable")
        path = write_canonical(frame, "trades", out_dir, name, where="data-api trades")
        notes = [f"{len(truncated)} market(s) hit the paging cap of {self.trades_max_offset} trades: "
                 f"{truncated[:3]} (history truncated)"] if truncated else []
        return FetchResult([path], manifest.path, counts, {name: len(frame)}, stats.requests, stats.retries, notes)

    # ------------------------------------------------------------------ sync wrappers
    def run(self, what: str, start: Any, end: Any, *, interval_minutes: int = 15, asset: str = "btc",
            out_dir: str | Path = DEFAULT_OUT_DIR, fidelity: int = 1, lead_minutes: int = 0) -> list[FetchResult]:
        """Run ``markets``, ``prices``, ``book``, ``trades`` or ``all`` (markets, prices, trades) to completion."""
        kinds = {"all": ["markets", "prices", "trades"]}.get(what, [what])
        unknown = set(kinds) - {"markets", "prices", "book", "trades"}
        if unknown:
            raise ValueError(f"unknown polymarket dataset {what!r}; one of markets, prices, book, trades, all")

        async def go() -> list[FetchResult]:
            out = []
            kw: dict[str, Any] = {"interval_minutes": interval_minutes, "asset": asset, "out_dir": out_dir}
            for k in kinds:
                if k == "markets":
                    out.append(await self.fetch_markets(start, end, **kw))
                elif k == "prices":
                    out.append(await self.fetch_prices_history(start, end, fidelity=fidelity,
                                                               lead_minutes=lead_minutes, **kw))
                elif k == "book":
                    out.append(await self.fetch_books(start, end, **kw))
                else:
                    out.append(await self.fetch_trades(start, end, **kw))
            return out

        return asyncio.run(go())

    def fetch_books_sync(self, start: Any, end: Any, **kwargs: Any) -> FetchResult:
        """:meth:`fetch_books` run to completion in a fresh event loop."""
        return asyncio.run(self.fetch_books(start, end, **kwargs))

    async def market_tokens(self, start: Any, end: Any, *, interval_minutes: int = 15,
                            asset: str = "btc") -> dict[str, TokenInfo]:
        """Token id -> market info of the markets in ``[start, end)`` (via the checkpointed Gamma step)."""
        return (await self._markets(start, end, interval_minutes, asset)).tokens
