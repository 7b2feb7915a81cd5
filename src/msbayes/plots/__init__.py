"""Figures for the report: ``plot_x(data, *, ax=None, ...)`` functions that never compute.

Every function takes tidy, already-computed results (see :mod:`msbayes.report.compute`) and
returns a matplotlib Figure or Axes. Colour-blind-safe (Okabe-Ito) and sized for a journal
column (3.5 in) or a slide (``size="slide"``).
"""

from .dose import plot_dose_response
from .forest import plot_forest
from .oc import plot_oc_curves, plot_oc_heatmap
from .posterior import plot_effect_posterior
from .ppc import plot_ppc
from .sensitivity import plot_prior_sensitivity
from .style import OKABE_ITO, SIZES

__all__ = [
    "OKABE_ITO",
    "SIZES",
    "plot_dose_response",
    "plot_effect_posterior",
    "plot_forest",
    "plot_oc_curves",
    "plot_oc_heatmap",
    "plot_ppc",
    "plot_prior_sensitivity",
]
