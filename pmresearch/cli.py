"""The ``pmresearch`` command (typer). Heavy imports stay inside the commands so ``--help`` is fast."""

from __future__ import annotations

import datetime as dt
import re
import runpy
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from typer.core import TyperCommand

__all__ = ["app", "parse_param_value", "parse_params"]

app = typer.Typer(help="pmresearch: research framework for short-horizon binary prediction markets.",
                  no_args_is_help=True, add_completion=False)


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def _parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            _fail(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="directory to write the world's files into")],
    preset: Annotated[str, typer.Option(help="edge, no-edge or hard")] = "edge",
    days: Annotated[float, typer.Option(help="simulated days")] = 7.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    start: Annotated[str, typer.Option(help="UTC start (a date or an ISO time with offset)")] = "2026-06-15",
    set_: Annotated[list[str] | None, typer.Option("--set", help="any simulator knob, KEY=VALUE (repeatable)")] = None,
) -> None:
    """Simulate a ground-truth world and write it as a data directory (canonical Parquet files)."""
    from pmresearch.config import ConfigError
    from pmresearch.simulate import simulate as run

    try:
        world = run(preset, days=days, seed=seed, start=start, progress=True, **_parse_sets(set_ or []))
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    paths = world.write(out)
    for key, value in world.summary().items():
        typer.echo(f"{key:>26}: {value}")
    typer.echo(f"wrote {len(paths)} files to {out}")


#: Separator of a ``-p KEY VALUE`` pair once joined into one token (argv can never contain NUL).
_PAIR_SEP = "\0"


def _join_param_pairs(args: list[str]) -> list[str]:
    """Join each ``-p KEY VALUE`` (or ``--param``) into ``-p KEY<NUL>VALUE`` so it parses as one option value."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        if token in ("-p", "--param") and i + 2 < len(args) and not args[i + 1].startswith("-"):
            out.extend([token, f"{args[i + 1]}{_PAIR_SEP}{args[i + 2]}"])
            i += 3
            continue
        out.append(token)
        i += 1
    return out


class _RunCommand(TyperCommand):
    """The ``run`` command: its ``-p`` option takes two values, KEY and VALUE, and repeats."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse ``args`` after joining every ``-p KEY VALUE`` pair into one option value."""
        return super().parse_args(ctx, _join_param_pairs(args))


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def parse_param_value(text: str) -> Any:
    """Parse a ``-p`` value as YAML.

    ``3`` is an int, ``0.5`` and ``1e-3`` floats, ``true`` a bool, ``null`` None, ``no-edge`` and
    ``2026-06-15`` strings (dates stay text), ``[a, b]`` a list.

    Parameters
    ----------
    text : str
        The value as typed.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    ValueError
        If the text is not valid YAML.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"value {text!r} is not valid YAML ({' '.join(str(exc).split())})") from exc
    if isinstance(value, str) and _FLOAT_RE.match(text.strip()):
        return float(text)  # YAML 1.1 reads 1e-3 (no dot) as a string
    if isinstance(value, dt.date | dt.datetime):
        return text.strip()  # dates stay strings; notebooks parse their own times
    return value


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """The overrides from the joined ``-p`` pairs (``KEY<NUL>VALUE``); a later pair wins.

    Parameters
    ----------
    pairs : list[str]
        The ``-p`` option values as joined by the ``run`` command's argument parser.

    Returns
    -------
    dict[str, Any]
        Parameter name to parsed value (:func:`parse_param_value`).

    Raises
    ------
    ValueError
        For a pair without a value, a name that is not an identifier, or a value that is not YAML.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        if _PAIR_SEP not in pair:
            raise ValueError(f"-p expects KEY VALUE, got only {pair!r}")
        key, text = pair.split(_PAIR_SEP, 1)
        if not key.isidentifier():
            raise ValueError(f"-p {key!r}: a parameter name must be a Python identifier")
        try:
            out[key] = parse_param_value(text)
        except ValueError as exc:
            raise ValueError(f"-p {key}: {exc}") from exc
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@app.command(cls=_RunCommand)
def run(
    notebook: Annotated[str, typer.Argument(help="notebook name without .ipynb, e.g. 04_go_no_go")],
    params: Annotated[
        Path | None, typer.Option("--params", help="YAML params file, e.g. params/<nb>/<run>.yaml")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-p",
            "--param",
            metavar="KEY VALUE",
            help="override one parameter (repeatable); VALUE is read as YAML: -p days 3 -p preset no-edge",
        ),
    ] = None,
) -> None:
    """Run a notebook through papermill into reports/<nb>/<run>.{ipynb,html,json} and rebuild the index.

    The run is named by -p run_name, else by the params file's stem, else "default".
    """
    from pmresearch.config import ConfigError
    from pmresearch.reports import NotebookRunError, run_notebook

    try:
        overrides = parse_params(param or [])
    except ValueError as exc:
        _fail(_one_line(exc))
    try:
        out = run_notebook(notebook, params, overrides)
    except (ConfigError, NotebookRunError) as exc:
        _fail(_one_line(exc))
    typer.echo(f"{out.notebook}/{out.run_name}: done in {out.elapsed_s:.1f} s")
    for label, path in (("notebook", out.ipynb), ("report", out.html), ("headline", out.json), ("index", out.index)):
        typer.echo(f"  {label:<9}{path}")


@app.command()
def index() -> None:
    """Rebuild reports/index.html from the reports on disk."""
    from pmresearch.config import ConfigError
    from pmresearch.reports import build_index, reports_dir

    try:
        typer.echo(str(build_index(reports_dir())))
    except ConfigError as exc:
        _fail(_one_line(exc))


@app.command()
def bench() -> None:
    """Run the performance benchmarks in benchmarks/ (each prints ratios against a baseline)."""
    from pmresearch.reports import find_repo_root

    files = sorted((find_repo_root() / "benchmarks").glob("bench_*.py"))
    if not files:
        _fail("no benchmarks/bench_*.py found (run from a checkout of the repository)")
    for path in files:
        typer.secho(f"== {path.name}", bold=True)
        namespace = runpy.run_path(str(path))
        for fn in namespace.get("BENCHMARKS", []):
            typer.echo(fn())
            sys.stdout.flush()


@app.command()
def version() -> None:
    """Print the package version."""
    from pmresearch import __version__

    typer.echo(__version__)
