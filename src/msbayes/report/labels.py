"""Honesty labels in the report: status, external borrowing, MCID source, probability bounds.

Every estimand of a fit has a ``status`` (``estimate`` | ``prediction`` (stratum without data:
the effect comes from the between-stratum model) | ``synthetic`` (patient-level model on
synthetic data)), a ``borrowing`` label (``none`` or the external studies and power-prior
weights it borrows from, e.g. ``petrou2020(w=0.5)``) and an ``mcid_source``. This module
attaches them to every fit table the report reads (also for artefacts written before the fit
recorded them), drops synthetic results from the grant-facing outputs unless asked, and
formats probabilities so that zero or all events print as a bound, never as ``0.000``.

Examples
--------
>>> from msbayes.report.labels import fmt_prob
>>> fmt_prob(0.0, 3, n=20000), fmt_prob(1.0, 3, n=20000), fmt_prob(0.4213, 3, n=20000)
('< 0.001', '> 0.999', '0.421')
>>> fmt_prob(1.0, 2, n=2000), fmt_prob(0.998, 2)
('> 0.99', '> 0.99')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..fit.summarize import borrowing_of, label_tables, mcid_kind
from ..plots.style import endpoint_label, population_label
from .inputs import FitArtefacts

__all__ = ["fmt_prob", "prob_bound", "annotate_fit", "drop_synthetic", "status_text",
           "borrowing_text", "mcid_short", "STATUS_TEXT", "VARIANTS_KEY", "variant_of",
           "n_posterior_draws", "prob_n", "enrichment_selection_labels"]

#: how each status is written in figures, tables and text
STATUS_TEXT = {
    "estimate": "estimate",
    "prediction": "prediction (no data)",
    "synthetic": "synthetic data (not evidence)",
    "external": "external evidence",
    "observed": "observed data",
}
#: key in ``FitArtefacts.meta`` mapping a displayed model name -> (model, borrowing)
VARIANTS_KEY = "_report_variants"
#: key in ``FitArtefacts.meta``: the number of posterior draws (for probability bounds)
NDRAWS_KEY = "_report_n_draws"


def status_text(status: Any) -> str:
    """Display text of a status (``prediction`` -> ``prediction (no data)``)."""
    return STATUS_TEXT.get(str(status), str(status))


def enrichment_selection_labels(sub: str) -> dict[str, str]:
    """Plain-language names of the interim selections of an enrichment design, with the
    sub-population's display name ``sub`` (e.g. "EDSS 6.0\u20136.5").

    >>> enrichment_selection_labels("EDSS 6.0-6.5")["sub_only"]
    'EDSS 6.0-6.5 only'
    """
    return {"sub_only": f"{sub} only",
            "full_only": "all patients only",
            "both": f"both ({sub} and all patients)",
            "none": "none (stopped for futility)",
            "early": "stopped early for efficacy"}


def fmt_mcse(x: Any, digits: int = 3) -> str:
    """A Monte Carlo SE: at ``digits`` decimals, or to one significant figure when smaller
    (``0.0007``, never ``0.000``).

    >>> fmt_mcse(0.0123), fmt_mcse(0.00041), fmt_mcse(0.0)
    ('0.012', '0.0004', '0')
    """
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if x < 0.5 * 10.0**-digits:
        return f"{x:.1g}" if x >= 1e-4 else f"{x:.0e}"
    return f"{x:.{digits}f}"


def prob_bound(n: float, digits: int) -> tuple[float, float]:
    """(upper bound when no event, lower bound when all events) from the rule of three, 3/n,
    rounded outwards to ``digits`` decimals (so the printed bound still holds).

    >>> prob_bound(20000, 3), prob_bound(400, 2)
    ((0.001, 0.999), (0.01, 0.99))
    """
    b = min(1.0, 3.0 / float(n))
    k = 10.0**digits
    up = math.ceil(b * k - 1e-9) / k
    lo = math.floor((1.0 - b) * k + 1e-9) / k
    return up, lo


def fmt_prob(p: Any, digits: int = 3, *, n: float | None = None, upper: float | None = None,
             lower: float | None = None) -> str:
    """A probability for a table or sentence; never ``0.000`` / ``1.000``.

    With ``n`` (simulations or posterior draws behind the estimate): zero events print
    ``"< 3/n"`` and all events ``"> 1 - 3/n"`` (rule of three, rounded outwards); ``upper``
    / ``lower`` (recorded one-sided bounds, e.g. ``p_go_upper`` / ``p_go_lower`` in oc.nc)
    replace the rule of three when given. Without ``n``, a value
    that would print as 0 or 1 but is not exactly 0 or 1 prints as ``"< 0.001"`` /
    ``"> 0.999"`` (at ``digits``), and an exact 0 / 1 as ``"0 (no events)"`` /
    ``"1 (all events)"`` (no bound can be given without n).
    """
    if p is None or (isinstance(p, (float, np.floating)) and not np.isfinite(p)):
        return "n/a"
    try:
        p = float(p)
    except (TypeError, ValueError):
        return str(p)
    k = 10.0**digits
    if n is not None and np.isfinite(n) and n > 0:
        up, lo = prob_bound(n, digits)
        if upper is not None and np.isfinite(upper) and p * n < 0.5:
            up = math.ceil(float(upper) * k - 1e-9) / k
        if lower is not None and np.isfinite(lower) and (1 - p) * n < 0.5:
            lo = math.floor(float(lower) * k + 1e-9) / k
        if p * n < 0.5:
            return f"< {up:.{digits}f}"
        if (1 - p) * n < 0.5:
            return f"> {lo:.{digits}f}"
    txt = f"{p:.{digits}f}"
    if p <= 0:
        return "0 (no events)"
    if p >= 1:
        return "1 (all events)"
    if float(txt) <= 0:
        return f"< {1 / k:.{digits}f}"
    if float(txt) >= 1:
        return f"> {1 - 1 / k:.{digits}f}"
    return txt


def n_posterior_draws(fit: FitArtefacts, group: str = "posterior") -> int | None:
    """chain x draw of a posterior.nc group (read once and cached in ``fit.meta``)."""
    key = f"{NDRAWS_KEY}.{group}"
    if key in fit.meta:
        return fit.meta[key]
    import xarray as xr

    try:
        with xr.open_dataset(fit.posterior_path, group=group) as ds:
            n = int(ds.sizes.get("chain", 1) * ds.sizes.get("draw", 0)) or None
    except (OSError, ValueError, KeyError):
        n = None
    fit.meta[key] = n
    return n


def prob_n(fit: FitArtefacts, row: Mapping | pd.Series | None = None) -> float | None:
    """The n behind a posterior probability: the posterior draws, or the bulk ESS of the row
    when smaller (autocorrelated draws carry less information than their number)."""
    n = n_posterior_draws(fit)
    if row is not None and "ess_bulk" in row and pd.notna(row["ess_bulk"]):
        e = float(row["ess_bulk"])
        n = e if n is None else min(float(n), e)
    return n


def _config_borrowing(fit: FitArtefacts) -> dict[tuple[str, str], str] | None:
    """(model, endpoint) -> borrowing, from the fit's recorded config (older artefacts)."""
    import xarray as xr

    from .text import parse_config_text

    try:
        with xr.open_dataset(fit.posterior_path, group="posterior") as ds:
            text = ds.attrs.get("config_text")
    except (OSError, ValueError, KeyError):
        return None
    cfg = parse_config_text(text)
    if not cfg:
        return None
    data = cfg.get("data") if isinstance(cfg.get("data"), Mapping) else {}
    ext = data.get("external") or []
    rho = float(((cfg.get("hierarchy") or {}).get("endpoint_correlation") or 0.0))
    s = fit.summary
    return {(str(m), str(e)): borrowing_of(str(m), str(e), ext, endpoint_correlation=rho)
            for m, e in zip(s["model"], s["endpoint"])}


def annotate_fit(fit: FitArtefacts) -> FitArtefacts:
    """The fit artefacts with the label columns on every table (``status``, ``borrowing``,
    ``mcid_source``); borrowing read from the fit's recorded config when ``summary.csv`` has no
    ``borrowing`` column (noted). A model present with several borrowing variants is split
    into one displayed model per variant (``"summary_log [none]"``; only when a (model, prior,
    endpoint, population) row appears more than once, told apart by ``borrowing``), recorded in
    ``meta[VARIANTS_KEY]`` for the draws lookup."""
    s = fit.summary
    notes = list(fit.notes)
    bor = None
    if "borrowing" not in s.columns:
        bor = _config_borrowing(fit)
        if bor is None:
            notes.append("summary.csv has no borrowing column and the fit config is not "
                         "recorded: external borrowing could not be checked (shown as 'unknown')")
            bor = "unknown"
        else:
            notes.append("summary.csv has no borrowing column: external borrowing was read from "
                         "the fit's recorded config (data.external)")
    if "mcid" not in s.columns and "mcid_source" not in s.columns:
        from .compute import mcid_for

        s = s.assign(mcid=[mcid_for(str(e), str(sc), fit.meta) for e, sc in
                           zip(s["endpoint"], s["scale"])])
        s["mcid"] = pd.to_numeric(s["mcid"], errors="coerce")
    s, sens, rvs, ppc = label_tables(s, fit.sensitivity, fit.raw_vs_shrunk, fit.ppc,
                                     borrowing=bor)
    rvs = _external_rows(rvs, s)
    meta = dict(fit.meta)
    variants: dict[str, tuple[str, str]] = {}
    # the same fit with and without borrowing: a (model, prior, endpoint, population) key
    # present more than once, told apart by its borrowing label
    key = ["model", "prior", "endpoint", "population"] + (["estimand"] if "estimand" in s else [])
    dup = s[s.duplicated(key, keep=False)]
    multi = [m for m, g in dup.groupby("model", sort=False) if g["borrowing"].nunique() > 1]
    if len(dup) and not multi:
        notes.append("summary.csv holds some (model, prior, endpoint, population) rows more than "
                     "once with the same borrowing label; only the first is shown")
    if multi:
        def rename(df):
            if df is None or "model" not in df or "borrowing" not in df:
                return df
            df = df.copy()
            hit = df["model"].isin(multi)
            df.loc[hit, "model"] = [f"{m} [{b}]" for m, b in zip(df.loc[hit, "model"],
                                                                df.loc[hit, "borrowing"])]
            return df

        for m, b in s.loc[s["model"].isin(multi), ["model", "borrowing"]].drop_duplicates().itertuples(index=False):
            variants[f"{m} [{b}]"] = (str(m), str(b))
        s, sens, rvs, ppc = rename(s), rename(sens), rename(rvs), rename(ppc)
    meta[VARIANTS_KEY] = variants
    return dataclasses.replace(fit, summary=s, sensitivity=sens, raw_vs_shrunk=rvs, ppc=ppc,
                               meta=meta, notes=tuple(notes))


def _external_rows(rvs: pd.DataFrame | None, summary: pd.DataFrame) -> pd.DataFrame | None:
    """raw_vs_shrunk rows of an external study (population ``study/endpoint/pop``, not a
    stratum of the summary) are external evidence, never the trial's own estimate; their
    ``borrowing`` is the label of the model and endpoint that borrow them."""
    if rvs is None or "status" not in rvs:
        return rvs
    rvs = rvs.copy()
    ext = rvs["population"].astype(str).str.contains("/") & rvs["status"].isin(["unknown"])
    rvs.loc[ext, "status"] = "external"
    if ext.any() and "borrowing" in summary:
        lab = {(str(m), str(e)): str(b) for m, e, b in
               zip(summary["model"], summary["endpoint"], summary["borrowing"])}
        rvs.loc[ext, "borrowing"] = [lab.get((str(m), str(e)), "unknown") for m, e in
                                     zip(rvs.loc[ext, "model"], rvs.loc[ext, "endpoint"])]
    return rvs


def variant_of(fit: FitArtefacts, model: str) -> tuple[str, str | None]:
    """(model name in posterior.nc, borrowing to select or None) of a displayed model."""
    v = fit.meta.get(VARIANTS_KEY, {}).get(str(model))
    return (v[0], v[1]) if v else (str(model), None)


def drop_synthetic(fit: FitArtefacts) -> tuple[FitArtefacts, list[str]]:
    """The fit without synthetic results, and the models removed (for the note)."""
    s = fit.summary
    synth = s["status"].astype(str) == "synthetic"
    if not synth.any():
        return fit, []
    models = list(dict.fromkeys(s.loc[synth, "model"].astype(str)))

    def keep(df):
        if df is None:
            return None
        if "status" in df:
            df = df[df["status"].astype(str) != "synthetic"]
        if "model" in df:
            df = df[~df["model"].astype(str).isin(models)]
        return df.reset_index(drop=True)

    return dataclasses.replace(fit, summary=keep(s), sensitivity=keep(fit.sensitivity),
                               raw_vs_shrunk=keep(fit.raw_vs_shrunk), ppc=keep(fit.ppc)), models


def borrowing_text(label: str) -> str:
    """``"petrou2020(w=0.5)"`` -> ``"petrou2020 (power-prior weight 0.5)"``."""
    lab = str(label)
    if lab in ("none", "", "nan"):
        return "no external evidence"
    parts = []
    for one in lab.replace(";", "+").split("+"):
        if "(w=" in one and one.endswith(")"):
            name, w = one[:-1].split("(w=", 1)
            parts.append(f"{name} (power-prior weight {w})")
        else:
            parts.append(one)
    return " and ".join(parts)


def mcid_short(source: str) -> str:
    """Short MCID note for legends: ``""`` for a published MCID, else e.g. ``"analogue, not a
    published MCID"``."""
    k = mcid_kind(source)
    if k in ("", "published"):
        return ""
    if k == "user-set":
        return "user-set"
    return f"{k}, not a published MCID"


def population_status_label(pop: str, status: str) -> str:
    """``EDSS 3.0–5.5 (prediction, no data)`` etc."""
    st = str(status)
    extra = {"prediction": " (prediction, no data)", "synthetic": " (synthetic data, not evidence)",
             "external": " (external evidence)"}.get(st, "")
    return population_label(pop) + extra


def endpoint_mcid_note(summary: pd.DataFrame) -> dict[str, str]:
    """endpoint -> its ``mcid_source`` (first non-empty)."""
    out: dict[str, str] = {}
    if "mcid_source" not in summary:
        return out
    for e, src in zip(summary["endpoint"], summary["mcid_source"]):
        if isinstance(src, str) and src and str(e) not in out:
            out[str(e)] = src
    return out


def mcid_caption(summary: pd.DataFrame, endpoints=None) -> str:
    """Caption sentence naming each MCID's source (analogues and choices said so)."""
    notes = endpoint_mcid_note(summary)
    eps = [e for e in (endpoints or notes) if e in notes]
    if not eps:
        return ""
    return " MCID sources: " + "; ".join(f"{endpoint_label(e)}: {notes[e]}" for e in eps) + "."


def scenario_notes(sim: Any, fit: FitArtefacts | None) -> dict[str, str]:
    """scenario -> label of the evidence behind a design-prior scenario read from the fit:
    ``"prediction, no data"``, ``"synthetic data, not evidence"`` and/or ``"borrows X"``
    (empty when the scenario's estimand is an estimate without borrowing)."""
    from .text import parse_config_text

    if fit is None:
        return {}
    cfg = parse_config_text(getattr(sim, "provenance", {}).get("config_text"))
    scen = cfg.get("scenarios") or {}
    if isinstance(scen, list):
        scen = {str(x.get("name")): x for x in scen if isinstance(x, Mapping)}
    s = fit.summary
    out = {}
    for name, sc in scen.items():
        if not isinstance(sc, Mapping) or "from_fit" not in sc:
            continue
        ep = sc.get("endpoint") or (cfg.get("endpoint") or {}).get("name")
        hit = s[(s["model"].astype(str) == str(sc.get("model")))
                & (s["prior"].astype(str) == str(sc.get("prior")))
                & (s["endpoint"].astype(str) == str(ep))]
        if sc.get("population") is not None:
            hit = hit[hit["population"].astype(str) == str(sc.get("population"))]
        bits = []
        st = set(hit["status"].astype(str))
        if "prediction" in st:
            bits.append("prediction, no data")
        if "synthetic" in st:
            bits.append("synthetic data, not evidence")
        if "borrowing" in hit:
            bor = [b for b in dict.fromkeys(hit["borrowing"].astype(str)) if b not in ("none", "nan", "")]
            if bor:
                bits.append("borrows " + "+".join(bor))
        if bits:
            out["null" if name is None else str(name)] = "; ".join(bits)
    return out
