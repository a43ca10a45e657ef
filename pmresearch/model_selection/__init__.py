"""Purged cross-validation for overlapping labels: purged k-fold, combinatorial purged and walk-forward splitters."""

from __future__ import annotations

from pmresearch.model_selection._base import purge_mask
from pmresearch.model_selection.combinatorial import CombinatorialPurgedKFold
from pmresearch.model_selection.purged import PurgedKFold, PurgedWalkForward

__all__ = ["CombinatorialPurgedKFold", "PurgedKFold", "PurgedWalkForward", "purge_mask"]
