"""Sample-size search over a grid: one search per combination of the grid axes other than
``design.n_per_arm`` (which the search itself varies), run on the grid's backend, written to
``sample_size.csv`` with columns ``scenario, metric, target, n_per_arm, achieved,
achieved_mcse, reached, n_evaluations, monotone`` and then the other axes (``monotone``
False: the evaluated points contradict the monotonicity the bisection assumes).

The search itself (common random numbers across n, bracketing + bisection) is the engine's
:func:`msbayes.oc.search.search_sample_size`.

Examples
--------
>>> from msbayes.grid.search import SEARCH_AXIS
>>> SEARCH_AXIS
'design.n_per_arm'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .backends import Backend
from .spec import GridSpec, axis_label

__all__ = ["SEARCH_AXIS", "SearchTask", "plan_searches", "run_searches", "preflight_search"]

SEARCH_AXIS = "design.n_per_arm"
FIRST_COLUMNS = ["scenario", "metric", "target", "n_per_arm", "achieved", "achieved_mcse", "reached",
                 "n_evaluations", "monotone", "n_max", "best_n", "ceiling", "ceiling_mcse", "ceiling_note"]


@dataclass(frozen=True)
class SearchTask:
    config: Any
    coords: tuple[tuple[str, Any], ...]
    search_fn: Any


def _search_task(task: SearchTask) -> dict:
    res = task.search_fn(task.config)
    s = task.config.search
    row = res.to_row(scenario=s.scenario, metric=s.metric)
    row.update({p: axis_label(v) for p, v in task.coords})
    return row


def plan_searches(spec: GridSpec, search_fn: Any) -> list[SearchTask]:
    """One task per combination of the non-``n_per_arm`` axes (first cell config of each)."""
    seen: dict[tuple, SearchTask] = {}
    for cell in spec.cells:
        coords = tuple((p, v) for p, v in cell.coords if p != SEARCH_AXIS)
        key = tuple(axis_label(v) for _, v in coords)
        if key not in seen:
            seen[key] = SearchTask(cell.config, coords, search_fn)
    return list(seen.values())


def preflight_search(spec: GridSpec, search_fn: Any) -> None:
    """Dry-run the search on the first cell (100 trials, two sample sizes) so that an
    unsupported metric / analysis combination is refused before any simulation."""
    cfg = spec.cells[0].config
    s = cfg.search
    search_fn(cfg, n_sims=100, n_min=s.n_min, n_max=s.n_min + 1)


def run_searches(spec: GridSpec, search_fn: Any, backend: Backend) -> pd.DataFrame:
    """Run every search on ``backend``; rows in grid order.

    Rows are matched to tasks by the axis labels (canonical JSON for list- or mapping-valued
    axes such as ``design.allocation`` or ``design.dose_response``), which are hashable.
    """
    tasks = plan_searches(spec, search_fn)
    order = {_label_key(t.coords): i for i, t in enumerate(tasks)}
    rows = list(backend.map_unordered(_search_task, tasks))
    other = [a.path for a in spec.axes if a.path != SEARCH_AXIS]
    rows.sort(key=lambda r: order[tuple((p, r[p]) for p in other)])
    df = pd.DataFrame(rows)
    for c in ("n_per_arm", "n_max", "best_n"):  # integers with gaps (unreached / reached rows)
        if c in df.columns:
            df[c] = pd.array(df[c].astype("Float64").round(), dtype="Int64")
    return df[[c for c in FIRST_COLUMNS if c in df.columns] + [c for c in df.columns if c not in FIRST_COLUMNS]]


def _label_key(coords: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((p, axis_label(v)) for p, v in coords)
