"""Purged cross-validation for overlapping labels: purged k-fold, combinatorial purged and walk-forward splitters."""

from __future__ import annotations

from pmresearch.model_selection.purged import CombinatorialPurgedKFold, PurgedKFold, PurgedWalkForward, purge_mask

__all__ = ["CombinatorialPurgedKFold", "PurgedKFold", "PurgedWalkForward", "purge_mask"]
