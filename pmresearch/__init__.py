"""pmresearch: a research framework for short-horizon binary prediction markets.

The package holds all logic; notebooks under ``notebooks/`` are thin, parameterized
(Papermill) and produce the decision reports.
"""

from __future__ import annotations

from pmresearch._summary import Summary
from pmresearch._version import __version__

__all__ = ["Summary", "__version__"]
