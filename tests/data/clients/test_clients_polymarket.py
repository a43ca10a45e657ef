"""Polymarket clients (Gamma by slug, CLOB prices-history and book, data-api trades) against the replay
of the real payloads in ../shared/api-samples/polymarket. References are the payloads themselves."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pytest
from clients_replay import FakeClock, Fault, Server, load
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data.clients.http import HttpClient, MalformedResponse, RetryPolicy
from pmresearch.data.clients.polymarket import PolymarketClient, window_slugs
from pmresearch.data.importers import collect, import_file, websocket_log
from pmresearch.data.io import recognize


def client(server: Server, tmp_path: Path, clock: FakeClock, **kw: object) -> PolymarketClient:
    return PolymarketClient(gamma_url=server.url, clob_url=server.url, data_url=server.url,
                            raw_root=tmp_path / "raw", clock=clock, retry=RetryPolicy(base_s=0.0, max_attempts=3),
                            **kw)  # type: ignore[arg-type]


def test_window_slugs_follow_window_starts() -> None:
    # DOMAIN.md: btc-updown-15m-<window start, unix seconds>; 2025-10-28T20:45Z = 1761684300
    assert window_slugs("2025-10-28T20:40Z", "2025-10-28T21:15Z") == [
        "btc-updown-15m-1761684300", "btc-updown-15m-1761685200"]
    assert window_slugs("2026-06-08", "2026-06-08T00:10Z", interval_minutes=5) == [
        "btc-updown-5m-1780876800", "btc-updown-5m-1780877100"]
    with pytest.raises(ValueError, match="no time zone"):
        window_slugs("2026-06-08T00:00", "2026-06-08T01:00Z")


def test_markets_of_a_15m_range_by_slug(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    res = client(replay_server, tmp_path, fake_clock, slugs_per_request=3).run(
        "markets", "2025-10-28T20:30Z", "2025-10-28T21:30Z", out_dir=tmp_path / "out")[0]
    (path,) = res.files
    assert path.name == "polymarket_btc_15m_markets_20251028T2030_20251028T2130.parquet"
    assert recognize(path) == "markets"
    got = pd.read_parquet(path)
    events = load("polymarket/gamma_events_btc_updown_15m.json")
    ref = {m["slug"]: m for e in events for m in e["markets"]}
    assert sorted(got["slug"]) == sorted(ref)  # 3 found; the 20:30 window is not in the replay
    for row in got.to_dict("records"):
        m = ref[row["slug"]]
        assert row["clob_token_id_up"] == json.loads(m["clobTokenIds"])[json.loads(m["outcomes"]).index("Up")]
        assert row["window_start"] == pd.Timestamp(m["eventStartTime"])
        assert row["window_end"] == pd.Timestamp(m["endDate"])
        assert row["market_id"] == m["id"]
    assert res.notes == ("1 of 4 windows have no Gamma market (e.g. ['btc-updown-15m-1761683400'])",)
    # two batches of <= 3 slugs, each asked with repeated slug= parameters (fetched concurrently: any order)
    asked = sorted(tuple(q["slug"]) for q in replay_server.replay.requests("/markets"))
    slugs = window_slugs("2025-10-28T20:30Z", "2025-10-28T21:30Z")
    assert asked == sorted([tuple(slugs[:3]), tuple(slugs[3:])])


def test_resolved_5m_markets_outcomes_and_fees(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    res = client(replay_server, tmp_path, fake_clock).run(
        "markets", "2026-06-07T23:55Z", "2026-06-08T00:35Z", interval_minutes=5, out_dir=tmp_path / "out")[0]
    got = pd.read_parquet(res.files[0]).set_index("slug")
    ref = load("polymarket/gamma_markets_btc_updown_5m.json")
    assert len(got) == len(ref) == 8
    for m in ref:
        prices = [float(p) for p in json.loads(m["outcomePrices"])]
        up = json.loads(m["outcomes"]).index("Up")
        assert got.loc[m["slug"], "outcome_up"] == int(prices[up])  # resolved 1/0
        assert got.loc[m["slug"], "fee_rate"] == m["feeSchedule"]["rate"] == 0.07
    # the raw Gamma batch is kept and loads through the importer too
    raw = sorted(p for p in (tmp_path / "raw" / "polymarket" / "gamma").rglob("markets_*.json")
                 if not p.name.endswith(".meta.json"))
    assert len(raw) == 1 and len(import_file(raw[0])[0][0][1]) == 8


def test_book_snapshot_levels_sorted_best_first(replay_server: Server, tmp_path: Path,
                                                fake_clock: FakeClock) -> None:
    res = client(replay_server, tmp_path, fake_clock).fetch_books_sync(
        "2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, out_dir=tmp_path / "out")
    names = sorted(p.name for p in res.files)
    assert names[0].startswith("polymarket_btc_5m_books_") and names[1].startswith("polymarket_btc_5m_quotes_")
    books = pd.read_parquet(next(p for p in res.files if "_books_" in p.name))
    raw = load("polymarket/clob_book_btc_updown_5m.json")
    asks = books[books["side"] == "ask"].sort_values("level")
    ref_asks = sorted((float(lv["price"]), float(lv["size"])) for lv in raw["asks"])
    assert list(zip(asks["price"], asks["size"], strict=True)) == ref_asks  # level 0 = lowest ask
    assert (books["side"] == "bid").sum() == len(raw["bids"]) == 0  # the losing token: no bids
    assert set(books["slug"]) == {"btc-updown-5m-1774165800"} and set(books["outcome"]) == {"Up"}
    assert books["ts"].iloc[0] == pd.Timestamp(int(raw["timestamp"]), unit="ms", tz="UTC")
    quotes = pd.read_parquet(next(p for p in res.files if "_quotes_" in p.name))
    assert quotes["best_ask_up"].tolist() == [min(p for p, _ in ref_asks)]
    assert quotes["best_bid_up"].isna().all()
    # the Down token has no book in the replay (HTTP 404): noted, not an error
    assert any("1 of 2 tokens have no order book" in n for n in res.notes)


def test_prices_history_filtered_to_window_with_lead(replay_server: Server, tmp_path: Path,
                                                     fake_clock: FakeClock) -> None:
    c = client(replay_server, tmp_path, fake_clock)
    res = c.run("prices", "2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, lead_minutes=10,
                out_dir=tmp_path / "out")[0]
    got = pd.read_parquet(res.files[0])
    ref = load("polymarket/clob_prices_history.json")["history"]
    start, end = 1774165800 - 600, 1774166100
    inside = [(p["t"], p["p"]) for p in ref if start <= p["t"] <= end]
    up = got[got["outcome"] == "Up"]
    assert [(int(t.timestamp()), p) for t, p in zip(up["ts"], up["price"], strict=True)] == inside == [
        (1774165200, 0.42), (1774165500, 0.5)]
    asked = replay_server.replay.requests("/prices-history")
    assert {int(q["startTs"][0]) for q in asked} == {start} and {q["fidelity"][0] for q in asked} == {"1"}
    assert len(asked) == 2  # both tokens


def test_trades_paged_by_offset(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.page_cap["/trades"] = 7  # the server returns at most 7 rows per page
    ref = load("polymarket/data_api_trades.json")
    cid = ref[0]["conditionId"]
    c = client(replay_server, tmp_path, fake_clock, trades_page=10)
    res = asyncio.run(c.fetch_trades_for({"btc-updown-15m-1761652800": cid}, tag="t",
                                         name="polymarket_btc_15m_trades_x.parquet", out_dir=tmp_path / "out"))
    assert recognize(res.files[0]) == "trades"
    got = pd.read_parquet(res.files[0])
    assert len(got) == len(ref) == 30
    offsets = [int(q["offset"][0]) for q in replay_server.replay.requests("/trades")]
    assert offsets == [0, 7, 14, 21, 28, 30]  # advance by rows received; stop at the empty page
    assert sorted(zip(got["price"], got["qty"], strict=True)) == sorted((r["price"], r["size"]) for r in ref)
    assert set(got["venue"]) == {"polymarket"} and got["ts"].is_monotonic_increasing
    # the paging cap is reported, not silent
    c2 = client(replay_server, tmp_path / "b", fake_clock, trades_page=10, trades_max_offset=14)
    res2 = asyncio.run(c2.fetch_trades_for({"btc-updown-15m-1761652800": cid}, tag="t",
                                           name="polymarket_btc_15m_trades_y.parquet", out_dir=tmp_path / "out"))
    assert res2.rows["polymarket_btc_15m_trades_y.parquet"] == 14
    assert "hit the paging cap of 14" in res2.notes[0]


def test_malformed_gamma_field_names_endpoint_and_field(replay_server: Server, tmp_path: Path,
                                                        fake_clock: FakeClock) -> None:
    m = dict(load("polymarket/gamma_market_btc_updown_15m_active.json"))
    m["clobTokenIds"] = '["8851848546962572193739008211889046036776198486765606333032192644001246174440", '
    replay_server.replay.fault("/markets", Fault(status=200, body=json.dumps([m]).encode()))
    with pytest.raises(MalformedResponse, match=r"/markets\?slug=btc-updown-15m-1767200400.*'clobTokenIds' "
                                                r"is not a JSON list"):
        client(replay_server, tmp_path, fake_clock).run("markets", "2025-12-31T17:00Z", "2025-12-31T17:15Z",
                                                        out_dir=tmp_path / "out")
    replay_server.replay.fault("/markets", Fault(status=200, body=b'{"error": "bad"}'))
    with pytest.raises(MalformedResponse, match="expected a JSON array of markets"):
        client(replay_server, tmp_path, fake_clock).run("markets", "2025-12-31T17:00Z", "2025-12-31T17:15Z",
                                                        out_dir=tmp_path / "out")


def test_malformed_book_level(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    book = dict(load("polymarket/clob_book_btc_updown_5m.json"))
    book["asks"] = [{"price": "0.999"}, *book["asks"][1:]]
    replay_server.replay.fault("/book", Fault(status=200, body=json.dumps(book).encode(),
                                              when=lambda q: q["token_id"][0] == book["asset_id"]))
    with pytest.raises(MalformedResponse, match=rf"/book\?token_id={book['asset_id']}.*'asks': level 0 unparseable"):
        client(replay_server, tmp_path, fake_clock).fetch_books_sync(
            "2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, out_dir=tmp_path / "out")


def test_rate_limit_429_on_gamma_then_resume(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    replay_server.replay.fault("/markets", Fault(status=429, headers={"Retry-After": "4"}))
    c = client(replay_server, tmp_path, fake_clock)
    res = c.run("markets", "2026-06-07T23:55Z", "2026-06-08T00:35Z", interval_minutes=5, out_dir=tmp_path / "out")[0]
    assert res.retries == 1 and 4.0 in fake_clock.sleeps
    replay_server.replay.log.clear()
    again = c.run("markets", "2026-06-07T23:55Z", "2026-06-08T00:35Z", interval_minutes=5,
                  out_dir=tmp_path / "out")[0]
    assert replay_server.replay.requests("/markets") == [] and again.chunks["skipped"] == 1
    assert again.rows == res.rows


def test_cli_fetch_polymarket_all(replay_server: Server, tmp_path: Path) -> None:
    args = ["fetch", "polymarket", "all", "--start", "2025-10-28T20:45Z", "--end", "2025-10-28T21:30Z",
            "--gamma-url", replay_server.url, "--clob-url", replay_server.url, "--data-url", replay_server.url,
            "--raw-root", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["polymarket_btc_15m_markets_20251028T2045_20251028T2130.parquet",
                     "polymarket_btc_15m_prices_20251028T2045_20251028T2130.parquet",
                     "polymarket_btc_15m_trades_20251028T2045_20251028T2130.parquet"]
    assert "wrote 3 rows" in result.output
    bad = CliRunner().invoke(app, ["fetch", "polymarket", "orders", "--start", "2025-10-28", "--end", "2025-10-29"])
    assert bad.exit_code == 1 and "unknown dataset 'orders'" in bad.output


def test_resolved_twap_and_active_markets(replay_server: Server, tmp_path: Path, fake_clock: FakeClock) -> None:
    c = client(replay_server, tmp_path, fake_clock)
    res = c.run("markets", "2026-07-23T23:55Z", "2026-07-24T00:05Z", interval_minutes=5, out_dir=tmp_path / "a")[0]
    got = pd.read_parquet(res.files[0]).set_index("slug")
    # gamma_markets_btc_updown_5m_resolved.json: one Up win ("1","0"), one Down win ("0","1")
    assert got["outcome_up"].to_dict() == {"btc-updown-5m-1784850900": 1, "btc-updown-5m-1784851200": 0}
    assert set(got["outcome_from"]) == {"resolution"}
    twap = c.run("markets", "2026-08-22T16:00Z", "2026-08-22T16:05Z", interval_minutes=5, out_dir=tmp_path / "b")[0]
    row = pd.read_parquet(twap.files[0]).iloc[0]
    assert row["slug"] == "btc-updown-5m-1787414400" and pd.isna(row["outcome_up"])  # open, not resolved
    assert (row["fee_rate"], row["fee_exponent"]) == (0.07, 1.0)
    active = c.run("markets", "2025-12-31T17:00Z", "2025-12-31T17:15Z", out_dir=tmp_path / "c")[0]
    row = pd.read_parquet(active.files[0]).iloc[0]
    assert row["slug"] == "btc-updown-15m-1767200400" and pd.isna(row["outcome_up"])
    assert row["last_price_up"] == 0.585


def test_one_sided_book_payload(replay_server: Server, fake_clock: FakeClock) -> None:
    """clob_book_empty_ask.json: asks [] and last_trade_price "" -- a one-sided book loads, best bid first."""
    book = load("polymarket/clob_book_empty_ask.json")

    async def main() -> object:
        async with HttpClient(replay_server.url, clock=fake_clock) as http:
            return (await http.get_json("/book", {"token_id": book["asset_id"]})).payload

    payload = asyncio.run(main())
    frames, _ = websocket_log([json.dumps(payload)], where="empty-ask book")
    levels = frames["books"]
    assert (levels["side"] == "ask").sum() == 0
    bids = levels[levels["side"] == "bid"].sort_values("level")
    assert bids["price"].tolist() == sorted((float(b["price"]) for b in book["bids"]), reverse=True)


def test_fetched_directory_is_what_ingest_reads(replay_server: Server, tmp_path: Path,
                                                fake_clock: FakeClock) -> None:
    c = client(replay_server, tmp_path, fake_clock)
    c.run("markets", "2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, out_dir=tmp_path / "out")
    c.fetch_books_sync("2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, out_dir=tmp_path / "out")
    c.run("prices", "2026-03-22T07:50Z", "2026-03-22T07:55Z", interval_minutes=5, lead_minutes=10,
          out_dir=tmp_path / "out")
    items, report = collect([tmp_path / "out"])
    assert sorted(kind for kind, _, _ in items) == ["books", "markets", "quotes"]
    assert [p.name for p, _ in report.skipped] == ["polymarket_btc_5m_prices_20260322T0750_20260322T0755.parquet"]
