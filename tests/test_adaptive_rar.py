"""Response-adaptive randomisation (msbayes.adaptive.rar) against independent answers.

* P(best) and the block allocation against brute-force posterior sampling (prior draws weighted
  by the likelihood, argmax counted; no conjugacy used), within 4 MCSE, and the tempering /
  floor / control share coded again from their definitions;
* RAR switched off reproduces the fixed design exactly: deterministic counts and, per dose,
  the closed-form power of the one-sided z test at alpha / G (4 MCSE);
* P(best) restricted to the active arms and P(all arms within a margin) against brute-force
  sampling of independent normal posteriors (4 MCSE); "match" / "thompson" control allocation
  re-coded from their definitions;
* stopping probabilities at the first look of a two-arm trial (superiority, futility,
  inferiority, equivalence; control and best comparison) against their closed forms in the
  difference of the arm means (4 MCSE);
* IDP 100 / 0 / a hand-computed middle case; RMSE and bias of the selected arm's estimate and
  the achieved allocation of a fixed design against their closed forms; selection strategies
  on hand-made trials;
* calibration: the "path does not depend on u before the first superiority decision" identity
  (same seed) and the attained type I error on fresh trials <= target within 3 MCSE;
* bad input refused naming the argument.

adaptr (R) is not packaged in Debian, so there is no R side-by-side for this module.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scipy import optimize

from msbayes.adaptive.rar import (
    EQUIVALENCE,
    FUTILITY,
    MAX,
    SUPERIORITY,
    RARResult,
    allocation_probabilities,
    calibrate_superiority,
    ideal_design_percentage,
    prob_all_within,
    prob_best,
    rar_allocation,
    simulate_rar,
)

SD = 0.35


@pytest.mark.parametrize("case", [
    (np.array([1.0, 3.0, 5.0]), np.array([10.0, 12.0, 15.0])),
    (np.array([2.0, 2.2, -0.5, 0.4]), np.array([5.0, 6.0, 4.0, 3.0])),
])
def test_allocation_against_brute_force_posterior_sampling(case):
    sums, n = case
    G = len(n)
    prior_mean, prior_sd, power, floor, c0 = 0.0, 0.5, 0.7, 0.08, 0.2
    got = rar_allocation(sums[None], n[None], sd=SD, prior_mean=prior_mean, prior_sd=prior_sd, power=power,
                         min_allocation=floor, control_share=c0)[0]
    rng = np.random.default_rng(8)
    k = 2_000_000
    th = rng.normal(prior_mean, prior_sd, (k, G))
    # likelihood of the arm sums: sum_g ~ N(n_g theta_g, n_g sd^2)
    logw = (-0.5 * (sums - n * th) ** 2 / (n * SD**2)).sum(axis=1)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = 1 / (w**2).sum()
    best = np.argmax(th, axis=1)
    pb_bf = np.array([w[best == g].sum() for g in range(G)])
    pb = prob_best(*_conj(sums, n, prior_mean, prior_sd))[0]
    assert np.all(np.abs(pb - pb_bf) <= 4 * np.sqrt(pb_bf * (1 - pb_bf) / ess) + 1e-4), (pb, pb_bf, ess)
    # the allocation rule coded again from its definition, applied to P(best)
    raw = pb**power / (pb**power).sum() * (1 - c0)
    lam = 0.0
    eq = (1 - c0) / G
    for g in range(G):
        if raw[g] < floor:
            lam = max(lam, (floor - raw[g]) / (eq - raw[g]))
    ref = np.concatenate([[c0], (1 - lam) * raw + lam * eq])
    assert got[0] == pytest.approx(c0)
    assert got.sum() == pytest.approx(1.0)
    assert np.all(got[1:] >= floor - 1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    assert lam > 0 or np.all(raw >= floor)


def _conj(sums, n, m0, s0):
    prec = 1 / s0**2 + n / SD**2
    return ((m0 / s0**2 + sums / SD**2) / prec)[None], (1 / np.sqrt(prec))[None]


def test_rar_off_reproduces_the_fixed_design():
    n_sims = 40_000
    eff = np.array([0.0, 0.1, 0.2])
    r = simulate_rar(eff, block_sizes=(40, 40, 40, 40), control_share=0.25, adaptive=False, n_sims=n_sims, seed=3)
    np.testing.assert_array_equal(r.n_arm, np.tile([40.0, 40.0, 40.0, 40.0], (n_sims, 1)))
    assert np.all(r.allocations == [0.25, 0.25, 0.25, 0.25])
    c = stats.norm.isf(0.025 / 3)
    se = SD * np.sqrt(2 / 40)
    for g in range(3):
        power = stats.norm.sf(c - eff[g] / se)
        got = r.rejected[:, g].mean()
        assert abs(got - power) < 4 * np.sqrt(power * (1 - power) / n_sims) + 1e-9, (g, got, power)


def test_rar_moves_patients_to_the_best_dose_and_respects_the_floor():
    r = simulate_rar([0.0, 0.0, 0.3], block_sizes=(40, 40, 40), min_allocation=0.1, n_sims=2000, seed=4)
    assert r.oc()["expected_n_3"][0] > r.oc()["expected_n_1"][0] + 10
    assert np.all(r.allocations[:, :, 1:] >= 0.1 - 1e-12)
    np.testing.assert_allclose(r.allocations[:, :, 0], 0.25)


@pytest.mark.parametrize("kw,word", [
    (dict(min_allocation=0.3), "min_allocation"),
    (dict(control_share=1.2), "control_share"),
    (dict(power=-1.0), "power"),
    (dict(block_sizes=(10, 0)), "block_sizes"),
    (dict(adaptive=False, block_sizes=(10, 10)), "block_sizes"),
    (dict(control_allocation="thompson", min_allocation=0.3), "min_allocation"),
    (dict(control_share=0.0), "control_share"),
    (dict(superiority=1.0), "superiority"),
    (dict(inferiority=0.0), "inferiority"),
    (dict(futility_prob=1.5), "futility_prob"),
    (dict(equivalence_prob=-0.1, equivalence_diff=0.1), "equivalence_prob"),
    (dict(equivalence_prob=0.9), "equivalence_diff"),
    (dict(superiority=0.2, inferiority=0.3), "inferiority"),
    (dict(looks=(40, 80, 80)), "looks"),
    (dict(looks=(40, 30)), "looks"),
    (dict(comparison="best", futility_prob=0.1), "futility_prob"),
    (dict(control_allocation="fancy"), "control_allocation"),
    (dict(comparison="pairwise"), "comparison"),
])
def test_bad_input_is_refused_naming_the_argument(kw, word):
    with pytest.raises(ValueError, match=word):
        simulate_rar([0.0, 0.1, 0.2], n_sims=10, **kw)


def test_bad_effects_refused():
    with pytest.raises(ValueError, match="effects"):
        simulate_rar([0.1, np.nan], n_sims=10)
    with pytest.raises(ValueError, match="effects"):
        simulate_rar([], n_sims=10)


def test_select_strategy_refused_naming_the_argument():
    r = simulate_rar([0.0, 0.1], n_sims=20, seed=1)
    with pytest.raises(ValueError, match="select_strategy"):
        r.performance(select_strategy="first")
    with pytest.raises(ValueError, match="select_preferences"):
        r.performance(select_strategy="list", select_preferences=[5])
    with pytest.raises(ValueError, match="target"):
        calibrate_superiority(2, target=1.2, n_sims=10)


def _brute_normals(mean, sd, k=1_000_000, seed=11):
    return np.random.default_rng(seed).normal(mean, sd, (k, len(mean)))


def test_prob_best_on_active_arms_and_prob_all_within_against_sampling():
    mean = np.array([0.1, 0.25, 0.2, 0.4])
    sd = np.array([0.1, 0.08, 0.12, 0.3])
    active = np.array([True, True, True, False])
    x = _brute_normals(mean[:3], sd[:3])
    k = len(x)
    bf = np.bincount(np.argmax(x, axis=1), minlength=3) / k
    got = prob_best(mean[None], sd[None], active[None])[0]
    assert got[3] == 0.0
    assert np.all(np.abs(got[:3] - bf) <= 4 * np.sqrt(bf * (1 - bf) / k)), (got, bf)
    for margin in (0.05, 0.2):
        bfw = np.mean(x.max(axis=1) - x.min(axis=1) < margin)
        pw = prob_all_within(mean[None], sd[None], margin, active[None])[0]
        assert abs(pw - bfw) <= 4 * np.sqrt(bfw * (1 - bfw) / k) + 1e-6, (margin, pw, bfw)


def test_match_and_thompson_control_allocation_from_their_definitions():
    pb = np.array([[0.6, 0.3, 0.1]])
    power, floor = 0.5, 0.05
    w = pb[0] ** power / (pb[0] ** power).sum()
    got = allocation_probabilities(pb, power=power, min_allocation=floor, control_allocation="match")[0]
    c = w.max() / (1 + w.max())
    np.testing.assert_allclose(got, np.concatenate([[c], w / (1 + w.max())]), rtol=1e-12)
    assert got[0] == pytest.approx(got[1:].max())
    pa = np.array([[0.05, 0.6, 0.3, 0.05]])
    got = allocation_probabilities(pa, power=1.0, min_allocation=0.1, control_allocation="thompson")[0]
    # both 0.05 arms are lifted to 0.1 by mixing with 1/4: lam (0.1 - 0.05) / (0.25 - 0.05) = 0.25
    np.testing.assert_allclose(got, 0.75 * pa[0] + 0.25 * 0.25, rtol=1e-12)
    # an inactive dose gets nothing, the others share the dose share
    got = allocation_probabilities(np.array([[0.7, 0.3, 0.0]]), power=1.0, min_allocation=0.0, control_share=0.2,
                                   active=np.array([[True, True, True, False]]))[0]
    np.testing.assert_allclose(got, [0.2, 0.56, 0.24, 0.0], rtol=1e-12)


def _first_look_thresholds(n, prior_sd):
    """D = w * (xbar_1 - xbar_0), S of the posterior difference; equal n per arm, prior mean 0."""
    prec = 1 / prior_sd**2 + n / SD**2
    return (n / SD**2) / prec, np.sqrt(2 / prec)


@pytest.mark.parametrize("delta", [0.0, 0.12])
def test_first_look_stopping_probabilities_against_closed_form_two_arms(delta):
    n, prior_sd, n_sims = 20, 1.0, 40_000
    u, lo, fp, fd, ep, ed = 0.95, 0.1, 0.2, 0.05, 0.6, 0.15
    r = simulate_rar([delta], block_sizes=(40, 40), control_share=0.5, adaptive=False, prior_sd=prior_sd,
                     superiority=u, inferiority=lo, futility_prob=fp, futility_diff=fd, equivalence_prob=ep,
                     equivalence_diff=ed, n_sims=n_sims, seed=5)
    w, S = _first_look_thresholds(n, prior_sd)
    sd_diff = SD * np.sqrt(2 / n)  # xbar_1 - xbar_0 ~ N(delta, sd_diff^2)

    def cdf_d(d):  # P(D <= d)
        return stats.norm.cdf((d / w - delta) / sd_diff)

    d_sup = stats.norm.ppf(u) * S  # P(D > 0) > u  <=>  D > d_sup
    d_inf = stats.norm.ppf(lo) * S  # drop if D < d_inf
    d_fut = fd + stats.norm.ppf(fp) * S  # drop if D < d_fut
    d_eq = optimize.brentq(lambda d: stats.norm.cdf((ed - d) / S) - stats.norm.cdf((-ed - d) / S) - ep, 0, ed)
    p_sup = 1 - cdf_d(d_sup)
    p_eq = cdf_d(d_eq) - cdf_d(-d_eq)  # |D| < d_eq (inside the superiority-free zone)
    lo_drop = max(d_inf, d_fut)
    p_fut = cdf_d(min(lo_drop, -d_eq))  # dropped, not for equivalence
    assert d_eq < d_sup and -d_eq > -d_sup
    first = r.stop_look == 0
    for code, p in ((SUPERIORITY, p_sup), (EQUIVALENCE, p_eq), (FUTILITY, p_fut)):
        got = np.mean(first & (r.outcome == code))
        assert abs(got - p) <= 4 * np.sqrt(p * (1 - p) / n_sims) + 1e-9, (code, got, p)
    # comparison "best": 2 arms, superiority of either arm: |D| > d_sup
    rb = simulate_rar([delta], block_sizes=(40, 40), control_share=0.5, adaptive=False, prior_sd=prior_sd,
                      comparison="best", superiority=u, n_sims=n_sims, seed=6)
    p = 1 - cdf_d(d_sup) + cdf_d(-d_sup)
    got = np.mean((rb.stop_look == 0) & (rb.outcome == SUPERIORITY))
    assert abs(got - p) <= 4 * np.sqrt(p * (1 - p) / n_sims), (got, p)


def test_idp_definition():
    mu = np.array([0.0, 0.1, 0.3])
    assert ideal_design_percentage(np.full(50, 2), mu)[0] == 100.0
    assert ideal_design_percentage(np.full(50, 0), mu)[0] == 0.0
    # selected means 0.3, 0.1, 0, (none): mean 0.4 / 3 -> 100 * (0.4 / 3) / 0.3
    got, se = ideal_design_percentage(np.array([2, 1, 0, -1]), mu)
    assert got == pytest.approx(100 * (0.4 / 3) / 0.3)
    assert se == pytest.approx(np.std([100, 100 / 3, 0], ddof=1) / np.sqrt(3))


@pytest.mark.parametrize("comparison", ["best", "control"])
def test_idp_100_when_the_best_arm_always_wins(comparison):
    # "control": the superior dose becomes the control, the others are dropped as inferior to it
    r = simulate_rar([0.0, 0.0, 2.0], superiority=0.99, inferiority=0.01, comparison=comparison, n_sims=300, seed=2)
    perf = r.performance(select_strategy="none")
    assert perf["prob_select_3"][0] == 1.0 and perf["idp"] == (100.0, 0.0)
    assert perf["prob_select_best"][0] == 1.0 and perf["prob_superiority"][0] == 1.0


def test_rmse_bias_and_achieved_allocation_of_a_fixed_design_against_closed_form():
    n_sims, prior_sd = 40_000, 0.3
    eff = np.array([0.1, 0.2])
    r = simulate_rar(eff, block_sizes=(30, 30), control_share=1 / 3, adaptive=False, prior_sd=prior_sd,
                     n_sims=n_sims, seed=7)
    perf = r.performance(select_strategy="list", select_preferences=[2])
    n = 20
    w = (n / SD**2) / (1 / prior_sd**2 + n / SD**2)
    bias = -(1 - w) * 0.2
    rmse = np.sqrt(w**2 * SD**2 / n + bias**2)
    assert abs(perf["bias"][0] - bias) <= 4 * perf["bias"][1]
    assert abs(perf["rmse"][0] - rmse) <= 4 * perf["rmse"][1]
    # effect vs control: w (xbar_2 - xbar_0) - 0.2
    bias_te = -(1 - w) * 0.2
    rmse_te = np.sqrt(w**2 * 2 * SD**2 / n + bias_te**2)
    assert abs(perf["rmse_te"][0] - rmse_te) <= 4 * perf["rmse_te"][1]
    assert perf["prob_select_2"] == (1.0, 0.0) and perf["prob_max"] == (1.0, 0.0)
    for a in range(3):
        assert perf[f"alloc_{a}"][0] == pytest.approx(1 / 3) and perf[f"alloc_{a}_q0.975"][0] == pytest.approx(1 / 3)
    assert perf["n_total"] == (60.0, 0.0)
    assert perf["idp"][0] == 100.0


def test_selection_strategies_on_hand_made_trials():
    # 4 trials, arms 0..2: a superiority winner, then inconclusive trials
    r = RARResult(n_arm=np.full((4, 3), 10.0), rejected=np.zeros((4, 2), bool), p_best=np.zeros((4, 2)),
                  allocations=np.zeros((4, 1, 3)), theta=np.tile([0.1, 0.2], (4, 1)),
                  outcome=np.array([SUPERIORITY, MAX, FUTILITY, MAX]), stop_look=np.zeros(4, int),
                  winner=np.array([1, -1, -1, -1]),
                  active=np.array([[False, True, False], [True, True, True], [True, False, False], [False, True, True]]),
                  control=np.array([1, 0, 0, 1]), estimate=np.zeros((4, 3)),
                  p_best_all=np.array([[0, 1, 0], [0.2, 0.3, 0.5], [1, 0, 0], [0, 0.7, 0.3]]),
                  sup_stat=np.zeros(4), superiority_decision=np.array([True, False, False, True]))
    assert r.selected("none").tolist() == [1, -1, -1, -1]
    assert r.selected("control").tolist() == [1, 0, 0, -1]
    assert r.selected("final_control").tolist() == [1, 0, 0, 1]
    assert r.selected("best").tolist() == [1, 2, 0, 1]
    assert r.selected("list", [2, 0]).tolist() == [1, 2, 0, 2]
    perf = r.performance(select_strategy="best")
    assert perf["prob_superiority"][0] == 0.25 and perf["prob_max"][0] == 0.5
    assert perf["prob_superiority_decision"][0] == 0.5
    # true means 0, 0.1, 0.2; selected 1, 2, 0, 1 -> IDP 100 * mean(0.5, 1, 0, 0.5)
    assert perf["idp"][0] == pytest.approx(50.0)
    assert perf["prob_select_best"][0] == 0.25


@pytest.mark.parametrize("comparison,extra", [("control", dict(futility_prob=0.05)),
                                               ("best", dict(inferiority=0.02, control_allocation="thompson"))])
def test_calibrated_superiority_threshold_keeps_the_type1_error(comparison, extra):
    design = dict(block_sizes=(30, 30, 30, 30), comparison=comparison, **extra)
    target, n_sims = 0.05, 8000
    cal = calibrate_superiority(3, target=target, n_sims=n_sims, seed=9, check_sims=n_sims, **design)
    assert cal.type1 <= target
    assert 0 < cal.threshold_mcse < 1 - cal.threshold
    assert cal.type1 > target - 4 * cal.type1_mcse  # bisection lands at the target, not far below
    assert cal.check <= target + 3 * np.hypot(cal.type1_mcse, cal.check_mcse), cal
    # the identity the calibration rests on: with the same random numbers, a trial has a
    # superiority decision at u iff its statistic simulated with superiority off exceeds u
    ss = np.random.SeedSequence(9).spawn(2)[0]
    off = simulate_rar(np.zeros(3), n_sims=2000, seed=ss, superiority=None, **design)
    on = simulate_rar(np.zeros(3), n_sims=2000, seed=np.random.SeedSequence(9).spawn(2)[0],
                      superiority=cal.threshold, **design)
    np.testing.assert_array_equal(on.superiority_decision, off.sup_stat > cal.threshold)
    assert on.superiority_decision.any()


def test_dropped_arms_get_no_more_patients_and_outcomes_are_exhaustive():
    r = simulate_rar([0.0, -0.2, 0.25], block_sizes=(40, 40, 40, 40), superiority=0.995, inferiority=0.02,
                     futility_prob=0.05, equivalence_prob=0.9, equivalence_diff=0.05, n_sims=4000, seed=12)
    perf = r.performance()
    total = sum(perf[k][0] for k in ("prob_superiority", "prob_equivalence", "prob_futility", "prob_max"))
    assert total == pytest.approx(1.0)
    a = r.allocations
    # after an arm's allocation is 0 (dropped) it stays 0; after the stop every arm gets 0
    dropped_before = np.cumsum(a == 0, axis=1) > 0
    assert np.all(a[dropped_before] == 0)
    assert np.all(r.n_arm.sum(axis=1) == r.looks[r.stop_look])
    assert (r.outcome != MAX).any() and (~r.active[:, 2]).any()


def test_block_counts_have_multinomial_moments():
    from msbayes.adaptive.rar import _multinomial

    m, size = 200_000, 40
    p = np.array([0.25, 0.1, 0.4, 0.25])
    k = _multinomial(np.random.default_rng(3), size, np.tile(p, (m, 1)))
    assert np.all(k.sum(axis=1) == size)
    mean_se = np.sqrt(size * p * (1 - p) / m)
    assert np.all(np.abs(k.mean(axis=0) - size * p) <= 4 * mean_se)
    var = size * p * (1 - p)
    # variance of the sample variance ~ (mu4 - var^2) / m; binomial mu4 from its cumulants
    k4 = size * p * (1 - p) * (1 - 6 * p * (1 - p))
    var_se = np.sqrt((k4 + 2 * var**2) / m)
    assert np.all(np.abs(k.var(axis=0, ddof=1) - var) <= 4 * var_se)
    cov01 = np.cov(k[:, 0], k[:, 1])[0, 1]
    assert abs(cov01 - (-size * p[0] * p[1])) <= 4 * np.sqrt((var[0] * var[1] + (size * p[0] * p[1]) ** 2) / m)


# ---------------------------------------------------------------------------------------------
# A per-trial reference coded from the design's definitions (scalar loops, one normal outcome
# per patient, numpy's multinomial, P(best) by a fine trapezoid grid instead of Gauss-Hermite).
# Its operating characteristics must agree with the vectorized simulation within 4 MCSE.

def _grid_p_best(m, s):
    t = np.linspace((m - 10 * s).min(), (m + 10 * s).max(), 6001)
    cdf = stats.norm.cdf((t[None, :] - m[:, None]) / s[:, None])
    pdf = stats.norm.pdf((t[None, :] - m[:, None]) / s[:, None]) / s[:, None]
    out = np.array([np.trapezoid(pdf[g] * np.prod(np.delete(cdf, g, axis=0), axis=0), t) for g in range(len(m))])
    return out / out.sum()


def _grid_all_within(m, s, e):
    t = np.linspace((m - 10 * s).min(), (m + 10 * s).max(), 6001)
    z = (t[None, :] - m[:, None]) / s[:, None]
    ze = (t[None, :] + e - m[:, None]) / s[:, None]
    band = stats.norm.cdf(ze) - stats.norm.cdf(z)
    pdf = stats.norm.pdf(z) / s[:, None]
    return sum(np.trapezoid(pdf[g] * np.prod(np.delete(band, g, axis=0), axis=0), t) for g in range(len(m)))


def _reference_trial(mu, rng, d):
    A = len(mu)
    sums, n = np.zeros(A), np.zeros(A)
    active, ctrl, decided = np.ones(A, bool), 0, False
    thompson = d["control_allocation"] == "thompson"
    start = np.full(A, 1 / A) if thompson else np.r_[d["control_share"], np.full(A - 1, (1 - d["control_share"]) / (A - 1))]
    for b, size in enumerate(d["block_sizes"]):
        if b == 0:
            probs = start
        else:
            prec = 1 / d["prior_sd"] ** 2 + n / SD**2
            m, s = (sums / SD**2) / prec, 1 / np.sqrt(prec)
            compete = active.copy() if thompson else active & (np.arange(A) != ctrl)
            idx = np.flatnonzero(compete)
            pb = _grid_p_best(m[idx], s[idx]) ** d["power"]
            w = pb / pb.sum()
            c = 0.0 if thompson else d["control_share"]
            share = 1 - c
            raw = share * w
            eq = share / len(idx)
            lam = max([0.0] + [(d["min_allocation"] - r) / (eq - r) for r in raw if r < d["min_allocation"]])
            probs = np.zeros(A)
            probs[idx] = (1 - lam) * raw + lam * eq
            if not thompson:
                probs[ctrl] = c
        k = rng.multinomial(size, probs / probs.sum())
        for a in range(A):
            sums[a] += rng.normal(mu[a], SD, k[a]).sum()
        n += k
        prec = 1 / d["prior_sd"] ** 2 + n / SD**2
        m, s = (sums / SD**2) / prec, 1 / np.sqrt(prec)
        if d["comparison"] == "best":
            idx = np.flatnonzero(active)
            pb = _grid_p_best(m[idx], s[idx])
            if pb.max() > d["superiority"]:
                return SUPERIORITY, idx[np.argmax(pb)], n, True, ctrl
            if _grid_all_within(m[idx], s[idx], d["equivalence_diff"]) > d["equivalence_prob"]:
                return EQUIVALENCE, -1, n, decided, ctrl
            for j, g in enumerate(idx):
                if pb[j] < d["inferiority"] and j != np.argmax(pb):
                    active[g] = False
            if active.sum() == 1:
                return SUPERIORITY, np.flatnonzero(active)[0], n, decided, ctrl
            continue
        others = [g for g in range(A) if active[g] and g != ctrl]
        D = {g: m[g] - m[ctrl] for g in others}
        S = {g: np.hypot(s[g], s[ctrl]) for g in others}
        better = {g: stats.norm.cdf(D[g] / S[g]) for g in others}
        sup = [g for g in others if better[g] > d["superiority"]]
        if sup:
            decided = True
            active[ctrl] = False
            ctrl = max(sup, key=lambda g: better[g])
            if active.sum() == 1:
                return SUPERIORITY, ctrl, n, decided, ctrl
            continue
        eq_drop = False
        for g in others:
            inf = better[g] < d["inferiority"]
            fut = ctrl == 0 and stats.norm.cdf((D[g] - d["futility_diff"]) / S[g]) < d["futility_prob"]
            e = d["equivalence_diff"]
            eqv = stats.norm.cdf((e - D[g]) / S[g]) - stats.norm.cdf((-e - D[g]) / S[g]) > d["equivalence_prob"]
            eq_drop |= bool(eqv)
            if inf or fut or eqv:
                active[g] = False
        if active.sum() == 1:
            if ctrl != 0:
                return SUPERIORITY, ctrl, n, decided, ctrl
            return (EQUIVALENCE if eq_drop else FUTILITY), -1, n, decided, ctrl
    return MAX, -1, n, decided, ctrl


@pytest.mark.slow
@pytest.mark.parametrize("design", [
    dict(comparison="control", control_allocation="fixed", superiority=0.97, inferiority=0.05, futility_prob=0.1,
         futility_diff=0.0, equivalence_prob=0.5, equivalence_diff=0.1),
    dict(comparison="best", control_allocation="thompson", superiority=0.9, inferiority=0.1, equivalence_prob=0.6,
         equivalence_diff=0.2),
])
def test_vectorized_simulation_matches_a_per_trial_reference(design):
    eff = np.array([0.0, 0.1, 0.2])
    d = dict(block_sizes=(30, 30, 30, 30), control_share=0.25, min_allocation=0.05, power=0.5, prior_sd=1.0, **design)
    n_ref, n_vec = 3000, 40_000
    rng = np.random.default_rng(20261207)
    ref = [_reference_trial(np.r_[0.0, eff], rng, d) for _ in range(n_ref)]
    out = np.array([r[0] for r in ref])
    sel = np.array([r[1] if r[1] >= 0 else r[4] for r in ref])  # winner, else the final control
    nn = np.array([r[2] for r in ref])
    dec = np.array([r[3] for r in ref])
    v = simulate_rar(eff, n_sims=n_vec, seed=21, **d)
    vsel = v.selected("final_control")
    pairs = [(out == c, v.outcome == c) for c in (MAX, SUPERIORITY, EQUIVALENCE, FUTILITY)]
    pairs += [(sel == a, vsel == a) for a in range(4)] + [(dec, v.superiority_decision)]
    for a, b in pairs:
        pa, pb = a.mean(), b.mean()
        se = np.hypot(np.sqrt(pa * (1 - pa) / n_ref), np.sqrt(pb * (1 - pb) / n_vec))
        assert abs(pa - pb) <= 4 * se + 1e-12, (pa, pb, se)
    for a in range(4):
        x, y = nn[:, a], v.n_arm[:, a]
        se = np.hypot(x.std(ddof=1) / np.sqrt(n_ref), y.std(ddof=1) / np.sqrt(n_vec))
        assert abs(x.mean() - y.mean()) <= 4 * se, (a, x.mean(), y.mean(), se)


def test_sqrt_based_control_share_matches_adaptr_printed_values():
    # adaptr prints "Control arm probability fixed at 0.366 (for 4 arms), 0.414 (for 3 arms),
    # 0.5 (for 2 arms)" for control_prob_fixed = "sqrt-based"
    pb = np.array([[0.5, 0.3, 0.2]])
    for active, want in (([True] * 4, 0.366), ([True, True, False, True], 0.414), ([True, False, False, True], 0.5)):
        a = allocation_probabilities(pb, power=1.0, min_allocation=0.0, control_allocation="sqrt",
                                     active=np.array([active]))[0]
        assert round(a[0], 3) == want and a.sum() == pytest.approx(1.0)
        assert np.all(a[1:][~np.array(active[1:])] == 0)
    r = simulate_rar([0.0, 0.1, 0.2], control_allocation="sqrt", n_sims=50, seed=1)
    assert np.allclose(r.allocations[:, 0, 0], np.sqrt(3) / (3 + np.sqrt(3)))


def test_max_allocation_cap_hand_computed():
    # one pass: 0.7 -> 0.5, excess 0.2 shared 2:1 -> (0.5, 0.2 + 0.4 / 3, 0.1 + 0.2 / 3)
    a = allocation_probabilities(np.array([[0.7, 0.2, 0.1]]), power=1.0, min_allocation=0.0, control_share=1e-9,
                                 max_allocation=0.5)[0]
    np.testing.assert_allclose(a[1:], np.array([0.5, 0.2 + 0.2 * 2 / 3, 0.1 + 0.2 / 3]) * (1 - 1e-9), rtol=1e-8)
    # two passes: (0.6, 0.35, 0.05) capped at 0.4 -> (0.4, 0.525, 0.075) -> (0.4, 0.4, 0.2)
    b = allocation_probabilities(np.array([[0.6, 0.35, 0.05]]), power=1.0, min_allocation=0.0,
                                 control_allocation="thompson", max_allocation=0.4)[0]
    np.testing.assert_allclose(b, [0.4, 0.4, 0.2], rtol=1e-12)
    r = simulate_rar([0.0, 0.1, 0.4], block_sizes=(40, 40, 40), min_allocation=0.05, max_allocation=0.4,
                     power=1.0, n_sims=2000, seed=3)
    assert r.allocations.max() <= 0.4 + 1e-12
    assert np.isclose(r.allocations[:, 1:, 3], 0.4).mean() > 0.2  # the cap binds often
    with pytest.raises(ValueError, match="max_allocation"):
        simulate_rar([0.0, 0.1, 0.2], max_allocation=0.2, n_sims=10)
