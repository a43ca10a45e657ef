"""Figures of the Model A notebook (``notebooks/06_model_a.ipynb``).

They draw parts of :class:`pmresearch.experiments.model_a.ModelAResult`::

    result = run(cfg)                       # pmresearch.experiments.model_a
    estimator_figure(result.estimates, result.estimators)
    vol_timeline_figure(result.estimates, result.estimators)
    forecast_score_figure(result.forecast_table, result.benchmark)
    forecast_figure(result.forecasts, result.world)
    jump_figure(result.jumps)
    reliability_figure(result.probs, list(result.models), cfg.n_bins)

This module never imports :mod:`pmresearch.experiments`: what a figure needs from the experiment
(the estimators' descriptions, the benchmark forecaster) comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pmresearch.models import VolForecasts
from pmresearch.pricing import JumpLaw
from pmresearch.simulate import World

__all__ = [
    "estimator_figure",
    "forecast_figure",
    "forecast_score_figure",
    "jump_figure",
    "reliability_figure",
    "vol_timeline_figure",
]

#: The rows of a jump table that are the jump law's fields (:class:`pmresearch.pricing.JumpLaw`).
_JUMP_FIELDS = tuple(f.name for f in fields(JumpLaw))

_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def _label(labels: Mapping[str, str] | None, name: str) -> str:
    """The description of an estimator column (the column name without one)."""
    return name if labels is None else labels.get(name, name)


def estimator_figure(est: pd.DataFrame, labels: Mapping[str, str] | None = None,
                     names: tuple[str, ...] = ("rv_1s", "bv_1s", "rv_1m", "garman_klass_1m")) -> go.Figure:
    """Estimate against the true sigma per window (one panel per estimator); jump windows as crosses.

    Parameters
    ----------
    est : DataFrame
        ``true_sigma``, ``jumps`` and one column per estimator (``ModelAResult.estimates``).
    labels : mapping of str to str, optional
        Panel titles by estimator column (``ModelAResult.estimators``); default the column names.
    names : tuple of str
        The estimator columns to draw.
    """
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[_label(labels, n) for n in names])
    lo = float(np.nanmin(est[["true_sigma", *names]].to_numpy())) * 0.9
    hi = float(np.nanmax(est[["true_sigma", *names]].to_numpy())) * 1.1
    jump = est["jumps"] > 0
    for i, name in enumerate(names, start=1):
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "grey"},
                                 showlegend=i == 1, name="estimate = truth"), 1, i)
        for mask, label, symbol, color in ((~jump, "windows without jumps", "circle", "#1f77b4"),
                                           (jump, "windows with a jump", "x", "#d62728")):
            fig.add_trace(go.Scattergl(x=est.loc[mask, "true_sigma"], y=est.loc[mask, name], mode="markers",
                                       marker={"size": 5 if symbol == "circle" else 9, "symbol": symbol,
                                               "color": color, "opacity": 0.6},
                                       name=label, showlegend=i == 1), 1, i)
        fig.update_xaxes(title_text="true sigma", range=[lo, hi], row=1, col=i)
    fig.update_yaxes(title_text="estimate (annualized)", range=[lo, hi], row=1, col=1)
    fig.update_layout(title="Volatility estimators per 15-minute window vs the true diffusion sigma", height=420,
                      **_LAYOUT)
    return fig


def vol_timeline_figure(est: pd.DataFrame, labels: Mapping[str, str] | None = None) -> go.Figure:
    """True sigma per window over time, with the bipower and 1-minute realized estimates and the jumps
    (``labels``: trace names by estimator column, as in :func:`estimator_figure`)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=est["window_start"], y=est["true_sigma"], name="true sigma", mode="lines",
                             line={"shape": "hv", "color": "black", "width": 2}))
    fig.add_trace(go.Scatter(x=est["window_start"], y=est["bv_1s"], name=_label(labels, "bv_1s"), mode="lines",
                             line={"shape": "hv", "width": 1}))
    fig.add_trace(go.Scatter(x=est["window_start"], y=est["rv_1m"], name=_label(labels, "rv_1m"), mode="lines",
                             line={"shape": "hv", "width": 1}, opacity=0.6))
    j = est[est["jumps"] > 0]
    fig.add_trace(go.Scatter(x=j["window_start"], y=j["rv_1s"], name="window with a jump (1 s realized vol)",
                             mode="markers", marker={"symbol": "x", "size": 9, "color": "#d62728"}))
    fig.update_layout(title="Volatility through the world (annualized, per 15-minute window)", height=420, **_LAYOUT)
    fig.update_yaxes(title_text="annualized vol")
    return fig


def forecast_score_figure(table: pd.DataFrame, benchmark: str) -> go.Figure:
    """QLIKE of each forecaster relative to ``benchmark``, against the realized and the true variance
    (below 1: better than the benchmark; hover for the Diebold-Mariano p-value).

    Parameters
    ----------
    table : DataFrame
        ``qlike``, ``p_qlike``, ``qlike_truth``, ``p_qlike_truth`` per forecaster
        (``ModelAResult.forecast_table``).
    benchmark : str
        The forecaster of the table the others were tested against (``ModelAResult.benchmark``).
    """
    if benchmark not in table.index:
        raise ValueError(f"forecast_score_figure: benchmark {benchmark!r} is not a row of the table "
                         f"({list(table.index)})")
    fig = go.Figure()
    for col, pcol, name in (("qlike", "p_qlike", "vs realized variance"),
                            ("qlike_truth", "p_qlike_truth", "vs true expected variance")):
        values = table[col].to_numpy(dtype=np.float64)
        ratio = values / values[list(table.index).index(benchmark)]
        text = [("benchmark" if m == benchmark else f"DM p = {p:.3f}") for m, p in table[pcol].items()]
        fig.add_trace(go.Bar(x=list(table.index), y=ratio, name=name, text=text,
                             hovertemplate="%{x}: %{y:.3f}<br>%{text}<extra></extra>"))
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "grey"})
    fig.update_layout(title=f"QLIKE relative to {benchmark} (lower is better)", barmode="group", height=420,
                      **_LAYOUT)
    fig.update_yaxes(title_text=f"QLIKE / QLIKE({benchmark})")
    return fig


def forecast_figure(vf: VolForecasts, world: World, models: tuple[str, ...] = ("hv_1h", "garch", "har")) -> go.Figure:
    """Forecast vol of a few forecasters at window starts vs the true sigma of the window ahead."""
    truth = world.truth.set_index("window_start")["sigma"]
    vol = vf.vol().reindex(pd.DatetimeIndex(truth.index)).dropna(how="all")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=vol.index, y=truth.reindex(vol.index).to_numpy(), name="true sigma of the window",
                             mode="lines", line={"shape": "hv", "color": "black", "width": 2}))
    for m in models + tuple(c for c in ("xgboost",) if c in vol.columns and c not in models):
        if m in vol.columns:
            fig.add_trace(go.Scatter(x=vol.index, y=vol[m], name=m, mode="lines", line={"width": 1}))
    fig.update_layout(title="Walk-forward forecasts at each window start vs the true sigma (test period)",
                      height=420, **_LAYOUT)
    fig.update_yaxes(title_text="annualized vol")
    return fig


def jump_figure(table: pd.DataFrame) -> go.Figure:
    """Estimate and interval of the jump law's parameters (and sigma) with the truth marked.

    ``table`` is ``ModelAResult.jumps`` (:func:`pmresearch.experiments.model_a.jump_table`): rows named by
    the fields of :class:`pmresearch.pricing.JumpLaw` (and ``sigma``), columns ``estimate``, ``lower``,
    ``upper``, ``truth``; the intervals' level is ``1 - table.attrs["alpha"]`` (95% when absent).
    """
    level = 100.0 * (1.0 - float(table.attrs.get("alpha", 0.05)))
    names = [n for n in (*_JUMP_FIELDS, "sigma") if n in table.index]
    titles = {"lam": "jumps per year", "mu_j": "mean log-jump", "sigma_j": "sd of a log-jump",
              "sigma": "diffusion vol"}
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[titles[n] for n in names], horizontal_spacing=0.08)
    for i, n in enumerate(names, start=1):
        r = table.loc[n]
        fig.add_trace(go.Scatter(x=[n], y=[r["estimate"]], mode="markers", marker={"size": 11, "color": "#1f77b4"},
                                 error_y={"type": "data", "symmetric": False, "array": [r["upper"] - r["estimate"]],
                                          "arrayminus": [r["estimate"] - r["lower"]]},
                                 name=f"MLE and {level:g}% interval", showlegend=i == 1), 1, i)
        fig.add_trace(go.Scatter(x=[n], y=[r["truth"]], mode="markers",
                                 marker={"size": 13, "symbol": "diamond-open", "color": "black"},
                                 name="simulator truth", showlegend=i == 1), 1, i)
        if n == "lam" and "realized_lam" in table.attrs:
            fig.add_trace(go.Scatter(x=[n], y=[table.attrs["realized_lam"]], mode="markers",
                                     marker={"size": 11, "symbol": "x", "color": "#d62728"},
                                     name="jumps that happened, per year", showlegend=True), 1, i)
    fig.update_layout(title="Merton jump MLE vs the simulator's jump law", height=400, **_LAYOUT)
    return fig


def reliability_figure(probs: pd.DataFrame, models: list[str], n_bins: int = 10) -> go.Figure:
    """Reliability diagrams: per bin of predicted ``P(up)``, the observed share of Up outcomes (left)
    and the mean true ``P(up)`` (right, far less noisy), for each model and the market mid."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=["against the outcomes", "against the true P(up)"])
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    names = [*models, "market mid", "true P(up)"]
    for col in (1, 2):
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                                 name="perfect", showlegend=col == 1), 1, col)
    for i, name in enumerate(names):
        color = "black" if name == "true P(up)" else "#7f7f7f" if name == "market mid" else palette[i % len(palette)]
        b = np.clip(np.digitize(probs[name], edges) - 1, 0, n_bins - 1)
        g = probs.assign(bin=b).groupby("bin").agg(p=(name, "mean"), y=("label", "mean"),
                                                   truth=("true P(up)", "mean"), n=("label", "size"))
        size = np.clip(np.sqrt(g["n"].to_numpy()) / 2.0, 4, 16)
        dash = "dash" if name == "market mid" else None
        fig.add_trace(go.Scatter(x=g["p"], y=g["y"], mode="lines+markers", name=name, legendgroup=name,
                                 line={"color": color, "dash": dash}, marker={"size": size}), 1, 1)
        if name != "true P(up)":
            fig.add_trace(go.Scatter(x=g["p"], y=g["truth"], mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=False, line={"color": color, "dash": dash}, marker={"size": size}),
                          1, 2)
    fig.update_xaxes(title_text="predicted P(up)", range=[0, 1])
    fig.update_yaxes(title_text="share Up", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="mean true P(up)", range=[0, 1], row=1, col=2)
    fig.update_layout(title="Reliability of Model A, the market mid and the truth (points sized by rows)",
                      height=480, **_LAYOUT)
    return fig
