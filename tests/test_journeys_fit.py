"""Journeys through `msbayes fit` off the shipped config, each end to end with non-default values.

* the user's own summary table (two strata), with and without external evidence (a second
  user file), borrowing primary or as a sensitivity analysis;
* the built-in data without external studies (the "drop Petrou" analysis, once a crash);
* the PyMC sampler with several priors (once a crash on the second prior), and nutpie;
* the mean-effect parameterisation.

Each asserts the exit status, the artefacts and their labels, not only "no error".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from msbayes.cli import app

OWN = """study,endpoint,population,arm,horizon_months,convention,n,n_status,mean,sd,events,source,locator,note
mytrial,t25fw,edss_3.0-5.5,treatment,12,pct_change_time,20,reported,-4.0,15.0,,,,
mytrial,t25fw,edss_3.0-5.5,placebo,12,pct_change_time,21,reported,6.0,18.0,,,,
mytrial,t25fw,edss_6.0-6.5,treatment,12,pct_change_time,15,reported,-2.0,20.0,,,,
mytrial,t25fw,edss_6.0-6.5,placebo,12,pct_change_time,14,reported,12.0,25.0,,,,
"""
EXT = """study,endpoint,population,arm,horizon_months,convention,n,n_status,mean,sd,events,source,locator,note
otherstudy,t25fw,all,treatment,6,pct_change_time,80,reported,-25.0,14.0,,,,
otherstudy,t25fw,all,placebo,6,pct_change_time,80,reported,25.0,20.0,,,,
"""

SAMPLER = "sampler: {draws: 300, tune: 300, prior_draws: 200, target_accept: 0.95}\n"


def _run(tmp_path: Path, yaml_text: str, name: str = "fit"):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml_text)
    out = tmp_path / f"out_{name}"
    r = CliRunner().invoke(app, ["fit", str(cfg), "--out", str(out), "--allow-failed-diagnostics"])
    return r, out


def _own_files(tmp_path: Path) -> None:
    (tmp_path / "own.csv").write_text(OWN)
    (tmp_path / "ext.csv").write_text(EXT)


BASE = ("name: own\nseed: 11\n"
        "data: {{file: own.csv, dataset: null, treatment_arm: treatment, control_arm: placebo, "
        "strata: [edss_3.0-5.5, edss_6.0-6.5]{ext}}}\n"
        "models: [summary_log]\npriors: [skeptical, neutral]\n" + SAMPLER.replace("{", "{{").replace("}", "}}"))


def test_own_table_without_external_evidence(tmp_path):
    _own_files(tmp_path)
    r, out = _run(tmp_path, BASE.format(ext=""))
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out / "summary.csv")
    assert set(s.population) == {"edss_3.0-5.5", "edss_6.0-6.5"}
    assert set(s.status) == {"estimate"}  # both strata have data
    assert set(s.borrowing) == {"none"}
    sens = pd.read_csv(out / "sensitivity.csv")
    assert "with_borrowing" not in set(sens.analysis)
    # user data: n reported, so no subgroup-size analyses; the raw estimates come from the table
    assert not any(str(a).startswith("subgroup_n") for a in sens.analysis)
    raw = pd.read_csv(out / "raw_vs_shrunk.csv")
    assert len(raw) == 4 and set(raw.status) == {"estimate"}


@pytest.mark.parametrize("role", ["sensitivity", "primary"])
def test_own_table_with_external_evidence(tmp_path, role):
    _own_files(tmp_path)
    ext = (", external: [{file: ext.csv, treatment_arm: treatment, control_arm: placebo, "
           f"discount: 0.3, role: {role}}}]")
    r, out = _run(tmp_path, BASE.format(ext=ext))
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out / "summary.csv")
    sens = pd.read_csv(out / "sensitivity.csv")
    if role == "primary":
        assert set(s.borrowing) == {"otherstudy(w=0.3)"}  # the study named in the file
        assert "without_borrowing" in set(sens.analysis)
        alt = sens[sens.analysis == "without_borrowing"]
        assert set(alt.borrowing) == {"none"}
    else:
        assert set(s.borrowing) == {"none"}
        alt = sens[sens.analysis == "with_borrowing"]
        assert len(alt) and set(alt.borrowing) == {"otherstudy(w=0.3)"}
    # the external study shows a much larger benefit: the analysis that borrows it is pulled up
    # (skeptical prior: the between-stratum SD is small, so the external study informs the mean;
    # each mean has MCSE ~0.003 at these draws, the shift is ~0.02-0.04)
    prim = sens[(sens.analysis == "primary") & (sens.prior == "skeptical")].set_index("population")["mean"]
    other = alt[alt.prior == "skeptical"].set_index("population")["mean"]
    borrowing, not_borrowing = (prim, other) if role == "primary" else (other, prim)
    assert (borrowing - not_borrowing).min() > 0.01, (borrowing, not_borrowing)


def test_builtin_data_without_external_studies_and_pymc_sampler_with_two_priors(tmp_path):
    text = ("name: nopetrou\nseed: 4\ndata: {dataset: harris2024, external: []}\n"
            "models: [summary_log]\npriors: [skeptical, enthusiastic]\n"
            "sampler: {backend: pymc, draws: 200, tune: 200, chains: 2, cores: 1, prior_draws: 100}\n")
    r, out = _run(tmp_path, text)
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out / "summary.csv")
    assert set(s.prior) == {"skeptical", "enthusiastic"}
    assert set(s.borrowing) == {"none"}
    sens = pd.read_csv(out / "sensitivity.csv")
    assert not {"with_borrowing", "without_borrowing"} & set(sens.analysis)
    import json

    meta = json.loads((out / "fit_meta.json").read_text())
    assert meta["backend"] == "pymc"
    # the unreported stratum is a prediction; the enthusiastic prior sits above the skeptical one
    assert set(s[s.population == "edss_3.0-5.5"].status) == {"prediction"}
    rep = s[(s.population == "edss_6.0-6.5") & (s.endpoint == "t25fw")].set_index("prior")["mean"]
    assert rep["enthusiastic"] > rep["skeptical"]


def test_mean_effect_parameterisation_with_tau_sensitivity(tmp_path):
    _own_files(tmp_path)
    text = BASE.format(ext="") + ("hierarchy: {prior_on: mean_effect, tau_prior_sd: 1.0}\n"
                                  "sensitivity: {models: [summary_log], tau_prior_sd: [0.5, 3.0]}\n")
    r, out = _run(tmp_path, text)
    assert r.exit_code == 0, r.output
    sens = pd.read_csv(out / "sensitivity.csv")
    assert {"tau_prior_sd_0.5mcid", "tau_prior_sd_3mcid"} <= set(sens.analysis)
    assert set(sens.prior_on) == {"mean_effect"}
    # the preset then sits on the mean: the stratum effect's prior is wider than the preset
    sk = sens[(sens.prior == "skeptical") & (sens.analysis == "primary")]
    assert (sk.prior_p_mcid > 0.08).all(), sk.prior_p_mcid
