"""Reports show paths relative to the repository root, never this machine's absolute layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmresearch.reports import display_path


@pytest.mark.parametrize(("path", "root", "shown"), [
    ("/repo/data/runs/a.duckdb", "/repo", "data/runs/a.duckdb"),
    ("/work/shared/data", "/work/main", "../shared/data"),  # the sample beside the checkout
    ("duckdb:////repo/data/x.duckdb", "/repo", "duckdb:///data/x.duckdb"),
    ("/tmp/pytest-7/run/in", "/home/me/repo", "…/run/in"),  # far away: its last two parts only
    ("postgresql://postgres@127.0.0.1:5432/test?schema=s", "/repo", "postgresql://postgres@127.0.0.1:5432/test?schema=s"),
    ("data/runs/a.duckdb", "/repo", "data/runs/a.duckdb"),  # relative: as given
    ("duckdb:///:memory:", "/repo", "duckdb:///:memory:"),
])
def test_display_path(path: str, root: str, shown: str) -> None:
    assert display_path(path, root=root) == shown


def test_default_root_is_the_runner_root_else_the_working_directory(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMRESEARCH_REPO_ROOT", raising=False)
    assert display_path(tmp_path / "reports" / "a.json") == "reports/a.json"
    monkeypatch.setenv("PMRESEARCH_REPO_ROOT", str(tmp_path / "reports"))
    assert display_path(tmp_path / "reports" / "a.json") == "a.json"
