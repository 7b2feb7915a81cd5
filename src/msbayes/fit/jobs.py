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
    # sensitivity analyses: (label, pm.Data overrides on top of fixed_data), sampled per prior
    variants: tuple[tuple[str, dict], ...] = ()
    borrowing: str = "none"  # external evidence borrowed in the primary analysis ("none" or "study(w=..)")


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
    has_ext = bool(np.any(np.asarray(d.group_stratum) < 0))
    w_primary, w_alt, borrow_primary, borrow_alt = _external_weights(cfg, d)

    def build() -> pm.Model:
        return build_summary_model(
            d, prior_mean=pm0, prior_sd=ps0, tau_sd=h.tau_prior_sd * mc, control_sd=h.control_prior_sd * mc,
            sigma_sd=h.sigma_prior_sd * mc, between_study_sd=ext_sd, endpoint_correlation=h.endpoint_correlation,
            prior_on=h.prior_on, share_a=h.between_share[0], share_b=h.between_share[1],
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

    E = len(d.endpoints)
    fixed = {"control_sd": h.control_prior_sd * mc, "sigma_sd": h.sigma_prior_sd * mc,
             "n": np.asarray(d.n, float), "ybar_obs_all": np.asarray(d.mean, float),
             "s2_obs_all": np.asarray(d.sd, float) ** 2, **_hierarchy_data(h, mc, E)}
    variants: list[tuple[str, dict]] = []
    if has_ext:
        fixed["between_study_sd"] = ext_sd
        fixed["group_weight"] = w_primary
        if cfg.sensitivity.borrowing:
            variants.append(("with_borrowing" if borrow_primary == "none" else "without_borrowing",
                             {"group_weight": w_alt}))
    if name in cfg.sensitivity.models:
        variants.extend(_hierarchy_variants(cfg, mc, E, vector=True))
        if cfg.sensitivity.subgroup_n:
            variants.extend(_subgroup_n_variants(cfg, d))
    key = repr(("summary", d.endpoints, d.strata, d.group_labels, d.row_labels, h.endpoint_correlation, h.prior_on))
    return ModelJob(name, build, est, prior_data, (), tuple(raw), key, fixed, tuple(variants), borrow_primary)


def _external_weights(cfg: FitConfig, d) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Power-prior weights of every group in the primary analysis and in its borrowing alternative.

    Primary-study groups always weigh 1. An external group weighs its ``discount`` where it is
    borrowed and 0 (no influence at all) where it is not: ``role: sensitivity`` (default)
    borrows only in the sensitivity analysis, ``role: primary`` only in the primary one.
    Returns ``(w_primary, w_alternative, label_primary, label_alternative)``.
    """
    w = np.asarray(d.group_weight, float)
    gs = np.asarray(d.group_stratum)
    prim, alt = np.ones_like(w), np.ones_like(w)
    lab_p, lab_a = [], []
    for g in np.flatnonzero(gs < 0):
        study = d.group_labels[g].split("/")[0]
        spec = next((e for e in cfg.data.external if (e.dataset or str(e.file)) and _same_study(e, study)), None)
        role = spec.role if spec is not None else "sensitivity"
        tag = f"{study}(w={w[g]:g})"
        if role == "primary":
            prim[g], alt[g] = w[g], 0.0
            lab_p.append(tag)
        else:
            prim[g], alt[g] = 0.0, w[g]
            lab_a.append(tag)
    def lab(xs):
        return "+".join(dict.fromkeys(xs)) or "none"
    return prim, alt, lab(lab_p), lab(lab_a)


def _same_study(spec, study: str) -> bool:
    if spec.dataset is not None:
        return spec.dataset == study
    return True  # a file-based external: its study label comes from the file itself


def _subgroup_n_variants(cfg: FitConfig, d) -> list[tuple[str, dict]]:
    """Refit with the smallest and the largest subgroup sizes consistent with the reported p-values.

    Only groups whose n was not reported (taken from ``assumed_n``) and whose data set reports
    a p-value for the comparison are changed; the spread between the two analyses is the part
    of the uncertainty that the unknown subgroup sizes add.
    """
    from .prepare import consistent_subgroup_pairs

    if cfg.data.file is not None or cfg.data.dataset is None:
        return []
    n_lo, n_hi = np.asarray(d.n, float).copy(), np.asarray(d.n, float).copy()
    changed = []
    rg, rt = np.asarray(d.row_group), np.asarray(d.row_treated)
    for g, lab in enumerate(d.group_labels):
        s = int(d.group_stratum[g])
        if s < 0:
            continue
        ep, pop = d.endpoints[int(d.group_endpoint[g])], d.strata[s]
        pairs = consistent_subgroup_pairs(cfg.data.dataset, ep, pop, treatment_arm=cfg.data.treatment_arm,
                                          control_arm=cfg.data.control_arm)
        if not pairs:
            continue
        lo = min(pairs, key=lambda p: (p[0] + p[1], abs(p[0] - p[1])))
        hi = max(pairs, key=lambda p: (p[0] + p[1], -abs(p[0] - p[1])))
        for r in np.flatnonzero(rg == g):
            n_lo[r] = lo[int(rt[r] == 0)]
            n_hi[r] = hi[int(rt[r] == 0)]
        changed.append(f"{ep}/{pop}: {lo[0]}/{lo[1]} .. {hi[0]}/{hi[1]}")
    if not changed:
        return []
    return [("subgroup_n_smallest", {"n": n_lo}), ("subgroup_n_largest", {"n": n_hi})]


def _hierarchy_data(h, mc, E: int | None) -> dict:
    """pm.Data values of the stratum hierarchy for the configured ``prior_on``."""
    shape = (E,) if E is not None else ()
    if h.prior_on == "stratum_effect":
        return {"share_a": np.full(shape, float(h.between_share[0])), "share_b": np.full(shape, float(h.between_share[1]))}
    return {"tau_sd": np.broadcast_to(h.tau_prior_sd * np.asarray(mc, float), shape).copy()}


def _hierarchy_variants(cfg: FitConfig, mc, E: int | None, *, vector: bool) -> list[tuple[str, dict]]:
    """Sensitivity analyses of the between-stratum prior (swap pm.Data, no recompilation)."""
    h, sens = cfg.hierarchy, cfg.sensitivity
    shape = (E,) if E is not None else ()
    out = []
    if h.prior_on == "stratum_effect":
        for a, b in sens.between_share:
            if (a, b) != tuple(h.between_share):
                out.append((f"between_share_beta_{a:g}_{b:g}",
                            {"share_a": np.full(shape, float(a)), "share_b": np.full(shape, float(b))}))
    else:
        for t in sens.tau_prior_sd:
            if t != h.tau_prior_sd:
                out.append((f"tau_prior_sd_{t:g}mcid",
                            {"tau_sd": np.broadcast_to(t * np.asarray(mc, float), shape).copy()}))
    return out


def _binary_job(cfg: FitConfig, prep: PreparedData) -> ModelJob:
    d = prep.binary
    mc = cfg.mcid.of("edss_plus")
    first = cfg.prior_presets()[0]
    a0, b0 = prior_values(first, mc)

    h = cfg.hierarchy

    def build() -> pm.Model:
        return build_binary_model(d, prior_mean=float(a0), prior_sd=float(b0), tau_sd=h.tau_prior_sd * mc,
                                  control_sd=h.binary_control_sd, prior_on=h.prior_on,
                                  share_a=h.between_share[0], share_b=h.between_share[1])

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

    fixed, variants = {}, []
    if len(d.populations) > 1:
        fixed = _hierarchy_data(h, mc, None)
        if "binary" in cfg.sensitivity.models:
            variants = _hierarchy_variants(cfg, mc, None, vector=False)
    return ModelJob("binary", build, est, prior_data, extras, tuple(raw), fixed_data=fixed, variants=tuple(variants))


def _patient_job(cfg: FitConfig, prep: PreparedData) -> ModelJob:
    d = prep.patient
    ep = cfg.patient.endpoint
    mc = cfg.mcid.of(ep)
    h = cfg.hierarchy
    first = cfg.prior_presets()[0]
    a0, b0 = prior_values(first, mc)

    def build() -> pm.Model:
        return build_patient_model(d, prior_mean=float(a0), prior_sd=float(b0), tau_sd=h.tau_prior_sd * mc,
                                   control_sd=h.control_prior_sd * mc, sigma_sd=h.sigma_prior_sd * mc, nu=cfg.patient.nu,
                                   prior_on=h.prior_on, share_a=h.between_share[0], share_b=h.between_share[1])

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

    fixed = _hierarchy_data(h, mc, None)
    variants = _hierarchy_variants(cfg, mc, None, vector=False) if "patient" in cfg.sensitivity.models else []
    return ModelJob("patient", build, tuple(est), prior_data, (), tuple(raw), fixed_data=fixed, variants=tuple(variants))


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
