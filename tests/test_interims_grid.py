"""Designs with interims through the grid runner: the oc.nc contract (look dimension, per-cell
look quantities), the same bits for any backend / worker count / growth, the sample-size
search against the analytic maximum n, and the shipped example's type I error."""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from msbayes.config import load_yaml
from msbayes.design.config import validate_sim_config
from msbayes.design.interims import group_sequential_of, look_patients
from msbayes.grid.runner import run_grid
from msbayes.oc.search import search_sample_size
from msbayes.sequential.boundaries import crossing_probabilities, sample_size_means
from msbayes.sequential.simulate import analytic_probabilities

ROOT = Path(__file__).resolve().parents[1]
SD = 0.35
MCID = math.log(1.2)

BASE = {
    "name": "seq-grid", "seed": 5,
    "endpoint": {"sd": SD, "mcid": MCID, "dropout": 0.1},
    "design": {"type": "parallel", "n_per_arm": 40},
    "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": MCID}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
    "interims": {"looks": [0.5, 1.0], "timing": "accrual", "accrual": {"rate": 4.0, "follow_up": 13.0},
                 "efficacy": {"spending": "obf"}, "futility": {"spending": "obf"}},
    "grid": {"design.n_per_arm": [40, 80]},
    "simulation": {"n_sims": 4000, "chunk_size": 2000},
}

PER_LOOK = ("p_efficacy", "p_futility", "p_stop", "cumulative_p_go")
CELL_LOOK = ("information_fraction", "bound_efficacy_z", "bound_futility_z", "bound_efficacy_effect",
             "bound_futility_effect", "n_analysed_at_look", "n_randomised_at_look", "time_at_look")
SCALARS = ("p_go", "expected_n", "bias", "rmse", "bias_mue", "expected_duration", "n_q10", "n_q50", "n_q90")


def _run(raw, out, **kw):
    kw.setdefault("backend", "sequential")
    return run_grid(raw, config_text="x", out_dir=out, quiet=True, stream=io.StringIO(), **kw)


@pytest.fixture(scope="module")
def seq_ds(tmp_path_factory):
    return _run(BASE, tmp_path_factory.mktemp("seq") / "o").load()


def test_oc_nc_contract(seq_ds):
    ds = seq_ds
    assert ds["look"].values.tolist() == [1, 2]
    for v in PER_LOOK:
        assert ds[v].dims == ("design.n_per_arm", "scenario", "look"), v
        assert ds[f"{v}_mcse"].dims == ds[v].dims
    for v in CELL_LOOK:
        assert ds[v].dims == ("design.n_per_arm", "look"), v
    for v in SCALARS:
        assert ds[v].dims == ("design.n_per_arm", "scenario"), v
    for v in ("bias_mue_mcse", "expected_duration_mcse"):
        assert v in ds
    assert ds["n_max"].dims == ("design.n_per_arm",)
    assert ds["n_max"].values.tolist() == [80, 160]
    assert not any(v.endswith("_look1") or "_look1_" in v for v in ds.data_vars)
    assert ds.attrs["interims"].startswith("2 looks at 50%, 100% of information (timed by accrual")
    # the per-look stop probabilities add up; the final efficacy bound is the one the design computes
    np.testing.assert_allclose(ds["p_stop"].sum("look"), 1.0)
    np.testing.assert_allclose(ds["cumulative_p_go"].isel(look=-1), ds["p_go"])
    assert np.isnan(ds["bound_futility_z"].isel(look=-1)).all()
    cfg = validate_sim_config(BASE)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    np.testing.assert_allclose(ds["bound_efficacy_z"].isel({"design.n_per_arm": 0}), d.critical_values)
    # accrual: n = 80 per arm -> look 1: 80 due, at 80 / 4 + 13 = 33 months, 80 + 52 = 132 randomised
    c = ds.sel({"design.n_per_arm": 80})
    assert c["time_at_look"].values.tolist() == [33.0, 53.0]
    assert c["n_randomised_at_look"].values.tolist() == [132.0, 160.0]
    assert c["n_analysed_at_look"].values.tolist() == pytest.approx([72.0, 144.0])
    # effect-scale bounds: z bound x planned SE of the difference at the expected completers
    se = SD * np.sqrt(2 / (0.9 * np.array([40.0, 80.0])))
    np.testing.assert_allclose(c["bound_efficacy_effect"], np.array(d.critical_values) * se)
    # expected n and duration from the per-look stop probabilities (exact identities)
    p1 = c["p_stop"].isel(look=0)
    np.testing.assert_allclose(c["expected_n"], 132 * p1 + 160 * (1 - p1))
    np.testing.assert_allclose(c["expected_duration"], 33 * p1 + 53 * (1 - p1))


def test_fixed_design_has_no_look_dimension(tmp_path):
    raw = copy.deepcopy(BASE)
    del raw["interims"]
    ds = _run(raw, tmp_path / "f")
    assert "look" not in ds.dims and "interims" not in ds.attrs
    assert not any(v in ds for v in (*PER_LOOK, *CELL_LOOK, "est_mue", "bias_mue", "n_q50"))


@pytest.mark.slow
def test_same_bits_for_workers_backends_and_growth(seq_ds, tmp_path):
    lk = _run(BASE, tmp_path / "l", backend="loky", n_jobs=2, task_order_seed=3)
    small = copy.deepcopy(BASE)
    small["simulation"]["n_sims"] = 2000
    _run(small, tmp_path / "g")
    grown = _run(BASE, tmp_path / "g")
    for other in (lk, grown):
        for v in seq_ds.data_vars:
            assert other[v].values.tobytes() == seq_ds[v].values.tobytes(), v


def test_search_finds_the_analytic_maximum_n():
    """z statistic, no dropout, OBF efficacy + OBF beta-spending futility at beta = 0.2: the
    design's power is 0.8 at n_max = inflation factor x fixed n (rpact's getSampleSizeMeans,
    normal approximation). The search's n lies within the n-range that its MCSE allows: the
    exact power (recursive integration) at n is >= 0.8 - 3 MCSE and at n - 1 <= 0.8 + 3 MCSE."""
    delta = 0.2624
    raw = copy.deepcopy(BASE)
    raw["endpoint"]["dropout"] = 0.0
    raw["interims"] = {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}, "futility": {"spending": "obf"},
                       "statistic": "z"}
    raw["scenarios"] = {"target": {"effect": delta}}
    raw["search"] = {"metric": "p_go", "target": 0.8, "scenario": "target", "n_min": 20, "n_max": 400,
                     "n_sims": 40_000}
    del raw["grid"]
    cfg = validate_sim_config(raw)
    d = group_sequential_of(cfg.interims, alpha=0.025)
    analytic = sample_size_means(d, alternative=delta, sd=SD, normal_approximation=True).n_max / 2
    res = search_sample_size(cfg)
    assert res.reached

    def exact(n):
        k = look_patients([0.5, 1.0], n)
        return analytic_probabilities(d, k, k, effect=delta, sd=SD).power

    tol = 3 * res.achieved_mcse
    assert exact(res.n) >= 0.8 - tol and exact(res.n - 1) <= 0.8 + tol, (res.n, analytic)
    slope = exact(res.n) - exact(res.n - 1)
    assert abs(res.n - analytic) <= tol / slope + 1, (res.n, analytic, tol / slope)


def test_shipped_example_type_one_error(tmp_path):
    """configs/design/two_arm_sequential.yaml under no effect (the design prior left out: it
    needs a fit): P(go) within 3 MCSE of the exact probability of crossing an efficacy bound
    with the futility stops obeyed (<= the one-sided alpha 0.025), at every maximum n."""
    raw, _ = load_yaml(ROOT / "configs" / "design" / "two_arm_sequential.yaml")
    raw = copy.deepcopy(raw)
    raw["scenarios"] = {"null": raw["scenarios"]["null"]}
    raw.pop("search", None)
    raw["simulation"] = {"n_sims": 40_000, "chunk_size": 10_000}
    ds = _run(raw, tmp_path / "ex")
    cfg = validate_sim_config(raw)
    d = group_sequential_of(cfg.interims, alpha=cfg.decision.alpha)
    exact = crossing_probabilities(d.information_rates, d.critical_values, d.futility_bounds, 0.0).power
    assert exact <= 0.025 + 1e-9
    p = ds["p_go"].sel(scenario="null").values
    mcse = ds["p_go_mcse"].sel(scenario="null").values
    assert np.all(np.abs(p - exact) <= 3 * mcse), (p, exact, mcse)

