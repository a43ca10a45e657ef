"""Writing fetched data: canonical Parquet files named with the data-directory prefixes, and run results."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmresearch.data.schemas import validate

__all__ = ["DEFAULT_OUT_DIR", "FetchResult", "bars_in_range", "range_tag", "write_canonical", "write_parquet"]

#: Where parsed, validated files go unless told otherwise (relative to the working directory).
DEFAULT_OUT_DIR = Path("data/processed")


@dataclass(frozen=True)
class FetchResult:
    """What one fetch run did.

    Attributes
    ----------
    files : list of Path
        Canonical Parquet files written (load them with ``pmresearch ingest``).
    manifest : Path
        The checkpoint of the run (a re-run with the same parameters resumes from it).
    chunks : dict
        ``total``, ``skipped`` (done in an earlier run) and ``fetched`` chunk counts.
    rows : dict
        Rows written per file name.
    requests : int
        HTTP requests sent (retries included).
    retries : int
        Retries after 429, 5xx, timeouts or truncated bodies.
    notes : list of str
        Anything the user should know (markets not found, truncated histories, ...).
    """

    files: list[Path]
    manifest: Path
    chunks: dict[str, int]
    rows: dict[str, int]
    requests: int = 0
    retries: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per file plus the notes, for the command line."""
        lines = [f"chunks: {self.chunks.get('fetched', 0)} fetched, {self.chunks.get('skipped', 0)} already done "
                 f"(of {self.chunks.get('total', 0)}); {self.requests} requests, {self.retries} retries"]
        lines += [f"wrote {self.rows.get(p.name, 0)} rows to {p}" for p in self.files]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)


def range_tag(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``20260608T0000_20260609T0000``: the file-name part naming a UTC range."""
    return f"{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}"


def bars_in_range(frames: list[pd.DataFrame], empty: pd.DataFrame, start: pd.Timestamp,
                  end: pd.Timestamp) -> pd.DataFrame:
    """Canonical klines of the fetched pages opening in ``[start, end)``, one per bar (the last fetched), by time.

    ``empty`` (the parser's output for no rows) stands in when nothing was fetched, so the columns
    and dtypes are the canonical ones either way.
    """
    frame = pd.concat(frames, ignore_index=True) if frames else empty
    frame = frame[(frame["ts"] >= start) & (frame["ts"] < end)]
    return frame.drop_duplicates(["symbol", "interval", "ts"], keep="last").sort_values("ts")


def write_canonical(frame: pd.DataFrame, kind: str, out_dir: str | Path, name: str, *, where: str) -> Path:
    """Validate ``frame`` as canonical ``kind`` and write it atomically as zstd Parquet ``out_dir/name``.

    Raises
    ------
    pmresearch.data.schemas.SchemaError
        When the frame does not fit the schema (``where`` names what it came from).
    """
    return write_parquet(validate(frame.reset_index(drop=True), kind, source=where), out_dir, name)


def write_parquet(frame: pd.DataFrame, out_dir: str | Path, name: str) -> Path:
    """Write ``frame`` (index dropped) atomically as zstd Parquet ``out_dir/name``, via a temporary file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    tmp = out / f".{name}.{os.getpid()}.tmp"
    frame.reset_index(drop=True).to_parquet(tmp, compression="zstd", index=False)
    os.replace(tmp, path)
    return path
