"""Plotly figures of the go/no-go report (built here so the notebook holds only calls)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["calibration_figure", "edge_figure", "equity_figure", "mispricing_figure"]

_LAYOUT = {"template": "plotly_white", "height": 420, "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def equity_figure(trades: pd.DataFrame) -> go.Figure:
    """Cumulative net PnL by fill time, with the drawdown below it."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    if len(trades):
        t = trades.sort_values("t_fill")
        equity = t["pnl"].cumsum()
        fig.add_trace(go.Scatter(x=t["t_fill"], y=equity, mode="lines", name="cumulative net PnL"), 1, 1)
        fig.add_trace(go.Scatter(x=t["t_fill"], y=equity - equity.cummax(), fill="tozeroy", mode="lines",
                                 name="drawdown", line={"color": "firebrick"}), 2, 1)
    fig.update_layout(title="Equity curve (net of fees, collateral units)", **_LAYOUT)
    fig.update_yaxes(title_text="PnL", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", row=2, col=1)
    return fig


def calibration_figure(rows: pd.DataFrame, n_bins: int = 10) -> go.Figure:
    """Reliability of the model, the market mid and (simulated worlds) the truth, all on the same rows:
    those with a label and every one of these probabilities (n in the title and the legend). Mean
    outcome per probability bin (equal-width bins; points sized by count) against the diagonal."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "grey"}))
    candidates = (("p_model", "model (BS)"), ("mid_up", "market mid"), ("true_prob_up", "true P (simulator)"))
    named = [(c, n) for c, n in candidates if c in rows and rows[c].notna().any()]
    keep = rows["label"].notna()
    for col, _ in named:
        keep &= rows[col].notna()
    data = rows[keep]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for col, name in named if len(data) else []:
        b = np.clip(np.digitize(data[col], edges) - 1, 0, n_bins - 1)
        g = data.assign(bin=b).groupby("bin").agg(p=(col, "mean"), y=("label", "mean"), n=("label", "size"))
        brier = float(((data[col] - data["label"].astype(float)) ** 2).mean())
        fig.add_trace(go.Scatter(x=g["p"], y=g["y"], mode="lines+markers",
                                 name=f"{name}: Brier {brier:.4f} (n={len(data):,})",
                                 marker={"size": np.clip(np.sqrt(g["n"]) / 2, 4, 18)}))
    fig.update_layout(title=f"Calibration at decision times (the same {len(data):,} rows, "
                            f"{data['slug'].nunique() if len(data) else 0:,} windows)",
                      xaxis_title="predicted P(up)", yaxis_title="observed share Up", **_LAYOUT)
    return fig


def edge_figure(trades: pd.DataFrame) -> go.Figure:
    """Edge the model saw at the decision vs the true edge at the fill (simulated worlds)."""
    fig = go.Figure()
    if len(trades):
        fig.add_trace(go.Histogram(x=trades["edge"], name="model edge at decision", opacity=0.6, nbinsx=40))
        if trades["true_edge"].notna().any():
            fig.add_trace(go.Histogram(x=trades["true_edge"], name="true edge at fill", opacity=0.6, nbinsx=40))
    fig.update_layout(barmode="overlay", title="Edge per share, net of the taker fee",
                      xaxis_title="probability units per share", yaxis_title="trades", **_LAYOUT)
    return fig


def mispricing_figure(rows: pd.DataFrame, threshold: float) -> go.Figure:
    """How often |model - market mid| exceeds the threshold, by minutes to expiry."""
    d = rows[rows["p_model"].notna() & rows["mid_up"].notna()]
    fig = go.Figure()
    if len(d):
        minutes = np.ceil(d["tau_s"] / 60.0)
        gap = (d["p_model"] - d["mid_up"]).abs()
        share = (gap >= threshold).groupby(minutes).mean()
        fig.add_trace(go.Bar(x=share.index, y=share.to_numpy(), name=f"|model - mid| >= {threshold:g}"))
    fig.update_layout(title=f"Mispricing frequency by time to expiry (n={len(d):,} rows with a model and a mid)",
                      xaxis_title="minutes to expiry",
                      yaxis_title="share of decision rows", **_LAYOUT)
    return fig
