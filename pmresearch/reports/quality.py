"""The data-quality report: ``pmresearch quality [--db URL] --out FILE.html``.

:func:`quality_html` renders a :class:`~pmresearch.data.quality.QualityResult` as one self-contained
HTML page (inline CSS, plotly.js embedded once with the first figure, no CDN, no scripts from the
network): completeness per source and day, gaps, anomalies, spread by time of day, the clock-skew
estimate and collector clock offsets, and the exchange-vs-oracle outcome agreement (label flips).
Each section is a ``<section data-pmr="quality-<name>">`` so checks can find it.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from pmresearch.data.quality import QualityConfig, QualityResult
from pmresearch.labels.agreement import assess_quality_with_labels
from pmresearch.reports._style import CSS
from pmresearch.reports.figures import figure_html
from pmresearch.reports.paths import atomic_write_text

__all__ = ["SECTIONS", "build_quality_report", "quality_figures", "quality_html",
           "write_quality_report"]

#: The report's sections, in order: (marker name, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("completeness", "Completeness per source and day"),
    ("gaps", "Gaps"),
    ("anomalies", "Anomalies"),
    ("spread", "Spread by time of day"),
    ("clock-skew", "Clock skew and collector clock offsets"),
    ("labels", "Exchange vs oracle outcome agreement (label flips)"),
)

_PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  margin: 2em auto; max-width: 80em; padding: 0 1.5em; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #d8dde3; padding-bottom: 0.3em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #d8dde3; }
.pmr-note { color: #57606a; font-style: italic; }
.pmr-summary { background: #f6f8fa; padding: 0.8em 1em; border-radius: 0.4em; font-size: 0.9em; }
.pmr-summary-table { border-collapse: collapse; margin: 0.3em 1.5em 0.6em 0; display: inline-table;
  vertical-align: top; }
.pmr-summary-table caption { caption-side: top; text-align: left; font-weight: 600; }
.pmr-summary-table th, .pmr-summary-table td { padding: 0.15em 0.6em; text-align: right; }
"""


def _table(df: pd.DataFrame, caption: str | None = None, max_rows: int = 60) -> str:
    if df.empty:
        return f'<p class="pmr-note">{html.escape(caption or "table")}: nothing to show.</p>'
    shown = df.copy()
    for c in shown.columns:
        if isinstance(shown[c].dtype, pd.DatetimeTZDtype):
            shown[c] = shown[c].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    body = shown.to_html(classes="pmr-table", border=0, index=False, max_rows=max_rows, na_rep="—",
                         float_format=lambda x: f"{x:.4g}", escape=True)
    if caption:
        opening = '<table border="0" class="dataframe pmr-table">'
        body = body.replace(opening, f"{opening}<caption>{html.escape(caption)}</caption>", 1)
    return body


#: The layout every figure of the report shares.
_LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _per_group(go: Any, frame: pd.DataFrame, by: str, traces: Callable[[str, pd.DataFrame], list[Any]]) -> Any:
    """A figure with the traces of each group of ``frame`` by ``by``, in sorted order."""
    fig = go.Figure()
    for key, g in frame.groupby(by, sort=True):
        for trace in traces(str(key), g):
            fig.add_trace(trace)
    return fig


def _styled(fig: Any, title: str, *, xaxes: dict[str, Any] | None = None, yaxes: dict[str, Any] | None = None,
            **layout: Any) -> Any:
    """``fig`` with the report's layout (``layout`` overriding it), a title and axis settings."""
    fig.update_layout(title=title, **{**_LAYOUT, **layout})
    if xaxes:
        fig.update_xaxes(**xaxes)
    if yaxes:
        fig.update_yaxes(**yaxes)
    return fig


def _completeness_figure(go: Any, result: QualityResult) -> Any | None:
    comp = result.completeness
    if comp.empty:
        return None
    value = comp["completeness"].where(comp["completeness"].notna(), comp["coverage"])
    pivot = comp.assign(value=value, day=comp["day"].astype(str)).pivot_table(
        index="series", columns="day", values="value", aggfunc="mean")
    fig = go.Figure(go.Heatmap(z=pivot.to_numpy(), x=list(pivot.columns), y=list(pivot.index),
                               zmin=0, zmax=1, colorscale="RdYlGn", colorbar={"title": "share"}))
    return _styled(fig, "Completeness (regular series) or coverage (irregular), per UTC day",
                   xaxes={"type": "category"}, height=max(300, 40 * len(pivot) + 150))


def _gaps_figure(go: Any, result: QualityResult) -> Any | None:
    if result.gaps.empty:
        return None
    fig = _per_group(go, result.gaps, "series", lambda name, g: [go.Scatter(
        x=pd.to_datetime(g["start"], utc=True), y=g["duration_s"], mode="markers", name=name)])
    return _styled(fig, "Gaps: start and duration (longest listed per series)",
                   yaxes={"type": "log", "title": "duration (s)"})


def _anomalies_figure(go: Any, result: QualityResult) -> Any | None:
    an = result.anomalies[result.anomalies["count"] > 0]
    if an.empty:
        return None
    fig = _per_group(go, an, "flag", lambda flag, g: [go.Bar(x=g["series"], y=g["count"], name=flag)])
    return _styled(fig, "Anomaly flags per series", yaxes={"type": "log", "title": "rows flagged"}, barmode="group")


def _spread_figure(go: Any, result: QualityResult) -> Any | None:
    if result.spread_by_hour.empty:
        return None
    fig = _per_group(go, result.spread_by_hour, "source", lambda src, g: [
        go.Scatter(x=g["hour"], y=g["median"], mode="lines+markers", name=f"{src} median"),
        go.Scatter(x=g["hour"], y=g["p90"], mode="lines", line={"dash": "dot"}, name=f"{src} p90")])
    return _styled(fig, "Up-token spread (ask - bid) by UTC hour", xaxes={"title": "hour (UTC)", "dtick": 2},
                   yaxes={"title": "spread"})


def _skew_figure(go: Any, result: QualityResult) -> Any | None:
    if not result.skew_curves:
        return None
    fig = go.Figure()
    for target, curve in result.skew_curves.items():
        fig.add_trace(go.Scatter(x=curve.index, y=curve.to_numpy(), mode="lines", name=target))
    tol = result.config.skew_tolerance.total_seconds()
    fig.add_vrect(x0=-tol, x1=tol, fillcolor="#1a7f37", opacity=0.08, line_width=0)
    return _styled(fig, "Cross-correlation of returns: oracle vs exchange, by lag (tolerance shaded)",
                   xaxes={"title": "lag of the oracle behind the exchange (s)"}, yaxes={"title": "correlation"})


def _labels_figure(go: Any, result: QualityResult) -> Any | None:
    la = result.label_agreement[result.label_agreement["n"] > 0]
    if la.empty:
        return None
    fig = _per_group(go, la, "interval_minutes", lambda iv, g: [go.Bar(
        x=g["comparison"], y=g["flip_rate"], name="all markets" if iv == "all" else f"{iv}-minute",
        text=[f"{f}/{n}" for f, n in zip(g["flips"], g["n"], strict=True)])])
    return _styled(fig, "Label-flip rate (text: flips / markets where both outcomes are known)",
                   yaxes={"title": "flip rate", "tickformat": ".1%"}, barmode="group")


#: The figure of each section (None: the section has nothing to plot).
_FIGURES: dict[str, Callable[[Any, QualityResult], Any | None]] = {
    "completeness": _completeness_figure, "gaps": _gaps_figure, "anomalies": _anomalies_figure,
    "spread": _spread_figure, "clock-skew": _skew_figure, "labels": _labels_figure,
}


def quality_figures(result: QualityResult) -> dict[str, list[Any]]:
    """The plotly figures of each section (keys of :data:`SECTIONS`); a section may have none.

    Parameters
    ----------
    result : QualityResult
        The assessment.

    Returns
    -------
    dict of str to list of plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    figs: dict[str, list[Any]] = {}
    for name, _ in SECTIONS:
        fig = _FIGURES[name](go, result)
        figs[name] = [] if fig is None else [fig]
    return figs


def _flipped(labels: pd.DataFrame) -> pd.DataFrame:
    """Markets where two known outcomes differ."""
    cols = ["recorded", "oracle", "exchange"]
    known = labels[cols].astype("float64")
    spread = known.max(axis=1) - known.min(axis=1)
    return labels[(spread > 0).to_numpy()]


def _section_body(name: str, result: QualityResult) -> str:
    cfg = result.config
    if name == "completeness":
        return (f"<p>Regular series: rows / expected steps inside the series' span, per UTC day. Irregular "
                f"series (no fixed step): coverage, the share of the span outside gaps.</p>"
                f"{_table(result.series, 'series')}{_table(result.completeness, 'per source and day', 400)}")
    if name == "gaps":
        return (f"<p>A gap: a spacing over {cfg.gap_factor:g} steps (regular series), or over "
                f"{cfg.irregular_gap_factor:g} median spacings and {cfg.min_gap.total_seconds():g} s (irregular; "
                f"quotes and books within each market or token).</p>"
                f"{_table(result.gaps, 'longest gaps', 200)}")
    if name == "anomalies":
        return (f"<p>Prices: a move over {cfg.jump:.0%} within {cfg.jump_within.total_seconds():g} s "
                f"(<code>jump</code>), a return beyond {cfg.k_sigma:g} sigma of the previous {cfg.sigma_window} "
                f"(<code>sigma</code>). Quotes: crossed, locked, one-sided, empty, wider than {cfg.wide_spread:g}, "
                f"unchanged over {cfg.stale_after.total_seconds():g} s (<code>stale</code>). Books: crossed, "
                f"locked, one-sided.</p>{_table(result.anomalies, 'flags', 200)}")
    if name == "spread":
        return _table(result.spread_by_hour, "Up-token spread by UTC hour (two-sided, uncrossed snapshots)", 200)
    if name == "clock-skew":
        return ("<p>Lag of each oracle behind the finest overlapping exchange series, by cross-correlation of "
                "returns in the oracle's event time; within tolerance when |lag| &le; "
                f"{cfg.skew_tolerance.total_seconds():g} s. Collector clock offsets: what to add to a "
                "collector's <code>received_at</code> so receipts never precede events (the knowledge-time "
                "correction of DESIGN.md).</p>"
                f"{_table(result.clock_skew, 'exchange vs oracle lag')}"
                f"{_table(result.receipt_offsets, 'collector clock offsets')}")
    if name == "labels":
        return ("<p>Outcome of each market from its recorded resolution, from the oracle under the settlement "
                "rule in force, and from the exchange proxy (Binance 1-minute close at the window end &ge; open at "
                "the window start). A flip: two sources disagree on a market where both are known.</p>"
                f"{_table(result.label_agreement, 'label-flip rates')}"
                f"{_table(_flipped(result.labels), 'markets whose known outcomes disagree', 100)}")
    raise ValueError(f"unknown section {name!r}")


def quality_html(result: QualityResult, *, title: str = "pmresearch data quality") -> str:
    """The report as one self-contained HTML document (plotly.js embedded once, no network).

    Parameters
    ----------
    result : QualityResult
        The assessment.
    title : str
        Page title.

    Returns
    -------
    str
        The HTML document.
    """
    figs = quality_figures(result)
    embedded = False
    sections = []
    for name, heading in SECTIONS:
        parts = []
        for fig in figs[name]:
            parts.append(f'<div class="pmr-figure">{figure_html(fig, include_plotlyjs=not embedded)}</div>')
            embedded = True
        sections.append(f'<section data-pmr="quality-{name}"><h2>{html.escape(heading)}</h2>'
                        f"{''.join(parts)}{_section_body(name, result)}</section>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    built = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}\n{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p>Store <code>{html.escape(result.source)}</code>, built {built}.</p>\n"
        f'<div data-pmr="quality-summary">{replace(result.summary(), notes=()).as_html()}</div>\n'
        f"{''.join(sections)}\n"
        f'<section data-pmr="quality-notes"><h2>Notes</h2><ul>{notes}</ul></section>\n</body>\n</html>\n'
    )


def write_quality_report(result: QualityResult, path: str | Path, *, title: str = "pmresearch data quality") -> Path:
    """Write :func:`quality_html` to ``path`` atomically; returns the path."""
    return atomic_write_text(Path(path), quality_html(result, title=title))


def build_quality_report(url: str | None, out: str | Path, config: QualityConfig | None = None) -> QualityResult:
    """Open the store at ``url`` (``--db`` / ``$PMRESEARCH_DB`` / default), assess it and write the report.

    Parameters
    ----------
    url : str, optional
        The store URL (see :func:`pmresearch.data.store.connect`).
    out : str or Path
        The ``.html`` destination.
    config : QualityConfig, optional
        Thresholds.

    Returns
    -------
    QualityResult
        The assessment written.
    """
    from pmresearch.data.store import connect, db_url, parse_duckdb_url

    resolved = db_url(url)
    if resolved.startswith("duckdb:///"):
        path = parse_duckdb_url(resolved)
        if path != ":memory:" and not Path(path).is_file():
            raise FileNotFoundError(f"no DuckDB store at {path} ({resolved}); load data with `pmresearch ingest`")
    with connect(resolved) as store:
        result = assess_quality_with_labels(store, config)
    write_quality_report(result, out)
    return result

