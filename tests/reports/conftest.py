"""Runs of tiny notebooks shared by the report tests.

A papermill run starts a kernel (about a second), so the runs are made once per session (per xdist
worker) and the tests read their outputs.
"""

from __future__ import annotations

import pytest
from notebook_factory import SessionRuns, make_repo

from pmresearch.reports import NotebookRunError, run_notebook


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> SessionRuns:
    """Run tiny (params file + override), boom (raises; stale outputs beforehand) and nohead."""
    repo = make_repo(tmp_path_factory.mktemp("repo")).resolve()
    ok = run_notebook("tiny", repo / "params" / "tiny" / "ci.yaml", {"days": 5}, repo_root=repo)

    stale = repo / "reports" / "boom"
    stale.mkdir(parents=True)
    for ext in (".html", ".json", ".ipynb"):
        (stale / f"ci{ext}").write_text("stale output of an earlier success")
    with pytest.raises(NotebookRunError) as boom:
        run_notebook("boom", overrides={"run_name": "ci"}, repo_root=repo)
    with pytest.raises(NotebookRunError) as nohead:
        run_notebook("nohead", repo_root=repo)
    return SessionRuns(repo=repo, ok=ok, boom=boom.value, nohead=nohead.value)
