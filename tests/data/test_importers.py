"""Importers: Binance (REST, dumps in ms and us), Coinbase, Gamma, data-api trades, websocket logs."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from pmresearch.data import SchemaError
from pmresearch.data.importers import (
    TokenInfo,
    binance_dump,
    binance_klines_json,
    coinbase_candles,
    epoch_to_utc,
    gamma_markets,
    import_file,
    ingest,
    polymarket_trades,
    prices_history,
    websocket_log,
)
from pmresearch.data.io import recognize
from pmresearch.data.store import connect

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "api-samples"


def _json(rel: str) -> object:
    return json.loads((SAMPLES / rel).read_text())


def test_binance_dump_reads_ms_and_us_timestamps_alike(tmp_path: Path) -> None:
    rows = _json("binance/klines_1m.json")
    assert isinstance(rows, list)
    ms = pd.DataFrame(rows)
    us = ms.copy()
    us[0], us[6] = us[0] * 1000, us[6] * 1000 + 999
    (tmp_path / "BTCUSDT-1m-2021-10.csv").write_text(ms.to_csv(header=False, index=False))
    (tmp_path / "BTCUSDT-1m-2025-01.csv").write_text(us.to_csv(header=False, index=False))
    a = binance_dump(tmp_path / "BTCUSDT-1m-2021-10.csv")
    b = binance_dump(tmp_path / "BTCUSDT-1m-2025-01.csv")
    pd.testing.assert_frame_equal(a, b)
    assert a["ts"].iloc[0] == pd.Timestamp("2021-10-22 23:03", tz="UTC") and a["ts"].dt.second.eq(0).all()
    assert a["close"].iloc[0] == 60719.27 and a["trades"].iloc[0] == 617 and a["symbol"].iloc[0] == "BTCUSDT"
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,tbb,tbq,ignore\n"
    (tmp_path / "ETHUSDT-1s-2025-02-03.csv").write_text(header + us.to_csv(header=False, index=False))
    c = binance_dump(tmp_path / "ETHUSDT-1s-2025-02-03.csv")
    assert len(c) == len(rows) and c["interval"].iloc[0] == "1s" and c["symbol"].iloc[0] == "ETHUSDT"
    bad = ms.copy()
    bad.loc[3, 4] = "oops"
    (tmp_path / "BTCUSDT-1m-2021-11.csv").write_text(bad.to_csv(header=False, index=False))
    with pytest.raises(SchemaError, match=r"BTCUSDT-1m-2021-11\.csv: unparseable kline"):
        binance_dump(tmp_path / "BTCUSDT-1m-2021-11.csv")


def test_epoch_units_are_inferred_per_value() -> None:
    out = epoch_to_utc(pd.Series([1_735_689_600, 1_735_689_600_000, 1_735_689_600_000_000]))
    assert (out == pd.Timestamp("2025-01-01", tz="UTC")).all()


def test_binance_rest_drops_the_open_candle_when_fetch_time_known() -> None:
    rows = _json("binance/klines_1m.json")
    fetched = pd.Timestamp(rows[-1][0], unit="ms", tz="UTC") + pd.Timedelta(seconds=20)  # type: ignore[index]
    full = binance_klines_json(rows, symbol="BTCUSDT", interval="1m")
    closed = binance_klines_json(rows, symbol="BTCUSDT", interval="1m", fetched_at=fetched)
    assert len(full) == 10 and len(closed) == 9
    assert full["quote_volume"].iloc[0] == pytest.approx(1313200.0134041)


def test_coinbase_candles_both_apis_oldest_first() -> None:
    ex = coinbase_candles(_json("coinbase/candles_exchange.json"), product="BTC-USDT", granularity_s=3600)
    assert ex[["open", "high", "low", "close"]].iloc[0].tolist() == [73243.33, 73402.47, 73241.5, 73370.65]
    adv = coinbase_candles(_json("coinbase/candles_advanced_trade.json"), product="BTC-USD", granularity_s=3600)
    assert adv["ts"].is_monotonic_increasing and adv["open"].iloc[0] == 65984.18 and adv["interval"].iloc[0] == "1h"


def test_gamma_markets_decode_strings_strike_fees_and_outcomes() -> None:
    m, tokens = gamma_markets(_json("polymarket/gamma_market_btc_updown_5m_by_id.json"))
    row = m.iloc[0]
    assert row["slug"] == "btc-updown-5m-1774165800" and row["strike"] == pytest.approx(69047.89810564333)
    assert (row["fee_rate"], row["fee_exponent"]) == (0.25, 2.0) and pd.isna(row["outcome_up"])
    assert row["window_end"] - row["window_start"] == pd.Timedelta(minutes=5)
    assert sorted(t.outcome for t in tokens.values()) == ["Down", "Up"]
    res, _ = gamma_markets(_json("polymarket/gamma_markets_btc_updown_5m_resolved.json"))
    assert res["outcome_up"].tolist() == [1, 0] and set(res["outcome_from"]) == {"resolution"}
    ev, toks = gamma_markets(_json("polymarket/gamma_events_btc_updown_15m.json"))
    assert len(ev) == 3 and len(toks) == 6 and (ev["fee_rate"] == 0.0).all()  # feesEnabled false in 2025
    twap, _ = gamma_markets(_json("polymarket/gamma_market_btc_updown_5m_twap_subset.json"))
    assert (twap["fee_rate"].iloc[0], twap["fee_exponent"].iloc[0]) == (0.07, 1.0)


def test_data_api_trades_v1_v2_and_activity() -> None:
    v1 = polymarket_trades(_json("polymarket/data_api_trades.json"))
    assert len(v1) == 30 and set(v1["side"]) <= {"buy", "sell"} and (v1["venue"] == "polymarket").all()
    assert v1["ts"].iloc[0] == pd.Timestamp(1761653725, unit="s", tz="UTC") and v1["slug"].iloc[0].startswith("btc")
    v2 = polymarket_trades(_json("polymarket/data_api_v2_trades.json"))
    assert len(v2) == 2 and v2["symbol"].iloc[0].startswith("10756")
    act = polymarket_trades(_json("polymarket/data_api_activity.json"))
    assert len(act) == 2  # REDEEM rows are not trades
    ph = prices_history(_json("polymarket/clob_prices_history.json"), token_id="x")
    assert ph["price"].tolist() == [0.42, 0.5, 0.65, 0.6]


def _tokens_from_trades() -> dict[str, TokenInfo]:
    trades = polymarket_trades(_json("polymarket/data_api_trades.json"))
    start = pd.Timestamp(1761652800, unit="s", tz="UTC")
    return {str(r.symbol): TokenInfo(str(r.slug), str(r.outcome), None, 15, start, start + pd.Timedelta(minutes=15))
            for r in trades.drop_duplicates("symbol").itertuples()}


def test_websocket_messages_rebuild_books_quotes_and_trades() -> None:
    tokens = _tokens_from_trades()
    # a snapshot after every update (snapshot_every_s=0) gives the rebuilt book at each message
    frames, notes = websocket_log(SAMPLES / "polymarket/ws_market_messages.jsonl", tokens=tokens, snapshot_every_s=0)
    books, quotes, trades = frames["books"], frames["quotes"], frames["trades"]
    up = next(t for t, i in tokens.items() if i.outcome == "Up")
    first = books[(books["token_id"] == up)].sort_values(["ts", "side", "level"])
    snap = first[first["ts"] == first["ts"].min()]
    bids = snap[snap["side"] == "bid"].sort_values("level")["price"]
    asks = snap[snap["side"] == "ask"].sort_values("level")["price"]
    assert bids.is_monotonic_decreasing and asks.is_monotonic_increasing
    # quotes carry the rebuilt book's best levels, Up and Down side by side
    q = quotes.sort_values("ts")
    row = q[q["ts"] == pd.Timestamp(int(_json_line(2)["timestamp"]), unit="ms", tz="UTC")].iloc[0]
    at = books[(books["token_id"] == up) & (books["ts"] == row["ts"]) & (books["level"] == 0)]
    assert row["best_bid_up"] == at.loc[at["side"] == "bid", "price"].iloc[0]
    assert row["best_ask_up"] == at.loc[at["side"] == "ask", "price"].iloc[0]
    assert row["best_bid_down"] > 0 and row["slug"] == "btc-updown-15m-1761652800"
    assert len(trades) == 2 and trades["trade_id"].notna().sum() == 1 and "other" in notes[0]


def _json_line(n: int) -> dict[str, object]:
    line = (SAMPLES / "polymarket/ws_market_messages.jsonl").read_text().splitlines()[n - 1]
    out = json.loads(line)
    assert isinstance(out, dict)
    return out


def test_websocket_price_changes_track_the_venue_best_bid_ask() -> None:
    path = SAMPLES / "polymarket/ws_market_stream_xrp_updown_15m.jsonl"
    lines = path.read_text().splitlines()
    frames, notes = websocket_log(lines, where="xrp", snapshot_every_s=0)
    books = frames["books"]
    subscribed = json.loads(lines[0])[0]["asset_id"]
    assert set(books["token_id"]) == {subscribed}
    assert "67 level changes of tokens without a book snapshot ignored" in notes[0]
    checked = 0
    for line in lines[1:]:
        msg = json.loads(line)
        ts = pd.Timestamp(int(msg["timestamp"]), unit="ms", tz="UTC")
        for ch in msg["price_changes"]:
            if ch["asset_id"] != subscribed:
                continue
            snap = books[(books["token_id"] == ch["asset_id"]) & (books["ts"] == ts) & (books["level"] == 0)]
            best = dict(zip(snap["side"], snap["price"], strict=True))
            if float(ch["best_bid"]) > 0:
                assert best["bid"] == float(ch["best_bid"]), (line[:80], ch)
                assert best["ask"] == float(ch["best_ask"])
                checked += 1
    assert checked > 50


def test_real_websocket_log_books_by_token_and_quotes_skipped(shared_data: Path, tmp_path: Path) -> None:
    src = next(shared_data.glob("polymarket_ws_*.jsonl.gz"))
    with gzip.open(src, "rt") as fh:
        head = [next(fh) for _ in range(40)]
    frames, notes = websocket_log(head, where="ws")
    books = frames["books"]
    first = json.loads(head[0])
    msg = first["message"]
    # stamped at its knowledge time: the exchange time, or the latest receipt of that instant's messages
    same = [json.loads(h) for h in head if json.loads(h)["message"]["timestamp"] == msg["timestamp"]]
    stamp = max(int(msg["timestamp"]) * 1000, *(math.ceil(float(o["received_at"]) * 1_000_000) for o in same))
    snap = books[(books["token_id"] == msg["asset_id"]) & (books["ts"] == pd.Timestamp(stamp, unit="us", tz="UTC"))]
    assert len(snap) == len(msg["bids"]) + len(msg["asks"])
    assert snap.loc[(snap["side"] == "bid") & (snap["level"] == 0), "price"].iloc[0] == max(
        float(b["price"]) for b in msg["bids"])
    assert "quotes" not in frames and any("quotes skipped" in n for n in notes)


def test_unparseable_l2_snapshot_names_file_line_column_and_store_unchanged(
        shared_data: Path, tmp_path: Path, store_url: str) -> None:
    src = next(shared_data.glob("polymarket_ws_*.jsonl.gz"))
    with gzip.open(src, "rt") as fh:
        head = [next(fh) for _ in range(5)]
    broken = json.loads(head[3])
    broken["message"]["asks"][2]["price"] = "zero.5"
    head[3] = json.dumps(broken) + "\n"
    d = tmp_path / "in"
    d.mkdir()
    with gzip.open(d / "polymarket_ws_bad.jsonl.gz", "wt") as fh:
        fh.writelines(head)
    (d / "btcusdt_1m_x.parquet").symlink_to(shared_data / "btcusdt_1m_2026-02-21_24.parquet")
    with connect(store_url) as store:
        with pytest.raises(SchemaError, match=r"polymarket_ws_bad\.jsonl\.gz: line 4: column 'asks': level 2"):
            ingest(store, [d])
        assert store.counts() == dict.fromkeys(store.counts(), 0)


def test_ingest_directory_names_skipped_files_and_is_idempotent(tmp_path: Path, store_url: str) -> None:
    d = tmp_path / "raw"
    d.mkdir()
    for rel in ("polymarket/gamma_market_btc_updown_5m_by_id.json", "polymarket/data_api_trades.json",
                "polymarket/clob_prices_history.json"):
        (d / Path(rel).name).write_text((SAMPLES / rel).read_text())
    (d / "binance_klines_btcusdt_1m_2021.json").write_text((SAMPLES / "binance/klines_1m.json").read_text())
    (d / "notes.txt").write_text("hello")
    with connect(store_url) as store:
        rep = ingest(store, [d])
        assert rep.inserted == {"polymarket_resolutions": 1, "trades": 30, "spot_prices": 10}
        assert [p.name for p, _ in rep.skipped] == ["notes.txt"]
        assert any("prices-history" in n for n in rep.notes)
        assert ingest(store, [d]).inserted == {"polymarket_resolutions": 0, "trades": 0, "spot_prices": 0}
    with pytest.raises(ValueError, match="not a recognized data file"):
        import_file(d / "notes.txt")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("btcusdt_1m_2025q1.parquet", "klines"),  # the data README's prefixes
        ("ethusdt_1m_x.parquet", "klines"),
        ("btcusdt_1s_x.csv", "klines"),
        ("btcusdt_5m_20260601T0000_20260602T0000.parquet", "klines"),  # what `fetch binance --interval 5m` writes
        ("btcusd_1m_20260601T0000_20260602T0000.parquet", "klines"),  # what `fetch coinbase` writes
        ("btcusdt_trades_2026-03-03.parquet", "trades"),
        ("chainlink_btcusd_ds_2026-06-08.parquet", "oracle"),
        ("polymarket_btc_5m_markets_2026-06-08.parquet", "markets"),
        ("polymarket_btc_15m_quotes_2026-02-16.parquet", "quotes"),
        ("polymarket_btc_5m_trades_x.parquet", "trades"),
        ("polymarket_btc_5m_books_x.parquet", "books"),
        ("polymarket_btc_15m_book_events_2026-06-15.parquet", "book_events"),
        ("polymarket_btc_5m_book_events_x.csv", "book_events"),
        ("polymarket_btc_5m_prices_x.parquet", None),  # prices-history has no store table
        ("btcusdt_1m_x.json", None),
        ("README.md", None),
    ],
)
def test_file_name_prefixes(name: str, kind: str | None) -> None:
    assert recognize(name) == kind
