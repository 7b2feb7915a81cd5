"""Bad input is refused up front: exit code 2 (or the documented code), the field named,
no traceback, and nothing left in the --out folder.

Table-driven over every way in: fit configs, simulate configs, run configs, user data tables,
CLI options, YAML-level problems and resource guards. Every case goes through the real CLI
(typer's CliRunner, in-process: fast) and is refused before any sampling or simulation.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from msbayes.cli import app

ROOT = Path(__file__).resolve().parents[1]

SIM_BASE = {
    "name": "bad-input",
    "seed": 7,
    "endpoint": {"name": "t25fw", "scale": "log_speed_ratio", "sd": 0.35, "placebo_mean": -0.18,
                 "mcid": 0.1823, "dropout": 0.1},
    "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "allocation": [1, 1], "n_per_arm": 40},
    "scenarios": {"null": {"effect": 0.0}, "target": {"effect": 0.26}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}},
    "grid": {"design.n_per_arm": [20, 40]},
    "simulation": {"n_sims": 200, "chunk_size": 100, "backend": "sequential", "n_jobs": 1},
    "search": {"metric": "p_go", "target": 0.8, "scenario": "target", "n_min": 10, "n_max": 100},
}

FIT_BASE = {"name": "bad-input-fit", "seed": 1}

SUMMARY_HEADER = "study,endpoint,population,arm,convention,n,mean,sd"
SUMMARY_ROWS = [
    "mine,t25fw,edss_6.0-6.5,msc_np,pct_improvement_time,12,3.7,23.1",
    "mine,t25fw,edss_6.0-6.5,saline,pct_improvement_time,10,-54.4,70.5",
]


def invoke(args: list[str]):
    return CliRunner().invoke(app, args, catch_exceptions=True)


def assert_refused(res, field: str, out: Path | None, *, code: int = 2) -> None:
    text = res.output
    assert "Traceback" not in text, text
    assert res.exit_code == code, (res.exit_code, text, res.exception)
    assert isinstance(res.exception, SystemExit) or res.exception is None, repr(res.exception)
    assert field in text, f"field {field!r} not named in:\n{text}"
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), f"files left in {out}: {list(out.iterdir())}"


def setp(d: dict, dotted: str, value) -> dict:
    """Copy of d with a dotted key set (``a.b.c``); value ``DROP`` removes the key."""
    d = copy.deepcopy(d)
    node = d
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is DROP:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return d


DROP = object()


def write_yaml(tmp: Path, data, name: str = "cfg.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


# --------------------------------------------------------------------- simulate configs
SIM_CASES = [
    # (id, dotted key, bad value, field expected in the message)
    ("seed-negative", "seed", -1, "seed"),
    ("seed-too-big", "seed", 2**64, "seed"),
    ("seed-string", "seed", "7", "seed"),
    ("seed-float", "seed", 7.5, "seed"),
    ("seed-bool", "seed", True, "seed"),
    ("seed-missing", "seed", DROP, "seed"),
    ("name-missing", "name", DROP, "name"),
    ("unknown-top-key", "colour", "red", "colour"),
    ("endpoint-sd-zero", "endpoint.sd", 0.0, "endpoint.sd"),
    ("endpoint-sd-negative", "endpoint.sd", -0.3, "endpoint.sd"),
    ("endpoint-sd-string", "endpoint.sd", "0.35", "endpoint.sd"),
    ("endpoint-sd-bool", "endpoint.sd", True, "endpoint.sd"),
    ("endpoint-sd-missing", "endpoint.sd", DROP, "endpoint.sd"),
    ("endpoint-dropout-one", "endpoint.dropout", 1.0, "endpoint.dropout"),
    ("endpoint-dropout-negative", "endpoint.dropout", -0.1, "endpoint.dropout"),
    ("endpoint-mcid-zero", "endpoint.mcid", 0.0, "endpoint.mcid"),
    ("endpoint-scale-unknown", "endpoint.scale", "log_time", "endpoint.scale"),
    ("endpoint-unknown-key", "endpoint.sdd", 0.3, "endpoint.sdd"),
    ("endpoint-mechanism-unknown", "endpoint.dropout_mechanism", "mnar", "endpoint.dropout_mechanism"),
    ("endpoint-corr-string", "endpoint.baseline_corr", "0.5", "endpoint.baseline_corr"),
    ("design-type-unknown", "design.type", "crossover", "design.type"),
    ("design-type-missing", "design.type", DROP, "design.type"),
    ("design-n-string", "design.n_per_arm", "60", "design.n_per_arm"),
    ("design-n-one", "design.n_per_arm", 1, "design.n_per_arm"),
    ("design-n-fraction", "design.n_per_arm", 40.5, "design.n_per_arm"),
    ("design-n-bool", "design.n_per_arm", True, "design.n_per_arm"),
    ("design-arms-three", "design.arms", ["a", "b", "c"], "design.arms"),
    ("design-arms-same", "design.arms", ["a", "a"], "design.arms"),
    ("design-allocation-length", "design.allocation", [1, 1, 1], "design.allocation"),
    ("design-allocation-zero", "design.allocation", [1, 0], "design.allocation"),
    ("design-allocation-string", "design.allocation", [1, "2"], "design.allocation[1]"),
    ("design-unknown-key", "design.doses", [0, 1], "design.doses"),
    ("scenario-effect-string", "scenarios.target.effect", "abc", "scenarios.target.effect"),
    ("scenario-effect-bool", "scenarios.target.effect", False, "scenarios.target.effect"),
    ("scenario-normal-sd", "scenarios.target", {"normal": {"mean": 0.1, "sd": -1}}, "scenarios.target.normal.sd"),
    ("scenario-unknown-kind", "scenarios.target", {"uniform": {"lower": 0, "upper": 1}}, "scenarios.target"),
    ("scenarios-empty", "scenarios", {}, "scenarios"),
    ("analysis-method-unknown", "analysis.method", "bayes", "analysis.method"),
    ("analysis-prior-string", "analysis.prior", "flatt", "analysis.prior"),
    ("analysis-prior-sd-string", "analysis.prior.sd", "0.1", "analysis.prior.sd"),
    ("analysis-variance-unknown", "analysis.variance", "exact", "analysis.variance"),
    ("analysis-dose-method", "analysis", {"method": "mcpmod", "models": {"linear": None}}, "analysis.method"),
    ("decision-rule-unknown", "decision.rule", "bayes", "decision.rule"),
    ("decision-go-p-above-one", "decision.go.p_benefit", 1.5, "decision.go.p_benefit"),
    ("decision-go-p-string", "decision.go.p_benefit", "0.9", "decision.go.p_benefit"),
    ("decision-overlap", "decision.no_go.p_mcid_below", 0.9, "decision.no_go.p_mcid_below"),
    ("decision-significance-bayes", "decision", {"rule": "significance"}, "decision.rule"),
    ("search-scenario-unknown", "search.scenario", "ghost", "search.scenario"),
    ("search-target-one", "search.target", 1.0, "search.target"),
    ("search-range", "search.n_max", 5, "search"),
    ("search-metric-unknown", "search.metric", "power", "search.metric"),
    ("search-metric-not-produced", "search.metric", "p_correct_dose", "search.metric"),
    ("simulation-n-sims-zero", "simulation.n_sims", 0, "simulation.n_sims"),
    ("simulation-n-sims-string", "simulation.n_sims", "200", "simulation.n_sims"),
    ("simulation-chunk-zero", "simulation.chunk_size", 0, "simulation.chunk_size"),
    ("simulation-backend-unknown", "simulation.backend", "mpi", "simulation.backend"),
    ("simulation-engine-unknown", "simulation.engine", "fast", "simulation.engine"),
    ("simulation-n-jobs-zero", "simulation.n_jobs", 0, "simulation.n_jobs"),
    ("simulation-n-jobs-below", "simulation.n_jobs", -5, "simulation.n_jobs"),
    ("simulation-unknown-key", "simulation.workers", 2, "simulation.workers"),
    ("grid-not-mapping", "grid", [1, 2], "grid"),
    ("grid-axis-empty", "grid", {"design.n_per_arm": []}, "grid.design.n_per_arm"),
    ("grid-axis-duplicates", "grid", {"design.n_per_arm": [20, 20]}, "grid.design.n_per_arm"),
    ("grid-axis-not-list", "grid", {"design.n_per_arm": 20}, "grid.design.n_per_arm"),
    ("grid-axis-bad-value", "grid", {"endpoint.sd": [0.3, -1.0]}, "grid.endpoint.sd"),
    ("grid-axis-unknown-path", "grid", {"design.size": [1, 2]}, "grid.design.size"),
    ("grid-axis-seed", "grid", {"seed": [1, 2]}, "grid.seed"),
    ("grid-axis-simulation", "grid", {"simulation.n_sims": [100, 200]}, "grid.simulation.n_sims"),
    ("grid-axis-phantom-scenario", "grid", {"scenarios.ghost.effect": [0.1, 0.2]}, "grid.scenarios.ghost.effect"),
    ("grid-axis-string-number", "grid", {"design.n_per_arm": ["20", "40"]}, "grid.design.n_per_arm"),
]


@pytest.mark.parametrize("case", SIM_CASES, ids=[c[0] for c in SIM_CASES])
def test_simulate_config_refused(tmp_path, case):
    _, key, value, field = case
    cfg = write_yaml(tmp_path, setp(SIM_BASE, key, value))
    out = tmp_path / "out"
    assert_refused(invoke(["simulate", str(cfg), "--out", str(out)]), field, out)


def test_simulate_base_config_runs(tmp_path):
    """The base of the table is valid: each case fails only because of its one change."""
    cfg = write_yaml(tmp_path, setp(SIM_BASE, "search", DROP))
    out = tmp_path / "out"
    res = invoke(["simulate", str(cfg), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert (out / "oc.nc").is_file()


# -------------------------------------------------------------------------- fit configs
FIT_CASES = [
    ("seed-negative", "seed", -1, "seed"),
    ("seed-too-big", "seed", 2**63, "seed"),
    ("seed-string", "seed", "1", "seed"),
    ("seed-bool", "seed", False, "seed"),
    ("seed-missing", "seed", DROP, "seed"),
    ("name-empty", "name", "", "name"),
    ("unknown-key", "sampler_backend", "x", "sampler_backend"),
    ("models-unknown", "models", ["summary", "binary"], "models"),
    ("priors-unknown", "priors", ["sceptical"], "priors"),
    ("sampler-draws-string", "sampler.draws", "1000", "sampler.draws"),
    ("sampler-draws-small", "sampler.draws", 5, "sampler.draws"),
    ("sampler-chains-zero", "sampler.chains", 0, "sampler.chains"),
    ("sampler-backend-unknown", "sampler.backend", "stan", "sampler.backend"),
    ("data-dataset-unknown", "data.dataset", "nope2020", "data"),
    ("data-denominator-unknown", "data.edss_plus_denominator", "all", "data.edss_plus_denominator"),
    ("data-file-missing", "data", {"dataset": None, "file": "no/such.csv"}, "data.file"),
    ("data-strata-empty", "data.strata", [], "data.strata"),
    ("hierarchy-corr-one", "hierarchy.endpoint_correlation", 1.0, "hierarchy.endpoint_correlation"),
    ("hierarchy-sd-string", "hierarchy.control_prior_sd", "6", "hierarchy.control_prior_sd"),
    ("hierarchy-prior-on-unknown", "hierarchy.prior_on", "tau", "hierarchy.prior_on"),
]


@pytest.mark.parametrize("case", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_config_refused(tmp_path, case):
    _, key, value, field = case
    cfg = write_yaml(tmp_path, setp(FIT_BASE, key, value))
    out = tmp_path / "out"
    assert_refused(invoke(["fit", str(cfg), "--out", str(out)]), field, out)


# ---------------------------------------------------------------------------- run configs
def _run_cfg(tmp: Path, **over) -> dict:
    sim = write_yaml(tmp, setp(SIM_BASE, "search", DROP), "sim.yaml")
    fit = write_yaml(tmp, FIT_BASE, "fit.yaml")
    run = {"name": "r", "fit": {"config": str(fit), "out": str(tmp / "res" / "fit")},
           "simulate": [{"config": str(sim), "out": str(tmp / "res" / "sim")}],
           "report": {"out": str(tmp / "res" / "report")}}
    for k, v in over.items():
        run = setp(run, k.replace("__", "."), v)
    return run


RUN_CASES = [
    ("name-missing", {"name": DROP}, "name"),
    ("unknown-key", {"stages": 3}, "stages"),
    ("fit-out-empty", {"fit__out": ""}, "fit.out"),
    ("fit-config-missing", {"fit__config": "nope.yaml"}, "nope.yaml"),
    ("report-out-empty", {"report__out": ""}, "report.out"),
    ("simulate-not-list", {"simulate": {"config": "x"}}, "simulate"),
    ("same-out-twice", {"report__out": "SAMEASFIT"}, "report.out"),
]


@pytest.mark.parametrize("case", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_config_refused(tmp_path, case):
    _, over, field = case
    run = _run_cfg(tmp_path, **over)
    if run.get("report", {}).get("out") == "SAMEASFIT":
        run["report"]["out"] = run["fit"]["out"]
    cfg = write_yaml(tmp_path, run, "run.yaml")
    assert_refused(invoke(["run", str(cfg)]), field, tmp_path / "res")


def test_run_refuses_bad_simulate_stage_before_fit(tmp_path):
    """A bad simulate config (here one reading the fit's posterior) stops the run before the fit."""
    run = _run_cfg(tmp_path)
    sim = setp(SIM_BASE, "search", DROP)
    sim["scenarios"]["post"] = {"from_fit": run["fit"]["out"] + "/posterior.nc", "model": "summary_log",
                                "prior": "skeptical"}
    sim["endpoint"]["sd"] = -1.0
    run["simulate"][0]["config"] = str(write_yaml(tmp_path, sim, "sim2.yaml"))
    assert_refused(invoke(["run", str(write_yaml(tmp_path, run, "run.yaml"))]), "endpoint.sd", tmp_path / "res")


def test_run_refuses_from_fit_prior_the_fit_does_not_fit(tmp_path):
    run = _run_cfg(tmp_path)
    sim = setp(SIM_BASE, "search", DROP)
    sim["scenarios"]["post"] = {"from_fit": run["fit"]["out"] + "/posterior.nc", "model": "summary_log",
                                "prior": "optimistic"}
    run["simulate"][0]["config"] = str(write_yaml(tmp_path, sim, "sim2.yaml"))
    assert_refused(invoke(["run", str(write_yaml(tmp_path, run, "run.yaml"))]), "scenarios.post.prior",
                   tmp_path / "res")


def test_run_refuses_missing_from_fit_file(tmp_path):
    run = _run_cfg(tmp_path)
    sim = setp(SIM_BASE, "search", DROP)
    sim["scenarios"]["post"] = {"from_fit": str(tmp_path / "elsewhere.nc"), "model": "summary_log",
                                "prior": "skeptical"}
    run["simulate"][0]["config"] = str(write_yaml(tmp_path, sim, "sim2.yaml"))
    assert_refused(invoke(["run", str(write_yaml(tmp_path, run, "run.yaml"))]), "scenarios.post.from_fit",
                   tmp_path / "res")


def test_run_refuses_another_configs_cell_store(tmp_path):
    """msbayes run no longer silently deletes cells another config left in a simulate out folder."""
    other = setp(SIM_BASE, "search", DROP)
    other["endpoint"]["sd"] = 0.44
    sim_out = tmp_path / "res" / "sim"
    res = invoke(["simulate", str(write_yaml(tmp_path, other, "other.yaml")), "--out", str(sim_out), "--quiet"])
    assert res.exit_code == 0, res.output
    before = sorted(p.name for p in (sim_out / "cells").iterdir())
    run = _run_cfg(tmp_path)
    res = invoke(["run", str(write_yaml(tmp_path, run, "run.yaml"))])
    assert_refused(res, "simulate[0].out", None)
    assert sorted(p.name for p in (sim_out / "cells").iterdir()) == before
    assert not (tmp_path / "res" / "fit").exists()


def test_run_reuses_its_own_cell_store(tmp_path):
    """The same stage config (even with other --quick sizes) may rerun into its own folder."""
    run = _run_cfg(tmp_path)
    run.pop("fit")
    run.pop("report")
    cfg = str(write_yaml(tmp_path, run, "run.yaml"))
    for extra in ([], ["--quick"], []):
        res = invoke(["run", cfg, "--quiet", *extra])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "res" / "sim" / "oc.nc").is_file()


# -------------------------------------------------------------------- user data tables
CSV_CASES = [
    # (id, rows (header first), field/text expected)
    ("row-missing-field", [SUMMARY_HEADER, SUMMARY_ROWS[0], "mine,t25fw,edss_6.0-6.5,saline,pct_improvement_time,10,-54.4"],
     "row 3 has 7 fields, header has 8"),
    ("row-extra-field", [SUMMARY_HEADER, SUMMARY_ROWS[0] + ",9", SUMMARY_ROWS[1]], "row 2 has 9 fields, header has 8"),
    ("sd-text", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("23.1", "abc"), SUMMARY_ROWS[1]], "column 'sd'"),
    ("mean-missing-sd-given", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace(",3.7,", ",,"), SUMMARY_ROWS[1]], "column 'mean'"),
    ("sd-negative", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("23.1", "-23.1"), SUMMARY_ROWS[1]], "column 'sd'"),
    ("n-one", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace(",12,", ",1,"), SUMMARY_ROWS[1]], "column 'n'"),
    ("n-fraction", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace(",12,", ",12.5,"), SUMMARY_ROWS[1]], "column 'n'"),
    ("exact-duplicate", [SUMMARY_HEADER, SUMMARY_ROWS[0], SUMMARY_ROWS[0], SUMMARY_ROWS[1]], "duplicate key"),
    ("conflicting-duplicate", [SUMMARY_HEADER, SUMMARY_ROWS[0], SUMMARY_ROWS[0].replace("3.7", "9.9"), SUMMARY_ROWS[1]],
     "duplicate key"),
    ("endpoint-unknown", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("t25fw", "t25"), SUMMARY_ROWS[1]], "column 'endpoint'"),
    ("arm-unknown", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("msc_np", "stem"), SUMMARY_ROWS[1]], "column 'arm'"),
    ("convention-unknown", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("pct_improvement_time", "pct"), SUMMARY_ROWS[1]],
     "column 'convention'"),
    ("column-missing", [SUMMARY_HEADER.replace(",sd", ""), *(r.rsplit(",", 1)[0] for r in SUMMARY_ROWS)], "column 'sd'"),
    ("column-unknown", [SUMMARY_HEADER + ",colour", *(r + ",red" for r in SUMMARY_ROWS)], "column 'colour'"),
    ("population-bad", [SUMMARY_HEADER, SUMMARY_ROWS[0].replace("edss_6.0-6.5", "severe"), SUMMARY_ROWS[1]],
     "column 'population'"),
    ("no-rows", [SUMMARY_HEADER], "no data rows"),
]


def _csv(tmp: Path, rows: list[str]) -> Path:
    p = tmp / "table.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("case", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_data_check_refuses_table(tmp_path, case):
    _, rows, text = case
    res = invoke(["data", "check", str(_csv(tmp_path, rows))])
    assert_refused(res, text, None, code=1)  # documented: data check exits 1 on a bad table


@pytest.mark.parametrize("case", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_fit_refuses_table_like_data_check(tmp_path, case):
    """The fit reads a user table through the same check as msbayes data check."""
    _, rows, text = case
    table = _csv(tmp_path, rows)
    cfg = write_yaml(tmp_path, {**FIT_BASE, "models": ["summary_log"],
                                "data": {"dataset": None, "file": str(table), "strata": ["edss_6.0-6.5"]}})
    out = tmp_path / "out"
    res = invoke(["fit", str(cfg), "--out", str(out)])
    assert_refused(res, "data.file", out)
    assert text in res.output


# -------------------------------------------------------------------------- CLI options
def _sim_cfg(tmp: Path) -> Path:
    return write_yaml(tmp, setp(SIM_BASE, "search", DROP), "sim.yaml")


OPTION_CASES = [
    ("n-jobs-zero", ["--n-jobs", "0"], "--n-jobs"),
    ("n-jobs-negative", ["--n-jobs", "-5"], "--n-jobs"),
    ("n-jobs-text", ["--n-jobs", "two"], "--n-jobs"),
    ("backend-unknown", ["--backend", "mpi"], "--backend"),
    ("scheduler-without-dask", ["--backend", "loky", "--scheduler", "tcp://x:1"], "--scheduler"),
    ("max-memory-text", ["--max-memory", "lots"], "--max-memory"),
    ("max-memory-negative", ["--max-memory", "-1GB"], "--max-memory"),
    ("max-cells-zero", ["--max-cells", "0"], "--max-cells"),
]


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_simulate_option_refused(tmp_path, case):
    _, opts, field = case
    out = tmp_path / "out"
    assert_refused(invoke(["simulate", str(_sim_cfg(tmp_path)), "--out", str(out), *opts]), field, out)


def test_run_backend_option_refused(tmp_path):
    cfg = write_yaml(tmp_path, _run_cfg(tmp_path), "run.yaml")
    assert_refused(invoke(["run", str(cfg), "--backend", "mpi"]), "--backend", tmp_path / "res")


def test_run_n_jobs_option_refused(tmp_path):
    cfg = write_yaml(tmp_path, _run_cfg(tmp_path), "run.yaml")
    assert_refused(invoke(["run", str(cfg), "--n-jobs", "0"]), "--n-jobs", tmp_path / "res")


def test_config_n_jobs_zero_and_option_zero_agree(tmp_path):
    out = tmp_path / "out"
    a = invoke(["simulate", str(write_yaml(tmp_path, setp(SIM_BASE, "simulation.n_jobs", 0))), "--out", str(out)])
    b = invoke(["simulate", str(_sim_cfg(tmp_path)), "--out", str(out), "--n-jobs", "0"])
    assert a.exit_code == b.exit_code == 2


def test_workers_capped_at_cpus_unless_forced(monkeypatch):
    from msbayes.grid import backends

    monkeypatch.setattr(backends, "available_cpus", lambda: 2)
    n, note = backends.plan_workers(12)
    assert n == 2 and "--force-jobs" in note
    assert backends.plan_workers(12, force=True) == (12, None)
    assert backends.plan_workers(-1) == (2, None)


def test_report_refuses_text_in_numeric_column_before_writing(tmp_path):
    from msbayes.report.inputs import ReportInputError, _read_csv

    p = tmp_path / "summary.csv"
    p.write_text("model,prior,endpoint,population,scale,mean,sd,q2.5,q97.5,p_benefit,p_mcid\n"
                 "m,p,t25fw,all,log,0.1,oops,0,0.2,0.9,0.5\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"column 'sd' row 2"):
        _read_csv(p)


FIXTURES = ROOT / "tests" / "fixtures" / "report"


@pytest.mark.parametrize("target", [("fit", "summary.csv", "sd"), ("fit", "raw_vs_shrunk.csv", "raw_mean"),
                                    ("sim_two_arm", "sample_size.csv", "achieved")],
                         ids=["summary-sd", "raw-vs-shrunk", "sample-size"])
def test_report_refuses_text_in_numeric_column_and_writes_nothing(tmp_path, target):
    import shutil

    import pandas as pd

    sub, name, col = target
    src = tmp_path / sub
    shutil.copytree(FIXTURES / sub, src)
    df = pd.read_csv(src / name, keep_default_na=False)
    df[col] = df[col].astype(str)
    df.loc[df.index[-1], col] = "n/a-ish"
    df.to_csv(src / name, index=False)
    out = tmp_path / "report"
    res = invoke(["report", f"--{'fit' if sub == 'fit' else 'sim'}", str(src), "--out", str(out)])
    assert_refused(res, f"column '{col}'", None)
    assert not out.exists()


def test_report_cli_refuses_bad_summary_and_writes_nothing(tmp_path):
    fit = tmp_path / "fit"
    fit.mkdir()
    (fit / "posterior.nc").write_text("not netcdf", encoding="utf-8")
    (fit / "summary.csv").write_text("model\nx\n", encoding="utf-8")
    out = tmp_path / "report"
    assert_refused(invoke(["report", "--fit", str(fit), "--out", str(out)]), "posterior.nc", out)


# ---------------------------------------------------------------------------- YAML level
YAML_CASES = [
    ("duplicate-key", "name: a\nseed: 1\nseed: 2\n", "seed", "line 3"),
    ("duplicate-nested-key", "name: a\nendpoint:\n  sd: 0.3\n  sd: 0.4\n", "sd", "line 4"),
    ("invalid-yaml", "name: [a\n", "YAML", "line"),
    ("top-level-list", "- a\n- b\n", "mapping", "list"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")) + "grid: {design.n_per_arm: *i}\n", "expands", "aliases"),
    ("recursive-alias", "a: &a [1, *a]\n", "expands", "aliases"),
]


@pytest.mark.parametrize("case", YAML_CASES, ids=[c[0] for c in YAML_CASES])
@pytest.mark.parametrize("command", ["simulate", "fit"])
def test_yaml_problem_refused(tmp_path, case, command):
    _, text, field, detail = case
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    res = invoke([command, str(cfg), "--out", str(out)])
    assert_refused(res, field, out)
    assert detail in res.output


@pytest.mark.parametrize("command", ["simulate", "fit", "run"])
def test_non_utf8_config_refused(tmp_path, command):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(b"name: caf\xe9\nseed: 1\n")
    args = [command, str(cfg)] + ([] if command == "run" else ["--out", str(tmp_path / "out")])
    assert_refused(invoke(args), "UTF-8", tmp_path / "out")


@pytest.mark.parametrize("command", ["simulate", "fit", "run"])
def test_missing_config_refused(tmp_path, command):
    args = [command, str(tmp_path / "nope.yaml")] + ([] if command == "run" else ["--out", str(tmp_path / "out")])
    assert_refused(invoke(args), "not found", tmp_path / "out")


# ------------------------------------------------------------------------ resource guards
RESOURCE_CASES = [
    ("huge-n-sufficient", {"design.n_per_arm": 10**9, "grid": DROP}, [], "simulation.chunk_size"),
    ("huge-n-patient", {"design.n_per_arm": 10**7, "simulation.engine": "patient", "grid": DROP}, [],
     "simulation.chunk_size"),
    ("huge-grid", {"grid": {"design.n_per_arm": list(range(2, 2002)), "endpoint.sd": [0.01 * i for i in range(1, 2001)]}},
     [], "--max-cells"),
    ("memory-limit-option", {}, ["--max-memory", "1KB"], "--max-memory"),
    ("cell-limit-option", {}, ["--max-cells", "3"], "--max-cells"),
]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_resource_guard_refuses_before_work(tmp_path, case):
    _, changes, opts, field = case
    cfg = setp(SIM_BASE, "search", DROP)
    for k, v in changes.items():
        cfg = setp(cfg, k, v)
    out = tmp_path / "out"
    res = invoke(["simulate", str(write_yaml(tmp_path, cfg)), "--out", str(out), *opts])
    assert_refused(res, field, out)
    assert "limit" in res.output


def test_memory_estimate_grows_with_n_and_engine():
    from msbayes.design.config import validate_sim_config
    from msbayes.grid.spec import estimate_chunk_bytes

    small = validate_sim_config(setp(setp(SIM_BASE, "search", DROP), "grid", DROP))
    big = validate_sim_config(setp(setp(setp(SIM_BASE, "search", DROP), "grid", DROP), "design.n_per_arm", 10**6))
    patient = validate_sim_config(setp(setp(setp(setp(SIM_BASE, "search", DROP), "grid", DROP),
                                             "design.n_per_arm", 10**6), "simulation.engine", "patient"))
    a, b, c = (estimate_chunk_bytes(x, 10_000) for x in (small, big, patient))
    assert a < b < c
    assert c > 6 * 512 * 2 * 10**6 * 8 * 0.99  # the patient engine's blocks of 512 trials x n


def test_loky_workers_do_not_idle_for_minutes(monkeypatch):
    """Idle loky workers exit within seconds, so a killed parent's pipes are not held for minutes."""
    import joblib

    from msbayes.grid.backends import LOKY_IDLE_TIMEOUT, Backend

    seen = {}

    class Spy(joblib.Parallel):
        def __init__(self, *a, **kw):
            seen.update(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(joblib, "Parallel", Spy)
    assert sorted(Backend("loky", 2).map_unordered(abs, [-1, -2])) == [1, 2]
    assert seen.get("idle_worker_timeout") == LOKY_IDLE_TIMEOUT <= 30


def test_fit_exits_3_when_every_estimand_fails_diagnostics(tmp_path, monkeypatch):
    import types

    import pandas as pd

    import msbayes.fit.runner as runner

    def fake_run_fit(cfg, *, out_dir, config_text, progress, console):
        summ = pd.DataFrame({"diagnostics_ok": [ok, False]})
        return types.SimpleNamespace(summary=summ, out_dir=out_dir, paths={})

    monkeypatch.setattr(runner, "run_fit", fake_run_fit)
    cfg = str(write_yaml(tmp_path, FIT_BASE))
    ok = False
    res = invoke(["fit", cfg, "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 3 and "diagnostics gate" in res.output and "Traceback" not in res.output
    res = invoke(["fit", cfg, "--out", str(tmp_path / "o"), "--quiet", "--allow-failed-diagnostics"])
    assert res.exit_code == 0, res.output
    ok = True  # one estimand passes: a warning, not a failure
    assert invoke(["fit", cfg, "--out", str(tmp_path / "o"), "--quiet"]).exit_code == 0


# ------------------------------------------------------------- --out refused, every entry
def _bad_outs(tmp: Path) -> list[tuple[str, str]]:
    f = tmp / "a_file"
    f.write_text("x", encoding="utf-8")
    ro = tmp / "readonly"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: use a folder nobody can write
        ro_out = "/proc/msbayes-out"
    else:
        ro.chmod(0o500)
        ro_out = str(ro / "out")
    return [("existing-file", str(f)), ("read-only", ro_out), ("below-a-file", str(f / "out")), ("empty", "")]


def _entry_args(entry: str, tmp: Path, out: str) -> list[str]:
    if entry == "fit":
        return ["fit", str(write_yaml(tmp, FIT_BASE, "fit.yaml")), "--out", out]
    if entry == "simulate":
        return ["simulate", str(_sim_cfg(tmp)), "--out", out]
    if entry == "report":
        sim = tmp / "simdir"
        sim.mkdir(exist_ok=True)
        return ["report", "--sim", str(sim), "--out", out]
    run = _run_cfg(tmp)
    run["report"]["out"] = out
    return ["run", str(write_yaml(tmp, run, "run.yaml"))]


@pytest.mark.parametrize("entry", ["fit", "simulate", "report", "run"])
def test_every_entry_refuses_bad_out_before_work(tmp_path, entry):
    for kind, out in _bad_outs(tmp_path):
        res = invoke(_entry_args(entry, tmp_path, out))
        field = "report.out" if entry == "run" else "--out"
        assert_refused(res, field, None)
        assert not (tmp_path / "res").exists(), (entry, kind)
    (tmp_path / "readonly").chmod(0o700)


def test_help_shows_no_bool_metavar():
    for cmd in (["fit", "--help"], ["simulate", "--help"], ["run", "--help"], ["report", "--help"],
                ["data", "check", "--help"], ["data", "infer-n", "--help"]):
        res = invoke(cmd)
        assert res.exit_code == 0 and "<bool>" not in res.output, (cmd, res.output)


def test_no_pointer_outside_the_repository():
    hits = []
    for base in ("src", "docs"):
        for p in (ROOT / base).rglob("*"):
            if p.is_file() and p.suffix in (".py", ".md", ".csv", ".yaml"):
                t = p.read_text(encoding="utf-8", errors="replace")
                hits += [f"{p.relative_to(ROOT)}: {w}" for w in ("DESIGN.md", "../shared", "shared/data") if w in t]
    assert hits == []


# ------------------------------------------------------------------ field paths, exactly
@pytest.mark.parametrize("key, value, field", [
    ("scenarios.target.effect", "abc", "scenarios.target.effect"),
    ("scenarios.target.effect", {"edss_6.0-6.5": "x"}, "scenarios.target.effect.edss_6.0-6.5"),
    ("search.scenario", "ghost", "search.scenario"),
    ("analysis.method", "bayes", "analysis.method"),
    ("design.type", "crossover", "design.type"),
    ("decision.no_go.p_mcid_below", 0.9, "decision.no_go.p_mcid_below"),
    ("decision.rule", "bayes", "decision.rule"),
    ("design.allocation", [1, "2"], "design.allocation[1]"),
], ids=lambda v: str(v)[:30])
def test_field_paths_read_plainly(key, value, field):
    """The first error names exactly the field: no doubled parts, union tags or <root>."""
    from msbayes.config import ConfigError
    from msbayes.design.config import validate_sim_config

    with pytest.raises(ConfigError) as ei:
        validate_sim_config(setp(SIM_BASE, key, value))
    assert ei.value.errors[0][0] == field, ei.value.errors


def test_ints_stay_accepted_where_floats_are_expected():
    from msbayes.design.config import validate_sim_config

    cfg = validate_sim_config(setp(setp(SIM_BASE, "endpoint.sd", 1), "scenarios.target.effect", 0))
    assert cfg.endpoint.sd == 1.0 and isinstance(cfg.endpoint.sd, float)


def test_duplicate_key_names_key_and_both_lines():
    from msbayes.config import ConfigError, parse_yaml

    with pytest.raises(ConfigError) as ei:
        parse_yaml("name: a\nendpoint:\n  sd: 0.3\n  mcid: 0.2\n  sd: 0.4\n")
    assert ei.value.errors == [("sd", "duplicate key (lines 3 and 5)")]
    assert parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")["other"] == {"x": 2}  # merge keys stay legal


def test_run_refuses_oversized_simulate_stage_before_fit(tmp_path):
    run = _run_cfg(tmp_path)
    sim = setp(setp(SIM_BASE, "search", DROP), "grid", {"design.n_per_arm": [40, 10**9]})
    sim["scenarios"]["post"] = {"from_fit": run["fit"]["out"] + "/posterior.nc", "model": "summary_log",
                                "prior": "skeptical"}
    run["simulate"][0]["config"] = str(write_yaml(tmp_path, sim, "sim2.yaml"))
    res = invoke(["run", str(write_yaml(tmp_path, run, "run.yaml"))])
    assert_refused(res, "simulation.chunk_size", tmp_path / "res")
    assert "limit" in res.output
    res = invoke(["run", str(write_yaml(tmp_path, _run_cfg(tmp_path), "run.yaml")), "--max-cells", "2"])
    assert_refused(res, "--max-cells", tmp_path / "res")
