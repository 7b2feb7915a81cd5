"""Sampling, diagnostics, summaries and the ``posterior.nc`` artefact of ``msbayes fit``.

Examples
--------
>>> from msbayes.fit import load_fit_config, run_fit, read_effect_draws  # doctest: +SKIP
"""

from .artefact import list_estimands, read_effect_draws
from .config import FitConfig, load_fit_config, validate_fit_config
from .runner import FitResult, run_fit

__all__ = ["FitConfig", "FitResult", "load_fit_config", "validate_fit_config", "run_fit",
           "read_effect_draws", "list_estimands"]
