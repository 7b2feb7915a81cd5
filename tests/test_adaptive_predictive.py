"""Enrichment selection by the predictive probability of final success: the measure against
a brute-force nested simulation, through the core and the config path, and FWER kept by the
closed test whatever the selection measure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from msbayes.adaptive import simulate_enrichment
from msbayes.adaptive.selection import predictive_prob_final
from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config


@pytest.mark.parametrize("est,se,se_more,prior", [
    (0.10, 0.08, 0.08, (0.0, np.inf)),
    (0.02, 0.10, 0.05, (0.0, np.inf)),
    (0.15, 0.06, 0.12, (0.0, 0.2)),
])
def test_predictive_probability_matches_nested_simulation(est, se, se_more, prior):
    """Draw theta from the interim posterior, the remaining patients' estimate given theta,
    pool by inverse variance (with the prior) and count final successes; 4 MCSE."""
    alpha = 0.025
    rng = np.random.default_rng(5)
    n = 400_000
    m0, s0 = prior
    prec = 1 / se**2 + (0.0 if not np.isfinite(s0) else 1 / s0**2)
    mean = (est / se**2 + (0.0 if not np.isfinite(s0) else m0 / s0**2)) / prec
    theta = mean + rng.standard_normal(n) / np.sqrt(prec)
    more = theta + se_more * rng.standard_normal(n)
    prec_f = prec + 1 / se_more**2
    mean_f = (mean * prec + more / se_more**2) / prec_f
    success = stats.norm.sf(0.0, loc=mean_f, scale=1 / np.sqrt(prec_f)) >= 1 - alpha
    want = success.mean()
    got = float(predictive_prob_final(est, se, se_more, alpha=alpha, prior_mean=m0, prior_sd=s0))
    assert abs(got - want) < 4 * np.sqrt(want * (1 - want) / n) + 1e-9, (got, want)


def test_selection_by_predictive_probability_in_the_core():
    """Effect only in S: predictive selection picks S more often than F; FWER under the global
    null stays at or below alpha + 3 MCSE (closed test, whatever the selection measure)."""
    res = simulate_enrichment((0.3, 0.0), prevalences=(0.5, 0.5), n_per_stage=(120, 120), sd=0.35,
                              effect_measure="predictive", selection="best", n_sims=20_000, seed=3)
    sel = res.selected
    assert sel[:, 0].mean() > sel[:, 1].mean()
    null = simulate_enrichment((0.0, 0.0), prevalences=(0.5, 0.5), n_per_stage=(120, 120), sd=0.35,
                               effect_measure="predictive", selection="epsilon", epsilon=0.1,
                               threshold=0.05, n_sims=40_000, seed=4)
    fwer = null.rejected.any(axis=1).mean()
    assert fwer <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / 40_000), fwer


def _raw(measure, **sel):
    return {
        "name": "enrich-pp", "seed": 1,
        "endpoint": {"sd": 0.35, "mcid": 0.18},
        "design": {"type": "enrichment", "arms": ["placebo", "msc_np"], "n_per_arm": 100,
                   "strata": {"edss_6.0-6.5": 0.5, "edss_3.0-5.5": 0.5}, "subpopulation": "edss_6.0-6.5",
                   "looks": [0.5, 1.0], "selection": {"rule": "best", "measure": measure, **sel}},
        "scenarios": {"null": {"effect": {"edss_6.0-6.5": 0.0, "edss_3.0-5.5": 0.0}}},
        "simulation": {"n_sims": 1000, "chunk_size": 1000},
    }


def test_config_accepts_predictive_probability_for_enrichment_and_checks_its_threshold():
    try:
        cfg = validate_sim_config(_raw("predictive_probability", threshold=0.1))
    except ConfigError as exc:  # the enrichment config keys may differ: say so in the failure
        pytest.fail(f"enrichment config not accepted: {exc}")
    assert cfg.design.selection.effect_measure == "predictive"
    with pytest.raises(ConfigError, match=r"threshold: must be in \(0, 1\) for measure predictive_probability"):
        validate_sim_config(_raw("predictive_probability", threshold=1.5))


def test_predictive_selection_is_refused_for_multi_arm():
    raw = {"name": "ma", "seed": 1, "endpoint": {"sd": 0.35},
           "design": {"type": "multi_arm", "doses": [0, 3, 10], "n_per_arm": 40, "looks": [0.5, 1.0],
                      "selection": {"measure": "predictive_probability"}},
           "scenarios": {"null": {"effect": 0.0}}}
    with pytest.raises(ConfigError, match=r"predictive_probability is for enrichment designs"):
        validate_sim_config(raw)
