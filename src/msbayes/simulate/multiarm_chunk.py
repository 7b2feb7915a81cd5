"""Engine chunk function of ``design.type: multi_arm`` (dose selection at the interim).

Per chunk: the true effect of every dose is drawn from the scenario (a number is the effect
at ``design.reference_dose`` spread over the doses by the fixed ``design.dose_response``
shape, as in ``dose_finding``; a mapping gives each dose's effect), then
:func:`msbayes.adaptive.simulate_multiarm` runs the adaptive trials with a seed taken from the
chunk's generator, and a **paired fixed comparator** is computed on common random numbers:
all doses kept to the end (the same maximum n per arm, no selection), one final analysis on
all patients, the closed test of the dose hypotheses with the design's intersection test at
``final.alpha`` (for Dunnett: the step-down Dunnett test). It shares the adaptive trial's
stage-1 data; the rest is drawn afresh.

Outcome keys (``docs/architecture.md``, "adaptive designs"): ``go`` (any dose rejected),
``selected_dose{d}``, ``rejected_dose{d}`` (bool, ``d`` = 0-based active dose; gathered into
``p_selected`` / ``p_rejected`` over the ``dose`` dimension), ``n_arm{d}`` and ``n_control``
(float), ``n_total``, ``select_none``, ``stopped_early``, ``reject_best`` (the truly best dose
rejected), ``fwer``, ``go_fixed``, ``fwer_fixed``, ``go_diff``; ``draw_batch`` / ``n_draw_batches``.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> cfg = validate_sim_config({"name": "m", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "multi_arm", "doses": [0, 3, 6], "n_per_arm": 40},
...     "scenarios": {"null": {"effect": {"3": 0.0, "6": 0.0}}}})
>>> out = simulate_chunk(cfg, "null", 500, np.random.default_rng(1))
>>> sorted(k for k in out if k.startswith("rejected"))
['rejected_dose0', 'rejected_dose1']
"""

from __future__ import annotations

import numpy as np
from scipy import special

from msbayes.adaptive import intersection_members, intersection_pvalues, simulate_multiarm
from msbayes.design.adaptive import MultiArmDesign, combination_design
from msbayes.design.doseresponse import anchored_effects
from msbayes.design.scenarios import FixedScenario

__all__ = ["simulate_chunk", "core_kwargs", "dose_effects", "fixed_comparator"]


def dose_effects(cfg, scenario: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, int]:
    """True effects ``(n, G)`` of the doses, the draw batch of each trial (or None) and the number of batches."""
    from .twoarm import scenario_sampler

    d: MultiArmDesign = cfg.design
    spec = cfg.scenarios[scenario]
    G = len(d.doses) - 1
    per_dose = getattr(spec, "per_dose", None)
    if per_dose is None and isinstance(spec, FixedScenario) and isinstance(spec.effect, dict):
        per_dose = spec.effect
    if per_dose is not None:
        vals = np.array([per_dose[lab] for lab in d.arm_labels], dtype=float)
        return np.broadcast_to(vals, (n, G)).copy(), None, 0
    sampler = scenario_sampler(cfg, scenario)
    theta, batch = sampler.sample_with_batch(n, rng=rng)
    ref = theta[:, 0]
    if d.dose_response is None:  # one dose (validated)
        return ref[:, None].copy(), batch, sampler.n_batches
    eff = anchored_effects(d.dose_response.model, d.doses, d_ref=d.reference_dose, theta_ref=ref,
                           shape=d.dose_response.fixed_shape())
    return np.asarray(eff)[:, 1:], batch, sampler.n_batches


def core_kwargs(cfg) -> dict:
    """Keyword arguments of :func:`msbayes.adaptive.simulate_multiarm` for ``cfg`` (no effects, seed, size)."""
    d: MultiArmDesign = cfg.design
    sel = d.selection
    cand = None if sel.candidates is None else [d.arm_labels.index(c) for c in sel.candidates]
    return dict(n_per_stage=tuple(d.stage_sizes_per_arm()), sd=cfg.endpoint.sd, allocation_ratio=d.allocation_ratio,
                selection={"r_best": "rbest"}.get(sel.rule, sel.rule), effect_measure=sel.effect_measure,
                r_best=sel.r, epsilon=sel.epsilon, threshold=sel.threshold, candidates=cand,
                selection_prior=sel.selection_prior, intersection_test=d.intersection_test,
                design=combination_design(d), success=d.final.success)


def fixed_comparator(cfg, eff: np.ndarray, d1: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rejections ``(m, G)`` of the fixed design (all doses, one analysis) sharing the stage-1 differences ``d1``."""
    d: MultiArmDesign = cfg.design
    m, G = eff.shape
    r = d.allocation_ratio
    sd = cfg.endpoint.sd
    n = d.stage_sizes_per_arm()
    n1, n_rest = float(n[0]), float(sum(n[1:]))
    xc = rng.standard_normal(m) * sd / np.sqrt(n_rest / r)
    xt = eff + rng.standard_normal((m, G)) * sd / np.sqrt(n_rest)
    dbar = (n1 * d1 + n_rest * (xt - xc[:, None])) / (n1 + n_rest)  # same weights in every arm and control
    N = n1 + n_rest
    z = dbar / (sd * np.sqrt(1 / N + r / N))
    members = intersection_members(G)
    kw = dict(z=z, loadings=np.full((m, G), np.sqrt(r / (1 + r)))) if d.intersection_test == "dunnett" else {}
    q = intersection_pvalues(special.ndtr(-z), members, d.intersection_test, **kw)
    ok = q <= d.final.alpha  # (m, n_intersections)
    return np.stack([np.all(ok[:, members[:, g]], axis=1) for g in range(G)], axis=1)


def simulate_chunk(cfg, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` multi-arm trials of ``cfg`` under ``scenario``; per-trial outcomes."""
    d: MultiArmDesign = cfg.design
    eff, batch, n_batches = dose_effects(cfg, scenario, n, rng)
    seed = np.random.SeedSequence(int(rng.integers(0, 2**63)))
    res = simulate_multiarm(eff, n_sims=n, seed=seed, chunk_size=max(n, 1), **core_kwargs(cfg))
    rej_fixed = fixed_comparator(cfg, eff, res.interim["d"], rng)
    G = eff.shape[1]
    go = res.rejected.any(axis=1)
    go_fixed = rej_fixed.any(axis=1)
    out: dict[str, np.ndarray] = {"go": go}
    for g in range(G):
        out[f"selected_dose{g}"] = res.selected[:, g].copy()
        out[f"rejected_dose{g}"] = res.rejected[:, g].copy()
        out[f"n_arm{g}"] = res.n_arm[:, g].copy()
    best = np.argmax(eff, axis=1)
    out.update({
        "n_control": res.n_arm[:, G].copy(),
        "n_total": res.n_arm.sum(axis=1),
        "select_none": res.no_selection.copy(),
        "stopped_early": res.stopped_early.copy(),
        "reject_best": res.rejected[np.arange(n), best],
        "fwer": (res.rejected & (eff <= 0)).any(axis=1),
        "fwer_fixed": (rej_fixed & (eff <= 0)).any(axis=1),
        "go_fixed": go_fixed,
        "go_diff": go.astype(float) - go_fixed.astype(float),
    })
    if batch is not None:
        out["draw_batch"] = batch
    out["n_draw_batches"] = n_batches
    return out
