"""Display helpers: plotly figures embedded once, styled tables and the GO / NO-GO table."""

from __future__ import annotations

from typing import Any

import IPython.display
import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
import pytest
from notebook_factory import resource_refs

from pmresearch.reports import decision_table, figure_html, figures, show, table_html

PLOTLYJS_BANNER = f"plotly.js v{plotly.offline.get_plotlyjs_version()}"

CRITERIA: list[dict[str, Any]] = [
    {"name": "edge", "value": np.float64(0.031234), "threshold": 0.02, "passed": np.bool_(True), "rule": ">="},
    {"name": "trades", "value": 150, "threshold": 200, "passed": False},
    {"name": "<script>alert(1)</script>", "value": "n/a", "threshold": None, "passed": True},
]


def _fig() -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2], y=[2, 1], name="a-trace"))


def test_figure_html_embeds_plotlyjs_only_when_asked() -> None:
    with_js = figure_html(_fig(), include_plotlyjs=True)
    without_js = figure_html(_fig(), include_plotlyjs=False)
    assert with_js.count(PLOTLYJS_BANNER) == 1
    assert PLOTLYJS_BANNER not in without_js
    for text in (with_js, without_js):
        assert 'class="plotly-graph-div"' in text and "a-trace" in text
        assert resource_refs(text) == []  # no <script src=...>: nothing loads from a CDN
    assert len(with_js) > 1_000_000 > len(without_js)


def test_figure_html_rejects_non_figures() -> None:
    with pytest.raises(TypeError, match="expected a plotly figure, got DataFrame"):
        figure_html(pd.DataFrame(), include_plotlyjs=False)


def test_show_embeds_plotlyjs_once_per_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(figures, "_STATE", figures._KernelState())
    assert show(_fig()) is None
    show(_fig())
    show(_fig())
    assert [type(obj) for obj in shown] == [IPython.display.HTML] * 3
    assert [obj.data.count(PLOTLYJS_BANNER) for obj in shown] == [1, 0, 0]
    assert all('class="plotly-graph-div"' in obj.data for obj in shown)


def test_decision_table_go() -> None:
    out = decision_table(CRITERIA, "GO")
    assert isinstance(out, IPython.display.HTML)
    text = out.data
    assert 'data-pmr="decision-table"' in text
    assert 'class="pmr-badge pmr-badge-go pmr-badge-big" data-pmr-decision="GO">GO<' in text
    assert "2 of 3 criteria passed" in text
    assert "<tr><td>edge</td><td>0.03123</td><td>&gt;= 0.02</td><td class=\"pmr-pass\">✓</td></tr>" in text
    assert "<tr><td>trades</td><td>150</td><td>200</td><td class=\"pmr-fail\">✗</td></tr>" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<td>—</td>" in text  # a missing threshold


@pytest.mark.parametrize(("decision", "kind"), [("NO-GO", "nogo"), ("no go", "nogo"), ("HOLD", "other")])
def test_decision_badge_colour(decision: str, kind: str) -> None:
    assert f"pmr-badge pmr-badge-{kind} pmr-badge-big" in decision_table(CRITERIA[:1], decision).data


def test_decision_table_rejects_malformed_criteria() -> None:
    with pytest.raises(ValueError, match=r"criteria\[0\] \('edge'\) lacks key\(s\) \['threshold'\]"):
        decision_table([{"name": "edge", "value": 1.0, "passed": True}], "GO")
    with pytest.raises(ValueError, match="passed must be true/false"):
        decision_table([{"name": "edge", "value": 1.0, "threshold": 0, "passed": "yes"}], "GO")
    with pytest.raises(ValueError, match="must be a list of mappings"):
        decision_table("edge", "GO")  # type: ignore[arg-type]


def test_table_html() -> None:
    df = pd.DataFrame({"metric": ["sharpe", "<b>x</b>"], "value": [1.234567, np.nan]})
    text = table_html(df, caption="Headline <figures>", index=False).data
    assert '<table class="dataframe pmr-table"><caption>Headline &lt;figures&gt;</caption>' in text
    assert "<td>1.235</td>" in text and "<td>—</td>" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert ".pmr-table" in text  # the style travels with the table
