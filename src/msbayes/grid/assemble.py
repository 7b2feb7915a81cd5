"""Assemble per-cell operating characteristics into ``oc.nc`` (xarray) and ``oc.csv`` (tidy).

Dims: one per grid axis (named by its dotted config path) then ``scenario``; array-valued OCs
(e.g. ``p_select`` per dose) get their extra dims after those. Coordinates ``scenario_kind``
(``fixed`` | ``design_prior``) and ``true_effect`` (fixed scalar effects; NaN otherwise) on
``scenario`` (or on the cell dims if a grid axis changes them). Attrs: provenance plus
``backend``, ``n_jobs``, ``grid_axes``, ``chunk_size``, ``decision_rule`` (what "go" and
``p_reject`` mean, with their alphas; distinct rules of a grid over ``analysis`` joined by
`` | ``) and ``fit_posterior_sha256`` when a scenario reads a fit.

Examples
--------
>>> from msbayes.grid.assemble import scenario_kind
>>> scenario_kind({"effect": 0.0}), scenario_kind({"from_fit": "posterior.nc", "model": "m", "prior": "p"})
('fixed', 'design_prior')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from msbayes.config import ConfigError
from msbayes.io import atomic_to_csv, atomic_to_netcdf, provenance, sha256_file, sha256_text

from .spec import GridSpec

__all__ = ["assemble_dataset", "tidy_frame", "write_artefacts", "scenario_data_files", "scenario_kind", "data_sha256_of",
           "ARRAY_OC_DIMS"]

#: extra dimension of array-valued OCs when the engine does not name it
ARRAY_OC_DIMS: dict[str, str] = {"p_select": "dose", "p_select_mcse": "dose",
                                 **{n: "dose" for b in ("p_selected", "p_rejected", "mean_n_arm", "mean_alloc_arm")
                                    for n in (b, f"{b}_mcse")},
                                 **{n: "look" for b in ("p_efficacy", "p_futility", "p_stop", "cumulative_p_go")
                                    for n in (b, f"{b}_mcse")},
                                 **{n: "look" for n in ("information_fraction", "bound_efficacy_z", "bound_futility_z",
                                                        "bound_efficacy_effect", "bound_futility_effect",
                                                        "n_analysed_at_look", "n_randomised_at_look",
                                                        "time_at_look")}}
#: per-cell quantities of designs with interims: the same under every scenario, stored without
#: the scenario dimension
CELL_LOOK_VARS = ("information_fraction", "bound_efficacy_z", "bound_futility_z", "bound_efficacy_effect",
                  "bound_futility_effect", "n_analysed_at_look", "n_randomised_at_look", "time_at_look", "n_max")


def scenario_kind(spec: Any) -> str:
    """``fixed`` for ``{effect: ...}`` scenarios, ``design_prior`` for any distribution."""
    if isinstance(spec, Mapping):
        fixed = ("effect" in spec or "slowing" in spec)  # slowing: effect = -slowing * placebo_mean
        return "fixed" if fixed and not ({"normal", "mixture", "from_fit"} & set(spec)) else "design_prior"
    fixed = getattr(spec, "effect", None) is not None or getattr(spec, "slowing", None) is not None
    return "fixed" if fixed else "design_prior"


def _true_effect(spec: Any, raw: Mapping[str, Any] | None = None) -> float:
    eff = spec.get("effect") if isinstance(spec, Mapping) else getattr(spec, "effect", None)
    if isinstance(eff, (int, float)) and not isinstance(eff, bool):
        return float(eff)
    slow = spec.get("slowing") if isinstance(spec, Mapping) else getattr(spec, "slowing", None)
    if isinstance(slow, (int, float)) and not isinstance(slow, bool) and raw is not None:
        ep = raw.get("endpoint") if isinstance(raw.get("endpoint"), Mapping) else {}
        return float(-slow * float(ep.get("placebo_mean", 0.0)))
    return float("nan")


def _scenario_spec(raw: Mapping[str, Any], name: str) -> Any:
    sc = raw.get("scenarios")
    if isinstance(sc, Mapping):
        return sc.get(name, {})
    for s in sc or []:
        if isinstance(s, Mapping) and s.get("name") == name:
            return s
    return {}


def scenario_data_files(raw: Mapping[str, Any], *, base_dir: str | Path) -> list[Path]:
    """Files read by scenarios (``from_fit``), resolved against ``base_dir``; must exist.

    Raises
    ------
    ConfigError
        Naming ``scenarios.<name>.from_fit`` if a file is missing.
    """
    out: list[Path] = []
    sc = raw.get("scenarios")
    items = sc.items() if isinstance(sc, Mapping) else [(s.get("name"), s) for s in sc or [] if isinstance(s, Mapping)]
    for name, s in items:
        if isinstance(s, Mapping) and isinstance(s.get("from_fit"), str):
            p = Path(s["from_fit"])
            p = p if p.is_absolute() else Path(base_dir) / p
            if not p.is_file():
                raise ConfigError(f"scenarios.{name}.from_fit: file not found: {p} "
                                  "(run `msbayes fit` first, or fix the path; relative paths are "
                                  "resolved against the directory msbayes runs from)",
                                  [(f"scenarios.{name}.from_fit", "file not found")])
            if p not in out:
                out.append(p)
    return out


def _pad(v: np.ndarray, width: tuple[int, ...]) -> np.ndarray:
    out = np.full(width, np.nan)
    out[tuple(slice(0, n) for n in np.shape(v))] = v
    return out


def _by_dose_value(ds: xr.Dataset, per_cell: list[list[float]], shape: tuple[int, ...]) -> xr.Dataset:
    """Re-index per-dose OCs from arm position to dose value (the union of the dose sets).

    Cell ``i`` holds its values at positions ``0 .. len(per_cell[i]) - 1``; they move to the
    positions of its doses in the sorted union; doses a cell does not test stay NaN.
    """
    union = sorted({float(d) for ds_ in per_cell for d in ds_})
    pos = {d: j for j, d in enumerate(union)}
    n_cells = int(np.prod(shape))
    out = {}
    for name, var in ds.data_vars.items():
        if "dose" not in var.dims:
            continue
        extra = [d for d in var.dims[len(shape):] if d != "dose"]
        v = var.transpose(*var.dims[: len(shape)], *extra, "dose")  # dose last
        if v.ndim != len(shape) + 1 + len(extra):
            raise ValueError(f"OC {name!r}: expected dims (grid..., [look,] dose), got {var.dims}")
        old = np.asarray(v.values, dtype=float).reshape(n_cells, -1, v.shape[-1])
        new = np.full((n_cells, old.shape[1], len(union)), np.nan)
        for i, doses in enumerate(per_cell):
            for j, d in enumerate(doses):
                new[i, :, pos[float(d)]] = old[i, :, j]
        new = new.reshape(*shape, *v.shape[len(shape):-1], len(union))
        out[name] = (v.dims, new, var.attrs)
    ds = ds.drop_vars(list(out)).drop_dims("dose", errors="ignore")
    return ds.assign(out).assign_coords(dose=union)


def data_sha256_of(files: Sequence[Path]) -> str:
    """SHA-256 of the one input file, of the concatenated hashes if several, "" if none."""
    files = list(files)
    if len(files) == 1:
        return sha256_file(files[0])
    return sha256_text("".join(sha256_file(f) for f in files)) if files else ""


def _extra_dims(name: str, value: Any) -> tuple[tuple[str, ...], Any, dict]:
    """Dims, data and coords of one OC value (float, ndarray or DataArray)."""
    if isinstance(value, xr.DataArray):
        return tuple(value.dims), value.values, {d: value[d].values for d in value.dims if d in value.coords}
    arr = np.asarray(value)
    if arr.ndim == 0:
        return (), arr, {}
    if name in ("p_dropped", "p_dropped_mcse") and arr.ndim == 2:
        return ("dose", "look"), arr, {}
    if arr.ndim == 1:
        base = name.removesuffix("_mcse")
        return (ARRAY_OC_DIMS.get(name, ARRAY_OC_DIMS.get(base, f"{base}_index")),), arr, {}
    return tuple(f"{name}_dim{i}" for i in range(arr.ndim)), arr, {}


def assemble_dataset(spec: GridSpec, results: Sequence[Mapping[str, Any]], *, config_text: str,
                     data_files: Sequence[Path] = (), data_sha256: str | None = None, backend: str = "",
                     n_jobs: int = 0) -> xr.Dataset:
    """Stack per-cell result dicts (cells in spec order) into the ``oc.nc`` Dataset.

    Parameters
    ----------
    spec : GridSpec
    results : list of dict
        ``finalize()`` output of each cell plus ``n_sims``, in ``spec.cells`` order.
    """
    shape = spec.shape
    dims = spec.dims
    coords: dict[str, Any] = {a.path: a.labels for a in spec.axes}
    coords["scenario"] = list(spec.scenarios)
    # union of the OCs of all cells, in first-seen order: a grid over ``analysis`` may mix
    # methods with different outputs (welch has p_reject, bayes_normal not); a cell without an
    # OC gets NaN there
    names = list(dict.fromkeys(n for res in results for n in res))
    if any("p_stop" in res for res in results):  # interims: the per-look scalars are in the look arrays
        names = [n for n in names if not _is_look_scalar(n)]
    data_vars: dict[str, Any] = {}
    for name in names:
        src = next(res for res in results if name in res)
        edims, first, ecoords = _extra_dims(name, src[name])
        stack = []
        for cell, res in zip(spec.cells, results, strict=True):
            if name not in res:
                stack.append(np.full(np.shape(first), np.nan))
                continue
            e2, v, _ = _extra_dims(name, res[name])
            if e2 != edims or np.ndim(v) != np.ndim(first):
                raise ValueError(f"OC {name!r} has different dims in cell {cell.label()}")
            stack.append(np.asarray(v))
        width = tuple(max(s_) for s_ in zip(*(np.shape(v) for v in stack))) if edims else ()
        if edims and any(np.shape(v) != width for v in stack):  # e.g. dose sets of different sizes
            ecoords = {}
            stack = [_pad(v, width) for v in stack]
        arr = np.stack(stack).reshape(*shape, *width)
        if name == "n_sims":
            arr = arr.astype(np.int64)
        data_vars[name] = (dims + edims, arr)
        coords.update({d: c for d, c in ecoords.items() if d not in coords})
    ds = xr.Dataset(data_vars, coords=coords)
    if "look" in ds.dims:
        ds = _look_dimension(ds)
    if "dose" in ds.dims and "dose" not in ds.coords:
        per_cell = [list(getattr(getattr(c.config, "design", None), "doses", None) or []) for c in spec.cells]
        doses = {tuple(d) for d in per_cell}
        if len(doses) > 1 and all(per_cell):  # dose sets vary over the grid: label by dose value
            ds = _by_dose_value(ds, per_cell, shape)
            ds["dose"].attrs["description"] = ("dose value; per-dose OCs are NaN in cells whose "
                                               "dose set does not include the dose")
        elif len(doses) == 1 and len(next(iter(doses))) == ds.sizes["dose"]:
            ds = ds.assign_coords(dose=list(next(iter(doses))))
        if "dose" not in ds.coords:  # design.type rar with named arms: label by arm name (control first)
            arms = {tuple(getattr(getattr(c.config, "design", None), "arms", None) or ()) for c in spec.cells}
            if (len(arms) == 1 and getattr(spec.cells[0].config.design, "type", None) == "rar"
                    and len(next(iter(arms))) == ds.sizes["dose"]):
                ds = ds.assign_coords(dose=list(next(iter(arms))))
        if "dose" in ds.coords:
            unit = getattr(spec.cells[0].config.design, "dose_unit", "")
            ds["dose"].attrs.update(units=str(unit),
                                    dose_metric=str(getattr(spec.cells[0].config.design, "dose_metric", "")))
    # scenario_kind / true_effect: per scenario, or per cell if a grid axis changes them
    kinds = np.array([scenario_kind(_scenario_spec(c.raw, c.scenario)) for c in spec.cells]).reshape(shape)
    effects = np.array([_true_effect(_scenario_spec(c.raw, c.scenario), c.raw) for c in spec.cells]).reshape(shape)
    flat_kinds = kinds.reshape(-1, shape[-1])  # rows: combinations of the grid axes (one if no grid)
    if (flat_kinds == flat_kinds[0]).all():
        ds = ds.assign_coords(scenario_kind=("scenario", flat_kinds[0]))
    else:
        ds = ds.assign_coords(scenario_kind=(dims, kinds))
    flat = effects.reshape(-1, shape[-1])
    if np.array_equal(flat, np.broadcast_to(flat[0], flat.shape), equal_nan=True):
        ds = ds.assign_coords(true_effect=("scenario", flat[0]))
    else:
        ds = ds.assign_coords(true_effect=(dims, effects))
    ds["true_effect"].attrs["description"] = "fixed true effect of the scenario (NaN: design prior)"
    files = list(data_files)
    data_sha = data_sha256 if data_sha256 is not None else data_sha256_of(files)
    attrs = provenance(config_text=config_text, seed=spec.seed, data_sha256=data_sha,
                       backend=backend, n_jobs=int(n_jobs), chunk_size=int(spec.chunk_size),
                       grid_axes=json.dumps([a.path for a in spec.axes]),
                       cell_store_hash=spec.base_hash)
    rules = _decision_rules(spec)
    if rules:
        attrs["decision_rule"] = rules
    interims = _interims_descriptions(spec)
    if interims:
        attrs["interims"] = interims
    labels = _scenario_labels(spec)
    if labels:
        attrs["scenario_labels"] = json.dumps(labels)
    if files:
        attrs["fit_posterior_sha256"] = data_sha
        attrs["fit_posterior_files"] = json.dumps([str(f) for f in files])
    ds.attrs.update(attrs)
    return ds


def _is_look_scalar(name: str) -> bool:
    """``p_efficacy_look2``, ``p_stop_look1_mcse``, ``bound_efficacy_z_look3``, ...: per-look
    scalars that the look arrays already hold."""
    import re

    return re.match(r"^.+_look\d+(_mcse|_upper|_lower|_mcse_draws)?$", name) is not None


def _look_dimension(ds: xr.Dataset) -> xr.Dataset:
    """Label ``look`` 1..K and drop the scenario dimension of the per-cell look quantities.

    Each of :data:`CELL_LOOK_VARS` must be the same under every scenario of a cell (NaN
    equal to NaN); otherwise it keeps its scenario dimension.
    """
    ds = ds.assign_coords(look=np.arange(1, ds.sizes["look"] + 1))
    ds["look"].attrs["description"] = "analysis number (1 = first interim; the last = final analysis)"
    for name in CELL_LOOK_VARS:
        if name not in ds or "scenario" not in ds[name].dims:
            continue
        first = ds[name].isel(scenario=0, drop=True)
        if all(np.array_equal(first.values, ds[name].isel(scenario=i).values, equal_nan=True)
               for i in range(1, ds.sizes["scenario"])):
            ds[name] = first
    return ds


def _interims_descriptions(spec: GridSpec) -> str:
    """One line per distinct ``interims`` section of the cells ("" for fixed designs)."""
    from msbayes.design.interims import describe_interims

    out: dict[str, None] = {}
    for c in spec.cells:
        it = getattr(getattr(c, "config", None), "interims", None)
        if it is not None:
            out[describe_interims(it)] = None
    return " | ".join(out)


def _scenario_labels(spec: GridSpec) -> dict[str, str]:
    """Scenario -> honesty label (fit predictions used / set to no effect), non-empty ones only."""
    try:
        from msbayes.design.scenarios import scenario_label
    except ImportError:  # pragma: no cover
        return {}
    out: dict[str, str] = {}
    seen: set[str] = set()
    for c in spec.cells:
        if c.scenario in seen or not hasattr(getattr(c, "config", None), "scenarios"):
            continue
        seen.add(c.scenario)
        lab = scenario_label(c.config, c.scenario)
        if lab:
            out[c.scenario] = lab
    return out


def _decision_rules(spec: GridSpec) -> str:
    """The decision rule (and test alpha) of the cells, one sentence per distinct rule."""
    from msbayes.oc.decision import describe_decision

    from msbayes.design.adaptive import ADAPTIVE_DESIGN_TYPES, describe_adaptive

    out: dict[str, None] = {}
    for c in spec.cells:
        if getattr(getattr(c.config, "design", None), "type", None) in ADAPTIVE_DESIGN_TYPES:
            out[describe_adaptive(c.config.design)] = None  # the final test lives in design.final
        elif hasattr(c.config, "analysis") and hasattr(c.config, "decision"):
            out[describe_decision(c.config)] = None
    return " | ".join(out)


def tidy_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per cell x scenario; array OCs spread into ``name[dim=label]`` columns.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"n_sims": (("scenario",), [10]), "p_select": (("scenario", "dose"), [[0.2, 0.8]])},
    ...                 coords={"scenario": ["a"], "dose": [0, 10], "scenario_kind": ("scenario", ["fixed"]),
    ...                         "true_effect": ("scenario", [0.1])})
    >>> list(tidy_frame(ds).columns)
    ['scenario', 'scenario_kind', 'true_effect', 'n_sims', 'p_select[dose=0]', 'p_select[dose=10]']
    """
    cell_dims = list(ds["n_sims"].dims)
    cols: dict[str, xr.DataArray] = {}
    per_dose_coords = {n: c.variable for n, c in ds.coords.items()
                       if n not in ds.dims and any(d not in cell_dims for d in c.dims)}
    items = [*per_dose_coords.items(), *((n, v.reset_coords(drop=True).variable) for n, v in ds.data_vars.items())]
    for name, var in items:
        da = xr.DataArray(var)
        extra = [d for d in da.dims if d not in cell_dims]
        if not extra:
            cols[name] = da
            continue
        for idx in np.ndindex(*(da.sizes[d] for d in extra)):
            sel = dict(zip(extra, idx, strict=True))
            lab = ",".join(f"{d}={_label(ds, d, i)}" for d, i in sel.items())
            cols[f"{name}[{lab}]"] = da.isel(sel, drop=True)
    flat = xr.Dataset(cols, coords={d: ds[d].values for d in cell_dims})
    for c in ("scenario_kind", "true_effect"):
        if c in ds.coords:
            flat = flat.assign_coords({c: ds[c].variable})
    df = flat.to_dataframe().reset_index()
    first = [c for c in [*cell_dims, "scenario_kind", "true_effect", "n_sims"] if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def _label(ds: xr.Dataset, dim: str, i: int) -> Any:
    if dim in ds.coords:
        v = ds[dim].values[i]
        return v.item() if hasattr(v, "item") else v
    return i


def write_artefacts(ds: xr.Dataset, out_dir: str | Path, *, sample_size: pd.DataFrame | None = None) -> None:
    """Write ``oc.nc``, ``oc.csv`` (and ``sample_size.csv``) atomically.

    Without ``sample_size`` (a config without ``search:``), a ``sample_size.csv`` left by an
    earlier run into the same directory is removed, so that no reader quotes a search of a
    different config next to these results.
    """
    out_dir = Path(out_dir)
    tidy = tidy_frame(ds)  # everything computed before anything is written
    atomic_to_netcdf(ds, out_dir / "oc.nc")
    atomic_to_csv(tidy, out_dir / "oc.csv")
    if sample_size is not None:
        atomic_to_csv(sample_size, out_dir / "sample_size.csv")
    else:
        (out_dir / "sample_size.csv").unlink(missing_ok=True)  # unlink is atomic
