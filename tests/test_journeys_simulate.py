"""End-to-end journeys through ``msbayes simulate`` / ``report`` / ``run`` (issue 10).

Each journey runs the real command line on a small config with non-default values and checks
exit codes, messages and file contents. Expected statistical values come from closed forms
(normal CDFs, the t distribution), never from the code under test.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats
from typer.testing import CliRunner

pytest.importorskip("msbayes.simulate.engine")

from msbayes.cli import app  # noqa: E402
from msbayes.design.config import validate_sim_config  # noqa: E402
from msbayes.oc.search import crn_metric_function, metric_ceiling  # noqa: E402


def _cli(*args) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    err = res.stderr if res.stderr_bytes is not None else ""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        err += "".join(traceback.format_exception(res.exception))
    return res.exit_code, err + res.output


def _write(d: Path, name: str, cfg: dict) -> Path:
    p = d / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return p


def _simulate(cfg_path: Path, out: Path, *extra) -> tuple[int, str]:
    return _cli("simulate", cfg_path, "--out", out, "--backend", "sequential", "--quiet", *extra)


def _csv(p: Path) -> pd.DataFrame:
    return pd.read_csv(p, keep_default_na=False, na_values=[""])


TWO_ARM = {
    "name": "journey-two-arm",
    "seed": 4242,
    "endpoint": {"sd": 0.3, "placebo_mean": -0.1, "mcid": 0.15, "dropout": 0.0},
    "design": {"type": "parallel", "arms": ["control", "active"], "n_per_arm": 30},
    "scenarios": {"null": {"effect": 0.0}, "big": {"effect": 0.25}},
    "analysis": {"method": "welch", "alpha": 0.1, "sided": "two", "equal_var": True},
    "simulation": {"n_sims": 6000, "chunk_size": 3000},
}


def _t_power(delta: float, n: int, sd: float, *, alpha: float, sided: str) -> float:
    """Closed-form power of the equal-n Student t-test (noncentral t, df = 2n - 2)."""
    df, ncp = 2 * n - 2, delta / sd * math.sqrt(n / 2)
    if sided == "two":
        tc = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.nct.sf(tc, df, ncp) + stats.nct.cdf(-tc, df, ncp))
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, ncp))


# ------------------------------------------------------------------ 1. no grid, one alpha
def test_simulate_without_grid_and_one_alpha(tmp_path):
    """No ``grid:`` (default {}): oc.nc has only the scenario dim; welch without ``decision:``
    decides by its own test (go = significant in favour at alpha/2 one-sided) and says so."""
    cfg = _write(tmp_path, "c.yaml", TWO_ARM)
    code, out = _simulate(cfg, tmp_path / "out")
    assert code == 0, out
    ds = xr.open_dataset(tmp_path / "out" / "oc.nc")
    assert ds["p_go"].dims == ("scenario",) and list(ds["scenario"].values) == ["null", "big"]
    assert list(ds["scenario_kind"].values) == ["fixed", "fixed"]
    assert json.loads(ds.attrs["grid_axes"]) == []
    rule = ds.attrs["decision_rule"]
    assert "one-sided welch test of effect > 0 has p < 0.05" in rule
    assert "p_reject: two-sided welch test at alpha 0.1" in rule
    n = 30
    for sc, delta in (("null", 0.0), ("big", 0.25)):
        r = ds.sel(scenario=sc)
        exp_rej = _t_power(delta, n, 0.3, alpha=0.1, sided="two")
        exp_go = _t_power(delta, n, 0.3, alpha=0.05, sided="one")
        assert abs(float(r["p_reject"]) - exp_rej) < 4 * float(r["p_reject_mcse"]) + 1e-9, (sc, exp_rej)
        assert abs(float(r["p_go"]) - exp_go) < 4 * float(r["p_go_mcse"]) + 1e-9, (sc, exp_go)
        assert float(r["p_go"]) <= float(r["p_reject"])  # go = the favourable rejections
    df = _csv(tmp_path / "out" / "oc.csv")
    assert list(df["scenario"]) == ["null", "big"] and (df["n_sims"] == 6000).all()
    assert not (tmp_path / "out" / "sample_size.csv").exists()


# ------------------------------------------- 2. list- and mapping-valued axes plus a search
def test_search_with_mapping_and_list_valued_axes(tmp_path):
    cfg = {
        "name": "journey-dose-axes",
        "seed": 77,
        "endpoint": {"sd": 0.3, "mcid": 0.15},
        "design": {"type": "dose_finding", "doses": [0, 2, 5], "dose_metric": "dose", "dose_unit": "mg",
                   "reference_dose": 5, "n_per_arm": 25, "dose_response": {"model": "emax", "ed50": 2.0}},
        "scenarios": {"strong": {"effect": 0.35}},
        "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [1.0]}, "alpha": 0.05,
                     "target_delta": 0.15},
        "grid": {"design.dose_response": [{"model": "emax", "ed50": 0.5}, {"model": "linear"}],
                 "design.allocation": [[1, 1, 1], [2, 1, 1]]},
        "search": {"metric": "p_reject", "target": 0.7, "scenario": "strong", "n_min": 4, "n_max": 60,
                   "n_sims": 200},
        "simulation": {"n_sims": 200, "chunk_size": 200},
    }
    code, out = _simulate(_write(tmp_path, "c.yaml", cfg), tmp_path / "out")
    assert code == 0, out
    ds = xr.open_dataset(tmp_path / "out" / "oc.nc")
    assert ds["p_go"].dims == ("design.dose_response", "design.allocation", "scenario")
    ss = _csv(tmp_path / "out" / "sample_size.csv")
    assert len(ss) == 4
    # rows in grid order, labelled like the oc.nc coordinates (canonical JSON)
    got = list(zip(ss["design.dose_response"], ss["design.allocation"]))
    want = [(r, a) for r in ds["design.dose_response"].values for a in ds["design.allocation"].values]
    assert got == want
    assert [json.loads(a) for a in ss["design.allocation"]] == [[1, 1, 1], [2, 1, 1]] * 2
    assert ss["reached"].all() and ss["n_per_arm"].between(4, 60).all()
    assert (ss["achieved"] >= 0.7).all() and ss["metric"].eq("p_reject").all()


# ---------------------------------------------------------------- 3. mixed analyses
def test_grid_mixing_analyses_with_different_outputs(tmp_path):
    cfg = {**TWO_ARM, "name": "journey-mixed",
           "grid": {"analysis": [{"method": "welch", "alpha": 0.1},
                                 {"method": "bayes_normal", "prior": "flat", "variance": "student_t"}]},
           "decision": {"go": {"p_benefit": 0.95}},
           "simulation": {"n_sims": 2000, "chunk_size": 2000}}
    code, out = _simulate(_write(tmp_path, "c.yaml", cfg), tmp_path / "out")
    assert code == 0, out
    ds = xr.open_dataset(tmp_path / "out" / "oc.nc")
    welch, bayes = ds["analysis"].values
    assert np.isfinite(ds["p_reject"].sel(analysis=welch)).all()
    assert np.isnan(ds["p_reject"].sel(analysis=bayes)).all()  # bayes_normal has no test
    assert np.isfinite(ds["p_go"]).all()
    # flat prior + Student-t posterior: P(effect > 0) >= 0.95 is the one-sided t-test at 5%
    exp = _t_power(0.25, 30, 0.3, alpha=0.05, sided="one")
    r = ds.sel(analysis=bayes, scenario="big")
    assert abs(float(r["p_go"]) - exp) < 4 * float(r["p_go_mcse"])
    assert " | " in ds.attrs["decision_rule"] and "posterior probabilities" in ds.attrs["decision_rule"]
    code, out = _cli("report", "--sim", tmp_path / "out", "--out", tmp_path / "rep")
    assert code == 0, out
    txt = (tmp_path / "rep" / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "Decision rule as simulated" in txt and "two-sided welch test at alpha 0.1" in txt


# ------------------------------------------ 4. unreachable target, then report, then rerun
UNREACH = {
    "name": "journey-unreachable",
    "seed": 31,
    "endpoint": {"sd": 0.3, "mcid": 0.15},
    "design": {"type": "parallel", "n_per_arm": 30},
    "scenarios": {"null": {"effect": 0.0}, "prior": {"normal": {"mean": 0.05, "sd": 0.1}}},
    "analysis": {"method": "bayes_normal", "prior": "flat"},
    "decision": {"go": {"p_benefit": 0.9}},
    "grid": {"design.n_per_arm": [20, 60, 120]},
    "search": {"metric": "p_go", "target": 0.85, "scenario": "prior", "n_min": 10, "n_max": 300,
               "n_sims": 1000},
    "simulation": {"n_sims": 1000, "chunk_size": 1000},
}


def test_unreached_target_is_said_and_reported(tmp_path):
    out_dir = tmp_path / "out"
    cfg = _write(tmp_path, "c.yaml", UNREACH)
    code, out = _simulate(cfg, out_dir)
    assert code == 0, out
    ceiling = stats.norm.cdf(0.05 / 0.1)  # P(theta > 0) under N(0.05, 0.1^2): 0.691
    assert "target not reached up to n_max = 300" in out
    assert "above the metric's ceiling" in out and "P(true effect > 0) under the design prior" in out
    ss = _csv(out_dir / "sample_size.csv")
    r = ss.iloc[0]
    assert not r["reached"] and pd.isna(r["n_per_arm"]) and r["n_max"] == 300 and r["best_n"] == 300
    assert abs(r["ceiling"] - ceiling) <= 4 * r["ceiling_mcse"] + 1e-9, (r["ceiling"], ceiling)
    assert r["achieved"] < 0.85
    # the report completes: html, figures and every table, saying the target was not reached
    code, out = _cli("report", "--sim", out_dir, "--out", tmp_path / "rep")
    assert code == 0, out
    rep = tmp_path / "rep"
    assert (rep / "report.html").is_file()
    assert (rep / "figures" / "journey-unreachable_p_go_vs_n.png").is_file()  # config name, not folder
    for stem in ("sample_size_journey-unreachable", "oc_journey-unreachable", "provenance"):
        assert (rep / "tables" / f"{stem}.csv").is_file() and (rep / "tables" / f"{stem}.md").is_file()
    assert _csv(rep / "tables" / "sample_size_journey-unreachable.csv")["reached"].tolist() == [False]
    txt = (rep / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "target NOT REACHED up to the largest n searched (n_max = 300)" in txt
    quoted = float(re.search(r"tends to ([0-9.]+)", txt).group(1))
    assert abs(quoted - ceiling) < 4 * r["ceiling_mcse"] + 0.0005 and "no sample size reaches it" in txt
    # a rerun without search: into the same --out removes the stale sample_size.csv
    cfg2 = _write(tmp_path, "c2.yaml", {k: v for k, v in UNREACH.items() if k != "search"})
    code, out = _simulate(cfg2, out_dir)
    assert code == 0, out
    assert not (out_dir / "sample_size.csv").exists()
    code, out = _cli("report", "--sim", out_dir, "--out", rep)
    assert code == 0, out
    assert not (rep / "tables" / "sample_size_journey-unreachable.csv").exists()
    assert "NOT REACHED" not in (rep / "statistical_considerations.md").read_text(encoding="utf-8")


# -------------------------------------------------- 5. msbayes run, colliding base names
def test_run_with_colliding_output_base_names(tmp_path, monkeypatch):
    a = {**TWO_ARM, "name": "study-a", "simulation": {"n_sims": 500, "chunk_size": 500}}
    b = {**UNREACH, "name": "study-b", "simulation": {"n_sims": 500, "chunk_size": 500}}
    b.pop("search")
    _write(tmp_path, "a.yaml", a)
    _write(tmp_path, "b.yaml", b)
    _write(tmp_path, "run.yaml", {"name": "collide", "simulate": [
        {"config": "a.yaml", "out": "results/a/sims"}, {"config": "b.yaml", "out": "results/b/sims"}],
        "report": {"out": "results/report"}})
    monkeypatch.chdir(tmp_path)
    code, out = _cli("run", "run.yaml", "--backend", "sequential", "--quiet")
    assert code == 0, out
    rep = tmp_path / "results" / "report"
    assert (rep / "report.html").is_file()
    ta, tb = _csv(rep / "tables" / "oc_study-a.csv"), _csv(rep / "tables" / "oc_study-b.csv")
    assert set(ta["scenario"]) == {"null", "big"} and set(tb["scenario"]) == {"null", "prior"}
    assert (rep / "figures" / "study-b_p_go_vs_n.png").is_file()
    assert not list((rep / "tables").glob("oc_sims*"))
    # the same config name twice is de-duplicated
    code, out = _cli("report", "--sim", tmp_path / "results" / "a" / "sims", "--sim", tmp_path / "results" / "b" / "sims",
                     "--sim", tmp_path / "results" / "a" / "sims", "--out", tmp_path / "rep2")
    assert code == 0, out
    assert {p.name for p in (tmp_path / "rep2" / "tables").glob("oc_*.csv")} == {
        "oc_study-a.csv", "oc_study-b.csv", "oc_study-a-2.csv"}


# ------------------------------------------------------------------------ 6. seeds
def test_seed_above_int64_refused_up_front_and_largest_accepted(tmp_path):
    code, out = _simulate(_write(tmp_path, "c.yaml", {**TWO_ARM, "seed": 2**64}), tmp_path / "out")
    assert code == 2
    assert "seed" in out and ("2^63 - 1" in out or "9223372036854775807" in out) and "Traceback" not in out
    assert not (tmp_path / "out").exists()
    top = {**TWO_ARM, "seed": 2**63 - 1, "simulation": {"n_sims": 200, "chunk_size": 200}}
    code, out = _simulate(_write(tmp_path, "d.yaml", top), tmp_path / "ok")
    assert code == 0, out
    assert int(xr.open_dataset(tmp_path / "ok" / "oc.nc").attrs["seed"]) == 2**63 - 1


# ---------------------------------------- 7. dose sets labelled by dose, generic metric
def test_grid_over_dose_sets_labels_selection_by_dose(tmp_path):
    cfg = {
        "name": "journey-dose-sets", "seed": 5,
        "endpoint": {"sd": 0.3, "mcid": 0.15},
        "design": {"type": "dose_finding", "doses": [0, 3, 10], "dose_metric": "dose", "dose_unit": "mg",
                   "reference_dose": 10, "n_per_arm": 30, "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"large": {"effect": 0.3}},
        "analysis": {"method": "mcpmod", "models": {"linear": None, "emax": [1.5]}, "target_delta": 0.15},
        "grid": {"design.doses": [[0, 10], [0, 3, 10], [0, 3, 6, 10]]},
        "simulation": {"n_sims": 300, "chunk_size": 300},
    }
    code, out = _simulate(_write(tmp_path, "c.yaml", cfg), tmp_path / "out")
    assert code == 0, out
    ds = xr.open_dataset(tmp_path / "out" / "oc.nc")
    assert list(ds["dose"].values) == [0, 3, 6, 10]
    assert ds["dose"].attrs["dose_metric"] == "dose" and ds["dose"].attrs["units"] == "mg"
    ps = ds["p_select"].sel(scenario="large")
    assert np.isnan(ps.sel({"design.doses": "[0,10]", "dose": [3, 6]})).all()
    assert np.isnan(ps.sel({"design.doses": "[0,3,10]", "dose": 6}))
    # per dose set, selection of each tested dose or none sums to one
    tot = ps.fillna(0).sum("dose") + ds["p_select_none"].sel(scenario="large")
    np.testing.assert_allclose(tot.values, 1.0, atol=1e-12)
    df = _csv(tmp_path / "out" / "oc.csv")
    assert "p_select[dose=10.0]" in df.columns and "p_select[dose=1]" not in df.columns


# ------------------------------------------------------- ceiling vs independent answers
def _two_arm(**kw):
    base = {"name": "c", "seed": 1, "endpoint": {"sd": 0.3, "mcid": 0.15},
            "design": {"type": "parallel", "n_per_arm": 20},
            "scenarios": {"fx": {"effect": 0.1}, "pr": {"normal": {"mean": 0.12, "sd": 0.08}}},
            "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.2}}}
    base.update(kw)
    return validate_sim_config(base)


@pytest.mark.parametrize("kw, scenario, metric, expected", [
    ({}, "pr", "p_go", stats.norm.sf(0, 0.12, 0.08)),
    ({"decision": {"go": {"p_benefit": 0.9, "p_mcid": 0.5}}}, "pr", "p_go", stats.norm.sf(0.15, 0.12, 0.08)),
    ({"decision": {"go": {"p_benefit": 0.9, "p_mcid": 0.5}}}, "fx", "p_go", 0.0),
    ({}, "fx", "p_go", 1.0),
    ({"analysis": {"method": "welch", "sided": "one", "alpha": 0.05}}, "pr", "p_reject", stats.norm.sf(0, 0.12, 0.08)),
    ({"analysis": {"method": "welch"}}, "pr", "p_reject", 1.0),
])
def test_metric_ceiling_closed_form(kw, scenario, metric, expected):
    c = metric_ceiling(_two_arm(**kw), scenario=scenario, metric=metric)
    assert abs(c.value - expected) <= 4 * c.mcse + 1e-12, (c, expected)


def test_metric_ceiling_is_the_limit_of_p_go():
    """At 10^7 patients per arm (sufficient statistics: free) P(go) sits on the ceiling."""
    cfg = _two_arm(decision={"go": {"p_benefit": 0.95, "p_mcid": 0.5}})
    f = crn_metric_function(cfg, scenario="pr", metric="p_go", n_sims=20_000, seed=9)
    p, se = f(10_000_000)
    assert abs(p - stats.norm.sf(0.15, 0.12, 0.08)) < 4 * se
    assert metric_ceiling(cfg, scenario="pr", metric="p_correct_dose") is None  # no closed limit


# ---------------------------------------- a report that fails half-way leaves nothing half-made
def test_failed_report_leaves_previous_report_intact(tmp_path, monkeypatch):
    import msbayes.report.build as build

    code, out = _simulate(_write(tmp_path, "c.yaml", UNREACH), tmp_path / "sim")
    assert code == 0, out
    rep = tmp_path / "rep"
    build.build_report(sim_dir=tmp_path / "sim", out_dir=rep)
    before = {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()}
    assert any(str(k).startswith("tables/") for k in before)

    def boom(*a, **k):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(build, "plot_oc_curves", boom)
    with pytest.raises(RuntimeError, match="figure failed"):
        build.build_report(sim_dir=tmp_path / "sim", out_dir=rep)
    after = {p.relative_to(rep): p.read_bytes() for p in rep.rglob("*") if p.is_file()}
    assert after == before  # no staged leftovers, no half-written tables/
    with pytest.raises(RuntimeError, match="figure failed"):
        build.build_report(sim_dir=tmp_path / "sim", out_dir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_report_dose_curves_follow_the_shown_cell_dose_set_and_shape():
    """The design-prior curves of a grid over ``design.doses`` / ``design.dose_response`` are
    drawn for the slice shown: linear truth anchored at 10 gives effect(d) = 0.3 d / 10."""
    from msbayes.report.compute import dose_response_draws

    cfg = {"design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "reference_dose": 10,
                      "dose_response": {"model": "emax", "ed50": 3.0}},
           "scenarios": {"large": {"effect": 0.3}}}
    dr, _ = dose_response_draws(cfg, fixed={"design.doses": "[0,3,10]",
                                            "design.dose_response": '{"model":"linear"}'}, n_draws=5)
    got = dr.groupby("dose")["effect"].agg(["min", "max"])
    assert list(got.index) == [0, 3, 10]
    np.testing.assert_allclose(got["min"], [0.0, 0.09, 0.3], atol=1e-12)
    np.testing.assert_allclose(got["max"], [0.0, 0.09, 0.3], atol=1e-12)
