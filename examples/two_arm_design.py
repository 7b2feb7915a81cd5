# %% [markdown]
# # Size a two-arm trial for power and for assurance
#
# A two-arm parallel trial on the T25FW log speed ratio (positive = better; MCID log(1.2)).
# Power is P(go) under a fixed true effect; assurance averages P(go) over a design prior on
# the effect (here a normal prior; `from_fit` reads a re-analysis posterior instead, see the
# user guide). Every OC comes with its Monte Carlo standard error (MCSE).

# %%
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import msbayes

QUICK = os.environ.get("MSBAYES_EXAMPLES_QUICK") == "1"
OUT = Path(os.environ.get("MSBAYES_EXAMPLES_OUT", "results/examples"))
MCID = math.log(1.2)

# %% [markdown]
# Build the config in Python: the same keys, validation and error messages as a YAML file.

# %%
design = {
    "name": "t25fw-two-arm",
    "seed": 20261125,
    "endpoint": {"name": "t25fw", "scale": "log_speed_ratio", "sd": 0.35, "placebo_mean": -0.18,
                 "mcid": MCID, "dropout": 0.12},
    "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "allocation": [1, 1], "n_per_arm": 60},
    "scenarios": {
        "null": {"effect": 0.0},
        "target": {"effect": math.log(1.3)},
        "design_prior": {"normal": {"mean": 0.2, "sd": 0.1}},
    },
    "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": MCID / 1.645}, "variance": "plugin"},
    "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}},
    "grid": {"design.n_per_arm": [40, 80, 120] if QUICK else [20, 40, 60, 80, 100, 120, 150, 200]},
    "simulation": {"n_sims": 2000 if QUICK else 20000, "chunk_size": 1000 if QUICK else 10000},
    "search": {"metric": "p_go", "target": 0.8, "scenario": "target", "n_min": 10, "n_max": 400},
}
cfg = msbayes.sim_config(design)

# %% [markdown]
# A bad value is refused before any work, naming the field:

# %%
try:
    msbayes.sim_config(design, overrides={"endpoint.sd": -0.35})
except msbayes.ConfigError as exc:
    print(exc.errors)

# %% [markdown]
# Simulate in memory (`out_dir=...` would keep the run, resumable, as `msbayes simulate`).
# The printed summary shows the design, P(go) with its MCSE per cell, and the sample size.

# %%
res = msbayes.simulate_design(cfg, backend="sequential" if QUICK else None, quiet=True)
print(res)

# %%
oc = res.oc  # xarray Dataset: dims design.n_per_arm x scenario
print(oc["p_go"].sel(scenario="design_prior").to_series().round(3))  # assurance by n
print(res.sample_size[["scenario", "metric", "target", "n_per_arm", "achieved", "achieved_mcse"]])

# %%
ax = res.plot_oc("p_go")
OUT.mkdir(parents=True, exist_ok=True)
ax.figure.savefig(OUT / "two_arm_p_go.png")

# %% [markdown]
# The design explored here becomes a file for `msbayes simulate` (or a larger grid):

# %%
text = msbayes.to_yaml(cfg, OUT / "two_arm.yaml")
assert msbayes.sim_config(OUT / "two_arm.yaml") == cfg
print(text.splitlines()[0])
