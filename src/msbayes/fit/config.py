"""Fit config: the YAML of ``msbayes fit`` validated into frozen, strict models.

Every key is documented in ``docs/models.md``. Structural checks (unknown key, wrong type,
negative SD, n < 2, unknown arm / stratum / model / prior, missing data file) raise
:class:`~msbayes.config.ConfigError` naming the field by dotted path, before any sampling.
Checks that need the data (an ``assumed_n`` stratum or arm that the data set does not have, a
user table with a negative SD) happen in :func:`msbayes.fit.prepare.prepare_inputs`, still
before any sampling and before the output directory is created.

Examples
--------
>>> from msbayes.fit.config import validate_fit_config
>>> cfg = validate_fit_config({"name": "demo", "seed": 1})
>>> cfg.models, cfg.sampler.draws
(['summary_log', 'summary_pct', 'binary'], 1000)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..config import ConfigError, Seed, StrictModel, load_yaml, validate_config
from ..models.priors import PRIORS, PriorPreset

__all__ = [
    "ModelName",
    "MODEL_NAMES",
    "ExternalSpec",
    "DataSpec",
    "PatientSpec",
    "HierarchySpec",
    "SamplerSpec",
    "McidSpec",
    "DiagnosticsSpec",
    "CustomPrior",
    "SensitivitySpec",
    "EffectsSpec",
    "FitConfig",
    "validate_fit_config",
    "load_fit_config",
]

ModelName = Literal["summary_log", "summary_pct", "binary", "patient", "effects"]
MODEL_NAMES: tuple[str, ...] = ("summary_log", "summary_pct", "binary", "patient", "effects")
#: models fitted when the config names none: the patient-level model needs real patient data
DEFAULT_MODELS: tuple[str, ...] = ("summary_log", "summary_pct", "binary")
WALK_ENDPOINTS = ("t25fw", "6mwt")
KNOWN_ARMS = ("msc_np", "saline", "it_msc", "iv_msc", "sham", "placebo", "treatment")


class ExternalSpec(StrictModel):
    """One external study borrowed with a discount (power prior + extra between-study SD).

    ``role``: ``"sensitivity"`` (default) keeps the primary analysis free of borrowing and
    reports the analysis with borrowing side by side in ``sensitivity.csv``; ``"primary"``
    borrows in the primary analysis and reports the analysis without it side by side.
    """

    dataset: str | None = None
    file: Path | None = None
    discount: float = Field(0.5, gt=0.0, le=1.0)
    between_study_sd: float = Field(0.5, ge=0.0)
    role: Literal["sensitivity", "primary"] = "sensitivity"
    treatment_arm: str = "it_msc"
    control_arm: str = "sham"
    endpoints: list[Literal["t25fw", "6mwt"]] = Field(default_factory=lambda: ["t25fw"])

    @model_validator(mode="after")
    def _one_source(self) -> "ExternalSpec":
        if (self.dataset is None) == (self.file is None):
            raise ValueError("give exactly one of 'dataset' or 'file'")
        return self


class DataSpec(StrictModel):
    """Where the primary study's data come from and which arms / strata to compare.

    ``subgroup_n``: for a built-in comparison whose group sizes were not reported but whose
    p-value was, ``marginalize`` (default) averages the likelihood over every (n_t, n_c) pair
    whose Welch p-value rounds to the reported one (uniform prior over the pairs);
    ``assumed`` uses the single pair in ``assumed_n``.
    """

    dataset: str | None = "harris2024"
    file: Path | None = None
    external: list[ExternalSpec] = Field(default_factory=list)
    edss_plus_denominator: Literal["randomized", "completers"] = "randomized"
    treatment_arm: str = "msc_np"
    control_arm: str = "saline"
    strata: list[str] = Field(default_factory=lambda: ["edss_3.0-5.5", "edss_6.0-6.5"], min_length=1)
    subgroup_n: Literal["marginalize", "assumed"] = "marginalize"

    @model_validator(mode="after")
    def _one_source(self) -> "DataSpec":
        if self.file is not None and self.dataset is not None and self.dataset != "harris2024":
            raise ValueError("give only one of 'dataset' or 'file'")
        if self.treatment_arm == self.control_arm:
            raise ValueError("treatment_arm and control_arm must differ")
        return self

    @field_validator("strata")
    @classmethod
    def _strata_labels(cls, v: list[str]) -> list[str]:
        from ..data.vocab import valid_population

        bad = [s for s in v if not valid_population(s) or s == "all"]
        if bad:
            raise ValueError(f"unknown stratum label(s) {bad}: use 'edss_<lo>-<hi>' e.g. 'edss_6.0-6.5'")
        if len(set(v)) != len(v):
            raise ValueError("strata must be unique")
        return v


class PatientSpec(StrictModel):
    """Patient-level model input: the data layer's synthetic generator, or a user table."""

    source: Literal["synthetic", "file"] = "synthetic"
    file: Path | None = None
    endpoint: Literal["t25fw", "6mwt"] = "t25fw"
    nu: float | None = Field(None, gt=0.0)
    allow_synthetic: bool = False

    @model_validator(mode="after")
    def _file(self) -> "PatientSpec":
        if self.source == "file" and self.file is None:
            raise ValueError("source 'file' needs 'file'")
        return self


class HierarchySpec(StrictModel):
    """Hierarchy and nuisance priors; SDs in MCID units of the endpoint on the analysis scale.

    ``prior_on``: which parameter carries the named prior (msbayes.models.hierarchy):
    ``stratum_effect`` (default; each stratum's effect has exactly the named prior, the
    between-stratum share of its variance ~ Beta(``between_share``)) or ``mean_effect`` (the
    prior on the mean effect, ``tau ~ HalfNormal(tau_prior_sd)``: stratum effects are wider).
    """

    prior_on: Literal["stratum_effect", "mean_effect"] = "stratum_effect"
    between_share: tuple[float, float] = (1.0, 1.0)
    tau_prior_sd: float = Field(1.0, gt=0.0)
    endpoint_correlation: float = Field(0.0, ge=0.0, lt=1.0)
    control_prior_sd: float = Field(6.0, gt=0.0)
    sigma_prior_sd: float = Field(10.0, gt=0.0)
    binary_control_sd: float = Field(2.0, gt=0.0)

    @field_validator("between_share")
    @classmethod
    def _share(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(x) and x > 0 for x in v):
            raise ValueError(f"Beta(a, b) parameters must be positive and finite, got {list(v)}")
        return v


class SensitivitySpec(StrictModel):
    """Sensitivity analyses run next to the primary analysis (``sensitivity.csv``, ``analysis`` column).

    ``borrowing``: refit with the external studies' role switched (with vs without borrowing);
    ``subgroup_n``: refit with the smallest and the largest unreported subgroup sizes that
    reproduce the reported p-values (Welch);
    ``between_share``: refit the stratum hierarchy with other Beta(a, b) priors of the
    between-stratum share (``prior_on: stratum_effect``) ; ``tau_prior_sd``: other half-normal
    scales of tau in MCID units (``prior_on: mean_effect``); ``models``: which models get them.
    ``mcid``: extra thresholds (log scale, per endpoint) at which P(effect > threshold) is
    reported in ``mcid_sensitivity.csv`` (no refit).
    """

    models: list[Literal["summary_log", "summary_pct", "binary", "patient", "effects"]] = Field(
        default_factory=lambda: ["summary_log"])
    borrowing: bool = True
    subgroup_n: bool = True
    between_share: list[tuple[float, float]] = Field(default_factory=lambda: [(1.0, 4.0), (4.0, 1.0)])
    tau_prior_sd: list[float] = Field(default_factory=lambda: [0.5, 3.0])
    mcid: dict[Literal["t25fw", "6mwt", "edss_plus"], list[float]] = Field(default_factory=lambda: {
        "t25fw": [math.log(1.1), math.log(1.2), math.log(1.3)],
        "6mwt": [math.log(1.04), math.log(1.08), math.log(1.12)],
        "edss_plus": [math.log(1.5), math.log(2.0), math.log(3.0)],
    })

    @field_validator("between_share")
    @classmethod
    def _shares(cls, v):
        for ab in v:
            if not all(math.isfinite(x) and x > 0 for x in ab):
                raise ValueError(f"Beta(a, b) parameters must be positive and finite, got {list(ab)}")
        return v

    @field_validator("tau_prior_sd")
    @classmethod
    def _taus(cls, v):
        if any(not (math.isfinite(x) and x > 0) for x in v):
            raise ValueError(f"must be positive and finite, got {v}")
        return v

    @field_validator("mcid")
    @classmethod
    def _mcids(cls, v):
        for k, xs in v.items():
            if any(not (math.isfinite(x) and x > 0) for x in xs):
                raise ValueError(f"{k}: thresholds must be positive and finite (log scale), got {xs}")
        return v


class SamplerSpec(StrictModel):
    backend: Literal["auto", "nutpie", "pymc"] = "auto"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(2, ge=1, le=16)
    cores: int = Field(2, ge=1, le=64)
    target_accept: float = Field(0.9, gt=0.0, lt=1.0)
    prior_draws: int = Field(1000, ge=10)


class PctMcidSpec(StrictModel):
    """MCIDs on the published "% improvement" scale (defaults: msbayes.data.scales.MCID_PCT)."""

    t25fw: float = Field(100.0 * (1.0 - 1.0 / 1.2), gt=0.0)  # 20 % speed = 16.67 % time improvement
    mwt6: float = Field(8.0, gt=0.0, alias="6mwt")


class McidSpec(StrictModel):
    """MCIDs: log scales (log speed ratio, log distance ratio, log odds ratio) and % scale."""

    t25fw: float = Field(math.log(1.2), gt=0.0)
    mwt6: float = Field(math.log(1.08), gt=0.0, alias="6mwt")
    edss_plus: float = Field(math.log(2.0), gt=0.0)
    pct: PctMcidSpec = Field(default_factory=PctMcidSpec)

    def of(self, endpoint: str, scale: str = "log") -> float:
        """MCID of ``endpoint`` on ``scale`` (``"log"`` or ``"pct"``)."""
        if scale == "pct":
            return {"t25fw": self.pct.t25fw, "6mwt": self.pct.mwt6}[endpoint]
        return {"t25fw": self.t25fw, "6mwt": self.mwt6, "edss_plus": self.edss_plus}[endpoint]


class EffectsSpec(StrictModel):
    """Estimate-and-SE input (model ``effects``): a table of reported effects with their SEs.

    ``file``: CSV/Parquet with columns ``study, endpoint, population, scale, estimate, se``
    (optional ``higher_is_better``, default true: a false row is sign-flipped so that
    positive = better); any endpoint name and scale. ``mcid``: per endpoint, on its scale
    (needed for endpoints other than t25fw / 6mwt / edss_plus; priors are in MCID units).
    ``pooling``: ``hierarchical`` (stratum hierarchy) or ``none`` (independent effects: the
    exact normal-normal update). ``strata``: extra populations to predict (no data).
    """

    file: Path | None = None
    mcid: dict[str, float] = Field(default_factory=dict)
    pooling: Literal["hierarchical", "none"] = "hierarchical"
    strata: list[str] = Field(default_factory=list)

    @field_validator("mcid")
    @classmethod
    def _pos(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not (math.isfinite(x) and x > 0)}
        if bad:
            raise ValueError(f"MCIDs must be positive and finite, got {bad}")
        return v


class DiagnosticsSpec(StrictModel):
    rhat_max: float = Field(1.01, gt=1.0)
    ess_min: float = Field(400.0, gt=0.0)
    max_divergences: int = Field(0, ge=0)


class CustomPrior(StrictModel):
    """A user prior on the effect: N(mean, sd^2) in MCID units (default) or absolute units."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    mean: float
    sd: float = Field(gt=0.0)
    units: Literal["mcid", "absolute"] = "mcid"

    @field_validator("name")
    @classmethod
    def _not_preset(cls, v: str) -> str:
        if v in PRIORS:
            raise ValueError(f"{v!r} is a preset name; give a custom prior another name")
        return v

    @field_validator("mean", "sd")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be finite")
        return v

    def preset(self) -> PriorPreset:
        return PriorPreset(self.name, self.mean, self.sd, self.units, "custom (config)")




class FitConfig(StrictModel):
    """Validated ``msbayes fit`` config (see docs/models.md for every key)."""

    name: str = Field(min_length=1)
    seed: Seed  # integer in [0, 2^63 - 1], as in every config
    data: DataSpec = Field(default_factory=DataSpec)
    assumed_n: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)
    models: list[ModelName] = Field(default_factory=lambda: list(DEFAULT_MODELS), min_length=1)
    priors: list[str | CustomPrior] = Field(
        default_factory=lambda: ["skeptical", "neutral", "enthusiastic"], min_length=1
    )
    hierarchy: HierarchySpec = Field(default_factory=HierarchySpec)
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    mcid: McidSpec = Field(default_factory=McidSpec)
    patient: PatientSpec = Field(default_factory=PatientSpec)
    diagnostics: DiagnosticsSpec = Field(default_factory=DiagnosticsSpec)
    sensitivity: SensitivitySpec = Field(default_factory=SensitivitySpec)
    effects: EffectsSpec = Field(default_factory=EffectsSpec)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("models must be unique")
        return v


    @field_validator("priors")
    @classmethod
    def _known_priors(cls, v: list[Any]) -> list[Any]:
        names = []
        for p in v:
            if isinstance(p, str):
                if p not in PRIORS:
                    raise ValueError(f"unknown prior {p!r} (allowed presets: {sorted(PRIORS)}; or a mapping "
                                     "{name, mean, sd, units} for a custom prior)")
                names.append(p)
            else:
                names.append(p.name)
        if len(set(names)) != len(names):
            raise ValueError("prior names must be unique")
        return v

    def prior_presets(self) -> list[PriorPreset]:
        """The configured priors as :class:`PriorPreset` objects, in config order."""
        return [PRIORS[p] if isinstance(p, str) else p.preset() for p in self.priors]

    def n_for(self, population: str, endpoint: str, arm: str) -> int | None:
        return self.assumed_n.get(population, {}).get(endpoint, {}).get(arm)


def _check_files(cfg: FitConfig, base: Path | None) -> FitConfig:
    """Check assumed sizes, resolve relative paths against the config's folder, refuse missing files."""
    from ..data.builtin import list_datasets

    from ..data.vocab import valid_population

    errors: list[tuple[str, str]] = []
    known = list_datasets()
    if "patient" in cfg.models and cfg.patient.source == "synthetic" and not cfg.patient.allow_synthetic:
        errors.append(("patient.allow_synthetic",
                       "the patient-level model on synthetic data is a method demonstration, not evidence; "
                       "set patient.allow_synthetic: true to run it anyway, or give real data with "
                       "patient.source: file (or drop 'patient' from models)"))
    for pop, eps in cfg.assumed_n.items():
        if not valid_population(pop):
            errors.append((f"assumed_n.{pop}", "unknown stratum label (use 'all' or 'edss_<lo>-<hi>')"))
        for ep, arms in eps.items():
            if ep not in ("t25fw", "6mwt", "edss_plus"):
                errors.append((f"assumed_n.{pop}.{ep}", "unknown endpoint (allowed: t25fw, 6mwt, edss_plus)"))
            for arm, n in arms.items():
                if arm not in KNOWN_ARMS:
                    errors.append((f"assumed_n.{pop}.{ep}.{arm}", f"unknown arm (allowed: {', '.join(KNOWN_ARMS)})"))
                elif n < 2:
                    errors.append((f"assumed_n.{pop}.{ep}.{arm}", f"n must be >= 2, got {n}"))

    def resolve(p: Path | None, field: str) -> Path | None:
        if p is None:
            return None
        q = p if p.is_absolute() or base is None else (base / p)
        if not q.is_file():
            errors.append((field, f"data file not found: {q}"))
        return q

    data_file = resolve(cfg.data.file, "data.file")
    if cfg.data.file is None and cfg.data.dataset not in known:
        errors.append(("data.dataset", f"unknown data set {cfg.data.dataset!r} (allowed: {', '.join(known)})"))
    ext = []
    for i, e in enumerate(cfg.data.external):
        f = resolve(e.file, f"data.external[{i}].file")
        if e.dataset is not None and e.dataset not in known:
            errors.append((f"data.external[{i}].dataset", f"unknown data set {e.dataset!r} (allowed: {', '.join(known)})"))
        ext.append(e.model_copy(update={"file": f}))
    efile = cfg.effects.file
    if "effects" in cfg.models:
        if cfg.effects.file is None:
            errors.append(("effects.file", "model 'effects' needs a table of reported effects and SEs"))
        else:
            efile = resolve(cfg.effects.file, "effects.file")
    pfile = resolve(cfg.patient.file, "patient.file") if cfg.patient.source == "file" and "patient" in cfg.models else cfg.patient.file
    if errors:
        raise ConfigError("invalid configuration\n" + "\n".join(f"  - {f}: {m}" for f, m in errors), errors)
    data = cfg.data.model_copy(update={"file": data_file, "external": ext})
    return cfg.model_copy(update={"data": data, "patient": cfg.patient.model_copy(update={"file": pfile}),
                                  "effects": cfg.effects.model_copy(update={"file": efile})})


def validate_fit_config(raw: dict[str, Any], *, source: str = "config", base_dir: Path | None = None) -> FitConfig:
    """Validate a mapping into a :class:`FitConfig`; raise ConfigError naming each bad field.

    Parameters
    ----------
    raw : dict
        Parsed YAML.
    source : str
        Shown in error messages (usually the file name).
    base_dir : Path, optional
        Folder relative data paths are resolved against (the config's folder).
    """
    cfg = validate_config(FitConfig, raw, source=source)
    try:
        return _check_files(cfg, base_dir)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}", exc.errors) from None


def load_fit_config(path: str | Path) -> tuple[FitConfig, str]:
    """Read and validate a fit config file; return ``(config, exact text)``."""
    raw, text = load_yaml(path)
    return validate_fit_config(raw, source=str(path), base_dir=Path(path).resolve().parent), text
