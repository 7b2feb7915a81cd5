"""One *job* per configured model: how to build it, which prior values to swap in, and which
posterior variable elements are the reported estimands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymc as pm

from ..models import (
    build_binary_model,
    build_patient_model,
    build_summary_model,
    stratum_status,
)
from ..models.priors import PriorPreset
from .config import FitConfig
from .prepare import PreparedData, scale_name

__all__ = ["Estimand", "ModelJob", "build_jobs", "prior_values"]


@dataclass(frozen=True)
class Estimand:
    """One reported estimand: element ``index`` of posterior variable ``var``."""

    endpoint: str
    population: str
    scale: str
    status: str
    mcid: float
    var: str
    index: tuple[int, ...]
    kind: str = "effect"


@dataclass(frozen=True)
class ModelJob:
    model: str
    build: Callable[[], pm.Model]
    estimands: tuple[Estimand, ...]
    prior_data: Callable[[PriorPreset], dict]
    extras: tuple[Estimand, ...] = ()  # derived summaries (e.g. risk difference)
    raw: tuple[tuple[str, str, float, float, str, tuple[int, ...]], ...] = ()  # (endpoint, population, raw_mean, raw_se, var, index)
    share_key: str | None = None  # jobs with the same key reuse one compiled model
    fixed_data: dict | None = None  # pm.Data values always set for this job (scale-specific data)


def prior_values(preset: PriorPreset, mcid) -> tuple[np.ndarray, np.ndarray]:
    """Absolute (mean, sd) of a preset for MCID value(s) ``mcid``."""
    m = np.asarray(mcid, dtype=float)
    if preset.units == "absolute":
        return np.full_like(m, preset.mean), np.full_like(m, preset.sd)
    return preset.mean * m, preset.sd * m


def _summary_job(cfg: FitConfig, prep: PreparedData, scale: str) -> ModelJob:
    d = prep.summary[scale]
    name = f"summary_{scale}"
    mc = np.array([cfg.mcid.of(e, scale) for e in d.endpoints])
    h = cfg.hierarchy
    ext_sd = np.zeros(len(d.endpoints))
    for spec in cfg.data.external:
        for e in spec.endpoints:
            if e in d.endpoints:
                i = d.endpoints.index(e)
                ext_sd[i] = max(ext_sd[i], spec.between_study_sd * mc[i])
    first = cfg.prior_presets()[0]
    pm0, ps0 = prior_values(first, mc)

    def build() -> pm.Model:
        return build_summary_model(
            d, prior_mean=pm0, prior_sd=ps0, tau_sd=h.tau_prior_sd * mc, control_sd=h.control_prior_sd * mc,
            sigma_sd=h.sigma_prior_sd * mc, between_study_sd=ext_sd, endpoint_correlation=h.endpoint_correlation,
        )

    status = stratum_status(d)
    est = tuple(
        Estimand(e, s, scale_name(e, scale), str(status[i, j]), float(mc[i]), "theta", (i, j))
        for i, e in enumerate(d.endpoints)
        for j, s in enumerate(d.strata)
    )
    raw = []
    for g, lab in enumerate(d.group_labels):
        e = d.endpoints[int(d.group_endpoint[g])]
        s = int(d.group_stratum[g])
        pop = d.strata[s] if s >= 0 else lab
        key = (scale, e, pop)
        if key in prep.raw:
            rm, rs = prep.raw[key]
            raw.append((e, pop, rm, rs, "group_effect", (g,)))

    def prior_data(p: PriorPreset) -> dict:
        a, b = prior_values(p, mc)
        return {"prior_mean": a, "prior_sd": b}

    fixed = {"tau_sd": h.tau_prior_sd * mc, "control_sd": h.control_prior_sd * mc, "sigma_sd": h.sigma_prior_sd * mc,
             "between_study_sd": ext_sd, "n": np.asarray(d.n, float), "ybar_obs_all": np.asarray(d.mean, float),
             "s2_obs_all": np.asarray(d.sd, float) ** 2}
    if np.any(np.asarray(d.group_stratum) < 0):
        fixed["group_weight"] = np.asarray(d.group_weight, float)
    key = repr(("summary", d.endpoints, d.strata, d.group_labels, d.row_labels, h.endpoint_correlation))
    return ModelJob(name, build, est, prior_data, (), tuple(raw), key, fixed)


def _binary_job(cfg: FitConfig, prep: PreparedData) -> ModelJob:
    d = prep.binary
    mc = cfg.mcid.of("edss_plus")
    first = cfg.prior_presets()[0]
    a0, b0 = prior_values(first, mc)

    def build() -> pm.Model:
        return build_binary_model(d, prior_mean=float(a0), prior_sd=float(b0),
                                  tau_sd=cfg.hierarchy.tau_prior_sd * mc, control_sd=cfg.hierarchy.binary_control_sd)

    est = tuple(Estimand("edss_plus", p, "log_odds_ratio", "estimate", mc, "log_odds_ratio", (i,))
                for i, p in enumerate(d.populations))
    extras = tuple(Estimand("edss_plus", p, "risk_difference", "estimate", 0.0, "risk_difference", (i,), "risk_difference")
                   for i, p in enumerate(d.populations))
    raw = []
    for i, p in enumerate(d.populations):
        a, b = float(d.events_t[i]) + 0.5, float(d.n_t[i] - d.events_t[i]) + 0.5
        c, e = float(d.events_c[i]) + 0.5, float(d.n_c[i] - d.events_c[i]) + 0.5
        raw.append(("edss_plus", p, float(np.log(a / b) - np.log(c / e)), float(np.sqrt(1 / a + 1 / b + 1 / c + 1 / e)),
                    "log_odds_ratio", (i,)))

    def prior_data(p: PriorPreset) -> dict:
        a, b = prior_values(p, mc)
        return {"prior_mean": float(a), "prior_sd": float(b)}

    return ModelJob("binary", build, est, prior_data, extras, tuple(raw))


def _patient_job(cfg: FitConfig, prep: PreparedData) -> ModelJob:
    d = prep.patient
    ep = cfg.patient.endpoint
    mc = cfg.mcid.of(ep)
    h = cfg.hierarchy
    first = cfg.prior_presets()[0]
    a0, b0 = prior_values(first, mc)

    def build() -> pm.Model:
        return build_patient_model(d, prior_mean=float(a0), prior_sd=float(b0), tau_sd=h.tau_prior_sd * mc,
                                   control_sd=h.control_prior_sd * mc, sigma_sd=h.sigma_prior_sd * mc, nu=cfg.patient.nu)

    est, raw = [], []
    for j, s in enumerate(d.strata):
        in_s = np.asarray(d.stratum) == j
        yt, yc = d.y[in_s & (d.treated == 1)], d.y[in_s & (d.treated == 0)]
        has = len(yt) >= 2 and len(yc) >= 2
        status = "synthetic" if prep.patient_synthetic else ("estimate" if has else "prediction")
        est.append(Estimand(ep, s, scale_name(ep, "log"), status, mc, "theta", (j,)))
        if has:
            raw.append((ep, s, float(yt.mean() - yc.mean()),
                        float(np.sqrt(yt.var(ddof=1) / len(yt) + yc.var(ddof=1) / len(yc))), "theta", (j,)))

    def prior_data(p: PriorPreset) -> dict:
        a, b = prior_values(p, mc)
        return {"prior_mean": float(a), "prior_sd": float(b)}

    return ModelJob("patient", build, tuple(est), prior_data, (), tuple(raw))


def build_jobs(cfg: FitConfig, prep: PreparedData) -> list[ModelJob]:
    """Jobs in config order."""
    jobs = []
    for m in cfg.models:
        if m == "summary_log":
            jobs.append(_summary_job(cfg, prep, "log"))
        elif m == "summary_pct":
            jobs.append(_summary_job(cfg, prep, "pct"))
        elif m == "binary":
            jobs.append(_binary_job(cfg, prep))
        elif m == "patient":
            jobs.append(_patient_job(cfg, prep))
    return jobs
