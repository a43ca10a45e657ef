"""Writing fetched data: canonical Parquet files named with the data-directory prefixes, and run results."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from pmresearch._summary import Summary, SummaryMixin
from pmresearch.data.schemas import validate

__all__ = ["DEFAULT_OUT_DIR", "FetchResult", "bars_in_range", "range_tag", "write_canonical", "write_parquet"]

#: Where parsed, validated files go unless told otherwise (relative to the working directory).
DEFAULT_OUT_DIR = Path("data/processed")


@dataclass(frozen=True)
class FetchResult(SummaryMixin):
    """What one fetch run did.

    Attributes
    ----------
    files : tuple of Path
        Canonical Parquet files written (load them with ``pmresearch ingest``).
    manifest : Path
        The checkpoint of the run (a re-run with the same parameters resumes from it).
    chunks : mapping
        ``total``, ``skipped`` (done in an earlier run) and ``fetched`` chunk counts (read-only).
    rows : mapping
        Rows written per file name (read-only).
    requests : int
        HTTP requests sent (retries included).
    retries : int
        Retries after 429, 5xx, timeouts, truncated bodies or empty answers where data must exist.
    notes : tuple of str
        Anything the user should know (markets not found, truncated histories, ...).
    """

    files: Sequence[Path]
    manifest: Path
    chunks: Mapping[str, int]
    rows: Mapping[str, int]
    requests: int = 0
    retries: int = 0
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "chunks", MappingProxyType(dict(self.chunks)))
        object.__setattr__(self, "rows", MappingProxyType(dict(self.rows)))
        object.__setattr__(self, "notes", tuple(self.notes))

    def summary(self) -> Summary:
        """The run as a :class:`~pmresearch._summary.Summary`: the chunk counts as its title, a table of the
        files written, then one note per file (``wrote <n> rows to <path>``), the run's notes and the manifest."""
        c = self.chunks
        title = (f"fetch: {c.get('fetched', 0)} chunks fetched, {c.get('skipped', 0)} already done "
                 f"(of {c.get('total', 0)}); {self.requests} requests, {self.retries} retries")
        files = pd.DataFrame({"rows": [self.rows.get(p.name, 0) for p in self.files],
                              "path": [str(p) for p in self.files]},
                             index=pd.Index([p.name for p in self.files], name="file"))
        notes = [f"wrote {self.rows.get(p.name, 0)} rows to {p}" for p in self.files]
        notes += list(self.notes)
        notes.append(f"manifest: {self.manifest}")
        return Summary(title, (("files", files),), tuple(notes))


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
