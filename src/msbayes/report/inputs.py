"""Read and check the artefacts the report is built from (a fit dir and/or sim dirs).

Missing required files raise :class:`ReportInputError` with the path and what is expected;
missing optional files are recorded as notes and shown in the report. The link between a sim
run and a fit is checked by hash (see :func:`check_link`).

Examples
--------
>>> from msbayes.report.inputs import ReportInputError, load_fit
>>> try:
...     load_fit("/nonexistent/fit")
... except ReportInputError as e:
...     print(str(e).splitlines()[0])
fit dir not found: /nonexistent/fit
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..io import sha256_file, sha256_text

__all__ = [
    "ReportInputError",
    "ReportMismatchWarning",
    "FitArtefacts",
    "SimArtefacts",
    "LinkCheck",
    "load_fit",
    "load_sim",
    "check_link",
    "effect_draws",
    "PROVENANCE_KEYS",
    "effect_rows",
]

PROVENANCE_KEYS = ("msbayes_version", "config_sha256", "data_sha256", "seed", "created_utc")
SUMMARY_REQUIRED = ("model", "prior", "endpoint", "population", "scale", "mean", "sd", "q2.5",
                    "q97.5", "p_benefit", "p_mcid")
ESTIMAND_COORDS = ("model", "prior", "endpoint", "population", "scale", "status")


#: summary.csv ``estimand`` kinds that are the ``effect`` variable of posterior.nc (others, e.g.
#: ``risk_difference``, are derived extras shown only in the table)
EFFECT_KINDS = ("effect", "log_odds_ratio")
KEY = ["model", "prior", "endpoint", "population"]


def effect_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, prior, endpoint, population): the ``effect`` estimand's row."""
    s = summary
    if "estimand" in s.columns:
        rank = (~s["estimand"].astype(str).isin(EFFECT_KINDS)).astype(int)
        s = s.assign(_r=rank).sort_values("_r", kind="stable").drop(columns="_r")
    return s.drop_duplicates(KEY, keep="first").sort_index()


class ReportInputError(ValueError):
    """An input of the report is missing or malformed (the message names the file)."""


class ReportMismatchWarning(UserWarning):
    """The sim run was not made from the fit given to the report (hash mismatch)."""


@dataclass(frozen=True)
class FitArtefacts:
    """The contents of a fit dir the report uses."""

    path: Path
    posterior_sha256: str
    estimands: pd.DataFrame
    summary: pd.DataFrame
    provenance: dict[str, Any]
    meta: dict[str, Any]
    sensitivity: pd.DataFrame | None = None
    raw_vs_shrunk: pd.DataFrame | None = None
    ppc: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()

    @property
    def posterior_path(self) -> Path:
        return self.path / "posterior.nc"


@dataclass(frozen=True)
class SimArtefacts:
    """The contents of a sim dir the report uses."""

    path: Path
    name: str
    ds: xr.Dataset
    provenance: dict[str, Any]
    sample_size: pd.DataFrame | None = None
    dose_response: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkCheck:
    """Result of checking that a sim run used the given fit's posterior."""

    status: Literal["match", "mismatch", "unverifiable", "not_linked"]
    message: str = field(default="")


def _need_dir(path: os.PathLike | str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ReportInputError(f"{what} dir not found: {p}")
    if not p.is_dir():
        raise ReportInputError(f"{what} dir is not a directory: {p}")
    return p


#: columns that must hold numbers (or be empty) wherever they appear in an input table
NUMERIC_COLUMNS = ("mean", "sd", "q2.5", "q97.5", "p_benefit", "p_mcid", "r_hat", "ess_bulk",
                   "ess_tail", "n_divergences", "raw_mean", "raw_se", "shrunk_mean", "shrunk_sd",
                   "target", "n_per_arm", "achieved", "achieved_mcse", "dose", "effect")


def _read_csv(p: Path, *, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read an input table and check it fully (columns, numbers) before anything is written."""
    try:
        df = pd.read_csv(p, keep_default_na=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ReportInputError(f"{p}: not a readable CSV ({exc})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ReportInputError(f"{p}: missing column(s) {missing}; required: {list(required)}")
    bad = []
    for c in NUMERIC_COLUMNS:
        if c not in df.columns or pd.api.types.is_numeric_dtype(df[c]):
            continue
        num = pd.to_numeric(df[c], errors="coerce")
        wrong = df[c].notna() & num.isna()
        if wrong.any():
            i = int(wrong.to_numpy().nonzero()[0][0])
            bad.append(f"column {c!r} row {i + 2}: expected a number, got {df[c].iloc[i]!r}"
                       + (f" (and {int(wrong.sum()) - 1} more)" if wrong.sum() > 1 else ""))
        else:
            df[c] = num
    if bad:
        raise ReportInputError(f"{p}: " + "; ".join(bad) + " (rows numbered as in the file: header = row 1)")
    return df


def _clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[str(k)] = v
    return out


def _list_estimands(post: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    try:
        ds = xr.open_dataset(post, group="posterior")
    except Exception as exc:  # noqa: BLE001
        raise ReportInputError(f"{post}: cannot read the 'posterior' group ({exc})") from None
    with ds:
        if "effect" not in ds:
            raise ReportInputError(f"{post}: no variable 'effect' in the posterior group "
                                   f"(found {sorted(ds.data_vars)})")
        dims = ds["effect"].dims
        if tuple(dims) != ("chain", "draw", "estimand"):
            raise ReportInputError(f"{post}: 'effect' must have dims (chain, draw, estimand), "
                                   f"got {dims}")
        missing = [c for c in ESTIMAND_COORDS if c not in ds.coords]
        if missing:
            raise ReportInputError(f"{post}: estimand coordinate(s) {missing} missing; "
                                   f"required: {list(ESTIMAND_COORDS)}")
        est = pd.DataFrame({c: ds[c].values.astype(str) for c in ESTIMAND_COORDS})
        est.insert(0, "estimand", ds["estimand"].values.astype(str))
        attrs = _clean_attrs(dict(ds.attrs))
    return est, attrs


def load_fit(fit_dir: os.PathLike | str) -> FitArtefacts:
    """Load a fit dir: ``posterior.nc`` and ``summary.csv`` required; the rest optional."""
    d = _need_dir(fit_dir, "fit")
    post = d / "posterior.nc"
    if not post.is_file():
        raise ReportInputError(f"fit dir {d}: posterior.nc not found (run `msbayes fit CONFIG "
                               f"--out {d}` first)")
    summ_p = d / "summary.csv"
    if not summ_p.is_file():
        raise ReportInputError(f"fit dir {d}: summary.csv not found")
    est, attrs = _list_estimands(post)
    summary = _read_csv(summ_p, required=SUMMARY_REQUIRED)
    if "status" not in summary.columns:
        key = ["model", "prior", "endpoint", "population"]
        summary = summary.merge(est[key + ["status"]], on=key, how="left")
    notes = []
    opt: dict[str, pd.DataFrame | None] = {}
    for name, req in (("sensitivity", ()), ("raw_vs_shrunk", ("model", "prior", "endpoint",
                      "population", "raw_mean", "raw_se", "shrunk_mean", "shrunk_sd")),
                      ("ppc", ())):
        p = d / f"{name}.csv"
        if p.is_file():
            opt[name] = _read_csv(p, required=req)
        else:
            opt[name] = None
            notes.append(f"{p.name} not found in {d}: its figure/table is left out")
    meta: dict[str, Any] = {}
    mp = d / "fit_meta.json"
    if mp.is_file():
        try:
            meta = json.loads(mp.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ReportInputError(f"{mp}: not valid JSON ({exc})") from None
    else:
        notes.append(f"fit_meta.json not found in {d}")
    prov = {k: attrs[k] for k in attrs if k in PROVENANCE_KEYS or k in ("sampler",)}
    missing = [k for k in PROVENANCE_KEYS if k not in attrs]
    if missing:
        notes.append(f"{post.name}: provenance attribute(s) {missing} missing")
    return FitArtefacts(path=d, posterior_sha256=sha256_file(post), estimands=est,
                        summary=summary, provenance=prov, meta=meta, notes=tuple(notes), **opt)


def load_sim(sim_dir: os.PathLike | str) -> SimArtefacts:
    """Load a sim dir: ``oc.nc`` required; ``sample_size.csv`` and ``dose_response.csv`` optional."""
    d = _need_dir(sim_dir, "sim")
    ocp = d / "oc.nc"
    if not ocp.is_file():
        raise ReportInputError(f"sim dir {d}: oc.nc not found (run `msbayes simulate CONFIG "
                               f"--out {d}` first)")
    try:
        with xr.open_dataset(ocp) as ds0:
            ds = ds0.load()
    except Exception as exc:  # noqa: BLE001
        raise ReportInputError(f"{ocp}: not a readable netCDF dataset ({exc})") from None
    if "scenario" not in ds.dims:
        raise ReportInputError(f"{ocp}: no 'scenario' dimension (dims: {list(ds.dims)})")
    for v in ("p_go", "p_go_mcse"):
        if v not in ds:
            raise ReportInputError(f"{ocp}: required variable {v!r} missing "
                                   f"(found {sorted(ds.data_vars)})")
    attrs = _clean_attrs(dict(ds.attrs))
    notes = []
    missing = [k for k in PROVENANCE_KEYS if k not in attrs]
    if missing:
        notes.append(f"{ocp.name}: provenance attribute(s) {missing} missing")
    ss = dr = None
    sp = d / "sample_size.csv"
    if sp.is_file():
        ss = _read_csv(sp, required=("scenario", "metric", "target", "n_per_arm", "achieved",
                                     "achieved_mcse"))
    else:
        notes.append(f"sample_size.csv not found in {d}: no sample-size table")
    dp = d / "dose_response.csv"
    if dp.is_file():
        dr = _read_csv(dp, required=("scenario", "dose", "effect"))
    return SimArtefacts(path=d, name=d.name, ds=ds, provenance=attrs, sample_size=ss,
                        dose_response=dr, notes=tuple(notes))


def check_link(fit: FitArtefacts | None, sim: SimArtefacts) -> LinkCheck:
    """Does ``sim`` come from ``fit``? Compares ``fit_posterior_sha256`` with posterior.nc's hash.

    Returns ``mismatch`` when the sim records a different posterior hash, ``unverifiable`` when
    it has design-prior scenarios but records no hash, ``not_linked`` when it reads no fit.
    """
    rec = str(sim.provenance.get("fit_posterior_sha256", "") or "")
    kinds = set(np.atleast_1d(sim.ds["scenario_kind"].values).astype(str)) \
        if "scenario_kind" in sim.ds.coords else set()
    if fit is None:
        if rec:
            return LinkCheck("unverifiable", f"sim {sim.name} was made from a fit posterior "
                             f"(sha256 {rec[:12]}) but no fit dir was given to check it against")
        return LinkCheck("not_linked")
    if rec:
        if rec in (fit.posterior_sha256, sha256_text(fit.posterior_sha256)):
            return LinkCheck("match", f"sim {sim.name} used this fit's posterior.nc "
                             f"(sha256 {rec[:12]})")
        files = str(sim.provenance.get("fit_posterior_files", "") or "")
        return LinkCheck("mismatch", (
            f"MISMATCH: sim {sim.name} was simulated from a different fit: its oc.nc records "
            f"fit_posterior_sha256 {rec[:12]}..."
            + (f" (file {files})" if files else "") + f", but {fit.posterior_path} has sha256 "
            f"{fit.posterior_sha256[:12]}... The design-prior operating characteristics do not "
            f"correspond to the re-analysis in this report; rerun `msbayes simulate` on this fit."))
    if "design_prior" in kinds:
        return LinkCheck("unverifiable", f"sim {sim.name} has design-prior scenarios but records "
                         f"no fit_posterior_sha256: cannot check it used this fit")
    return LinkCheck("not_linked", f"sim {sim.name} uses fixed scenarios only (no fit)")


def effect_draws(
    fit: FitArtefacts, *, model: str, prior: str, endpoint: str, group: Literal["posterior", "prior"] = "posterior",
) -> dict[str, np.ndarray]:
    """Flattened draws of ``effect`` per population for one (model, prior, endpoint).

    Uses :func:`msbayes.fit.artefact.read_effect_draws` (the fit module's reader); an empty
    dict when the group or the estimand is absent.
    """
    try:
        from msbayes.fit.artefact import read_effect_draws  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - the fit module is part of the package
        read_effect_draws = None
    if read_effect_draws is not None:
        try:
            da = read_effect_draws(fit.posterior_path, model=model, prior=prior,
                                   endpoint=endpoint, group=group)
        except (KeyError, OSError, ValueError):
            return {}
        return {str(p): np.asarray(da.sel(population=p).values, float)
                for p in da["population"].values}
    try:
        ds = xr.open_dataset(fit.posterior_path, group=group)
    except (OSError, KeyError, ValueError):
        return {}
    with ds:
        if "effect" not in ds or "model" not in ds.coords:
            return {}
        m = ((ds["model"] == model) & (ds["prior"] == prior) & (ds["endpoint"] == endpoint)).values
        sub = ds["effect"].isel(estimand=np.nonzero(m)[0]).load()
    out = {}
    for j in range(sub.sizes["estimand"]):
        pop = str(sub["population"].values[j])
        out[pop] = np.asarray(sub.isel(estimand=j).values, float).ravel()
    return out
