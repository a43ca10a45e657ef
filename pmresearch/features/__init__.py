"""As-of feature library: families listed in :data:`REGISTRY`, computed by :func:`compute_features`.

Every feature is named ``<family>__<name>`` and uses only data whose knowledge time (DESIGN.md) is
``<= t - lag`` at its decision time ``t``. :func:`catalog` lists them; :func:`leakage_audit`
checks the claim by recomputation on truncated and permuted data.
"""

from __future__ import annotations

from pmresearch.features.catalog import LAG_STATEMENT, catalog, catalog_html
from pmresearch.features.engine import all_feature_names, compute_features
from pmresearch.features.families import REGISTRY, default_registry
from pmresearch.features.inputs import FeatureInputs, knowledge_time, read_external
from pmresearch.features.leakage import LeakageAuditResult, leakage_audit
from pmresearch.features.registry import Block, FeatureRegistry, FeatureSpec, make_block

__all__ = [
    "LAG_STATEMENT",
    "REGISTRY",
    "Block",
    "FeatureInputs",
    "FeatureRegistry",
    "FeatureSpec",
    "LeakageAuditResult",
    "all_feature_names",
    "catalog",
    "catalog_html",
    "compute_features",
    "default_registry",
    "knowledge_time",
    "leakage_audit",
    "make_block",
    "read_external",
]
