"""The ``pmresearch`` command (typer). Heavy imports stay inside the commands so ``--help`` is fast."""

from __future__ import annotations

import datetime as dt
import re
import runpy
import sys
from collections.abc import Callable, Sequence
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
    preset: Annotated[str, typer.Option(help="edge, realistic, hard or no-edge")] = "edge",
    days: Annotated[float, typer.Option(help="simulated days")] = 7.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    start: Annotated[str, typer.Option(help="UTC start (a date or an ISO time with offset)")] = "2026-06-15",
    set_: Annotated[list[str] | None, typer.Option("--set", help="any simulator knob, KEY=VALUE (repeatable)")] = None,
    books: Annotated[str, typer.Option(help="book files to write: all (events and snapshots), events or none")] = "all",
) -> None:
    """Simulate a ground-truth world and write it as a data directory (canonical Parquet files).

    The full-depth books are the bulk of a world (a day: ~7.6 M event rows and ~16 M snapshot rows, ~70 MB):
    ``--books events`` writes only the change events (the book at any instant rebuilds from them),
    ``--books none`` neither."""
    from pmresearch.config import ConfigError
    from pmresearch.simulate import simulate as run

    kinds = {"all": ("book_events", "books"), "events": ("book_events",), "none": ()}
    if books not in kinds:
        _fail(f"--books must be all, events or none, got {books!r}")
    try:
        world = run(preset, days=days, seed=seed, start=start, progress=True, **_parse_sets(set_ or []))
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
    paths = world.write(out, books=kinds[books], progress=True)
    for key, value in world.stats.items():
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
    if str(files[0].parent) not in sys.path:  # their shared helpers (_timing.py), as when run as scripts
        sys.path.insert(0, str(files[0].parent))
    for path in files:
        typer.secho(f"== {path.name}", bold=True)
        namespace = runpy.run_path(str(path))
        for fn in namespace.get("BENCHMARKS", []):
            typer.echo(fn())
            sys.stdout.flush()


def _database_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own error classes (imported only once an error is being handled)."""
    import duckdb
    import psycopg

    return (duckdb.Error, psycopg.Error)


def _store_lines(job: Callable[[], list[str]], db: str | None) -> None:
    """Run a store command and print its lines. Bad input, files, connections and a busy store exit 1
    with the message; a database error escaping the store exits 1 as ``error: <store URL>: <message>``."""
    try:
        lines = job()
    except (ValueError, OSError, ConnectionError) as exc:  # SchemaError is a ValueError, StoreBusyError an OSError
        _fail(str(exc))
    except _database_errors() as exc:
        from pmresearch.data.base import db_url, redact_url

        _fail(f"{redact_url(db_url(db))}: {_one_line(exc)}")
    for line in lines:
        typer.echo(line)


# --- the lines each store command prints (the command layer formats; the data layer returns results) -----------
def ingest_command(paths: Sequence[str | Path], url: str | None = None, *, symbol: str | None = None,
                   interval: str | None = None) -> list[str]:
    """``pmresearch ingest PATH... [--db URL]``: load into the store a URL names; the lines to print.

    The lines give rows inserted per table, every file read, every file skipped (with the reason) and the
    importers' notes. Errors (:class:`~pmresearch.data.schemas.SchemaError` naming file, column and row) propagate,
    and the store is then unchanged.
    """
    from pmresearch.data.importers import ingest as ingest_paths
    from pmresearch.data.store import connect

    with connect(url) as store:
        report = ingest_paths(store, paths, symbol=symbol, interval=interval)
        where = store.url
    lines = [f"read {p}" for p in report.files]
    lines += [f"skipped {p}: {why}" for p, why in report.skipped]
    lines += list(report.notes)
    lines += [f"{table}: {n} rows inserted" for table, n in sorted(report.inserted.items())]
    lines.append(f"loaded {len(report.files)} files into {where} ({sum(report.inserted.values())} new rows)")
    return lines


def backup_command(file: str | Path, url: str | None = None) -> list[str]:
    """``pmresearch db backup FILE [--db URL]``: dump every table; the lines to print."""
    from pmresearch.data.store import connect

    with connect(url) as store:
        counts = store.backup(file)
        where = store.url
    return [f"{t}: {n} rows" for t, n in counts.items()] + [f"backed up {where} to {file}"]


def restore_command(file: str | Path, url: str | None = None) -> list[str]:
    """``pmresearch db restore FILE [--db URL]``: load a backup (idempotent, one transaction); the lines to print."""
    from pmresearch.data.store import connect

    with connect(url) as store:
        counts = store.restore(file)
        where = store.url
    return [f"{t}: {n} rows inserted" for t, n in counts.items()] + [f"restored {file} into {where}"]


def quality_command(url: str | None, out: str | Path) -> list[str]:
    """``pmresearch quality --out FILE [--db URL]``: build the report; the summary's lines and the file written."""
    from pmresearch.reports.quality import build_quality_report

    result = build_quality_report(url, out)
    return [*str(result.summary()).splitlines(), f"wrote {out}"]


_DB_HELP = "database URL (default: $PMRESEARCH_DB, else duckdb:///data/pmresearch.duckdb)"


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or directories (recognized by file-name prefix)")],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
    symbol: Annotated[str | None, typer.Option(help="symbol of Binance files whose name lacks it")] = None,
    interval: Annotated[str | None, typer.Option(help="bar length of Binance files whose name lacks it")] = None,
) -> None:
    """Validate and load data files into the store, in one transaction (bad input changes nothing)."""
    _store_lines(lambda: ingest_command(paths, db, symbol=symbol, interval=interval), db)


db_app = typer.Typer(help="Back up and restore the store (DuckDB or PostgreSQL).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="backup file to write (a tar of Parquet tables)")],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
) -> None:
    """Dump every table of the store to FILE (restorable into either backend)."""
    _store_lines(lambda: backup_command(file, db), db)


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="a file written by `pmresearch db backup`")],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
) -> None:
    """Load a backup into the store (one transaction; restoring twice changes nothing)."""
    _store_lines(lambda: restore_command(file, db), db)


@app.command()
def quality(
    out: Annotated[Path, typer.Option("--out", help="the HTML report to write")],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
) -> None:
    """Data-quality report of the store: completeness, gaps, anomalies, spreads, clock skew, label flips."""
    _store_lines(lambda: quality_command(db, out), db)


@app.command()
def features(
    out: Annotated[Path, typer.Option("--out", help="the Parquet file to write")],
    db: Annotated[str | None, typer.Option("--db", help=_DB_HELP)] = None,
    until: Annotated[
        str | None, typer.Option(help="ignore rows known after this UTC time (ISO with offset, e.g. ...T12:00Z)")
    ] = None,
    offsets: Annotated[
        str | None, typer.Option(help="decision offsets from each window start, e.g. 0,1m,2m,5m,10m,14m with "
                                 "--interval 15 (an offset past a selected window's end is an error)")
    ] = None,
    every_s: Annotated[
        str, typer.Option("--every-s", help="seconds between decisions when no --offsets (30, or a span: 30s, 1m)")
    ] = "30",
    every: Annotated[str | None, typer.Option(hidden=True, help="deprecated alias of --every-s")] = None,
    interval: Annotated[int | None, typer.Option(help="only windows of this many minutes (5, 15)")] = None,
    store: Annotated[
        bool, typer.Option("--store", help="also save the matrix in the store's features table (rows with the "
                           "same (slug, t) are replaced)")
    ] = False,
) -> None:
    """Decision rows x every registered feature, with labels and market state, to a Parquet file."""
    from pmresearch.features.matrix import features_command

    try:
        if every is not None:
            typer.echo("warning: --every is deprecated; use --every-s", err=True)
            every_s = every
        path, matrix, stored = features_command(out, db=db, until=until, offsets=offsets, every_s=every_s,
                                                interval_minutes=interval, store=store)
    except (ValueError, OSError, ConnectionError) as exc:
        _fail(_one_line(exc))
    n_feat = sum("__" in c for c in matrix.columns)
    typer.echo(f"wrote {len(matrix)} rows x {n_feat} features ({matrix['slug'].nunique()} windows) to {path}")
    if stored is not None:
        typer.echo(f"stored {stored[0]} rows in the features table ({stored[1]} replaced stored rows)")
    for col in ("label_source", "spot_source", "strike_source"):
        counts = matrix[col].fillna("none").value_counts().to_dict()
        typer.echo(f"  {col}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


fetch_app = typer.Typer(help="Download from public APIs into data/raw (rate-limited, retried, resumable) and "
                        "canonical Parquet files that `pmresearch ingest` loads.", no_args_is_help=True)
app.add_typer(fetch_app, name="fetch")
_START = Annotated[str, typer.Option(help="UTC start, ISO with offset (e.g. 2026-06-08T00:00Z) or a date")]
_END = Annotated[str, typer.Option(help="UTC end (exclusive), ISO with offset or a date")]
_OUT = Annotated[Path, typer.Option("--out", help="directory of the parsed, canonical Parquet files")]
_RAW = Annotated[Path, typer.Option("--raw-root", help="root of raw responses and resume manifests")]
_CONC = Annotated[int, typer.Option(help="chunks fetched at once")]
_ATTEMPTS = Annotated[int, typer.Option(help="attempts per request (429/5xx/timeouts are retried)")]


def _fetch_run(job: Any) -> None:
    """Run a fetch job (a callable) and print its results; API and input errors exit 1 with the message."""
    from pmresearch.data.clients import ApiError

    try:
        results = job()
    except (ApiError, ValueError, OSError) as exc:
        _fail(_one_line(exc))
    for res in results if isinstance(results, list) else [results]:
        typer.echo(res.summary() if hasattr(res, "summary") else str(res))


@fetch_app.command("binance")
def fetch_binance(
    start: _START, end: _END,
    symbol: Annotated[str, typer.Option(help="Binance spot symbol")] = "BTCUSDT",
    interval: Annotated[str, typer.Option(help="kline interval (1s, 1m, 5m, 1h, ...)")] = "1m",
    out: _OUT = Path("data/processed"), raw_root: _RAW = Path("data/raw"),
    base_url: Annotated[str | None, typer.Option(help="REST base URL (default https://api.binance.com)")] = None,
    page_limit: Annotated[int, typer.Option(help="rows per request (<= 1000)")] = 1000,
    concurrency: _CONC = 4, max_attempts: _ATTEMPTS = 6,
) -> None:
    """Binance spot klines of [start, end)."""
    from pmresearch.data.clients.commands import fetch_binance as job

    _fetch_run(lambda: job(symbol=symbol, interval=interval, start=start, end=end, out=out, raw_root=raw_root,
                           base_url=base_url, page_limit=page_limit, concurrency=concurrency,
                           max_attempts=max_attempts))


@fetch_app.command("coinbase")
def fetch_coinbase(
    start: _START, end: _END,
    product: Annotated[str, typer.Option(help="Coinbase Exchange product")] = "BTC-USD",
    granularity: Annotated[int, typer.Option(help="candle seconds: 60, 300, 900, 3600, 21600, 86400")] = 60,
    out: _OUT = Path("data/processed"), raw_root: _RAW = Path("data/raw"),
    base_url: Annotated[str | None, typer.Option(help="REST base URL (default https://api.exchange.coinbase.com)")]
    = None,
    concurrency: _CONC = 4, max_attempts: _ATTEMPTS = 6,
) -> None:
    """Coinbase Exchange candles of [start, end)."""
    from pmresearch.data.clients.commands import fetch_coinbase as job

    _fetch_run(lambda: job(product=product, granularity=granularity, start=start, end=end, out=out,
                           raw_root=raw_root, base_url=base_url, concurrency=concurrency, max_attempts=max_attempts))


@fetch_app.command("polymarket")
def fetch_polymarket(
    what: Annotated[str, typer.Argument(help="markets, prices, book, trades, all (markets+prices+trades) or ws")],
    start: _START, end: _END,
    interval_minutes: Annotated[int, typer.Option(help="market length: 5, 15 or 60")] = 15,
    asset: Annotated[str, typer.Option(help="slug asset prefix")] = "btc",
    out: _OUT = Path("data/processed"), raw_root: _RAW = Path("data/raw"),
    fidelity: Annotated[int, typer.Option(help="prices-history resolution in minutes (1 = finest)")] = 1,
    lead_minutes: Annotated[int, typer.Option(help="prices-history from this long before each window")] = 0,
    duration: Annotated[float | None, typer.Option(help="ws: seconds to record")] = None,
    max_messages: Annotated[int | None, typer.Option(help="ws: stop after this many messages")] = None,
    token: Annotated[list[str] | None, typer.Option(help="ws: token ids to subscribe (default: the range's)")]
    = None,
    gamma_url: Annotated[str | None, typer.Option(help="Gamma base URL")] = None,
    clob_url: Annotated[str | None, typer.Option(help="CLOB base URL")] = None,
    data_url: Annotated[str | None, typer.Option(help="Data API base URL")] = None,
    ws_url: Annotated[str | None, typer.Option(help="market-channel websocket URL")] = None,
    concurrency: _CONC = 4, max_attempts: _ATTEMPTS = 6,
) -> None:
    """Polymarket data of the markets whose window starts in [start, end), found by slug."""
    from pmresearch.data.clients import commands

    if what not in commands.POLYMARKET_DATASETS:
        _fail(f"unknown dataset {what!r}; one of {', '.join(commands.POLYMARKET_DATASETS)}")
    if what == "ws":
        _fetch_run(lambda: commands.record_polymarket_ws(
            start=start, end=end, out=out, raw_root=raw_root, duration_s=duration, max_messages=max_messages,
            interval_minutes=interval_minutes, asset=asset, gamma_url=gamma_url, ws_url=ws_url, tokens=token,
            max_attempts=max_attempts))
        return
    _fetch_run(lambda: commands.fetch_polymarket(
        what, start=start, end=end, out=out, raw_root=raw_root, interval_minutes=interval_minutes, asset=asset,
        fidelity=fidelity, lead_minutes=lead_minutes, gamma_url=gamma_url, clob_url=clob_url, data_url=data_url,
        concurrency=concurrency, max_attempts=max_attempts))


@app.command()
def version() -> None:
    """Print the package version."""
    from pmresearch._version import __version__

    typer.echo(__version__)
