"""``compute_features``: every requested feature for every decision row in one vectorized pass.

Each block computes its features once on its whole input (e.g. the 1-minute bar grid) and joins
them to the decision times strictly as-of by knowledge time; nothing is computed per row.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pmresearch.features.context import FeatureContext
from pmresearch.features.cross_asset import EXTERNAL_PREFIX, external_feature_names, external_values
from pmresearch.features.families import REGISTRY
from pmresearch.features.inputs import FeatureInputs
from pmresearch.features.registry import FeatureRegistry

__all__ = ["FAMILY_ORDER", "all_feature_names", "compute_features"]

#: Order of the families in the default feature list and the catalog.
FAMILY_ORDER = ("price", "ta", "vol", "volume", "micro", "time", "cross", "contract")


def all_feature_names(inputs: FeatureInputs | None = None, registry: FeatureRegistry = REGISTRY) -> list[str]:
    """Every registered feature name (by :data:`FAMILY_ORDER`, then registration order), plus the
    external-series features of ``inputs``."""
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    names = sorted(registry, key=lambda n: rank.get(registry[n].family, len(rank)))
    if inputs is not None:
        names += external_feature_names(inputs)
    return names


def _check_rows(rows: pd.DataFrame) -> pd.Series:
    if not isinstance(rows, pd.DataFrame):
        raise TypeError(f"rows: expected a DataFrame, got {type(rows).__name__}")
    if "t" not in rows.columns:
        raise ValueError("rows: missing column 't' (the decision time)")
    t = rows["t"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"rows, column 't': expected tz-aware UTC timestamps, got {t.dtype}")
    if t.isna().any():
        raise ValueError(f"rows, column 't': null decision time at rows {list(rows.index[t.isna()][:5])}")
    out: pd.Series = t.dt.tz_convert("UTC")
    return out


def compute_features(
    rows: pd.DataFrame, inputs: FeatureInputs, names: Sequence[str] | None = None,
    *, registry: FeatureRegistry = REGISTRY,
) -> pd.DataFrame:
    """Features of every decision row, computed in one pass and joined strictly as-of.

    Parameters
    ----------
    rows : DataFrame
        Decision rows: ``t`` (tz-aware UTC decision time) and, for contract features, ``spot``,
        ``strike`` and ``tau_s``; ``slug`` for the per-market microstructure features (and
        optionally ``token_id`` for books recorded without market metadata, ``interval_minutes``).
    inputs : FeatureInputs
        The data.
    names : sequence of str, optional
        Features to compute (default: all registered plus the external-series features).
    registry : FeatureRegistry
        Where features are looked up (default :data:`pmresearch.features.REGISTRY`, built by
        :func:`pmresearch.features.families.default_registry`).

    Returns
    -------
    DataFrame
        Same index as ``rows``, one float64 column per feature in ``names`` order, NaN where the
        inputs are missing. The value at ``t`` uses only data known at ``t - lag``.

    Raises
    ------
    ValueError
        On naive or missing decision times, or an unknown feature name (with suggestions).
    """
    t = _check_rows(rows)
    ext_names = external_feature_names(inputs)
    wanted = list(names) if names is not None else all_feature_names(inputs, registry)
    dup = sorted({n for n in wanted if wanted.count(n) > 1})
    if dup:
        raise ValueError(f"names: repeated features {dup[:5]}")
    unknown = [n for n in wanted if n not in registry and n not in ext_names]
    if unknown:
        hints = {n: difflib.get_close_matches(n, list(registry) + ext_names, n=3) for n in unknown[:5]}
        raise ValueError(f"unknown features {unknown[:5]} (close matches: {hints}); see pmresearch.features.catalog()")
    order = np.argsort(t.to_numpy(), kind="stable")
    sorted_rows = rows.iloc[order].reset_index(drop=True)
    sorted_rows["t"] = t.iloc[order].to_numpy()
    ctx = FeatureContext(sorted_rows, inputs, registry)
    registered = [n for n in wanted if not n.startswith(EXTERNAL_PREFIX) or n in registry]
    for block in registry.resolve(registered):
        ctx.run_block(block.name)
    values = ctx.values(registered)
    if any(n.startswith(EXTERNAL_PREFIX) and n not in registry for n in wanted):
        values.update(external_values(ctx) if len(sorted_rows) else {n: ctx.nan() for n in ext_names})
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    data = {n: values[n][inverse] for n in wanted}
    return pd.DataFrame(data, index=rows.index, columns=wanted, dtype=np.float64)
