"""``Store.as_of`` narrows its scan with sargable ``ts`` bounds; they must never drop a row.

The reference is the as-of query without those bounds (knowledge time alone, as before the prefilter was
added) and, independently, the knowledge time of DESIGN.md computed in pandas: klines are known at their
bar's close, oracle rounds and trades at ``max(ts, received_at + clock offset of their collector)``.
Both backends, the real sample (whose collectors' clocks run ~2.7 s behind, so receipt lags are
negative) and constructed rows with receipt lags and clock offsets of either sign, up to days.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pmresearch.data import read_file
from pmresearch.data.store import TABLES, Store, connect, knowledge_time_sql, table_columns

#: Bar lengths of the interval names as-of reads know (Binance/Coinbase names); others have no known close.
BARS = {"1s": "1s", "1m": "1min", "3m": "3min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h",
        "2h": "2h", "4h": "4h", "6h": "6h", "8h": "8h", "12h": "12h", "1d": "1D", "3d": "3D", "1w": "7D"}
WHO = {"oracle_prices": "source", "trades": "venue"}
US = pd.Timedelta(microseconds=1)


def _unbounded(store: Store, table: str, as_of: pd.Timestamp, since: pd.Timestamp | None,
               where: Mapping[str, object], offsets: Mapping[str, pd.Timedelta] | None) -> pd.DataFrame:
    """The as-of read filtered on knowledge time only (the query before the ``ts`` prefilter)."""
    kt = knowledge_time_sql(table, offsets)
    conds, params = [f"{kt} <= ?"], [as_of.to_pydatetime()]
    if since is not None:
        conds.append(f"{kt} > ?")
        params.append(since.to_pydatetime())
    for col, value in where.items():
        conds.append(f'"{col}" = ?')
        params.append(value)
    cols = ", ".join(f'"{c}"' for c, _ in table_columns(table))
    order = ", ".join(f'"{k}"' for k in TABLES[table][1])
    return store.query(f"SELECT {cols}, {kt} AS known_at FROM {table} WHERE {' AND '.join(conds)} "
                       f"ORDER BY known_at, {order}", params)


def _known_at(table: str, frame: pd.DataFrame, offsets: Mapping[str, pd.Timedelta] | None) -> pd.Series:
    """Knowledge time per DESIGN.md, in pandas (NaT for a bar length with no known close)."""
    if table == "spot_prices":
        nanos = frame["interval"].astype(str).map({name: pd.Timedelta(bar).value for name, bar in BARS.items()})
        return frame["ts"] + pd.to_timedelta(nanos.astype("float64"), unit="ns")
    shift = frame[WHO[table]].astype(str).map(lambda w: (offsets or {}).get(w, pd.Timedelta(0)))
    received = (frame["received_at"] + pd.to_timedelta(shift)).fillna(frame["ts"])
    return frame["ts"].where(frame["ts"] >= received, received)


def _check(store: Store, table: str, frame: pd.DataFrame, cuts: list[tuple[pd.Timestamp, pd.Timestamp | None]],
           where: Mapping[str, object], offsets: Mapping[str, pd.Timedelta] | None) -> int:
    """Compare the as-of read with both references at every ``(as_of, since)``; rows returned in all."""
    known = _known_at(table, frame, offsets)
    # the key (trade_key is made by the store; price, qty, side and receipt stand in for it)
    key = [c for c in [*TABLES[table][1], "price", "qty", "side", "received_at"] if c in frame.columns]
    returned = 0
    for as_of, since in cuts:
        got = store.as_of(table, as_of, since=since, where=where, clock_offsets=offsets)
        ref = _unbounded(store, table, as_of, since, where, offsets)
        pd.testing.assert_frame_equal(got, ref, obj=f"{table} as of {as_of} since {since} {where} {offsets}")
        hit = (known <= as_of) & (True if since is None else known > since)
        for col, value in where.items():
            hit &= frame[col].astype(str) == str(value)
        expected = sorted(map(tuple, frame.loc[hit, key].astype(str).to_numpy()))
        assert sorted(map(tuple, got[key].astype(str).to_numpy())) == expected, (table, as_of, since, where)
        returned += len(got)
    return returned


def _cuts(times: pd.Series, windows: list[pd.Timedelta | None], n: int | None = None,
          seed: int = 0) -> list[tuple[pd.Timestamp, pd.Timestamp | None]]:
    """As-of times at each of ``times`` (``n`` of them drawn with ``seed`` when given) and one microsecond
    before, each with ``since = as_of - window`` for every window (None: no ``since``)."""
    picks = pd.Series(times.dropna().unique()).sort_values().to_numpy()
    if n is not None and n < len(picks):
        picks = np.random.default_rng(seed).choice(picks, size=n, replace=False)
    out: list[tuple[pd.Timestamp, pd.Timestamp | None]] = []
    for t in map(pd.Timestamp, picks):
        for as_of in (t - US, t):
            out.extend((as_of, None if w is None else as_of - w) for w in windows)
    return out


def test_prefilter_keeps_every_row_on_the_real_sample(shared_data: Path, store_url: str) -> None:
    k = read_file(shared_data / "btcusdt_1m_2026-02-21_24.parquet")
    tr = read_file(shared_data / "btcusdt_trades_2026-03-03.parquet")
    ora = read_file(shared_data / "chainlink_btcusd_2026-03-03am.parquet")
    assert ((tr["received_at"] - tr["ts"]) < pd.Timedelta(0)).mean() > 0.9  # the clock skew this guards
    windows = [None, pd.Timedelta(seconds=1), pd.Timedelta(hours=6)]
    with connect(store_url) as store:
        store.load_frames([("klines", k, "k"), ("trades", tr, "t"), ("oracle", ora, "o")])
        n = _check(store, "spot_prices", k, _cuts(k["ts"] + pd.Timedelta(minutes=1), windows, 4, seed=1),
                   {"symbol": "BTCUSDT"}, None)
        n += _check(store, "spot_prices", k, _cuts(k["ts"], windows, 2, seed=2), {"interval": "1m"}, None)
        for offsets in (None, {"binance": pd.Timedelta(seconds=2.7)}, {"binance": pd.Timedelta(seconds=-5)}):
            kt = _known_at("trades", tr, offsets)
            n += _check(store, "trades", tr, _cuts(kt, windows, 2, seed=3), {}, offsets)
        src = str(ora["source"].iloc[0])
        for offsets in (None, {src: pd.Timedelta(seconds=4)}):
            kt = _known_at("oracle_prices", ora, offsets)
            n += _check(store, "oracle_prices", ora, _cuts(kt, windows, 2, seed=4), {"source": src}, offsets)
    assert n > 10_000  # the cuts select real rows, not only empty answers


def _constructed() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bars of every known length (and one unknown), trades and oracle rounds with receipt lags of
    either sign up to ten days, and missing receipt times."""
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    bars = []
    for name, length in [*BARS.items(), ("7m", "7min")]:
        ts = t0 + pd.Timedelta(length) * np.arange(4)
        bars.append(pd.DataFrame({"ts": ts, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5,
                                  "volume": 1.0, "quote_volume": 100.0, "trades": 1, "taker_buy_volume": 0.5,
                                  "symbol": "BTCUSDT", "interval": name, "source": "test"}))
    klines = pd.concat(bars, ignore_index=True)
    lags = [None, "-10D", "-2h", "-3s", "-1us", "0s", "1us", "3s", "2h", "3D", "10D"]
    ts = t0 + pd.to_timedelta(np.arange(len(lags) * 3), unit="h")
    received = pd.Series([pd.NaT if lag is None else ts[i] + pd.Timedelta(lag)
                          for i, lag in enumerate(lags * 3)], dtype="datetime64[us, UTC]")
    who = np.repeat(["binance", "coinbase", "other"], len(lags))
    trades = pd.DataFrame({"ts": ts, "price": 100.0, "qty": 1.0, "side": "buy", "received_at": received,
                           "symbol": "BTCUSDT", "venue": who, "trade_id": [str(i) for i in range(len(ts))]})
    oracle = pd.DataFrame({"ts": ts, "price": 100.0, "price_exact": None, "round_id": np.arange(len(ts)),
                           "server_ts": pd.Series(pd.NaT, index=received.index, dtype=received.dtype),
                           "received_at": received, "feed": "BTC/USD",
                           "source": np.repeat(["chainlink", "rtds", "other"], len(lags))})
    return klines, trades, oracle


def test_prefilter_keeps_every_row_with_receipt_lags_and_clock_offsets(store_url: str) -> None:
    klines, trades, oracle = _constructed()
    with connect(store_url) as store:
        store.load_frames([("klines", klines, "k"), ("trades", trades, "t"), ("oracle", oracle, "o")])
        # every bar length at its first close (a since one microsecond before it: the lower-bound edge)
        first = klines.groupby("interval", sort=False).head(1)
        closes = _known_at("spot_prices", first, None).fillna(first["ts"])
        windows = [None, US, pd.Timedelta(days=1)]
        n = _check(store, "spot_prices", klines, _cuts(closes, windows), {}, None)
        for bar in ("1w", "1m", "7m"):
            rows = klines[klines["interval"] == bar]
            n += _check(store, "spot_prices", klines, _cuts(_known_at("spot_prices", rows, None).fillna(rows["ts"]),
                                                            windows), {"interval": bar}, None)
        for table, frame, names in (("trades", trades, ("binance", "coinbase")),
                                    ("oracle_prices", oracle, ("chainlink", "rtds"))):
            for offsets in (None, {names[0]: pd.Timedelta(days=4), names[1]: pd.Timedelta(days=-4)},
                            {names[0]: -US, names[1]: pd.Timedelta(hours=-3)}):
                kt = _known_at(table, frame, offsets)
                n += _check(store, table, frame, _cuts(kt, [None, pd.Timedelta(days=1)], 8, seed=6), {}, offsets)
    assert n > 1_000
