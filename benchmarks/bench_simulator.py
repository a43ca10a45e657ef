"""Simulator benchmark: simulated seconds per wall second of today's worlds against the simulator they replaced.

The baseline is the simulator as of commit ``c6ceeff`` (issue 13's start: the maker's book changed only at each
~2-s quote, 8 levels, spot plus white noise as the oracle), exported with ``git archive`` into a temporary
directory and run from there. Both run in their own fresh interpreter on the same machine in the same run:
one warm-up world (numba compiles or loads its cache), then the best of two builds of a one-day ``edge`` world
with both window lengths (``simulate``; the book files are not written). Printed: simulated seconds per wall
second of each and their ratio (above 1: today's is faster), and today's peak RSS. Without git or the commit
(a source tarball) only today's figure is printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BASELINE_COMMIT = "c6ceeff"
DAYS = 1.0
REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pmresearch.simulate import simulate
days = float(sys.argv[2])
simulate("edge", days=0.125, seed=0)  # warm-up: compile or load the numba cache
times = []
for seed in (1, 2):
    t = time.perf_counter()
    simulate("edge", days=days, seed=seed)
    times.append(time.perf_counter() - t)
print(json.dumps({"wall_s": min(times), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))
"""


def _run(src: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(DAYS)], check=True, capture_output=True,
                         text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _baseline_tree(tmp: Path) -> Path | None:
    """The baseline commit's ``pmresearch`` package under ``tmp`` (None without git or the commit)."""
    archive = tmp / "baseline.tar"
    try:
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), BASELINE_COMMIT, "pmresearch"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / "baseline", filter="data")
    return tmp / "baseline"


def bench_simulator() -> str:
    sim_s = DAYS * 86_400
    new = _run(REPO)
    line = (f"simulator: one-day edge world (5- and 15-minute markets, event-level books) in {new['wall_s']:.1f} s = "
            f"{sim_s / new['wall_s']:,.0f} simulated s per wall s (peak RSS {new['peak_mb']:,.0f} MB)")
    with tempfile.TemporaryDirectory(prefix="pmr-bench-sim-") as tmp:
        base_src = _baseline_tree(Path(tmp))
        if base_src is None:
            return line + f"; baseline commit {BASELINE_COMMIT} not available (no git history): no ratio"
        old = _run(base_src)
    return (line + f"; the simulator of {BASELINE_COMMIT} (2-s snapshot books) {old['wall_s']:.1f} s = "
            f"{sim_s / old['wall_s']:,.0f} simulated s per wall s: ratio {old['wall_s'] / new['wall_s']:.2f}x")


BENCHMARKS = [bench_simulator]


if __name__ == "__main__":
    for fn in BENCHMARKS:
        print(fn())
