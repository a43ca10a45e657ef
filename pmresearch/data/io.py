"""Read a data directory: recognize files by their name prefix, read and validate them.

The prefixes are those of ``../shared/data/README.md``; a simulated world uses the same ones, so a
simulated directory reads exactly like a real one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pmresearch.data.schemas import SCHEMAS, SchemaError, validate

__all__ = ["FILE_KINDS", "FILE_PREFIXES", "DataDir", "data_files", "no_data_files_error", "read_data_dir", "read_file",
           "recognize", "validate_files"]

#: (file-name pattern, data kind) in the order they are tried.
FILE_KINDS: list[tuple[re.Pattern[str], str]] = [
    # <symbol>_<bar length>_: btcusdt_1m_, ethusdt_1m_, btcusdt_1s_ (README), and what `fetch` writes
    # for other bar lengths and venues (btcusdt_5m_, btcusd_1m_ from Coinbase)
    (re.compile(r"^[a-z0-9]+_\d+[smhdw]_.*\.(parquet|csv)$"), "klines"),
    (re.compile(r"^btcusdt_trades_.*\.(parquet|csv)$"), "trades"),
    (re.compile(r"^chainlink_btcusd_.*\.(parquet|csv)$"), "oracle"),
    (re.compile(r"^polymarket_btc_(5|15)m_markets_.*\.(parquet|csv)$"), "markets"),
    (re.compile(r"^polymarket_btc_(5|15)m_quotes_.*\.(parquet|csv)$"), "quotes"),
    (re.compile(r"^polymarket_btc_(5|15)m_books_.*\.(parquet|csv)$"), "books"),
    (re.compile(r"^polymarket_btc_(5|15)m_book_events_.*\.(parquet|csv)$"), "book_events"),
    (re.compile(r"^polymarket_btc_(5|15)m_trades_.*\.(parquet|csv)$"), "trades"),
]


#: The file-name prefixes of ../shared/data/README.md, as a user reads them (error messages name them).
FILE_PREFIXES = ("btcusdt_1m_*", "btcusdt_trades_*", "chainlink_btcusd_*", "polymarket_btc_{5m,15m}_markets_*",
                 "polymarket_btc_{5m,15m}_quotes_*", "polymarket_ws_*.jsonl.gz", "polymarket_btc_{5m,15m}_books_*",
                 "polymarket_btc_{5m,15m}_book_events_*", "polymarket_btc_{5m,15m}_trades_*",
                 "<symbol>_<bar length>_* (ethusdt_1m_, btcusdt_1s_)")


def no_data_files_error(root: Path) -> SchemaError:
    """The refusal of a directory without one data file: it names the directory and the expected prefixes."""
    return SchemaError(f"data directory {root}: no data files (expected file names starting "
                       f"{', '.join(FILE_PREFIXES)}: Parquet or CSV, websocket logs JSON lines; "
                       "see ../shared/data/README.md)")


def data_files(path: str | Path) -> list[Path]:
    """The recognized data files of a directory (not recursive), sorted.

    Raises
    ------
    FileNotFoundError
        When the directory does not exist.
    SchemaError
        When it holds no recognized file (an empty ``data_dir``): the message names the directory
        and the expected file-name prefixes.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    files = [p for p in sorted(root.iterdir())
             if p.is_file() and not p.name.startswith(".") and recognize(p) is not None]
    if not files:
        raise no_data_files_error(root)
    return files


def recognize(path: str | Path) -> str | None:
    """The data kind of a file from its name, or ``None`` when no prefix matches."""
    name = Path(path).name
    for pattern, kind in FILE_KINDS:
        if pattern.match(name):
            return kind
    return None


def _read_csv(path: Path, kind: str) -> pd.DataFrame:
    """A canonical CSV with the schema's types: text columns stay text (``price_exact`` keeps every
    digit), timestamp columns are parsed as ISO 8601 (an offset is required; naive ones fail validation)."""
    columns = SCHEMAS[kind].columns
    text = [n for n, c in columns.items() if str(c.dtype).startswith(("str", "object"))]
    frame = pd.read_csv(path, dtype=dict.fromkeys(text, object))
    for name, col in columns.items():
        if name in frame.columns and str(col.dtype).startswith("datetime64"):
            if frame[name].isna().all():
                frame[name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
            else:
                frame[name] = _csv_timestamps(frame[name], path)
    return frame


def _csv_timestamps(values: pd.Series, path: Path) -> pd.Series:
    """ISO 8601 text as timestamps; a value that does not parse is a :class:`SchemaError` naming the
    file, the column, the rows (numbered from 0 after the header, as every validation message) and the values."""
    try:
        return pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError, OverflowError) as exc:
        problem = str(exc).splitlines()[0]
    bad = [(i, v) for i, v in enumerate(values.tolist()) if isinstance(v, str) and not _parses(v)][:5]
    if bad:  # read_csv numbers rows from 0, as every validation message does
        raise SchemaError(f"{path}: column {values.name!r}: not an ISO 8601 timestamp at rows "
                          f"{[i for i, _ in bad]} (values {[v for _, v in bad]})") from None
    raise SchemaError(f"{path}: column {values.name!r}: timestamps do not parse ({problem}); give every value "
                      "as ISO 8601 with its UTC offset") from None


def _parses(text: str) -> bool:
    try:
        pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def read_file(path: str | Path, kind: str | None = None) -> pd.DataFrame:
    """Read one canonical Parquet/CSV file and validate it against its schema.

    Raises
    ------
    SchemaError
        When the file is unreadable (e.g. truncated) or does not fit the schema; the message
        names the file.
    """
    p = Path(path)
    kind = kind or recognize(p)
    if kind is None:
        raise ValueError(f"{p}: file name matches no known data prefix")
    try:
        frame = pq.read_table(p).to_pandas() if p.suffix == ".parquet" else _read_csv(p, kind)
    except (OSError, pa.ArrowInvalid, pd.errors.ParserError, ValueError) as exc:
        raise SchemaError(f"{p}: cannot read file ({exc})") from exc
    return validate(frame, kind, source=str(p))


def validate_files(files: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Validate frames keyed by the file name they are (or will be) written as.

    The same path as :func:`read_file` without the disk: e.g. ``validate_files(world.files())``
    checks a simulated world before it is written. Names that match no prefix are returned as
    they are (``truth_windows.parquet``, ``world.json``).

    Raises
    ------
    SchemaError
        Naming the file, the column and the rows of the first problem.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, frame in files.items():
        kind = recognize(name)
        out[name] = frame if kind is None else validate(frame, kind, source=name)
    return out


@dataclass(frozen=True)
class DataDir:
    """Frames of a data directory, concatenated per kind, with the files read and skipped."""

    path: Path
    frames: dict[str, pd.DataFrame]
    files: dict[str, list[Path]]
    skipped: list[Path] = field(default_factory=list)

    def get(self, kind: str) -> pd.DataFrame | None:
        """The frame of ``kind``, or ``None`` when the directory has no such file."""
        return self.frames.get(kind)


def read_data_dir(path: str | Path) -> DataDir:
    """Read and validate every recognized file of a directory (not recursive).

    Files whose names match no prefix are listed in ``skipped`` (``world.json`` of a simulated
    world, notes, ...). Quotes keep ``true_prob_up`` when a simulated world provides it.

    Raises
    ------
    FileNotFoundError
        When the directory does not exist.
    SchemaError
        When it has no recognized data file (see :func:`data_files`), or a file does not fit its schema.
    """
    root = Path(path)
    data_files(root)  # refuses a missing directory, or one without a data file
    parts: dict[str, list[pd.DataFrame]] = {}
    files: dict[str, list[Path]] = {}
    skipped: list[Path] = []
    for p in sorted(root.iterdir()):
        if p.is_dir() or p.name.startswith("."):
            continue
        kind = recognize(p)
        if kind is None:
            skipped.append(p)
            continue
        parts.setdefault(kind, []).append(read_file(p, kind))
        files.setdefault(kind, []).append(p)
    frames = {k: pd.concat(v, ignore_index=True) if len(v) > 1 else v[0] for k, v in parts.items()}
    return DataDir(path=root, frames=frames, files=files, skipped=skipped)
