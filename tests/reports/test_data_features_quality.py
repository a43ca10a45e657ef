"""The 05 experiment's quality assessment includes the label flips (from the labels layer)."""

from __future__ import annotations

from pathlib import Path

from pmresearch.config import from_mapping
from pmresearch.experiments import data_features as df5


def test_run_assesses_label_flips(tmp_path: Path) -> None:
    cfg = from_mapping(df5.Config, {"days": 0.1, "seed": 2, "every_s": 300.0, "leakage_rows": 1, "cv_folds": 2,
                                    "stationarity_features": 2, "stationarity_max_lag": 1, "top_k": 2})
    result = df5.run(cfg, root=tmp_path, progress=False)
    q = result.quality
    assert len(q.labels) == result.counts["polymarket_resolutions"] > 0
    assert not any(n.startswith("label flips: not assessed") for n in q.notes)
    la = q.label_agreement.set_index(["comparison", "interval_minutes"])
    row = la.loc[("exchange vs oracle", "all")]
    assert row["n"] == q.labels[["exchange", "oracle"]].notna().all(axis=1).sum() > 0
    assert result.headline()["quality_label_flip_rate"] == row["flip_rate"]
