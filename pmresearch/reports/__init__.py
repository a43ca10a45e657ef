"""Report helpers: the notebook runner, offline HTML export, the index page and display helpers."""

from __future__ import annotations

from pmresearch.reports.figures import decision_table, show
from pmresearch.reports.index import build_index
from pmresearch.reports.runner import NotebookRunError, RunOutputs, headline_path, repo_root, run_notebook, write_headline

__all__ = [
    "NotebookRunError",
    "RunOutputs",
    "build_index",
    "decision_table",
    "headline_path",
    "repo_root",
    "run_notebook",
    "show",
    "write_headline",
]
