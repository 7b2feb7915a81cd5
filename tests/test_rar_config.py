"""``design.type: rar`` through configs and the grid runner.

* bad input refused before any work, naming the dotted field;
* the chunk function reproduces :func:`msbayes.adaptive.simulate_rar` trial by trial on the same
  seed (the core called with hand-written arguments, not the chunk's mapping);
* ``p_go`` under the global null within 3 MCSE of the type I error the threshold was calibrated
  to (fresh random numbers);
* P(select the best arm), IDP and the selected arm's RMSE against the core's ``performance()``
  on independent seeds, and IDP against its per-cell formula from ``p_selected``;
* identical bits for the loky and sequential backends; one run through ``msbayes simulate``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from msbayes.adaptive import calibrate_superiority, simulate_rar
from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell

EFF = {"1": 0.1, "2": 0.15, "4": 0.18}
RAR = {
    "name": "r", "seed": 11, "endpoint": {"name": "t25fw", "sd": 0.35},
    "design": {"type": "rar", "doses": [0, 1, 2, 4], "n_per_arm": 40,  # looks: default [0.25, 0.5, 0.75, 1]
               "allocation": {"control_share": 0.25, "power": 0.5, "min_allocation": 0.1},
               "stopping": {"comparison": "control", "superiority": 0.99, "inferiority": 0.01}},
    "scenarios": {"null": {"effect": {"1": 0.0, "2": 0.0, "4": 0.0}}, "emax": {"effect": EFF}},
    "simulation": {"n_sims": 2000, "chunk_size": 1000},
}
_DELETE = object()


def _with(base, path, value):
    raw = copy.deepcopy(base)
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is _DELETE:
        node.pop(parts[-1])
    else:
        node[parts[-1]] = value
    return raw


BAD = [
    # (dotted path, value, field named in the error, words in the message)
    ("design.allocation.min_allocation", 0.3, "design.allocation.min_allocation", "floors sum above"),
    ("design.allocation", {"control_allocation": "thompson", "min_allocation": 0.3},
     "design.allocation.min_allocation", "floors sum above"),
    ("design.allocation.control_share", 1.0, "design.allocation.control_share", "(0, 1)"),
    ("design.allocation.control_share", 0.0, "design.allocation.control_share", "(0, 1)"),
    ("design.allocation.power", -1.0, "design.allocation.power", ">= 0"),
    ("design.allocation.max_allocation", 0.2, "design.allocation.max_allocation", "start allocation"),
    ("design.allocation.control_allocation", "bandit", "design.allocation.control_allocation", "thompson"),
    ("design.stopping.superiority", 1.0, "design.stopping.superiority", "(0, 1)"),
    ("design.stopping.inferiority", 0.0, "design.stopping.inferiority", "(0, 1)"),
    ("design.stopping.inferiority", 0.995, "design.stopping", "below superiority"),
    ("design.stopping.futility", {"prob": 1.5}, "design.stopping.futility.prob", "(0, 1)"),
    ("design.stopping.equivalence", {"prob": 0.9, "diff": 0.0}, "design.stopping", "equivalence.diff"),
    ("design.stopping", {"comparison": "best", "futility": {"prob": 0.1}}, "design.stopping", "comparison 'control'"),
    ("design.stopping.comparison", "placebo", "design.stopping.comparison", "best"),
    ("design.looks", [0.5, 0.25, 1.0], "design.looks", "increase"),
    ("design.looks", [0.5, 0.9], "design.looks", "end at 1"),
    ("design.block_sizes", [40, 40, 40], "design.block_sizes", "sum"),
    ("design.doses", [1, 2, 4], "design.doses", "control dose 0"),
    ("design.arms", ["placebo", "a", "b", "c"], "design.doses / design.arms", "exactly one"),
    ("design.select", "list", "design.select_preferences", "allowed"),
    ("design.select_preferences", ["9"], "design.select_preferences", "only used with select: list"),
    ("design.alpha", 0.5, "design.alpha", "(0, 0.5)"),
    ("scenarios.emax.effect", {"1": 0.1, "2": 0.1}, "scenarios.emax.effect", "dose labels"),
    ("scenarios.emax.effect", 0.2, "scenarios.emax", "one effect per dose"),
    ("decision", {"rule": "significance", "alpha": 0.025}, "decision", "design.stopping.superiority"),
    ("endpoint.dropout", 0.1, "endpoint.dropout", "without dropout"),
]


@pytest.mark.parametrize("path,value,field,words", BAD, ids=[f"{p}:{i}" for i, (p, *_r) in enumerate(BAD)])
def test_bad_input_refused_naming_the_field(path, value, field, words):
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(RAR, path, value))
    assert field in str(exc.value), str(exc.value)
    assert words in str(exc.value), str(exc.value)


def test_fixed_allocation_refuses_blocks_that_do_not_split():
    raw = _with(RAR, "design.allocation.adaptive", False)
    validate_sim_config(raw)  # 40 patients per block split 10/10/10/10
    with pytest.raises(ConfigError) as exc:
        validate_sim_config(_with(raw, "design.n_per_arm", 41))
    assert "design.looks" in str(exc.value) and "split exactly" in str(exc.value)


def test_sizes_and_named_arms():
    d = validate_sim_config(RAR).design
    assert d.n_max == 160 and d.block_sizes_total() == [40, 40, 40, 40]
    b = validate_sim_config(_with(RAR, "design.block_sizes", [20, 60, 80])).design
    assert b.cumulative_n() == [20, 80, 160] and b.block_sizes_total() == [20, 60, 80]
    c = validate_sim_config(_with(RAR, "design.looks_n", [30, 100, 160])).design
    assert c.cumulative_n() == [30, 100, 160] and c.block_sizes_total() == [30, 70, 60]
    with pytest.raises(ConfigError, match="design.looks_n"):
        validate_sim_config(_with(RAR, "design.looks_n", [30, 100, 150]))
    with pytest.raises(ConfigError, match="give one of them"):
        validate_sim_config(_with(_with(RAR, "design.block_sizes", [80, 80]), "design.looks", [0.5, 1.0]))
    raw = _with(RAR, "design.doses", _DELETE)
    raw["design"]["arms"] = ["placebo", "low", "high"]
    raw["design"]["select"] = "list"
    raw["design"]["select_preferences"] = ["high", "placebo"]
    raw["scenarios"] = {"null": {"effect": {"low": 0.0, "high": 0.0}}}
    cfg = validate_sim_config(raw)
    assert cfg.design.n_max == 120 and cfg.design.all_labels == ["placebo", "low", "high"]
    from msbayes.simulate.rar_chunk import select_kwargs

    assert select_kwargs(cfg) == {"select_strategy": "list", "select_preferences": [2, 0]}


# ------------------------------------------------------------------ the chunk vs the core
def test_chunk_reproduces_simulate_rar_trial_by_trial():
    from msbayes.simulate.rar_chunk import simulate_chunk

    raw = _with(RAR, "design.stopping.futility", {"prob": 0.2, "diff": 0.1})
    raw["scenarios"]["mixed"] = {"effect": {"1": -0.05, "2": 0.0, "4": 0.15}}
    cfg = validate_sim_config(raw)
    n = 400
    out = simulate_chunk(cfg, "mixed", n, np.random.default_rng(123))
    seed = np.random.SeedSequence(int(np.random.default_rng(123).integers(0, 2**63)))
    res = simulate_rar(np.array([-0.05, 0.0, 0.15]), block_sizes=(40, 40, 40, 40), sd=0.35, control_share=0.25,
                       power=0.5, min_allocation=0.1, prior_mean=0.0, prior_sd=1.0, superiority=0.99,
                       inferiority=0.01, futility_prob=0.2, futility_diff=0.1, comparison="control",
                       n_sims=n, seed=seed, chunk_size=n)
    sel = res.selected("best")
    np.testing.assert_array_equal(out["go"], res.superiority_decision)
    np.testing.assert_array_equal(out["outcome_futility"], res.outcome == 3)
    np.testing.assert_array_equal(out["outcome_max"], res.outcome == 0)
    np.testing.assert_array_equal(out["n_control"], res.n_arm[:, 0])
    np.testing.assert_array_equal(out["n_total"], res.n_arm.sum(axis=1))
    np.testing.assert_array_equal(out["reject"], res.rejected.any(axis=1))
    for g in range(3):
        np.testing.assert_array_equal(out[f"n_arm{g}"], res.n_arm[:, g + 1])
        np.testing.assert_array_equal(out[f"selected_dose{g}"], sel == g + 1)
    np.testing.assert_array_equal(out["select_control"], sel == 0)
    dose = sel >= 1
    np.testing.assert_allclose(out["est"][dose], res.estimate[dose, sel[dose]] - res.estimate[dose, 0], rtol=0, atol=0)
    assert np.isnan(out["est"][~dose]).all()
    # the per-trial outcomes of the chunk give the core's adaptr metrics on the same trials
    perf = res.performance(select_strategy="best")
    assert np.nanmean(out["idp"]) == pytest.approx(perf["idp"][0], rel=1e-12)
    assert np.nanmean(out["select_best"]) == pytest.approx(perf["prob_select_best"][0], rel=1e-12)
    assert np.sqrt(np.nanmean((out["est"] - out["true"]) ** 2)) == pytest.approx(perf["rmse_te"][0], rel=1e-12)
    assert out["outcome_futility"].any() and out["go"].any() and (~out["go"]).any()  # the rules were exercised


# ------------------------------------------------------------------ type I error and selection
def test_p_go_under_the_global_null_matches_the_calibrated_target():
    """Calibrate on one seed; simulate the config at the threshold on fresh cell seeds."""
    from msbayes.simulate.rar_chunk import core_kwargs

    target, n_cal, n_chk = 0.025, 20_000, 20_000
    cfg0 = validate_sim_config(RAR)
    kw = {k: v for k, v in core_kwargs(cfg0).items() if k != "superiority"}
    cal = calibrate_superiority(3, target=target, n_sims=n_cal, seed=99, **kw)
    assert 0.9 < cal.threshold < 1
    cfg = validate_sim_config(_with(RAR, "design.stopping.superiority", cal.threshold))
    r = simulate_cell(cfg, "null", n_chk, cell_seed(7, {"scenario": "null"}), chunk_size=10_000).finalize()
    # the fresh rate varies by its own MCSE and by the calibration's (the threshold is a
    # quantile of n_cal trials)
    se = np.sqrt(r["p_go_mcse"] ** 2 + target * (1 - target) / n_cal)
    assert abs(r["p_go"] - target) < 3 * se, (r["p_go"], se, cal)
    assert r["p_go"] == r["p_superiority_decision"]
    # without calibration the nominal 0.99 threshold, checked at 4 looks x 3 doses, is anti-conservative
    r99 = simulate_cell(cfg0, "null", n_chk, cell_seed(7, {"scenario": "null"}), chunk_size=10_000).finalize()
    assert r99["p_go"] - 3 * r99["p_go_mcse"] > target


def test_selection_idp_and_rmse_match_the_core_on_independent_seeds():
    cfg = validate_sim_config(RAR)
    r = simulate_cell(cfg, "emax", 20_000, cell_seed(3, {"scenario": "emax"}), chunk_size=10_000).finalize()
    core = simulate_rar(np.array([0.1, 0.15, 0.18]), block_sizes=(40, 40, 40, 40), sd=0.35, control_share=0.25,
                        power=0.5, min_allocation=0.1, superiority=0.99, inferiority=0.01, n_sims=20_000,
                        seed=2024).performance(select_strategy="best")
    for ours, theirs in (("mean_select_best", "prob_select_best"), ("mean_idp", "idp"), ("rmse", "rmse_te"),
                         ("bias", "bias_te"), ("expected_n", "n_total"), ("p_outcome_max", "prob_max")):
        se = np.hypot(r[f"{ours}_mcse"], core[theirs][1])
        assert abs(r[ours] - core[theirs][0]) < 4 * se, (ours, r[ours], core[theirs], se)
    ps = r["p_selected"]  # control first
    assert ps[0] == r["p_select_control"] and ps[3] == r["mean_select_best"]  # dose 4 is the best arm
    assert abs(r["mean_alloc_arm"].sum() - 1) < 1e-12
    # IDP by its per-cell formula from the selection probabilities (true means 0, .1, .15, .18)
    mu = np.array([0.0, 0.1, 0.15, 0.18])
    idp = 100 * np.sum(ps * (mu - mu.min()) / (mu.max() - mu.min())) / ps.sum()
    assert r["mean_idp"] == pytest.approx(idp, rel=1e-9)


# ------------------------------------------------------------------ backends, oc.nc and the CLI
def test_loky_and_sequential_backends_give_the_same_bits(tmp_path):
    from msbayes import simulate_design

    raw = copy.deepcopy(RAR)
    raw["grid"] = {"design.n_per_arm": [20, 40]}
    seq = simulate_design(raw, backend="sequential", quiet=True).oc
    lok = simulate_design(raw, backend="loky", n_jobs=2, quiet=True).oc
    for name in seq.data_vars:
        np.testing.assert_array_equal(seq[name].values, lok[name].values, err_msg=name)
    assert seq["p_selected"].dims == ("design.n_per_arm", "scenario", "dose")
    assert seq["mean_alloc_arm"].dims == ("design.n_per_arm", "scenario", "dose")
    assert seq["dose"].values.tolist() == [0.0, 1.0, 2.0, 4.0]
    assert "declared superior" in seq.attrs["decision_rule"]
    for v in ("p_go", "p_outcome_superiority", "p_outcome_max", "mean_idp", "mean_select_best", "rmse", "bias",
              "expected_n", "n_max"):
        assert v in seq, v


def test_named_arms_run_through_the_grid_with_the_arm_names_as_coordinate():
    from msbayes import simulate_design

    raw = _with(RAR, "design.doses", _DELETE)
    raw["design"].update(arms=["placebo", "low", "high"], select="list", select_preferences=["high", "low"],
                         stopping={"comparison": "best", "superiority": 0.98, "inferiority": 0.02})
    raw["scenarios"] = {"alt": {"effect": {"low": 0.1, "high": 0.25}}}
    raw["simulation"] = {"n_sims": 1000, "chunk_size": 1000}
    ds = simulate_design(raw, backend="sequential", quiet=True).oc
    assert ds["dose"].values.tolist() == ["placebo", "low", "high"]
    ps = ds["p_selected"].sel(scenario="alt").values
    assert abs(ps.sum() + float(ds["p_select_none"].sel(scenario="alt")) - 1) < 1e-12


def test_msbayes_simulate_cli_runs_a_rar_config(tmp_path):
    import xarray as xr
    import yaml
    from typer.testing import CliRunner

    from msbayes.cli import app

    raw = _with(RAR, "simulation", {"n_sims": 1000, "chunk_size": 500, "backend": "sequential"})
    cfg = tmp_path / "rar.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(app, ["simulate", str(cfg), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    with xr.open_dataset(tmp_path / "out" / "oc.nc") as ds:
        assert int(ds["n_sims"].sel(scenario="emax")) == 1000
        assert 0 < float(ds["p_go"].sel(scenario="emax")) < 1
