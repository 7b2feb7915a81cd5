"""Engine chunk function of ``design.type: rar`` (response-adaptive randomisation).

Per chunk: the true effect of every non-control arm is drawn from the scenario (as
``multi_arm``: a mapping by arm label, or one number spread over the doses by the fixed
``design.dose_response`` shape), then :func:`msbayes.adaptive.simulate_rar` runs the trials
with a seed taken from the chunk's generator (so one config seed gives the same numbers for
any worker count or backend), and the per-trial results are turned into outcome keys.

Outcome keys (``docs/architecture.md``, "adaptive designs"; ``d`` = 0-based non-control arm):

- ``go`` (bool): a dose declared superior to the control at a look (``comparison: control``:
  the core's ``superiority_decision``; ``comparison: best``: the trial stopped for superiority
  with a dose as the winner). Under the global null ``p_go`` is the type I error that
  :func:`msbayes.adaptive.calibrate_superiority` controls (for ``comparison: control``).
- ``superiority_decision`` (bool): any superiority decision (the calibrated quantity).
- ``outcome_superiority`` / ``outcome_equivalence`` / ``outcome_futility`` / ``outcome_max``
  (bool, sum to one): how the trial ended (adaptr's ``prob_superior`` ... ``prob_max``);
  ``stopped_early`` (bool): ended before the last look.
- ``selected_dose{d}``, ``select_control``, ``select_none`` (bool): the selected arm
  (``design.select`` for trials without a winner); gathered into ``p_selected`` over ``dose``
  (the control's entry is ``p_select_control``).
- ``select_best`` (float 0/1, NaN when all arms are truly equal): an arm with the largest true
  mean selected -> ``mean_select_best`` (adaptr's ``prob_select_best``).
- ``idp`` (float, NaN when no arm is selected or all arms are equal): ``100 (mu_sel - min mu)
  / (max mu - min mu)`` -> ``mean_idp`` = adaptr's ideal design percentage and its MCSE (the
  mean over selecting trials equals the per-cell formula from the selection probabilities).
- ``est`` / ``true`` (float, NaN unless a dose is selected): the selected dose's posterior
  mean difference to the control and its true effect -> ``bias``, ``rmse`` (MCSE by the delta
  method) of the selected arm's effect (adaptr's ``bias_te`` / ``rmse_te``), ``p_est_missing``.
- ``n_arm{d}``, ``n_control``, ``n_total`` (float) -> ``mean_n_arm`` over ``dose``,
  ``expected_n``; ``alloc_arm{d}``, ``alloc_control`` (float, achieved ``n_arm / n_total``) ->
  ``mean_alloc_arm`` over ``dose`` (control first).
- ``reject`` (bool): the final Bonferroni z test rejects for some dose -> ``p_reject``;
  ``fwer`` (bool): it rejects for a dose with effect <= 0.
- constant ``n_max``; ``draw_batch`` / ``n_draw_batches``.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> cfg = validate_sim_config({"name": "r", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "rar", "doses": [0, 3, 6], "n_per_arm": 40},
...     "scenarios": {"null": {"effect": {"3": 0.0, "6": 0.0}}}})
>>> out = simulate_chunk(cfg, "null", 200, np.random.default_rng(1))
>>> sorted(k for k in out if k.startswith("selected"))
['selected_dose0', 'selected_dose1']
"""

from __future__ import annotations

import numpy as np

from msbayes.adaptive import simulate_rar
from msbayes.adaptive.rar import EQUIVALENCE, FUTILITY, MAX, SUPERIORITY, RARResult
from msbayes.design.adaptive import RARDesign
from msbayes.design.scenarios import FixedScenario

from .multiarm_chunk import dose_effects as _dose_effects

__all__ = ["simulate_chunk", "core_kwargs", "select_kwargs", "outcomes", "arm_effects"]


def arm_effects(cfg, scenario: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, int]:
    """True effects ``(n, G)`` of the non-control arms, the draw batch of each trial (or None)
    and the number of batches: per-arm mappings (also for named arms) directly, everything
    else as ``multi_arm`` (:func:`msbayes.simulate.multiarm_chunk.dose_effects`)."""
    d: RARDesign = cfg.design
    spec = cfg.scenarios[scenario]
    per_arm = getattr(spec, "per_dose", None)
    if per_arm is None and isinstance(spec, FixedScenario) and isinstance(spec.effect, dict):
        per_arm = spec.effect
    if per_arm is not None:
        vals = np.array([per_arm[lab] for lab in d.arm_labels], dtype=float)
        return np.broadcast_to(vals, (n, d.n_doses)).copy(), None, 0
    if d.doses is None:  # named arms, one arm (validated): one effect
        from .twoarm import scenario_sampler

        sampler = scenario_sampler(cfg, scenario)
        theta, batch = sampler.sample_with_batch(n, rng=rng)
        return theta[:, :1].copy(), batch, sampler.n_batches
    return _dose_effects(cfg, scenario, n, rng)


def core_kwargs(cfg) -> dict:
    """Keyword arguments of :func:`msbayes.adaptive.simulate_rar` for ``cfg`` (no effects, seed, size)."""
    d: RARDesign = cfg.design
    a, st = d.allocation, d.stopping
    fut, eq = st.futility, st.equivalence
    return dict(block_sizes=tuple(d.block_sizes_total()), sd=float(cfg.endpoint.sd), control_share=a.control_share,
                min_allocation=a.min_allocation, max_allocation=a.max_allocation, power=a.power,
                prior_mean=d.prior.mean, prior_sd=d.prior.sd, adaptive=a.adaptive, alpha=d.alpha,
                control_allocation=a.control_allocation, comparison=st.comparison, superiority=st.superiority,
                inferiority=st.inferiority, futility_prob=None if fut is None else fut.prob,
                futility_diff=0.0 if fut is None else fut.diff, equivalence_prob=None if eq is None else eq.prob,
                equivalence_diff=None if eq is None else eq.diff)


def select_kwargs(cfg) -> dict:
    """``select_strategy`` / ``select_preferences`` of :meth:`RARResult.performance` for ``cfg``."""
    d: RARDesign = cfg.design
    prefs = None if d.select_preferences is None else [d.all_labels.index(x) for x in d.select_preferences]
    return dict(select_strategy=d.select, select_preferences=prefs)


def outcomes(cfg, res: RARResult) -> dict[str, np.ndarray]:
    """Per-trial outcome keys (module docstring) of a :class:`~msbayes.adaptive.rar.RARResult`."""
    d: RARDesign = cfg.design
    n, G = res.theta.shape
    rows = np.arange(n)
    sel = res.selected(**select_kwargs(cfg))
    mu = res.arm_means
    if d.stopping.comparison == "control":
        go = res.superiority_decision.copy()
    else:
        go = (res.outcome == SUPERIORITY) & (res.winner >= 1)
    out: dict[str, np.ndarray] = {
        "go": go,
        "superiority_decision": res.superiority_decision.copy(),
        "outcome_superiority": res.outcome == SUPERIORITY,
        "outcome_equivalence": res.outcome == EQUIVALENCE,
        "outcome_futility": res.outcome == FUTILITY,
        "outcome_max": res.outcome == MAX,
        "stopped_early": res.stop_look < len(res.looks) - 1,
        "select_control": sel == 0,
        "select_none": sel < 0,
    }
    tot = res.n_arm.sum(axis=1)
    for g in range(G):
        out[f"selected_dose{g}"] = sel == g + 1
        out[f"n_arm{g}"] = res.n_arm[:, g + 1].copy()
        out[f"alloc_arm{g}"] = res.n_arm[:, g + 1] / tot
    out["n_control"] = res.n_arm[:, 0].copy()
    out["alloc_control"] = res.n_arm[:, 0] / tot
    out["n_total"] = tot
    spread = mu.max(axis=1) - mu.min(axis=1)
    s0 = np.maximum(sel, 0)
    mu_sel = mu[rows, s0]
    best = mu_sel >= mu.max(axis=1) - 1e-12
    out["select_best"] = np.where(spread > 0, ((sel >= 0) & best).astype(float), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["idp"] = np.where((sel >= 0) & (spread > 0), 100 * (mu_sel - mu.min(axis=1)) / spread, np.nan)
    dose = sel >= 1
    out["est"] = np.where(dose, res.estimate[rows, s0] - res.estimate[:, 0], np.nan)
    out["true"] = np.where(dose, mu_sel - mu[:, 0], np.nan)
    out["reject"] = res.rejected.any(axis=1)
    out["fwer"] = (res.rejected & (res.theta <= 0)).any(axis=1)
    out["constants"] = {"n_max": float(d.n_max)}
    return out


def simulate_chunk(cfg, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` RAR trials of ``cfg`` under ``scenario``; per-trial outcomes."""
    eff, batch, n_batches = arm_effects(cfg, scenario, n, rng)
    seed = np.random.SeedSequence(int(rng.integers(0, 2**63)))
    res = simulate_rar(eff, n_sims=n, seed=seed, chunk_size=max(n, 1), **core_kwargs(cfg))
    out = outcomes(cfg, res)
    if batch is not None:
        out["draw_batch"] = batch
    out["n_draw_batches"] = n_batches
    return out
