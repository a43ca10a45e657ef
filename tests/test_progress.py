"""Progress bars: TQDM_DISABLE turns every bar off, whatever the caller asked for."""

from __future__ import annotations

import pytest

from pmresearch._progress import bars_disabled, progress


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_environment_turns_bars_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TQDM_DISABLE", value)
    assert bars_disabled()
    bar = progress(range(3), enabled=True, desc="x")
    assert bar.disable is True
    assert list(bar) == [0, 1, 2]  # still iterates


def test_caller_decides_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bars_disabled()
    assert progress(range(2), enabled=False).disable is True
    with progress(total=2, enabled=True) as bar:
        assert bar.disable is False
        bar.update(2)
        assert bar.n == 2
