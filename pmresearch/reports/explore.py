"""Figures of the exploration notebook (``notebooks/00_explore.ipynb``).

They draw the canonical frames of :class:`pmresearch.experiments.explore.ExploreResult`
(``result.frames``); the same calls work on a simulated world and on a real data directory: a
simulated world's quotes carry ``true_prob_up``, a real one's do not, and the figures show what is
there::

    result = run(cfg)                       # pmresearch.experiments.explore
    price_figure(result.frames)
    market_figure(result.frames, cfg.interval_minutes, cfg.market_index)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pmresearch._time import SECONDS_PER_YEAR

__all__ = ["market_figure", "price_figure"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def price_figure(frames: Mapping[str, pd.DataFrame], symbol: str = "BTCUSDT") -> go.Figure:
    """BTC 1-minute closes (and the settlement oracle when present) over realized vol per 15 minutes."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    k = frames.get("klines", pd.DataFrame())
    k = k[(k["symbol"] == symbol) & (k["interval"] == "1m")].sort_values("ts") if len(k) else k
    if len(k):
        gap = k["ts"].diff() > pd.Timedelta(minutes=5)  # break the line over gaps between files
        close = k["close"].where(~gap.shift(-1, fill_value=False))
        fig.add_trace(go.Scattergl(x=k["ts"], y=close, name=f"{symbol} 1m close", mode="lines",
                                   connectgaps=False), 1, 1)
        r = np.log(k["close"]).diff()
        rv = (r * r).groupby(k["ts"].dt.floor("15min")).agg(["mean", "size"])
        rv = rv[rv["size"] >= 10]
        fig.add_trace(go.Bar(x=rv.index, y=np.sqrt(rv["mean"] * SECONDS_PER_YEAR / 60.0), name="realized vol (15 min)",
                             marker_color="#8e6bbf"), 2, 1)
    o = frames.get("oracle", pd.DataFrame())
    if len(o):
        ds = o[o["source"] == "chainlink-data-streams"].sort_values("ts")
        if len(ds):
            step = max(1, len(ds) // 5000)
            fig.add_trace(go.Scattergl(x=ds["ts"].iloc[::step], y=ds["price"].iloc[::step],
                                       name="oracle (Data Streams)", mode="lines", line={"width": 1}), 1, 1)
    fig.update_layout(title="Spot and volatility", height=520, **_LAYOUT)
    fig.update_yaxes(title_text="USD", row=1, col=1)
    fig.update_yaxes(title_text="annualized vol", row=2, col=1)
    return fig


def market_figure(frames: Mapping[str, pd.DataFrame], interval_minutes: int, index: int) -> go.Figure:
    """One market's Up-token bid/ask band and mid through its window, with the true P(up) if simulated."""
    q = frames.get("quotes", pd.DataFrame())
    fig = go.Figure()
    if len(q) == 0:
        fig.update_layout(title="No quotes in this data directory", **_LAYOUT)
        return fig
    q = q[q["interval_minutes"] == interval_minutes]
    slugs = q.sort_values("window_start")["slug"].drop_duplicates().tolist()
    if not slugs:
        fig.update_layout(title=f"No {interval_minutes}-minute quotes", **_LAYOUT)
        return fig
    slug = slugs[min(index, len(slugs) - 1)]
    m = q[q["slug"] == slug].sort_values("ts")
    fig.add_trace(go.Scatter(x=m["ts"], y=m["best_ask_up"], name="best ask (Up)", mode="lines",
                             line={"width": 1, "color": "#d62728", "shape": "hv"}, connectgaps=False))
    fig.add_trace(go.Scatter(x=m["ts"], y=m["best_bid_up"], name="best bid (Up)", mode="lines",
                             line={"width": 1, "color": "#2ca02c", "shape": "hv"}, connectgaps=False))
    if "true_prob_up" in m and m["true_prob_up"].notna().any():
        fig.add_trace(go.Scatter(x=m["ts"], y=m["true_prob_up"], name="true P(up)", mode="lines",
                                 line={"color": "black"}))
    outcome = frames["markets"].set_index("slug")["outcome_up"].get(slug, pd.NA) if "markets" in frames else pd.NA
    result = "Up" if outcome == 1 else "Down" if outcome == 0 else "unknown"
    fig.update_layout(title=f"{slug}: quotes through the window (outcome {result})", height=420,
                      yaxis={"range": [0, 1], "title": "price / probability"}, **_LAYOUT)
    return fig
