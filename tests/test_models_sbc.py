"""Simulation-based calibration (Talts et al. 2018) of the hierarchical summary model.

Parameters are drawn from the model's prior, summary data (arm means and variances) from its
likelihood, the model is refitted (compiled once, data swapped), and the rank of the true value
among thinned posterior draws is recorded. Under a correct sampler + model the ranks are uniform;
a chi-square test on binned ranks is applied per parameter at a conservative level
(alpha = 0.001, Bonferroni over parameters): it fails for a biased or over/under-dispersed
posterior, not by chance.
"""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from msbayes.fit.sampling import compile_model, sample_compiled
from msbayes.models.summary import SummaryInputs, build_summary_model

PARAMS = (("theta", (0, 0)), ("theta", (0, 1)), ("mu_effect", (0,)), ("tau", (0,)))


def _structure() -> SummaryInputs:
    return SummaryInputs(
        endpoints=("t25fw",), strata=("a", "b"), group_labels=("g_a", "g_b"),
        group_endpoint=np.array([0, 0]), group_stratum=np.array([0, 1]), group_weight=np.array([1.0, 1.0]),
        row_labels=("a_t", "a_c", "b_t", "b_c"), row_group=np.array([0, 0, 1, 1]),
        row_treated=np.array([1, 0, 1, 0]), n=np.array([12.0, 10.0, 15.0, 15.0]),
        mean=np.zeros(4), sd=np.full(4, 0.3),
    )


def run_sbc(n_rep: int, *, seed: int, bins: int = 4, draws: int = 300, thin: int = 6) -> dict[str, float]:
    d = _structure()
    model = build_summary_model(d, prior_mean=0.0, prior_sd=0.2, tau_sd=0.15, control_sd=0.5, sigma_sd=0.5)
    cf = compile_model(model, backend="auto")
    with model:
        sims = pm.sample_prior_predictive(draws=n_rep, random_seed=seed)
    truth = {name: np.asarray(sims.prior[name].values)[0] for name, _ in PARAMS}
    ybar = np.asarray(sims.prior_predictive["ybar"].values)[0]
    s2 = np.asarray(sims.prior_predictive["s2"].values)[0]
    L = 2 * draws // thin
    ranks = {p: [] for p in PARAMS}
    for i in range(n_rep):
        post = sample_compiled(cf, data={"ybar_obs_all": ybar[i], "s2_obs_all": s2[i]}, draws=draws, tune=300,
                               chains=2, cores=2, seed=seed + 1 + i, target_accept=0.95)
        for name, idx in PARAMS:
            dr = np.asarray(post.posterior[name].values)[(slice(None), slice(None), *idx)][:, ::thin].ravel()
            ranks[(name, idx)].append(int((dr < truth[name][(i, *idx)]).sum()))
    pvals = {}
    for p, r in ranks.items():
        counts = np.bincount(np.asarray(r) * bins // (L + 1), minlength=bins)
        pvals[f"{p[0]}{list(p[1])}"] = float(stats.chisquare(counts).pvalue)
    return pvals


def test_sbc_rank_uniformity_quick():
    pvals = run_sbc(30, seed=2024)
    alpha = 0.001 / len(PARAMS)
    assert min(pvals.values()) > alpha, pvals


@pytest.mark.slow
def test_sbc_rank_uniformity_many_replicates():
    pvals = run_sbc(200, seed=7, bins=10)
    alpha = 0.001 / len(PARAMS)
    assert min(pvals.values()) > alpha, pvals
