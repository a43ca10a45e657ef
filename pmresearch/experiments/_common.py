"""What the experiment modules share: the nested world config of a notebook and the result base.

:class:`ExperimentResult` is the base of every experiment's frozen result (the config of the run,
the wall time of each step, a ``headline()`` and a :class:`~pmresearch._summary.Summary`); the
``Attributes`` blocks of the results document only what each adds.
"""

from __future__ import annotations

import time
import types
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from pmresearch._progress import progress as progress_bar
from pmresearch._summary import SummaryMixin
from pmresearch.config import nested
from pmresearch.simulate.config import WorldSpec

__all__ = ["ExperimentResult", "StepTimer", "frozen_mapping", "world_field"]


def world_field(*, days: float, max_days: float) -> Any:
    """A nested :class:`~pmresearch.simulate.WorldSpec` field defaulting to ``days`` simulated days and
    refusing more than ``max_days`` (on every entry path)."""
    return nested(WorldSpec, doc=f"the simulated world (at most {max_days:g} days)",
                  bounds={"days": {"le": max_days}}, days=days)


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``data`` (nested mappings frozen too): results hold no mutable dicts."""
    return types.MappingProxyType({k: frozen_mapping(v) if isinstance(v, Mapping) else v
                                   for k, v in (data or {}).items()})


@dataclass(frozen=True)
class ExperimentResult(SummaryMixin):
    """Base of the experiments' results: ``timings`` (seconds per step) is stored read-only.

    Subclasses declare ``config`` first and ``timings`` (default empty) last, and implement
    ``headline()`` (the run's ``reports/<nb>/<run>.json``) and ``summary()``.
    """

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, dict):
                object.__setattr__(self, name, frozen_mapping(value))

    @abstractmethod
    def headline(self) -> dict[str, Any]:
        """The run's headline figures (``reports/<nb>/<run>.json``)."""




class StepTimer:
    """Wall time of an experiment's steps with a progress bar over them (a context manager).

    ``lap(name)`` records the time since the previous lap (or the start) as ``timings[f"{name}_s"]``
    and advances the bar; leaving the block closes the bar, also on an error::

        with StepTimer(total=3, desc="05_data_features", enabled=progress) as steps:
            store = load()
            steps.lap("load")
        result = Result(..., timings=steps.timings)
    """

    def __init__(self, *, total: int, desc: str, enabled: bool = True) -> None:
        self.timings: dict[str, float] = {}
        self._bar = progress_bar(total=total, desc=desc, unit="step", enabled=enabled)
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        """Record the time of step ``name`` and advance the bar."""
        self.timings[f"{name}_s"] = time.perf_counter() - self._clock
        self._bar.update()
        self._clock = time.perf_counter()

    def restart(self) -> None:
        """Start the next step's clock now (time since the last lap not counted)."""
        self._clock = time.perf_counter()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
