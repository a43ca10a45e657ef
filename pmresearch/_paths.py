"""Paths as reports and headline files show them: never this machine's absolute layout.

A report travels (it is mailed, committed, opened elsewhere); an absolute path such as
``/home/me/repo/data/runs/x.duckdb`` does not, and it tells a reader about a machine rather than
the run. :func:`display_path` writes a path relative to the repository root (``$PMRESEARCH_REPO_ROOT``,
which the notebook runner sets, else the working directory, where notebooks run): ``data/runs/x.duckdb``,
``../shared/data``; a path further away shows as ``…/<its last two parts>``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["display_path"]

_DUCKDB = "duckdb:///"
#: The repository-root variable (the runner sets it for the notebook kernel; :mod:`pmresearch.reports.paths`).
REPO_ROOT_ENV = "PMRESEARCH_REPO_ROOT"


def display_path(path: str | Path, *, root: str | Path | None = None) -> str:
    """``path`` (or a ``duckdb:///`` URL naming one) relative to ``root``, for reports.

    Parameters
    ----------
    path : str or Path
        A filesystem path or a store URL; other URLs (``postgresql://...``) are returned as given.
    root : str or Path, optional
        Default ``$PMRESEARCH_REPO_ROOT``, else the working directory.

    Examples
    --------
    >>> display_path("/repo/data/runs/a.duckdb", root="/repo")
    'data/runs/a.duckdb'
    >>> display_path("/work/shared/data", root="/work/main")
    '../shared/data'
    >>> display_path("duckdb:////repo/data/x.duckdb", root="/repo")
    'duckdb:///data/x.duckdb'
    >>> display_path("/tmp/pytest-7/run/in", root="/home/me/repo")
    '…/run/in'
    """
    text = str(path)
    if text.startswith(_DUCKDB):
        return _DUCKDB + display_path(text[len(_DUCKDB):], root=root)
    if "://" in text or text == ":memory:":
        return text
    p = Path(text)
    if not p.is_absolute():
        return text
    base = Path(root) if root is not None else Path(os.environ.get(REPO_ROOT_ENV) or Path.cwd())
    rel = Path(os.path.relpath(p, base.resolve() if base.exists() else base))
    if rel.parts.count("..") <= 1:
        return rel.as_posix()
    return "…/" + "/".join(p.parts[-2:])
