# %% [markdown]
# # Compare dose sets and numbers of injections
#
# A dose-finding trial analysed with MCP-Mod: which set of doses (and how many patients per
# arm) gives the best chance of showing a dose-response and picking a dose near the target?
# The dose axis can be cells per injection, the number of injections or cumulative cells
# (`design.dose_metric`); here cells per injection, with the number of injections fixed at 6.

# %%
import os

import msbayes

QUICK = os.environ.get("MSBAYES_EXAMPLES_QUICK") == "1"

# %% [markdown]
# Start from the shipped config and put the dose set on a grid axis (each value is a list
# of doses, placebo first); `design.allocation: null` gives equal allocation to every dose.

# %%
cfg = msbayes.sim_config("configs/design/dose_finding.yaml", overrides={
    "design.allocation": None,
    "grid": {"design.doses": [[0, 3, 10], [0, 3, 6, 10], [0, 1, 3, 6, 10]],
             "design.n_per_arm": [20, 40]},
    "simulation.n_sims": 1000 if QUICK else 10000,
    "simulation.chunk_size": 1000 if QUICK else 5000,
})
res = msbayes.simulate_design(cfg, backend="sequential" if QUICK else None, quiet=True)
print(res)

# %% [markdown]
# P(correct dose) and P(reject flat) under the MCID scenario, by dose set and n per arm,
# each with its MCSE:

# %%
tab = res.summary
sel = tab[tab["scenario"] == "mcid"][["design.doses", "design.n_per_arm", "p_reject", "p_reject_mcse",
                                      "p_correct_dose", "p_correct_dose_mcse"]]
print(sel.to_string(index=False))

# %% [markdown]
# Number of injections as the dose: the same machinery with `dose_metric: n_injections`
# (e.g. 0, 3 or 6 injections of 10 million cells).

# %%
inj = msbayes.sim_config("configs/design/dose_finding.yaml", overrides={
    "design.doses": [0, 3, 6], "design.allocation": None, "design.dose_metric": "n_injections",
    "design.dose_unit": "injections of 10 million cells", "design.reference_dose": 6,
    "design.dose_response.ed50": 2.0, "analysis.models": {"linear": None, "emax": [1.0, 3.0]},
    "grid": {"design.n_per_arm": [30, 60]},
    "simulation.n_sims": 1000 if QUICK else 10000, "simulation.chunk_size": 1000 if QUICK else 5000,
})
res_inj = msbayes.simulate_design(inj, backend="sequential" if QUICK else None, quiet=True)
print(res_inj.summary.round(3).to_string(index=False))
