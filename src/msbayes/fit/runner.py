"""``run_fit``: every configured model under every prior, summaries, artefacts (atomic)."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ..io import atomic_to_csv, atomic_to_netcdf, atomic_write_text, provenance
from ..rng import cell_seed
from .artefact import effect_dataarray, prefix_dataset
from .config import FitConfig
from .jobs import Estimand, ModelJob, build_jobs, prior_values
from .prepare import PreparedData, prepare_inputs
from .sampling import compile_model, n_divergences, resolve_backend, sample_compiled
from .summarize import SUMMARY_COLUMNS, gate, label_tables, mcid_source, summarize_draws

__all__ = ["FitResult", "run_fit", "fit_seeds"]

KEEP_STATS = ("diverging", "energy", "step_size", "n_steps", "depth", "tree_depth", "lp", "logp")


@dataclass
class FitResult:
    """What :func:`run_fit` computed (and wrote, if it had an ``out_dir``): tables and draws."""

    out_dir: Path | None
    summary: pd.DataFrame
    sensitivity: pd.DataFrame
    raw_vs_shrunk: pd.DataFrame
    ppc: pd.DataFrame
    meta: dict
    paths: dict[str, Path] = field(default_factory=dict)
    idata: az.InferenceData | None = None
    mcid_sensitivity: pd.DataFrame | None = None

    @property
    def diagnostics_ok(self) -> bool:
        return bool(self.summary["diagnostics_ok"].all())


@dataclass
class _OneFit:
    job: ModelJob
    prior: str
    posterior: az.InferenceData
    prior_idata: az.InferenceData
    ppc: az.InferenceData | None
    n_div: int
    seconds: float
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    analysis: str = "primary"
    borrowing: dict = field(default_factory=dict)  # endpoint -> what this analysis borrowed


class _quiet_pymc:
    """Silence PyMC's INFO logging ("Sampling: [...]") while drawing predictive samples."""

    def __enter__(self):
        import logging

        self._lg = logging.getLogger("pymc")
        self._lvl = self._lg.level
        self._lg.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc):
        self._lg.setLevel(self._lvl)
        return False


def fit_seeds(seed: int, model: str, prior: str) -> tuple[int, int, int]:
    """(sampler, prior-predictive, posterior-predictive) seeds of one (model, prior) fit."""
    s = cell_seed(seed, {"model": model, "prior": prior}).generate_state(3, dtype=np.uint32)
    return int(s[0]), int(s[1]), int(s[2])


def _draws(idata_group: xr.Dataset, e: Estimand) -> np.ndarray:
    v = idata_group[e.var]
    arr = np.asarray(v.values)
    return arr[(slice(None), slice(None), *e.index)]


def _fit_all(cfg: FitConfig, jobs: list[ModelJob], progress, console) -> tuple[list[_OneFit], dict]:
    backend = resolve_backend(cfg.sampler.backend)
    presets = cfg.prior_presets()
    s = cfg.sampler
    fits: list[_OneFit] = []
    timings: dict[str, float] = {}
    task = None
    if progress is not None:
        task = progress.add_task("fitting", total=len(jobs) * len(presets))
    cache: dict[str, tuple] = {}
    for job in jobs:
        t0 = time.perf_counter()
        if job.share_key is not None and job.share_key in cache:
            model, cf = cache[job.share_key]
        else:
            if progress is not None:
                progress.update(task, description=f"compiling {job.model}")
            model = job.build()
            cf = compile_model(model, backend=backend)
            if job.share_key is not None:
                cache[job.share_key] = (model, cf)
        # predictive draws use their own copy of the model: PyMC's sample_posterior_predictive
        # leaves a model whose logp can no longer be built, which broke the PyMC sampler on
        # the second prior
        pred_model = job.build() if cf.backend == "pymc" else model
        timings[f"compile.{job.model}"] = time.perf_counter() - t0
        for p in presets:
            if progress is not None:
                progress.update(task, description=f"sampling {job.model} x {p.name}")
            t1 = time.perf_counter()
            mcids = np.array([e.mcid for e in job.estimands])
            pmn, psd = prior_values(p, mcids)
            analyses = [("primary", {}, job.borrowing)]
            for label, over in job.variants:
                borrow = job.borrowing
                if label == "with_borrowing":
                    borrow = job.borrowing_alt
                elif label == "without_borrowing":
                    borrow = {}
                analyses.append((label, over, borrow))
            for label, over, borrow in analyses:
                t1 = time.perf_counter()
                key = p.name if label == "primary" else f"{p.name}/{label}"
                seeds = fit_seeds(cfg.seed, job.model, key)
                data = {**(job.fixed_data or {}), **job.prior_data(p), **over}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", (UserWarning, FutureWarning, RuntimeWarning))
                    post = sample_compiled(cf, data=data, draws=s.draws, tune=s.tune, chains=s.chains, cores=s.cores,
                                           target_accept=s.target_accept, seed=seeds[0])
                    with pred_model, _quiet_pymc():
                        pm.set_data(data)
                        pri = pm.sample_prior_predictive(draws=s.prior_draws, random_seed=seeds[1])
                        ppc = None
                        if label == "primary":
                            ppc = (_mixture_ppc(post, job, data, seed=seeds[2]) if job.subgroup is not None else
                                   pm.sample_posterior_predictive(post, random_seed=seeds[2], progressbar=False))
                fits.append(_OneFit(job, p.name, post, pri, ppc, n_divergences(post), time.perf_counter() - t1, pmn, psd,
                                    label, borrow))
                timings[f"sample.{job.model}.{key}"] = time.perf_counter() - t1
            if progress is not None:
                progress.advance(task)
    return fits, timings


def _mixture_ppc(post: az.InferenceData, job: ModelJob, data: dict, *, seed: int) -> az.InferenceData:
    """Posterior predictive of arm means and variances when group sizes are marginalised over.

    Per draw, an alternative (n_t, n_c) is drawn from its conditional posterior weight
    ``n_alt_prob`` and the arm mean and variance are drawn from their sampling distributions
    at that n (the same generative model the likelihood uses).
    """
    rng = np.random.default_rng(seed)
    p = post.posterior
    arm = np.asarray(p["arm_mean"].values)  # (C, D, Rp)
    sig_all = np.asarray(p["sigma"].values)  # (C, D, R)
    prob = np.asarray(p["n_alt_prob"].values)  # (C, D, K, G)
    n_alt = np.asarray(data["n_alt"], float)  # (K, Rp)
    ybar_obs = np.asarray(data["ybar_obs_all"], float)
    s2_obs = np.asarray(data["s2_obs_all"], float)
    rows = p["arm_mean"].coords["row"].values
    prim = job.subgroup.primary_rows
    rg_p = job.subgroup.row_group[prim]
    C, D, Rp = arm.shape
    cum = np.cumsum(prob[..., rg_p].transpose(0, 1, 3, 2), axis=-1)  # (C, D, Rp, K)
    u = rng.random((C, D, Rp, 1))
    k = np.minimum((u > cum).sum(axis=-1), n_alt.shape[0] - 1)  # (C, D, Rp)
    n = n_alt[k, np.arange(Rp)[None, None, :]]
    sig = sig_all[..., prim]
    ybar = arm + sig / np.sqrt(n) * rng.standard_normal((C, D, Rp))
    s2 = sig**2 * rng.chisquare(n - 1.0) / (n - 1.0)
    coords = {"chain": p.chain.values, "draw": p.draw.values, "row": rows}
    pp = xr.Dataset({"ybar": (("chain", "draw", "row"), ybar), "s2": (("chain", "draw", "row"), s2)}, coords=coords)
    obs = xr.Dataset({"ybar": (("row",), ybar_obs[prim]), "s2": (("row",), s2_obs[prim])}, coords={"row": rows})
    return az.InferenceData(posterior_predictive=pp, observed_data=obs)


def _tables(cfg: FitConfig, fits: list[_OneFit]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows, sens, rvs, ppc_rows, mcid_rows = [], [], [], [], []
    h = cfg.hierarchy
    for f in fits:
        post = f.posterior.posterior
        prior = f.prior_idata.prior
        primary = f.analysis == "primary"
        for k, e in enumerate((*f.job.estimands, *f.job.extras)):
            d = _draws(post, e)
            st = summarize_draws(d, mcid=e.mcid)
            ok, flag = gate(st, n_divergences=f.n_div, spec=cfg.diagnostics)
            kind = e.kind if e.kind != "effect" else ("log_odds_ratio" if e.scale == "log_odds_ratio" else "effect")
            if primary:
                row = {"model": f.job.model, "prior": f.prior, "endpoint": e.endpoint, "population": e.population,
                       "estimand": kind, "scale": e.scale, **{c: st[c] for c in ("mean", "sd", "q2.5", "q97.5", "p_benefit", "p_mcid", "r_hat", "ess_bulk", "ess_tail")},
                       "n_divergences": f.n_div, "status": e.status, "diagnostics_ok": ok, "flag": flag,
                       "mcid": e.mcid, "mcse_mean": st["mcse_mean"], "borrowing": _borrow_for(f.borrowing, e.endpoint)}
                if e.kind == "risk_difference":
                    row["p_mcid"] = float("nan")
                rows.append(row)
            if e.kind == "effect":
                pd_ = np.asarray(prior[e.var].values)[(slice(None), slice(None), *e.index)].ravel()
                sens.append({"model": f.job.model, "endpoint": e.endpoint, "population": e.population, "scale": e.scale,
                             "status": e.status, "prior": f.prior, "analysis": f.analysis,
                             "borrowing": _borrow_for(f.borrowing, e.endpoint),
                             "prior_on": h.prior_on, "prior_mu_mean": float(f.prior_mean[k]),
                             "prior_mu_sd": float(f.prior_sd[k]), "prior_effect_mean": float(pd_.mean()),
                             "prior_effect_sd": float(pd_.std(ddof=1)),
                             "prior_p_mcid": float(np.mean(pd_ > e.mcid)), "prior_p_benefit": float(np.mean(pd_ > 0)),
                             "mean": st["mean"], "sd": st["sd"],
                             "q2.5": st["q2.5"], "q97.5": st["q97.5"], "p_benefit": st["p_benefit"], "p_mcid": st["p_mcid"],
                             "diagnostics_ok": ok})
                if primary and e.scale != "pct_improvement":
                    for thr in cfg.sensitivity.mcid.get(e.endpoint, []):
                        dd = np.asarray(d).ravel()
                        mcid_rows.append({"model": f.job.model, "prior": f.prior, "endpoint": e.endpoint,
                                          "population": e.population, "scale": e.scale, "status": e.status,
                                          "borrowing": _borrow_for(f.borrowing, e.endpoint),
                                          "threshold": float(thr),
                                          "threshold_pct": _pct_label(e.scale, float(thr)),
                                          "is_primary_mcid": bool(abs(thr - e.mcid) < 1e-9),
                                          "p_exceed": float(np.mean(dd > thr)),
                                          "prior_p_exceed": float(np.mean(pd_ > thr))})
        if not primary:
            continue
        status_of = {(e.endpoint, e.population): e.status for e in f.job.estimands}
        for (ep, pop, rm, rs, var, idx) in f.job.raw:
            d = np.asarray(post[var].values)[(slice(None), slice(None), *idx)].ravel()
            external = (ep, pop) not in status_of  # an external study's comparison (label study/endpoint/pop)
            rvs.append({"model": f.job.model, "prior": f.prior, "endpoint": ep, "population": pop, "raw_mean": rm,
                        "raw_se": rs, "shrunk_mean": float(d.mean()), "shrunk_sd": float(d.std(ddof=1)),
                        "status": "external" if external else status_of[(ep, pop)],
                        "borrowing": (_borrow_for(f.borrowing, ep) if not external else
                                      ("borrowed" if _borrow_for(f.borrowing, ep) != "none" else "not borrowed"))})
        pp = f.ppc.posterior_predictive
        obs = f.ppc.observed_data
        for v in pp.data_vars:
            rep = np.asarray(pp[v].values).reshape(-1, *pp[v].shape[2:])
            o = np.asarray(obs[v].values)
            other = [d for d in pp[v].dims if d not in ("chain", "draw")]
            labels = pp[v][other[0]].values.astype(str) if other else np.array([""])
            rep2 = rep.reshape(rep.shape[0], -1)
            for j, lab in enumerate(labels if len(labels) == rep2.shape[1] else range(rep2.shape[1])):
                r = rep2[:, j]
                ppc_rows.append({"model": f.job.model, "prior": f.prior, "variable": v, "element": str(lab),
                                 "observed": float(o.ravel()[j]), "pp_mean": float(r.mean()), "pp_sd": float(r.std(ddof=1)),
                                 "pp_q2.5": float(np.quantile(r, 0.025)), "pp_q97.5": float(np.quantile(r, 0.975)),
                                 "p_rep_ge_obs": float((r >= o.ravel()[j]).mean())})
    summary = pd.DataFrame(rows)
    summary = summary[list(dict.fromkeys([*SUMMARY_COLUMNS, "mcid", "mcse_mean", "borrowing"]))]
    sensitivity = pd.DataFrame(sens)
    if not sensitivity.empty:
        ref = cfg.prior_presets()[0].name
        base = sensitivity[(sensitivity.prior == ref) & (sensitivity.analysis == "primary")].set_index(
            ["model", "endpoint", "population"])["mean"]
        key = pd.MultiIndex.from_frame(sensitivity[["model", "endpoint", "population"]])
        sensitivity["shift_vs_" + ref] = sensitivity["mean"].to_numpy() - base.reindex(key).to_numpy()
    summary, sensitivity, rvs_df, ppc_df, mcid_df = label_tables(
        summary, sensitivity, pd.DataFrame(rvs), pd.DataFrame(ppc_rows), pd.DataFrame(mcid_rows))
    return summary, sensitivity, rvs_df, ppc_df, mcid_df


def _borrow_for(borrowing: dict, endpoint: str) -> str:
    """What an analysis borrowed for one endpoint: ``none`` or ``study(w=...)`` (+ more)."""
    return str(borrowing.get(endpoint, "none")) if borrowing else "none"

def _pct_label(scale: str, thr: float) -> str:
    """A log-scale threshold in words: '20% faster', '8% farther', 'OR 2'."""
    if scale == "log_speed_ratio":
        return f"{100 * (np.exp(thr) - 1):.0f}% faster walking"
    if scale == "log_distance_ratio":
        return f"{100 * (np.exp(thr) - 1):.0f}% longer distance"
    if scale == "log_odds_ratio":
        return f"odds ratio {np.exp(thr):.2g}"
    return f"{thr:g}"


def _assemble(cfg: FitConfig, fits: list[_OneFit], attrs: dict) -> az.InferenceData:
    est_rows, post_eff, prior_eff = [], [], []
    groups: dict[str, list[xr.Dataset]] = {g: [] for g in ("posterior", "prior", "posterior_predictive", "prior_predictive", "observed_data", "sample_stats")}
    fits = [f for f in fits if f.analysis == "primary"]  # sensitivity analyses go to sensitivity.csv only
    for f in fits:
        for e in f.job.estimands:
            est_rows.append({"model": f.job.model, "prior": f.prior, "endpoint": e.endpoint, "population": e.population,
                             "scale": e.scale, "status": e.status, "mcid": e.mcid,
                             "borrowing": _borrow_for(f.borrowing, e.endpoint),
                             "mcid_source": mcid_source(e.endpoint, scale=e.scale, mcid=e.mcid)})
            post_eff.append(_draws(f.posterior.posterior, e))
            prior_eff.append(_draws(f.prior_idata.prior, e))
        kw = {"model": f.job.model, "prior": f.prior}
        groups["posterior"].append(prefix_dataset(f.posterior.posterior, **kw))
        groups["prior"].append(prefix_dataset(f.prior_idata.prior, **kw))
        groups["posterior_predictive"].append(prefix_dataset(f.ppc.posterior_predictive, **kw))
        if "prior_predictive" in f.prior_idata.groups():  # absent when the likelihood is a Potential
            groups["prior_predictive"].append(prefix_dataset(f.prior_idata.prior_predictive, **kw))
        groups["observed_data"].append(prefix_dataset(f.ppc.observed_data, **kw))
        ss = f.posterior.sample_stats
        groups["sample_stats"].append(prefix_dataset(ss[[v for v in KEEP_STATS if v in ss]], **kw))
    est = pd.DataFrame(est_rows)
    eff_post = effect_dataarray(np.stack(post_eff, axis=-1), est)
    eff_prior = effect_dataarray(np.stack(prior_eff, axis=-1), est)

    def merge(ds_list: list[xr.Dataset]) -> xr.Dataset:
        ds_list = [d.drop_vars([c for c in d.coords if c in ("chain", "draw")]) for d in ds_list]
        out = xr.merge(ds_list, compat="override", join="outer", combine_attrs="drop_conflicts")
        return out

    post = merge(groups["posterior"])
    post["effect"] = eff_post.drop_vars(["chain", "draw"])
    prior = merge(groups["prior"])
    prior["effect"] = eff_prior.drop_vars(["chain", "draw"])
    idata = az.InferenceData(
        posterior=post.assign_coords(chain=np.arange(post.sizes["chain"]), draw=np.arange(post.sizes["draw"])),
        prior=prior.assign_coords(chain=np.arange(prior.sizes["chain"]), draw=np.arange(prior.sizes["draw"])),
        posterior_predictive=merge(groups["posterior_predictive"]),
        prior_predictive=merge(groups["prior_predictive"]),
        observed_data=merge(groups["observed_data"]),
        sample_stats=merge(groups["sample_stats"]),
    )
    for g in idata.groups():
        idata[g].attrs.update(attrs)
    return idata


def _progress(enabled: bool, console):
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def run_fit(cfg: FitConfig, *, out_dir: str | Path | None = None, config_text: str | None = None,
            progress: bool = True, console=None) -> FitResult:
    """Fit every configured model under every configured prior and write the artefacts.

    Parameters
    ----------
    cfg : FitConfig
        Validated config (:func:`msbayes.fit.config.load_fit_config`).
    out_dir : path, optional
        Output folder; created if needed. Files: ``posterior.nc``, ``summary.csv``,
        ``sensitivity.csv``, ``raw_vs_shrunk.csv``, ``ppc.csv``, ``fit_meta.json``.
        None: nothing is written (the result holds the tables and ``idata``).
    config_text : str, optional
        Exact config text (recorded with its SHA-256); default: the config as YAML.
    progress : bool
        Show a rich progress bar while compiling / sampling.

    Returns
    -------
    FitResult

    Notes
    -----
    Data-dependent config errors are raised before anything is sampled or created. Files are
    written only after every fit has finished, each atomically; if writing fails, a folder
    this call created is removed again.

    Examples
    --------
    >>> from msbayes.fit import load_fit_config, run_fit                       # doctest: +SKIP
    >>> cfg, text = load_fit_config("configs/reanalysis/harris2024.yaml")     # doctest: +SKIP
    >>> res = run_fit(cfg, out_dir="results/reanalysis", config_text=text)     # doctest: +SKIP
    """
    out_dir = Path(out_dir) if out_dir is not None else None
    if config_text is None:
        import yaml

        config_text = yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True), sort_keys=False)
    t0 = time.perf_counter()
    prep: PreparedData = prepare_inputs(cfg)
    jobs = build_jobs(cfg, prep)
    with _progress(progress, console) as prog:
        fits, timings = _fit_all(cfg, jobs, prog, console)
    summary, sensitivity, rvs, ppc, mcid_sens = _tables(cfg, fits)
    backend = resolve_backend(cfg.sampler.backend)
    assumed_json = json.dumps(prep.assumed_n, sort_keys=True)
    attrs = provenance(config_text=config_text, seed=cfg.seed, data_sha256=prep.data_sha256,
                       assumed_n=assumed_json, data_sources=";".join(prep.data_files), backend=backend,
                       models=",".join(cfg.models), priors=",".join(p.name for p in cfg.prior_presets()))
    idata = _assemble(cfg, fits, attrs)
    meta = {
        **{k: v for k, v in attrs.items() if k != "config_text"},
        "assumed_n": prep.assumed_n,
        "priors": {p.name: {"mean": p.mean, "sd": p.sd, "units": p.units, "description": p.description}
                   for p in cfg.prior_presets()},
        "mcid": {**dict(cfg.effects.mcid),
                 "t25fw": cfg.mcid.of("t25fw"), "6mwt": cfg.mcid.of("6mwt"), "edss_plus": cfg.mcid.of("edss_plus"),
                 "pct": {"t25fw": cfg.mcid.of("t25fw", "pct"), "6mwt": cfg.mcid.of("6mwt", "pct")}},
        "sampler": cfg.sampler.model_dump(),
        "fits": [{"model": f.job.model, "prior": f.prior, "analysis": f.analysis, "borrowing": f.borrowing,
                  "n_divergences": f.n_div, "seconds": round(f.seconds, 3),
                  "max_r_hat_all_params": _max_rhat(f.posterior)} for f in fits],
        "subgroup_n": {j.model: {"rule": "marginalised over every (n_treatment, n_control) whose Welch p-value "
                                          "rounds to the reported one; uniform prior over the pairs",
                                  "pairs": {g: [list(p) for p in v] for g, v in j.subgroup.pairs.items()}}
                       for j in jobs if j.subgroup is not None},
        "patient_synthetic": prep.patient_synthetic if prep.patient is not None else None,
        "patient_data": {k: (v if isinstance(v, (str, int, float, list, dict)) else str(v)) for k, v in prep.patient_truth.items()},
        "diagnostics_ok": bool(summary["diagnostics_ok"].all()),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    if out_dir is None:
        meta["timings_seconds"]["total"] = round(time.perf_counter() - t0, 3)
        return FitResult(None, summary, sensitivity, rvs, ppc, meta, {}, idata, mcid_sens)
    created = not out_dir.exists()
    paths = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths["posterior"] = atomic_to_netcdf(idata, out_dir / "posterior.nc")
        paths["summary"] = atomic_to_csv(summary, out_dir / "summary.csv")
        paths["sensitivity"] = atomic_to_csv(sensitivity, out_dir / "sensitivity.csv")
        paths["raw_vs_shrunk"] = atomic_to_csv(rvs, out_dir / "raw_vs_shrunk.csv")
        paths["ppc"] = atomic_to_csv(ppc, out_dir / "ppc.csv")
        paths["mcid_sensitivity"] = atomic_to_csv(mcid_sens, out_dir / "mcid_sensitivity.csv")
        meta["timings_seconds"]["total"] = round(time.perf_counter() - t0, 3)
        paths["fit_meta"] = atomic_write_text(out_dir / "fit_meta.json", json.dumps(meta, indent=2, default=str))
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return FitResult(out_dir, summary, sensitivity, rvs, ppc, meta, paths, idata, mcid_sens)


def _max_rhat(idata: az.InferenceData) -> float:
    post = idata.posterior
    names = [v for v in post.data_vars if not str(v).endswith("__")]
    if post.sizes.get("chain", 1) < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        r = az.rhat(post[names])
        vals = [float(np.nanmax(np.asarray(r[v].values))) for v in r.data_vars
                if np.asarray(r[v].values).size and np.isfinite(np.asarray(r[v].values)).any()]
    return float(max(vals)) if vals else float("nan")
