"""Scenarios: where the true treatment effect of each simulated trial comes from.

A scenario is one of (chosen by the key present):

``{effect: 0.182}``
    fixed effect (``effect`` may also map stratum -> effect);
``{normal: {mean: 0.15, sd: 0.1}}``
    normal design prior (one draw per trial, common to all strata);
``{mixture: {weights: [...], means: [...], sds: [...]}}``
    normal-mixture design prior;
``{slowing: 0.5}``
    disease-modifying effect: the treatment removes that fraction of the placebo decline,
    ``effect = -slowing * endpoint.placebo_mean`` (needs ``placebo_mean < 0``), so the effect
    moves with the placebo course;
``{from_fit: posterior.nc, model: ..., prior: ..., mode: draws | mixture, ...}``
    the re-analysis posterior (see :mod:`msbayes.design.prior`), as is or made less
    optimistic: ``shrink`` (skeptical: mean multiplied by ``shrink``, spread kept),
    ``discount``, ``robust_weight`` (vague component ``N(0, unit-information SD^2)``);
    strata the fit only *predicts* (status ``prediction``) get no effect unless
    ``unreported: predicted``.

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
from scipy import special

from msbayes.config import ConfigError, StrictModel

from .endpoint import EndpointSpec
from .prior import (
    MixtureSpec,
    NormalSpec,
    batch_means_variance,
    discount_mixture,
    draw_batches,
    fit_normal_mixture,
    load_effect_draws,
    mixture_cdf,
    robustify,
    sample_mixture,
    shrink_mixture,
)

__all__ = [
    "FixedScenario",
    "NormalScenario",
    "MixtureScenario",
    "FitScenario",
    "SlowingScenario",
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
    if isinstance(spec, SlowingScenario):
        return "fixed", slowing_effect(spec.slowing, endpoint)
    return "design_prior", math.nan


def slowing_effect(slowing: float, endpoint: EndpointSpec) -> float:
    """Effect of a treatment that removes the fraction ``slowing`` of the placebo decline.

    >>> slowing_effect(0.5, EndpointSpec(sd=0.3, placebo_mean=-0.2))
    0.1
    """
    return float(-slowing * endpoint.placebo_mean)


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


class SlowingScenario(StrictModel):
    """Disease-modifying truth: the treatment removes the fraction ``slowing`` of the placebo
    decline, so ``effect = -slowing * endpoint.placebo_mean`` (in every stratum).

    ``slowing`` is in (0, 1] (1: no decline on treatment). Needs ``endpoint.placebo_mean < 0``
    (a decline to slow); checked with the endpoint in :func:`effect_sampler` and at config
    validation.
    """

    slowing: float = Field(gt=0, le=1)


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
    only).

    Variants, applied in this order: ``unreported`` (``null_effect``, the default: a stratum
    whose status in the fit is ``prediction`` -- no data, effect only from the between-stratum
    distribution -- gets effect 0; ``predicted``: use the prediction); ``shrink`` in [0, 1]
    (skeptical: each draw moved by ``-(1 - shrink) * posterior mean`` of its stratum, so the
    mean is multiplied by ``shrink`` and the spread kept; 1 = as is); ``discount`` in (0, 1]
    (variance divided by ``discount`` about the mean); ``robust_weight`` (that weight on a vague
    component ``N(robust_mean, robust_sd^2)``, defaults 0 and the unit-information SD
    ``endpoint.sd * sqrt(2)``, RBesT's ``robustify`` convention).
    """

    from_fit: str
    model: str
    prior: str
    endpoint: str | None = None
    population: str | None = None
    mode: Literal["draws", "mixture"] = "draws"
    n_components: int = Field(default=2, ge=1, le=10)
    robust_weight: float = Field(default=0.0, ge=0, lt=1)
    robust_mean: float = 0.0
    robust_sd: float | None = Field(default=None, gt=0)
    discount: float = Field(default=1.0, gt=0, le=1)
    shrink: float = Field(default=1.0, ge=0, le=1)
    unreported: Literal["null_effect", "predicted"] = "null_effect"

    @field_validator("robust_mean", "robust_sd", "robust_weight", "discount", "shrink")
    @classmethod
    def _finite(cls, v):
        if v is not None and not math.isfinite(v):
            raise ValueError("must be finite")
        return v


def _scenario_tag(v: Any) -> str | None:
    keys = set(v) if isinstance(v, dict) else {k for k in ("effect", "normal", "mixture", "from_fit", "slowing") if hasattr(v, k)}
    for k in ("from_fit", "normal", "mixture", "slowing", "effect"):
        if k in keys:
            # tags are not input keys, so config errors name the field (scenarios.x.shrink),
            # not the tag key followed by nothing
            return f"{k}_scenario"
    return None


ScenarioSpec = Annotated[
    Union[
        Annotated[FixedScenario, Tag("effect_scenario")],
        Annotated[NormalScenario, Tag("normal_scenario")],
        Annotated[MixtureScenario, Tag("mixture_scenario")],
        Annotated[FitScenario, Tag("from_fit_scenario")],
        Annotated[SlowingScenario, Tag("slowing_scenario")],
    ],
    Discriminator(
        _scenario_tag,
        custom_error_type="scenario_kind",
        custom_error_message="a scenario needs exactly one of the keys: effect, normal, mixture, from_fit, slowing",
    ),
]


@dataclass(frozen=True)
class EffectSampler:
    """Draws true effects ``(n, n_strata)`` for one scenario.

    ``kind`` is ``"fixed"`` or ``"design_prior"``; ``true_effect`` the fixed value (weighted
    over strata) or NaN; ``strata`` the stratum names (columns). ``n_batches`` > 0 when the
    effects are resampled from a finite set of posterior draws: :meth:`sample_with_batch` then
    also says which contiguous batch of draws each trial's effect came from (for the
    design-prior part of the Monte Carlo error).
    """

    kind: Literal["fixed", "design_prior"]
    strata: tuple[str, ...]
    true_effect: float
    _fixed: np.ndarray | None = None
    _draws: np.ndarray | None = None
    _mix: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _robust: tuple[float, np.ndarray, float] | None = None  # (weight, means per stratum, sd)
    _discount: tuple[np.ndarray, float] | None = None  # (centre per stratum, discount)
    _shift: np.ndarray | None = None  # added to every draw (skeptical shrinkage), per stratum
    _rank_batch: np.ndarray | None = None  # mixture fitted to draws: draw batch by rank (K,)
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_batches(self) -> int:
        """Contiguous draw batches (0: effects not resampled from draws)."""
        if self._draws is not None:
            return draw_batches(self._draws.shape[0])
        if self._rank_batch is not None:
            return draw_batches(self._rank_batch.size)
        return 0

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """True effects, shape ``(n, n_strata)``."""
        return self.sample_with_batch(n, rng=rng)[0]

    def sample_with_batch(self, n: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """True effects ``(n, n_strata)`` and the draw batch of each (``None`` without draws).

        Same random stream as :meth:`sample`. A trial whose effect comes from the vague robust
        component keeps the batch of the draw index it was dealt (uniform, independent of its
        effect), so it counts as an independent trial in the batch-means variance.
        """
        k = len(self.strata)
        if self._fixed is not None:
            return np.broadcast_to(self._fixed, (n, k)).copy(), None
        if self._mix is not None:
            th = sample_mixture(n, *self._mix, rng=rng)
            batch = None
            if self._rank_batch is not None:
                # a mixture fitted to K draws: each trial is charged to the draw of equal rank
                # (CDF of the fitted mixture -> order statistic), so the batch-means MCSE
                # carries the draws' error as in mode: draws (slightly conservative: the
                # fitted mixture smooths the draws)
                kk = self._rank_batch.size
                r = np.minimum((mixture_cdf(th, *self._mix) * kk).astype(np.int64), kk - 1)
                batch = self._rank_batch[r]
            return np.repeat(th[:, None], k, axis=1), batch
        draws = self._draws
        idx = rng.integers(0, draws.shape[0], size=n)
        out = self._transformed(draws[idx], k)
        if self._robust is not None:
            w, rmean, rsd = self._robust
            vague = rng.random(n) < w
            z = rng.standard_normal(n)
            out[vague] = rmean + rsd * z[vague, None]
        kk = draws.shape[0]
        batch = (idx * self.n_batches) // kk
        return out, batch

    def _transformed(self, d: np.ndarray, k: int) -> np.ndarray:
        """Draws after shrinkage and discount (before robustification), ``(m, k)``."""
        out = np.repeat(d, k, axis=1) if d.shape[1] == 1 and k > 1 else d.copy()
        if self._shift is not None:
            out = out + self._shift
        if self._discount is not None:
            centre, dd = self._discount
            out = centre + (out - centre) / math.sqrt(dd)
        return out

    def prob_above(self, c: float, weights: np.ndarray) -> tuple[float, float]:
        """P(weighted true effect > c) under this scenario, with its Monte Carlo SE.

        ``weights`` are the stratum enrolment proportions (the estimand of the trial is the
        enrolment-weighted effect). Closed form for fixed, normal and mixture scenarios (SE 0);
        from posterior draws the share of draws above ``c`` with its batch-means SE, and the
        robust component exactly; for a mixture fitted to draws the closed form, with the
        batch-means SE of the share of draws above ``c`` (conservative: ignores smoothing and
        any robust weight).
        """
        w = np.asarray(weights, dtype=float)
        if self._fixed is not None:
            return float(np.dot(w, self._fixed) > c), 0.0
        if self._mix is not None:
            p = float(1.0 - mixture_cdf(c, *self._mix))
            if self._rank_batch is None:
                return p, 0.0
            # fitted to K draws: the SE of the share of draws above c (draws of rank >= K F(c)),
            # by batch means over the draws' own order (an approximation for the fitted form)
            rb = self._rank_batch
            kk, nb = rb.size, self.n_batches
            r0 = min(kk, max(0, int(math.ceil(kk * (1.0 - p)))))
            n_b = np.bincount(rb, minlength=nb).astype(float)
            s_b = np.bincount(rb[r0:], minlength=nb).astype(float)
            q = s_b.sum() / kk
            var = float(np.sum((s_b - q * n_b) ** 2) / (kk * kk) * nb / (nb - 1)) if nb >= 2 else q * (1 - q) / kk
            return p, math.sqrt(var)
        th = self._transformed(self._draws, len(self.strata)) @ w
        ind = (th > c).astype(float)
        p = float(ind.mean())
        var = batch_means_variance(ind)
        if not math.isfinite(var):
            var = p * (1 - p) / ind.size
        if self._robust is not None:
            rw, rmean, rsd = self._robust
            # the vague component is common to all strata: its weighted effect is N(rmean, rsd^2)
            pv = float(1.0 - special.ndtr((c - float(np.asarray(rmean).ravel()[0])) / rsd))
            return (1 - rw) * p + rw * pv, (1 - rw) * math.sqrt(var)
        return p, math.sqrt(var)


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
    if isinstance(spec, SlowingScenario):
        if not endpoint.placebo_mean < 0:
            raise ConfigError(
                f"scenarios.{name}.slowing: needs a placebo decline, endpoint.placebo_mean < 0 "
                f"(got {endpoint.placebo_mean}); the effect is -slowing * placebo_mean",
                [(f"scenarios.{name}.slowing", "needs endpoint.placebo_mean < 0")],
            )
        eff = slowing_effect(spec.slowing, endpoint)
        vals = np.full(len(strata), eff)
        return EffectSampler("fixed", strata, eff, _fixed=vals,
                             description=f"slowing {spec.slowing} of placebo decline {endpoint.placebo_mean}: effect {eff}")
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
        pops = [d.populations[c] for c in cols] if spec.population is None and len(strata) > 1 else list(d.populations)
        stat = [d.status[d.populations.index(p)] if d.status else "" for p in pops]
        predicted = sorted({p for p, st in zip(pops, stat) if st == "prediction"})
        meta = {"from_fit": str(path), "n_draws": int(draws.shape[0]), "fit_populations": pops,
                "fit_status": stat, "prediction_strata": predicted, "unreported": spec.unreported}
        if predicted and spec.unreported == "null_effect":
            draws = draws.copy()
            for c, st in enumerate(stat):
                if st == "prediction":
                    draws[:, c] = 0.0
            meta["null_effect_strata"] = predicted
            meta["label"] = f"no effect in unreported strata {predicted} (fit predictions not used)"
        elif predicted:
            meta["label"] = f"effects in strata {predicted} are predictions (no data in the re-analysis)"
        centre0 = draws.mean(axis=0)
        shift = -(1.0 - spec.shrink) * centre0 if spec.shrink < 1 else None
        centre = centre0 + (shift if shift is not None else 0.0)
        rsd = spec.robust_sd if spec.robust_sd is not None else endpoint.unit_information_sd
        rmean = np.full(draws.shape[1], spec.robust_mean)
        meta.update(shrink=spec.shrink, discount=spec.discount, robust_weight=spec.robust_weight,
                    robust_mean=spec.robust_mean, robust_sd=rsd)
        if spec.mode == "mixture":
            if draws.shape[1] > 1:
                raise ConfigError(
                    f"{fld}.mode: 'mixture' needs a single population; use mode 'draws' for joint strata",
                    [(f"{fld}.mode", "mixture with several strata")],
                )
            mix = fit_normal_mixture(draws[:, 0], n_components=spec.n_components)
            mix = shrink_mixture(*mix, spec.shrink)
            mix = discount_mixture(*mix, spec.discount)
            mix = robustify(*mix, weight=spec.robust_weight, mean=float(rmean[0]), sd=rsd)
            meta.update(weights=mix[0].tolist(), means=mix[1].tolist(), sds=mix[2].tolist())
            kk = draws.shape[0]
            order = np.argsort(draws[:, 0], kind="stable")
            rank_batch = (order * draw_batches(kk)) // kk
            rank_batch.setflags(write=False)
            return EffectSampler("design_prior", strata, math.nan, _mix=mix, _rank_batch=rank_batch,
                                 description="fitted mixture", meta=meta)
        return EffectSampler(
            "design_prior",
            strata,
            math.nan,
            _draws=draws,
            _robust=(spec.robust_weight, rmean, rsd) if spec.robust_weight > 0 else None,
            _discount=(centre, spec.discount) if spec.discount < 1 else None,
            _shift=shift,
            description="posterior draws",
            meta=meta,
        )
    raise TypeError(f"unknown scenario spec {type(spec).__name__}")


def inert_grid_axes(cfg) -> list[tuple[str, str]]:
    """Grid axes that cannot change any result of ``cfg``: ``[(field, reason)]``.

    ``endpoint.placebo_mean`` shifts both arms alike. Every two-arm analysis (difference in
    means, ANCOVA, conjugate normal on the difference; informative dropout depends on
    ``y - placebo_mean``) and MCP-Mod (contrasts sum to zero, models have an intercept) are
    invariant to that shift, so the axis only changes something if a scenario ties the effect
    to the placebo course (``slowing``) or the analysis has a prior on the placebo response
    (``bayes_emax``: ``prior_e0``).
    """
    out = []
    if "endpoint.placebo_mean" in cfg.grid:
        ties = any(isinstance(s, SlowingScenario) for s in cfg.scenarios.values())
        method = getattr(cfg.analysis, "method", "")
        if not ties and method != "bayes_emax":
            out.append((
                "grid.endpoint.placebo_mean",
                f"cannot change any result: with additive effects, analysis '{method}' is invariant to a "
                "shift of both arms (the placebo drift cancels in the treatment difference). Tie the effect "
                "to the placebo course with a scenario {slowing: fraction} (effect = -fraction * "
                "placebo_mean), or remove the axis",
            ))
    return out


def scenario_label(cfg, name: str) -> str:
    """Honesty label of a scenario ("" if none): says when a ``from_fit`` scenario uses fit
    *predictions* for strata without data, or sets them to no effect (``unreported``)."""
    spec = cfg.scenarios[name]
    if not isinstance(spec, FitScenario):
        return ""
    return str(effect_sampler(spec, cfg.endpoint, name=name).meta.get("label", ""))
