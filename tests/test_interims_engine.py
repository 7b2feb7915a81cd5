"""Two-arm designs with interims through the engine (config -> simulate_cell) vs independent answers.

* Type I error, power, per-look stopping probabilities and expected n of the z-statistic
  path against the exact crossing probabilities of the recursive integration
  (msbayes.sequential.simulate.analytic_probabilities, itself checked against Genz rectangles
  and rpact in tests/test_sequential_*), within 3.5 MCSE (power, expected n) and 4 MCSE (per look).
* The median-unbiased estimate: its table against final_inference (root finding), and
  P(est_mue > true) = 1/2 at the true drift (binomial MCSE).
* Timing by accrual: per-trial randomised n and duration equal the hand-computed look values.
* One look = the fixed design (different draws: to MCSE), for welch and bayes_normal.
* Design prior (assurance): P(go) equals the average over the draws of the exact power.
* rpact getSimulationMeans (normalApproximation = TRUE) for three designs (``r_peer``, ``slow``).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from msbayes.design.config import validate_sim_config
from msbayes.design.interims import group_sequential_of, look_patients
from msbayes.rng import cell_seed
from msbayes.sequential.boundaries import final_inference
from msbayes.sequential.simulate import analytic_probabilities
from msbayes.simulate.engine import simulate_cell
from msbayes.simulate.twoarm_sequential import MUE_Z, mue_table, simulate_chunk

SD = 0.35
MCID = math.log(1.2)


def _cfg(interims, *, n=60, dropout=0.0, effect=MCID, extra=None):
    raw = {
        "name": "seq", "seed": 7,
        "endpoint": {"sd": SD, "mcid": MCID, "dropout": dropout},
        "design": {"type": "parallel", "n_per_arm": n},
        "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": effect}},
        "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
        "interims": interims,
    }
    if extra:
        raw.update(extra)
    return validate_sim_config(raw)


DESIGNS = {
    "obf3_bsobf_nonbinding": {"looks": [1 / 3, 2 / 3, 1.0], "efficacy": {"spending": "obf"},
                              "futility": {"spending": "obf"}, "statistic": "z"},
    "pocock2_cp_binding": {"looks": [0.5, 1.0], "efficacy": {"spending": "pocock"},
                           "futility": {"conditional_power": 0.2}, "binding": True, "statistic": "z"},
    "hsd4_zfut": {"looks": [0.25, 0.5, 0.75, 1.0], "efficacy": {"spending": "hsd", "gamma": -4},
                  "futility": {"z": [0.0, 0.3, 0.8]}, "binding": True, "statistic": "z"},
}


@pytest.mark.parametrize("name", list(DESIGNS))
def test_z_path_matches_exact_crossing_probabilities(name):
    cfg = _cfg(DESIGNS[name], n=60)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    n = look_patients(cfg.interims.looks, 60)
    N = 100_000
    for scen, eff in (("null", 0.0), ("alt", MCID)):
        r = simulate_cell(cfg, scen, N, cell_seed(3, {"s": scen, "d": name}), chunk_size=50_000).finalize()
        ex = analytic_probabilities(d, n, n, effect=eff, sd=SD)
        p = ex.power
        assert abs(r["p_go"] - p) <= 3.5 * math.sqrt(p * (1 - p) / N), (name, scen, r["p_go"], p)
        pe = np.asarray(ex.efficacy)
        assert np.all(np.abs(r["p_efficacy"] - pe) <= 4 * np.sqrt(pe * (1 - pe) / N) + 1e-12)
        pf = np.asarray(ex.futility)[:-1]
        assert np.all(np.abs(r["p_futility"][:-1] - pf) <= 4 * np.sqrt(pf * (1 - pf) / N) + 1e-12)
        tot = 2.0 * np.asarray(n, float)
        en = float(ex.stop @ tot)
        sd_n = math.sqrt(max(float(ex.stop @ tot**2) - en**2, 0.0))
        assert abs(r["expected_n"] - en) <= 3.5 * sd_n / math.sqrt(N), (name, scen, r["expected_n"], en)
        np.testing.assert_allclose(r["cumulative_p_go"], np.cumsum(r["p_efficacy"]))
        assert r["cumulative_p_go"][-1] == pytest.approx(r["p_go"])
        # n quantiles from the exact stop distribution
        cum = np.cumsum(ex.stop)
        for q, key in ((0.1, "n_q10"), (0.5, "n_q50"), (0.9, "n_q90")):
            k = int(np.searchsorted(cum, q))
            if abs(cum[min(k, len(cum) - 1)] - q) > 0.01:  # not at a knife edge of the MC estimate
                assert r[key] == tot[min(k, len(tot) - 1)], (name, scen, key)


def test_t_statistic_with_dropout_close_to_exact():
    """Welch t on the z scale with MCAR dropout: type I error (futility stops obeyed) within
    4 MCSE of the exact z-statistic value at the planned information fractions (the t and the
    binomial completers move it by far less than the MCSE at 60 per arm)."""
    from msbayes.sequential.boundaries import crossing_probabilities

    spec = {**DESIGNS["obf3_bsobf_nonbinding"], "statistic": "t"}
    cfg = _cfg(spec, n=60, dropout=0.1)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    exact = crossing_probabilities(d.information_rates, d.critical_values, d.futility_bounds, 0.0).power
    N = 100_000
    r = simulate_cell(cfg, "null", N, cell_seed(4, {}), chunk_size=50_000).finalize()
    assert abs(r["p_go"] - exact) <= 4 * math.sqrt(exact * (1 - exact) / N), (r["p_go"], exact)
    assert r["mean_n_analysed"] < r["expected_n"]  # completers < randomised


def test_mue_table_matches_final_inference():
    cfg = _cfg(DESIGNS["obf3_bsobf_nonbinding"])
    d = group_sequential_of(cfg.interims, alpha=0.025)
    tab = mue_table(d)
    for look, z in ((1, 3.8), (2, -0.3), (2, 2.6), (3, 1.2), (3, 2.5)):
        j = int(np.argmin(np.abs(MUE_Z - z)))
        ref = final_inference(d, look, float(MUE_Z[j]), futility=True).median_unbiased
        assert abs(tab[look - 1][j] - ref) < 2e-3, (look, z, tab[look - 1][j], ref)


@pytest.mark.parametrize("name", ["obf3_bsobf_nonbinding", "pocock2_cp_binding"])
def test_mue_is_median_unbiased(name):
    """At the true effect the stage-wise ordering p-value is Uniform(0, 1), so P(MUE > true) = 1/2;
    the naive estimate at stopping is biased (checked to be detectably off for contrast)."""
    cfg = _cfg(DESIGNS[name], n=60, effect=0.15)
    N = 200_000
    out = simulate_chunk(cfg, "alt", N, np.random.default_rng(11))
    above = float(np.mean(out["est_mue"] > out["true"]))
    assert abs(above - 0.5) <= 3.5 * math.sqrt(0.25 / N), (name, above)
    assert np.all(np.isfinite(out["est_mue"]))


def test_accrual_durations_and_randomised_counts_per_trial():
    spec = {"looks": [0.5, 1.0], "efficacy": {"spending": "pocock"}, "futility": {"z": [0.0]}, "statistic": "z",
            "timing": "accrual", "accrual": {"rate": 2.0, "follow_up": 6.0}}
    cfg = _cfg(spec, n=20, dropout=0.2)
    out = simulate_chunk(cfg, "alt", 20_000, np.random.default_rng(2))
    first = out["stop_look1"]
    assert 0.2 < first.mean() < 0.9  # both looks occur
    # hand-computed: look 1 at 20 / 2 + 6 = 16 months with 20 + 12 = 32 randomised; end: 26, 40
    assert np.all(out["n_total"][first] == 32) and np.all(out["n_total"][~first] == 40)
    assert np.all(out["duration"][first] == 16) and np.all(out["duration"][~first] == 26)
    # completers analysed: Binomial(10, 0.8) per arm at look 1 -> mean 16 among all trials
    # (completers do not depend on the outcome, so the trials stopping late carry the same law)
    assert np.all(out["n_analysed"][first] <= 20) and np.all(out["n_analysed"][~first] <= 40)
    c = out["constants"]
    assert (c["n_randomised_at_look_look1"], c["time_at_look_look2"], c["n_analysed_at_look_look1"]) == (32, 26, 16)
    r = simulate_cell(cfg, "alt", 20_000, cell_seed(1, {})).finalize()
    p1 = r["p_stop"][0]
    assert r["expected_duration"] == pytest.approx(16 * p1 + 26 * (1 - p1))
    assert r["expected_n"] == pytest.approx(32 * p1 + 40 * (1 - p1))


def test_one_look_is_the_fixed_design():
    """interims with looks [1.0] is the fixed design: same decision rule, different draws, so
    P(go) agrees to MCSE (welch: t test at one-sided 0.025; bayes_normal: the dual rule)."""
    N = 100_000
    raw_fixed = {"name": "f", "seed": 7, "endpoint": {"sd": SD, "mcid": MCID, "dropout": 0.1},
                 "design": {"type": "parallel", "n_per_arm": 40}, "scenarios": {"alt": {"effect": 0.15}},
                 "analysis": {"method": "welch", "sided": "one", "alpha": 0.025}}
    raw_seq = {**raw_fixed, "interims": {"looks": [1.0], "efficacy": {"spending": "obf"}}}
    bay = {"analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
           "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}}}
    raw_fixed_b = {**raw_fixed, **bay}
    raw_seq_b = {**raw_fixed_b, "interims": {"looks": [1.0], "rule": "bayesian", "efficacy": "none"}}
    for a, b in ((raw_fixed, raw_seq), (raw_fixed_b, raw_seq_b)):
        ra = simulate_cell(validate_sim_config(a), "alt", N, cell_seed(1, {"a": 1})).finalize()
        rb = simulate_cell(validate_sim_config(b), "alt", N, cell_seed(1, {"b": 1})).finalize()
        for k in ("p_go", "p_nogo"):
            se = math.hypot(ra[f"{k}_mcse"], rb[f"{k}_mcse"])
            assert abs(ra[k] - rb[k]) <= 3.5 * se, (k, ra[k], rb[k])
        assert rb["p_stop"].tolist() == [1.0]


def test_bayesian_interim_rule_by_hand_on_the_estimates():
    """At look 1 (known variance, flat prior) a trial stops for efficacy iff
    Phi(est / se) >= 0.99 and for futility iff Phi((est - MCID) / se) < 0.2, with se =
    sd sqrt(2 / 30): recompute both from the simulated interim estimate, trial by trial."""
    from scipy import stats

    raw = {"name": "b", "seed": 1, "endpoint": {"sd": SD, "mcid": MCID},
           "design": {"type": "parallel", "n_per_arm": 60}, "scenarios": {"alt": {"effect": 0.1}},
           "analysis": {"method": "bayes_normal", "prior": "flat", "variance": "known"},
           "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.0}},
           "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.99},
                        "futility": {"p_mcid_below": 0.2}}}
    cfg = validate_sim_config(raw)
    out = simulate_chunk(cfg, "alt", 20_000, np.random.default_rng(5))
    first = out["stop_look1"]
    se = SD * math.sqrt(2 / 30)
    est1 = out["est"][first]
    eff = stats.norm.cdf(est1 / se) >= 0.99
    assert np.array_equal(eff, out["efficacy_look1"][first])
    assert np.all(stats.norm.cdf((est1[~eff] - MCID) / se) < 0.2)
    c = out["constants"]
    assert c["bound_efficacy_effect_look1"] == pytest.approx(stats.norm.ppf(0.99) * se, rel=1e-9)
    assert c["bound_futility_effect_look1"] == pytest.approx(MCID + stats.norm.ppf(0.2) * se, rel=1e-9)
    assert c["bound_efficacy_effect_look2"] == pytest.approx(stats.norm.ppf(0.975) * SD * math.sqrt(2 / 60), rel=1e-9)


def test_design_prior_assurance_equals_average_exact_power():
    """Effects drawn per trial from a normal design prior: P(go) of the z-statistic design equals
    E_theta[exact power at theta] (Gauss-Hermite quadrature of the recursive-integration power)."""
    spec = DESIGNS["obf3_bsobf_nonbinding"]
    raw = {"name": "a", "seed": 1, "endpoint": {"sd": SD, "mcid": MCID},
           "design": {"type": "parallel", "n_per_arm": 60},
           "scenarios": {"prior": {"normal": {"mean": 0.15, "sd": 0.1}}},
           "analysis": {"method": "welch", "sided": "one", "alpha": 0.025}, "interims": spec}
    cfg = validate_sim_config(raw)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    n = look_patients(cfg.interims.looks, 60)
    x, w = np.polynomial.hermite_e.hermegauss(40)
    exact = sum(wi * analytic_probabilities(d, n, n, effect=0.15 + 0.1 * xi, sd=SD).power
                for xi, wi in zip(x, w)) / math.sqrt(2 * math.pi)
    N = 100_000
    r = simulate_cell(cfg, "prior", N, cell_seed(9, {})).finalize()
    assert abs(r["p_go"] - exact) <= 3.5 * r["p_go_mcse"], (r["p_go"], exact)
    assert abs(r["mean_true"] - 0.15) <= 4 * r["mean_true_mcse"]


# ------------------------------------------------------------------ rpact side by side
R_DESIGNS = {
    "obf3_efficacy_only": ({"looks": [1 / 3, 2 / 3, 1.0], "efficacy": {"spending": "obf"}, "statistic": "z"},
                           "getDesignGroupSequential(kMax=3, alpha=0.025, typeOfDesign='asOF')"),
    "pocock2_bsobf_nonbinding": ({"looks": [0.5, 1.0], "efficacy": {"spending": "pocock"},
                                  "futility": {"spending": "obf"}, "statistic": "z"},
                                 "getDesignGroupSequential(kMax=2, alpha=0.025, beta=0.2, typeOfDesign='asP', "
                                 "typeBetaSpending='bsOF')"),
    "hsd2_bsobf_binding": ({"looks": [1 / 3, 2 / 3, 1.0], "efficacy": {"spending": "hsd", "gamma": -2},
                            "futility": {"spending": "obf"}, "binding": True, "statistic": "z"},
                           "getDesignGroupSequential(kMax=3, alpha=0.025, beta=0.2, typeOfDesign='asHSD', gammaA=-2, "
                           "typeBetaSpending='bsOF', bindingFutility=TRUE)"),
}


@pytest.mark.r_peer
@pytest.mark.slow
@pytest.mark.parametrize("name", list(R_DESIGNS))
def test_config_path_matches_rpact_get_simulation_means(name):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    spec, rdes = R_DESIGNS[name]
    n_arm = 60
    cfg = _cfg(spec, n=n_arm)
    n = look_patients(cfg.interims.looks, n_arm)
    n_r = 100_000
    planned = ", ".join(str(2 * x) for x in n)
    code = (
        "suppressMessages({library(rpact); library(jsonlite)});"
        f"d <- {rdes};"
        f"s <- getSimulationMeans(d, alternative=c(0, {MCID!r}), stDev={SD}, plannedSubjects=c({planned}),"
        f" normalApproximation=TRUE, maxNumberOfIterations={n_r}, seed=20261207);"
        "cat(toJSON(list(c=d$criticalValues, power=s$overallReject, en=s$expectedNumberOfSubjects), digits=NA))"
    )
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        if "there is no package" in out.stderr:
            pytest.skip("rpact not installed")
        raise AssertionError(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    d = group_sequential_of(cfg.interims, alpha=0.025)
    np.testing.assert_allclose(d.critical_values, r["c"], atol=1e-3)
    N = 200_000
    for j, scen in enumerate(("null", "alt")):
        res = simulate_cell(cfg, scen, N, cell_seed(21, {"s": scen, "d": name}), chunk_size=50_000).finalize()
        p, pr = res["p_go"], float(r["power"][j])
        se = math.sqrt(p * (1 - p) * (1 / N + 1 / n_r))
        assert abs(p - pr) <= 3 * se, (name, scen, p, pr)
        se_n = res["expected_n_mcse"] * math.sqrt(1 + N / n_r)
        assert abs(res["expected_n"] - float(r["en"][j])) <= 3 * se_n, (name, scen, res["expected_n"], r["en"][j])
