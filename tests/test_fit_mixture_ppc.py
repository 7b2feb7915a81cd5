"""The posterior predictive used when unreported group sizes are marginalised (numpy, not PyMC).

Given posterior draws of the arm means, arm SDs and the conditional weights of the size
alternatives, the replicated arm mean has, by the laws of total expectation and variance,
mean E[m] and variance Var(m) + E[sum_k w_k sigma^2 / n_k]; the replicated variance has mean
E[sigma^2]. Checked on hand-made draws with tolerances from the Monte Carlo error of the
predictive noise alone.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import arviz as az
import numpy as np
import xarray as xr

from msbayes.fit.runner import _mixture_ppc


def test_mixture_ppc_moments_match_total_expectation_and_variance():
    rng = np.random.default_rng(8)
    C, D = 2, 20_000
    n_alt = np.array([[10.0, 8.0], [20.0, 16.0]])  # K=2 alternatives x 2 rows (one group)
    w = np.array([0.3, 0.7])
    m = np.stack([rng.normal(0.1, 0.05, (C, D)), rng.normal(-0.3, 0.08, (C, D))], axis=-1)
    sig = np.stack([np.full((C, D), 0.25), rng.uniform(0.35, 0.5, (C, D))], axis=-1)
    prob = np.broadcast_to(w[None, None, :, None], (C, D, 2, 1)).copy()
    coords = {"chain": np.arange(C), "draw": np.arange(D), "row": ["t", "c"]}
    post = xr.Dataset({"arm_mean": (("chain", "draw", "row"), m),
                       "sigma": (("chain", "draw", "sigma_dim_0"), sig),
                       "n_alt_prob": (("chain", "draw", "n_alternative", "group"), prob)}, coords=coords)
    job = SimpleNamespace(subgroup=SimpleNamespace(primary_rows=np.array([0, 1]), row_group=np.array([0, 0])))
    data = {"n_alt": n_alt, "ybar_obs_all": np.array([0.07, -0.34]), "s2_obs_all": np.array([0.06, 0.19])}
    pp = _mixture_ppc(az.InferenceData(posterior=post), job, data, seed=3)
    rep = pp.posterior_predictive["ybar"].values.reshape(-1, 2)
    s2rep = pp.posterior_predictive["s2"].values.reshape(-1, 2)
    N = C * D
    for r in range(2):
        ev = float(np.mean(sig[..., r] ** 2 * (w[0] / n_alt[0, r] + w[1] / n_alt[1, r])))
        var_m = float(m[..., r].var())
        assert abs(rep[:, r].mean() - m[..., r].mean()) < 4 * math.sqrt(ev / N)
        v_exp = var_m + ev
        se_v = math.sqrt((4 * var_m * ev + 2 * ev**2) / N)
        assert abs(rep[:, r].var() - v_exp) < 4 * se_v, (r, rep[:, r].var(), v_exp)
        # s2_rep = sigma^2 chi2(n-1)/(n-1): mean E[sigma^2]; its noise var is 2 sigma^4/(n-1)
        e_s2 = float(np.mean(sig[..., r] ** 2))
        se_s2 = math.sqrt(float(np.mean(2 * sig[..., r] ** 4 * (w[0] / (n_alt[0, r] - 1) + w[1] / (n_alt[1, r] - 1)))) / N)
        assert abs(s2rep[:, r].mean() - e_s2) < 4 * se_s2
    # the observed values are passed through for the primary rows
    assert np.allclose(pp.observed_data["ybar"].values, data["ybar_obs_all"])
