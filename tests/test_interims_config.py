"""The ``interims:`` config section: bad input refused naming the field, good input accepted,
the one-line description, and the per-look plan (patients, randomised, times) by hand."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.design.interims import describe_interims, group_sequential_of, look_patients

BASE = {
    "name": "seq", "seed": 1,
    "endpoint": {"sd": 0.35, "mcid": 0.1823},
    "design": {"type": "parallel", "n_per_arm": 60},
    "scenarios": {"null": {"effect": 0.0}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
    "interims": {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}, "futility": {"spending": "obf"}},
}
BAYES = {
    **BASE,
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}},
    "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.995},
                 "futility": {"p_mcid_below": 0.1}},
}


def _with(base, path, value):
    raw = copy.deepcopy(base)
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is _DEL:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return raw


_DEL = object()

BAD = [
    ("looks not increasing", BASE, "interims.looks", [0.6, 0.5, 1.0], "interims.looks", "increasing"),
    ("fraction above 1", BASE, "interims.looks", [0.5, 1.2], "interims.looks", "(0, 1]"),
    ("fraction 0", BASE, "interims.looks", [0.0, 1.0], "interims.looks", "(0, 1]"),
    ("last look not 1", BASE, "interims.looks", [0.3, 0.6], "interims.looks", "must be 1.0"),
    ("no looks", BASE, "interims.looks", [], "interims.looks", "at least one"),
    ("hsd gamma not finite", BASE, "interims.efficacy", {"spending": "hsd", "gamma": math.inf}, "interims.efficacy", "gamma"),
    ("kd rho <= 0", BASE, "interims.efficacy", {"spending": "kd", "rho": 0.0}, "interims.efficacy", "rho"),
    ("unknown spending", BASE, "interims.efficacy", {"spending": "lan"}, "interims.efficacy", "obf"),
    ("user spending not ending at alpha", BASE, "interims.efficacy", {"spending": "user", "values": [0.01, 0.02]},
     "interims.efficacy.values", "alpha"),
    ("wang-tsiatis delta out of range", BASE, "interims.efficacy", {"wang_tsiatis": 2.0}, "interims.efficacy", "delta"),
    ("futility z above efficacy z", BASE, "interims", {"looks": [0.5, 1.0], "efficacy": {"z": [2.8, 1.97]},
                                                       "futility": {"z": [3.0]}}, "interims.futility", "above"),
    ("efficacy z wrong length", BASE, "interims.efficacy", {"z": [2.8]}, "interims.efficacy", "2 looks"),
    ("conditional power out of (0,1)", BASE, "interims.futility", {"conditional_power": 1.2}, "interims.futility",
     "(0, 1)"),
    ("two boundary kinds", BASE, "interims.efficacy", {"spending": "obf", "z": [3, 2]}, "interims.efficacy",
     "exactly one"),
    ("gamma without hsd", BASE, "interims.efficacy", {"spending": "obf", "gamma": -2}, "interims.efficacy", "gamma"),
    ("more looks than patients", BASE, "interims.looks", [0.01, 0.02, 1.0], "interims.looks", "patients"),
    ("accrual timing without accrual", BASE, "interims.timing", "accrual", "interims", "accrual"),
    ("negative accrual rate", BASE, "interims.accrual", {"rate": -1.0, "follow_up": 13}, "interims.accrual.rate", ""),
    ("Bayesian threshold 1", BAYES, "interims.efficacy", {"p_benefit": 1.0}, "interims.efficacy", "(0, 1)"),
    ("Bayesian threshold 0", BAYES, "interims.futility", {"p_mcid_below": 0.0}, "interims.futility", "(0, 1)"),
    ("Bayesian thresholds wrong count", BAYES, "interims.efficacy", {"p_benefit": [0.99, 0.995]},
     "interims.efficacy", "interim"),
    ("predictive threshold above 1", BAYES, "interims.futility", {"predictive_below": 1.5}, "interims.futility",
     "(0, 1)"),
    ("drop_doses on a parallel design", BASE, "interims.drop_doses", {"p_mcid_below": 0.1}, "interims.drop_doses",
     "dose_finding"),
    ("bayesian rule with welch", BASE, "interims", {"looks": [0.5, 1.0], "rule": "bayesian",
                                                   "efficacy": {"p_benefit": 0.99}}, "interims.rule", "bayes_normal"),
    ("group-sequential rule with bayes_normal", BAYES, "interims", BASE["interims"], "interims.rule", "welch"),
    ("spending kind under the Bayesian rule", BAYES, "interims.efficacy", {"spending": "obf"}, "interims.efficacy",
     "p_benefit"),
    ("Bayesian kind under the GS rule", BASE, "interims.futility", {"p_mcid_below": 0.1}, "interims.futility",
     "group_sequential"),
    ("ancova", BASE, "analysis", {"method": "ancova", "sided": "one", "alpha": 0.025}, "interims", "ANCOVA"),
    ("informative dropout", BASE, "endpoint", {"sd": 0.35, "dropout": 0.1, "dropout_mechanism": "informative",
                                               "dropout_slope": -0.5}, "interims", "mcar"),
    ("patient engine", BASE, "simulation", {"engine": "patient"}, "interims", "sufficient"),
    ("student_t variance", BAYES, "analysis", {"method": "bayes_normal", "prior": "flat", "variance": "student_t"},
     "interims", "student_t"),
    ("statistic under the Bayesian rule", BAYES, "interims.statistic", "z", "interims.statistic", "group_sequential"),
    ("unknown interims key", BASE, "interims.lookz", [0.5], "interims.lookz", ""),
]


@pytest.mark.parametrize("what,base,path,value,field,words", BAD, ids=[b[0] for b in BAD])
def test_bad_interims_refused_naming_the_field(what, base, path, value, field, words):
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(base, path, value))
    fields = [f for f, _ in exc.value.errors]
    assert any(f == field or f.startswith(field + ".") for f in fields), (what, exc.value.errors)
    assert words in str(exc.value), (what, str(exc.value))


def test_grid_value_that_leaves_too_few_patients_per_look_is_refused():
    raw = _with(BASE, "grid", {"design.n_per_arm": [60, 2]})
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(raw)
    assert any(f.startswith("grid.design.n_per_arm[1]") for f, _ in exc.value.errors)


def test_good_interims_accepted_and_described():
    cfg = validate_sim_config(BASE)
    assert cfg.interims.k == 2 and cfg.interims.binding is False
    assert describe_interims(cfg.interims) == (
        "2 looks at 50%, 100% of information; efficacy: O'Brien-Fleming type alpha spending; "
        "futility: non-binding O'Brien-Fleming type beta spending")
    b = validate_sim_config(BAYES)
    assert "Bayesian monitoring" in describe_interims(b.interims)
    assert "P(effect > 0) >= 0.995" in describe_interims(b.interims)
    # fixed designs are untouched: no interims attribute
    fixed = validate_sim_config(_with(BASE, "interims", _DEL))
    assert fixed.interims is None


def test_design_bounds_are_the_boundaries_module_design():
    """The config builds exactly the design the boundaries module builds from the same arguments
    (whose numbers are checked against rpact and published tables in test_sequential_*)."""
    from msbayes.sequential.boundaries import Spending, group_sequential_design

    cfg = validate_sim_config(BASE)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    ref = group_sequential_design([0.5, 1.0], alpha=0.025, beta=0.2, efficacy=Spending("obf"),
                                  futility=Spending("obf"), binding=False)
    assert d.critical_values == ref.critical_values and d.futility_bounds == ref.futility_bounds
    # futility only: no alpha at the interim (infinite efficacy bound), all of it at the end
    fo = validate_sim_config(_with(BASE, "interims.efficacy", "none"))
    d2 = group_sequential_of(fo.interims, alpha=0.025)
    assert d2.critical_values[0] > 30 and abs(d2.critical_values[1] - 1.959964) < 1e-5


def test_look_patients_rounding():
    assert look_patients([1 / 3, 2 / 3, 1.0], 50) == [17, 33, 50]
    assert look_patients([0.5, 1.0], 41) == [21, 41]  # 20.5 rounds half up


def test_accrual_plan_by_hand():
    """n_per_arm 20, looks at 50%: 10 + 10 patients due at look 1 (20 in all), 40 at the end;
    rate 2/month, follow-up 6 months: look 1 at 20/2 + 6 = 16 months with 20 + 2 x 6 = 32
    randomised, the end at 40/2 + 6 = 26 months with all 40; dropout 0.2: 16 and 32 analysed."""
    from msbayes.simulate.twoarm_sequential import look_plan

    raw = _with(BASE, "design.n_per_arm", 20)
    raw["endpoint"]["dropout"] = 0.2
    raw["interims"] = {**raw["interims"], "timing": "accrual", "accrual": {"rate": 2.0, "follow_up": 6.0}}
    p = look_plan(validate_sim_config(raw))
    assert p.due.tolist() == [[10, 20], [10, 20]]
    assert p.n_randomised.tolist() == [32.0, 40.0]
    assert p.time.tolist() == [16.0, 26.0]
    assert p.n_analysed.tolist() == pytest.approx([16.0, 32.0])
    np.testing.assert_allclose(p.se_planned, 0.35 * np.sqrt(2 / np.array([8.0, 16.0])))
    # the pipeline is capped at the maximum: rate 10/month, 6 months -> 20 + 60 > 40
    raw["interims"]["accrual"] = {"rate": 10.0, "follow_up": 6.0}
    assert look_plan(validate_sim_config(raw)).n_randomised.tolist() == [40.0, 40.0]
    # timing information: times reported, the pipeline not counted
    raw["interims"]["timing"] = "information"
    raw["interims"]["accrual"] = {"rate": 2.0, "follow_up": 6.0}
    p = look_plan(validate_sim_config(raw))
    assert p.n_randomised.tolist() == [20.0, 40.0] and p.time.tolist() == [16.0, 26.0]


@pytest.mark.parametrize("name", ["msbayes.design.interims", "msbayes.simulate.twoarm_sequential"])
def test_doctests(name):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0


# The exact lines a user sees (new-user test): no "Input should be 'none'" echo of the union's
# Literal member for a mapping input, no "field: field:" duplication, the rule first.
EXACT = [
    (BASE, "interims.efficacy", {"spendng": "obf"},
     ["interims.efficacy.spendng: unknown key (not allowed here)"]),
    (BASE, "interims.futility", {"conditional_power": 1.2},
     ["interims.futility.conditional_power: threshold must be in (0, 1), got 1.2"]),
    (BAYES, "interims.efficacy", {"p_benefit": 1.2},
     ["interims.efficacy.p_benefit: thresholds must be probabilities in (0, 1) (exclusive), got 1.2"]),
    (BAYES, "interims.futility", {"predictive_below": 1.2},
     ["interims.futility.predictive_below: thresholds must be probabilities in (0, 1) (exclusive), got 1.2"]),
    (BASE, "interims.efficacy", {"spending": "hsd", "gamma": math.inf},
     ["interims.efficacy.gamma: spending.param (gamma of hsd) must be finite, got inf"]),
    (BASE, "interims.efficacy", {"spending": "kd", "rho": -1},
     ["interims.efficacy.rho: spending.param (rho of kd) must be > 0, got -1.0"]),
    (BASE, "interims.efficacy", {"spending": "obrien"},
     ["interims.efficacy.spending: Input should be 'obf', 'pocock', 'hsd', 'kd' or 'user' (allowed: 'obf', "
      "'pocock', 'hsd', 'kd' or 'user'); got 'obrien'"]),
    (BASE, "interims.looks", [0.01, 0.02, 1.0],
     ["interims.looks: with 60 patients in arm 'placebo' (design.n_per_arm 60) the looks [0.01, 0.02, 1.0] "
      "fall at [1, 1, 60] patients; each look needs >= 2 patients per arm and more than the look before "
      "(fewer looks, or a larger n_per_arm)"]),
    (BASE, "interims.efficacy", {"z": [2.8]}, ["interims.efficacy.z: 1 bounds for 2 looks (one per look)"]),
    (BASE, "interims", {"looks": [0.5, 1.0], "rule": "bayesian", "binding": True, "efficacy": {"p_benefit": 0.99}},
     ["interims.rule: 'bayesian' is for analysis.method bayes_normal only (with welch use rule group_sequential, "
      "where binding applies); binding: only used with rule group_sequential (remove it with rule bayesian)"]),
]


@pytest.mark.parametrize("base,path,value,lines", EXACT, ids=[str(e[2])[:40] for e in EXACT])
def test_exact_message_lines(base, path, value, lines):
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(base, path, value))
    assert [f"{f}: {m}" for f, m in exc.value.errors] == lines


def test_a_string_that_is_not_none_still_lists_both_alternatives():
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(BASE, "interims.efficacy", "nonee"))
    (f, m), = exc.value.errors
    assert f == "interims.efficacy" and "Input should be 'none'" in m and "dictionary" in m
