"""Window outcomes (tie rule, settlement rule by date) and decision rows."""

from __future__ import annotations

from pmresearch.labels.outcomes import SETTLEMENT_SOURCE, outcomes_from_oracle, settlement_values

__all__ = ["SETTLEMENT_SOURCE", "outcomes_from_oracle", "settlement_values"]
