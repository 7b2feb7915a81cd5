"""Findings of a new-user test of the report text: calibrated thresholds quoted exactly (with
the rule's >=), no median-unbiased claim where none is computed, a consistent dose-finding
futility sentence, and the planned n of a design without a grid over n."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

import msbayes
from msbayes.report.build import _view
from msbayes.report.inputs import load_sim
from msbayes.report.summary import oc_summary
from msbayes.report.text import interim_paragraph


def _looks_ds(*names):
    return xr.Dataset({n: ("look", np.zeros(2)) for n in ("p_stop", *names)}, coords={"look": [1, 2]})


def test_bayesian_threshold_is_quoted_exactly_and_without_a_median_unbiased_claim():
    cfg = {"analysis": {"method": "bayes_normal"}, "design": {"type": "parallel"},
           "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.99874},
                        "futility": {"predictive_below": 0.05}}}
    text = " ".join(interim_paragraph(cfg, _looks_ds()))
    assert "posterior P(effect > 0) at least 0.99874" in text
    assert "0.999" not in text and "above 0.99874" not in text
    assert "median-unbiased" not in text and "duration" not in text
    text = " ".join(interim_paragraph(cfg, _looks_ds("bias_mue", "expected_duration")))
    assert "median-unbiased" in text and "duration" in text


def test_dose_finding_futility_sentence_is_consistent_with_a_futility_rule():
    base = {"analysis": {"method": "mcpmod"}, "design": {"type": "dose_finding"},
            "interims": {"looks": [0.4, 1.0], "rule": "group_sequential", "efficacy": "none",
                         "drop_doses": {"z_below": 0.0}}}
    only = " ".join(interim_paragraph(base, _looks_ds()))
    assert "futility only if every dose is dropped" in only
    with_rule = {**base, "interims": {**base["interims"], "futility": {"z": [0.0]}}}
    text = " ".join(interim_paragraph(with_rule, _looks_ds()))
    assert "only if every dose is dropped" not in text
    assert "fixed z bounds 0" in text and "0.000" not in text


def test_planned_n_without_a_grid_is_the_configs_n(tmp_path):
    raw = {"name": "no-grid", "seed": 2, "endpoint": {"sd": 0.35, "mcid": math.log(1.2)},
           "design": {"type": "parallel", "n_per_arm": 70},
           "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": math.log(1.2)}},
           "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
           "simulation": {"n_sims": 400, "chunk_size": 400, "backend": "sequential"}}
    res = msbayes.simulate_design(raw, quiet=True)
    res.save(tmp_path / "sim")
    _, head = oc_summary(_view(load_sim(tmp_path / "sim")))
    assert head["planned n per arm"] == "70"
