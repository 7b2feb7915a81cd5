"""Benchmark of adaptive designs: enrichment and multi-arm selection simulation (one core).

Prints trials per CPU second of
  1. msbayes' two-stage adaptive enrichment (S = half the population, 120 + 120 patients,
     SD 0.35, effects (0.25, 0), select the best population by its estimate, Spiessens-Debois
     closed inverse-normal test), with fixed and with multinomial stratum counts;
  2. msbayes' two-stage multi-arm selection (3 doses vs control, 40 + 40 per arm, effects
     (0, 0.1, 0.2), keep the best dose, Dunnett closed inverse-normal test);
  3. msbayes' response-adaptive randomisation (3 doses + control, 4 looks of 40 patients,
     Thompson allocation with power 0.5, floor 0.05, control share 0.25, multinomial blocks;
     superiority 0.99 / inferiority 0.01 / futility 0.05 / equivalence 0.9 within 0.05 against
     control; effects (0, 0.1, 0.2)); adaptr (R) is not in Debian, so no peer column;
  4. rpact ``getSimulationEnrichmentMeans`` / ``getSimulationMultiArmMeans`` on the same designs
     in the same run (skipped if Rscript, rpact or mnormt is missing), timed inside R (CPU
     time of the call only, no R start-up), and the ratios (target >= 10x).

Usage: python benchmarks/bench_adaptive.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from msbayes.adaptive import simulate_enrichment, simulate_multiarm  # noqa: E402
from msbayes.adaptive.rar import simulate_rar  # noqa: E402

SD = 0.35
R_DESIGN = "d <- getDesignInverseNormal(kMax=2, typeOfDesign='noEarlyEfficacy');"
R_ENRICH = ("e <- list(subGroups=c('S','R'), prevalences=c(0.5, 0.5), stDevs=0.35, effects=matrix(c(0.25, 0), ncol=2));"
            "f <- function() suppressWarnings(getSimulationEnrichmentMeans(d, effectList=e, plannedSubjects=c(120, 240),"
            " typeOfSelection='best', effectMeasure='effectEstimate', intersectionTest='SpiessensDebois',"
            " maxNumberOfIterations={n}, seed=1));")
R_MULTI = ("f <- function() suppressWarnings(getSimulationMultiArmMeans(d, activeArms=3,"
           " effectMatrix=matrix(c(0, 0.1, 0.2), nrow=1), typeOfShape='userDefined', stDev=0.35,"
           " plannedSubjects=c(40, 80), intersectionTest='Dunnett', typeOfSelection='best',"
           " effectMeasure='effectEstimate', maxNumberOfIterations={n}, seed=1));")


def _rate(fn, n):
    t0 = time.process_time()
    fn()
    return n / (time.process_time() - t0)


def _r_rate(body: str, n: int) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    code = ("suppressMessages({library(rpact); library(jsonlite)});" + R_DESIGN + body.format(n=n)
            + "tm <- system.time(f())[['user.self']]; cat(toJSON(list(t=tm), auto_unbox=TRUE, digits=NA))")
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return None
    return n / json.loads(out.stdout.strip().splitlines()[-1])["t"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials")
    quick = ap.parse_args(argv).quick
    n_py = 200_000 if quick else 1_000_000
    n_r = 1000 if quick else 5000
    rows = []
    ekw = dict(prevalences=(0.5, 0.5), n_per_stage=(120, 120), sd=SD, selection="best",
               effect_measure="estimate", intersection_test="spiessens_debois")
    fixed = _rate(lambda: simulate_enrichment((0.25, 0.0), counts="fixed", f_estimator="pooled", n_sims=n_py,
                                              seed=1, **ekw), n_py)
    multi = _rate(lambda: simulate_enrichment((0.25, 0.0), counts="multinomial", n_sims=n_py, seed=1, **ekw), n_py)
    r_enr = _r_rate(R_ENRICH, n_r)
    rows.append(("enrichment, fixed counts (as rpact)", fixed, r_enr))
    rows.append(("enrichment, multinomial counts", multi, None))
    ma = _rate(lambda: simulate_multiarm((0.0, 0.1, 0.2), n_per_stage=(40, 40), sd=SD, selection="best",
                                         intersection_test="dunnett", n_sims=n_py, seed=1), n_py)
    r_ma = _r_rate(R_MULTI, n_r)
    rows.append(("multi-arm, 3 doses, Dunnett", ma, r_ma))
    n_rar = n_py // 5
    rar = _rate(lambda: simulate_rar((0.0, 0.1, 0.2), block_sizes=(40, 40, 40, 40), sd=SD, control_share=0.25,
                                     min_allocation=0.05, power=0.5, superiority=0.99, inferiority=0.01,
                                     futility_prob=0.05, equivalence_prob=0.9, equivalence_diff=0.05,
                                     n_sims=n_rar, seed=1), n_rar)
    rows.append(("RAR, 3 doses, 4 looks, stopping rules", rar, None))
    print(f"adaptive designs: trials per CPU second (msbayes {n_py:,} trials, RAR {n_py // 5:,}; "
          f"rpact {n_r:,} iterations)")
    print(f"{'design':40s} {'msbayes':>12s} {'rpact':>10s} {'ratio':>8s}")
    for name, py, r in rows:
        rs = f"{r:10.0f}" if r else f"{'-':>10s}"
        ratio = f"{py / r:7.0f}x" if r else f"{'-':>8s}"
        print(f"{name:40s} {py:12.0f} {rs} {ratio}")
    if r_enr is None or r_ma is None:
        print("  (Rscript with rpact + mnormt not found: rpact columns skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
