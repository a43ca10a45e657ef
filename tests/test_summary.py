"""The one summary type: text and HTML renderings, copies, errors, and the mixin."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from pmresearch._summary import Summary, SummaryMixin, summary_table


def _example() -> Summary:
    est = pd.DataFrame({"estimate": [0.25, 1.0], "std_error": [0.01, 0.5]}, index=["a", "b"])
    return summary_table("Fit <x>", {"estimates": est, "info": pd.Series({"n": 10, "converged": True})},
                         notes=["n = 10 rows", "a & b"])


def test_text_rendering_is_exact() -> None:
    text = _example().as_text()
    assert text.splitlines()[:2] == ["Fit <x>", "======="]
    assert "estimates\n   estimate  std_error\na      0.25       0.01\nb         1        0.5" in text
    assert text.endswith("Notes:\n[1] n = 10 rows\n[2] a & b")
    assert str(_example()) == text


def test_html_rendering_escapes_and_captions() -> None:
    out = _example().as_html()
    assert out.startswith('<div class="pmr-summary"><h4>Fit &lt;x&gt;</h4>')
    assert out.count("<table") == 2 and "<caption>estimates</caption>" in out and "<caption>info</caption>" in out
    assert "<li>a &amp; b</li>" in out
    assert _example()._repr_html_() == out


def test_tables_are_copies_and_named() -> None:
    frame = pd.DataFrame({"v": [1.0]})
    s = Summary("T", (("main", frame),))
    frame.loc[0, "v"] = 99.0
    assert s["main"].loc[0, "v"] == 1.0
    got = s.frame
    got.loc[0, "v"] = -1.0
    assert s.frame.loc[0, "v"] == 1.0
    assert s.names == ("main",) and list(s) == ["main"] and len(s) == 1
    with pytest.raises(KeyError, match="no table 'other'; tables: \\['main'\\]"):
        s["other"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"title": ""}, "non-empty"),
    ({"title": "T", "tables": (("a", pd.DataFrame()), ("a", pd.DataFrame()))}, "duplicate table names \\['a'\\]"),
    ({"title": "T", "tables": (("a", [1, 2]),)}, "must be a DataFrame, a Series or a mapping, not list"),
])
def test_bad_summaries_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        Summary(**kwargs)


def test_empty_summary_has_no_frame() -> None:
    s = Summary("Nothing", notes=("no rows",))
    assert s.as_text() == "Nothing\n=======\n\nNotes:\n[1] no rows"
    with pytest.raises(LookupError, match="has no table"):
        _ = s.frame


@dataclass(frozen=True)
class _Result(SummaryMixin):
    value: float

    def summary(self) -> Summary:
        return Summary("Result", (("main", pd.Series({"value": self.value})),))


def test_mixin_derives_str_and_html_from_summary() -> None:
    r = _Result(2.5)
    assert str(r) == r.summary().as_text() and "2.5" in str(r)
    assert r._repr_html_() == r.summary().as_html()
    assert repr(r) == "_Result(value=2.5)"


def test_a_result_without_summary_cannot_be_built() -> None:
    @dataclass(frozen=True)
    class _NoSummary(SummaryMixin):
        value: float

    with pytest.raises(TypeError, match=r"abstract method .?summary"):
        _NoSummary(1.0)  # type: ignore[abstract]
