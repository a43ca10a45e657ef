"""Progress bars for long work: one place that decides whether a bar is shown.

Bars use :mod:`tqdm.auto` (a widget in JupyterLab when ipywidgets is installed, text otherwise).
``TQDM_DISABLE=1`` in the environment turns every bar off, whatever the caller asked for: the report
runner sets it for the kernels that execute notebooks, so reports never carry progress output.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # Without ipywidgets (installed by `make lab`) tqdm.auto falls back to text bars and warns on import,
    # which would print into every executed notebook.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["bars_disabled", "progress"]

T = TypeVar("T")

_OFF = {"1", "true", "yes", "on"}


def bars_disabled() -> bool:
    """True when the environment variable ``TQDM_DISABLE`` turns progress bars off."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in _OFF


def progress(iterable: Iterable[T] | None = None, *, enabled: bool | None = None, **kwargs: Any) -> tqdm[T]:
    """A tqdm bar over ``iterable`` (or a manual bar with ``total=``).

    Parameters
    ----------
    iterable
        What to iterate over; ``None`` for a bar updated by hand with ``update``.
    enabled
        ``True`` or ``False`` to force the bar on or off; ``None`` (default) shows it only on an
        interactive output (tqdm's ``disable=None``). ``TQDM_DISABLE=1`` overrides both.
    **kwargs
        Passed to :class:`tqdm.auto.tqdm` (``desc``, ``total``, ``unit``, ``leave``, ...).
    """
    if bars_disabled():
        disable: bool | None = True
    else:
        disable = None if enabled is None else not enabled
    return tqdm(iterable, disable=disable, **kwargs)
