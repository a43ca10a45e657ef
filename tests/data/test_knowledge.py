"""Knowledge time is defined once: the SQL rendering and the pandas computation agree on every row.

Property test (hypothesis): random frames of every kind with a time column (bars of known and unknown
lengths, receipt times before, at and after the event, missing receipts, several collectors) and
random clock offsets; the SQL expression evaluated by the database equals the pandas Series bit for
bit (microseconds). DuckDB runs every example; PostgreSQL runs a fixed set of the same frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmresearch.data.knowledge import BAR_LENGTHS, RULES, bar_length, knowledge_time, knowledge_time_sql
from pmresearch.data.store import TABLES, connect
from pmresearch.data.store import knowledge_time_sql as store_knowledge_time_sql

T0 = pd.Timestamp("2026-04-13 12:00", tz="UTC")
COLLECTORS = ("binance", "polygon", "chainlink-data-streams", "coinbase")
US = pd.Timedelta(microseconds=1)


def _frame(kind: str, n: int, seed: int) -> pd.DataFrame:
    """A random frame of ``kind`` with the columns its rule reads."""
    rng = np.random.default_rng(seed)
    ts = T0 + pd.to_timedelta(rng.integers(0, 3_600_000_000, n), unit="us")
    frame = pd.DataFrame({"ts": pd.Series(ts, dtype="datetime64[us, UTC]")})
    rule = RULES[kind]
    if rule.time_column != "ts":
        frame[rule.time_column] = frame["ts"]
    if rule.bar_column:
        names = [*BAR_LENGTHS, "7m", None]  # an unknown bar length and a missing one: NULL / NaT
        frame[rule.bar_column] = pd.Series([names[i] for i in rng.integers(0, len(names), n)], dtype="object")
    if rule.receipt_column:
        lag = pd.to_timedelta(rng.integers(-2_000_000, 5_000_000, n), unit="us")  # some clocks run ahead
        rec = (frame["ts"] + lag).astype("datetime64[us, UTC]")
        frame[rule.receipt_column] = rec.where(rng.random(n) > 0.15)  # some rows were never stamped
        frame[rule.collector_column] = [COLLECTORS[i] for i in rng.integers(0, len(COLLECTORS), n)]
    if rule.published_column:
        frame[rule.published_column] = (frame["ts"] + pd.to_timedelta(rng.integers(0, 10**9, n), unit="us")
                                        ).astype("datetime64[us, UTC]")
    return frame


def _offsets(draw: st.DrawFn) -> dict[str, pd.Timedelta]:
    names = draw(st.lists(st.sampled_from(COLLECTORS), unique=True, max_size=len(COLLECTORS)))
    return {n: pd.Timedelta(microseconds=draw(st.integers(-10_000_000, 10_000_000))) for n in names}


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, pd.DataFrame, dict[str, pd.Timedelta]]:
    kind = draw(st.sampled_from([k for k in RULES if k != "external"]))
    return kind, _frame(kind, draw(st.integers(1, 60)), draw(st.integers(0, 2**32 - 1))), _offsets(draw)


def _duck(frame: pd.DataFrame, expr: str) -> pd.Series:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("f", frame.reset_index(drop=True).assign(_pos=np.arange(len(frame))))
        out = con.execute(f"SELECT {expr} AS k FROM f ORDER BY _pos").df()["k"]
    finally:
        con.close()
    return pd.Series(pd.to_datetime(out, utc=True), index=frame.index).astype("datetime64[us, UTC]")


@given(cases())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sql_and_pandas_agree_on_random_frames(case: tuple[str, pd.DataFrame, dict[str, pd.Timedelta]]) -> None:
    kind, frame, offsets = case
    expected = knowledge_time(kind, frame, clock_offsets=offsets, strict=False)
    got = _duck(frame, knowledge_time_sql(kind, offsets))
    pd.testing.assert_series_equal(got, expected, check_names=False)
    # never before the event itself, whatever the offsets
    assert (expected.dropna() >= frame.loc[expected.notna(), RULES[kind].time_column]).all()


@pytest.fixture
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with connect(pg_url) as store:  # creates the schema; we only need a session on it
        del store
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


def test_postgresql_evaluates_the_same_expression(pg_conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for seed, kind in enumerate(k for k in RULES if k != "external"):
        frame = _frame(kind, 40, seed)
        offsets = {"binance": pd.Timedelta(seconds=2.71), "polygon": pd.Timedelta(microseconds=-1_500_001)}
        expected = knowledge_time(kind, frame, clock_offsets=offsets, strict=False)
        cols = [c for c in frame.columns]
        types = {c: "timestamptz" if isinstance(frame[c].dtype, pd.DatetimeTZDtype) else "text" for c in cols}
        pg_conn.execute("CREATE TEMP TABLE f (_pos int, " + ", ".join(f'"{c}" {types[c]}' for c in cols) + ")")
        with pg_conn.cursor().copy("COPY f FROM STDIN") as copy:
            for pos, row in enumerate(frame.itertuples(index=False)):
                copy.write_row([pos, *[None if pd.isna(v) else (v.to_pydatetime() if types[c] == "timestamptz"
                                                                  else v) for c, v in zip(cols, row, strict=True)]])
        rows = pg_conn.execute(f"SELECT {knowledge_time_sql(kind, offsets)} FROM f ORDER BY _pos").fetchall()
        pg_conn.execute("DROP TABLE f")
        got = pd.Series(pd.to_datetime([r[0] for r in rows], utc=True), index=frame.index)
        pd.testing.assert_series_equal(got.astype("datetime64[us, UTC]"), expected, check_names=False,
                                       obj=f"{kind} knowledge time")


def test_store_tables_use_their_kinds_rule() -> None:
    for table, (kind, _) in TABLES.items():
        assert store_knowledge_time_sql(table) == knowledge_time_sql(kind)
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        store_knowledge_time_sql("nope")


def test_rules_by_hand() -> None:
    """Hand-worked cases: a 1m bar at 12:00 is known at 12:01; a tick stamped 12:00:00 received at
    12:00:00.5 by a collector 3 s behind is known at 12:00:03.5; one received 1 s *before* its stamp
    (a clock ahead) is known at its stamp; an unknown bar length is an error unless not strict."""
    kl = pd.DataFrame({"ts": [T0, T0], "interval": ["1m", "4h"]})
    assert list(knowledge_time("klines", kl)) == [T0 + pd.Timedelta(minutes=1), T0 + pd.Timedelta(hours=4)]
    ora = pd.DataFrame({"ts": [T0, T0], "received_at": [T0 + pd.Timedelta(seconds=0.5), T0 - pd.Timedelta(seconds=1)],
                        "source": ["polygon", "binance"]})
    got = knowledge_time("oracle", ora, clock_offsets={"polygon": pd.Timedelta(seconds=3)})
    assert list(got) == [T0 + pd.Timedelta(seconds=3.5), T0]
    with pytest.raises(ValueError, match=r"unknown bar length '7m' at row 0"):
        knowledge_time("klines", pd.DataFrame({"ts": [T0], "interval": ["7m"]}))
    lenient = knowledge_time("klines", pd.DataFrame({"ts": [T0, T0], "interval": ["7m", "1m"]}), strict=False)
    assert pd.isna(lenient.iloc[0]) and lenient.iloc[1] == T0 + pd.Timedelta(minutes=1)  # a known bar still counts
    with pytest.raises(ValueError, match="unknown bar length '7m'"):
        bar_length("7m")
    with pytest.raises(ValueError, match="offset of 'binance' must be a pandas Timedelta"):
        knowledge_time("trades", ora.rename(columns={"source": "venue"}), clock_offsets={"binance": 2.7})
    with pytest.raises(ValueError, match="column 'ts': timestamps are naive"):
        knowledge_time("quotes", pd.DataFrame({"ts": [pd.Timestamp("2026-01-01")]}))
    assert bar_length("1m") / US == 60_000_000


def test_a_supplied_known_at_never_makes_a_row_known_earlier_than_its_rule() -> None:
    """FeatureInputs trusts a known_at column only where it is not earlier than the kind's rule: a 1m
    bar stamped known at its open is still known at its close; a later known_at (a slow feed) stays."""
    from pmresearch.features import FeatureInputs

    bars = pd.DataFrame({"ts": pd.Series([T0, T0 + pd.Timedelta(minutes=1)], dtype="datetime64[us, UTC]"),
                         "close": [1.0, 2.0], "interval": "1m", "symbol": "BTCUSDT"})
    early = bars.assign(known_at=bars["ts"])
    late = bars.assign(known_at=bars["ts"] + pd.Timedelta(minutes=5))
    assert list(FeatureInputs(spot_1m=early).known_at("spot_1m")) == list(bars["ts"] + pd.Timedelta(minutes=1))
    assert list(FeatureInputs(spot_1m=late).known_at("spot_1m")) == list(late["known_at"])
