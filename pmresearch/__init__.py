"""pmresearch: a research framework for short-horizon binary prediction markets.

The package holds all logic; notebooks under ``notebooks/`` are thin, parameterized
(Papermill) and produce the decision reports.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
