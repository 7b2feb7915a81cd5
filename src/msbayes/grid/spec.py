"""Grid expansion: config fields given as lists under ``grid:`` x scenarios -> cells.

Every cell's raw config is ``apply_overrides(base, cell coordinates)`` and is validated up
front, all cells before any simulation, so a bad value anywhere in the grid fails at once
with the field named. Each cell carries:

* ``key``: its coordinates ``{axis path: value, ..., "scenario": name}``; the cell's random
  stream is :func:`msbayes.rng.cell_seed` ``(seed, key)``;
* ``cell_hash``: SHA-256 of everything that determines its results (resolved cell config
  without ``simulation.n_sims/backend/n_jobs``, ``search``, labels; plus seed and key), which
  names its files in the cell store.

Examples
--------
>>> from msbayes.grid.spec import grid_axes
>>> [(a.path, a.values) for a in grid_axes({"grid": {"design.n_per_arm": [20, 40]}})]
[('design.n_per_arm', (20, 40))]
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from itertools import product
from typing import Any

import numpy as np

from msbayes.config import ConfigError
from msbayes.io import sha256_text
from msbayes.rng import cell_seed

from .hooks import EngineHooks

__all__ = [
    "GridAxis",
    "Cell",
    "GridSpec",
    "grid_axes",
    "scenario_names",
    "expand_grid",
    "canonical_json",
    "results_config",
    "base_hash",
    "DEFAULT_CHUNK_SIZE",
    "NOT_RESULT_KEYS",
]

DEFAULT_CHUNK_SIZE = 10_000
#: dotted keys that never change a cell's results (excluded from hashes, so growing works)
NOT_RESULT_KEYS: tuple[str, ...] = (
    "simulation.n_sims",
    "simulation.backend",
    "simulation.n_jobs",
    "simulation.scheduler",
    "search",
    "name",
    "description",
)


@dataclass(frozen=True)
class GridAxis:
    """One grid axis: a dotted config path and its values (in config order)."""

    path: str
    values: tuple[Any, ...]

    @property
    def labels(self) -> list[Any]:
        """Coordinate labels: scalars as given, lists/mappings as canonical JSON text."""
        return [axis_label(v) for v in self.values]


@dataclass(frozen=True)
class Cell:
    """One grid cell: coordinates, scenario, validated config and identity hash."""

    index: int
    coords: tuple[tuple[str, Any], ...]
    scenario: str
    raw: dict = field(repr=False, compare=False)
    config: Any = field(repr=False, compare=False)
    cell_hash: str = ""

    @property
    def key(self) -> dict[str, Any]:
        """Seed key: ``{axis path: value, ..., "scenario": name}``."""
        return {**dict(self.coords), "scenario": self.scenario}

    def seed_sequence(self, seed: int) -> np.random.SeedSequence:
        return cell_seed(seed, self.key)

    def label(self) -> str:
        parts = [f"{p}={axis_label(v)}" for p, v in self.coords]
        return ", ".join([*parts, f"scenario={self.scenario}"])


@dataclass(frozen=True)
class GridSpec:
    """The expanded grid: axes, scenarios, cells and the run's simulation settings."""

    axes: tuple[GridAxis, ...]
    scenarios: tuple[str, ...]
    cells: tuple[Cell, ...]
    seed: int
    n_sims: int
    chunk_size: int
    base_hash: str
    base_config: Any = field(repr=False, compare=False, default=None)

    @property
    def shape(self) -> tuple[int, ...]:
        return (*(len(a.values) for a in self.axes), len(self.scenarios))

    @property
    def dims(self) -> tuple[str, ...]:
        return (*(a.path for a in self.axes), "scenario")

    def chunks(self) -> list[tuple[int, int]]:
        """``(chunk index, trials)`` of every cell: full chunks, then one partial if any."""
        return chunk_plan(self.n_sims, self.chunk_size)

    @property
    def total_trials(self) -> int:
        return self.n_sims * len(self.cells)


def chunk_plan(n_sims: int, chunk_size: int) -> list[tuple[int, int]]:
    """Chunks ``0..K-1`` of ``chunk_size`` trials and a final partial chunk if needed.

    >>> chunk_plan(25, 10)
    [(0, 10), (1, 10), (2, 5)]
    """
    full, rest = divmod(int(n_sims), int(chunk_size))
    plan = [(k, int(chunk_size)) for k in range(full)]
    if rest:
        plan.append((full, rest))
    return plan


def axis_label(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        return value
    return canonical_json(value)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, numpy scalars as Python numbers)."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    return v


def _drop_path(raw: dict, dotted: str) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for p in parts[:-1]:
        if not isinstance(node, dict) or p not in node:
            return
        node = node[p]
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def results_config(raw: Mapping[str, Any]) -> dict:
    """Copy of ``raw`` without the keys that do not affect results (see NOT_RESULT_KEYS)."""
    out = copy.deepcopy(dict(raw))
    for k in NOT_RESULT_KEYS:
        _drop_path(out, k)
    return out


def base_hash(raw: Mapping[str, Any], *, data_sha256: str = "") -> str:
    """Hash of the result-relevant config *without* the grid values.

    Two runs whose base hashes agree may share a cell store: each cell is then matched by its
    own ``cell_hash``; a different base hash means a changed config.
    """
    rc = results_config(raw)
    rc.pop("grid", None)
    return sha256_text(canonical_json({"config": rc, "data_sha256": data_sha256}))


def grid_axes(raw: Mapping[str, Any]) -> list[GridAxis]:
    """Read and check the ``grid:`` section (mapping dotted path -> non-empty list)."""
    grid = raw.get("grid")
    if grid is None:
        return []
    if not isinstance(grid, Mapping):
        raise ConfigError(
            "grid: must be a mapping {dotted.config.path: [values, ...]}",
            [("grid", "not a mapping")],
        )
    axes = []
    for path, values in grid.items():
        field_ = f"grid.{path}"
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise ConfigError(f"{field_}: axis name must be a dotted config path",
                              [(field_, "bad path")])
        if path == "scenario" or path == "scenarios" or path.split(".")[0] in ("grid", "seed"):
            raise ConfigError(
                f"{field_}: '{path}' cannot be a grid axis (scenarios are always an axis; "
                "seed and grid are not gridded)", [(field_, "not allowed as axis")])
        if path in NOT_RESULT_KEYS or path.startswith(("simulation.", "search.")):
            raise ConfigError(f"{field_}: run settings (simulation.*, search, name) cannot be a grid "
                              "axis; grid axes are design, endpoint, scenario, analysis or decision fields",
                              [(field_, "not allowed as axis")])
        if not isinstance(values, list):
            raise ConfigError(f"{field_}: axis values must be a list, got {values!r}",
                              [(field_, "not a list")])
        if len(values) == 0:
            raise ConfigError(f"{field_}: empty grid axis (give at least one value)",
                              [(field_, "empty axis")])
        labels = [canonical_json(v) for v in values]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{field_}: duplicate values {values!r}",
                              [(field_, "duplicate values")])
        axes.append(GridAxis(path, tuple(values)))
    return axes


def scenario_names(raw: Mapping[str, Any]) -> list[str]:
    """Scenario names: keys of a ``scenarios:`` mapping, or a list of names / {name: ...}."""
    sc = raw.get("scenarios")
    if isinstance(sc, Mapping):
        names = [str(k) for k in sc]
    elif isinstance(sc, list):
        names = []
        for i, s in enumerate(sc):
            if isinstance(s, str):
                names.append(s)
            elif isinstance(s, Mapping) and isinstance(s.get("name"), str):
                names.append(s["name"])
            else:
                raise ConfigError(f"scenarios[{i}]: expected a name", [(f"scenarios[{i}]", "no name")])
    else:
        raise ConfigError("scenarios: required (a mapping name -> scenario)",
                          [("scenarios", "missing")])
    if not names:
        raise ConfigError("scenarios: give at least one scenario", [("scenarios", "empty")])
    if len(set(names)) != len(names):
        raise ConfigError("scenarios: duplicate names", [("scenarios", "duplicate names")])
    return names


def _int_setting(raw: Mapping[str, Any], key: str, default: int | None) -> int:
    sim = raw.get("simulation") or {}
    v = sim.get(key, default) if isinstance(sim, Mapping) else default
    if v is None or isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ConfigError(f"simulation.{key}: must be a positive integer, got {v!r}",
                          [(f"simulation.{key}", "positive integer required")])
    return int(v)


def absolutize_inputs(raw: Mapping[str, Any], base_dir: str | Path | None) -> dict:
    """Copy of ``raw`` with relative ``scenarios.<name>.from_fit`` paths made absolute.

    Workers (other processes, other machines sharing the file system) then find the file
    whatever their working directory.
    """
    out = copy.deepcopy(dict(raw))
    sc = out.get("scenarios")
    if base_dir is None or not isinstance(sc, dict):
        return out
    for spec in sc.values():
        if isinstance(spec, dict) and isinstance(spec.get("from_fit"), str):
            p = Path(spec["from_fit"])
            if not p.is_absolute():
                spec["from_fit"] = str((Path(base_dir) / p).resolve())
    return out


def expand_grid(raw: Mapping[str, Any], *, hooks: EngineHooks, source: str = "config",
                base_dir: str | Path | None = None, data_sha256: str = "") -> GridSpec:
    """Expand a raw config into validated cells (all of them, before any work).

    Parameters
    ----------
    raw : mapping
        The config as read from YAML (``grid:``, ``scenarios:``, ``seed``, ``simulation:``...).
    hooks : EngineHooks
        ``validate`` and ``apply_overrides`` are used here.
    source : str
        Name used in error messages (usually the config file path).
    base_dir : path, optional
        Directory relative input paths (``from_fit``) resolve against.
    data_sha256 : str
        Hash of the input files scenarios read; part of every cell's identity, so cells are
        never reused after the posterior changes.

    Returns
    -------
    GridSpec
        Cells in C order over ``(axis_1, ..., axis_k, scenario)``.

    Raises
    ------
    ConfigError
        Unknown key, wrong type, empty or duplicate axis values, unknown axis path; the
        message names the field (``grid.<path>`` for axis problems).

    Examples
    --------
    >>> from msbayes.grid.hooks import EngineHooks
    >>> def setp(raw, ov):
    ...     out = dict(raw); out.update(ov); return out
    >>> hooks = EngineHooks(validate=lambda r, **kw: r, apply_overrides=setp,
    ...                     simulate_cell=None, accumulator_from_dict=None)
    >>> spec = expand_grid({"seed": 1, "scenarios": {"null": {}}, "n": 1, "grid": {"n": [1, 2]},
    ...                     "simulation": {"n_sims": 10}}, hooks=hooks)
    >>> spec.shape, [c.label() for c in spec.cells]
    ((2, 1), ['n=1, scenario=null', 'n=2, scenario=null'])
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at top level", [("<root>", "not a mapping")])
    raw = copy.deepcopy(dict(raw))
    seed = raw.get("seed")
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{source}: seed: must be a non-negative integer, got {seed!r}",
                          [("seed", "non-negative integer required")])
    axes = grid_axes(raw)
    scenarios = scenario_names(raw)
    base_cfg = hooks.validate(raw, source=source, base_dir=None if base_dir is None else Path(base_dir))
    validate_cell = hooks.validate_cell or (lambda r, source: hooks.validate(r, source=source, base_dir=base_dir))
    sim_cfg = getattr(base_cfg, "simulation", None)  # the engine's defaults, if it has them
    n_sims = _int_setting(raw, "n_sims", getattr(sim_cfg, "n_sims", None))
    chunk_size = _int_setting(raw, "chunk_size", getattr(sim_cfg, "chunk_size", DEFAULT_CHUNK_SIZE))
    bhash = base_hash(raw, data_sha256=data_sha256)
    base_nogrid = {k: v for k, v in raw.items() if k != "grid"}
    run_nogrid = absolutize_inputs(base_nogrid, base_dir)

    cells: list[Cell] = []
    combos = list(product(*(a.values for a in axes))) if axes else [()]
    for combo in combos:
        coords = tuple((a.path, v) for a, v in zip(axes, combo, strict=True))
        overrides = dict(coords)
        where = ", ".join(f"{p}={axis_label(v)!s}" for p, v in coords) or "base"
        try:
            ident_raw = hooks.apply_overrides(base_nogrid, overrides) if overrides else copy.deepcopy(base_nogrid)
            cell_raw = hooks.apply_overrides(run_nogrid, overrides) if overrides else copy.deepcopy(run_nogrid)
        except ConfigError as exc:
            raise _axis_error(exc, axes, where, source) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: grid: cannot set {where}: {exc}",
                              [("grid", str(exc))]) from None
        try:
            cfg = validate_cell(cell_raw, source=f"{source} [grid cell {where}]")
        except ConfigError as exc:
            raise _axis_error(exc, axes, where, source) from None
        for scen in scenarios:
            key = {**overrides, "scenario": scen}
            ident = {"config": results_config(ident_raw), "seed": seed, "key": key, "data_sha256": data_sha256}
            cells.append(
                Cell(
                    index=len(cells),
                    coords=coords,
                    scenario=scen,
                    raw=cell_raw,
                    config=cfg,
                    cell_hash=sha256_text(canonical_json(ident)),
                )
            )
    return GridSpec(
        axes=tuple(axes),
        scenarios=tuple(scenarios),
        cells=tuple(cells),
        seed=int(seed),
        n_sims=n_sims,
        chunk_size=chunk_size,
        base_hash=bhash,
        base_config=base_cfg,
    )


def _axis_error(exc: ConfigError, axes: list[GridAxis], where: str, source: str) -> ConfigError:
    """Re-label a cell validation error with the grid axis it comes from."""
    errors = list(getattr(exc, "errors", []) or [])
    relabelled: list[tuple[str, str]] = []
    for f, m in errors or [("<cell>", str(exc))]:
        hit = next((a.path for a in axes if f == a.path or f.startswith(a.path + ".")
                    or a.path.startswith(f + ".")), None)
        relabelled.append((f"grid.{hit}" if hit else f, m if not hit else f"{f}: {m}"))
    lines = "\n".join(f"  - {f}: {m}" for f, m in relabelled)
    return ConfigError(f"{source}: invalid grid cell ({where})\n{lines}", relabelled)

