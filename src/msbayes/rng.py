"""Random streams: one user seed, converted once, spawned per cell and chunk.

Every random number in msbayes comes from a :class:`numpy.random.Generator` built from a
:class:`numpy.random.SeedSequence` derived here. The global numpy state is never used.

A grid cell's stream depends only on ``(seed, cell key)``, and a chunk's stream only on
``(cell stream, chunk index)``, so results do not depend on worker count, backend or the
order in which cells run, and a cell can be grown by adding chunks.

Examples
--------
>>> from msbayes.rng import cell_seed, chunk_rng
>>> ss = cell_seed(20261125, {"design.n_per_arm": 60, "scenario": "null"})
>>> float(chunk_rng(ss, 0).normal()) == float(chunk_rng(ss, 0).normal())
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

SeedLike = int | np.random.SeedSequence | None

__all__ = ["SeedLike", "as_seed_sequence", "cell_seed", "chunk_rng", "key_entropy"]


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Convert a user seed to a :class:`~numpy.random.SeedSequence` (once, at the edge).

    Parameters
    ----------
    seed : int, SeedSequence or None
        ``None`` draws fresh OS entropy (not reproducible; configs always give a seed).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def key_entropy(key: Mapping[str, Any] | tuple | str) -> list[int]:
    """Stable 128-bit integer words from a cell key (a mapping of coordinates).

    The key is serialised canonically (sorted keys, JSON) and hashed with SHA-256, so it does
    not depend on dict order, Python's hash seed, or the process.
    """
    if isinstance(key, Mapping):
        text = json.dumps({str(k): _jsonable(v) for k, v in sorted(key.items())}, sort_keys=True)
    else:
        text = json.dumps(_jsonable(key))
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    return v


def cell_seed(seed: int, key: Mapping[str, Any] | tuple | str) -> np.random.SeedSequence:
    """SeedSequence for one grid cell, from the config seed and the cell's coordinates."""
    base = as_seed_sequence(seed)
    ent = base.entropy if isinstance(base.entropy, int) else int(base.entropy or 0)
    return np.random.SeedSequence(entropy=[ent, *key_entropy(key)])


def chunk_rng(cell: np.random.SeedSequence, chunk: int) -> np.random.Generator:
    """Generator for chunk ``chunk`` of a cell: independent of how many chunks exist."""
    ss = np.random.SeedSequence(entropy=cell.entropy, spawn_key=(*cell.spawn_key, int(chunk)))
    return np.random.Generator(np.random.PCG64(ss))
