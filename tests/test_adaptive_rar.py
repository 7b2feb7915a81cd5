"""Response-adaptive randomisation (msbayes.adaptive.rar) against independent answers.

* P(best) and the block allocation against brute-force posterior sampling (prior draws weighted
  by the likelihood, argmax counted; no conjugacy used), within 4 MCSE, and the tempering /
  floor / control share coded again from their definitions;
* RAR switched off reproduces the fixed design exactly: deterministic counts and, per dose,
  the closed-form power of the one-sided z test at alpha / G (4 MCSE);
* bad input refused naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from msbayes.adaptive.rar import prob_best, rar_allocation, simulate_rar

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
])
def test_bad_input_is_refused_naming_the_argument(kw, word):
    with pytest.raises(ValueError, match=word):
        simulate_rar([0.0, 0.1, 0.2], n_sims=10, **kw)
