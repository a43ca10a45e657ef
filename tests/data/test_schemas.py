"""The one validation path: every canonical kind, the simulator's output, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pmresearch.data import SCHEMAS, SchemaError, read_file, recognize, validate, validate_files
from pmresearch.data.schemas import KEYS
from pmresearch.simulate import World


def test_simulator_output_passes_the_same_validation_as_real_files(edge_world: World) -> None:
    files = edge_world.files()
    interval, day = edge_world.book_days()[0]
    books = dict(edge_world.book_files(interval=interval, day=day))  # one day of one window length
    assert len(books) == 2 and all(len(f) for f in books.values())
    files = {**files, **books}
    checked = validate_files(files)
    kinds = {recognize(name) for name in files}
    assert {"klines", "oracle", "markets", "quotes", "books", "book_events", "trades"} <= kinds
    for name, frame in checked.items():
        assert len(frame) == len(files[name]), name
        for col, dtype in frame.dtypes.items():
            if pd.api.types.is_datetime64_any_dtype(dtype):
                assert str(dtype) == "datetime64[us, UTC]", (name, col)
    quotes = next(f for n, f in checked.items() if recognize(n) == "quotes")
    assert "true_prob_up" in quotes.columns  # the simulator's extra column is kept


def test_every_real_file_validates_with_canonical_dtypes(shared_data: Path) -> None:
    seen = set()
    for path in sorted(shared_data.glob("*.parquet")):
        kind = recognize(path)
        assert kind is not None, path.name
        frame = read_file(path)
        seen.add(kind)
        for name in SCHEMAS[kind].columns:
            if name in frame.columns and name in ("ts", "window_start", "window_end"):
                assert str(frame[name].dtype) == "datetime64[us, UTC]", (path.name, name)
        if KEYS[kind]:
            assert not frame.duplicated(KEYS[kind]).any(), path.name
    assert seen == {"klines", "oracle", "markets", "quotes", "trades"}


def _books() -> pd.DataFrame:
    ts = pd.Timestamp("2026-04-13 12:15", tz="UTC")
    return pd.DataFrame({
        "ts": [ts] * 4, "slug": ["btc-updown-5m-1776082500"] * 4, "token_id": ["123"] * 4,
        "outcome": ["Up"] * 4, "side": ["bid", "bid", "ask", "ask"], "level": [0, 1, 0, 1],
        "price": [0.51, 0.50, 0.53, 0.54], "size": [10.0, 20.0, 5.0, 7.5],
    }).astype({"ts": "datetime64[us, UTC]"})


@pytest.mark.parametrize(("change", "pattern"), [
    (lambda b: b.assign(price=[0.51, 0.50, 1.53, 0.54]), r"b\.parquet: column 'price'.*rows \[2\].*1\.53"),
    (lambda b: b.assign(side=["bid", "buy", "ask", "ask"]), r"column 'side'.*rows \[1\]"),
    (lambda b: b.assign(size=[10.0, -1.0, 5.0, 7.5]), r"column 'size'.*rows \[1\]"),
    (lambda b: b.assign(level=[0, 0, 0, 1]),
     r"duplicate keys.\['token_id', 'ts', 'side', 'level'\] .*conflicting values in column 'price' at rows \[0, 1\]"),
    (lambda b: b.assign(ts=b["ts"].dt.tz_convert("Europe/Paris")), None),  # other zones become UTC
    (lambda b: b.assign(ts=b["ts"].astype(str)), r"column 'ts': expected tz-aware UTC timestamps"),
    (lambda b: b.drop(columns="token_id"), r"missing column 'token_id' \(kind books\)"),
])
def test_books_schema(change: object, pattern: str | None) -> None:
    assert callable(change)
    frame = change(_books())
    if pattern is None:
        out = validate(frame, "books", source="b.parquet")
        assert str(out["ts"].dtype) == "datetime64[us, UTC]" and out["ts"].iloc[0] == _books()["ts"].iloc[0]
        return
    with pytest.raises(SchemaError, match=pattern):
        validate(frame, "books", source="b.parquet")


def test_klines_markets_oracle_trades_checks(shared_data: Path) -> None:
    k = read_file(shared_data / "btcusdt_1m_2026-02-21_24.parquet")
    bad = k.copy()
    bad.loc[3, "high"] = bad.loc[3, "low"] - 1.0
    with pytest.raises(SchemaError, match=r"k: columns \['open', 'high', 'low', 'close'\]: "
                                          r"failed high >= open, close >= low at rows \[3\]"):
        validate(bad, "klines", source="k")
    m = read_file(shared_data / "polymarket_btc_5m_markets_2026-06-08.parquet")
    with pytest.raises(SchemaError, match=r"column 'outcome_up'.*rows \[2\]"):
        validate(m.assign(outcome_up=m["outcome_up"].astype("Int64").where(m.index != 2, 2)), "markets", source="m")
    with pytest.raises(SchemaError, match=r"column 'slug'.*rows \[0\]"):
        validate(m.assign(slug=m["slug"].where(m.index != 0, "BTC up")), "markets", source="m")
    o = read_file(shared_data / "chainlink_btcusd_2026-03-03am.parquet")
    with pytest.raises(SchemaError, match=r"column 'price': null/NaN values not allowed at rows \[8\]"):
        validate(o.assign(price=o["price"].where(o.index != 8)), "oracle", source="o")
    t = read_file(shared_data / "btcusdt_trades_2026-03-03.parquet")
    with pytest.raises(SchemaError, match=r"column 'received_at': naive"):
        validate(t.assign(received_at=t["received_at"].dt.tz_localize(None)), "trades", source="t")
    assert t.duplicated(["ts"]).any()  # many prints share a time stamp: trades have no key within a file
    validate(t, "trades", source="t")


def test_canonical_csv_reads_exactly_like_parquet(shared_data: Path, tmp_path: Path) -> None:
    for path in sorted(shared_data.glob("*.parquet")):
        if path.stat().st_size > 5_000_000:  # the 2025 klines add time, not cases
            continue
        parquet = read_file(path)
        csv = tmp_path / f"{path.stem}.csv"
        parquet.to_csv(csv, index=False)
        pd.testing.assert_frame_equal(read_file(csv), parquet, obj=path.name)  # dtypes, digits, nulls, UTC
    o = read_file(shared_data / "chainlink_btcusd_2026-03-03am.parquet")
    naive = tmp_path / "chainlink_btcusd_naive.csv"
    o.assign(ts=o["ts"].dt.tz_localize(None)).to_csv(naive, index=False)
    with pytest.raises(SchemaError, match=r"chainlink_btcusd_naive\.csv: column 'ts': naive"):
        read_file(naive)
