"""The installed reference libraries still produce the stored files exactly (``reference_live``: QuantLib, ta and
statsmodels, run alone with ``pytest -m reference_live`` after an upgrade)."""
from __future__ import annotations

import generate_references  # tests/reference/ is on sys.path (pytest's rootdir-relative "prepend" import mode)
import pytest

pytestmark = pytest.mark.reference_live


def test_regenerated_references_equal_the_stored_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate_references.main(["--check"]) == 0, capsys.readouterr().err


def test_check_reports_a_drifted_value(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: a generator whose value moved by 1e-10 relative (beyond the check's 1e-12) is reported."""
    original = generate_references.statsmodels_values

    def drifted() -> dict:
        out = original()
        out["dm_bartlett"]["tvalue"] = float(out["dm_bartlett"]["tvalue"]) * (1 + 1e-10)
        return out

    monkeypatch.setattr(generate_references, "GENERATORS", {"statsmodels.json": drifted})
    assert generate_references.main(["--check"]) == 1
    assert "statsmodels.json: values differ" in capsys.readouterr().err
