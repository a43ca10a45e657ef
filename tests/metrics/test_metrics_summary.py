"""The metrics' results follow the result protocol: ``summary()`` is a :class:`Summary`, ``str`` and the
notebook HTML derive from it, and the values shown are the result's own fields."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pmresearch._summary import Summary
from pmresearch.metrics import RatioBound, cluster_ratio_lower_bound, diebold_mariano


def test_dm_result_summary_is_its_fields() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 1.0, 200), rng.normal(1.2, 1.0, 200)
    res = diebold_mariano(a, b, h=2, alternative="less")
    s = res.summary()
    assert isinstance(s, Summary) and s.names == ("test",)
    table = s["test"]["value"]
    for f in dataclasses.fields(res):
        assert table[f.name] == getattr(res, f.name), f.name
    assert "Student-t with 199 df" in s.notes[0] and "'less'" in s.notes[1]
    assert str(res) == s.as_text() and res._repr_html_() == s.as_html()
    assert res.table is res.table  # cached
    raw = diebold_mariano(a, b, hln=False)
    assert "N(0, 1)" in raw.summary().notes[0]


def test_ratio_bound_summary() -> None:
    pnl = np.array([1.0, -0.5, 0.7, 0.2, -0.1, 0.9])
    bound = cluster_ratio_lower_bound(pnl, np.ones(6), list("aabbcc"), n_resamples=500, seed=1)
    s = bound.summary()
    row = s["bound"].loc["ratio"]
    assert (row["estimate"], row["lower"], row["clusters"]) == (bound.estimate, bound.lower, 3)
    assert bound.estimate == pytest.approx(pnl.sum() / 6, rel=1e-15, abs=1e-15)
    assert str(bound) == s.as_text() and isinstance(bound, RatioBound)
