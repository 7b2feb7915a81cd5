"""Endpoint model of the future trial, on the analysis scale.

Each patient's outcome (e.g. the 13-month T25FW log speed ratio, positive = better) is

    y = placebo_mean(stratum) + effect(stratum) * treated + sd * (rho * x + sqrt(1 - rho^2) * e)

with a standardized baseline covariate ``x ~ N(0, 1)`` and ``e ~ N(0, 1)`` independent, so
``corr(x, y) = rho`` within an arm. Patients are enrolled into EDSS strata in the proportions
``strata`` and drop out before the primary visit with probability ``dropout``.

Examples
--------
>>> from msbayes.design.endpoint import EndpointSpec
>>> ep = EndpointSpec(name="t25fw", sd=0.35, mcid=0.182, dropout=0.12)
>>> ep.stratum_names, ep.stratum_weights.tolist()
(['all'], [1.0])
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from msbayes.config import StrictModel

__all__ = ["EndpointSpec", "SCALES"]

#: Analysis scales an endpoint may be on (effects: positive = better).
SCALES = ("log_speed_ratio", "log_distance_ratio", "log_ratio", "identity")


class EndpointSpec(StrictModel):
    """Endpoint of the future trial (see module docstring for the outcome model).

    Parameters
    ----------
    name : str
        Endpoint name as used in the fit artefact (``t25fw``, ``6mwt``, ...).
    scale : {"log_speed_ratio", "log_distance_ratio", "log_ratio", "identity"}
        Analysis scale (positive = better).
    sd : float
        Within-arm SD of the outcome (> 0).
    placebo_mean : float
        Mean outcome under placebo (drift); the same in every stratum.
    mcid : float
        Minimal clinically important difference on the analysis scale (> 0).
    dropout : float
        Probability that a randomized patient has no primary outcome, in [0, 1).
    dropout_mechanism : {"mcar", "informative"}
        ``mcar``: each patient drops out independently with probability ``dropout``.
        ``informative``: logit P(drop) = logit(dropout) + dropout_slope * (y - placebo_mean) / sd,
        so the dropout probability depends on the (unobserved) outcome (missing not at random);
        requires patient-level simulation.
    dropout_slope : float
        Log odds ratio of dropout per outcome SD for ``informative`` dropout (negative: patients
        doing worse drop out more often). Ignored for ``mcar``.
    baseline_corr : float
        Within-arm correlation rho of the outcome with the standardized baseline covariate, in
        (-1, 1). ANCOVA on the covariate reduces the residual variance by the factor 1 - rho^2.
    strata : dict[str, float]
        Enrolment weights by stratum (EDSS band), normalized to proportions. Stratum names are
        the fit's ``population`` names when a scenario reads stratum-specific effects.
    stratum_enrolment : {"fixed", "random"}
        ``fixed``: each arm enrols round(n * proportion) per stratum (largest remainder);
        ``random``: stratum counts per arm are multinomial(n, proportions).
    """

    name: str = "t25fw"
    scale: Literal["log_speed_ratio", "log_distance_ratio", "log_ratio", "identity"] = "log_speed_ratio"
    sd: float = Field(gt=0)
    placebo_mean: float = 0.0
    mcid: float = Field(default=math.log(1.2), gt=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    dropout_mechanism: Literal["mcar", "informative"] = "mcar"
    dropout_slope: float = -0.5
    baseline_corr: float = Field(default=0.0, gt=-1, lt=1)
    strata: dict[str, float] = Field(default_factory=lambda: {"all": 1.0})
    stratum_enrolment: Literal["fixed", "random"] = "fixed"

    @field_validator("sd", "placebo_mean", "mcid", "dropout", "baseline_corr", "dropout_slope")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("strata")
    @classmethod
    def _strata(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("needs at least one stratum (e.g. {all: 1.0})")
        bad = {k: w for k, w in v.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ValueError(f"stratum weights must be finite and >= 0; got {bad}")
        if sum(v.values()) <= 0:
            raise ValueError("stratum weights must sum to a positive value")
        return v

    @property
    def stratum_names(self) -> list[str]:
        """Stratum names in config order."""
        return list(self.strata)

    @property
    def stratum_weights(self) -> np.ndarray:
        """Enrolment proportions (sum to 1), in :attr:`stratum_names` order."""
        w = np.array(list(self.strata.values()), dtype=float)
        return w / w.sum()

    @property
    def unit_information_sd(self) -> float:
        """SD of a treatment-difference estimate from one patient per arm: ``sd * sqrt(2)``."""
        return self.sd * math.sqrt(2.0)


def fixed_stratum_counts(n: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of ``n * weights`` to integers summing to ``n``.

    >>> fixed_stratum_counts(10, np.array([0.55, 0.45])).tolist()
    [6, 4]
    """
    raw = n * np.asarray(weights, dtype=float)
    base = np.floor(raw).astype(np.int64)
    rest = int(n - base.sum())
    if rest > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rest]] += 1
    return base
