"""Grid-runner benchmarks: worker scaling, per-cell overhead on loky, dask vs loky.

    python benchmarks/bench_grid.py            # 20 cells x 100,000 trials (the issue's grid)
    python benchmarks/bench_grid.py --quick    # 20 cells x 20,000 trials, fewer tiny cells

Uses the real design engine (two-arm, conjugate normal analysis, patient-level draws so that
each cell carries real work: n per arm 20-110, i.e. 40-220 patients per trial).
Every measurement runs into a fresh output directory (nothing reused from the cell store) and
all are taken in the same process run; the 1-minute load average is printed before each, as
the machine may be shared. Numbers are wall-clock seconds from time.perf_counter().
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from msbayes.grid import run_grid


def config(n_sims: int, *, n_cells_axis: int = 10, chunk_size: int = 10_000) -> dict:
    """n_cells_axis sample sizes x 2 scenarios."""
    return {
        "name": "bench", "seed": 1,
        "endpoint": {"name": "t25fw", "sd": 0.35, "dropout": 0.12},
        "design": {"type": "parallel", "n_per_arm": 60},
        "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
        "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
        "decision": {"rule": "dual", "go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}},
        "grid": {"design.n_per_arm": [20 + 10 * i for i in range(n_cells_axis)]},
        # patient-level engine: enough work per cell (every patient drawn) for scaling to show
        "simulation": {"n_sims": n_sims, "chunk_size": min(chunk_size, n_sims), "engine": "patient"},
    }


def load() -> str:
    return "load avg (1/5/15 min) = " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(cfg: dict, root: Path, tag: str, **kw) -> float:
    out = root / tag
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_grid(cfg, config_text=json.dumps(cfg), out_dir=out, quiet=True, stream=io.StringIO(), **kw)
    dt = time.perf_counter() - t0
    st = json.loads((out / "run.json").read_text())
    assert st["chunks_computed"] == st["chunks_total"], "benchmark must not reuse stored cells"
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 cells x 20,000 trials instead of 100,000")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--repeat", type=int, default=None, help="alternating rounds (default 2; 1 with --quick)")
    args = ap.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)
    n_sims = 20_000 if args.quick else 100_000
    args.repeat = args.repeat or (1 if args.quick else 2)
    n_tiny = 40 if args.quick else 100
    root = Path(tempfile.mkdtemp(prefix="bench_grid_"))
    print(f"cpus: {os.cpu_count()}; {load()}")
    big = config(n_sims)
    trials = 20 * n_sims

    # warm-up: imports, loky pool start, engine caches (not timed)
    timed(config(1000, n_cells_axis=2), root, "warm", backend="loky", n_jobs=2)

    # 1 worker, 2 workers (loky) and dask alternate, `repeat` rounds, best time of each kept:
    # on a shared machine the load drifts, alternating exposes every variant to the same drift
    cluster = None
    if not args.no_dask:
        from distributed import LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        start = time.perf_counter() - t0
        timed(config(1000, n_cells_axis=2), root, "dwarm", backend="dask", scheduler=cluster.scheduler_address)
    best: dict[str, float] = {}
    print(f"\n[scaling / dask vs loky] 20 cells x {n_sims:,} trials (chunks of 10,000), best of {args.repeat}")
    for r in range(args.repeat):
        variants = [("1 worker (loky)", dict(backend="loky", n_jobs=1)), ("2 workers (loky)", dict(backend="loky", n_jobs=2))]
        if cluster is not None:
            variants.append(("2 workers (dask)", dict(backend="dask", scheduler=cluster.scheduler_address)))
        for name, kw in variants:
            la = load()
            t = timed(big, root, f"r{r}", **kw)
            best[name] = min(best.get(name, float("inf")), t)
            print(f"  round {r + 1} {name:17s}: {t:7.2f} s  ({trials / t:,.0f} trials/s)   [{la}]")
    if cluster is not None:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # heartbeat noise at shutdown
        cluster.close()
    t1, t2 = best["1 worker (loky)"], best["2 workers (loky)"]
    print(f"  speed-up 2 vs 1 worker: {t1 / t2:.2f}x  (target >= 1.7x on an otherwise idle 2-core machine)")
    if cluster is not None:
        td = best["2 workers (dask)"]
        print(f"  dask / loky (2 workers each): {td / t2:.2f}x  (target <= 1.3x; LocalCluster of 2 processes "
              f"started in {start:.1f} s, not counted)")

    print(f"\n[overhead] {n_tiny * 2} tiny cells x 100 trials on loky (2 workers)")
    tiny = config(100, n_cells_axis=n_tiny)
    ts = timed(tiny, root, "tiny_seq", backend="sequential")
    print("  " + load())
    tl = timed(tiny, root, "tiny_loky", backend="loky", n_jobs=2)
    n_cells = 2 * n_tiny
    print(f"  sequential (in-process, includes engine work): {1000 * ts / n_cells:6.1f} ms/cell")
    print(f"  loky, 2 workers: wall {1000 * tl / n_cells:6.1f} ms/cell; worker-time per cell "
          f"{1000 * 2 * tl / n_cells:6.1f} ms; overhead vs in-process {1000 * (2 * tl - ts) / n_cells:6.1f} ms/cell "
          "(target <= 50 ms)")
    print("\n" + load())
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
