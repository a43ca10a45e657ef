"""Regenerate the stored reference values of ``tests/reference/values/`` from the reference libraries.

Run from the repository root::

    .venv/bin/python tests/reference/generate_references.py          # rewrite every file
    .venv/bin/python tests/reference/generate_references.py --check  # regenerate in memory, compare, exit 1 on drift

Each file records what made it: this script, the library versions and the inputs themselves (so the stored tests
need neither the libraries nor the input generators). The inputs are the very ones of the live comparisons
(imported from ``tests/pricing/test_digital_reference.py``, ``tests/features/test_indicators.py`` and
``tests/features/test_validation.py``), so the stored and live tests check the same numbers.

Files
-----
``quantlib_digital.npz``
    QuantLib ``BlackCalculator`` with a ``CashOrNothingPayoff`` (payout 1, forward ``S e^{r tau}``, discount 1):
    value, ``delta(S)`` and ``vega(tau)`` on the 10,800-point grid of the live test.
``ta_indicators.npz``
    bukosabino/ta: RSI(14), MACD(12, 26, 9), stochastic(14, 3), Bollinger(20, 2), ATR(14), VWAP(15) and OBV on the
    seeded 600-bar OHLCV frame of the live indicator tests.
``statsmodels.json``
    statsmodels: OLS of a loss differential on a constant with HAC covariance (uniform kernel, h - 1 lags, no small
    sample correction: Diebold-Mariano's variance) for h = 1, 3, 15 and the Newey-West (Bartlett) fallback case;
    ``adfuller`` (constant, AIC lag choice) and ``kpss`` (constant, ``nlags="auto"``) on a random walk and an AR(1).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
VALUES = HERE / "values"
TESTS = HERE.parent
SCRIPT = "tests/reference/generate_references.py"


def _import_live(subdir: str, module: str) -> Any:
    """Import a live test module (the single source of the inputs) by path."""
    path = str(TESTS / subdir)
    if path not in sys.path:
        sys.path.insert(0, path)
    return __import__(module)


def provenance(*libraries: str) -> dict[str, str]:
    """The versions of the reference libraries, NumPy and Python that produced a file."""
    import importlib.metadata as md

    out = {lib: md.version(lib) for lib in libraries}
    out.update(numpy=np.__version__, python=platform.python_version(), script=SCRIPT)
    return out


def digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' bytes (float64, C order): identifies the inputs a file was made from."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


# --- QuantLib -------------------------------------------------------------------------------------------------
def quantlib_digital() -> dict[str, np.ndarray]:
    live = _import_live("pricing", "test_digital_reference")
    s, k, tau, sig, r = live._grid()
    ref = np.array([live._ql_black(*row) for row in zip(s, k, tau, sig, r, strict=True)])
    meta = provenance("QuantLib") | {"inputs_sha256": digest(s, k, tau, sig, r)}
    return {"S": s, "K": k, "tau": tau, "sigma": sig, "r": r, "value": ref[:, 0], "delta": ref[:, 1],
            "vega": ref[:, 2], "meta": np.array(json.dumps(meta, sort_keys=True))}


# --- ta -------------------------------------------------------------------------------------------------------
def ta_indicators() -> dict[str, np.ndarray]:
    import ta

    live = _import_live("features", "test_indicators")
    bars = live._bars(7)
    h, lo, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
    m = ta.trend.MACD(c, window_slow=26, window_fast=12, window_sign=9)
    st = ta.momentum.StochasticOscillator(h, lo, c, window=14, smooth_window=3)
    bb = ta.volatility.BollingerBands(c, window=20, window_dev=2)
    out = {
        "rsi_14": ta.momentum.RSIIndicator(c, window=14).rsi(),
        "macd": m.macd(), "macd_signal": m.macd_signal(),
        "stoch_k": st.stoch(), "stoch_d": st.stoch_signal(),
        "bollinger_pband": bb.bollinger_pband(), "bollinger_wband": bb.bollinger_wband(),
        "atr_14": ta.volatility.AverageTrueRange(h, lo, c, window=14).average_true_range(),
        "vwap_15": ta.volume.VolumeWeightedAveragePrice(h, lo, c, v, window=15).volume_weighted_average_price(),
        "obv": ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume(),
    }
    arrays = {f"ref_{name}": np.asarray(series, dtype=np.float64) for name, series in out.items()}
    inputs = {f"bar_{col}": bars[col].to_numpy(dtype=np.float64) for col in bars.columns}
    meta = provenance("ta", "pandas") | {"inputs_sha256": digest(*inputs.values()), "columns": list(bars.columns)}
    return inputs | arrays | {"meta": np.array(json.dumps(meta, sort_keys=True))}


# --- statsmodels ----------------------------------------------------------------------------------------------
def dm_differential(h: int, n: int = 600) -> np.ndarray:
    """An MA(h - 1) loss differential with mean 0.1 (seed 100 + h), as in the live Diebold-Mariano test."""
    rng = np.random.default_rng(100 + h)
    e = rng.standard_normal(n + h)
    return 0.1 + np.convolve(e, np.ones(h) / h, mode="valid")[:n]


def statsmodels_values() -> dict[str, Any]:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import InterpolationWarning
    from statsmodels.tsa.stattools import adfuller, kpss

    dm = {}
    for h in (1, 3, 15):
        d = dm_differential(h)
        res = sm.OLS(d, np.ones(d.size)).fit(cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform",
                                                                      "use_correction": False})
        dm[str(h)] = {"d": d.tolist(), "tvalue": float(res.tvalues[0])}
    d = np.tile([1.0, -1.0], 50) + 0.01
    nw = sm.OLS(d, np.ones(d.size)).fit(cov_type="HAC", cov_kwds={"maxlags": 3, "kernel": "bartlett",
                                                                  "use_correction": False})
    live = _import_live("features", "test_validation")
    stationarity = {}
    for name, phi, seed in (("walk", 1.0, 1), ("ar05", 0.5, 2)):
        x = live._ar1(phi, 500, seed=seed)
        adf = adfuller(x, regression="c", autolag="AIC", result_object=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InterpolationWarning)
            kp = kpss(x, regression="c", nlags="auto", result_object=True)
        stationarity[name] = {"x": x.tolist(), "adf_stat": float(adf.statistic), "adf_pvalue": float(adf.pvalue),
                              "adf_lags": int(adf.lags), "kpss_stat": float(kp.statistic),
                              "kpss_pvalue": float(kp.pvalue), "kpss_lags": int(kp.lags)}
    return {"meta": provenance("statsmodels", "scipy"), "dm_uniform": dm,
            "dm_bartlett": {"d": d.tolist(), "h": 4, "tvalue": float(nw.tvalues[0])},
            "stationarity": stationarity}


# --- writing and checking -------------------------------------------------------------------------------------
def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


GENERATORS: dict[str, Callable[[], Any]] = {
    "quantlib_digital.npz": quantlib_digital,
    "ta_indicators.npz": ta_indicators,
    "statsmodels.json": statsmodels_values,
}


def _same(name: str, fresh: Any) -> list[str]:
    """Differences between a freshly generated reference and the stored file (empty when identical)."""
    path = VALUES / name
    if name.endswith(".npz"):
        with np.load(path) as stored:
            keys = set(stored.files) ^ set(fresh)
            bad = [k for k in fresh if k != "meta" and k in stored.files and not _arrays_close(stored[k], fresh[k])]
        return [f"{name}: keys differ {sorted(keys)}"] * bool(keys) + [f"{name}: {k} differs" for k in bad]
    stored_json = json.loads(path.read_text())
    fresh.pop("meta"), stored_json.pop("meta")
    return [] if _close(stored_json, json.loads(json.dumps(fresh))) else [f"{name}: values differ"]


#: Relative tolerance of the JSON check. The statsmodels values go through OpenBLAS, whose kernels are chosen
#: per CPU (``OPENBLAS_CORETYPE``): SkylakeX and Haswell builds of the same pinned versions differ by 2e-16 to
#: 6e-15 relative (summation order), so bit-for-bit equality would test the machine. 1e-12 is far below
#: every tolerance the live tests use and far above any rounding.
JSON_RTOL = 1e-12


#: Tolerance of the arrays' check, relative to each array's scale. Inputs regenerated on another CPU differ by
#: one ulp (2.4e-16 relative: numpy's SIMD ``exp`` on AVX2 against AVX-512), and the rolling standard deviation
#: behind the Bollinger bands amplifies that to 5.4e-12 of their scale (measured); 1e-10 is the live tests' own
#: tolerance against ``ta`` (``tests/features/test_indicators.py``), so a drift below it cannot change a verdict.
NPZ_RTOL = 1e-10


def _arrays_close(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and dtype; floats within :data:`NPZ_RTOL` of the array's scale (its largest magnitude:
    indicators such as MACD are differences of near-equal averages, so their own relative error is not
    small), others equal. numpy's SIMD ``exp``/``log`` differ in the last bit between AVX2 and AVX-512
    machines, so generated inputs such as price paths do too."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if np.issubdtype(a.dtype, np.floating):
        finite = np.abs(a[np.isfinite(a)])
        scale = float(finite.max()) if finite.size else 0.0
        return bool(np.allclose(a, b, rtol=NPZ_RTOL, atol=NPZ_RTOL * scale, equal_nan=True))
    return bool(np.array_equal(a, b))


def _close(a: Any, b: Any) -> bool:
    """Same structure, same strings and integers, floats within :data:`JSON_RTOL` (relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and bool(
            np.isclose(a, b, rtol=JSON_RTOL, atol=0.0) or (np.isnan(a) and np.isnan(b)))
    return bool(a == b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored files instead of writing")
    args = parser.parse_args(argv)
    VALUES.mkdir(exist_ok=True)
    problems: list[str] = []
    for name, make in GENERATORS.items():
        fresh = make()
        if args.check:
            problems += _same(name, fresh)
            continue
        data = _npz_bytes(fresh) if name.endswith(".npz") else (json.dumps(fresh, indent=1, sort_keys=True) + "\n"
                                                                 ).encode()
        tmp = VALUES / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(VALUES / name)
        print(f"wrote {VALUES.relative_to(TESTS.parent) / name} ({len(data):,} bytes)")
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
