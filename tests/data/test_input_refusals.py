"""Issue 12, point 7: the bad inputs a careless user tried, refused by ``pmresearch ingest`` on both backends.

Every refusal is one ``error:`` line naming the file, the column and the row; the exit code is 1 and the
store is left as it was (nothing written). The inputs are the real sample files of ../shared/data with one
value spoiled, so a test fails if the refusal disappears (the unspoiled file loads: see the control case).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data import TABLES, SchemaError, connect, read_data_dir, read_file
from pmresearch.data.importers import websocket_log

runner = CliRunner()

KLINES = "btcusdt_1m_2026-02-21_24.parquet"
TRADES = "btcusdt_trades_2026-03-03.parquet"
ORACLE = "chainlink_btcusd_2026-03-03am.parquet"
MARKETS = "polymarket_btc_5m_markets_2026-06-08.parquet"
QUOTES = "polymarket_btc_15m_quotes_2026-02-16.parquet"


def _books(shared_data: Path) -> pd.DataFrame:
    """Full-depth book levels rebuilt from the first lines of the real websocket recording."""
    src = next(shared_data.glob("polymarket_ws_*.jsonl.gz"))
    with gzip.open(src, "rt") as fh:
        head = [next(fh) for _ in range(20)]
    return websocket_log(head, where=src.name)[0]["books"]


def _spoil(frame: pd.DataFrame, column: str, row: int, value: object) -> pd.DataFrame:
    out = frame.copy()
    if column in out and not isinstance(value, float | int):
        out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


def _empty_store(url: str) -> None:
    with connect(url) as store:
        store.create_tables()


def _refused(path: Path, url: str, *needles: str) -> str:
    res = runner.invoke(app, ["ingest", str(path), "--db", url])
    assert res.exit_code == 1, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, res.output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    with connect(url) as store:
        assert store.counts() == dict.fromkeys(TABLES, 0)  # nothing written
    return errors[0]


#: (file the spoiled frame is written as, the real file it comes from or a builder, column, row, value)
NON_FINITE: list[tuple[str, str | Callable[[Path], pd.DataFrame], str, int, float]] = [
    ("btcusdt_1m_inf.parquet", KLINES, "volume", 7, np.inf),
    ("btcusdt_1m_ninf.parquet", KLINES, "quote_volume", 7, -np.inf),
    ("btcusdt_1m_close.parquet", KLINES, "close", 5, np.inf),
    ("btcusdt_trades_inf.parquet", TRADES, "qty", 11, np.inf),
    ("btcusdt_trades_price.parquet", TRADES, "price", 2, np.inf),
    ("chainlink_btcusd_inf.parquet", ORACLE, "price", 3, np.inf),
    ("polymarket_btc_5m_markets_inf.parquet", MARKETS, "strike", 4, np.inf),
    ("polymarket_btc_5m_markets_fee.parquet", MARKETS, "fee_rate", 1, np.inf),
    ("polymarket_btc_15m_quotes_inf.parquet", QUOTES, "reference_price", 9, np.inf),
    ("polymarket_btc_5m_books_inf.parquet", _books, "size", 2, np.inf),
]


@pytest.mark.parametrize(("name", "source", "column", "row", "value"), NON_FINITE,
                         ids=[f"{n.split('_')[1]}-{c}" for n, _, c, _, _ in NON_FINITE])
def test_non_finite_values_are_refused(shared_data: Path, tmp_path: Path, store_url: str, name: str,
                                       source: str | Callable[[Path], pd.DataFrame], column: str, row: int,
                                       value: float) -> None:
    frame = source(shared_data) if callable(source) else read_file(shared_data / source)
    assert np.isfinite(frame[column].dropna()).all()  # the real values are finite
    path = tmp_path / name
    _spoil(frame, column, row, value).to_parquet(path)
    _empty_store(store_url)
    line = _refused(path, store_url, name, f"column {column!r}", f"rows [{row}]")
    assert "inf" in line


def test_the_unspoiled_files_load(shared_data: Path, tmp_path: Path, store_url: str) -> None:
    """The control of the cases above: the same files, unspoiled, load (NaN where nulls are allowed too)."""
    d = tmp_path / "ok"
    d.mkdir()
    q = read_file(shared_data / QUOTES)
    q.loc[3, "best_bid_up"] = np.nan  # an empty side of the book: allowed, as before
    q.to_parquet(d / QUOTES)
    read_file(shared_data / KLINES).to_parquet(d / KLINES)
    books = _books(shared_data)
    books.to_parquet(d / "polymarket_btc_5m_books_ok.parquet")
    res = runner.invoke(app, ["ingest", str(d), "--db", store_url])
    assert res.exit_code == 0, res.output
    with connect(store_url) as store:
        counts = store.counts()
    assert counts["polymarket_quotes"] == len(q) and counts["spot_prices"] == 4_894
    assert counts["polymarket_books"] == len(books) > 0


def test_quotes_whose_window_ends_before_it_starts_are_refused(shared_data: Path, tmp_path: Path,
                                                               store_url: str) -> None:
    q = read_file(shared_data / QUOTES)
    q.loc[6, "window_end"] = q.loc[6, "window_start"] - pd.Timedelta(minutes=1)
    path = tmp_path / "polymarket_btc_15m_quotes_reversed.parquet"
    q.to_parquet(path)
    _empty_store(store_url)
    _refused(path, store_url, path.name, "'window_start', 'window_end'", "window_end > window_start", "rows [6]")


def test_crossed_quotes_stay_accepted(shared_data: Path, tmp_path: Path, store_url: str) -> None:
    name = "polymarket_btc_5m_quotes_2026-02-16.parquet"
    q = read_file(shared_data / name)
    crossed = q["best_bid_up"] > q["best_ask_up"]
    assert crossed.any()  # the real sample has them
    path = tmp_path / name
    q.to_parquet(path)
    res = runner.invoke(app, ["ingest", str(path), "--db", store_url])
    assert res.exit_code == 0, res.output
    with connect(store_url) as store:
        assert store.counts()["polymarket_quotes"] == len(q)


@pytest.mark.parametrize("content", [[], ["README.md", "notes.txt"]], ids=["empty", "no-data-file"])
def test_an_empty_data_directory_is_refused_naming_it_and_the_prefixes(tmp_path: Path, store_url: str,
                                                                      content: list[str]) -> None:
    d = tmp_path / "data_dir"
    d.mkdir()
    for name in content:
        (d / name).write_text("not data\n")
    _empty_store(store_url)
    line = _refused(d, store_url, f"data directory {d}", "no data files")
    for prefix in ("btcusdt_1m_", "chainlink_btcusd_", "polymarket_btc_{5m,15m}_quotes_", "polymarket_ws_"):
        assert prefix in line


def test_read_data_dir_refuses_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "data_dir").mkdir()
    with pytest.raises(SchemaError, match=r"data directory .*data_dir: no data files .*polymarket_btc_"):
        read_data_dir(tmp_path / "data_dir")


def test_a_fractional_integer_names_the_column_and_rows(shared_data: Path, tmp_path: Path,
                                                       store_url: str) -> None:
    k = read_file(shared_data / "btcusdt_1m_2025q1.parquet").head(50)
    assert k["trades"].notna().all()
    spoiled = k.assign(trades=k["trades"].astype(float))
    spoiled.loc[[12, 30], "trades"] = [1.5, 2.25]
    path = tmp_path / "btcusdt_1m_frac.csv"
    spoiled.assign(ts=spoiled["ts"].map(pd.Timestamp.isoformat)).to_csv(path, index=False)
    _empty_store(store_url)
    line = _refused(path, store_url, path.name, "column 'trades'", "rows [12, 30]", "1.5")
    assert "None" not in line


def test_a_bad_csv_timestamp_names_the_column_and_row(shared_data: Path, tmp_path: Path, store_url: str) -> None:
    t = read_file(shared_data / TRADES).head(40)
    text = t.assign(ts=t["ts"].map(pd.Timestamp.isoformat), received_at=t["received_at"].map(pd.Timestamp.isoformat))
    text.loc[17, "received_at"] = "2026-03-03 25:61"
    path = tmp_path / "btcusdt_trades_bad_ts.csv"
    text.to_csv(path, index=False)
    _empty_store(store_url)
    _refused(path, store_url, path.name, "column 'received_at'", "rows [17]", "2026-03-03 25:61")
    good = tmp_path / "ok" / "btcusdt_trades_ok.csv"
    good.parent.mkdir()
    text.loc[17, "received_at"] = t["received_at"].iloc[17].isoformat()
    text.to_csv(good, index=False)
    res = runner.invoke(app, ["ingest", str(good), "--db", store_url])
    assert res.exit_code == 0, res.output


def test_store_load_data_dir_refuses_an_empty_directory(tmp_path: Path, store_url: str, shared_data: Path) -> None:
    """``Store.load_data_dir`` (the path of ``data_dir`` runs) refuses a directory without one data file, naming it,
    and writes nothing; a directory holding a recognized file still loads (control)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not data")
    with connect(store_url) as store:
        with pytest.raises(SchemaError, match=r"data directory .*empty: no data files \(expected file names starting"):
            store.load_data_dir(empty)
        assert sum(store.count(t) for t in ("spot_prices", "oracle_prices", "polymarket_quotes")) == 0
        klines = sorted(shared_data.glob("btcusdt_1m_*.parquet"))[0]
        read_file(klines).head(5).to_parquet(empty / klines.name)
        assert store.load_data_dir(empty) == {"spot_prices": 5}
