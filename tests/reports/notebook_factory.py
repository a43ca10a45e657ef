"""Tiny notebooks and repositories for the report tests, built programmatically with nbformat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from pmresearch.reports import NotebookRunError, RunOutputs

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

TINY_PARAMETERS = 'run_name = "x"\ndays = 1\nlabel = "default-label"\ndata_dir = ""\ndb = ""'

TINY_CELLS = [
    "md:# Tiny report\n\nPROSE-MARKER: prose stays in the report.",
    "import os, sys  # CODE-MARKER-IMPORTS\n"
    "import numpy as np\nimport pandas as pd\nimport plotly.graph_objects as go\n"
    "from pmresearch.reports import decision_table, show, table_html, write_headline",
    'print(f"STDOUT-MARKER days={days}")\nprint("STDERR-MARKER", file=sys.stderr)',
    'show(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="first-trace")))  # CODE-MARKER-SHOW',
    'show(go.Figure(go.Bar(x=["a", "b"], y=[1, 2], name="second-trace")))',
    "criteria = [\n"
    '    {"name": "edge-criterion", "value": np.float64(0.0123), "threshold": 0.01,'
    ' "passed": np.bool_(True), "rule": ">="},\n'
    '    {"name": "trades-criterion", "value": np.int64(250), "threshold": 200, "passed": True},\n'
    "]\n"
    'decision_table(criteria, "GO")',
    'table_html(pd.DataFrame({"metric": ["m1"], "value": [0.5]}), caption="TABLE-CAPTION")',
    "md:## Headline",
    'write_headline("tiny", run_name, {\n'
    '    "decision": "GO", "criteria": criteria, "days": days, "label": label,\n'
    '    "when": pd.Timestamp("2026-06-15 12:00", tz="UTC"), "missing": float("nan"),\n'
    '    "data_dir": data_dir, "db": db, "cwd": os.getcwd(),\n'
    '    "env_root": os.environ.get("PMRESEARCH_REPO_ROOT"),\n'
    "})",
]

BOOM_PARAMETERS = 'run_name = "x"\nfail = True\ndays = 1\nlabel = "a"'

BOOM_CELLS = [
    "md:# Boom",
    "from pmresearch.reports import write_headline",
    'if fail:\n    raise ValueError("boom-marker: the cell failed")',
    'write_headline("boom", run_name, {"decision": "NO-GO", "days": days, "label": label})',
]

NOHEAD_CELLS = ['print("this notebook forgets its headline")']


def write_notebook(path: Path, parameters: str | None, cells: Sequence[str]) -> Path:
    """Write a notebook: an optional ``parameters``-tagged cell, then cells (``md:`` marks markdown)."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    if parameters is not None:
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    for src in cells:
        nb.cells.append(new_markdown_cell(src[3:]) if src.startswith("md:") else new_code_cell(src))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def make_repo(root: Path) -> Path:
    """A repository root with the notebooks tiny, boom, nohead and noparams, and params/tiny/ci.yaml."""
    nbs = root / "notebooks"
    write_notebook(nbs / "tiny.ipynb", TINY_PARAMETERS, TINY_CELLS)
    write_notebook(nbs / "boom.ipynb", BOOM_PARAMETERS, BOOM_CELLS)
    write_notebook(nbs / "nohead.ipynb", 'run_name = "x"', NOHEAD_CELLS)
    write_notebook(nbs / "noparams.ipynb", None, ['print("no parameters cell")'])
    params = root / "params" / "tiny"
    params.mkdir(parents=True)
    (params / "ci.yaml").write_text(
        "# small parameters\ndays: 2\nlabel: from-file\ndata_dir: data/sim\ndb: duckdb:///data/x.duckdb\n"
    )
    return root


@dataclass(frozen=True)
class SessionRuns:
    """The runs made once: a success (tiny), a failure over stale outputs (boom), no headline (nohead)."""

    repo: Path
    ok: RunOutputs
    boom: NotebookRunError
    nohead: NotebookRunError


class _ExternalRefs(HTMLParser):
    """Collects the src/href of <script>, <link>, <img> and <iframe> tags (script bodies are not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag in ("script", "link", "img", "iframe") and name in ("src", "href") and value:
                self.refs.append((tag, value))


def resource_refs(text: str) -> list[tuple[str, str]]:
    """The (tag, url) of every script/link/img/iframe src or href of an HTML document (not script text)."""
    parser = _ExternalRefs()
    parser.feed(text)
    return parser.refs
