"""Grid runner properties, checked with the exactly solvable toy engine (msbayes.grid.toy).

Determinism across backends / worker counts / order, growth, config-change detection, the
artefact layout, and agreement of the toy OCs with their closed form (an independent answer
that also checks seeding and chunk merging: duplicated or correlated chunks would inflate the
spread of the estimates).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from msbayes.config import ConfigError
from msbayes.grid import StoreMismatchError, run_grid
from msbayes.grid.toy import toy_config, toy_hooks, toy_power

HOOKS = toy_hooks()


def _run(cfg, out, **kw):
    kw.setdefault("backend", "sequential")
    kw.setdefault("quiet", True)
    kw.setdefault("stream", io.StringIO())
    return run_grid(cfg, config_text=json.dumps(cfg), out_dir=out, hooks=HOOKS, **kw)


def _stats(out) -> dict:
    return json.loads((Path(out) / "run.json").read_text())


def assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Bit-identical data variables and coordinates (attrs such as created_utc may differ)."""
    assert list(a.data_vars) == list(b.data_vars)
    assert dict(a.sizes) == dict(b.sizes)
    for name in a.variables:
        va, vb = a[name].values, b[name].values
        assert va.dtype == vb.dtype, name
        assert np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), name
        if va.dtype.kind == "f":  # bitwise, not just ==
            assert va.tobytes() == vb.tobytes(), name


CFG = toy_config(n_sims=3000, chunk_size=1000, grid={"design.n_per_arm": [10, 40], "design.sd": [0.3, 0.45]})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return _run(CFG, out, backend="sequential")


def test_toy_oc_match_closed_form(reference):
    """P(go) of the z-test and the mean estimate agree with closed forms within 4 MCSE."""
    ds = reference
    for n in ds["design.n_per_arm"].values:
        for sd in ds["design.sd"].values:
            for scen in ds.scenario.values:
                cell = ds.sel({"design.n_per_arm": n, "design.sd": sd, "scenario": scen})
                eff = float(cell.true_effect)
                p = toy_power(eff, n_per_arm=int(n), sd=float(sd))
                exact_mcse = np.sqrt(p * (1 - p) / 3000)
                assert abs(float(cell.p_go) - p) < 4 * exact_mcse
                # the reported MCSE is the binomial one evaluated at the estimate
                assert float(cell.p_go_mcse) == pytest.approx(np.sqrt(cell.p_go * (1 - cell.p_go) / 3000))
                se_mean = sd * np.sqrt(2 / n) / np.sqrt(3000)
                assert abs(float(cell.mean_est) - eff) < 4 * se_mean
                assert float(cell.mean_est_mcse) == pytest.approx(se_mean, rel=0.1)


def test_cells_are_independent_streams(reference):
    """Different cells get different streams: estimates of the two null cells with equal
    design differ (identical streams would give identical estimates)."""
    nulls = reference.sel(scenario="null")["mean_est"].values.ravel()
    assert len(set(nulls.tolist())) == nulls.size


def test_loky_1_vs_2_workers_and_shuffled_order(reference, tmp_path):
    ds1 = _run(CFG, tmp_path / "l1", backend="loky", n_jobs=1)
    ds2 = _run(CFG, tmp_path / "l2", backend="loky", n_jobs=2, task_order_seed=7)
    ds3 = _run(CFG, tmp_path / "s", backend="sequential", task_order_seed=123)
    for ds in (ds1, ds2, ds3):
        assert_same_results(reference, ds)
    assert _stats(tmp_path / "l2")["n_workers"] == 2
    assert ds2.attrs["backend"] == "loky" and ds2.attrs["n_jobs"] == 2


def test_dask_real_local_cluster(reference, tmp_path):
    """A real dask.distributed LocalCluster (2 workers, threads: processes=False for speed),
    reached through --scheduler ADDRESS."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        ds = _run(CFG, tmp_path / "d", backend="dask", scheduler=cluster.scheduler_address, task_order_seed=3)
    assert_same_results(reference, ds)
    assert ds.attrs["backend"] == "dask" and _stats(tmp_path / "d")["n_workers"] == 2


def test_dask_starts_its_own_local_cluster(reference, tmp_path):
    """Without --scheduler the runner starts (and closes) a LocalCluster itself."""
    ds = _run(CFG, tmp_path / "d2", backend="dask", n_jobs=2, dask_processes=False)
    assert_same_results(reference, ds)


def test_unreachable_scheduler_fails_before_work(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match="scheduler"):
        _run(CFG, out, backend="dask", scheduler="tcp://127.0.0.1:9", connect_timeout=2)
    assert not out.exists()


def test_ray_local_cluster_bit_identical(reference, tmp_path):
    """ray (optional extra): a local ray instance gives the sequential results bit for bit."""
    pytest.importorskip("ray")
    ds = _run(CFG, tmp_path / "ray", backend="ray", n_jobs=2, task_order_seed=5)
    assert_same_results(reference, ds)
    assert ds.attrs["backend"] == "ray"


def test_ray_missing_is_a_clear_error(tmp_path):
    """ray is an optional extra: without it, a clear error before any work."""
    import importlib.util

    if importlib.util.find_spec("ray") is not None:  # pragma: no cover
        pytest.skip("ray is installed")
    with pytest.raises(ConfigError, match="ray is not installed"):
        _run(CFG, tmp_path / "r", backend="ray")
    assert not (tmp_path / "r").exists()


def test_rerun_computes_nothing_and_is_identical(reference, tmp_path):
    out = tmp_path / "o"
    ds1 = _run(CFG, out)
    st1 = _stats(out)
    ds2 = _run(CFG, out, backend="loky", n_jobs=2)  # backend change is not a config change
    st2 = _stats(out)
    assert st1["chunks_computed"] == 8 * 3 and st2["chunks_computed"] == 0
    assert st2["cells_complete_at_start"] == 8
    assert_same_results(ds1, ds2)
    assert_same_results(reference, ds2)


def test_partial_store_only_missing_cells_computed(reference, tmp_path):
    """Delete some stored cells: a rerun recomputes exactly those, result unchanged."""
    out = tmp_path / "p"
    _run(CFG, out)
    cell_dirs = sorted((out / "cells").glob("*/"))
    assert len(cell_dirs) == 8
    for d in cell_dirs[:3]:
        shutil.rmtree(d)
    ds = _run(CFG, out)
    st = _stats(out)
    assert st["cells_complete_at_start"] == 5 and st["chunks_computed"] == 3 * 3
    assert_same_results(reference, ds)


def test_growing_n_sims_adds_only_new_chunks(tmp_path):
    small = toy_config(n_sims=2000, chunk_size=1000)
    big = toy_config(n_sims=5000, chunk_size=1000)
    out = tmp_path / "g"
    _run(small, out)
    assert _stats(out)["chunks_computed"] == 4 * 2
    grown = _run(big, out)
    assert _stats(out)["chunks_computed"] == 4 * 3
    fresh = _run(big, tmp_path / "fresh")
    assert_same_results(fresh, grown)
    assert int(grown.n_sims.min()) == 5000


def test_growing_with_partial_last_chunk(tmp_path):
    """n_sims not a multiple of chunk_size: the partial chunk is recomputed full-size when the
    cell grows; result still equals a fresh run."""
    out = tmp_path / "g"
    _run(toy_config(n_sims=1500, chunk_size=1000), out)
    grown = _run(toy_config(n_sims=2500, chunk_size=1000), out)
    assert _stats(out)["chunks_computed"] == 4 * 2  # chunk 1 (now full) and chunk 2 (partial)
    fresh = _run(toy_config(n_sims=2500, chunk_size=1000), tmp_path / "fresh")
    assert_same_results(fresh, grown)


def test_adding_grid_values_reuses_existing_cells(tmp_path):
    out = tmp_path / "a"
    _run(toy_config(n_sims=1000, chunk_size=500, grid={"design.n_per_arm": [10, 40]}), out)
    ds = _run(toy_config(n_sims=1000, chunk_size=500, grid={"design.n_per_arm": [10, 40, 80]}), out)
    assert _stats(out)["chunks_computed"] == 2 * 2  # only the two new cells (2 scenarios)
    fresh = _run(toy_config(n_sims=1000, chunk_size=500, grid={"design.n_per_arm": [10, 40, 80]}), tmp_path / "f")
    assert_same_results(fresh, ds)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["design"].__setitem__("sd", 0.5),
        lambda c: c.__setitem__("seed", 1),
        lambda c: c["scenarios"]["mcid"].__setitem__("effect", 0.2),
        lambda c: c["simulation"].__setitem__("chunk_size", 250),
    ],
    ids=["endpoint-value", "seed", "scenario", "chunk_size"],
)
def test_changed_config_refused_never_mixed(tmp_path, change):
    out = tmp_path / "c"
    cfg = toy_config(n_sims=1000, chunk_size=500)
    ds_old = _run(cfg, out)
    before = sorted(p.name for p in (out / "cells").rglob("*.json"))
    cfg2 = json.loads(json.dumps(cfg))
    change(cfg2)
    with pytest.raises(StoreMismatchError, match="different configuration"):
        _run(cfg2, out)
    assert sorted(p.name for p in (out / "cells").rglob("*.json")) == before  # untouched
    ds_keep = xr.open_dataset(out / "oc.nc")
    assert_same_results(ds_old, ds_keep.load())
    ds_keep.close()
    # --force discards the old cells and equals a fresh run of the new config
    forced = _run(cfg2, out, force=True)
    fresh = _run(cfg2, tmp_path / "fresh")
    assert_same_results(fresh, forced)
    assert _stats(out)["chunks_computed"] == _stats(tmp_path / "fresh")["chunks_computed"]


def test_labels_do_not_change_the_hash(tmp_path):
    out = tmp_path / "n"
    cfg = toy_config(n_sims=1000, chunk_size=500)
    _run(cfg, out)
    cfg2 = {**cfg, "name": "renamed", "simulation": {**cfg["simulation"], "backend": "dask", "n_jobs": 3}}
    _run(cfg2, out)
    assert _stats(out)["chunks_computed"] == 0


def test_oc_nc_layout_and_tidy_csv(reference, tmp_path):
    out = tmp_path / "lay"
    _run(CFG, out)
    ds = xr.open_dataset(out / "oc.nc").load()
    assert ds["p_go"].dims == ("design.n_per_arm", "design.sd", "scenario")
    assert list(ds["design.n_per_arm"].values) == [10, 40]
    assert list(ds["design.sd"].values) == [0.3, 0.45]
    assert list(ds.scenario.values) == ["null", "mcid"]
    for v in ("p_go", "p_go_mcse", "mean_est", "mean_est_mcse", "n_sims"):
        assert v in ds.data_vars
    assert list(ds.scenario_kind.values) == ["fixed", "fixed"]
    assert list(ds.true_effect.values) == [0.0, 0.1823]
    for a in ("msbayes_version", "config_text", "config_sha256", "data_sha256", "seed", "created_utc",
              "backend", "n_jobs"):
        assert a in ds.attrs
    assert ds.attrs["seed"] == CFG["seed"] and ds.attrs["config_text"] == json.dumps(CFG)
    assert_same_results(reference, ds)
    df = pd.read_csv(out / "oc.csv", keep_default_na=False, na_values=[""])
    assert len(df) == 2 * 2 * 2
    assert list(df.columns[:6]) == ["design.n_per_arm", "design.sd", "scenario", "scenario_kind",
                                   "true_effect", "n_sims"]
    for _, row in df.iterrows():
        cell = ds.sel({"design.n_per_arm": row["design.n_per_arm"], "design.sd": row["design.sd"],
                       "scenario": row["scenario"]})
        for v in ("p_go", "p_go_mcse", "mean_est", "mean_est_mcse"):
            assert row[v] == float(cell[v])  # CSV floats round-trip exactly
        assert row["n_sims"] == 3000
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".msbayes-probe")]
    assert leftovers == []


def test_list_valued_axis_gets_text_labels(tmp_path):
    """Axis values that are lists (dose sets, allocations) are labelled by canonical JSON."""
    from msbayes.grid.hooks import EngineHooks
    from msbayes.grid.toy import ToyAccumulator, set_dotted, toy_simulate_cell, toy_validate

    def sim(cfg, scenario, n_sims, ss, *, chunk_size=None, first_chunk=0):
        return toy_simulate_cell(cfg, scenario, n_sims, ss, chunk_size=chunk_size, first_chunk=first_chunk)

    def set_weird(raw, ov):  # map a list-valued axis onto n_per_arm = sum(list)
        ov = {("design.n_per_arm" if k == "design.n_list" else k): (sum(v) if k == "design.n_list" else v)
              for k, v in ov.items()}
        return set_dotted(raw, ov)

    hooks = EngineHooks(validate=toy_validate, apply_overrides=set_weird, simulate_cell=sim,
                        accumulator_from_dict=ToyAccumulator.from_dict)
    cfg = toy_config(n_sims=500, chunk_size=500, grid={"design.n_list": [[5, 5], [10, 30]]})
    ds = run_grid(cfg, config_text="x", out_dir=tmp_path, hooks=hooks, backend="sequential", quiet=True,
                  stream=io.StringIO())
    assert list(ds["design.n_list"].values) == ["[5,5]", "[10,30]"]
    ds2 = xr.open_dataset(tmp_path / "oc.nc")
    assert list(ds2["design.n_list"].values) == ["[5,5]", "[10,30]"]
    ds2.close()


def test_rich_progress_and_quiet_log(tmp_path):
    """The default reporter is a rich bar (cells done / total, trials/s, time left); quiet
    gives plain lines."""
    buf = io.StringIO()
    _run(toy_config(n_sims=1000, chunk_size=500), tmp_path / "r", quiet=False, stream=buf)
    text = buf.getvalue()
    assert "cells 4/4" in text and "trials/s" in text and "time left" in text
    buf = io.StringIO()
    _run(toy_config(n_sims=1000, chunk_size=500), tmp_path / "q", quiet=True, stream=buf)
    lines = buf.getvalue().splitlines()
    assert all(line.startswith("[msbayes simulate]") for line in lines)
    assert any("cells 4/4" in line and "trials/s" in line for line in lines)


@pytest.mark.parametrize(
    ("grid", "field"),
    [
        ({"design.n_per_arm": []}, "grid.design.n_per_arm"),
        ({"design.n_per_arm": 20}, "grid.design.n_per_arm"),
        ({"design.n_per_arm": [20, 20]}, "grid.design.n_per_arm"),
        ({"simulation.n_sims": [100, 200]}, "grid.simulation.n_sims"),
        ({"scenario": ["a"]}, "grid.scenario"),
        ({"design.n_per_arm": [10, 1]}, "grid.design.n_per_arm"),  # n >= 2 in the toy model
        ({"design.sdd": [0.3]}, "grid.design.sdd"),
    ],
    ids=["empty", "not-a-list", "duplicates", "run-setting", "scenario", "invalid-value", "unknown-path"],
)
def test_bad_grid_refused_before_anything_is_written(tmp_path, grid, field):
    out = tmp_path / "o"
    with pytest.raises(ConfigError) as ei:
        _run(toy_config(n_sims=100, chunk_size=100, grid=grid), out)
    assert field in str(ei.value)
    assert any(f == field for f, _ in ei.value.errors)
    assert not out.exists()
