"""The ``pmresearch`` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="pmresearch: research framework for short-horizon binary prediction markets.")


@app.command()
def version() -> None:
    """Print the package version."""
    from pmresearch import __version__

    typer.echo(__version__)
