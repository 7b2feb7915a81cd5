"""msbayes: plan the next clinical trial from the evidence of the last.

Bayesian re-analysis (PyMC) of walking endpoints by EDSS stratum, and a vectorized
design-simulation engine that turns those posteriors into operating characteristics.

The Python API (every name loads on first use, so ``import msbayes`` stays fast):

- :func:`fit_reanalysis` -> :class:`ReanalysisResult` (InferenceData, summary, diagnostics)
- :func:`simulate_design` -> :class:`SimulationResult` (the ``oc`` Dataset with MCSEs, sample size)
- :func:`write_report`, :func:`load_data`, :func:`load_fit`, :func:`load_simulation`
- :func:`fit_config`, :func:`sim_config`, :func:`to_yaml`, :func:`config_from_yaml`
- :func:`calibrate_design` (and :func:`calibration_hint`): posterior thresholds with a target type I error

Examples
--------
>>> import msbayes
>>> msbayes.load_data("harris2024")["population"].nunique() >= 2
True
"""

from importlib.metadata import PackageNotFoundError, version

from ._lazy import lazy_exports

try:
    __version__ = version("msbayes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_LAZY = {
    "fit_reanalysis": ".api", "simulate_design": ".api", "write_report": ".api", "load_data": ".api",
    "load_fit": ".api", "load_simulation": ".api", "fit_config": ".api", "sim_config": ".api",
    "to_yaml": ".api", "config_from_yaml": ".api", "calibrate_design": ".api", "calibration_hint": ".api",
    "ReanalysisResult": ".results", "SimulationResult": ".results",
    "ConfigError": ".config", "FitConfig": ".fit.config", "SimConfig": ".design.config",
}

__all__ = ["__version__", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
