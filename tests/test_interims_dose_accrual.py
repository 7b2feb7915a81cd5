"""Accrual timing (``timing: accrual``) of dose-finding interims.

Independent answers: hand-computed look times and randomised counts (pipeline shared over the
arms), the two-arm engine's look plan (``look_plan``) on the same numbers, hand-computed
``n_total`` of every trial from the doses it dropped, and the two-arm engine's stop
probabilities, expected sample size and duration on a one-dose design with the same rule
(both simulated, independent draws: 4 MCSE of the difference).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from msbayes.config import validate_config
from msbayes.design.config import validate_sim_config
from msbayes.design.interims import InterimsSpec
from msbayes.simulate.dosefinding_sequential import accrual_plan, simulate_trials
from msbayes.simulate.twoarm_sequential import look_plan
from msbayes.simulate.twoarm_sequential import simulate_chunk as twoarm_chunk

SD, MCID = 0.35, 0.182


def _spec(**kw):
    base = {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none", "futility": "none",
            "timing": "accrual", "accrual": {"rate": 4.0, "follow_up": 12.0}}
    base.update(kw)
    return validate_config(InterimsSpec, base)


EMAX = {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 12},
        "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}}


def _dose_cfg(*, doses=(0, 3, 6, 10), n=30, dropout=0.0, interims=None, effect=0.2, analysis=None):
    raw = {"name": "acc", "seed": 3, "endpoint": {"sd": SD, "mcid": MCID, "dropout": dropout},
           "design": {"type": "dose_finding", "doses": list(doses), "reference_dose": doses[-1], "n_per_arm": n,
                      "dose_response": {"model": "emax", "ed50": 3.0}},
           "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": effect}},
           "analysis": analysis or {"method": "mcpmod", "models": {"linear": None}}}
    if interims is not None:
        raw["interims"] = interims
    return validate_sim_config(raw)


def _twoarm_cfg(interims, *, n, dropout=0.0, effect=0.2):
    return validate_sim_config({
        "name": "acc2", "seed": 3, "endpoint": {"sd": SD, "mcid": MCID, "dropout": dropout},
        "design": {"type": "parallel", "n_per_arm": n},
        "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": effect}},
        "analysis": {"method": "bayes_normal", "prior": "flat", "variance": "known"},
        "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.0}},
        "interims": interims})


@pytest.mark.parametrize("rate, follow_up, n, expect_rand, expect_time", [
    # 40/arm, looks at 20/arm: month 40/4 + 6 = 16; pipeline round(24) = 12 per arm -> 32/arm
    (4.0, 6.0, 40, [64, 80], [16.0, 26.0]),
    # pipeline round(15) = 15, shared 8 (placebo, largest remainder tie -> first arm) + 7
    (3.0, 5.0, 40, [55, 80], [40 / 3 + 5, 80 / 3 + 5]),
    # pipeline 96 exceeds what is left: capped at the arm sizes
    (8.0, 12.0, 40, [80, 80], [17.0, 22.0]),
])
def test_accrual_plan_hand_computed_and_equal_to_the_two_arm_plan(rate, follow_up, n, expect_rand, expect_time):
    spec = {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none", "futility": {"p_mcid_below": 0.1},
            "timing": "accrual", "accrual": {"rate": rate, "follow_up": follow_up}}
    due, rand, time = accrual_plan(validate_config(InterimsSpec, spec), [n, n])
    assert due.tolist() == [[n // 2, n // 2], [n, n]]
    assert rand.sum(axis=1).tolist() == expect_rand
    np.testing.assert_allclose(time, expect_time, rtol=1e-12)
    two = look_plan(_twoarm_cfg(spec, n=n))
    np.testing.assert_array_equal(rand.sum(axis=1), two.n_randomised)
    np.testing.assert_allclose(time, two.time, rtol=1e-12)
    if (rate, follow_up) == (3.0, 5.0):
        assert rand[0].tolist() == [28, 27]


def test_information_timing_with_accrual_reports_times_without_pipeline():
    due, rand, time = accrual_plan(_spec(timing="information"), [30, 30, 30, 30])
    np.testing.assert_array_equal(rand, due)
    np.testing.assert_allclose(time, [60 / 4 + 12, 120 / 4 + 12])


@pytest.mark.parametrize("timing, per_drop", [("accrual", 3), ("information", 15)])
def test_n_total_counts_the_pipeline_of_dropped_doses_and_stopped_trials(timing, per_drop):
    """4 arms of 30, look at 15/arm, rate 4/month, follow-up 12 months: pipeline 48 = 12 per
    arm, so 27 per arm are randomised at the look. A trial that goes on with d doses dropped
    has 120 - 3 d patients (information timing: 120 - 15 d); a trial whose every dose is
    dropped stops with 4 x 27 = 108 (60). Duration: month 27 at the look, 42 at the end."""
    spec = _spec(timing=timing, drop_doses={"p_mcid_below": 0.3})
    cfg = _dose_cfg(interims=spec.model_dump(), analysis=EMAX)
    out = simulate_trials(cfg, "alt", 800, np.random.default_rng(4), interims=spec)
    nd = sum(out[f"dropped_dose{d}_look1"].astype(int) for d in range(3))
    stopped = out["stop_look1"]
    assert stopped.any() and (nd[~stopped] > 0).any() and (nd[~stopped] == 0).any()
    np.testing.assert_array_equal(out["n_total"][~stopped], 120 - per_drop * nd[~stopped])
    at_look = 108 if timing == "accrual" else 60
    np.testing.assert_array_equal(out["n_total"][stopped], at_look)
    np.testing.assert_array_equal(out["duration"], np.where(stopped, 60 / 4 + 12, 120 / 4 + 12))
    c = out["constants"]
    assert c["time_at_look_look1"] == 27.0 and c["time_at_look_look2"] == 42.0
    assert "n_randomised_at_look_look1" not in c  # varies by trial with dose dropping


@pytest.mark.parametrize("scenario", ["null", "alt"])
def test_one_dose_design_stops_as_the_two_arm_design(scenario):
    """doses 0/10 vs the two-arm bayes_normal design (flat prior, known SD): the same interim
    rule (efficacy P(effect > 0) >= 0.99, futility P(effect > MCID) < 0.3), accrual timing,
    dropout 0.1; stop probabilities at look 1, expected n and duration to 4 MCSE."""
    interims = {"looks": [0.4, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.99},
                "futility": {"p_mcid_below": 0.3}, "timing": "accrual",
                "accrual": {"rate": 3.0, "follow_up": 5.0}}
    n, N = 50, 40_000
    dcfg = _dose_cfg(doses=(0, 10), n=n, dropout=0.1, interims=interims)
    tcfg = _twoarm_cfg(interims, n=n, dropout=0.1)
    a = simulate_trials(dcfg, scenario, N, np.random.default_rng(21), interims=dcfg.interims)
    b = twoarm_chunk(tcfg, scenario, N, np.random.default_rng(22))
    for key in ("efficacy_look1", "futility_look1", "stop_look1"):
        pa, pb = a[key].mean(), b[key].mean()
        p = 0.5 * (pa + pb)
        assert abs(pa - pb) < 4 * math.sqrt(max(p * (1 - p), 1e-4) * 2 / N), (scenario, key, pa, pb)
    for key in ("n_total", "duration"):
        xa, xb = a[key], b[key]
        se = math.sqrt(xa.var() / N + xb.var() / N)
        assert abs(xa.mean() - xb.mean()) < 4 * se + 1e-12, (scenario, key, xa.mean(), xb.mean())
    # the per-look constants are the two-arm engine's
    for k in (1, 2):
        for name in ("n_randomised_at_look", "time_at_look"):
            assert a["constants"][f"{name}_look{k}"] == pytest.approx(b["constants"][f"{name}_look{k}"])
    assert a["stop_look1"].mean() > 0.05
