"""One *job* per configured model: how to build it, which prior values to swap in, and which
posterior variable elements are the reported estimands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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

__all__ = ["Estimand", "ModelJob", "SubgroupAlternatives", "build_jobs", "prior_values", "subgroup_alternatives"]


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
    # external evidence borrowed, per endpoint ("study(w=..)"; endpoints not listed: "none"), in
    # the primary analysis and in its borrowing alternative (the with/without sensitivity analysis)
    borrowing: dict = field(default_factory=dict)
    borrowing_alt: dict = field(default_factory=dict)
    subgroup: "SubgroupAlternatives | None" = None  # unreported group sizes marginalised over


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

    alt = subgroup_alternatives(cfg, d)

    def build() -> pm.Model:
        return build_summary_model(
            d, prior_mean=pm0, prior_sd=ps0, tau_sd=h.tau_prior_sd * mc, control_sd=h.control_prior_sd * mc,
            sigma_sd=h.sigma_prior_sd * mc, between_study_sd=ext_sd, endpoint_correlation=h.endpoint_correlation,
            prior_on=h.prior_on, share_a=h.between_share[0], share_b=h.between_share[1],
            n_alternatives=None if alt is None else alt.n_alt, n_logw=None if alt is None else alt.logw,
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
            variants.append(("with_borrowing" if not borrow_primary else "without_borrowing",
                             {"group_weight": w_alt}))
    if alt is not None:
        fixed["n_alt"] = alt.n_alt[:, np.asarray(d.primary_rows)]
        fixed["n_logw"] = alt.logw
    if name in cfg.sensitivity.models:
        variants.extend(_hierarchy_variants(cfg, mc, E, vector=True))
        if cfg.sensitivity.subgroup_n and alt is not None:
            variants.extend([("subgroup_n_nominal", {"n_logw": alt.one_hot("nominal")}),
                             ("subgroup_n_smallest", {"n_logw": alt.one_hot("smallest")}),
                             ("subgroup_n_largest", {"n_logw": alt.one_hot("largest")})])
    key = repr(("summary", d.endpoints, d.strata, d.group_labels, d.row_labels, h.endpoint_correlation, h.prior_on,
                None if alt is None else alt.n_alt.shape))
    return ModelJob(name, build, est, prior_data, (), tuple(raw), key, fixed, tuple(variants), borrow_primary, borrow_alt,
                    subgroup=alt)


def _external_weights(cfg: FitConfig, d) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    """Power-prior weights of every group in the primary analysis and in its borrowing alternative.

    Primary-study groups always weigh 1. An external group weighs its ``discount`` where it is
    borrowed and 0 (no influence at all) where it is not: ``role: sensitivity`` (default)
    borrows only in the sensitivity analysis, ``role: primary`` only in the primary one.
    Returns ``(w_primary, w_alternative, labels_primary, labels_alternative)``; the labels map
    an endpoint to what its analysis borrows (only endpoints with borrowed data are listed).
    """
    w = np.asarray(d.group_weight, float)
    gs = np.asarray(d.group_stratum)
    prim, alt = np.ones_like(w), np.ones_like(w)
    lab_p: dict[str, list[str]] = {}
    lab_a: dict[str, list[str]] = {}
    for g in np.flatnonzero(gs < 0):
        study = d.group_labels[g].split("/")[0]
        ep = d.endpoints[int(d.group_endpoint[g])]
        idx = (d.meta or {}).get("external_index", {}).get(d.group_labels[g])
        spec = cfg.data.external[idx] if idx is not None else None
        role = spec.role if spec is not None else "sensitivity"
        tag = f"{study}(w={w[g]:g})"
        if role == "primary":
            prim[g], alt[g] = w[g], 0.0
            lab_p.setdefault(ep, []).append(tag)
        else:
            prim[g], alt[g] = 0.0, w[g]
            lab_a.setdefault(ep, []).append(tag)

    def lab(m: dict[str, list[str]]) -> dict[str, str]:
        return {k: "+".join(dict.fromkeys(v)) for k, v in m.items()}

    return prim, alt, lab(lab_p), lab(lab_a)


PAD_LOGW = -1.0e6  # prior log weight of a padding alternative (exp() == 0, no NaN)


@dataclass(frozen=True)
class SubgroupAlternatives:
    """Alternative arm sizes of the primary groups whose sizes were not reported.

    ``n_alt`` (K, R) sizes per alternative and row; ``logw`` (K, G) prior log weights
    (uniform over a group's consistent pairs, :data:`PAD_LOGW` for padding); ``pairs`` maps a
    group label to its (n_t, n_c) pairs in alternative order; ``nominal`` / ``smallest`` /
    ``largest``: the alternative index of the single pair quoted, of the smallest and of the
    largest total, per group (same order as ``pairs``).
    """

    n_alt: np.ndarray
    logw: np.ndarray
    pairs: dict
    nominal: dict
    smallest: dict
    largest: dict
    primary_rows: np.ndarray  # row indices of the primary study (the model's "row" dim)
    row_group: np.ndarray  # (R,) group of every row

    def one_hot(self, which: str) -> np.ndarray:
        """Prior log weights putting all mass on one alternative per group."""
        idx = getattr(self, which)
        out = np.full_like(self.logw, PAD_LOGW)
        for g in range(self.logw.shape[1]):
            out[idx.get(g, 0), g] = 0.0
        return out


def subgroup_alternatives(cfg: FitConfig, d) -> SubgroupAlternatives | None:
    """Consistent (n_t, n_c) pairs of every primary group with unreported sizes, or None."""
    from .prepare import consistent_subgroup_pairs, nominal_pair

    if cfg.data.subgroup_n != "marginalize" or cfg.data.file is not None or cfg.data.dataset is None:
        return None
    rg, rt = np.asarray(d.row_group), np.asarray(d.row_treated)
    found = {}
    for g, lab in enumerate(d.group_labels):
        s = int(d.group_stratum[g])
        if s < 0:
            continue
        ep, pop = d.endpoints[int(d.group_endpoint[g])], d.strata[s]
        if cfg.n_for(pop, ep, cfg.data.treatment_arm) is not None and cfg.n_for(pop, ep, cfg.data.control_arm) is not None:
            nominal_given = (cfg.n_for(pop, ep, cfg.data.treatment_arm), cfg.n_for(pop, ep, cfg.data.control_arm))
        else:
            nominal_given = None
        pairs = list(consistent_subgroup_pairs(cfg.data.dataset, ep, pop, treatment_arm=cfg.data.treatment_arm,
                                               control_arm=cfg.data.control_arm))
        if len(pairs) < 1:
            continue
        nom = nominal_given if nominal_given is not None else nominal_pair(pairs)
        found[g] = (pairs, nom)
    if not found:
        return None
    K = max(len(p) + (0 if nom in p else 1) for p, nom in found.values())
    R, G = len(d.row_labels), len(d.group_labels)
    n_alt = np.tile(np.asarray(d.n, float), (K, 1))
    logw = np.full((K, G), PAD_LOGW)
    logw[0, :] = 0.0  # groups with known sizes: one alternative, their own n
    pairs_out, nominal, smallest, largest = {}, {}, {}, {}
    for g, (pairs, nom) in found.items():
        alts = list(pairs) + ([nom] if nom not in pairs else [])
        logw[:, g] = PAD_LOGW
        logw[: len(pairs), g] = -np.log(len(pairs))  # the assumed pair, if inconsistent, gets no prior weight
        rows = np.flatnonzero(rg == g)
        for k in range(K):
            pair = alts[k] if k < len(alts) else alts[0]
            for r in rows:
                n_alt[k, r] = pair[0] if rt[r] == 1 else pair[1]
        pairs_out[d.group_labels[g]] = alts
        nominal[g] = alts.index(nom)
        smallest[g] = min(range(len(pairs)), key=lambda k: (sum(pairs[k]), abs(pairs[k][0] - pairs[k][1])))
        largest[g] = max(range(len(pairs)), key=lambda k: (sum(pairs[k]), -abs(pairs[k][0] - pairs[k][1])))
    return SubgroupAlternatives(n_alt, logw, pairs_out, nominal, smallest, largest,
                                np.flatnonzero(np.asarray(d.primary_rows)), rg)


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


def _effects_job(cfg: FitConfig, prep: PreparedData) -> ModelJob:
    from ..models.effects import build_effects_model
    from .prepare import effects_mcid

    d = prep.effects
    h = cfg.hierarchy
    mc = np.array([effects_mcid(cfg, e) for e in d.endpoints])
    E = len(d.endpoints)
    pm0, ps0 = prior_values(cfg.prior_presets()[0], mc)
    pooled = cfg.effects.pooling == "hierarchical"

    def build() -> pm.Model:
        return build_effects_model(d, prior_mean=pm0, prior_sd=ps0, pooling=cfg.effects.pooling, prior_on=h.prior_on,
                                   tau_sd=h.tau_prior_sd * mc, share_a=h.between_share[0], share_b=h.between_share[1])

    status = d.status()
    est = tuple(Estimand(e, s, d.scales[i], str(status[i, j]), float(mc[i]), "theta", (i, j))
                for i, e in enumerate(d.endpoints) for j, s in enumerate(d.strata))
    raw = tuple((d.endpoints[int(ge)], d.strata[int(gs)], float(y), float(se), "theta", (int(ge), int(gs)))
                for ge, gs, y, se in zip(d.group_endpoint, d.group_stratum, d.estimate, d.se))

    def prior_data(p: PriorPreset) -> dict:
        a, b = prior_values(p, mc)
        return {"prior_mean": a, "prior_sd": b}

    fixed = _hierarchy_data(h, mc, E) if pooled else {}
    variants = _hierarchy_variants(cfg, mc, E, vector=True) if (pooled and "effects" in cfg.sensitivity.models) else []
    return ModelJob("effects", build, est, prior_data, (), raw, fixed_data=fixed, variants=tuple(variants))


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
        elif m == "effects":
            jobs.append(_effects_job(cfg, prep))
    return jobs
