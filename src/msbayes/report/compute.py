"""The small computations behind the figures: densities, exceedance probabilities, bands,
and the tidy tables the plot functions take.

Everything here is a pure function of arrays / tables read from the artefacts.

Examples
--------
>>> import numpy as np
>>> from msbayes.report.compute import kde, p_exceed
>>> x = np.random.default_rng(0).normal(size=2000)
>>> grid, dens = kde(x, n_points=64)
>>> bool(abs(np.trapezoid(dens, grid) - 1) < 0.02)
True
>>> float(p_exceed(np.array([-1.0, 0.5, 2.0]), 0.0))
0.6666666666666666
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "td_histogram",
    "kde",
    "p_exceed",
    "mcse_prob",
    "density_table",
    "credible_band",
    "forest_table",
    "sensitivity_table",
    "ppc_table",
    "default_slice",
    "oc_curves",
    "oc_grid",
    "selection_table",
    "MCID_DEFAULTS",
    "mcid_for",
]

#: MCIDs on the log-ratio scales (docs/architecture.md); a fit's ``fit_meta.json`` ``mcid``
#: entry, when present, overrides these.
MCID_DEFAULTS: dict[tuple[str, str], float] = {
    ("t25fw", "log_speed_ratio"): float(np.log(1.2)),
    ("6mwt", "log_distance_ratio"): float(np.log(1.08)),
}


def mcid_for(endpoint: str, scale: str, meta: Mapping | None = None) -> float | None:
    """MCID of ``endpoint`` on ``scale``: the fit's recorded value, else the documented default.

    ``meta`` is the parsed ``fit_meta.json``; its ``mcid`` may map endpoint -> value or
    ``"endpoint/scale"`` -> value. Returns ``None`` when no MCID is known for that scale.
    """
    rec = (meta or {}).get("mcid") or {}
    if isinstance(rec, Mapping):
        for key in (f"{endpoint}/{scale}", endpoint):
            v = rec.get(key)
            if isinstance(v, (int, float)) and (key != endpoint or scale.startswith("log")):
                return float(v)
    return MCID_DEFAULTS.get((str(endpoint), str(scale)))


def kde(
    draws: np.ndarray,
    *,
    grid: np.ndarray | None = None,
    n_points: int = 256,
    bandwidth: float | None = None,
    cut: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian kernel density estimate on a grid (Scott's bandwidth by default).

    Scott's rule h = sd * n^(-1/5) is the default of :class:`scipy.stats.gaussian_kde`, so the
    two agree exactly (tested).

    Parameters
    ----------
    draws : 1-D array
    grid : array, optional
        Evaluation points; default ``n_points`` points over ``[min - cut*h, max + cut*h]``.
    n_points : int
    bandwidth : float, optional
        Kernel SD; default Scott's rule.
    cut : float

    Returns
    -------
    (grid, density) : tuple of arrays
    """
    x = np.asarray(draws, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError("kde: need at least 2 finite draws")
    h = bandwidth if bandwidth is not None else x.std(ddof=1) * x.size ** (-1 / 5)
    if not h > 0:
        raise ValueError("kde: draws have zero spread")
    if grid is None:
        grid = np.linspace(x.min() - cut * h, x.max() + cut * h, n_points)
    grid = np.asarray(grid, dtype=float)
    dens = np.zeros_like(grid)
    for start in range(0, x.size, 4096):  # chunked: O(chunk x grid) memory
        z = (grid[:, None] - x[None, start : start + 4096]) / h
        dens += np.exp(-0.5 * z * z).sum(axis=1)
    dens /= x.size * h * np.sqrt(2 * np.pi)
    return grid, dens


def p_exceed(draws: np.ndarray, threshold: float) -> float:
    """Monte Carlo estimate of P(effect > threshold) from posterior draws."""
    x = np.asarray(draws, dtype=float).ravel()
    return float(np.mean(x > threshold))


def mcse_prob(p: np.ndarray | float, n: np.ndarray | float) -> np.ndarray | float:
    """Binomial Monte Carlo standard error sqrt(p(1-p)/n) of a probability estimate."""
    return np.sqrt(np.clip(p, 0, 1) * (1 - np.clip(p, 0, 1)) / n)


def density_table(
    posterior: Mapping[str, np.ndarray],
    prior: Mapping[str, np.ndarray] | None = None,
    *,
    n_points: int = 256,
    quantile_range: float = 0.999,
) -> pd.DataFrame:
    """Tidy posterior (and prior) densities per population on a common x grid.

    The grid spans the central ``quantile_range`` of the posterior draws of all populations,
    widened by the bandwidth, so panels are comparable; prior densities use the same grid.
    """
    if not posterior:
        raise ValueError("density_table: no posterior draws")
    allx = np.concatenate([np.asarray(v, float).ravel() for v in posterior.values()])
    a = (1 - quantile_range) / 2
    lo, hi = np.quantile(allx, [a, 1 - a])
    pad = 0.15 * (hi - lo)
    grid = np.linspace(min(lo - pad, -0.05), hi + pad, n_points)
    rows = []
    for kind, src in (("posterior", posterior), ("prior", prior or {})):
        for pop, d in src.items():
            g, dens = kde(d, grid=grid)
            rows.append(pd.DataFrame({"population": pop, "kind": kind, "x": g, "density": dens}))
    return pd.concat(rows, ignore_index=True)


def credible_band(
    draws: pd.DataFrame, *, level: float = 0.95, by: Sequence[str] = ("scenario", "dose")
) -> pd.DataFrame:
    """Pointwise median and equal-tailed ``level`` band of curve draws.

    Parameters
    ----------
    draws : DataFrame
        Tidy draws with columns ``by`` + ``effect`` (one row per draw and dose).
    level : float
        Interval probability.

    Returns
    -------
    DataFrame with columns ``by`` + ``lower, median, upper``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a = (1 - level) / 2
    g = draws.groupby(list(by), sort=False)["effect"]
    out = pd.DataFrame({
        "lower": g.quantile(a), "median": g.quantile(0.5), "upper": g.quantile(1 - a)
    }).reset_index()
    return out


def forest_table(raw_vs_shrunk: pd.DataFrame, summary: pd.DataFrame, *, model: str) -> pd.DataFrame:
    """Rows for :func:`msbayes.plots.plot_forest` from ``raw_vs_shrunk.csv`` and ``summary.csv``.

    Raw intervals are the raw estimate ± 1.959964 SE; shrunk intervals are the posterior
    2.5% / 97.5% quantiles from ``summary.csv`` (falling back to mean ± 1.959964 SD). The raw
    row's ``status`` is the ``raw_vs_shrunk.csv`` status when recorded (``synthetic``,
    ``external`` ...), else the stratum's; ``borrowing`` is carried when present.
    """
    z = 1.959963984540054
    rvs = raw_vs_shrunk[raw_vs_shrunk["model"] == model]
    summ = summary[summary["model"] == model].set_index(["prior", "endpoint", "population"])
    rows = []
    for (ep, pop), grp in rvs.groupby(["endpoint", "population"], sort=False):
        r = grp.iloc[0]
        st_all = [summ.loc[(p, ep, pop), "status"] if (p, ep, pop) in summ.index
                  else (s.get("status", "estimate") if "status" in grp else "estimate")
                  for p, (_, s) in zip(grp["prior"], grp.iterrows())]
        raw_status = str(r["status"]) if "status" in grp.columns else st_all[0]
        bor = {}
        if "borrowing" in grp.columns:
            bor = {"borrowing": str(r["borrowing"])}
        rows.append(dict(endpoint=ep, population=pop, prior="", kind="raw",
                         estimate=r["raw_mean"], lower=r["raw_mean"] - z * r["raw_se"],
                         upper=r["raw_mean"] + z * r["raw_se"], status=raw_status, **bor))
        for (_, s), st in zip(grp.iterrows(), st_all):
            key = (s["prior"], ep, pop)
            if key in summ.index and {"q2.5", "q97.5"} <= set(summ.columns):
                lo, hi = summ.loc[key, "q2.5"], summ.loc[key, "q97.5"]
            else:
                lo, hi = s["shrunk_mean"] - z * s["shrunk_sd"], s["shrunk_mean"] + z * s["shrunk_sd"]
            b = {"borrowing": str(s["borrowing"])} if "borrowing" in grp.columns else {}
            rows.append(dict(endpoint=ep, population=pop, prior=s["prior"], kind="shrunk",
                             estimate=s["shrunk_mean"], lower=lo, upper=hi, status=st, **b))
    return pd.DataFrame(rows)


def sensitivity_table(summary: pd.DataFrame, *, model: str, scale: str | None = None) -> pd.DataFrame:
    """Rows for :func:`msbayes.plots.plot_prior_sensitivity` (one model, all priors)."""
    s = summary[summary["model"] == model]
    if scale is not None:
        s = s[s["scale"] == scale]
    out = pd.DataFrame({
        "endpoint": s["endpoint"], "population": s["population"], "prior": s["prior"],
        "mean": s["mean"], "lower": s["q2.5"], "upper": s["q97.5"], "status": s["status"],
    })
    if "borrowing" in s.columns:
        out["borrowing"] = s["borrowing"].astype(str)
    return out.reset_index(drop=True)


_PPC_ALIASES = {
    "pred_lower": ("pred_lower", "pred_q2.5", "pp_q2.5", "q2.5", "lower"),
    "pred_upper": ("pred_upper", "pred_q97.5", "pp_q97.5", "q97.5", "upper"),
    "pred_mean": ("pred_mean", "pp_mean", "predicted_mean", "mean"),
    "observed": ("observed", "obs", "observed_value"),
    "statistic": ("statistic", "stat", "variable"),
}


def ppc_table(ppc: pd.DataFrame) -> pd.DataFrame:
    """Normalise ``ppc.csv`` into ``label, statistic, observed, pred_mean, pred_lower, pred_upper``.

    Accepts the common column spellings (``pred_q2.5`` / ``pp_q2.5`` / ``pred_lower``,
    ``statistic`` / ``variable`` ...); the label joins the identifying columns that vary
    (model, prior, endpoint, population, arm, element).
    """
    out = {}
    for std, names in _PPC_ALIASES.items():
        for n in names:
            if n in ppc.columns:
                out[std] = ppc[n].to_numpy()
                break
        else:
            if std == "statistic":
                out[std] = np.full(len(ppc), "value", dtype=object)
            else:
                raise ValueError(f"ppc.csv: no column for {std!r} (tried {list(names)})")
    parts = [c for c in ("model", "prior", "endpoint", "population", "arm", "element")
             if c in ppc.columns and ppc[c].nunique() > 1] or [
        c for c in ("endpoint", "arm", "element") if c in ppc.columns]
    from ..plots.style import (
        arm_label,
        endpoint_label,
        population_label,
        statistic_label,
        study_label,
    )

    def word(x: str) -> str:
        if x in ("t25fw", "6mwt", "edss_plus"):
            return endpoint_label(x)
        if x.startswith("edss_") or x == "all":
            return population_label(x)
        return arm_label(x) if "_" in x or x in ("saline", "sham", "placebo") else study_label(x)

    def lab(r):
        bits = []
        for c in parts:
            v = r[c]
            if c == "element":  # e.g. "harris2024/t25fw/edss_6.0-6.5/msc_np"
                bits.append(", ".join(word(x) for x in str(v).split("/")))
            else:
                bits.append(endpoint_label(v) if c == "endpoint" else population_label(v)
                            if c == "population" else arm_label(v) if c == "arm" else str(v))
        return " ".join(bits) or str(r.name)

    out["label"] = ppc.apply(lab, axis=1).to_numpy() if len(ppc) else np.array([], dtype=object)
    out["statistic"] = np.array([statistic_label(x) for x in out["statistic"]], dtype=object)
    return pd.DataFrame(out)[["label", "statistic", "observed", "pred_mean", "pred_lower",
                              "pred_upper"]]


def default_slice(ds: xr.Dataset, *, keep: Sequence[str]) -> dict[str, object]:
    """For each grid axis not in ``keep`` (nor scenario/dose), the middle coordinate value."""
    out: dict[str, object] = {}
    for d in ds.dims:
        if d in keep or d in ("scenario", "dose", "look"):
            continue
        vals = ds[d].values
        out[str(d)] = vals[(len(vals) - 1) // 2].item()
    return out


def _mcse_name(ds: xr.Dataset, var: str) -> str | None:
    n = f"{var}_mcse"
    return n if n in ds else None


def oc_curves(
    ds: xr.Dataset, var: str, *, x: str, fixed: Mapping[str, object], group: str = "scenario",
    n_mcse: float = 2.0,
) -> pd.DataFrame:
    """Tidy OC curves ``group, x, y, mcse, lower, upper`` with a ±``n_mcse`` MCSE band.

    Probability OCs have the band clipped to [0, 1].
    """
    if var not in ds:
        raise KeyError(f"oc.nc has no variable {var!r}; available: {sorted(ds.data_vars)}")
    da = ds[var].sel(fixed)
    mc = ds[_mcse_name(ds, var)].sel(fixed) if _mcse_name(ds, var) else xr.zeros_like(da)
    extra = [d for d in da.dims if d not in (x, group)]
    if extra:
        raise ValueError(f"oc_curves: dims {extra} not fixed; give them in `fixed`")
    df = da.to_dataframe(name="y")[["y"]].join(mc.to_dataframe(name="mcse")[["mcse"]]).reset_index()
    df = df.rename(columns={x: "x", group: "group"})
    df["lower"] = df["y"] - n_mcse * df["mcse"]
    df["upper"] = df["y"] + n_mcse * df["mcse"]
    if var.startswith("p_"):
        df[["lower", "upper"]] = df[["lower", "upper"]].clip(0, 1)
    return df[["group", "x", "y", "mcse", "lower", "upper"]]


def oc_grid(ds: xr.Dataset, var: str, *, rows: str, cols: str, fixed: Mapping[str, object]) -> xr.DataArray:
    """2-D slice of ``var`` with dims ``(rows, cols)``; other dims fixed by ``fixed``."""
    da = ds[var].sel(fixed)
    extra = [d for d in da.dims if d not in (rows, cols)]
    if extra:
        raise ValueError(f"oc_grid: dims {extra} not fixed; give them in `fixed`")
    return da.transpose(rows, cols)


def selection_table(ds: xr.Dataset, *, fixed: Mapping[str, object], n_mcse: float = 2.0) -> pd.DataFrame:
    """``scenario, dose, p, mcse, lower, upper`` for P(select dose) at the ``fixed`` slice.

    When the sim recorded ``p_select_none`` (no dose selected), it is added as rows with
    ``dose = "none"``, so the selection probabilities of a scenario sum to one.
    """
    da = ds["p_select"].sel(fixed)
    mc = ds["p_select_mcse"].sel(fixed) if "p_select_mcse" in ds else xr.zeros_like(da)
    df = da.to_dataframe(name="p")[["p"]].join(mc.to_dataframe(name="mcse")[["mcse"]]).reset_index()
    if "p_select_none" in ds:
        fx = {k: v for k, v in fixed.items() if k in ds["p_select_none"].dims}
        none = ds["p_select_none"].sel(fx)
        nmc = (ds["p_select_none_mcse"].sel(fx) if "p_select_none_mcse" in ds
               else xr.zeros_like(none))
        nd = none.to_dataframe(name="p")[["p"]].join(
            nmc.to_dataframe(name="mcse")[["mcse"]]).reset_index()
        nd["dose"] = "none"
        df = pd.concat([df.astype({"dose": object}), nd[["scenario", "dose", "p", "mcse"]]],
                       ignore_index=True)
    df["lower"] = (df["p"] - n_mcse * df["mcse"]).clip(0, 1)
    df["upper"] = (df["p"] + n_mcse * df["mcse"]).clip(0, 1)
    return df[["scenario", "dose", "p", "mcse", "lower", "upper"]]


def dose_response_draws(
    config: Mapping, *, fixed: Mapping[str, object], fit_files: Sequence[str] = (),
    n_draws: int = 400, seed: int = 0, curve_points: int = 0,
) -> tuple[pd.DataFrame | None, str]:
    """Draws of each scenario's true dose-response curve, rebuilt from a sim's recorded config.

    Used when a sim dir has no ``dose_response.csv``. The curve is the engine's anchored model
    ``theta_ref * g(d) / g(d_ref)`` (:func:`msbayes.design.doseresponse.anchored_effects`), with
    the shape parameters drawn from their prior (:func:`~msbayes.design.doseresponse.draw_shape`)
    and ``theta_ref`` the scenario's effect: fixed value, normal, or the fit posterior's draws
    (read with the fit module's reader from the file the sim recorded). Discounting /
    robustification of a fit scenario are not re-applied (said in the returned note).

    Parameters
    ----------
    config : mapping
        The sim's parsed ``config_text``.
    fixed : mapping
        Grid slice; a ``design.doses``, ``design.dose_response`` or
        ``design.dose_response.<param>`` axis value overrides the config's.
    fit_files : sequence of str
        ``fit_posterior_files`` recorded by the sim (absolute paths).
    n_draws, seed : int
    curve_points : int
        When > 0, the curves are also evaluated at this many evenly spaced doses between the
        lowest and highest design dose (so that a figure draws the curve, not straight
        segments between the design doses).

    Returns
    -------
    (DataFrame ``scenario, dose, draw, effect`` or None, note)
    """
    from msbayes.design.dosefinding import DoseResponseSpec
    from msbayes.design.doseresponse import anchored_effects, draw_shape

    design = config.get("design") or {}
    dr = dict(design.get("dose_response") or config.get("dose_response") or {})
    doses = design.get("doses")
    if not dr or not doses:
        return None, "no dose_response / design.doses in the sim config"
    for k, v in fixed.items():  # grid axes of the slice shown: the cell's own doses and shape
        if str(k) == "design.doses":
            doses = json.loads(v) if isinstance(v, str) else list(v)
        elif str(k) == "design.dose_response":
            dr = dict(json.loads(v) if isinstance(v, str) else v)
        elif str(k).startswith("design.dose_response."):
            dr[str(k).split(".")[-1]] = v
    spec = DoseResponseSpec.model_validate(dr)
    d_ref = float(design.get("reference_dose", max(doses)))
    rng = np.random.default_rng(seed)
    scen = config.get("scenarios") or {}
    if isinstance(scen, list):
        scen = {str(x.get("name")): x for x in scen if isinstance(x, Mapping)}
    frames, notes = [], []
    for name, sc in scen.items():
        name = "null" if name is None else str(name)
        if not isinstance(sc, Mapping):
            continue
        if "effect" in sc and isinstance(sc["effect"], (int, float)):
            theta = np.full(n_draws, float(sc["effect"]))
        elif isinstance(sc.get("normal"), Mapping):
            theta = rng.normal(float(sc["normal"]["mean"]), float(sc["normal"]["sd"]), n_draws)
        elif "from_fit" in sc and len(fit_files) == 1:
            from msbayes.fit.artefact import read_effect_draws

            da = read_effect_draws(fit_files[0], model=sc["model"], prior=sc["prior"],
                                   endpoint=sc.get("endpoint") or (config.get("endpoint") or {})
                                   .get("name"), population=sc.get("population"))
            pool = np.asarray(da.values, float).reshape(-1)
            theta = rng.choice(pool, n_draws, replace=True)
            if {"discount", "robust_weight"} & set(sc) or sc.get("mode") == "mixture":
                notes.append(f"{name}: fit draws without the discount/mixture step")
        else:
            notes.append(f"{name}: effect distribution not reconstructed")
            continue
        shape = draw_shape(spec, n_draws, rng)
        ev = np.asarray(doses, float)
        if curve_points > 0:
            ev = np.union1d(ev, np.linspace(ev.min(), ev.max(), int(curve_points)))
        eff = anchored_effects(spec.model, ev, d_ref=d_ref, theta_ref=theta, shape=shape)
        frames.append(pd.DataFrame({
            "scenario": name, "dose": np.tile(ev, n_draws),
            "draw": np.repeat(np.arange(n_draws), len(ev)), "effect": eff.ravel()}))
    if not frames:
        return None, "; ".join(notes) or "no scenario could be reconstructed"
    note = (f"curves rebuilt from the recorded config ({n_draws} draws per scenario; "
            f"{spec.model} shape anchored at dose {d_ref:g})")
    return pd.concat(frames, ignore_index=True), "; ".join([note, *notes])


def design_prior_draws(
    config: Mapping, *, fit_files: Sequence[str] = (), n_draws: int = 4000, seed: int = 0,
) -> tuple[dict[str, np.ndarray], str]:
    """Draws of the true effect under each design-prior scenario of a sim's recorded config,
    from the engine's own sampler (:func:`msbayes.design.scenarios.effect_sampler`), so that
    shrinkage, discounting and the robust component are applied as in the simulation.

    A ``from_fit`` path is replaced by the posterior file the sim recorded
    (``fit_posterior_files``) when it recorded exactly one. Effects over several strata are
    averaged with the endpoint's stratum weights.

    Returns
    -------
    ({scenario: draws}, note) ; an empty dict and the reason when none could be rebuilt.
    """
    from msbayes.design.config import SimConfig
    from msbayes.design.scenarios import effect_sampler

    cfg = dict(config)
    scen = dict(cfg.get("scenarios") or {})
    if len(fit_files) == 1:
        for k, v in scen.items():
            if isinstance(v, Mapping) and "from_fit" in v:
                scen[k] = {**v, "from_fit": str(fit_files[0])}
    cfg["scenarios"] = {("null" if k is None else k): v for k, v in scen.items()}
    try:
        sc = SimConfig.model_validate(cfg)
    except Exception as exc:  # noqa: BLE001 - an older or foreign config: say why, draw none
        return {}, f"design priors not rebuilt ({type(exc).__name__})"
    rng = np.random.default_rng(seed)
    w = np.asarray(sc.endpoint.stratum_weights, float)
    out: dict[str, np.ndarray] = {}
    for name, spec in sc.scenarios.items():
        try:
            smp = effect_sampler(spec, sc.endpoint, name=name)
        except Exception as exc:  # noqa: BLE001
            return {}, f"design prior {name} not rebuilt ({exc})"
        if smp.kind != "design_prior":
            continue
        out[str(name)] = smp.sample(n_draws, rng=rng) @ (w / w.sum())
    return out, f"{n_draws} draws per design prior from the simulation's own sampler"


def td_histogram(ds: xr.Dataset, *, fixed: Mapping[str, object], n_mcse: float = 2.0) -> pd.DataFrame | None:
    """The distribution of the estimated target dose per scenario at the ``fixed`` slice.

    Reads the dose-finding outcomes ``p_td_bin{j}`` (estimate in the j-th of equal-width bins
    of [0, highest dose]) and ``p_td_none`` (no estimate). Returns ``scenario, bin, lower_dose,
    upper_dose, p, mcse, lower, upper`` with ``bin = "none"`` for no estimate (dose limits
    NaN), or None when the sim did not record them.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"p_td_bin0": ("scenario", [0.3]), "p_td_bin1": ("scenario", [0.5]),
    ...                  "p_td_none": ("scenario", [0.2])},
    ...                 coords={"scenario": ["a"], "dose": [0.0, 4.0, 10.0]})
    >>> td_histogram(ds, fixed={})[["bin", "lower_dose", "upper_dose", "p"]].values.tolist()
    [['0', 0.0, 5.0, 0.3], ['1', 5.0, 10.0, 0.5], ['none', nan, nan, 0.2]]
    """
    bins = sorted(int(k[len("p_td_bin"):]) for k in ds.data_vars
                  if k.startswith("p_td_bin") and k[len("p_td_bin"):].isdigit())
    if not bins or "dose" not in ds.coords or bins != list(range(len(bins))):
        return None
    d_max = float(np.nanmax(np.asarray(ds["dose"].values, float)))
    edges = np.linspace(0.0, d_max, len(bins) + 1)
    rows = []
    for key, lo, hi in [(str(j), edges[j], edges[j + 1]) for j in bins] + [("none", np.nan, np.nan)]:
        var = f"p_td_bin{key}" if key != "none" else "p_td_none"
        if var not in ds:
            continue
        fx = {k: v for k, v in fixed.items() if k in ds[var].dims}
        p = ds[var].sel(fx)
        m = ds[f"{var}_mcse"].sel(fx) if f"{var}_mcse" in ds else xr.zeros_like(p)
        for sc in p["scenario"].values:
            pv, mv = float(p.sel(scenario=sc)), float(m.sel(scenario=sc))
            rows.append({"scenario": str(sc), "bin": key, "lower_dose": lo, "upper_dose": hi,
                         "p": pv, "mcse": mv, "lower": max(0.0, pv - n_mcse * mv),
                         "upper": min(1.0, pv + n_mcse * mv)})
    return pd.DataFrame(rows)
