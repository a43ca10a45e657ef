"""Window outcomes (tie rule, settlement rule by date), labels by source, label-flip checks, and decision rows."""

from __future__ import annotations

from pmresearch.labels.agreement import OutcomeSources, assess_quality_with_labels, label_agreement, outcome_sources
from pmresearch.labels.decision import (
    AGE_COLUMNS,
    DECISION_COLUMNS,
    MARKET_STATE_COLUMNS,
    SPOT_SOURCES,
    STRIKE_SOURCES,
    DecisionRowOptions,
    decision_rows,
    decision_rows_from_frames,
    decision_times,
    label_end_times,
    parse_offsets,
    read_decision_frames,
    with_known_at,
)
from pmresearch.labels.outcomes import (
    LABEL_SOURCES,
    SETTLEMENT_SOURCE,
    exchange_proxy_outcomes,
    outcomes_from_oracle,
    settlement_values,
    tick_grid,
    window_labels,
)
from pmresearch.labels.schedule import DecisionSchedule

__all__ = [
    "AGE_COLUMNS",
    "DECISION_COLUMNS",
    "LABEL_SOURCES",
    "MARKET_STATE_COLUMNS",
    "SETTLEMENT_SOURCE",
    "SPOT_SOURCES",
    "STRIKE_SOURCES",
    "DecisionRowOptions",
    "DecisionSchedule",
    "OutcomeSources",
    "assess_quality_with_labels",
    "decision_rows",
    "decision_rows_from_frames",
    "decision_times",
    "exchange_proxy_outcomes",
    "label_agreement",
    "label_end_times",
    "outcome_sources",
    "outcomes_from_oracle",
    "parse_offsets",
    "read_decision_frames",
    "settlement_values",
    "tick_grid",
    "window_labels",
    "with_known_at",
]
