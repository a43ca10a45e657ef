"""Timing helpers shared by the benchmark modules (``bench_*.py``).

Imported as ``from _timing import ...``: the directory of the running benchmark is on ``sys.path``
both for ``python benchmarks/bench_x.py`` and for ``pmresearch bench``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_time"]


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)

