"""Deprecated parameter names (``decision_every_s`` for ``every_s``, ...) keep working through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_factory import make_repo, write_notebook
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.config import ConfigError
from pmresearch.reports import REPO_ROOT_ENV
from pmresearch.reports.runner import build_parameters, notebook_parameters

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def declared() -> list[str]:
    """The parameters cell of notebooks/05_data_features.ipynb (it declares ``every_s``)."""
    names = notebook_parameters(REPO / "notebooks" / "05_data_features.ipynb")
    assert "every_s" in names and "decision_every_s" not in names
    return names


def test_an_old_name_is_renamed_with_a_warning_line(declared: list[str], tmp_path: Path) -> None:
    lines: list[str] = []
    params_file = tmp_path / "old.yaml"
    params_file.write_text("decision_every_s: 120\ndays: 0.5\n")
    params = build_parameters("05_data_features", declared, params_file, {"seed": 3}, tmp_path, warn=lines.append)
    assert params["every_s"] == 120 and "decision_every_s" not in params
    assert params["days"] == 0.5 and params["seed"] == 3 and params["run_name"] == "old"
    assert lines == [f"warning: {params_file}: 'decision_every_s' is deprecated; use 'every_s'"]
    # an override under the old name wins over the file's value under the new one
    params_file.write_text("every_s: 60\n")
    params = build_parameters("05_data_features", declared, params_file, {"decision_every_s": 30}, tmp_path,
                              warn=lines.append)
    assert params["every_s"] == 30
    assert lines[-1] == "warning: the overrides: 'decision_every_s' is deprecated; use 'every_s'"


def test_the_warning_line_goes_to_stderr_by_default(declared: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    params = build_parameters("05_data_features", declared, None, {"decision_every_s": 30.0}, tmp_path)
    assert params["every_s"] == 30.0
    out = capsys.readouterr()
    assert out.err == "warning: the overrides: 'decision_every_s' is deprecated; use 'every_s'\n" and out.out == ""


def test_old_and_new_name_together_is_a_config_error(declared: list[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both 'decision_every_s' \\(deprecated\\) and 'every_s'"):
        build_parameters("05_data_features", declared, None, {"decision_every_s": 30, "every_s": 60}, tmp_path,
                         warn=lambda line: None)


def test_an_old_name_the_notebook_does_not_take_is_still_unknown(declared: list[str], tmp_path: Path) -> None:
    # 05 declares every_s but no first_s: the renamed key is reported under its current name
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) 'first_s' \(from the overrides\)"):
        build_parameters("05_data_features", declared, None, {"first_decision_s": 30}, tmp_path,
                         warn=lambda line: None)


def test_a_notebook_still_declaring_the_old_name_gets_it_unchanged(tmp_path: Path) -> None:
    lines: list[str] = []
    params = build_parameters("old", ["run_name", "decision_every_s"], None, {"decision_every_s": 30}, tmp_path,
                              warn=lines.append)
    assert params == {"decision_every_s": 30, "run_name": "default"} and lines == []


def test_cli_run_takes_an_old_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pmresearch run NB -p decision_every_s 30`` runs the notebook with ``every_s = 30`` and says so."""
    root = make_repo(tmp_path).resolve()
    write_notebook(root / "notebooks" / "sched.ipynb", 'run_name = "x"\ndata_dir = ""\ndb = ""\nevery_s = 60.0',
                   ["from pmresearch.reports import write_headline",
                    'write_headline("sched", run_name, {"every_s": every_s})'])
    monkeypatch.setenv(REPO_ROOT_ENV, str(root))
    result = CliRunner().invoke(app, ["run", "sched", "-p", "decision_every_s", "30", "-p", "run_name", "old"])
    assert result.exit_code == 0, result.output
    assert "warning: the overrides: 'decision_every_s' is deprecated; use 'every_s'" in result.output
    assert json.loads((root / "reports" / "sched" / "old.json").read_text()) == {"every_s": 30}
