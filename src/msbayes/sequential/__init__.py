"""Group-sequential designs: boundaries by recursive integration, vectorized simulation.

:mod:`msbayes.sequential.boundaries`: alpha / beta spending, one-sided efficacy and futility
bounds from the canonical joint distribution of the z statistics, inflation factor and
expected sample size (analytic). :mod:`msbayes.sequential.simulate`: two-arm group-sequential
trials simulated through stage-wise sufficient statistics, with per-look stopping
probabilities and their Monte Carlo standard errors. :mod:`msbayes.sequential.bayes`:
Bayesian monitoring (posterior and predictive probabilities of success for interim looks,
calibration of a posterior efficacy threshold).
"""

from .boundaries import (
    GroupSequentialDesign,
    MeansSampleSize,
    Spending,
    StageProbabilities,
    WangTsiatis,
    ZBounds,
    ConditionalPower,
    FinalInference,
    crossing_probabilities,
    final_inference,
    fixed_sample_size_means,
    group_sequential_design,
    sample_size_means,
    stagewise_p,
)
from . import bayes

__all__ = [
    "bayes",
    "GroupSequentialDesign",
    "MeansSampleSize",
    "Spending",
    "StageProbabilities",
    "WangTsiatis",
    "ZBounds",
    "ConditionalPower",
    "FinalInference",
    "final_inference",
    "stagewise_p",
    "crossing_probabilities",
    "fixed_sample_size_means",
    "group_sequential_design",
    "sample_size_means",
]
