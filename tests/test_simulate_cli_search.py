"""`msbayes simulate` with a `search:` section names sample_size.csv and prints the n it found
(the same n as the file), for a fixed and for a sequential design ("maximum n per arm")."""

from __future__ import annotations

import math

import pandas as pd
import yaml
from typer.testing import CliRunner

from msbayes.cli import app

BASE = {
    "name": "cli-search", "seed": 3,
    "endpoint": {"sd": 0.35, "mcid": math.log(1.2)},
    "design": {"type": "parallel", "n_per_arm": 40},
    "scenarios": {"null": {"effect": 0.0}, "target": {"effect": 0.26}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
    "simulation": {"n_sims": 2000, "chunk_size": 2000, "backend": "sequential"},
    "search": {"metric": "p_go", "target": 0.8, "scenario": "target", "n_min": 10, "n_max": 200},
}


def _run(tmp_path, raw, name):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / name
    res = CliRunner().invoke(app, ["simulate", str(cfg), "--out", str(out), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output, pd.read_csv(out / "sample_size.csv")


def test_search_result_is_printed(tmp_path):
    text, ss = _run(tmp_path, BASE, "fixed")
    assert "sample_size.csv" in text
    n = int(ss["n_per_arm"].iloc[0])
    assert f"search: p_go >= 0.8 under 'target': n per arm {n} (achieved" in text
    seq = {**BASE, "interims": {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}}}
    text, ss = _run(tmp_path, seq, "seq")
    assert f"maximum n per arm {int(ss['n_per_arm'].iloc[0])} (achieved" in text
    unreached = {**BASE, "search": {**BASE["search"], "n_max": 12}}
    text, ss = _run(tmp_path, unreached, "unreached")
    assert "not reached up to n per arm 12" in text
