"""Quantiles of the randomised sample size and of the trial duration of a design with
interims (``n_q*``, ``duration_q*`` in oc.nc): equal to the empirical lower quantiles of the
per-trial values the chunk function returns for the same trials."""

from __future__ import annotations

import io
import math

import numpy as np

from msbayes.design.config import validate_sim_config
from msbayes.grid.runner import run_grid
from msbayes.rng import cell_seed, chunk_rng
from msbayes.simulate.twoarm_sequential import simulate_chunk

RAW = {
    "name": "seq-quantiles", "seed": 17,
    "endpoint": {"sd": 0.35, "mcid": math.log(1.2), "dropout": 0.1},
    "design": {"type": "parallel", "n_per_arm": 60},
    "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": math.log(1.2)}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
    "interims": {"looks": [0.3, 0.6, 1.0], "timing": "accrual", "accrual": {"rate": 3.0, "follow_up": 12.0},
                 "efficacy": {"spending": "pocock"}, "futility": {"spending": "obf"}},
    "simulation": {"n_sims": 3000, "chunk_size": 3000},
}


def test_n_and_duration_quantiles_are_the_empirical_lower_quantiles(tmp_path):
    ds = run_grid(RAW, config_text="x", out_dir=tmp_path / "o", quiet=True, stream=io.StringIO(),
                  backend="sequential").load()
    cfg = validate_sim_config(RAW)
    for scen in ("null", "mcid"):
        # the same trials: one chunk of the cell, seeded as the runner seeds it
        out = simulate_chunk(cfg, scen, 3000, chunk_rng(cell_seed(RAW["seed"], {"scenario": scen}), 0))
        for prefix, values in (("n", out["n_total"]), ("duration", out["duration"])):
            for q in (10, 50, 90):
                want = np.quantile(values, q / 100, method="inverted_cdf")
                got = float(ds[f"{prefix}_q{q}"].sel(scenario=scen))
                assert got == want, (scen, prefix, q, got, want)
        # the durations are the looks' calendar times: a trial stopped at look k took time_at_look[k]
        assert set(np.unique(out["duration"])) <= set(ds["time_at_look"].values.tolist())
