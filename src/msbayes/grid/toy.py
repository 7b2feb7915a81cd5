"""A small, exactly solvable engine for checking and benchmarking the grid runner itself.

The toy trial is a two-arm parallel trial with patient-level normal outcomes (known SD),
analysed by a one-sided z-test at level ``alpha``. Its operating characteristics have closed
forms (power = Phi(delta / (sd sqrt(2/n)) - z_{1-alpha}); the estimator is unbiased), so a grid
run through any backend can be checked against an independent answer. It follows the engine
contract of :mod:`msbayes.grid.hooks` (chunked streams via :func:`msbayes.rng.chunk_rng`,
additive accumulator), but it is *not* part of the design engine; use it for runner tests,
demos and benchmarks only.

Examples
--------
>>> from msbayes.grid.toy import toy_hooks, toy_config
>>> raw = toy_config(n_sims=2000, grid={"design.n_per_arm": [10, 40]})
>>> cfg = toy_hooks().validate(raw)
>>> cfg.design.n_per_arm
20
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field
from scipy.stats import norm

from msbayes.config import StrictModel, validate_config
from msbayes.rng import chunk_rng

from .hooks import EngineHooks

__all__ = ["ToyConfig", "ToyAccumulator", "toy_simulate_cell", "toy_hooks", "toy_config", "toy_power",
           "set_dotted"]


class ToyScenario(StrictModel):
    effect: float


class ToyDesign(StrictModel):
    n_per_arm: int = Field(ge=2)
    sd: float = Field(gt=0)
    alpha: float = Field(default=0.025, gt=0, lt=1)


class ToySimulation(StrictModel):
    n_sims: int = Field(ge=1)
    chunk_size: int = Field(default=10_000, ge=1)
    backend: str = "loky"
    n_jobs: int = -1


class ToyConfig(StrictModel):
    name: str = "toy"
    seed: int = Field(ge=0)
    design: ToyDesign
    scenarios: dict[str, ToyScenario]
    simulation: ToySimulation
    grid: dict[str, list[Any]] = {}
    sleep_per_chunk: float = Field(default=0.0, ge=0)  # seconds; lets tests interrupt a run


def toy_validate(raw: dict, *, source: str = "config", base_dir: Any = None) -> ToyConfig:
    return validate_config(ToyConfig, raw, source=source)


def set_dotted(raw: dict, overrides: dict[str, Any]) -> dict:
    """Copy of ``raw`` with each dotted path set (missing intermediate mappings created)."""
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        node = out
        parts = path.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: '{p}' is not a mapping")
        node[parts[-1]] = copy.deepcopy(value)
    return out


@dataclass
class ToyAccumulator:
    """Additive sums for the toy OCs: go count, sum and sum of squares of the estimate."""

    n: int = 0
    go: int = 0
    s1: float = 0.0
    s2: float = 0.0
    extra: dict = field(default_factory=dict)

    def merge(self, other: ToyAccumulator) -> ToyAccumulator:
        self.n += other.n
        self.go += other.go
        self.s1 += other.s1
        self.s2 += other.s2
        return self

    def finalize(self) -> dict[str, float]:
        p = self.go / self.n
        mean = self.s1 / self.n
        var = max(self.s2 / self.n - mean**2, 0.0)
        return {
            "p_go": p,
            "p_go_mcse": float(np.sqrt(p * (1 - p) / self.n)),
            "mean_est": mean,
            "mean_est_mcse": float(np.sqrt(var / self.n)),
        }

    def to_dict(self) -> dict:
        return {"n": self.n, "go": self.go, "s1": self.s1, "s2": self.s2}

    @classmethod
    def from_dict(cls, d: dict) -> ToyAccumulator:
        return cls(n=int(d["n"]), go=int(d["go"]), s1=float(d["s1"]), s2=float(d["s2"]))


def toy_simulate_cell(cfg: ToyConfig, scenario: str, n_sims: int, cell_ss: np.random.SeedSequence, *,
                      chunk_size: int | None = None, first_chunk: int = 0) -> ToyAccumulator:
    """Simulate ``n_sims`` toy trials (chunks ``first_chunk, ...``) of one cell."""
    chunk_size = int(chunk_size or cfg.simulation.chunk_size)
    d = cfg.design
    delta = cfg.scenarios[scenario].effect
    z = norm.ppf(1 - d.alpha)
    se = d.sd * np.sqrt(2.0 / d.n_per_arm)
    acc = ToyAccumulator()
    left, k = int(n_sims), int(first_chunk)
    while left > 0:
        m = min(chunk_size, left)
        rng = chunk_rng(cell_ss, k)
        y0 = rng.normal(0.0, d.sd, size=(m, d.n_per_arm)).mean(axis=1)
        y1 = rng.normal(delta, d.sd, size=(m, d.n_per_arm)).mean(axis=1)
        est = y1 - y0
        acc.merge(ToyAccumulator(n=m, go=int(np.sum(est / se > z)), s1=float(est.sum()),
                                 s2=float(np.dot(est, est))))
        if cfg.sleep_per_chunk:
            time.sleep(cfg.sleep_per_chunk)
        left -= m
        k += 1
    return acc


def toy_power(effect: float, *, n_per_arm: int, sd: float, alpha: float = 0.025) -> float:
    """Closed-form P(go) of the toy z-test: Phi(effect / (sd sqrt(2/n)) - z_{1-alpha})."""
    return float(norm.cdf(effect / (sd * np.sqrt(2.0 / n_per_arm)) - norm.ppf(1 - alpha)))


def toy_hooks() -> EngineHooks:
    """Hooks bound to the toy engine."""
    return EngineHooks(validate=toy_validate, apply_overrides=set_dotted,
                       simulate_cell=toy_simulate_cell, accumulator_from_dict=ToyAccumulator.from_dict)


def toy_config(*, n_sims: int = 2000, chunk_size: int = 500, seed: int = 20261125,
               grid: dict | None = None, sleep_per_chunk: float = 0.0, **design: Any) -> dict:
    """A raw toy config (as if read from YAML)."""
    raw = {
        "name": "toy",
        "seed": seed,
        "design": {"n_per_arm": 20, "sd": 0.35, **design},
        "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
        "simulation": {"n_sims": n_sims, "chunk_size": chunk_size},
        "grid": grid if grid is not None else {"design.n_per_arm": [10, 40]},
    }
    if sleep_per_chunk:
        raw["sleep_per_chunk"] = sleep_per_chunk
    return raw
