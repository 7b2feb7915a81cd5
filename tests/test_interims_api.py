"""The Python API journey for a design with interims, off the shipped configs: no grid, a
Bayesian rule, the loky backend, and the same numbers as the sequential backend."""

from __future__ import annotations

import math

import numpy as np

import msbayes

RAW = {
    "name": "api-interims", "seed": 23,
    "endpoint": {"sd": 0.4, "mcid": math.log(1.2), "dropout": 0.05},
    "design": {"type": "parallel", "n_per_arm": 50},
    "scenarios": {"null": {"effect": 0.0}, "big": {"effect": 0.3}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.5}},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}},
    "interims": {"looks": [0.4, 0.7, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.995},
                 "futility": {"predictive_below": 0.05}},
    "simulation": {"n_sims": 2000, "chunk_size": 1000},
}


def test_simulate_design_with_interims_no_grid_any_backend():
    seq = msbayes.simulate_design({**RAW, "simulation": {**RAW["simulation"], "backend": "sequential"}}, quiet=True)
    lok = msbayes.simulate_design({**RAW, "simulation": {**RAW["simulation"], "backend": "loky", "n_jobs": 2}},
                                  quiet=True)
    ds = seq.oc
    assert ds["p_stop"].dims == ("scenario", "look") and ds["look"].values.tolist() == [1, 2, 3]
    np.testing.assert_allclose(ds["p_stop"].sum("look"), 1.0)
    # go = efficacy at some look; the final look's go also counts; expected n below the maximum
    np.testing.assert_allclose(ds["cumulative_p_go"].isel(look=-1), ds["p_go"])
    assert float(ds["expected_n"].sel(scenario="null")) < 100
    assert float(ds["p_go"].sel(scenario="big")) > float(ds["p_go"].sel(scenario="null"))
    for v in ("p_go", "p_stop", "expected_n"):
        np.testing.assert_array_equal(ds[v].values, lok.oc[v].values)  # same bits on either backend
