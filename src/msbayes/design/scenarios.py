"""Scenarios: where the true treatment effect of each simulated trial comes from.

A scenario is one of (chosen by the key present):

``{effect: 0.182}``
    fixed effect (``effect`` may also map stratum -> effect);
``{normal: {mean: 0.15, sd: 0.1}}``
    normal design prior (one draw per trial, common to all strata);
``{mixture: {weights: [...], means: [...], sds: [...]}}``
    normal-mixture design prior;
``{from_fit: posterior.nc, model: ..., prior: ..., mode: draws | mixture, ...}``
    the re-analysis posterior (see :mod:`msbayes.design.prior`).

:func:`effect_sampler` turns a scenario into an :class:`EffectSampler` whose
``sample(n, rng=...)`` returns true effects with shape ``(n, n_strata)``.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.scenarios import FixedScenario, effect_sampler
>>> from msbayes.design.endpoint import EndpointSpec
>>> s = effect_sampler(FixedScenario(effect=0.18), EndpointSpec(sd=0.35))
>>> s.sample(3, rng=np.random.default_rng(0)).shape, s.kind
((3, 1), 'fixed')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator

from msbayes.config import ConfigError, StrictModel

from .endpoint import EndpointSpec
from .prior import (
    MixtureSpec,
    NormalSpec,
    discount_mixture,
    fit_normal_mixture,
    load_effect_draws,
    robustify,
    sample_mixture,
)

__all__ = [
    "FixedScenario",
    "NormalScenario",
    "MixtureScenario",
    "FitScenario",
    "ScenarioSpec",
    "EffectSampler",
    "effect_sampler",
    "scenario_kind",
]


def scenario_kind(spec, endpoint: EndpointSpec) -> tuple[str, float]:
    """``(kind, true_effect)`` of a scenario without reading any file.

    ``kind`` is ``"fixed"`` (``true_effect`` = enrolment-weighted effect) or
    ``"design_prior"`` (``true_effect`` = NaN).

    >>> scenario_kind(FixedScenario(effect=0.2), EndpointSpec(sd=0.3))
    ('fixed', 0.2)
    """
    if isinstance(spec, FixedScenario):
        if isinstance(spec.effect, dict):
            w = dict(zip(endpoint.stratum_names, endpoint.stratum_weights))
            return "fixed", float(sum(w.get(k, 0.0) * v for k, v in spec.effect.items()))
        return "fixed", float(spec.effect)
    return "design_prior", math.nan


class FixedScenario(StrictModel):
    """Fixed true effect (a number, or a mapping stratum -> number)."""

    effect: float | dict[str, float]

    @field_validator("effect")
    @classmethod
    def _finite(cls, v):
        vals = v.values() if isinstance(v, dict) else [v]
        if any(not math.isfinite(x) for x in vals):
            raise ValueError("effects must be finite")
        return v


class NormalScenario(StrictModel):
    """Normal design prior on the effect."""

    normal: NormalSpec


class MixtureScenario(StrictModel):
    """Normal-mixture design prior on the effect."""

    mixture: MixtureSpec


class FitScenario(StrictModel):
    """Design prior from the re-analysis posterior (``posterior.nc``).

    ``endpoint=None`` uses the config's endpoint name. ``population=None`` reads one column per
    endpoint stratum (names must match the fit's populations) jointly; a population name uses
    that population's effect for every stratum. ``mode=draws`` resamples draws (joint across
    strata); ``mode=mixture`` fits an ``n_components`` normal mixture by EM (one population
    only). ``discount`` in (0, 1] divides the variance by ``discount``; ``robust_weight`` puts
    that weight on a vague component ``N(robust_mean, robust_sd^2)`` (defaults: the posterior
    mean and the unit-information SD ``endpoint.sd * sqrt(2)``).
    """

    from_fit: str
    model: str
    prior: str
    endpoint: str | None = None
    population: str | None = None
    mode: Literal["draws", "mixture"] = "draws"
    n_components: int = Field(default=2, ge=1, le=10)
    robust_weight: float = Field(default=0.0, ge=0, lt=1)
    robust_mean: float | None = None
    robust_sd: float | None = Field(default=None, gt=0)
    discount: float = Field(default=1.0, gt=0, le=1)


def _scenario_tag(v: Any) -> str | None:
    keys = set(v) if isinstance(v, dict) else {k for k in ("effect", "normal", "mixture", "from_fit") if hasattr(v, k)}
    for k in ("from_fit", "normal", "mixture", "effect"):
        if k in keys:
            return k
    return None


ScenarioSpec = Annotated[
    Union[
        Annotated[FixedScenario, Tag("effect")],
        Annotated[NormalScenario, Tag("normal")],
        Annotated[MixtureScenario, Tag("mixture")],
        Annotated[FitScenario, Tag("from_fit")],
    ],
    Discriminator(
        _scenario_tag,
        custom_error_type="scenario_kind",
        custom_error_message="a scenario needs exactly one of the keys: effect, normal, mixture, from_fit",
    ),
]


@dataclass(frozen=True)
class EffectSampler:
    """Draws true effects ``(n, n_strata)`` for one scenario.

    ``kind`` is ``"fixed"`` or ``"design_prior"``; ``true_effect`` the fixed value (weighted
    over strata) or NaN; ``strata`` the stratum names (columns).
    """

    kind: Literal["fixed", "design_prior"]
    strata: tuple[str, ...]
    true_effect: float
    _fixed: np.ndarray | None = None
    _draws: np.ndarray | None = None
    _mix: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _robust: tuple[float, np.ndarray, float] | None = None  # (weight, means per stratum, sd)
    _discount: tuple[np.ndarray, float] | None = None  # (centre per stratum, discount)
    description: str = ""
    meta: dict = field(default_factory=dict)

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """True effects, shape ``(n, n_strata)``."""
        k = len(self.strata)
        if self._fixed is not None:
            return np.broadcast_to(self._fixed, (n, k)).copy()
        if self._mix is not None:
            th = sample_mixture(n, *self._mix, rng=rng)
            return np.repeat(th[:, None], k, axis=1)
        draws = self._draws
        idx = rng.integers(0, draws.shape[0], size=n)
        out = draws[idx]
        if draws.shape[1] == 1 and k > 1:
            out = np.repeat(out, k, axis=1)
        else:
            out = out.copy()
        if self._discount is not None:
            centre, d = self._discount
            out = centre + (out - centre) / math.sqrt(d)
        if self._robust is not None:
            w, rmean, rsd = self._robust
            vague = rng.random(n) < w
            z = rng.standard_normal(n)
            out[vague] = rmean + rsd * z[vague, None]
        return out


def _resolve(path: str, base_dir: Path | None) -> Path:
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def effect_sampler(
    spec, endpoint: EndpointSpec, *, base_dir: Path | None = None, name: str = "scenario"
) -> EffectSampler:
    """Build the :class:`EffectSampler` of a scenario spec (reads the fit if needed).

    Raises
    ------
    ConfigError
        Unknown strata, missing fit file, unmatched estimand, mixture mode with several strata.
    """
    strata = tuple(endpoint.stratum_names)
    w = endpoint.stratum_weights
    if isinstance(spec, FixedScenario):
        if isinstance(spec.effect, dict):
            unknown = set(spec.effect) - set(strata)
            missing = set(strata) - set(spec.effect)
            if unknown or missing:
                raise ConfigError(
                    f"scenarios.{name}.effect: keys must be the endpoint strata {list(strata)}; "
                    f"unknown {sorted(unknown)}, missing {sorted(missing)}",
                    [(f"scenarios.{name}.effect", "strata mismatch")],
                )
            vals = np.array([spec.effect[s] for s in strata], dtype=float)
        else:
            vals = np.full(len(strata), float(spec.effect))
        return EffectSampler("fixed", strata, float(np.dot(w, vals)), _fixed=vals, description=f"fixed {vals.tolist()}")
    if isinstance(spec, NormalScenario):
        mix = (np.ones(1), np.array([spec.normal.mean]), np.array([spec.normal.sd]))
        return EffectSampler("design_prior", strata, math.nan, _mix=mix, description=f"N({spec.normal.mean}, {spec.normal.sd}^2)")
    if isinstance(spec, MixtureScenario):
        m = spec.mixture
        return EffectSampler("design_prior", strata, math.nan, _mix=(m.weights_array, m.means_array, m.sds_array), description="mixture")
    if isinstance(spec, FitScenario):
        path = _resolve(spec.from_fit, base_dir)
        ep_name = spec.endpoint or endpoint.name
        fld = f"scenarios.{name}"
        if spec.population is None and len(strata) > 1:
            d = load_effect_draws(path, model=spec.model, prior=spec.prior, endpoint=ep_name)
            missing = [s for s in strata if s not in d.populations]
            if missing:
                raise ConfigError(
                    f"{fld}.population: endpoint strata {missing} not among the fit's populations "
                    f"{list(d.populations)}; name the strata like the fit or set population",
                    [(f"{fld}.population", "strata not in fit")],
                )
            cols = [d.populations.index(s) for s in strata]
            draws = d.values[:, cols]
        else:
            d = load_effect_draws(path, model=spec.model, prior=spec.prior, endpoint=ep_name, population=spec.population)
            if d.values.shape[1] != 1:
                raise ConfigError(
                    f"{fld}.population: the fit has several populations {list(d.populations)} for this "
                    f"estimand; choose one (allowed: {list(d.populations)})",
                    [(f"{fld}.population", "ambiguous")],
                )
            draws = d.values
        centre = draws.mean(axis=0)
        rsd = spec.robust_sd if spec.robust_sd is not None else endpoint.unit_information_sd
        rmean = np.full(draws.shape[1], spec.robust_mean) if spec.robust_mean is not None else centre
        meta = {"from_fit": str(path), "n_draws": int(draws.shape[0])}
        if spec.mode == "mixture":
            if draws.shape[1] > 1:
                raise ConfigError(
                    f"{fld}.mode: 'mixture' needs a single population; use mode 'draws' for joint strata",
                    [(f"{fld}.mode", "mixture with several strata")],
                )
            mix = fit_normal_mixture(draws[:, 0], n_components=spec.n_components)
            mix = discount_mixture(*mix, spec.discount)
            mix = robustify(*mix, weight=spec.robust_weight, mean=float(rmean[0]), sd=rsd)
            meta.update(weights=mix[0].tolist(), means=mix[1].tolist(), sds=mix[2].tolist())
            return EffectSampler("design_prior", strata, math.nan, _mix=mix, description="fitted mixture", meta=meta)
        return EffectSampler(
            "design_prior",
            strata,
            math.nan,
            _draws=draws,
            _robust=(spec.robust_weight, rmean, rsd) if spec.robust_weight > 0 else None,
            _discount=(centre, spec.discount) if spec.discount < 1 else None,
            description="posterior draws",
            meta=meta,
        )
    raise TypeError(f"unknown scenario spec {type(spec).__name__}")
