"""Export an executed notebook to a self-contained HTML report that opens offline.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from CDNs and, for notebooks with
widget state, the widget renderer from unpkg. The package's template ``templates/offline`` (shipped as
package data) extends it and empties those four blocks. The lab CSS is inlined by the template itself;
images are embedded; code inputs and prompts are excluded, so readers see prose, tables and figures;
stderr streams (progress bars, warnings) are dropped from the HTML but stay in the executed ``.ipynb``.
Plotly figures carry their library inline (see :func:`pmresearch.reports.figures.show`). LaTeX in
markdown shows as source, since MathJax is not loaded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pmresearch.reports.paths import atomic_write_text

__all__ = ["TEMPLATE_DIR", "TEMPLATE_NAME", "export_html", "notebook_to_html"]

#: Directory of the package's nbconvert templates.
TEMPLATE_DIR = Path(__file__).parent / "templates"

#: The offline template: nbconvert's ``lab`` template without any script loaded from the network.
TEMPLATE_NAME = "offline"


def _reader_view(nb: Any) -> Any:
    """A copy of the notebook without stderr stream outputs."""
    view = copy.deepcopy(nb)
    for cell in view.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                out
                for out in cell.get("outputs", [])
                if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
            ]
    return view


def notebook_to_html(nb: Any, *, title: str) -> str:
    """Render a notebook node as offline HTML: no code, no prompts, no stderr, no CDN scripts.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (not modified).
    title : str
        The page title.

    Returns
    -------
    str
        The full HTML document.
    """
    from nbconvert import HTMLExporter

    make_exporter: Callable[..., Any] = HTMLExporter
    exporter = make_exporter(
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        template_name=TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(_reader_view(nb), resources={"metadata": {"name": title}})
    return str(body)


def export_html(nb: Any, path: Path, *, title: str) -> Path:
    """Write the offline HTML report of a notebook node to ``path`` atomically.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    path : Path
        The ``.html`` destination; written to a temporary file first, then renamed.
    title : str
        The page title.

    Returns
    -------
    Path
        ``path``.
    """
    return atomic_write_text(path, notebook_to_html(nb, title=title))
