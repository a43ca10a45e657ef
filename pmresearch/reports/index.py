"""``reports/index.html``: every report of every notebook, with its verdict and criteria."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["build_index"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:32px;color:#1f2328;max-width:1100px}
h1{font-size:26px} h2{font-size:20px;margin-top:28px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.run{border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:12px 0}
.badge{display:inline-block;padding:2px 12px;border-radius:12px;color:#fff;font-weight:bold;margin-left:8px}
.GO{background:#1b7f3b}.NO-GO{background:#b3261e}.other{background:#57606a}
table{border-collapse:collapse;margin-top:8px;font-size:14px} td,th{padding:3px 10px;border-bottom:1px solid #eaeef2}
.muted{color:#57606a;font-size:13px}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}"
    return html.escape(str(v))


def _run_html(nb: str, page: Path, root: Path) -> str:
    stem = page.stem
    head: dict[str, Any] = {}
    js = page.with_suffix(".json")
    if js.exists():
        try:
            head = json.loads(js.read_text())
        except json.JSONDecodeError:
            head = {"error": "unreadable headline JSON"}
    when = dt.datetime.fromtimestamp(page.stat().st_mtime, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    decision = head.get("decision")
    badge = ""
    if isinstance(decision, str):
        cls = decision if decision in ("GO", "NO-GO") else "other"
        badge = f"<span class='badge {cls}'>{html.escape(decision)}</span>"
    parts = [f"<div class='run'><a href='{html.escape(page.relative_to(root).as_posix())}'><b>{html.escape(stem)}</b></a>"
             f"{badge} <span class='muted'>{when}</span>"]
    crit = head.get("criteria")
    if isinstance(crit, list) and crit:
        rows = "".join(
            f"<tr><td>{html.escape(str(c.get('name')))}</td><td>{_fmt(c.get('value'))}</td>"
            f"<td>{html.escape(str(c.get('rule', '')))} {_fmt(c.get('threshold'))}</td>"
            f"<td>{'&#10003;' if c.get('passed') else '&#10007;'}</td></tr>" for c in crit if isinstance(c, dict))
        parts.append(f"<table><tr><th>criterion</th><th>value</th><th>threshold</th><th>passed</th></tr>{rows}</table>")
    scalars = {k: v for k, v in head.items() if k not in ("decision", "criteria") and isinstance(v, int | float | str)}
    if scalars:
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in list(scalars.items())[:12])
        parts.append(f"<table>{cells}</table>")
    parts.append("</div>")
    return "".join(parts)


def build_index(reports_dir: Path) -> Path:
    """Write ``<reports_dir>/index.html`` linking every ``<notebook>/<run>.html`` (offline, escaped)."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for nb_dir in sorted(p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pages = sorted(nb_dir.glob("*.html"))
        if not pages:
            continue
        runs = "".join(_run_html(nb_dir.name, page, reports_dir) for page in pages)
        sections.append(f"<h2>{html.escape(nb_dir.name)}</h2>{runs}")
    body = "".join(sections) or "<p>No reports yet: run <code>make report</code>.</p>"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>pmresearch reports</title>"
            f"<style>{_CSS}</style></head><body><h1>pmresearch reports</h1>"
            f"<p class='muted'>Built {stamp}. Each report is self-contained and opens offline.</p>{body}</body></html>")
    out = reports_dir / "index.html"
    fd, tmp = tempfile.mkstemp(prefix=".index.", dir=reports_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    os.replace(tmp, out)
    return out
