"""Estimate-and-SE input: a user re-analyses another trial's published effects.

* With the between-group spread switched off (``effects.pooling: none``) every posterior is the
  exact normal-normal update of its prior by the reported estimate and SE (closed form),
  checked within 4 ESS-based MCSE, through the whole ``run_fit`` path from a CSV file.
* ``higher_is_better: false`` rows are sign-flipped, any endpoint name and scale is accepted,
  a missing MCID and a bad table are refused before sampling with the field named.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from msbayes.cli import app
from msbayes.config import ConfigError
from msbayes.fit.config import validate_fit_config

TABLE = """study,endpoint,population,scale,estimate,se,higher_is_better
trialx,sbp,low_risk,mean_difference_mmhg,-4.0,2.0,false
trialx,sbp,high_risk,mean_difference_mmhg,-7.5,3.0,false
trialx,qol,low_risk,score_points,2.0,1.0,true
"""


def _cfg(tmp_path: Path, **over):
    (tmp_path / "effects.csv").write_text(TABLE)
    raw = {"name": "eff", "seed": 9, "models": ["effects"],
           "priors": [{"name": "wide", "mean": 0.5, "sd": 0.8}],
           "effects": {"file": "effects.csv", "mcid": {"sbp": 5.0, "qol": 3.0}, "pooling": "none"},
           "sampler": {"draws": 2000, "tune": 1000, "prior_draws": 100}}
    raw.update(over)
    return validate_fit_config(raw, base_dir=tmp_path)


def test_no_pooling_is_the_exact_normal_normal_update(tmp_path):
    from msbayes.fit.runner import run_fit

    cfg = _cfg(tmp_path)
    res = run_fit(cfg, out_dir=tmp_path / "out", config_text="t", progress=False)
    s = res.summary.set_index(["endpoint", "population"])
    for ep, pop, y, se, mcid in (("sbp", "low_risk", 4.0, 2.0, 5.0), ("sbp", "high_risk", 7.5, 3.0, 5.0),
                                 ("qol", "low_risk", 2.0, 1.0, 3.0)):
        m0, s0 = 0.5 * mcid, 0.8 * mcid  # custom prior in MCID units
        prec = 1 / s0**2 + 1 / se**2
        mean, sd = (m0 / s0**2 + y / se**2) / prec, math.sqrt(1 / prec)
        r = s.loc[(ep, pop)]
        assert r.status == "estimate"
        assert abs(r["mean"] - mean) < 4 * sd / math.sqrt(r.ess_bulk), (ep, pop, r["mean"], mean)
        assert abs(r["sd"] - sd) < 4 * sd / math.sqrt(2 * r.ess_bulk), (ep, pop, r["sd"], sd)
        p = 1 - 0.5 * math.erfc(-(mcid - mean) / (sd * math.sqrt(2)))
        assert abs(r.p_mcid - p) < 4 * math.sqrt(p * (1 - p) / r.ess_bulk) + 1e-3
    # qol was not reported for high_risk: with no pooling, its prediction is the prior itself
    pr = s.loc[("qol", "high_risk")]
    assert pr.status == "prediction"
    assert abs(pr["mean"] - 1.5) < 4 * 2.4 / math.sqrt(pr.ess_bulk)
    raw = pd.read_csv(tmp_path / "out" / "raw_vs_shrunk.csv")
    assert set(raw.raw_mean.round(6)) == {4.0, 7.5, 2.0}  # sign-flipped where lower is better


def test_hierarchical_effects_fit_runs_from_the_cli(tmp_path):
    (tmp_path / "effects.csv").write_text(TABLE)
    (tmp_path / "fit.yaml").write_text(
        "name: eff\nseed: 3\nmodels: [effects]\npriors: [skeptical]\n"
        "effects: {file: effects.csv, mcid: {sbp: 5.0, qol: 3.0}, strata: [unreported]}\n"
        "sampler: {draws: 300, tune: 300, prior_draws: 100}\n")
    r = CliRunner().invoke(app, ["fit", str(tmp_path / "fit.yaml"), "--out", str(tmp_path / "o"),
                                 "--allow-failed-diagnostics"])
    assert r.exit_code == 0, r.output
    s = pd.read_csv(tmp_path / "o" / "summary.csv")
    assert set(s.scale) == {"mean_difference_mmhg", "score_points"}
    assert set(s[s.population == "unreported"].status) == {"prediction"}
    sens = pd.read_csv(tmp_path / "o" / "sensitivity.csv")
    # the skeptical preset is the marginal prior of every stratum effect: 5% beyond the MCID
    assert (sens.prior_p_mcid.between(0.0, 0.12)).all()


def test_missing_mcid_and_bad_table_are_refused_before_sampling(tmp_path):
    with pytest.raises(ConfigError, match=r"effects\.mcid\.qol"):
        from msbayes.fit.prepare import prepare_inputs

        prepare_inputs(_cfg(tmp_path, effects={"file": "effects.csv", "mcid": {"sbp": 5.0}}))
    (tmp_path / "bad.csv").write_text(TABLE.replace("2.0,false", "-1,false", 1))
    with pytest.raises(ConfigError, match=r"row 2, column 'se'"):
        from msbayes.fit.prepare import prepare_inputs

        prepare_inputs(_cfg(tmp_path, effects={"file": "bad.csv", "mcid": {"sbp": 5.0, "qol": 3.0}}))
    with pytest.raises(ConfigError, match=r"effects\.file"):
        validate_fit_config({"name": "x", "seed": 1, "models": ["effects"]})
    r = CliRunner().invoke(app, ["data", "check", str(tmp_path / "bad.csv")])
    assert r.exit_code != 0 and "se" in r.output
    r = CliRunner().invoke(app, ["data", "check", str(tmp_path / "effects.csv")])
    assert r.exit_code == 0, r.output
