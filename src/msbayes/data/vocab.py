"""Controlled vocabulary of the data layer: column names, dtypes and allowed values.

One place for the names every table, the schema checker and the loaders agree on.

Examples
--------
>>> from msbayes.data.vocab import ENDPOINTS, SUMMARY_COLUMNS
>>> "t25fw" in ENDPOINTS and SUMMARY_COLUMNS[0] == "study"
True
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "ENDPOINTS",
    "WALK_ENDPOINTS",
    "CONVENTIONS",
    "N_STATUS",
    "ARMS",
    "SUBTYPES",
    "SUMMARY_COLUMNS",
    "SUMMARY_DTYPES",
    "SUMMARY_KEY",
    "PATIENT_COLUMNS",
    "PATIENT_DTYPES",
    "PATIENT_KEY",
    "POPULATION_PATTERN",
    "ENDPOINT_CONVENTIONS",
    "Endpoint",
    "Convention",
    "valid_population",
]

Endpoint = Literal["t25fw", "6mwt", "edss_plus"]
Convention = Literal[
    "pct_improvement_time",
    "pct_change_time",
    "pct_change_speed",
    "pct_improvement_distance",
    "proportion",
]

ENDPOINTS: tuple[str, ...] = ("t25fw", "6mwt", "edss_plus")
WALK_ENDPOINTS: tuple[str, ...] = ("t25fw", "6mwt")
CONVENTIONS: tuple[str, ...] = (
    "pct_improvement_time",
    "pct_change_time",
    "pct_change_speed",
    "pct_improvement_distance",
    "proportion",
)
#: which conventions make sense for which endpoint
ENDPOINT_CONVENTIONS: dict[str, tuple[str, ...]] = {
    "t25fw": ("pct_improvement_time", "pct_change_time", "pct_change_speed"),
    "6mwt": ("pct_improvement_distance",),
    "edss_plus": ("proportion",),
}
N_STATUS: tuple[str, ...] = ("reported", "assumed", "unknown", "derived")
#: known arm names (Harris 2024: msc_np/saline; Petrou 2020: it_msc/iv_msc/sham; generic:
#: placebo/treatment)
ARMS: tuple[str, ...] = ("msc_np", "saline", "it_msc", "iv_msc", "sham", "placebo", "treatment")
SUBTYPES: tuple[str, ...] = ("spms", "ppms")

#: population labels: ``all`` or ``edss_<lo>-<hi>`` with one-decimal EDSS values
POPULATION_PATTERN = re.compile(r"^(all|edss_(\d{1,2}\.\d)-(\d{1,2}\.\d))$")


def valid_population(label: str) -> bool:
    """True if ``label`` is ``all`` or ``edss_<lo>-<hi>`` with 0 <= lo <= hi <= 10."""
    m = POPULATION_PATTERN.match(str(label))
    if not m:
        return False
    if m.group(1) == "all":
        return True
    lo, hi = float(m.group(2)), float(m.group(3))
    return 0.0 <= lo <= hi <= 10.0


SUMMARY_COLUMNS: tuple[str, ...] = (
    "study",
    "endpoint",
    "population",
    "arm",
    "horizon_months",
    "convention",
    "n",
    "n_status",
    "mean",
    "sd",
    "events",
    "source",
    "locator",
    "note",
)
SUMMARY_DTYPES: dict[str, str] = {
    "study": "str",
    "endpoint": "str",
    "population": "str",
    "arm": "str",
    "horizon_months": "float64",
    "convention": "str",
    "n": "Int64",
    "n_status": "str",
    "mean": "float64",
    "sd": "float64",
    "events": "Int64",
    "source": "str",
    "locator": "str",
    "note": "str",
}
SUMMARY_KEY: tuple[str, ...] = ("study", "endpoint", "population", "arm")

PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "study",
    "arm",
    "stratum",
    "subtype",
    "endpoint",
    "baseline",
    "followup",
    "synthetic",
)
PATIENT_DTYPES: dict[str, str] = {
    "patient_id": "str",
    "study": "str",
    "arm": "str",
    "stratum": "str",
    "subtype": "str",
    "endpoint": "str",
    "baseline": "float64",
    "followup": "float64",
    "synthetic": "bool",
}
PATIENT_KEY: tuple[str, ...] = ("patient_id", "endpoint")
