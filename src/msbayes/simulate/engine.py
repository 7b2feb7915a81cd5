"""Engine entry point: simulate one grid cell (one config x one scenario) in chunks.

Chunk ``k`` of a cell uses ``msbayes.rng.chunk_rng(cell_ss, k)`` and holds ``chunk_size``
trials, so a cell with N trials is chunks ``0 .. ceil(N / chunk_size) - 1`` and growing a
cell to N' > N computes only chunks ``N / chunk_size ..`` (bit-identical to a fresh run with
N', as long as N is a multiple of ``chunk_size``). A final partial chunk of ``r`` trials is
allowed but is NOT a prefix of the full chunk ``k``: to grow a cell that ends with a partial
chunk, recompute that chunk (``Accumulator.chunks`` shows the sizes).

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.rng import cell_seed
>>> from msbayes.simulate.engine import simulate_cell
>>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "parallel", "n_per_arm": 60}, "scenarios": {"null": {"effect": 0.0}},
...     "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
...     "decision": {"rule": "significance", "alpha": 0.025}})
>>> acc = simulate_cell(cfg, "null", 20_000, cell_seed(1, {"scenario": "null"}), chunk_size=10_000)
>>> r = acc.finalize()
>>> bool(abs(r["p_reject"] - 0.025) < 4 * r["p_reject_mcse"])
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from msbayes.design.config import SimConfig
from msbayes.oc.accumulate import Accumulator
from msbayes.rng import chunk_rng

__all__ = ["simulate_cell", "chunk_function", "CHUNK_FUNCTIONS", "SEQUENTIAL_CHUNK_FUNCTIONS"]

ChunkFn = Callable[[SimConfig, str, int, np.random.Generator], dict[str, np.ndarray]]


def _twoarm(cfg, scenario, n, rng):
    from .twoarm import simulate_chunk

    return simulate_chunk(cfg, scenario, n, rng)


def _twoarm_sequential(cfg, scenario, n, rng):
    from .twoarm_sequential import simulate_chunk

    return simulate_chunk(cfg, scenario, n, rng)


def _dosefinding(cfg, scenario, n, rng):
    from .dosefinding import simulate_chunk  # owned by the dose-finding module

    return simulate_chunk(cfg, scenario, n, rng)


def _enrichment(cfg, scenario, n, rng):
    from .enrichment_chunk import simulate_chunk

    return simulate_chunk(cfg, scenario, n, rng)


def _multiarm(cfg, scenario, n, rng):
    from .multiarm_chunk import simulate_chunk

    return simulate_chunk(cfg, scenario, n, rng)


def _rar(cfg, scenario, n, rng):
    from .rar_chunk import simulate_chunk

    return simulate_chunk(cfg, scenario, n, rng)


#: design.type -> chunk function (cfg, scenario, n, rng) -> per-trial outcomes.
CHUNK_FUNCTIONS: dict[str, ChunkFn] = {"parallel": _twoarm, "dose_finding": _dosefinding,
                                       "enrichment": _enrichment, "multi_arm": _multiarm, "rar": _rar}
#: design.type -> chunk function for configs with an ``interims`` section
SEQUENTIAL_CHUNK_FUNCTIONS: dict[str, ChunkFn] = {"parallel": _twoarm_sequential}


def chunk_function(cfg: SimConfig) -> ChunkFn:
    """The chunk function for ``cfg.design.type`` (and ``cfg.interims``, if set).

    A two-arm config with ``interims`` runs :mod:`msbayes.simulate.twoarm_sequential`; a
    design type without a sequential simulator of its own here is left to its module.
    """
    if getattr(cfg, "interims", None) is not None and cfg.design.type in SEQUENTIAL_CHUNK_FUNCTIONS:
        return SEQUENTIAL_CHUNK_FUNCTIONS[cfg.design.type]
    try:
        return CHUNK_FUNCTIONS[cfg.design.type]
    except KeyError:
        raise ValueError(f"design.type {cfg.design.type!r} has no simulator (allowed: {list(CHUNK_FUNCTIONS)})") from None


def simulate_cell(
    cfg: SimConfig,
    scenario: str,
    n_sims: int,
    cell_ss: np.random.SeedSequence,
    *,
    chunk_size: int | None = None,
    first_chunk: int = 0,
) -> Accumulator:
    """Simulate ``n_sims`` trials of ``cfg`` under ``scenario``; returns the accumulated sums.

    Parameters
    ----------
    cfg : SimConfig
        Validated config (one grid cell: grid overrides already applied).
    scenario : str
        A key of ``cfg.scenarios``.
    n_sims : int
        Trials to simulate (chunks ``first_chunk, first_chunk + 1, ...``; the last may be
        partial).
    cell_ss : SeedSequence
        The cell's seed (``msbayes.rng.cell_seed``).
    chunk_size : int, optional
        Trials per chunk (default ``cfg.simulation.chunk_size``).
    first_chunk : int
        Index of the first chunk (to grow an existing cell).

    Returns
    -------
    Accumulator
        One part per chunk; ``finalize()`` gives the OCs with MCSE.
    """
    if scenario not in cfg.scenarios:
        raise KeyError(f"unknown scenario {scenario!r} (allowed: {list(cfg.scenarios)})")
    if n_sims < 0 or first_chunk < 0:
        raise ValueError("n_sims and first_chunk must be >= 0")
    c = int(chunk_size or cfg.simulation.chunk_size)
    if c < 1:
        raise ValueError("chunk_size must be >= 1")
    fn = chunk_function(cfg)
    acc = Accumulator()
    k = first_chunk
    left = int(n_sims)
    while left > 0:
        m = min(c, left)
        out = fn(cfg, scenario, m, chunk_rng(cell_ss, k))
        acc.add(out, chunk=k)
        left -= m
        k += 1
    return acc
