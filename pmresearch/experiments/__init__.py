"""Experiments: one module per notebook, each a ``Config`` and ``run(cfg) -> Result``.

Every module holds the computation of one notebook and nothing else: a frozen, validated config
(the notebook's parameters), ``run(cfg, *, progress=True)`` and a frozen result holding everything
the notebook shows (its ``headline()`` is the run's ``reports/<nb>/<run>.json``). Figures and HTML
live in :mod:`pmresearch.reports`, which takes parts of a result as input and never imports this
package::

    from pmresearch.experiments.model_a import Config, run
    from pmresearch.reports import model_a_report as plots

    result = run(Config(days=3.0))
    plots.jump_figure(result.jumps)

Modules are imported by name (``pmresearch.experiments.<name>``), not here, so importing one
experiment does not import the others' dependencies.
"""

from __future__ import annotations

#: The experiment modules, ``pmresearch.experiments.<name>``, by notebook.
MODULES: dict[str, str] = {
    "00_explore": "explore",
    "05_data_features": "data_features",
    "06_model_a": "model_a",
    "04_go_no_go": "go_no_go",
}

__all__ = ["MODULES"]
