"""Sampling, diagnostics, summaries and the ``posterior.nc`` artefact of ``msbayes fit``.

Names load on first use (the runner imports PyMC and ArviZ, about 2 s), so importing the
package for its configuration or the command line stays fast.

Examples
--------
>>> from msbayes.fit import load_fit_config, run_fit, read_effect_draws  # doctest: +SKIP
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "list_estimands": ".artefact", "read_effect_draws": ".artefact",
    "FitConfig": ".config", "load_fit_config": ".config", "validate_fit_config": ".config",
    "FitResult": ".runner", "run_fit": ".runner",
}

__all__ = ["FitConfig", "FitResult", "load_fit_config", "validate_fit_config", "run_fit",
           "read_effect_draws", "list_estimands"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
