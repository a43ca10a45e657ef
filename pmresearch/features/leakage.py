"""Leakage audit: a feature at ``t`` must not change when data known after ``t`` changes.

For random decision rows, :func:`leakage_audit` recomputes every feature (1) from the inputs
truncated at the row's ``t`` (rows whose knowledge time is after ``t`` dropped) and (2) from the
inputs with everything known after ``t`` permuted among itself; both must equal the value computed
from the full data. A feature that peeks at a later bar, normalizes by a full-sample statistic, or
joins a bar before it closed fails (1); one that reads future values in place fails (2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from pmresearch._summary import Summary, SummaryMixin
from pmresearch._typing import FloatArray
from pmresearch.features.engine import all_feature_names, compute_features
from pmresearch.features.families import REGISTRY
from pmresearch.features.inputs import FeatureInputs
from pmresearch.features.registry import FeatureRegistry

__all__ = ["AUDIT_COLUMNS", "LeakageAuditResult", "leakage_audit"]

AUDIT_COLUMNS = ["feature", "family", "checked", "non_null", "truncation_failures", "permutation_failures",
                 "max_abs_diff", "passed"]


@dataclass(frozen=True)
class LeakageAuditResult(SummaryMixin):
    """Outcome of :func:`leakage_audit`.

    Attributes
    ----------
    table : DataFrame
        One row per feature: ``checked`` rows, ``non_null`` (rows where the full-data value is not
        NaN: a feature never non-null was not exercised), failures under truncation and under
        permutation, the largest absolute difference, ``passed``.
    times : tuple of Timestamp
        The audited decision times.
    seed, rtol, atol
        Settings used.
    examples : DataFrame
        Up to three failing values per feature and check (``check``, ``t``, ``feature``, ``full``,
        ``recomputed``).
    """

    table: pd.DataFrame
    times: tuple[pd.Timestamp, ...]
    seed: int
    rtol: float
    atol: float
    examples: pd.DataFrame = field(repr=False)

    @cached_property
    def passed(self) -> bool:
        """True when no feature failed."""
        return not self.failing

    @cached_property
    def failing(self) -> tuple[str, ...]:
        """Names of the features that changed under truncation or permutation."""
        return tuple(self.table.loc[~self.table["passed"], "feature"])

    @cached_property
    def not_exercised(self) -> tuple[str, ...]:
        """Features that were NaN at every audited row (their inputs were missing there)."""
        return tuple(self.table.loc[self.table["non_null"] == 0, "feature"])

    def summary(self) -> Summary:
        """The verdict in the title; tables ``audit`` (settings and counts) and ``failing`` (one row per
        failing feature, only when some failed); the counts and the failing and not-exercised features
        as notes. Every feature's row is in :attr:`table`."""
        n_feat = len(self.table)
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.failing)} features)"
        audit = pd.DataFrame({"value": {
            "decision times": len(self.times), "features": n_feat, "passed": n_feat - len(self.failing),
            "exercised (non-NaN somewhere)": n_feat - len(self.not_exercised), "seed": self.seed,
            "rtol": self.rtol, "atol": self.atol,
        }}, dtype=object)
        tables: list[tuple[str, pd.DataFrame]] = [("audit", audit)]
        notes = [f"passed: {n_feat - len(self.failing)} / {n_feat}; exercised (non-NaN somewhere): "
                 f"{n_feat - len(self.not_exercised)} / {n_feat}"]
        if self.failing:
            bad = self.table.loc[~self.table["passed"]].set_index("feature")
            tables.append(("failing", bad[["family", "checked", "truncation_failures", "permutation_failures",
                                           "max_abs_diff"]]))
            notes.append("FAILING: " + ", ".join(self.failing))
        if self.not_exercised:
            notes.append("not exercised (all NaN): " + ", ".join(self.not_exercised))
        return Summary(f"Leakage audit {verdict}: {len(self.times)} decision times, {n_feat} features",
                       tuple(tables), tuple(notes))


def _differs(a: FloatArray, b: FloatArray, rtol: float, atol: float) -> tuple[np.ndarray, FloatArray]:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(a - b)
        close = (a == b) | (gap <= atol + rtol * np.abs(b))
    bad = ~(both_nan | close)
    diff = np.where(np.isnan(a) != np.isnan(b), np.inf, np.where(close, 0.0, gap))
    return bad, np.nan_to_num(np.where(both_nan, 0.0, diff), nan=np.inf, posinf=np.inf)


def leakage_audit(
    rows: pd.DataFrame,
    inputs: FeatureInputs,
    *,
    n: int = 20,
    seed: int = 0,
    names: Sequence[str] | None = None,
    permute: bool = True,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    registry: FeatureRegistry = REGISTRY,
) -> LeakageAuditResult:
    """Recompute features from data truncated at (and permuted after) random decision times.

    Parameters
    ----------
    rows : DataFrame
        Decision rows as for :func:`compute_features`.
    inputs : FeatureInputs
        The full data.
    n : int
        Number of decision rows audited (drawn without replacement).
    seed : int
        Seed of the row draw and of the permutations.
    names : sequence of str, optional
        Features to audit (default all, as :func:`compute_features`).
    permute : bool
        Also run the permutation check.
    rtol, atol : float
        Tolerance of the equality check (values are recomputed, so equality is essentially exact).
    registry : FeatureRegistry
        Where the features are looked up.

    Returns
    -------
    LeakageAuditResult
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if rows.empty:
        raise ValueError("rows is empty: nothing to audit")
    rng = np.random.default_rng(seed)
    wanted = list(names) if names is not None else all_feature_names(inputs, registry)
    pick = np.sort(rng.choice(len(rows), size=min(n, len(rows)), replace=False))
    sample = rows.iloc[pick]
    full = compute_features(sample, inputs, wanted, registry=registry)
    full_v = full.to_numpy(dtype=np.float64)
    n_feat = len(wanted)
    trunc_fail = np.zeros(n_feat, dtype=np.int64)
    perm_fail = np.zeros(n_feat, dtype=np.int64)
    max_diff = np.zeros(n_feat)
    examples: list[dict[str, object]] = []
    times = pd.DatetimeIndex(sample["t"]).tz_convert("UTC")
    for t in times.unique():
        at = np.flatnonzero(times == t)
        sub = sample.iloc[at]
        checks = [("truncation", inputs.truncate(t), trunc_fail)]
        if permute:
            checks.append(("permutation", inputs.permute_after(t, rng), perm_fail))
        for kind, data, counter in checks:
            got = compute_features(sub, data, wanted, registry=registry).to_numpy(dtype=np.float64)
            for j, ref in enumerate(full_v[at]):
                bad, diff = _differs(got[j], ref, rtol, atol)
                counter += bad
                max_diff[:] = np.maximum(max_diff, diff)
                for k in np.flatnonzero(bad)[:3]:
                    examples.append({"check": kind, "t": t, "feature": wanted[k], "full": ref[k],
                                     "recomputed": got[j, k]})
    table = pd.DataFrame({
        "feature": wanted,
        "family": [registry[w].family if w in registry else "cross" for w in wanted],
        "checked": len(pick),
        "non_null": np.isfinite(full_v).sum(axis=0) if len(full_v) else 0,
        "truncation_failures": trunc_fail,
        "permutation_failures": perm_fail,
        "max_abs_diff": max_diff,
    })
    table["passed"] = (table["truncation_failures"] == 0) & (table["permutation_failures"] == 0)
    return LeakageAuditResult(table=table, times=tuple(times), seed=seed, rtol=rtol, atol=atol,
                              examples=pd.DataFrame(examples, columns=["check", "t", "feature", "full", "recomputed"]))
