"""Leakage audit on each period of the real sample, with the inputs that period has.

Periods (``../shared/data/README.md``): 2025-Q1 Binance 1m klines; 2026-02-21..24 Binance 1m
(OHLCV only) with 15-minute markets; 2026-02-16 logged quotes (no klines); 2026-03-03 Binance trade
ticks; 2026-04-13 full-depth books (one token, no market metadata); 2026-06-08 Data Streams oracle
with 5-minute markets. Every registered feature is audited in every period (features whose inputs
are absent are NaN both ways); the test also checks that the features the period can feed were
exercised (non-NaN at the audited rows).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.data.importers import websocket_log
from pmresearch.data.io import DataDir, read_data_dir
from pmresearch.features import REGISTRY, FeatureInputs, leakage_audit

N_AUDIT = 6


@pytest.fixture(scope="module")
def data(shared_data: Path) -> DataDir:
    return read_data_dir(shared_data)


def _empty_klines() -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[us, UTC]"), "close": pd.Series([], dtype=float)})


def _between(frame: pd.DataFrame, lo: str, hi: str, col: str = "ts") -> pd.DataFrame:
    ts = frame[col]
    return frame[(ts >= pd.Timestamp(lo, tz="UTC")) & (ts < pd.Timestamp(hi, tz="UTC"))].reset_index(drop=True)


def _times(lo: str, hi: str, n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    a, b = pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC")
    off = np.sort(rng.uniform(0, (b - a).total_seconds(), n))
    t = a + pd.to_timedelta(off, unit="s")
    t = t.where(np.arange(n) % 2 == 0, t.floor("1min"))  # half of them exactly on a bar close
    return pd.Series(t.astype("datetime64[us, UTC]"))


def _market_rows(markets: pd.DataFrame, spot: pd.Series, seed: int, n: int = 40) -> pd.DataFrame:
    """Rows inside market windows; ``spot`` is an as-of price series (index: knowledge time)."""
    rng = np.random.default_rng(seed)
    m = markets.iloc[rng.choice(len(markets), size=min(n, len(markets)), replace=False)].reset_index(drop=True)
    length = (m["window_end"] - m["window_start"]).dt.total_seconds().to_numpy()
    t = (m["window_start"] + pd.to_timedelta(rng.uniform(20, length - 5), unit="s")).astype("datetime64[us, UTC]")
    s = spot.sort_index()
    idx = np.searchsorted(s.index.to_numpy(), t.to_numpy(), side="right") - 1
    return pd.DataFrame({"t": t, "slug": m["slug"], "interval_minutes": m["interval_minutes"], "strike": m["strike"],
                         "tau_s": (m["window_end"] - t).dt.total_seconds(),
                         "spot": np.where(idx >= 0, s.to_numpy()[np.maximum(idx, 0)], np.nan)})


def _klines_spot(kl: pd.DataFrame) -> pd.Series:
    return pd.Series(kl["close"].to_numpy(), index=pd.DatetimeIndex(kl["ts"] + pd.Timedelta(minutes=1)))


def _period_2025(d: DataDir) -> tuple[pd.DataFrame, FeatureInputs]:
    kl = _between(d.frames["klines"], "2025-02-10", "2025-02-12")
    return pd.DataFrame({"t": _times("2025-02-11 02:00", "2025-02-11 23:00", 12, 1)}), FeatureInputs(spot_1m=kl)


def _period_2026_02_21(d: DataDir) -> tuple[pd.DataFrame, FeatureInputs]:
    kl = _between(d.frames["klines"], "2026-02-21", "2026-02-25")
    m = d.frames["markets"]
    m = m[(m["interval_minutes"] == 15) & (m["window_start"] >= pd.Timestamp("2026-02-22 16:00", tz="UTC"))]
    opens = kl.set_index("ts")["open"]
    m = m.assign(strike=opens.reindex(pd.DatetimeIndex(m["window_start"])).to_numpy())  # exchange-proxy strike
    return _market_rows(m.reset_index(drop=True), _klines_spot(kl), 2), FeatureInputs(spot_1m=kl)


def _period_2026_02_16(d: DataDir) -> tuple[pd.DataFrame, FeatureInputs]:
    q = d.frames["quotes"]
    m = q.drop_duplicates("slug")[["slug", "interval_minutes", "window_start", "window_end", "strike"]]
    spot = pd.Series(q["reference_price"].to_numpy(), index=pd.DatetimeIndex(q["ts"])).dropna()
    return _market_rows(m.reset_index(drop=True), spot, 3), FeatureInputs(spot_1m=_empty_klines(), quotes=q)


def _period_2026_03_03(d: DataDir) -> tuple[pd.DataFrame, FeatureInputs]:
    tr = d.frames["trades"]
    ora = _between(d.frames["oracle"], "2026-03-03", "2026-03-04")
    # the collector stopped now and then: audit at times with trades in the last few seconds
    rng = np.random.default_rng(4)
    t = tr["ts"].iloc[np.sort(rng.choice(len(tr), size=12, replace=False))] + pd.Timedelta(seconds=3)
    rows = pd.DataFrame({"t": t.dt.floor("1s").astype("datetime64[us, UTC]").to_numpy()})
    return rows, FeatureInputs(spot_1m=_empty_klines(), trades=tr, oracle=ora)


def _period_2026_04_13(shared: Path) -> tuple[pd.DataFrame, FeatureInputs]:
    with gzip.open(shared / "polymarket_ws_btc_5m_2026-04-13.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = [line for _, line in zip(range(1500), fh, strict=False)]  # the first ~2 minutes
    frames, _ = websocket_log(lines, where="polymarket_ws_btc_5m_2026-04-13 (first 1,500 lines)")
    books = frames["books"]
    token = books["token_id"].value_counts().index[0]
    lo, hi = books["ts"].min() + pd.Timedelta(seconds=5), books["ts"].max()
    rows = pd.DataFrame({"t": _times(str(lo), str(hi), 12, 5), "token_id": token})
    return rows, FeatureInputs(spot_1m=_empty_klines(), books=books)


def _period_2026_06_08(d: DataDir) -> tuple[pd.DataFrame, FeatureInputs]:
    ora = _between(d.frames["oracle"], "2026-06-08", "2026-06-09")
    m = d.frames["markets"]
    m = m[(m["window_start"] >= pd.Timestamp("2026-06-08 00:10", tz="UTC"))
          & (m["window_end"] <= pd.Timestamp("2026-06-08 23:59", tz="UTC")) & m["strike"].notna()]
    spot = pd.Series(ora["price"].to_numpy(), index=pd.DatetimeIndex(ora["ts"]))
    return _market_rows(m.reset_index(drop=True), spot, 6), FeatureInputs(spot_1m=_empty_klines(), oracle=ora)


def _block_features(*blocks: str) -> set[str]:
    return {n for n in REGISTRY if REGISTRY[n].block in blocks}


_ONLY_FULL_KLINES = {"volume__taker_buy_share_5m", "volume__taker_buy_share_15m", "volume__trades_z_60m"}
PERIODS: dict[str, tuple[Callable[..., tuple[pd.DataFrame, FeatureInputs]], set[str]]] = {
    "2025q1-klines": (_period_2025, _block_features("price_1m", "ta_1m", "vol_1m", "volume_1m", "time")),
    "2026-02-21-klines-markets": (_period_2026_02_21, _block_features(
        "price_1m", "ta_1m", "vol_1m", "volume_1m", "time", "contract") - _ONLY_FULL_KLINES),
    "2026-02-16-quotes": (_period_2026_02_16, _block_features("micro_quotes", "time")
                          | {"contract__log_moneyness", "contract__tau_years", "contract__elapsed_frac"}),
    "2026-03-03-trades": (_period_2026_03_03, _block_features("micro_exchange_trades", "time")),
    "2026-04-13-books": (_period_2026_04_13, {"micro__top_imbalance_up", "micro__depth_imbalance_3_up",
                                              "micro__depth_imbalance_5_up", "micro__depth_imbalance_10_up",
                                              "micro__log_depth_5_up", "micro__microprice_dev_up"}),
    "2026-06-08-oracle-markets": (_period_2026_06_08, {"price__oracle_ret_60s", "price__oracle_ret_300s",
                                                       "contract__log_moneyness", "contract__tau_years"}),
}


@pytest.mark.parametrize("period", list(PERIODS))
def test_audit_passes_on_real_period(period: str, data: DataDir, shared_data: Path) -> None:
    build, fed = PERIODS[period]
    rows, inputs = build(shared_data) if period == "2026-04-13-books" else build(data)
    assert len(rows) >= N_AUDIT
    res = leakage_audit(rows, inputs, n=N_AUDIT, seed=11)
    assert len(res.table) == len(REGISTRY)
    assert res.passed, res.summary()
    unexercised = fed & set(res.not_exercised)
    assert not unexercised, f"{period}: inputs present but never non-NaN: {sorted(unexercised)}"
