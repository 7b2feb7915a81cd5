"""Cell store: completed (cell, chunk-range) results persisted atomically, one file each.

Layout under ``DIR/cells/``::

    manifest.json                      base config hash, seed, format
    <cell_hash[:24]>/c<first>-<last>.json   per-chunk accumulators of one task

A file holds the accumulators of each chunk separately (never pre-merged), so a cell's result
is always the fold of chunks ``0, 1, ..., K-1`` in that order, bit-identical however the
chunks were batched, scheduled, interrupted or grown. Files are written with
:func:`msbayes.io.atomic_write_text` (temporary name + rename), so a killed run leaves only
complete files. The directory of a cell is named by its ``cell_hash`` (everything that
determines its results), so a file can only ever be used by the cell that produced it.

Examples
--------
>>> import tempfile
>>> from msbayes.grid.store import CellStore
>>> st = CellStore(tempfile.mkdtemp())
>>> st.open(base_hash="abc", seed=1, force=False).chunks_of("00ff")
{}
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from msbayes.config import ConfigError
from msbayes.io import atomic_write_text

__all__ = ["CellStore", "StoreMismatchError", "encode", "decode", "STORE_FORMAT"]

#: 2: welch / ancova without a ``decision:`` section decide by their own test (one alpha);
#: stores of format 1 hold cells whose P(go) used the old default rule and are not reused
STORE_FORMAT = 2


class StoreMismatchError(ConfigError):
    """The output directory holds cells computed from a different config."""


def encode(obj: Any) -> Any:
    """JSON-ready copy of an accumulator dict: arrays tagged with dtype and shape.

    Floats are written with Python's shortest round-trip repr, so decode(encode(x)) == x
    bit for bit.
    """
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": encode(obj.tolist()), "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, Mapping):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return {"__float__": repr(float(obj))} if not np.isfinite(obj) else float(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            arr = np.array(decode(obj["__ndarray__"]), dtype=np.dtype(obj["dtype"]))
            return arr.reshape(obj["shape"])
        if "__float__" in obj and len(obj) == 1:
            return float(obj["__float__"])
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


class CellStore:
    """Persisted per-chunk results of a grid run under ``out_dir/cells``.

    Parameters
    ----------
    out_dir : path
        The run's output directory.
    """

    def __init__(self, out_dir: str | Path):
        self.root = Path(out_dir) / "cells"
        self.base_hash: str | None = None

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def check(self, *, base_hash: str, force: bool) -> str:
        """Check (without writing) whether the store may be used; return the action.

        Returns ``"new"``, ``"reuse"`` or ``"discard"`` (force with a different config).

        Raises
        ------
        StoreMismatchError
            The store was made by a different config and ``force`` is false.
        """
        man = self.read_manifest()
        if man is None:
            has_cells = self.root.is_dir() and any(p.is_dir() for p in self.root.iterdir())
            if has_cells and not force:
                raise StoreMismatchError(
                    f"{self.root} holds cell results but no manifest; refusing to mix. "
                    "Use --force to discard them or choose another --out.",
                    [("--out", "foreign cell store")],
                )
            return "discard" if has_cells else "new"
        if man.get("format") != STORE_FORMAT:
            if force:
                return "discard"
            raise StoreMismatchError(
                f"{self.root} holds cells of store format {man.get('format')} (this msbayes writes "
                f"format {STORE_FORMAT}: the meaning of some results changed). Use --force to "
                "discard the old cells, or choose another --out.",
                [("--out", "cells from an older msbayes")],
            )
        if man.get("base_hash") != base_hash:
            if force:
                return "discard"
            raise StoreMismatchError(
                f"{self.root} holds cells from a different configuration "
                f"(config hash {str(man.get('base_hash'))[:12]} there, {base_hash[:12]} now). "
                "Results of different configs are never mixed: use --force to discard the "
                "old cells, or choose another --out.",
                [("--out", "cells from a different config")],
            )
        return "reuse"

    def open(self, *, base_hash: str, seed: int, force: bool) -> CellStore:
        """Prepare the store for a run (discarding old cells only if ``force``)."""
        action = self.check(base_hash=base_hash, force=force)
        if action == "discard" and self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.glob("*/.*.tmp"):  # left by a killed run (never read)
            tmp.unlink(missing_ok=True)
        if action != "reuse":
            atomic_write_text(
                self.manifest_path,
                json.dumps({"format": STORE_FORMAT, "base_hash": base_hash, "seed": seed}, indent=1),
            )
        self.base_hash = base_hash
        return self

    def cell_dir(self, cell_hash: str) -> Path:
        return self.root / cell_hash[:24]

    def write(self, cell_hash: str, key: Mapping[str, Any], chunks: list[dict]) -> Path:
        """Persist one task's per-chunk results atomically.

        ``chunks`` is a list of ``{"index": k, "n": trials, "acc": accumulator.to_dict()}``
        in ascending ``index``.
        """
        if not chunks:
            raise ValueError("nothing to write")
        first, last = chunks[0]["index"], chunks[-1]["index"]
        payload = {
            "format": STORE_FORMAT,
            "base_hash": self.base_hash,
            "cell_hash": cell_hash,
            "key": encode(dict(key)),
            "chunks": [{"index": int(c["index"]), "n": int(c["n"]), "acc": encode(c["acc"])} for c in chunks],
        }
        name = f"c{first:06d}-{last:06d}_n{sum(int(c['n']) for c in chunks)}.json"
        return atomic_write_text(self.cell_dir(cell_hash) / name, json.dumps(payload))

    def chunks_of(self, cell_hash: str) -> dict[tuple[int, int], dict]:
        """Stored chunks of a cell: ``{(chunk index, trials): accumulator dict}``."""
        d = self.cell_dir(cell_hash)
        out: dict[tuple[int, int], dict] = {}
        if not d.is_dir():
            return out
        for f in sorted(d.glob("c*.json")):
            try:
                payload = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # unreadable (cannot happen with atomic writes): recompute
            if payload.get("cell_hash") != cell_hash or payload.get("format") != STORE_FORMAT:
                continue
            for c in payload["chunks"]:
                out.setdefault((int(c["index"]), int(c["n"])), decode(c["acc"]))
        return out

    def missing(self, cell_hash: str, plan: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        have = self.chunks_of(cell_hash)
        return [c for c in plan if c not in have]

    def n_files(self) -> int:
        return sum(1 for _ in self.root.glob("*/c*.json")) if self.root.is_dir() else 0
