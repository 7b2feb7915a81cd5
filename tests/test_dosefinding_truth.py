"""Dose-finding configs (bad inputs refused, field named) and dose-response truth.

Independent answers: the defining properties of the anchoring (effect(d_ref) = theta_ref,
g(0) = 0), DoseFinding's published model formulas, and target doses found by a brute-force
root search on a fine dose grid (not by the closed forms under test).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from msbayes.config import ConfigError, validate_config
from msbayes.design.dosefinding import (
    BayesEmaxAnalysis,
    DoseFindingDesign,
    DoseResponseSpec,
    MCPModAnalysis,
)
from msbayes.design.doseresponse import (
    DOSE_RESPONSE_MODELS,
    anchored_effects,
    draw_shape,
    shape_g,
    target_dose,
    true_med,
)

BASE = {
    "type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
    "dose_unit": "million cells x 6", "reference_dose": 10, "allocation": [1, 1, 1, 1],
    "n_per_arm": 30,
    "dose_response": {"model": "emax", "ed50": {"lognormal": {"median": 3.0, "sd_log": 0.5}}},
}
SHAPES = {
    "linear": {}, "emax": {"ed50": 2.5}, "sigemax": {"ed50": 4.0, "hill": 2.5},
    "exponential": {"delta": 6.0}, "quadratic": {"delta": -0.04},
    "logistic": {"ed50": 5.0, "delta": 1.2},
}


def _err(model, data, prefix="design"):
    with pytest.raises(ConfigError) as ei:
        validate_config(model, data, prefix=prefix)
    return ei.value


# ------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("change, field, text", [
    ({"doses": [0, 6, 3, 10]}, "design.doses", "strictly increasing"),
    ({"doses": [0, 3, 3, 10]}, "design.doses", "strictly increasing"),
    ({"doses": [1, 3, 6, 10]}, "design.doses", "placebo"),
    ({"allocation": [1, 1, 1]}, "design.allocation", "one weight per dose"),
    ({"allocation": [1, -1, 1, 1]}, "design.allocation", "> 0"),
    ({"allocation": [0, 0, 0, 0]}, "design.allocation", "> 0"),
    ({"n_per_arm": 1}, "design.n_per_arm", "greater than or equal to 2"),
    ({"reference_dose": 12}, "design.reference_dose", "dose range"),
    ({"dose_metric": "mg"}, "design.dose_metric", "cells_per_injection"),
    ({"dose_response": {"model": "betaMod"}}, "design.dose_response.model", "emax"),
    ({"dose_response": {"model": "emax", "ed50": -1.0}}, "design.dose_response.ed50", "> 0"),
    ({"dose_response": {"model": "emax"}}, "design.dose_response.ed50", "required"),
    ({"dose_response": {"model": "emax", "ed50": 1.0, "hill": 2.0}}, "design.dose_response.hill",
     "not used"),
    ({"dose_response": {"model": "sigemax", "ed50": 1.0, "hill": {"uniform": {"lower": -1, "upper": 2}}}},
     "design.dose_response.hill", "> 0"),
    ({"dose_response": {"model": "quadratic", "delta": -0.2}}, "design.dose_response", "delta >"),
    ({"unknown": 1}, "design.unknown", "unknown key"),
])
def test_bad_design_refused_with_field(change, field, text):
    e = _err(DoseFindingDesign, {**BASE, **change})
    fields = [f for f, _ in e.errors]
    assert field in fields, e.errors
    assert text in " ".join(m for f, m in e.errors if f == field)


def test_unknown_mcpmod_model_lists_allowed():
    e = _err(MCPModAnalysis, {"method": "mcpmod", "models": {"betaMod": [1, 1]}}, prefix="analysis")
    assert e.errors[0][0] == "analysis.models"
    assert "allowed" in e.errors[0][1] and "sigemax" in e.errors[0][1]


@pytest.mark.parametrize("models, text", [
    ({"emax": [-0.2]}, "> 0"), ({"sigemax": [[1.0]]}, "pairs"), ({"linear": [1]}, "no parameters"),
    ({}, "at least one"), ({"quadratic": [0.0]}, "linear model"),
])
def test_bad_mcpmod_candidates(models, text):
    e = _err(MCPModAnalysis, {"method": "mcpmod", "models": models}, prefix="analysis")
    assert text in e.errors[0][1]


def test_bad_bayes_emax():
    base = {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30},
            "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}}
    e = _err(BayesEmaxAnalysis, {**base, "ed50_grid": {"lower": 5, "upper": 1}}, prefix="analysis")
    assert e.errors[0][0] == "analysis.ed50_grid.upper"
    e = _err(BayesEmaxAnalysis, {**base, "prior_emax": {"mean": 0, "sd": 0}}, prefix="analysis")
    assert e.errors[0][0] == "analysis.prior_emax.sd"
    e = _err(BayesEmaxAnalysis, {**base, "gamma": 1.5}, prefix="analysis")
    assert e.errors[0][0] == "analysis.gamma"
    assert validate_config(BayesEmaxAnalysis, base).ed50_points().size == 64


def test_mods_style_normalisation():
    a = validate_config(MCPModAnalysis, {"method": "mcpmod", "models": {
        "linear": None, "emax": 0.2, "sigemax": [0.4, 3, 0.5, 2], "logistic": [[5, 1]]}})
    assert a.candidates() == [("linear", ()), ("emax", (0.2,)), ("sigemax", (0.4, 3.0)),
                              ("sigemax", (0.5, 2.0)), ("logistic", (5.0, 1.0))]


def test_arm_sizes_allocation():
    d = validate_config(DoseFindingDesign, {**BASE, "allocation": [2, 1, 1, 2], "n_per_arm": 30})
    assert d.arm_sizes() == [40, 20, 20, 40]
    assert sum(d.arm_sizes(n_per_arm=25)) == 100


# ---------------------------------------------------------------------- dose response
def test_formulas_match_dosefinding_definitions():
    d = np.array([0.0, 1.0, 2.5, 5.0, 10.0])
    np.testing.assert_allclose(shape_g("emax", d, {"ed50": 2.5}), d / (2.5 + d))
    np.testing.assert_allclose(shape_g("sigemax", d, {"ed50": 4.0, "hill": 2.5}),
                               d**2.5 / (4.0**2.5 + d**2.5))
    np.testing.assert_allclose(shape_g("exponential", d, {"delta": 6.0}), np.exp(d / 6.0) - 1)
    np.testing.assert_allclose(shape_g("quadratic", d, {"delta": -0.04}), d - 0.04 * d**2)
    L = 1 / (1 + np.exp((5.0 - d) / 1.2))
    np.testing.assert_allclose(shape_g("logistic", d, {"ed50": 5.0, "delta": 1.2}), L - L[0])


@pytest.mark.parametrize("model", sorted(DOSE_RESPONSE_MODELS))
def test_anchoring_and_monotonicity(model):
    rng = np.random.default_rng(3)
    theta = rng.normal(0.2, 0.1, 50)
    doses = np.linspace(0, 10, 41)
    eff = anchored_effects(model, doses, d_ref=6.0, theta_ref=theta, shape=SHAPES[model])
    np.testing.assert_array_equal(eff[:, 0], 0.0)
    np.testing.assert_allclose(eff[:, np.searchsorted(doses, 6.0)], theta, rtol=1e-14, atol=0)
    if DOSE_RESPONSE_MODELS[model].monotone:
        pos = theta > 0
        assert np.all(np.diff(eff[pos], axis=1) > 0)


def test_anchoring_with_shape_arrays():
    theta = np.array([0.1, 0.2, 0.3])
    ed50 = np.array([1.0, 3.0, 9.0])
    eff = anchored_effects("emax", [0, 3, 10], d_ref=10, theta_ref=theta, shape={"ed50": ed50})
    expect = theta[:, None] * (np.array([0, 3, 10]) / (ed50[:, None] + [0, 3, 10])) / (10 / (ed50[:, None] + 10))
    np.testing.assert_allclose(eff, expect)


@pytest.mark.parametrize("model", sorted(DOSE_RESPONSE_MODELS))
def test_target_dose_vs_brute_force(model):
    shape = SHAPES[model]
    dmax = 10.0
    grid = np.linspace(0, dmax, 200_001)
    for scale in [0.05, 0.3, 1.0]:
        for delta in [0.02, 0.1]:
            td = target_dose(model, scale=np.array([scale]), shape=shape, target_delta=delta, d_max=dmax)[0]
            f = scale * shape_g(model, grid, shape) - delta
            hit = np.nonzero(f >= 0)[0]
            if hit.size == 0:
                assert np.isnan(td), (model, scale, delta, td)
                continue
            i = hit[0]
            root = optimize.brentq(lambda x: scale * shape_g(model, [x], shape)[0] - delta,
                                   grid[max(i - 1, 0)], grid[i]) if i > 0 else 0.0
            assert abs(td - root) < 1e-8, (model, scale, delta, td, root)


def test_true_med_and_draw_shape():
    e = np.array([[0, 0.1, 0.2, 0.3], [0, 0.3, 0.2, 0.1], [0, 0, 0, 0]])
    assert true_med(e, 0.15).tolist() == [2, 1, -1]
    spec = DoseResponseSpec.model_validate(
        {"model": "sigemax", "ed50": {"lognormal": {"median": 3.0, "sd_log": 0.5}},
         "hill": {"uniform": {"lower": 1.0, "upper": 4.0}}})
    dr = draw_shape(spec, 200_000, np.random.default_rng(1))
    # log-normal: median and sd of log; uniform: mean (MCSE-based tolerances)
    assert abs(np.median(np.log(dr["ed50"])) - np.log(3.0)) < 4 * 0.5 * 1.2533 / np.sqrt(200_000)
    assert abs(np.log(dr["ed50"]).std() - 0.5) < 4 * 0.5 / np.sqrt(2 * 200_000)
    assert abs(dr["hill"].mean() - 2.5) < 4 * (3 / np.sqrt(12)) / np.sqrt(200_000)
    assert dr["hill"].min() >= 1.0 and dr["hill"].max() <= 4.0


def test_allocation_giving_tiny_arm_refused():
    e = _err(DoseFindingDesign, {**BASE, "allocation": [10, 1, 1, 1], "n_per_arm": 2})
    assert any("allocation" in m and "< 2" in m for _, m in e.errors), e.errors
