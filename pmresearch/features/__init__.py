"""As-of features (families ``vol__`` and ``contract__`` so far)."""

from __future__ import annotations

from pmresearch.features.basic import add_contract_features, add_realized_vol, realized_vol_1m

__all__ = ["add_contract_features", "add_realized_vol", "realized_vol_1m"]
