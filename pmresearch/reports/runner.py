"""Run a parameterized notebook with Papermill and publish it as an offline HTML report.

``run_notebook("04_go_no_go", params_file)`` validates the parameters against the notebook's
``parameters`` cell, executes ``notebooks/<nb>.ipynb`` into ``reports/<nb>/<run>.ipynb``, exports
``reports/<nb>/<run>.html`` (no code, no CDN: it opens offline), checks that the notebook wrote its
headline JSON ``reports/<nb>/<run>.json`` and rebuilds ``reports/index.html``. A failed run leaves
``<run>.failed.ipynb`` and removes that run's previous HTML and JSON, so no stale success remains.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch.config import ConfigError, load_yaml

__all__ = ["NotebookRunError", "RunOutputs", "headline_path", "repo_root", "run_notebook", "write_headline"]

TEMPLATES = Path(__file__).parent / "templates"


class NotebookRunError(RuntimeError):
    """A notebook cell raised while Papermill executed it."""


@dataclass(frozen=True)
class RunOutputs:
    """Where a run's outputs went, and how long it took."""

    notebook: str
    run_name: str
    ipynb: Path
    html: Path
    json: Path
    elapsed_s: float


def repo_root() -> Path:
    """The repository holding this package (the directory with ``pyproject.toml``), else the cwd."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    return Path.cwd()


def headline_path(notebook: str, run_name: str, *, root: Path | None = None) -> Path:
    """``reports/<notebook>/<run_name>.json``."""
    return (root or repo_root()) / "reports" / notebook / f"{run_name}.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_headline(notebook: str, run_name: str, figures: Mapping[str, Any], *, root: Path | None = None) -> Path:
    """Write a run's headline figures to ``reports/<notebook>/<run_name>.json`` (atomically).

    NumPy scalars become Python numbers, timestamps ISO strings and NaN ``null``.
    """
    path = headline_path(notebook, run_name, root=root)
    _atomic_write(path, json.dumps(_jsonable(dict(figures)), indent=2, allow_nan=False))
    return path


def export_html(ipynb: Path, html_path: Path) -> None:
    """Export an executed notebook as a self-contained offline HTML report (no code, no stderr)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="offline",
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    _atomic_write(html_path, body)


def _parameter_names(path: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def _first_error(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
    return "unknown error"


def run_notebook(
    notebook: str,
    params_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    root: Path | None = None,
) -> RunOutputs:
    """Execute ``notebooks/<notebook>.ipynb`` with parameters and publish its report.

    Parameters
    ----------
    notebook : str
        Notebook name without ``.ipynb`` (e.g. ``"04_go_no_go"``).
    params_file : path, optional
        YAML parameter set (``params/<notebook>/<run>.yaml``); its stem names the run.
    overrides : mapping, optional
        Parameters overriding the file's (``run_name`` renames the run).
    root : Path, optional
        Repository root (default: the one holding this package); the notebook runs there.

    Raises
    ------
    ConfigError
        Unknown parameter keys (validated before anything runs) or an unreadable params file.
    NotebookRunError
        A cell raised; ``reports/<nb>/<run>.failed.ipynb`` holds the executed notebook.
    """
    import papermill

    base = (root or repo_root()).resolve()
    source = base / "notebooks" / f"{notebook}.ipynb"
    if not source.exists():
        raise FileNotFoundError(f"notebook {notebook!r} not found at {source}")
    params: dict[str, Any] = {}
    where = "overrides"
    if params_file is not None:
        pf = Path(params_file)
        pf = pf if pf.is_absolute() else base / pf
        params.update(load_yaml(pf))
        where = str(pf)
    params.update(overrides or {})
    run_name = str(params.get("run_name") or (Path(params_file).stem if params_file else "default"))
    params["run_name"] = run_name
    valid = _parameter_names(source)
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {unknown} for notebook {notebook}; valid: {sorted(valid)}")
    if params.get("data_dir"):
        d = Path(str(params["data_dir"]))
        params["data_dir"] = str(d if d.is_absolute() else base / d)

    out_dir = base / "reports" / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    ipynb, html_path, json_path = (out_dir / f"{run_name}{ext}" for ext in (".ipynb", ".html", ".json"))
    failed = out_dir / f"{run_name}.failed.ipynb"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{run_name}.", suffix=".ipynb", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    clock = time.perf_counter()
    for stale in (json_path, failed):
        stale.unlink(missing_ok=True)
    try:
        papermill.execute_notebook(str(source), str(tmp), parameters=params, cwd=str(base), kernel_name="python3",
                                   progress_bar=False, log_output=False, report_mode=False)
    except papermill.PapermillExecutionError:
        os.replace(tmp, failed)
        for stale in (ipynb, html_path, json_path):
            stale.unlink(missing_ok=True)
        raise NotebookRunError(f"{notebook} / {run_name} failed at {_first_error(failed)} (see {failed})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, ipynb)
    export_html(ipynb, html_path)
    if not json_path.exists():
        raise NotebookRunError(f"{notebook} / {run_name}: the notebook did not write its headline {json_path}")
    from pmresearch.reports.index import build_index

    build_index(base / "reports")
    return RunOutputs(notebook, run_name, ipynb, html_path, json_path, time.perf_counter() - clock)
