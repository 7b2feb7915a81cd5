"""Adaptive designs: closed combination tests, two-stage enrichment by stratum, multi-arm selection.

:mod:`~msbayes.adaptive.combination`: inverse-normal / Fisher combination of stage-wise p-values,
intersection tests (Bonferroni, Simes, Sidak, Dunnett, Spiessens-Debois) and the closed test.
:mod:`~msbayes.adaptive.selection`: interim selection rules. :mod:`~msbayes.adaptive.enrichment`:
sub-population S vs full population F. :mod:`~msbayes.adaptive.multiarm`: doses vs control.
:mod:`~msbayes.adaptive.rar`: Thompson-type response-adaptive randomisation.
Python API only; not yet wired into configs, the grid or the report.
"""

from .combination import (
    CombinationDesign,
    InverseNormalK,
    closed_test,
    closed_test_k,
    inverse_normal_design_k,
    combine,
    fisher_design,
    intersection_members,
    intersection_pvalues,
    inverse_normal_design,
    max_normal_sf,
)
from .enrichment import BayesFinal, EnrichmentResult, simulate_enrichment
from .fwer import enrichment_fwer, multiarm_fwer
from .multiarm import MultiArmResult, simulate_multiarm
from .rar import RARResult, allocation_probabilities, prob_best, rar_allocation, simulate_rar
from .selection import posterior_prob_positive, select

__all__ = [
    "BayesFinal",
    "CombinationDesign",
    "EnrichmentResult",
    "MultiArmResult",
    "RARResult",
    "allocation_probabilities",
    "prob_best",
    "rar_allocation",
    "simulate_rar",
    "InverseNormalK",
    "closed_test",
    "closed_test_k",
    "inverse_normal_design_k",
    "combine",
    "enrichment_fwer",
    "fisher_design",
    "intersection_members",
    "intersection_pvalues",
    "inverse_normal_design",
    "max_normal_sf",
    "multiarm_fwer",
    "posterior_prob_positive",
    "select",
    "simulate_enrichment",
    "simulate_multiarm",
]
