"""Calibrate the superiority threshold of config.yaml (RAR) and fixed.yaml (fixed allocation).

One-sided type I error target 0.025 = P(a dose declared superior to placebo | all arms equal),
by :func:`msbayes.adaptive.calibrate_superiority` (the design options come from the config, so
the threshold is calibrated for exactly the simulated trial), then checked on fresh trials.

    python simulations/rar_dose_allocation/calibrate.py [n_sims]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from msbayes.adaptive import calibrate_superiority
from msbayes.design.config import validate_sim_config
from msbayes.simulate.rar_chunk import core_kwargs

HERE = Path(__file__).parent
TARGET = 0.025


def calibrate(path: Path, n_sims: int, seed: int):
    cfg = validate_sim_config(yaml.safe_load(path.read_text()))
    kw = {k: v for k, v in core_kwargs(cfg).items() if k != "superiority"}
    return calibrate_superiority(cfg.design.n_doses, target=TARGET, n_sims=n_sims, seed=seed, check_sims=n_sims, **kw)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for i, name in enumerate(("config.yaml", "fixed.yaml")):
        c = calibrate(HERE / name, n, 20261209 + i)
        print(f"{name}: threshold {c.threshold:.5f} (MCSE {c.threshold_mcse:.5f}); type I on the calibration "
              f"trials {c.type1:.4f} ({c.type1_mcse:.4f}); on {n} fresh trials {c.check:.4f} ({c.check_mcse:.4f})")
