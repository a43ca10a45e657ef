"""Run a parameterized notebook with papermill and publish its report.

``run_notebook("04_go_no_go", Path("params/04_go_no_go/sim_edge.yaml"))``:

1. finds ``notebooks/04_go_no_go.ipynb`` under the repository root;
2. builds the parameters: the YAML params file updated by the overrides, plus ``run_name`` (the
   ``run_name`` override, else the params file's stem, else ``"default"``); relative ``data_dir`` and
   plain-path ``db`` values resolve against the repository root (``duckdb:///...`` URLs are kept);
3. renames deprecated keys (``decision_every_s`` -> ``every_s``, ...: a ``warning:`` line each) and
   checks every key against the notebook's ``parameters`` cell, before anything runs;
4. executes the notebook (kernel ``python3``, working directory = repository root) into a temporary
   file, checks that the notebook wrote its headline JSON, exports the offline HTML report, and only
   then moves ``<run>.ipynb`` and ``<run>.html`` into ``reports/<notebook>/``;
5. rebuilds ``reports/index.html``.

On failure the executed notebook is kept as ``<run>.failed.ipynb``, the run's previous ``.html``,
``.json`` and ``.ipynb`` are removed (so the index never shows a stale success), the index is rebuilt
and :class:`NotebookRunError` is raised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmresearch.config import ConfigError, load_yaml
from pmresearch.reports.export import notebook_to_html
from pmresearch.reports.headline import headline_path, read_headline
from pmresearch.reports.index import build_index
from pmresearch.reports.paths import (
    REPO_ROOT_ENV,
    atomic_write_text,
    check_name,
    display_path,
    find_repo_root,
    reports_dir,
    temp_path,
)

__all__ = [
    "KERNEL_NAME",
    "RUNNER_KEYS",
    "NotebookRunError",
    "RunOutputs",
    "build_parameters",
    "notebook_parameters",
    "notebook_path",
    "run_notebook",
]

#: The Jupyter kernel every notebook runs on.
KERNEL_NAME = "python3"

#: Keys the runner understands: ``run_name`` is always passed; ``data_dir`` and ``db`` are path-resolved.
RUNNER_KEYS = ("run_name", "data_dir", "db")

_PATH_KEYS = ("data_dir", "db")


@dataclass(frozen=True)
class RunOutputs:
    """The outputs of a successful notebook run.

    Attributes
    ----------
    notebook : str
        The notebook name (without ``.ipynb``).
    run_name : str
        The run name.
    ipynb : Path
        The executed notebook, ``reports/<notebook>/<run>.ipynb``.
    html : Path
        The offline HTML report, ``reports/<notebook>/<run>.html``.
    json : Path
        The headline figures written by the notebook, ``reports/<notebook>/<run>.json``.
    index : Path
        The rebuilt ``reports/index.html``.
    elapsed_s : float
        Wall time of the run (execution and export), in seconds.
    """

    notebook: str
    run_name: str
    ipynb: Path
    html: Path
    json: Path
    index: Path
    elapsed_s: float


class NotebookRunError(RuntimeError):
    """A notebook run failed: a cell raised, the kernel died, or no headline JSON was written.

    Attributes
    ----------
    notebook : str
        The notebook name.
    run_name : str
        The run name.
    ename : str
        The error's class name (``"ValueError"``).
    evalue : str
        The error message.
    failed_notebook : Path or None
        The executed notebook with the error, ``reports/<notebook>/<run>.failed.ipynb`` (None if the
        kernel never produced one).
    cell : int or None
        The execution count of the failing cell, when known.
    """

    def __init__(
        self,
        notebook: str,
        run_name: str,
        ename: str,
        evalue: str,
        failed_notebook: Path | None,
        cell: int | None = None,
    ) -> None:
        self.notebook = notebook
        self.run_name = run_name
        self.ename = ename
        self.evalue = evalue
        self.failed_notebook = failed_notebook
        self.cell = cell
        lines = evalue.strip().splitlines()
        first = lines[0] if lines else ""
        where = f" in cell [{cell}]" if cell is not None else ""
        saved = f"; executed notebook saved as {failed_notebook}" if failed_notebook is not None else ""
        super().__init__(f"notebook {notebook!r} run {run_name!r} failed{where}: {ename}: {first}{saved}")


def notebook_path(notebook: str, repo_root: Path) -> Path:
    """The file of a notebook: ``<repo_root>/notebooks/<notebook>.ipynb``.

    Raises
    ------
    ConfigError
        If the name is not a plain notebook name or the file does not exist (listing the available ones).
    """
    if notebook.endswith(".ipynb"):
        raise ConfigError(f"notebook {notebook!r}: give the name without '.ipynb' ({notebook[:-6]!r})")
    check_name(notebook, "notebook")
    path = repo_root / "notebooks" / f"{notebook}.ipynb"
    if not path.is_file():
        available = sorted(p.stem for p in (repo_root / "notebooks").glob("*.ipynb"))
        raise ConfigError(f"notebook {notebook!r} not found: no {path}; available notebooks: {available}")
    return path


def notebook_parameters(path: Path) -> list[str]:
    """The names declared in a notebook's ``parameters``-tagged cell, in order.

    Raises
    ------
    ConfigError
        If the notebook has no cell tagged ``parameters``.
    """
    import nbformat
    import papermill as pm

    read: Callable[..., Any] = nbformat.read
    nb = read(str(path), as_version=4)
    if not any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        raise ConfigError(f"{path}: no cell tagged 'parameters' (every notebook must declare its parameters)")
    return list(pm.inspect_notebook(str(path)))


def _plain_value(value: Any) -> Any:
    """Values papermill can write as Python literals: dates as ISO strings, paths as strings."""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain_value(v) for k, v in value.items()}
    return value


def _resolve_path_value(value: Any, repo_root: Path) -> Any:
    """A relative filesystem path resolved against the repository root; URLs and non-strings unchanged."""
    if not isinstance(value, str) or not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (repo_root / path).resolve())


def _locate_params_file(params_file: str | Path | None, repo_root: Path) -> Path | None:
    """The params file as given (relative to the working directory), else relative to the repo root."""
    if params_file is None:
        return None
    path = Path(params_file).expanduser()
    if path.is_absolute() or path.exists() or not (repo_root / path).exists():
        return path
    return repo_root / path


def _print_warning(line: str) -> None:
    print(line, file=sys.stderr)


def _rename_deprecated(
    params: dict[str, Any], declared: list[str], source: str, warn: Callable[[str], None] | None
) -> dict[str, Any]:
    """``params`` with deprecated names renamed (:func:`pmresearch.labels.schedule.rename_deprecated`);
    each ``FutureWarning`` becomes a ``warning: ...`` line passed to ``warn``. Names the notebook
    itself still declares are left alone."""
    from pmresearch.labels.schedule import DEPRECATED_NAMES, rename_deprecated

    names = {old: new for old, new in DEPRECATED_NAMES.items() if old in params and old not in declared}
    if not names:
        return params
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        try:
            out = rename_deprecated(params, what=source, names=names)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    emit = _print_warning if warn is None else warn
    for w in caught:
        if issubclass(w.category, FutureWarning):
            emit(f"warning: {w.message}")
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def build_parameters(
    notebook: str,
    declared: list[str],
    params_file: Path | None,
    overrides: Mapping[str, Any] | None,
    repo_root: Path,
    *,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The parameters of a run, validated against the notebook's declared parameters.

    Deprecated parameter names (:data:`pmresearch.labels.schedule.DEPRECATED_NAMES`, e.g.
    ``decision_every_s`` for ``every_s``) in the params file or the overrides are renamed before the
    check, each with a ``warning: ...`` line (unless the notebook still declares the old name).

    Parameters
    ----------
    notebook : str
        The notebook name (for messages).
    declared : list[str]
        The names in the notebook's ``parameters`` cell (:func:`notebook_parameters`).
    params_file : Path, optional
        The YAML params file.
    overrides : Mapping[str, Any], optional
        Values that win over the params file (``-p KEY VALUE`` on the command line).
    repo_root : Path
        Against which relative ``data_dir`` / ``db`` paths resolve.
    warn : callable, optional
        Receives each deprecation message as a ``"warning: ..."`` line; default: print it to stderr.

    Returns
    -------
    dict[str, Any]
        The parameters, ``run_name`` included.

    Raises
    ------
    ConfigError
        On an unknown key (naming it, where it came from and the valid keys), a ``run_name`` inside a
        params file, an invalid run name, an unreadable params file, or a deprecated name given beside
        its current one in the same source.
    """
    from_file = load_yaml(params_file) if params_file is not None else {}
    extra = dict(overrides or {})
    from_file = _rename_deprecated(from_file, declared, str(params_file), warn)
    extra = _rename_deprecated(extra, declared, "the overrides", warn)
    if "run_name" in from_file:
        raise ConfigError(
            f"{params_file}: run_name must not be set in a params file "
            "(the run is named after the file, or by -p run_name)"
        )
    run_name = extra.pop("run_name", None)
    if run_name is None:
        run_name = params_file.stem if params_file is not None else "default"
    run_name = check_name(str(run_name), "run_name")
    params: dict[str, Any] = {**from_file, **extra, "run_name": run_name}

    valid = set(declared)
    unknown = [k for k in params if k not in valid]
    if unknown:
        sources = []
        for key in unknown:
            if key in extra:
                sources.append(f"{key!r} (from the overrides)")
            elif key in from_file:
                sources.append(f"{key!r} (from {params_file})")
            else:
                sources.append(f"{key!r} (runner key: declare it in the notebook's parameters cell)")
        raise ConfigError(
            f"notebook {notebook!r}: unknown parameter(s) {', '.join(sources)}; "
            f"valid keys are {sorted(valid)}"
        )
    for key in _PATH_KEYS:
        if key in params:
            params[key] = _resolve_path_value(params[key], repo_root)
    return {k: _plain_value(v) for k, v in params.items()}


@contextlib.contextmanager
def _environ(updates: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the kernel) for the duration of the block."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _kernel_config() -> Any:
    """Kernel-manager config: CurveZMQ transport encryption where available (quiet, local-only traffic)."""
    import zmq
    from traitlets.config import Config

    if zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def _header_cell(notebook: str, run_name: str, params: Mapping[str, Any], root: Path) -> Any:
    """A display-only cell opening the HTML report: notebook, run, time and parameters (paths shown
    relative to the repository ``root``)."""
    from nbformat.v4 import new_code_cell, new_output

    make_cell: Callable[..., Any] = new_code_cell
    make_output: Callable[..., Any] = new_output
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = {k: display_path(v, root=root) if k in _PATH_KEYS else v for k, v in params.items() if k != "run_name"}
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(repr(v))}</code></td></tr>"
                   for k, v in shown.items())
    table = f'<table class="pmr-params"><tbody>{rows}</tbody></table>' if rows else ""
    block = (
        '<div class="pmr-run-header" style="font-family: system-ui, sans-serif; font-size: 0.9em; '
        'color: #57606a; border-bottom: 1px solid #d8dde3; padding-bottom: 0.5em; margin-bottom: 1em;">'
        f'<a href="../index.html">pmresearch reports</a> · notebook <b>{html.escape(notebook)}</b> · '
        f"run <b>{html.escape(run_name)}</b> · executed {stamp}"
        f"<details><summary>parameters</summary>{table}</details></div>"
    )
    cell = make_cell(source="", outputs=[make_output("display_data", data={"text/html": block})])
    cell.metadata["tags"] = ["pmresearch-run-header"]
    return cell


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class _RunPlan:
    """Where a run reads and writes, fixed before anything executes."""

    notebook: str
    run_name: str
    root: Path
    nb_file: Path
    params: Mapping[str, Any]
    reports: Path
    ipynb: Path
    html: Path
    json: Path
    failed: Path
    tmp_ipynb: Path


def _plan_run(
    notebook: str, params_file: str | Path | None, overrides: Mapping[str, Any] | None, repo_root: Path | None
) -> _RunPlan:
    """Find the notebook, build and check its parameters, and name the run's output files."""
    root = (repo_root if repo_root is not None else find_repo_root()).resolve()
    nb_file = notebook_path(notebook, root)
    declared = notebook_parameters(nb_file)
    params = build_parameters(notebook, declared, _locate_params_file(params_file, root), overrides, root)
    run_name: str = params["run_name"]
    reports = reports_dir(root)
    out_dir = reports / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    ipynb_path = out_dir / f"{run_name}.ipynb"
    return _RunPlan(
        notebook=notebook, run_name=run_name, root=root, nb_file=nb_file, params=params, reports=reports,
        ipynb=ipynb_path, html=out_dir / f"{run_name}.html", json=headline_path(notebook, run_name, repo_root=root),
        failed=out_dir / f"{run_name}.failed.ipynb",
        tmp_ipynb=temp_path(ipynb_path, ".tmp.ipynb"),  # papermill wants the .ipynb extension
    )


def _execute(plan: _RunPlan) -> Any:
    """Run the notebook with papermill into ``plan.tmp_ipynb`` (progress bars off, repository root as cwd)."""
    import papermill as pm

    # progress bars are for interactive use; in a report they would only print widget warnings
    with _environ({REPO_ROOT_ENV: str(plan.root), "TQDM_DISABLE": "1"}):
        return pm.execute_notebook(
            str(plan.nb_file),
            str(plan.tmp_ipynb),
            parameters=dict(plan.params),
            kernel_name=KERNEL_NAME,
            cwd=str(plan.root),
            progress_bar=sys.stderr.isatty(),
            log_output=False,
            config=_kernel_config(),
        )


def _render(plan: _RunPlan, executed: Any) -> str:
    """The offline HTML report of an executed notebook, once its headline JSON is there and readable."""
    if not plan.json.is_file():
        raise FileNotFoundError(
            f"the notebook wrote no headline JSON {plan.json}: it must call "
            f"pmresearch.reports.write_headline({plan.notebook!r}, run_name, figures)"
        )
    read_headline(plan.json)
    executed.cells.insert(0, _header_cell(plan.notebook, plan.run_name, plan.params, plan.root))
    return notebook_to_html(executed, title=f"{plan.notebook} · {plan.run_name}")


def _execute_and_render(plan: _RunPlan) -> tuple[str | None, tuple[str, str, int | None] | None]:
    """``(report, None)`` on success, ``(None, (error class, message, cell))`` when the run failed."""
    from papermill.exceptions import PapermillExecutionError

    try:
        return _render(plan, _execute(plan)), None
    except PapermillExecutionError as exc:
        return None, (str(exc.ename), str(exc.evalue), exc.exec_count)
    except Exception as exc:
        return None, (type(exc).__name__, str(exc), None)


def _fail(plan: _RunPlan, failure: tuple[str, str, int | None]) -> NotebookRunError:
    """Keep the executed notebook as ``<run>.failed.ipynb``, remove the run's previous outputs (the index
    never shows a stale success), rebuild the index; the error to raise."""
    saved: Path | None = None
    if plan.tmp_ipynb.is_file():
        os.replace(plan.tmp_ipynb, plan.failed)
        saved = plan.failed
    _remove(plan.html, plan.json, plan.ipynb)
    build_index(plan.reports)
    return NotebookRunError(plan.notebook, plan.run_name, failure[0], failure[1], saved, failure[2])


def _publish(plan: _RunPlan, report: str) -> None:
    """Move the executed notebook and write the HTML report into ``reports/<notebook>/``."""
    os.replace(plan.tmp_ipynb, plan.ipynb)
    atomic_write_text(plan.html, report)
    _remove(plan.failed)


def run_notebook(
    notebook: str,
    params_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    repo_root: Path | None = None,
) -> RunOutputs:
    """Execute a notebook with papermill and publish ``reports/<notebook>/<run>.{ipynb,html,json}``.

    Parameters
    ----------
    notebook : str
        The notebook name without ``.ipynb``, found at ``<repo_root>/notebooks/<notebook>.ipynb``.
    params_file : str or Path, optional
        A YAML mapping of parameters (``params/<notebook>/<run>.yaml``); its stem names the run. A
        relative path not found from the working directory is looked up under the repository root.
    overrides : Mapping[str, Any], optional
        Parameters that win over the file; ``run_name`` here names the run.
    repo_root : Path, optional
        The repository root; default :func:`pmresearch.reports.paths.find_repo_root`. The notebook runs
        with this as working directory and sees it as ``$PMRESEARCH_REPO_ROOT``.

    Returns
    -------
    RunOutputs
        The paths of the executed notebook, HTML report, headline JSON and index, the run name and the
        elapsed time.

    Raises
    ------
    ConfigError
        Before anything runs: missing notebook, unreadable params file, unknown parameter key, bad run
        name.
    NotebookRunError
        If a cell raised, the kernel failed, the notebook wrote no headline JSON or the export failed.
    """
    plan = _plan_run(notebook, params_file, overrides, repo_root)
    _remove(plan.json)  # the notebook must write a fresh headline in this run
    start = time.perf_counter()
    try:
        report, failure = _execute_and_render(plan)
        if failure is not None or report is None:
            raise _fail(plan, failure or ("RuntimeError", "no report", None))
        _publish(plan, report)
    finally:
        _remove(plan.tmp_ipynb)
    index = build_index(plan.reports)
    return RunOutputs(notebook=notebook, run_name=plan.run_name, ipynb=plan.ipynb, html=plan.html, json=plan.json,
                      index=index, elapsed_s=time.perf_counter() - start)
