"""Volatility estimators recover the simulator's known volatility (light path mode and a full world).

Truth: ``simulate_path`` returns the true annualized diffusion vol of every step and its jumps, so the
integrated variance (IV) and the quadratic variation (QV = IV + squared jumps) of each window are known.
Realized vol targets QV (Andersen, Bollerslev, Diebold & Labys 2003); bipower and range-based
estimators target IV (Barndorff-Nielsen & Shephard 2004; Parkinson 1980; Garman & Klass 1980; Rogers &
Satchell 1991; Yang & Zhang 2000).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch.pricing.vol import (
    RANGE_METHODS,
    annualize,
    bars_from_path,
    bipower_vol,
    discrete_range_factor,
    ewma_variance,
    ewma_vol,
    intraday_seasonality,
    range_vol,
    realized_vol,
    rolling_vol,
    seasonal_factor_at,
    vol_asof,
    yang_zhang_vol,
)
from pmresearch.simulate import SIMPLE_PROCESS, World, make_config, simulate, simulate_path


def _windows(n_windows: int, window_s: int, step_s: float, steps_per_bar: int, gap_steps: int, seed: int,
             **knobs: float) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, float]:
    """Bars of ``n_windows`` consecutive windows from one light path; returns bars reshaped
    (window, bar), true IV and QV vols per window, and the bar length in seconds."""
    cfg = make_config("edge", **{**SIMPLE_PROCESS, **knobs})  # the jump-light process the tolerances assume
    n_steps = round(n_windows * window_s / step_s)
    path = simulate_path(cfg, n_steps, step_s=step_s, seed=seed)
    x = np.concatenate([[np.log(cfg.s0)], path["log_price"].to_numpy()])
    bars = bars_from_path(x, steps_per_bar, gap_steps)
    bar_s = step_s * (steps_per_bar + gap_steps)
    shaped = {k: v.reshape(n_windows, -1) for k, v in bars.items()}
    sig2 = (path["sigma"].to_numpy() ** 2).reshape(n_windows, -1).mean(axis=1)
    jump2 = (path["jump"].to_numpy() ** 2).reshape(n_windows, -1).sum(axis=1) * SECONDS_PER_YEAR / window_s
    return shaped, np.sqrt(sig2), np.sqrt(sig2 + jump2), bar_s


def _mare(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.median(np.abs(est / truth - 1.0)))


def test_one_second_estimators_recover_hourly_vol() -> None:
    """200 one-hour windows of 1-second bars built like the simulator's (4 sub-second points: 3 steps
    inside the bar, 1 between bars), with the world's vol law and jumps: median |relative error| < 5%."""
    b, iv, qv, bar_s = _windows(200, 3600, 0.25, 3, 1, seed=1)
    r = np.diff(np.concatenate([b["prev_close"][:, :1], b["close"]], axis=1), axis=1)
    assert r.shape == (200, 3600)
    errors = {"rv": _mare(realized_vol(r, 3600.0), qv), "bipower": _mare(bipower_vol(r, 3600.0), iv)}
    for m in RANGE_METHODS:
        errors[m] = _mare(range_vol(b["open"], b["high"], b["low"], b["close"], bar_s, m, steps_per_bar=3,
                                    gap_steps=1), iv)
    errors["yang_zhang"] = _mare(yang_zhang_vol(b["open"], b["high"], b["low"], b["close"], b["prev_close"],
                                                bar_s, steps_per_bar=3), iv)
    assert max(errors.values()) < 0.05, errors
    # without the discrete-sampling correction, Parkinson is ~39% low on 4-point bars
    raw = range_vol(b["open"], b["high"], b["low"], b["close"], bar_s, "parkinson")
    assert np.median(raw / iv) < 0.7


def test_one_minute_estimators_recover_daily_vol() -> None:
    """200 24-hour windows of 1-minute bars of 12 five-second steps: median |relative error| < 5% for
    realized (vs QV), bipower, Parkinson, Garman-Klass, Rogers-Satchell and Yang-Zhang (vs IV)."""
    b, iv, qv, bar_s = _windows(200, 86400, 5.0, 12, 0, seed=2)
    assert bar_s == 60.0
    r = np.diff(np.concatenate([b["prev_close"][:, :1], b["close"]], axis=1), axis=1)
    errors = {"rv": _mare(realized_vol(r, 86400.0), qv), "bipower": _mare(bipower_vol(r, 86400.0), iv)}
    for m in RANGE_METHODS:
        est = range_vol(b["open"], b["high"], b["low"], b["close"], bar_s, m, steps_per_bar=12)
        errors[m] = _mare(est, iv)
    errors["yang_zhang"] = _mare(yang_zhang_vol(b["open"], b["high"], b["low"], b["close"], b["prev_close"],
                                                bar_s, steps_per_bar=12), iv)
    assert max(errors.values()) < 0.05, errors
    bias_uncorrected = np.median(range_vol(b["open"], b["high"], b["low"], b["close"], bar_s, "garman_klass") / iv)
    assert bias_uncorrected < 0.8  # the correction is what makes them pass


def test_discrete_range_factor_exact_limits() -> None:
    """One-step bars: the range is |r|, so c = 1/(4 ln 2) (Parkinson) and 1.5 - 2 ln 2 (Garman-Klass)
    exactly; many steps: c -> 1 at the n^{-1/2} rate of Broadie, Glasserman & Kou (1997)."""
    assert discrete_range_factor("parkinson", 1) == pytest.approx(1 / (4 * np.log(2)), rel=0.01)
    assert discrete_range_factor("garman_klass", 1) == pytest.approx(1.5 - 2 * np.log(2), rel=0.01)
    with pytest.raises(ValueError, match="Rogers-Satchell"):
        discrete_range_factor("rogers_satchell", 1)
    # BGK: E[max_n] ~ E[max] - beta sqrt(dt/n), so the range loses ~2 beta / sqrt(n) and the squared
    # range ~ 4 beta E[range] / sqrt(n), with E[range] = 2 sqrt(2/pi) and E[range^2] = 4 ln 2 per unit variance.
    beta, n = 0.5826, 240
    approx = 1.0 - 4.0 * beta * 2.0 * np.sqrt(2.0 / np.pi) / np.sqrt(n) / (4.0 * np.log(2.0))
    assert discrete_range_factor("parkinson", n) == pytest.approx(approx, abs=0.01)


@pytest.fixture(scope="module")
def simple_world() -> World:
    """One day of the former, jump-light process (4 jumps a day: most windows are jump-free)."""
    return simulate("edge", days=1.0, seed=11, intervals=(15,), **SIMPLE_PROCESS)


def test_world_one_second_bars_recover_window_truth(simple_world: World) -> None:
    """The full world's 1-second klines (4 sub-second points per bar) against its ``truth`` table:
    jump-free 15-minute windows, median |relative error| < 5% (96 windows of one day); and its
    1-minute klines over jump-free hours (Garman-Klass 2.9%, Yang-Zhang 2.9% on this seed)."""
    edge_world = simple_world
    kl = edge_world.klines_1s
    truth = edge_world.truth
    n_win = len(truth)
    o, h, lo, c = (np.log(kl[col].to_numpy()).reshape(n_win, 900) for col in ("open", "high", "low", "close"))
    clean = truth["jump_steps"].to_numpy() == 0
    gk = range_vol(o, h, lo, c, 1.0, "garman_klass", steps_per_bar=3, gap_steps=1)
    r = np.diff(np.log(kl["close"].to_numpy()), prepend=np.log(kl["open"].iloc[0])).reshape(n_win, 900)
    sig = truth["sigma"].to_numpy()
    assert _mare(gk[clean], sig[clean]) < 0.05
    assert _mare(realized_vol(r, 900.0)[clean], sig[clean]) < 0.05
    assert _mare(bipower_vol(r, 900.0), sig) < 0.05
    # 1-minute klines aggregate 60 one-second bars: 240 points, 239 steps inside a bar and 1 between
    # bars. Hourly windows (60 bars) without jumps, vs the hour's root-mean-square true vol.
    km = edge_world.klines
    o, h, lo, c = (np.log(km[col].to_numpy()).reshape(24, 60) for col in ("open", "high", "low", "close"))
    prev = np.concatenate([[o[0, 0]], np.log(km["close"].to_numpy())[:-1]]).reshape(24, 60)
    hour_sig = np.sqrt((sig**2).reshape(24, 4).mean(axis=1))
    hour_clean = clean.reshape(24, 4).all(axis=1)
    assert hour_clean.sum() >= 12
    gk_1m = range_vol(o, h, lo, c, 60.0, "garman_klass", steps_per_bar=239, gap_steps=1)
    yz_1m = yang_zhang_vol(o, h, lo, c, prev, 60.0, steps_per_bar=239)
    assert _mare(gk_1m[hour_clean], hour_sig[hour_clean]) < 0.05
    assert _mare(yz_1m[hour_clean], hour_sig[hour_clean]) < 0.05


def _kline_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-06-15", periods=n, freq="1min", tz="UTC")
    close = 65_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate([[65_000.0], close[:-1]])
    spread = np.abs(rng.normal(0, 5e-4, n))
    return pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * (1 + spread),
                         "low": np.minimum(open_, close) * (1 - spread), "close": close})


@pytest.mark.parametrize("method", ["rv", "bipower", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang"])
def test_rolling_vol_matches_window_formulas_and_is_as_of(method: str) -> None:
    """``rolling_vol`` at each knowledge time equals the array estimator on exactly the bars closed by it."""
    bars = _kline_frame(400, seed=5)
    s = rolling_vol(bars, "1h", method)  # type: ignore[arg-type]
    assert s.index[0] == bars["ts"].iloc[0] + pd.Timedelta(minutes=1)
    assert s.iloc[:59].isna().all() and s.iloc[60:].notna().all()
    logs = {k: np.log(bars[k].to_numpy()) for k in ("open", "high", "low", "close")}
    for end in (61, 200, 399):  # window of bars end-59 .. end
        sl = slice(end - 59, end + 1)
        if method == "rv":
            ref = realized_vol(np.diff(logs["close"][end - 60 : end + 1]), 3600.0)
        elif method == "bipower":
            ref = bipower_vol(np.diff(logs["close"][end - 60 : end + 1]), 3600.0)
        elif method == "yang_zhang":
            ref = yang_zhang_vol(logs["open"][sl], logs["high"][sl], logs["low"][sl], logs["close"][sl],
                                 logs["close"][end - 60 : end], 60.0)
        else:
            ref = range_vol(logs["open"][sl], logs["high"][sl], logs["low"][sl], logs["close"][sl], 60.0, method)  # type: ignore[arg-type]
        assert s.iloc[end] == pytest.approx(float(ref), rel=1e-10)
    # as-of: a decision one microsecond before a bar closes sees the previous value
    t = pd.Series([s.index[200], s.index[200] - pd.Timedelta(microseconds=1)])
    np.testing.assert_array_equal(vol_asof(s, t), [s.iloc[200], s.iloc[199]])


def test_ewma_matches_pandas_ewm() -> None:
    """RiskMetrics EWMA against pandas' ``ewm(alpha=1 - lam, adjust=False)`` recursion on r^2."""
    bars = _kline_frame(500, seed=6)
    got = ewma_vol(bars, 0.97, min_bars=30)
    r2 = np.diff(np.log(bars["close"].to_numpy())) ** 2
    seed = r2[:30].mean()
    ref = pd.Series(np.concatenate([[seed], r2[30:]])).ewm(alpha=0.03, adjust=False).mean().to_numpy()
    # pandas' arithmetic differs in rounding (it divides by (1 - alpha) + alpha); vols ~0.7, floor 1e-15
    np.testing.assert_allclose(got.to_numpy()[30:], np.sqrt(ref * SECONDS_PER_YEAR / 60.0), rtol=1e-12, atol=1e-15)
    assert got.iloc[:30].isna().all()


def _arch_ewma(e: np.ndarray) -> tuple[np.ndarray, float]:
    """arch's RiskMetrics EWMA (``arch.univariate.EWMAVariance(0.94)`` on a zero mean, fixed
    parameters): ``sigma2[0] = backcast``, ``sigma2[t] = 0.94 sigma2[t-1] + 0.06 e[t-1]^2``, and the
    backcast (``VolatilityProcess.backcast``, arch 8.0) is the 0.94-weighted mean of the first 75
    squared residuals. Returns ``sigma2`` and that backcast."""
    from arch.univariate import EWMAVariance, ZeroMean

    model = ZeroMean(e, volatility=EWMAVariance(0.94), rescale=False)
    res = model.fix([])
    return np.asarray(res.conditional_volatility, dtype=np.float64) ** 2, float(model.volatility.backcast(e))


def test_knowledge_times_follow_the_klines_rule() -> None:
    """The series' index is the knowledge time of :func:`pmresearch.data.knowledge.knowledge_time` for
    klines of the bar length (pricing measures the bar from the spacing; data reads it by name)."""
    from pmresearch.data.knowledge import bar_length, knowledge_time

    bars = _kline_frame(120, seed=15)
    expect = pd.DatetimeIndex(knowledge_time("klines", bars.assign(interval="1m")))
    assert pd.DatetimeIndex(knowledge_time("klines", bars, bar=bar_length("1m"))).equals(expect)
    for s in (rolling_vol(bars, "15min"), ewma_vol(bars)):
        assert s.index.equals(expect)


def test_ewma_variance_matches_arch_riskmetrics() -> None:
    """Reference: arch (K. Sheppard), ``arch.univariate.EWMAVariance``. Seeded with arch's backcast, our
    ``s_t`` is arch's ``sigma2[t + 1]`` (arch stamps the variance of ``t + 1`` given ``e_0..e_t``) to
    rounding. With our default start (the mean of the first 30 squared returns) the two differ by a
    gap that decays as ``0.94^n`` exactly (both are the same linear filter of the same returns); after
    600 bars it is below 1e-15 of the level."""
    rng = np.random.default_rng(12)
    n = 2000
    e = 1e-3 * rng.standard_normal(n) * np.exp(0.5 * np.sin(np.arange(n) / 150.0))
    sigma2, backcast = _arch_ewma(e)
    scale = float(np.mean(e * e))  # ~1e-6: atol floors below are ~1e-14 of it
    seeded = ewma_variance(e * e, 0.94, min_periods=0, init=backcast)
    np.testing.assert_allclose(seeded[:-1], sigma2[1:], rtol=1e-13, atol=1e-14 * scale)
    ours = ewma_variance(e * e, 0.94, min_periods=30)
    assert np.isnan(ours[:29]).all() and np.isfinite(ours[29:]).all()
    gap = ours[29:-1] - sigma2[30:]
    assert abs(gap[0]) > 1e-3 * scale  # the starts differ: a visible gap in the first observations ...
    np.testing.assert_allclose(gap[1:200] / gap[0], 0.94 ** np.arange(1, 200), rtol=1e-6)  # ... decaying as 0.94^n
    np.testing.assert_allclose(ours[629:-1], sigma2[630:], rtol=1e-12, atol=1e-15 * scale)
    # the bars-level function: ewma_vol's value at bar i uses returns 1..i, arch's sigma2[i] e_0..e_{i-1}
    bars = _kline_frame(1500, seed=13)
    r = np.diff(np.log(bars["close"].to_numpy()))
    s2_arch, _ = _arch_ewma(r)
    got = ewma_vol(bars, 0.94, min_bars=30).to_numpy() ** 2 * 60.0 / SECONDS_PER_YEAR
    np.testing.assert_allclose(got[630:-1], s2_arch[630:], rtol=1e-12, atol=1e-15 * float(np.mean(r * r)))


def test_ewma_variance_matches_pandas_including_missing_bars() -> None:
    """``init="first"`` is pandas' ``ewm(alpha=1 - lam, adjust=False, min_periods=...)`` (pandas
    documents the weights of ``ignore_na=False``: by absolute position), holes and leading NaN included."""
    rng = np.random.default_rng(14)
    for _ in range(50):
        n = int(rng.integers(5, 300))
        x = rng.exponential(1e-6, n)
        x[rng.random(n) < rng.choice([0.0, 0.05, 0.3])] = np.nan
        x[: int(rng.integers(0, 4))] = np.nan
        mp = int(rng.integers(0, 40))
        ref = pd.Series(x).ewm(alpha=1 - 0.94, adjust=False, min_periods=mp).mean().to_numpy()
        got = ewma_variance(x, 0.94, min_periods=mp, init="first")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        # pandas divides by (1 - alpha) + alpha where we multiply: rounding only; values ~1e-6
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-20)
    with pytest.raises(ValueError, match="lam"):
        ewma_variance([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="init"):
        ewma_variance([1.0, 2.0], 0.9, init="last")  # type: ignore[arg-type]


def test_intraday_seasonality_recovers_the_simulator_cycle() -> None:
    """60 days of 1-minute returns from the world's vol law (seasonality 0.25 peaking at 15:00 UTC):
    hourly factors within 10% of the true ``exp(season)`` cycle (normalized)."""
    cfg = make_config("edge", **{**SIMPLE_PROCESS, "seasonality": 0.25, "jumps_per_day": 0.0})
    path = simulate_path(cfg, 60 * 1440, step_s=60.0, seed=3)
    r = pd.Series(np.diff(path["log_price"].to_numpy(), prepend=np.log(cfg.s0)),
                  index=pd.DatetimeIndex(path["ts"] - pd.Timedelta(minutes=1)))
    f = intraday_seasonality(r, bucket="1h")
    hours = np.arange(24) + 0.5
    true = np.exp(2 * 0.25 * np.cos(2 * np.pi * (hours - 15.0) / 24.0))
    true = np.sqrt(true / true.mean())
    np.testing.assert_allclose(f.to_numpy(), true, rtol=0.10)
    assert np.corrcoef(f.to_numpy(), true)[0, 1] > 0.95
    t = pd.Series(pd.to_datetime(["2026-07-01T15:20:00Z", "2026-07-01T03:00:00Z"], utc=True))
    np.testing.assert_allclose(seasonal_factor_at(f, t), f.to_numpy()[[15, 3]])
    # as_of: returns after the cut-off are not read
    cut = intraday_seasonality(r, bucket="1h", as_of=r.index[1440 * 2 - 1])
    ref = intraday_seasonality(r.iloc[: 1440 * 2], bucket="1h")
    np.testing.assert_allclose(cut.to_numpy(), ref.to_numpy())


def test_rolling_vol_blanks_windows_across_missing_bars() -> None:
    """A missing bar makes every window that spans it NaN (its bars cover more than the window); EWMA
    takes the return across the hole as a per-bar variance (squared return / bars spanned)."""
    bars = _kline_frame(200, seed=7).drop(index=100).reset_index(drop=True)
    # the hole is between rows 99 and 100. Range windows (30 bars) span it while they hold row 99 and
    # row 100 (rows 100..128); return-based windows also read the return or gap into row 100 (..129)
    for method, last_nan in (("rv", 129), ("bipower", 129), ("garman_klass", 128), ("yang_zhang", 129)):
        s = rolling_vol(bars, "30min", method)  # type: ignore[arg-type]
        assert s.iloc[100 : last_nan + 1].isna().all() and s.iloc[last_nan + 1 :].notna().all(), method
        assert s.iloc[30:100].notna().all(), method
    full = ewma_vol(bars, 0.9, min_bars=30)
    r = np.diff(np.log(bars["close"].to_numpy()))
    s2_99 = (full.iloc[99] ** 2) * 60.0 / SECONDS_PER_YEAR
    expect = 0.9 * s2_99 + 0.1 * r[99] ** 2 / 2.0
    # a per-bar variance ~1e-6: pytest's implicit abs=1e-12 would be 1e-6 relative slack
    assert full.iloc[100] ** 2 * 60.0 / SECONDS_PER_YEAR == pytest.approx(expect, rel=1e-12, abs=1e-20)


def test_bar_validation_names_the_problem() -> None:
    bars = _kline_frame(50, seed=8)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['high'\]"):
        rolling_vol(bars.drop(columns="high"), "15min", "parkinson")
    bad = bars.copy()
    bad.loc[7, "close"] = -1.0
    with pytest.raises(ValueError, match=r"bars.close: .*row 7"):
        rolling_vol(bad, "15min")
    with pytest.raises(ValueError, match="naive"):
        rolling_vol(bars.assign(ts=bars["ts"].dt.tz_localize(None)), "15min")
    with pytest.raises(ValueError, match=r"strictly increasing \(row 3"):
        rolling_vol(bars.assign(ts=bars["ts"].where(bars.index != 3, bars["ts"].iloc[2])), "15min")


def test_annualization_is_24_7() -> None:
    """A daily variance annualizes with 365 days (crypto trades every day), an hourly one with 8,760 hours;
    never with 252 trading days."""
    assert float(annualize(1e-4, 86400.0)) == pytest.approx(np.sqrt(1e-4 * 365.0), rel=1e-15)
    assert float(annualize(1e-6, 3600.0)) == pytest.approx(np.sqrt(1e-6 * 8760.0), rel=1e-15)
    assert SECONDS_PER_YEAR == 365 * 86400
    r = np.full(900, 1e-4)  # 15 minutes of 1-second returns
    assert float(realized_vol(r, 900.0)) == pytest.approx(np.sqrt(900 * 1e-8 * 365 * 96), rel=1e-12)
