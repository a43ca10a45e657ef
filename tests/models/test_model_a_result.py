"""The Model A experiment's result object (pmresearch.experiments.model_a.ModelAResult): the result protocol.

Built from small hand-made tables (the experiment itself runs in tests/reports/test_model_a_report.py and
tests/test_notebooks.py): ``summary()`` is a :class:`pmresearch._summary.Summary` holding the very tables of
the result, ``str``/``_repr_html_`` derive from it, and the mappings it holds are read-only.
"""

from __future__ import annotations

import types
from typing import Any

import pandas as pd
import pytest

from pmresearch._summary import Summary
from pmresearch.experiments.model_a import ModelAConfig, ModelAResult
from pmresearch.models import ModelA
from pmresearch.pricing import JumpLaw


def _result() -> ModelAResult:
    scores = pd.DataFrame({"log_loss": [0.62, 0.60, 0.66, 0.58, 0.55], "brier": [0.21, 0.20, 0.23, 0.19, 0.18]},
                          index=["bs_hv", "bs_garch", "merton_true", "market mid", "true P(up)"])
    scores.attrs["rows"], scores.attrs["windows"] = 1234, 56
    jumps = pd.DataFrame({"estimate": [1400.0], "lower": [900.0], "upper": [2100.0], "truth": [1460.0],
                          "covered": [True]}, index=["lam"])
    truth = pd.DataFrame({"sigma": [0.4, 0.5, 0.6], "jump_steps": [0, 2, 1]})
    empty = pd.DataFrame()
    fields: dict[str, Any] = {
        "config": ModelAConfig(days=1.75, seed=1), "world": types.SimpleNamespace(truth=truth),
        "estimates": empty, "estimator_table": empty, "forecasts": None, "forecast_table": empty,
        "jump_fit": None, "jumps": jumps, "rows": empty, "scores": scores, "probs": empty,
        "models": {"bs_hv": ModelA("bs"), "merton_true": ModelA("merton", jumps=JumpLaw(1460.0, 0.0, 0.003))},
        "timings": {"world_s": 1.5, "model_a_s": 0.25},
    }
    return ModelAResult(**fields)


def test_summary_holds_the_result_tables() -> None:
    res = _result()
    s = res.summary()
    assert isinstance(s, Summary) and s.names == ("scores", "jumps", "world")
    pd.testing.assert_frame_equal(s.frame, res.scores)
    pd.testing.assert_frame_equal(s["jumps"], res.jumps)
    assert s["world"].loc["jumps", "world"] == 3 and s["world"].loc["15-minute windows", "world"] == 3
    # the best Model A variant leaves the references (merton_true, market mid, truth) out: bs_garch, not truth
    assert res.best_model_a() == "bs_garch"
    assert "best Model A variant by log loss: bs_garch" in s.as_text()
    assert "1,234 decision rows in 56 windows" in s.as_text()
    assert str(res) == s.as_text() and res._repr_html_() == s.as_html() and s.as_html().count("<table") == 3


def test_result_mappings_are_read_only() -> None:
    res = _result()
    assert list(res.models) == ["bs_hv", "merton_true"] and dict(res.timings) == {"world_s": 1.5, "model_a_s": 0.25}
    with pytest.raises(TypeError):
        res.models["other"] = ModelA()  # type: ignore[index]
    with pytest.raises(TypeError):
        res.timings["world_s"] = 0.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        res.scores = pd.DataFrame()  # type: ignore[misc]
