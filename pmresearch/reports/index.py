"""``reports/index.html``: one offline page listing every notebook and run.

For each notebook directory ``reports/<notebook>/`` and each run with an HTML report, the index shows a
link to the report, its time (file modification time, UTC) and, from the headline JSON, the decision as
a coloured badge with its criteria table and every other scalar figure as a key/value pair. Failed runs
(``<run>.failed.ipynb`` without a report) are listed with a FAILED badge and a link to the executed
notebook. All text is escaped; the page has inline CSS and no scripts.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pmresearch.reports._style import CSS, badge_html, criteria_table_html, format_value
from pmresearch.reports.headline import read_headline
from pmresearch.reports.paths import atomic_write_text

__all__ = ["INDEX_TITLE", "build_index"]

#: The title of the index page.
INDEX_TITLE = "pmresearch reports"

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  margin: 2em auto; max-width: 72em; padding: 0 1.5em; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #d8dde3; padding-bottom: 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; }
a { color: #0969da; }
.pmr-runs { border-collapse: collapse; width: 100%; }
.pmr-runs > tbody > tr > td, .pmr-runs > thead > tr > th { border-bottom: 1px solid #d8dde3; padding: 0.6em 0.8em;
  vertical-align: top; text-align: left; }
.pmr-runs > thead > tr > th { background: #f3f5f7; }
.pmr-time { white-space: nowrap; color: #57606a; font-size: 0.9em; }
.pmr-figures { margin: 0; display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em;
  font-size: 0.9em; }
.pmr-figures dt { color: #57606a; }
.pmr-figures dd { margin: 0; font-variant-numeric: tabular-nums; }
.pmr-note { color: #57606a; font-style: italic; }
"""


def _mtime_utc(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def _href(*parts: str) -> str:
    return html.escape("/".join(quote(p) for p in parts), quote=True)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _headline_cell(json_path: Path) -> tuple[str, str]:
    """The decision cell and the figures cell of a run, from its headline JSON."""
    if not json_path.is_file():
        return "", '<span class="pmr-note">no headline figures</span>'
    try:
        data = read_headline(json_path)
    except (OSError, ValueError) as exc:
        return "", f'<span class="pmr-note">unreadable headline: {html.escape(str(exc))}</span>'
    decision_html = ""
    if "decision" in data:
        decision_html = badge_html(str(data["decision"]))
        if "criteria" in data:
            try:
                decision_html += criteria_table_html(data["criteria"])
            except ValueError as exc:
                decision_html += f'<div class="pmr-note">malformed criteria: {html.escape(str(exc))}</div>'
    skip = {"decision", "criteria"} if "decision" in data else set()
    pairs = [
        f"<dt>{html.escape(k)}</dt><dd>{format_value(v)}</dd>"
        for k, v in data.items()
        if k not in skip and _is_scalar(v)
    ]
    figures_html = f'<dl class="pmr-figures">{"".join(pairs)}</dl>' if pairs else ""
    return decision_html, figures_html


def _run_rows(nb_dir: Path) -> list[str]:
    """Table rows for the runs of one notebook directory, sorted by run name."""
    runs: dict[str, str] = {}
    for html_path in nb_dir.glob("*.html"):
        if html_path.name.startswith("."):
            continue
        run = html_path.stem
        decision_html, figures_html = _headline_cell(nb_dir / f"{run}.json")
        runs[run] = (
            f'<tr data-run="{html.escape(run)}"><td><a href="{_href(nb_dir.name, html_path.name)}">'
            f'{html.escape(run)}</a></td><td class="pmr-time">{_mtime_utc(html_path)}</td>'
            f"<td>{decision_html}</td><td>{figures_html}</td></tr>"
        )
    for failed in nb_dir.glob("*.failed.ipynb"):
        if failed.name.startswith("."):
            continue
        run = failed.name.removesuffix(".failed.ipynb")
        if run in runs:
            continue
        runs[run] = (
            f'<tr data-run="{html.escape(run)}"><td>{html.escape(run)}</td>'
            f'<td class="pmr-time">{_mtime_utc(failed)}</td><td>{badge_html("FAILED")}</td>'
            f'<td><a href="{_href(nb_dir.name, failed.name)}">executed notebook with the error</a></td></tr>'
        )
    return [runs[name] for name in sorted(runs)]


def build_index(reports_dir: Path) -> Path:
    """Rebuild ``<reports_dir>/index.html`` from the notebook directories in it, atomically.

    Parameters
    ----------
    reports_dir : Path
        The ``reports/`` directory (created if missing).

    Returns
    -------
    Path
        The written ``index.html``.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for nb_dir in sorted(p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        rows = _run_rows(nb_dir)
        if not rows:
            continue
        sections.append(
            f'<section data-notebook="{html.escape(nb_dir.name)}"><h2>{html.escape(nb_dir.name)}</h2>'
            '<table class="pmr-runs"><thead><tr><th>run</th><th>time</th><th>decision</th>'
            f"<th>headline figures</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
        )
    body = "".join(sections) or '<p class="pmr-note">No reports yet: run <code>pmresearch run NOTEBOOK</code>.</p>'
    built = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(INDEX_TITLE)}</title>\n<style>{CSS}\n{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(INDEX_TITLE)}</h1>\n"
        f'<p class="pmr-note">Built {built}. Times are when each report was written.</p>\n'
        f"{body}\n</body>\n</html>\n"
    )
    return atomic_write_text(reports_dir / "index.html", page)
