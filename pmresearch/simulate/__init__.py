"""Ground-truth market world: spot, oracle, Polymarket books, outcomes and the true P(up).

``simulate(preset, days, seed, start)`` returns a :class:`World` in the canonical schemas of
``../shared/data/README.md`` whose quotes carry ``true_prob_up``; ``World.write(dir)`` lays it out as a
data directory that loads exactly like a real one. :func:`simulate_decisions` is the light path mode.
"""

from __future__ import annotations

from pmresearch.simulate.calibration import CalibrationStats, calibration_stats, calibration_table
from pmresearch.simulate.config import (
    PRESETS,
    REALISTIC_PROCESS,
    SIMPLE_PROCESS,
    SimConfig,
    WorldParams,
    WorldSpec,
    make_config,
)
from pmresearch.simulate.light import simulate_decisions, simulate_path
from pmresearch.simulate.process import true_prob_up, window_vols
from pmresearch.simulate.world import World, simulate, simulate_config, truth_at

__all__ = [
    "PRESETS",
    "REALISTIC_PROCESS",
    "SIMPLE_PROCESS",
    "CalibrationStats",
    "SimConfig",
    "World",
    "WorldParams",
    "WorldSpec",
    "calibration_stats",
    "calibration_table",
    "make_config",
    "simulate",
    "simulate_config",
    "simulate_decisions",
    "simulate_path",
    "true_prob_up",
    "truth_at",
    "window_vols",
]
