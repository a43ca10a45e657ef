"""The exploration experiment's result follows the result protocol (a :class:`Summary`, read-only
mappings, cached statistics) and its config nests the world with the notebook's flat keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmresearch._summary import Summary
from pmresearch.config import ConfigError, from_mapping
from pmresearch.experiments.explore import Config, ExploreResult, run
from pmresearch.simulate import WorldSpec, simulate


def test_explore_result_summary(tmp_path: Path) -> None:
    cfg = from_mapping(Config, {"days": 0.1, "seed": 1, "run_name": "t"}, what="params/00_explore/t.yaml")
    assert cfg.world == WorldSpec(days=0.1, seed=1) and cfg.runner.run_name == "t"
    result = run(cfg, root=tmp_path, progress=False)
    assert isinstance(result, ExploreResult)
    world = simulate("edge", days=0.1, seed=1)  # the same world, independently
    assert result.headline()["markets"] == len(world.markets)
    s = result.summary()
    assert isinstance(s, Summary) and s.names == ("inventory", "brier", "reliability")
    assert s["inventory"].loc["quotes", "rows"] == len(world.quotes)
    assert s["brier"].loc["brier_true", "value"] == result.brier_true < result.brier_mid
    assert s["reliability"]["quotes"].sum() > 0
    assert str(result) == s.as_text() and result._repr_html_() == s.as_html()
    with pytest.raises(TypeError):
        result.frames["quotes"] = world.quotes  # type: ignore[index]  # read-only
    with pytest.raises(TypeError):
        result.timings["load_s"] = 0.0  # type: ignore[index]


def test_explore_config_refuses_a_long_world() -> None:
    with pytest.raises(ConfigError, match=r"^params.yaml: days: 40.0 must be <= 31.0$"):
        from_mapping(Config, {"days": 40}, what="params.yaml")
