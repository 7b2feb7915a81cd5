"""Config validation of ``design.type: enrichment`` / ``multi_arm``: bad input is refused before
any work with the field named (dotted path), good configs validate and map onto the core."""

from __future__ import annotations

import copy

import pytest

from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config

ENRICH = {
    "name": "e", "seed": 1, "endpoint": {"name": "t25fw", "sd": 0.35},
    "design": {"type": "enrichment", "n_per_arm": 120, "strata": {"edss_3.0-5.5": 0.5, "edss_6.0-6.5": 0.5},
               "subpopulation": "edss_6.0-6.5", "selection": {"rule": "epsilon", "epsilon": 0.05}},
    "scenarios": {"null": {"effect": 0.0}, "s_only": {"effect": {"edss_6.0-6.5": 0.26, "edss_3.0-5.5": 0.0}}},
}
MULTI = {
    "name": "m", "seed": 1, "endpoint": {"name": "t25fw", "sd": 0.35},
    "design": {"type": "multi_arm", "doses": [0, 3, 6, 10], "n_per_arm": 60, "reference_dose": 10,
               "dose_response": {"model": "emax", "ed50": 3.0}},
    "scenarios": {"null": {"effect": 0.0}, "per_dose": {"effect": {"3": 0.1, "6": 0.15, "10": 0.2}}},
}


def _with(base, path, value):
    raw = copy.deepcopy(base)
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is _DELETE:
        node.pop(parts[-1])
    else:
        node[parts[-1]] = value
    return raw


_DELETE = object()

BAD = [
    # (base, dotted path, value, field named in the error, words in the message)
    (ENRICH, "design.strata", {"edss_3.0-5.5": 0.5, "edss_6.0-6.5": 0.6}, "design.strata", "sum to 1"),
    (ENRICH, "design.strata", {"a": 0.3, "b": 0.3, "c": 0.4}, "design.strata", "exactly two"),
    (ENRICH, "design.subpopulation", "edss_7", "design", "not a stratum"),
    (ENRICH, "design.selection.candidates", ["edss_7"], "design", "candidates"),
    (ENRICH, "design.selection.epsilon", -0.1, "design.selection.epsilon", ">= 0"),
    (ENRICH, "design.selection", {"rule": "best", "measure": "posterior_probability", "threshold": 1.2},
     "design.selection", "(0, 1)"),
    (ENRICH, "design.selection", {"rule": "r_best"}, "design", "multi_arm"),
    (ENRICH, "design.selection.measure", "predictive", "design.selection.measure", "posterior_probability"),
    (ENRICH, "design.looks", [0.6, 0.5, 1.0], "design.looks", "increase"),
    (ENRICH, "design.looks", [0.5, 0.9], "design.looks", "end at 1"),
    (ENRICH, "design.final", {"alpha": 0.6}, "design.final.alpha", "(0, 0.5)"),
    (ENRICH, "design.final", {"alpha": 0.0}, "design.final.alpha", "(0, 0.5)"),
    (ENRICH, "design.final", {"intersection": "dunnett"}, "design", "multi_arm"),
    (ENRICH, "design.final", {"method": "bayesian_shrinkage", "cutoff": 1.0},
     "design.final.cutoff", "(0, 1)"),
    (ENRICH, "design.final", {"method": "magic"}, "design.final", "closed_combination"),
    (ENRICH, "scenarios.s_only.effect", {"edss_6.0-6.5": 0.26}, "scenarios.s_only.effect", "design strata"),
    (ENRICH, "analysis", {"method": "welch"}, "analysis", "design.final"),
    (ENRICH, "endpoint.dropout", 0.1, "endpoint.dropout", "without dropout"),
    (MULTI, "design.doses", [3, 6, 10], "design.doses", "control dose 0"),
    (MULTI, "design.selection", {"rule": "r_best", "r": 4}, "design", "1..3"),
    (MULTI, "design.selection", {"rule": "best", "candidates": ["7"]}, "design", "not doses"),
    (MULTI, "design.selection", {"rule": "epsilon", "epsilon": -1.0}, "design.selection.epsilon", ">= 0"),
    (MULTI, "design.final", {"intersection": "spiessens_debois"}, "design", "enrichment"),
    (MULTI, "design.final", {"alpha": 0.5}, "design.final.alpha", "(0, 0.5)"),
    (MULTI, "design.reference_dose", 7, "design", "not an active dose"),
    (MULTI, "design.dose_response", _DELETE, "scenarios.null", "one effect per dose"),
    (MULTI, "scenarios.per_dose.effect", {"3": 0.1, "6": 0.1}, "scenarios.per_dose.effect", "dose labels"),
    (MULTI, "interims", {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}}, "interims", "design.looks"),
    (MULTI, "design.n_per_arm", 2, "design", "each stage"),
]


@pytest.mark.parametrize("base,path,value,field,words", BAD, ids=[f"{b['design']['type']}:{p}:{i}"
                                                                  for i, (b, p, *_r) in enumerate(BAD)])
def test_bad_input_refused_naming_the_field(base, path, value, field, words):
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(base, path, value))
    fields = [f for f, _ in exc.value.errors]
    assert any(f == field or f.startswith(field + ".") or field.startswith(f) for f in fields), (fields, str(exc.value))
    assert field in str(exc.value)
    assert words in str(exc.value), str(exc.value)


def test_good_configs_validate_and_size_the_stages():
    e = validate_sim_config(ENRICH)
    assert e.design.stage_sizes_per_arm() == [60, 60]
    assert e.design.prevalences == (0.5, 0.5) and e.design.other_stratum == "edss_3.0-5.5"
    assert list(e.endpoint.strata) == ["edss_3.0-5.5", "edss_6.0-6.5"]  # one source of truth: design.strata
    assert e.analysis is None
    m = validate_sim_config(_with(MULTI, "design.looks", [0.3, 0.7, 1.0]))
    assert m.design.stage_sizes_per_arm() == [18, 24, 18]
    assert m.design.arm_sizes() == [60, 60, 60, 60]


def test_core_arguments_follow_the_config():
    from msbayes.simulate.enrichment_chunk import core_kwargs as ek
    from msbayes.simulate.multiarm_chunk import core_kwargs as mk

    raw = _with(ENRICH, "design.selection", {"rule": "best", "measure": "posterior_probability", "threshold": 0.3,
                                             "prior": {"mean": 0.1, "sd": 0.2}, "candidates": ["edss_6.0-6.5"]})
    kw = ek(validate_sim_config(_with(raw, "design.counts", "fixed")))
    assert kw["n_per_stage"] == (120, 120) and kw["prevalences"] == (0.5, 0.5)  # S first
    assert kw["effect_measure"] == "posterior" and kw["selection_prior"] == (0.1, 0.2)
    assert kw["candidates"] == ("S",) and kw["counts"] == "fixed" and kw["threshold"] == 0.3
    assert kw["intersection_test"] == "spiessens_debois" and kw["final"] == "closed"
    kb = ek(validate_sim_config(_with(ENRICH, "design.final", {"method": "bayesian_shrinkage", "tau": 0.2})))
    assert kb["final"] == "bayes" and kb["bayes"].tau == 0.2
    km = mk(validate_sim_config(_with(MULTI, "design.selection", {"rule": "r_best", "r": 2, "measure": "z",
                                                                  "candidates": ["6", "10"]})))
    assert km["selection"] == "rbest" and km["r_best"] == 2 and km["effect_measure"] == "statistic"
    assert km["candidates"] == [1, 2] and km["intersection_test"] == "dunnett" and km["n_per_stage"] == (30, 30)
