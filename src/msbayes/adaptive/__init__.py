"""Adaptive designs: closed combination tests, two-stage enrichment by stratum, multi-arm selection.

:mod:`~msbayes.adaptive.combination`: inverse-normal / Fisher combination of stage-wise p-values,
intersection tests (Bonferroni, Simes, Sidak, Dunnett, Spiessens-Debois) and the closed test.
:mod:`~msbayes.adaptive.selection`: interim selection rules. :mod:`~msbayes.adaptive.enrichment`:
sub-population S vs full population F. :mod:`~msbayes.adaptive.multiarm`: doses vs control.
:mod:`~msbayes.adaptive.rar`: Thompson-type response-adaptive randomisation (adaptr-style
stopping, arm dropping, performance metrics, superiority calibration).

Wired into configs and the grid runner as ``design.type: enrichment``, ``multi_arm`` and
``rar`` (:mod:`msbayes.design.adaptive`; chunk functions in :mod:`msbayes.simulate`); the
report has no adaptive-design pages yet.
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
from .rar import (
    OUTCOMES,
    RARCalibration,
    RARResult,
    allocation_probabilities,
    calibrate_superiority,
    ideal_design_percentage,
    prob_all_within,
    prob_best,
    rar_allocation,
    simulate_rar,
)
from .selection import posterior_prob_positive, select

__all__ = [
    "BayesFinal",
    "CombinationDesign",
    "EnrichmentResult",
    "MultiArmResult",
    "OUTCOMES",
    "RARCalibration",
    "RARResult",
    "allocation_probabilities",
    "calibrate_superiority",
    "ideal_design_percentage",
    "prob_all_within",
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
