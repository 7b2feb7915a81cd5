"""Two-stage adaptive enrichment by stratum: sub-population S (EDSS 6.0-6.5) and full population F.

Two strata: S and its complement R (EDSS 3.0-5.5); F = S + R. Stage 1 enrols ``n_per_stage[0]``
patients (both arms) across the strata; at the interim a rule selects F, S or both; stage 2
enrols ``n_per_stage[1]`` patients in the selected population(s) (S only: all from S; F
selected: across both strata by prevalence). Hypotheses: ``H_S: theta_S <= 0`` and
``H_F: theta_F <= 0`` with ``theta_F = p_S theta_S + p_R theta_R``.

Per stage and stratum the treatment-control mean difference (the sufficient statistic of the
arm x stratum means for a known SD) is drawn once: ``N(theta_s, sd_s**2 / (n_s c))`` with
``c = r / (1 + r)**2`` (allocation ratio r, rpact's convention). Stratum counts are multinomial
(``counts="multinomial"``, default) or fixed at prevalence x n (``"fixed"``, real-valued, as
rpact). Statistics (as rpact's ``getSimulationEnrichmentMeans``): ``z_S = d_S sqrt(n_S c) / sd_S``;
``z_F = sum(n_s d_s) sqrt(c) / sqrt(sum(n_s sd_s**2))`` (stratified, n-weighted).

Final analysis: closed testing of {H_S, H_F} with the inverse-normal (or Fisher) combination of
stage-wise intersection p-values (strong FWER control, any selection rule), or a Bayesian rule
(hierarchical normal-normal shrinkage across the two strata; FWER then simulated, NOT guaranteed).
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
    closed_test_k,
    inverse_normal_design_k,
    closed_test,
    intersection_members,
    intersection_pvalues,
    inverse_normal_design,
)
from .selection import check_selection, mean_se, posterior_prob_positive, predictive_prob_final, proportion, select

POPULATIONS = ("S", "F")
ENRICHMENT_TESTS = ("bonferroni", "simes", "sidak", "spiessens_debois")


@dataclass(frozen=True)
class BayesFinal:
    """Bayesian final rule: reject ``H_P`` when ``P(theta_P > 0 | data) > cutoff``.

    Stratum effects ``theta_s ~ N(mu, tau**2)`` (``tau`` = fixed between-stratum SD),
    ``mu ~ N(prior_mean, prior_sd**2)``; cumulative stratum estimates of both stages; conjugate.
    The FWER of this rule is only what simulation shows: it is not controlled by construction.
    """

    cutoff: float = 0.975
    tau: float = 0.1
    prior_mean: float = 0.0
    prior_sd: float = 1.0


@dataclass
class EnrichmentResult:
    """Per-trial outcomes of :func:`simulate_enrichment` (columns ordered ``("S", "F")``).

    Attributes
    ----------
    selected : bool (n, 2)   populations carried into stage 2 (none after an early efficacy stop)
    rejected : bool (n, 2)   H_S, H_F rejected
    n_stratum : float (n, 2) patients enrolled per stratum (S, R), both stages
    stopped_early : bool (n,) efficacy stop at the interim
    no_selection : bool (n,) nothing selected (futility stop at the interim)
    theta : float (n, 2)     true (theta_S, theta_F) of each trial
    interim : dict           stage-1 ``estimate`` and ``se`` of (S, F), ``n_stratum`` (S, R) and the
                             treatment-control differences ``d_stratum`` (S, R) (0 where no patient)
    """

    selected: np.ndarray
    rejected: np.ndarray
    n_stratum: np.ndarray
    stopped_early: np.ndarray
    no_selection: np.ndarray
    theta: np.ndarray
    settings: dict = field(default_factory=dict)
    interim: dict = field(default_factory=dict)

    @property
    def n_sims(self) -> int:
        return int(self.selected.shape[0])

    def oc(self) -> dict[str, tuple[float, float]]:
        """Operating characteristics, each ``(estimate, MCSE)``.

        Keys: ``select_S_only``, ``select_F_only``, ``select_both``, ``select_S`` / ``select_F``
        (any), ``no_selection``, ``reject_S``, ``reject_F``, ``reject_any``, ``fwer`` (any true
        null rejected: ``theta <= 0`` per trial), ``expected_n_S``, ``expected_n_R``,
        ``expected_n``, ``stopped_early``.
        """
        s, f = self.selected[:, 0], self.selected[:, 1]
        null = self.theta <= 0
        out = {
            "select_S_only": proportion(s & ~f),
            "select_F_only": proportion(f & ~s),
            "select_both": proportion(s & f),
            "select_S": proportion(s),
            "select_F": proportion(f),
            "no_selection": proportion(self.no_selection),
            "reject_S": proportion(self.rejected[:, 0]),
            "reject_F": proportion(self.rejected[:, 1]),
            "reject_any": proportion(self.rejected.any(axis=1)),
            "fwer": proportion((self.rejected & null).any(axis=1)),
            "expected_n_S": mean_se(self.n_stratum[:, 0]),
            "expected_n_R": mean_se(self.n_stratum[:, 1]),
            "expected_n": mean_se(self.n_stratum.sum(axis=1)),
            "stopped_early": proportion(self.stopped_early),
        }
        return out


def _check_prevalences(prevalences) -> np.ndarray:
    p = np.asarray(prevalences, dtype=float)
    if p.shape != (2,) or np.any(~np.isfinite(p)) or np.any(p <= 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError(
            f"prevalences must be two positive numbers (S, R) summing to 1, got {prevalences!r}")
    return p


def _check_common(n_per_stage, sd, allocation_ratio, n_sims):
    n = np.asarray(n_per_stage, dtype=float)
    if n.ndim != 1 or n.size < 2 or np.any(n <= 0) or np.any(~np.isfinite(n)):
        raise ValueError(f"n_per_stage must be two or more positive stage sizes, got {n_per_stage!r}")
    sd = np.broadcast_to(np.asarray(sd, dtype=float), (2,)).copy()
    if np.any(~(sd > 0)) or np.any(~np.isfinite(sd)):
        raise ValueError(f"sd must be positive and finite (scalar or one per stratum), got {sd!r}")
    if not (np.isfinite(allocation_ratio) and allocation_ratio > 0):
        raise ValueError(f"allocation_ratio must be > 0, got {allocation_ratio!r}")
    if int(n_sims) < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims!r}")
    return n, sd


def simulate_enrichment(
    effects,
    *,
    prevalences=(0.5, 0.5),
    n_per_stage=(100, 100),
    sd=0.35,
    allocation_ratio: float = 1.0,
    counts: Literal["multinomial", "fixed"] = "multinomial",
    selection: Literal["best", "epsilon", "all"] = "best",
    effect_measure: Literal["estimate", "statistic", "posterior", "predictive"] = "estimate",
    epsilon: float = 0.0,
    threshold: float | None = None,
    candidates=POPULATIONS,
    selection_prior=(0.0, np.inf),
    intersection_test: Literal["bonferroni", "simes", "sidak", "spiessens_debois"] = "simes",
    design: CombinationDesign | None = None,
    success: Literal["all", "at_least_one"] = "all",
    final: Literal["closed", "bayes"] = "closed",
    bayes: BayesFinal = BayesFinal(),
    f_estimator: Literal["prevalence", "pooled"] = "prevalence",
    n_sims: int = 10_000,
    seed: SeedLike = 0,
    chunk_size: int = 100_000,
) -> EnrichmentResult:
    """Simulate a two-stage adaptive enrichment trial (vectorized over trials).

    Parameters
    ----------
    effects : array (2,) or (n_sims, 2)
        True stratum effects ``(theta_S, theta_R)`` (positive = benefit); one row per trial
        allows joint draws from a posterior with a stratum dimension.
    prevalences : (p_S, p_R)
        Stratum prevalences, positive, summing to 1.
    n_per_stage : (n1, n2, ...)
        Patients (both arms) enrolled per stage. More than two stages: selection at every
        interim among the populations still in (on cumulative estimates), the K-stage closed
        test, ``design`` an :func:`~msbayes.adaptive.combination.inverse_normal_design_k`.
    sd : float or (2,)
        Within-arm SD per stratum.
    allocation_ratio : float
        Treatment : control.
    counts : {"multinomial", "fixed"}
        Random multinomial stratum counts per stage, or fixed ``prevalence x n`` (rpact).
    selection : {"best", "epsilon", "all"}
        Interim rule over the candidate populations; ``epsilon``: all within ``epsilon`` of the
        best measure; then those with measure ``<= threshold`` are dropped.
    effect_measure : {"estimate", "statistic", "posterior", "predictive"}
        Effect estimate, z statistic, ``P(theta_P > 0 | stage-1 data)`` under the normal
        prior ``selection_prior = (mean, sd)`` (``sd = inf``: flat), or the predictive
        probability that population P succeeds at the end if all remaining patients enrol in
        it (success: posterior P(theta_P > 0 | all data) >= 1 - alpha under the same prior,
        alpha = the design's, or 1 - cutoff for ``final="bayes"``;
        :func:`~msbayes.adaptive.selection.predictive_prob_final`). Selection by any measure
        leaves the closed test's strong FWER control intact.
    candidates : subset of ("S", "F")
        Populations eligible for selection.
    intersection_test : {"bonferroni", "simes", "sidak", "spiessens_debois"}
    design : CombinationDesign
        Default :func:`~msbayes.adaptive.combination.inverse_normal_design` (one-sided 0.025,
        t1 = n1 / (n1 + n2), interim for selection only).
    success : {"all", "at_least_one"}
        Early-stop criterion (only with early efficacy bounds).
    final : {"closed", "bayes"}
        Closed combination test or :class:`BayesFinal`.
    f_estimator : {"prevalence", "pooled"}
        Full-population estimate per stage: strata weighted by prevalence (unbiased for
        ``theta_F`` whatever the realised counts; default) or by realised counts (rpact's
        stratified means analysis). With ``counts="fixed"`` the two coincide. With random
        counts and heterogeneous effects the pooled estimate targets the realised mix, which
        inflates the type I error of ``H_F`` when ``theta_F = 0`` but ``theta_S != theta_R``.
    n_sims, seed, chunk_size
        Number of trials; one seed determines every number (chunk ``j`` uses
        ``chunk_rng(seed, j)``).

    Examples
    --------
    >>> r = simulate_enrichment([0.25, 0.0], n_per_stage=(120, 120), n_sims=2000, seed=1)
    >>> est, se = r.oc()["reject_S"]; 0 < est < 1
    True
    """
    prev = _check_prevalences(prevalences)
    n_stage, sd = _check_common(n_per_stage, sd, allocation_ratio, n_sims)
    if counts not in ("multinomial", "fixed"):
        raise ValueError(f"counts must be 'multinomial' or 'fixed', got {counts!r}")
    if counts == "multinomial" and np.any(n_stage != np.round(n_stage)):
        raise ValueError(f"n_per_stage must be whole patients with counts='multinomial', got {n_per_stage!r}")
    if f_estimator not in ("prevalence", "pooled"):
        raise ValueError(f"f_estimator must be 'prevalence' or 'pooled', got {f_estimator!r}")
    if final not in ("closed", "bayes"):
        raise ValueError(f"final must be 'closed' or 'bayes', got {final!r}")
    if intersection_test not in ENRICHMENT_TESTS:
        raise ValueError(f"intersection_test must be one of {', '.join(ENRICHMENT_TESTS)}; got {intersection_test!r}")
    if success not in ("all", "at_least_one"):
        raise ValueError(f"success must be 'all' or 'at_least_one', got {success!r}")
    cand = tuple(candidates)
    bad = [c for c in cand if c not in POPULATIONS]
    if bad or not cand:
        raise ValueError(f"candidates must be a non-empty subset of {POPULATIONS}; unknown {bad!r}")
    if selection == "rbest":
        raise ValueError("selection must be one of best, epsilon, all for enrichment (two populations)")
    check_selection(selection=selection, epsilon=epsilon, r_best=1, threshold=threshold,
                    effect_measure=effect_measure, n_candidates=2)
    if final == "bayes" and not (0 < bayes.cutoff < 1 and bayes.tau > 0 and bayes.prior_sd > 0):
        raise ValueError("bayes.cutoff must be in (0, 1), bayes.tau and bayes.prior_sd > 0")
    eff = np.asarray(effects, dtype=float)
    if eff.shape == (2,):
        eff = np.broadcast_to(eff, (int(n_sims), 2))
    if eff.shape != (int(n_sims), 2) or not np.all(np.isfinite(eff)):
        raise ValueError(f"effects must be finite with shape (2,) or (n_sims, 2), got {np.shape(effects)}")
    K = n_stage.size
    if design is None:
        design = (inverse_normal_design(information_rates=(n_stage[0] / n_stage.sum(), 1.0)) if K == 2
                  else inverse_normal_design_k(np.cumsum(n_stage) / n_stage.sum()))
    if K > 2 and (not isinstance(design, InverseNormalK) or len(design.weights) != K):
        raise ValueError(f"design must be an inverse_normal_design_k with {K} stages for {K} stages")
    if K == 2 and isinstance(design, InverseNormalK):
        raise ValueError("design must be a two-stage CombinationDesign for two stages (inverse_normal_design)")
    if K > 2 and final != "closed":
        raise ValueError("final='bayes' is implemented for two stages only")
    eligible = np.array([p in cand for p in POPULATIONS])
    ss = as_seed_sequence(seed)
    opts = dict(prev=prev, n_stage=n_stage, sd=sd, c=allocation_ratio / (1 + allocation_ratio) ** 2,
                counts=counts, selection=selection, effect_measure=effect_measure, epsilon=epsilon,
                threshold=threshold, eligible=eligible, selection_prior=selection_prior,
                intersection_test=intersection_test, design=design, success=success, final=final,
                bayes=bayes, f_estimator=f_estimator)
    parts = []
    n_sims = int(n_sims)
    for j, start in enumerate(range(0, n_sims, chunk_size)):
        stop = min(start + chunk_size, n_sims)
        fn = _simulate_chunk if K == 2 else _simulate_chunk_k
        parts.append(fn(eff[start:stop], chunk_rng(ss, j), **opts))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    theta = np.column_stack([eff[:, 0], eff @ prev])
    settings = dict(f_estimator=f_estimator, prevalences=tuple(prev), n_per_stage=tuple(n_stage), counts=counts, selection=selection,
                    effect_measure=effect_measure, epsilon=epsilon, threshold=threshold,
                    intersection_test=intersection_test, final=final, design=design)
    return EnrichmentResult(cat["selected"], cat["rejected"], cat["n_stratum"], cat["stopped"],
                            cat["none"], theta, settings,
                            interim=dict(estimate=cat["est1"], se=cat["se1"], n_stratum=cat["n1"], d_stratum=cat["d1"]))


def _stage_counts(rng, n, prev, counts, m):
    if counts == "fixed":
        return np.broadcast_to(n * prev, (m, 2)).astype(float)
    return rng.multinomial(int(round(n)), prev, size=m).astype(float)


def _population_stats(d, n, sd, c, f_estimator, prev):
    """Estimates, SEs and z of (S, F) from stratum differences d (m, 2) and counts n (m, 2).

    F: ``sum_s w_s d_s`` with ``w = n_s / n`` (``"pooled"``, rpact) or ``w = prevalence``
    (``"prevalence"``; renormalised over strata with patients), SE ``sqrt(sum w_s**2 v_s)``.
    Returns also the F weights (for the S-F correlation).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        v = sd**2 / (n * c)  # inf where a stratum has no patient
        if f_estimator == "pooled":
            w = n / n.sum(axis=1, keepdims=True)
        else:
            w = np.where(n > 0, prev, 0.0)
            w = w / w.sum(axis=1, keepdims=True)
        wv = np.where(w > 0, w**2 * v, 0.0)
        est = np.column_stack([d[:, 0], (w * d).sum(axis=1)])
        se = np.column_stack([np.sqrt(v[:, 0]), np.sqrt(wv.sum(axis=1))])
        z = np.where(np.isfinite(se) & (se > 0), est / se, 0.0)
    return est, se, z, w, v


def _success_alpha(design, final, bayes) -> float:
    """One-sided level of the final success that the predictive measure looks ahead to: the
    design's alpha (closed test) or ``1 - cutoff`` (Bayesian final rule)."""
    return float(1.0 - bayes.cutoff) if final == "bayes" else float(design.alpha)


def _predictive(est, se, n_more, sd, c, prior, alpha):
    """Predictive probability of final success per candidate population (``(m, 2)``) if the
    remaining ``n_more`` patients all enrol in it: the increment's SE is ``sd / sqrt(n_more c)``
    for S alone and for F at its prevalences alike (see :func:`_population_stats`)."""
    se_more = sd / np.sqrt(n_more * c) if n_more > 0 else np.inf
    return predictive_prob_final(est, se, se_more, alpha=alpha, prior_mean=prior[0], prior_sd=prior[1])


def _simulate_chunk(eff, rng, *, prev, n_stage, sd, c, counts, selection, effect_measure, epsilon,
                    threshold, eligible, selection_prior, intersection_test, design, success, final, bayes, f_estimator):
    m = eff.shape[0]
    # ---- stage 1: all strata
    n1 = _stage_counts(rng, n_stage[0], prev, counts, m)
    with np.errstate(divide="ignore"):
        d1 = eff + rng.standard_normal((m, 2)) * sd / np.sqrt(np.maximum(n1, 1e-300) * c)
    d1 = np.where(n1 > 0, d1, 0.0)
    est1, se1, z1, w1, v1 = _population_stats(d1, n1, sd, c, f_estimator, prev)
    if effect_measure == "estimate":
        meas = est1
    elif effect_measure == "statistic":
        meas = z1
    elif effect_measure == "predictive":
        meas = _predictive(est1, se1, float(n_stage[1:].sum()), sd, c, selection_prior, _success_alpha(design, final, bayes))
    else:
        meas = posterior_prob_positive(est1, se1, prior_mean=selection_prior[0], prior_sd=selection_prior[1])
    sel = select(meas, selection=selection, epsilon=epsilon, threshold=threshold, eligible=eligible)
    members = intersection_members(2)
    p1 = special.ndtr(-z1)
    q1 = _intersections(p1, z1, w1, v1, members, intersection_test)
    # ---- interim efficacy stop (closed test part 1) decided inside closed_test; stage 2 for all
    s_only = sel[:, 0] & ~sel[:, 1]
    any_f = sel[:, 1]
    none = ~sel.any(axis=1)
    n2 = _stage_counts(rng, n_stage[1], prev, counts, m).copy()
    n2[s_only] = [n_stage[1], 0.0]
    n2[none] = 0.0
    with np.errstate(divide="ignore"):
        d2 = eff + rng.standard_normal((m, 2)) * sd / np.sqrt(np.maximum(n2, 1e-300) * c)
    d2 = np.where(n2 > 0, d2, 0.0)
    est2, se2, z2, w2, v2 = _population_stats(d2, n2, sd, c, f_estimator, prev)
    tested2 = sel.copy()
    z2 = np.where(tested2, z2, np.nan)
    p2 = special.ndtr(-z2)
    if final == "closed":
        q2 = _intersections(p2, z2, w2, v2, members, intersection_test)
        res = closed_test(q1, q2, members, design, selected2=tested2, success=success)
        rejected, stopped = res.rejected, res.stopped_early
    else:
        rejected = _bayes_final(d1, n1, d2, n2, sd, c, prev, bayes) & tested2
        stopped = np.zeros(m, dtype=bool)
    n_used = n1 + np.where(stopped[:, None], 0.0, n2)
    return dict(selected=sel & ~stopped[:, None], rejected=rejected, n_stratum=n_used, stopped=stopped, none=none & ~stopped,
                est1=est1, se1=se1, n1=n1, d1=d1)


def _intersections(p, z, w, v, members, test):
    if test != "spiessens_debois":
        return intersection_pvalues(p, members, test)
    # corr(z_S, z_F) = w_S sqrt(v_S) / sqrt(sum w_s^2 v_s) at this stage: sqrt(n_S / n_F) for the
    # pooled estimator with a common SD (Spiessens & Debois; rpact); one-factor loadings sqrt(rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        wv = np.where(w > 0, w**2 * v, 0.0)
        rho = w[:, 0] * np.sqrt(v[:, 0]) / np.sqrt(wv.sum(axis=1))
    lam = np.sqrt(np.clip(np.nan_to_num(rho), 0.0, 1 - 1e-12))
    lam = np.column_stack([lam, lam])
    return intersection_pvalues(p, members, "dunnett", z=z, loadings=lam)


def _bayes_final(d1, n1, d2, n2, sd, c, prev, b: BayesFinal):
    """Reject H_S / H_F when P(theta > 0 | all data) > cutoff under the hierarchical model."""
    ntot = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(ntot > 0, (n1 * d1 + n2 * d2) / ntot, 0.0)
    prec_data = ntot * c / sd**2
    return hierarchical_prob_positive(est, prec_data, prev, b) > b.cutoff


def hierarchical_prob_positive(est, prec_data, prevalences, b: BayesFinal):
    """``P(theta_S > 0 | data)`` and ``P(theta_F > 0 | data)`` under the hierarchical model.

    Parameters
    ----------
    est : array (n, 2)
        Stratum effect estimates (S, R).
    prec_data : array (n, 2)
        Their precisions (0 = no data).
    prevalences : (p_S, p_R)
    b : BayesFinal
        ``theta_s ~ N(mu, tau**2)``, ``mu ~ N(prior_mean, prior_sd**2)``: prior covariance
        ``tau**2 I + prior_sd**2 J``; the posterior is bivariate normal (conjugate).

    Returns
    -------
    array (n, 2)
    """
    prev = np.asarray(prevalences, dtype=float)
    S0 = b.tau**2 * np.eye(2) + b.prior_sd**2 * np.ones((2, 2))
    P0 = np.linalg.inv(S0)
    P = P0[None] + np.asarray(prec_data)[:, :, None] * np.eye(2)[None]
    rhs = (P0 @ np.full(2, b.prior_mean))[None] + prec_data * est
    V = np.linalg.inv(P)
    mean = np.einsum("nij,nj->ni", V, rhs)
    a = np.stack([np.array([1.0, 0.0]), prev])  # theta_S, theta_F
    mu_pop = mean @ a.T
    var_pop = np.einsum("pi,nij,pj->np", a, V, a)
    return special.ndtr(mu_pop / np.sqrt(var_pop))


def _simulate_chunk_k(eff, rng, *, prev, n_stage, sd, c, counts, selection, effect_measure, epsilon,
                      threshold, eligible, selection_prior, intersection_test, design, success, final, bayes,
                      f_estimator):
    """K stages: select at every interim on cumulative statistics, K-stage closed test, stop at
    the first interim whose success criterion is met or with nothing selected."""
    m = eff.shape[0]
    K = n_stage.size
    members = intersection_members(2)
    sel = np.ones((m, 2), dtype=bool)
    sels = np.zeros((m, 2, K), dtype=bool)
    q = np.empty((m, members.shape[0], K))
    cum_nd = np.zeros((m, 2))
    cum_n = np.zeros((m, 2))
    ns = np.zeros((m, 2, K))
    first = None
    for k in range(K):
        sels[:, :, k] = sel
        nk = _stage_counts(rng, n_stage[k], prev, counts, m).copy()
        s_only = sel[:, 0] & ~sel[:, 1]
        nk[s_only] = [n_stage[k], 0.0]
        nk[~sel.any(axis=1)] = 0.0
        ns[:, :, k] = nk
        with np.errstate(divide="ignore"):
            d = eff + rng.standard_normal((m, 2)) * sd / np.sqrt(np.maximum(nk, 1e-300) * c)
        d = np.where(nk > 0, d, 0.0)
        _, _, z, w, v = _population_stats(d, nk, sd, c, f_estimator, prev)
        z = np.where(sel, z, np.nan)
        q[:, :, k] = _intersections(special.ndtr(-z), z, w, v, members, intersection_test)
        cum_nd += nk * d
        cum_n += nk
        if k < K - 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                dbar = np.where(cum_n > 0, cum_nd / cum_n, 0.0)
            est, se, zc, _, _ = _population_stats(dbar, cum_n, sd, c, f_estimator, prev)
            if k == 0:
                first = (est, se, nk.copy(), d.copy())
            if effect_measure == "estimate":
                meas = est
            elif effect_measure == "statistic":
                meas = zc
            elif effect_measure == "predictive":
                meas = _predictive(est, se, float(n_stage[k + 1:].sum()), sd, c, selection_prior,
                                   _success_alpha(design, final, bayes))
            else:
                meas = posterior_prob_positive(est, se, prior_mean=selection_prior[0], prior_sd=selection_prior[1])
            meas = np.where(sel, meas, -np.inf)
            sel = sel & select(meas, selection=selection, epsilon=epsilon, threshold=threshold, eligible=eligible)
    rej, _ = closed_test_k(q, members, design, selected=sels)
    stop_at = np.full(m, K - 1)
    done = np.zeros(m, dtype=bool)
    early = np.zeros(m, dtype=bool)
    for k in range(K - 1):
        s_k = sels[:, :, k]
        if success == "all":
            ok = np.all(rej[:, :, k] | ~s_k, axis=1) & rej[:, :, k].any(axis=1)
        else:
            ok = rej[:, :, k].any(axis=1)
        hit = ~done & (ok | ~sels[:, :, k + 1].any(axis=1))
        stop_at[hit] = k
        early |= hit & ok
        done |= hit
    idx = np.arange(m)
    used = np.arange(K)[None, :] <= stop_at[:, None]
    n_used = np.einsum("msk,mk->ms", ns, used.astype(float))
    last_sel = sels[:, :, -1] & (stop_at == K - 1)[:, None]
    none = ~sels[:, :, -1].any(axis=1) & ~early
    return dict(selected=last_sel, rejected=rej[idx, :, stop_at], n_stratum=n_used, stopped=early, none=none,
                est1=first[0], se1=first[1], n1=first[2], d1=first[3])
