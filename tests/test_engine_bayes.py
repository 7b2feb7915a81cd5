"""Conjugate normal / mixture posteriors vs brute-force numerical integration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from msbayes.simulate.analyses import Estimate, bayes_normal


def _brute(est, se, w, m, s, c):
    """P(theta > c | est) and E[theta | est] by quadrature of prior x likelihood.

    The likelihood factor N(est; theta, se^2) confines the posterior to est +- 15 se (beyond,
    it is below exp(-112) while the prior density is bounded), so integrate there, split at c.
    """

    def dens(t):
        return sum(wk * stats.norm.pdf(t, mk, sk) for wk, mk, sk in zip(w, m, s)) * stats.norm.pdf(est, t, se)

    lo, hi = est - 15 * se, est + 15 * se
    cut = min(max(c, lo), hi)
    pts = sorted({x for x in (est, *m) if lo < x < hi})

    def quad(f, a, b, epsabs=1e-300):
        if b <= a:
            return 0.0
        inner = [x for x in pts if a < x < b]
        return integrate.quad(f, a, b, points=inner or None, limit=400, epsabs=epsabs, epsrel=1e-11)[0]

    below, above = quad(dens, lo, cut), quad(dens, cut, hi)
    z = below + above
    tol = 1e-13 * z  # absolute tolerance for the first moment (it may integrate to ~0)
    mean = quad(lambda t: t * dens(t), lo, cut, tol) + quad(lambda t: t * dens(t), cut, hi, tol)
    return above / z, mean / z


def _analyse(est, se, prior):
    e = Estimate(np.array([est]), np.array([se]), np.array([np.inf]), np.array([True]))
    return bayes_normal(e, prior=prior)


@pytest.mark.parametrize(
    "est, se, prior",
    [
        (0.2, 0.064, ([1.0], [0.0], [0.11])),
        (-0.05, 0.1, ([1.0], [0.15], [0.1])),
        (0.25, 0.06, ([0.8, 0.2], [0.0, 0.0], [0.11, 0.5])),   # robust skeptical prior
        (0.6, 0.08, ([0.5, 0.3, 0.2], [0.1, 0.3, -0.2], [0.05, 0.2, 0.3])),
    ],
)
@pytest.mark.parametrize("c", [0.0, 0.182])
def test_posterior_probabilities_match_quadrature(est, se, prior, c):
    w, m, s = (np.asarray(x, dtype=float) for x in prior)
    r = _analyse(est, se, (w / w.sum(), m, s))
    p_ref, mean_ref = _brute(est, se, w / w.sum(), m, s, c)
    assert r.prob_greater(c)[0] == pytest.approx(p_ref, abs=1e-9)
    assert r.posterior_mean()[0] == pytest.approx(mean_ref, abs=1e-9)


@settings(max_examples=25)
@given(
    est=st.floats(-0.5, 0.8),
    se=st.floats(0.02, 0.3),
    w1=st.floats(0.05, 0.95),
    m0=st.floats(-0.3, 0.3),
    m1=st.floats(-0.3, 0.5),
    s0=st.floats(0.03, 0.4),
    s1=st.floats(0.03, 1.0),
)
def test_mixture_posterior_property(est, se, w1, m0, m1, s0, s1):
    w, m, s = np.array([1 - w1, w1]), np.array([m0, m1]), np.array([s0, s1])
    r = _analyse(est, se, (w, m, s))
    p_ref, mean_ref = _brute(est, se, w, m, s, 0.1)
    assert r.prob_greater(0.1)[0] == pytest.approx(p_ref, abs=1e-7)
    assert r.posterior_mean()[0] == pytest.approx(mean_ref, abs=1e-7)


def test_flat_prior_is_the_likelihood():
    r = _analyse(0.2, 0.07, None)
    assert r.prob_greater(0.182)[0] == pytest.approx(stats.norm.sf(0.182, 0.2, 0.07), abs=1e-14)


def test_vectorized_equals_scalar():
    rng = np.random.default_rng(0)
    est, se = rng.normal(0.1, 0.1, 50), rng.uniform(0.03, 0.2, 50)
    prior = (np.array([0.7, 0.3]), np.array([0.0, 0.2]), np.array([0.1, 0.4]))
    v = bayes_normal(Estimate(est, se, np.full(50, np.inf), np.ones(50, bool)), prior=prior).prob_greater(0.05)
    for i in (0, 17, 49):
        assert v[i] == _analyse(est[i], se[i], prior).prob_greater(0.05)[0]
