"""``posterior.nc``: the stacked InferenceData of one ``msbayes fit`` run, and its reader API.

Layout (docs/architecture.md, Artefact 1): variable ``effect`` with dims
``(chain, draw, estimand)`` in the ``posterior`` and ``prior`` groups; non-dimension
coordinates on ``estimand``: ``model, prior, endpoint, population, scale, status`` (and, when
the fit records them, ``mcid``, ``borrowing`` (external evidence the estimand borrows from:
``"none"`` or e.g. ``"petrou2020(w=0.5)"``) and ``mcid_source``). Each fit's native variables are stored as ``"{model}.{prior}.{var}"`` with their
own dims renamed ``"{model}.{dim}"`` so fits never clash. Attributes = provenance.

The reader functions are the only way other modules read the file.

Examples
--------
>>> from msbayes.fit.artefact import read_effect_draws, list_estimands  # doctest: +SKIP
>>> est = list_estimands("results/reanalysis/posterior.nc")              # doctest: +SKIP
>>> da = read_effect_draws("results/reanalysis/posterior.nc", model="summary_log",
...                        prior="skeptical", endpoint="t25fw")          # doctest: +SKIP
>>> da.dims                                                              # doctest: +SKIP
('sample', 'population')
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["ESTIMAND_COORDS", "OPTIONAL_COORDS", "effect_dataarray", "prefix_dataset",
           "read_effect_draws", "list_estimands"]

ESTIMAND_COORDS = ("model", "prior", "endpoint", "population", "scale", "status")
#: label coordinates written when the estimand table has them (read back when present)
OPTIONAL_COORDS = ("borrowing", "mcid_source")


def effect_dataarray(draws: np.ndarray, estimands: pd.DataFrame) -> xr.DataArray:
    """Wrap ``draws`` (chain, draw, estimand) with the estimand coordinates.

    ``estimands`` has one row per estimand with columns :data:`ESTIMAND_COORDS` (+ ``mcid``,
    and the label columns :data:`OPTIONAL_COORDS` when present). When ``borrowing`` is given and
    not ``"none"`` everywhere, it is part of the estimand id (``model.prior.endpoint.population
    [borrowing]``) so a fit with and without borrowing can be stacked.
    """
    bor = estimands["borrowing"].astype(str).tolist() if "borrowing" in estimands else None
    ids = [
        f"{r.model}.{r.prior}.{r.endpoint}.{r.population}" for r in estimands.itertuples(index=False)
    ]
    if bor is not None and len(set(ids)) < len(ids):
        ids = [i if b == "none" else f"{i}[{b}]" for i, b in zip(ids, bor)]
    coords = {"chain": np.arange(draws.shape[0]), "draw": np.arange(draws.shape[1]), "estimand": ids}
    for c in ESTIMAND_COORDS:
        coords[c] = ("estimand", estimands[c].astype(str).to_numpy())
    if "mcid" in estimands:
        coords["mcid"] = ("estimand", estimands["mcid"].astype(float).to_numpy())
    for c in OPTIONAL_COORDS:
        if c in estimands:
            coords[c] = ("estimand", estimands[c].fillna("").astype(str).to_numpy())
    return xr.DataArray(np.asarray(draws, dtype=float), dims=("chain", "draw", "estimand"), coords=coords,
                        name="effect")


def prefix_dataset(ds: xr.Dataset, *, model: str, prior: str, keep_dims=("chain", "draw")) -> xr.Dataset:
    """Rename variables to ``model.prior.var`` and non-sample dims to ``model.dim``."""
    ds = ds.drop_vars([v for v in ds.data_vars if str(v).endswith("__")])
    dims = {d: f"{model}.{d}" for d in ds.dims if d not in keep_dims}
    out = ds.rename({v: f"{model}.{prior}.{v}" for v in ds.data_vars})
    out = out.rename(dims)
    out.attrs = {}
    return out


def _open_group(path: str | os.PathLike, group: str) -> xr.Dataset:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"posterior file not found: {p}")
    with xr.open_dataset(p, group=group) as ds:
        return ds.load()


def list_estimands(path: str | os.PathLike) -> pd.DataFrame:
    """One row per estimand in a ``posterior.nc``: ``estimand`` id + the coordinates.

    Columns: ``estimand, model, prior, endpoint, population, scale, status`` (and ``mcid``,
    ``borrowing``, ``mcid_source`` when recorded).
    """
    eff = _open_group(path, "posterior")["effect"]
    cols = {"estimand": eff["estimand"].values.astype(str)}
    for c in (*ESTIMAND_COORDS, "mcid", *OPTIONAL_COORDS):
        if c in eff.coords:
            cols[c] = eff[c].values
    return pd.DataFrame(cols)


def read_effect_draws(
    path: str | os.PathLike,
    *,
    model: str,
    prior: str,
    endpoint: str,
    population: str | None = None,
    group: str = "posterior",
    borrowing: str | None = None,
) -> xr.DataArray:
    """Effect draws of one (model, prior, endpoint), all populations jointly or one.

    Parameters
    ----------
    path : path to ``posterior.nc``
    model, prior, endpoint : str
    population : str, optional
        ``None`` returns every population of that endpoint (draws aligned across strata, so
        joint functionals are valid); a name returns that one (population dim of length 1).
    group : {"posterior", "prior"}
    borrowing : str, optional
        Select the estimands with this ``borrowing`` label (``"none"``, ``"petrou2020(w=0.5)"``)
        when the file holds the same fit with and without borrowing. Required in that case.

    Returns
    -------
    xarray.DataArray
        dims ``("sample", "population")``; ``sample`` = chain x draw flattened; attrs
        ``scale``, ``model``, ``prior``, ``endpoint``, ``mcid``; coordinate ``status`` (and
        ``borrowing`` when recorded) on ``population``.

    Raises
    ------
    KeyError
        No matching estimand (the message lists what is available).
    ValueError
        The selection holds a population twice (several ``borrowing`` variants) and no
        ``borrowing`` was given.
    """
    eff = _open_group(path, group)["effect"]
    mask = (eff["model"] == model) & (eff["prior"] == prior) & (eff["endpoint"] == endpoint)
    if population is not None:
        mask = mask & (eff["population"] == population)
    if borrowing is not None and "borrowing" in eff.coords:
        mask = mask & (eff["borrowing"] == borrowing)
    sel = eff.isel(estimand=np.flatnonzero(mask.values))
    if sel.sizes["estimand"] == 0:
        avail = sorted({(str(a), str(b), str(c)) for a, b, c in zip(eff["model"].values, eff["prior"].values, eff["endpoint"].values)})
        pops = sorted(set(eff["population"].values[(eff["model"] == model).values & (eff["endpoint"] == endpoint).values].astype(str)))
        raise KeyError(
            f"no effect for model={model!r}, prior={prior!r}, endpoint={endpoint!r}, population={population!r}; "
            f"available (model, prior, endpoint): {avail}; populations for this model/endpoint: {pops}"
        )
    pops_sel = sel["population"].values.astype(str)
    if len(set(pops_sel)) < len(pops_sel):
        variants = sorted(set(sel["borrowing"].values.astype(str))) if "borrowing" in sel.coords else []
        raise ValueError(
            f"model={model!r}, prior={prior!r}, endpoint={endpoint!r} holds each population more than "
            f"once (borrowing variants {variants}); pass borrowing=... to choose one")
    scales = set(sel["scale"].values.astype(str))
    stacked = sel.stack(sample=("chain", "draw")).transpose("sample", "estimand")
    out = xr.DataArray(
        stacked.values,
        dims=("sample", "population"),
        coords={
            "sample": np.arange(stacked.sizes["sample"]),
            "population": sel["population"].values.astype(str),
            "status": ("population", sel["status"].values.astype(str)),
            **({"borrowing": ("population", sel["borrowing"].values.astype(str))}
               if "borrowing" in sel.coords else {}),
        },
        name="effect",
        attrs={
            "scale": scales.pop() if len(scales) == 1 else ",".join(sorted(scales)),
            "model": model,
            "prior": prior,
            "endpoint": endpoint,
            "mcid": float(sel["mcid"].values[0]) if "mcid" in sel.coords else float("nan"),
        },
    )
    return out
