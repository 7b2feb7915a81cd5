"""Dose-finding trial simulation through the engine, against closed forms and R values.

Independent answers: the noncentral t (power of a single fixed contrast), the nominal
alpha of the multiple contrast test (type I error), DoseFinding::powMCT (R value in
test_mcpmod_r.py), normal / chi-square moments of the sufficient statistics, and a
patient-level simulation. Tolerances: 4 MCSE (plus R's integration error where used).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from msbayes.design.config import validate_sim_config
from msbayes.design.doseresponse import anchored_effects, target_dose, true_med
from msbayes.rng import cell_seed
from msbayes.simulate.dosefinding import dose_trial_stats, dose_trial_stats_strata, plan_for, simulate_chunk
from msbayes.simulate.engine import simulate_cell

MODELS = {"emax": [1.0, 5.0], "sigemax": [[4, 3]], "exponential": [5.0], "quadratic": [-0.05],
          "linear": None}


def _cfg(analysis, *, dose_response=None, scenarios=None, endpoint=None, decision=None, n=30):
    raw = {
        "name": "df-test", "seed": 20261125,
        "endpoint": endpoint or {"sd": 0.35, "mcid": 0.182},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10],
                   "dose_metric": "cells_per_injection", "dose_unit": "million cells x 6",
                   "reference_dose": 10, "allocation": [1, 1, 1, 1], "n_per_arm": n,
                   "dose_response": dose_response or {"model": "emax", "ed50": 3.0}},
        "scenarios": scenarios or {"null": {"effect": 0.0}, "mcid": {"effect": 0.182}},
        "analysis": analysis,
    }
    if decision is not None:
        raw["decision"] = decision
    return validate_sim_config(raw)


def _run(cfg, scenario, n_sims):
    acc = simulate_cell(cfg, scenario, n_sims, cell_seed(cfg.seed, {"scenario": scenario}),
                        chunk_size=10_000)
    return acc.finalize()


def test_type_one_error_mcpmod():
    cfg = _cfg({"method": "mcpmod", "models": MODELS})
    r = _run(cfg, "null", 40_000)
    assert abs(r["p_reject"] - 0.025) < 4 * np.sqrt(0.025 * 0.975 / 40_000)
    assert r["p_go"] == r["p_reject"]
    # under the null no tested dose reaches the MCID: "correct" = no dose selected, which
    # includes every trial that does not reject
    assert abs(r["p_correct_dose"] - r["p_select_none"]) < 1e-12
    assert r["p_correct_dose"] >= 1 - r["p_reject"]


def test_power_mcpmod_matches_powmct():
    cfg = _cfg({"method": "mcpmod", "models": MODELS})
    r = _run(cfg, "mcid", 20_000)
    ref = 0.544366267789  # DoseFinding::powMCT, see test_mcpmod_r.py
    assert abs(r["p_reject"] - ref) < 4 * r["p_reject_mcse"] + 1e-3
    assert r["expected_n"] == 120.0


def test_single_contrast_power_is_noncentral_t():
    """One candidate (linear): the test is a t-test of a fixed contrast -> noncentral t."""
    cfg = _cfg({"method": "mcpmod", "models": {"linear": None}},
               dose_response={"model": "emax", "ed50": 2.0})
    r = _run(cfg, "mcid", 20_000)
    plan = plan_for(cfg.design, cfg.analysis, mcid=0.182)
    mu = anchored_effects("emax", [0, 3, 6, 10], d_ref=10, theta_ref=np.array([0.182]),
                          shape={"ed50": 2.0})[0]
    c = plan.contrasts[:, 0]
    ncp = c @ mu / (0.35 * np.sqrt((c**2).sum() / 30))
    power = stats.nct.sf(stats.t.ppf(0.975, 116), 116, ncp)
    assert abs(plan.crit - stats.t.ppf(0.975, 116)) < 1e-6
    assert abs(r["p_reject"] - power) < 4 * np.sqrt(power * (1 - power) / 20_000)


def test_sufficient_statistics_moments_and_patient_level():
    rng = np.random.default_rng(4)
    S, sizes, sd = 40_000, np.array([8, 10, 12, 9]), 0.4
    eff = np.tile([0.0, 0.1, 0.2, 0.3], (S, 1))
    m, s2, c, df, ok = dose_trial_stats(eff, sizes, sd=sd, placebo_mean=-0.1, rng=rng)
    assert ok.all() and np.all(df == sizes.sum() - 4)
    se_mean = sd / np.sqrt(sizes)
    assert np.all(np.abs(m.mean(0) - (eff[0] - 0.1)) < 4 * se_mean / np.sqrt(S))
    v = m.var(0, ddof=1)
    assert np.all(np.abs(v / se_mean**2 - 1) < 4 * np.sqrt(2 / (S - 1)))
    # pooled variance: sd^2 chi2(df)/df -> mean sd^2, var 2 sd^4 / df
    dfv = sizes.sum() - 4
    assert abs(s2.mean() - sd**2) < 4 * sd**2 * np.sqrt(2 / dfv / S)
    # patient level: same distribution (two-sample KS on s2 and on one arm mean)
    Sp = 4000
    pts = [-0.1 + eff[0, i] + sd * rng.standard_normal((Sp, n)) for i, n in enumerate(sizes)]
    s2p = sum((p.var(1, ddof=1) * (n - 1)) for p, n in zip(pts, sizes)) / dfv
    assert stats.ks_2samp(s2p, s2[:Sp]).pvalue > 1e-3
    assert stats.ks_2samp(pts[2].mean(1), m[:Sp, 2]).pvalue > 1e-3


def _patient_level_strata(rng, S, sizes, eff_ks, weights, *, sd, placebo_mean, dropout, fixed):
    """Brute force: every patient gets a stratum, an outcome and a dropout indicator; the arm
    means and the pooled variance ignore strata (what MCP-Mod sees)."""
    k = len(sizes)
    means = np.empty((S, k))
    ss = np.zeros(S)
    ntot = np.zeros(S)
    for a, n in enumerate(sizes):
        if fixed:
            from msbayes.design.endpoint import fixed_stratum_counts

            lab = np.repeat(np.arange(len(weights)), fixed_stratum_counts(n, np.asarray(weights)))
            lab = np.broadcast_to(lab, (S, n))
        else:
            lab = rng.choice(len(weights), size=(S, n), p=weights)
        y = placebo_mean + eff_ks[a][lab] + sd * rng.standard_normal((S, n))
        keep = rng.random((S, n)) >= dropout
        c = keep.sum(1)
        means[:, a] = (y * keep).sum(1) / c
        ss += (((y - means[:, a][:, None]) ** 2) * keep).sum(1)
        ntot += c
    return means, ss / (ntot - k)


def test_strata_sufficient_statistics_closed_form_moments():
    """Random stratum enrolment, no dropout: arm mean ~ mixture mean, Var = (sd^2 + V_a)/n_a,
    E[pooled s^2] = sd^2 + sum_a (n_a - 1) V_a / (N - k), V_a = sum_s p_s (e_as - e_a)^2."""
    rng = np.random.default_rng(11)
    S, sizes, sd, p = 60_000, np.array([10, 12, 9, 15]), 0.35, np.array([0.6, 0.4])
    e = np.array([[0.0, 0.0], [0.1, 0.5], [0.2, 0.9], [0.3, 1.2]])  # (arm, stratum)
    counts = np.stack([rng.multinomial(n, p, size=S) for n in sizes], axis=1)
    m, s2, c, df, ok = dose_trial_stats_strata(np.broadcast_to(e, (S, 4, 2)), counts, sd=sd,
                                               placebo_mean=-0.1, rng=rng)
    assert ok.all() and np.all(c == sizes) and np.all(df == sizes.sum() - 4)
    mix = e @ p
    V = ((e - mix[:, None]) ** 2) @ p
    var_m = (sd**2 + V) / sizes
    assert np.all(np.abs(m.mean(0) - (mix - 0.1)) < 4 * np.sqrt(var_m / S))
    # MCSE of a sample variance from the fourth central moment (the mixture is not normal)
    m4 = ((m - m.mean(0)) ** 4).mean(0)
    assert np.all(np.abs(m.var(0, ddof=1) - var_m) < 4 * np.sqrt((m4 - var_m**2) / S))
    es2 = sd**2 + ((sizes - 1) * V).sum() / (sizes.sum() - 4)
    assert abs(s2.mean() - es2) < 4 * s2.std() / np.sqrt(S)
    # the between-stratum spread is visible: ignoring it (old behaviour) is far off
    assert (es2 - sd**2) > 20 * s2.std() / np.sqrt(S)


@pytest.mark.parametrize("fixed", [True, False])
def test_strata_sufficient_statistics_match_patient_level(fixed):
    rng = np.random.default_rng(12 + fixed)
    S, sizes, sd, w, drop = 6000, [8, 10, 12, 9], 0.35, [0.55, 0.45], 0.15
    e = np.array([[0.0, 0.0], [0.1, 0.6], [0.2, 0.8], [0.3, 1.0]])
    mp, s2p = _patient_level_strata(rng, S, sizes, e, w, sd=sd, placebo_mean=0.1, dropout=drop,
                                    fixed=fixed)
    from msbayes.design.endpoint import EndpointSpec
    from msbayes.simulate.twoarm import completer_counts, randomized_counts

    ep = EndpointSpec(sd=sd, strata={"a": w[0], "b": w[1]},
                      stratum_enrolment="fixed" if fixed else "random")
    comp = completer_counts(randomized_counts(ep, sizes, S, rng=rng), drop, rng=rng)
    m, s2, c, df, ok = dose_trial_stats_strata(np.broadcast_to(e, (S, 4, 2)), comp, sd=sd,
                                               placebo_mean=0.1, rng=rng)
    assert ok.all()
    assert stats.ks_2samp(s2p, s2).pvalue > 1e-3
    for a in range(4):
        assert stats.ks_2samp(mp[:, a], m[:, a]).pvalue > 1e-3


def test_strata_engine_equal_effects_match_single_stratum_powmct():
    endpoint = {"sd": 0.35, "mcid": 0.182, "strata": {"edss_3.0-5.5": 0.4, "edss_6.0-6.5": 0.6},
                "stratum_enrolment": "random"}
    cfg = _cfg({"method": "mcpmod", "models": MODELS}, endpoint=endpoint,
               scenarios={"mcid": {"effect": {"edss_3.0-5.5": 0.182, "edss_6.0-6.5": 0.182}}})
    r = _run(cfg, "mcid", 20_000)
    ref = 0.544366267789  # DoseFinding::powMCT, single population (see test_mcpmod_r.py)
    assert abs(r["p_reject"] - ref) < 4 * r["p_reject_mcse"] + 1e-3


def test_strata_engine_power_matches_patient_level_simulation():
    """Different stratum effects, random enrolment: the engine's P(reject) equals that of the
    same MCP-Mod analysis applied to brute-force patient-level trials (4 combined MCSE)."""
    from msbayes.simulate.mcpmod import analyse_mcpmod

    endpoint = {"sd": 0.35, "mcid": 0.182, "strata": {"lo": 0.5, "hi": 0.5},
                "stratum_enrolment": "random"}
    cfg = _cfg({"method": "mcpmod", "models": {"emax": [2.0], "linear": None}}, endpoint=endpoint,
               scenarios={"split": {"effect": {"lo": 0.0, "hi": 0.36}}}, n=25)
    r = _run(cfg, "split", 20_000)
    eff_ref = anchored_effects("emax", [0, 3, 6, 10], d_ref=10, theta_ref=np.ones(1),
                               shape={"ed50": 3.0})[0]
    e = eff_ref[:, None] * np.array([0.0, 0.36])[None, :]
    rng = np.random.default_rng(13)
    Sp = 8000
    mp, s2p = _patient_level_strata(rng, Sp, [25] * 4, e, [0.5, 0.5], sd=0.35, placebo_mean=0.0,
                                    dropout=0.0, fixed=False)
    plan = plan_for(cfg.design, cfg.analysis, mcid=0.182)
    pr = analyse_mcpmod(plan, mp, s2p)["reject"].mean()
    se = np.sqrt(r["p_reject_mcse"] ** 2 + pr * (1 - pr) / Sp)
    assert abs(r["p_reject"] - pr) < 4 * se
    assert r["mean_true"] == pytest.approx(0.18)  # enrolment-weighted truth
    # the test can tell: collapsing the strata to their weighted effect (0.18 everywhere)
    # ignores the between-stratum spread and overstates power (0.48 vs 0.43 here)
    flat = _cfg({"method": "mcpmod", "models": {"emax": [2.0], "linear": None}},
                scenarios={"split": {"effect": 0.18}}, n=25)
    rf = _run(flat, "split", 20_000)
    assert rf["p_reject"] - pr > 4 * np.sqrt(rf["p_reject_mcse"] ** 2 + pr * (1 - pr) / Sp)


def test_dropout_completers():
    rng = np.random.default_rng(5)
    S = 40_000
    m, s2, c, df, ok = dose_trial_stats(np.zeros((S, 4)), [30] * 4, sd=0.35, dropout=0.2, rng=rng)
    assert abs(c.mean() - 24.0) < 4 * np.sqrt(30 * 0.2 * 0.8 / (4 * S))
    # arm mean variance sd^2 E[1/C]  (C ~ Binomial(30, 0.8), exact expectation)
    k = np.arange(1, 31)
    e_inv = (stats.binom.pmf(k, 30, 0.8) / k).sum() / (1 - stats.binom.pmf(0, 30, 0.8))
    v = m[:, 1].var()
    assert abs(v - 0.35**2 * e_inv) < 4 * v * np.sqrt(2 / S)


def test_chunk_outputs_and_truth():
    cfg = _cfg({"method": "mcpmod", "models": MODELS, "target_delta": 0.1},
               dose_response={"model": "sigemax", "ed50": {"lognormal": {"median": 4.0, "sd_log": 0.5}},
                              "hill": 2.0},
               scenarios={"prior": {"normal": {"mean": 0.18, "sd": 0.08}}})
    out = simulate_chunk(cfg, "prior", 3000, np.random.default_rng(1))
    assert int(out["n_doses"]) == 4
    for k in ("go", "nogo", "reject", "failed", "correct"):
        assert out[k].dtype == bool and out[k].shape == (3000,)
    assert np.all(out["go"] != out["nogo"])
    assert np.all((out["selected"] >= -1) & (out["selected"] <= 3))
    # td_true: target dose of the anchored truth, checked against a fine dose grid
    rng = np.random.default_rng(1)
    from msbayes.simulate.twoarm import scenario_sampler

    theta = scenario_sampler(cfg, "prior").sample(3000, rng=rng)[:, 0]
    ed50 = 4.0 * np.exp(0.5 * rng.standard_normal(3000))
    np.testing.assert_allclose(out["true"], theta)
    grid = np.linspace(0, 10, 20_001)
    eff = anchored_effects("sigemax", grid, d_ref=10, theta_ref=theta[:50],
                           shape={"ed50": ed50[:50], "hill": 2.0})
    for i in range(50):
        hit = np.nonzero(eff[i] >= 0.1)[0]
        if hit.size == 0:
            assert np.isnan(out["td_true"][i])
        else:
            assert grid[hit[0]] - 5e-4 - 1e-9 <= out["td_true"][i] <= grid[hit[0]] + 1e-9
    eff4 = anchored_effects("sigemax", [0, 3, 6, 10], d_ref=10, theta_ref=theta,
                            shape={"ed50": ed50, "hill": 2.0})
    np.testing.assert_array_equal(out["correct"], out["selected"] == true_med(eff4, 0.1))


def test_bayes_emax_through_engine():
    an = {"method": "bayes_emax", "ed50_grid": {"lower": 0.3, "upper": 30, "n": 64},
          "prior_e0": {"mean": 0.0, "sd": 1.0}, "prior_emax": {"mean": 0.0, "sd": 1.0}}
    cfg = _cfg(an, decision={"go": {"p_benefit": 0.975, "p_mcid": 0.0}})
    r0 = _run(cfg, "null", 10_000)
    r1 = _run(cfg, "mcid", 10_000)
    assert r1["p_go"] > r0["p_go"]
    assert r0["p_go"] < 0.1
    out = simulate_chunk(cfg, "mcid", 2000, np.random.default_rng(3))
    assert np.all(np.isfinite(out["est"]))
    # the go decision is P(effect(d_ref) > 0) >= 0.975, recomputed from the posterior
    from msbayes.simulate.bayes_emax import analyse_bayes_emax

    rng = np.random.default_rng(3)
    from msbayes.simulate.twoarm import scenario_sampler

    theta = scenario_sampler(cfg, "mcid").sample(2000, rng=rng)[:, 0]
    eff = anchored_effects("emax", [0, 3, 6, 10], d_ref=10, theta_ref=theta, shape={"ed50": np.full(2000, 3.0)})
    m, s2, c, *_ = dose_trial_stats(eff, [30] * 4, sd=0.35, rng=rng)
    plan = plan_for(cfg.design, cfg.analysis, mcid=0.182)
    res = analyse_bayes_emax(plan, m, s2, n=c)
    np.testing.assert_array_equal(out["go"], res["p_gt0_ref"] >= 0.975)
    np.testing.assert_array_equal(out["selected"], res["med"])


def test_plan_cache_and_mcar_only():
    cfg = _cfg({"method": "mcpmod", "models": MODELS})
    assert plan_for(cfg.design, cfg.analysis, mcid=0.182) is plan_for(cfg.design, cfg.analysis, mcid=0.182)
    # informative dropout is not simulated for dose finding: refused at validation (before any
    # work), not in a worker at simulation time
    with pytest.raises(ValueError, match="endpoint.dropout_mechanism"):
        _cfg({"method": "mcpmod", "models": MODELS},
             endpoint={"sd": 0.35, "dropout": 0.1, "dropout_mechanism": "informative"})


def test_target_dose_closed_form_matches_anchoring():
    theta = np.array([0.3])
    td = target_dose("emax", scale=theta / (10 / 13), shape={"ed50": 3.0}, target_delta=0.182, d_max=10)
    eff = anchored_effects("emax", td, d_ref=10, theta_ref=theta, shape={"ed50": 3.0})
    assert abs(eff[0, 0] - 0.182) < 1e-12


def test_linear_truth_runs_and_matches_closed_forms():
    """``dose_response: {model: linear}`` (no shape parameter) used to crash in simulate_chunk
    (g(d_ref) came back 1-D). Closed forms: effect(d) = theta d / d_ref, TD = delta d_ref / theta,
    true MED = smallest tested dose >= TD; with sd small the MED rule finds it in every trial."""
    theta, delta = 0.5, 0.182
    cfg = _cfg({"method": "mcpmod", "models": {"linear": None, "emax": [2.0]}, "dose_estimate": "med"},
               dose_response={"model": "linear"}, scenarios={"s": {"effect": theta}},
               endpoint={"sd": 0.05, "mcid": delta}, n=60)
    out = simulate_chunk(cfg, "s", 500, np.random.default_rng(4))
    np.testing.assert_allclose(out["td_true"], delta * 10 / theta, rtol=1e-12)
    assert np.all(out["true"] == theta)
    # est = fitted effect at d_ref: unbiased with SD about sd * sqrt(1/n0 + 1/n_ref) at most
    assert abs(np.mean(out["est"]) - theta) < 4 * 0.05 * np.sqrt(2 / 60) / np.sqrt(500)
    # SE of the MED decision margin: the fitted effect at dose 6 (0.3) is ~50 SE above delta
    assert out["go"].all() and np.all(out["selected"] == 2) and out["correct"].all()
    r = simulate_cell(cfg, "s", 1000, cell_seed(1, "linear")).finalize()
    assert r["p_correct_dose"] == 1.0 and abs(r["td_bias"]) < 4 * r["td_bias_mcse"]


def test_td_rule_selects_the_true_med_when_data_are_near_exact():
    """With a linear truth (TD = 3.64 between tested doses 3 and 6) and tiny noise, the
    target-dose rule must pick dose 6, the true MED: a dose below the TD never reaches the
    target. (Picking the tested dose *nearest* the TD gave 3, so P(correct) = 0.)"""
    theta, delta = 0.5, 0.182
    cfg = _cfg({"method": "mcpmod", "models": {"linear": None, "emax": [2.0]}, "dose_estimate": "td"},
               dose_response={"model": "linear"}, scenarios={"s": {"effect": theta}},
               endpoint={"sd": 0.05, "mcid": delta}, n=60)
    out = simulate_chunk(cfg, "s", 500, np.random.default_rng(5))
    assert out["go"].all() and np.all(out["selected"] == 2) and out["correct"].all()
