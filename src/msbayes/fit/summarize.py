"""Posterior summaries of effect draws and the diagnostics gate.

Examples
--------
>>> import numpy as np
>>> from msbayes.fit.summarize import summarize_draws
>>> d = np.random.default_rng(0).normal(0.3, 0.1, size=(2, 2000))
>>> s = summarize_draws(d, mcid=0.18)
>>> round(s["mean"], 1), s["p_benefit"] > 0.99
(0.3, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import arviz as az
import numpy as np
import pandas as pd

from .config import DiagnosticsSpec

__all__ = ["summarize_draws", "gate", "SUMMARY_COLUMNS", "LABEL_COLUMNS", "MCID_SOURCES",
           "mcid_source", "mcid_kind", "borrowing_label", "borrowing_of", "label_tables",
           "STATUSES"]

SUMMARY_COLUMNS = (
    "model", "prior", "endpoint", "population", "estimand", "scale", "mean", "sd", "q2.5", "q97.5",
    "p_benefit", "p_mcid", "r_hat", "ess_bulk", "ess_tail", "n_divergences", "status",
    "diagnostics_ok", "flag",
)

#: the honesty labels every estimand carries (docs/models.md, Outputs)
STATUSES = ("estimate", "prediction", "synthetic")
#: label columns that travel with the numbers into every fit table (see :func:`label_tables`)
LABEL_COLUMNS = ("status", "borrowing", "mcid_source")

_LOG_DEFAULTS = {"t25fw": float(np.log(1.2)), "6mwt": float(np.log(1.08)),
                 "edss_plus": float(np.log(2.0))}
_PCT_DEFAULTS = {"t25fw": 100 * (1 - 1 / 1.2), "6mwt": 8.0}
#: where each default MCID comes from; only the T25FW one is a published MCID
MCID_SOURCES: dict[str, str] = {
    "t25fw": "published MCID: 20% speed gain (Hobart et al., Neurology 2013)",
    "6mwt": ("documented choice, not a published MCID: 8% (log 1.08) extrapolated from ~20 m "
             "at 250 m (Oosterveer et al., MSARD 2022; published minimal important change "
             "nearer 4%)"),
    "edss_plus": ("analogue, not a published MCID: odds ratio 2 (a doubling of the odds of "
                  "improvement)"),
}


def mcid_source(endpoint: str, *, scale: str, mcid: float | None) -> str:
    """Where the MCID used for ``endpoint`` on ``scale`` comes from (the ``mcid_source`` column).

    The documented defaults get their source (:data:`MCID_SOURCES`); any other value is
    ``"user-set in the fit config"``; no MCID (e.g. a risk difference) gives ``""``.

    Examples
    --------
    >>> mcid_source("t25fw", scale="log_speed_ratio", mcid=0.1823)[:14]
    'published MCID'
    >>> mcid_source("edss_plus", scale="log_odds_ratio", mcid=0.6931)[:8]
    'analogue'
    >>> mcid_source("t25fw", scale="log_speed_ratio", mcid=0.25)
    'user-set in the fit config (not checked against a published MCID)'
    """
    if mcid is None or not np.isfinite(float(mcid)) or str(scale) == "risk_difference":
        return ""
    ep = str(endpoint)
    default = (_PCT_DEFAULTS if str(scale).startswith("pct") else _LOG_DEFAULTS).get(ep)
    if default is not None and np.isclose(float(mcid), default, rtol=2e-3, atol=0):
        src = MCID_SOURCES[ep]
        return src + ("; mapped exactly to the % scale" if str(scale).startswith("pct") else "")
    return "user-set in the fit config (not checked against a published MCID)"


def mcid_kind(source: str) -> str:
    """Short kind of an ``mcid_source`` text: ``published``, ``documented choice``,
    ``analogue``, ``user-set`` or ``""``.

    >>> mcid_kind(MCID_SOURCES["6mwt"]), mcid_kind(MCID_SOURCES["t25fw"])
    ('documented choice', 'published')
    """
    s = str(source or "")
    for k in ("published", "documented choice", "analogue", "user-set"):
        if s.startswith(k):
            return k
    return ""


def borrowing_label(specs: Iterable[Mapping] | None) -> str:
    """``"none"`` or ``"name(w=weight)"`` per external study, ``+``-joined (as the fit writes it).

    ``specs`` are the ``data.external`` entries (mappings or config objects with ``dataset`` /
    ``file`` and ``discount``).

    >>> borrowing_label([]), borrowing_label([{"dataset": "petrou2020", "discount": 0.5}])
    ('none', 'petrou2020(w=0.5)')
    """
    out = []
    for sp in specs or ():
        get = sp.get if isinstance(sp, Mapping) else (lambda k, d=None, sp=sp: getattr(sp, k, d))
        name = get("dataset") or str(get("file") or "external").rsplit("/", 1)[-1].split(".")[0]
        w = get("discount", 1.0)
        out.append(f"{name}(w={float(1.0 if w is None else w):g})")
    return "+".join(out) if out else "none"


def borrowing_of(model: str, endpoint: str, specs: Iterable[Mapping] | None, *,
                 endpoint_correlation: float = 0.0) -> str:
    """The external evidence an estimand of ``model`` / ``endpoint`` borrows from.

    External studies enter the summary-level models only, through the endpoint mean of the
    endpoints they report (every endpoint when endpoints are pooled, ρ > 0), so every stratum
    of such an endpoint borrows.

    >>> sp = [{"dataset": "petrou2020", "discount": 0.5, "endpoints": ["t25fw"]}]
    >>> borrowing_of("summary_log", "t25fw", sp), borrowing_of("summary_log", "6mwt", sp)
    ('petrou2020(w=0.5)', 'none')
    >>> borrowing_of("patient", "t25fw", sp)
    'none'
    """
    if not str(model).startswith("summary"):
        return "none"
    hits = []
    for sp in specs or ():
        eps = sp.get("endpoints") if isinstance(sp, Mapping) else getattr(sp, "endpoints", None)
        eps = list(eps) if eps else ["t25fw"]
        if str(endpoint) in eps or (endpoint_correlation or 0) > 0:
            hits.append(sp)
    return borrowing_label(hits)


def label_tables(summary: pd.DataFrame, *others: pd.DataFrame | None,
                 borrowing: Mapping[tuple[str, str], str] | str | None = None,
                 ) -> tuple[pd.DataFrame | None, ...]:
    """Add the label columns (:data:`LABEL_COLUMNS`) to the fit tables.

    ``summary`` gets ``mcid_source`` (from ``endpoint, scale, mcid``) and ``borrowing`` when
    missing (``borrowing`` maps (model, endpoint) -> label, or one label for all rows; default
    ``"none"``). Each of ``others`` (sensitivity, raw_vs_shrunk, ppc, ...) gets ``status`` and
    ``borrowing`` from the summary by its (model, prior, endpoint, population) columns that
    are present; a table with neither endpoint nor population (the ppc) gets the status of its
    model's data: ``synthetic`` if the model's estimands are synthetic, else ``observed``.
    Existing columns are never overwritten. Returns ``(summary, *others)``.
    """
    s = summary.copy()
    if "mcid_source" not in s.columns:
        mc = s["mcid"] if "mcid" in s.columns else pd.Series(np.nan, index=s.index)
        s["mcid_source"] = [mcid_source(e, scale=sc, mcid=m if pd.notna(m) else None)
                            for e, sc, m in zip(s["endpoint"], s["scale"], mc)]
        if "estimand" in s.columns:
            s.loc[s["estimand"].astype(str) == "risk_difference", "mcid_source"] = ""
    if "borrowing" not in s.columns:
        if isinstance(borrowing, Mapping):
            s["borrowing"] = [borrowing.get((str(m), str(e)), "none")
                              for m, e in zip(s["model"], s["endpoint"])]
        else:
            s["borrowing"] = borrowing or "none"
    s["borrowing"] = s["borrowing"].fillna("none").astype(str)
    out: list[pd.DataFrame | None] = [s]
    keys_all = ("model", "prior", "endpoint", "population")
    for t in others:
        if t is None:
            out.append(None)
            continue
        t = t.copy()
        keys = [k for k in keys_all if k in t.columns]
        if "endpoint" in keys or "population" in keys:
            lab = s.drop_duplicates(keys)[keys + ["status", "borrowing"]]
            add = [c for c in ("status", "borrowing") if c not in t.columns]
            if add:
                t = t.merge(lab[keys + add], on=keys, how="left")
                for c in add:
                    t[c] = t[c].fillna("unknown" if c == "status" else "none")
        elif "model" in t.columns:
            synth = set(s.loc[s["status"].astype(str) == "synthetic", "model"].astype(str))
            if "status" not in t.columns:
                t["status"] = ["synthetic" if str(m) in synth else "observed" for m in t["model"]]
            if "borrowing" not in t.columns:
                bm = s.groupby("model")["borrowing"].agg(
                    lambda x: "+".join(v for v in dict.fromkeys(x) if v != "none") or "none")
                t["borrowing"] = t["model"].astype(str).map(bm).fillna("none")
        out.append(t)
    return tuple(out)


def summarize_draws(draws: np.ndarray, *, mcid: float) -> dict[str, float]:
    """Mean, SD, 95% equal-tailed interval, P(>0), P(>MCID), R-hat, bulk/tail ESS, MCSE.

    Parameters
    ----------
    draws : ndarray (chain, draw)
    mcid : float
        MCID on the same scale (``p_mcid`` = P(effect > mcid)).
    """
    d = np.asarray(draws, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"draws must have shape (chain, draw), got {d.shape}")
    flat = d.ravel()
    ok_chains = d.shape[0] >= 2 and d.shape[1] >= 4
    rhat = float(az.rhat(d)) if ok_chains else float("nan")
    ess_b = float(az.ess(d, method="bulk"))
    ess_t = float(az.ess(d, method="tail"))
    return {
        "mean": float(flat.mean()),
        "sd": float(flat.std(ddof=1)),
        "q2.5": float(np.quantile(flat, 0.025)),
        "q97.5": float(np.quantile(flat, 0.975)),
        "p_benefit": float((flat > 0).mean()),
        "p_mcid": float((flat > mcid).mean()),
        "r_hat": rhat,
        "ess_bulk": ess_b,
        "ess_tail": ess_t,
        "mcse_mean": float(az.mcse(az.convert_to_dataset({"x": d}), method="mean")["x"]),
    }


def gate(row: dict, *, n_divergences: int, spec: DiagnosticsSpec) -> tuple[bool, str]:
    """Diagnostics gate for one reported estimand: (ok, flag text; empty when ok).

    Fails when R-hat > ``spec.rhat_max`` (or not computable), bulk ESS < ``spec.ess_min``,
    tail ESS < ``spec.ess_min`` / 2 or divergences > ``spec.max_divergences``.

    Examples
    --------
    >>> from msbayes.fit.config import DiagnosticsSpec
    >>> gate({"r_hat": 1.05, "ess_bulk": 900, "ess_tail": 900}, n_divergences=0, spec=DiagnosticsSpec())
    (False, 'r_hat 1.050 > 1.01')
    """
    flags = []
    rh = row.get("r_hat", float("nan"))
    if not np.isfinite(rh) or rh > spec.rhat_max:
        flags.append(f"r_hat {rh:.3f} > {spec.rhat_max:g}")
    if not row.get("ess_bulk", 0) >= spec.ess_min:
        flags.append(f"ess_bulk {row.get('ess_bulk', 0):.0f} < {spec.ess_min:g}")
    if not row.get("ess_tail", 0) >= spec.ess_min / 2:
        flags.append(f"ess_tail {row.get('ess_tail', 0):.0f} < {spec.ess_min / 2:g}")
    if n_divergences > spec.max_divergences:
        flags.append(f"{n_divergences} divergent transitions")
    return (not flags), "; ".join(flags)
