"""One summary type for every result (the pattern of ``arch``'s ``_SummaryRepr`` and ``statsmodels``' ``Summary``).

Every result object's ``summary()`` returns a :class:`Summary`: a title, one or more named tables and notes, rendered
as plain text (``as_text()``, also ``str()``) or HTML (``as_html()``, also ``_repr_html_`` in Jupyter). Results inherit
:class:`SummaryMixin`, so their own ``__str__`` and ``_repr_html_`` derive from the same ``summary()``: what a user
prints, what a notebook shows and what a report embeds are one rendering of one object.

Examples
--------
>>> import pandas as pd
>>> s = Summary("Example", (("estimates", pd.DataFrame({"value": [1.5]}, index=["a"])),), notes=("n = 1",))
>>> print(s.as_text())  # doctest: +NORMALIZE_WHITESPACE
Example
=======
estimates
   value
a    1.5
<BLANKLINE>
Notes:
[1] n = 1
"""
from __future__ import annotations

import html
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Summary", "SummaryMixin", "summary_table"]

_FLOAT_FORMAT = "{:.6g}".format


def _frame(value: pd.DataFrame | pd.Series | Mapping[str, Any], name: str) -> pd.DataFrame:
    """Coerce a table-like value into a DataFrame copy (a Series or a mapping becomes one ``value`` column)."""
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, pd.Series):
        return value.to_frame(name=value.name if value.name is not None else "value")
    if isinstance(value, Mapping):
        return pd.Series(dict(value), dtype=object).to_frame(name="value")
    raise TypeError(f"summary table {name!r} must be a DataFrame, a Series or a mapping, not {type(value).__name__}")


@dataclass(frozen=True, eq=False)
class Summary:
    """A rendered result: a title, named tables and notes.

    Parameters
    ----------
    title : str
        One line naming the result (``"Diebold-Mariano test"``).
    tables : iterable of (name, table)
        Named tables in display order; a table is a DataFrame, a Series or a mapping (the latter two become one
        ``value`` column). Stored as copies, so later changes to the caller's frames do not alter the summary.
    notes : iterable of str
        Lines printed after the tables (sample sizes, caveats, the meaning of a column).

    Attributes
    ----------
    names : tuple of str
        Table names in order; ``summary["name"]`` returns a copy of that table, ``summary.frame`` the first.
    """

    title: str
    tables: tuple[tuple[str, pd.DataFrame], ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError("Summary title must be a non-empty string")
        tables = tuple((str(name), _frame(table, str(name))) for name, table in self.tables)
        names = [name for name, _ in tables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"Summary {self.title!r}: duplicate table names {dupes}")
        object.__setattr__(self, "tables", tables)
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    @property
    def names(self) -> tuple[str, ...]:
        """Table names in display order."""
        return tuple(name for name, _ in self.tables)

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the first table (the headline table of most results)."""
        if not self.tables:
            raise LookupError(f"Summary {self.title!r} has no table")
        return self.tables[0][1].copy()

    def __getitem__(self, name: str) -> pd.DataFrame:
        for key, table in self.tables:
            if key == name:
                return table.copy()
        raise KeyError(f"Summary {self.title!r} has no table {name!r}; tables: {list(self.names)}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.tables)

    def as_text(self) -> str:
        """Plain-text rendering: title, underline, each table with its name, then numbered notes."""
        lines = [self.title, "=" * len(self.title)]
        for name, table in self.tables:
            lines.append(name)
            lines.append(table.to_string(float_format=_FLOAT_FORMAT) if len(table.columns) else "(no columns)")
            lines.append("")
        if self.notes:
            if lines[-1] != "":
                lines.append("")
            lines.append("Notes:")
            lines.extend(f"[{i}] {note}" for i, note in enumerate(self.notes, start=1))
        while lines and lines[-1] == "":
            lines.pop()
        return "\n".join(lines)

    def as_html(self) -> str:
        """Self-contained HTML fragment: a heading, one captioned table per entry, notes as a list."""
        parts = [f'<div class="pmr-summary"><h4>{html.escape(self.title)}</h4>']
        for name, table in self.tables:
            body = table.to_html(float_format=_FLOAT_FORMAT, border=0, classes="pmr-summary-table")
            caption = f"<caption>{html.escape(name)}</caption>"
            parts.append(body.replace(">", ">" + caption, 1) if body.startswith("<table") else body)
        if self.notes:
            items = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
            parts.append(f"<ol class=\"pmr-summary-notes\">{items}</ol>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()


def summary_table(title: str, tables: Mapping[str, Any] | Iterable[tuple[str, Any]], notes: Iterable[str] = ()
                  ) -> Summary:
    """Build a :class:`Summary` from a mapping (or pairs) of table name to table, keeping the order given."""
    pairs = tuple(tables.items()) if isinstance(tables, Mapping) else tuple(tables)
    return Summary(title, pairs, tuple(notes))


class SummaryMixin(ABC):
    """Derive ``__str__`` and ``_repr_html_`` from ``summary()`` (which must return a :class:`Summary`).

    ``summary`` is abstract: a result class that does not define it cannot be instantiated.
    """

    @abstractmethod
    def summary(self) -> Summary:
        """The result as one :class:`Summary`."""

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()
