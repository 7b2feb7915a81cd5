"""Go boundary (smallest observed effect giving "go") and assurance ceiling.

Boundary: closed form vs bisection on the engine's own rule, and vs simulated decisions
(known variance, so every trial has the design's SE). Ceiling: closed form for a normal design
prior, and assurance at large n approaching it (exact O'Hagan-type assurance as the bridge).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from msbayes.design.config import validate_sim_config
from msbayes.oc.boundary import ceiling_threshold, design_se, go_boundary, go_boundary_bisect
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell
from msbayes.simulate.twoarm import simulate_chunk

MCID = 0.1823


def _cfg(analysis, decision=None, *, n=60, dropout=0.0, scenarios=None, baseline_corr=0.0):
    raw = {"name": "b", "seed": 4,
           "endpoint": {"sd": 0.35, "mcid": MCID, "dropout": dropout, "baseline_corr": baseline_corr},
           "design": {"type": "parallel", "n_per_arm": n},
           "scenarios": scenarios or {"null": {"effect": 0.0}, "mcid": {"effect": MCID}},
           "analysis": analysis}
    if decision is not None:
        raw["decision"] = decision
    return validate_sim_config(raw)


DUAL = {"go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}}
CASES = [
    ({"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}, "variance": "known"}, DUAL),
    ({"method": "bayes_normal", "prior": {"mean": 0.05, "sd": 0.2}, "variance": "plugin"}, {"go": {"p_benefit": 0.9, "p_mcid": 0.3}}),
    ({"method": "bayes_normal", "prior": "flat", "variance": "known"}, DUAL),
    ({"method": "bayes_normal", "prior": "flat", "variance": "student_t"}, {"go": {"p_benefit": 0.975}}),
    ({"method": "welch", "sided": "one", "alpha": 0.025}, {"rule": "significance", "alpha": 0.025}),
    ({"method": "welch"}, {"go": {"p_benefit": 0.95, "p_mcid": 0.6}}),
]


def test_conjugate_normal_closed_form_by_hand():
    cfg = _cfg(CASES[0][0], DUAL, n=60, dropout=0.1)
    se = 0.35 * math.sqrt(2 / 54)
    s0 = 0.111
    tot = s0**2 + se**2
    sp = s0 * se / math.sqrt(tot)
    # P(effect > c | x) = Phi((m_post - c) / s_post) >= p  <=>  x >= ((c + z_p s_post) tot) / s0^2
    b0 = (0 + special.ndtri(0.975) * sp) * tot / s0**2
    b1 = (MCID + 0.0 * sp) * tot / s0**2
    b = go_boundary(cfg)
    assert b.se == pytest.approx(se, rel=1e-12) and b.method == "closed_form"
    assert b.boundary == pytest.approx(max(b0, b1), rel=1e-12)


@pytest.mark.parametrize("analysis, decision", CASES)
def test_closed_form_equals_bisection_on_the_rule(analysis, decision):
    for n in (20, 60, 200):
        cfg = _cfg(analysis, decision, n=n, dropout=0.12)
        b = go_boundary(cfg)
        bb = go_boundary_bisect(cfg, se=b.se, df=b.df)
        assert b.boundary == pytest.approx(bb.boundary, abs=1e-9), (n, b, bb)


def test_mixture_prior_uses_bisection_and_matches_quadrature():
    prior = {"weights": [0.8, 0.2], "means": [0.0, 0.0], "sds": [0.111, 0.5]}
    cfg = _cfg({"method": "bayes_normal", "prior": prior, "variance": "known"}, DUAL, n=80)
    b = go_boundary(cfg)
    assert b.method == "bisection"
    # at the boundary one condition holds with equality: check by quadrature on a fine grid
    th = np.linspace(-3, 3, 200_001)
    dens = sum(w * stats.norm.pdf(th, m, s) for w, m, s in zip(prior["weights"], prior["means"], prior["sds"]))

    def post_gt(x, c):
        lik = stats.norm.pdf(x, th, b.se)
        p = dens * lik
        return float(np.sum(p[th > c]) / np.sum(p))

    assert min(post_gt(b.boundary, 0.0) - 0.975, post_gt(b.boundary, MCID) - 0.5) == pytest.approx(0.0, abs=2e-4)
    assert post_gt(b.boundary + 0.002, 0.0) >= 0.975 and post_gt(b.boundary + 0.002, MCID) >= 0.5


@pytest.mark.parametrize("analysis", [CASES[0][0], CASES[2][0],
                                      {"method": "bayes_normal", "prior": {"weights": [0.7, 0.3], "means": [0, 0.1],
                                                                           "sds": [0.1, 0.4]}, "variance": "known"}])
def test_boundary_separates_simulated_decisions(analysis):
    # known variance, no dropout: every trial has the design SE, so go <=> est >= boundary
    cfg = _cfg(analysis, DUAL, n=50, scenarios={"s": {"normal": {"mean": 0.15, "sd": 0.15}}})
    b = go_boundary(cfg).boundary
    out = simulate_chunk(cfg, "s", 20_000, np.random.default_rng(8))
    est, go = out["est"], out["go"]
    far = np.abs(est - b) > 1e-9
    assert np.array_equal(go[far], est[far] >= b)
    assert 0.05 < go.mean() < 0.95  # both sides populated
    assert out["constants"]["go_boundary"] == b


def test_design_se_ancova_and_df():
    cfg = _cfg({"method": "ancova", "sided": "one", "alpha": 0.025}, {"rule": "significance", "alpha": 0.025},
               n=40, dropout=0.2, baseline_corr=0.6)
    se, df = design_se(cfg)
    assert se == pytest.approx(0.35 * 0.8 * math.sqrt(2 / 32)) and df == 61
    assert go_boundary(cfg).boundary == pytest.approx(stats.t.ppf(0.975, 61) * se)


def test_ceiling_threshold():
    assert ceiling_threshold(_cfg(CASES[0][0], DUAL)) == MCID
    assert ceiling_threshold(_cfg(CASES[3][0], {"go": {"p_benefit": 0.975}})) == 0.0
    assert ceiling_threshold(_cfg(CASES[4][0], CASES[4][1])) == 0.0


def test_assurance_approaches_ceiling_with_n():
    # normal design prior N(m, v), known variance: assurance(n) = Phi((m - b_n) / sqrt(v + se_n^2))
    # exactly (go <=> est >= b_n, est ~ N(theta, se_n^2)); ceiling = P(theta > MCID)
    m, s = 0.15, 0.1
    ceil = 1 - special.ndtr((MCID - m) / s)
    prev = None
    for n in (30, 300, 30_000):
        cfg = _cfg(CASES[0][0], DUAL, n=n, scenarios={"prior": {"normal": {"mean": m, "sd": s}}})
        r = simulate_cell(cfg, "prior", 40_000, cell_seed(4, {"n": n})).finalize()
        assert r["assurance_ceiling"] == pytest.approx(ceil, rel=1e-12) and r["assurance_ceiling_mcse"] == 0.0
        b = r["go_boundary"]
        exact = special.ndtr((m - b) / math.sqrt(s * s + r["design_se"] ** 2))
        assert abs(r["p_go"] - exact) < 3 * r["p_go_mcse"], (n, r["p_go"], exact)
        if prev is not None:
            assert abs(exact - ceil) < abs(prev - ceil)
        prev = exact
    assert abs(prev - ceil) < 0.005
    assert abs(r["p_go"] - ceil) < 3 * r["p_go_mcse"] + 0.005
