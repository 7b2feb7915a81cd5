"""In-memory results of the Python API: what :func:`msbayes.fit_reanalysis` and :func:`msbayes.simulate_design` return.

Both print a readable summary (``print(res)`` or the last line of a notebook cell), give their
tables as pandas DataFrames, draw the report's figures with ``plot_*`` methods, and write the
same artefacts as the command line with :meth:`save` (so ``msbayes report`` and later stages
can read them). :meth:`load` reads a folder written by ``msbayes fit`` / ``msbayes simulate``.

Examples
--------
>>> from msbayes.results import SimulationResult
>>> SimulationResult.load("results/sims/two_arm")        # doctest: +SKIP
msbayes design simulation: t25fw-two-arm-sample-size ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ReanalysisResult", "SimulationResult"]

#: fit tables: attribute name -> file name in a ``msbayes fit`` folder
_FIT_TABLES = {"summary": "summary.csv", "sensitivity": "sensitivity.csv", "raw_vs_shrunk": "raw_vs_shrunk.csv",
               "ppc": "ppc.csv", "mcid_sensitivity": "mcid_sensitivity.csv"}
_DIAG_COLUMNS = ("model", "prior", "endpoint", "population", "estimand", "r_hat", "ess_bulk", "ess_tail",
                 "n_divergences", "diagnostics_ok", "flag")
#: OCs shown in a simulation's printed summary, in this order, when present
_KEY_OCS = (("p_go", "P(go)"), ("p_nogo", "P(no-go)"), ("p_reject", "P(reject)"),
            ("p_correct_dose", "P(correct dose)"), ("bias", "bias"), ("rmse", "RMSE"))


def _fmt(x: Any, nd: int = 3) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:
        return "NA"
    return f"{v:.{nd}f}"


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass
class ReanalysisResult:
    """A Bayesian re-analysis (every model under every prior) held in memory.

    Attributes
    ----------
    idata : arviz.InferenceData
        All fits stacked (the ``posterior.nc`` artefact): the variable ``effect`` with dims
        ``(chain, draw, estimand)`` and each fit's native variables.
    summary : DataFrame
        One row per (model, prior, endpoint, population, estimand) (``summary.csv``).
    sensitivity, raw_vs_shrunk, ppc, mcid_sensitivity : DataFrame
        The other fit tables (``sensitivity.csv`` ...).
    meta : dict
        ``fit_meta.json``: provenance, priors, MCIDs, sampler settings, timings.
    config_text : str
        The config as run (YAML), recorded in every artefact.
    out_dir : Path or None
        Where the artefacts were written (None: only in memory).
    notes : list of str
        Warnings collected while running quietly.
    """

    idata: az.InferenceData
    summary: pd.DataFrame
    sensitivity: pd.DataFrame
    raw_vs_shrunk: pd.DataFrame
    ppc: pd.DataFrame
    mcid_sensitivity: pd.DataFrame
    meta: dict
    config_text: str = ""
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ tables
    @property
    def diagnostics(self) -> pd.DataFrame:
        """R-hat, ESS, divergences and the pass/fail flag of every summary row."""
        cols = [c for c in _DIAG_COLUMNS if c in self.summary.columns]
        return self.summary[cols].copy()

    @property
    def diagnostics_ok(self) -> bool:
        """True if every fit passed the diagnostics gate (R-hat, ESS, divergences)."""
        return bool(self.summary["diagnostics_ok"].astype(bool).all()) if len(self.summary) else False

    def to_dataframe(self) -> pd.DataFrame:
        """The summary table (a copy): one row per estimand, with status and diagnostics."""
        return self.summary.copy()

    def effect_draws(self, *, model: str, prior: str, endpoint: str, population: str) -> np.ndarray:
        """Posterior draws (chains flattened) of one stratum's treatment effect.

        Parameters
        ----------
        model, prior, endpoint, population : str
            The estimand, as in the summary table.

        Returns
        -------
        numpy.ndarray
            1-D array of draws on the analysis scale (positive = better).
        """
        eff = self.idata.posterior["effect"]
        mask = np.ones(eff.sizes["estimand"], bool)
        for k, v in (("model", model), ("prior", prior), ("endpoint", endpoint), ("population", population)):
            mask &= np.asarray(eff[k].values).astype(str) == v
        if mask.sum() != 1:
            from .config import ConfigError

            raise ConfigError(f"effect_draws: no single estimand for model={model!r}, prior={prior!r}, "
                              f"endpoint={endpoint!r}, population={population!r}",
                              [("population", "not in this fit")])
        return np.asarray(eff.isel(estimand=int(np.flatnonzero(mask)[0])).values).ravel()

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        s = self.summary
        name = self.meta.get("config_name") or _name_from_text(self.config_text) or "fit"
        lines = [f"msbayes re-analysis: {name}"]
        models = list(dict.fromkeys(s["model"])) if "model" in s else []
        priors = list(dict.fromkeys(s["prior"])) if "prior" in s else []
        samp = self.meta.get("sampler", {})
        lines.append(f"  models  : {', '.join(models)}")
        lines.append(f"  priors  : {', '.join(priors)}")
        if samp:
            lines.append(f"  sampler : {samp.get('chains', '?')} chains x {samp.get('draws', '?')} draws "
                         f"({samp.get('tune', '?')} tuning), backend {self.meta.get('backend', '?')}")
        n_bad = int((~s["diagnostics_ok"].astype(bool)).sum()) if "diagnostics_ok" in s else 0
        lines.append("  diagnostics: " + ("all fits pass (R-hat, ESS, divergences)" if n_bad == 0
                                          else f"{n_bad} row(s) FAIL: see .diagnostics"))
        eff = s[s["estimand"].isin(["effect", "log_odds_ratio"])] if "estimand" in s else s
        if len(eff):
            lines.append("  effects (posterior mean [95% interval], P(benefit), P(> MCID)):")
            for _, r in eff.iterrows():
                tag = "" if r.get("status", "estimate") == "estimate" else f"  ({r['status']})"
                lines.append(f"    {r['model']:<9} {r['prior']:<12} {r['endpoint']:<9} {r['population']:<13} "
                             f"{_fmt(r['mean'], 2):>6} [{_fmt(r['q2.5'], 2)}, {_fmt(r['q97.5'], 2)}]  "
                             f"{_fmt(r['p_benefit'], 3)}  {_fmt(r['p_mcid'], 3)}{tag}")
        lines.append(f"  saved in: {self.out_dir}" if self.out_dir else "  in memory only (save with .save(folder))")
        return "\n".join(lines)

    # ------------------------------------------------------------------ plots
    def _model(self, model: str | None) -> str:
        models = list(dict.fromkeys(self.summary["model"]))
        if model is None:
            return models[0]
        if model not in models:
            from .config import ConfigError

            raise ConfigError(f"model: {model!r} is not in this fit (allowed: {models})", [("model", "not fitted")])
        return model

    def _mcids(self) -> tuple[dict[str, float], dict[str, str]]:
        s = self.summary
        mcid = {ep: float(g["mcid"].iloc[0]) for ep, g in s.groupby("endpoint")} if "mcid" in s else {}
        scale = {ep: str(g["scale"].iloc[0]) for ep, g in s.groupby("endpoint")}
        return mcid, scale

    def plot_forest(self, *, model: str | None = None, **kwargs: Any) -> Figure:
        """Forest plot of raw vs shrunk estimates (:func:`msbayes.plots.plot_forest`).

        Parameters
        ----------
        model : str, optional
            Which model (default: the first fitted one).
        **kwargs
            Passed to :func:`msbayes.plots.plot_forest` (``size``, ``axes`` ...).
        """
        from .plots import plot_forest
        from .report.compute import forest_table

        m = self._model(model)
        mcid, scale = self._mcids()
        kwargs.setdefault("mcid", mcid)
        kwargs.setdefault("scale", scale)
        return plot_forest(forest_table(self.raw_vs_shrunk, self.summary, model=m), **kwargs)

    def plot_sensitivity(self, *, model: str | None = None, **kwargs: Any) -> Figure:
        """Prior-sensitivity plot (:func:`msbayes.plots.plot_prior_sensitivity`)."""
        from .plots import plot_prior_sensitivity
        from .report.compute import sensitivity_table

        m = self._model(model)
        mcid, scale = self._mcids()
        kwargs.setdefault("mcid", mcid)
        kwargs.setdefault("scale", scale)
        return plot_prior_sensitivity(sensitivity_table(self.summary, model=m), **kwargs)

    def plot_ppc(self, **kwargs: Any) -> Figure:
        """Posterior predictive check (:func:`msbayes.plots.plot_ppc`)."""
        from .plots import plot_ppc
        from .report.compute import ppc_table

        return plot_ppc(ppc_table(self.ppc), **kwargs)

    # ------------------------------------------------------------------ files
    def save(self, out_dir: str | Path) -> Path:
        """Write the ``msbayes fit`` artefacts (``posterior.nc``, the CSV tables, ``fit_meta.json``).

        Each file is written atomically; the folder is created if needed. Returns ``out_dir``.
        """
        from .io import atomic_to_csv, atomic_to_netcdf, atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_to_netcdf(self.idata, out / "posterior.nc")
        for attr, fname in _FIT_TABLES.items():
            atomic_to_csv(getattr(self, attr), out / fname)
        atomic_write_text(out / "fit_meta.json", json.dumps(self.meta, indent=2, default=str))
        self.out_dir = out
        return out

    @classmethod
    def load(cls, fit_dir: str | Path) -> ReanalysisResult:
        """Read a folder written by ``msbayes fit`` (or :meth:`save`) into memory."""
        import arviz as az

        from .config import ConfigError

        d = Path(fit_dir)
        if not (d / "posterior.nc").is_file():
            raise ConfigError(f"fit: {d} has no posterior.nc (not a msbayes fit folder)", [("fit", "no posterior.nc")])
        idata = az.from_netcdf(d / "posterior.nc")
        tables = {a: (_read_csv(d / f) if (d / f).is_file() else pd.DataFrame()) for a, f in _FIT_TABLES.items()}
        meta = json.loads((d / "fit_meta.json").read_text(encoding="utf-8")) if (d / "fit_meta.json").is_file() else {}
        text = str(idata.posterior.attrs.get("config_text", ""))
        return cls(idata=idata, meta=meta, config_text=text, out_dir=d, **tables)


def _name_from_text(text: str) -> str | None:
    import yaml

    try:
        raw = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return None
    return str(raw["name"]) if isinstance(raw, dict) and "name" in raw else None


@dataclass
class SimulationResult:
    """Operating characteristics of a design (or a grid of designs) held in memory.

    Attributes
    ----------
    oc : xarray.Dataset
        The ``oc.nc`` dataset: one dimension per grid axis plus ``scenario``; each OC with its
        Monte Carlo standard error (``p_go`` and ``p_go_mcse`` ...), ``n_sims`` per cell;
        provenance in ``oc.attrs``.
    sample_size : DataFrame or None
        Sample-size search results (``sample_size.csv``) when the config has ``search:``.
    config_text : str
        The config as run (YAML).
    out_dir : Path or None
        Where the artefacts and the cell store are (None: only in memory).
    notes : list of str
        Warnings and notes of the run (a non-monotone search, an unreached target ...).
    """

    oc: xr.Dataset
    sample_size: pd.DataFrame | None = None
    config_text: str = ""
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ tables
    def to_dataframe(self) -> pd.DataFrame:
        """Tidy OC table (as ``oc.csv``): one row per grid cell x scenario."""
        from .grid.assemble import tidy_frame

        return tidy_frame(self.oc)

    @property
    def summary(self) -> pd.DataFrame:
        """Key OCs with their MCSE, one row per grid cell x scenario (a subset of :meth:`to_dataframe`)."""
        df = self.to_dataframe()
        keep = [c for c in df.columns if c in self.oc["n_sims"].dims or c in ("scenario_kind", "true_effect", "n_sims")]
        for name, _ in _KEY_OCS:
            if name in df.columns:
                keep += [name] + ([f"{name}_mcse"] if f"{name}_mcse" in df.columns else [])
        return df[keep]

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        import yaml

        ds = self.oc
        try:
            raw = yaml.safe_load(self.config_text) or {}
        except yaml.YAMLError:
            raw = {}
        raw = raw if isinstance(raw, dict) else {}
        lines = [f"msbayes design simulation: {raw.get('name', ds.attrs.get('name', ''))}"]
        des = raw.get("design") or {}
        if des:
            what = (f"arms {des['arms']}" if des.get("arms") else
                    f"doses {des.get('doses')} ({des.get('dose_metric', 'dose')})" if des.get("doses") else "")
            alloc = des.get("allocation")
            alloc = ":".join(f"{a:g}" for a in alloc) if isinstance(alloc, list) else "equal"
            n = des.get("n_per_arm")
            lines.append(f"  design    : {des.get('type', '?')}, {what}, allocation {alloc}"
                         + (f", n per arm {n}" if n is not None else ""))
        ep = raw.get("endpoint") or {}
        if ep:
            g = (lambda v: f"{v:.4g}" if isinstance(v, (int, float)) else str(v))
            lines.append(f"  endpoint  : {ep.get('name', '?')} ({ep.get('scale', 'log ratio')}), SD {g(ep.get('sd', '?'))}, "
                         f"MCID {g(ep.get('mcid', '?'))}, dropout {g(ep.get('dropout', 0))}")
        an = raw.get("analysis") or {}
        if an:
            lines.append(f"  analysis  : {an.get('method', '?')}")
        rule = ds.attrs.get("decision_rule")
        if rule:
            lines.append(f"  decision  : {rule}")
        axes = [d for d in ds["n_sims"].dims if d != "scenario"]
        for a in axes:
            lines.append(f"  grid      : {a} = {', '.join(str(v) for v in ds[a].values)}")
        n = np.asarray(ds["n_sims"].values)
        lines.append(f"  trials    : {int(n.min()):,} per cell" + ("" if n.min() == n.max() else f" to {int(n.max()):,}")
                     + f", seed {ds.attrs.get('seed', '?')}, backend {ds.attrs.get('backend', '?')}")
        lines.append("  operating characteristics (estimate (MCSE)):")
        tab = self.to_dataframe()
        ocs = [(k, lab) for k, lab in _KEY_OCS if k in tab.columns]
        head = "    " + "  ".join(f"{a:>16}" for a in [*axes, "scenario"]) + "".join(f"{lab:>17}" for _, lab in ocs)
        lines.append(head)
        shown = tab if len(tab) <= 40 else tab.iloc[:40]
        for _, r in shown.iterrows():
            cells = "  ".join(f"{str(r[a]):>16}" for a in [*axes, "scenario"])
            vals = "".join(f"{_fmt(r[k]) + ' (' + _fmt(r.get(k + '_mcse'), 4) + ')':>17}" for k, _ in ocs)
            lines.append("    " + cells + vals)
        if len(tab) > 40:
            lines.append(f"    ... {len(tab) - 40} more rows: see .to_dataframe()")
        if self.sample_size is not None and len(self.sample_size):
            lines.append("  sample size (smallest n per arm meeting the target):")
            for _, r in self.sample_size.iterrows():
                other = [c for c in self.sample_size.columns if c.startswith(("design.", "endpoint.", "analysis.",
                                                                                "decision.", "simulation."))]
                at = ", ".join(f"{c} = {r[c]}" for c in other)
                n_txt = (f"n = {int(r['n_per_arm'])} per arm" if bool(r.get("reached", True)) and r["n_per_arm"] == r["n_per_arm"]
                         else "target not reached")
                lines.append(f"    {r['metric']} >= {r['target']:g} under {r['scenario']}{' at ' + at if at else ''}: "
                             f"{n_txt} (achieved {_fmt(r.get('achieved'))}, MCSE {_fmt(r.get('achieved_mcse'), 4)})")
        for note in self.notes:
            lines.append(f"  note: {note}")
        lines.append(f"  saved in: {self.out_dir}" if self.out_dir else "  in memory only (save with .save(folder))")
        return "\n".join(lines)

    # ------------------------------------------------------------------ plots
    def plot_oc(self, metric: str = "p_go", *, x: str | None = None, fixed: dict[str, Any] | None = None,
                **kwargs: Any) -> Axes:
        """OC curves against a grid axis with ±2 MCSE bands (:func:`msbayes.plots.plot_oc_curves`).

        Parameters
        ----------
        metric : str
            OC variable of :attr:`oc` (``p_go``, ``p_reject`` ...).
        x : str, optional
            Grid axis on the x axis (default: ``design.n_per_arm`` if a grid axis, else the first axis).
        fixed : dict, optional
            Values of the other grid axes (default: their middle values).
        **kwargs
            Passed to :func:`msbayes.plots.plot_oc_curves` (``ax``, ``title``, ``size``).
        """
        from .config import ConfigError
        from .plots import plot_oc_curves
        from .report.compute import default_slice, oc_curves

        ds = self.oc
        if metric not in ds:
            oc_names = sorted(v for v in ds.data_vars if not str(v).endswith("_mcse"))
            raise ConfigError(f"metric: {metric!r} is not an OC of this run (allowed: {oc_names})", [("metric", "unknown")])
        axes = [d for d in ds["n_sims"].dims if d != "scenario"]
        if not axes:
            raise ConfigError("x: this run has no grid axis to plot against (add a grid: to the config)",
                              [("x", "no grid axis")])
        x = x or ("design.n_per_arm" if "design.n_per_arm" in axes else axes[0])
        if x not in axes:
            raise ConfigError(f"x: {x!r} is not a grid axis (allowed: {axes})", [("x", "not a grid axis")])
        fix = {**default_slice(ds, keep=[x]), **(fixed or {})}
        table = oc_curves(ds, metric, x=x, fixed=fix)
        from .plots.style import axis_label, scenario_label

        try:
            import yaml

            raw = yaml.safe_load(self.config_text or ds.attrs.get("config_text", "") or "") or {}
        except Exception:  # noqa: BLE001 - labels only: fall back to the raw names
            raw = {}
        scale = (raw.get("endpoint") or {}).get("scale") or "log_speed_ratio"
        labels = raw.get("labels") or {}
        kwargs.setdefault("x_label", axis_label(x, scale=scale, overrides=labels))
        if "true_effect" in ds.coords and ds["true_effect"].dims == ("scenario",):
            eff = {str(k): float(v) for k, v in zip(ds["scenario"].values, ds["true_effect"].values)}
            kinds = ({str(k): str(v) for k, v in zip(ds["scenario"].values, ds["scenario_kind"].values)}
                     if "scenario_kind" in ds.coords and ds["scenario_kind"].dims == ("scenario",) else {})
            table["kind"] = table["group"].map(lambda g: kinds.get(str(g), "fixed"))
            table["group"] = table["group"].map(lambda g: scenario_label(
                str(g), effect=eff.get(str(g)) if np.isfinite(eff.get(str(g), np.nan)) else None, scale=scale,
                kind=kinds.get(str(g), "fixed"), overrides=labels))
        return plot_oc_curves(table, metric=metric, **kwargs)

    # ------------------------------------------------------------------ files
    def save(self, out_dir: str | Path) -> Path:
        """Write ``oc.nc``, ``oc.csv`` (and ``sample_size.csv``) as ``msbayes simulate`` does.

        Only the artefacts are written (not the cell store: run :func:`msbayes.simulate_design` with
        ``out_dir`` to be able to resume or grow the run). Returns ``out_dir``.
        """
        from .grid.assemble import write_artefacts

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_artefacts(self.oc, out, sample_size=self.sample_size)
        self.out_dir = out
        return out

    @classmethod
    def load(cls, sim_dir: str | Path) -> SimulationResult:
        """Read a folder written by ``msbayes simulate`` (or :meth:`save`) into memory."""
        import xarray as xr

        from .config import ConfigError

        d = Path(sim_dir)
        if not (d / "oc.nc").is_file():
            raise ConfigError(f"sim: {d} has no oc.nc (not a msbayes simulate folder)", [("sim", "no oc.nc")])
        with xr.open_dataset(d / "oc.nc") as ds:
            oc = ds.load()
        ss = _read_csv(d / "sample_size.csv") if (d / "sample_size.csv").is_file() else None
        return cls(oc=oc, sample_size=ss, config_text=str(oc.attrs.get("config_text", "")), out_dir=d)
