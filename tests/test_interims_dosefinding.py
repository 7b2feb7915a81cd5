"""Dose-finding designs with interim looks (msbayes.simulate.dosefinding_sequential).

Independent answers: the fixed dose-finding simulator on the same seed (one look: bit for
bit), a patient-level simulation of the staged arms (moments of the cumulative arm means and
pooled variance), closed-form normal probabilities of dropping a dose / stopping at look 1
(known-SD pairwise z), the nominal alpha of MCP-Mod (type I error with futility dose dropping)
and the closed-form expected sample size. Tolerances: 3.5-4 MCSE as stated per test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from msbayes.config import validate_config
from msbayes.design.config import validate_sim_config
from msbayes.design.doseresponse import anchored_effects
from msbayes.design.interims import InterimsSpec
from msbayes.rng import cell_seed
from msbayes.simulate.dosefinding import simulate_chunk as fixed_chunk
from msbayes.simulate.dosefinding_sequential import (
    check_dose_interims,
    simulate_trials,
    stage_sizes,
    stage_statistics,
)
from msbayes.simulate.engine import simulate_cell

ROOT = Path(__file__).resolve().parents[1]
SD, MCID = 0.35, 0.182
EMAX = {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 16},
        "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}}
EMAX_DECISION = {"rule": "dual", "go": {"p_benefit": 0.95, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}}


def _cfg(analysis, *, doses=(0, 3, 6, 10), n=40, dropout=0.0, scenarios=None, decision=None, interims=None):
    raw = {
        "name": "df-interims", "seed": 7,
        "endpoint": {"sd": SD, "mcid": MCID, "dropout": dropout},
        "design": {"type": "dose_finding", "doses": list(doses), "reference_dose": doses[-1],
                   "n_per_arm": n, "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": scenarios or {"null": {"effect": 0.0}, "alt": {"effect": 0.2}},
        "analysis": analysis,
    }
    if decision is not None:
        raw["decision"] = decision
    if interims is not None:
        raw["interims"] = interims
    return validate_sim_config(raw)


def _spec(**kw):
    base = {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none", "futility": "none"}
    base.update(kw)
    return validate_config(InterimsSpec, base)


def _config(name):
    return validate_sim_config(yaml.safe_load((ROOT / "configs" / "design" / name).read_text()))


# --------------------------------------------------------------------------- one look
@pytest.mark.parametrize("name", ["dose_finding.yaml", "dose_finding_bayes_emax.yaml"])
def test_single_look_is_the_fixed_design_bit_for_bit(name):
    """looks: [1.0] draws exactly what the fixed design draws (with dropout 0.12 in both
    configs) and analyses it the same way: every shared outcome is identical."""
    cfg = _config(name)
    spec = _spec(looks=[1.0])
    for sc in cfg.scenarios:
        a = fixed_chunk(cfg, sc, 1500, np.random.default_rng(11))
        b = simulate_trials(cfg, sc, 1500, np.random.default_rng(11), interims=spec)
        shared = [k for k in a if k in b]
        assert {"go", "nogo", "est", "selected", "td_est", "n_total"} <= set(shared)
        for k in shared:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=f"{sc}: {k}")
        assert b["stop_look1"].all() and np.array_equal(b["efficacy_look1"], a["go"])


# ------------------------------------------------------------------ stage statistics
def test_stage_statistics_match_patient_level_simulation():
    """Cumulative arm means and pooled variance at two looks (with dropout): means, SDs and
    the look-1/look-2 covariance of the arm means agree with a patient-level simulation
    (4 MCSE of the difference of two independent estimates)."""
    rng = np.random.default_rng(2026)
    nsim, sd, dropout = 20_000, 1.3, 0.15
    mu = np.array([0.0, 0.4, -0.2])
    cum = np.array([[9, 8, 10], [17, 15, 21]])
    suff = stage_statistics(np.broadcast_to(mu, (nsim, 3)), cum, sd=sd, dropout=dropout, rng=rng)
    # patient level: every patient drawn, completers by Bernoulli, statistics from the data
    nmax = cum[-1].max()
    y = mu[None, :, None] + sd * rng.standard_normal((nsim, 3, nmax))
    keep = rng.random((nsim, 3, nmax)) >= dropout
    pat = []
    for row in cum:
        inn = (np.arange(nmax)[None, :] < row[:, None])[None] & keep
        c = inn.sum(2)
        m = (y * inn).sum(2) / np.maximum(c, 1)
        ss = (((y - m[:, :, None]) ** 2) * inn).sum((1, 2))
        pat.append((m, ss / (c.sum(1) - 3), c))
    good = np.all([p[2].min(1) >= 1 for p in pat], axis=0) & np.all([s[2].min(1) >= 1 for s in suff], axis=0)
    assert good.mean() > 0.999

    def close(a, b, what):
        a, b = a[good], b[good]
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4 * se, (what, a.mean(), b.mean(), se)

    for look in range(2):
        ms, s2s, cs = suff[look]
        mp, s2p, cp = pat[look]
        for arm in range(3):
            close(ms[:, arm], mp[:, arm], f"mean arm {arm} look {look}")
            close((ms[:, arm] - mu[arm]) ** 2, (mp[:, arm] - mu[arm]) ** 2, f"var arm {arm} look {look}")
            close(cs[:, arm], cp[:, arm], f"completers arm {arm} look {look}")
        close(s2s, s2p, f"s2 look {look}")
        close(s2s**2, s2p**2, f"s2^2 look {look}")
    for arm in range(3):
        close((suff[0][0][:, arm] - mu[arm]) * (suff[1][0][:, arm] - mu[arm]),
              (pat[0][0][:, arm] - mu[arm]) * (pat[1][0][:, arm] - mu[arm]), f"cov looks arm {arm}")
    # and the pooled variance is unbiased for sd^2 (closed form), 4 MCSE
    s2 = suff[1][1][good]
    assert abs(s2.mean() - sd**2) < 4 * s2.std() / np.sqrt(s2.size)


# ----------------------------------------------------------------- dropping: closed form
@pytest.mark.parametrize("drop", [{"z_below": 0.3}, {"p_mcid_below": 0.2}])
def test_drop_probability_at_look_1_is_the_normal_closed_form(drop):
    """Known-SD pairwise comparison with placebo at look 1 (20 per arm, no dropout):
    z_d ~ N(effect_d / se, 1), se = sd sqrt(2 / 20); P(drop) = Phi(z_below - effect_d / se),
    or for P(effect > MCID | data) = Phi((diff - MCID) / se) < l:
    Phi((MCID + se Phi^-1(l) - effect_d) / se). Each dose's marginal, 3.5 MCSE."""
    cfg = _cfg(EMAX, decision=EMAX_DECISION)
    spec = _spec(drop_doses=drop)
    n = 20_000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(3), interims=spec)
    eff = anchored_effects("emax", np.array([0, 3, 6, 10.0]), d_ref=10, theta_ref=np.array([0.2]),
                           shape={"ed50": np.array([3.0])})[0, 1:]
    se = SD * np.sqrt(2 / 20)
    if "z_below" in drop:
        p = stats.norm.cdf(drop["z_below"] - eff / se)
    else:
        p = stats.norm.cdf((MCID + se * stats.norm.ppf(drop["p_mcid_below"]) - eff) / se)
    for d in range(3):
        ph = out[f"dropped_dose{d}_look1"].mean()
        mcse = np.sqrt(p[d] * (1 - p[d]) / n)
        assert abs(ph - p[d]) < 3.5 * mcse, (d, ph, p[d], mcse)
        assert not out[f"dropped_dose{d}_look2"].any()  # nothing is dropped at the final look
    # all three dropped -> futility stop at look 1, and only then (no futility rule)
    all3 = np.all([out[f"dropped_dose{d}_look1"] for d in range(3)], axis=0)
    np.testing.assert_array_equal(all3, out["futility_look1"])
    np.testing.assert_array_equal(all3, out["stop_look1"])


# ------------------------------------------------------------------ type I error (null)
def test_type1_error_with_futility_dropping_mcpmod(record_property):
    """Null scenario, one interim at 50% dropping doses with P(effect > MCID) < 0.1, final
    MCP-Mod with the critical value for the realised arm sizes: simulated type I error
    <= alpha + 3 MCSE (reported in the assertion message)."""
    cfg = _config("dose_finding.yaml")
    spec = _spec(drop_doses={"p_mcid_below": 0.1})
    n = 40_000
    out = simulate_trials(cfg, "null", n, np.random.default_rng(4), interims=spec)
    p = out["go"].mean()
    mcse = np.sqrt(p * (1 - p) / n)
    alpha = cfg.analysis.alpha
    record_property("type_I_error", float(p))
    record_property("type_I_error_mcse", float(mcse))
    assert p <= alpha + 3 * mcse, f"type I error {p:.4f} (MCSE {mcse:.4f}) > alpha {alpha} + 3 MCSE"
    np.testing.assert_array_equal(out["reject"], out["go"])
    assert out["stop_look1"].mean() > 0.1  # the rule did act


# ----------------------------------------------------------------- expected sample size
def test_expected_n_single_dose_closed_form():
    """Placebo + one dose, n = 50 per arm, looks at 40% and 100%; dropping the only dose
    (z < 0) ends the trial: P(stop at 1) = Phi(0 - effect / (sd sqrt(2/20))) and
    E[n] = P1 * 40 + (1 - P1) * 100 (closed form, 3.5 MCSE); also exactly the sum over looks
    of P(stop at k) x patients randomised at k."""
    cfg = _cfg(EMAX, doses=(0, 10), n=50, decision=EMAX_DECISION)
    spec = _spec(looks=[0.4, 1.0], drop_doses={"z_below": 0.0})
    n = 20_000
    for sc, eff in (("null", 0.0), ("alt", 0.2)):
        out = simulate_trials(cfg, sc, n, np.random.default_rng(5), interims=spec)
        p1 = stats.norm.cdf(-eff / (SD * np.sqrt(2 / 20)))
        assert abs(out["stop_look1"].mean() - p1) < 3.5 * np.sqrt(p1 * (1 - p1) / n)
        en = p1 * 40 + (1 - p1) * 100
        mcse = 60 * np.sqrt(p1 * (1 - p1) / n)
        assert abs(out["n_total"].mean() - en) < 3.5 * mcse, (sc, out["n_total"].mean(), en)
        by_look = out["stop_look1"].mean() * 40 + out["stop_look2"].mean() * 100
        assert out["n_total"].mean() == pytest.approx(by_look, rel=1e-12)


def test_expected_n_three_looks_futility_through_engine():
    """Three doses, three looks (1/3, 2/3, 1), futility z bounds on the best dose, no dropping:
    patients randomised at look k are fixed, so expected_n from the engine equals the sum over
    looks of P(stop at k) x n_k (to rounding), and the stop probabilities sum to 1."""
    cfg = _cfg(EMAX, n=30, decision=EMAX_DECISION,
               interims={"looks": [1 / 3, 2 / 3, 1.0], "rule": "group_sequential", "efficacy": "none",
                         "futility": {"z": [0.0, 0.5]}})
    acc = simulate_cell(cfg, "alt", 6000, cell_seed(1, {"scenario": "alt"}), chunk_size=3000)
    r = acc.finalize()
    nk = np.array([40.0, 80.0, 120.0])  # 4 arms x 10, 20, 30 patients
    np.testing.assert_array_equal(r["n_randomised_at_look"], nk)
    np.testing.assert_array_equal(r["information_fraction"], [1 / 3, 2 / 3, 1.0])
    ps = np.array([r[f"p_stop_look{k}"] for k in (1, 2, 3)])
    assert ps.sum() == pytest.approx(1.0, abs=1e-12)
    assert r["expected_n"] == pytest.approx(float(ps @ nk), rel=1e-12)
    assert 0 < ps[0] < 1 and 0 < ps[1] < 1


# ---------------------------------------------------------------- Bayesian success stop
def test_bayesian_success_stop_single_dose_closed_form():
    """rule bayesian, efficacy p_benefit 0.99 with MCP-Mod: pairwise flat-prior P(effect > 0)
    = Phi(z) >= 0.99 at look 1 (25 per arm) has probability 1 - Phi(z_0.99 - effect / se)
    (3.5 MCSE); success stops are go and count as rejections."""
    an = {"method": "mcpmod", "models": {"linear": None}, "alpha": 0.025}
    cfg = _cfg(an, doses=(0, 10), n=50)
    spec = _spec(efficacy={"p_benefit": 0.99})
    n = 20_000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(6), interims=spec)
    p = 1 - stats.norm.cdf(stats.norm.ppf(0.99) - 0.2 / (SD * np.sqrt(2 / 25)))
    ph = out["efficacy_look1"].mean()
    assert abs(ph - p) < 3.5 * np.sqrt(p * (1 - p) / n), (ph, p)
    assert out["go"][out["efficacy_look1"]].all() and out["reject"][out["efficacy_look1"]].all()
    assert (out["n_total"][out["efficacy_look1"]] == 50).all()


# ------------------------------------------------------------------------- bad input
def test_bad_input_refused_naming_the_field():
    parallel = yaml.safe_load((ROOT / "configs" / "design" / "two_arm_sample_size.yaml").read_text())
    parallel["interims"] = {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
                            "drop_doses": {"z_below": 0.0}}
    with pytest.raises(ValueError, match=r"interims\.drop_doses.*dose_finding"):
        validate_sim_config(parallel)
    for bad in (1.5, 0.0, 1.0):
        with pytest.raises(ValueError, match=r"interims\.drop_doses\.p_mcid_below"):
            _cfg(EMAX, decision=EMAX_DECISION, interims={"looks": [0.5, 1.0], "rule": "bayesian",
                 "efficacy": "none", "drop_doses": {"p_mcid_below": bad}})
    with pytest.raises(ValueError, match=r"interims\.futility\.p_mcid_below"):
        _cfg(EMAX, decision=EMAX_DECISION, interims={"looks": [0.5, 1.0], "rule": "bayesian",
             "efficacy": "none", "futility": {"p_mcid_below": 1.2}})
    cfg = _cfg(EMAX, decision=EMAX_DECISION)
    rng = np.random.default_rng(0)
    cases = [
        (validate_config(InterimsSpec, {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}}),
         r"interims\.efficacy.*bayesian"),
        (_spec(looks=[0.02, 1.0]), r"interims\.looks"),
    ]
    for spec, msg in cases:
        state = rng.bit_generator.state
        with pytest.raises(ValueError, match=msg):
            simulate_trials(cfg, "null", 10, rng, interims=spec)
        assert rng.bit_generator.state == state  # refused before any draw
        with pytest.raises(ValueError, match=msg):
            check_dose_interims(cfg, spec)
    # the predictive probability needs the Bayesian Emax analysis (its grid posterior)
    mcp = _cfg({"method": "mcpmod", "models": {"linear": None, "emax": [2.0]}})
    with pytest.raises(ValueError, match=r"interims\.futility.*predictive_below.*bayes_emax"):
        check_dose_interims(mcp, _spec(futility={"predictive_below": 0.1}))


# ----------------------------------------------------- group-sequential futility / t statistic
def test_drop_probability_with_pooled_t_is_the_noncentral_t():
    """rule group_sequential, statistic t (its default): the pairwise t at look 1 (5 per arm,
    4 arms, df = 16, no dropout) is noncentral t with ncp = effect_d / (sd sqrt(2/5));
    dropping on z = Phi^-1(T_16(t)) < z_below = 2.5 has probability
    nct.cdf(T_16^-1(Phi(2.5)), 16, ncp) for each dose (3.5 MCSE). Small arms make it differ
    from the known-SD answer Phi(2.5 - ncp) by up to ~18 MCSE, so the test tells them apart."""
    spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "efficacy": "none", "futility": {"z": [-np.inf]},
                                          "drop_doses": {"z_below": 2.5}})
    assert spec.statistic == "t"
    cfg = _cfg(EMAX, decision=EMAX_DECISION, n=10, scenarios={"alt": {"effect": 0.4}})
    n = 20_000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(8), interims=spec)
    eff = anchored_effects("emax", np.array([0, 3, 6, 10.0]), d_ref=10, theta_ref=np.array([0.4]),
                           shape={"ed50": np.array([3.0])})[0, 1:]
    ncp = eff / (SD * np.sqrt(2 / 5))
    p = stats.nct.cdf(stats.t.ppf(stats.norm.cdf(2.5), 16), 16, ncp)
    for d in range(3):
        ph = out[f"dropped_dose{d}_look1"].mean()
        assert abs(ph - p[d]) < 3.5 * np.sqrt(p[d] * (1 - p[d]) / n), (d, ph, p[d])


def test_beta_spending_futility_single_dose_closed_form():
    """rule group_sequential, statistic z, futility by O'Brien-Fleming beta spending: the look-1
    bound f_1 comes from the boundaries module (rpact-checked); with one dose the trial stops
    at look 1 with probability Phi(f_1 - effect / (sd sqrt(2/25))) (3.5 MCSE)."""
    from msbayes.design.interims import group_sequential_of

    an = {"method": "mcpmod", "models": {"linear": None}, "alpha": 0.025}
    cfg = _cfg(an, doses=(0, 10), n=50)
    spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "efficacy": "none", "statistic": "z",
                                          "futility": {"spending": "obf"}})
    f1 = group_sequential_of(spec, alpha=0.025).futility_bounds[0]
    assert np.isfinite(f1)
    n = 20_000
    for sc, eff in (("null", 0.0), ("alt", 0.2)):
        out = simulate_trials(cfg, sc, n, np.random.default_rng(9), interims=spec)
        p = stats.norm.cdf(f1 - eff / (SD * np.sqrt(2 / 25)))
        ph = out["futility_look1"].mean()
        assert abs(ph - p) < 3.5 * np.sqrt(p * (1 - p) / n), (sc, ph, p)
        assert not out["reject"][out["futility_look1"]].any()


# ------------------------------------------------ Bayesian Emax success stop (grid posterior)
def test_bayes_emax_success_stop_uses_the_grid_posterior_at_look_1():
    """With bayes_emax the interim success rule is the analysis's grid posterior
    P(Emax > 0 | look-1 data) >= u. Second simulation: look-1 data from the fixed design's
    sufficient-statistics generator (20 per arm, dropout 0.1) analysed by analyse_bayes_emax;
    the two P(success stop at look 1) agree within 4 MCSE of their difference."""
    from msbayes.simulate.bayes_emax import analyse_bayes_emax
    from msbayes.simulate.dosefinding import dose_trial_stats, plan_for

    cfg = _cfg(EMAX, decision=EMAX_DECISION, dropout=0.1)
    spec = _spec(efficacy={"p_benefit": 0.9})
    n = 20_000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(10), interims=spec)
    eff = anchored_effects("emax", np.array([0, 3, 6, 10.0]), d_ref=10, theta_ref=np.full(n, 0.2),
                           shape={"ed50": np.full(n, 3.0)})
    m, s2, c, _df, ok = dose_trial_stats(eff, [20, 20, 20, 20], sd=SD, dropout=0.1,
                                         rng=np.random.default_rng(11))
    plan = plan_for(cfg.design, cfg.analysis, mcid=MCID, dropout=0.1)
    p_ref = (ok & (analyse_bayes_emax(plan, m, s2, n=c)["p_gt0_ref"] >= 0.9)).mean()
    ph = out["efficacy_look1"].mean()
    se = np.sqrt(ph * (1 - ph) / n + p_ref * (1 - p_ref) / n)
    assert 0.05 < p_ref < 0.95 and abs(ph - p_ref) < 4 * se, (ph, p_ref, se)
    assert out["go"][out["efficacy_look1"]].all()
    assert "reject" not in out  # Bayesian Emax has no frequentist test, as in the fixed design


# -------------------------------------------------------- bookkeeping across three looks
def test_three_look_bookkeeping_and_n_total_from_the_events():
    """Three looks with drops at looks 1 and 2, dropout and Bayesian futility: every trial ends
    at exactly one look; a dose is dropped at most once, only while the trial runs and never at
    the last look; success/futility stops are exclusive; and n_total recomputed from the drop
    and stop events (each arm enrols up to the look where it was dropped or the trial ended)
    equals the simulator's."""
    cfg = _cfg(EMAX, decision=EMAX_DECISION, dropout=0.1, n=36)
    spec = _spec(looks=[1 / 3, 2 / 3, 1.0], drop_doses={"p_mcid_below": 0.25},
                 futility={"p_mcid_below": 0.05}, efficacy={"p_benefit": 0.999})
    n = 4000
    out = simulate_trials(cfg, "alt", n, np.random.default_rng(12), interims=spec)
    K, nd = 3, 3
    stops = np.stack([out[f"stop_look{k}"] for k in (1, 2, 3)], 1)
    np.testing.assert_array_equal(stops.sum(1), 1)
    stop = stops.argmax(1) + 1
    for k in (1, 2, 3):
        assert not (out[f"efficacy_look{k}"] & out[f"futility_look{k}"]).any()
        assert not ((out[f"efficacy_look{k}"] | out[f"futility_look{k}"]) & ~out[f"stop_look{k}"]).any()
        if k < K:  # an interim stop is for success or for futility
            np.testing.assert_array_equal(out[f"efficacy_look{k}"] | out[f"futility_look{k}"], out[f"stop_look{k}"])
    # last look: go / no-go of the dual rule (the consider zone is neither)
    np.testing.assert_array_equal(out["efficacy_look3"], out["go"] & out["stop_look3"])
    np.testing.assert_array_equal(out["futility_look3"], out["nogo"] & out["stop_look3"])
    assert (out["stop_look3"] & ~out["go"] & ~out["nogo"]).any()
    cum = stage_sizes(cfg.design.arm_sizes(), spec.looks)  # (K, arms)
    last = np.broadcast_to(stop[:, None], (n, nd + 1)).copy()
    for d in range(nd):
        dl = np.stack([out[f"dropped_dose{d}_look{k}"] for k in (1, 2, 3)], 1)
        assert (dl.sum(1) <= 1).all() and not dl[:, K - 1].any()
        at = dl.argmax(1) + 1
        assert (at[dl.any(1)] <= stop[dl.any(1)]).all()
        last[:, d + 1] = np.where(dl.any(1), at, stop)
    n_rec = cum[last - 1, np.arange(nd + 1)[None, :]].sum(1)
    np.testing.assert_array_equal(n_rec.astype(float), out["n_total"])
    # every rule acted somewhere
    assert stops[:, 0].any() and stops[:, 1].any() and out["efficacy_look1"].any()
    assert any(out[f"dropped_dose{d}_look2"].any() for d in range(nd))


def test_bayesian_success_stop_joint_probability_with_shared_placebo(record_property):
    """Null scenario, three doses sharing one placebo arm, success stop if some dose has the
    flat-prior P(effect > 0) = Phi(z_d) >= 0.975 at look 1 (15 per arm, no dropout): the three
    z are equicorrelated normals (rho = 1/2), so P(success at look 1) = 1 - P(max z_d < 1.96),
    a trivariate normal probability (scipy's Genz integration; 3.5 MCSE). The overall type I
    error of such a design exceeds alpha: it is reported, not controlled."""
    an = {"method": "mcpmod", "models": {"linear": None}, "alpha": 0.025}
    cfg = _cfg(an, n=30)
    spec = _spec(efficacy={"p_benefit": 0.975})
    n = 20_000
    out = simulate_trials(cfg, "null", n, np.random.default_rng(13), interims=spec)
    q = stats.norm.ppf(0.975)
    cov = np.full((3, 3), 0.5) + 0.5 * np.eye(3)
    p = 1 - stats.multivariate_normal(mean=np.zeros(3), cov=cov, abseps=1e-7, releps=1e-7).cdf(np.full(3, q))
    ph = out["efficacy_look1"].mean()
    assert abs(ph - p) < 3.5 * np.sqrt(p * (1 - p) / n), (ph, p)
    t1 = out["go"].mean()
    record_property("type_I_error_bayesian_success_stop", float(t1))
    assert t1 > 0.025 + 3 * np.sqrt(t1 * (1 - t1) / n)  # inflated: the docs say so


@pytest.mark.slow
@pytest.mark.parametrize("n_per_arm", [20, 40])
def test_example_config_type1_error_through_the_engine(n_per_arm, record_property):
    """configs/design/dose_finding_sequential.yaml under the null at the other arm sizes of its
    grid (n = 30 is in the fast test): simulated type I error <= alpha + 3 MCSE, reported."""
    from msbayes.config import load_yaml

    raw, _ = load_yaml(ROOT / "configs" / "design" / "dose_finding_sequential.yaml")
    raw.pop("grid")
    raw["design"]["n_per_arm"] = n_per_arm
    cfg = validate_sim_config(raw)
    r = simulate_cell(cfg, "null", 40_000, cell_seed(97, {"scenario": "null", "n": n_per_arm}),
                      chunk_size=10_000).finalize()
    record_property("type_I_error", r["p_go"])
    record_property("type_I_error_mcse", r["p_go_mcse"])
    assert r["p_go"] <= cfg.analysis.alpha + 3 * r["p_go_mcse"], (r["p_go"], r["p_go_mcse"])
    assert r["expected_n"] < 4 * n_per_arm


# ------------------------------------------------------------------------- live R peer
def _dosefinding_r() -> bool:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "suppressMessages(library(DoseFinding))"],
                          capture_output=True, text=True).returncode == 0


@pytest.mark.slow
@pytest.mark.r_peer
def test_final_mcpmod_after_a_drop_matches_dosefinding(tmp_path):
    """After dose 3 is dropped at the 50% look the final arms are 30, 15, 30, 30. The plan the
    simulator uses for that pattern (contrasts optimal for the realised sizes, df = 101,
    critical value) and its t statistics on one patient-level data set equal DoseFinding's
    optContr(w = sizes), critVal and MCTtest (contrasts 1e-6, t 1e-8, critical value 2e-3:
    R's randomised pmvt with maxpts 1e6 and uniroot)."""
    import subprocess

    if not _dosefinding_r():
        pytest.skip("Rscript or DoseFinding not available")
    from msbayes.simulate.dosefinding_sequential import _mcpmod_plan
    from msbayes.simulate.mcpmod import analyse_mcpmod

    an = {"method": "mcpmod", "models": {"emax": [1.0, 5.0], "sigemax": [[4, 3]], "exponential": [5.0],
                                         "linear": None}, "alpha": 0.025}
    cfg = _cfg(an, n=30)
    sizes = (30, 15, 30, 30)
    plan = _mcpmod_plan(cfg.design, cfg.analysis, sizes, mcid=MCID, dropout=0.0)
    rng = np.random.default_rng(21)
    mu = np.array([0.0, 0.1, 0.2, 0.25])
    ys = [m + SD * rng.standard_normal(s) for m, s in zip(mu, sizes)]
    csv = tmp_path / "d.csv"
    csv.write_text("dose,resp\n" + "".join(f"{d},{float(v)!r}\n" for d, y in zip([0, 3, 6, 10], ys) for v in y))
    script = f"""
suppressMessages(library(DoseFinding)); options(digits = 15)
d <- read.csv("{csv}")
mods <- Mods(emax = c(1, 5), sigEmax = c(4, 3), exponential = 5, linear = NULL, doses = c(0, 3, 6, 10))
oc <- optContr(mods, w = c(30, 15, 30, 30))
cat(format(c(oc$contMat), digits = 15), "\\n")
set.seed(1)
cat(format(DoseFinding:::critVal(oc$corMat, df = 101, alpha = 0.025, alternative = "one.sided",
           control = mvtnorm.control(maxpts = 1e6, abseps = 1e-6)), digits = 15), "\\n")
r <- MCTtest(dose, resp, d, models = mods, alpha = 0.025)
cat(format(c(r$tStat), digits = 15), "\\n")
"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.strip().splitlines() if ln.strip()]
    contr = np.array(lines[0].split(), float).reshape(5, 4).T
    crit_r = float(lines[1])
    t_r = np.array(lines[2].split(), float)
    np.testing.assert_allclose(plan.contrasts, contr, atol=1e-6)
    assert plan.df == 101
    assert abs(plan.crit - crit_r) < 2e-3, (plan.crit, crit_r)
    print(f"critical value msbayes {plan.crit:.5f}, DoseFinding {crit_r:.5f}")
    means = np.array([[y.mean() for y in ys]])
    s2 = np.array([sum(((y - y.mean()) ** 2).sum() for y in ys) / (sum(sizes) - 4)])
    res = analyse_mcpmod(plan, means, s2)
    np.testing.assert_allclose(res["t"][0], t_r, atol=1e-8)
