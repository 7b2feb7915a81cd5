"""Decision rules and calibration of the go threshold to a target type I error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from msbayes.design.config import apply_overrides, validate_sim_config
from msbayes.oc.calibrate import calibrate_go_threshold
from msbayes.oc.decision import DualCriterion, Significance, calibrate_threshold
from msbayes.rng import cell_seed
from msbayes.simulate.analyses import Estimate, bayes_normal
from msbayes.simulate.engine import simulate_cell


def _res(p_benefit_z, p_mcid_z):
    """A result whose P(>0) and P(>MCID=1) are Phi of the given z's (flat prior, se = 1)."""
    est = np.asarray(p_benefit_z, dtype=float)
    return bayes_normal(Estimate(est, np.ones_like(est), np.full_like(est, np.inf), np.ones(est.size, bool)), prior=None)


def test_dual_criterion_logic_and_repr():
    rule = DualCriterion(p_benefit=0.95, p_mcid=0.5, nogo_p_mcid_below=0.1)
    assert repr(rule) == "DualCriterion(p_benefit=0.95, p_mcid=0.5, nogo_p_mcid_below=0.1)"
    # est (se = 1): P(>0) = Phi(est), P(>1) = Phi(est - 1)
    est = np.array([2.0, 1.5, 0.5, -1.0])
    go, nogo = rule(_res(est, None), mcid=1.0)
    # 2.0: Phi(2)=.977, Phi(1)=.84 -> go; 1.5: Phi(1.5)=.933 < .95 -> not go, Phi(.5)=.69 -> consider
    # 0.5: Phi(-.5)=.31 -> consider; -1: Phi(-2)=.023 < .1 -> no-go
    assert go.tolist() == [True, False, False, False]
    assert nogo.tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="p_benefit"):
        DualCriterion(p_benefit=1.2)
    assert repr(Significance(0.025)) == "Significance(alpha=0.025)"


def test_calibrate_threshold_on_uniform_probabilities():
    # P-values of a continuous test are U(0,1) under the null: the threshold is 1 - target
    u = np.random.default_rng(0).random(200_000)
    r = calibrate_threshold(u, target=0.05)
    # SE of the sample 95% quantile of U(0, 1): sqrt(p (1 - p) / n) / density(=1)
    assert abs(r.threshold - 0.95) < 3 * math.sqrt(0.05 * 0.95 / 200_000)
    assert r.type1 <= 0.05 and r.type1 > 0.05 - 1 / 200_000 - 1e-12
    with pytest.raises(ValueError, match="target"):
        calibrate_threshold(u, target=1.5)


RAW = {
    "name": "cal", "seed": 99, "endpoint": {"sd": 0.35, "mcid": 0.182, "dropout": 0.1},
    "design": {"type": "parallel", "n_per_arm": 40}, "scenarios": {"null": {"effect": 0.0}},
    # an enthusiastic prior: the nominal 0.975 rule has inflated type I error
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.182, "sd": 0.11}},
    "decision": {"go": {"p_benefit": 0.975}},
}


def test_calibrated_rule_has_target_type_one_error_on_fresh_simulations():
    target = 0.025
    cfg = validate_sim_config(RAW)
    n_cal = n_chk = 200_000
    nominal = simulate_cell(cfg, "null", n_chk, cell_seed(1, "nominal"), chunk_size=50_000).finalize()
    assert nominal["p_go"] > target + 5 * nominal["p_go_mcse"]  # calibration is needed here
    cal = calibrate_go_threshold(cfg, scenario="null", target=target, n_sims=n_cal, seed=123)
    assert cal.threshold > 0.975
    fresh_cfg = validate_sim_config(apply_overrides(RAW, {"decision.go.p_benefit": cal.threshold}))
    r = simulate_cell(fresh_cfg, "null", n_chk, cell_seed(2, "fresh"), chunk_size=50_000).finalize()
    # MCSE of the check combines the check's own MCSE and the calibration sample's
    mcse = math.hypot(r["p_go_mcse"], math.sqrt(target * (1 - target) / n_cal))
    assert abs(r["p_go"] - target) < 3 * mcse, (r["p_go"], mcse, cal)
