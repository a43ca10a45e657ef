"""Simulator configuration: every knob of the ground-truth world, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pmresearch.config import ConfigError, RunnerParams, Validated, from_mapping, param

__all__ = ["PRESETS", "REALISTIC_PROCESS", "SIMPLE_PROCESS", "SimConfig", "WorldParams", "WorldSpec", "make_config"]


@dataclass(frozen=True)
class SimConfig(Validated):
    """All parameters of a simulated world (see :func:`pmresearch.simulate.simulate`).

    Volatilities and drifts are annualized on the 24/7 year; intensities are per day where named so.
    Every field is checked on construction (:class:`pmresearch.config.Validated`), plus: ``intervals``
    are 5 and/or 15 minutes, and ``belief_step_s`` is a whole number of path steps.

    The spot and oracle defaults are the calibration to the real sample (:data:`REALISTIC_PROCESS`);
    the maker's books come from :mod:`pmresearch.simulate.maker_book` (its own calibrated parameters).

    Raises
    ------
    ConfigError
        Naming the field and the bound it breaks.
    """

    # --- calendar -------------------------------------------------------------------------------
    start: str = param("2026-06-15", doc="UTC date (or ISO time with offset) where the world starts")
    days: float = param(7.0, gt=0.0, le=366.0, doc="length of the world in days")
    seed: int = param(0, ge=0, doc="random seed: the world is a deterministic function of the config")
    warmup_minutes: int = param(60, ge=0, le=1440, doc="data before the first market (feature history)")
    kline_history_days: float = param(0.0, ge=0.0, le=366.0,
                                      doc="days of BTCUSDT 1m klines before the start, on the same vol and jump "
                                          "law (the real sample holds a quarter of 1m klines; 0: none)")
    intervals: tuple[int, ...] = param((15, 5), doc="market window lengths in minutes (5 and/or 15)")
    # --- BTC spot: log-diffusion with per-window volatility and Merton jumps ----------------------
    s0: float = param(65_000.0, gt=0.0, doc="BTC price at the start")
    substeps_per_s: int = param(4, ge=1, le=100, doc="path steps per second (sets the 1 s bar ranges)")
    sigma: float = param(0.30, gt=0.0, le=5.0, doc="base annualized diffusion volatility")
    drift: float = param(0.0, ge=-10.0, le=10.0, doc="annualized real-world log drift (excluding jumps)")
    vol_ar: float = param(0.9, ge=0.0, lt=1.0, doc="AR(1) persistence of log-vol from one 15-min window to the next")
    vol_of_vol: float = param(0.53, ge=0.0, le=2.0, doc="stationary sd of the AR(1) log-vol component")
    regime_high_mult: float = param(1.8, ge=1.0, le=10.0, doc="vol multiplier in the high-vol regime")
    regime_p_enter: float = param(0.01, ge=0.0, le=1.0, doc="per-window probability of entering the high regime")
    regime_p_exit: float = param(0.08, ge=0.0, le=1.0, doc="per-window probability of leaving the high regime")
    seasonality: float = param(0.25, ge=0.0, le=2.0, doc="amplitude of the intraday log-vol cycle")
    seasonality_peak_hour: float = param(15.0, ge=0.0, lt=24.0, doc="UTC hour of peak intraday volatility")
    jumps_per_day: float = param(1000.0, ge=0.0, le=10_000.0, doc="Merton jump intensity (per day)")
    jump_mean: float = param(0.0, ge=-0.5, le=0.5, doc="mean log-jump size")
    jump_sd: float = param(0.00029, ge=0.0, le=0.5, doc="sd of the log-jump size (at the base vol when jumps "
                                                         "scale with the vol)")
    jumps_scale_with_vol: bool = param(True, doc="log-jump sizes scale with the window's vol: x sigma_w / sigma")
    # --- volume -----------------------------------------------------------------------------------
    volume_per_s: float = param(0.3, gt=0.0, doc="mean BTC volume per second at typical activity")
    volume_abs_return_beta: float = param(0.6, ge=0.0, doc="volume multiplier slope on |return| / sd")
    volume_noise: float = param(0.5, ge=0.0, doc="sd of the lognormal volume noise")
    trade_size_btc: float = param(0.02, gt=0.0, doc="mean exchange trade size (sets the trade count)")
    # --- ETH ----------------------------------------------------------------------------------------
    eth_s0: float = param(3_000.0, gt=0.0, doc="ETH price at the start")
    eth_rho: float = param(0.8, ge=-1.0, le=1.0, doc="correlation of ETH and BTC diffusion shocks")
    eth_vol_ratio: float = param(1.25, gt=0.0, doc="ETH diffusion vol / BTC diffusion vol")
    eth_jump_beta: float = param(1.2, ge=0.0, doc="ETH log-jump = beta x BTC log-jump (common jumps)")
    # --- settlement oracle (Chainlink Data Streams-like) -------------------------------------------
    oracle_noise_bps: float = param(0.02, ge=0.0, le=100.0, doc="sd of the oracle's i.i.d. log-noise (bp)")
    oracle_smoothing_s: float = param(1.8, ge=0.0, le=120.0,
                                      doc="time constant (s) of the oracle's exponential smoothing of the "
                                          "spot's diffusive moves (0: spot plus noise)")
    oracle_latency_s: float = param(0.6, ge=0.0, le=30.0, doc="mean delay from stamp to receipt")
    oracle_missing_rate: float = param(0.0, ge=0.0, lt=1.0, doc="share of 1 Hz ticks missing from the file")
    settlement: str = param("timeline", choices=("timeline", "instant", "twap"),
                            doc="settlement mode: from the rules timeline, or forced")
    twap_lookback_s: int = param(0, ge=0, le=600, doc="TWAP lookback (0: the timeline's default)")
    push_deviation: float = param(0.001, gt=0.0, le=0.5, doc="push feed: update on this relative move")
    push_heartbeat_s: int = param(60, ge=1, doc="push feed: update at least this often")
    # --- Polymarket market maker ------------------------------------------------------------------
    quote_every_s: float = param(2.0, ge=0.25, le=60.0,
                                 doc="cadence of the full-depth snapshots and of the quotes taken from them (s)")
    belief_step_s: float = param(0.25, gt=0.0, le=2.0,
                                 doc="the maker's belief and the truth are computed on this grid (s; a whole "
                                     "number of path steps: the truth is exact at any instant when it is one step)")
    mm_stale_s: float = param(0.0, ge=0.0, le=600.0, doc="maker's spot is this many seconds stale")
    mm_vol_mult: float = param(1.0, gt=0.0, le=10.0, doc="maker's vol = true vol x this factor")
    mm_noise: float = param(0.0, ge=0.0, le=3.0, doc="stationary sd of the AR(1) logit noise on the maker's belief")
    mm_noise_time_s: float = param(19.0, gt=0.0, le=3600.0, doc="correlation time of the maker's logit noise (s)")
    mm_ignores_jumps: bool = param(False, doc="maker prices with a pure diffusion")
    taker_trades_per_min: float = param(1.5, ge=0.0, doc="noise-taker arrivals per minute per market")
    taker_size_shares: float = param(40.0, gt=0.0, doc="median noise-taker size (shares)")

    def __post_init__(self) -> None:
        bad = [i for i in self.intervals if i not in (5, 15)]
        if bad or not self.intervals:
            raise ConfigError(f"simulator config: intervals must be 5 and/or 15 minutes, got {self.intervals}")
        steps = self.belief_step_s * self.substeps_per_s
        if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
            raise ConfigError(f"simulator config: belief_step_s ({self.belief_step_s:g}) must be a whole number of "
                              f"path steps (1 / substeps_per_s = {1.0 / self.substeps_per_s:g} s)")


#: Named worlds, all on the calibrated process and the event-level maker book. ``no-edge``: the maker
#: quotes the true P (nothing beats it after fees and spread); ``realistic``: a maker a few seconds
#: stale with a little noise, an edge of the size the real data allows; ``hard``: smaller faults, an edge
#: near the fee curve; ``edge``: a stale, vol-misspecified, noisy maker (the plumbing's check).
#: The true edges each gives are measured in the README ("Simulated worlds").
PRESETS: dict[str, dict[str, Any]] = {
    "no-edge": {"mm_stale_s": 0.0, "mm_vol_mult": 1.0, "mm_noise": 0.0},
    "realistic": {"mm_stale_s": 3.5, "mm_vol_mult": 1.0, "mm_noise": 0.04},
    "hard": {"mm_stale_s": 5.0, "mm_vol_mult": 1.1, "mm_noise": 0.07},
    "edge": {"mm_stale_s": 20.0, "mm_vol_mult": 1.5, "mm_noise": 0.25},
}


#: The spot and oracle parameters calibrated to the real sample (issue 13, points 3-4): the simulator's
#: defaults. The oracle smooths the spot's diffusive moves with a 1.8 s time constant plus 0.02 bp noise;
#: 1,000 small jumps a day (sd 2.9 bp at the base vol, scaled with each window's vol so that their share
#: of the variance does not swing with the vol level; passed to the oracle at once) give the 1-s tails, a
#: log-vol of stationary sd 0.53 the 1-minute tails; the base vol 0.30 gives a realized vol near 50% a year.
#: Measured (``tests/simulate/test_realism.py``, same definitions as the real sample): oracle 1-s lag-1
#: autocorrelation 0.28 (real 0.24-0.33; sd 0.004 across 7-day worlds), variance ratio at 60 s 2.25
#: (2.1-2.4; sd 0.04), share beyond 5 sd 0.54% (0.5-0.6%); Binance 1-minute share beyond 5 sd 0.31%
#: over 400 days (0.27-0.33%; a 7-day world's is too noisy, sd 0.11 points: see ``kline_history_days``).
REALISTIC_PROCESS: dict[str, Any] = {
    "sigma": 0.30, "vol_of_vol": 0.53, "jumps_per_day": 1000.0, "jump_sd": 0.00029, "jump_mean": 0.0,
    "oracle_noise_bps": 0.02, "oracle_smoothing_s": 1.8, "jumps_scale_with_vol": True,
}

#: The former (pre-issue-13) process: few large jumps, spot plus white noise as the oracle. For tests
#: whose estimators need a nearly jump-free path (``make_config("edge", **SIMPLE_PROCESS)``).
SIMPLE_PROCESS: dict[str, Any] = {
    "sigma": 0.45, "vol_of_vol": 0.2, "jumps_per_day": 4.0, "jump_sd": 0.003, "jump_mean": 0.0,
    "oracle_noise_bps": 0.5, "oracle_smoothing_s": 0.0, "jumps_scale_with_vol": False,
}


def make_config(preset: str = "edge", **overrides: Any) -> SimConfig:
    """A :class:`SimConfig` from a named preset with keyword overrides (all validated)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    values = {**PRESETS[preset], **overrides}
    return from_mapping(SimConfig, values, what=f"simulator config (preset {preset!r})")


@dataclass(frozen=True)
class WorldSpec(Validated):
    """The parameters naming a simulated world: a preset, its length, seed and start.

    Experiments hold one as a nested config (``cfg.world``, :func:`pmresearch.config.nested`) whose
    fields stay flat notebook parameters; :meth:`sim_config` is the full simulator config.
    """

    preset: str = param("edge", choices=tuple(PRESETS), doc="simulated world")
    days: float = param(7.0, gt=0.0, le=366.0, doc="simulated days")
    seed: int = param(0, ge=0, doc="simulator seed")
    start: str = param("2026-06-15", doc="simulated world start (UTC date)")

    def sim_config(self, **overrides: Any) -> SimConfig:
        """The :class:`SimConfig` of this world (:func:`make_config`), with simulator ``overrides``."""
        return make_config(self.preset, days=self.days, seed=self.seed, start=self.start, **overrides)

    def describe(self) -> str:
        """``"simulated edge world, 7 days from 2026-06-15, seed 0"``."""
        return f"simulated {self.preset} world, {self.days:g} days from {self.start}, seed {self.seed}"


@dataclass(frozen=True)
class WorldParams(RunnerParams, WorldSpec):
    """Notebook parameters naming a simulated world (used when ``data_dir`` is empty): the runner keys
    (:class:`~pmresearch.config.RunnerParams`) and a :class:`WorldSpec`, flat (kept for configs that
    inherit it; new configs nest a :class:`WorldSpec` instead)."""

    @property
    def world_spec(self) -> WorldSpec:
        """The :class:`WorldSpec` part."""
        return WorldSpec(preset=self.preset, days=self.days, seed=self.seed, start=self.start)
