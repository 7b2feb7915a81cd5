"""Benchmark of group-sequential designs: boundary computation and trial simulation (one core).

Prints
  1. the time to compute 5-look designs (recursive integration; target < 50 ms), next to
     rpact ``getDesignGroupSequential`` for the same designs when R is available;
  2. trials per CPU second of msbayes' vectorized simulation of a 3-look two-arm design
     (O'Brien-Fleming-type alpha spending, non-binding OBF-type beta-spending futility,
     20 / 40 / 60 patients per arm, SD 0.35, effect log 1.2), z statistic (known SD, what
     rpact simulates by default) and, for information, the t statistic;
  3. rpact ``getSimulationMeans`` on the same design in the same run (skipped if Rscript or
     rpact is missing), timed inside R (CPU time of the call only, no R start-up), and the
     ratio (target >= 10x).

Usage: python benchmarks/bench_sequential.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from msbayes.sequential.boundaries import Spending, group_sequential_design  # noqa: E402
from msbayes.sequential.simulate import simulate_two_arm  # noqa: E402

SD = 0.35
EFFECT = math.log(1.2)
N_PER_ARM = [20, 40, 60]
T5 = [0.2, 0.4, 0.6, 0.8, 1.0]
DESIGNS_5 = [
    ("asOF, no futility", dict(efficacy=Spending("obf")), "typeOfDesign='asOF'"),
    ("asOF + bsOF non-binding", dict(efficacy=Spending("obf"), futility=Spending("obf")),
     "typeOfDesign='asOF', typeBetaSpending='bsOF'"),
    ("asOF + bsOF binding", dict(efficacy=Spending("obf"), futility=Spending("obf"), binding=True),
     "typeOfDesign='asOF', typeBetaSpending='bsOF', bindingFutility=TRUE"),
    ("asHSD(-4) + bsHSD(-2) non-binding", dict(efficacy=Spending("hsd", -4), futility=Spending("hsd", -2)),
     "typeOfDesign='asHSD', gammaA=-4, typeBetaSpending='bsHSD', gammaB=-2"),
]


def _cpu(fn, repeats):
    """Median CPU seconds of ``fn()`` (CPU, not wall: the machine is shared)."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def _r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    chk = subprocess.run(["Rscript", "-e", "suppressMessages({library(rpact); library(jsonlite)})"], capture_output=True)
    return chk.returncode == 0


def _r(code: str) -> dict:
    out = subprocess.run(["Rscript", "-e", "suppressMessages({library(rpact); library(jsonlite)});" + code],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and trials")
    args = ap.parse_args(argv)
    quick = args.quick
    have_r = _r_available()
    print("msbayes group-sequential benchmark (one core; CPU time)")
    if not have_r:
        print("  (Rscript with rpact not found: rpact columns skipped)")

    # 1. boundaries -------------------------------------------------------------------
    print("\n1. 5-look design, boundaries + characteristics (target < 50 ms)")
    reps = 3 if quick else 7
    for label, kw, rargs in DESIGNS_5:
        group_sequential_design(T5, **kw)  # warm
        ms = 1e3 * _cpu(lambda kw=kw: group_sequential_design(T5, **kw), reps)
        line = f"  {label:<36} msbayes {ms:7.1f} ms"
        if have_r:
            r = _r(f"f <- function() getDesignCharacteristics(getDesignGroupSequential(kMax=5, alpha=0.025, beta=0.2, {rargs}));"
                   f"f(); ts <- sapply(1:{reps}, function(i) system.time(f())[['user.self']]);"
                   "cat(toJSON(list(s=median(ts)), digits=NA, auto_unbox=TRUE))")
            rms = 1e3 * r["s"]
            line += f"   rpact {rms:8.1f} ms   ratio {rms / ms:6.1f}x" if ms > 0 else ""
        print(line, "" if ms < 50 else "  (ABOVE TARGET)")

    # 2. simulation ---------------------------------------------------------------------
    d = group_sequential_design([1 / 3, 2 / 3, 1], efficacy=Spending("obf"), futility=Spending("obf"))
    n_sims = 1_000_000 if quick else 4_000_000
    print(f"\n2. 3-look two-arm design (efficacy: {d.efficacy.label()}; futility: {d.futility.label()}, non-binding), "
          f"n per arm {N_PER_ARM}")
    simulate_two_arm(d, n_per_arm=N_PER_ARM, effect=EFFECT, sd=SD, n_sims=10_000, seed=1)  # warm
    rates = {}
    for stat in ("z", "t"):
        m = n_sims if stat == "z" else n_sims // 4
        sec = _cpu(lambda m=m, stat=stat: simulate_two_arm(d, n_per_arm=N_PER_ARM, effect=EFFECT, sd=SD, n_sims=m,
                                                            seed=2, statistic=stat), 1 if not quick else 1)
        rates[stat] = m / sec
    res = simulate_two_arm(d, n_per_arm=N_PER_ARM, effect=EFFECT, sd=SD, n_sims=200_000, seed=3)
    print(f"  msbayes z statistic : {rates['z'] / 1e6:6.2f} M trials/s   (power {res.power:.4f} +- {res.power_mcse:.4f}, "
          f"E n {res.expected_n:.2f})")
    print(f"  msbayes t statistic : {rates['t'] / 1e6:6.2f} M trials/s   (pooled t, for information)")

    # 3. rpact ----------------------------------------------------------------------------
    if have_r:
        n_r = 20_000 if quick else 100_000
        planned = ", ".join(str(2 * x) for x in N_PER_ARM)
        r = _r(
            "d <- getDesignGroupSequential(kMax=3, alpha=0.025, beta=0.2, typeOfDesign='asOF', typeBetaSpending='bsOF');"
            f"tm <- system.time(s <- getSimulationMeans(d, alternative={EFFECT!r}, stDev={SD}, plannedSubjects=c({planned}),"
            f" maxNumberOfIterations={n_r}, seed=1))[['user.self']];"
            "cat(toJSON(list(s=tm, power=s$overallReject, en=s$expectedNumberOfSubjects), digits=NA, auto_unbox=TRUE))"
        )
        r_rate = n_r / r["s"]
        print(f"  rpact getSimulationMeans : {r_rate / 1e3:8.1f} k trials/s   (power {r['power']:.4f}, E n {r['en']:.2f}; "
              f"{n_r} iterations)")
        ratio = rates["z"] / r_rate
        print(f"  ratio msbayes / rpact (z, same design) : {ratio:.0f}x  (target >= 10x){'' if ratio >= 10 else '  BELOW TARGET'}")
    else:
        print("  rpact getSimulationMeans : skipped (R / rpact missing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
