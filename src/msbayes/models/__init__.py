"""PyMC model builders and prior presets (no sampling here; see :mod:`msbayes.fit`).

The builders import PyMC (about 2 s); they load on first use, so that the prior presets and
the command line (``msbayes --help``, ``msbayes data``, ``msbayes report``) stay fast.
"""

from __future__ import annotations

from .._lazy import lazy_exports
from .priors import PRIORS, NormalPrior, PriorPreset, resolve_prior

_LAZY = {
    "SummaryInputs": ".summary", "build_summary_model": ".summary", "stratum_status": ".summary",
    "BinaryInputs": ".binary", "build_binary_model": ".binary",
    "PatientInputs": ".patient", "build_patient_model": ".patient",
}

__all__ = [
    "PRIORS",
    "PriorPreset",
    "NormalPrior",
    "resolve_prior",
    "SummaryInputs",
    "build_summary_model",
    "stratum_status",
    "BinaryInputs",
    "build_binary_model",
    "PatientInputs",
    "build_patient_model",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
