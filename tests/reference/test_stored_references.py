"""pmresearch against the stored reference values of ``tests/reference/values/`` (no reference library needed).

The values were made by ``tests/reference/generate_references.py`` (QuantLib, bukosabino/ta, statsmodels; each
file records the library versions and holds its inputs). The live comparisons beside the code
(``tests/pricing/test_digital_reference.py``, ``tests/features/test_indicators.py``, ``tests/metrics/test_stats.py``,
``tests/features/test_validation.py``) are marked ``reference_live``; ``test_reference_regeneration.py`` checks
that the libraries installed still produce exactly these files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmresearch.features.technical import atr, bollinger, macd, rsi, stochastic
from pmresearch.features.validation import stationarity_table
from pmresearch.features.volume import obv_step, rolling_vwap
from pmresearch.metrics.stats import diebold_mariano
from pmresearch.pricing import digital_bs, digital_delta, digital_vega

VALUES = Path(__file__).resolve().parent / "values"


def _npz(name: str) -> dict[str, Any]:
    with np.load(VALUES / name) as f:
        out = {k: f[k] for k in f.files}
    out["meta"] = json.loads(str(out["meta"]))
    return out


def _rel_err(got: Any, ref: Any, start: int) -> float:
    """Largest relative error from ``start`` on, after checking both sides are finite there."""
    x, y = np.asarray(got, dtype=float)[start:], np.asarray(ref, dtype=float)[start:]
    assert x.size > 100 and np.isfinite(x).all() and np.isfinite(y).all()
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))


def test_files_record_their_provenance() -> None:
    ql, ta_ = _npz("quantlib_digital.npz"), _npz("ta_indicators.npz")
    sm = json.loads((VALUES / "statsmodels.json").read_text())
    for meta, lib in ((ql["meta"], "QuantLib"), (ta_["meta"], "ta"), (sm["meta"], "statsmodels")):
        assert meta["script"] == "tests/reference/generate_references.py"
        assert meta[lib] and meta["numpy"] and meta["python"]
    assert ql["S"].size >= 10_000 and len(ta_["bar_close"]) == 600


def test_digital_bs_and_greeks_equal_stored_quantlib_grid() -> None:
    """QuantLib ``BlackCalculator`` (cash-or-nothing, payout 1): value to 1e-10 absolute on the stored 10,800-point
    grid; greeks to 1e-8 relative with a 1e-10 floor on every 7th point (the live test's set: at a few extreme
    points of the full grid QuantLib's vega differs from the closed form by more)."""
    ref = _npz("quantlib_digital.npz")
    args = (ref["S"], ref["K"], ref["tau"], ref["sigma"], ref["r"])
    np.testing.assert_allclose(digital_bs(*args), ref["value"], rtol=0.0, atol=1e-10)
    sub = tuple(a[::7] for a in args)
    np.testing.assert_allclose(digital_delta(*sub), ref["delta"][::7], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(digital_vega(*sub), ref["vega"][::7], rtol=1e-8, atol=1e-10)
    assert ref["value"].min() < 1e-6 and ref["value"].max() > 1 - 1e-6  # both tails and ...
    assert np.mean((ref["value"] > 0.01) & (ref["value"] < 0.99)) > 0.3  # ... the informative middle


def test_a_wrong_price_is_caught_by_the_stored_grid() -> None:
    """Control: a 1e-8 shift of the price, or the put instead of the call, fails the comparison."""
    ref = _npz("quantlib_digital.npz")
    got = digital_bs(ref["S"], ref["K"], ref["tau"], ref["sigma"], ref["r"])
    assert np.max(np.abs(got + 1e-8 - ref["value"])) > 1e-10
    assert np.max(np.abs(1.0 - got - ref["value"])) > 0.5


@pytest.fixture(scope="module")
def ta_ref() -> dict[str, Any]:
    return _npz("ta_indicators.npz")


@pytest.fixture(scope="module")
def bars(ta_ref: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({c: ta_ref[f"bar_{c}"] for c in ta_ref["meta"]["columns"]})


def test_indicators_equal_stored_ta_values(bars: pd.DataFrame, ta_ref: dict[str, Any]) -> None:
    """RSI, MACD, stochastic, Bollinger, ATR and VWAP to 1e-10 relative after each warm-up (the live tests' level)."""
    close = bars["close"]
    line, signal = macd(close)
    k, d = stochastic(bars["high"], bars["low"], close, 14, 3)
    pos, width = bollinger(close, 20, 2.0)
    checks = [
        (rsi(close, 14), "rsi_14", 14), (line, "macd", 25), (signal, "macd_signal", 33),
        (k, "stoch_k", 13), (d, "stoch_d", 15), (pos, "bollinger_pband", 19),
        (width * 100.0, "bollinger_wband", 19), (atr(bars["high"], bars["low"], close, 14), "atr_14", 13),
        (rolling_vwap(bars, 15), "vwap_15", 14),
    ]
    for got, name, start in checks:
        assert _rel_err(got, ta_ref[f"ref_{name}"], start) < 1e-10, name
    assert rsi(close, 14).iloc[:13].isna().all()  # warm-up is NaN ...
    assert np.isfinite(rsi(close, 14).iloc[14:]).all()  # ... and only the warm-up


def test_obv_flow_equals_stored_ta_obv_differences(bars: pd.DataFrame, ta_ref: dict[str, Any]) -> None:
    obv = pd.Series(ta_ref["ref_obv"])
    assert _rel_err(obv_step(bars).rolling(15).sum(), obv - obv.shift(15), 16) < 1e-9


def test_a_wrong_window_is_caught_by_the_stored_ta_values(bars: pd.DataFrame, ta_ref: dict[str, Any]) -> None:
    """Control: RSI(13) and ATR(15) against the stored 14-bar values are far outside the tolerance."""
    assert _rel_err(rsi(bars["close"], 13), ta_ref["ref_rsi_14"], 14) > 1e-4
    assert _rel_err(atr(bars["high"], bars["low"], bars["close"], 15), ta_ref["ref_atr_14"], 15) > 1e-4


@pytest.fixture(scope="module")
def sm_ref() -> dict[str, Any]:
    return dict(json.loads((VALUES / "statsmodels.json").read_text()))


@pytest.mark.parametrize("h", [1, 3, 15])
def test_dm_equals_stored_statsmodels_hac(sm_ref: dict[str, Any], h: int) -> None:
    """DM without HLN is statsmodels' HAC t-value (uniform kernel); with HLN, times the HLN factor."""
    ref = sm_ref["dm_uniform"][str(h)]
    d = np.asarray(ref["d"])
    n = d.size
    dm = diebold_mariano(d + 5.0, np.full(n, 5.0), h=h, hln=False)
    assert dm.kernel == "uniform"
    assert dm.statistic == pytest.approx(ref["tvalue"], rel=1e-10)
    corr = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert diebold_mariano(d + 5.0, np.full(n, 5.0), h=h).statistic == pytest.approx(ref["tvalue"] * corr, rel=1e-10)
    if h > 1:  # control: the wrong horizon gives another statistic
        assert diebold_mariano(d + 5.0, np.full(n, 5.0), h=1, hln=False).statistic != pytest.approx(ref["tvalue"],
                                                                                                     rel=1e-3)


def test_dm_bartlett_fallback_equals_stored_newey_west(sm_ref: dict[str, Any]) -> None:
    ref = sm_ref["dm_bartlett"]
    d = np.asarray(ref["d"])
    res = diebold_mariano(d, np.zeros_like(d), h=ref["h"], hln=False)
    assert res.kernel == "bartlett"
    assert res.statistic == pytest.approx(ref["tvalue"], rel=1e-10)


def test_stationarity_equals_stored_adf_and_kpss(sm_ref: dict[str, Any]) -> None:
    """ADF (constant, AIC lags) and KPSS (constant, automatic lags) statistics, p-values and lags of statsmodels,
    to 1e-12 with a 1e-12 floor (the live test's level)."""
    ref = sm_ref["stationarity"]
    table = stationarity_table(pd.DataFrame({name: ref[name]["x"] for name in ref})).table
    cols = ["adf_stat", "adf_pvalue", "adf_lags", "kpss_stat", "kpss_pvalue", "kpss_lags"]
    for name in ref:
        np.testing.assert_allclose(table.loc[name, cols].to_numpy(dtype=float),
                                   np.array([ref[name][c] for c in cols], dtype=float), rtol=1e-12, atol=1e-12)
    assert table.loc["walk", "verdict"] == "non-stationary" and table.loc["ar05", "verdict"] == "stationary"
