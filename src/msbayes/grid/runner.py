"""Run a design grid: expand, check, plan missing chunks, execute on a backend, persist live,
assemble ``oc.nc`` / ``oc.csv`` (and ``sample_size.csv`` if the config has ``search:``).

Order of events (every check happens before any simulation or any file is written):

1. expand and validate every cell (:func:`msbayes.grid.spec.expand_grid`);
2. check the output directory is writable and its cell store (if any) was made by the same
   config (by hash; ``force`` discards a different one);
3. check scenario input files (``from_fit``) exist; open the backend (dask scheduler reachable,
   ray installed);
4. compute only the chunks the store lacks, writing each finished task atomically;
5. fold each cell's chunks in ascending order and write the artefacts atomically.

Examples
--------
>>> import tempfile
>>> from msbayes.grid.runner import run_grid
>>> from msbayes.grid.toy import toy_config, toy_hooks
>>> ds = run_grid(toy_config(n_sims=400, chunk_size=200), config_text="toy", out_dir=tempfile.mkdtemp(),
...               backend="sequential", quiet=True, hooks=toy_hooks(), stream=open("/dev/null", "w"))
>>> dict(ds.sizes)
{'design.n_per_arm': 2, 'scenario': 2}
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import xarray as xr

from msbayes.config import ConfigError
from msbayes.io import atomic_write_text

from .assemble import assemble_dataset, data_sha256_of, scenario_data_files, write_artefacts
from .backends import BACKENDS, Backend, open_backend
from .hooks import EngineHooks, default_hooks, merge_accumulators
from .progress import make_reporter
from .search import FIRST_COLUMNS, preflight_search, run_searches
from .spec import GridSpec, expand_grid
from .store import CellStore

__all__ = ["run_grid", "plan_tasks", "execute_task", "Task", "TaskResult", "check_writable", "RunStats"]


@dataclass(frozen=True)
class Task:
    """One unit of work: consecutive chunks of one cell (self-contained: carries its seeds)."""

    cell_index: int
    cell_hash: str
    scenario: str
    key: dict
    seed: int
    chunks: tuple[tuple[int, int], ...]  # (chunk index, trials)
    chunk_size: int
    config: Any
    simulate_cell: Any


@dataclass(frozen=True)
class TaskResult:
    cell_index: int
    cell_hash: str
    key: dict
    chunks: list[dict]
    seconds: float


@dataclass(frozen=True)
class RunStats:
    """What a run did (also written to ``DIR/run.json``)."""

    cells: int
    cells_complete_at_start: int
    chunks_total: int
    chunks_computed: int
    trials_computed: int
    tasks: int
    seconds: float
    backend: str
    n_workers: int


def execute_task(task: Task) -> TaskResult:
    """Run one task in a worker: one engine call per chunk, results kept per chunk."""
    from msbayes.rng import cell_seed

    t0 = time.perf_counter()
    ss = cell_seed(task.seed, task.key)
    out = []
    for k, n in task.chunks:
        acc = task.simulate_cell(task.config, task.scenario, n, ss, chunk_size=task.chunk_size, first_chunk=k)
        out.append({"index": k, "n": n, "acc": acc.to_dict()})
    return TaskResult(task.cell_index, task.cell_hash, task.key, out, time.perf_counter() - t0)


def plan_tasks(spec: GridSpec, missing: Mapping[int, list[tuple[int, int]]], *, n_workers: int,
               simulate_cell: Any, per_worker: int = 4) -> list[Task]:
    """Split each cell's missing chunks into tasks of at most ``batch`` consecutive chunks.

    ``batch = ceil(missing chunks / (per_worker * n_workers))`` keeps every worker busy with a
    few tasks each while limiting per-task overhead. Batching never changes results.
    """
    total = sum(len(v) for v in missing.values())
    if total == 0:
        return []
    batch = max(1, math.ceil(total / (per_worker * max(1, n_workers))))
    tasks: list[Task] = []
    for cell in spec.cells:
        todo = missing.get(cell.index, [])
        for i in range(0, len(todo), batch):
            tasks.append(Task(cell.index, cell.cell_hash, cell.scenario, cell.key, spec.seed,
                              tuple(todo[i : i + batch]), spec.chunk_size, cell.config, simulate_cell))
    return tasks


def check_writable(out_dir: str | Path) -> None:
    """Refuse (``ConfigError`` naming ``--out``) an output directory that cannot be written.

    Checks by creating and removing a probe file in the directory, or in its nearest existing
    ancestor if it does not exist yet (nothing is left behind).
    """
    p = Path(out_dir).absolute()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out: {p} exists and is not a directory", [("--out", "not a directory")])
    probe_dir = p
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise ConfigError(f"--out: cannot create {p}: {probe_dir} is not a directory",
                          [("--out", "parent is not a directory")])
    try:
        fd, name = tempfile.mkstemp(prefix=".msbayes-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(f"--out: output directory {p} is not writable ({exc.strerror or exc})",
                          [("--out", "not writable")]) from None


def run_grid(
    cfg_raw: dict,
    *,
    config_text: str | None = None,
    out_dir: str | Path,
    backend: str | None = "loky",
    n_jobs: int | None = -1,
    scheduler: str | None = None,
    quiet: bool = False,
    force: bool = False,
    base_dir: str | Path | None = None,
    hooks: EngineHooks | None = None,
    task_order_seed: int | None = None,
    dask_processes: bool = True,
    stream: TextIO | None = None,
    source: str | None = None,
    connect_timeout: float = 10.0,
) -> xr.Dataset:
    """Run (or resume, or grow) a design grid and write ``oc.nc``, ``oc.csv``, ``run.json``.

    Parameters
    ----------
    cfg_raw : dict
        The config mapping as read from YAML (see ``docs/configs.md``).
    config_text : str, optional
        The exact config text, stored in the artefact attributes (default: the mapping as YAML).
    out_dir : path
        Output directory; cells are stored under ``out_dir/cells``.
    backend : {"loky", "dask", "ray", "sequential"} or None
        None: ``simulation.backend`` of the config, else ``loky``.
    n_jobs : int
        Workers (``-1``: all CPUs).
    scheduler : str, optional
        dask scheduler address (otherwise dask starts a LocalCluster with ``n_jobs`` workers).
    quiet : bool
        Plain log lines instead of a progress bar.
    force : bool
        Discard a cell store made by a different config instead of refusing.
    base_dir : path, optional
        Directory that relative paths in the config (``from_fit``) are resolved against
        (default: the current directory).
    hooks : EngineHooks, optional
        Engine callables (default: the msbayes simulation engine).
    task_order_seed : int, optional
        Shuffle the task submission order (for tests of order independence).
    dask_processes : bool
        Start LocalCluster workers as processes (default) or threads.
    stream : file, optional
        Where progress and log lines go (default stderr).
    source : str, optional
        Name of the config in error messages (default: its ``name``).
    connect_timeout : float
        Seconds to wait for a dask scheduler before refusing.

    Returns
    -------
    xarray.Dataset
        The ``oc.nc`` dataset (also written to ``out_dir``). ``ds.attrs`` carry provenance.

    Raises
    ------
    ConfigError
        Any bad config value, unwritable output, store from another config, unreachable
        scheduler: raised before any simulation.
    """
    hooks = hooks or default_hooks()
    stream = stream or sys.stderr
    out_dir = Path(out_dir)
    base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    if not isinstance(cfg_raw, Mapping):
        raise ConfigError("config: expected a mapping at top level", [("<root>", "not a mapping")])
    if config_text is None:
        import yaml

        config_text = yaml.safe_dump(dict(cfg_raw), sort_keys=False)
    # 1. inputs hashed, every cell validated
    data_files = scenario_data_files(cfg_raw, base_dir=base_dir)
    data_sha = data_sha256_of(data_files)
    spec = expand_grid(cfg_raw, hooks=hooks, source=source or str(cfg_raw.get("name", "config")),
                       base_dir=base_dir, data_sha256=data_sha)
    if cfg_raw.get("search") is not None:
        if hooks.search_sample_size is None:
            raise ConfigError("search: the engine provides no sample-size search", [("search", "unsupported")])
        preflight_search(spec, hooks.search_sample_size)
    if backend is None:
        sim = cfg_raw.get("simulation")
        backend = (sim.get("backend") if isinstance(sim, Mapping) else None) or "loky"
    if backend not in BACKENDS:
        raise ConfigError(f"backend: unknown backend {backend!r} (allowed: {', '.join(BACKENDS)})",
                          [("backend", f"allowed: {', '.join(BACKENDS)}")])
    # 2. output + store
    check_writable(out_dir)
    store = CellStore(out_dir)
    store.check(base_hash=spec.base_hash, force=force)
    # 3. backend
    be = open_backend(backend, n_jobs=n_jobs, scheduler=scheduler, dask_processes=dask_processes,
                      connect_timeout=connect_timeout)
    with be:
        stats = _execute(spec, store, be, hooks, force=force, quiet=quiet, stream=stream,
                         task_order_seed=task_order_seed)
        results = _collect(spec, store, hooks)
        search_df = None
        if cfg_raw.get("search") is not None:
            search_df = run_searches(spec, hooks.search_sample_size, be)
            _warn_non_monotone(search_df, stream)
            _warn_unreached(search_df, stream)
    ds = assemble_dataset(spec, results, config_text=config_text, data_files=data_files,
                          data_sha256=data_sha, backend=backend, n_jobs=be.n_workers)
    write_artefacts(ds, out_dir, sample_size=search_df)
    atomic_write_text(out_dir / "run.json", json.dumps(stats.__dict__, indent=1))
    return ds


def _warn_non_monotone(search_df, stream: TextIO) -> None:
    """Say (even with ``quiet``) which searches saw the metric fall as n rose."""
    if search_df is None or "monotone" not in search_df.columns:
        return
    bad = search_df[~search_df["monotone"].astype(bool)]
    for _, r in bad.iterrows():
        other = {c: r[c] for c in search_df.columns if c not in FIRST_COLUMNS}
        print(f"warning: sample-size search for {r['metric']} under scenario {r['scenario']}"
              + (f" at {other}" if other else "") + ": the metric is not monotone in n at the "
              "evaluated points, so n_per_arm may not be the smallest n meeting the target; "
              "evaluate the metric over a grid of n", file=stream)


def _warn_unreached(search_df, stream: TextIO) -> None:
    """Say (even with ``quiet``) which searches did not reach their target, and why if known."""
    if search_df is None or "reached" not in search_df.columns:
        return
    for _, r in search_df[~search_df["reached"].astype(bool)].iterrows():
        other = {c: r[c] for c in search_df.columns if c not in FIRST_COLUMNS}
        msg = (f"note: sample-size search for {r['metric']} >= {r['target']:g} under scenario {r['scenario']}"
               + (f" at {other}" if other else "") + ": target not reached")
        if r.get("n_max") is not None and r.get("n_max") == r.get("n_max"):
            msg += f" up to n_max = {int(r['n_max'])} per arm"
        if r.get("best_n") is not None and r.get("best_n") == r.get("best_n"):
            msg += (f"; best value {r['achieved']:.3f} (MCSE {r['achieved_mcse']:.3f}) at n = "
                    f"{int(r['best_n'])} per arm")
        ceil = r.get("ceiling")
        if ceil is not None and ceil == ceil:
            msg += (f"; as n grows {r['metric']} tends to {ceil:.3f} (MCSE {r['ceiling_mcse']:.3f}), "
                    f"{r['ceiling_note']}")
            if ceil + 2 * r["ceiling_mcse"] < r["target"]:
                msg += ", so the target is above the metric's ceiling and no sample size reaches it"
            else:
                msg += "; raise search.n_max"
        else:
            msg += "; raise search.n_max, or the target may be above what this design can reach"
        print(msg, file=stream)


def _execute(spec: GridSpec, store: CellStore, be: Backend, hooks: EngineHooks, *, force: bool, quiet: bool,
             stream: TextIO, task_order_seed: int | None) -> RunStats:
    t0 = time.perf_counter()
    store.open(base_hash=spec.base_hash, seed=spec.seed, force=force)
    plan = spec.chunks()
    missing = {c.index: store.missing(c.cell_hash, plan) for c in spec.cells}
    missing = {i: m for i, m in missing.items() if m}
    remaining = {i: len(m) for i, m in missing.items()}
    tasks = plan_tasks(spec, missing, n_workers=be.n_workers, simulate_cell=hooks.simulate_cell)
    if task_order_seed is not None:
        random.Random(task_order_seed).shuffle(tasks)
    n_cells = len(spec.cells)
    complete = n_cells - len(missing)
    trials_todo = sum(n for m in missing.values() for _, n in m)
    computed = 0
    trials = 0
    with make_reporter(total_cells=n_cells, done_cells=complete, total_trials=trials_todo, quiet=quiet,
                       stream=stream) as rep:
        rep.log(f"{n_cells} cells ({' x '.join(map(str, spec.shape))}: {', '.join(spec.dims)}), "
                f"{spec.n_sims:,} trials each; {complete} complete in store, "
                f"{sum(remaining.values())} chunks to compute in {len(tasks)} tasks "
                f"on {be.name} ({be.n_workers} worker{'s' if be.n_workers != 1 else ''})")
        for res in be.map_unordered(execute_task, tasks):
            store.write(res.cell_hash, res.key, res.chunks)
            n_done = len(res.chunks)
            computed += n_done
            t = sum(c["n"] for c in res.chunks)
            trials += t
            remaining[res.cell_index] -= n_done
            rep.advance(trials=t, cells=int(remaining[res.cell_index] == 0))
        rep.log(f"done: computed {computed} chunks ({trials:,} trials) in {time.perf_counter() - t0:.1f} s")
    return RunStats(cells=n_cells, cells_complete_at_start=complete, chunks_total=n_cells * len(plan),
                    chunks_computed=computed, trials_computed=trials, tasks=len(tasks),
                    seconds=round(time.perf_counter() - t0, 3), backend=be.name, n_workers=be.n_workers)


def _collect(spec: GridSpec, store: CellStore, hooks: EngineHooks) -> list[dict]:
    """Fold each cell's stored chunks in ascending chunk order and finalize."""
    plan = spec.chunks()
    out = []
    for cell in spec.cells:
        have = store.chunks_of(cell.cell_hash)
        lost = [c for c in plan if c not in have]
        if lost:  # cannot happen unless files were removed during the run
            raise RuntimeError(f"cell {cell.label()}: chunks {lost} missing from the store")
        accs = [hooks.accumulator_from_dict(have[c]) for c in plan]
        total = merge_accumulators(accs)
        res = dict(total.finalize())
        res["n_sims"] = sum(n for _, n in plan)
        out.append(res)
    return out

