"""Multi-arm dose-finding trials: truth, sufficient statistics, MCP-Mod / Bayesian Emax.

:func:`simulate_chunk` is the engine's per-chunk entry point for ``design.type:
dose_finding`` (called by :func:`msbayes.simulate.engine.simulate_cell`). Per trial:

1. ``theta_ref`` (effect at the tested regimen ``design.reference_dose``) from the scenario
   (fixed effect or design prior, via the engine's scenario sampler; with several EDSS
   strata, ``theta_ref`` is the enrolment-weighted effect and each stratum keeps its own)
   and the shape parameters from ``design.dose_response`` (fixed or drawn from their priors);
2. true effects ``effect(d) = theta_ref g(d)/g(d_ref)`` at every dose (per stratum with
   ``theta_s`` in place of ``theta_ref``);
3. completers per arm (``Binomial(n_i, 1 - dropout)``, MCAR) and the exact sufficient
   statistics: ``mean_i ~ N(placebo_mean + effect(d_i), sd^2 / c_i)`` and the pooled
   variance ``s^2 ~ sd^2 chi2(df)/df``, ``df = sum(c_i) - k``; with several strata, per
   (arm, stratum) cell (stratum counts fixed or multinomial, ``endpoint.stratum_enrolment``)
   combined into arm means and a pooled variance that includes the between-stratum spread
   (:func:`dose_trial_stats_strata`), since the analyses do not adjust for stratum;
4. the analysis (:mod:`~msbayes.simulate.mcpmod` or :mod:`~msbayes.simulate.bayes_emax`).

Outcome keys (see :mod:`msbayes.oc.accumulate`): ``go, nogo, failed`` bool; ``reject``
(MCP-Mod only); ``est`` (estimated effect over placebo at the reference dose), ``true``
(``theta_ref``); ``n_total``; ``selected`` (dose index, -1 none) with ``n_doses``;
``correct`` (selected == true MED, the smallest tested dose whose true effect reaches the
target, -1 if none); ``td_est``, ``td_true`` (continuous target dose, NaN if not reached
within the dose range); ``selected_ge_mcid``, ``td_bin0`` ... ``td_bin9``, ``td_none``
(see :func:`_selection_outcomes`).

Decisions: MCP-Mod goes when the multiple contrast test rejects (``analysis.alpha``) and
says no-go otherwise (``decision`` is not used); Bayesian Emax applies the config's
``decision`` rule to the posterior of the effect at ``analysis.decision_dose``.
The target effect is ``analysis.target_delta`` (MCP-Mod) or ``analysis.mcid`` (Bayesian
Emax), defaulting to ``endpoint.mcid``.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> cfg = validate_sim_config({"name": "df", "seed": 1,
...     "endpoint": {"sd": 0.35, "mcid": 0.182},
...     "design": {"type": "dose_finding", "doses": [0, 3, 6, 10],
...                "dose_metric": "cells_per_injection", "dose_unit": "million cells",
...                "reference_dose": 10, "n_per_arm": 30,
...                "dose_response": {"model": "emax", "ed50": 3.0}},
...     "scenarios": {"mcid": {"effect": 0.182}},
...     "analysis": {"method": "mcpmod", "models": {"emax": [2.0], "linear": None}}})
>>> out = simulate_chunk(cfg, "mcid", 1000, np.random.default_rng(1))
>>> sorted(out)[:6]
['correct', 'est', 'failed', 'go', 'n_doses', 'n_draw_batches']
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from msbayes.design.doseresponse import anchored_effects, draw_shape, shape_g, target_dose, true_med
from msbayes.design.dosefinding import BayesEmaxAnalysis, DoseFindingDesign, MCPModAnalysis

from .bayes_emax import BayesEmaxPlan, analyse_bayes_emax, prepare_bayes_emax
from .mcpmod import MCPModPlan, analyse_mcpmod, prepare_mcpmod

__all__ = ["simulate_chunk", "dose_trial_stats", "dose_trial_stats_strata", "plan_for", "PosteriorAtDose"]

_PLANS: "OrderedDict[tuple, MCPModPlan | BayesEmaxPlan]" = OrderedDict()
_MAX_PLANS = 32


def plan_for(design: DoseFindingDesign, analysis, *, mcid: float, dropout: float = 0.0):
    """Cached analysis plan for a design (keyed by doses, arm sizes and the analysis spec)."""
    sizes = np.asarray(design.arm_sizes(), dtype=float)
    planned = sizes * (1.0 - dropout)
    key = (tuple(design.doses), tuple(planned.tolist()), float(design.reference_dose),
           analysis.model_dump_json(), float(mcid))
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    if isinstance(analysis, MCPModAnalysis):
        td = analysis.target_delta if analysis.target_delta is not None else mcid
        plan = prepare_mcpmod(analysis, design.doses, planned, target_delta=td,
                              d_ref=design.reference_dose,
                              df=max(int(round(planned.sum())) - len(sizes), 1))
    elif isinstance(analysis, BayesEmaxAnalysis):
        plan = prepare_bayes_emax(analysis, design.doses, d_ref=design.reference_dose,
                                  mcid=analysis.mcid if analysis.mcid is not None else mcid)
    else:
        raise TypeError(f"analysis.method {analysis.method!r} is not a dose-finding analysis "
                        "(allowed: mcpmod, bayes_emax)")
    _PLANS[key] = plan
    while len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)
    return plan


def dose_trial_stats(effects: np.ndarray, sizes, *, sd: float, placebo_mean: float = 0.0,
                     dropout: float = 0.0, rng: np.random.Generator):
    """Exact sufficient statistics of k normal arms for each simulated trial.

    Parameters
    ----------
    effects : ndarray (sim, k)
        True effects over placebo (column 0 = 0).
    sizes : array_like (k,)
        Randomized patients per arm.
    sd, placebo_mean, dropout : float
        Outcome SD, placebo mean, MCAR dropout probability.
    rng : numpy.random.Generator

    Returns
    -------
    means (sim, k), s2 (sim,), completers (sim, k) float, df (sim,) float, ok (sim,) bool
    (False where an arm has no completer or df < 1; those trials carry zeros).

    Examples
    --------
    >>> m, s2, c, df, ok = dose_trial_stats(np.zeros((2, 3)), [10, 10, 10], sd=1.0,
    ...                                     rng=np.random.default_rng(0))
    >>> m.shape, df.tolist(), bool(ok.all())
    ((2, 3), [27.0, 27.0], True)
    """
    eff = np.asarray(effects, dtype=float)
    nsim, k = eff.shape
    sizes = np.asarray(sizes, dtype=np.int64)
    if dropout > 0:
        c = rng.binomial(np.broadcast_to(sizes, (nsim, k)), 1.0 - dropout).astype(float)
    else:
        c = np.broadcast_to(sizes.astype(float), (nsim, k))
    df = c.sum(1) - k
    ok = (c.min(1) >= 1) & (df >= 1)
    cs = np.where(c >= 1, c, 1.0)
    means = placebo_mean + eff + sd * rng.standard_normal((nsim, k)) / np.sqrt(cs)
    dfs = np.maximum(df, 1.0)
    s2 = sd * sd * 2.0 * rng.standard_gamma(0.5 * dfs) / dfs
    if not ok.all():
        means = np.where(ok[:, None], means, 0.0)
        s2 = np.where(ok, s2, 1.0)
    return means, s2, c, df, ok


def dose_trial_stats_strata(effects: np.ndarray, completers: np.ndarray, *, sd: float,
                            placebo_mean: float = 0.0, rng: np.random.Generator):
    """Exact arm summaries of k normal arms enrolled from several EDSS strata.

    Each (arm, stratum) cell with ``c`` completers has mean ``placebo_mean + effect`` and SD
    ``sd``; the analysis ignores strata, so an arm's mean is the completer-weighted mean of its
    cells and the pooled variance adds the between-cell sum of squares within each arm to the
    within-cell one (``sd^2 chi2(sum(c) - #cells)``): the same distribution as the arm means
    and pooled variance of patient-level data.

    Parameters
    ----------
    effects : ndarray (sim, k, strata)
        True effects over placebo per arm and stratum (arm 0 = placebo: zeros).
    completers : ndarray (sim, k, strata)
        Completers per trial, arm and stratum (randomized counts after dropout).
    sd, placebo_mean : float
    rng : numpy.random.Generator

    Returns
    -------
    The same tuple as :func:`dose_trial_stats`: means (sim, k), s2 (sim,), completers per arm
    (sim, k) float, df (sim,), ok (sim,).

    Examples
    --------
    >>> c = np.full((2, 3, 2), 5)
    >>> m, s2, n, df, ok = dose_trial_stats_strata(np.zeros((2, 3, 2)), c, sd=1.0,
    ...                                            rng=np.random.default_rng(0))
    >>> m.shape, n[0].tolist(), df.tolist(), bool(ok.all())
    ((2, 3), [10.0, 10.0, 10.0], [27.0, 27.0], True)
    """
    from .twoarm import combine_strata, standard_draws

    c = np.asarray(completers, dtype=float)
    k = c.shape[1]
    draws = standard_draws(c.shape, c, rng=rng, baseline=False)
    n, means, sst = combine_strata(placebo_mean + np.asarray(effects, dtype=float), c, draws, sd)
    df = n.sum(axis=1) - k
    ok = (n.min(axis=1) >= 1) & (df >= 1)
    s2 = sst.sum(axis=1) / np.maximum(df, 1.0)
    if not ok.all():
        means = np.where(ok[:, None], means, 0.0)
        s2 = np.where(ok, s2, 1.0)
    return means, s2, n, df, ok


class PosteriorAtDose:
    """Posterior of the effect at one dose per trial, in the form the decision rules read.

    ``prob_greater(c)`` = P(effect > c) for c in {0, MCID}; ``p_value(sided="one")`` =
    1 - P(effect > 0) (posterior analogue, for the ``significance`` rule).
    """

    def __init__(self, probs: dict[float, np.ndarray]):
        self._p = probs

    def prob_greater(self, c: float) -> np.ndarray:
        for key, v in self._p.items():
            if abs(key - c) < 1e-12:
                return v
        raise KeyError(f"P(effect > {c}) not computed (available: {sorted(self._p)})")

    def p_value(self, *, sided: str = "one") -> np.ndarray:
        if sided != "one":
            raise ValueError("sided: only 'one' is defined for the Bayesian Emax posterior")
        return 1.0 - self.prob_greater(0.0)


#: equal-width bins of the estimated target dose over [0, highest dose] (``td_bin{j}`` keys)
TD_BINS = 10


def _selection_outcomes(eff: np.ndarray, selected: np.ndarray, td_est: np.ndarray, *,
                        mcid: float, d_max: float) -> dict[str, np.ndarray]:
    """Bool outcome keys for the report: ``selected_ge_mcid`` (a dose was selected and its
    true effect is >= the MCID) and the target-dose estimate's histogram, ``td_bin{j}`` for
    ``j < TD_BINS`` (``td_est`` in the j-th of ``TD_BINS`` equal bins of [0, d_max], the last
    bin closed) and ``td_none`` (no estimate: target not reached in the dose range or trial
    not analysable). Each becomes ``p_<key>`` with its MCSE in the accumulator.

    >>> import numpy as np
    >>> o = _selection_outcomes(np.array([[0, .1, .2], [0, .3, .4]]), np.array([2, -1]),
    ...                         np.array([10.0, np.nan]), mcid=0.15, d_max=10.0)
    >>> o["selected_ge_mcid"].tolist(), o["td_bin9"].tolist(), o["td_none"].tolist()
    ([True, False], [True, False], [False, True])
    """
    n = len(selected)
    picked = selected >= 0
    at_sel = eff[np.arange(n), np.where(picked, selected, 0)]
    out = {"selected_ge_mcid": picked & (at_sel >= mcid)}
    fin = np.isfinite(td_est)
    j = np.clip(np.floor(np.where(fin, td_est, 0.0) / d_max * TD_BINS), 0, TD_BINS - 1)
    for b in range(TD_BINS):
        out[f"td_bin{b}"] = fin & (j == b)
    out["td_none"] = ~fin
    return out


def simulate_chunk(cfg, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` dose-finding trials of ``cfg`` under ``scenario`` (module docstring).

    A config with an ``interims`` section is simulated by
    :func:`msbayes.simulate.dosefinding_sequential.simulate_chunk`.

    Returns
    -------
    dict of per-trial arrays with the standard outcome keys, plus ``n_doses``.
    """
    if getattr(cfg, "interims", None) is not None:  # interim looks: the sequential simulator
        from .dosefinding_sequential import simulate_chunk as sequential_chunk

        return sequential_chunk(cfg, scenario, n, rng)
    from msbayes.oc.decision import decision_from_spec

    from .twoarm import scenario_sampler

    design: DoseFindingDesign = cfg.design
    ep = cfg.endpoint
    an = cfg.analysis
    if ep.dropout_mechanism != "mcar":
        raise ValueError("endpoint.dropout_mechanism: dose-finding designs simulate MCAR dropout "
                         "only (allowed: mcar)")
    doses = np.asarray(design.doses, dtype=float)
    k = len(doses)
    dmax = float(doses[-1])
    spec = design.dose_response
    sampler = scenario_sampler(cfg, scenario)
    theta, draw_batch = sampler.sample_with_batch(n, rng=rng)  # same stream as .sample
    theta_ref = theta @ ep.stratum_weights if theta.shape[1] > 1 else theta[:, 0].copy()
    shape = draw_shape(spec, n, rng)
    eff = anchored_effects(spec.model, doses, d_ref=design.reference_dose, theta_ref=theta_ref,
                           shape=shape)
    sizes = design.arm_sizes()
    if theta.shape[1] > 1:
        # stratum-specific effects, each following the same dose-response shape:
        # effect(d, s) = theta_s g(d)/g(d_ref); arms enrol from the strata (fixed or random)
        from .twoarm import completer_counts, randomized_counts

        ratio = anchored_effects(spec.model, doses, d_ref=design.reference_dose,
                                 theta_ref=np.ones(n), shape=shape)
        counts = randomized_counts(ep, list(sizes), n, rng=rng)
        comp_s = completer_counts(counts, ep.dropout, rng=rng)
        means, s2, comp, _df, ok = dose_trial_stats_strata(
            ratio[:, :, None] * theta[:, None, :], comp_s, sd=ep.sd, placebo_mean=ep.placebo_mean,
            rng=rng)
    else:
        means, s2, comp, _df, ok = dose_trial_stats(eff, sizes, sd=ep.sd,
                                                    placebo_mean=ep.placebo_mean,
                                                    dropout=ep.dropout, rng=rng)
    plan = plan_for(design, an, mcid=ep.mcid, dropout=ep.dropout)
    if isinstance(an, MCPModAnalysis):
        delta = plan.target_delta
        res = analyse_mcpmod(plan, means, s2, n=comp if ep.dropout > 0 else None)
        go = res["reject"] & ok
        nogo = ~go
        est, selected, td_est = res["est"], res["selected_dose"], res["td_est"]
        extra = {"reject": go.copy()}
    else:
        delta = plan.mcid
        res = analyse_bayes_emax(plan, means, s2,
                                 n=comp if ep.dropout > 0 else np.asarray(sizes, dtype=float))
        if plan.decision_dose == "reference":
            col = np.full(n, k - 1)  # last column of the evaluation grid = d_ref
        elif plan.decision_dose == "max":
            col = np.full(n, k - 2)
        else:  # the estimated MED (highest dose if none)
            col = np.where(res["med"] > 0, res["med"] - 1, k - 2)
        r = np.arange(n)
        probs = {0.0: res["p_gt"][0.0][r, col], float(delta): res["p_gt"][delta][r, col]}
        rule = decision_from_spec(cfg.decision)
        go, nogo = rule(PosteriorAtDose(probs), mcid=float(delta))
        go = go & ok
        nogo = (nogo | ~ok) & ~go
        est, selected, td_est = res["mean_ref"], res["med"], res["td_est"]
        extra = {}
    # (n, 1) for models with shape parameters, (1,) for the linear model (no parameters)
    g_ref = np.broadcast_to(shape_g(spec.model, [design.reference_dose], shape), (n, 1))[:, 0]
    td_true = target_dose(spec.model, scale=theta_ref / g_ref, shape=shape,
                          target_delta=float(delta), d_max=dmax)
    med_true = true_med(eff, float(delta))
    selected = np.where(ok, selected, -1)
    out = {
        "go": go, "nogo": nogo, "failed": ~ok,
        "est": np.where(ok, est, np.nan), "true": theta_ref,
        "n_total": np.full(n, float(sum(sizes))),
        "selected": selected.astype(np.int64), "n_doses": np.asarray(k),
        "correct": selected == med_true,
        "td_est": np.where(ok, td_est, np.nan), "td_true": td_true,
        **extra,
    }
    out.update(_selection_outcomes(eff, selected, out["td_est"], mcid=float(ep.mcid),
                                   d_max=dmax))
    if draw_batch is not None:  # effects resampled from posterior draws: their error in the MCSE
        out["draw_batch"] = draw_batch
    out["n_draw_batches"] = np.asarray(sampler.n_batches)  # 0: no draws
    return out
