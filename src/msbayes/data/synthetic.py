"""Synthetic patient-level data, clearly labelled synthetic, in the patient schema.

Two generators:

- :func:`synthesize_patients`: data **consistent with the published summaries** of a built-in
  data set, to exercise the patient-level path until real data are supplied. In every
  reported stratum (Harris 2024: EDSS 6.0-6.5) each arm's per-patient log ratio (positive =
  better: T25FW log speed ratio ``-log(T1/T0)``, 6MWT log distance ratio ``log(D1/D0)``) has
  sample mean and sample SD (ddof = 1) **exactly equal** to the log-normal moment-matched
  values from :func:`msbayes.data.scales.arm_to_log_scale` (draws are standardised within
  arm; ``exact=False`` draws them freely instead). The percent-scale moments then agree with
  the published ones only up to the log-normal approximation and sampling error. Unreported
  strata (Harris 2024: EDSS 3.0-5.5) are generated from stated assumptions
  (:data:`HARRIS_ASSUMPTIONS`, overridable), recorded in ``df.attrs["assumptions"]``.
- :func:`synthesize_from_effects`: data from **known** effect parameters (per-stratum effect,
  placebo drift, baseline slope, Student-t errors) for parameter-recovery tests of the
  patient-level ANCOVA; the truth is in ``df.attrs["truth"]``.

Every row has ``synthetic = True``, ``df.attrs["synthetic"] = True`` and patient ids start with
``SYN-``.

Examples
--------
>>> from msbayes.data.synthetic import synthesize_patients
>>> df = synthesize_patients(seed=1)
>>> bool(df.synthetic.all()), df.attrs["synthetic"]
(True, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..rng import SeedLike, as_seed_sequence
from .scales import arm_to_log_scale
from .vocab import PATIENT_COLUMNS, PATIENT_DTYPES, POPULATION_PATTERN, WALK_ENDPOINTS

__all__ = [
    "HARRIS_ASSUMPTIONS",
    "CONTROL_ARMS",
    "baseline_defaults",
    "target_log_moments",
    "synthesize_patients",
    "synthesize_from_effects",
]

#: arm names treated as the control arm
CONTROL_ARMS: tuple[str, ...] = ("saline", "sham", "placebo")

#: Assumptions for Harris 2024 synthetic data (documented in docs/data.md). Walking results of
#: the EDSS 3.0-5.5 stratum were not published, so they are ASSUMED:
HARRIS_ASSUMPTIONS: dict[str, Any] = {
    "p_spms": 0.6,  # subtype mix not published (phase I: 80 % SPMS); assumed 60 % SPMS
    # log-normal baselines: (median, SD of log); T25FW seconds, 6MWT metres
    "baseline": {
        "edss_6.0-6.5": {"t25fw": [10.0, 0.40], "6mwt": [250.0, 0.35]},
        "edss_3.0-5.5": {"t25fw": [6.0, 0.30], "6mwt": [400.0, 0.25]},
        "all": {"t25fw": [8.0, 0.40], "6mwt": [320.0, 0.35]},
    },
    # correlation of log T25FW time and log 6MWT distance at baseline (same patient)
    "baseline_corr_t25fw_6mwt": -0.7,
    # correlation of the two endpoints' log-ratio changes (benefit scale) within patient
    "change_corr_t25fw_6mwt": 0.5,
    # slope of the benefit-scale log ratio on centred log baseline (slower / shorter walkers
    # worsen more); the composite is standardised in reported strata, so the slope sets only
    # the share of variance explained by baseline there
    "baseline_slope": {"t25fw": -0.15, "6mwt": 0.10},
    # unreported strata: control-arm mean and SD of the benefit-scale log ratio, and the
    # treatment effect as a fraction of the reported stratum's effect ("same relative effect"
    # = 1.0: the same ratio of geometric means)
    "unreported": {
        "edss_3.0-5.5": {
            "control_mean": {"t25fw": -0.05, "6mwt": -0.03},
            "sigma": {"t25fw": 0.25, "6mwt": 0.15},
            "effect_fraction": 1.0,
        }
    },
}


def baseline_defaults(stratum: str) -> dict[str, list[float]]:
    """Default (median, log-SD) baselines for a stratum label (by its upper EDSS bound)."""
    b = HARRIS_ASSUMPTIONS["baseline"]
    if stratum in b:
        return copy.deepcopy(b[stratum])
    m = POPULATION_PATTERN.match(stratum)
    if m and m.group(3) is not None:
        return copy.deepcopy(b["edss_6.0-6.5"] if float(m.group(3)) >= 6.0 else b["edss_3.0-5.5"])
    return copy.deepcopy(b["all"])


def _merge(base: dict[str, Any], over: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _rng(seed: SeedLike) -> np.random.Generator:
    if seed is None:
        raise ValueError("seed is required (an integer) so synthetic data are reproducible")
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))


def target_log_moments(dataset: str = "harris2024") -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """Moment-matched (mu, sigma) of the benefit-scale log ratio, per stratum/endpoint/arm.

    Only reported walking rows are included.

    Examples
    --------
    >>> from msbayes.data.synthetic import target_log_moments
    >>> mu, sigma = target_log_moments()["edss_6.0-6.5"]["t25fw"]["saline"]
    >>> round(sigma, 2)
    0.44
    """
    from .builtin import load_summaries

    df = load_summaries(dataset)
    df = df[df.endpoint.isin(WALK_ENDPOINTS) & df["mean"].notna()]
    out: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for _, r in df.iterrows():
        mu, s = arm_to_log_scale(r["mean"], r["sd"], convention=r.convention, endpoint=r.endpoint)
        out.setdefault(r.population, {}).setdefault(r.endpoint, {})[r.arm] = (float(mu), float(s))
    return out


def _default_n(dataset: str, strata: Sequence[str], arms: Sequence[str]) -> dict[str, dict[str, int]]:
    from .builtin import load_design_facts, load_summaries
    from .infer_n import default_subgroup_n

    summ = load_summaries(dataset)
    facts = load_design_facts(dataset).set_index("key")["value"]
    out: dict[str, dict[str, int]] = {}
    unknown_reported = summ[(summ.n_status == "unknown") & summ["mean"].notna()].population.unique()
    sub = default_subgroup_n(dataset) if len(unknown_reported) else {}
    for s in strata:
        rows = summ[(summ.population == s) & summ.endpoint.isin(WALK_ENDPOINTS)]
        out[s] = {}
        for a in arms:
            known = rows[(rows.arm == a) & rows.n.notna()]
            if len(known):
                out[s][a] = int(known.n.iloc[0])
            elif s in unknown_reported:
                out[s][a] = int(sub[a])
            else:  # complement of the reported subgroup within the year-1 completers
                total = facts.get(f"n_completed_year1_{a}", facts.get(f"n_randomized_{a}"))
                if total is None or not np.isfinite(total):
                    raise ValueError(f"n_per_arm: no default size for stratum {s!r}, arm {a!r}; give it")
                out[s][a] = max(int(total) - int(sub.get(a, 0)), 2)
    return out


def _draw_baselines(rng: np.random.Generator, n: int, spec: Mapping[str, Sequence[float]],
                    endpoints: Sequence[str], corr: float) -> dict[str, np.ndarray]:
    z = rng.standard_normal((n, 2))
    z2 = corr * z[:, 0] + math.sqrt(1 - corr**2) * z[:, 1]
    lat = {"t25fw": z[:, 0], "6mwt": z2 if "t25fw" in endpoints else z[:, 0]}
    return {ep: np.log(spec[ep][0]) + spec[ep][1] * lat[ep] for ep in endpoints}


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(ddof=1)
    if not sd > 0:
        raise ValueError("cannot standardise a constant sample")
    return (x - x.mean()) / sd


def _block(ids: np.ndarray, study: str, arm: str, stratum: str, subtype: np.ndarray, endpoint: str,
           baseline: np.ndarray, followup: np.ndarray) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({
        "patient_id": [f"SYN-{i:04d}" for i in ids], "study": [study] * n, "arm": [arm] * n,
        "stratum": [stratum] * n, "subtype": np.asarray(subtype, dtype=str), "endpoint": [endpoint] * n,
        "baseline": baseline, "followup": followup, "synthetic": np.ones(n, bool), "_pid": ids,
    })


def _frame(blocks: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate blocks, one row per patient and endpoint, patient-major order."""
    df = pd.concat(blocks, ignore_index=True).sort_values("_pid", kind="stable")
    return df.drop(columns="_pid").reset_index(drop=True)[list(PATIENT_COLUMNS)].astype(PATIENT_DTYPES)


def _check_n_map(n_per_arm: Mapping[str, Mapping[str, int]], strata: Sequence[str], arms: Sequence[str]) -> None:
    for s in strata:
        if s not in n_per_arm:
            raise ValueError(f"n_per_arm: missing stratum {s!r}; strata are {', '.join(strata)}")
        for a in arms:
            v = n_per_arm[s].get(a)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
                raise ValueError(f"n_per_arm[{s!r}][{a!r}] must be an integer >= 2; got {v!r}")
    extra = [s for s in n_per_arm if s not in strata]
    if extra:
        raise ValueError(f"n_per_arm: unknown strata {extra}; allowed: {', '.join(strata)}")


def synthesize_patients(
    *,
    dataset: str = "harris2024",
    n_per_arm: Mapping[str, Mapping[str, int]] | None = None,
    seed: SeedLike,
    endpoints: Sequence[str] = ("t25fw", "6mwt"),
    exact: bool = True,
    assumptions: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Synthetic patient-level data consistent with a built-in data set's published summaries.

    Parameters
    ----------
    dataset : str
        Built-in data set name.
    n_per_arm : mapping stratum -> {arm: n}, optional
        Default: reported n; for a subgroup with unknown n the sizes from
        :func:`msbayes.data.infer_n.default_subgroup_n`; for an unreported stratum the
        year-1 completers minus that subgroup.
    seed : int
        Required; same seed -> identical data.
    endpoints : sequence of {"t25fw", "6mwt"}
        Walking endpoints to generate (each must be reported in the data set).
    exact : bool
        True: in reported strata the per-arm sample mean and SD (ddof=1) of the benefit-scale
        log ratio equal the moment-matched targets exactly. False: free draws (targets hold in
        expectation only).
    assumptions : mapping, optional
        Overrides merged into :data:`HARRIS_ASSUMPTIONS`.

    Returns
    -------
    pandas.DataFrame
        Patient schema (one row per patient and endpoint); ``synthetic`` True on every row;
        attrs: ``synthetic`` (True), ``dataset``, ``seed``, ``exact``, ``assumptions``,
        ``targets`` ({stratum: {endpoint: {arm: [mu, sigma]}}}), ``n_per_arm``,
        ``reported_strata``, ``predicted_strata``.

    Examples
    --------
    >>> import numpy as np
    >>> from msbayes.data.synthetic import synthesize_patients
    >>> df = synthesize_patients(seed=3, endpoints=("t25fw",))
    >>> sub = df[(df.stratum == "edss_6.0-6.5") & (df.arm == "saline")]
    >>> round(float(np.std(-np.log(sub.followup / sub.baseline), ddof=1)), 4)
    0.4352
    """
    from .builtin import load_summaries

    summ = load_summaries(dataset)  # validates the name
    endpoints = tuple(endpoints)
    if not endpoints or any(e not in WALK_ENDPOINTS for e in endpoints) or len(set(endpoints)) != len(endpoints):
        raise ValueError(f"endpoints must be distinct values from {', '.join(WALK_ENDPOINTS)}; got {endpoints!r}")
    A = _merge(HARRIS_ASSUMPTIONS, assumptions)
    targets = target_log_moments(dataset)
    walk = summ[summ.endpoint.isin(endpoints)]
    missing_ep = [e for e in endpoints if not any(e in targets[s] for s in targets)]
    if missing_ep:
        raise ValueError(f"endpoints {missing_ep} are not reported in data set {dataset!r}")
    strata = list(dict.fromkeys(walk.population))
    arms = list(dict.fromkeys(walk.arm))
    controls = [a for a in arms if a in CONTROL_ARMS]
    if len(controls) != 1:
        raise ValueError(f"data set {dataset!r}: need exactly one control arm among {arms}")
    control = controls[0]
    reported = [s for s in strata if s in targets and all(e in targets[s] for e in endpoints)]
    predicted = [s for s in strata if s not in reported]
    for s in predicted:
        if s not in A["unreported"]:
            raise ValueError(f"stratum {s!r} is not reported; give assumptions['unreported'][{s!r}]")
    if n_per_arm is None:
        n_per_arm = _default_n(dataset, strata, arms)
    _check_n_map(n_per_arm, strata, arms)
    rng = _rng(seed)
    ref = reported[0] if reported else None
    blocks: list[pd.DataFrame] = []
    pid = 0
    used_targets: dict[str, dict[str, dict[str, list[float]]]] = {}
    rho = float(A["change_corr_t25fw_6mwt"])
    for s in strata:
        bspec = _merge(baseline_defaults(s), A["baseline"].get(s))
        for a in arms:
            n = int(n_per_arm[s][a])
            logb = _draw_baselines(rng, n, bspec, endpoints, float(A["baseline_corr_t25fw_6mwt"]))
            subtype = np.where(rng.random(n) < float(A["p_spms"]), "spms", "ppms")
            e = rng.standard_normal((n, 2))
            eps = {"t25fw": e[:, 0], "6mwt": rho * e[:, 0] + math.sqrt(1 - rho**2) * e[:, 1]}
            if len(endpoints) == 1:
                eps[endpoints[0]] = e[:, 0]
            benefit = {}
            for ep in endpoints:
                if s in reported:
                    mu, sigma = targets[s][ep][a]
                else:
                    u = A["unreported"][s]
                    mu = float(u["control_mean"][ep])
                    sigma = float(u["sigma"][ep])
                    if a != control:
                        mu += float(u["effect_fraction"]) * (targets[ref][ep][a][0] - targets[ref][ep][control][0])
                used_targets.setdefault(s, {}).setdefault(ep, {})[a] = [mu, sigma]
                slope = float(A["baseline_slope"][ep])
                centred = logb[ep] - np.log(bspec[ep][0])
                if s in reported and exact:
                    comp = slope * centred + sigma * eps[ep]
                    benefit[ep] = mu + sigma * _standardise(comp)
                else:
                    # slope term has SD slope*logsd; shrink the noise so the total SD is sigma
                    resid2 = sigma**2 - (slope * bspec[ep][1]) ** 2
                    noise = math.sqrt(max(resid2, 0.0))
                    benefit[ep] = mu + slope * centred + noise * eps[ep]
            ids = np.arange(pid + 1, pid + n + 1)
            pid += n
            for ep in endpoints:
                b0 = np.exp(logb[ep])
                sign = -1.0 if ep == "t25fw" else 1.0
                blocks.append(_block(ids, dataset, a, s, subtype, ep, b0, b0 * np.exp(sign * benefit[ep])))
    df = _frame(blocks)
    df.attrs.update(
        synthetic=True,
        dataset=dataset,
        seed=int(seed) if isinstance(seed, (int, np.integer)) else str(seed),
        exact=bool(exact),
        assumptions=A,
        targets=used_targets,
        n_per_arm={s: {a: int(v) for a, v in m.items()} for s, m in n_per_arm.items()},
        reported_strata=reported,
        predicted_strata=predicted,
        note="SYNTHETIC data generated by msbayes; not patient data",
    )
    return df


def synthesize_from_effects(
    *,
    effect: Mapping[str, float],
    placebo: Mapping[str, float],
    n_per_arm: Mapping[str, Mapping[str, int]] | int,
    seed: SeedLike,
    endpoint: str = "t25fw",
    slope: float = 0.0,
    sigma: float = 0.3,
    df: float = math.inf,
    subtype_effect: float = 0.0,
    p_spms: float = 0.6,
    baseline: Mapping[str, Sequence[float]] | None = None,
    baseline_center: float | None = None,
    arms: Sequence[str] = ("saline", "msc_np"),
    study: str = "synthetic",
) -> pd.DataFrame:
    r"""Patient-level data from known effect parameters (for parameter-recovery tests).

    Model, on the benefit scale (positive = better; T25FW ``b = -log(followup/baseline)``,
    6MWT ``b = log(followup/baseline)``), patient i in stratum s:

    .. math:: b_i = \text{placebo}_s + \text{effect}_s\,\text{treated}_i
              + \text{slope}\,(\log \text{baseline}_i - c) + \gamma\,\text{ppms}_i + \sigma\,\varepsilon_i

    with :math:`\varepsilon_i \sim t_{df}` (standard Student t; normal if ``df`` is inf), so
    ``sigma`` is the t scale (SD = sigma·sqrt(df/(df-2)) for df > 2). Baselines are log-normal
    per stratum; ``c`` is ``baseline_center`` (default: log of the endpoint's reference
    median, 10 s for T25FW, 250 m for 6MWT).

    Parameters
    ----------
    effect, placebo : mapping stratum -> float
        Treatment effect and control-arm mean (at log baseline = c, SPMS) per stratum.
    n_per_arm : int or mapping stratum -> {arm: n}
    seed : int
    endpoint : {"t25fw", "6mwt"}
    slope, sigma, df, subtype_effect, p_spms : float
    baseline : mapping stratum -> (median, log SD), optional
    baseline_center : float, optional
    arms : (control, treated)
    study : str

    Returns
    -------
    pandas.DataFrame
        Patient schema; ``attrs["truth"]`` holds every parameter (and the formula),
        ``attrs["synthetic"] = True``.

    Examples
    --------
    >>> from msbayes.data.synthetic import synthesize_from_effects
    >>> d = synthesize_from_effects(effect={"edss_6.0-6.5": 0.2}, placebo={"edss_6.0-6.5": -0.1},
    ...                             n_per_arm=50, seed=1, df=5)
    >>> d.attrs["truth"]["effect"], len(d)
    ({'edss_6.0-6.5': 0.2}, 100)
    """
    if endpoint not in WALK_ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(WALK_ENDPOINTS)}; got {endpoint!r}")
    strata = list(effect)
    if not strata or set(strata) != set(placebo):
        raise ValueError(f"effect and placebo must name the same strata; got {list(effect)} and {list(placebo)}")
    arms = tuple(arms)
    if len(arms) != 2 or arms[0] == arms[1]:
        raise ValueError(f"arms must be (control, treated); got {arms!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    if not df > 0:
        raise ValueError(f"df must be > 0 (math.inf for normal errors); got {df}")
    if not 0 <= p_spms <= 1:
        raise ValueError(f"p_spms must be in [0, 1]; got {p_spms}")
    if isinstance(n_per_arm, (int, np.integer)):
        n_map = {s: {a: int(n_per_arm) for a in arms} for s in strata}
    else:
        n_map = {s: dict(v) for s, v in n_per_arm.items()}
    _check_n_map(n_map, strata, arms)
    ref_median = {"t25fw": 10.0, "6mwt": 250.0}[endpoint]
    c = float(np.log(ref_median)) if baseline_center is None else float(baseline_center)
    bl = {s: list((baseline or {}).get(s, baseline_defaults(s)[endpoint])) for s in strata}
    rng = _rng(seed)
    blocks: list[pd.DataFrame] = []
    pid = 0
    sign = -1.0 if endpoint == "t25fw" else 1.0
    for s in strata:
        for k, a in enumerate(arms):
            n = n_map[s][a]
            logb = np.log(bl[s][0]) + bl[s][1] * rng.standard_normal(n)
            ppms = rng.random(n) >= p_spms
            eps = rng.standard_normal(n) if math.isinf(df) else rng.standard_t(df, n)
            b = placebo[s] + effect[s] * k + slope * (logb - c) + subtype_effect * ppms + sigma * eps
            ids = np.arange(pid + 1, pid + n + 1)
            pid += n
            b0 = np.exp(logb)
            blocks.append(_block(ids, study, a, s, np.where(ppms, "ppms", "spms"), endpoint, b0, b0 * np.exp(sign * b)))
    out = _frame(blocks)
    out.attrs.update(
        synthetic=True,
        truth=dict(
            formula="b = placebo[s] + effect[s]*treated + slope*(log(baseline) - baseline_center) "
                    "+ subtype_effect*ppms + sigma*t_df; b = %s" % (
                        "-log(followup/baseline)" if endpoint == "t25fw" else "log(followup/baseline)"),
            scale="log_speed_ratio" if endpoint == "t25fw" else "log_distance_ratio",
            endpoint=endpoint, effect=dict(effect), placebo=dict(placebo), slope=float(slope),
            sigma=float(sigma), df=float(df), subtype_effect=float(subtype_effect), p_spms=float(p_spms),
            baseline_center=c, baseline={s: list(map(float, v)) for s, v in bl.items()},
            arms=list(arms), n_per_arm=n_map,
        ),
        seed=int(seed) if isinstance(seed, (int, np.integer)) else str(seed),
        note="SYNTHETIC data generated by msbayes from known parameters; not patient data",
    )
    return out
