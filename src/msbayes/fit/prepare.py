"""From a validated fit config and the data layer to typed model inputs (before any sampling).

Everything that needs the data to be checked is checked here and raised as
:class:`~msbayes.config.ConfigError` naming the config field: unknown strata or arms, unknown
subgroup sizes, negative SDs or n < 2 in a user table.

Scales
------
``log``: arm summaries are moved to the per-patient log ratio (positive = better) with
:func:`msbayes.data.scales.arm_to_log_scale` (log-normal moment matching).
``pct``: the endpoint's published "% improvement" (T25FW: time-based % improvement; 6MWT: %
change in distance), positive = better. A "% change in time" (Petrou 2020) is turned into a
% improvement exactly by flipping the sign; other conventions go through the log-normal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..data import load_summaries
from ..data.scales import arm_to_log_scale, lognormal_mean_sd
from ..models import BinaryInputs, PatientInputs, SummaryInputs
from .config import FitConfig

__all__ = [
    "PreparedData",
    "prepare_inputs",
    "to_pct_improvement",
    "read_summary_file",
    "patient_table_to_inputs",
    "scale_name",
    "consistent_subgroup_pairs",
    "nominal_pair",
]

SUMMARY_NEEDED = ("study", "endpoint", "population", "arm", "convention", "n", "mean", "sd", "events")
PCT_TARGET = {"t25fw": "pct_improvement_time", "6mwt": "pct_improvement_distance"}


def scale_name(endpoint: str, scale: Literal["log", "pct"]) -> str:
    """Name of the analysis scale of an endpoint (the ``scale`` column of every output)."""
    if endpoint == "edss_plus":
        return "log_odds_ratio"
    if scale == "pct":
        return "pct_improvement"
    return "log_speed_ratio" if endpoint == "t25fw" else "log_distance_ratio"


def _err(field_: str, msg: str) -> ConfigError:
    return ConfigError(f"invalid configuration\n  - {field_}: {msg}", [(field_, msg)])


def read_summary_file(path: Path, *, field_: str = "data.file") -> pd.DataFrame:
    """Read a user summary table (CSV or Parquet) through the data layer's schema check.

    The same check as ``msbayes data check`` (:func:`msbayes.data.schema.check_frame`):
    unknown or missing columns, wrong types, values out of range, a mean without its SD,
    and duplicate rows (identical or conflicting) are all refused with the row and column
    named, as a :class:`~msbayes.config.ConfigError` on ``field_``.
    """
    from ..data.schema import check_frame, read_table

    try:
        raw = read_table(path)
    except ValueError as exc:
        raise _err(field_, str(exc)) from None
    problems = check_frame(raw, kind="summary")
    if problems:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f"; ... and {len(problems) - 20} more (msbayes data check {path})" if len(problems) > 20 else ""
        raise _err(field_, f"{path}: {len(problems)} problem(s) (rows numbered as in the file, header = row 1): "
                   f"{shown}{more}")
    df = raw.rename(columns=lambda c: str(c).strip()).copy()
    for c in ("study", "endpoint", "population", "arm", "convention"):
        df[c] = df[c].astype(str).str.strip()

    def num(col: str) -> pd.Series:
        if col not in df.columns:
            return pd.Series(np.nan, index=df.index, dtype=float)
        s = df[col].map(lambda v: np.nan if (v is None or (isinstance(v, str) and v.strip() in
                                                           ("", "NA", "NaN", "nan", "<NA>", "None"))) else v)
        return pd.to_numeric(s, errors="raise").astype(float)

    df["n"] = pd.array(num("n").round(), dtype="Int64")
    df["events"] = pd.array(num("events").round(), dtype="Int64")
    df["mean"] = num("mean")
    df["sd"] = num("sd")
    return df


def to_pct_improvement(mean: float, sd: float, *, convention: str, endpoint: str) -> tuple[float, float]:
    """Arm mean and SD on the endpoint's published % improvement scale (positive = better).

    Examples
    --------
    >>> to_pct_improvement(14.0, 25.4, convention="pct_change_time", endpoint="t25fw")
    (-14.0, 25.4)
    """
    target = PCT_TARGET[endpoint]
    if convention == target:
        return float(mean), float(sd)
    if convention == "pct_change_time" and target == "pct_improvement_time":
        return -float(mean), float(sd)
    mu, sigma = arm_to_log_scale(mean, sd, convention=convention, endpoint=endpoint)
    sign = -1.0 if target == "pct_improvement_time" else 1.0  # ratio = exp(sign * benefit)
    m_r, s_r = lognormal_mean_sd(sign * mu, sigma)
    m_pct = 100.0 * (1.0 - m_r) if sign < 0 else 100.0 * (m_r - 1.0)
    return float(m_pct), float(100.0 * s_r)


@dataclass(frozen=True)
class PreparedData:
    """Model inputs for one fit run and what was assumed to build them."""

    summary: dict[str, SummaryInputs]  # keys "log", "pct"
    binary: BinaryInputs | None
    patient: PatientInputs | None
    patient_truth: dict = field(default_factory=dict)
    patient_synthetic: bool = True
    effects: object | None = None  # msbayes.models.effects.EffectInputs
    assumed_n: dict = field(default_factory=dict)  # (study/endpoint/population/arm) -> n used
    raw: dict = field(default_factory=dict)  # (scale, endpoint, population) -> (raw_mean, raw_se)
    data_sha256: str = ""
    data_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _primary_table(cfg: FitConfig) -> tuple[pd.DataFrame, str]:
    if cfg.data.file is not None:
        return read_summary_file(cfg.data.file), f"file:{cfg.data.file}"
    return load_summaries(cfg.data.dataset, edss_plus_denominator=cfg.data.edss_plus_denominator), cfg.data.dataset


def _n_of(cfg: FitConfig, r: pd.Series, field_prefix: str) -> int:
    n = cfg.n_for(r["population"], r["endpoint"], r["arm"])
    if n is not None:
        return int(n)
    if pd.notna(r["n"]):
        return int(r["n"])
    if cfg.data.subgroup_n == "marginalize" and cfg.data.file is None and r["study"] == cfg.data.dataset:
        pairs = consistent_subgroup_pairs(cfg.data.dataset, r["endpoint"], r["population"],
                                          treatment_arm=cfg.data.treatment_arm, control_arm=cfg.data.control_arm)
        if pairs and r["arm"] in (cfg.data.treatment_arm, cfg.data.control_arm):
            nominal = nominal_pair(pairs)
            return int(nominal[0] if r["arm"] == cfg.data.treatment_arm else nominal[1])
    raise _err(
        f"assumed_n.{r['population']}.{r['endpoint']}.{r['arm']}",
        f"n of {r['study']} {r['endpoint']} {r['population']} {r['arm']} is not reported; state it here "
        f"(see `msbayes data infer-n`)",
    )


def _check_against_data(cfg: FitConfig, df: pd.DataFrame, label: str, *, all_df: pd.DataFrame | None = None) -> None:
    arms = set(df["arm"])
    for f in ("treatment_arm", "control_arm"):
        a = getattr(cfg.data, f)
        if a not in arms:
            raise _err(f"data.{f}", f"arm {a!r} not in data set {label} (available: {sorted(arms)})")
    pops = set(df["population"])
    for s in cfg.data.strata:
        if s not in pops:
            raise _err("data.strata", f"stratum {s!r} not in data set {label} (available: {sorted(pops)})")
    if all_df is not None:  # assumed sizes may also be for an external study's arms
        df, label = all_df, f"{label} or the external studies"
        pops = set(df["population"])
    for pop, eps in cfg.assumed_n.items():
        if pop not in pops:
            raise _err(f"assumed_n.{pop}", f"stratum not in data set {label} (available: {sorted(pops)})")
        for ep, arm_n in eps.items():
            sub = df[(df.population == pop) & (df.endpoint == ep)]
            if sub.empty:
                raise _err(f"assumed_n.{pop}.{ep}", f"no {ep} rows for {pop} in data set {label}")
            for arm in arm_n:
                if arm not in set(sub["arm"]):
                    raise _err(f"assumed_n.{pop}.{ep}.{arm}",
                               f"arm not in data set {label} for {pop}/{ep} (available: {sorted(set(sub['arm']))})")


def _summary_inputs(cfg: FitConfig, df: pd.DataFrame, externals: list[tuple[int, pd.DataFrame]], scale: str,
                    assumed: dict, raw: dict) -> SummaryInputs:
    tr, ct = cfg.data.treatment_arm, cfg.data.control_arm
    walk = df[df.endpoint.isin(["t25fw", "6mwt"])]
    endpoints = tuple(e for e in ("t25fw", "6mwt") if e in set(walk.endpoint))
    if not endpoints:
        raise _err("models", "summary models need t25fw or 6mwt rows in the data")
    strata = tuple(cfg.data.strata)
    groups, g_e, g_s, g_w, rows, r_g, r_t, n, mean, sd = [], [], [], [], [], [], [], [], [], []

    def conv(r: pd.Series) -> tuple[float, float]:
        try:
            if scale == "log":
                mu, sigma = arm_to_log_scale(float(r["mean"]), float(r["sd"]), convention=r["convention"],
                                             endpoint=r["endpoint"])
                return float(mu), float(sigma)
            return to_pct_improvement(float(r["mean"]), float(r["sd"]), convention=r["convention"],
                                      endpoint=r["endpoint"])
        except (ValueError, KeyError) as exc:
            src = "data.file" if cfg.data.file is not None and r["study"] in set(df.study) else "data"
            raise _err(src, f"{r['study']} {r['endpoint']} {r['population']} {r['arm']}: cannot convert "
                            f"mean {r['mean']} / SD {r['sd']} ({r['convention']}) to the {scale} scale: {exc}") from None

    ext_index: dict[str, int] = {}

    def add_group(label: str, e: int, s: int, w: float, sub: pd.DataFrame, t_arm: str, c_arm: str, fp: str) -> None:
        g = len(groups)
        groups.append(label); g_e.append(e); g_s.append(s); g_w.append(w)
        vals = {}
        for arm, treated in ((t_arm, 1), (c_arm, 0)):
            r = sub[sub.arm == arm].iloc[0]
            nn = _n_of(cfg, r, fp)
            assumed[f"{r['study']}/{r['endpoint']}/{r['population']}/{arm}"] = nn
            m_, s_ = conv(r)
            rows.append(f"{label}/{arm}"); r_g.append(g); r_t.append(treated); n.append(nn); mean.append(m_); sd.append(s_)
            vals[treated] = (m_, s_, nn)
        (m1, s1, n1), (m0, s0, n0) = vals[1], vals[0]
        raw[(scale, endpoints[e], label.split("/")[-1] if s >= 0 else label)] = (m1 - m0, float(np.sqrt(s1**2 / n1 + s0**2 / n0)))

    for e, ep in enumerate(endpoints):
        for s, pop in enumerate(strata):
            sub = walk[(walk.endpoint == ep) & (walk.population == pop) & walk["mean"].notna() & walk["sd"].notna()]
            have = set(sub.arm)
            if tr in have and ct in have:
                add_group(f"{sub.study.iloc[0]}/{ep}/{pop}", e, s, 1.0, sub, tr, ct, "assumed_n")
    for i, xdf in externals:
        spec = cfg.data.external[i]
        for ep in spec.endpoints:
            if ep not in endpoints:
                continue
            sub = xdf[(xdf.endpoint == ep) & xdf["mean"].notna() & xdf["sd"].notna()]
            have = set(sub.arm)
            for f, a in (("treatment_arm", spec.treatment_arm), ("control_arm", spec.control_arm)):
                if a not in have:
                    raise _err(f"data.external[{i}].{f}", f"arm {a!r} has no {ep} summary (available: {sorted(have)})")
            pops = sorted(set(sub[sub.arm.isin([spec.treatment_arm, spec.control_arm])].population))
            for pop in pops:
                psub = sub[sub.population == pop]
                if {spec.treatment_arm, spec.control_arm} <= set(psub.arm):
                    ext_index[f"{psub.study.iloc[0]}/{ep}/{pop}"] = i  # which data.external entry
                    add_group(f"{psub.study.iloc[0]}/{ep}/{pop}", endpoints.index(ep), -1, float(spec.discount),
                              psub, spec.treatment_arm, spec.control_arm, f"data.external[{i}]")
    return SummaryInputs(
        endpoints=endpoints, strata=strata, group_labels=tuple(groups),
        group_endpoint=np.array(g_e, int), group_stratum=np.array(g_s, int), group_weight=np.array(g_w, float),
        row_labels=tuple(rows), row_group=np.array(r_g, int), row_treated=np.array(r_t, int),
        n=np.array(n, float), mean=np.array(mean, float), sd=np.array(sd, float),
        meta={"external_index": ext_index},
    )


def _binary_inputs(cfg: FitConfig, df: pd.DataFrame, assumed: dict) -> BinaryInputs | None:
    tr, ct = cfg.data.treatment_arm, cfg.data.control_arm
    b = df[(df.endpoint == "edss_plus") & df["events"].notna()]
    pops = [p for p in dict.fromkeys(b.population) if {tr, ct} <= set(b[b.population == p].arm)]
    if not pops:
        return None
    et, nt, ec, nc = [], [], [], []
    for p in pops:
        for arm, ev, nn in ((tr, et, nt), (ct, ec, nc)):
            r = b[(b.population == p) & (b.arm == arm)].iloc[0]
            k = _n_of(cfg, r, "assumed_n")
            assumed[f"{r['study']}/edss_plus/{p}/{arm}"] = k
            ev.append(int(r["events"])); nn.append(k)
    return BinaryInputs(populations=tuple(pops), events_t=np.array(et), n_t=np.array(nt),
                        events_c=np.array(ec), n_c=np.array(nc))


def patient_table_to_inputs(df: pd.DataFrame, *, endpoint: str, treatment_arm: str,
                            strata: tuple[str, ...] | None = None) -> PatientInputs:
    """Patient table (msbayes.data.vocab.PATIENT_COLUMNS) -> :class:`PatientInputs`.

    ``y`` = log ratio on the positive = better scale (T25FW ``-log(T1/T0)``, 6MWT
    ``log(D1/D0)``); ``x`` = log baseline centred on its sample mean.
    """
    d = df[df["endpoint"] == endpoint]
    d = d[np.isfinite(d["baseline"].astype(float)) & np.isfinite(d["followup"].astype(float))]
    if d.empty:
        raise _err("patient.endpoint", f"no complete {endpoint} rows in the patient table")
    if (d["baseline"] <= 0).any() or (d["followup"] <= 0).any():
        raise _err("patient.file", "baseline and followup must be positive")
    ratio = np.log(d["followup"].to_numpy(float) / d["baseline"].to_numpy(float))
    y = -ratio if endpoint == "t25fw" else ratio
    lb = np.log(d["baseline"].to_numpy(float))
    strata = tuple(strata) if strata else tuple(sorted(set(d["stratum"])))
    unknown = sorted(set(d["stratum"]) - set(strata))
    if unknown:
        raise _err("data.strata", f"patient table has strata {unknown} not in {list(strata)}")
    subtypes = tuple(sorted(set(d["subtype"].astype(str))))
    return PatientInputs(
        strata=strata, subtypes=subtypes, y=y, x=lb - lb.mean(),
        treated=(d["arm"].to_numpy() == treatment_arm).astype(int),
        stratum=np.array([strata.index(s) for s in d["stratum"]]),
        subtype=np.array([subtypes.index(str(s)) for s in d["subtype"]]),
    )


def _patient(cfg: FitConfig, df: pd.DataFrame) -> tuple[PatientInputs, dict, bool, str]:
    ep = cfg.patient.endpoint
    if cfg.patient.source == "file":
        path = cfg.patient.file
        pdf = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
        flag = pdf["synthetic"] if "synthetic" in pdf else pd.Series([False])
        synth = bool(flag.astype(str).str.strip().str.lower().isin(("true", "1", "yes")).any())
        return patient_table_to_inputs(pdf, endpoint=ep, treatment_arm=cfg.data.treatment_arm,
                                       strata=tuple(cfg.data.strata)), {}, synth, str(path)
    from ..data.synthetic import synthesize_patients

    if cfg.data.file is not None:
        raise _err("patient.source", "synthetic patient data need a built-in data set (data.dataset); "
                   "give patient.source: file with a patient table instead")
    n_map = {}
    for pop in cfg.data.strata:
        sizes = cfg.assumed_n.get(pop, {}).get(ep)
        if not sizes:
            n_map = None
            break
        n_map[pop] = dict(sizes)
    try:
        pdf = synthesize_patients(dataset=cfg.data.dataset, n_per_arm=n_map, seed=cfg.seed, endpoints=(ep,))
    except ValueError as exc:
        raise _err("patient", f"cannot synthesize patient data: {exc}") from None
    inputs = patient_table_to_inputs(pdf, endpoint=ep, treatment_arm=cfg.data.treatment_arm,
                                     strata=tuple(cfg.data.strata))
    meta = {k: pdf.attrs.get(k) for k in ("n_per_arm", "reported_strata", "predicted_strata", "targets")}
    return inputs, meta, True, f"synthetic:{cfg.data.dataset}:seed={cfg.seed}"


def nominal_pair(pairs) -> tuple[int, int]:
    """The most nearly equal pair (then the smallest total): the single pair quoted when one is needed."""
    return min(pairs, key=lambda p: (abs(p[0] - p[1]), p[0] + p[1]))


@functools.lru_cache(maxsize=64)
def consistent_subgroup_pairs(dataset: str, endpoint: str, population: str, *, treatment_arm: str,
                              control_arm: str, test: str = "welch") -> tuple[tuple[int, int], ...]:
    """(n_treatment, n_control) pairs whose ``test`` p-value rounds to the reported one.

    Empty when the data set reports no p-value for that comparison or its n is known. The box
    searched is 3 <= n <= the arm's year-1 completers (or randomized) count.
    """
    from ..data.builtin import list_datasets, load_design_facts, load_pvalues
    from ..data.infer_n import infer_n

    if dataset not in list_datasets():
        return ()
    summ = load_summaries(dataset)
    rows = summ[(summ.endpoint == endpoint) & (summ.population == population)].set_index("arm")
    if treatment_arm not in rows.index or control_arm not in rows.index:
        return ()
    if not (rows.loc[[treatment_arm, control_arm], "n"].isna().any()):
        return ()
    pv = load_pvalues(dataset)
    pv = pv[(pv.endpoint == endpoint) & (pv.population == population) & (pv.arm == treatment_arm)
            & (pv.comparator == control_arm)]
    if pv.empty:
        return ()
    facts = load_design_facts(dataset).set_index("key")["value"]

    def cap(arm: str) -> int:
        return int(facts.get(f"n_completed_year1_{arm}", facts.get(f"n_randomized_{arm}", 27)))

    a, b = rows.loc[treatment_arm], rows.loc[control_arm]
    r = pv.iloc[0]
    tab = infer_n(float(a["mean"]), float(a["sd"]), float(b["mean"]), float(b["sd"]), r.p_text or r.p_value,
                  tests=(test,), n_min=3, n_max1=cap(treatment_arm), n_max2=cap(control_arm), top=None,
                  decimals=int(r.decimals))
    ok = tab[tab.consistent]
    return tuple((int(x), int(y)) for x, y in zip(ok.n1, ok.n2))


def prepare_inputs(cfg: FitConfig) -> PreparedData:
    """Load data, check it against the config and build every requested model's inputs.

    Raises
    ------
    ConfigError
        Naming the config field, before anything is sampled or written.
    """
    from ..data.builtin import dataset_sha256
    from ..io import sha256_file, sha256_text

    effects = None
    hashes, files = [], []
    if "effects" in cfg.models:
        effects = read_effects_file(cfg)
        hashes.append(sha256_file(cfg.effects.file)); files.append(str(cfg.effects.file))
    if set(cfg.models) <= {"effects"}:
        return PreparedData(summary={}, binary=None, patient=None, effects=effects,
                            data_sha256=sha256_text("".join(hashes)), data_files=tuple(files))
    df, label = _primary_table(cfg)
    hashes.append(sha256_file(cfg.data.file) if cfg.data.file is not None else dataset_sha256(cfg.data.dataset))
    files.append(str(cfg.data.file) if cfg.data.file is not None else f"builtin:{cfg.data.dataset}")
    externals = []
    for i, e in enumerate(cfg.data.external):
        if e.file is not None:
            xdf = read_summary_file(e.file, field_=f"data.external[{i}].file")
            hashes.append(sha256_file(e.file)); files.append(str(e.file))
        else:
            xdf = load_summaries(e.dataset)
            hashes.append(dataset_sha256(e.dataset)); files.append(f"builtin:{e.dataset}")
        externals.append((i, xdf))
    _check_against_data(cfg, df, label,
                        all_df=pd.concat([df, *[x for _, x in externals]], ignore_index=True) if externals else None)
    assumed: dict = {}
    raw: dict = {}
    summary = {}
    for m, sc in (("summary_log", "log"), ("summary_pct", "pct")):
        if m in cfg.models:
            summary[sc] = _summary_inputs(cfg, df, externals, sc, assumed, raw)
    binary = _binary_inputs(cfg, df, assumed) if "binary" in cfg.models else None
    if "binary" in cfg.models and binary is None:
        raise _err("models", "'binary' needs edss_plus responder counts for both arms in the data")
    patient, truth, synth, psrc = (None, {}, True, "")
    if "patient" in cfg.models:
        patient, truth, synth, psrc = _patient(cfg, df)
        files.append(psrc)
        if cfg.patient.source == "file":
            hashes.append(sha256_file(cfg.patient.file))
    return PreparedData(
        summary=summary, binary=binary, patient=patient, patient_truth=truth, patient_synthetic=synth,
        assumed_n=assumed, raw=raw, data_sha256=sha256_text("".join(hashes)), data_files=tuple(files),
        effects=effects,
    )


KNOWN_MCID_ENDPOINTS = ("t25fw", "6mwt", "edss_plus")


def effects_mcid(cfg: FitConfig, endpoint: str) -> float:
    """MCID of an estimate-and-SE endpoint on its own scale (``effects.mcid``, else the log-scale default)."""
    if endpoint in cfg.effects.mcid:
        return float(cfg.effects.mcid[endpoint])
    if endpoint in KNOWN_MCID_ENDPOINTS:
        return float(cfg.mcid.of(endpoint))
    raise _err(f"effects.mcid.{endpoint}", f"no MCID for endpoint {endpoint!r}: give it on the table's scale "
               "(positive); priors are in MCID units")


def read_effects_file(cfg: FitConfig):
    """Read and validate the estimate-and-SE table (one schema check with `msbayes data check`)."""
    from ..data.schema import check_frame, read_table
    from ..models.effects import EffectInputs

    path = cfg.effects.file
    try:
        df = read_table(path)
    except ValueError as exc:
        raise _err("effects.file", str(exc)) from None
    problems = check_frame(df, kind="effects")
    if problems:
        raise _err("effects.file", f"{path}: " + "; ".join(str(p) for p in problems[:20])
                   + (f"; ... ({len(problems)} problems)" if len(problems) > 20 else ""))
    df = df.rename(columns=lambda c: str(c).strip())
    for c in ("endpoint", "population", "scale"):
        df[c] = df[c].astype(str).str.strip()
    flip = np.ones(len(df))
    if "higher_is_better" in df.columns:
        hb = df["higher_is_better"].astype(str).str.strip().str.lower()
        flip = np.where(hb.isin(("false", "0", "no", "f", "n")), -1.0, 1.0)
    endpoints = tuple(dict.fromkeys(df["endpoint"]))
    strata = tuple(dict.fromkeys([*df["population"], *cfg.effects.strata]))
    scales = tuple(df[df.endpoint == e]["scale"].iloc[0] for e in endpoints)
    for e in endpoints:
        effects_mcid(cfg, e)  # refuse a missing MCID before any sampling
    return EffectInputs(
        endpoints=endpoints, strata=strata,
        group_endpoint=np.array([endpoints.index(e) for e in df["endpoint"]]),
        group_stratum=np.array([strata.index(p) for p in df["population"]]),
        estimate=flip * df["estimate"].astype(float).to_numpy(), se=df["se"].astype(float).to_numpy(),
        scales=scales,
    )
