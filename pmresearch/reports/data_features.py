"""Figures of the data-quality and features notebook (``notebooks/05_data_features.ipynb``).

They draw parts of :class:`pmresearch.experiments.data_features.DataFeaturesResult`::

    result = run(cfg)                       # pmresearch.experiments.data_features
    coverage_figure(result.matrix)
    stationarity_figure(result.stationarity)
    selection_figure(result.stability, cfg.top_k)

The quality section's figures are :func:`pmresearch.reports.quality.quality_figures` of
``result.quality``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pmresearch.features.selection import SelectionStability
from pmresearch.features.validation import StationarityResult
from pmresearch.labels import DECISION_COLUMNS

__all__ = ["coverage_figure", "selection_figure", "stationarity_figure"]

_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def coverage_figure(matrix: pd.DataFrame) -> go.Figure:
    """Share of decision rows where each feature is known (non-null), features grouped by family."""
    cols = [c for c in matrix.columns if "__" in c and c not in DECISION_COLUMNS]
    share = matrix[cols].notna().mean() if len(matrix) else pd.Series(0.0, index=cols)
    fams = pd.Series([c.split("__", 1)[0] for c in cols], index=cols)
    fig = go.Figure()
    for fam in dict.fromkeys(fams):
        names = list(fams.index[fams == fam])
        fig.add_trace(go.Bar(x=names, y=share[names].to_numpy(), name=fam))
    fig.update_layout(title=f"Feature coverage: share of {len(matrix):,} decision rows where each feature is known",
                      height=460, barmode="stack", bargap=0.1, **_LAYOUT)
    fig.update_xaxes(showticklabels=False, title_text=f"{len(cols)} features (hover for names), by family")
    fig.update_yaxes(title_text="share non-null", range=[0, 1.02], tickformat=".0%")
    return fig


def stationarity_figure(result: StationarityResult) -> go.Figure:
    """ADF p-value against KPSS p-value per feature, coloured by verdict, with the alpha lines."""
    t = result.table.dropna(subset=["adf_pvalue", "kpss_pvalue"])
    fig = go.Figure()
    for verdict, g in t.groupby("verdict", sort=True):
        fig.add_trace(go.Scatter(x=g["adf_pvalue"], y=g["kpss_pvalue"], mode="markers", name=str(verdict),
                                 text=list(g.index), marker={"size": 10},
                                 hovertemplate="%{text}<br>ADF p %{x:.3g}<br>KPSS p %{y:.3g}<extra></extra>"))
    for axis in ("x", "y"):
        kw = {"x0": result.alpha, "x1": result.alpha, "y0": 0, "y1": 1} if axis == "x" else \
            {"y0": result.alpha, "y1": result.alpha, "x0": 0, "x1": 1}
        fig.add_shape(type="line", line={"dash": "dot", "color": "grey"}, **kw)
    fig.update_layout(title=("Stationarity: stationary = ADF rejects a unit root (left of the line) and KPSS "
                             "does not reject stationarity (above it)"), height=440, **_LAYOUT)
    fig.update_xaxes(title_text="ADF p-value", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="KPSS p-value (table-bounded to [0.01, 0.1])", range=[-0.02, 1.02])
    return fig


def selection_figure(stability: SelectionStability, top_k: int) -> go.Figure:
    """:meth:`SelectionStability.figure` titled for the mutual-information top-``k`` selector."""
    fig = stability.figure()
    fig.update_layout(
        title=(f"Mutual-information top-{top_k} selection across {len(stability.selected)} purged folds: Jaccard "
               f"{stability.jaccard:.2f}, Nogueira {stability.nogueira:.2f} (1 = the same set on every fold)"),
        height=520)
    return fig
