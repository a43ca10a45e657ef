"""The calibration report: its table, figures and the 00_explore section (pmresearch.reports.calibration)."""

from __future__ import annotations

import math
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.config import from_mapping
from pmresearch.experiments.explore import Config, run
from pmresearch.reports.calibration import (
    calibration_table_html,
    mid_calibration_figure,
    ranges_figure,
    rv_hour_figure,
)
from pmresearch.simulate import simulate
from pmresearch.simulate.calibration import (
    REAL_RANGES,
    CalibrationStats,
    calibration_stats,
    calibration_table,
    frames_from_dir,
    frames_from_world,
)


def _stats(label: str, vr: float) -> CalibrationStats:
    values = {"spread_median_c": 1.0, "oracle_vr60": vr, "oracle_ac1": math.nan, "share_up": 0.5}
    hours = pd.DataFrame({"rv": [0.4, 0.6], "n": [60, 60]}, index=pd.Index([0, 1], name="hour"))
    calib = pd.DataFrame({"n": [10, 30], "mean_mid": [0.2, 0.8], "share_up": [0.1, 0.9]}, index=["a", "b"])
    return CalibrationStats(types.MappingProxyType(values), ("oracle_ac1: NaN, no oracle",), hours, calib, label)


def test_table_and_figures_of_two_sources() -> None:
    a, b = _stats("sim", 2.25), _stats("real", 1.0)
    table = calibration_table(a, b, names=("sim", "real"))
    assert table.loc["oracle_vr60", "sim"] == 2.25 and table.loc["oracle_vr60", "real"] == 1.0
    assert table.loc["oracle_vr60", "inside sim"] is True and table.loc["oracle_vr60", "inside real"] is False
    assert table.loc["oracle_vr60", "real range"] == "2.1 to 2.4"
    assert table.loc["share_up", "inside sim"] is None  # no real range in the issue
    page = calibration_table_html(table).data
    assert "inside sim" in page and ">yes<" in page and ">no<" in page and "—" in page  # NaN shown as a dash
    fig = ranges_figure([a, b])
    assert len(fig.data) == 3  # the band and one marker trace per source
    names = list(REAL_RANGES)
    i = names.index("oracle_vr60")
    assert fig.data[1].y[i] == pytest.approx(2.25 / 2.25)
    assert fig.data[2].y[i] == pytest.approx(1.0 / 2.25)
    assert len(rv_hour_figure([a, b]).data) == 2
    assert len(mid_calibration_figure([a, b]).data) == 3


def test_a_world_written_and_read_back_measures_the_same(tmp_path: Path) -> None:
    """Same code on both: a world in memory and the same world as a data directory give the same statistics.

    Three hours of 15-minute markets (books and all, ~1 M book rows) keep every statistic but the 1-minute
    tail share finite (that needs 720 minutes of history) in seconds; a 5-minute-market world would lose
    the mid-vs-BS statistics (15-minute windows)."""
    w = simulate("no-edge", days=0.125, seed=1, intervals=(15,), progress=False)
    w.write(tmp_path / "world")
    mem = calibration_stats(frames_from_world(w))
    disk = calibration_stats(frames_from_dir(tmp_path / "world"))
    finite = [k for k, v in mem.values.items() if np.isfinite(v)]
    assert len(finite) >= 12
    for name in mem.values:
        assert disk[name] == pytest.approx(mem[name], rel=1e-9, nan_ok=True), name
    # control: another seed measures differently
    other = calibration_stats(frames_from_world(simulate("no-edge", days=0.125, seed=2, intervals=(15,),
                                                         progress=False)))
    assert other["oracle_vr60"] != mem["oracle_vr60"]


def test_explore_with_calibration(tmp_path: Path) -> None:
    # a 3-hour reference of 15-minute markets; the run's own world is 3 hours too (its Config has no intervals)
    w = simulate("no-edge", days=0.125, seed=3, intervals=(15,), progress=False)
    w.write(tmp_path / "ref")
    cfg = from_mapping(Config, {"preset": "no-edge", "days": 0.125, "seed": 1, "calibration": True,
                                "calibration_reference": "ref"}, what="test")
    result = run(cfg, root=tmp_path, progress=False)
    assert result.calibration is not None
    run_label, ref_label = (s.label for s in result.calibration_stats)
    assert ref_label == "ref" and "no-edge" in run_label
    assert list(result.calibration.columns[1:3]) == [run_label, ref_label]
    ref = calibration_stats(frames_from_dir(tmp_path / "ref"))
    assert result.calibration.loc["spread_p90_c", "ref"] == ref["spread_p90_c"]
    assert "calibration" in result.summary().names
    assert result.headline()["calibration"]["ref"]["spread_p90_c"] == ref["spread_p90_c"]
    off = run(from_mapping(Config, {"preset": "no-edge", "days": 0.125, "seed": 1}, what="test"), progress=False)
    assert off.calibration is None and "calibration" not in off.summary().names
    assert "calibration" not in off.headline()
