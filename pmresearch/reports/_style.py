"""Shared look of the HTML fragments: CSS, decision badges and value formatting (all text escaped)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CRITERIA_KEYS",
    "CSS",
    "badge_html",
    "check_criteria",
    "criteria_table_html",
    "decision_kind",
    "format_value",
]

#: The keys of one GO / NO-GO criterion.
CRITERIA_KEYS = ("name", "value", "threshold", "passed")

#: CSS for every fragment; class names are prefixed ``pmr-`` so they never clash with Jupyter's.
CSS = """
.pmr-table { border-collapse: collapse; margin: 0.4em 0 0.8em 0; font-size: 0.92em;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.pmr-table caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.2em 0 0.4em 0; }
.pmr-table th, .pmr-table td { border-bottom: 1px solid #d8dde3; padding: 0.25em 0.7em; text-align: right; }
.pmr-table th { background: #f3f5f7; font-weight: 600; }
.pmr-table th:first-child, .pmr-table td:first-child { text-align: left; }
.pmr-table tbody tr:nth-child(even) { background: #fafbfc; }
.pmr-pass { color: #1a7f37; font-weight: 700; }
.pmr-fail { color: #cf222e; font-weight: 700; }
.pmr-badge { display: inline-block; padding: 0.15em 0.6em; border-radius: 0.35em; color: #fff;
  font-weight: 700; letter-spacing: 0.03em; font-family: system-ui, sans-serif; }
.pmr-badge-go { background: #1a7f37; }
.pmr-badge-nogo { background: #cf222e; }
.pmr-badge-other { background: #6e7781; }
.pmr-badge-big { font-size: 1.8em; padding: 0.25em 0.9em; margin: 0.2em 0 0.5em 0; }
.pmr-decision { margin: 0.5em 0 1em 0; }
""".strip()


def decision_kind(decision: str) -> str:
    """``"go"``, ``"nogo"`` or ``"other"`` for a decision string (case and separators ignored)."""
    key = "".join(ch for ch in str(decision).upper() if ch.isalnum())
    return {"GO": "go", "NOGO": "nogo"}.get(key, "other")


def badge_html(decision: str, *, big: bool = False) -> str:
    """A coloured badge for a decision: green for GO, red for NO-GO, grey otherwise."""
    classes = f"pmr-badge pmr-badge-{decision_kind(decision)}" + (" pmr-badge-big" if big else "")
    text = html.escape(str(decision))
    return f'<span class="{classes}" data-pmr-decision="{text}">{text}</span>'


def format_value(value: Any) -> str:
    """A short, escaped text for a value: 4 significant digits for floats, an em dash for missing."""
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value))):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return html.escape(f"{float(value):.4g}")
    return html.escape(str(value))


def check_criteria(criteria: Sequence[Mapping[str, Any]]) -> None:
    """Raise :class:`ValueError` unless every criterion is a mapping with :data:`CRITERIA_KEYS`, passed a bool."""
    if isinstance(criteria, str | bytes) or not isinstance(criteria, Sequence):
        raise ValueError(f"criteria must be a list of mappings, got {type(criteria).__name__}")
    for i, item in enumerate(criteria):
        if not isinstance(item, Mapping):
            raise ValueError(f"criteria[{i}] must be a mapping with keys {list(CRITERIA_KEYS)}, got {item!r}")
        missing = [k for k in CRITERIA_KEYS if k not in item]
        if missing:
            raise ValueError(f"criteria[{i}] ({item.get('name', '?')!r}) lacks key(s) {missing}")
        if not isinstance(item["passed"], bool | np.bool_):
            raise ValueError(f"criteria[{i}] ({item['name']!r}): passed must be true/false, got {item['passed']!r}")


def criteria_table_html(criteria: Sequence[Mapping[str, Any]]) -> str:
    """The criteria as an HTML table: criterion, value, threshold, passed (✓ green / ✗ red).

    An optional ``rule`` key (``">="``) is shown before the threshold.
    """
    check_criteria(criteria)
    rows = []
    for item in criteria:
        passed = bool(item["passed"])
        mark = '<td class="pmr-pass">✓</td>' if passed else '<td class="pmr-fail">✗</td>'
        rule = item.get("rule")
        threshold = format_value(item["threshold"])
        if rule:
            threshold = f"{html.escape(str(rule))} {threshold}"
        rows.append(
            f"<tr><td>{html.escape(str(item['name']))}</td><td>{format_value(item['value'])}</td>"
            f"<td>{threshold}</td>{mark}</tr>"
        )
    return (
        '<table class="pmr-table pmr-criteria" data-pmr="criteria">'
        "<thead><tr><th>criterion</th><th>value</th><th>threshold</th><th>passed</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
