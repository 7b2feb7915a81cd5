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

import contextlib
import copy
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from itertools import product
from typing import Any

import numpy as np

from msbayes.config import SEED_MAX, ConfigError
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
    "ResourceLimits",
    "resource_limits",
    "current_limits",
    "available_memory",
    "estimate_chunk_bytes",
    "format_bytes",
    "parse_bytes",
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
    "labels",  # display names for the report only
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


# ----------------------------------------------------------------------- resource guards
#: most cells a grid may expand to unless raised (``--max-cells``)
DEFAULT_MAX_CELLS = 20_000
#: share of the available memory the workers' chunks may use together
MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class ResourceLimits:
    """Limits checked before any work (see :func:`resource_limits`).

    Attributes
    ----------
    max_memory : int or None
        Bytes the simulation chunks of all workers may use together; None: ``MEMORY_SHARE``
        of the memory available now.
    max_cells : int
        Most grid cells (axis values x scenarios).
    n_workers : int
        Workers that each hold one chunk in memory at a time.
    source : str
        Name of the option that sets ``max_memory`` (quoted in refusals).
    """

    max_memory: int | None = None
    max_cells: int = DEFAULT_MAX_CELLS
    n_workers: int = 1
    source: str = "--max-memory"


_LIMITS = ResourceLimits()


def current_limits() -> ResourceLimits:
    """The limits in force (set with :func:`resource_limits`)."""
    return _LIMITS


@contextlib.contextmanager
def resource_limits(**kw: Any) -> Iterator[ResourceLimits]:
    """Set resource limits for grid expansions inside the ``with`` block.

    Examples
    --------
    >>> with resource_limits(max_cells=10) as lim:
    ...     lim.max_cells
    10
    """
    global _LIMITS
    old = _LIMITS
    _LIMITS = replace(old, **{k: v for k, v in kw.items() if v is not None})
    try:
        yield _LIMITS
    finally:
        _LIMITS = old


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; else total physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 2**30


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def parse_bytes(text: str, *, field_: str = "--max-memory") -> int:
    """``'8GB'``, ``'512MiB'``, ``'2e9'`` -> bytes; ConfigError naming ``field_`` otherwise.

    >>> parse_bytes("1.5GiB")
    1610612736
    """
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS or float(m.group(1)) <= 0:
        raise ConfigError(f"{field_}: expected a positive size such as 8GB, 512MiB or 2e9 (bytes); got {text!r}",
                          [(field_, "allowed: a positive number with unit B, KB, MB, GB, TB, KiB, MiB, GiB, TiB")])
    return int(float(m.group(1)) * _UNITS[unit])


def estimate_chunk_bytes(cfg: Any, chunk_size: int) -> int | None:
    """Peak memory (bytes, an upper estimate) of one simulation chunk of one cell.

    Uses the validated config's design (arm sizes), strata, engine and analysis; None for
    configs it does not know (e.g. toy engines). The sufficient-statistic engine costs
    ``O(chunk x arms x strata)`` plus, with dropout, a binomial table of length ``n``; the
    patient engine holds blocks of ``512 x arms x n`` draws; the Bayesian Emax analysis a
    ``chunk x grid points x doses`` posterior.
    """
    design = getattr(cfg, "design", None)
    endpoint = getattr(cfg, "endpoint", None)
    if design is None or endpoint is None or not hasattr(design, "arm_sizes"):
        return None
    try:
        sizes = [int(x) for x in design.arm_sizes()]
    except Exception:  # noqa: BLE001 - an estimate only
        return None
    n_arms, n_max = len(sizes), max(sizes)
    n_strata = max(1, len(getattr(endpoint, "strata", {}) or {}))
    m = int(chunk_size)
    f8 = 8
    total = 48 * m * n_arms * n_strata * f8  # sufficient statistics, analyses, decisions
    if float(getattr(endpoint, "dropout", 0.0) or 0.0) > 0:
        total += 3 * (n_max + 1) * f8 * n_arms  # exact binomial tables (one per arm size)
    engine = getattr(cfg, "engine", "sufficient")
    if engine == "patient":
        block = min(512, m)
        total += 6 * block * n_arms * n_max * f8  # noise, covariate, weights, weighted copies
    analysis = getattr(cfg, "analysis", None)
    if getattr(analysis, "method", None) == "bayes_emax":
        n_grid = int(getattr(getattr(analysis, "ed50_grid", None), "n", 64) or 64)
        hill = getattr(analysis, "hill", None)
        n_grid *= int(getattr(hill, "n", 1) or 1)
        total += 8 * m * n_grid * (n_arms + 2) * f8
    return int(total)


def _check_cell_count(n_cells: int, axes: list[GridAxis], n_scen: int, source: str) -> None:
    lim = current_limits()
    if n_cells > lim.max_cells:
        shape = " x ".join([*(str(len(a.values)) for a in axes), f"{n_scen} scenarios"])
        raise ConfigError(
            f"{source}: grid: {shape} = {n_cells:,} cells, more than the limit of {lim.max_cells:,} "
            "(each cell is validated and held in memory before the run); split the grid into "
            "several configs, or raise the limit with --max-cells",
            [("grid", f"{n_cells:,} cells > limit {lim.max_cells:,} (--max-cells)")])


def _check_memory(cells: list[Cell], chunk_size: int, source: str) -> None:
    lim = current_limits()
    worst, where = 0, ""
    seen: set[int] = set()
    for c in cells:
        if id(c.config) in seen:
            continue
        seen.add(id(c.config))
        est = estimate_chunk_bytes(c.config, chunk_size)
        if est is not None and est > worst:
            worst, where = est, ", ".join(f"{p}={axis_label(v)!s}" for p, v in c.coords) or "base"
    if worst == 0:
        return
    workers = max(1, int(lim.n_workers))
    need = worst * workers
    if lim.max_memory is not None:
        limit, origin = int(lim.max_memory), f"set by {lim.source}"
    else:
        limit, origin = int(MEMORY_SHARE * available_memory()), (
            f"{MEMORY_SHARE:.0%} of the {format_bytes(available_memory())} available; "
            f"override with {lim.source}")
    if need > limit:
        raise ConfigError(
            f"{source}: one simulation chunk needs about {format_bytes(worst)} (cell {where}, "
            f"simulation.chunk_size {chunk_size:,}); x {workers} worker(s) = {format_bytes(need)}, more "
            f"than the limit of {format_bytes(limit)} ({origin}). Lower design.n_per_arm or "
            "simulation.chunk_size, use fewer workers (--n-jobs), or raise the limit",
            [("simulation.chunk_size", f"estimated {format_bytes(need)} > limit {format_bytes(limit)}")])



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
    if "seed" not in raw:  # a missing seed is one of possibly many missing fields: name them all
        hooks.validate(raw, source=source, base_dir=Path(base_dir) if base_dir is not None else None)
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"{source}: seed: must be an integer in [0, 2^63 - 1], got {seed!r}",
                          [("seed", f"allowed: an integer in [0, {SEED_MAX}]; got {seed!r}")])
    axes = grid_axes(raw)
    scenarios = scenario_names(raw)
    for a in axes:  # scenarios.<name>.<field>: the scenario must exist (no phantom scenario)
        parts = a.path.split(".")
        if parts[0] == "scenarios" and parts[1] not in scenarios:
            raise ConfigError(
                f"{source}: grid.{a.path}: no scenario {parts[1]!r} (allowed: {', '.join(scenarios)})",
                [(f"grid.{a.path}", f"unknown scenario {parts[1]!r} (allowed: {', '.join(scenarios)})")])
        if parts[0] == "scenarios" and len(parts) < 3:
            raise ConfigError(f"{source}: grid.{a.path}: name a field of the scenario "
                              f"(e.g. scenarios.{parts[1]}.effect)",
                              [(f"grid.{a.path}", "a scenario field is needed (e.g. .effect)")])
    _check_cell_count(math.prod(len(a.values) for a in axes) * len(scenarios), axes, len(scenarios), source)
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
    _check_memory(cells, chunk_size, source)
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

