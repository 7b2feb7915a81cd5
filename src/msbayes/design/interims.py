"""The ``interims:`` section of a design config: when to look and what stops the trial.

Validated, frozen :class:`InterimsSpec`. Every key is documented in ``docs/configs.md``
("interims"). The checks here need only the section itself (looks, boundary kinds and their
parameters, thresholds); checks that need the rest of the config (analysis method, decision
alpha, patients per look) are in :class:`msbayes.design.config.SimConfig`.

Examples
--------
>>> from msbayes.config import validate_config
>>> spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"},
...                                       "futility": {"spending": "obf"}})
>>> spec.k, spec.efficacy_boundary(), spec.futility_boundary()
(2, Spending(family='obf', param=None, values=None), Spending(family='obf', param=None, values=None))
>>> describe_interims(spec)
"2 looks at 50%, 100% of information; efficacy: O'Brien-Fleming type alpha spending; futility: non-binding O'Brien-Fleming type beta spending"
"""

from __future__ import annotations

import functools
import json
import math
from typing import Literal, Union

from pydantic import Field, field_validator, model_validator

from msbayes.config import StrictModel

__all__ = [
    "AccrualSpec",
    "BoundarySpec",
    "DropDosesSpec",
    "InterimsSpec",
    "describe_interims",
    "look_patients",
    "group_sequential_of",
    "SPENDING_FAMILIES",
]

#: alpha / beta spending families (``msbayes.sequential.boundaries.Spending``)
SPENDING_FAMILIES = ("obf", "pocock", "hsd", "kd", "user")
_GS_EFFICACY = ("spending", "wang_tsiatis", "z")
_GS_FUTILITY = ("spending", "conditional_power", "z")
_BAYES_EFFICACY = ("p_benefit",)
_BAYES_FUTILITY = ("p_mcid_below", "predictive_below")
_KINDS = ("spending", "wang_tsiatis", "z", "conditional_power", "p_benefit", "p_mcid_below", "predictive_below")


class AccrualSpec(StrictModel):
    """Recruitment and follow-up: ``rate`` patients randomised per month (both arms), and
    ``follow_up`` months from randomisation to the primary endpoint."""

    rate: float = Field(gt=0)
    follow_up: float = Field(ge=0)

    @field_validator("rate", "follow_up")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be finite")
        return v


class BoundarySpec(StrictModel):
    """One stopping boundary: exactly one kind key, plus that kind's parameters.

    Group-sequential kinds: ``spending`` (obf | pocock | hsd with ``gamma`` | kd with ``rho``
    | user with ``values``), ``wang_tsiatis`` (delta), ``z`` (z bounds), ``conditional_power``
    (threshold, with ``assume``). Bayesian kinds: ``p_benefit``, ``p_mcid_below``,
    ``predictive_below`` (one threshold or one per interim look).
    """

    spending: Literal["obf", "pocock", "hsd", "kd", "user"] | None = None
    gamma: float | None = None
    rho: float | None = None
    values: list[float] | None = None
    wang_tsiatis: float | None = None
    z: list[float] | None = None
    conditional_power: float | None = None
    assume: Literal["design", "trend"] | None = None
    p_benefit: float | list[float] | None = None
    p_mcid_below: float | list[float] | None = None
    predictive_below: float | list[float] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BoundarySpec:
        given = [k for k in _KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one boundary kind (allowed: {', '.join(_KINDS)}, or none); got {given or 'none'}")
        kind = given[0]
        extra = {"gamma": "spending: hsd", "rho": "spending: kd", "values": "spending: user",
                 "assume": "conditional_power"}
        for key, needs in extra.items():
            if getattr(self, key) is None:
                continue
            ok = (kind == "conditional_power") if key == "assume" else (
                kind == "spending" and self.spending == needs.split(": ")[1])
            if not ok:
                raise ValueError(f"{key}: only used with {needs}")
        if kind == "spending" and self.spending == "user" and self.values is None:
            raise ValueError("values: required with spending: user (cumulative error spent at each look)")
        if kind == "spending":  # domain of the spending parameters, before any work
            try:
                self.to_spending()
            except ValueError as exc:
                key = {"hsd": "gamma", "kd": "rho", "user": "values"}.get(self.spending, "spending")
                raise ValueError(f"{key}: {exc}") from None
        if kind == "wang_tsiatis" and not (math.isfinite(self.wang_tsiatis) and -0.5 <= self.wang_tsiatis <= 1.0):
            raise ValueError(f"wang_tsiatis: delta must be in [-0.5, 1], got {self.wang_tsiatis}")
        if kind == "z" and any(math.isnan(x) for x in self.z):
            raise ValueError("z: bounds must be numbers (inf / -inf for no stop at a look), not NaN")
        if kind == "conditional_power" and not (0 < self.conditional_power < 1):
            raise ValueError(f"conditional_power: threshold must be in (0, 1), got {self.conditional_power}")
        if kind in ("p_benefit", "p_mcid_below", "predictive_below"):
            v = getattr(self, kind)
            vals = v if isinstance(v, list) else [v]
            if not vals or any(not (math.isfinite(x) and 0 < x < 1) for x in vals):
                raise ValueError(f"{kind}: thresholds must be probabilities in (0, 1) (exclusive), got {v}")
        return self

    @property
    def kind(self) -> str:
        """The boundary kind (the one key given)."""
        return next(k for k in _KINDS if getattr(self, k) is not None)

    def to_spending(self):
        """The :class:`~msbayes.sequential.boundaries.Spending` of a ``spending`` boundary."""
        from msbayes.sequential.boundaries import Spending

        fam = self.spending
        param = self.gamma if fam == "hsd" else self.rho if fam == "kd" else None
        return Spending(fam, param, tuple(self.values) if fam == "user" else None)

    def thresholds(self, n_interims: int) -> tuple[float, ...]:
        """Bayesian thresholds, one per interim look (a single value is repeated)."""
        v = getattr(self, self.kind)
        vals = v if isinstance(v, list) else [v] * n_interims
        return tuple(float(x) for x in vals)


class DropDosesSpec(StrictModel):
    """Dose-finding interims only: drop a dose arm at an interim look if ``P(effect > MCID) <
    p_mcid_below`` or its z statistic is below ``z_below`` (exactly one)."""

    p_mcid_below: float | None = None
    z_below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> DropDosesSpec:
        given = [k for k in ("p_mcid_below", "z_below") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of p_mcid_below, z_below; got {given or 'none'}")
        if self.p_mcid_below is not None and not (0 < self.p_mcid_below < 1):
            raise ValueError(f"p_mcid_below must be in (0, 1), got {self.p_mcid_below}")
        if self.z_below is not None and not math.isfinite(self.z_below):
            raise ValueError(f"z_below must be finite, got {self.z_below}")
        return self


Boundary = Union[BoundarySpec, Literal["none"], None]


class InterimsSpec(StrictModel):
    """Interim looks of a two-arm design (see ``docs/configs.md``, section "interims").

    ``looks``: information fractions of the final analysis (strictly increasing in (0, 1],
    the last 1). ``timing``: ``information`` (look k analyses the first ``looks[k]`` share of
    the randomised patients, all with their endpoint; no one in follow-up at a stop) or
    ``accrual`` (patients randomised but not yet at the endpoint at a stop count in the
    sample size; needs ``accrual``). ``rule``: ``group_sequential`` (z bounds; analysis welch,
    decision significance) or ``bayesian`` (posterior / predictive probability thresholds;
    analysis bayes_normal; the last look uses the config's decision rule).
    """

    looks: list[float]
    timing: Literal["information", "accrual"] = "information"
    accrual: AccrualSpec | None = None
    rule: Literal["group_sequential", "bayesian"] = "group_sequential"
    efficacy: Boundary
    futility: Boundary = "none"
    binding: bool = False
    beta: float = Field(default=0.2, gt=0, lt=0.5)
    statistic: Literal["t", "z"] = "t"
    drop_doses: DropDosesSpec | None = None
    #: inner Monte Carlo draws per trial of the predictive probability with analysis bayes_emax
    #: (dose-finding ``futility: {predictive_below: q}``); unused elsewhere (closed form)
    predictive_draws: int = Field(default=100, ge=10, le=100_000)

    @field_validator("looks")
    @classmethod
    def _looks(cls, v: list[float]) -> list[float]:
        if len(v) == 0:
            raise ValueError("give at least one look (the final analysis: [1.0])")
        if any(not (math.isfinite(x) and 0 < x <= 1) for x in v):
            raise ValueError(f"information fractions must be in (0, 1]; got {v}")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError(f"must be strictly increasing; got {v}")
        if abs(v[-1] - 1.0) > 1e-12:
            raise ValueError(f"the last look is the final analysis and must be 1.0; got {v[-1]}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> InterimsSpec:
        K = len(self.looks)
        eff = None if self.efficacy in (None, "none") else self.efficacy
        fut = None if self.futility in (None, "none") else self.futility
        if self.timing == "accrual" and self.accrual is None:
            raise ValueError("accrual: required with timing: accrual ({rate: patients per month, follow_up: months})")
        if self.rule == "group_sequential":
            if eff is not None and eff.kind not in _GS_EFFICACY:
                raise ValueError(f"efficacy: {eff.kind!r} is a Bayesian rule; with rule group_sequential allowed: "
                                 f"{', '.join(_GS_EFFICACY)} or none")
            if fut is not None and fut.kind not in _GS_FUTILITY:
                raise ValueError(f"futility: {fut.kind!r} is not allowed with rule group_sequential (allowed: "
                                 f"{', '.join(_GS_FUTILITY)} or none)")
            if eff is None and fut is None and K > 1 and self.drop_doses is None:
                raise ValueError("efficacy / futility: give at least one stopping boundary or drop_doses "
                                 "(or use looks: [1.0])")
            if eff is not None and eff.kind == "z" and len(eff.z) != K:
                raise ValueError(f"efficacy.z: {len(eff.z)} bounds for {K} looks (one per look)")
            if eff is not None and eff.kind == "z" and not math.isfinite(eff.z[-1]):
                raise ValueError("efficacy.z: the final bound must be finite")
            if eff is not None and eff.kind == "spending" and eff.spending == "user" and len(eff.values) != K:
                raise ValueError(f"efficacy.values: {len(eff.values)} cumulative alphas for {K} looks")
            if fut is not None and fut.kind == "z":
                if len(fut.z) != K - 1:
                    raise ValueError(f"futility.z: {len(fut.z)} bounds for {K - 1} interim looks (one per interim)")
                if any(x == math.inf for x in fut.z):
                    raise ValueError("futility.z: a futility bound cannot be +inf (use -inf for no stop)")
                if eff is not None and eff.kind == "z":
                    bad = [k + 1 for k, (f, c) in enumerate(zip(fut.z, eff.z)) if f > c]
                    if bad:
                        raise ValueError(f"futility.z: above the efficacy z bound at look(s) {bad}")
            if fut is not None and fut.kind == "spending" and fut.spending == "user" and len(fut.values) != K:
                raise ValueError(f"futility.values: {len(fut.values)} cumulative betas for {K} looks")
            if self.binding and fut is not None and fut.kind == "spending" and (eff is None or eff.kind != "spending"):
                raise ValueError("binding: binding beta-spending futility needs an efficacy spending boundary")
        else:
            if eff is not None and eff.kind not in _BAYES_EFFICACY:
                raise ValueError(f"efficacy: {eff.kind!r} is not allowed with rule bayesian (allowed: p_benefit or none)")
            if fut is not None and fut.kind not in _BAYES_FUTILITY:
                raise ValueError(f"futility: {fut.kind!r} is not allowed with rule bayesian (allowed: "
                                 f"{', '.join(_BAYES_FUTILITY)} or none)")
            for name, b in (("efficacy", eff), ("futility", fut)):
                if b is not None and isinstance(getattr(b, b.kind), list) and len(getattr(b, b.kind)) != K - 1:
                    raise ValueError(f"{name}.{b.kind}: {len(getattr(b, b.kind))} thresholds for {K - 1} interim "
                                     "looks (give one value or one per interim)")
            if self.binding:
                # a leftover of a welch design: the rule/analysis pairing is the first thing to check
                raise ValueError("rule: 'bayesian' is for analysis.method bayes_normal only (with welch use rule "
                                 "group_sequential, where binding applies); binding: only used with rule "
                                 "group_sequential (remove it with rule bayesian)")
            if self.statistic != "t":
                raise ValueError("statistic: only used with rule group_sequential (the Bayesian rule uses the "
                                 "analysis's own variance setting)")
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def k(self) -> int:
        """Number of looks (the final analysis included)."""
        return len(self.looks)

    def efficacy_boundary(self):
        """The efficacy boundary as a :mod:`msbayes.sequential.boundaries` object (group-sequential);
        ``ZBounds(inf, ..., inf, c)`` is never built: no efficacy boundary gives ``None``."""
        from msbayes.sequential.boundaries import WangTsiatis, ZBounds

        b = None if self.efficacy in (None, "none") else self.efficacy
        if b is None:
            return None
        if b.kind == "spending":
            return b.to_spending()
        if b.kind == "wang_tsiatis":
            return WangTsiatis(float(b.wang_tsiatis))
        return ZBounds(tuple(b.z))

    def futility_boundary(self):
        """The futility boundary (group-sequential) or ``None``."""
        from msbayes.sequential.boundaries import ConditionalPower, ZBounds

        b = None if self.futility in (None, "none") else self.futility
        if b is None:
            return None
        if b.kind == "spending":
            return b.to_spending()
        if b.kind == "conditional_power":
            return ConditionalPower(float(b.conditional_power), b.assume or "design")
        return ZBounds(tuple(b.z))


def look_patients(looks, n_arm: int) -> list[int]:
    """Patients per arm whose endpoint is due at each look: ``round(looks[k] * n_arm)``, halves up.

    >>> look_patients([0.5, 1.0], 41)
    [21, 41]
    """
    return [int(math.floor(t * n_arm + 0.5)) for t in looks]


def _pct(t: float) -> str:
    return f"{100 * t:.3g}%"


def describe_interims(spec: InterimsSpec) -> str:
    """One line saying when the looks are and what stops the trial (``oc.nc`` attr ``interims``)."""
    K = spec.k
    where = f"{K} look{'s' if K > 1 else ''} at {', '.join(_pct(t) for t in spec.looks)} of information"
    if spec.timing == "accrual":
        a = spec.accrual
        where += f" (timed by accrual: {a.rate:g} patients/month, {a.follow_up:g} months to the endpoint)"
    eff = None if spec.efficacy in (None, "none") else spec.efficacy
    fut = None if spec.futility in (None, "none") else spec.futility
    if spec.rule == "group_sequential":
        if eff is None:
            e = "none"
        elif eff.kind == "spending":
            e = eff.to_spending().label().replace(" spending", " alpha spending")
        elif eff.kind == "wang_tsiatis":
            e = spec.efficacy_boundary().label()
        else:
            e = "user z bounds " + ", ".join(f"{x:g}" for x in eff.z)
        bind = "binding" if spec.binding else "non-binding"
        if fut is None:
            f = "none"
        elif fut.kind == "spending":
            f = f"{bind} " + fut.to_spending().label().replace(" spending", " beta spending")
        elif fut.kind == "conditional_power":
            f = f"{bind} conditional power < {fut.conditional_power:g} (under the {fut.assume or 'design'} drift)"
        else:
            f = f"{bind} user z bounds " + ", ".join(f"{x:g}" for x in fut.z)
        return f"{where}; efficacy: {e}; futility: {f}"
    e = "none" if eff is None else "P(effect > 0) >= " + "/".join(f"{x:g}" for x in eff.thresholds(K - 1))
    if fut is None:
        f = "none"
    elif fut.kind == "p_mcid_below":
        f = "P(effect > MCID) < " + "/".join(f"{x:g}" for x in fut.thresholds(K - 1))
    else:
        f = "predictive P(final go) < " + "/".join(f"{x:g}" for x in fut.thresholds(K - 1))
    return f"{where}; Bayesian monitoring; interim efficacy: {e}; interim futility: {f}; final look: the decision rule"


@functools.lru_cache(maxsize=64)
def _design_cached(spec_json: str, alpha: float):
    from msbayes.config import validate_config
    from msbayes.sequential.boundaries import Spending, group_sequential_design

    spec = validate_config(InterimsSpec, json.loads(spec_json))
    eff = spec.efficacy_boundary()
    if eff is None:  # futility only: no alpha spent at the interims, all of it at the final look
        eff = Spending("user", None, tuple([0.0] * (spec.k - 1) + [alpha]))
    return group_sequential_design(spec.looks, alpha=alpha, beta=spec.beta, efficacy=eff,
                                   futility=spec.futility_boundary(), binding=spec.binding)


def group_sequential_of(spec: InterimsSpec, *, alpha: float):
    """The :class:`~msbayes.sequential.boundaries.GroupSequentialDesign` of a group-sequential
    ``interims`` section at one-sided level ``alpha`` (cached; raises ``ValueError`` naming the
    boundary if the bounds cannot be computed)."""
    if spec.rule != "group_sequential":
        raise ValueError("interims.rule: a group-sequential design needs rule group_sequential")
    return _design_cached(spec.model_dump_json(), float(alpha))
