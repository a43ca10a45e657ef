"""``pmresearch run`` and ``pmresearch index``: -p parsing, outputs and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from notebook_factory import make_repo
from typer.testing import CliRunner

from pmresearch.cli import app, parse_param_value
from pmresearch.reports import REPO_ROOT_ENV

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("-2", -2),
        ("0.5", 0.5),
        ("1e-3", 0.001),
        ("2.5E+2", 250.0),
        ("no-edge", "no-edge"),
        ("true", True),
        ("null", None),
        ("2026-06-15", "2026-06-15"),
        ("[a, 1]", ["a", 1]),
        ("duckdb:///data/x.duckdb", "duckdb:///data/x.duckdb"),
    ],
)
def test_param_values_are_yaml_scalars(text: str, expected: Any) -> None:
    value = parse_param_value(text)
    assert value == expected and type(value) is type(expected)


def test_invalid_yaml_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="is not valid YAML"):
        parse_param_value("[unclosed")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Any, ...]]:
    """Replace run_notebook by a recorder returning fake outputs."""
    import pmresearch.reports as reports

    calls: list[tuple[Any, ...]] = []

    def fake(notebook: str, params_file: Path | None = None, overrides: Any = None, **kw: Any) -> Any:
        calls.append((notebook, params_file, overrides))
        p = tmp_path / "reports" / notebook
        return reports.RunOutputs(notebook, "r", p / "r.ipynb", p / "r.html", p / "r.json",
                                  tmp_path / "reports" / "index.html", 1.25)

    monkeypatch.setattr(reports, "run_notebook", fake)
    return calls


def test_run_passes_typed_overrides(recorded: list[tuple[Any, ...]], tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "nb", "-p", "days", "3", "--params", "p.yaml", "-p", "preset", "no-edge",
                                 "--param", "edge_threshold", "0.03", "-p", "days", "4", "-p", "shift", "-1"])
    assert result.exit_code == 0, result.output
    assert recorded == [("nb", Path("p.yaml"), {"days": 4, "preset": "no-edge", "edge_threshold": 0.03, "shift": -1})]
    assert type(recorded[0][2]["days"]) is int
    assert "nb/r: done in 1.2 s" in result.output
    assert str(tmp_path / "reports" / "nb" / "r.html") in result.output


def test_options_may_precede_the_notebook(recorded: list[tuple[Any, ...]]) -> None:
    result = runner.invoke(app, ["run", "-p", "run_name", "quick", "nb"])
    assert result.exit_code == 0, result.output
    assert recorded == [("nb", None, {"run_name": "quick"})]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nb", "-p", "days"], "error: -p expects KEY VALUE, got only 'days'"),
        (["run", "nb", "-p", "2x", "1"], "error: -p '2x': a parameter name must be a Python identifier"),
        (["run", "nb", "-p", "x", "[1,"], "error: -p x: value '[1,' is not valid YAML"),
    ],
)
def test_bad_p_options_fail_cleanly(recorded: list[tuple[Any, ...]], args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert recorded == []


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_repo(tmp_path).resolve()
    monkeypatch.setenv(REPO_ROOT_ENV, str(root))
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope"], "error: notebook 'nope' not found"),
        (["run", "tiny", "-p", "dayz", "3"], "error: notebook 'tiny': unknown parameter(s) 'dayz'"),
        (["run", "tiny", "--params", "absent.yaml"], "error: absent.yaml: file not found"),
    ],
)
def test_run_errors_are_one_line_without_traceback(repo: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_run_executes_the_notebook_and_clears_a_stale_failure(repo: Path) -> None:
    stale = repo / "reports" / "boom" / "ci.failed.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    result = runner.invoke(app, ["run", "boom", "-p", "fail", "false", "-p", "days", "3", "-p", "label", "no-edge",
                                 "-p", "run_name", "ci"])
    assert result.exit_code == 0, result.output
    out = repo / "reports" / "boom"
    assert json.loads((out / "ci.json").read_text()) == {"decision": "NO-GO", "days": 3, "label": "no-edge"}
    assert (out / "ci.html").is_file() and (out / "ci.ipynb").is_file()
    assert not stale.exists()
    assert str(out / "ci.html") in result.output and "boom/ci: done in" in result.output
    index = (repo / "reports" / "index.html").read_text()
    assert 'href="boom/ci.html"' in index and 'data-pmr-decision="NO-GO"' in index


def test_run_failure_is_one_line(repo: Path) -> None:
    result = runner.invoke(app, ["run", "boom", "-p", "run_name", "bad"])
    assert result.exit_code == 1
    assert result.output.startswith("error: notebook 'boom' run 'bad' failed in cell [")
    assert "ValueError: boom-marker: the cell failed; executed notebook saved as" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert (repo / "reports" / "boom" / "bad.failed.ipynb").is_file()


def test_index_command(repo: Path) -> None:
    (repo / "reports" / "nb").mkdir(parents=True)
    (repo / "reports" / "nb" / "r1.html").write_text("<html></html>")
    result = runner.invoke(app, ["index"])
    assert result.exit_code == 0, result.output
    index = repo / "reports" / "index.html"
    assert result.output.strip() == str(index)
    assert 'href="nb/r1.html"' in index.read_text()


def test_help_lists_run_options() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "KEY VALUE" in result.output and "--params" in result.output
