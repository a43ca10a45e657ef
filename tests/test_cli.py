"""The pmresearch command: only working commands, and simulate writes a loadable world."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pmresearch.cli import app
from pmresearch.data import read_data_dir

runner = CliRunner()


def test_help_lists_the_working_commands() -> None:
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    listed = {line.split()[1] for line in out.output.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert {"simulate", "run", "index", "bench", "version"} <= listed


def test_simulate_writes_a_data_directory(tmp_path: Path) -> None:
    out = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--preset", "no-edge", "--days", "0.25",
                              "--seed", "3", "--set", "mm_noise=0.1", "--set", "intervals=[5]"])
    assert out.exit_code == 0, out.output
    assert "wrote" in out.output
    data = read_data_dir(tmp_path)
    assert set(data.frames) == {"klines", "oracle", "markets", "quotes", "book_events", "books", "trades"}
    assert set(data.frames["markets"]["interval_minutes"]) == {5}
    book_files = sorted(p.name for p in tmp_path.glob("polymarket_btc_5m_book*"))
    assert [n.split("_sim-")[0] for n in book_files] == ["polymarket_btc_5m_book_events", "polymarket_btc_5m_books"]


def test_simulate_books_option_chooses_the_book_files(tmp_path: Path) -> None:
    base = ["simulate", "--preset", "no-edge", "--days", "0.125", "--seed", "3", "--set", "intervals=[5]"]
    for choice, kinds in (("events", ["book_events"]), ("none", [])):
        out = runner.invoke(app, [*base, "--out", str(tmp_path / choice), "--books", choice])
        assert out.exit_code == 0, out.output
        names = sorted(p.name.split("_sim-")[0] for p in (tmp_path / choice).glob("polymarket_btc_5m_book*"))
        assert names == [f"polymarket_btc_5m_{k}" for k in kinds]
        assert any((tmp_path / choice).glob("polymarket_btc_5m_quotes_*"))
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "bad"), "--books", "some"])
    assert bad.exit_code == 1 and "--books must be all, events or none, got 'some'" in bad.output
    assert not (tmp_path / "bad").exists()


def test_simulate_bad_knob_is_one_clear_line(tmp_path: Path) -> None:
    out = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--set", "sigmaa=1"])
    assert out.exit_code == 1
    assert "unknown key(s) ['sigmaa']" in out.output
    assert "Traceback" not in out.output
    assert not any(tmp_path.iterdir())  # nothing half-written
