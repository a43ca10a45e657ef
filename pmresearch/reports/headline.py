"""The headline JSON of a run: the few figures a reader (and the index page) needs from it.

A notebook ends with one call::

    write_headline("04_go_no_go", run_name, {"decision": "GO", "criteria": criteria, "sharpe": sharpe})

which writes ``reports/04_go_no_go/<run_name>.json``. For 04_go_no_go the contract is ``decision``
("GO"/"NO-GO") and ``criteria`` ``[{name, value, threshold, passed}]``; any other keys are free.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch.reports.paths import atomic_write_text, check_name, reports_dir

__all__ = ["headline_path", "read_headline", "to_jsonable", "write_headline"]


def headline_path(notebook: str, run_name: str, *, repo_root: Path | None = None) -> Path:
    """The path of the headline JSON of a run: ``reports/<notebook>/<run_name>.json``.

    Parameters
    ----------
    notebook : str
        The notebook name without ``.ipynb`` (``"04_go_no_go"``).
    run_name : str
        The run name (the notebook's ``run_name`` parameter).
    repo_root : Path, optional
        The repository root; default :func:`pmresearch.reports.paths.find_repo_root` (inside a notebook
        run by the runner this is the runner's root).

    Returns
    -------
    Path
        The JSON path (it need not exist).
    """
    check_name(notebook, "notebook")
    check_name(run_name, "run_name")
    return reports_dir(repo_root) / notebook / f"{run_name}.json"


def to_jsonable(value: Any, where: str = "figures") -> Any:
    """Convert ``value`` into plain JSON types.

    NumPy scalars and arrays become Python numbers and lists; pandas/datetime timestamps and dates become
    ISO 8601 strings; timedeltas become ISO 8601 durations; NaN, infinities, ``None``, ``pd.NA`` and
    ``NaT`` become ``None`` (JSON ``null``); DataFrames become lists of records, Series and mappings
    become objects (keys must be strings for mappings), tuples and lists become lists, paths strings.

    Parameters
    ----------
    value : Any
        The value to convert.
    where : str
        Where the value sits (``figures['criteria'][0]``), for the error message.

    Returns
    -------
    Any
        ``None``, ``bool``, ``int``, ``float`` (finite), ``str``, ``list`` or ``dict`` thereof.

    Raises
    ------
    TypeError
        For a mapping key that is not a string or a value of an unsupported type, naming where it is.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.datetime64 | np.timedelta64):
        return to_jsonable(pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value), where)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(row, f"{where}[{i}]") for i, row in enumerate(value.to_dict(orient="records"))]
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is a {type(k).__name__}; JSON keys must be strings")
            out[k] = to_jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where}: cannot write a {type(value).__name__} ({value!r}) to the headline JSON")


def write_headline(
    notebook: str,
    run_name: str,
    figures: Mapping[str, Any],
    *,
    repo_root: Path | None = None,
) -> Path:
    """Write the headline figures of a run to ``reports/<notebook>/<run_name>.json``, atomically.

    Call it once, from the notebook, with the notebook's ``run_name`` parameter. The runner checks after
    execution that the file exists and fails the run otherwise.

    Parameters
    ----------
    notebook : str
        The notebook name without ``.ipynb`` (``"04_go_no_go"``).
    run_name : str
        The run name: pass the notebook's ``run_name`` parameter through.
    figures : Mapping[str, Any]
        The headline figures (converted by :func:`to_jsonable`: NumPy scalars, Timestamps as ISO strings,
        NaN as ``null``). For a decision notebook: ``decision`` (``"GO"``/``"NO-GO"``) and ``criteria``,
        a list of ``{"name", "value", "threshold", "passed"}``; the index page shows both, and every
        other scalar as a key/value pair.
    repo_root : Path, optional
        The repository root; by default the runner's (``$PMRESEARCH_REPO_ROOT``) or the package's.

    Returns
    -------
    Path
        The written JSON file.

    Raises
    ------
    TypeError
        If ``figures`` is not a mapping or holds a value that cannot be written as JSON.
    """
    if not isinstance(figures, Mapping):
        raise TypeError(f"write_headline: figures must be a mapping, got {type(figures).__name__}")
    path = headline_path(notebook, run_name, repo_root=repo_root)
    payload = to_jsonable(figures)
    text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def read_headline(path: Path) -> dict[str, Any]:
    """Read a headline JSON file.

    Parameters
    ----------
    path : Path
        The ``<run>.json`` file.

    Returns
    -------
    dict[str, Any]
        The headline figures.

    Raises
    ------
    ValueError
        If the file is not valid JSON or does not hold a JSON object (names the file).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data
