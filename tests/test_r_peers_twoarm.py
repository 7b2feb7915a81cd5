"""Side by side with R: two-arm power (pwr) and sample size (rpact) on the same inputs.

The R packages are the independent reference; our numbers are simulated, so every comparison
is made within a tolerance derived from the Monte Carlo standard error.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from msbayes.design.config import validate_sim_config
from msbayes.oc.search import search_sample_size
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell

pytestmark = pytest.mark.r_peer

SD = 0.35
MCID = math.log(1.2)


def _r(code: str, packages: tuple[str, ...]) -> dict:
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    libs = "".join(f"suppressMessages(library({p}));" for p in packages)
    check = subprocess.run(["Rscript", "-e", libs], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"R package(s) {packages} not installed")
    out = subprocess.run(["Rscript", "-e", libs + code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cfg(n: int, *, n_sims: int, effect: float = MCID, equal_var: bool = True):
    return validate_sim_config(
        {
            "name": "r-peer",
            "seed": 20261125,
            "endpoint": {"sd": SD, "placebo_mean": -0.18, "dropout": 0.0, "mcid": MCID},
            "design": {"type": "parallel", "n_per_arm": n},
            "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": effect}},
            "analysis": {"method": "welch", "alpha": 0.05, "sided": "two", "equal_var": equal_var},
            "decision": {"rule": "significance", "alpha": 0.05},
            "simulation": {"n_sims": n_sims, "chunk_size": n_sims},
            "search": {"metric": "p_reject", "target": 0.8, "scenario": "mcid", "n_min": 10, "n_max": 200},
        }
    )


@pytest.mark.parametrize("n", [20, 58, 100])
def test_simulated_t_test_power_matches_pwr(n):
    d = MCID / SD
    r = _r(
        f'p<-pwr.t.test(n={n}, d={d!r}, sig.level=0.05, type="two.sample", alternative="two.sided")$power;'
        'cat(sprintf("{\\"power\\": %.12f}\\n", p))',
        ("pwr",),
    )
    cfg = _cfg(n, n_sims=40_000)
    res = simulate_cell(cfg, "mcid", 40_000, cell_seed(cfg.seed, {"n": n})).finalize()
    mcse = math.sqrt(r["power"] * (1 - r["power"]) / 40_000)
    assert abs(res["p_reject"] - r["power"]) < 3.5 * mcse, (res["p_reject"], r["power"], mcse)


def test_sample_size_search_matches_rpact():
    r = _r(
        "x<-getSampleSizeMeans(alternative=log(1.2), stDev=0.35, alpha=0.05, beta=0.2, sided=2);"
        "lo<-pwr::pwr.t.test(n=50, d=log(1.2)/0.35)$power; hi<-pwr::pwr.t.test(n=70, d=log(1.2)/0.35)$power;"
        'cat(sprintf("{\\"n1\\": %.6f, \\"slope\\": %.8f}\\n", x$nFixed1, (hi-lo)/20))',
        ("rpact", "pwr"),
    )
    n_sims = 40_000
    cfg = _cfg(60, n_sims=n_sims)
    res = search_sample_size(cfg)
    n_rpact = math.ceil(r["n1"])  # smallest integer n per arm with power >= 0.8 (normal-theory t)
    # Monte Carlo error in power (MCSE at 0.8) translates to an error in n through the slope of
    # the power curve near the target; allow 3 MCSE of that plus the integer step.
    tol = math.ceil(3 * math.sqrt(0.8 * 0.2 / n_sims) / r["slope"]) + 1
    assert abs(res.n - n_rpact) <= tol, (res.n, n_rpact, tol)
    assert np.isfinite(res.achieved)
