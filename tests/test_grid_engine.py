"""End-to-end `msbayes simulate` with the real design engine (msbayes.simulate), checked
against independent closed forms: noncentral-t power of Student's t-test, the exact
(empirical-prior) assurance of a z-test, and exact bit-identity across backends / growth.
Also: every bad input is refused before work with the field named and nothing written.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats
from typer.testing import CliRunner

pytest.importorskip("msbayes.simulate.engine")

import typer  # noqa: E402

from msbayes.grid import run_grid  # noqa: E402
from msbayes.grid.cli import simulate_command  # noqa: E402
from msbayes.io import sha256_file  # noqa: E402

APP = typer.Typer()
APP.command()(simulate_command)


def student_power(delta, *, n, sd, alpha=0.025):
    """One-sided Student t-test power from the noncentral t (independent of the engine)."""
    df = 2 * n - 2
    ncp = delta / sd * np.sqrt(n / 2)
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, ncp))


BASE = {
    "name": "grid-e2e",
    "seed": 4242,
    "endpoint": {"name": "t25fw", "sd": 0.35, "dropout": 0.0},
    "design": {"type": "parallel", "n_per_arm": 30},
    "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025, "equal_var": True},
    "decision": {"rule": "significance", "alpha": 0.025},
    "grid": {"design.n_per_arm": [10, 40], "endpoint.sd": [0.3, 0.45]},
    "simulation": {"n_sims": 4000, "chunk_size": 1000},
}


def _write(tmp_path: Path, cfg: dict, name="cfg.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def _cli(*args) -> tuple[int, str]:
    res = CliRunner().invoke(APP, [str(a) for a in args])
    return res.exit_code, (res.stderr if res.stderr_bytes is not None else "") + res.output


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    cfg = _write(d, BASE)
    code, out = _cli(cfg, "--out", d / "out", "--backend", "sequential", "--quiet")
    assert code == 0, out
    return d / "out"


def test_cli_power_matches_noncentral_t(e2e):
    with xr.open_dataset(e2e / "oc.nc") as ds:
        for n in (10, 40):
            for sd in (0.3, 0.45):
                for scen, eff in (("null", 0.0), ("mcid", 0.1823)):
                    cell = ds.sel({"design.n_per_arm": n, "endpoint.sd": sd, "scenario": scen})
                    p = student_power(eff, n=n, sd=sd)
                    mcse = np.sqrt(p * (1 - p) / 4000)
                    assert abs(float(cell.p_reject) - p) < 4 * mcse, (n, sd, scen)
                    assert float(cell.p_go) == float(cell.p_reject)  # significance rule


def test_cli_artefacts_layout(e2e):
    with xr.open_dataset(e2e / "oc.nc") as ds:
        assert ds["p_go"].dims == ("design.n_per_arm", "endpoint.sd", "scenario")
        for v in ("p_go", "p_go_mcse", "p_nogo", "p_nogo_mcse", "p_reject", "p_reject_mcse", "n_sims",
                  "bias", "bias_mcse", "rmse", "rmse_mcse"):
            assert v in ds.data_vars, v
        assert (ds.n_sims.values == 4000).all()
        assert list(ds.scenario_kind.values) == ["fixed", "fixed"]
        assert ds.attrs["backend"] == "sequential" and ds.attrs["seed"] == 4242
        assert ds.attrs["config_text"] == (e2e.parent / "cfg.yaml").read_text()
        assert ds.attrs["data_sha256"] == ""
        df = pd.read_csv(e2e / "oc.csv", keep_default_na=False, na_values=[""])
        assert len(df) == 8
        row = df[(df["design.n_per_arm"] == 40) & (df["endpoint.sd"] == 0.45) & (df.scenario == "mcid")].iloc[0]
        assert row.p_go == float(ds.p_go.sel({"design.n_per_arm": 40, "endpoint.sd": 0.45, "scenario": "mcid"}))


def test_real_engine_backends_and_growth_bit_identical(e2e, tmp_path):
    """loky with 2 workers in shuffled order, a dask LocalCluster (2 threaded workers), and a run
    grown from 2000 to 4000 trials give the same bits as the sequential CLI run."""
    with xr.open_dataset(e2e / "oc.nc") as ref:
        ref = ref.load()
    ds = run_grid(BASE, config_text="x", out_dir=tmp_path / "l", backend="loky", n_jobs=2, quiet=True,
                  task_order_seed=5, stream=io.StringIO())
    small = json.loads(json.dumps(BASE))
    small["simulation"]["n_sims"] = 2000
    run_grid(small, config_text="x", out_dir=tmp_path / "g", backend="sequential", quiet=True, stream=io.StringIO())
    grown = run_grid(BASE, config_text="x", out_dir=tmp_path / "g", backend="sequential", quiet=True,
                     stream=io.StringIO())
    assert json.loads((tmp_path / "g" / "run.json").read_text())["chunks_computed"] == 8 * 2
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dk = run_grid(BASE, config_text="x", out_dir=tmp_path / "d", backend="dask", quiet=True,
                      scheduler=cluster.scheduler_address, stream=io.StringIO())
    for other in (ds, grown, dk):
        for v in ref.data_vars:
            assert other[v].values.tobytes() == ref[v].values.tobytes(), v


def test_search_sample_size_csv(tmp_path):
    """Smallest n with Student-t power >= 0.8 at the MCID: the search's n must be consistent
    with the exact power curve within 4 MCSE (CRN search on 4000 trials per n)."""
    cfg = json.loads(json.dumps(BASE))
    cfg["grid"] = {"endpoint.sd": [0.35]}
    cfg["search"] = {"metric": "p_reject", "target": 0.8, "scenario": "mcid", "n_min": 10, "n_max": 300,
                     "n_sims": 4000}
    cfg["simulation"]["n_sims"] = 1000
    code, out = _cli(_write(tmp_path, cfg), "--out", tmp_path / "o", "--backend", "sequential", "--quiet")
    assert code == 0, out
    df = pd.read_csv(tmp_path / "o" / "sample_size.csv")
    assert list(df.columns[:6]) == ["scenario", "metric", "target", "n_per_arm", "achieved", "achieved_mcse"]
    assert "endpoint.sd" in df.columns and len(df) == 1
    assert bool(df.monotone[0]) is True  # CRN power curve: no reversal among evaluated n
    n = int(df.n_per_arm[0])
    tol = 4 * np.sqrt(0.8 * 0.2 / 4000)
    assert student_power(0.1823, n=n, sd=0.35) >= 0.8 - tol
    assert student_power(0.1823, n=n - 1, sd=0.35) <= 0.8 + tol
    exact_n = next(m for m in range(10, 300) if student_power(0.1823, n=m, sd=0.35) >= 0.8)
    assert abs(n - exact_n) <= 6  # ~58 per arm (DESIGN.md reference fact, two-sided 5%)


def _posterior_nc(path: Path, draws: np.ndarray) -> Path:
    import arviz as az

    from msbayes.fit.artefact import effect_dataarray

    est = pd.DataFrame([{"model": "summary_log", "prior": "skeptical", "endpoint": "t25fw",
                         "population": "edss_6.0-6.5", "scale": "log_speed_ratio", "status": "estimate"}])
    eff = effect_dataarray(draws.reshape(2, -1, 1), est)
    az.InferenceData(posterior=xr.Dataset({"effect": eff})).to_netcdf(str(path))
    return path


def test_assurance_from_fit_matches_exact_empirical_assurance(tmp_path, monkeypatch):
    """Design prior from a posterior.nc: P(go) of the known-variance z-test equals the average
    over the posterior draws of Phi(theta / se - z_0.975) (exact for the resampled prior)."""
    pytest.importorskip("msbayes.fit.artefact")
    rng = np.random.default_rng(1)
    draws = rng.normal(0.15, 0.1, size=2000)
    (tmp_path / "fit").mkdir()
    post = _posterior_nc(tmp_path / "fit" / "posterior.nc", draws)
    cfg = {
        "name": "assurance", "seed": 11,
        "endpoint": {"name": "t25fw", "sd": 0.35, "strata": {"edss_6.0-6.5": 1.0}},
        "design": {"type": "parallel", "n_per_arm": 50},
        "scenarios": {"posterior": {"from_fit": "fit/posterior.nc", "model": "summary_log", "prior": "skeptical",
                                    "population": "edss_6.0-6.5"}},
        "analysis": {"method": "bayes_normal", "prior": "flat", "variance": "known"},
        "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.0}},
        "grid": {"design.n_per_arm": [20, 80]},
        "simulation": {"n_sims": 8000, "chunk_size": 4000},
    }
    monkeypatch.chdir(tmp_path)  # relative from_fit paths resolve against the working directory
    code, out = _cli(_write(tmp_path, cfg), "--out", tmp_path / "o", "--backend", "sequential", "--quiet")
    assert code == 0, out
    with xr.open_dataset(tmp_path / "o" / "oc.nc") as ds:
        assert ds.attrs["data_sha256"] == sha256_file(post) == ds.attrs["fit_posterior_sha256"]
        assert str(ds.scenario_kind.values[0]) == "design_prior" and np.isnan(ds.true_effect.values[0])
        for n in (20, 80):
            se = 0.35 * np.sqrt(2 / n)
            exact = float(np.mean(stats.norm.cdf(draws / se - stats.norm.ppf(0.975))))
            got = float(ds.p_go.sel({"design.n_per_arm": n, "scenario": "posterior"}))
            assert abs(got - exact) < 4 * np.sqrt(exact * (1 - exact) / 8000), n
    # a changed posterior changes every cell's identity: refused, never mixed
    _posterior_nc(post, draws + 0.01)
    code, out = _cli(tmp_path / "cfg.yaml", "--out", tmp_path / "o", "--backend", "sequential", "--quiet")
    assert code == 2 and "different configuration" in out


BAD = [
    ("unknown key", lambda c: c["endpoint"].__setitem__("sdd", 0.3), "endpoint.sdd"),
    # the engine names it design.parallel.n_per_arm (pydantic's union tag in the path)
    ("wrong type", lambda c: c["design"].__setitem__("n_per_arm", "sixty"), "n_per_arm"),
    ("empty axis", lambda c: c["grid"].__setitem__("design.n_per_arm", []), "grid.design.n_per_arm"),
    ("unknown axis path", lambda c: c["grid"].__setitem__("design.n_per_army", [1, 2]), "design.n_per_army"),
    ("invalid axis value", lambda c: c["grid"].__setitem__("endpoint.sd", [0.3, -1.0]), "grid.endpoint.sd"),
    ("bad backend", lambda c: c["simulation"].__setitem__("backend", "spark"), "simulation.backend"),
    ("missing fit", lambda c: c["scenarios"].__setitem__(
        "post", {"from_fit": "nope/posterior.nc", "model": "m", "prior": "p"}), "scenarios.post.from_fit"),
]


@pytest.mark.parametrize(("what", "change", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_refused_before_work(tmp_path, what, change, field):
    cfg = json.loads(json.dumps(BASE))
    change(cfg)
    out = tmp_path / "out"
    code, text = _cli(_write(tmp_path, cfg), "--out", out, "--backend", "sequential", "--quiet")
    assert code == 2, text
    assert field in text, text
    assert "Traceback" not in text
    assert not out.exists()


def test_unwritable_output_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, text = _cli(_write(tmp_path, BASE), "--out", blocker / "out", "--backend", "sequential", "--quiet")
    assert code == 2 and "--out" in text
    assert blocker.read_text() == "x"
    code, text = _cli(_write(tmp_path, BASE), "--out", "/proc/msbayes-out", "--backend", "sequential", "--quiet")
    assert code == 2 and "--out" in text


def test_missing_config_file(tmp_path):
    code, text = _cli(tmp_path / "nope.yaml", "--out", tmp_path / "o")
    assert code == 2 and "not found" in text


def test_list_valued_and_scenario_axes(tmp_path):
    """Dose sets of different sizes as a grid axis (per-dose OCs labelled by dose value, NaN
    for doses a set lacks) and a scenario field as an axis (true_effect becomes a per-cell
    coordinate)."""
    cfg = {
        "name": "dd", "seed": 3, "endpoint": {"name": "t25fw", "sd": 0.35},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
                   "dose_unit": "million cells", "reference_dose": 10, "n_per_arm": 20,
                   "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
        "analysis": {"method": "bayes_emax", "ed50_grid": {"lower": 0.3, "upper": 30.0, "n": 16},
                     "prior_e0": {"mean": 0.0, "sd": 0.5}, "prior_emax": {"mean": 0.0, "sd": 0.5}},
        "grid": {"design.doses": [[0, 10], [0, 3, 6, 10]], "scenarios.mcid.effect": [0.1823, 0.25]},
        "simulation": {"n_sims": 200, "chunk_size": 100},
    }
    ds = run_grid(cfg, config_text="x", out_dir=tmp_path, backend="sequential", quiet=True, stream=io.StringIO())
    assert ds["p_select"].dims == ("design.doses", "scenarios.mcid.effect", "scenario", "dose")
    assert list(ds["design.doses"].values) == ["[0,10]", "[0,3,6,10]"]
    assert list(ds["dose"].values) == [0, 3, 6, 10]
    sel = ds["p_select"].sel({"design.doses": "[0,10]"})
    assert np.isnan(sel.sel(dose=[3, 6]).values).all() and np.isfinite(sel.sel(dose=[0, 10]).values).all()
    # the [0, 10] set's second arm is dose 10: the engine's arm-1 selection rate sits under dose=10
    from msbayes.design.config import apply_overrides, validate_sim_config
    from msbayes.rng import cell_seed
    from msbayes.simulate.engine import simulate_cell

    key = {"design.doses": [0, 10], "scenarios.mcid.effect": 0.25, "scenario": "mcid"}
    one = validate_sim_config(apply_overrides({k: v for k, v in cfg.items() if k != "grid"},
                                              {"design.doses": [0, 10], "scenarios.mcid.effect": 0.25}))
    direct = simulate_cell(one, "mcid", 200, cell_seed(3, key), chunk_size=100).finalize()["p_select"]
    got = sel.sel({"scenarios.mcid.effect": 0.25, "scenario": "mcid"})
    np.testing.assert_array_equal(got.sel(dose=[0, 10]).values, direct)
    # probabilities of selecting each dose or none add to one
    tot = ds["p_select"].fillna(0).sum("dose") + ds["p_select_none"]
    np.testing.assert_allclose(tot.values, 1.0, rtol=0, atol=1e-12)
    te = ds["true_effect"].sel(scenario="mcid").values
    np.testing.assert_array_equal(te, [[0.1823, 0.25], [0.1823, 0.25]])
    df = pd.read_csv(tmp_path / "oc.csv", keep_default_na=False, na_values=[""])
    assert len(df) == 2 * 2 * 2 and "p_select[dose=10.0]" in df.columns and "p_select[dose=1]" not in df.columns


def test_search_metric_incompatible_with_analysis_refused_before_work(tmp_path):
    cfg = json.loads(json.dumps(BASE))
    cfg["analysis"] = {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.11}}
    cfg["decision"] = {"rule": "dual"}
    cfg["search"] = {"metric": "p_reject", "target": 0.8, "scenario": "mcid"}
    code, text = _cli(_write(tmp_path, cfg), "--out", tmp_path / "o", "--backend", "sequential", "--quiet")
    assert code == 2 and "search.metric" in text, text
    assert not (tmp_path / "o").exists()


def test_dask_local_cluster_of_processes(e2e, tmp_path):
    """The runner starts its own LocalCluster of 2 worker *processes* (tasks and the engine are
    pickled to other interpreters) and closes it; bits equal the sequential run."""
    with xr.open_dataset(e2e / "oc.nc") as ref:
        ref = ref.load()
    ds = run_grid(BASE, config_text="x", out_dir=tmp_path / "dp", backend="dask", n_jobs=2, quiet=True,
                  stream=io.StringIO())
    assert ds.attrs["backend"] == "dask" and ds.attrs["n_jobs"] == 2
    for v in ref.data_vars:
        assert ds[v].values.tobytes() == ref[v].values.tobytes(), v


def test_non_monotone_search_is_warned_with_its_coordinates():
    from msbayes.grid.runner import _warn_non_monotone

    df = pd.DataFrame([
        {"scenario": "emax", "metric": "p_correct_dose", "target": 0.6, "n_per_arm": 40, "achieved": 0.61,
         "achieved_mcse": 0.01, "reached": True, "n_evaluations": 7, "monotone": False, "endpoint.sd": 0.35},
        {"scenario": "emax", "metric": "p_correct_dose", "target": 0.6, "n_per_arm": 50, "achieved": 0.62,
         "achieved_mcse": 0.01, "reached": True, "n_evaluations": 7, "monotone": True, "endpoint.sd": 0.45},
    ])
    buf = io.StringIO()
    _warn_non_monotone(df, buf)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    assert "p_correct_dose" in lines[0] and "'endpoint.sd': 0.35" in lines[0] and "not monotone" in lines[0]
