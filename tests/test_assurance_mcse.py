"""Monte Carlo error of assurance when true effects are resampled from K posterior draws.

The reported ``p_go_mcse`` must include the error of the finite draw set (ESS <= K), not only
the binomial error of the simulated trials: checked by replication over independent draw sets
(iid and autocorrelated, as MCMC draws are). Also: Clopper-Pearson bounds for zero counts, the
batch-means variance helper, and fixed scenarios unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import msbayes.design.scenarios as scen
from msbayes.config import validate_config
from msbayes.design.config import SimConfig
from msbayes.design.prior import EffectDraws, batch_means_variance
from msbayes.oc.accumulate import Accumulator
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell


def _raw(path: str, **sc):
    return {"name": "m", "seed": 3, "endpoint": {"sd": 0.35, "dropout": 0.1},
            "design": {"type": "parallel", "n_per_arm": 40},
            "scenarios": {"post": {"from_fit": path, "model": "m", "prior": "p", "population": "all", **sc},
                          "fixed": {"effect": 0.15}},
            "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
            "decision": {"go": {"p_benefit": 0.975, "p_mcid": 0.5}}}


@pytest.fixture
def fake_draws(monkeypatch):
    """``from_fit`` paths name in-memory draw sets (no files): path -> (K, 1) array."""
    store: dict[str, np.ndarray] = {}

    def _load(path, *, model, prior, endpoint, population=None):
        return EffectDraws(store[str(path).rsplit("/", 1)[-1]], ("all",), "log_speed_ratio", ("estimate",))

    monkeypatch.setattr(scen, "load_effect_draws", _load)
    return store


def _ar1(rng, k, rho, m, s):
    e = rng.standard_normal(k)
    x = np.empty(k)
    x[0] = e[0]
    for i in range(1, k):
        x[i] = rho * x[i - 1] + math.sqrt(1 - rho * rho) * e[i]
    return m + s * x


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_assurance_mcse_matches_replication_over_draw_sets(fake_draws, rho):
    # K draws of a known N(0.15, 0.12^2) "posterior" (iid, or AR(1) like an MCMC chain:
    # ESS = K (1 - rho) / (1 + rho)); assurance from N trials; R independent replicates
    R, K, N = 150, 200, 4000
    rng = np.random.default_rng(2026 + int(rho * 10))
    p_hat, mcse, mcse_bin = [], [], []
    for r in range(R):
        key = f"set{rho}_{r}"
        fake_draws[key] = _ar1(rng, K, rho, 0.15, 0.12)[:, None]
        cfg = validate_config(SimConfig, _raw(f"/nowhere/{key}"))
        out = simulate_cell(cfg, "post", N, cell_seed(3, {"r": r, "rho": rho}), chunk_size=2000).finalize()
        p_hat.append(out["p_go"])
        mcse.append(out["p_go_mcse"])
        mcse_bin.append(math.sqrt(out["p_go"] * (1 - out["p_go"]) / N))
    sd_emp = float(np.std(p_hat, ddof=1))
    rms = float(np.sqrt(np.mean(np.square(mcse))))
    # the empirical SD of R replicates has relative SE ~ 1/sqrt(2 (R - 1)); the reported MCSE
    # (batch means, B = 10 batches of 20 draws) has its own noise, averaged over R
    tol = 3 * math.sqrt(1 / (2 * (R - 1)) + float(np.var(np.square(mcse))) / (R * 4 * rms**4))
    assert abs(sd_emp / rms - 1) < tol + 0.05, (sd_emp, rms, tol)
    # the binomial MCSE alone understates the error several-fold here
    assert sd_emp > 2 * float(np.sqrt(np.mean(np.square(mcse_bin))))


def test_fixed_scenario_mcse_is_binomial(fake_draws):
    fake_draws["one"] = np.random.default_rng(1).normal(0.15, 0.12, (400, 1))
    cfg = validate_config(SimConfig, _raw("/nowhere/one"))
    out = simulate_cell(cfg, "fixed", 5000, cell_seed(3, "fixed")).finalize()
    p = out["p_go"]
    assert out["p_go_mcse"] == pytest.approx(math.sqrt(p * (1 - p) / 5000), rel=1e-12)
    assert out["p_go_mcse_draws"] == 0.0
    post = simulate_cell(cfg, "post", 5000, cell_seed(3, "post")).finalize()
    assert post["p_go_mcse"] >= math.sqrt(post["p_go"] * (1 - post["p_go"]) / 5000)
    # same keys in both kinds of cell (oc.nc variables are per cell)
    assert set(out) == set(post)


def test_mcse_bit_identical_however_chunks_are_merged(fake_draws):
    fake_draws["two"] = np.random.default_rng(2).normal(0.15, 0.12, (400, 1))
    cfg = validate_config(SimConfig, _raw("/nowhere/two"))
    ss = cell_seed(3, "m")
    whole = simulate_cell(cfg, "post", 6000, ss, chunk_size=1000)
    a = simulate_cell(cfg, "post", 2000, ss, chunk_size=1000)
    b = simulate_cell(cfg, "post", 4000, ss, chunk_size=1000, first_chunk=2)
    assert Accumulator.from_dict(b.merge(a).to_dict()).finalize() == whole.finalize()


def test_zero_counts_get_an_upper_bound():
    acc = Accumulator()
    acc.add({"go": np.zeros(3000, bool), "nogo": np.ones(3000, bool)}, chunk=0)
    r = acc.finalize()
    assert r["p_go"] == 0.0 and r["p_go_mcse"] == 0.0
    # one-sided 95% Clopper-Pearson bound for 0 / N: 1 - 0.05^(1/N) (~ the rule of three, 3/N)
    assert r["p_go_upper"] == pytest.approx(1 - 0.05 ** (1 / 3000), rel=1e-10)
    assert r["p_go_upper"] == pytest.approx(3 / 3000, rel=0.01)
    assert r["p_nogo_lower"] == pytest.approx(0.05 ** (1 / 3000), rel=1e-10) and r["p_nogo_upper"] == 1.0
    acc2 = Accumulator()
    acc2.add({"go": np.arange(1000) < 37}, chunk=0)
    r2 = acc2.finalize()
    assert r2["p_go_upper"] == pytest.approx(stats.beta.ppf(0.95, 38, 1000 - 37), rel=1e-9)
    assert r2["p_go_lower"] == pytest.approx(stats.beta.ppf(0.05, 37, 1000 - 37 + 1), rel=1e-9)


def test_batch_means_variance_iid_and_ar1():
    rng = np.random.default_rng(5)
    R, K = 400, 2000
    for rho in (0.0, 0.5):
        means, est = [], []
        for _ in range(R):
            x = _ar1(rng, K, rho, 0.0, 1.0)
            means.append(x.mean())
            est.append(batch_means_variance(x))
        emp = float(np.var(means, ddof=1))
        # relative SE of the empirical variance ~ sqrt(2 / (R - 1)); batch means is biased
        # slightly low for AR(1) with batches of 50 (lag correlation across batch edges ~ 2%)
        assert abs(np.mean(est) / emp - 1) < 3 * math.sqrt(2 / (R - 1)) + 0.03, (rho, np.mean(est), emp)


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_ceiling_mcse_matches_replication_over_draw_sets(fake_draws, rho):
    # assurance ceiling P(theta > MCID) from K draws: its batch-means SE vs the SD over draw sets
    R, K = 300, 400
    rng = np.random.default_rng(77 + int(rho * 10))
    ceil, se = [], []
    for r in range(R):
        key = f"c{rho}_{r}"
        fake_draws[key] = _ar1(rng, K, rho, 0.15, 0.12)[:, None]
        cfg = validate_config(SimConfig, _raw(f"/nowhere/{key}"))
        smp = scen.effect_sampler(cfg.scenarios["post"], cfg.endpoint)
        p, s = smp.prob_above(cfg.endpoint.mcid, cfg.endpoint.stratum_weights)
        ceil.append(p)
        se.append(s)
    truth = 1 - stats.norm.cdf((0.1823 - 0.15) / 0.12)
    assert abs(np.mean(ceil) - truth) < 4 * np.std(ceil) / math.sqrt(R)
    sd_emp, rms = float(np.std(ceil, ddof=1)), float(np.sqrt(np.mean(np.square(se))))
    assert abs(sd_emp / rms - 1) < 3 * math.sqrt(1 / (2 * (R - 1))) + 0.05, (sd_emp, rms)


def test_mixture_mode_mcse_includes_draws_error(fake_draws):
    # mode: mixture fits a normal mixture to the K draws; the draws' error reaches the fitted
    # prior, so the reported MCSE must cover the SD over draw sets (allowed to be conservative)
    R, K, N = 150, 200, 4000
    rng = np.random.default_rng(99)
    p_hat, mcse, ceil, ceil_se = [], [], [], []
    for r in range(R):
        key = f"mix_{r}"
        fake_draws[key] = rng.normal(0.15, 0.12, (K, 1))
        cfg = validate_config(SimConfig, _raw(f"/nowhere/{key}", mode="mixture", n_components=1))
        out = simulate_cell(cfg, "post", N, cell_seed(3, {"mix": r}), chunk_size=2000).finalize()
        p_hat.append(out["p_go"])
        mcse.append(out["p_go_mcse"])
        ceil.append(out["assurance_ceiling"])
        ceil_se.append(out["assurance_ceiling_mcse"])
    sd_emp, rms = float(np.std(p_hat, ddof=1)), float(np.sqrt(np.mean(np.square(mcse))))
    tol = 3 * math.sqrt(1 / (2 * (R - 1)))
    assert rms > sd_emp * (1 - tol), (sd_emp, rms)
    assert rms < 1.6 * sd_emp, (sd_emp, rms)
    sd_c, rms_c = float(np.std(ceil, ddof=1)), float(np.sqrt(np.mean(np.square(ceil_se))))
    assert sd_c * (1 - tol) < rms_c < 1.6 * sd_c, (sd_c, rms_c)


def test_dose_finding_from_draws_carries_the_draws_error(fake_draws):
    # the same replication check for a dose-finding design (MCP-Mod) whose reference-dose
    # effect is resampled from K draws: p_go and p_correct_dose
    R, K, N = 60, 200, 3000
    rng = np.random.default_rng(31)
    res = {"p_go": ([], []), "p_correct_dose": ([], [])}
    for r in range(R):
        key = f"df_{r}"
        fake_draws[key] = rng.normal(0.15, 0.12, (K, 1))
        raw = {"name": "df", "seed": 5, "endpoint": {"sd": 0.35, "mcid": 0.182},
               "design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
                          "dose_unit": "million cells", "reference_dose": 10, "n_per_arm": 30,
                          "dose_response": {"model": "emax", "ed50": 3.0}},
               "scenarios": {"post": {"from_fit": f"/nowhere/{key}", "model": "m", "prior": "p",
                                      "population": "all"}},
               "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [1.5, 5]}, "target_delta": 0.1}}
        out = simulate_cell(validate_config(SimConfig, raw), "post", N, cell_seed(5, {"df": r})).finalize()
        for k, (ph, ms) in res.items():
            ph.append(out[k])
            ms.append(out[f"{k}_mcse"])
    for k, (ph, ms) in res.items():
        sd_emp, rms = float(np.std(ph, ddof=1)), float(np.sqrt(np.mean(np.square(ms))))
        assert abs(sd_emp / rms - 1) < 3 * math.sqrt(1 / (2 * (R - 1))) + 0.1, (k, sd_emp, rms)


def test_draws_part_unknown_is_nan_not_zero():
    # chunks that do not say whether effects came from draws (e.g. a cell store written before
    # draw batches were recorded): the draws' part of the MCSE is unknown, never a silent 0
    acc = Accumulator()
    acc.add({"go": np.arange(100) < 30}, chunk=0)
    assert math.isnan(acc.finalize()["p_go_mcse_draws"])
    acc.add({"go": np.arange(100) < 30, "n_draw_batches": 0}, chunk=1)
    assert math.isnan(acc.finalize()["p_go_mcse_draws"])  # one chunk still unknown
    ok = Accumulator()
    ok.add({"go": np.arange(100) < 30, "n_draw_batches": 0}, chunk=0)
    assert ok.finalize()["p_go_mcse_draws"] == 0.0


def test_search_metric_mcse_includes_the_draws_error(fake_draws):
    """The sample-size search's ``achieved_mcse`` (common random numbers across n) counts the
    finite draw set too: replicated over independent draw sets, its RMS matches the spread."""
    from msbayes.oc.search import crn_metric_function

    R, K, N = 120, 200, 4000
    rng = np.random.default_rng(77)
    vals, ses = [], []
    for r in range(R):
        key = f"search_{r}"
        fake_draws[key] = rng.normal(0.15, 0.12, size=(K, 1))
        cfg = validate_config(SimConfig, _raw(f"/nowhere/{key}"))
        f = crn_metric_function(cfg, scenario="post", metric="p_go", n_sims=N, seed=cell_seed(5, {"r": r}))
        v, se = f(40)
        vals.append(v)
        ses.append(se)
    sd_emp = float(np.std(vals, ddof=1))
    rms = float(np.sqrt(np.mean(np.square(ses))))
    tol = 3 * math.sqrt(1 / (2 * (R - 1)) + float(np.var(np.square(ses))) / (R * 4 * rms**4))
    assert abs(sd_emp / rms - 1) < tol + 0.05, (sd_emp, rms, tol)
    binom = math.sqrt(np.mean(vals) * (1 - np.mean(vals)) / N)
    assert sd_emp > 2 * binom  # the binomial part alone would understate it
