"""Notebook runner, offline HTML reports and the display helpers notebooks call.

Running (what ``pmresearch run`` does)::

    from pmresearch.reports import run_notebook
    out = run_notebook("04_go_no_go", Path("params/04_go_no_go/sim_edge.yaml"), {"days": 3})
    out.html  # reports/04_go_no_go/sim_edge.html

Inside a notebook::

    from pmresearch.reports import decision_table, show, table_html, write_headline
    show(fig)                                  # plotly figure, offline (plotly.js embedded once)
    decision_table(criteria, decision)         # last expression of a cell
    write_headline("04_go_no_go", run_name, {"decision": decision, "criteria": criteria})

Heavy dependencies (papermill, nbconvert, IPython) are imported when a function needs them.
"""

from __future__ import annotations

from pmresearch.reports.export import export_html, notebook_to_html
from pmresearch.reports.figures import decision_table, figure_html, show, table_html
from pmresearch.reports.headline import headline_path, read_headline, to_jsonable, write_headline
from pmresearch.reports.index import build_index
from pmresearch.reports.paths import REPO_ROOT_ENV, display_path, find_repo_root, reports_dir
from pmresearch.reports.runner import NotebookRunError, RunOutputs, run_notebook

__all__ = [
    "REPO_ROOT_ENV",
    "NotebookRunError",
    "RunOutputs",
    "build_index",
    "decision_table",
    "display_path",
    "export_html",
    "figure_html",
    "find_repo_root",
    "headline_path",
    "notebook_to_html",
    "read_headline",
    "reports_dir",
    "run_notebook",
    "show",
    "table_html",
    "to_jsonable",
    "write_headline",
]
