"""PyMC model builders and prior presets (no sampling here; see :mod:`msbayes.fit`)."""

from .binary import BinaryInputs, build_binary_model
from .patient import PatientInputs, build_patient_model
from .priors import PRIORS, NormalPrior, PriorPreset, resolve_prior
from .summary import SummaryInputs, build_summary_model, stratum_status

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
