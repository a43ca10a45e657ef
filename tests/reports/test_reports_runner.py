"""run_notebook: parameters, execution, the offline HTML report, the headline JSON and failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import plotly
import pytest
from nbconvert import HTMLExporter
from notebook_factory import SessionRuns, make_repo, resource_refs, write_notebook

from pmresearch.config import ConfigError
from pmresearch.reports import run_notebook

PLOTLYJS_BANNER = f"plotly.js v{plotly.offline.get_plotlyjs_version()}"


def _no_execution(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("papermill.execute_notebook must not be called")


# ---------------------------------------------------------------- a successful run


def test_outputs_are_written_under_reports(runs: SessionRuns) -> None:
    out_dir = runs.repo / "reports" / "tiny"
    assert runs.ok.notebook == "tiny"
    assert runs.ok.run_name == "ci"  # the params file's stem
    assert (runs.ok.ipynb, runs.ok.html, runs.ok.json) == (
        out_dir / "ci.ipynb",
        out_dir / "ci.html",
        out_dir / "ci.json",
    )
    assert runs.ok.index == runs.repo / "reports" / "index.html"
    for path in (runs.ok.ipynb, runs.ok.html, runs.ok.json, runs.ok.index):
        assert path.is_file() and path.stat().st_size > 0, path
    assert runs.ok.elapsed_s > 0
    assert not (out_dir / "ci.failed.ipynb").exists()
    assert [p.name for p in out_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_executed_notebook_holds_the_injected_parameters(runs: SessionRuns) -> None:
    nb = nbformat.read(str(runs.ok.ipynb), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    src = injected[0].source
    assert 'run_name = "ci"' in src and "days = 5" in src and 'label = "from-file"' in src
    stderr = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stderr"]
    assert any("STDERR-MARKER" in o.text for o in stderr)  # kept in the .ipynb, dropped from the HTML


def test_headline_json_round_trips(runs: SessionRuns) -> None:
    data = json.loads(runs.ok.json.read_text())
    assert data == {
        "decision": "GO",
        "criteria": [
            {"name": "edge-criterion", "value": 0.0123, "threshold": 0.01, "passed": True, "rule": ">="},
            {"name": "trades-criterion", "value": 250, "threshold": 200, "passed": True},
        ],
        "days": 5,  # the override wins over the params file's 2
        "label": "from-file",
        "when": "2026-06-15T12:00:00+00:00",
        "missing": None,
        "data_dir": str(runs.repo / "data" / "sim"),  # resolved against the repo root
        "db": "duckdb:///data/x.duckdb",  # URLs are kept as given
        "cwd": str(runs.repo),  # the notebook runs in the repo root
        "env_root": str(runs.repo),
    }
    assert isinstance(data["criteria"][1]["value"], int)


def test_html_shows_prose_tables_and_figures_but_no_code(runs: SessionRuns) -> None:
    text = runs.ok.html.read_text(encoding="utf-8")
    assert "<title>tiny · ci</title>" in text
    assert "PROSE-MARKER" in text
    assert "STDOUT-MARKER days=5" in text
    assert "TABLE-CAPTION" in text
    assert text.count('class="plotly-graph-div"') == 2
    assert "first-trace" in text and "second-trace" in text
    assert 'data-pmr="decision-table"' in text and 'data-pmr-decision="GO"' in text
    assert "edge-criterion" in text and "&gt;= 0.01" in text
    assert 'href="../index.html"' in text  # the run header links back to the index
    for code in ("CODE-MARKER", "write_headline(", "import plotly", "decision_table(criteria"):
        assert code not in text, code
    assert "STDERR-MARKER" not in text
    assert "Traceback" not in text and "ValueError" not in text


def test_html_embeds_plotlyjs_exactly_once(runs: SessionRuns) -> None:
    text = runs.ok.html.read_text(encoding="utf-8")
    assert text.count(PLOTLYJS_BANNER) == 1


def test_html_opens_offline(runs: SessionRuns) -> None:
    text = runs.ok.html.read_text(encoding="utf-8")
    refs = resource_refs(text)
    assert not [r for r in refs if "://" in r[1] or r[1].startswith("//")], refs
    assert '<script src="http' not in text and '<link href="http' not in text
    defaults = HTMLExporter()  # the CDN scripts of nbconvert's lab template are all gone
    for url in (defaults.require_js_url, defaults.mathjax_url, defaults.mermaid_js_url, defaults.jquery_url):
        assert url not in text, url


def test_index_links_the_report_and_shows_the_decision(runs: SessionRuns) -> None:
    text = runs.ok.index.read_text(encoding="utf-8")
    assert "<title>pmresearch reports</title>" in text
    assert 'href="tiny/ci.html"' in text
    assert 'class="pmr-badge pmr-badge-go" data-pmr-decision="GO"' in text
    assert "edge-criterion" in text and "trades-criterion" in text
    assert "<dt>label</dt><dd>from-file</dd>" in text and "<dt>days</dt><dd>5</dd>" in text
    assert "<dt>missing</dt><dd>—</dd>" in text
    assert "<script" not in text


# ---------------------------------------------------------------- failures


def test_failing_cell_raises_with_the_error_and_keeps_the_failed_notebook(runs: SessionRuns) -> None:
    err = runs.boom
    failed = runs.repo / "reports" / "boom" / "ci.failed.ipynb"
    assert (err.notebook, err.run_name, err.ename) == ("boom", "ci", "ValueError")
    assert "boom-marker" in err.evalue
    assert err.failed_notebook == failed and failed.is_file()
    assert "ValueError: boom-marker" in str(err) and str(failed) in str(err)
    nb = nbformat.read(str(failed), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ValueError"]


def test_failure_removes_the_stale_outputs_of_that_run(runs: SessionRuns) -> None:
    out_dir = runs.repo / "reports" / "boom"
    for ext in (".html", ".json", ".ipynb"):
        assert not (out_dir / f"ci{ext}").exists(), ext
    assert sorted(p.name for p in out_dir.iterdir()) == ["ci.failed.ipynb"]


def test_index_shows_the_failed_run_without_a_stale_success(runs: SessionRuns) -> None:
    text = (runs.repo / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'href="boom/ci.html"' not in text
    assert 'href="boom/ci.failed.ipynb"' in text
    assert 'data-pmr-decision="FAILED"' in text
    assert 'href="tiny/ci.html"' in text  # the earlier success of another notebook is still listed


def test_a_notebook_without_headline_fails(runs: SessionRuns) -> None:
    err = runs.nohead
    assert err.ename == "FileNotFoundError"
    assert "write_headline" in err.evalue and "default.json" in err.evalue  # run name "default"
    assert err.failed_notebook == runs.repo / "reports" / "nohead" / "default.failed.ipynb"
    assert err.failed_notebook.is_file()
    assert not (runs.repo / "reports" / "nohead" / "default.html").exists()


# ---------------------------------------------------------------- validation before execution


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh tiny repository in which executing a notebook is an error."""
    monkeypatch.setattr(papermill, "execute_notebook", _no_execution)
    return make_repo(tmp_path).resolve()


def test_unknown_key_in_params_file_is_a_config_error_before_execution(repo: Path) -> None:
    bad = repo / "params" / "tiny" / "bad.yaml"
    bad.write_text("days: 3\ndayz: 4\n")
    with pytest.raises(ConfigError) as exc:
        run_notebook("tiny", bad, repo_root=repo)
    message = str(exc.value)
    assert "'dayz'" in message and str(bad) in message
    assert "valid keys are ['data_dir', 'days', 'db', 'label', 'run_name']" in message
    assert not (repo / "reports" / "tiny").exists()


def test_unknown_override_is_a_config_error(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) 'seed' \(from the overrides\)"):
        run_notebook("tiny", overrides={"seed": 1}, repo_root=repo)


def test_notebook_must_declare_run_name(repo: Path) -> None:
    write_notebook(repo / "notebooks" / "norun.ipynb", "days = 1", ["pass"])
    with pytest.raises(ConfigError, match=r"'run_name' \(runner key: declare it"):
        run_notebook("norun", repo_root=repo)


def test_missing_notebook_lists_the_available_ones(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"notebook 'nope' not found.*\['boom', 'nohead', 'noparams', 'tiny'\]"):
        run_notebook("nope", repo_root=repo)
    with pytest.raises(ConfigError, match=r"without '\.ipynb'"):
        run_notebook("tiny.ipynb", repo_root=repo)


def test_notebook_without_parameters_cell_is_rejected(repo: Path) -> None:
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        run_notebook("noparams", repo_root=repo)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "x.failed", ".hidden"])
def test_bad_run_names_are_rejected(repo: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="run_name"):
        run_notebook("tiny", overrides={"run_name": name}, repo_root=repo)


def test_run_name_inside_a_params_file_is_rejected(repo: Path) -> None:
    bad = repo / "params" / "tiny" / "named.yaml"
    bad.write_text("run_name: other\n")
    with pytest.raises(ConfigError, match="run_name must not be set in a params file"):
        run_notebook("tiny", bad, repo_root=repo)


def test_missing_params_file_is_a_config_error(repo: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        run_notebook("tiny", repo / "params" / "tiny" / "absent.yaml", repo_root=repo)


def test_relative_params_file_falls_back_to_the_repo_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "params" / "tiny" / "bad.yaml").write_text("dayz: 4\n")
    monkeypatch.chdir(repo / "notebooks")  # params/tiny/bad.yaml does not exist from here
    with pytest.raises(ConfigError) as exc:
        run_notebook("tiny", Path("params/tiny/bad.yaml"), repo_root=repo)
    assert f"'dayz' (from {repo / 'params' / 'tiny' / 'bad.yaml'})" in str(exc.value)
