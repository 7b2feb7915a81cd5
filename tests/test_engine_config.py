"""SimConfig validation: bad design inputs are refused naming the field; overrides; grid."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr

from msbayes.config import ConfigError
from msbayes.design.config import SimConfig, apply_overrides, validate_sim_config

BASE = {
    "name": "t25fw-two-arm",
    "seed": 20261125,
    "endpoint": {"name": "t25fw", "scale": "log_speed_ratio", "sd": 0.35, "placebo_mean": -0.18,
                 "mcid": 0.182, "dropout": 0.12, "dropout_mechanism": "mcar", "baseline_corr": 0.0,
                 "strata": {"edss_6.0-6.5": 1.0}},
    "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "allocation": [1, 1], "n_per_arm": 60},
    "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.182},
                  "prior_normal": {"normal": {"mean": 0.15, "sd": 0.1}}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.11}},
    "decision": {"go": {"p_benefit": 0.95, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}},
    "grid": {"design.n_per_arm": [20, 40, 60, 80, 100], "endpoint.sd": [0.25, 0.35, 0.44]},
    "simulation": {"n_sims": 20000, "chunk_size": 10000, "backend": "loky", "n_jobs": -1, "engine": "sufficient"},
    "search": {"metric": "p_go", "target": 0.8, "scenario": "mcid", "n_min": 10, "n_max": 200},
}


def _with(path: str, value):
    return apply_overrides(BASE, {path: value})


def _refused(raw, *fragments):
    with pytest.raises(ConfigError) as ei:
        validate_sim_config(raw)
    msg = str(ei.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in error message:\n{msg}"
    return ei.value


def test_full_example_validates():
    cfg = validate_sim_config(BASE)
    assert isinstance(cfg, SimConfig)
    assert cfg.design.arm_sizes() == [60, 60]
    assert cfg.engine == "sufficient"
    assert list(cfg.scenarios) == ["null", "mcid", "prior_normal"]


def test_mixture_prior_and_significance_rule():
    raw = _with("analysis", {"method": "bayes_normal", "prior": {"weights": [0.8, 0.2], "means": [0.1, 0.0], "sds": [0.1, 0.5]}})
    cfg = validate_sim_config(raw)
    assert cfg.analysis.prior.weights_array.tolist() == [0.8, 0.2]
    raw = apply_overrides(BASE, {"analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
                                 "decision": {"rule": "significance", "alpha": 0.025}})
    assert validate_sim_config(raw).decision.rule == "significance"


@pytest.mark.parametrize(
    "path, value, fragments",
    [
        ("design.allocation", [1, 1, 1], ["design.allocation", "one weight per arm"]),
        ("design.allocation", [0, 0], ["design.allocation", "> 0"]),
        ("design.allocation", [1, -1], ["allocation", "> 0"]),
        ("design.n_per_arm", 1, ["design.n_per_arm", "greater than or equal to 2"]),
        ("endpoint.sd", 0.0, ["endpoint.sd", "greater than 0"]),
        ("endpoint.sd", -0.3, ["endpoint.sd"]),
        ("endpoint.dropout", 1.2, ["endpoint.dropout"]),
        ("decision.go.p_benefit", 1.5, ["decision.go.p_benefit", "[0, 1]"]),
        ("decision.no_go.p_mcid_below", -0.1, ["p_mcid_below", "[0, 1]"]),
        ("analysis.method", "bogus", ["analysis", "welch", "ancova", "bayes_normal", "mcpmod", "bayes_emax"]),
        ("analysis.prior.sd", 0.0, ["analysis.prior.sd", "greater than 0"]),
        ("design.type", "crossover", ["design", "parallel", "dose_finding"]),
        ("scenarios.weird", {"effects": 0.1}, ["scenarios.weird", "effect, normal, mixture, from_fit"]),
        ("scenarios.bad_sd", {"normal": {"mean": 0.1, "sd": -1}}, ["scenarios.bad_sd", "sd"]),
        ("search.scenario", "nope", ["search.scenario", "'nope'", "null", "mcid"]),
        ("simulation.engine", "gpu", ["simulation.engine", "auto", "sufficient", "patient"]),
        ("decision.rule", "vibes", ["decision", "dual, significance"]),
    ],
)
def test_bad_inputs_refused_naming_field(path, value, fragments):
    _refused(_with(path, value), *fragments)


def test_unknown_keys_refused():
    raw = copy.deepcopy(BASE)
    raw["endpoint"]["sdd"] = 0.3
    _refused(raw, "endpoint.sdd", "unknown key")
    raw = copy.deepcopy(BASE)
    raw["colour"] = "blue"
    _refused(raw, "colour", "unknown key")


def test_significance_needs_frequentist_analysis():
    _refused(_with("decision", {"rule": "significance", "alpha": 0.025}), "significance", "welch, ancova")


def test_student_t_needs_flat_prior():
    _refused(_with("analysis.variance", "student_t"), "student_t", "flat")


def test_dose_levels_not_increasing_refused():
    raw = copy.deepcopy(BASE)
    raw["design"] = {"type": "dose_finding", "doses": [0, 6, 3, 10], "dose_metric": "cells_per_injection",
                     "dose_unit": "million cells", "reference_dose": 10, "n_per_arm": 20,
                     "dose_response": {"model": "emax", "ed50": 3.0}}
    raw["analysis"] = {"method": "mcpmod", "models": {"linear": None, "emax": [3.0]}}
    raw.pop("grid")
    raw.pop("search")
    _refused(raw, "design.doses", "increasing")


def test_two_arm_analysis_with_dose_finding_design_refused():
    raw = copy.deepcopy(BASE)
    raw["analysis"] = {"method": "mcpmod", "models": {"linear": None}}
    _refused(raw, "mcpmod", "welch, ancova, bayes_normal")


def test_grid_values_validated():
    e = _refused(_with("grid", {"design.n_per_arm": [20, 1, 60]}), "grid.design.n_per_arm[1]", "value 1 is invalid")
    assert any(f == "grid.design.n_per_arm[1]" for f, _ in e.errors)
    _refused(_with("grid", {"design.n_per_armz": [20]}), "grid.design.n_per_armz[0]", "n_per_armz")


def test_apply_overrides_deep_copy_and_unknown_path():
    raw = copy.deepcopy(BASE)
    out = apply_overrides(raw, {"design.n_per_arm": 20, "endpoint.baseline_corr": 0.5, "scenarios.big.effect": 0.3})
    assert raw == BASE  # not modified
    assert out["design"]["n_per_arm"] == 20 and out["endpoint"]["baseline_corr"] == 0.5
    assert out["scenarios"]["big"] == {"effect": 0.3}
    with pytest.raises(ConfigError, match=r"unknown key 'n_per_armz'.*n_per_arm"):
        apply_overrides(raw, {"design.n_per_armz": 3})
    with pytest.raises(ConfigError, match="unknown key 'foo'"):
        apply_overrides(raw, {"foo.bar": 3})


def _write_fit(path, draws, pops, *, model="summary_log", prior="skeptical", endpoint="t25fw"):
    """A minimal posterior.nc in the architecture.md format (effect(chain, draw, estimand))."""
    import pandas as pd

    from msbayes.fit.artefact import effect_dataarray

    est = pd.DataFrame({"model": model, "prior": prior, "endpoint": endpoint, "population": pops,
                        "scale": "log_speed_ratio", "status": "estimate"})
    da = effect_dataarray(draws, est)
    xr.Dataset({"effect": da}).to_netcdf(path, group="posterior")
    return path


def test_from_fit_checks_file_and_names(tmp_path):
    raw = _with("scenarios.posterior", {"from_fit": str(tmp_path / "missing.nc"), "model": "summary_log",
                                        "prior": "skeptical", "population": "edss_6.0-6.5"})
    _refused(raw, "scenarios.posterior.from_fit", "not found")
    draws = np.random.default_rng(0).normal(0.1, 0.05, size=(2, 50, 1))
    fit = _write_fit(tmp_path / "posterior.nc", draws, ["edss_6.0-6.5"])
    ok = _with("scenarios.posterior", {"from_fit": "posterior.nc", "model": "summary_log", "prior": "skeptical",
                                       "population": "edss_6.0-6.5"})
    cfg = validate_sim_config(ok, base_dir=tmp_path)
    from pathlib import Path

    assert Path(cfg.scenarios["posterior"].from_fit) == (tmp_path / "posterior.nc").resolve()  # cwd-independent
    bad = _with("scenarios.posterior", {"from_fit": str(fit), "model": "summary", "prior": "skeptical"})
    _refused(bad, "scenarios.posterior.model", "'summary' not in the fit", "summary_log")
    bad = _with("scenarios.posterior", {"from_fit": str(fit), "model": "summary_log", "prior": "skeptical",
                                        "population": "edss_3-5.5"})
    _refused(bad, "scenarios.posterior.population", "edss_6.0-6.5")


def test_decision_section_refused_with_mcpmod():
    """MCP-Mod's go is its multiple contrast test; a decision rule there would be silently unused."""
    raw = {
        "name": "df", "seed": 1, "endpoint": {"sd": 0.35},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
                   "dose_unit": "million cells", "reference_dose": 10, "allocation": [1, 1, 1, 1],
                   "n_per_arm": 20, "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}},
        "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [3.0]}},
    }
    validate_sim_config(raw)
    with pytest.raises(ConfigError, match="not used with analysis.method 'mcpmod'"):
        validate_sim_config({**raw, "decision": {"rule": "significance", "alpha": 0.025}})


def _dose_raw(**over):
    raw = {
        "name": "df", "seed": 1, "endpoint": {"sd": 0.35},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
                   "dose_unit": "million cells", "reference_dose": 10, "allocation": [1, 1, 1, 1],
                   "n_per_arm": 20, "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}},
        "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [3.0]}},
    }
    for k, v in over.items():
        raw = apply_overrides(raw, {k: v})
    return raw


def test_fields_that_would_be_silently_ignored_are_refused():
    """Accepted-but-unused fields change nothing in the simulation; they must be refused."""
    # equal_var with the ANCOVA estimator (residual variance is always pooled) or known variance
    raw = apply_overrides(BASE, {"analysis.estimator": "ancova", "analysis.equal_var": True})
    _refused(raw, "analysis", "equal_var", "estimator 'ancova'")
    raw = apply_overrides(BASE, {"analysis.variance": "known", "analysis.equal_var": True})
    _refused(raw, "analysis", "equal_var", "variance 'known'")
    validate_sim_config(apply_overrides(BASE, {"analysis.equal_var": True}))  # plugin + difference: used
    # dose finding: informative dropout / patient engine are not simulated -> refused up front
    validate_sim_config(_dose_raw())
    _refused(_dose_raw(**{"endpoint.dropout": 0.1, "endpoint.dropout_mechanism": "informative"}),
             "dropout_mechanism", "allowed: mcar")
    _refused(_dose_raw(**{"simulation.engine": "patient"}), "simulation.engine", "allowed: auto, sufficient")
    # Bayesian Emax: prior_hill with a fixed Hill is unused
    bayes = {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 16},
             "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}}
    validate_sim_config(_dose_raw(analysis=bayes))
    _refused(_dose_raw(analysis={**bayes, "prior_hill": {"lognormal": {"median": 1.0, "sd_log": 0.5}}}),
             "prior_hill", "fixed hill")
    validate_sim_config(_dose_raw(analysis={**bayes, "hill": {"lower": 0.5, "upper": 4, "n": 4},
                                            "prior_hill": {"lognormal": {"median": 1.0, "sd_log": 0.5}}}))


def test_search_metric_must_be_produced_by_the_design():
    """Refused at validation, not after the grid has run (the search used to fail at search time)."""
    _refused(_with("search.metric", "p_correct_dose"), "search.metric", "allowed: ['p_go']")
    _refused(_with("search.metric", "p_reject"), "search.metric", "allowed: ['p_go']")
    welch = apply_overrides(BASE, {"analysis": {"method": "welch"}, "search.metric": "p_reject"})
    validate_sim_config(welch)
    search = {"metric": "p_reject", "target": 0.8, "scenario": "null"}
    validate_sim_config(_dose_raw(search=search))
    bayes = {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 16},
             "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}}
    _refused(_dose_raw(analysis=bayes, search=search), "search.metric", "p_correct_dose")
