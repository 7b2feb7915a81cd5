"""Dose-finding designs with interims through the config and the grid runner: refused before
any work when the simulator cannot run them, drop-only group-sequential designs accepted, and
the per-dose drop probabilities stored in oc.nc as ``p_dropped`` (dose x look) against the
closed form."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy import stats

from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.design.doseresponse import anchored_effects
from msbayes.grid.runner import run_grid

SD, MCID = 0.35, 0.182
DOSES = [0, 3, 6, 10]


def _raw(interims, **kw):
    raw = {
        "name": "df-grid", "seed": 11,
        "endpoint": {"sd": SD, "mcid": MCID, "dropout": 0.0},
        "design": {"type": "dose_finding", "doses": DOSES, "reference_dose": 10, "n_per_arm": 40,
                   "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": 0.2}},
        "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [1.5]}, "alpha": 0.025},
        "interims": interims,
        "simulation": {"n_sims": 4000, "chunk_size": 2000},
    }
    raw.update(kw)
    return raw


def test_unsupported_dose_finding_interims_are_refused_when_the_config_is_read():
    bad = {"looks": [0.5, 1.0], "rule": "group_sequential", "efficacy": "none",
           "futility": {"conditional_power": 0.2}, "drop_doses": {"p_mcid_below": 0.1}}
    with pytest.raises(ConfigError, match=r"interims\.futility.*not supported for dose-finding"):
        validate_sim_config(_raw(bad))
    two_strata = _raw({"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
                       "drop_doses": {"p_mcid_below": 0.1}})
    two_strata["endpoint"] = {**two_strata["endpoint"], "strata": {"a": 0.5, "b": 0.5}}
    with pytest.raises(ConfigError, match=r"endpoint\.strata"):
        validate_sim_config(two_strata)
    with pytest.raises(ConfigError, match=r"interims\.efficacy"):
        validate_sim_config(_raw({"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}}))


def test_drop_only_group_sequential_design_is_accepted_and_needs_some_rule():
    cfg = validate_sim_config(_raw({"looks": [0.5, 1.0], "efficacy": "none", "futility": "none",
                                    "drop_doses": {"z_below": 0.0}}))
    assert cfg.interims.drop_doses.z_below == 0.0
    with pytest.raises(ConfigError, match=r"efficacy / futility: give at least one stopping boundary or drop_doses"):
        validate_sim_config(_raw({"looks": [0.5, 1.0], "efficacy": "none", "futility": "none"}))


def test_p_dropped_in_oc_nc_matches_the_closed_form(tmp_path):
    """Flat-prior P(effect_d > MCID | data) < 0.1 at look 1 (20 per arm, no dropout, known SD):
    P(drop d) = Phi((MCID + se Phi^-1(0.1) - effect_d) / se), se = SD sqrt(2/20); 3.5 MCSE."""
    raw = _raw({"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none", "futility": "none",
                "drop_doses": {"p_mcid_below": 0.1}})
    ds = run_grid(raw, config_text="x", out_dir=tmp_path / "o", quiet=True, stream=io.StringIO(),
                  backend="sequential").load()
    assert ds["p_dropped"].dims == ("scenario", "dose", "look")
    assert ds["p_dropped_mcse"].dims == ds["p_dropped"].dims
    assert ds["dose"].values.tolist() == DOSES
    assert not any(v.startswith("p_dropped_dose") for v in ds.data_vars)
    se = SD * np.sqrt(2 / 20)
    n = int(ds["n_sims"].sel(scenario="alt"))
    for scen, theta in (("null", 0.0), ("alt", 0.2)):
        p = ds["p_dropped"].sel(scenario=scen)
        assert np.isnan(p.sel(dose=0)).all()  # placebo is never dropped
        np.testing.assert_array_equal(p.sel(look=2).values[1:], 0.0)  # nothing dropped at the final look
        eff = anchored_effects("emax", np.array(DOSES, float), d_ref=10, theta_ref=np.array([theta]),
                               shape={"ed50": np.array([3.0])})[0, 1:]
        exact = stats.norm.cdf((MCID + se * stats.norm.ppf(0.1) - eff) / se)
        got = p.sel(look=1).values[1:]
        mcse = np.sqrt(exact * (1 - exact) / n)
        assert np.all(np.abs(got - exact) < 3.5 * mcse), (scen, got, exact, mcse)
        np.testing.assert_allclose(ds["p_dropped_mcse"].sel(scenario=scen, look=1).values[1:],
                                   np.sqrt(got * (1 - got) / n), rtol=1e-12)
