"""Simulated two-arm group-sequential trials (msbayes.sequential.simulate) vs independent answers.

* The z-statistic simulation against the exact stopping probabilities of the recursive
  integration (msbayes.sequential.boundaries), which is itself checked against Genz rectangle
  probabilities and rpact in tests/test_sequential_boundaries.py. Power and expected n are
  compared within 3 MCSE; the per-look proportions (up to 2K per scenario) within 4 MCSE
  (a two-sided 3 MCSE band per comparison would flag a correct simulator in ~1 of 30 such
  families of 10; seeds are fixed, so the tests are deterministic).
* The sufficient-statistic t path against a brute-force patient-level simulation of the same
  trials (every outcome drawn, pooled t from numpy), within 4 MCSE of the difference.
* rpact ``getSimulationMeans`` for three designs (``r_peer``), within 3 MCSE of the difference.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from msbayes.rng import as_seed_sequence
from msbayes.sequential.boundaries import Spending, ZBounds, group_sequential_design
from msbayes.sequential.simulate import analytic_probabilities, simulate_two_arm

SD = 0.35
MCID = math.log(1.2)

DESIGNS = {
    "obf3_bsobf_nonbinding": (dict(information_rates=[1 / 3, 2 / 3, 1], efficacy=Spending("obf"), futility=Spending("obf")),
                              [20, 40, 60]),
    "pocock2": (dict(information_rates=[0.5, 1.0], efficacy=Spending("pocock")), [30, 60]),
    "hsd4_zfut_binding": (dict(information_rates=[0.25, 0.5, 0.75, 1.0], efficacy=Spending("hsd", -4),
                               futility=ZBounds((0.0, 0.3, 0.8)), binding=True), [15, 30, 45, 60]),
}


def _design(name):
    kw, n = DESIGNS[name]
    kw = dict(kw)
    return group_sequential_design(kw.pop("information_rates"), **kw), n


def _check(sim, exact, n_per_arm, per_look_k=4.0):
    pe = np.asarray(exact.efficacy)
    pf = np.asarray(exact.futility)
    assert np.all(np.abs(sim.p_efficacy - pe) <= per_look_k * np.sqrt(pe * (1 - pe) / sim.n_sims) + 1e-9), (sim.p_efficacy, pe)
    K = pe.size
    # simulated "futility" at the last look = reached it and did not reject
    pf_sim_interim = sim.p_futility[:-1]
    assert np.all(np.abs(pf_sim_interim - pf[:-1]) <= per_look_k * np.sqrt(pf[:-1] * (1 - pf[:-1]) / sim.n_sims) + 1e-9)
    mcse = math.sqrt(exact.power * (1 - exact.power) / sim.n_sims)
    assert abs(sim.power - exact.power) <= 3 * mcse, (sim.power, exact.power, mcse)
    n_tot = 2 * np.asarray(n_per_arm, float)
    en = float(exact.stop @ n_tot)
    sd_n = math.sqrt(max(float(exact.stop @ n_tot**2) - en**2, 0.0))
    assert abs(sim.expected_n - en) <= 3 * sd_n / math.sqrt(sim.n_sims), (sim.expected_n, en)
    assert sim.expected_n_mcse == pytest.approx(sd_n / math.sqrt(sim.n_sims), rel=0.05)
    assert np.sum(sim.p_stop) == pytest.approx(1.0, abs=1e-12)
    assert K == sim.p_stop.size


@pytest.mark.parametrize("name", list(DESIGNS))
@pytest.mark.parametrize("effect", [0.0, MCID])
def test_z_simulation_matches_exact_crossing_probabilities(name, effect):
    d, n = _design(name)
    sim = simulate_two_arm(d, n_per_arm=n, effect=effect, sd=SD, n_sims=200_000, seed=100 + 10 * list(DESIGNS).index(name) + (effect > 0))
    exact = analytic_probabilities(d, n, n, effect=effect, sd=SD)
    _check(sim, exact, n)


def test_non_binding_futility_ignored_gives_alpha():
    d, n = _design("obf3_bsobf_nonbinding")
    # sizes exactly proportional to the design's information rates: type I error is alpha
    sim = simulate_two_arm(d, n_per_arm=n, effect=0.0, sd=SD, n_sims=400_000, seed=7, obey_futility=False)
    mcse = math.sqrt(0.025 * 0.975 / sim.n_sims)
    assert abs(sim.power - 0.025) <= 3 * mcse
    assert np.all(sim.p_futility[:-1] == 0)
    obeyed = simulate_two_arm(d, n_per_arm=n, effect=0.0, sd=SD, n_sims=400_000, seed=7)
    assert obeyed.power < sim.power
    assert abs(obeyed.power - d.h0.power) <= 3 * math.sqrt(d.h0.power * (1 - d.h0.power) / obeyed.n_sims)


def test_unequal_allocation_uses_the_information_of_each_look():
    d = group_sequential_design([0.5, 1.0], efficacy=Spending("obf"), futility=Spending("obf"))
    n0, n1 = [20, 40], [40, 80]
    sim = simulate_two_arm(d, n_control=n0, n_treatment=n1, effect=0.15, sd=SD, n_sims=200_000, seed=11)
    exact = analytic_probabilities(d, n0, n1, effect=0.15, sd=SD)
    n_tot = np.array(n0) + np.array(n1)
    _check(sim, exact, n_tot / 2)


def test_estimate_at_stopping_is_biased_upward_for_efficacy_stops():
    # conditional on an early efficacy stop the difference in means overestimates the effect;
    # unconditionally the bias is that of the stopping rule (Jennison & Turnbull ch. 8): its sign
    # here is positive at the MCID (early stops are efficacy stops) and the MCSE is sd / sqrt(N)
    d, n = _design("pocock2")
    sim = simulate_two_arm(d, n_per_arm=n, effect=MCID, sd=SD, n_sims=200_000, seed=5)
    assert sim.bias > 5 * sim.bias_mcse
    assert sim.mean_est == pytest.approx(MCID + sim.bias, abs=1e-12)


def _patient_level(d, n, effect, n_sims, seed, statistic="t", dropout=0.0):
    """Brute force: every patient (and dropout) drawn, cumulative z or pooled t at each look."""
    rng = np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
    c = np.asarray(d.critical_values)
    f = np.append(d.futility_bounds, -np.inf)
    N = n[-1]
    y0 = rng.normal(0.0, SD, (n_sims, N))
    y1 = rng.normal(effect, SD, (n_sims, N))
    w0 = (rng.random((n_sims, N)) >= dropout).astype(float)
    w1 = (rng.random((n_sims, N)) >= dropout).astype(float)
    active = np.ones(n_sims, bool)
    eff = np.zeros(len(n))
    fut = np.zeros(len(n))
    n_an = np.zeros(n_sims)
    for k, nk in enumerate(n):
        c0, c1 = w0[:, :nk].sum(1), w1[:, :nk].sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            m0 = (w0[:, :nk] * y0[:, :nk]).sum(1) / c0
            m1 = (w1[:, :nk] * y1[:, :nk]).sum(1) / c1
            if statistic == "z":
                z = (m1 - m0) / (SD * np.sqrt(1 / c0 + 1 / c1))
            else:
                ss = (w0[:, :nk] * (y0[:, :nk] - m0[:, None]) ** 2).sum(1) + (w1[:, :nk] * (y1[:, :nk] - m1[:, None]) ** 2).sum(1)
                df = c0 + c1 - 2
                tt = (m1 - m0) / np.sqrt(ss / df * (1 / c0 + 1 / c1))
                z = stats.norm.isf(stats.t.sf(tt, df))
        e = active & (z >= c[k])
        g = active & ~e & (z <= f[k]) if k < len(n) - 1 else active & ~e
        eff[k], fut[k] = e.mean(), g.mean()
        n_an[e | g] = (c0 + c1)[e | g]
        active &= ~(e | g)
    return eff, fut, n_an


def test_t_statistic_from_sufficient_statistics_matches_patient_level():
    d, n = _design("obf3_bsobf_nonbinding")
    n = [8, 16, 24]  # small looks: where the t statistic differs most from z
    n_pl = 30_000
    for effect in (0.0, MCID):
        eff_pl, fut_pl, _ = _patient_level(d, n, effect, n_pl, seed=21)
        sim = simulate_two_arm(d, n_per_arm=n, effect=effect, sd=SD, n_sims=200_000, seed=22, statistic="t")
        for a, b in [(sim.p_efficacy, eff_pl), (sim.p_futility[:-1], fut_pl[:-1])]:
            p = np.clip((a + b[: a.size]) / 2, 1e-4, None)
            se = np.sqrt(p * (1 - p) * (1 / sim.n_sims + 1 / n_pl))
            assert np.all(np.abs(a - b[: a.size]) <= 4 * se), (a, b, se)


@pytest.mark.parametrize("statistic", ["z", "t"])
def test_dropout_matches_patient_level_simulation(statistic):
    d, _ = _design("obf3_bsobf_nonbinding")
    n = [10, 20, 30]
    n_pl = 30_000
    eff_pl, fut_pl, nan_pl = _patient_level(d, n, MCID, n_pl, seed=41, statistic=statistic, dropout=0.25)
    sim = simulate_two_arm(d, n_per_arm=n, effect=MCID, sd=SD, n_sims=200_000, seed=42, statistic=statistic,
                           dropout=0.25)
    for a, b in [(sim.p_efficacy, eff_pl), (sim.p_futility, fut_pl)]:
        p = np.clip((a + b) / 2, 1e-4, None)
        se = np.sqrt(p * (1 - p) * (1 / sim.n_sims + 1 / n_pl))
        assert np.all(np.abs(a - b) <= 4 * se), (a, b, se)
    se_n = math.hypot(sim.mean_n_analysed_mcse, nan_pl.std() / math.sqrt(n_pl))
    assert abs(sim.mean_n_analysed - nan_pl.mean()) <= 4 * se_n
    # randomized n counts every patient enrolled by the stopping look
    assert sim.expected_n == pytest.approx(float(sim.p_stop @ (2 * np.array(n))), rel=1e-12)
    assert sim.mean_n_analysed < sim.expected_n


def test_seeded_chunks_are_reproducible_and_mergeable():
    d, n = _design("pocock2")
    a = simulate_two_arm(d, n_per_arm=n, effect=0.1, sd=SD, n_sims=30_000, seed=3, chunk_size=10_000)
    b = simulate_two_arm(d, n_per_arm=n, effect=0.1, sd=SD, n_sims=30_000, seed=3, chunk_size=10_000)
    assert a.accumulator == b.accumulator
    first = simulate_two_arm(d, n_per_arm=n, effect=0.1, sd=SD, n_sims=10_000, seed=3, chunk_size=10_000)
    rest = simulate_two_arm(d, n_per_arm=n, effect=0.1, sd=SD, n_sims=20_000, seed=3, chunk_size=10_000, first_chunk=1)
    assert first.accumulator.merge(rest.accumulator) == a.accumulator


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(n_per_arm=[30, 20]), "n_control"),
        (dict(n_per_arm=[30]), "n_control"),
        (dict(n_per_arm=[0, 20]), "n_control"),
        (dict(n_per_arm=[10.5, 20]), "n_control"),
        (dict(n_per_arm=[10, 20], n_control=[10, 20]), "n_per_arm"),
        (dict(n_per_arm=[10, 20], sd=0.0), "sd"),
        (dict(n_per_arm=[10, 20], n_sims=0), "n_sims"),
        (dict(n_per_arm=[10, 20], statistic="welch"), "statistic"),
        (dict(n_per_arm=[1, 20], statistic="t"), "n_per_arm"),
        (dict(n_per_arm=[10, 20], dropout=1.0), "dropout"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwargs, field):
    d, _ = _design("pocock2")
    args = dict(effect=0.1, sd=SD, n_sims=100, seed=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        simulate_two_arm(d, **args)


# ------------------------------------------------------------------ rpact side by side
R_DESIGNS = {
    "obf3_bsobf_nonbinding": "getDesignGroupSequential(kMax=3, alpha=0.025, beta=0.2, typeOfDesign='asOF', typeBetaSpending='bsOF')",
    "pocock2": "getDesignGroupSequential(kMax=2, alpha=0.025, typeOfDesign='asP')",
    "hsd4_zfut_binding": ("getDesignGroupSequential(kMax=4, alpha=0.025, typeOfDesign='asHSD', gammaA=-4, "
                          "futilityBounds=c(0, 0.3, 0.8), bindingFutility=TRUE)"),
}


@pytest.mark.r_peer
@pytest.mark.parametrize("name", list(R_DESIGNS))
def test_simulation_matches_rpact_get_simulation_means(name):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    d, n = _design(name)
    n_r = 100_000
    planned = ", ".join(str(2 * x) for x in n)
    code = (
        "suppressMessages({library(rpact); library(jsonlite)});"
        f"d <- {R_DESIGNS[name]};"
        f"s <- getSimulationMeans(d, alternative=c(0, {MCID!r}), stDev={SD}, plannedSubjects=c({planned}),"
        f" maxNumberOfIterations={n_r}, seed=20261129);"
        "cat(toJSON(list(c=d$criticalValues, rej=s$rejectPerStage, fut=s$futilityPerStage,"
        " power=s$overallReject, en=s$expectedNumberOfSubjects), digits=NA))"
    )
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        if "there is no package" in out.stderr:
            pytest.skip("rpact not installed")
        raise AssertionError(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(d.critical_values, r["c"], atol=1e-3)
    rej = np.array(r["rej"], float).reshape(len(n), 2)  # stages x alternatives (R column-major)
    power = np.array(r["power"], float)
    en = np.array(r["en"], float)
    for j, effect in enumerate((0.0, MCID)):
        sim = simulate_two_arm(d, n_per_arm=n, effect=effect, sd=SD, n_sims=200_000, seed=31 + j)
        se = np.sqrt(sim.p_efficacy * (1 - sim.p_efficacy) * (1 / sim.n_sims + 1 / n_r))
        assert np.all(np.abs(sim.p_efficacy - rej[:, j]) <= 3 * se + 1e-9), (name, effect, sim.p_efficacy, rej[:, j])
        se_p = math.sqrt(sim.power * (1 - sim.power) * (1 / sim.n_sims + 1 / n_r))
        assert abs(sim.power - power[j]) <= 3 * se_p, (name, effect, sim.power, power[j])
        se_n = sim.expected_n_mcse * math.sqrt(1 + sim.n_sims / n_r)
        assert abs(sim.expected_n - en[j]) <= 3 * se_n, (name, effect, sim.expected_n, en[j])
