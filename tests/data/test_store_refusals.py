"""Store refusals of point 7 (issue 12): a path that is not a DuckDB database or not writable, concurrent
loads into one store, and database errors reaching the CLI. Each is one ``error:`` line, exit 1, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data import TABLES, connect, read_file
from pmresearch.data.store import DuckDBStore, StoreBusyError, check_duckdb_path

runner = CliRunner()
KLINES = "btcusdt_1m_2026-02-21_24.parquet"
KLINE_ROWS = 4_894  # rows of that file once loaded (tests/data/test_ingest_cli.py)


def _cli(args: list[str], timeout_s: float = 5.0) -> subprocess.CompletedProcess[str]:
    """``pmresearch ARGS`` in a fresh process (its own DuckDB instance and connections)."""
    env = {**os.environ, "PMRESEARCH_LOCK_TIMEOUT_S": str(timeout_s)}
    return subprocess.run([sys.executable, "-c", "from pmresearch.cli import app; app()", *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def _refused(output: str, *parts: str) -> None:
    lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, output
    for part in parts:
        assert part in lines[0], output
    assert "Traceback" not in output


def test_a_parquet_file_as_duckdb_store_is_refused_and_kept_intact(shared_data: Path, tmp_path: Path) -> None:
    target = tmp_path / "file.parquet"
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(target)
    before = target.read_bytes()
    res = runner.invoke(app, ["ingest", str(shared_data / KLINES), "--db", f"duckdb:///{target}"])
    assert res.exit_code == 1
    _refused(res.output, str(target), "is not a DuckDB database")
    assert "new rows" not in res.output
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.parquet"]  # no WAL, nothing beside it


def test_an_empty_file_and_a_directory_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    with pytest.raises(ValueError, match="is not a DuckDB database"):
        DuckDBStore(f"duckdb:///{empty}")
    with pytest.raises(ValueError, match="is a directory"):
        DuckDBStore(f"duckdb:///{tmp_path}")
    assert empty.stat().st_size == 0


def test_a_real_duckdb_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.duckdb"
    duckdb.connect(str(path)).close()  # written by DuckDB itself, not by the store
    check_duckdb_path(path)  # no error
    with DuckDBStore(f"duckdb:///{path}") as store:
        assert store.counts() == dict.fromkeys(TABLES, 0)


def _unwritable_dirs(tmp_path: Path) -> Iterator[Path]:
    """Directories this process cannot create files in: below a regular file always; a read-only
    directory when not root (root writes through permissions); ``/sys`` where the kernel refuses."""
    blocker = tmp_path / "plain_file"
    blocker.write_text("x")
    yield blocker / "sub"
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        yield ro
    sys_dir = Path("/sys")
    try:
        (sys_dir / "pmresearch_probe").touch()
    except OSError:
        yield sys_dir


def test_an_unwritable_duckdb_path_is_refused_before_loading(shared_data: Path, tmp_path: Path) -> None:
    dirs = list(_unwritable_dirs(tmp_path))
    assert dirs
    for d in dirs:
        url = f"duckdb:///{d / 'x.duckdb'}"
        res = runner.invoke(app, ["ingest", str(shared_data / KLINES), "--db", url])
        assert res.exit_code == 1, (d, res.output)
        _refused(res.output, url, "not writable", "nothing loaded")
        assert not (d / "x.duckdb").exists()


def _blocked_load(url: str, frame: pd.DataFrame) -> tuple[threading.Thread, threading.Event, threading.Event,
                                                           dict[str, object]]:
    """Start a load of ``frame`` in a thread that stops inside its transaction until ``release`` is set."""
    inside, release = threading.Event(), threading.Event()
    result: dict[str, object] = {}

    def hook(stage: str) -> None:
        if stage == "inserted":
            inside.set()
            assert release.wait(120)

    def run() -> None:
        try:
            with connect(url) as store:
                store.fault_hook = hook
                result["inserted"] = store.load_frame("klines", frame, "first")
        except BaseException as exc:  # handed to the test
            result["error"] = exc
            inside.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert inside.wait(120) and "error" not in result, result
    return thread, inside, release, result


def test_a_second_load_waits_for_the_first(shared_data: Path, store_url: str) -> None:
    frame = read_file(shared_data / KLINES)
    thread, _, release, first = _blocked_load(store_url, frame)
    second: dict[str, object] = {}

    def run_second() -> None:
        try:
            with connect(store_url, lock_timeout_s=120) as store:
                second["inserted"] = store.load_frame("klines", frame, "second")
        except BaseException as exc:  # handed to the test
            second["error"] = exc

    other = threading.Thread(target=run_second)
    other.start()
    other.join(2.0)  # give it time to reach the lock (the outcome below does not depend on it)
    release.set()
    thread.join(120)
    other.join(120)
    assert first == {"inserted": KLINE_ROWS}
    assert second == {"inserted": 0}, second  # it waited, then found every row stored
    with connect(store_url) as store:
        assert store.count("spot_prices") == KLINE_ROWS


def test_a_busy_store_fails_cleanly_naming_it(shared_data: Path, store_url: str) -> None:
    frame = read_file(shared_data / KLINES)
    thread, _, release, first = _blocked_load(store_url, frame)
    try:
        with (pytest.raises(StoreBusyError, match=r"gave up after 0\.5 s"),  # a thread of this process
              connect(store_url, lock_timeout_s=0.5) as store):
            store.load_frame("klines", frame, "second")
        res = _cli(["ingest", str(shared_data / KLINES), "--db", store_url], timeout_s=1.0)  # another process
        assert res.returncode == 1, res.stdout + res.stderr
        _refused(res.stderr + res.stdout, "gave up after 1 s")
        assert store_url.split("?")[0].split("///")[-1] in res.stderr
    finally:
        release.set()
        thread.join(120)
    assert first == {"inserted": KLINE_ROWS}
    with connect(store_url) as store:
        assert store.count("spot_prices") == KLINE_ROWS  # only the first load's rows


def test_two_concurrent_cli_ingests_both_succeed(shared_data: Path, store_url: str) -> None:
    args = ["ingest", str(shared_data / KLINES), "--db", store_url]
    procs = [subprocess.Popen([sys.executable, "-c", "from pmresearch.cli import app; app()", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PMRESEARCH_LOCK_TIMEOUT_S": "240"}) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    inserted = sorted(int(line.split(": ")[1].split()[0]) for out, _ in outs for line in out.splitlines()
                      if line.startswith("spot_prices: "))
    assert inserted == [0, KLINE_ROWS], outs
    with connect(store_url) as store:
        assert store.count("spot_prices") == KLINE_ROWS


@pytest.mark.parametrize(("error", "url", "shown"), [
    (duckdb.IOException("IO Error: disk full"), "duckdb:///x/s.duckdb", "duckdb:///x/s.duckdb: IO Error: disk full"),
    (psycopg.OperationalError("server closed the connection\nunexpectedly"),
     "postgresql://me:secret@db.example:5432/prod", "postgresql://me:***@db.example:5432/prod: server closed the "
     "connection unexpectedly"),
])
@pytest.mark.parametrize("command", ["ingest", "backup", "restore", "quality"])
def test_driver_errors_are_one_line_naming_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     error: Exception, url: str, shown: str, command: str) -> None:
    def fail(*args: object, **kwargs: object) -> list[str]:
        raise error

    monkeypatch.setattr(f"pmresearch.cli.{command}_command", fail)
    args = {"ingest": ["ingest", str(tmp_path)], "backup": ["db", "backup", str(tmp_path / "b.tar")],
            "restore": ["db", "restore", str(tmp_path / "b.tar")],
            "quality": ["quality", "--out", str(tmp_path / "q.html")]}[command]
    res = runner.invoke(app, [*args, "--db", url])
    assert res.exit_code == 1
    _refused(res.output, shown)
    assert "secret" not in res.output
