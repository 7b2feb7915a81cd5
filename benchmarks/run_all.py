"""Run every benchmark in this folder and print their tables (``make bench``).

Each benchmark measures msbayes against a naive baseline in the same run and prints
throughput and ratios; pass ``--quick`` for a short pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_engine.py", "bench_dosefinding.py", "bench_grid.py", "bench_fit.py", "bench_sequential.py",
           "bench_adaptive.py"]


def main(argv: list[str]) -> int:
    print(f"load average before: {os.getloadavg()}")
    rc = 0
    for name in SCRIPTS:
        path = HERE / name
        if not path.exists():
            print(f"(skipping {name}: not present)")
            continue
        print(f"\n===== {name} =====", flush=True)
        rc |= subprocess.call([sys.executable, str(path), *argv])
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
