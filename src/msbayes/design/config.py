"""The ``msbayes simulate`` configuration: one validated, frozen :class:`SimConfig`.

Every field is documented in ``docs/engine.md``. Validation refuses, before any work and with
the field named by its dotted path: unknown keys, wrong types, allocation of the wrong length
or not positive, n < 2, probabilities outside [0, 1], SD <= 0, unknown analysis / model /
scenario names, missing ``from_fit`` files, and ``grid`` axes whose values are invalid.

Examples
--------
>>> from msbayes.design.config import validate_sim_config, apply_overrides
>>> raw = {"name": "demo", "seed": 1, "endpoint": {"sd": 0.35},
...        "design": {"type": "parallel", "n_per_arm": 60},
...        "scenarios": {"null": {"effect": 0.0}},
...        "analysis": {"method": "welch"}, "decision": {"rule": "significance", "alpha": 0.025}}
>>> cfg = validate_sim_config(raw)
>>> cfg.design.arm_sizes()
[60, 60]
>>> validate_sim_config(apply_overrides(raw, {"design.n_per_arm": 20})).design.n_per_arm
20
"""

from __future__ import annotations

import copy
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from msbayes.config import ConfigError, Seed, StrictModel, validate_config

from .endpoint import EndpointSpec
from .adaptive import ADAPTIVE_DESIGN_TYPES, DoseEffectsScenario, EnrichmentDesign, MultiArmDesign, RARDesign
from .interims import InterimsSpec, group_sequential_of, look_patients
from .prior import MixtureSpec, NormalSpec, list_fit_estimands
from .scenarios import FitScenario, ScenarioSpec, SlowingScenario, inert_grid_axes

try:  # the dose-finding models are owned by msbayes.design.dosefinding
    from .dosefinding import BayesEmaxAnalysis, DoseFindingDesign, MCPModAnalysis

    _HAVE_DOSEFINDING = True
except ImportError:  # pragma: no cover - only while that module is being written
    _HAVE_DOSEFINDING = False

__all__ = [
    "ParallelDesign",
    "WelchAnalysis",
    "AncovaAnalysis",
    "BayesNormalAnalysis",
    "DualCriterionSpec",
    "SignificanceSpec",
    "SimulationSpec",
    "SearchSpec",
    "SimConfig",
    "validate_sim_config",
    "apply_overrides",
    "ANALYSIS_METHODS",
    "DESIGN_TYPES",
]


def _prob(v: float) -> float:
    if not (math.isfinite(v) and 0 <= v <= 1):
        raise ValueError("must be a probability in [0, 1]")
    return v


# ----------------------------------------------------------------------------- design
class ParallelDesign(StrictModel):
    """Two-arm parallel-group design: control (first arm) vs treatment (second arm).

    ``n_per_arm`` is the number randomized to the control arm; arm ``i`` gets
    ``round(n_per_arm * allocation[i] / allocation[0])`` (so 1:1 gives ``n_per_arm`` each,
    1:2 gives ``n_per_arm`` and ``2 * n_per_arm``).
    """

    type: Literal["parallel"]
    arms: list[str] = Field(default_factory=lambda: ["placebo", "treatment"])
    n_per_arm: int = Field(ge=2)
    allocation: list[float] = Field(default_factory=lambda: [1.0, 1.0])

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: list[str]) -> list[str]:
        if len(v) != 2 or len(set(v)) != 2:
            raise ValueError(f"a parallel design has exactly two distinct arms [control, treatment]; got {v}")
        return v

    @field_validator("allocation")
    @classmethod
    def _alloc(cls, a: list[float], info) -> list[float]:
        arms = info.data.get("arms")
        if arms is not None and len(a) != len(arms):
            raise ValueError(f"needs one weight per arm ({len(arms)}: {arms}); got {len(a)}")
        if any((not math.isfinite(x)) or x <= 0 for x in a):
            raise ValueError(f"weights must be finite and > 0 (so the sum is positive); got {a}")
        n = info.data.get("n_per_arm")
        if n is not None:
            sizes = [int(round(n * x / a[0])) for x in a]
            if min(sizes) < 2:
                raise ValueError(f"gives arm sizes {sizes} with n_per_arm={n}; every arm needs n >= 2")
        return a

    def arm_sizes(self, n_per_arm: int | None = None) -> list[int]:
        """Randomized patients per arm (control first)."""
        n = self.n_per_arm if n_per_arm is None else int(n_per_arm)
        return [int(round(n * x / self.allocation[0])) for x in self.allocation]


# --------------------------------------------------------------------------- analyses
class WelchAnalysis(StrictModel):
    """Two-sample t-test on the completers (Welch; ``equal_var: true`` gives Student's t)."""

    method: Literal["welch"]
    alpha: float = Field(default=0.05, gt=0, lt=1)
    sided: Literal["one", "two"] = "two"
    equal_var: bool = False


class AncovaAnalysis(StrictModel):
    """ANCOVA of the outcome on treatment and the baseline covariate (common slope)."""

    method: Literal["ancova"]
    alpha: float = Field(default=0.05, gt=0, lt=1)
    sided: Literal["one", "two"] = "two"


def _prior_tag(v: Any) -> str | None:
    if isinstance(v, str):
        return "flat" if v == "flat" else None
    if isinstance(v, dict):
        return "mixture" if "weights" in v else "normal"
    if isinstance(v, MixtureSpec):
        return "mixture"
    if isinstance(v, NormalSpec):
        return "normal"
    return None


AnalysisPrior = Annotated[
    Union[
        Annotated[NormalSpec, Tag("normal")],
        Annotated[MixtureSpec, Tag("mixture")],
        Annotated[Literal["flat"], Tag("flat")],
    ],
    Discriminator(
        _prior_tag,
        custom_error_type="prior_kind",
        custom_error_message="prior must be {mean, sd}, {weights, means, sds} or 'flat'",
    ),
]


class BayesNormalAnalysis(StrictModel):
    """Conjugate normal analysis of the treatment difference.

    The likelihood of the estimate is ``N(effect, se^2)``; ``prior`` is normal, a normal
    mixture (closed-form posterior mixture) or ``flat``. ``variance``:

    * ``plugin`` (default): ``se`` from the observed arm variances (Welch form, or pooled if
      ``equal_var``), treated as known;
    * ``known``: ``se`` from the true ``endpoint.sd`` (the z-test setting);
    * ``student_t``: exact posterior under a flat prior on the effect and Jeffreys prior on
      sigma (pooled variance): a scaled t with the residual df. Requires ``prior: flat``.

    ``estimator`` ``difference`` uses the difference in completer means; ``ancova`` the
    ANCOVA estimate adjusted for the baseline covariate.
    """

    method: Literal["bayes_normal"]
    prior: AnalysisPrior
    variance: Literal["plugin", "known", "student_t"] = "plugin"
    estimator: Literal["difference", "ancova"] = "difference"
    equal_var: bool = False

    @model_validator(mode="after")
    def _t_needs_flat(self) -> BayesNormalAnalysis:
        if self.variance == "student_t" and self.prior != "flat":
            raise ValueError("variance: 'student_t' needs prior: flat (allowed with a normal or mixture prior: plugin, known)")
        if self.equal_var and (self.estimator == "ancova" or self.variance == "known"):
            # the ANCOVA residual variance is always pooled and 'known' uses endpoint.sd: the
            # flag would be silently ignored
            raise ValueError(
                "equal_var: only used with estimator 'difference' and variance 'plugin' or 'student_t' "
                f"(got estimator {self.estimator!r}, variance {self.variance!r}); remove it"
            )
        return self


_TWO_ARM_ANALYSES = (WelchAnalysis, AncovaAnalysis, BayesNormalAnalysis)


# --------------------------------------------------------------------------- decision
class GoSpec(StrictModel):
    """Go if P(effect > 0) >= p_benefit and P(effect > MCID) >= p_mcid."""

    p_benefit: float = 0.95
    p_mcid: float = 0.0

    _p = field_validator("p_benefit", "p_mcid")(classmethod(lambda cls, v: _prob(v)))


class NoGoSpec(StrictModel):
    """No-go if P(effect > MCID) < p_mcid_below."""

    p_mcid_below: float = 0.1

    _p = field_validator("p_mcid_below")(classmethod(lambda cls, v: _prob(v)))


class DualCriterionSpec(StrictModel):
    """Dual-criterion rule: go / no-go / consider (see :class:`msbayes.oc.decision.DualCriterion`)."""

    rule: Literal["dual"] = "dual"
    go: GoSpec = Field(default_factory=GoSpec)
    no_go: NoGoSpec | None = None

    @model_validator(mode="after")
    def _exclusive(self) -> DualCriterionSpec:
        if self.no_go is not None and self.no_go.p_mcid_below > self.go.p_mcid and self.go.p_mcid < 1:
            # go needs P(>MCID) >= p_mcid; no-go needs P(>MCID) < p_mcid_below: overlap if below > p_mcid
            raise ValueError(
                f"no_go.p_mcid_below ({self.no_go.p_mcid_below}) must be <= go.p_mcid ({self.go.p_mcid}) "
                "so that go and no-go cannot both hold"
            )
        return self


class SignificanceSpec(StrictModel):
    """Go iff the one-sided test of effect > 0 is significant at ``alpha``; no-go otherwise."""

    rule: Literal["significance"]
    alpha: float = Field(default=0.025, gt=0, lt=1)


DecisionSpec = Annotated[
    Union[Annotated[DualCriterionSpec, Tag("dual")], Annotated[SignificanceSpec, Tag("significance")]],
    Discriminator(
        lambda v: (v.get("rule", "dual") if isinstance(v, dict) else getattr(v, "rule", None))
        if (not isinstance(v, dict) or v.get("rule", "dual") in ("dual", "significance"))
        else None,
        custom_error_type="decision_rule",
        custom_error_message="decision.rule must be one of: dual, significance",
    ),
]


# ----------------------------------------------------------------------- simulation etc.
class SimulationSpec(StrictModel):
    """How many trials per cell and how to run them.

    ``engine``: ``sufficient`` draws arm summary statistics exactly (normal mean, scaled
    chi-square variance, Wishart cross-products for ANCOVA); ``patient`` draws every patient
    (needed for informative dropout); ``auto`` picks ``sufficient`` unless patient level is
    needed.
    """

    n_sims: int = Field(default=20_000, ge=1)
    chunk_size: int = Field(default=10_000, ge=1)
    backend: Literal["sequential", "loky", "dask", "ray"] = "loky"
    n_jobs: int = -1
    scheduler: str | None = None
    engine: Literal["auto", "sufficient", "patient"] = "auto"

    @field_validator("n_jobs")
    @classmethod
    def _workers(cls, v: int) -> int:
        if v != -1 and v < 1:  # the same rule as --n-jobs (0 and -k are refused, not reinterpreted)
            raise ValueError(f"allowed: -1 (all CPUs) or a number of workers >= 1; got {v}")
        return v


#: OC names a sample-size search may target (must increase with n).
SEARCH_METRICS = ("p_go", "p_reject", "p_correct_dose")


class SearchSpec(StrictModel):
    """Smallest ``design.n_per_arm`` in [n_min, n_max] with ``metric >= target`` under ``scenario``."""

    metric: Literal["p_go", "p_reject", "p_correct_dose"] = "p_go"
    target: float = Field(gt=0, lt=1)
    scenario: str
    n_min: int = Field(default=10, ge=2)
    n_max: int = Field(default=500, ge=2)
    n_sims: int | None = Field(default=None, ge=100)

    @model_validator(mode="after")
    def _range(self) -> SearchSpec:
        if self.n_max <= self.n_min:
            raise ValueError(f"n_max ({self.n_max}) must be > n_min ({self.n_min})")
        return self


# ----------------------------------------------------------------------------- unions
if _HAVE_DOSEFINDING:
    DesignSpec = Annotated[Union[ParallelDesign, DoseFindingDesign, EnrichmentDesign, MultiArmDesign, RARDesign],
                           Field(discriminator="type")]
    AnalysisSpec = Annotated[
        Union[WelchAnalysis, AncovaAnalysis, BayesNormalAnalysis, MCPModAnalysis, BayesEmaxAnalysis],
        Field(discriminator="method"),
    ]
    DESIGN_TYPES = ("parallel", "dose_finding", *ADAPTIVE_DESIGN_TYPES)
    ANALYSIS_METHODS = ("welch", "ancova", "bayes_normal", "mcpmod", "bayes_emax")
else:  # pragma: no cover
    DesignSpec = Annotated[Union[ParallelDesign], Field(discriminator="type")]
    AnalysisSpec = Annotated[Union[WelchAnalysis, AncovaAnalysis, BayesNormalAnalysis], Field(discriminator="method")]
    DESIGN_TYPES = ("parallel",)
    ANALYSIS_METHODS = ("welch", "ancova", "bayes_normal")


class SimConfig(StrictModel):
    """One design-simulation config (see ``docs/engine.md`` for every field)."""

    name: str
    seed: Seed  # integer in [0, 2^63 - 1]: stored as a 64-bit signed integer attr in oc.nc
    endpoint: EndpointSpec
    design: DesignSpec
    scenarios: dict[str, ScenarioSpec]
    #: required for parallel / dose_finding designs; adaptive designs carry their final test in
    #: ``design.final`` and take no analysis section
    analysis: AnalysisSpec | None = None
    decision: DecisionSpec = Field(default_factory=DualCriterionSpec)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)
    search: SearchSpec | None = None
    #: interim analyses (``docs/configs.md``, "interims"); None: a fixed design
    interims: InterimsSpec | None = None
    #: optional display names for the report: scenario keys or dotted grid-axis paths -> text
    #: (e.g. ``mcid: "smallest worthwhile effect"``); not used by the simulation
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("scenarios")
    @classmethod
    def _some(cls, v: dict) -> dict:
        if not v:
            raise ValueError("give at least one scenario (e.g. null: {effect: 0.0})")
        return v

    @field_validator("grid")
    @classmethod
    def _grid_lists(cls, v: dict) -> dict:
        for k, vals in v.items():
            if len(vals) == 0:
                raise ValueError(f"grid axis {k!r} has no values")
            if len({repr(x) for x in vals}) != len(vals):
                raise ValueError(f"grid axis {k!r} has repeated values {vals}")
        return v

    @model_validator(mode="after")
    def _cross(self) -> SimConfig:
        if self.design.type in ADAPTIVE_DESIGN_TYPES:
            _check_adaptive(self)
            return self
        if self.analysis is None:
            raise ValueError(f"analysis: required with design.type {self.design.type!r} (e.g. analysis: "
                             "{method: welch})")
        is_parallel = isinstance(self.design, ParallelDesign)
        slow = [k for k, s in self.scenarios.items() if isinstance(s, SlowingScenario)]
        if slow and not self.endpoint.placebo_mean < 0:
            raise ValueError(
                f"endpoint.placebo_mean: scenarios {slow} slow the placebo decline (effect = -slowing * "
                f"placebo_mean) and need placebo_mean < 0; got {self.endpoint.placebo_mean}"
            )
        if is_parallel and not isinstance(self.analysis, _TWO_ARM_ANALYSES):
            raise ValueError(
                f"analysis.method {self.analysis.method!r} is for dose-finding designs; with design.type "
                "'parallel' use one of: welch, ancova, bayes_normal"
            )
        if not is_parallel and isinstance(self.analysis, _TWO_ARM_ANALYSES):
            raise ValueError(
                f"analysis.method {self.analysis.method!r} is for two-arm designs; with design.type "
                "'dose_finding' use one of: mcpmod, bayes_emax"
            )
        if is_parallel and isinstance(self.decision, SignificanceSpec) and isinstance(self.analysis, BayesNormalAnalysis):
            raise ValueError(
                "decision.rule 'significance' needs a frequentist analysis (allowed: welch, ancova); "
                "use rule 'dual' with bayes_normal"
            )
        if "decision" not in self.model_fields_set and isinstance(self.analysis, (WelchAnalysis, AncovaAnalysis)):
            # one alpha: without a decision section, go = the analysis's own test significant in
            # favour of treatment, at its one-sided level (alpha / 2 for a two-sided test)
            a = self.analysis
            object.__setattr__(self, "decision", SignificanceSpec(
                rule="significance", alpha=a.alpha / 2 if a.sided == "two" else a.alpha))
        if getattr(self.analysis, "method", None) == "mcpmod" and "decision" in self.model_fields_set:
            raise ValueError(
                "decision: not used with analysis.method 'mcpmod' (go = the multiple contrast test "
                "rejects at analysis.alpha); remove the decision section or use bayes_emax"
            )
        if self.search is not None and self.search.scenario not in self.scenarios:
            raise ValueError(f"search.scenario {self.search.scenario!r} is not a scenario (allowed: {list(self.scenarios)})")
        if self.endpoint.dropout_mechanism == "informative" and self.simulation.engine == "sufficient":
            raise ValueError("simulation.engine 'sufficient' cannot simulate informative dropout; use 'patient' or 'auto'")
        if not is_parallel:
            # the dose-finding simulator draws sufficient statistics with MCAR dropout only:
            # refuse here, before any work, instead of failing (or silently ignoring) in a worker
            if self.endpoint.dropout_mechanism != "mcar":
                raise ValueError(
                    "endpoint.dropout_mechanism: dose-finding designs simulate MCAR dropout only (allowed: mcar)"
                )
            if self.simulation.engine == "patient":
                raise ValueError(
                    "simulation.engine: 'patient' is not available for dose-finding designs (allowed: auto, sufficient)"
                )
        if self.search is not None:
            if is_parallel:
                allowed = ["p_go"] + (["p_reject"] if isinstance(self.analysis, (WelchAnalysis, AncovaAnalysis)) else [])
            else:
                allowed = ["p_go", "p_correct_dose"] + (["p_reject"] if self.analysis.method == "mcpmod" else [])
            if self.search.metric not in allowed:
                raise ValueError(
                    f"search.metric {self.search.metric!r} is not produced by this design and analysis "
                    f"(allowed: {allowed})"
                )
        if self.interims is not None and is_parallel:
            _check_parallel_interims(self)
        if self.interims is not None and not is_parallel:
            # refuse what the dose-finding interim simulator cannot run here, before any work
            from msbayes.simulate.dosefinding_sequential import check_dose_interims

            check_dose_interims(self)
        return self

    @property
    def analysis_needs_baseline(self) -> bool:
        """True if the analysis uses the baseline covariate (ANCOVA estimate)."""
        a = self.analysis
        return isinstance(a, AncovaAnalysis) or (isinstance(a, BayesNormalAnalysis) and a.estimator == "ancova")

    @property
    def engine(self) -> Literal["sufficient", "patient"]:
        """Resolved simulation engine for two-arm designs."""
        if self.simulation.engine != "auto":
            return self.simulation.engine
        return "patient" if self.endpoint.dropout_mechanism == "informative" else "sufficient"


def _check_adaptive(cfg: SimConfig) -> None:
    """Cross-checks of an enrichment / multi_arm / rar design with the rest of the config."""
    t = cfg.design.type
    for key in ("analysis", "decision", "interims", "search"):
        if key in cfg.model_fields_set and getattr(cfg, key) is not None:
            where = {"analysis": "design.final (the closed combination test or bayesian_shrinkage)",
                     "decision": "design.final (go = a hypothesis rejected)",
                     "interims": "design.looks and design.final.efficacy",
                     "search": "a grid over design.n_per_arm"}[key]
            if t == "rar":
                where = {"analysis": "design.prior and design.stopping (Bayesian posteriors at every look)",
                         "decision": "design.stopping.superiority (go = a dose declared superior)",
                         "interims": "design.looks and design.stopping",
                         "search": "a grid over design.n_per_arm"}[key]
            raise ValueError(f"{key}: not used with design.type {t!r} (its counterpart is {where}); remove it")
    ep = cfg.endpoint
    if ep.dropout != 0 or ep.dropout_mechanism != "mcar":
        raise ValueError(f"endpoint.dropout: design.type {t!r} is simulated without dropout (known-SD z statistics); "
                         f"set endpoint.dropout: 0 and inflate n_per_arm for dropout yourself (got {ep.dropout})")
    if cfg.simulation.engine == "patient":
        raise ValueError(f"simulation.engine: 'patient' is not available for design.type {t!r} (allowed: auto, sufficient)")
    if t == "enrichment":
        if "strata" in ep.model_fields_set and dict(ep.strata) != dict(cfg.design.strata):
            raise ValueError(f"endpoint.strata: with design.type 'enrichment' the strata are design.strata "
                             f"({cfg.design.strata}); remove endpoint.strata (got {ep.strata})")
        # the scenarios' effect samplers read the strata from the endpoint: one source of truth
        object.__setattr__(cfg, "endpoint", ep.model_copy(update={"strata": dict(cfg.design.strata)}))
    elif list(ep.strata) != ["all"]:
        raise ValueError(f"endpoint.strata: design.type {t!r} has one population; remove endpoint.strata")
    if t == "enrichment":
        strata = list(cfg.design.strata)
        for name, sc in cfg.scenarios.items():
            eff = getattr(sc, "effect", None)
            if isinstance(eff, dict) and set(eff) != set(strata):
                raise ValueError(f"scenarios.{name}.effect: keys must be the design strata {strata}; got {list(eff)}")
    else:
        labels = cfg.design.arm_labels
        for name, sc in cfg.scenarios.items():
            eff = getattr(sc, "effect", None)
            if isinstance(eff, dict):
                if set(eff) != set(labels):
                    raise ValueError(f"scenarios.{name}.effect: keys must be the dose labels {labels} (quoted); got "
                                     f"{list(eff)}")
                cfg.scenarios[name] = DoseEffectsScenario(effect=max(eff.values()), per_dose=dict(eff))
            elif t == "rar" and cfg.design.arms is not None and len(labels) > 1:
                raise ValueError(f"scenarios.{name}.effect: give one effect per arm, keyed by the arm names {labels}")
            elif cfg.design.dose_response is None and len(labels) > 1:
                raise ValueError(f"scenarios.{name}: one effect for {len(labels)} doses needs design.dose_response and "
                                 "design.reference_dose, or give one effect per dose: effect: {"
                                 + ", ".join(f'\"{lab}\": ...' for lab in labels) + "}")


def _check_parallel_interims(cfg: SimConfig) -> None:
    """Cross-checks of ``interims`` with the rest of a two-arm config (raise ValueError)."""
    spec, a = cfg.interims, cfg.analysis
    if spec.drop_doses is not None:
        raise ValueError("interims.drop_doses: only for design.type 'dose_finding' (a parallel design has one "
                         "treatment arm); remove it")
    if isinstance(a, AncovaAnalysis) or getattr(a, "estimator", "difference") == "ancova":
        raise ValueError("interims: not available with the ANCOVA estimate (analysis.method ancova or "
                         "analysis.estimator ancova); use welch or bayes_normal with estimator difference")
    if cfg.endpoint.dropout_mechanism != "mcar":
        raise ValueError("interims: simulated with MCAR dropout only (endpoint.dropout_mechanism allowed: mcar)")
    if cfg.simulation.engine == "patient":
        raise ValueError("interims: simulated from sufficient statistics (simulation.engine allowed: auto, sufficient)")
    if len(cfg.endpoint.stratum_weights) > 1:
        raise ValueError("interims: designs with interims are simulated for one stratum (endpoint.strata: give one "
                         "stratum or none)")
    if spec.rule == "group_sequential":
        if not isinstance(a, WelchAnalysis):
            raise ValueError(f"interims.rule 'group_sequential' needs analysis.method welch (got {a.method!r}); "
                             "with bayes_normal use interims.rule 'bayesian'")
        if not isinstance(cfg.decision, SignificanceSpec):
            raise ValueError("interims.rule 'group_sequential' needs decision.rule significance (its alpha is the "
                             "one-sided level the boundaries spend)")
        if not cfg.decision.alpha < 0.5:
            raise ValueError(f"decision.alpha: a group-sequential design needs a one-sided alpha < 0.5, got "
                             f"{cfg.decision.alpha}")
        for name, b, total, what in (("efficacy", spec.efficacy, cfg.decision.alpha, "the one-sided alpha of the decision"),
                                     ("futility", spec.futility, spec.beta, "interims.beta")):
            if getattr(b, "spending", None) == "user" and abs(b.values[-1] - total) > 1e-12:
                raise ValueError(f"interims.{name}.values: the last cumulative value ({b.values[-1]:g}) must equal "
                                 f"{what} ({total:g})")
        try:
            group_sequential_of(spec, alpha=cfg.decision.alpha)
        except ValueError as exc:
            raise ValueError(f"interims: the boundaries cannot be computed: {exc}") from None
    else:
        if not isinstance(a, BayesNormalAnalysis):
            raise ValueError(f"interims.rule 'bayesian' needs analysis.method bayes_normal (got {a.method!r}); "
                             "with welch use interims.rule 'group_sequential'")
        if a.variance == "student_t":
            raise ValueError("interims.rule 'bayesian': analysis.variance 'student_t' is not supported with interims "
                             "(allowed: plugin, known)")
    sizes = cfg.design.arm_sizes()
    for arm, n in zip(cfg.design.arms, sizes):
        per = look_patients(spec.looks, n)
        if per[0] < 2 or any(b <= a_ for a_, b in zip(per, per[1:])):
            raise ValueError(
                f"interims.looks: with {n} patients in arm {arm!r} (design.n_per_arm {cfg.design.n_per_arm}) the looks "
                f"{spec.looks} fall at {per} patients; each look needs >= 2 patients per arm and more than the "
                "look before (fewer looks, or a larger n_per_arm)")


# --------------------------------------------------------------------- validate/override
def _check_fit_scenarios(cfg: SimConfig, base_dir: Path | None) -> list[tuple[str, str]]:
    errors = []
    for name, sc in cfg.scenarios.items():
        if not isinstance(sc, FitScenario):
            continue
        p = Path(sc.from_fit)
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        fld = f"scenarios.{name}.from_fit"
        if not p.is_file():
            errors.append((fld, f"posterior file not found: {p}"))
            continue
        try:
            tab = list_fit_estimands(p)
        except Exception as exc:  # noqa: BLE001 - any read failure is a config problem
            errors.append((fld, f"cannot read {p}: {exc}"))
            continue
        checks = [("model", sc.model), ("prior", sc.prior), ("endpoint", sc.endpoint or cfg.endpoint.name)]
        if sc.population is not None:
            checks.append(("population", sc.population))
        sub = tab
        for col, val in checks:
            allowed = sorted(set(sub[col].astype(str)))
            if val not in allowed:
                errors.append((f"scenarios.{name}.{col}", f"{val!r} not in the fit (allowed: {allowed})"))
                break
            sub = sub[sub[col].astype(str) == val]
    return errors


def _absolute_fit_paths(raw: dict, base_dir: Path) -> dict:
    """Copy of ``raw`` with relative ``scenarios.*.from_fit`` paths made absolute."""
    scen = raw.get("scenarios") if isinstance(raw, dict) else None
    if not isinstance(scen, dict):
        return raw
    out = dict(raw)
    out["scenarios"] = {}
    for name, sc in scen.items():
        if isinstance(sc, dict) and isinstance(sc.get("from_fit"), str) and not Path(sc["from_fit"]).is_absolute():
            sc = {**sc, "from_fit": str((base_dir / sc["from_fit"]).resolve())}
        out["scenarios"][name] = sc
    return out


def validate_sim_config(raw: dict, *, source: str = "config", base_dir: Path | None = None) -> SimConfig:
    """Validate a raw mapping into a :class:`SimConfig` or raise :class:`ConfigError`.

    Also checks every ``grid`` axis: the dotted path must exist and every value must give a
    valid config; and every ``from_fit`` scenario: file present, model / prior / endpoint /
    population names present in it. Relative ``from_fit`` paths resolve against ``base_dir``.
    """
    if base_dir is not None:
        raw = _absolute_fit_paths(raw, Path(base_dir))
    scen = raw.get("scenarios") if isinstance(raw, dict) else None
    if isinstance(scen, dict):
        odd = [k for k in scen if not isinstance(k, str)]
        if odd:
            raise ConfigError(
                f"{source}: invalid configuration\n  - scenarios: scenario name(s) {odd} were read as "
                "YAML values, not text; quote them (e.g. \"null\": {effect: 0.0})",
                [("scenarios", f"scenario names must be text; quote {odd}")])
    cfg = validate_config(SimConfig, raw, source=source)
    errors = _check_fit_scenarios(cfg, None) + inert_grid_axes(cfg)
    for key, values in cfg.grid.items():
        for i, val in enumerate(values):
            try:
                validate_config(SimConfig, apply_overrides(raw, {key: val}, grid=False), source=source)
            except ConfigError as exc:
                detail = "; ".join(f"{f}: {m}" for f, m in exc.errors) or str(exc)
                errors.append((f"grid.{key}[{i}]", f"value {val!r} is invalid: {detail}"))
    if errors:
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors)
    return cfg


def _model_members(tp: Any) -> list[Any]:
    """Unwrap Annotated / Union / Optional to the list of member types."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _model_members(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        out = []
        for a in typing.get_args(tp):
            out.extend(_model_members(a))
        return out
    return [tp]


def _path_allowed(path: list[str]) -> tuple[bool, str, list[str]]:
    """Walk ``SimConfig`` fields along a dotted path; (ok, failing key, allowed keys)."""
    current: list[Any] = [SimConfig]
    for part in path:
        nxt: list[Any] = []
        allowed: set[str] = set()
        for tp in current:
            for m in _model_members(tp):
                if isinstance(m, type) and issubclass(m, BaseModel):
                    allowed |= set(m.model_fields)
                    if part in m.model_fields:
                        nxt.append(m.model_fields[part].annotation)
                elif typing.get_origin(m) is dict:
                    nxt.append(typing.get_args(m)[1])
                    allowed.add("<any key>")
                elif m is Any:
                    nxt.append(Any)
                    allowed.add("<any key>")
        if not nxt:
            return False, part, sorted(allowed)
        current = nxt
    return True, "", []


def apply_overrides(raw: dict, overrides: dict[str, Any], *, grid: bool = True) -> dict:
    """Return a deep copy of ``raw`` with dotted-path ``overrides`` applied.

    Parameters
    ----------
    raw : dict
        The raw config mapping (not modified).
    overrides : dict
        ``{"design.n_per_arm": 40, "endpoint.sd": 0.25, ...}``.
    grid : bool
        Keep the ``grid`` section (``True``) or drop it (``False``, used when validating one
        grid cell).

    Raises
    ------
    ConfigError
        If a path does not name a config field; the message lists the allowed keys.

    Examples
    --------
    >>> apply_overrides({"endpoint": {"sd": 0.3}}, {"endpoint.sd": 0.4})
    {'endpoint': {'sd': 0.4}}
    """
    out = copy.deepcopy(raw)
    if not grid:
        out.pop("grid", None)
    for key, value in overrides.items():
        parts = str(key).split(".")
        ok, bad, allowed = _path_allowed(parts)
        if not ok:
            raise ConfigError(
                f"override {key!r}: unknown key {bad!r} (allowed: {allowed})", [(str(key), f"unknown key {bad!r}")]
            )
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {p!r} is not a mapping", [(str(key), "not a mapping")])
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return out
