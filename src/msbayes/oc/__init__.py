"""Operating characteristics: decision rules, accumulators with MCSE, calibration, search."""

from .accumulate import STANDARD_KEYS, Accumulator
from .decision import CalibrationResult, DualCriterion, Significance, calibrate_threshold, decision_from_spec
from .search import SearchResult, bracket_bisect, search_sample_size

__all__ = [
    "Accumulator",
    "STANDARD_KEYS",
    "DualCriterion",
    "Significance",
    "decision_from_spec",
    "calibrate_threshold",
    "CalibrationResult",
    "SearchResult",
    "bracket_bisect",
    "search_sample_size",
]
