"""Data layer: built-in published summaries, scales, infer-n, schema checks, synthetic IPD.

Examples
--------
>>> from msbayes.data import load_summaries, arm_to_log_scale
>>> df = load_summaries("harris2024")
>>> int((df.population == "edss_6.0-6.5").sum())
4
"""

from __future__ import annotations

from .builtin import (
    dataset_files,
    dataset_path,
    dataset_sha256,
    fill_assumed_n,
    list_datasets,
    load_design_facts,
    load_pvalues,
    load_summaries,
)
from .scales import (
    MCID_6MWT,
    MCID_T25FW,
    Scale,
    arm_to_log_scale,
    lognormal_moments,
    mcid,
    ratio_from_pct,
)

__all__ = [
    "list_datasets",
    "dataset_path",
    "dataset_files",
    "dataset_sha256",
    "load_summaries",
    "load_pvalues",
    "load_design_facts",
    "fill_assumed_n",
    "Scale",
    "MCID_T25FW",
    "MCID_6MWT",
    "mcid",
    "ratio_from_pct",
    "lognormal_moments",
    "arm_to_log_scale",
]
