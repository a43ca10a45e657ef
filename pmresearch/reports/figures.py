"""Display helpers for notebooks: plotly figures, tables and the GO / NO-GO decision table.

They keep notebooks free of presentation logic and make the exported HTML report self-contained:

- :func:`show` displays a plotly figure as HTML, embedding plotly.js inline with the first figure of the
  kernel only (later figures reuse it), so the report opens offline and carries plotly.js once;
- :func:`table_html` renders a DataFrame as a compact styled table;
- :func:`decision_table` renders the criteria and the overall decision as a big coloured badge.

``show`` displays (returns nothing); ``table_html`` and ``decision_table`` return an
``IPython.display.HTML`` object: make it the last expression of a cell, or pass it to ``display``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmresearch.reports._style import CSS, badge_html, criteria_table_html

if TYPE_CHECKING:
    import pandas as pd
    from IPython.display import HTML

__all__ = ["DECISION_TABLE_MARKER", "decision_table", "figure_html", "show", "table_html"]

#: Marker attribute of the decision table, for report checks (``data-pmr="decision-table"``).
DECISION_TABLE_MARKER = 'data-pmr="decision-table"'


@dataclass
class _KernelState:
    """Per-process (per-kernel) state: whether plotly.js has already been embedded in an output."""

    plotlyjs_embedded: bool = False


_STATE = _KernelState()


def figure_html(fig: Any, *, include_plotlyjs: bool) -> str:
    """The HTML fragment of a plotly figure (a ``<div>`` plus the script that draws it).

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure.
    include_plotlyjs : bool
        Whether to embed the full plotly.js library inline (never a CDN link).

    Returns
    -------
    str
        The fragment, responsive and without the plotly logo.

    Raises
    ------
    TypeError
        If ``fig`` is not a plotly figure.
    """
    from plotly.basedatatypes import BaseFigure

    if not isinstance(fig, BaseFigure):
        raise TypeError(f"expected a plotly figure, got {type(fig).__name__}")
    out = fig.to_html(
        full_html=False,
        include_plotlyjs=bool(include_plotlyjs),
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True},
    )
    return str(out)


def show(fig: Any) -> None:
    """Display a plotly figure in the notebook so that the exported report works offline.

    The first call in a kernel embeds plotly.js inline; later calls reference the already loaded
    library, so an exported report carries plotly.js exactly once. Call it for every figure, in
    order (the first figure's output must stay in the notebook).

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure to display.
    """
    from IPython.display import display

    fragment = figure_html(fig, include_plotlyjs=not _STATE.plotlyjs_embedded)
    _STATE.plotlyjs_embedded = True
    show_output: Callable[[Any], None] = display
    show_output(_html(fragment))


def _style_block() -> str:
    return f"<style>{CSS}</style>"


def _html(fragment: str) -> HTML:
    """``IPython.display.HTML(fragment)`` (IPython is imported only when a helper is used)."""
    from IPython.display import HTML

    make: Callable[[str], HTML] = HTML
    return make(fragment)


def table_html(
    df: pd.DataFrame,
    caption: str | None = None,
    *,
    index: bool = True,
    max_rows: int = 200,
    float_format: Callable[[float], str] | None = None,
) -> HTML:
    """A DataFrame as a compact, styled HTML table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; cell text is escaped.
    caption : str, optional
        A caption shown above the table.
    index : bool
        Whether to show the index.
    max_rows : int
        At most this many rows are shown (head and tail, as pandas does).
    float_format : callable, optional
        Float formatter; default 4 significant digits.

    Returns
    -------
    IPython.display.HTML
        The table; display it (last expression of a cell, or ``display(...)``).
    """
    fmt = float_format if float_format is not None else (lambda x: f"{x:.4g}")
    body = df.to_html(
        classes="pmr-table",
        border=0,
        index=index,
        max_rows=max_rows,
        float_format=fmt,
        escape=True,
        na_rep="—",
    )
    if caption:
        body = body.replace(
            '<table class="dataframe pmr-table">',
            f'<table class="dataframe pmr-table"><caption>{html.escape(caption)}</caption>',
            1,
        )
    return _html(_style_block() + body)


def decision_table(criteria: Sequence[Mapping[str, Any]], decision: str) -> HTML:
    """The GO / NO-GO table: each criterion with its value, threshold and pass mark, and the decision.

    Parameters
    ----------
    criteria : sequence of mappings
        Each with ``name``, ``value``, ``threshold`` and ``passed`` (bool), as written to the headline
        JSON. ``value`` and ``threshold`` may be numbers (4 significant digits) or text (``">= 0.02"``).
    decision : str
        The overall decision, ``"GO"`` (green badge) or ``"NO-GO"`` (red badge); anything else is grey.

    Returns
    -------
    IPython.display.HTML
        The badge and table inside ``<div class="pmr-decision" data-pmr="decision-table">``.

    Raises
    ------
    ValueError
        If a criterion lacks a key or its ``passed`` is not a bool.
    """
    table = criteria_table_html(criteria)
    n_pass = sum(bool(c["passed"]) for c in criteria)
    summary = f"{n_pass} of {len(criteria)} criteria passed"
    return _html(
        f"{_style_block()}<div class=\"pmr-decision\" {DECISION_TABLE_MARKER}>"
        f"<div>Decision: {badge_html(decision, big=True)}</div>"
        f"<div>{html.escape(summary)}</div>{table}</div>"
    )
