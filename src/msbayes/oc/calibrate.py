"""Calibrate the go threshold of a two-arm Bayesian rule to a target type I error.

One set of trials is simulated under the null scenario, their posterior probabilities
P(effect > 0) are computed once, and the threshold is found by bisection
(:func:`msbayes.oc.decision.calibrate_threshold`). Verify on fresh simulations (a different
seed) that the type I error is within 3 MCSE of the target.

Examples
--------
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.oc.calibrate import calibrate_go_threshold
>>> cfg = validate_sim_config({"name": "x", "seed": 3, "endpoint": {"sd": 0.35},
...     "design": {"type": "parallel", "n_per_arm": 30}, "scenarios": {"null": {"effect": 0.0}},
...     "analysis": {"method": "bayes_normal", "prior": {"mean": 0.1, "sd": 0.1}}})
>>> r = calibrate_go_threshold(cfg, scenario="null", target=0.05, n_sims=20_000, seed=1)
>>> bool(r.threshold > 0.95)   # an optimistic prior needs a stricter threshold
True
"""

from __future__ import annotations

import numpy as np

from msbayes.rng import as_seed_sequence

from .decision import CalibrationResult, calibrate_threshold

__all__ = ["null_go_probabilities", "calibrate_go_threshold"]


def null_go_probabilities(cfg, *, scenario: str, n_sims: int, seed, c: float = 0.0) -> np.ndarray:
    """P(effect > c) for ``n_sims`` two-arm trials simulated under ``scenario``."""
    from msbayes.simulate.twoarm import simulate_trials

    if cfg.design.type != "parallel":
        raise ValueError("calibration is implemented for two-arm (parallel) designs")
    rng = np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
    _, _, res, _ = simulate_trials(cfg, scenario, n_sims, rng)
    p = res.prob_greater(c)
    return np.where(res.estimate.valid, p, -np.inf)


def calibrate_go_threshold(cfg, *, scenario: str = "null", target: float = 0.025, n_sims: int = 100_000, seed=0) -> CalibrationResult:
    """Threshold t on P(effect > 0) so that go = (P >= t) has type I error ``target`` under ``scenario``."""
    p = null_go_probabilities(cfg, scenario=scenario, n_sims=n_sims, seed=seed)
    p = np.where(np.isfinite(p), p, -1.0)  # unanalysable trials never go
    return calibrate_threshold(p, target=target)
