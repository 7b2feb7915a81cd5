"""Adaptive designs through the config path (engine, grid runner, oc.nc).

* the grid path reproduces the core: the same seed gives the same per-trial outcomes as
  calling :func:`msbayes.adaptive.simulate_enrichment` / ``simulate_multiarm`` directly with
  arguments written here from the design's definition;
* FWER <= alpha + 3 MCSE under the global null and partial nulls (closed testing);
* selection probabilities against their normal closed forms (fixed stratum counts, known SD);
* the paired fixed comparator against its closed-form power / exact level;
* identical bits for the loky and sequential backends;
* rpact ``getSimulationEnrichmentMeans`` for one enrichment config (``r_peer``, ``slow``).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from msbayes.adaptive import inverse_normal_design, simulate_enrichment, simulate_multiarm
from msbayes.design.config import validate_sim_config
from msbayes.rng import cell_seed, chunk_rng
from msbayes.simulate.engine import simulate_cell

SD = 0.35
ENRICH = {
    "name": "e", "seed": 11, "endpoint": {"name": "t25fw", "sd": SD},
    "design": {"type": "enrichment", "n_per_arm": 100, "strata": {"r": 0.6, "s": 0.4}, "subpopulation": "s",
               "selection": {"rule": "epsilon", "epsilon": 0.05}, "final": {"intersection": "simes"}},
    "scenarios": {"null": {"effect": 0.0}, "hs": {"effect": {"s": 0.2, "r": 0.05}},
                  "f_null": {"effect": {"s": 0.15, "r": -0.1}}},  # theta_F = 0.4*0.15 - 0.6*0.1 = 0
    "simulation": {"n_sims": 4000, "chunk_size": 2000, "backend": "sequential"},
}
MULTI = {
    "name": "m", "seed": 12, "endpoint": {"name": "t25fw", "sd": SD},
    "design": {"type": "multi_arm", "doses": [0, 3, 10], "n_per_arm": 60, "selection": {"rule": "best"}},
    "scenarios": {"null": {"effect": {"3": 0.0, "10": 0.0}}, "dose10": {"effect": {"3": 0.0, "10": 0.2}},
                  "both": {"effect": {"3": 0.1, "10": 0.2}}},
    "simulation": {"n_sims": 4000, "chunk_size": 2000, "backend": "sequential"},
}


def _cfg(raw, **design):
    raw = copy.deepcopy(raw)
    raw["design"].update(design)
    return validate_sim_config(raw)


def _cell(cfg, scenario, n, chunk_size):
    return simulate_cell(cfg, scenario, n, cell_seed(cfg.seed, {"scenario": scenario}), chunk_size=chunk_size).finalize()


# ------------------------------------------------------------------ grid path = core
def test_enrichment_chunks_reproduce_the_core_trial_by_trial():
    from msbayes.simulate.enrichment_chunk import simulate_chunk

    cfg = _cfg(ENRICH)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    out = simulate_chunk(cfg, "hs", 3000, rng_a)
    seed = np.random.SeedSequence(int(rng_b.integers(0, 2**63)))  # a fixed scenario draws nothing
    r = simulate_enrichment((0.2, 0.05), prevalences=(0.4, 0.6), n_per_stage=(100, 100), sd=SD,
                            selection="epsilon", epsilon=0.05, effect_measure="estimate",
                            intersection_test="simes", design=inverse_normal_design(information_rates=(0.5, 1.0)),
                            n_sims=3000, seed=seed, chunk_size=3000)
    np.testing.assert_array_equal(out["reject_S"], r.rejected[:, 0])
    np.testing.assert_array_equal(out["reject_F"], r.rejected[:, 1])
    np.testing.assert_array_equal(out["select_S"], r.selected[:, 0])
    np.testing.assert_array_equal(out["select_F"], r.selected[:, 1])
    np.testing.assert_array_equal(out["n_stratum_s"], r.n_stratum[:, 0])
    np.testing.assert_array_equal(out["n_stratum_r"], r.n_stratum[:, 1])
    np.testing.assert_array_equal(out["go"], r.rejected.any(axis=1))
    assert out["go_diff"].dtype == float and set(np.unique(out["go_diff"])) <= {-1.0, 0.0, 1.0}
    # and the engine's cell = the chunks' outcomes summed (chunk k from chunk_rng(cell seed, k))
    res = _cell(cfg, "hs", 4000, 2000)
    ss = cell_seed(cfg.seed, {"scenario": "hs"})
    rej = np.concatenate([simulate_chunk(cfg, "hs", 2000, chunk_rng(ss, k))["reject_S"] for k in range(2)])
    assert res["p_reject_S"] == rej.mean()


def test_multiarm_chunks_reproduce_the_core_trial_by_trial():
    from msbayes.simulate.multiarm_chunk import simulate_chunk

    cfg = _cfg(MULTI)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    out = simulate_chunk(cfg, "both", 3000, rng_a)
    seed = np.random.SeedSequence(int(rng_b.integers(0, 2**63)))
    r = simulate_multiarm((0.1, 0.2), n_per_stage=(30, 30), sd=SD, selection="best", intersection_test="dunnett",
                          n_sims=3000, seed=seed, chunk_size=3000)
    for g in range(2):
        np.testing.assert_array_equal(out[f"selected_dose{g}"], r.selected[:, g])
        np.testing.assert_array_equal(out[f"rejected_dose{g}"], r.rejected[:, g])
        np.testing.assert_array_equal(out[f"n_arm{g}"], r.n_arm[:, g])
    np.testing.assert_array_equal(out["n_control"], r.n_arm[:, 2])


# ------------------------------------------------------------------ FWER through the config path
@pytest.mark.parametrize("raw,scenarios", [(ENRICH, ["null", "f_null"]), (MULTI, ["null", "dose10"])],
                         ids=["enrichment", "multi_arm"])
def test_fwer_within_alpha_under_null_configurations(raw, scenarios):
    cfg = validate_sim_config(raw)
    for sc in scenarios:
        r = _cell(cfg, sc, 40_000, 20_000)
        assert r["p_fwer"] <= 0.025 + 3 * r["p_fwer_mcse"], (sc, r["p_fwer"], r["p_fwer_mcse"])
        assert r["p_fwer_fixed"] <= 0.025 + 3 * r["p_fwer_fixed_mcse"], (sc, r["p_fwer_fixed"])
    null = _cell(cfg, "null", 40_000, 20_000)
    assert null["p_fwer"] == null["p_go"]  # every hypothesis is a true null


@pytest.mark.parametrize("raw,design", [
    (ENRICH, {"final": {"intersection": "spiessens_debois", "efficacy": "obf", "success": "at_least_one"}}),
    (MULTI, {"looks": [0.3, 0.6, 1.0], "selection": {"rule": "epsilon", "epsilon": 0.05},
             "final": {"efficacy": "pocock", "intersection": "simes"}}),
], ids=["enrichment-obf", "multi_arm-3looks-pocock"])
def test_fwer_within_alpha_with_early_efficacy_stops(raw, design):
    cfg = _cfg(raw, **design)
    for sc in ("null", "f_null" if raw is ENRICH else "dose10"):
        r = _cell(cfg, sc, 40_000, 20_000)
        assert r["p_fwer"] <= 0.025 + 3 * r["p_fwer_mcse"], (sc, r["p_fwer"], r["p_fwer_mcse"])
    alt = _cell(cfg, "hs" if raw is ENRICH else "both", 20_000, 20_000)
    assert alt["p_stopped_early"] > 0.05  # the early bounds are in use


# ------------------------------------------------------------------ closed forms
def test_enrichment_selection_probabilities_match_the_normal_closed_form():
    """Fixed counts, selection by estimate with epsilon: est_S - est_F = p_R (d_S - d_R), so
    P(select S) = Phi((D + eps/p_R)/s) and P(select F) = Phi((eps/p_R - D)/s), D = theta_S - theta_R,
    s^2 = sd^2/(n_S/4) + sd^2/(n_R/4) with stage-1 stratum counts n_s = p_s * 100 (both arms:
    n_per_arm 100 is the maximum over both stages, so stage 1 has 50 per arm)."""
    cfg = _cfg(ENRICH, counts="fixed")
    r = _cell(cfg, "hs", 40_000, 20_000)
    p_s, p_r, eps = 0.4, 0.6, 0.05
    s = np.sqrt(SD**2 / (p_s * 100 / 4) + SD**2 / (p_r * 100 / 4))
    D = 0.2 - 0.05
    want = {"p_select_S": stats.norm.cdf((D + eps / p_r) / s), "p_select_F": stats.norm.cdf((eps / p_r - D) / s)}
    want["p_select_both"] = want["p_select_S"] + want["p_select_F"] - 1
    for k, v in want.items():
        assert abs(r[k] - v) < 4 * r[f"{k}_mcse"], (k, r[k], v, r[f"{k}_mcse"])
    # the paired fixed design: all-comers z test on 100 + 100 patients at one-sided 0.025
    se_f = np.sqrt(p_s**2 * SD**2 / (p_s * 200 / 4) + p_r**2 * SD**2 / (p_r * 200 / 4))
    power = stats.norm.cdf((p_s * 0.2 + p_r * 0.05) / se_f - stats.norm.ppf(0.975))
    assert abs(r["p_go_fixed"] - power) < 4 * r["p_go_fixed_mcse"], (r["p_go_fixed"], power)
    # go_diff is the paired difference of the two proportions
    assert abs(r["mean_go_diff"] - (r["p_go"] - r["p_go_fixed"])) < 1e-12


def test_bayesian_final_fixed_comparator_matches_the_conjugate_closed_form():
    """All-comers comparator under the Bayesian final rule, fixed counts: the posterior of
    (theta_S, theta_R) is normal with a data-independent covariance, so P(P(theta_F > 0 | data) >
    cutoff) = Phi((E m_F - z_cut sqrt(a V a')) / sqrt(a V P_d V a')), m = V (P0 mu0 + P_d dbar)."""
    tau, cutoff, m0, s0 = 0.15, 0.95, 0.0, 0.5
    cfg = _cfg(ENRICH, counts="fixed", final={"method": "bayesian_shrinkage", "tau": tau, "cutoff": cutoff,
                                              "prior": {"mean": m0, "sd": s0}})
    r = _cell(cfg, "hs", 40_000, 20_000)
    theta = np.array([0.2, 0.05])
    a = np.array([0.4, 0.6])
    n = a * 200  # all 200 patients (both arms) by prevalence
    Pd = np.diag(n * 0.25 / SD**2)
    P0 = np.linalg.inv(tau**2 * np.eye(2) + s0**2 * np.ones((2, 2)))
    V = np.linalg.inv(P0 + Pd)
    mean_mF = a @ V @ (P0 @ np.full(2, m0) + Pd @ theta)
    sd_mF = np.sqrt(a @ V @ Pd @ V @ a)
    want = stats.norm.cdf((mean_mF - stats.norm.ppf(cutoff) * np.sqrt(a @ V @ a)) / sd_mF)
    assert abs(r["p_go_fixed"] - want) < 4 * r["p_go_fixed_mcse"], (r["p_go_fixed"], want)


def test_multiarm_selection_of_the_best_dose_matches_the_closed_form():
    """P(select dose 10) = P(xbar_10 > xbar_3) = Phi((0.2 - 0.1) / (sd sqrt(2/30))); the fixed
    comparator's global Dunnett test has level alpha exactly under the global null."""
    cfg = validate_sim_config(MULTI)
    r = _cell(cfg, "both", 40_000, 20_000)
    want = stats.norm.cdf(0.1 / (SD * np.sqrt(2 / 30)))
    assert np.isnan(r["p_selected"][0])  # placebo row
    assert abs(r["p_selected"][2] - want) < 4 * r["p_selected_mcse"][2], (r["p_selected"], want)
    assert abs(r["p_selected"][1] - (1 - want)) < 4 * r["p_selected_mcse"][1]
    assert r["mean_n_arm"][0] == 60 and abs(r["mean_n_arm"][1] + r["mean_n_arm"][2] - 90) < 1e-9
    null = _cell(cfg, "null", 40_000, 20_000)
    assert abs(null["p_go_fixed"] - 0.025) < 4 * null["p_go_fixed_mcse"], null["p_go_fixed"]


# ------------------------------------------------------------------ backends and oc.nc
def test_loky_and_sequential_backends_give_the_same_bits_and_oc_nc_has_the_dose_dimension(tmp_path):
    from msbayes import simulate_design

    raw = copy.deepcopy(MULTI)
    raw["grid"] = {"design.n_per_arm": [40, 60]}
    seq = simulate_design(raw, backend="sequential", quiet=True).oc
    lok = simulate_design(raw, backend="loky", n_jobs=2, quiet=True).oc
    for name in seq.data_vars:
        np.testing.assert_array_equal(seq[name].values, lok[name].values, err_msg=name)
    assert seq["p_rejected"].dims == ("design.n_per_arm", "scenario", "dose")
    assert seq["dose"].values.tolist() == [0.0, 3.0, 10.0]
    assert "closed combination" in seq.attrs["decision_rule"]
    e = simulate_design(ENRICH, backend="sequential", quiet=True, out_dir=tmp_path / "e").oc
    for v in ("p_go", "p_go_fixed", "mean_go_diff", "p_fwer", "p_select_S", "p_select_both", "p_reject_F",
              "mean_n_stratum_s", "mean_n_stratum_r", "expected_n"):
        assert v in e and f"{v}_mcse" in e, v
    assert (tmp_path / "e" / "oc.nc").is_file()


# ------------------------------------------------------------------ rpact through the config path
@pytest.mark.r_peer
@pytest.mark.slow
def test_enrichment_config_matches_rpact():
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    n_r = 3000
    code = (
        "suppressMessages({library(rpact); library(jsonlite)});"
        "d <- getDesignInverseNormal(kMax=2, typeOfDesign='noEarlyEfficacy');"
        f"e <- list(subGroups=c('S','R'), prevalences=c(0.5, 0.5), stDevs={SD},"
        " effects=matrix(c(0.25, 0.0, 0.12, 0.12), byrow=TRUE, ncol=2));"
        "s <- suppressWarnings(getSimulationEnrichmentMeans(d, effectList=e, plannedSubjects=c(120, 240),"
        " typeOfSelection='epsilon', epsilonValue=0.05, effectMeasure='effectEstimate',"
        " intersectionTest='SpiessensDebois', stratifiedAnalysis=TRUE,"
        f" maxNumberOfIterations={n_r}, seed=20261207));"
        "rej <- apply(s$rejectedPopulationsPerStage, c(2, 3), sum);"
        "cat(toJSON(list(rej=rej, sel=s$selectedPopulations[2,,], any=s$rejectAtLeastOne), digits=NA))"
    )
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        if "there is no package" in out.stderr or "is needed for this function" in out.stderr:
            pytest.skip("rpact / mnormt not installed")
        raise AssertionError(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    raw = copy.deepcopy(ENRICH)
    raw["design"] = {"type": "enrichment", "n_per_arm": 120, "strata": {"s": 0.5, "r": 0.5}, "subpopulation": "s",
                     "counts": "fixed", "f_estimator": "pooled",
                     "selection": {"rule": "epsilon", "measure": "estimate", "epsilon": 0.05},
                     "final": {"method": "closed_combination", "intersection": "spiessens_debois"}}
    raw["scenarios"] = {"a": {"effect": {"s": 0.25, "r": 0.0}}, "b": {"effect": {"s": 0.12, "r": 0.12}}}
    cfg = validate_sim_config(raw)
    n_m = 100_000
    rej_r, sel_r = np.array(r["rej"], float), np.array(r["sel"], float)
    for i, sc in enumerate(("a", "b")):
        m = _cell(cfg, sc, n_m, 50_000)
        mine = np.array([m["p_reject_S"], m["p_reject_F"], m["p_select_S"], m["p_select_F"], m["p_go"]])
        theirs = np.concatenate([rej_r[i], sel_r[i], [r["any"][i]]])
        pbar = (mine * n_m + theirs * n_r) / (n_m + n_r)
        se = np.sqrt(pbar * (1 - pbar) * (1 / n_m + 1 / n_r))
        assert np.all(np.abs(mine - theirs) <= 3 * se + 1e-12), (sc, mine, theirs, se)


# ------------------------------------------------------------------ design prior from a fit
def test_fit_design_prior_reads_both_strata_jointly_in_the_right_columns(tmp_path):
    """A stand-in posterior with EDSS 3.0-5.5 draws near 0 and EDSS 6.0-6.5 draws near 0.3,
    perfectly anti-correlated around their means: the chunk must put the 6.0-6.5 draws in S and
    keep each draw's pair together (theta_F = 0.3 theta_S + 0.7 theta_R from the same draw)."""
    import arviz as az
    import pandas as pd
    import xarray as xr

    from msbayes.fit.artefact import effect_dataarray
    from msbayes.simulate.enrichment_chunk import simulate_chunk

    z = np.random.default_rng(0).standard_normal((2, 300))
    draws = np.stack([0.0 - 0.05 * z, 0.3 + 0.05 * z], axis=-1)  # (chain, draw, [3.0-5.5, 6.0-6.5])
    est = pd.DataFrame([{"model": "m", "prior": "p", "endpoint": "t25fw", "population": pop,
                         "scale": "log_speed_ratio", "status": "estimate"} for pop in ("edss_3.0-5.5", "edss_6.0-6.5")])
    path = tmp_path / "posterior.nc"
    az.InferenceData(posterior=xr.Dataset({"effect": effect_dataarray(draws, est)})).to_netcdf(str(path))
    raw = copy.deepcopy(ENRICH)
    raw["design"]["strata"] = {"edss_3.0-5.5": 0.7, "edss_6.0-6.5": 0.3}
    raw["design"]["subpopulation"] = "edss_6.0-6.5"
    raw["scenarios"] = {"fit": {"from_fit": str(path), "model": "m", "prior": "p"}}
    out = simulate_chunk(validate_sim_config(raw), "fit", 5000, np.random.default_rng(1))
    pool_s = draws[..., 1].ravel()
    assert np.isin(out["true_S"], pool_s).all()  # S = the EDSS 6.0-6.5 column, draw values as they are
    theta_r = -0.05 * (out["true_S"] - 0.3) / 0.05  # the paired EDSS 3.0-5.5 value of the same draw
    np.testing.assert_allclose(out["true_F"], 0.3 * out["true_S"] + 0.7 * theta_r, atol=1e-12)
    assert out["draw_batch"].max() < out["n_draw_batches"]
