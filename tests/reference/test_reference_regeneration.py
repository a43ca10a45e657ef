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


def test_check_reports_a_drifted_array(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Control: one indicator value moved by 1e-8 of its array's scale (beyond the arrays' 1e-10) is reported,
    while a one-ulp change of every input is not."""
    import numpy as np

    original = generate_references.ta_indicators

    def drifted() -> dict:
        out = original()
        x = out["ref_rsi_14"].copy()
        i = int(np.flatnonzero(np.isfinite(x))[0])
        x[i] += 1e-8 * np.nanmax(np.abs(x))
        out["ref_rsi_14"] = x
        return out

    def one_ulp() -> dict:
        out = original()
        out["bar_close"] = np.nextafter(out["bar_close"], np.inf)
        return out

    monkeypatch.setattr(generate_references, "GENERATORS", {"ta_indicators.npz": drifted})
    assert generate_references.main(["--check"]) == 1
    assert "ta_indicators.npz: ref_rsi_14 differs" in capsys.readouterr().err
    monkeypatch.setattr(generate_references, "GENERATORS", {"ta_indicators.npz": one_ulp})
    assert generate_references.main(["--check"]) == 0, capsys.readouterr().err
