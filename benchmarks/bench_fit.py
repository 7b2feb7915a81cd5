"""Benchmark ``msbayes fit``: wall time of the default fit and ESS/s per sampler.

Run from the repo root::

    PYTENSOR_FLAGS=compiledir=$PWD/.pytensor .venv/bin/python benchmarks/bench_fit.py [--quick]

1. The default re-analysis (configs/reanalysis/harris2024.yaml: all models x 3 priors) into a
   temporary folder: total wall time and the compile / sampling split from fit_meta.json.
   ``--quick`` fits only summary_log + binary with 500 draws.
2. The summary model (log scale, built-in data, skeptical prior) sampled by nutpie and by
   PyMC's default NUTS (``cores=2``) with the same draws: compile time, sampling time, minimum
   bulk ESS over the effect estimands and ESS per second of sampling.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def bench_default_fit(quick: bool) -> dict:
    from msbayes.config import load_yaml
    from msbayes.fit import run_fit, validate_fit_config

    raw, text = load_yaml(ROOT / "configs/reanalysis/harris2024.yaml")
    if quick:
        raw = {**raw, "models": ["summary_log", "binary"], "sampler": {**raw["sampler"], "draws": 500, "tune": 500}}
    cfg = validate_fit_config(raw, base_dir=ROOT / "configs/reanalysis")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_fit(cfg, out_dir=Path(tmp) / "fit", config_text=text, progress=False)
        wall = time.perf_counter() - t0
    tm = res.meta["timings_seconds"]
    return {"wall_s": wall, "compile_s": sum(v for k, v in tm.items() if k.startswith("compile.")),
            "sample_s": sum(v for k, v in tm.items() if k.startswith("sample.")),
            "n_fits": len(res.meta["fits"]), "diagnostics_ok": res.diagnostics_ok}


def bench_samplers(draws: int) -> list[dict]:
    from msbayes.fit import validate_fit_config
    from msbayes.fit.jobs import build_jobs
    from msbayes.fit.prepare import prepare_inputs
    from msbayes.fit.sampling import compile_model, sample_compiled
    from msbayes.config import load_yaml

    raw, _ = load_yaml(ROOT / "configs/reanalysis/harris2024.yaml")
    cfg = validate_fit_config({**raw, "models": ["summary_log"]}, base_dir=ROOT / "configs/reanalysis")
    job = build_jobs(cfg, prepare_inputs(cfg))[0]
    data = {**job.fixed_data, **job.prior_data(cfg.prior_presets()[0])}
    out = []
    for backend in ("nutpie", "pymc"):
        t0 = time.perf_counter()
        cf = compile_model(job.build(), backend=backend)
        t_c = time.perf_counter() - t0
        t1 = time.perf_counter()
        idata = sample_compiled(cf, data=data, draws=draws, tune=draws, chains=2, cores=2, seed=1, target_accept=0.95)
        t_s = time.perf_counter() - t1
        ess = float(np.min(az.ess(idata.posterior[["theta"]], method="bulk")["theta"].values))
        out.append({"sampler": backend, "compile_s": t_c, "sample_s": t_s, "min_ess_bulk": ess,
                    "ess_per_s": ess / t_s, "ess_per_s_incl_compile": ess / (t_s + t_c)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller default fit and fewer draws")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    con = Console()
    fit = bench_default_fit(args.quick)
    t = Table(title="msbayes fit: default run" + (" (--quick)" if args.quick else ""))
    for c in ("fits", "wall s", "compile s", "sampling s", "diagnostics ok"):
        t.add_column(c, justify="right")
    t.add_row(str(fit["n_fits"]), f"{fit['wall_s']:.1f}", f"{fit['compile_s']:.1f}", f"{fit['sample_s']:.1f}",
              str(fit["diagnostics_ok"]))
    con.print(t)
    rows = bench_samplers(500 if args.quick else 1000)
    t = Table(title="summary model (log scale): ESS per second, same draws, 2 chains, cores=2")
    for c in ("sampler", "compile s", "sampling s", "min ESS bulk", "ESS/s (sampling)", "ESS/s (incl. compile)"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(r["sampler"], f"{r['compile_s']:.1f}", f"{r['sample_s']:.2f}", f"{r['min_ess_bulk']:.0f}",
                  f"{r['ess_per_s']:.0f}", f"{r['ess_per_s_incl_compile']:.1f}")
    con.print(t)


if __name__ == "__main__":
    main()
