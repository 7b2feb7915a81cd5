"""Engine chunk function of ``design.type: enrichment`` (adaptive enrichment by stratum).

Per chunk: the true stratum effects of every trial are drawn from the scenario (fixed, or
joint draws across the two strata from a fit's posterior), then
:func:`msbayes.adaptive.simulate_enrichment` runs the adaptive trials with a seed taken from
the chunk's generator, and a **paired fixed comparator** is computed on common random numbers:
the all-comers two-arm trial with the same maximum n, which shares the adaptive trial's
stage-1 patients (the same stratum counts and treatment-control differences) and enrols the
rest of its patients across both strata (multinomial or fixed counts, as the design). Its
final test: the one-sided z test of ``theta_F > 0`` at ``final.alpha`` on the
prevalence-weighted (or pooled) estimate of all its patients, or, with ``bayesian_shrinkage``,
``P(theta_F > 0 | data) > cutoff`` under the same hierarchical model.

Outcome keys (see ``docs/architecture.md``, "adaptive designs"): ``go`` (H_S or H_F rejected),
``reject_S``, ``reject_F``, ``select_S``, ``select_F``, ``select_both``, ``select_none``,
``stopped_early``, ``fwer`` (a true null rejected: ``theta_S <= 0`` or ``theta_F <= 0`` for
that trial), ``go_fixed``, ``fwer_fixed`` (its H_F rejected with ``theta_F <= 0``), ``go_diff`` (= go - go_fixed, float), ``n_stratum_<name>`` and
``n_total`` (floats), ``true_S``, ``true_F`` (floats); ``draw_batch`` / ``n_draw_batches`` for
the design-prior part of the MCSE.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> cfg = validate_sim_config({"name": "e", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "enrichment", "n_per_arm": 120, "subpopulation": "s",
...                "strata": {"r": 0.5, "s": 0.5}},
...     "scenarios": {"null": {"effect": 0.0}}})
>>> out = simulate_chunk(cfg, "null", 1000, np.random.default_rng(1))
>>> sorted(k for k in out if k.startswith("select"))
['select_F', 'select_S', 'select_both', 'select_none']
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy import special

from msbayes.adaptive.enrichment import BayesFinal, _population_stats, hierarchical_prob_positive, simulate_enrichment
from msbayes.design.adaptive import BayesFinalSpec, EnrichmentDesign, combination_design
from msbayes.design.scenarios import EffectSampler, effect_sampler

__all__ = ["simulate_chunk", "core_kwargs", "stratum_sampler", "fixed_comparator"]

_SAMPLERS: "OrderedDict[int, tuple[object, dict[str, EffectSampler]]]" = OrderedDict()


def stratum_sampler(cfg, scenario: str) -> EffectSampler:
    """The scenario's effect sampler with the design's strata as columns (cached per config).

    Columns in ``cfg.design.strata`` order; a ``from_fit`` scenario without ``population``
    reads the two strata jointly from the fit (names must match the fit's populations).
    """
    key = id(cfg)
    if key not in _SAMPLERS or _SAMPLERS[key][0] is not cfg:
        _SAMPLERS[key] = (cfg, {})
        while len(_SAMPLERS) > 16:
            _SAMPLERS.popitem(last=False)
    per = _SAMPLERS[key][1]
    if scenario not in per:
        ep = cfg.endpoint.model_copy(update={"strata": dict(cfg.design.strata)})
        per[scenario] = effect_sampler(cfg.scenarios[scenario], ep, name=scenario)
    return per[scenario]


def core_kwargs(cfg) -> dict:
    """Keyword arguments of :func:`msbayes.adaptive.simulate_enrichment` for ``cfg`` (no effects, seed, size)."""
    d: EnrichmentDesign = cfg.design
    sel = d.selection
    cand = ("S", "F") if sel.candidates is None else tuple(
        "S" if c == d.subpopulation else "F" for c in sel.candidates)
    kw = dict(prevalences=d.prevalences, n_per_stage=tuple(2 * n for n in d.stage_sizes_per_arm()),
              sd=cfg.endpoint.sd, allocation_ratio=1.0, counts=d.counts, selection=sel.rule,
              effect_measure=sel.effect_measure, epsilon=sel.epsilon, threshold=sel.threshold,
              candidates=cand, selection_prior=sel.selection_prior, f_estimator=d.f_estimator)
    if isinstance(d.final, BayesFinalSpec):
        f = d.final
        kw.update(final="bayes", bayes=BayesFinal(cutoff=f.cutoff, tau=f.tau, prior_mean=f.prior.mean,
                                                    prior_sd=f.prior.sd))
    else:
        kw.update(final="closed", intersection_test=d.intersection_test, design=combination_design(d),
                  success=d.final.success)
    return kw


def _columns_sr(cfg) -> list[int]:
    """Indices of (S, R) among the design's strata columns."""
    names = list(cfg.design.strata)
    return [names.index(cfg.design.subpopulation), names.index(cfg.design.other_stratum)]


def fixed_comparator(cfg, eff_sr: np.ndarray, n1: np.ndarray, d1: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``go`` of the all-comers fixed design sharing the stage-1 data ``(n1, d1)`` (both (m, 2), S then R).

    The remaining ``2 n_per_arm - sum(n1)`` patients (both arms, 1:1) are enrolled across the
    strata; the stratum differences of all patients are pooled, ``theta_F`` is estimated as in
    the adaptive design (``f_estimator``) and tested as described in the module docstring.
    """
    d: EnrichmentDesign = cfg.design
    m = eff_sr.shape[0]
    prev = np.asarray(d.prevalences)
    sd = cfg.endpoint.sd
    c = 0.25  # 1:1 allocation: r / (1 + r)^2
    n_rest = 2 * d.n_per_arm - 2 * d.stage_sizes_per_arm()[0]
    if d.counts == "fixed":
        n2 = np.broadcast_to(n_rest * prev, (m, 2)).astype(float)
    else:
        n2 = rng.multinomial(int(n_rest), prev, size=m).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d2 = eff_sr + rng.standard_normal((m, 2)) * sd / np.sqrt(np.maximum(n2, 1e-300) * c)
        d2 = np.where(n2 > 0, d2, 0.0)
        n = n1 + n2
        dbar = np.where(n > 0, (n1 * d1 + n2 * d2) / n, 0.0)
    if isinstance(d.final, BayesFinalSpec):
        f = d.final
        b = BayesFinal(cutoff=f.cutoff, tau=f.tau, prior_mean=f.prior.mean, prior_sd=f.prior.sd)
        return hierarchical_prob_positive(dbar, n * c / sd**2, prev, b)[:, 1] > f.cutoff
    _, _, z, _, _ = _population_stats(dbar, n, np.array([sd, sd]), c, d.f_estimator, prev)
    return special.ndtr(-z[:, 1]) < d.final.alpha


def simulate_chunk(cfg, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` adaptive enrichment trials of ``cfg`` under ``scenario``; per-trial outcomes."""
    d: EnrichmentDesign = cfg.design
    sampler = stratum_sampler(cfg, scenario)
    theta, batch = sampler.sample_with_batch(n, rng=rng)
    eff_sr = np.ascontiguousarray(theta[:, _columns_sr(cfg)])
    seed = np.random.SeedSequence(int(rng.integers(0, 2**63)))
    r = simulate_enrichment(eff_sr, n_sims=n, seed=seed, chunk_size=max(n, 1), **core_kwargs(cfg))
    go_fixed = fixed_comparator(cfg, eff_sr, r.interim["n_stratum"], r.interim["d_stratum"], rng)
    rej = r.rejected
    go = rej.any(axis=1)
    s, f = r.selected[:, 0], r.selected[:, 1]
    out = {
        "go": go,
        "reject_S": rej[:, 0].copy(),
        "reject_F": rej[:, 1].copy(),
        "select_S": s.copy(),
        "select_F": f.copy(),
        "select_both": s & f,
        "select_none": r.no_selection.copy(),
        "stopped_early": r.stopped_early.copy(),
        "fwer": (rej & (r.theta <= 0)).any(axis=1),
        "go_fixed": go_fixed,
        "fwer_fixed": go_fixed & (r.theta[:, 1] <= 0),
        "go_diff": go.astype(float) - go_fixed.astype(float),
        f"n_stratum_{d.subpopulation}": r.n_stratum[:, 0].copy(),
        f"n_stratum_{d.other_stratum}": r.n_stratum[:, 1].copy(),
        "n_total": r.n_stratum.sum(axis=1),
        "true_S": r.theta[:, 0].copy(),
        "true_F": r.theta[:, 1].copy(),
    }
    if batch is not None:
        out["draw_batch"] = batch
    out["n_draw_batches"] = sampler.n_batches
    return out
