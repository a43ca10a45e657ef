"""Notebook display helpers: plotly figures embedded offline, and the GO / NO-GO table."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from IPython.display import HTML

__all__ = ["decision_table", "show"]

_state = {"plotly_js_embedded": False}


def show(fig: Any) -> HTML:
    """Display a plotly figure as HTML; plotly.js is embedded inline once per kernel (offline reports)."""
    first = not _state["plotly_js_embedded"]
    _state["plotly_js_embedded"] = True
    return HTML(fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False}))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return html.escape(str(value))


def decision_table(criteria: Sequence[Mapping[str, Any]], decision: str) -> HTML:
    """The GO / NO-GO verdict as a badge over a table of criterion, value, threshold and pass/fail."""
    colour = "#1b7f3b" if decision == "GO" else "#b3261e"
    rows = "".join(
        f"<tr><td>{html.escape(str(c['name']))}</td><td style='text-align:right'>{_fmt(c.get('value'))}</td>"
        f"<td style='text-align:center'>{html.escape(str(c.get('rule', '')))} {_fmt(c.get('threshold'))}</td>"
        f"<td style='text-align:center;color:{'#1b7f3b' if c['passed'] else '#b3261e'};font-weight:bold'>"
        f"{'&#10003; pass' if c['passed'] else '&#10007; fail'}</td></tr>"
        for c in criteria
    )
    return HTML(
        f"<div class='pm-decision'><div style='display:inline-block;padding:8px 22px;border-radius:6px;"
        f"background:{colour};color:white;font-size:28px;font-weight:bold;margin:6px 0 12px 0'>"
        f"{html.escape(decision)}</div>"
        "<table style='border-collapse:collapse;min-width:640px'><thead><tr><th style='text-align:left'>criterion</th>"
        "<th>value</th><th>threshold</th><th>passed</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
