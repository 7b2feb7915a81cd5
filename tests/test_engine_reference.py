"""Fast conjugate posterior probabilities vs full PyMC (nutpie) fits of the same trials."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from msbayes.design.endpoint import EndpointSpec
from msbayes.simulate.analyses import bayes_normal, difference_estimate
from msbayes.simulate.reference import ReferenceBayesNormal
from msbayes.simulate.twoarm import completer_counts, randomized_counts, sufficient_stats

PRIOR = (np.array([0.8, 0.2]), np.array([0.0, 0.0]), np.array([0.11, 0.5]))  # robust skeptical
MCID = 0.182


def _trials(k, n, seed):
    ep = EndpointSpec(sd=0.35, dropout=0.1)
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.12, 0.1, size=(k, 1))
    return sufficient_stats(ep, theta, completer_counts(randomized_counts(ep, [n, n], k, rng=rng), 0.1, rng=rng), rng=rng)


def _compare(ts, *, known_sd, draws, allowance=0.0, per_trial=True):
    """Fast vs PyMC. ``per_trial``: every |difference| < 4 MCMC-MCSE (+ allowance); else
    aggregate checks (mean difference within 4 SE of 0, RMS z-score near 1), which are robust
    to the noise of per-trial MCSE estimates when hundreds of trials are compared."""
    est = difference_estimate(ts, known_sd=known_sd)
    fast = bayes_normal(est, prior=PRIOR)
    ref = ReferenceBayesNormal(prior=PRIOR, mcid=MCID, known_sd=known_sd).fit(ts, draws=draws, tune=1000, seed=7)
    for name, c in (("benefit", 0.0), ("mcid", MCID)):
        diff = fast.prob_greater(c) - ref[f"p_{name}"]
        mcse = ref[f"mcse_{name}"]
        if per_trial:
            assert np.all(np.abs(diff) < 4 * mcse + allowance + 1e-9), (name, diff, mcse)
        else:
            se_mean = np.sqrt(np.sum(mcse**2)) / len(diff)
            assert abs(diff.mean()) < 4 * se_mean + allowance, (name, diff.mean(), se_mean)
            if allowance == 0:
                z = diff / np.maximum(mcse, 1e-4)
                assert np.sqrt(np.mean(z**2)) < 1.5, (name, np.sqrt(np.mean(z**2)))
    return fast, ref


def test_conjugate_mixture_posterior_matches_pymc_known_sigma():
    # known sigma: the fast path is exact, so only MCMC error separates the two
    _compare(_trials(20, 60, seed=1), known_sd=0.35, draws=4000)


@pytest.mark.slow
def test_conjugate_posterior_matches_pymc_many_trials_known_sigma():
    _compare(_trials(300, 40, seed=2), known_sd=0.35, draws=2000, per_trial=False)


@pytest.mark.slow
def test_plugin_sigma_close_to_full_posterior_with_unknown_sigma():
    # plug-in sigma ignores the uncertainty of the arm SDs; with n completers per arm the
    # full posterior is ~ t with about n - 1 df. Allowance: the largest gap between a t(df)
    # and a normal CDF, df = smallest arm's completers - 1 (a documented approximation).
    n = 60
    ts = _trials(200, n, seed=3)
    df = float(ts.n.min()) - 1
    x = np.linspace(-6, 6, 4001)
    allowance = float(np.max(np.abs(stats.t.cdf(x, df) - stats.norm.cdf(x))))
    _compare(ts, known_sd=None, draws=2000, allowance=allowance, per_trial=False)
