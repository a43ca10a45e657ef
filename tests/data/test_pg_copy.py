"""The PostgreSQL binary COPY encoder against the text path: the same rows stored, whatever the layout."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import psycopg
import pytest

from pmresearch.data.postgres import _binary, _csv, _NotBinary

TYPES = ["TIMESTAMPTZ", "DOUBLE", "SMALLINT", "BIGINT", "VARCHAR", "VARCHAR"]
DDL = "t timestamptz, d double precision, s smallint, b bigint, v text, c text"


@pytest.fixture
def conn(pg_base: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_base) as con:
        con.execute("SET TimeZone = 'UTC'")
        yield con
        con.rollback()


def _stored(conn: psycopg.Connection[tuple[object, ...]], name: str, fmt: str,
            data: object) -> list[tuple[object, ...]]:
    conn.execute(f"CREATE TEMP TABLE {name} ({DDL})")
    with conn.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN WITH (FORMAT {fmt})") as copy:
        copy.write(memoryview(data))  # type: ignore[arg-type]
    return conn.execute(f"SELECT * FROM {name}").fetchall()  # insertion order: the frame's order


def _frame(n: int, ragged: bool) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ts = pd.Series(pd.date_range("1999-12-31 23:59:59.999999", periods=n, freq="37s", tz="UTC").as_unit("us"))
    words = ["", "a", "BTC", "ünïcødé", "x" * 300, "comma,quote\"nl\n"] if ragged else ["BTCUSDT"]
    frame = pd.DataFrame({
        "t": ts, "d": rng.normal(size=n) * 1e6, "s": pd.array(rng.integers(-32768, 32767, n), dtype="Int16"),
        "b": pd.array(rng.integers(-2**62, 2**62, n), dtype="Int64"),
        "v": pd.Series([words[i % len(words)] for i in range(n)], dtype="str"),
        "c": pd.Categorical([words[(i * 7) % len(words)] for i in range(n)]),
    })
    if ragged:  # nulls everywhere a column allows them
        frame.loc[frame.index % 5 == 1, "t"] = pd.NaT
        frame.loc[frame.index % 3 == 0, "d"] = np.nan
        frame.loc[frame.index % 4 == 2, "s"] = pd.NA
        frame.loc[frame.index % 6 == 3, "b"] = pd.NA
        frame["v"] = frame["v"].where(frame.index % 7 != 4, None)
    return frame


@pytest.mark.parametrize("ragged", [False, True])
def test_binary_copy_stores_what_the_csv_path_stores(conn: psycopg.Connection[tuple[object, ...]],
                                                     ragged: bool) -> None:
    frame = _frame(2_000, ragged)
    via_binary = _stored(conn, "via_binary", "binary", _binary(frame, TYPES))
    via_csv = _stored(conn, "via_csv", "csv", _csv(frame))
    assert len(via_binary) == len(frame)
    assert via_binary == via_csv
    if ragged:  # both saw the nulls and the awkward strings
        assert sum(r[1] is None for r in via_binary) == (frame.index % 3 == 0).sum()
        assert {r[4] for r in via_binary} >= {"", "comma,quote\"nl\n", "ünïcødé", None}


def test_values_the_encoder_does_not_take_go_to_the_csv_path() -> None:
    with pytest.raises(_NotBinary):
        _binary(pd.DataFrame({"s": [1.5]}), ["BIGINT"])  # a fraction: PostgreSQL's own error, via CSV
    with pytest.raises(_NotBinary):
        _binary(pd.DataFrame({"s": [40_000]}), ["SMALLINT"])  # out of range for smallint
    with pytest.raises(_NotBinary):
        _binary(pd.DataFrame({"t": pd.to_datetime(["2026-01-01"])}), ["TIMESTAMPTZ"])  # naive
    whole = _binary(pd.DataFrame({"s": [1.0, np.nan]}), ["SMALLINT"])  # whole floats and NaN: taken
    assert bytes(whole[-2:]) == b"\xff\xff" and len(whole) == 19 + 2 * (2 + 4) + 2 + 2
