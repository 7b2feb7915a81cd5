"""Wrap finalized OCs of many cells into one xarray Dataset with named dims.

Examples
--------
>>> from msbayes.oc.dataset import oc_to_dataset
>>> cells = [({"design.n_per_arm": 20, "scenario": "null"}, {"p_go": 0.02, "p_go_mcse": 0.001, "n_sims": 100}),
...          ({"design.n_per_arm": 40, "scenario": "null"}, {"p_go": 0.03, "p_go_mcse": 0.001, "n_sims": 100})]
>>> ds = oc_to_dataset(cells, dims=["design.n_per_arm", "scenario"])
>>> dict(ds.sizes), float(ds["p_go"].sel({"design.n_per_arm": 40, "scenario": "null"}))
({'design.n_per_arm': 2, 'scenario': 1}, 0.03)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["oc_to_dataset"]


def oc_to_dataset(
    cells: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    dims: Sequence[str],
    scenario_kind: Mapping[str, str] | None = None,
    true_effect: Mapping[str, float] | None = None,
    dose: Sequence[float] | None = None,
    attrs: Mapping[str, Any] | None = None,
):
    """Dataset with one dim per entry of ``dims`` (coordinates in first-seen order).

    ``cells`` yields (coordinates, OC dict from :meth:`Accumulator.finalize`). Scalar OCs
    become variables over ``dims``; 1-D OCs (``p_select``) get a trailing ``dose`` dim.
    Missing cells are NaN. ``scenario_kind`` / ``true_effect`` add coordinates on
    ``scenario``.
    """
    import xarray as xr

    cells = list(cells)
    coords: dict[str, list] = {d: [] for d in dims}
    for key, _ in cells:
        for d in dims:
            if d not in key:
                raise KeyError(f"cell {dict(key)} lacks coordinate {d!r}")
            if key[d] not in coords[d]:
                coords[d].append(key[d])
    shape = tuple(len(coords[d]) for d in dims)
    names: dict[str, int | None] = {}
    for _, oc in cells:
        for k, v in oc.items():
            a = np.asarray(v)
            names.setdefault(k, a.shape[0] if a.ndim == 1 else None)
    data = {}
    for k, width in names.items():
        arr = np.full(shape + ((width,) if width else ()), np.nan)
        for key, oc in cells:
            if k in oc:
                idx = tuple(coords[d].index(key[d]) for d in dims)
                arr[idx] = oc[k]
        data[k] = ((*dims, "dose") if width else tuple(dims), arr)
    ds = xr.Dataset(data, coords={d: coords[d] for d in dims})
    if dose is not None and "dose" in ds.dims:
        ds = ds.assign_coords(dose=list(dose))
    if "scenario" in dims:
        if scenario_kind is not None:
            ds = ds.assign_coords(scenario_kind=("scenario", [scenario_kind.get(s, "") for s in coords["scenario"]]))
        if true_effect is not None:
            ds = ds.assign_coords(true_effect=("scenario", [float(true_effect.get(s, np.nan)) for s in coords["scenario"]]))
    if attrs:
        ds.attrs.update(attrs)
    return ds
