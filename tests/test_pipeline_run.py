"""`make run`'s job end to end (reduced sizes): fit -> three design grids -> report.

Runs the real CLI in a subprocess from a scratch directory holding a copy of ``configs/``, so
the user's ``results/`` is never touched, then checks the report's content.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_default_pipeline_quick_writes_report_with_key_tables(tmp_path: Path):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    exe = Path(sys.executable).with_name("msbayes")
    env = {**os.environ, "PYTENSOR_FLAGS": f"compiledir={ROOT / '.pytensor'}", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [str(exe), "run", "configs/run/default.yaml", "--quick", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = tmp_path / "results" / "report" / "report.html"
    last = proc.stdout.strip().splitlines()[-1]
    assert last == f"Report written to {report}"
    html = report.read_text()

    # the re-analysis table: every summary_log estimand of the fit appears with its mean
    summary = pd.read_csv(tmp_path / "results" / "reanalysis" / "summary.csv")
    assert {"model", "prior", "endpoint", "population", "mean", "p_mcid", "r_hat", "ess_bulk"} <= set(summary.columns)
    assert "Posterior summaries" in html
    # the sample-size table: each searched n per arm is in the report
    ss = pd.read_csv(tmp_path / "results" / "sims" / "sample_size" / "sample_size.csv", keep_default_na=False)
    assert len(ss) == 3  # one search per SD value of the grid
    assert re.search(r"[Ss]ample[- ]size", html)
    for n in ss["n_per_arm"]:
        assert f">{int(n)}<" in html
    # predictions are flagged; the default run has no synthetic evidence anywhere
    assert "PREDICTION" in html.upper()
    assert "synthetic" not in set(summary["status"])
    text = (tmp_path / "results" / "report" / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" not in text
    # the skeptical prior is calibrated on the reported stratum effect (5% beyond the MCID)
    sens = pd.read_csv(tmp_path / "results" / "reanalysis" / "sensitivity.csv")
    sk = sens[(sens.prior == "skeptical") & (sens.analysis == "primary") & (sens.model == "summary_log")]
    assert ((sk.prior_p_mcid - 0.05).abs() < 0.03).all(), sk.prior_p_mcid
    # assurance under three design priors that differ, with the go boundary and the ceiling
    import xarray as xr

    with xr.open_dataset(tmp_path / "results" / "sims" / "assurance" / "oc.nc") as oc:
        assert {"go_boundary", "assurance_ceiling", "p_go_mcse"} <= set(oc.data_vars)
        assert oc.sizes["scenario"] >= 3
        ceil = oc["assurance_ceiling"].max([d for d in oc["assurance_ceiling"].dims if d != "scenario"]).values
        assert len(set(np.round(ceil, 3))) >= 3, ceil
    for d in ("sample_size", "assurance", "dose_finding"):
        assert (tmp_path / "results" / "sims" / d / "oc.nc").is_file()
