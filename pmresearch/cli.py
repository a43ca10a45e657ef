"""The ``pmresearch`` command (typer). Heavy imports stay inside the commands so ``--help`` is fast."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

__all__ = ["app"]

app = typer.Typer(help="pmresearch: research framework for short-horizon binary prediction markets.",
                  no_args_is_help=True, add_completion=False)


def _fail(message: str) -> None:
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


def _parse_overrides(args: list[str]) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs (values parsed as YAML scalars: ``3`` is an int, ``no-edge`` a str)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        if args[i] not in ("-p", "--parameter"):
            _fail(f"unexpected argument {args[i]!r}; parameters are given as -p KEY VALUE")
        if i + 2 >= len(args):
            _fail(f"{args[i]} expects KEY VALUE")
        out[args[i + 1]] = yaml.safe_load(args[i + 2])
        i += 3
    return out


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    notebook: Annotated[str, typer.Argument(help="notebook name without .ipynb, e.g. 04_go_no_go")],
    params: Annotated[Path | None, typer.Option("--params", help="params/<nb>/<run>.yaml")] = None,
) -> None:
    """Run a notebook through Papermill into reports/<nb>/<run>.{ipynb,html,json} and update the index.

    Override parameters with -p KEY VALUE (repeatable), e.g. -p days 3 -p run_name quick.
    """
    from pmresearch.config import ConfigError
    from pmresearch.reports import NotebookRunError, run_notebook

    overrides = _parse_overrides(list(ctx.args))
    try:
        outputs = run_notebook(notebook, params, overrides)
    except (ConfigError, NotebookRunError, FileNotFoundError) as exc:
        _fail(str(exc))
    typer.echo(f"{outputs.notebook}/{outputs.run_name}: {outputs.html} ({outputs.elapsed_s:.0f} s)")


@app.command()
def index() -> None:
    """Rebuild reports/index.html from the reports on disk."""
    from pmresearch.reports import build_index, repo_root

    typer.echo(str(build_index(repo_root() / "reports")))


@app.command()
def bench() -> None:
    """Run the performance benchmarks in benchmarks/ (each prints ratios against a baseline)."""
    from pmresearch.reports import repo_root

    files = sorted((repo_root() / "benchmarks").glob("bench_*.py"))
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
