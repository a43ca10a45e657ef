"""Indicator values against independent references on fixed inputs.

References: the ``ta`` package (bukosabino/ta 0.11.0: RSI, MACD, stochastic, Bollinger, ATR, VWAP,
OBV), Parkinson (1980) and Garman & Klass (1980) evaluated from their formulas with explicit
per-bar Python loops, the RiskMetrics EWMA recursion (and pandas' ``ewm``), and
:func:`pmresearch.pricing.vol.realized_vol` on explicit windows for the realized vol.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import ta

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.features.price import price_features_1m
from pmresearch.features.technical import atr, bollinger, macd, phase_rsi, rsi, stochastic
from pmresearch.features.vol_sources import minute_rv, minute_rv_and_age
from pmresearch.features.volatility import vol_features_1m
from pmresearch.features.volume import obv_step, rolling_vwap, volume_features
from pmresearch.pricing.vol import realized_vol


def _bars(seed: int, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 8e-4, n)))
    open_ = np.concatenate([[60_000.0], close[:-1]]) * np.exp(rng.normal(0, 1e-4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 5e-4, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 5e-4, n)))
    vol = rng.gamma(2.0, 10.0, n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol,
                         "quote_volume": vol * close, "trades": rng.poisson(500, n).astype(float),
                         "taker_buy_volume": vol * rng.uniform(0.3, 0.7, n)})


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return _bars(7)


def _close(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray, start: int, rtol: float = 1e-10) -> float:
    x, y = np.asarray(a, dtype=float)[start:], np.asarray(b, dtype=float)[start:]
    assert np.isfinite(x).all() and np.isfinite(y).all()
    err = float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))
    assert err < rtol, err
    return err


@pytest.mark.reference_live
def test_rsi_matches_ta(bars: pd.DataFrame) -> None:
    ref = ta.momentum.RSIIndicator(bars["close"], window=14).rsi()
    _close(rsi(bars["close"], 14), ref, 14)
    assert rsi(bars["close"], 14).iloc[:13].isna().all()


@pytest.mark.reference_live
def test_phase_rsi_is_rsi_of_k_minute_bars(bars: pd.DataFrame) -> None:
    out = phase_rsi(bars["close"], 5, 14)
    for j in range(5):
        ref = ta.momentum.RSIIndicator(bars["close"].iloc[j::5].reset_index(drop=True), window=14).rsi()
        _close(out.iloc[j::5].to_numpy(), ref.to_numpy(), 14)


def test_rsi_all_gains_is_100() -> None:
    assert rsi(pd.Series(np.arange(1.0, 40.0)), 14).iloc[-1] == 100.0


@pytest.mark.reference_live
def test_macd_matches_ta(bars: pd.DataFrame) -> None:
    line, sig = macd(bars["close"])
    ref = ta.trend.MACD(bars["close"], window_slow=26, window_fast=12, window_sign=9)
    _close(line, ref.macd(), 25)
    _close(sig, ref.macd_signal(), 33)


@pytest.mark.reference_live
def test_stochastic_matches_ta(bars: pd.DataFrame) -> None:
    k, d = stochastic(bars["high"], bars["low"], bars["close"], 14, 3)
    ref = ta.momentum.StochasticOscillator(bars["high"], bars["low"], bars["close"], window=14, smooth_window=3)
    _close(k, ref.stoch(), 13)
    _close(d, ref.stoch_signal(), 15)


@pytest.mark.reference_live
def test_bollinger_matches_ta(bars: pd.DataFrame) -> None:
    pos, width = bollinger(bars["close"], 20, 2.0)
    ref = ta.volatility.BollingerBands(bars["close"], window=20, window_dev=2)
    _close(pos, ref.bollinger_pband(), 19)
    _close(width * 100.0, ref.bollinger_wband(), 19)


@pytest.mark.reference_live
def test_atr_matches_ta(bars: pd.DataFrame) -> None:
    ref = ta.volatility.AverageTrueRange(bars["high"], bars["low"], bars["close"], window=14)
    _close(atr(bars["high"], bars["low"], bars["close"], 14), ref.average_true_range(), 13)


@pytest.mark.reference_live
def test_vwap_matches_ta(bars: pd.DataFrame) -> None:
    ref = ta.volume.VolumeWeightedAveragePrice(bars["high"], bars["low"], bars["close"], bars["volume"], window=15)
    _close(rolling_vwap(bars, 15), ref.volume_weighted_average_price(), 14)


@pytest.mark.reference_live
def test_obv_flow_matches_ta_obv_differences(bars: pd.DataFrame) -> None:
    obv = ta.volume.OnBalanceVolumeIndicator(bars["close"], bars["volume"]).on_balance_volume()
    # ta counts the first bar as +volume and ties as +volume; continuous prices have no ties
    _close(obv_step(bars).rolling(15).sum(), obv - obv.shift(15), 16, rtol=1e-9)
    flow = volume_features(bars)["volume__obv_flow_15m"]
    _close(flow, (obv - obv.shift(15)) / bars["volume"].rolling(15).sum(), 16, rtol=1e-9)


def test_parkinson_and_garman_klass_from_their_formulas(bars: pd.DataFrame) -> None:
    out = vol_features_1m(bars)
    ann = SECONDS_PER_YEAR / 60.0
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    for w in (5, 15, 60):
        for i in (w - 1, 200, len(bars) - 1):
            pk = sum(math.log(h[j] / lo[j]) ** 2 for j in range(i - w + 1, i + 1)) / (4 * math.log(2) * w)
            gk = sum(0.5 * math.log(h[j] / lo[j]) ** 2 - (2 * math.log(2) - 1) * math.log(c[j] / o[j]) ** 2
                     for j in range(i - w + 1, i + 1)) / w
            assert out[f"vol__parkinson_{w}m"].iloc[i] == pytest.approx(math.sqrt(pk * ann), rel=1e-10)
            assert out[f"vol__garman_klass_{w}m"].iloc[i] == pytest.approx(math.sqrt(gk * ann), rel=1e-10)
        assert np.isnan(out[f"vol__parkinson_{w}m"].iloc[w - 2])


def test_realized_and_ewma_vol(bars: pd.DataFrame) -> None:
    out = vol_features_1m(bars)
    r = np.diff(np.log(bars["close"].to_numpy()))
    # reference: pricing.vol.realized_vol (ABDL 2003) of each window of 60 returns spanning 3,600 s
    windows = np.lib.stride_tricks.sliding_window_view(r, 60)
    ref = np.concatenate([np.full(60, np.nan), realized_vol(windows, 3600.0)])
    _close(out["vol__rv_1m_60m"], ref, 60)
    assert np.isnan(out["vol__rv_1m_60m"].iloc[59])
    # the other spot sources' realized vol (features.vol_sources) is the same estimator on minute samples:
    # closes known on the minute boundaries, decision times anywhere in the following minute
    known = np.arange(len(bars), dtype=np.int64) * 60_000_000_000 + 1_700_000_040_000_000_000
    t = known + np.random.default_rng(3).integers(0, 60_000_000_000, len(bars))
    _close(minute_rv(known, bars["close"].to_numpy(), t), ref, 60)
    assert np.isnan(minute_rv(known, bars["close"].to_numpy(), t)[:60]).all()
    # the age of the newest price used, by hand: with every price known 30 s before a boundary, the
    # boundary b's sample is the price known at b - 30 s, so at t the age is t - (b - 30 s)
    vol, age = minute_rv_and_age(known - 30_000_000_000, bars["close"].to_numpy(), t)
    boundary = (t // 60_000_000_000) * 60_000_000_000
    np.testing.assert_array_equal(age[61:], (t[61:] - (boundary[61:] - 30_000_000_000)) / 1e9)
    assert np.isnan(age[:60]).all() and np.isfinite(vol[61:]).all()
    s = r[0] ** 2
    for x in r[1:300]:
        s = 0.94 * s + 0.06 * x * x
    assert out["vol__ewma_094"].iloc[300] == pytest.approx(math.sqrt(s * SECONDS_PER_YEAR / 60.0), rel=1e-10)


def test_ewma_feature_is_pricing_ewma_and_unchanged_on_missing_bars(bars: pd.DataFrame) -> None:
    """``vol__ewma_094`` comes from :func:`pmresearch.pricing.vol.ewma_variance`; its values are those the
    feature had as pandas ``ewm(alpha=0.06, adjust=False, min_periods=30)`` of the squared returns,
    on a grid with missing bars (NaN rows) too."""
    holed = bars.copy()
    holed.loc[[120, 121, 122, 300, 451], "close"] = np.nan
    for frame in (bars, holed):
        out = vol_features_1m(frame)["vol__ewma_094"]
        r2 = np.log(frame["close"]).diff() ** 2
        ref = np.sqrt(r2.ewm(alpha=1.0 - 0.94, adjust=False, min_periods=30).mean() * (SECONDS_PER_YEAR / 60.0))
        np.testing.assert_array_equal(out.isna().to_numpy(), ref.isna().to_numpy())
        # rounding only: pandas divides by (1 - alpha) + alpha; vols are ~0.3, the floor 1e-15 of that
        np.testing.assert_allclose(out.to_numpy(), ref.to_numpy(), rtol=1e-13, atol=1e-15)
    assert out.iloc[125:].notna().all()


def test_vol_regime_is_trailing_percentile() -> None:
    b = _bars(3, n=2000)
    out = vol_features_1m(b)
    rv = out["vol__rv_1m_60m"].to_numpy()
    i = 1900
    window = rv[i - 1439:i + 1]
    pct = (np.sum(window < rv[i]) + 0.5 * (np.sum(window == rv[i]) - 1) + 1) / len(window)
    assert out["vol__pctile_60m"].iloc[i] == pytest.approx(pct, rel=1e-12)
    expected = 1.0 if pct > 2 / 3 else -1.0 if pct < 1 / 3 else 0.0
    assert out["vol__regime_60m"].iloc[i] == expected
    assert np.isnan(out["vol__regime_60m"].iloc[700])


def test_price_features_by_hand(bars: pd.DataFrame) -> None:
    out = price_features_1m(bars)
    c, h, lo = bars["close"].to_numpy(), bars["high"].to_numpy(), bars["low"].to_numpy()
    i = 321
    assert out["price__ret_15m"].iloc[i] == pytest.approx(math.log(c[i] / c[i - 15]), rel=1e-12)
    assert out["price__ma_dist_5m"].iloc[i] == pytest.approx(math.log(c[i] / c[i - 4:i + 1].mean()), rel=1e-9)
    assert out["price__hl_range_15m"].iloc[i] == pytest.approx(
        math.log(h[i - 14:i + 1].max() / lo[i - 14:i + 1].min()), rel=1e-12)
    r5, r5_prev = math.log(c[i] / c[i - 5]), math.log(c[i - 5] / c[i - 10])
    assert out["price__accel_5m"].iloc[i] == pytest.approx(r5 - r5_prev, rel=1e-9)
    assert np.isnan(out["price__ret_60m"].iloc[59])


def test_gap_makes_windows_nan() -> None:
    b = _bars(5, n=200)
    b.loc[100, ["open", "high", "low", "close", "volume"]] = np.nan
    out = vol_features_1m(b)
    assert out["vol__rv_1m_15m"].iloc[100:116].isna().all()
    assert np.isfinite(out["vol__rv_1m_15m"].iloc[116])
