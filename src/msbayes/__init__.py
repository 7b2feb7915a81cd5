"""msbayes: plan the next clinical trial from the evidence of the last.

Bayesian re-analysis (PyMC) of walking endpoints by EDSS stratum, and a vectorized
design-simulation engine that turns those posteriors into operating characteristics.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msbayes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
