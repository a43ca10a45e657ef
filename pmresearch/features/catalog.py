"""The generated feature catalog: name, family, inputs, look-back, lag, units, description.

:func:`catalog` builds it from a registry (default :data:`~pmresearch.features.families.REGISTRY`), so it
cannot drift from the code; :func:`catalog_html` renders it as a self-contained HTML table for reports, headed by
the lag statement.
"""

from __future__ import annotations

import html

import pandas as pd

from pmresearch.features.cross_asset import EXTERNAL_PREFIX, external_feature_names
from pmresearch.features.engine import all_feature_names
from pmresearch.features.families import REGISTRY
from pmresearch.features.inputs import FeatureInputs
from pmresearch.features.registry import FeatureRegistry

__all__ = ["CATALOG_COLUMNS", "LAG_STATEMENT", "catalog", "catalog_html"]

CATALOG_COLUMNS = ["name", "family", "inputs", "lookback", "lag", "units", "description"]

LAG_STATEMENT = (
    "Every feature uses data up to t - lag: at decision time t it reads only rows whose knowledge time "
    "(when the row could have been known: a 1-minute kline at its close ts + 1 min, a trade or oracle tick "
    "at max(ts, received_at), a quote or book snapshot at ts) is <= t - lag. Look-back is how far before "
    "t - lag its data reaches."
)


def catalog(inputs: FeatureInputs | None = None, registry: FeatureRegistry = REGISTRY) -> pd.DataFrame:
    """The feature catalog as a DataFrame (one row per feature, in registration order).

    With ``inputs``, the external-series features it supplies are listed too; without, one template
    row ``cross__ext_<key>_<column>`` stands for them.
    """
    records = [{
        "name": s.name, "family": s.family, "inputs": ", ".join(s.inputs), "lookback": s.lookback,
        "lag": s.lag, "units": s.units, "description": s.description,
    } for s in (registry[n] for n in all_feature_names(None, registry))]
    ext = external_feature_names(inputs) if inputs is not None else [f"{EXTERNAL_PREFIX}<key>_<column>"]
    for name in ext:
        records.append({"name": name, "family": "cross", "inputs": "external", "lookback": pd.Timedelta(0),
                        "lag": pd.Timedelta(0), "units": "as supplied",
                        "description": "external series value joined as-of by known_at (else ts)"})
    out = pd.DataFrame.from_records(records, columns=CATALOG_COLUMNS)
    assert inputs is None or list(out["name"]) == all_feature_names(inputs, registry)
    return out


def _td(value: pd.Timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def catalog_html(frame: pd.DataFrame | None = None, *, title: str | None = "Feature catalog",
                 registry: FeatureRegistry = REGISTRY) -> str:
    """The catalog as an HTML fragment (a heading, the lag statement, counts per family, the table).

    ``frame`` defaults to ``catalog(registry=registry)``; ``title=None`` leaves the heading out (for a
    page that has its own, e.g. a notebook section).
    """
    cat = catalog(registry=registry) if frame is None else frame
    missing = [c for c in CATALOG_COLUMNS if c not in cat.columns]
    if missing:
        raise ValueError(f"catalog frame lacks columns {missing}")
    template = cat["name"].astype(str).str.contains("<", regex=False)
    counts = cat[~template].groupby("family", sort=False).size()
    head = ", ".join(f"{html.escape(str(f))}: {n}" for f, n in counts.items())
    if template.any():
        head += "; plus one feature per column of each external series supplied"
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["name"], r["family"], r["inputs"], _td(r["lookback"]), _td(r["lag"]), r["units"], r["description"]))
        + "</tr>" for _, r in cat.iterrows())
    header = "".join(f"<th>{c}</th>" for c in CATALOG_COLUMNS)
    heading = "" if title is None else f"<h2>{html.escape(title)}</h2>\n"
    return (f'<section class="feature-catalog">{heading}'
            f"<p>{html.escape(LAG_STATEMENT)}</p>\n<p>{int((~template).sum())} features ({head}).</p>\n"
            f'<table class="catalog"><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table></section>')
