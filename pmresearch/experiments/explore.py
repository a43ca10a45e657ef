"""The exploration experiment (``notebooks/00_explore.ipynb``): a data directory or a simulated world.

The same calls work on a simulated world and on a real data directory: a simulated world's quotes
carry ``true_prob_up``, a real one's do not, and the result shows what is there.

Examples
--------
>>> from pmresearch.experiments.explore import Config, run
>>> cfg = Config(days=0.1, seed=1)                         # doctest: +SKIP
>>> result = run(cfg)                                      # doctest: +SKIP
>>> result.headline()["markets"]                           # doctest: +SKIP

Figures of a result: :func:`pmresearch.reports.explore.price_figure` and
:func:`~pmresearch.reports.explore.market_figure` of ``result.frames``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch._summary import Summary
from pmresearch.config import NestedConfig, RunnerParams, nested, param
from pmresearch.data import read_data_dir
from pmresearch.experiments._common import ExperimentResult, world_field
from pmresearch.simulate import World, WorldSpec, simulate
from pmresearch.simulate.calibration import (
    CalibrationStats,
    calibration_stats,
    calibration_table,
    frames_from_dir,
    frames_from_world,
)

__all__ = [
    "NOTEBOOK",
    "Config",
    "ExploreConfig",
    "ExploreResult",
    "Result",
    "calibration_report",
    "inventory",
    "load_frames",
    "reliability_table",
    "run",
]

#: The notebook this experiment serves.
NOTEBOOK = "00_explore"


@dataclass(frozen=True, init=False)
class ExploreConfig(NestedConfig):
    """Parameters of ``notebooks/00_explore.ipynb`` (``db`` is accepted but unused: nothing is stored).

    ``runner.data_dir`` names a data directory to read; empty simulates ``world`` (a
    :class:`~pmresearch.simulate.WorldSpec` of at most 31 days). The notebook's flat parameters are
    the flat keys (:func:`pmresearch.config.flat_fields`); every value is checked on construction.
    """

    runner: RunnerParams = nested(RunnerParams, doc="run name, data directory (and an unused store)")  # noqa: RUF009
    world: WorldSpec = world_field(days=1.0, max_days=31.0)  # noqa: RUF009
    interval_minutes: int = param(15, choices=(5, 15), doc="market window length to show")
    market_index: int = param(3, ge=0, doc="which market (in time order) to draw in detail")
    calibration: bool = param(False, doc="add the calibration report: this run's world or data directory "
                                         "against calibration_reference, side by side")
    calibration_reference: str = param("../shared/data", doc="the calibration report's second source: a data "
                                                             "directory (relative: to the repository root)")
    kline_history_days: float = param(0.0, ge=0.0, le=366.0,
                                      doc="simulated world only: days of 1m klines before its start (the real "
                                          "sample's klines span a quarter; the 1-minute tail share needs them)")


#: The experiment's config under its generic name.
Config = ExploreConfig


def load_frames(cfg: ExploreConfig, root: Path | None = None, *, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Canonical frames by kind (klines, oracle, markets, quotes, books, trades) for ``cfg``.

    Parameters
    ----------
    cfg : ExploreConfig
        The parameters: ``data_dir`` if given, else the simulated world.
    root : Path, optional
        Where a relative ``data_dir`` resolves (default: the working directory).
    progress : bool
        Show the simulator's progress bar.

    Returns
    -------
    dict of str to DataFrame
        The frames in the canonical schemas, by kind.
    """
    return _load(cfg, root, progress=progress)[0]


def _resolve(path: str, root: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p


def _load(cfg: ExploreConfig, root: Path | None, *, progress: bool) -> tuple[dict[str, pd.DataFrame], World | None]:
    """:func:`load_frames` and the simulated world they come from (None for a data directory)."""
    if cfg.runner.data_dir:
        return dict(read_data_dir(_resolve(cfg.runner.data_dir, root)).frames), None
    spec = cfg.world
    w = simulate(spec.preset, days=spec.days, seed=spec.seed, start=spec.start, progress=progress,
                 kline_history_days=cfg.kline_history_days)
    return _world_frames(w), w


def _world_frames(w: World) -> dict[str, pd.DataFrame]:
    parts = [w.kline_history] if len(w.kline_history) else []
    klines = pd.concat([*parts, w.klines, w.klines_1s, w.eth_klines], ignore_index=True)
    return {"klines": klines, "oracle": pd.concat([w.oracle, w.oracle_push], ignore_index=True),
            "markets": w.markets, "quotes": w.quotes, "books": w.top_books, "trades": w.trades}


def calibration_report(cfg: ExploreConfig, world: World | None, root: Path | None = None
                       ) -> tuple[pd.DataFrame, tuple[CalibrationStats, CalibrationStats]]:
    """The calibration statistics of the run's source (``world``, else ``cfg``'s data directory) and of
    ``cfg.calibration_reference``, and the side-by-side table
    (:func:`pmresearch.simulate.calibration.calibration_table`). Sources are labelled by the names given in
    ``cfg`` (a relative path stays relative: a report travels)."""
    if world is not None:
        spec = cfg.world
        run_label = f"sim {spec.preset} {spec.days:g}d seed {spec.seed}"
        if cfg.kline_history_days:
            run_label += f" (+{cfg.kline_history_days:g}d 1m klines)"
        run_stats = calibration_stats(frames_from_world(world), run_label)
    else:
        run_label = cfg.runner.data_dir
        run_stats = calibration_stats(frames_from_dir(_resolve(run_label, root)), run_label)
    ref_label = cfg.calibration_reference
    if ref_label == run_label:
        ref_label = f"reference {ref_label}"
    ref_stats = calibration_stats(frames_from_dir(_resolve(cfg.calibration_reference, root)), ref_label)
    table = calibration_table(run_stats, ref_stats, names=(run_stats.label, ref_stats.label))
    return table, (run_stats, ref_stats)


def inventory(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows and time range of each kind of data.

    Returns
    -------
    DataFrame
        One row per kind: ``rows``, ``from`` (earliest ``ts`` or ``window_start``) and ``to``
        (latest ``ts`` or ``window_end``).
    """
    def first(f: pd.DataFrame, names: tuple[str, str]) -> str | None:
        return next((c for c in f.columns if c in names), None)

    out = {}
    for kind, f in frames.items():
        lo, hi = first(f, ("ts", "window_start")), first(f, ("ts", "window_end"))
        out[kind] = {"rows": len(f), "from": f[lo].min() if lo else pd.NaT, "to": f[hi].max() if hi else pd.NaT}
    return pd.DataFrame(out).T


def reliability_table(frames: Mapping[str, pd.DataFrame], n_bins: int = 10) -> pd.DataFrame:
    """Mean outcome per bin of the market mid (and of the true P when simulated): how calibrated the
    quotes are.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        ``quotes`` and ``markets`` in the canonical schemas.
    n_bins : int
        Equal-width bins of the mid on [0, 1].

    Returns
    -------
    DataFrame
        Per bin: ``quotes``, ``mean_mid``, ``share_up`` and, on a simulated world, ``mean_true_p``;
        ``attrs["brier_mid"]`` (and ``attrs["brier_true"]``) are the Brier scores over every quote of
        every market with an outcome. Empty without quotes or markets.
    """
    q, mk = frames.get("quotes"), frames.get("markets")
    if q is None or mk is None or len(q) == 0:
        return pd.DataFrame()
    d = q.merge(mk[["slug", "outcome_up"]], on="slug", how="inner")
    d = d[d["outcome_up"].notna() & d["best_bid_up"].notna() & d["best_ask_up"].notna()]
    d = d.assign(mid=(d["best_bid_up"] + d["best_ask_up"]) / 2.0, y=d["outcome_up"].astype(float))
    bins = pd.cut(d["mid"], list(np.linspace(0.0, 1.0, n_bins + 1)), include_lowest=True)
    table = d.groupby(bins, observed=True).agg(quotes=("y", "size"), mean_mid=("mid", "mean"), share_up=("y", "mean"))
    if "true_prob_up" in d:
        table["mean_true_p"] = d.groupby(bins, observed=True)["true_prob_up"].mean()
    table.attrs["brier_mid"] = float(((d["mid"] - d["y"]) ** 2).mean())
    if "true_prob_up" in d:
        table.attrs["brier_true"] = float(((d["true_prob_up"] - d["y"]) ** 2).mean())
    return table


@dataclass(frozen=True)
class ExploreResult(ExperimentResult):
    """Everything ``notebooks/00_explore.ipynb`` shows, immutable (mappings are read-only views).

    Attributes
    ----------
    frames : mapping of str to DataFrame
        The canonical frames by kind (:func:`load_frames`).
    inventory : DataFrame
        Rows and time range per kind (:func:`inventory`).
    reliability : DataFrame
        The calibration table of the quotes (:func:`reliability_table`).
    calibration : DataFrame or None
        With ``calibration: true``: the run's source and the reference side by side
        (:func:`calibration_report`); ``calibration_stats`` holds both results.
    """

    config: ExploreConfig
    frames: Mapping[str, pd.DataFrame] = field(repr=False)
    inventory: pd.DataFrame = field(repr=False)
    reliability: pd.DataFrame = field(repr=False)
    calibration: pd.DataFrame | None = field(default=None, repr=False)
    calibration_stats: tuple[CalibrationStats, ...] = field(default=(), repr=False)
    timings: Mapping[str, float] = field(default_factory=dict)

    @functools.cached_property
    def brier_mid(self) -> float | None:
        """Brier score of the quoted mid (None without quotes with an outcome)."""
        return self.reliability.attrs.get("brier_mid")

    @functools.cached_property
    def brier_true(self) -> float | None:
        """Brier score of the true P(up) (None on real data)."""
        return self.reliability.attrs.get("brier_true")

    def headline(self) -> dict[str, Any]:
        """The figures written to ``reports/00_explore/<run>.json``: ``rows`` per kind, ``markets``,
        ``brier_mid`` and ``brier_true``; with ``calibration: true`` also ``calibration``: source label ->
        statistic -> value (NaN written as null)."""
        out: dict[str, Any] = {
            "rows": {kind: len(f) for kind, f in self.frames.items()},
            "markets": len(self.frames.get("markets", [])),
            "brier_mid": self.brier_mid,
            "brier_true": self.brier_true,
        }
        if self.calibration_stats:
            out["calibration"] = {s.label: dict(s.values) for s in self.calibration_stats}
        return out

    def summary(self) -> Summary:
        """The inventory of the data (rows and time range per kind) and the quotes' calibration."""
        brier = {"brier_mid": self.brier_mid, "brier_true": self.brier_true}
        tables: list[tuple[str, Any]] = [("inventory", self.inventory), ("brier", brier)]
        if len(self.reliability):
            tables.append(("reliability", self.reliability.set_axis(self.reliability.index.astype(str))))
        if self.calibration is not None:
            tables.append(("calibration", self.calibration))
        notes = ("brier_true is None on real data (no ground truth)",) if self.brier_true is None else ()
        return Summary("Exploration: what the data holds", tuple(tables), notes=notes)


#: The experiment's result under its generic name.
Result = ExploreResult


def run(cfg: ExploreConfig, *, root: Path | None = None, progress: bool = True) -> ExploreResult:
    """Load the frames of ``cfg`` and measure how calibrated the quotes are.

    Parameters
    ----------
    cfg : ExploreConfig
        The parameters.
    root : Path, optional
        Where a relative ``data_dir`` resolves (default: the working directory).
    progress : bool
        Show progress bars (``TQDM_DISABLE=1`` turns them off whatever this says).

    Returns
    -------
    ExploreResult
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    frames, world = _load(cfg, root, progress=progress)
    timings["load_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    table = reliability_table(frames)
    timings["reliability_s"] = time.perf_counter() - clock
    calib: pd.DataFrame | None = None
    stats: tuple[CalibrationStats, ...] = ()
    if cfg.calibration:
        clock = time.perf_counter()
        calib, stats = calibration_report(cfg, world, root)
        timings["calibration_s"] = time.perf_counter() - clock
    return ExploreResult(config=cfg, frames=frames, inventory=inventory(frames), reliability=table,
                         calibration=calib, calibration_stats=stats, timings=timings)
