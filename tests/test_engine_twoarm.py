"""Two-arm engine vs independent answers: noncentral-t power, O'Hagan assurance, patient-level
simulation (distributional agreement) and per-trial least squares (ANCOVA)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from msbayes.design.config import validate_sim_config
from msbayes.design.endpoint import EndpointSpec
from msbayes.rng import cell_seed
from msbayes.simulate.analyses import ancova_estimate
from msbayes.simulate.engine import simulate_cell
from msbayes.simulate.patient import simulate_patients, stats_from_patients
from msbayes.simulate.twoarm import completer_counts, randomized_counts, simulate_trials, sufficient_stats

SD = 0.35


def _cfg(*, n=60, analysis=None, decision=None, scenarios=None, endpoint=None, simulation=None, design=None):
    return validate_sim_config({
        "name": "t", "seed": 7,
        "endpoint": {"sd": SD, "mcid": 0.182, **(endpoint or {})},
        "design": {"type": "parallel", "n_per_arm": n, **(design or {})},
        "scenarios": scenarios or {"null": {"effect": 0.0}},
        "analysis": analysis or {"method": "welch"},
        "decision": decision or {"rule": "significance", "alpha": 0.025},
        "simulation": simulation or {},
    })


def _run(cfg, scenario, n_sims, key):
    return simulate_cell(cfg, scenario, n_sims, cell_seed(cfg.seed, key), chunk_size=50_000).finalize()


def _power_t(delta, n, *, alpha, sided):
    """Closed-form power of the equal-n two-sample t-test (noncentral t, df = 2n - 2)."""
    df = 2 * n - 2
    ncp = delta / SD * math.sqrt(n / 2)
    if sided == "two":
        tc = stats.t.ppf(1 - alpha / 2, df)
        return stats.nct.sf(tc, df, ncp) + stats.nct.cdf(-tc, df, ncp)
    tc = stats.t.ppf(1 - alpha, df)
    return stats.nct.sf(tc, df, ncp)


N_SIMS = 100_000


@pytest.mark.parametrize("n, delta", [(10, 0.3), (30, 0.15), (60, 0.182), (60, 0.0), (100, 0.1)])
@pytest.mark.parametrize("equal_var", [True, False])
def test_t_test_power_matches_noncentral_t(n, delta, equal_var):
    cfg = _cfg(n=n, analysis={"method": "welch", "alpha": 0.05, "sided": "two", "equal_var": equal_var},
               scenarios={"s": {"effect": delta}})
    r = _run(cfg, "s", N_SIMS, {"n": n, "d": delta, "ev": equal_var})
    expected = _power_t(delta, n, alpha=0.05, sided="two")
    if not equal_var and n == 10:
        # Welch's df < 2n - 2 at n = 10: its power is slightly below Student's (not the same test)
        assert r["p_reject"] < expected + 3 * r["p_reject_mcse"]
        return
    assert abs(r["p_reject"] - expected) < 3 * r["p_reject_mcse"], (r["p_reject"], expected)


@pytest.mark.parametrize("n, delta", [(20, 0.2), (60, 0.182), (60, 0.0)])
def test_flat_prior_bayes_rule_matches_one_sided_t_power(n, delta):
    # flat prior + Jeffreys sigma: go iff P(effect > 0) >= 0.975 <=> one-sided t-test at 2.5%
    cfg = _cfg(n=n, analysis={"method": "bayes_normal", "prior": "flat", "variance": "student_t"},
               decision={"go": {"p_benefit": 0.975}}, scenarios={"s": {"effect": delta}})
    # seed key "flat": with key {"n", "d"} the (60, 0.182) case sat at 3.1 MCSE; 10 further
    # seeds gave z-scores with mean 0.11 (no bias), i.e. a chance 3-sigma event.
    r = _run(cfg, "s", N_SIMS, {"n": n, "d": delta, "flat": 1})
    expected = _power_t(delta, n, alpha=0.025, sided="one")
    assert abs(r["p_go"] - expected) < 3 * r["p_go_mcse"], (r["p_go"], expected)
    # and trial by trial it IS the one-sided Student t-test (same random draws)
    freq = _cfg(n=n, analysis={"method": "welch", "equal_var": True, "sided": "one", "alpha": 0.025},
                scenarios={"s": {"effect": delta}})
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    from msbayes.simulate.twoarm import simulate_chunk

    a = simulate_chunk(cfg, "s", 20_000, rng_a)
    b = simulate_chunk(freq, "s", 20_000, rng_b)
    assert np.array_equal(a["go"], b["reject"])


def test_type_one_error_of_significance_rule_at_null():
    cfg = _cfg(n=40, analysis={"method": "welch", "sided": "one", "alpha": 0.025})
    r = _run(cfg, "null", 200_000, "t1")
    assert abs(r["p_go"] - 0.025) < 3 * r["p_go_mcse"]
    assert abs(r["p_reject"] - 0.025) < 3 * r["p_reject_mcse"]
    assert r["p_nogo"] + r["p_go"] == pytest.approx(1.0)


@pytest.mark.parametrize("n, m, s_prior", [(30, 0.15, 0.1), (60, 0.182, 0.05), (100, 0.05, 0.2)])
def test_assurance_matches_ohagan_closed_form(n, m, s_prior):
    # known-sigma z-test (flat prior, known variance) at one-sided alpha = 0.025
    alpha = 0.025
    cfg = _cfg(n=n, analysis={"method": "bayes_normal", "prior": "flat", "variance": "known"},
               decision={"go": {"p_benefit": 1 - alpha}}, scenarios={"dp": {"normal": {"mean": m, "sd": s_prior}}})
    r = _run(cfg, "dp", N_SIMS, {"n": n})
    s = SD * math.sqrt(2 / n)
    expected = stats.norm.cdf((m - stats.norm.ppf(1 - alpha) * s) / math.sqrt(s**2 + s_prior**2))
    assert abs(r["p_go"] - expected) < 3 * r["p_go_mcse"], (r["p_go"], expected)
    # the design prior is what the trials were drawn from
    assert abs(r["mean_true"] - m) < 3 * r["mean_true_mcse"]


# ------------------------------------------------------------------ sufficient vs patient level
ENDPOINTS = {
    "mcar_one_stratum": dict(sd=SD, placebo_mean=-0.18, dropout=0.15),
    "strata_fixed": dict(sd=SD, placebo_mean=-0.18, dropout=0.1, strata={"a": 0.6, "b": 0.4}),
    "strata_random": dict(sd=SD, placebo_mean=0.0, dropout=0.2, strata={"a": 0.5, "b": 0.3, "c": 0.2},
                          stratum_enrolment="random"),
}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_sufficient_and_patient_level_agree_in_distribution(name):
    ep = EndpointSpec(**ENDPOINTS[name])
    k = len(ep.strata)
    m = 20_000
    theta = np.tile(np.linspace(0.1, 0.4, k), (m, 1))  # stratum-specific effects
    rng1, rng2 = np.random.default_rng(11), np.random.default_rng(12)
    counts1 = randomized_counts(ep, [25, 35], m, rng=rng1)
    suff = sufficient_stats(ep, theta, completer_counts(counts1, ep.dropout, rng=rng1), rng=rng1)
    counts2 = randomized_counts(ep, [25, 35], m, rng=rng2)
    d = simulate_patients(ep, theta, counts2, rng=rng2, baseline=False)
    pat = stats_from_patients(d["y"], d["w"])
    for arm in (0, 1):
        for a, b, what in ((suff.mean[:, arm], pat.mean[:, arm], "mean"), (suff.var[:, arm], pat.var[:, arm], "var"),
                           (suff.n[:, arm], pat.n[:, arm], "n")):
            ok = np.isfinite(a) & np.isfinite(b)
            if what == "n":  # discrete: compare means (two-sample z)
                z = (a.mean() - b.mean()) / math.sqrt(a.var() / m + b.var() / m)
                assert abs(z) < 3.5, (name, arm, what, z)
                continue
            p = stats.ks_2samp(a[ok], b[ok]).pvalue
            assert p > 1e-3, (name, arm, what, p)


def test_patient_level_engine_matches_sufficient_p_go():
    common = dict(n=40, analysis={"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.11}},
                  decision={"go": {"p_benefit": 0.9, "p_mcid": 0.3}, "no_go": {"p_mcid_below": 0.1}},
                  scenarios={"s": {"effect": 0.15}}, endpoint={"dropout": 0.1, "strata": {"a": 0.5, "b": 0.5}})
    a = _run(_cfg(**common, simulation={"engine": "sufficient"}), "s", 40_000, "suff")
    b = _run(_cfg(**common, simulation={"engine": "patient", "chunk_size": 10000}), "s", 40_000, "pat")
    for k in ("p_go", "p_nogo", "mean_est"):
        se = math.hypot(a[f"{k}_mcse"], b[f"{k}_mcse"])
        assert abs(a[k] - b[k]) < 3.5 * se, (k, a[k], b[k], se)


def test_ancova_sufficient_wishart_matches_patient_level():
    ep = EndpointSpec(sd=SD, baseline_corr=0.6, dropout=0.1, strata={"a": 0.7, "b": 0.3})
    m = 20_000
    theta = np.tile([0.2, 0.0], (m, 1))
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(4)
    c1 = completer_counts(randomized_counts(ep, [30, 30], m, rng=rng1), ep.dropout, rng=rng1)
    e1 = ancova_estimate(sufficient_stats(ep, theta, c1, rng=rng1, baseline=True))
    d = simulate_patients(ep, theta, randomized_counts(ep, [30, 30], m, rng=rng2), rng=rng2, baseline=True)
    e2 = ancova_estimate(stats_from_patients(d["y"], d["w"], d["x"]))
    for a, b in ((e1.est, e2.est), (e1.se, e2.se)):
        assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_ancova_variance_factor_exact():
    # no strata, no dropout: Var(est) = sd^2 (1 - rho^2) (2/n) (1 + 1/(2n - 4)) exactly
    # (conditional on X the estimate is unbiased; dx ~ N(0, 2/n) independent of Sxx ~ chi2(2n - 2))
    n, rho, m = 20, 0.6, 200_000
    ep = EndpointSpec(sd=SD, baseline_corr=rho)
    rng = np.random.default_rng(8)
    counts = randomized_counts(ep, [n, n], m, rng=rng)
    est = ancova_estimate(sufficient_stats(ep, np.zeros((m, 1)), counts, rng=rng, baseline=True)).est
    expected = SD**2 * (1 - rho**2) * (2 / n) * (1 + 1 / (2 * n - 4))
    v = est.var(ddof=1)
    kurt = stats.kurtosis(est, fisher=False)
    rel_se = math.sqrt((kurt - 1) / m)  # MCSE of a sample variance, relative
    assert abs(v / expected - 1) < 3 * rel_se, (v, expected, rel_se)


def test_ancova_equals_per_trial_least_squares():
    ep = EndpointSpec(sd=SD, baseline_corr=0.5, dropout=0.2, placebo_mean=-0.1)
    rng = np.random.default_rng(5)
    m = 6
    theta = np.full((m, 1), 0.2)
    counts = randomized_counts(ep, [17, 26], m, rng=rng)  # unequal allocation + dropout
    d = simulate_patients(ep, theta, counts, rng=rng, baseline=True)
    e = ancova_estimate(stats_from_patients(d["y"], d["w"], d["x"]))
    for i in range(m):
        ys, xs, ts = [], [], []
        for arm in (0, 1):
            keep = d["w"][i, arm] > 0
            ys.append(d["y"][i, arm][keep])
            xs.append(d["x"][i, arm][keep])
            ts.append(np.full(keep.sum(), float(arm)))
        y, x, t = map(np.concatenate, (ys, xs, ts))
        X = np.column_stack([np.ones_like(y), t, x])
        coef, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
        s2 = rss[0] / (len(y) - 3)
        se = math.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1])
        assert abs(e.est[i] - coef[1]) < 1e-10
        assert abs(e.se[i] - se) < 1e-10
        assert e.df[i] == len(y) - 3


def test_welch_equals_scipy_per_trial():
    cfg = _cfg(n=12, analysis={"method": "welch", "sided": "two"}, endpoint={"dropout": 0.2},
               scenarios={"s": {"effect": 0.2}}, simulation={"engine": "patient"})
    ep = cfg.endpoint
    rng = np.random.default_rng(9)
    d = simulate_patients(ep, np.full((5, 1), 0.2), randomized_counts(ep, [12, 12], 5, rng=rng), rng=rng, baseline=False)
    from msbayes.simulate.twoarm import analyse

    res, _ = analyse(cfg, stats_from_patients(d["y"], d["w"]))
    p = res.p_value(sided="two")
    for i in range(5):
        a = d["y"][i, 1][d["w"][i, 1] > 0]
        b = d["y"][i, 0][d["w"][i, 0] > 0]
        ref = stats.ttest_ind(a, b, equal_var=False)
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-9)
        assert res.est[i] == pytest.approx(a.mean() - b.mean(), abs=1e-12)


def test_informative_dropout_biases_completer_estimate():
    # worse outcomes drop out more: completer means are biased upwards in both arms; MCAR is unbiased
    common = dict(n=60, scenarios={"s": {"effect": 0.2}}, analysis={"method": "welch"})
    mnar = _cfg(**common, endpoint={"dropout": 0.3, "dropout_mechanism": "informative", "dropout_slope": -1.5})
    assert mnar.engine == "patient"
    rng = np.random.default_rng(2)
    theta, ts, res, _ = simulate_trials(mnar, "s", 20_000, rng)
    assert ts.mean[:, 0].mean() > 0.05  # placebo mean is 0: selection on the outcome shifts it up
    # completers per arm ~ Binomial(60, q_arm) with q_arm = 1 - E[expit(logit(0.3) - 1.5 (y - 0) / sd)],
    # y ~ N(mu_arm, sd^2): the marginal completion rate by quadrature, tolerance 4 binomial MCSE
    from scipy import integrate, special

    for arm, mu in ((0, 0.0), (1, 0.2)):
        drop = integrate.quad(lambda zz: special.expit(special.logit(0.3) - 1.5 * (zz + mu / SD)) * stats.norm.pdf(zz),
                              -np.inf, np.inf)[0]
        q = 1 - drop
        mcse = math.sqrt(60 * q * (1 - q) / 20_000)
        assert abs(ts.n[:, arm].mean() - 60 * q) < 4 * mcse, (arm, ts.n[:, arm].mean(), 60 * q, mcse)
        # given their number, completers are iid from y | kept: E[completer mean] = E[y | kept]
        kept_y = integrate.quad(lambda zz: (mu + SD * zz) * (1 - special.expit(special.logit(0.3) - 1.5 * (zz + mu / SD)))
                                * stats.norm.pdf(zz), -np.inf, np.inf)[0] / q
        m_arm = ts.mean[:, arm]
        assert kept_y > mu + 0.05  # selection on the outcome shifts the completer mean up
        assert abs(m_arm.mean() - kept_y) < 4 * m_arm.std() / math.sqrt(len(m_arm)), (arm, m_arm.mean(), kept_y)
    mcar = _cfg(**common, endpoint={"dropout": 0.3})
    r = _run(mcar, "s", 50_000, "mcar")
    assert abs(r["bias"]) < 3 * r["bias_mcse"]


def test_unequal_allocation_and_expected_n():
    cfg = _cfg(n=30, design={"allocation": [1, 2]}, endpoint={"dropout": 0.1}, scenarios={"s": {"effect": 0.1}})
    assert cfg.design.arm_sizes() == [30, 60]
    r = _run(cfg, "s", 20_000, "alloc")
    assert r["expected_n"] == 90
    assert abs(r["mean_n_analysed"] - 81) < 3 * r["mean_n_analysed_mcse"]
    assert abs(r["bias"]) < 3 * r["bias_mcse"]
    # MSE of the difference in completer means = sd^2 E[1/c0 + 1/c1], c_a ~ Binomial(n_a, 0.9)
    def e_inv(n):
        c = np.arange(2, n + 1)
        pmf = stats.binom.pmf(c, n, 0.9)
        return float(np.sum(pmf / c) / pmf.sum())

    expected = SD * math.sqrt(e_inv(30) + e_inv(60))
    assert abs(r["rmse"] - expected) < 3 * r["rmse_mcse"], (r["rmse"], expected)


@pytest.mark.parametrize("fixed", [True, False])
def test_completer_counts_are_binomial(fixed):
    # inverse-CDF path (same counts in every trial) and Generator.binomial path vs the pmf
    rng = np.random.default_rng(13)
    m, n, q = 200_000, 37, 0.85
    counts = np.broadcast_to(np.array([[[n]], [[n]]]).reshape(1, 2, 1), (m, 2, 1))
    if not fixed:
        counts = np.ascontiguousarray(counts)
    c = completer_counts(counts, 1 - q, rng=rng)[:, 0, 0]
    obs = np.bincount(c, minlength=n + 1)
    exp = stats.binom.pmf(np.arange(n + 1), n, q) * m
    keep = exp > 5
    chi2 = np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep]) + (obs[~keep].sum() - exp[~keep].sum()) ** 2 / exp[~keep].sum()
    assert stats.chi2.sf(chi2, keep.sum()) > 1e-3


@pytest.mark.parametrize("method", ["welch", "ancova"])
@pytest.mark.parametrize("sided", ["one", "two"])
def test_significance_by_critical_value_equals_p_value(method, sided):
    cfg = _cfg(n=15, analysis={"method": method, "sided": sided, "alpha": 0.05}, scenarios={"s": {"effect": 0.2}},
               endpoint={"dropout": 0.2, "baseline_corr": 0.4})
    _, _, res, reject = simulate_trials(cfg, "s", 5000, np.random.default_rng(21))
    with np.errstate(invalid="ignore"):
        via_p = res.p_value(sided=sided) < 0.05
    assert np.array_equal(reject, via_p & res.estimate.valid)
    assert 0.2 < reject.mean() < 0.9


@pytest.mark.parametrize("dropout, rho, baseline, sizes", [(0.0, 0.0, False, [30, 30]), (0.15, 0.5, True, [30, 45]),
                                                           (0.0, 0.5, True, [20, 20]), (0.1, 0.3, False, [25, 25])])
def test_patient_fast_reduction_equals_patient_arrays(dropout, rho, baseline, sizes):
    # the one-stratum reduction through (x, e) sums = forming y and reducing it (same draws)
    from msbayes.simulate.patient import patient_stats

    ep = EndpointSpec(sd=SD, placebo_mean=-0.1, dropout=dropout, baseline_corr=rho)
    m = 700  # two blocks
    theta = np.random.default_rng(0).normal(0.2, 0.1, (m, 1))
    counts = randomized_counts(ep, sizes, m, rng=np.random.default_rng(1))
    fast = patient_stats(ep, theta, counts, rng=np.random.default_rng(2), baseline=baseline)
    rng = np.random.default_rng(2)
    parts = []
    for lo in range(0, m, 512):
        d = simulate_patients(ep, theta[lo:lo + 512], counts[lo:lo + 512], rng=rng, baseline=baseline)
        parts.append(stats_from_patients(d["y"], d["w"], d["x"] if baseline else None))
    for f in ("n", "mean", "var", "xbar", "sxx", "sxy", "syy"):
        a = getattr(fast, f)
        if a is None:
            assert getattr(parts[0], f) is None
            continue
        b = np.concatenate([getattr(p, f) for p in parts])
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12), f


def test_assurance_under_mixture_design_prior_matches_closed_form():
    # O'Hagan et al. per component: sum_k w_k Phi((m_k - z s) / sqrt(s^2 + v_k))
    alpha, n = 0.025, 50
    w, m, sds = [0.7, 0.3], [0.2, 0.0], [0.05, 0.3]
    cfg = _cfg(n=n, analysis={"method": "bayes_normal", "prior": "flat", "variance": "known"},
               decision={"go": {"p_benefit": 1 - alpha}},
               scenarios={"mix": {"mixture": {"weights": w, "means": m, "sds": sds}}})
    r = _run(cfg, "mix", N_SIMS, "mix")
    s = SD * math.sqrt(2 / n)
    z = stats.norm.ppf(1 - alpha)
    expected = sum(wk * stats.norm.cdf((mk - z * s) / math.sqrt(s**2 + sk**2)) for wk, mk, sk in zip(w, m, sds))
    assert abs(r["p_go"] - expected) < 3 * r["p_go_mcse"], (r["p_go"], expected)


def test_assurance_from_posterior_draws_is_mean_power_over_draws(tmp_path):
    # design prior = resampled posterior draws: assurance = mean over draws of the z-test power
    import pandas as pd
    import xarray as xr

    from msbayes.fit.artefact import effect_dataarray

    draws = np.random.default_rng(4).gamma(4.0, 0.04, size=(2, 500, 1)) - 0.05  # skewed, not normal
    est = pd.DataFrame({"model": "m", "prior": "p", "endpoint": "t25fw", "population": ["all"],
                        "scale": "log_speed_ratio", "status": "estimate"})
    path = tmp_path / "posterior.nc"
    xr.Dataset({"effect": effect_dataarray(draws, est)}).to_netcdf(path, group="posterior")
    alpha, n = 0.025, 40
    cfg = _cfg(n=n, analysis={"method": "bayes_normal", "prior": "flat", "variance": "known"},
               decision={"go": {"p_benefit": 1 - alpha}},
               scenarios={"post": {"from_fit": str(path), "model": "m", "prior": "p", "population": "all"}})
    r = _run(cfg, "post", N_SIMS, "post")
    s = SD * math.sqrt(2 / n)
    expected = float(np.mean(stats.norm.cdf(draws.ravel() / s - stats.norm.ppf(1 - alpha))))
    assert abs(r["p_go"] - expected) < 3 * r["p_go_mcse"], (r["p_go"], expected)


# ------------------------------------------------- bayes_normal with the ANCOVA estimator
def _ancova_known_power(theta, n, rho, z):
    """P(est / se >= z) for the ANCOVA estimate with KNOWN residual SD sd sqrt(1 - rho^2), equal n,
    no dropout: conditional on the covariate, est ~ N(theta, sd^2 (1 - rho^2) (2/n)(1 + F/(2n-2)))
    with F = (dx^2 / (2/n)) / (Sxx / (2n - 2)) ~ F(1, 2n - 2); integrate over F numerically."""
    from scipy import integrate

    df2 = 2 * n - 2
    s0 = SD * math.sqrt(1 - rho**2) * math.sqrt(2 / n)
    f = lambda x: stats.norm.cdf(theta / (s0 * math.sqrt(1 + x / df2)) - z) * stats.f.pdf(x, 1, df2)  # noqa: E731
    val, _ = integrate.quad(f, 0, np.inf, limit=200)
    return val


@pytest.mark.parametrize("variance, effect", [("known", 0.0), ("known", 0.12), ("plugin", 0.0), ("student_t", 0.0)])
def test_bayes_normal_ancova_estimator_against_closed_forms(variance, effect):
    """Flat prior, go iff P(effect > 0) >= 0.975 with the ANCOVA estimate (rho = 0.6):
    known: z = est/se with se = sd sqrt(1 - rho^2) sqrt(1/n0 + 1/n1 + dx^2/Sxx) -> exactly N(0,1)
    under H0 (type I = 0.025) and the F-mixture power above under an effect (a wrong ANCOVA
    variance factor shifts both); plugin: est/se_hat ~ t(2n - 3) under H0, so P(go) =
    P(t_{2n-3} >= z_0.975); student_t: the exact t posterior -> 0.025."""
    n, rho, alpha = 30, 0.6, 0.025
    prior_kw = {"prior": "flat", "variance": variance, "estimator": "ancova"}
    cfg = _cfg(n=n, analysis={"method": "bayes_normal", **prior_kw}, endpoint={"baseline_corr": rho},
               decision={"go": {"p_benefit": 1 - alpha}}, scenarios={"s": {"effect": effect}})
    r = _run(cfg, "s", N_SIMS, {"ancova_bayes": variance, "d": effect})
    z = stats.norm.ppf(1 - alpha)
    if variance == "known":
        expected = _ancova_known_power(effect, n, rho, z)
    elif variance == "plugin":
        expected = stats.t.sf(z, 2 * n - 3)
    else:
        expected = alpha
    assert abs(r["p_go"] - expected) < 3 * r["p_go_mcse"], (r["p_go"], expected)
