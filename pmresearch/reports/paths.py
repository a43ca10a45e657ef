"""Where reports live: the repository root, report directories, names and atomic file writes.

Layout of the generated reports (relative to the repository root)::

    reports/index.html                    the index of every notebook and run
    reports/<notebook>/<run>.ipynb        the executed notebook
    reports/<notebook>/<run>.html         the offline HTML report (prose, tables, figures; no code)
    reports/<notebook>/<run>.json         the run's headline figures (written by the notebook)
    reports/<notebook>/<run>.failed.ipynb the executed notebook of a failed run
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from pmresearch._paths import REPO_ROOT_ENV, display_path
from pmresearch.config import ConfigError

__all__ = [
    "REPO_ROOT_ENV",
    "atomic_write_text",
    "check_name",
    "display_path",
    "find_repo_root",
    "reports_dir",
    "temp_path",
]


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def find_repo_root() -> Path:
    """The repository root: ``$PMRESEARCH_REPO_ROOT`` if set, else the directory holding ``pyproject.toml``.

    The search walks up from the installed package (``pmresearch/__file__``), which finds the checkout
    of an editable install.

    Returns
    -------
    Path
        The absolute repository root.

    Raises
    ------
    ConfigError
        If the environment variable names a missing directory, or no ``pyproject.toml`` is found above
        the package (a non-editable install): set ``PMRESEARCH_REPO_ROOT`` or pass ``repo_root``.
    """
    env = os.environ.get(REPO_ROOT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not root.is_dir():
            raise ConfigError(f"${REPO_ROOT_ENV}={env!r} is not a directory")
        return root
    import pmresearch

    start = Path(pmresearch.__file__).resolve().parent
    for candidate in (start, *start.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise ConfigError(
        f"cannot find the repository root (no pyproject.toml above {start}); "
        f"set ${REPO_ROOT_ENV} or pass repo_root"
    )


def reports_dir(repo_root: Path | None = None) -> Path:
    """The ``reports/`` directory of ``repo_root`` (default: :func:`find_repo_root`)."""
    return (repo_root if repo_root is not None else find_repo_root()) / "reports"


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is a safe file-name stem for a notebook or run, else raise.

    Parameters
    ----------
    value : str
        The name: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit.
    what : str
        What the name is (``"notebook"``, ``"run_name"``), for the error message.

    Raises
    ------
    ConfigError
        If the name is not a string, is empty, holds a path separator or other characters, or ends
        with ``.failed`` (reserved for failed runs).
    """
    if not isinstance(value, str) or not _NAME_RE.match(value) or value.endswith(".failed"):
        raise ConfigError(
            f"{what} {value!r} is not a valid name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (and not ending in '.failed')"
        )
    return value


def temp_path(final: Path, suffix: str = ".tmp") -> Path:
    """A unique hidden temporary path next to ``final`` (same directory, so a rename is atomic)."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{suffix}")


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file in the same directory, then a rename.

    Readers see either the old file or the complete new one, never a partial write.

    Parameters
    ----------
    path : Path
        The destination; its parent directory is created if needed.
    text : str
        The content.

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
