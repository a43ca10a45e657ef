"""Figures and the side-by-side table of the calibration report (``00_explore`` with ``calibration: true``).

They draw :class:`pmresearch.simulate.calibration.CalibrationStats` of two or more sources (a simulated
world, a data directory): the same statistics computed by the same code on each::

    stats = [calibration_stats(frames_from_world(world), "sim"), calibration_stats(frames_from_dir(path), "real")]
    calibration_table_html(calibration_table(*stats, names=("sim", "real")))
    ranges_figure(stats); rv_hour_figure(stats); mid_calibration_figure(stats)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML

from pmresearch.reports.figures import table_html
from pmresearch.simulate.calibration import REAL_RANGES, CalibrationStats

__all__ = ["calibration_table_html", "mid_calibration_figure", "ranges_figure", "rv_hour_figure"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _fmt(x: float) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if not np.isfinite(x):
        return "NaN"
    return f"{x:.4g}"


def calibration_table_html(table: pd.DataFrame, caption: str | None = None) -> HTML:
    """The side-by-side table (:func:`pmresearch.simulate.calibration.calibration_table`) as styled HTML; the
    ``inside`` flags shown as yes / no (blank where the issue gives no real range)."""
    shown = table.copy()
    for col in [c for c in shown.columns if str(c).startswith("inside ")]:
        shown[col] = shown[col].map({True: "yes", False: "no"}).fillna("")
    return table_html(shown, caption=caption or "Calibration: the same statistics on each source, with the "
                      "issue's real range (inside: in the range, or within 25% of a single number)",
                      float_format=_fmt)


def ranges_figure(stats: Sequence[CalibrationStats]) -> go.Figure:
    """Each statistic with a real range as a ratio to the range's middle (1 = the middle); the band is the
    range (or +-25% of a single number); one marker per source."""
    names = list(REAL_RANGES)
    fig = go.Figure()
    lo = [REAL_RANGES[n][0] for n in names]
    hi = [REAL_RANGES[n][1] for n in names]
    mid = [(a + b) / 2.0 for a, b in zip(lo, hi, strict=True)]
    band_lo = [(a if a != b else 0.75 * a) / m for a, b, m in zip(lo, hi, mid, strict=True)]
    band_hi = [(b if a != b else 1.25 * b) / m for a, b, m in zip(lo, hi, mid, strict=True)]
    fig.add_trace(go.Bar(x=names, y=[h - lw for lw, h in zip(band_lo, band_hi, strict=True)], base=band_lo,
                         name="real range", marker_color="rgba(120,120,120,0.25)"))
    for i, s in enumerate(stats):
        y = [s.values.get(n, math.nan) / m for n, m in zip(names, mid, strict=True)]
        fig.add_trace(go.Scatter(x=names, y=y, mode="markers", name=s.label or f"source {i}",
                                 customdata=[[s.values.get(n, math.nan), s.counts.get(n, 0)] for n in names],
                                 hovertemplate="%{x}: %{customdata[0]:.4g} (n = %{customdata[1]:,})<extra></extra>",
                                 marker={"size": 10, "color": _COLORS[i % len(_COLORS)]}))
    fig.update_layout(title="Statistics against the real ranges (ratio to the range's middle; log scale)",
                      height=480, **_LAYOUT)
    fig.update_yaxes(type="log", title_text="value / middle of the real range")
    return fig


def rv_hour_figure(stats: Sequence[CalibrationStats]) -> go.Figure:
    """The intraday cycle: annualized RV of 1m returns by UTC hour, one line per source."""
    fig = go.Figure()
    for i, s in enumerate(stats):
        if len(s.rv_by_hour):
            fig.add_trace(go.Scatter(x=s.rv_by_hour.index, y=s.rv_by_hour["rv"], mode="lines+markers",
                                     name=s.label or f"source {i}", line={"color": _COLORS[i % len(_COLORS)]}))
    fig.update_layout(title="Realized vol by UTC hour (1m returns, annualized)", height=400, **_LAYOUT)
    fig.update_xaxes(title_text="UTC hour")
    fig.update_yaxes(title_text="annualized vol")
    return fig


def mid_calibration_figure(stats: Sequence[CalibrationStats]) -> go.Figure:
    """Mid calibration: realized share of Up outcomes against the mean Up mid per bin (marker area ~ n)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"color": "#999", "dash": "dot"}))
    for i, s in enumerate(stats):
        c = s.mid_calibration
        if len(c):
            size = 6 + 24 * np.sqrt(c["n"] / c["n"].max())
            fig.add_trace(go.Scatter(x=c["mean_mid"], y=c["share_up"], mode="lines+markers",
                                     name=s.label or f"source {i}", text=[f"n={n}" for n in c["n"]],
                                     marker={"size": size, "color": _COLORS[i % len(_COLORS)]}))
    fig.update_layout(title="Mid calibration: share of Up outcomes per bin of the Up mid", height=420, **_LAYOUT)
    fig.update_xaxes(title_text="mean mid", range=[0, 1])
    fig.update_yaxes(title_text="share Up", range=[0, 1])
    return fig
