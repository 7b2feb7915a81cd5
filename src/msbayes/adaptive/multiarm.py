"""Two-stage multi-arm dose selection: several doses against one shared control.

Stage 1 randomises ``n_per_stage[0]`` patients to every dose and ``n_per_stage[0] /
allocation_ratio`` to control; at the interim a rule keeps the best dose, the ``r`` best, those
within ``epsilon`` of the best and/or those above a futility ``threshold``; stage 2 randomises
``n_per_stage[1]`` to every kept dose and ``n_per_stage[1] / allocation_ratio`` to control
(rpact's ``getSimulationMultiArmMeans`` convention; no sample-size re-estimation). Per stage
and arm the outcome mean is drawn once (known SD, z statistics). The elementary hypotheses
``H_g: theta_g <= 0`` are tested with the closed combination test; intersections by Dunnett's
many-to-one test (default; correlation ``l_i l_j`` with ``l_g = sqrt(n_g / (n_g + n_c))``),
Bonferroni, Simes or Sidak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

from msbayes.rng import SeedLike, as_seed_sequence, chunk_rng

from .combination import (
    CombinationDesign,
    InverseNormalK,
    closed_test,
    closed_test_k,
    intersection_members,
    intersection_pvalues,
    inverse_normal_design,
    inverse_normal_design_k,
)
from .selection import check_selection, mean_se, posterior_prob_positive, proportion, select

MULTIARM_TESTS = ("dunnett", "bonferroni", "simes", "sidak")


@dataclass
class MultiArmResult:
    """Per-trial outcomes of :func:`simulate_multiarm` (one column per dose).

    Attributes
    ----------
    selected : bool (n, G)  doses carried into stage 2 (none after an early efficacy stop)
    rejected : bool (n, G)  H_g rejected
    n_arm : float (n, G + 1) patients per dose and control (last column), both stages
    stopped_early : bool (n,)
    no_selection : bool (n,)
    theta : float (n, G)  true dose effects vs control
    """

    selected: np.ndarray
    rejected: np.ndarray
    n_arm: np.ndarray
    stopped_early: np.ndarray
    no_selection: np.ndarray
    theta: np.ndarray
    settings: dict = field(default_factory=dict)
    #: stage-1 treatment-control differences ``d`` (n, G) (for paired comparators)
    interim: dict = field(default_factory=dict)

    def oc(self) -> dict[str, tuple[float, float]]:
        """OCs ``(estimate, MCSE)``: ``select_g``, ``reject_g``, ``expected_n_g`` per dose g
        (1-based), ``expected_n_control``, ``expected_n``, ``reject_any``, ``reject_best`` (the
        truly best dose, first if tied, rejected), ``fwer`` (any dose with ``theta <= 0``
        rejected), ``no_selection``, ``stopped_early``."""
        G = self.selected.shape[1]
        out: dict[str, tuple[float, float]] = {}
        for g in range(G):
            out[f"select_{g + 1}"] = proportion(self.selected[:, g])
            out[f"reject_{g + 1}"] = proportion(self.rejected[:, g])
            out[f"expected_n_{g + 1}"] = mean_se(self.n_arm[:, g])
        out["expected_n_control"] = mean_se(self.n_arm[:, G])
        out["expected_n"] = mean_se(self.n_arm.sum(axis=1))
        out["reject_any"] = proportion(self.rejected.any(axis=1))
        best = np.argmax(self.theta, axis=1)
        out["reject_best"] = proportion(self.rejected[np.arange(len(best)), best])
        out["fwer"] = proportion((self.rejected & (self.theta <= 0)).any(axis=1))
        out["no_selection"] = proportion(self.no_selection)
        out["stopped_early"] = proportion(self.stopped_early)
        return out


def simulate_multiarm(
    effects,
    *,
    n_per_stage=(50, 50),
    sd=0.35,
    allocation_ratio: float = 1.0,
    selection: Literal["best", "rbest", "epsilon", "all"] = "best",
    effect_measure: Literal["estimate", "statistic", "posterior"] = "estimate",
    r_best: int = 1,
    epsilon: float = 0.0,
    threshold: float | None = None,
    candidates=None,
    selection_prior=(0.0, np.inf),
    intersection_test: Literal["dunnett", "bonferroni", "simes", "sidak"] = "dunnett",
    design: CombinationDesign | None = None,
    success: Literal["all", "at_least_one"] = "all",
    n_sims: int = 10_000,
    seed: SeedLike = 0,
    chunk_size: int = 100_000,
) -> MultiArmResult:
    """Simulate a two-stage multi-arm trial with treatment selection (vectorized).

    Parameters
    ----------
    effects : array (G,) or (n_sims, G)
        True effects of the G doses vs control (positive = benefit), G >= 1.
    n_per_stage : (n1, n2, ...)
        Patients per dose arm in each stage; control gets ``n / allocation_ratio``. More than
        two stages: selection at every interim (among the doses still in), the closed K-stage
        inverse-normal test, and ``design`` an :func:`inverse_normal_design_k`.
    sd : float
        Within-arm SD.
    allocation_ratio : float
        Dose : control (rpact ``allocationRatioPlanned``).
    selection : {"best", "rbest", "epsilon", "all"}
        Interim rule; doses with measure ``<= threshold`` are then dropped (futility).
    effect_measure : {"estimate", "statistic", "posterior"}
        Stage-1 effect estimate, z, or ``P(theta_g > 0 | data)`` under the normal
        ``selection_prior = (mean, sd)``.
    candidates : sequence of int, optional
        0-based dose indices eligible for selection (default: all).
    intersection_test : {"dunnett", "bonferroni", "simes", "sidak"}
    design : CombinationDesign
        Default: inverse normal, t1 = n1 / (n1 + n2), interim for selection only.
    success : {"all", "at_least_one"}
        Early-stop criterion with early efficacy bounds.

    Examples
    --------
    >>> r = simulate_multiarm([0.0, 0.1, 0.2], n_per_stage=(40, 40), n_sims=2000, seed=3)
    >>> r.oc()["select_3"][0] > r.oc()["select_1"][0]
    True
    """
    eff = np.asarray(effects, dtype=float)
    if eff.ndim == 1:
        eff = np.broadcast_to(eff, (int(n_sims), eff.size))
    G = eff.shape[1]
    if eff.shape[0] != int(n_sims) or G < 1 or not np.all(np.isfinite(eff)):
        raise ValueError(f"effects must be finite with shape (G,) or (n_sims, G), got {np.shape(effects)}")
    n = np.asarray(n_per_stage, dtype=float)
    if n.ndim != 1 or n.size < 2 or np.any(~(n > 0)) or np.any(~np.isfinite(n)):
        raise ValueError(f"n_per_stage must be two or more positive per-arm stage sizes, got {n_per_stage!r}")
    K = n.size
    if not (np.isfinite(sd) and sd > 0):
        raise ValueError(f"sd must be positive and finite, got {sd!r}")
    if not (np.isfinite(allocation_ratio) and allocation_ratio > 0):
        raise ValueError(f"allocation_ratio must be > 0, got {allocation_ratio!r}")
    if intersection_test not in MULTIARM_TESTS:
        raise ValueError(f"intersection_test must be one of {', '.join(MULTIARM_TESTS)}; got {intersection_test!r}")
    if success not in ("all", "at_least_one"):
        raise ValueError(f"success must be 'all' or 'at_least_one', got {success!r}")
    if effect_measure == "predictive":
        raise ValueError("effect_measure 'predictive' is implemented for enrichment designs; for multi-arm "
                         "use estimate, statistic or posterior")
    check_selection(selection=selection, epsilon=epsilon, r_best=r_best, threshold=threshold,
                    effect_measure=effect_measure, n_candidates=G)
    if candidates is None:
        eligible = np.ones(G, dtype=bool)
    else:
        cand = list(candidates)
        bad = [c for c in cand if not (isinstance(c, (int, np.integer)) and 0 <= c < G)]
        if bad or not cand:
            raise ValueError(f"candidates must be non-empty 0-based dose indices in 0..{G - 1}; unknown {bad!r}")
        eligible = np.zeros(G, dtype=bool)
        eligible[cand] = True
    if int(n_sims) < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims!r}")
    if design is None:
        design = (inverse_normal_design(information_rates=(n[0] / n.sum(), 1.0)) if K == 2
                  else inverse_normal_design_k(np.cumsum(n) / n.sum()))
    if K > 2 and (not isinstance(design, InverseNormalK) or len(design.weights) != K):
        raise ValueError(f"design must be an inverse_normal_design_k with {K} stages for {K} stages")
    if K == 2 and isinstance(design, InverseNormalK):
        raise ValueError("design must be a two-stage CombinationDesign for two stages (inverse_normal_design)")
    ss = as_seed_sequence(seed)
    opts = dict(n=n, sd=float(sd), r=float(allocation_ratio), selection=selection, effect_measure=effect_measure,
                r_best=int(r_best), epsilon=epsilon, threshold=threshold, eligible=eligible,
                selection_prior=selection_prior, intersection_test=intersection_test, design=design, success=success)
    parts = []
    for j, start in enumerate(range(0, int(n_sims), chunk_size)):
        fn = _chunk if K == 2 else _chunk_k
        parts.append(fn(eff[start:start + chunk_size], chunk_rng(ss, j), **opts))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    settings = dict(n_per_stage=tuple(n), allocation_ratio=allocation_ratio, selection=selection,
                    effect_measure=effect_measure, r_best=r_best, epsilon=epsilon, threshold=threshold,
                    intersection_test=intersection_test, design=design)
    return MultiArmResult(cat["selected"], cat["rejected"], cat["n_arm"], cat["stopped"], cat["none"],
                          np.asarray(eff), settings, interim=dict(d=cat["d1"]))


def _stage(eff, rng, n_t, n_c, sd, active):
    """Stage means of the doses (NaN where inactive) and control; z and one-sided p."""
    m, G = eff.shape
    xc = rng.standard_normal(m) * sd / np.sqrt(n_c)
    xt = eff + rng.standard_normal((m, G)) * sd / np.sqrt(n_t)
    se = sd * np.sqrt(1 / n_t + 1 / n_c)
    z = np.where(active, (xt - xc[:, None]) / se, np.nan)
    return z, special.ndtr(-z), (xt - xc[:, None]), se


def _chunk(eff, rng, *, n, sd, r, selection, effect_measure, r_best, epsilon, threshold, eligible,
           selection_prior, intersection_test, design, success):
    m, G = eff.shape
    members = intersection_members(G)
    lam = np.sqrt(r / (1 + r))  # sqrt(n_g / (n_g + n_c)) with n_c = n_g / r
    all_on = np.ones((m, G), dtype=bool)
    z1, p1, d1, se1 = _stage(eff, rng, n[0], n[0] / r, sd, all_on)
    if effect_measure == "estimate":
        meas = d1
    elif effect_measure == "statistic":
        meas = z1
    else:
        meas = posterior_prob_positive(d1, se1, prior_mean=selection_prior[0], prior_sd=selection_prior[1])
    sel = select(meas, selection=selection, epsilon=epsilon, r_best=r_best, threshold=threshold, eligible=eligible)
    none = ~sel.any(axis=1)
    z2, p2, _, _ = _stage(eff, rng, n[1], n[1] / r, sd, sel)
    kw = dict(z=z1, loadings=np.full((m, G), lam)) if intersection_test == "dunnett" else {}
    q1 = intersection_pvalues(p1, members, intersection_test, **kw)
    kw = dict(z=z2, loadings=np.full((m, G), lam)) if intersection_test == "dunnett" else {}
    q2 = intersection_pvalues(p2, members, intersection_test, **kw)
    res = closed_test(q1, q2, members, design, selected2=sel, success=success)
    stopped = res.stopped_early
    go2 = ~stopped & ~none
    n_arm = np.empty((m, G + 1))
    n_arm[:, :G] = n[0] + np.where(sel & go2[:, None], n[1], 0.0)
    n_arm[:, G] = n[0] / r + np.where(go2, n[1] / r, 0.0)
    return dict(selected=sel & go2[:, None], rejected=res.rejected, n_arm=n_arm, stopped=stopped, none=none & ~stopped,
                d1=d1)


def _chunk_k(eff, rng, *, n, sd, r, selection, effect_measure, r_best, epsilon, threshold, eligible,
             selection_prior, intersection_test, design, success):
    """K stages: select at every interim on the cumulative measure, test by the K-stage closed
    test, stop at the first interim whose success criterion is met or with no dose left."""
    m, G = eff.shape
    K = n.size
    members = intersection_members(G)
    lam = np.full((m, G), np.sqrt(r / (1 + r)))
    sel = np.ones((m, G), dtype=bool)
    sels = np.zeros((m, G, K), dtype=bool)
    q = np.empty((m, members.shape[0], K))
    cum_t = np.zeros((m, G))
    cum_c = np.zeros(m)
    n_cum = np.zeros((m, G))
    d1 = None
    for k in range(K):
        sels[:, :, k] = sel
        nt, nc = n[k], n[k] / r
        xc = rng.standard_normal(m) * sd / np.sqrt(nc)
        xt = eff + rng.standard_normal((m, G)) * sd / np.sqrt(nt)
        z = np.where(sel, (xt - xc[:, None]) / (sd * np.sqrt(1 / nt + 1 / nc)), np.nan)
        if k == 0:
            d1 = xt - xc[:, None]
        kw = dict(z=z, loadings=lam) if intersection_test == "dunnett" else {}
        q[:, :, k] = intersection_pvalues(special.ndtr(-z), members, intersection_test, **kw)
        # cumulative (overall) estimates: every arm gets n[k] per stage while selected
        cum_t += np.where(sel, xt * nt, 0.0)
        cum_c += xc * nc
        n_cum += np.where(sel, nt, 0.0)
        if k < K - 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                d = cum_t / n_cum - (cum_c / (np.sum(n[: k + 1]) / r))[:, None]
                se = sd * np.sqrt(1 / n_cum + 1 / (np.sum(n[: k + 1]) / r))
            meas = {"estimate": d, "statistic": d / se}.get(effect_measure)
            if meas is None:
                meas = posterior_prob_positive(d, se, prior_mean=selection_prior[0], prior_sd=selection_prior[1])
            meas = np.where(sel, meas, -np.inf)
            sel = sel & select(meas, selection=selection, epsilon=epsilon, r_best=r_best, threshold=threshold,
                               eligible=eligible)
    rej, _ = closed_test_k(q, members, design, selected=sels)
    # first stopping stage: success (all selected / at least one rejected) or nobody selected next
    stop_at = np.full(m, K - 1)
    done = np.zeros(m, dtype=bool)
    early = np.zeros(m, dtype=bool)
    for k in range(K - 1):
        s_k = sels[:, :, k]
        if success == "all":
            ok = np.all(rej[:, :, k] | ~s_k, axis=1) & rej[:, :, k].any(axis=1)
        else:
            ok = rej[:, :, k].any(axis=1)
        nobody = ~sels[:, :, k + 1].any(axis=1)
        hit = ~done & (ok | nobody)
        stop_at[hit] = k
        early |= hit & ok
        done |= hit
    rejected = rej[np.arange(m), :, stop_at]
    used = np.arange(K)[None, :] <= stop_at[:, None]  # (m, K)
    n_arm = np.empty((m, G + 1))
    n_arm[:, :G] = np.einsum("mgk,k->mg", sels & used[:, None, :], n)
    n_arm[:, G] = used @ (n / r)
    last_sel = sels[:, :, -1] & (stop_at == K - 1)[:, None]
    none = ~sels[:, :, -1].any(axis=1) & ~early
    return dict(selected=last_sel, rejected=rejected, n_arm=n_arm, stopped=early, none=none, d1=d1)
