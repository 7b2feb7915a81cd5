"""The Python API: in-memory results, quiet runs, configs built in Python, round trips."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import msbayes
from msbayes.config import ConfigError, load_yaml
from msbayes.design.config import validate_sim_config

ROOT = Path(__file__).resolve().parents[1]
SD, N1, N2, EFFECT = 0.35, 30, 60, 0.1823


def _two_arm(**extra):
    cfg = {
        "name": "api-two-arm", "seed": 11,
        "endpoint": {"name": "t25fw", "sd": SD, "mcid": EFFECT},
        "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "n_per_arm": N1},
        "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": EFFECT}},
        "analysis": {"method": "welch", "alpha": 0.05},
        "grid": {"design.n_per_arm": [N1, N2]},
        "simulation": {"n_sims": 4000, "chunk_size": 2000, "backend": "sequential"},
    }
    cfg.update(extra)
    return cfg


def test_import_is_light_and_names_load_lazily():
    code = ("import sys, msbayes; heavy = [m for m in ('pymc', 'xarray', 'pandas', 'pydantic') if m in sys.modules];"
            "print(heavy); print(callable(msbayes.simulate_design), 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True True"
    assert {"fit_reanalysis", "simulate_design", "write_report", "load_data"} <= set(dir(msbayes))


def test_simulate_in_memory_quiet_matches_t_test_power(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    res = msbayes.simulate_design(_two_arm(), quiet=True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert list(tmp_path.iterdir()) == []  # nothing written
    oc = res.oc
    assert {"p_go", "p_go_mcse", "p_reject", "p_reject_mcse"} <= set(oc.data_vars)
    assert dict(oc.sizes) == {"design.n_per_arm": 2, "scenario": 2}
    for n in (N1, N2):
        df = 2 * n - 2
        crit = stats.t.ppf(0.975, df)
        ncp = EFFECT / SD * np.sqrt(n / 2)
        power = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
        cell = oc.sel({"design.n_per_arm": n})
        p, se = float(cell["p_reject"].sel(scenario="mcid")), float(cell["p_reject_mcse"].sel(scenario="mcid"))
        assert abs(p - power) < 4 * se, (n, p, power, se)
        p0, se0 = float(cell["p_reject"].sel(scenario="null")), float(cell["p_reject_mcse"].sel(scenario="null"))
        assert abs(p0 - 0.05) < 4 * se0
        assert se == pytest.approx(np.sqrt(p * (1 - p) / 4000), rel=1e-6)
    text = repr(res)
    assert "msbayes design simulation: api-two-arm" in text
    assert "design.n_per_arm = 30, 60" in text
    p = float(oc["p_go"].sel({"design.n_per_arm": N2, "scenario": "mcid"}))
    assert f"{p:.3f} (" in text  # key OCs printed with their MCSE
    assert "in memory only" in text
    tidy = res.to_dataframe()
    assert len(tidy) == 4 and {"p_go", "p_go_mcse"} <= set(tidy.columns)
    assert list(res.summary.columns[:2]) == ["design.n_per_arm", "scenario"]


def test_simulate_out_dir_is_the_cli_store_and_grows(tmp_path):
    mem = msbayes.simulate_design(_two_arm(), quiet=True)
    out = tmp_path / "sim"
    disk = msbayes.simulate_design(_two_arm(), out_dir=out, quiet=True)
    assert {"oc.nc", "oc.csv", "run.json", "cells"} <= {p.name for p in out.iterdir()}
    np.testing.assert_array_equal(mem.oc["p_go"].values, disk.oc["p_go"].values)
    grown = msbayes.simulate_design(_two_arm(), out_dir=out, quiet=True,
                                    overrides={"simulation.n_sims": 6000})
    run = json.loads((out / "run.json").read_text())
    assert run["chunks_computed"] == 4  # one new chunk per cell: the first two were reused
    assert int(grown.oc["n_sims"].min()) == 6000
    loaded = msbayes.load_simulation(out)
    np.testing.assert_array_equal(loaded.oc["p_go"].values, grown.oc["p_go"].values)


def test_sample_size_search_in_memory_and_printed(tmp_path):
    cfg = _two_arm(search={"metric": "p_reject", "target": 0.8, "scenario": "mcid", "n_min": 20, "n_max": 200})
    res = msbayes.simulate_design(cfg, quiet=True, overrides={"grid": {}})
    ss = res.sample_size
    assert ss is not None and len(ss) == 1
    # two-sided 5% t-test, 80% power, d = 0.1823 / 0.35: about 59 per arm
    assert 50 <= int(ss["n_per_arm"].iloc[0]) <= 68
    assert f"n = {int(ss['n_per_arm'].iloc[0])} per arm" in repr(res)


def test_quiet_loky_backend_prints_nothing(capfd):
    res = msbayes.simulate_design(_two_arm(), backend="loky", n_jobs=2, quiet=True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert res.oc.attrs["backend"] == "loky"


def test_not_quiet_reports_progress(capfd):
    msbayes.simulate_design(_two_arm(), quiet=False)
    _, err = capfd.readouterr()
    assert "[msbayes simulate]" in err


def test_notebook_without_widgets_gets_plain_progress_lines(monkeypatch, capfd):
    monkeypatch.setattr("msbayes.api._notebook_without_widgets", lambda: True)
    msbayes.simulate_design(_two_arm(), quiet=False)
    out, err = capfd.readouterr()
    assert "[msbayes simulate] cells 4/4" in err
    assert "\x1b[" not in err and "\r" not in err  # no terminal control characters


def test_config_errors_are_those_of_yaml(tmp_path):
    bad = _two_arm()
    bad["endpoint"] = {**bad["endpoint"], "sd": -0.3}
    bad["design"] = {**bad["design"], "colour": "red"}
    (tmp_path / "bad.yaml").write_text(msbayes.to_yaml(bad))
    raw, _ = load_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError) as from_yaml:
        validate_sim_config(raw, source="simulation config")
    with pytest.raises(ConfigError) as from_dict:
        msbayes.sim_config(bad)
    with pytest.raises(ConfigError) as from_sim:
        msbayes.simulate_design(bad, quiet=True)
    fields = sorted(f for f, _ in from_dict.value.errors)
    assert fields == ["design.colour", "endpoint.sd"]
    assert from_dict.value.errors == from_yaml.value.errors == from_sim.value.errors
    with pytest.raises(ConfigError, match="overrides"):
        msbayes.sim_config(_two_arm(), overrides=["simulation.n_sims", 5])
    with pytest.raises(ConfigError, match="backend"):
        msbayes.simulate_design(_two_arm(), backend="spark", quiet=True)
    with pytest.raises(ConfigError, match="name: unknown built-in data set"):
        msbayes.load_data("harris2099")


@pytest.mark.parametrize("path", ["configs/design/two_arm_sample_size.yaml", "configs/design/dose_finding.yaml"])
def test_sim_config_yaml_round_trip(path, tmp_path):
    cfg = msbayes.sim_config(ROOT / path)
    text = msbayes.to_yaml(cfg, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text() == text
    assert msbayes.sim_config(tmp_path / "again.yaml") == cfg
    assert msbayes.sim_config(msbayes.config_from_yaml(text)) == cfg
    changed = msbayes.sim_config(cfg, overrides={"simulation.n_sims": 123})
    assert changed.simulation.n_sims == 123 and changed.name == cfg.name


def test_fit_config_yaml_round_trip(tmp_path):
    cfg = msbayes.fit_config(ROOT / "configs/reanalysis/harris2024.yaml")
    again = msbayes.fit_config(msbayes.config_from_yaml(msbayes.to_yaml(cfg)))
    assert again == cfg
    with pytest.raises(ConfigError) as exc:
        msbayes.fit_config(cfg, overrides={"sampler.draws": "many"})
    assert exc.value.errors[0][0] == "sampler.draws"


def test_load_data_builtin():
    df = msbayes.load_data("harris2024")
    assert {"endpoint", "population", "arm"} <= set(df.columns)
    assert (df["population"] == "edss_6.0-6.5").sum() == 4


SMALL_FIT = {
    "name": "api-fit", "seed": 5, "models": ["summary_log"], "priors": ["neutral"],
    "data": {"dataset": "harris2024", "treatment_arm": "msc_np", "control_arm": "saline",
             "strata": ["edss_3.0-5.5", "edss_6.0-6.5"]},
    "assumed_n": {"edss_6.0-6.5": {"t25fw": {"msc_np": 12, "saline": 10}, "6mwt": {"msc_np": 12, "saline": 12}}},
    "sampler": {"draws": 300, "tune": 300, "chains": 2, "cores": 1, "prior_draws": 100, "target_accept": 0.95},
    "sensitivity": {"models": [], "borrowing": False, "subgroup_n": False, "between_share": []},
}


@contextlib.contextmanager
def _capture_all(path: Path):
    """Everything written to fds 1 and 2 and to sys.stdout / sys.stderr goes to ``path``."""
    with open(path, "w+") as fh:
        sys.stdout.flush(), sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(fh.fileno(), 1), os.dup2(fh.fileno(), 2)
        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("quiet") / "printed.txt"
    with _capture_all(out):
        res = msbayes.fit_reanalysis(SMALL_FIT, quiet=True)
    res.printed = out.read_text()  # what the quiet fit printed (checked below)
    return res


def test_fit_in_memory(fitted, tmp_path, monkeypatch):
    res = fitted
    assert res.out_dir is None
    post = res.idata.posterior
    assert "effect" in post and post["effect"].dims == ("chain", "draw", "estimand")
    s = res.summary
    row = s[(s.endpoint == "t25fw") & (s.population == "edss_6.0-6.5") & (s.estimand == "effect")].iloc[0]
    draws = res.effect_draws(model="summary_log", prior="neutral", endpoint="t25fw", population="edss_6.0-6.5")
    assert row["mean"] == pytest.approx(draws.mean())
    assert row["p_mcid"] == pytest.approx(np.mean(draws > row["mcid"]))
    assert {"r_hat", "ess_bulk", "diagnostics_ok"} <= set(res.diagnostics.columns)
    text = repr(res)
    assert "msbayes re-analysis: api-fit" in text and "edss_6.0-6.5" in text and "(prediction)" in text
    assert res.to_dataframe().equals(s)


def test_fit_quiet_prints_nothing(fitted, tmp_path):
    assert fitted.printed == ""
    with _capture_all(tmp_path / "check.txt"):  # the capture itself works
        print("x"), os.write(2, b"y")
    assert sorted((tmp_path / "check.txt").read_text()) == sorted("x\ny")  # buffering may reorder


def test_fit_save_load_plots_and_report(fitted, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = fitted.plot_forest()
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    plt.close("all")
    saved = fitted.save(tmp_path / "fit")
    assert {"posterior.nc", "summary.csv", "fit_meta.json"} <= {p.name for p in saved.iterdir()}
    back = msbayes.load_fit(saved)
    assert np.allclose(back.summary["mean"], fitted.summary["mean"])
    sim = msbayes.simulate_design(_two_arm(), quiet=True)
    ax = sim.plot_oc("p_go")
    assert ax.get_xlabel() == "patients per arm"  # plain labels, as in the report
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend and all(t not in sim.oc["scenario"].values.tolist() for t in legend), legend
    plt.close("all")
    html = msbayes.write_report(fit=fitted, sims=[sim], out_dir=tmp_path / "report", quiet=True, formats=("png",))
    assert html.name == "report.html" and html.stat().st_size > 1000
    assert sim.out_dir is None  # reporting an in-memory result does not rebind it
    with pytest.raises(ConfigError, match="nothing to report|give a fit"):
        msbayes.write_report(out_dir=tmp_path / "r2")
