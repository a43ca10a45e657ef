"""The headline JSON (conversion, atomic write, default root) and the index page."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmresearch.config import ConfigError
from pmresearch.reports import REPO_ROOT_ENV, build_index, find_repo_root, headline_path, to_jsonable, write_headline

# ---------------------------------------------------------------- headline JSON


def test_to_jsonable_converts_numpy_pandas_and_missing_values() -> None:
    value = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(False),
        "nan": np.nan,
        "inf": float("inf"),
        "na": pd.NA,
        "nat": pd.NaT,
        "ts": pd.Timestamp("2026-06-15 01:02:03.5", tz="UTC"),
        "dt64": np.datetime64("2026-06-15T00:00:00"),
        "date": dt.date(2026, 6, 15),
        "td": pd.Timedelta(seconds=90),
        "arr": np.array([1.0, np.nan]),
        "tuple": (1, "a"),
        "path": Path("data/x"),
        "frame": pd.DataFrame({"a": [1, 2], "b": ["x", None]}),
        "series": pd.Series({"p": 0.25}),
    }
    assert to_jsonable(value) == {
        "i": 3,
        "f": 0.5,
        "b": False,
        "nan": None,
        "inf": None,
        "na": None,
        "nat": None,
        "ts": "2026-06-15T01:02:03.500000+00:00",
        "dt64": "2026-06-15T00:00:00",
        "date": "2026-06-15",
        "td": "P0DT0H1M30S",
        "arr": [1.0, None],
        "tuple": [1, "a"],
        "path": "data/x",
        "frame": [{"a": 1, "b": "x"}, {"a": 2, "b": None}],
        "series": {"p": 0.25},
    }
    assert type(to_jsonable(np.int64(3))) is int and type(to_jsonable(np.float32(0.5))) is float


def test_to_jsonable_names_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match=r"figures\['criteria'\]\[1\]: cannot write a object"):
        to_jsonable({"criteria": [1, object()]})
    with pytest.raises(TypeError, match=r"figures\['x'\]: key 1 is a int"):
        to_jsonable({"x": {1: "a"}})


def test_write_headline_round_trips_atomically(tmp_path: Path) -> None:
    figures = {"decision": "NO-GO", "criteria": [{"name": "n", "value": np.float64(np.nan),
                                                  "threshold": 1, "passed": np.bool_(False)}],
               "sharpe": np.float64(1.25)}
    path = write_headline("nb", "run1", figures, repo_root=tmp_path)
    assert path == tmp_path / "reports" / "nb" / "run1.json" == headline_path("nb", "run1", repo_root=tmp_path)
    assert json.loads(path.read_text()) == {
        "decision": "NO-GO",
        "criteria": [{"name": "n", "value": None, "threshold": 1, "passed": False}],
        "sharpe": 1.25,
    }
    assert "NaN" not in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["run1.json"]  # no temporary file left
    with pytest.raises(TypeError):  # an unwritable value leaves the previous file untouched
        write_headline("nb", "run1", {"bad": object()}, repo_root=tmp_path)
    assert json.loads(path.read_text())["sharpe"] == 1.25


def test_headline_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run_name '\.\./x' is not a valid name"):
        write_headline("nb", "../x", {}, repo_root=tmp_path)
    with pytest.raises(TypeError, match="figures must be a mapping"):
        write_headline("nb", "r", [("a", 1)], repo_root=tmp_path)  # type: ignore[arg-type]


def test_repo_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPO_ROOT_ENV, raising=False)
    package_root = find_repo_root()
    assert (package_root / "pyproject.toml").is_file() and (package_root / "pmresearch").is_dir()
    monkeypatch.setenv(REPO_ROOT_ENV, str(tmp_path))
    assert find_repo_root() == tmp_path.resolve()
    assert write_headline("nb", "r", {"a": 1}).parent == tmp_path.resolve() / "reports" / "nb"
    monkeypatch.setenv(REPO_ROOT_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is not a directory"):
        find_repo_root()


# ---------------------------------------------------------------- index page


def _report(reports: Path, nb: str, run: str, headline: dict[str, object] | str | None, mtime: float) -> None:
    out = reports / nb
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{run}.html").write_text("<html>report</html>")
    os.utime(out / f"{run}.html", (mtime, mtime))
    if isinstance(headline, str):
        (out / f"{run}.json").write_text(headline)
    elif headline is not None:
        (out / f"{run}.json").write_text(json.dumps(headline))


@pytest.fixture
def index_text(tmp_path: Path) -> str:
    reports = tmp_path / "reports"
    t0 = dt.datetime(2026, 6, 15, 12, 30, 5, tzinfo=dt.UTC).timestamp()
    _report(reports, "04_go_no_go", "sim_edge", {
        "decision": "GO",
        "criteria": [{"name": "trades", "value": 312, "threshold": 200, "passed": True, "rule": ">="},
                     {"name": "edge <lower bound>", "value": 0.0123456, "threshold": 0, "passed": True}],
        "sharpe": 1.5, "note": "<img src=x onerror=alert(1)>", "nested": {"skip": 1}, "missing": None,
    }, t0)
    _report(reports, "04_go_no_go", "sim_no_edge", {"decision": "NO-GO", "criteria": [
        {"name": "trades", "value": 12, "threshold": 200, "passed": False}]}, t0)
    _report(reports, "04_go_no_go", "broken", "{not json", t0)
    _report(reports, "04_go_no_go", "bad_criteria", {"decision": "GO", "criteria": [{"name": "<i>x</i>"}]}, t0)
    _report(reports, "01 feasibility", "plain", None, t0)
    (reports / "04_go_no_go" / "crashed.failed.ipynb").write_text("{}")
    os.utime(reports / "04_go_no_go" / "crashed.failed.ipynb", (t0, t0))
    (reports / "04_go_no_go" / ".sim_edge.html.123.tmp").write_text("temp")
    (reports / "empty").mkdir()
    path = build_index(reports)
    assert path == reports / "index.html"
    return path.read_text(encoding="utf-8")


def test_index_lists_notebooks_and_runs_in_order(index_text: str) -> None:
    assert "<title>pmresearch reports</title>" in index_text and "<h1>pmresearch reports</h1>" in index_text
    notebooks = re.findall(r'<section data-notebook="([^"]+)">', index_text)
    assert notebooks == ["01 feasibility", "04_go_no_go"]  # "empty" has no runs
    runs = re.findall(r'<tr data-run="([^"]+)">', index_text)
    assert runs == ["plain", "bad_criteria", "broken", "crashed", "sim_edge", "sim_no_edge"]
    assert 'href="01%20feasibility/plain.html"' in index_text
    assert 'href="04_go_no_go/sim_edge.html"' in index_text
    assert ".tmp" not in index_text
    assert index_text.count("2026-06-15 12:30:05 UTC") == 6  # five reports' mtimes, and the failed one's
    assert "<script" not in index_text


def test_index_shows_decisions_criteria_and_scalars_escaped(index_text: str) -> None:
    assert 'class="pmr-badge pmr-badge-go" data-pmr-decision="GO"' in index_text
    assert 'class="pmr-badge pmr-badge-nogo" data-pmr-decision="NO-GO"' in index_text
    assert "<tr><td>trades</td><td>312</td><td>&gt;= 200</td><td class=\"pmr-pass\">✓</td></tr>" in index_text
    assert "<tr><td>trades</td><td>12</td><td>200</td><td class=\"pmr-fail\">✗</td></tr>" in index_text
    assert "edge &lt;lower bound&gt;" in index_text and "<td>0.01235</td>" in index_text
    assert "<dt>sharpe</dt><dd>1.5</dd>" in index_text and "<dt>missing</dt><dd>—</dd>" in index_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in index_text and "<img" not in index_text
    assert "nested" not in index_text  # only scalars are listed
    assert "unreadable headline" in index_text
    assert "malformed criteria: criteria[0] (&#x27;&lt;i&gt;x&lt;/i&gt;&#x27;) lacks key(s)" in index_text
    assert "<i>" not in index_text
    assert 'href="04_go_no_go/crashed.failed.ipynb"' in index_text and 'data-pmr-decision="FAILED"' in index_text


def test_empty_index(tmp_path: Path) -> None:
    text = build_index(tmp_path / "reports").read_text()
    assert "No reports yet" in text and "<section" not in text
