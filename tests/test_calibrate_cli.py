"""Threshold calibration as a user journey: ``msbayes calibrate`` and ``msbayes.calibrate_design``.

Independent answer: re-simulation of the calibrated design on fresh seeds through the
engine's own cell simulation (``simulate_cell``, a different seed stream from the
calibration): the type I error must be within 3 MCSE of the target, the MCSE combining the
calibration sample and the fresh one (``sqrt(t (1 - t) (1/n_cal + 1/n_fresh))``).
Bad input is refused before any work, naming the field.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import msbayes
from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell

SD, MCID = 0.35, 0.1823
SEQ = {
    "name": "cal-seq", "seed": 11,
    "endpoint": {"sd": SD, "mcid": MCID},
    "design": {"type": "parallel", "n_per_arm": 50},
    "scenarios": {"null": {"effect": 0.0}, "alt": {"effect": 0.2}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.2}, "variance": "known"},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.0}},
    "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.99},
                 "futility": {"p_mcid_below": 0.05}},
    "simulation": {"n_sims": 2000, "chunk_size": 10000},
}
FIXED = {
    "name": "cal-fixed", "seed": 5,
    "endpoint": {"sd": SD, "mcid": MCID},
    "design": {"type": "parallel", "n_per_arm": 40},
    "scenarios": {"null": {"effect": 0.0}},
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.1, "sd": 0.1}},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.95, "p_mcid": 0.1}},
    "simulation": {"n_sims": 2000, "chunk_size": 10000},
}


def _set(raw, dotted, value):
    out = copy.deepcopy(raw)
    node = out
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return out


def _fresh_type1(raw, n):
    cfg = validate_sim_config(raw)
    acc = simulate_cell(cfg, "null", n, cell_seed(987654, {"fresh": raw["name"]}), chunk_size=20_000)
    return acc.finalize()["p_go"]


@pytest.mark.parametrize("raw, field", [(SEQ, "interims.efficacy.p_benefit"), (FIXED, "decision.go.p_benefit")])
def test_calibrated_threshold_holds_on_fresh_seeds(raw, field):
    target, n_cal, n_fresh = 0.05, 20_000, 40_000
    tab = msbayes.calibrate_design(raw, target=target, n_sims=n_cal)
    assert list(tab["cell"]) == ["base"] and tab.loc[0, "field"] == field
    assert tab.loc[0, "type1"] <= target and tab.loc[0, "n_sims"] == n_cal
    a = tab.loc[0, "type1"]
    assert tab.loc[0, "type1_mcse"] == pytest.approx(math.sqrt(a * (1 - a) / n_cal))
    u = float(tab.loc[0, "threshold"])
    p = _fresh_type1(_set(raw, field, u), n_fresh)
    mcse = math.sqrt(target * (1 - target) * (1 / n_cal + 1 / n_fresh))
    assert abs(p - target) < 3 * mcse, (p, target, mcse, u)
    # and the design as written (threshold 0.99 / 0.95) is not what the calibration found
    assert abs(u - (0.99 if field.startswith("interims") else 0.95)) > 1e-3


def test_cli_prints_the_table_writes_csv_and_says_where_the_threshold_goes(tmp_path):
    from typer.testing import CliRunner

    from msbayes.cli import app

    raw = _set(SEQ, "grid", {"design.n_per_arm": [30, 50]})
    cfg_path = tmp_path / "seq.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "cal.csv"
    res = CliRunner().invoke(app, ["calibrate", str(cfg_path), "--target", "0.05", "--n-sims", "2000",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    tab = pd.read_csv(out)
    assert list(tab.columns) == ["cell", "design.n_per_arm", "field", "threshold", "type1", "type1_mcse",
                                 "target", "n_sims"]
    assert tab["cell"].tolist() == ["design.n_per_arm=30", "design.n_per_arm=50"]
    assert (tab["type1"] <= 0.05).all() and (tab["n_sims"] == 2000).all()
    assert "interims.efficacy.p_benefit" in res.output and "threshold" in res.output
    for u in tab["threshold"]:
        assert f"{u:.5f}" in res.output
    # the same numbers from the Python API with the same seed
    api = msbayes.calibrate_design(raw, target=0.05, n_sims=2000)
    np.testing.assert_allclose(api["threshold"], tab["threshold"], rtol=1e-12)


@pytest.mark.parametrize("change, field", [
    ({"scenarios": {"alt": {"effect": 0.2}}}, "scenarios"),
    ({"scenarios": {"null": {"effect": 0.1}}}, r"scenarios\.null"),
    ({"interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": "none",
                   "futility": {"p_mcid_below": 0.05}}}, r"interims\.efficacy"),
    ({"interims": None, "analysis": {"method": "welch", "alpha": 0.025},
      "decision": {"rule": "significance", "alpha": 0.025}}, r"analysis\.method"),
])
def test_bad_input_is_refused_naming_the_field(change, field, monkeypatch):
    import msbayes.sequential.bayes as bayes

    def boom(*a, **k):  # nothing may be simulated before the refusal
        raise AssertionError("simulated before refusing")

    monkeypatch.setattr(bayes, "calibrate_interim_efficacy", boom)
    raw = copy.deepcopy(SEQ)
    raw.update(change)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError, match=field):
        msbayes.calibrate_design(raw)


def test_a_target_the_mcid_part_already_meets_is_refused_naming_it():
    """p_mcid 0.3 alone gives a null go rate of about 0.01 (< 0.05): no p_benefit threshold to find."""
    with pytest.raises(ConfigError, match=r"decision\.go\.p_mcid"):
        msbayes.calibrate_design(_set(FIXED, "decision.go.p_mcid", 0.3), target=0.05, n_sims=5000)


@pytest.mark.parametrize("target", [0.0, 0.5, 0.7, -0.1])
def test_target_outside_the_open_interval_is_refused(target):
    with pytest.raises(ConfigError, match=r"target.*\(0, 0\.5\)"):
        msbayes.calibrate_design(SEQ, target=target)


def test_cli_refusal_exits_2_without_writing(tmp_path):
    from typer.testing import CliRunner

    from msbayes.cli import app

    cfg_path = tmp_path / "seq.yaml"
    cfg_path.write_text(yaml.safe_dump(SEQ))
    out = tmp_path / "cal.csv"
    res = CliRunner().invoke(app, ["calibrate", str(cfg_path), "--scenario", "nothing", "--out", str(out)])
    assert res.exit_code == 2 and "scenarios" in res.output and "nothing" in res.output
    assert not out.exists()


@pytest.mark.parametrize("bad", ["/proc/nope.csv", "{tmp}/a_folder", "{tmp}/a_file/below.csv"])
def test_cli_unwritable_out_is_refused_before_any_work(tmp_path, monkeypatch, bad):
    from typer.testing import CliRunner

    import msbayes.api
    from msbayes.cli import app

    def _no_work(*a, **k):  # the calibration must not start
        raise AssertionError("calibrate_design was called before --out was checked")

    monkeypatch.setattr(msbayes.api, "calibrate_design", _no_work)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    cfg_path = tmp_path / "seq.yaml"
    cfg_path.write_text(yaml.safe_dump(SEQ))
    res = CliRunner().invoke(app, ["calibrate", str(cfg_path), "--out", bad.format(tmp=tmp_path)])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: --out:") and "Traceback" not in res.output


@pytest.mark.slow
def test_dose_finding_interim_threshold_holds_on_fresh_seeds():
    """Dose finding (placebo + 3 doses, Bayesian Emax, success stop on the grid posterior's
    P(Emax > 0), futility on the best pairwise P(effect > MCID), accrual timing): the calibrated
    interims.efficacy.p_benefit gives a fresh type I error within 3 combined MCSE of 0.05."""
    raw = {
        "name": "cal-df", "seed": 17,
        "endpoint": {"sd": SD, "mcid": MCID, "dropout": 0.1},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10], "reference_dose": 10, "n_per_arm": 30,
                   "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"null": {"effect": 0.0}},
        "analysis": {"method": "bayes_emax", "ed50_grid": {"lower": 0.5, "upper": 30, "n": 16},
                     "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}},
        "decision": {"rule": "dual", "go": {"p_benefit": 0.95, "p_mcid": 0.0}},
        "interims": {"looks": [0.5, 1.0], "rule": "bayesian", "efficacy": {"p_benefit": 0.99},
                     "futility": {"p_mcid_below": 0.05}, "timing": "accrual",
                     "accrual": {"rate": 4.0, "follow_up": 6.0}},
        "simulation": {"n_sims": 1000, "chunk_size": 10000},
    }
    target, n_cal, n_fresh = 0.05, 10_000, 20_000
    tab = msbayes.calibrate_design(raw, target=target, n_sims=n_cal)
    assert tab.loc[0, "field"] == "interims.efficacy.p_benefit" and tab.loc[0, "type1"] <= target
    p = _fresh_type1(_set(raw, "interims.efficacy.p_benefit", float(tab.loc[0, "threshold"])), n_fresh)
    mcse = math.sqrt(target * (1 - target) * (1 / n_cal + 1 / n_fresh))
    assert abs(p - target) < 3 * mcse, (p, tab.loc[0, "threshold"], mcse)
