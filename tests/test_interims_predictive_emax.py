"""Predictive probability of a final Bayesian Emax go at a dose-finding interim.

Independent answers:

* the joint grid posterior of (E0, Emax) against a per-grid-point Bayesian linear regression
  solved with ``numpy.linalg`` (and the weights / Emax moments of the fixed design's
  ``analyse_bayes_emax``);
* a brute-force nested simulation written as loops: grid point by ``Generator.choice``, the
  parameters by ``multivariate_normal``, the remaining PATIENTS drawn one by one and appended
  to the interim patients, then the fixed design's analysis (``analyse_bayes_emax``) and the
  dual go rule per inner trial;
* the conjugate-normal limit (one dose, flat-ish priors, large n): the closed-form
  ``predictive_prob_success`` of the two-arm engine;
* the engine's futility-stop rate at look 1 in that limit against the semi-analytic
  ``E[P(Binomial(J, PP(est)) < qJ)]`` over the interim estimate (the inner Monte Carlo noise
  of the J draws included).

Tolerances: 4 MCSE (independent binomial errors of both sides added in quadrature), plus
the stated deterministic allowance where a plug-in variance enters.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from msbayes.config import validate_config
from msbayes.design.config import validate_sim_config
from msbayes.design.interims import InterimsSpec
from msbayes.oc.decision import decision_from_spec
from msbayes.sequential.bayes import predictive_prob_success
from msbayes.simulate.bayes_emax import analyse_bayes_emax
from msbayes.simulate.dosefinding import PosteriorAtDose, plan_for
from msbayes.simulate.dosefinding_sequential import (
    emax_final_go,
    emax_joint_posterior,
    predictive_prob_emax,
    simulate_trials,
)

SD, MCID = 0.35, 0.182
DECISION = {"rule": "dual", "go": {"p_benefit": 0.95, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}}


def _cfg(*, doses=(0, 3, 10), n=30, prior_sd=1.0, interims=None):
    raw = {
        "name": "pp-emax", "seed": 5,
        "endpoint": {"sd": SD, "mcid": MCID},
        "design": {"type": "dose_finding", "doses": list(doses), "reference_dose": doses[-1],
                   "n_per_arm": n, "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": 0.2}},
        "analysis": {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 12},
                     "prior_e0": {"mean": 0, "sd": prior_sd}, "prior_emax": {"mean": 0, "sd": prior_sd}},
        "decision": DECISION,
    }
    if interims is not None:
        raw["interims"] = interims
    return validate_sim_config(raw)


def _go_one(cfg, plan, means, s2, n):
    """The fixed design's analysis and dual go rule for ONE trial (reference dose)."""
    res = analyse_bayes_emax(plan, means[None, :], np.array([s2]), n=n[None, :])
    k = len(plan.doses)
    probs = {0.0: res["p_gt"][0.0][:, k - 1], float(plan.mcid): res["p_gt"][plan.mcid][:, k - 1]}
    go, _ = decision_from_spec(cfg.decision)(PosteriorAtDose(probs), mcid=float(plan.mcid))
    return bool(go[0])


def _decide(cfg, plan):
    def decide(means, s2, comp):
        res = analyse_bayes_emax(plan, means, s2, n=comp)
        k = len(plan.doses)
        probs = {0.0: res["p_gt"][0.0][:, k - 1], float(plan.mcid): res["p_gt"][plan.mcid][:, k - 1]}
        return decision_from_spec(cfg.decision)(PosteriorAtDose(probs), mcid=float(plan.mcid))[0]
    return decide


def _regression_posterior(plan, y, s2, n):
    """Per grid point: log marginal likelihood + log prior, posterior mean and covariance of (E0, Emax)."""
    G = plan.g.shape[0]
    logw = np.empty(G)
    mean = np.empty((G, 2))
    cov = np.empty((G, 2, 2))
    P0 = np.diag([1 / plan.s0**2, 1 / plan.s1**2])
    m = np.array([plan.m0, plan.m1])
    R = np.diag(s2 / n)
    for i in range(G):
        X = np.column_stack([np.ones_like(plan.doses), plan.g[i]])
        prec = P0 + X.T @ np.linalg.inv(R) @ X
        V = np.linalg.inv(prec)
        mean[i] = V @ (P0 @ m + X.T @ np.linalg.inv(R) @ y)
        cov[i] = V
        C = X @ np.linalg.inv(P0) @ X.T + R
        logw[i] = stats.multivariate_normal(X @ m, C).logpdf(y) + plan.log_prior[i]
    w = np.exp(logw - logw.max())
    return w / w.sum(), mean, cov


def test_joint_posterior_is_the_per_grid_point_regression():
    cfg = _cfg()
    plan = plan_for(cfg.design, cfg.analysis, mcid=MCID, dropout=0.0)
    y = np.array([[0.02, 0.11, 0.19], [-0.05, 0.0, 0.04]])
    s2 = np.array([0.11, 0.13])
    n = np.array([[14.0, 15.0, 13.0], [20.0, 20.0, 20.0]])
    w, mu0, mu1, v00, v01, v11 = emax_joint_posterior(plan, y, s2, n)
    ref = analyse_bayes_emax(plan, y, s2, n=n)
    np.testing.assert_allclose(w, ref["weights"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mu1, ref["emax_mean"], rtol=1e-10)
    np.testing.assert_allclose(v11, ref["emax_var"], rtol=1e-10)
    for r in range(2):
        wr, mr, cr = _regression_posterior(plan, y[r], s2[r], n[r])
        np.testing.assert_allclose(w[r], wr, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(np.column_stack([mu0[r], mu1[r]]), mr, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(np.stack([v00[r], v01[r], v11[r]], 1),
                                   np.stack([cr[:, 0, 0], cr[:, 0, 1], cr[:, 1, 1]], 1), rtol=1e-8)


@pytest.mark.parametrize("decision_dose", ["reference", "max", "med"])
def test_slim_final_go_equals_the_full_analysis(decision_dose):
    """The engine's final-go shortcut (two probabilities at the decision dose) against the fixed
    design's full analysis + rule, on 4000 random data sets around the go boundary."""
    raw = _cfg().model_dump(mode="json", exclude_unset=True)
    raw["analysis"]["decision_dose"] = decision_dose
    raw["design"]["reference_dose"] = 8  # not a tested dose: reference and max differ
    raw["design"]["doses"] = [0, 3, 10]
    cfg = validate_sim_config(raw)
    plan = plan_for(cfg.design, cfg.analysis, mcid=MCID, dropout=0.0)
    rng = np.random.default_rng(5)
    n = 4000
    means = np.column_stack([np.zeros(n), rng.normal(0.12, 0.1, n), rng.normal(0.2, 0.1, n)])
    s2 = SD**2 * rng.chisquare(60, n) / 60
    comp = rng.integers(15, 31, (n, 3)).astype(float)
    fast = emax_final_go(cfg, plan, means, s2, comp)
    from msbayes.simulate.dosefinding_sequential import _emax_decision

    full = _emax_decision(cfg, plan, analyse_bayes_emax(plan, means, s2, n=comp))[0]
    np.testing.assert_array_equal(fast, full)
    assert 0.1 < fast.mean() < 0.9


def test_nested_simulation_matches_a_brute_force_patient_loop():
    """Three interim data sets (15 of 30 per arm, doses 0/3/10), PP by the vectorized nested
    simulation (J = 4000) and by a loop (J = 1200) drawing patients; 4 MCSE of the difference."""
    cfg = _cfg()
    plan = plan_for(cfg.design, cfg.analysis, mcid=MCID, dropout=0.0)
    rng = np.random.default_rng(2026)
    k, m_int, m_fin = 3, 15, 30
    # interim arm means set exactly (centred noise + mean) so that PP is away from 0 and 1
    truths = [np.array([0.0, 0.105, 0.15]), np.array([0.0, 0.14, 0.2]), np.array([0.0, 0.175, 0.25])]
    patients = []
    for t in truths:
        noise = rng.normal(0.0, SD, (k, m_int))
        patients.append([noise[a] - noise[a].mean() + t[a] for a in range(k)])
    means = np.array([[p.mean() for p in ps] for ps in patients])
    s2 = np.array([sum(((p - p.mean()) ** 2).sum() for p in ps) / (k * m_int - k) for ps in patients])
    comp = np.full((3, k), float(m_int))
    remaining = np.full((3, k), m_fin - m_int)
    J = 4000
    engine_go = lambda m, v, c: emax_final_go(cfg, plan, m, v, c)  # noqa: E731 (the engine's final go)
    pp = predictive_prob_emax(plan, engine_go, means, s2, comp, remaining, draws=J, dropout=0.0,
                              rng=np.random.default_rng(7))
    Jb = 1200
    brng = np.random.default_rng(99)
    for r in range(3):
        w, mean, cov = _regression_posterior(plan, means[r], s2[r], comp[r])
        hits = 0
        for _ in range(Jb):
            i = brng.choice(len(w), p=w)
            e0, em = brng.multivariate_normal(mean[i], cov[i])
            full = []
            for a in range(k):
                new = brng.normal(e0 + em * plan.g[i, a], math.sqrt(s2[r]), m_fin - m_int)
                full.append(np.concatenate([patients[r][a], new]))
            fm = np.array([x.mean() for x in full])
            fs2 = sum(((x - x.mean()) ** 2).sum() for x in full) / (k * m_fin - k)
            hits += _go_one(cfg, plan, fm, fs2, np.full(k, float(m_fin)))
        pb = hits / Jb
        p = 0.5 * (pp[r] + pb)
        mcse = math.sqrt(max(p * (1 - p), 0.01) * (1 / J + 1 / Jb))
        assert abs(pp[r] - pb) < 4 * mcse, (r, pp[r], pb, mcse)
    assert 0.05 < pp.min() and pp.max() < 0.95  # the cases test the middle, not the edges


def test_one_dose_flat_prior_large_n_tends_to_the_conjugate_normal_value():
    """doses 0/10, priors N(0, 100^2), 400 of 800 per arm with s2 = SD^2: the grid posterior of
    the effect at the dose is N(diff, se^2) at every grid point, so PP -> the two-arm closed
    form with a flat prior. J = 20000; 4 MCSE + 0.01 (plug-in variance re-estimated at the end)."""
    cfg = _cfg(doses=(0, 10), n=800, prior_sd=100.0)
    plan = plan_for(cfg.design, cfg.analysis, mcid=MCID, dropout=0.0)
    diffs = np.array([0.165, 0.18, 0.195])
    means = np.column_stack([np.zeros(3), diffs])
    s2 = np.full(3, SD**2)
    comp = np.full((3, 2), 400.0)
    J = 20_000
    pp = predictive_prob_emax(plan, _decide(cfg, plan), means, s2, comp, np.full((3, 2), 400), draws=J,
                              dropout=0.0, rng=np.random.default_rng(3))
    se, se_f = SD * math.sqrt(2 / 400), SD * math.sqrt(2 / 800)
    exact = predictive_prob_success(diffs, se, se_f, "flat", go=[(0.0, 0.95), (MCID, 0.5)])
    mcse = np.sqrt(exact * (1 - exact) / J)
    assert np.all(np.abs(pp - exact) < 4 * mcse + 0.01), (pp, exact)
    assert exact.min() > 0.1 and exact.max() < 0.9


def test_engine_futility_rate_with_inner_noise_matches_the_semi_analytic_value():
    """Engine (one dose, flat-ish priors, 400 per arm at look 1 of 800, J = 100, q = 0.2):
    P(stop at look 1) = E over est ~ N(0, se^2) of P(Binomial(100, PP(est)) <= 19), PP the
    conjugate closed form, under effect 0.2 (PP spread over (0, 1)). 6000 trials; 4 MCSE + 0.01
    (plug-in SD)."""
    spec = {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
            "futility": {"predictive_below": 0.2}, "predictive_draws": 100}
    cfg = _cfg(doses=(0, 10), n=800, prior_sd=100.0, interims=spec)
    n = 6000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(11), interims=cfg.interims)
    se, se_f = SD * math.sqrt(2 / 400), SD * math.sqrt(2 / 800)

    def integrand(x):
        p = float(predictive_prob_success(x, se, se_f, "flat", go=[(0.0, 0.95), (MCID, 0.5)]))
        return stats.norm.pdf(x, 0.2, se) * stats.binom.cdf(19, 100, p)

    expected = integrate.quad(integrand, 0.2 - 8 * se, 0.2 + 8 * se, points=[0.15, 0.2], limit=200)[0]
    got = out["futility_look1"].mean()
    assert 0.05 < expected < 0.95
    assert abs(got - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 0.01, (got, expected)
    # the inner-noise report: SE of PP at the interim and the share of trials near q
    fin = np.isfinite(out["predictive_mcse"])
    assert fin.all() and np.all(out["predictive_mcse"] <= 0.05 + 1e-12)
    assert 0.0 < out["predictive_near_threshold"].mean() < 1.0


def test_predictive_draws_is_validated_and_predictive_needs_bayes_emax():
    with pytest.raises(ValueError, match="predictive_draws"):
        validate_config(InterimsSpec, {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
                                       "futility": {"predictive_below": 0.1}, "predictive_draws": 3})
    raw = {"name": "x", "seed": 1, "endpoint": {"sd": SD, "mcid": MCID},
           "design": {"type": "dose_finding", "doses": [0, 10], "reference_dose": 10, "n_per_arm": 40,
                      "dose_response": {"model": "linear"}},
           "scenarios": {"null": {"effect": 0.0}},
           "analysis": {"method": "mcpmod", "models": {"linear": None}},
           "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
                        "futility": {"predictive_below": 0.1}}}
    with pytest.raises(ValueError, match=r"interims\.futility.*bayes_emax"):
        validate_sim_config(raw)
