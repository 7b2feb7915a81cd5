"""Accumulator: OCs and MCSEs vs direct numpy formulas and vs replication; determinism and
chunking (bit-identical growth); JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from msbayes.design.config import validate_sim_config
from msbayes.oc.accumulate import Accumulator
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell


def _outcomes(rng, n):
    true = rng.normal(0.1, 0.05, n)
    est = true + rng.normal(0.02, 0.1, n)
    est[rng.random(n) < 0.01] = np.nan
    go = rng.random(n) < 0.6
    nogo = ~go & (rng.random(n) < 0.5)
    sel = rng.integers(-1, 4, n)
    td_t = np.full(n, 5.0)
    td_e = np.where(rng.random(n) < 0.1, np.nan, rng.normal(6.0, 2.0, n))
    return {"go": go, "nogo": nogo, "est": est, "true": true, "n_total": np.full(n, 120.0), "selected": sel,
            "correct": sel == 2, "td_est": td_e, "td_true": td_t}


def test_finalize_matches_direct_formulas():
    rng = np.random.default_rng(0)
    parts = [_outcomes(rng, n) for n in (1000, 2500, 700)]
    acc = Accumulator(n_doses=4)
    for k, p in enumerate(parts):
        acc.add(p, chunk=k)
    r = acc.finalize()
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    N = len(cat["go"])
    assert r["n_sims"] == N
    for key, name in (("go", "p_go"), ("nogo", "p_nogo"), ("correct", "p_correct_dose")):
        p = cat[key].mean()
        assert r[name] == pytest.approx(p, abs=1e-15)
        assert r[f"{name}_mcse"] == pytest.approx(math.sqrt(p * (1 - p) / N), rel=1e-12)
    assert r["p_consider"] == pytest.approx(np.mean(~cat["go"] & ~cat["nogo"]), abs=1e-15)
    ok = np.isfinite(cat["est"])
    err = cat["est"][ok] - cat["true"][ok]
    assert r["bias"] == pytest.approx(err.mean(), rel=1e-12)
    assert r["bias_mcse"] == pytest.approx(err.std(ddof=1) / math.sqrt(ok.sum()), rel=1e-10)
    assert r["rmse"] == pytest.approx(math.sqrt(np.mean(err**2)), rel=1e-12)
    # delta method: sd(err^2) / sqrt(n) / (2 rmse)
    assert r["rmse_mcse"] == pytest.approx((err**2).std(ddof=1) / math.sqrt(ok.sum()) / (2 * r["rmse"]), rel=1e-9)
    assert r["mean_est"] == pytest.approx(cat["est"][ok].mean(), rel=1e-12)
    assert r["p_est_missing"] == pytest.approx(1 - ok.mean(), abs=1e-15)
    assert r["expected_n"] == 120.0 and r["expected_n_mcse"] == 0.0
    counts = np.bincount(cat["selected"] + 1, minlength=5)
    assert np.allclose(r["p_select"], counts[1:] / N) and r["p_select_none"] == pytest.approx(counts[0] / N)
    tok = np.isfinite(cat["td_est"])
    terr = cat["td_est"][tok] - 5.0
    assert r["td_bias"] == pytest.approx(terr.mean(), rel=1e-12)
    assert r["td_rmse"] == pytest.approx(math.sqrt(np.mean(terr**2)), rel=1e-12)
    assert r["p_td_missing"] == pytest.approx(1 - tok.mean())


def test_mcse_matches_replication_sd():
    # the reported MCSE of bias / RMSE / proportion equals the SD of the estimate over replicates
    rng = np.random.default_rng(1)
    reps, n = 400, 2000
    vals = {"bias": [], "rmse": [], "p_go": []}
    mcse = {k: [] for k in vals}
    for _ in range(reps):
        err = rng.standard_t(5, n) * 0.1
        acc = Accumulator()
        acc.add({"est": err, "true": np.zeros(n), "go": rng.random(n) < 0.3}, chunk=0)
        r = acc.finalize()
        for k in vals:
            vals[k].append(r[k])
            mcse[k].append(r[f"{k}_mcse"])
    from scipy import stats

    for k in vals:
        v = np.asarray(vals[k])
        sd = v.std(ddof=1)
        # relative SE of a sample SD over `reps` replicates: sqrt((kurtosis - 1) / reps) / 2
        rel_se = 0.5 * math.sqrt((stats.kurtosis(v, fisher=False) - 1) / reps)
        assert abs(np.mean(mcse[k]) / sd - 1) < 4 * rel_se, (k, np.mean(mcse[k]), sd, rel_se)


def test_merge_order_independent_and_json_round_trip():
    rng = np.random.default_rng(2)
    accs = []
    for k in range(5):
        a = Accumulator(n_doses=4)
        a.add(_outcomes(rng, 333 + k), chunk=k)
        accs.append(a)
    left = accs[0]
    for a in accs[1:]:
        left = left.merge(a)
    right = accs[4]
    for a in reversed(accs[:4]):
        right = a.merge(right)
    fl, fr = left.finalize(), right.finalize()
    for k in fl:
        assert np.array_equal(np.asarray(fl[k]), np.asarray(fr[k]), equal_nan=True), k  # NaN: draws part unknown
    again = Accumulator.from_dict(json.loads(json.dumps(left.to_dict())))
    assert again == left
    fa = again.finalize()
    assert all(np.array_equal(np.asarray(fa[k]), np.asarray(fl[k]), equal_nan=True) for k in fl)
    with pytest.raises(ValueError, match="chunks \\[2\\]"):
        left.merge(accs[2])


CFG = {
    "name": "x", "seed": 11, "endpoint": {"sd": 0.35, "dropout": 0.1},
    "design": {"type": "parallel", "n_per_arm": 40}, "scenarios": {"s": {"effect": 0.15}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.11}},
    "decision": {"go": {"p_benefit": 0.9, "p_mcid": 0.3}, "no_go": {"p_mcid_below": 0.1}},
}


@pytest.mark.parametrize("engine", ["sufficient", "patient"])
def test_determinism_and_bit_identical_growth(engine):
    cfg = validate_sim_config({**CFG, "simulation": {"engine": engine}})
    ss = cell_seed(cfg.seed, {"scenario": "s", "engine": engine})
    a = simulate_cell(cfg, "s", 3000, ss, chunk_size=1000)
    b = simulate_cell(cfg, "s", 3000, ss, chunk_size=1000)
    assert a == b
    grown = simulate_cell(cfg, "s", 1000, ss, chunk_size=1000).merge(
        simulate_cell(cfg, "s", 2000, ss, chunk_size=1000, first_chunk=1))
    fa, fg = a.finalize(), grown.finalize()
    assert all(np.array_equal(np.asarray(fa[k]), np.asarray(fg[k]), equal_nan=True) for k in fa)
    assert a.chunks == {0: 1000, 1: 1000, 2: 1000}
    other = simulate_cell(cfg, "s", 3000, cell_seed(cfg.seed, {"scenario": "s", "engine": "other"}), chunk_size=1000)
    assert other.finalize()["mean_est"] != fa["mean_est"]


def test_peak_memory_is_bounded_by_chunk(tmp_path):
    # a big cell runs chunk by chunk: memory of one chunk, not of n_sims
    import resource

    cfg = validate_sim_config({**CFG, "simulation": {"engine": "patient"}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    simulate_cell(cfg, "s", 60_000, cell_seed(1, "mem"), chunk_size=10_000)
    grew_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    # one patient-level chunk: blocks of 512 trials x 2 arms x 40 patients: well under 200 MiB
    assert grew_kib < 200 * 1024


def test_oc_to_dataset_layout():
    from msbayes.oc.dataset import oc_to_dataset

    cells = []
    for n in (20, 40):
        for sc in ("null", "mcid"):
            acc = Accumulator(n_doses=3)
            rng = np.random.default_rng(n)
            acc.add({"go": rng.random(100) < 0.5, "selected": rng.integers(-1, 3, 100)}, chunk=0)
            cells.append(({"design.n_per_arm": n, "scenario": sc}, acc.finalize()))
    ds = oc_to_dataset(cells, dims=["design.n_per_arm", "scenario"], scenario_kind={"null": "fixed", "mcid": "fixed"},
                       true_effect={"null": 0.0, "mcid": 0.182}, dose=[0, 3, 10])
    assert ds["p_go"].dims == ("design.n_per_arm", "scenario")
    assert ds["p_select"].dims == ("design.n_per_arm", "scenario", "dose")
    assert ds["p_select"].sel({"design.n_per_arm": 40, "scenario": "mcid", "dose": 10}).item() == cells[3][1]["p_select"][2]
    assert list(ds["scenario_kind"].values) == ["fixed", "fixed"] and float(ds["true_effect"].sel(scenario="mcid")) == 0.182
