"""Bayesian monitoring maths (msbayes.sequential.bayes) against independent answers.

* posterior probabilities: numerical quadrature of prior density x normal likelihood
  (scipy.integrate.quad), for normal, mixture and flat priors;
* success threshold: the quadrature posterior probability at ``t*`` equals ``p`` of the
  binding pair;
* predictive probability: a brute-force NESTED simulation: draw the effect from the current
  posterior (conjugate update written here, component by component), draw the future
  increment, update the current posterior SEQUENTIALLY with it (not the pooled estimate the
  code uses), apply the go rule; agreement within 3.5 binomial MCSE;
* limits: se_final -> se gives the current go indicator, se_final -> 0 gives
  P(effect > max c | current);
* calibration: the exact type I error (bivariate normal, Genz) of a two-look flat-prior
  monitoring rule at the calibrated threshold is within 3.5 MCSE of the target, the
  threshold matches Pocock's constant (Jennison & Turnbull 2000, Table 2.1: C_P(2) = 2.178),
  and the reported MCSE is the binomial one.
"""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest
from scipy import integrate, stats

from msbayes.design.prior import MixtureSpec, NormalSpec
from msbayes.sequential.bayes import (
    calibrate_sequential_threshold,
    posterior_prob_above,
    predictive_prob_success,
    success_threshold,
)

NORMAL = NS(mean=0.05, sd=0.11)
MIXTURE = NS(weights=[0.6, 0.4], means=[0.0, 0.25], sds=[0.05, 0.2])
DUAL = [(0.0, 0.975), (0.182, 0.5)]


def _comps(prior):
    if prior == "flat":
        return None
    if hasattr(prior, "weights"):
        return np.array(prior.weights, float), np.array(prior.means, float), np.array(prior.sds, float)
    return np.array([1.0]), np.array([prior.mean]), np.array([prior.sd])


def _quad_prob(est, se, prior, c):
    """P(effect > c | est) by quadrature of prior x likelihood (flat: likelihood alone)."""
    comps = _comps(prior)

    def npdf(x, m, s):
        return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2.0 * math.pi))

    def dens(x):
        lik = npdf(est, x, se)
        if comps is None:
            return lik
        w, m, s = comps
        return lik * sum(wk * npdf(x, mk, sk) for wk, mk, sk in zip(w, m, s))

    lo, hi = est - 12 * se - 3, est + 12 * se + 3
    pts = sorted({min(max(v, lo), hi) for v in [c, est] + ([] if comps is None else list(comps[1]))})
    num = integrate.quad(dens, c, hi, points=[p for p in pts if p > c] or None, limit=400, epsabs=0, epsrel=1e-11)[0]
    den = integrate.quad(dens, lo, hi, points=pts, limit=400, epsabs=0, epsrel=1e-11)[0]
    return num / den


# ------------------------------------------------------------------ posterior probability
@pytest.mark.parametrize("prior", [NORMAL, MIXTURE, "flat"], ids=["normal", "mixture", "flat"])
def test_posterior_prob_matches_quadrature(prior):
    est = np.array([-0.1, 0.0, 0.12, 0.3])
    se = np.array([0.06, 0.1, 0.05, 0.15])
    for c in (0.0, 0.182):
        got = posterior_prob_above(est, se, prior, c)
        want = [_quad_prob(e, s, prior, c) for e, s in zip(est, se)]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_posterior_prob_accepts_config_specs_and_broadcasts():
    est = np.linspace(-0.1, 0.3, 6)[:, None]
    se = np.array([0.05, 0.1])[None, :]
    p = posterior_prob_above(est, se, NormalSpec(mean=0.05, sd=0.11), 0.0)
    assert p.shape == (6, 2)
    np.testing.assert_allclose(p[2, 1], _quad_prob(float(est[2, 0]), 0.1, NORMAL, 0.0), atol=1e-8)
    mix = MixtureSpec(weights=[3.0, 2.0], means=[0.0, 0.25], sds=[0.05, 0.2])  # normalized by the spec
    np.testing.assert_allclose(posterior_prob_above(0.1, 0.07, mix, 0.1), _quad_prob(0.1, 0.07, MIXTURE, 0.1), atol=1e-8)
    assert np.isnan(posterior_prob_above(np.array([np.nan, 0.1]), 0.1, "flat", 0.0)[0])


# ------------------------------------------------------------------ success threshold
@pytest.mark.parametrize("prior", [NORMAL, MIXTURE, "flat"], ids=["normal", "mixture", "flat"])
def test_success_threshold_is_the_boundary(prior):
    for se_f in (0.03, 0.08):
        t = float(success_threshold(se_f, prior, go=DUAL))
        probs = [(_quad_prob(t, se_f, prior, c), p) for c, p in DUAL]
        assert all(q >= p - 1e-8 for q, p in probs)  # every pair met at t*
        assert min(q - p for q, p in probs) == pytest.approx(0.0, abs=1e-8)  # and one binds
        below = [_quad_prob(t - 1e-4, se_f, prior, c) for c, _ in DUAL]
        assert any(q < p for q, (_, p) in zip(below, DUAL))


def test_mixture_threshold_spline_matches_bisection():
    """Many distinct se_final values take the cached spline; single values take bisection."""
    rng = np.random.default_rng(5)
    sf = np.exp(rng.uniform(np.log(1e-3), np.log(1.0), 3000))
    many = success_threshold(sf, MIXTURE, go=DUAL)
    one = np.array([float(success_threshold(v, MIXTURE, go=DUAL)) for v in sf[:200]])
    np.testing.assert_allclose(many[:200], one, rtol=1e-9, atol=1e-12)
    # and the boundary property at a few of the spline values, by quadrature
    for v, t in zip(sf[:3], many[:3]):
        assert min(_quad_prob(t, v, MIXTURE, c) - p for c, p in DUAL) == pytest.approx(0.0, abs=1e-8)
    # NaN se_final (unanalysable trial) gives NaN, the rest unchanged
    sf2 = sf.copy()
    sf2[7] = np.nan
    t2 = success_threshold(sf2, MIXTURE, go=DUAL)
    assert np.isnan(t2[7]) and np.allclose(np.delete(t2, 7), np.delete(many, 7), rtol=1e-9)


# ------------------------------------------------------------------ predictive probability
def _update(w, m, s, y, v):
    """Conjugate update of mixture components (arrays (n, K)) with y ~ N(effect, v) (n,)."""
    y = y[:, None]
    tot = s * s + v
    lw = np.log(w) + stats.norm.logpdf(y, m, np.sqrt(tot))
    lw -= lw.max(axis=1, keepdims=True)
    w2 = np.exp(lw)
    w2 /= w2.sum(axis=1, keepdims=True)
    m2 = (m * v + y * s * s) / tot
    s2 = np.sqrt(s * s * v / tot)
    return w2, m2, s2


def _nested_pp(est, se, se_final, prior, go, n, rng):
    comps = _comps(prior)
    v_inc = 1.0 / (1.0 / se_final**2 - 1.0 / se**2)
    if comps is None:  # flat: current posterior N(est, se^2)
        w, m, s = np.ones((1, 1)), np.full((1, 1), est), np.full((1, 1), se)
    else:
        w, m, s = (a[None, :] for a in comps)
        w, m, s = _update(w, m, s, np.array([est]), se**2)
    k = rng.choice(w.shape[1], size=n, p=w[0])
    effect = rng.normal(m[0, k], s[0, k])
    inc = rng.normal(effect, math.sqrt(v_inc))
    W, M, S = (np.repeat(a, n, axis=0) for a in (w, m, s))
    W, M, S = _update(W, M, S, inc, v_inc)
    ok = np.ones(n, bool)
    for c, p in go:
        ok &= np.sum(W * stats.norm.sf(c, M, S), axis=1) >= p
    return ok.mean()


@pytest.mark.parametrize(
    "prior,go",
    [(NORMAL, DUAL), (MIXTURE, DUAL), ("flat", DUAL), (MIXTURE, [(0.0, 0.9)]), (NORMAL, [(0.1, 0.8)])],
    ids=["normal-dual", "mixture-dual", "flat-dual", "mixture-single", "normal-single"],
)
def test_predictive_matches_nested_simulation(prior, go):
    rng = np.random.default_rng(20261207)
    n = 40_000
    points = [(0.05, 0.1, 0.06), (0.15, 0.09, 0.05), (0.25, 0.12, 0.07), (0.1, 0.07, 0.03)]
    est = np.array([p[0] for p in points])
    se = np.array([p[1] for p in points])
    sf = np.array([p[2] for p in points])
    got = predictive_prob_success(est, se, sf, prior, go=go)
    for g, (e, s, f) in zip(got, points):
        want = _nested_pp(e, s, f, prior, go, n, rng)
        mcse = math.sqrt(max(g * (1 - g), 1e-4) / n)
        assert abs(g - want) < 3.5 * mcse, (e, s, f, g, want)


def test_predictive_points_are_informative():
    # the nested-simulation points are not all near 0 or 1 (else the comparison could not fail)
    got = predictive_prob_success(np.array([0.05, 0.15, 0.25]), np.array([0.1, 0.09, 0.12]),
                                  np.array([0.06, 0.05, 0.07]), MIXTURE, go=DUAL)
    assert np.sum((got > 0.05) & (got < 0.95)) >= 2


@pytest.mark.parametrize("prior", [NORMAL, MIXTURE, "flat"], ids=["normal", "mixture", "flat"])
def test_predictive_limits(prior):
    est = np.array([-0.05, 0.1, 0.2, 0.35])
    se = 0.08
    # se_final -> se: the indicator of the current go
    pp = predictive_prob_success(est, se, se * (1 - 1e-9), prior, go=DUAL)
    q = {c: np.array([_quad_prob(e, se, prior, c) for e in est]) for c, _ in DUAL}
    cur = np.all([q[c] >= p for c, p in DUAL], axis=0)
    assert min(np.min(np.abs(q[c] - p)) for c, p in DUAL) > 1e-3  # the points are not on the current boundary
    assert 0 < cur.sum() < cur.size
    np.testing.assert_allclose(pp, cur.astype(float), atol=1e-6)
    # se_final -> 0: P(effect > max c | current)
    pp0 = predictive_prob_success(est, se, 1e-7, prior, go=DUAL)
    np.testing.assert_allclose(pp0, q[0.182], atol=1e-4)


def test_predictive_is_vectorized_and_broadcasts():
    est = np.linspace(-0.1, 0.4, 2001)
    pp = predictive_prob_success(est, 0.1, 0.06, MIXTURE, go=DUAL)
    assert pp.shape == est.shape
    assert np.all(np.diff(pp) >= -1e-12)  # increasing in the interim estimate
    one = np.array([predictive_prob_success(e, 0.1, 0.06, MIXTURE, go=DUAL) for e in est[::400]])
    np.testing.assert_allclose(pp[::400], one, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ calibration
def test_calibration_two_look_pocock():
    """Flat prior, two equally spaced looks: P_k = Phi(Z_k); stop iff max P_k >= u."""
    rng = np.random.default_rng(7)
    n = 200_000
    z1 = rng.standard_normal(n)
    z2 = (z1 + rng.standard_normal(n)) / math.sqrt(2.0)  # corr sqrt(1/2)
    se1, se2 = 0.1, 0.1 / math.sqrt(2.0)
    p1 = posterior_prob_above(z1 * se1, se1, "flat", 0.0)
    p2 = posterior_prob_above(z2 * se2, se2, "flat", 0.0)
    r = calibrate_sequential_threshold(np.maximum(p1, p2), target=0.025)
    assert r.type1 <= 0.025
    assert r.type1_mcse == pytest.approx(math.sqrt(r.type1 * (1 - r.type1) / n), rel=1e-12)
    zc = stats.norm.ppf(r.threshold)
    cov = np.array([[1.0, math.sqrt(0.5)], [math.sqrt(0.5), 1.0]])
    exact = 1.0 - stats.multivariate_normal(mean=[0, 0], cov=cov).cdf([zc, zc])
    mcse = math.sqrt(0.025 * 0.975 / n)
    assert abs(exact - 0.025) < 3.5 * mcse + 1e-4  # + Genz integration error
    # Pocock's constant C_P(2) = 2.178: d alpha / dz ~ 0.06 here, so 3.5 MCSE ~ 0.02 in z
    assert zc == pytest.approx(2.178, abs=3.5 * mcse / 0.06 + 5e-4)


def test_calibration_on_uniform_statistics():
    u = np.random.default_rng(3).random(50_000)
    r = calibrate_sequential_threshold(u, target=0.05)
    assert r.type1 <= 0.05 and r.n_sims == 50_000
    assert np.mean(u >= r.threshold) == pytest.approx(r.type1, abs=0)
    assert r.type1_mcse == pytest.approx(math.sqrt(r.type1 * (1 - r.type1) / 50_000), rel=1e-12)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(se_final=0.1), "se_final"),
        (dict(se_final=0.2), "se_final"),
        (dict(go=[(0.0, 1.0)]), r"go\[0\]\.p"),
        (dict(go=[(0.0, 0.9), (0.1, 0.0)]), r"go\[1\]\.p"),
        (dict(go=[]), "go"),
        (dict(prior=NS(weights=[0.5, 0.4], means=[0, 1], sds=[1, 1])), "prior.weights"),
        (dict(prior=NS(weights=[0.5, 0.5], means=[0, 1], sds=[1, 0])), "prior.sds"),
        (dict(prior="jeffreys"), "prior"),
        (dict(se=-0.1), "se"),
    ],
)
def test_bad_input_is_refused(kwargs, field):
    args = dict(est=0.1, se=0.1, se_final=0.05, prior="flat", go=DUAL) | kwargs
    with pytest.raises(ValueError, match=field):
        predictive_prob_success(args.pop("est"), args.pop("se"), args.pop("se_final"), args.pop("prior"), go=args["go"])


def test_bad_input_posterior_and_calibration():
    with pytest.raises(ValueError, match="prior.weights"):
        posterior_prob_above(0.1, 0.1, NS(weights=[0.7, 0.7], means=[0, 1], sds=[1, 1]), 0.0)
    with pytest.raises(ValueError, match="target"):
        calibrate_sequential_threshold(np.random.default_rng(0).random(10), target=1.0)
    with pytest.raises(ValueError, match="stat_max"):
        calibrate_sequential_threshold(np.zeros((2, 2)), target=0.1)


def test_docstring_examples():
    import doctest

    import msbayes.sequential.bayes as mod

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted >= 8


# ------------------------------------------------------------------ config-level calibration
def _two_look_cfg():
    from msbayes.design.config import validate_sim_config

    return validate_sim_config({
        "name": "cal", "seed": 3, "endpoint": {"sd": 0.35, "mcid": 0.18},
        "design": {"type": "parallel", "n_per_arm": 60}, "scenarios": {"null": {"effect": 0.0}},
        "analysis": {"method": "bayes_normal", "prior": "flat", "variance": "known"},
        "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.0}},
        "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.999}},
        "simulation": {"chunk_size": 20_000}})


def test_calibrate_interim_efficacy_exact_two_looks():
    """Flat prior, known SD: P_1 = Phi(Z_1) at half information, final go iff Z_2 >= z_0.975,
    corr(Z_1, Z_2) = sqrt(1/2): type I error(u) = 1 - Phi_2(Phi^-1(u), z_0.975) exactly."""
    from msbayes.sequential.bayes import calibrate_interim_efficacy

    cfg = _two_look_cfg()
    n = 40_000
    r = calibrate_interim_efficacy(cfg, scenario="null", target=0.035, n_sims=n, seed=11, tol=1e-6)
    assert r.type1 <= 0.035 and r.n_sims == n
    assert r.type1_mcse == pytest.approx(math.sqrt(r.type1 * (1 - r.type1) / n), rel=1e-12)
    cov = np.array([[1.0, math.sqrt(0.5)], [math.sqrt(0.5), 1.0]])
    mvn = stats.multivariate_normal(mean=[0, 0], cov=cov)
    exact = 1.0 - mvn.cdf([stats.norm.ppf(r.threshold), stats.norm.ppf(0.975)])
    assert abs(exact - 0.035) < 3.5 * math.sqrt(0.035 * 0.965 / n) + 1e-4
    with pytest.raises(ValueError, match="target"):
        calibrate_interim_efficacy(cfg, scenario="null", target=0.02, n_sims=2_000, seed=1)
    with pytest.raises(ValueError, match="scenario"):
        calibrate_interim_efficacy(cfg, scenario="alt", target=0.03, n_sims=2_000)
