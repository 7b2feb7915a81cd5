"""The report section of a design with interim analyses (``oc.nc`` with a ``look`` dimension,
docs/architecture.md "Designs with interims"): tables for the boundary plot, the stopping
probabilities per look and the expected against the maximum sample size, and the OC-summary
rows (expected n, P(stop early for efficacy / futility), bias at stopping).

Everything is read from ``oc.nc``; the only arithmetic is summing the per-look stopping
probabilities of the interim looks (events that exclude each other within a trial) and their
binomial Monte Carlo standard error.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"p_efficacy": (("scenario", "look"), [[0.01, 0.02]])},
...                 coords={"scenario": ["null"], "look": [1, 2]})
>>> is_sequential(ds)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["is_sequential", "boundary_table", "boundary_csv", "stopping_table", "expected_n_table",
           "early_stop", "early_stop_upper", "stopping_rules", "look_labels", "has_dose_dropping",
           "dropped_table"]


def is_sequential(ds: xr.Dataset) -> bool:
    """True when ``ds`` holds the per-look operating characteristics of an interim design."""
    return "look" in ds.dims and "p_efficacy" in ds and ds.sizes["look"] >= 1


def _sel(da: xr.DataArray, sel: Mapping[str, Any]) -> xr.DataArray:
    return da.sel({k: v for k, v in sel.items() if k in da.dims})


def _per_look(ds: xr.Dataset, var: str, sel: Mapping[str, Any]) -> np.ndarray:
    if var not in ds:
        return np.full(ds.sizes["look"], np.nan)
    return np.asarray(_sel(ds[var], sel).transpose(..., "look").values, float).reshape(-1)[
        -ds.sizes["look"]:]


def look_labels(ds: xr.Dataset, sel: Mapping[str, Any]) -> list[str]:
    """``interim 1 (50%)``, ..., ``final`` for the looks of ``ds`` at ``sel``."""
    frac = _per_look(ds, "information_fraction", sel)
    k = ds.sizes["look"]
    out = []
    for i in range(k):
        pct = f" ({100 * frac[i]:.0f}%)" if np.isfinite(frac[i]) else ""
        out.append(f"final{pct}" if i == k - 1 else f"interim {i + 1}{pct}")
    return out


def boundary_table(ds: xr.Dataset, sel: Mapping[str, Any], *,
                   final_futility_is_efficacy: bool = False) -> pd.DataFrame:
    """One row per look: information fraction, patients, and the stopping bounds.

    Parameters
    ----------
    ds : Dataset
        ``oc.nc`` of an interim design.
    sel : mapping
        The grid cell (grid axis -> value).
    final_futility_is_efficacy : bool
        Fill an undefined futility bound at the last look with the efficacy bound (the final
        analysis of a group-sequential test: below the efficacy bound is no-go); the
        ``futility_filled`` column says where this was done.
    """
    k = ds.sizes["look"]
    t = pd.DataFrame({
        "look": np.asarray(ds["look"].values, int),
        "information_fraction": _per_look(ds, "information_fraction", sel),
        "n_analysed": _per_look(ds, "n_analysed_at_look", sel),
        "n_randomised": _per_look(ds, "n_randomised_at_look", sel),
        "time_months": _per_look(ds, "time_at_look", sel),
        "efficacy_z": _per_look(ds, "bound_efficacy_z", sel),
        "futility_z": _per_look(ds, "bound_futility_z", sel),
        "efficacy_effect": _per_look(ds, "bound_efficacy_effect", sel),
        "futility_effect": _per_look(ds, "bound_futility_effect", sel),
    })
    t["futility_filled"] = False
    if final_futility_is_efficacy and k >= 1:
        i = k - 1
        for s in ("z", "effect"):
            if np.isnan(t.loc[i, f"futility_{s}"]) and np.isfinite(t.loc[i, f"efficacy_{s}"]):
                t.loc[i, f"futility_{s}"] = t.loc[i, f"efficacy_{s}"]
                t.loc[i, "futility_filled"] = True
    t["x"] = t["information_fraction"]
    return t


def stopping_table(ds: xr.Dataset, sel: Mapping[str, Any], *,
                   scenarios: list, sname: Callable[[Any], str]) -> pd.DataFrame:
    """``scenario, look, look_label, efficacy, futility, efficacy_mcse, futility_mcse, stop,
    cumulative_p_go`` per scenario and look at the grid cell ``sel``."""
    labels = look_labels(ds, sel)
    k = ds.sizes["look"]
    rows = []
    for s in scenarios:
        ss = {**sel, "scenario": s}
        cols = {v: _per_look(ds, v, ss) for v in (
            "p_efficacy", "p_futility", "p_efficacy_mcse", "p_futility_mcse", "p_stop",
            "cumulative_p_go", "cumulative_p_go_mcse")}
        # "consider" (neither go nor no-go) happens only at the final analysis of a dual rule:
        # the recorded p_consider of the whole trial is its probability at the final look
        con = float(np.ravel(_sel(ds["p_consider"], ss).values)[0]) if "p_consider" in ds else 0.0
        con_m = (float(np.ravel(_sel(ds["p_consider_mcse"], ss).values)[0])
                 if "p_consider_mcse" in ds else 0.0)
        for i, look in enumerate(np.asarray(ds["look"].values, int)):
            last = i == k - 1
            rows.append({"scenario_key": str(s), "scenario": sname(s), "look": int(look),
                         "look_label": labels[i],
                         "efficacy": cols["p_efficacy"][i], "futility": cols["p_futility"][i],
                         "consider": np.nan_to_num(con) if last else 0.0,
                         "efficacy_mcse": np.nan_to_num(cols["p_efficacy_mcse"][i]),
                         "futility_mcse": np.nan_to_num(cols["p_futility_mcse"][i]),
                         "consider_mcse": np.nan_to_num(con_m) if last else 0.0,
                         "stop": cols["p_stop"][i], "cumulative_p_go": cols["cumulative_p_go"][i],
                         "cumulative_p_go_mcse": cols["cumulative_p_go_mcse"][i]})
    return pd.DataFrame(rows)


def boundary_csv(table: pd.DataFrame) -> pd.DataFrame:
    """The boundary table as written to ``*_boundaries.csv``: without the plotting column
    ``x`` and with the fill flag under a readable name.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"look": [1], "x": [1.0], "futility_filled": [True]})
    >>> list(boundary_csv(t).columns)
    ['look', 'final_futility_drawn_at_efficacy_bound']
    """
    out = table.drop(columns=[c for c in ("x",) if c in table.columns])
    return out.rename(columns={"futility_filled": "final_futility_drawn_at_efficacy_bound"})


def early_stop(ds: xr.Dataset, sel: Mapping[str, Any], scenario: Any,
               kind: str) -> tuple[float, float]:
    """P(stop at an interim look, before the final analysis) for ``kind`` "efficacy" or
    "futility", and its MCSE: with one interim the recorded ``p_<kind>_mcse`` of that look,
    else the binomial ``sqrt(p (1 - p) / n_sims)`` (the looks' stops exclude each other within
    a trial, so their probabilities add).

    >>> import xarray as xr
    >>> ds = xr.Dataset({"p_futility": (("scenario", "look"), [[0.3, 0.2, 0.1]]),
    ...                  "n_sims": (("scenario",), [10000])},
    ...                 coords={"scenario": ["null"], "look": [1, 2, 3]})
    >>> p, m = early_stop(ds, {}, "null", "futility")
    >>> round(p, 3), round(m, 5)
    (0.5, 0.005)
    """
    var = f"p_{kind}"
    if var not in ds:
        return float("nan"), float("nan")
    v = _per_look(ds, var, {**sel, "scenario": scenario})
    p = float(np.nansum(v[:-1]))
    if len(v) == 2 and f"{var}_mcse" in ds:  # one interim: the recorded MCSE of that look
        return p, float(_per_look(ds, f"{var}_mcse", {**sel, "scenario": scenario})[0])
    n = float(np.ravel(_sel(ds["n_sims"], {**sel, "scenario": scenario}).values)[0]) \
        if "n_sims" in ds else float("nan")
    m = float(np.sqrt(p * (1 - p) / n)) if np.isfinite(n) and n > 0 else float("nan")
    return p, m


def _interim_bounds(ds: xr.Dataset, var: str) -> np.ndarray | None:
    if var not in ds:
        return None
    da = ds[var].transpose(..., "look")
    return np.asarray(da.values, float)[..., :-1]


def stopping_rules(ds: xr.Dataset) -> tuple[str, ...]:
    """The early-stopping rules the design has at its interim looks: a subset of
    ``("efficacy", "futility")`` in that order.

    A rule is absent when the ``interims`` attribute says ``efficacy: none`` / ``futility:
    none``, or when its recorded ``bound_<kind>_z`` is non-finite at every interim look
    (``inf`` efficacy bounds, ``-inf`` / NaN futility bounds: nobody can stop there). A design
    that records neither keeps the rule if ``p_<kind>`` is in ``oc.nc``.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"p_efficacy": (("look",), [0.0, 0.02]),
    ...                  "p_futility": (("look",), [0.3, 0.6]),
    ...                  "bound_efficacy_z": (("look",), [np.inf, 1.96]),
    ...                  "bound_futility_z": (("look",), [0.0, np.nan])},
    ...                 coords={"look": [1, 2]})
    >>> stopping_rules(ds)
    ('futility',)
    """
    import re

    attr = str(ds.attrs.get("interims", ""))
    out = []
    for kind in ("efficacy", "futility"):
        if f"p_{kind}" not in ds:
            continue
        if re.search(rf"(^|[;,]\s*)(interim )?{kind}: none\b", attr):
            continue
        b = _interim_bounds(ds, f"bound_{kind}_z")
        if b is not None and b.size and not np.isfinite(b).any():
            continue
        out.append(kind)
    return tuple(out)


def early_stop_upper(ds: xr.Dataset, sel: Mapping[str, Any], scenario: Any) -> float:
    """One-sided 95% Clopper-Pearson upper bound ``1 - 0.05^(1/N)`` (about ``3/N``) for an
    early-stop probability with no simulated event; N = ``n_sims`` of the cell (NaN without).

    >>> import xarray as xr
    >>> ds = xr.Dataset({"n_sims": (("scenario",), [4000])}, coords={"scenario": ["null"]})
    >>> round(early_stop_upper(ds, {}, "null"), 6)
    0.000749
    """
    if "n_sims" not in ds:
        return float("nan")
    n = float(np.ravel(_sel(ds["n_sims"], {**sel, "scenario": scenario}).values)[0])
    return float(1.0 - 0.05 ** (1.0 / n)) if np.isfinite(n) and n > 0 else float("nan")


def has_dose_dropping(ds: xr.Dataset) -> bool:
    """True when ``oc.nc`` records interim dose dropping (``p_dropped`` over dose and look)."""
    return "p_dropped" in ds and {"dose", "look"} <= set(ds["p_dropped"].dims)


def dropped_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                  sname: Callable[[Any], str],
                  dose_name: Callable[[Any], str] = lambda d: f"{float(d):g}") -> pd.DataFrame:
    """P(dose dropped at interim k) per scenario, active dose and interim look, with its
    MCSE and ±2 MCSE limits (clipped to [0, 1]): ``scenario_key, scenario, dose, dose_label,
    look, look_label, p_dropped, p_dropped_mcse, lower, upper``.

    Placebo (NaN in ``p_dropped``) and the final look (nothing is dropped there) are left out.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"p_dropped": (("scenario", "dose", "look"),
    ...                                [[[np.nan, np.nan], [0.7, 0.0]]]),
    ...                  "p_dropped_mcse": (("scenario", "dose", "look"),
    ...                                     [[[np.nan, np.nan], [0.007, 0.0]]])},
    ...                 coords={"scenario": ["null"], "dose": [0, 5], "look": [1, 2]})
    >>> t = dropped_table(ds, {}, scenarios=["null"], sname=str)
    >>> t[["dose", "look", "p_dropped", "lower"]].values.tolist()
    [[5.0, 1.0, 0.7, 0.686]]
    """
    labels = look_labels(ds, sel)
    k = ds.sizes["look"]
    looks = np.asarray(ds["look"].values, int)
    rows = []
    for s in scenarios:
        ss = {k_: v for k_, v in {**sel, "scenario": s}.items() if k_ not in ("dose", "look")}
        p = _sel(ds["p_dropped"], ss).transpose("dose", "look")
        m = (_sel(ds["p_dropped_mcse"], ss).transpose("dose", "look")
             if "p_dropped_mcse" in ds else xr.zeros_like(p))
        for j, d in enumerate(np.asarray(ds["dose"].values)):
            for i in range(k - 1):
                v, e = float(p.values[j, i]), float(m.values[j, i])
                if not np.isfinite(v):
                    continue
                e = e if np.isfinite(e) else 0.0
                rows.append({"scenario_key": str(s), "scenario": sname(s), "dose": float(d),
                             "dose_label": dose_name(d), "look": int(looks[i]),
                             "look_label": labels[i], "p_dropped": v, "p_dropped_mcse": e,
                             "lower": round(max(0.0, v - 2 * e), 12),
                             "upper": round(min(1.0, v + 2 * e), 12)})
    return pd.DataFrame(rows, columns=["scenario_key", "scenario", "dose", "dose_label", "look",
                                       "look_label", "p_dropped", "p_dropped_mcse", "lower",
                                       "upper"])


def expected_n_table(ds: xr.Dataset, fixed: Mapping[str, Any], *, x_axis: str | None,
                     scenarios: list, sname: Callable[[Any], str],
                     kinds: Mapping[str, str]) -> pd.DataFrame | None:
    """Expected randomised n (±2 MCSE) and expected duration against ``n_max`` over the grid
    axis ``x_axis`` (other axes at ``fixed``), one group per scenario; None without
    ``expected_n`` / ``n_max``."""
    if "expected_n" not in ds or "n_max" not in ds:
        return None
    xs = list(ds[x_axis].values) if x_axis and x_axis in ds["n_max"].dims else [None]
    rows = []
    for s in scenarios:
        for xv in xs:
            sel = {**{k: v for k, v in fixed.items() if k != x_axis}, "scenario": s}
            if xv is not None:
                sel[x_axis] = xv
            one = (lambda v: float(np.ravel(_sel(ds[v], sel).values)[0]) if v in ds else np.nan)
            en, em = one("expected_n"), one("expected_n_mcse")
            du, dm = one("expected_duration"), one("expected_duration_mcse")
            em, dm = (0.0 if not np.isfinite(em) else em), (0.0 if not np.isfinite(dm) else dm)
            rows.append({"scenario_key": str(s), "group": sname(s),
                         "kind": kinds.get(str(s), "fixed"), "n_max": one("n_max"),
                         "expected_n": en, "expected_n_mcse": em, "lower": en - 2 * em,
                         "upper": en + 2 * em, "duration": du, "duration_mcse": dm,
                         "duration_lower": du - 2 * dm, "duration_upper": du + 2 * dm,
                         "n_q10": one("n_q10"), "n_q50": one("n_q50"), "n_q90": one("n_q90"),
                         "duration_q10": one("duration_q10"), "duration_q50": one("duration_q50"),
                         "duration_q90": one("duration_q90")})
    return pd.DataFrame(rows)
