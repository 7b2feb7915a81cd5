"""Combination tests and closed testing (msbayes.adaptive.combination) against independent answers.

Independent references:
* closed forms (inverse normal of two p-values; Fisher's bound exp(-chi2_4(1 - alpha) / 2) for
  equal weights; the Fisher level integral checked by Monte Carlo for unequal weights);
* Dunnett / Spiessens-Debois intersection p-values against brute-force Monte Carlo of the
  maximum of correlated normals (Cholesky factor of the full correlation matrix, within 4 MCSE)
  and against Genz's algorithm (scipy ``multivariate_normal.cdf``);
* Bonferroni / Simes / Sidak and the closure principle against a per-trial loop written from
  the textbook definitions (every subset enumerated with itertools, no shared code);
* rpact ``getClosedCombinationTestResults`` on a fixed multi-arm data set (``r_peer``).
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from msbayes.adaptive.combination import (
    closed_test,
    combine,
    fisher_design,
    intersection_members,
    intersection_pvalues,
    inverse_normal_design,
    max_normal_sf,
)


def test_inverse_normal_closed_form():
    d = inverse_normal_design(information_rates=(0.3, 1.0))
    assert d.weights[0] ** 2 + d.weights[1] ** 2 == pytest.approx(1.0, abs=1e-14)
    p1, p2 = np.array([0.2, 0.01]), np.array([0.03, 0.5])
    expect = np.sqrt(0.3) * stats.norm.isf(p1) + np.sqrt(0.7) * stats.norm.isf(p2)
    np.testing.assert_allclose(combine(p1, p2, d), expect, rtol=1e-12)
    assert d.critical_values[1] == pytest.approx(stats.norm.isf(0.025), abs=1e-12)
    assert np.isinf(d.critical_values[0])


def test_inverse_normal_level_is_alpha_by_simulation():
    rng = np.random.default_rng(7)
    d = inverse_normal_design(information_rates=(0.4, 1.0), early_efficacy="obf")
    n = 400_000
    p1, p2 = rng.random(n), rng.random(n)
    rej = (stats.norm.isf(p1) >= d.critical_values[0]) | (combine(p1, p2, d) >= d.critical_values[1])
    se = np.sqrt(0.025 * 0.975 / n)
    assert abs(rej.mean() - 0.025) < 4 * se


def test_fisher_bound_equal_weights_closed_form_and_unequal_by_simulation():
    d = fisher_design(alpha=0.025)
    assert d.critical_values[1] == pytest.approx(np.exp(-stats.chi2.isf(0.025, 4) / 2), rel=1e-10)
    d2 = fisher_design(alpha=0.025, information_rates=(0.3, 1.0))
    rng = np.random.default_rng(11)
    n = 400_000
    stat = combine(rng.random(n), rng.random(n), d2)
    se = np.sqrt(0.025 * 0.975 / n)
    assert abs((stat <= d2.critical_values[1]).mean() - 0.025) < 4 * se


def test_obf_critical_values_match_wang_tsiatis():
    # classical O'Brien-Fleming, two looks at t = 0.5, 1: c2 = C, c1 = C sqrt(2) (J&T Table 2.3: C = 1.977)
    d = inverse_normal_design(information_rates=(0.5, 1.0), early_efficacy="obf")
    assert d.critical_values[1] == pytest.approx(1.977, abs=6e-4)
    assert d.critical_values[0] == pytest.approx(d.critical_values[1] * np.sqrt(2), rel=1e-8)


def _mc_max_sf(z, corr, n, rng):
    L = np.linalg.cholesky(corr)
    x = rng.standard_normal((n, corr.shape[0])) @ L.T
    hit = x.max(axis=1) >= z
    return hit.mean(), np.sqrt(hit.mean() * (1 - hit.mean()) / n)


@pytest.mark.parametrize("lam,z", [((0.70710678, 0.70710678, 0.70710678), 2.1),
                                   ((0.8, 0.5, 0.6, 0.3), 2.4),
                                   ((0.5773, 0.5773), 1.5),
                                   ((0.9, 0.9), 2.8)])
def test_max_normal_sf_against_monte_carlo_and_genz(lam, z):
    lam = np.asarray(lam)
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    got = float(max_normal_sf(z, lam))
    mc, se = _mc_max_sf(z, corr, 400_000, np.random.default_rng(3))
    assert abs(got - mc) < 4 * se
    genz = 1 - stats.multivariate_normal(np.zeros(len(lam)), corr).cdf(np.full(len(lam), z))
    assert abs(got - genz) < 2e-5  # Genz's QMC error in scipy is about 1e-5


def test_dunnett_pvalues_two_members_exact_and_many_members():
    # two members: Owen's T path vs Genz; three members (unequal allocation): quadrature vs Genz
    rng = np.random.default_rng(5)
    M = intersection_members(3)
    z = rng.normal(1.0, 1.0, size=(6, 3))
    lam = np.array([0.6, 0.7, 0.5])
    q = intersection_pvalues(stats.norm.sf(z), M, "dunnett", z=z, loadings=lam)
    for i in range(z.shape[0]):
        for h, row in enumerate(M):
            idx = np.flatnonzero(row)
            if len(idx) == 1:
                ref = stats.norm.sf(z[i, idx[0]])
            else:
                c = np.outer(lam[idx], lam[idx])
                np.fill_diagonal(c, 1)
                ref = 1 - stats.multivariate_normal(np.zeros(len(idx)), c).cdf(np.full(len(idx), z[i, idx].max()))
            assert abs(q[i, h] - ref) < 2e-5, (i, h, q[i, h], ref)


def _textbook_pvalue(p, method):
    p = [x for x in p if not np.isnan(x)]
    k = len(p)
    if k == 0:
        return np.nan
    if method == "bonferroni":
        return min(1.0, k * min(p))
    if method == "sidak":
        return 1 - (1 - min(p)) ** k
    s = sorted(p)
    return min(k * s[j] / (j + 1) for j in range(k))


@pytest.mark.parametrize("method", ["bonferroni", "simes", "sidak"])
def test_intersection_pvalues_and_closure_against_textbook_loop(method):
    rng = np.random.default_rng(17)
    m, n = 3, 300
    p1 = rng.beta(0.5, 3, size=(n, m))
    p2 = rng.beta(0.5, 3, size=(n, m))
    p2[rng.random((n, m)) < 0.4] = np.nan  # dropped at the interim
    M = intersection_members(m)
    d = inverse_normal_design(information_rates=(0.5, 1.0))
    q1 = intersection_pvalues(p1, M, method)
    q2 = intersection_pvalues(p2, M, method)
    res = closed_test(q1, q2, M, d)
    c = stats.norm.isf(0.025)
    for i in range(n):
        rej_I = {}
        for r in range(1, m + 1):
            for sub in itertools.combinations(range(m), r):
                a = _textbook_pvalue(p1[i, list(sub)], method)
                b = _textbook_pvalue(p2[i, list(sub)], method)
                rej_I[sub] = (not np.isnan(b)) and (stats.norm.isf(a) + stats.norm.isf(b)) / np.sqrt(2) >= c
        for j in range(m):
            expect = (not np.isnan(p2[i, j])) and all(v for s, v in rej_I.items() if j in s)
            assert res.rejected[i, j] == expect, (i, j)
    # the intersection p-values themselves
    for i in range(20):
        for h, row in enumerate(M):
            assert q2[i, h] == pytest.approx(_textbook_pvalue(p2[i, row], method), nan_ok=True, abs=1e-14)


def test_early_efficacy_rejections_carry_over():
    d = inverse_normal_design(information_rates=(0.5, 1.0), early_efficacy="obf")
    M = intersection_members(2)
    p1 = np.array([[1e-5, 1e-4], [1e-5, 0.4]])
    p2 = np.array([[np.nan, np.nan], [0.5, np.nan]])
    q1, q2 = intersection_pvalues(p1, M, "bonferroni"), intersection_pvalues(p2, M, "bonferroni")
    res = closed_test(q1, q2, M, d, success="all")
    # trial 0: both rejected at stage 1 (z(2e-5) = 4.1 > 2.797) -> early stop
    assert res.stopped_early.tolist() == [True, False]
    assert res.rejected[0].tolist() == [True, True]
    # trial 1: H1 rejected at stage 1 (global p 2e-5 and p1 1e-5), H2 not -> continues; H1 stays rejected
    assert res.rejected[1].tolist() == [True, False]


# ------------------------------------------------------------------ rpact on fixed data
def _r(code):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        if "there is no package" in out.stderr or "is needed for this function" in out.stderr:
            pytest.skip("rpact / mnormt not installed")
        raise AssertionError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _arr(x):
    """R JSON (NA as the string "NA" or null) to a float array."""
    a = np.array(x, dtype=object)
    return np.vectorize(lambda v: np.nan if v in ("NA", None) else float(v), otypes=[float])(a)


@pytest.mark.r_peer
@pytest.mark.parametrize("test", ["Bonferroni", "Simes", "Sidak", "Dunnett"])
def test_closed_test_matches_rpact_on_fixed_multiarm_data(test):
    """Three doses vs control; dose 1 dropped at the interim; normal approximation so rpact's
    stage-wise statistics are z statistics with the (given) pooled SD."""
    code = (
        "suppressMessages({library(rpact); library(jsonlite)});"
        "d <- getDesignInverseNormal(kMax=2, typeOfDesign='noEarlyEfficacy');"
        "ds <- getDataset(n1=c(40, NA), n2=c(40, 40), n3=c(40, 40), n4=c(40, 40),"
        " means1=c(0.05, NA), means2=c(0.14, 0.12), means3=c(0.20, 0.16), means4=c(0, 0.02),"
        " stDevs1=c(0.35, NA), stDevs2=c(0.35, 0.35), stDevs3=c(0.35, 0.35), stDevs4=c(0.35, 0.35));"
        "sr <- getStageResults(d, ds, normalApproximation=TRUE, varianceOption='overallPooled',"
        f" intersectionTest='{test}');"
        f"ct <- getClosedCombinationTestResults(sr);"
        "cat(toJSON(list(z=sr$testStatistics, p=sr$separatePValues, q=ct$adjustedStageWisePValues,"
        " ind=ct$indices, rej=ct$rejected, stat=ct$overallAdjustedTestStatistics), digits=NA))"
    )
    r = _r(code)
    z = _arr(r["z"])  # arms x stages
    p = _arr(r["p"])
    ind = np.array(r["ind"], dtype=bool)
    np.testing.assert_allclose(p[~np.isnan(z)], stats.norm.sf(z[~np.isnan(z)]), atol=1e-12)
    M = intersection_members(3)
    # rpact's analysis lists the intersections in another order: map its rows onto ours
    order = [int(np.flatnonzero(np.all(M == row, axis=1))[0]) for row in ind]
    assert sorted(order) == list(range(7))
    method = test.lower()
    kw = lambda k: dict(z=z[None, :, k], loadings=np.full((1, 3), np.sqrt(0.5))) if method == "dunnett" else {}
    q = [intersection_pvalues(p[None, :, k], M, method, **kw(k))[0] for k in range(2)]
    q_r = _arr(r["q"])  # intersections x stages
    for k in range(2):
        ok = ~np.isnan(q_r[:, k])
        mine = q[k][order]
        np.testing.assert_allclose(mine[ok], q_r[ok, k], atol=2e-5 if method == "dunnett" else 1e-12)
        assert np.all(np.isnan(mine[~ok]))
    d = inverse_normal_design()
    res = closed_test(q[0][None], q[1][None], M, d)
    rej_r = np.array(r["rej"], dtype=bool)[:, 1]  # arms at stage 2
    np.testing.assert_array_equal(res.rejected[0], rej_r)


def test_k_stage_closed_test_reduces_to_two_stages():
    from msbayes.adaptive import closed_test_k, inverse_normal_design_k

    rng = np.random.default_rng(21)
    n, m = 500, 3
    M = intersection_members(m)
    p1 = rng.beta(0.4, 3, (n, m))
    p2 = rng.beta(0.4, 3, (n, m))
    p2[rng.random((n, m)) < 0.4] = np.nan
    for ee in ("none", "obf"):
        d2 = inverse_normal_design(information_rates=(0.4, 1.0), early_efficacy=ee)
        dk = inverse_normal_design_k([0.4, 1.0], early_efficacy=ee)
        q1, q2 = intersection_pvalues(p1, M, "simes"), intersection_pvalues(p2, M, "simes")
        rk, _ = closed_test_k(np.stack([q1, q2], axis=-1), M, dk,
                              selected=np.stack([np.ones((n, m), bool), ~np.isnan(p2)], axis=-1))
        r2 = closed_test(q1, q2, M, d2, success="at_least_one")
        # without stopping, stage-2 rejections of the K-stage test include those of stopped trials
        keep = ~r2.stopped_early
        np.testing.assert_array_equal(rk[keep, :, 1], r2.rejected[keep])
        np.testing.assert_array_equal(rk[:, :, 0], r2.rejected_stage1)


@pytest.mark.r_peer
def test_three_stage_closed_test_matches_rpact_on_fixed_data():
    """Three doses; dose 1 dropped after stage 1, dose 2 after stage 2; OBF bounds; Dunnett."""
    from msbayes.adaptive import closed_test_k, inverse_normal_design_k

    code = (
        "suppressMessages({library(rpact); library(jsonlite)});"
        "d <- getDesignInverseNormal(kMax=3, typeOfDesign='OF');"
        "ds <- getDataset(n1=c(30, NA, NA), n2=c(30, 30, NA), n3=c(30, 30, 30), n4=c(30, 30, 30),"
        " means1=c(0.05, NA, NA), means2=c(0.15, 0.12, NA), means3=c(0.2, 0.18, 0.16), means4=c(0, 0.01, -0.02),"
        " stDevs1=c(0.35, NA, NA), stDevs2=c(0.35, 0.35, NA), stDevs3=c(0.35, 0.35, 0.35), stDevs4=c(0.35, 0.35, 0.35));"
        "sr <- getStageResults(d, ds, normalApproximation=TRUE, intersectionTest='Dunnett');"
        "ct <- getClosedCombinationTestResults(sr);"
        "cat(toJSON(list(z=sr$testStatistics, ind=ct$indices, rej=ct$rejected,"
        " stat=ct$overallAdjustedTestStatistics, c=d$criticalValues), digits=NA))"
    )
    r = _r(code)
    z = _arr(r["z"])  # arms x stages
    ind = np.array(r["ind"], dtype=bool)
    M = intersection_members(3)
    order = [int(np.flatnonzero(np.all(M == row, axis=1))[0]) for row in ind]
    d = inverse_normal_design_k([1 / 3, 2 / 3, 1], early_efficacy="obf")
    np.testing.assert_allclose(d.critical_values, r["c"], atol=1e-4)
    lam = np.full((1, 3), np.sqrt(0.5))
    q = np.stack([intersection_pvalues(stats.norm.sf(z[None, :, k]), M, "dunnett", z=z[None, :, k], loadings=lam)[0]
                  for k in range(3)], axis=-1)[None]
    rej, comb = closed_test_k(q, M, d)
    stat_r = _arr(r["stat"])  # intersections x stages
    ok = ~np.isnan(stat_r)
    np.testing.assert_allclose(comb[0][order][ok], stat_r[ok], atol=1e-4)
    np.testing.assert_array_equal(rej[0], np.array(r["rej"], dtype=bool))
