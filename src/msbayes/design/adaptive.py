"""Config specs of the adaptive designs: ``design.type: enrichment``, ``multi_arm`` and ``rar``.

Enrichment and multi-arm are simulated by the vectorized core in :mod:`msbayes.adaptive` (two or more stages,
selection at every interim, closed combination test at the end); the chunk functions are
:mod:`msbayes.simulate.enrichment_chunk` and :mod:`msbayes.simulate.multiarm_chunk`. Every
field is described in ``docs/configs.md`` ("design.type: enrichment / multi_arm").

Sizes: ``n_per_arm`` is the **maximum** number randomised per arm over all stages; stage
``k`` randomises ``round(looks[k] * n_per_arm) - round(looks[k-1] * n_per_arm)`` per arm
(the ``interims.looks`` vocabulary: cumulative information fractions ending at 1).

Examples
--------
>>> from msbayes.config import validate_config
>>> d = validate_config(EnrichmentDesign, {"type": "enrichment", "n_per_arm": 120,
...     "strata": {"edss_3.0-5.5": 0.5, "edss_6.0-6.5": 0.5}, "subpopulation": "edss_6.0-6.5"})
>>> d.stage_sizes_per_arm(), d.other_stratum
([60, 60], 'edss_3.0-5.5')
>>> m = validate_config(MultiArmDesign, {"type": "multi_arm", "doses": [0, 3, 6, 10], "n_per_arm": 60})
>>> m.stage_sizes_per_arm(), m.arm_labels
([30, 30], ['3', '6', '10'])
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from msbayes.config import StrictModel

from .dosefinding import DoseResponseSpec
from .interims import look_patients
from .prior import NormalSpec
from .scenarios import FixedScenario

__all__ = ["DoseEffectsScenario", "SelectionSpec", "ClosedFinalSpec", "BayesFinalSpec", "EnrichmentDesign", "MultiArmDesign",
           "RARDesign", "RARAllocationSpec", "RARStoppingSpec", "ProbDiffSpec", "ADAPTIVE_DESIGN_TYPES",
           "describe_adaptive", "combination_design"]

#: design types simulated by :mod:`msbayes.adaptive`
ADAPTIVE_DESIGN_TYPES = ("enrichment", "multi_arm", "rar")
_MEASURE = {"estimate": "estimate", "z": "statistic", "posterior_probability": "posterior",
            "predictive_probability": "predictive"}


def _looks_ok(v: list[float]) -> list[float]:
    if len(v) < 2:
        raise ValueError(f"needs at least two looks (an interim and the final analysis, e.g. [0.5, 1.0]); got {v}")
    if any(not math.isfinite(t) for t in v) or v[-1] != 1.0 or v[0] <= 0 or any(b <= a for a, b in zip(v, v[1:])):
        raise ValueError(f"must increase strictly in (0, 1] and end at 1.0 (e.g. [0.5, 1.0]); got {v}")
    return v


class SelectionSpec(StrictModel):
    """Interim selection rule.

    ``rule``: ``best`` (the best candidate), ``r_best`` (the ``r`` best; multi-arm only),
    ``epsilon`` (all within ``epsilon`` of the best) or ``all``; ``measure``: the stage-1
    effect ``estimate``, its ``z`` statistic, ``posterior_probability`` ``P(theta > 0 | data)``
    under the normal ``prior`` (flat if omitted) or (enrichment only) ``predictive_probability``:
    the probability, predicted from the interim data, that the population's final analysis
    succeeds if all remaining patients enrol in it; then candidates whose measure is ``<=
    threshold`` are dropped (``threshold`` in (0, 1) for the two probabilities); nothing left
    = stop for futility. ``candidates``: the populations (enrichment: stratum name of S and/or
    ``all``) or doses eligible for selection (default: all).
    """

    rule: Literal["best", "r_best", "epsilon", "all"] = "best"
    measure: Literal["estimate", "z", "posterior_probability", "predictive_probability"] = "estimate"
    epsilon: float = 0.0
    r: int = Field(default=1, ge=1)
    threshold: float | None = None
    prior: NormalSpec | None = None
    candidates: list[str] | None = None

    @field_validator("epsilon")
    @classmethod
    def _eps(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be a finite number >= 0; got {v}")
        return v

    @model_validator(mode="after")
    def _threshold(self) -> SelectionSpec:
        t = self.threshold
        if t is not None:
            if not math.isfinite(t):
                raise ValueError(f"threshold: must be finite or omitted; got {t}")
            if self.measure in ("posterior_probability", "predictive_probability") and not 0 < t < 1:
                raise ValueError(f"threshold: must be in (0, 1) for measure {self.measure}; got {t}")
        if self.prior is not None and self.measure not in ("posterior_probability", "predictive_probability"):
            raise ValueError("prior: only used with measure posterior_probability or predictive_probability; remove it")
        if self.epsilon > 0 and self.rule != "epsilon":
            raise ValueError(f"epsilon: only used with rule epsilon (rule is {self.rule!r}); remove it")
        return self

    @property
    def effect_measure(self) -> str:
        """The core's name of the measure (``estimate`` | ``statistic`` | ``posterior``)."""
        return _MEASURE[self.measure]

    @property
    def selection_prior(self) -> tuple[float, float]:
        return (0.0, math.inf) if self.prior is None else (self.prior.mean, self.prior.sd)


class ClosedFinalSpec(StrictModel):
    """Final analysis by the closed combination test (inverse normal, strong FWER control).

    ``intersection``: the test of intersection hypotheses (enrichment: spiessens_debois,
    bonferroni, simes, sidak; multi-arm: dunnett, bonferroni, simes, sidak; default the first).
    ``efficacy``: ``none`` (interims for selection only) or early efficacy stops by O'Brien-
    Fleming or Pocock bounds on the combination statistic (:mod:`msbayes.sequential`);
    ``success``: with early stops, stop when ``all`` selected hypotheses or ``at_least_one`` are
    rejected. ``alpha``: one-sided level in (0, 0.5).
    """

    method: Literal["closed_combination"] = "closed_combination"
    intersection: Literal["spiessens_debois", "dunnett", "bonferroni", "simes", "sidak"] | None = None
    alpha: float = 0.025
    efficacy: Literal["none", "obf", "pocock"] = "none"
    success: Literal["all", "at_least_one"] = "all"

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 < v < 0.5):
            raise ValueError(f"must be a one-sided level in (0, 0.5); got {v}")
        return v


class BayesFinalSpec(StrictModel):
    """Bayesian final rule (enrichment only): reject ``H_P`` when ``P(theta_P > 0 | data) > cutoff``
    under normal-normal shrinkage of the two stratum effects (between-stratum SD ``tau``,
    ``mu ~ prior``). Its FWER is only simulated (``p_fwer``), never guaranteed."""

    method: Literal["bayesian_shrinkage"]
    tau: float = Field(default=0.1, gt=0)
    cutoff: float = 0.975
    prior: NormalSpec = Field(default_factory=lambda: NormalSpec(mean=0.0, sd=1.0))

    @field_validator("cutoff")
    @classmethod
    def _cut(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 < v < 1):
            raise ValueError(f"must be a probability in (0, 1); got {v}")
        return v


def _final_tag(v):
    m = v.get("method", "closed_combination") if isinstance(v, dict) else getattr(v, "method", None)
    return m if m in ("closed_combination", "bayesian_shrinkage") else None


EnrichmentFinal = Annotated[
    Union[Annotated[ClosedFinalSpec, Tag("closed_combination")], Annotated[BayesFinalSpec, Tag("bayesian_shrinkage")]],
    Discriminator(_final_tag, custom_error_type="final_method",
                  custom_error_message="final.method must be one of: closed_combination, bayesian_shrinkage"),
]


class _AdaptiveBase(StrictModel):
    n_per_arm: int = Field(ge=2)
    looks: list[float] = Field(default_factory=lambda: [0.5, 1.0])
    selection: SelectionSpec = Field(default_factory=SelectionSpec)

    _looks = field_validator("looks")(classmethod(lambda cls, v: _looks_ok(v)))

    @model_validator(mode="after")
    def _stages(self):
        per = look_patients(self.looks, self.n_per_arm)
        if per[0] < 2 or any(b <= a for a, b in zip(per, per[1:])):
            raise ValueError(f"looks: with n_per_arm {self.n_per_arm} the looks {self.looks} fall at {per} patients "
                             "per arm; each stage needs >= 1 patient per arm and the first >= 2 (fewer looks or a "
                             "larger n_per_arm)")
        return self

    def stage_sizes_per_arm(self, n_per_arm: int | None = None) -> list[int]:
        """Patients randomised per arm in each stage (they add up to ``n_per_arm``)."""
        per = look_patients(self.looks, self.n_per_arm if n_per_arm is None else int(n_per_arm))
        return [per[0]] + [b - a for a, b in zip(per, per[1:])]


class EnrichmentDesign(_AdaptiveBase):
    """Adaptive enrichment by stratum: sub-population S (one named stratum) vs full population F.

    ``strata``: the two strata with their prevalences (sum 1); ``subpopulation``: the name of S.
    ``counts``: multinomial stratum counts per stage or fixed ``prevalence x n``. ``final``:
    :class:`ClosedFinalSpec` (default Spiessens-Debois) or :class:`BayesFinalSpec`.
    ``f_estimator``: prevalence-weighted (default; unbiased for ``theta_F``) or pooled by the
    realised counts (rpact's; use with fixed counts only).
    """

    type: Literal["enrichment"]
    arms: list[str] = Field(default_factory=lambda: ["placebo", "treatment"])
    strata: dict[str, float] = Field(default_factory=dict)
    subpopulation: str = ""
    counts: Literal["multinomial", "fixed"] = "multinomial"
    f_estimator: Literal["prevalence", "pooled"] = "prevalence"
    final: EnrichmentFinal = Field(default_factory=ClosedFinalSpec)

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: list[str]) -> list[str]:
        if len(v) != 2 or len(set(v)) != 2:
            raise ValueError(f"an enrichment design has exactly two distinct arms [control, treatment]; got {v}")
        return v

    @field_validator("strata")
    @classmethod
    def _strata(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) != 2:
            raise ValueError(f"give exactly two strata (the sub-population S and the rest) with their "
                             f"prevalences, e.g. {{edss_3.0-5.5: 0.5, edss_6.0-6.5: 0.5}}; got {v}")
        if any(not (math.isfinite(p) and 0 < p < 1) for p in v.values()) or abs(sum(v.values()) - 1) > 1e-9:
            raise ValueError(f"prevalences must be in (0, 1) and sum to 1; got {v} (sum {sum(v.values()):g})")
        return v

    @model_validator(mode="after")
    def _cross(self) -> EnrichmentDesign:
        if self.subpopulation not in self.strata:
            raise ValueError(f"subpopulation: {self.subpopulation!r} is not a stratum (allowed: {list(self.strata)})")
        sel = self.selection
        if sel.rule == "r_best":
            raise ValueError("selection.rule: r_best is for multi_arm designs (allowed here: best, epsilon, all)")
        if sel.candidates is not None:
            allowed = [self.subpopulation, "all"]
            bad = [c for c in sel.candidates if c not in allowed]
            if bad or not sel.candidates:
                raise ValueError(f"selection.candidates: {bad or sel.candidates} not allowed (allowed: {allowed}: the "
                                 "sub-population S and 'all' = the full population F)")
        if isinstance(self.final, ClosedFinalSpec):
            if self.final.intersection == "dunnett":
                raise ValueError("final.intersection: dunnett is for multi_arm designs (allowed: spiessens_debois, "
                                 "bonferroni, simes, sidak)")
        elif len(self.looks) > 2:
            raise ValueError("final.method: bayesian_shrinkage is implemented for two stages only (looks: [t, 1.0])")
        return self

    @property
    def other_stratum(self) -> str:
        """The complement R of S."""
        return next(s for s in self.strata if s != self.subpopulation)

    @property
    def prevalences(self) -> tuple[float, float]:
        """``(p_S, p_R)``."""
        return float(self.strata[self.subpopulation]), float(self.strata[self.other_stratum])

    @property
    def intersection_test(self) -> str:
        return getattr(self.final, "intersection", None) or "spiessens_debois"

    def arm_sizes(self, n_per_arm: int | None = None) -> list[int]:
        """Maximum randomised per arm (control first)."""
        n = self.n_per_arm if n_per_arm is None else int(n_per_arm)
        return [n, n]


class MultiArmDesign(_AdaptiveBase):
    """Multi-arm dose selection: control (``doses[0] = 0``) and G >= 1 doses.

    Effects per dose come from the scenario: a number is the effect at ``reference_dose``,
    spread over the doses by the fixed ``dose_response`` shape (as ``dose_finding``: anchored
    at the reference dose); a mapping ``{"3": 0.1, "6": 0.15, "10": 0.18}`` (quoted dose
    labels) gives each dose's effect. ``final``: :class:`ClosedFinalSpec` (default Dunnett).
    ``allocation_ratio``: dose : control patients (control gets ``n / allocation_ratio`` per stage).
    """

    type: Literal["multi_arm"]
    doses: list[float]
    dose_unit: str = ""
    dose_metric: str = ""
    reference_dose: float | None = None
    dose_response: DoseResponseSpec | None = None
    allocation_ratio: float = Field(default=1.0, gt=0)
    final: ClosedFinalSpec = Field(default_factory=lambda: ClosedFinalSpec(intersection="dunnett"))

    @field_validator("doses")
    @classmethod
    def _doses(cls, v: list[float]) -> list[float]:
        if len(v) < 2 or v[0] != 0 or any(not math.isfinite(d) for d in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError(f"must start with the control dose 0 and then increase strictly (at least one dose); got {v}")
        return v

    @model_validator(mode="after")
    def _cross(self) -> MultiArmDesign:
        G = len(self.doses) - 1
        sel = self.selection
        if sel.measure == "predictive_probability":
            raise ValueError("selection.measure: predictive_probability is for enrichment designs (allowed for "
                             "multi_arm: estimate, z, posterior_probability)")
        if sel.rule == "r_best" and not 1 <= sel.r <= G:
            raise ValueError(f"selection.r: must be in 1..{G} (the number of doses); got {sel.r}")
        if sel.candidates is not None:
            bad = [c for c in sel.candidates if c not in self.arm_labels]
            if bad or not sel.candidates:
                raise ValueError(f"selection.candidates: {bad or sel.candidates} not doses (allowed: {self.arm_labels})")
        if self.final.intersection == "spiessens_debois":
            raise ValueError("final.intersection: spiessens_debois is for enrichment designs (allowed: dunnett, "
                             "bonferroni, simes, sidak)")
        if self.reference_dose is not None and self.reference_dose not in self.doses[1:]:
            raise ValueError(f"reference_dose: {self.reference_dose} is not an active dose (allowed: {self.doses[1:]})")
        if self.dose_response is not None:
            if self.reference_dose is None:
                raise ValueError("reference_dose: needed with dose_response (the dose that carries the scenario effect)")
            if self.dose_response.fixed_shape() is None:
                raise ValueError("dose_response: give fixed shape parameters (priors on the shape are not supported "
                                 "for multi_arm designs)")
        return self

    @property
    def arm_labels(self) -> list[str]:
        """Labels of the active doses (``f"{dose:g}"``), the keys of per-dose scenario effects."""
        return [f"{d:g}" for d in self.doses[1:]]

    @property
    def intersection_test(self) -> str:
        return self.final.intersection or "dunnett"

    def arm_sizes(self, n_per_arm: int | None = None) -> list[int]:
        """Maximum randomised per arm (control first; control ``n / allocation_ratio``)."""
        n = self.n_per_arm if n_per_arm is None else int(n_per_arm)
        return [int(round(n / self.allocation_ratio))] + [n] * (len(self.doses) - 1)


def _prob_or_none(v: float | None) -> float | None:
    if v is not None and not (math.isfinite(v) and 0 < v < 1):
        raise ValueError(f"must be a probability in (0, 1) or omitted; got {v}")
    return v


class ProbDiffSpec(StrictModel):
    """A posterior-probability rule with a margin: ``prob`` in (0, 1), ``diff`` on the effect scale.

    Futility (``design.stopping.futility``): drop a dose when ``P(theta_dose - theta_control >
    diff) < prob`` (against the first control). Equivalence (``design.stopping.equivalence``):
    ``P(|difference| < diff) > prob`` (``diff > 0``).
    """

    prob: float
    diff: float = 0.0

    _p = field_validator("prob")(classmethod(lambda cls, v: _prob_or_none(v)))

    @field_validator("diff")
    @classmethod
    def _d(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"must be finite; got {v}")
        return v


class RARAllocationSpec(StrictModel):
    """Allocation of a ``design.type: rar`` trial (:func:`msbayes.adaptive.simulate_rar`).

    ``adaptive``: response-adaptive (Thompson-type, ``P(best)`` to the ``power``) or ``false``
    for fixed allocation at the start shares with deterministic counts (the comparator).
    ``control_allocation``: ``fixed`` (``control_share`` of every block), ``sqrt`` (adaptr's
    sqrt-based share), ``match`` (the largest dose share) or ``thompson`` (the control competes
    like a dose). ``min_allocation`` / ``max_allocation``: floor and cap of every competing arm.
    """

    adaptive: bool = True
    control_allocation: Literal["fixed", "sqrt", "match", "thompson"] = "fixed"
    control_share: float = 0.25
    power: float = 0.5
    min_allocation: float = 0.05
    max_allocation: float | None = None

    @field_validator("control_share")
    @classmethod
    def _share(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 < v < 1):
            raise ValueError(f"must be in (0, 1) (the control's share of every block); got {v}")
        return v

    @field_validator("power")
    @classmethod
    def _power(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be a finite number >= 0 (0 = equal split); got {v}")
        return v

    @field_validator("min_allocation")
    @classmethod
    def _floor(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 <= v < 1):
            raise ValueError(f"must be in [0, 1); got {v}")
        return v

    @model_validator(mode="after")
    def _cap(self) -> RARAllocationSpec:
        c = self.max_allocation
        if c is not None and not (math.isfinite(c) and self.min_allocation < c <= 1):
            raise ValueError(f"max_allocation: must be in (min_allocation, 1] = ({self.min_allocation:g}, 1] or "
                             f"omitted; got {c}")
        return self


class RARStoppingSpec(StrictModel):
    """Stopping and dropping rules of a ``design.type: rar`` trial, checked at every look.

    ``comparison``: ``control`` (each dose against the current control; a dose declared
    superior becomes the new control) or ``best`` (``P(best)`` among the active arms).
    ``superiority`` / ``inferiority``: probability thresholds in (0, 1) (``inferiority <
    superiority``; omit to switch a rule off); ``futility`` / ``equivalence``:
    :class:`ProbDiffSpec`. Futility needs ``comparison: control``.
    """

    comparison: Literal["control", "best"] = "control"
    superiority: float | None = 0.99
    inferiority: float | None = None
    futility: ProbDiffSpec | None = None
    equivalence: ProbDiffSpec | None = None

    _p = field_validator("superiority", "inferiority")(classmethod(lambda cls, v: _prob_or_none(v)))

    @model_validator(mode="after")
    def _cross(self) -> RARStoppingSpec:
        if self.superiority is not None and self.inferiority is not None and not self.inferiority < self.superiority:
            raise ValueError(f"inferiority: must be below superiority ({self.superiority:g}); got {self.inferiority:g}")
        if self.futility is not None and self.comparison != "control":
            raise ValueError("futility: needs comparison 'control' (futility is judged against the control); "
                             "remove it or set comparison: control")
        if self.equivalence is not None and not self.equivalence.diff > 0:
            raise ValueError(f"equivalence.diff: must be > 0 (the equivalence margin); got {self.equivalence.diff:g}")
        return self


class RARDesign(StrictModel):
    """Response-adaptive randomisation with arm dropping and adaptive stopping (adaptr-style).

    Arms: ``doses`` (control dose 0 first, then increasing doses; the scenario effects are per
    dose, as ``multi_arm``: a mapping by dose label or one number spread by ``dose_response``
    from ``reference_dose``) **or** named ``arms`` (control first; scenarios give one effect per
    non-control arm). ``n_per_arm``: the **maximum total sample size is n_per_arm x number of
    arms** (control included), so a grid over ``n_per_arm`` compares designs of the same
    per-arm budget as an equal-allocation trial. ``looks``: cumulative fractions of that maximum
    at which the posterior is updated (the last = 1.0; block ``k`` recruits ``round(t_k N) -
    round(t_{k-1} N)`` patients) **or** ``block_sizes`` (patients per block, summing to the
    maximum) **or** ``looks_n`` (cumulative total n at the looks, ending at the maximum).
    ``select``: the arm selected when no arm wins (adaptr's ``select_strategy``;
    ``list`` uses ``select_preferences``, arm labels). ``prior``: normal prior of every arm
    mean. ``alpha``: one-sided level of the final Bonferroni z test of each dose vs control
    (``p_reject``; kept to compare with a frequentist analysis).

    Examples
    --------
    >>> from msbayes.config import validate_config
    >>> r = validate_config(RARDesign, {"type": "rar", "doses": [0, 1, 2, 4], "n_per_arm": 60})
    >>> r.n_max, r.block_sizes_total(), r.arm_labels, r.all_labels
    (240, [60, 60, 60, 60], ['1', '2', '4'], ['0', '1', '2', '4'])
    """

    type: Literal["rar"]
    doses: list[float] | None = None
    arms: list[str] | None = None
    dose_unit: str = ""
    dose_metric: str = ""
    reference_dose: float | None = None
    dose_response: DoseResponseSpec | None = None
    n_per_arm: int = Field(ge=1)
    looks: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    block_sizes: list[int] | None = None
    looks_n: list[int] | None = None
    allocation: RARAllocationSpec = Field(default_factory=RARAllocationSpec)
    stopping: RARStoppingSpec = Field(default_factory=RARStoppingSpec)
    select: Literal["none", "control", "final_control", "best", "list"] = "best"
    select_preferences: list[str] | None = None
    prior: NormalSpec = Field(default_factory=lambda: NormalSpec(mean=0.0, sd=1.0))
    alpha: float = 0.025

    _looks = field_validator("looks")(classmethod(lambda cls, v: _looks_ok(v)))

    @field_validator("doses")
    @classmethod
    def _doses(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) < 2 or v[0] != 0 or any(not math.isfinite(d) for d in v)
                              or any(b <= a for a, b in zip(v, v[1:]))):
            raise ValueError(f"must start with the control dose 0 and then increase strictly (at least one dose); got {v}")
        return v

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (len(v) < 2 or len(set(v)) != len(v) or any(not a for a in v)):
            raise ValueError(f"give at least two distinct arm names, the control first; got {v}")
        return v

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not (math.isfinite(v) and 0 < v < 0.5):
            raise ValueError(f"must be a one-sided level in (0, 0.5); got {v}")
        return v

    @model_validator(mode="after")
    def _cross(self) -> RARDesign:
        if (self.doses is None) == (self.arms is None):
            raise ValueError("design.doses / design.arms: give exactly one (doses: [0, ...] with the control dose 0 "
                             "first, or arms: [control, ...] by name)")
        if self.arms is not None and (self.dose_response is not None or self.reference_dose is not None):
            raise ValueError("design.dose_response: only with design.doses (named arms take one effect per arm)")
        if self.reference_dose is not None and self.reference_dose not in self.doses[1:]:
            raise ValueError(f"design.reference_dose: {self.reference_dose} is not an active dose (allowed: "
                             f"{self.doses[1:]})")
        if self.dose_response is not None:
            if self.reference_dose is None:
                raise ValueError("design.reference_dose: needed with dose_response (the dose that carries the "
                                 "scenario effect)")
            if self.dose_response.fixed_shape() is None:
                raise ValueError("design.dose_response: give fixed shape parameters (priors on the shape are not "
                                 "supported for rar designs)")
        given = [k for k in ("looks", "block_sizes", "looks_n")
                 if (k in self.model_fields_set if k == "looks" else getattr(self, k) is not None)]
        if len(given) > 1:
            raise ValueError(f"design.looks / design.block_sizes / design.looks_n: give one of them, not {given}")
        if self.looks_n is not None:
            v = self.looks_n
            if len(v) < 2 or v[0] < 1 or any(b <= a for a, b in zip(v, v[1:])) or v[-1] != self.n_max:
                raise ValueError(f"design.looks_n: cumulative total n at the looks must increase strictly from >= 1 "
                                 f"and end at n_per_arm x arms = {self.n_max}; got {v}")
        if self.block_sizes is not None:
            if any(b < 1 for b in self.block_sizes) or sum(self.block_sizes) != self.n_max:
                raise ValueError(f"design.block_sizes: every block >= 1 and the sum = n_per_arm x arms = {self.n_max} "
                                 f"(the maximum total sample size); got {self.block_sizes} (sum "
                                 f"{sum(self.block_sizes)})")
        cum = self.cumulative_n()
        if cum[0] < 1 or any(b <= a for a, b in zip(cum, cum[1:])):
            raise ValueError(f"design.looks: with a maximum of {self.n_max} patients the looks {self.looks} fall at "
                             f"{cum} patients; each block needs >= 1 patient (fewer looks or a larger n_per_arm)")
        self._check_allocation()
        if self.select == "list":
            prefs = self.select_preferences or []
            bad = [a for a in prefs if a not in self.all_labels]
            if not prefs or bad:
                raise ValueError(f"design.select_preferences: give arm labels for select: list (allowed: "
                                 f"{self.all_labels}); got {self.select_preferences}")
        elif self.select_preferences is not None:
            raise ValueError(f"design.select_preferences: only used with select: list (select is {self.select!r}); "
                             "remove it")
        return self

    def _check_allocation(self) -> None:
        a = self.allocation
        G = self.n_doses
        start = self.start_allocation()
        if a.control_allocation == "thompson":
            room, what = 1.0, f"(G + 1) x min_allocation = {(G + 1) * a.min_allocation:g}"
            total = (G + 1) * a.min_allocation
        else:
            room = 1 - (start[0] if a.control_allocation != "match" else 0.5)
            total = G * a.min_allocation
            what = f"{G} doses x min_allocation = {total:g}"
        if total > room + 1e-12:
            raise ValueError(f"design.allocation.min_allocation: the floors sum above the share they split: {what} > "
                             f"{room:g} (control_allocation {a.control_allocation!r}); lower min_allocation")
        if a.max_allocation is not None:
            capped = start if a.control_allocation == "thompson" else start[1:]
            if max(capped) > a.max_allocation + 1e-12:
                raise ValueError(f"design.allocation.max_allocation: must be at least the start allocation of every "
                                 f"arm it caps ({max(capped):.4g}); got {a.max_allocation:g}")
        if not a.adaptive:
            for b in self.block_sizes_total():
                cnt = [b * p for p in start]
                if any(abs(c - round(c)) > 1e-9 for c in cnt):
                    raise ValueError(f"design.looks: with allocation.adaptive false every block must split exactly by "
                                     f"the start allocation {[round(p, 4) for p in start]}; a block of {b} gives "
                                     f"{[round(c, 3) for c in cnt]} (choose looks / block_sizes / n_per_arm to fit)")

    @property
    def n_doses(self) -> int:
        """Number of non-control arms G."""
        return len(self.doses if self.doses is not None else self.arms) - 1

    @property
    def n_max(self) -> int:
        """Maximum total sample size: ``n_per_arm x (G + 1)``."""
        return self.n_per_arm * (self.n_doses + 1)

    @property
    def arm_labels(self) -> list[str]:
        """Labels of the non-control arms (``f"{dose:g}"`` or the names), the keys of scenario effects."""
        return [f"{d:g}" for d in self.doses[1:]] if self.doses is not None else list(self.arms[1:])

    @property
    def all_labels(self) -> list[str]:
        """Labels of all arms, control first (``select_preferences`` uses them)."""
        return ([f"{self.doses[0]:g}"] if self.doses is not None else [self.arms[0]]) + self.arm_labels

    def cumulative_n(self, n_per_arm: int | None = None) -> list[int]:
        """Cumulative total sample size at the looks."""
        if self.block_sizes is not None and n_per_arm is None:
            return [int(x) for x in np.cumsum(self.block_sizes)]
        if self.looks_n is not None and n_per_arm is None:
            return list(self.looks_n)
        n = self.n_max if n_per_arm is None else int(n_per_arm) * (self.n_doses + 1)
        return look_patients(self.looks, n)

    def block_sizes_total(self) -> list[int]:
        """Patients recruited in each block (all arms)."""
        cum = self.cumulative_n()
        return [cum[0]] + [b - a for a, b in zip(cum, cum[1:])]

    def start_allocation(self) -> list[float]:
        """Allocation of the first block (and of every block when not adaptive), control first."""
        G = self.n_doses
        a = self.allocation
        if a.control_allocation == "fixed":
            c = a.control_share
        elif a.control_allocation == "sqrt":
            c = math.sqrt(G) / (G + math.sqrt(G))
        else:
            c = 1 / (G + 1)
        return [c] + [(1 - c) / G] * G

    def arm_sizes(self, n_per_arm: int | None = None) -> list[int]:
        """Planning size per arm (control first): ``n_per_arm`` each (RAR moves them, the total stays)."""
        n = self.n_per_arm if n_per_arm is None else int(n_per_arm)
        return [n] * (self.n_doses + 1)


class DoseEffectsScenario(FixedScenario):
    """A multi-arm scenario with one fixed effect per dose (built by config validation from
    ``{effect: {"3": 0.1, ...}}``): ``per_dose`` holds the effects by dose label; ``effect`` is
    the largest of them (the scenario's headline effect, one number as the endpoint has one
    stratum)."""

    per_dose: dict[str, float]


def combination_design(design: EnrichmentDesign | MultiArmDesign):
    """The inverse-normal combination design of ``design`` (planned information = stage sizes)."""
    from msbayes.adaptive import inverse_normal_design, inverse_normal_design_k

    n = design.stage_sizes_per_arm()
    t = [sum(n[: k + 1]) / sum(n) for k in range(len(n))]
    t[-1] = 1.0
    fin = design.final
    if len(n) == 2:
        return inverse_normal_design(alpha=fin.alpha, information_rates=(t[0], 1.0), early_efficacy=fin.efficacy)
    return inverse_normal_design_k(t, alpha=fin.alpha, early_efficacy=fin.efficacy)


def describe_rar(design: RARDesign) -> str:
    """What ``go`` means for a ``design.type: rar`` config (the ``oc.nc`` ``decision_rule`` attribute).

    >>> from msbayes.config import validate_config
    >>> d = validate_config(RARDesign, {"type": "rar", "doses": [0, 1, 2], "n_per_arm": 40})
    >>> describe_rar(d)  # doctest: +NORMALIZE_WHITESPACE
    'go iff a dose is declared superior to the control at a look: P(theta_dose > theta_control | data) >
     0.99 (response-adaptive randomisation, 4 looks, maximum n 120); p_reject: final Bonferroni z test
     of each dose vs control at one-sided 0.025 / 2'
    """
    st = design.stopping
    u = "never (superiority off)" if st.superiority is None else f"{st.superiority:g}"
    how = "response-adaptive randomisation" if design.allocation.adaptive else "fixed allocation"
    if st.comparison == "control":
        rule = f"go iff a dose is declared superior to the control at a look: P(theta_dose > theta_control | data) > {u}"
    else:
        rule = f"go iff a dose is declared the best arm at a look: P(dose best among the active arms | data) > {u}"
    return (f"{rule} ({how}, {len(design.cumulative_n())} looks, maximum n {design.n_max}); p_reject: final "
            f"Bonferroni z test of each dose vs control at one-sided {design.alpha:g} / {design.n_doses}")


def describe_adaptive(design: EnrichmentDesign | MultiArmDesign | RARDesign) -> str:
    """One sentence saying what ``go`` and ``go_fixed`` mean (the ``oc.nc`` ``decision_rule`` attribute).

    >>> from msbayes.config import validate_config
    >>> d = validate_config(MultiArmDesign, {"type": "multi_arm", "doses": [0, 1, 2], "n_per_arm": 40})
    >>> describe_adaptive(d)  # doctest: +NORMALIZE_WHITESPACE
    'go iff at least one dose is rejected by the closed combination test (inverse normal, dunnett
     intersections) at one-sided alpha 0.025; go_fixed: the same test without interim selection
     (all doses, one stage, the same maximum n)'
    """
    if isinstance(design, RARDesign):
        return describe_rar(design)
    fin = design.final
    if isinstance(design, EnrichmentDesign):
        if isinstance(fin, BayesFinalSpec):
            rule = (f"P(theta > 0 | data) > {fin.cutoff:g} under normal shrinkage of the stratum effects (tau "
                    f"{fin.tau:g}; FWER simulated, not guaranteed)")
            fixed = f"P(theta_F > 0 | all-comers data) > {fin.cutoff:g} under the same model"
        else:
            rule = (f"rejected by the closed combination test (inverse normal, {design.intersection_test} "
                    f"intersections) at one-sided alpha {fin.alpha:g}")
            fixed = f"the one-sided z test of theta_F > 0 at alpha {fin.alpha:g}"
        return (f"go iff H_S ({design.subpopulation}) or H_F (all strata) is {rule}; go_fixed: all-comers two-arm "
                f"trial with the same maximum n, {fixed}")
    return (f"go iff at least one dose is rejected by the closed combination test (inverse normal, "
            f"{design.intersection_test} intersections) at one-sided alpha {fin.alpha:g}; go_fixed: the same test "
            "without interim selection (all doses, one stage, the same maximum n)")
