"""The report section of an adaptive design (``design.type: enrichment``, ``multi_arm`` or
``rar``; ``oc.nc`` contract: docs/architecture.md "Adaptive designs" and "RAR"). RAR:
selection and achieved allocation per arm, trial outcomes, expected n, OC-summary rows and
the comparison with a fixed-allocation simulation of the same trial (:func:`rar_pairs`).
Enrichment / multi-arm: interim selection
probabilities, P(go) of the adaptive design against its paired fixed comparator with the
same maximum n, the family-wise error rate under the null scenarios, the expected n by
stratum or arm, and the OC-summary rows.

Everything is read from ``oc.nc`` and the config text it records. The only arithmetic:
P(sub-population only) = P(S selected) - P(both) and P(full population only) = P(F selected) -
P(both) (events of one trial), their binomial MCSE ``sqrt(p (1 - p) / n_sims)``, and ±2 MCSE
band limits.

Examples
--------
>>> import xarray as xr
>>> ds = xr.Dataset({"p_select_S": ("scenario", [0.7]), "p_go_fixed": ("scenario", [0.5])},
...                 coords={"scenario": ["null"]})
>>> adaptive_kind(ds)
'enrichment'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..plots.style import population_label
from .labels import enrichment_selection_labels, fmt_mcse, fmt_prob
from .text import flatten, fmt, parse_config_text

__all__ = ["adaptive_kind", "enrichment_populations", "enrichment_selection_table",
           "dose_selection_table", "comparison_table", "null_scenarios", "fwer_table",
           "expected_n_table", "comparator_text", "summary_items", "adaptive_html",
           "target_alpha", "rar_arm_labels", "rar_selection_table", "rar_outcome_table",
           "rar_summary_items", "rar_global_nulls", "rar_pairs", "rar_comparison_table",
           "rar_html", "rar_comparison_html"]

Kind = Literal["enrichment", "multi_arm", "rar"]


def adaptive_kind(ds: xr.Dataset) -> Kind | None:
    """``"enrichment"`` / ``"multi_arm"`` / ``"rar"`` (response-adaptive randomisation: it
    alone records ``mean_alloc_arm`` and ``p_outcome_superiority``) when ``ds`` holds that
    design's variables, else None."""
    if "mean_alloc_arm" in ds or "p_outcome_superiority" in ds:
        return "rar"
    if "p_select_S" in ds:
        return "enrichment"
    if "p_selected" in ds and "dose" in ds["p_selected"].dims:
        return "multi_arm"
    return None


def _sel(da: xr.DataArray, sel: Mapping[str, Any]) -> xr.DataArray:
    return da.sel({k: v for k, v in sel.items() if k in da.dims})


def _one(ds: xr.Dataset, var: str, sel: Mapping[str, Any]) -> float:
    if var not in ds:
        return float("nan")
    return float(np.ravel(_sel(ds[var], sel).values)[0])


def _design(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    d = cfg.get("design")
    return d if isinstance(d, Mapping) else {}


def _pm(p: float, m: float, n: float) -> str:
    """A probability with its MCSE; none or all of ``n`` trials: the bound with the count."""
    if not np.isfinite(p):
        return "n/a"
    k = round(p * n) if np.isfinite(n) and n > 0 else None
    if k == 0 or (k is not None and k == int(n)):
        return f"{fmt_prob(p, 3, n=n)} ({k} of {int(n)})"
    return f"{fmt(p)} ({fmt_mcse(m)})"


def enrichment_populations(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Plain names of the populations of an enrichment config: ``sub`` (S, e.g. "EDSS
    6.0\u20136.5"), ``rest`` (the other stratum) and their config keys ``sub_key`` /
    ``rest_key``.

    >>> enrichment_populations({"design": {"strata": {"edss_3.0-5.5": 0.5, "edss_6.0-6.5": 0.5},
    ...                                    "subpopulation": "edss_6.0-6.5"}})["sub"]
    'EDSS 6.0–6.5'
    """
    des = _design(cfg)
    strata = [str(k) for k in (des.get("strata") or {})]
    sub = str(des.get("subpopulation") or (strata[-1] if strata else "S"))
    rest = next((s for s in strata if s != sub), "R")
    return {"sub": population_label(sub), "rest": population_label(rest), "sub_key": sub,
            "rest_key": rest}


def _binom_mcse(p: float, n: float) -> float:
    return float(np.sqrt(max(p * (1 - p), 0.0) / n)) if np.isfinite(n) and n > 0 else np.nan


def enrichment_selection_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                               sname: Callable[[Any], str], sub: str) -> pd.DataFrame:
    """P(each interim selection) per scenario at the grid cell ``sel``: ``sub`` only, all
    strata only, both, none (futility stop) and, when it happens, an early efficacy stop.

    Columns ``scenario_key, scenario, category, label, p, mcse`` (categories in
    :func:`msbayes.report.labels.enrichment_selection_labels`).
    """
    lab = enrichment_selection_labels(sub)
    rows = []
    early_any = "p_stopped_early" in ds and bool(
        np.nansum(_sel(ds["p_stopped_early"], {k: v for k, v in sel.items()
                                               if k != "scenario"}).values) > 0)
    for s in scenarios:
        ss = {**sel, "scenario": s}
        n = _one(ds, "n_sims", ss)
        ps, pf, pb = (_one(ds, v, ss) for v in ("p_select_S", "p_select_F", "p_select_both"))
        vals = {"sub_only": (ps - pb, _binom_mcse(ps - pb, n)),
                "full_only": (pf - pb, _binom_mcse(pf - pb, n)),
                "both": (pb, _one(ds, "p_select_both_mcse", ss)),
                "none": (_one(ds, "p_select_none", ss), _one(ds, "p_select_none_mcse", ss))}
        if early_any:
            vals["early"] = (_one(ds, "p_stopped_early", ss), _one(ds, "p_stopped_early_mcse", ss))
        for c, (p, m) in vals.items():
            rows.append({"scenario_key": str(s), "scenario": sname(s), "category": c,
                         "label": lab[c], "p": float(np.clip(p, 0.0, 1.0)) if np.isfinite(p)
                         else np.nan, "mcse": m})
    return pd.DataFrame(rows)


def _dose_label(d: float, unit: str) -> str:
    return f"{d:g}" + (f" {unit.split(' ')[0]}" if unit else "")


def dose_selection_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                         sname: Callable[[Any], str], unit: str = "") -> pd.DataFrame:
    """Per scenario and active dose (placebo left out): P(kept after the interim), P(its
    null hypothesis rejected), mean randomised, each with its MCSE."""
    rows = []
    doses = [float(d) for d in ds["dose"].values]
    for s in scenarios:
        ss = {**sel, "scenario": s}
        for d in doses:
            sd = {**ss, "dose": d}
            ps = _one(ds, "p_selected", sd)
            if not np.isfinite(ps):  # the control arm (NaN by contract)
                continue
            rows.append({"scenario_key": str(s), "scenario": sname(s), "dose": d,
                         "dose_label": _dose_label(d, unit),
                         "p_selected": ps, "p_selected_mcse": _one(ds, "p_selected_mcse", sd),
                         "p_rejected": _one(ds, "p_rejected", sd),
                         "p_rejected_mcse": _one(ds, "p_rejected_mcse", sd),
                         "mean_n": _one(ds, "mean_n_arm", sd),
                         "mean_n_mcse": _one(ds, "mean_n_arm_mcse", sd)})
    return pd.DataFrame(rows)


def comparison_table(ds: xr.Dataset, fixed: Mapping[str, Any], *, x_axis: str | None,
                     scenarios: list, sname: Callable[[Any], str],
                     kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """P(go) of the adaptive design and of the paired fixed comparator, and their paired
    difference (``mean_go_diff``) with its MCSE, per scenario and value of ``x_axis`` (the
    maximum n per arm; other axes at ``fixed``)."""
    xs = list(ds[x_axis].values) if x_axis and x_axis in ds["p_go"].dims else [None]
    rows = []
    for s in scenarios:
        for xv in xs:
            sel = {**{k: v for k, v in fixed.items() if k != x_axis}, "scenario": s}
            if xv is not None:
                sel[x_axis] = xv
            a, am = _one(ds, "p_go", sel), np.nan_to_num(_one(ds, "p_go_mcse", sel))
            f, fm = _one(ds, "p_go_fixed", sel), np.nan_to_num(_one(ds, "p_go_fixed_mcse", sel))
            rows.append({"scenario_key": str(s), "scenario": sname(s),
                         "kind": (kinds or {}).get(str(s), "fixed"),
                         "x": float(xv) if xv is not None else np.nan,
                         "adaptive": a, "adaptive_mcse": am,
                         "adaptive_lower": max(0.0, a - 2 * am),
                         "adaptive_upper": min(1.0, a + 2 * am),
                         "fixed": f, "fixed_mcse": fm, "fixed_lower": max(0.0, f - 2 * fm),
                         "fixed_upper": min(1.0, f + 2 * fm),
                         "difference": _one(ds, "mean_go_diff", sel),
                         "difference_mcse": _one(ds, "mean_go_diff_mcse", sel)})
    return pd.DataFrame(rows)


def _effects(spec: Any) -> list[float] | None:
    """The fixed effects a scenario spec gives (a number or a mapping of numbers), else None."""
    eff = spec.get("effect") if isinstance(spec, Mapping) else spec
    if isinstance(eff, bool):
        return None
    if isinstance(eff, (int, float)):
        return [float(eff)]
    if isinstance(eff, Mapping) and all(isinstance(v, (int, float)) for v in eff.values()):
        return [float(v) for v in eff.values()]
    return None


def null_scenarios(ds: xr.Dataset, cfg: Mapping[str, Any], sel: Mapping[str, Any]) -> list[str]:
    """The fixed scenarios in which at least one tested null hypothesis is true.

    Enrichment: the recorded true effects ``mean_true_S`` or ``mean_true_F`` (prevalence
    weighted) are <= 0. Multi-arm: the config gives an effect <= 0 to some dose (a single
    effect <= 0 at the reference dose makes every dose null). Design priors are left out
    (their FWER mixes null and non-null draws)."""
    kinds = ({str(s): str(k) for s, k in zip(ds["scenario"].values, ds["scenario_kind"].values)}
             if "scenario_kind" in ds.coords else {})
    scen = cfg.get("scenarios") or {}
    scen = {("null" if k is None else str(k)): v for k, v in scen.items()} \
        if isinstance(scen, Mapping) else {}
    out = []
    for s in map(str, ds["scenario"].values):
        if kinds.get(s, "fixed") == "design_prior":
            continue
        if "mean_true_S" in ds and "mean_true_F" in ds:
            ss = {**sel, "scenario": s}
            th = [_one(ds, "mean_true_S", ss), _one(ds, "mean_true_F", ss)]
            if any(np.isfinite(t) and t <= 1e-12 for t in th):
                out.append(s)
            continue
        spec = scen.get(s)
        eff = _effects(spec)
        if eff is not None and adaptive_kind(ds) == "enrichment":  # no recorded true effects
            strata = {str(k): float(v) for k, v in (_design(cfg).get("strata") or {}).items()}
            sub = enrichment_populations(cfg)["sub_key"]
            e = spec.get("effect") if isinstance(spec, Mapping) else spec
            by = ({str(k): float(v) for k, v in e.items()} if isinstance(e, Mapping)
                  else {k: eff[0] for k in strata})
            eff = [by.get(sub, np.nan), sum(w * by.get(k, np.nan) for k, w in strata.items())]
        if eff is not None and np.nanmin(eff) <= 1e-12:
            out.append(s)
    return out


def target_alpha(cfg: Mapping[str, Any]) -> float:
    """The one-sided level of the final test (``design.final.alpha``, default 0.025)."""
    fin = _design(cfg).get("final")
    a = fin.get("alpha") if isinstance(fin, Mapping) else None
    return float(a) if isinstance(a, (int, float)) else 0.025


def fwer_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
               sname: Callable[[Any], str], alpha: float) -> pd.DataFrame:
    """FWER of the adaptive design and of the fixed comparator per (null) scenario, with
    MCSE, the target ``alpha`` and whether the FWER exceeds it by more than 3 MCSE."""
    rows = []
    for s in scenarios:
        ss = {**sel, "scenario": s}
        f, m = _one(ds, "p_fwer", ss), _one(ds, "p_fwer_mcse", ss)
        rows.append({"scenario_key": str(s), "scenario": sname(s), "fwer": f, "fwer_mcse": m,
                     "fwer_fixed": _one(ds, "p_fwer_fixed", ss),
                     "fwer_fixed_mcse": _one(ds, "p_fwer_fixed_mcse", ss),
                     "target_alpha": alpha,
                     "above_target": bool(np.isfinite(f) and f > alpha + 3 * np.nan_to_num(m))})
    return pd.DataFrame(rows)


def expected_n_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                     sname: Callable[[Any], str], cfg: Mapping[str, Any],
                     unit: str = "") -> pd.DataFrame:
    """Mean randomised per stratum (enrichment, both arms) or per arm (multi-arm), and in
    total, per scenario: ``scenario_key, scenario, group, mean_n, mean_n_mcse``."""
    rows = []
    kind = adaptive_kind(ds)
    for s in scenarios:
        ss = {**sel, "scenario": s}
        if kind == "enrichment":
            strata = [str(k) for k in (_design(cfg).get("strata") or {})]
            if not strata:
                strata = [v[len("mean_n_stratum_"):] for v in ds.data_vars
                          if v.startswith("mean_n_stratum_") and not v.endswith("_mcse")]
            groups = [(f"{population_label(k)} (both arms)", f"mean_n_stratum_{k}")
                      for k in strata]
            items = [(g, _one(ds, v, ss), _one(ds, f"{v}_mcse", ss)) for g, v in groups]
        else:
            items = []
            for d in (float(x) for x in ds["dose"].values):
                sd = {**ss, "dose": d}
                g = "placebo (control)" if d == 0 else f"dose {_dose_label(d, unit)}"
                items.append((g, _one(ds, "mean_n_arm", sd), _one(ds, "mean_n_arm_mcse", sd)))
        items.append(("total (all arms)", _one(ds, "expected_n", ss),
                      _one(ds, "expected_n_mcse", ss)))
        for g, v, m in items:
            rows.append({"scenario_key": str(s), "scenario": sname(s), "group": g,
                         "mean_n": v, "mean_n_mcse": m})
    return pd.DataFrame(rows)


def comparator_text(kind: Kind, cfg: Mapping[str, Any]) -> str:
    """What the paired fixed comparator is, in words."""
    fin = _design(cfg).get("final")
    method = str(fin.get("method", "closed_combination")) if isinstance(fin, Mapping) \
        else "closed_combination"
    if kind == "enrichment":
        test = ("the same Bayesian rule" if method == "bayesian_shrinkage"
                else "a one-sided z test of the all-comers effect")
        return ("the fixed all-comers two-arm trial (both strata, no interim selection) with the "
                f"same maximum n per arm, analysed by {test}")
    return ("the fixed design that keeps all doses to the end with the same maximum n per arm "
            "(one analysis, the same closed test)")


def summary_items(ds: xr.Dataset, sel: Mapping[str, Any], cfg: Mapping[str, Any], *,
                  scenarios: list[str], sname: Callable[[Any], str] | None = None
                  ) -> list[dict[str, Any]]:
    """OC-summary rows of an adaptive design at the grid cell ``sel``: FWER per null
    scenario (with the target alpha), P(go) of the fixed comparator and the paired
    difference, interim selection and expected n per stratum / arm.

    Each item: ``quantity, scenario`` (key) and ``var`` (an ``oc.nc`` variable, read with its
    ``_mcse``) or ``value`` ``(estimate, MCSE)``, ``prob`` (print as a probability) and
    ``digits``.
    """
    kind = adaptive_kind(ds)
    if kind is None:
        return []
    if kind == "rar":
        return _collapse_constant(rar_summary_items(ds, sel, cfg, scenarios=scenarios), ds, sel)
    items: list[dict[str, Any]] = []
    alpha = target_alpha(cfg)
    for s in null_scenarios(ds, cfg, sel):
        items.append({"quantity": f"FWER: P(a true null hypothesis rejected), target "
                                  f"\u2264 {fmt(alpha)}", "scenario": s, "var": "p_fwer"})
    for s in scenarios:
        items.append({"quantity": "P(go) of the fixed comparator (same maximum n)",
                      "scenario": s, "var": "p_go_fixed"})
    for s in scenarios:
        items.append({"quantity": "P(go) adaptive minus fixed (paired)", "scenario": s,
                      "var": "mean_go_diff", "prob": False, "digits": 3})
    if kind == "enrichment":
        pops = enrichment_populations(cfg)
        lab = enrichment_selection_labels(pops["sub"])
        for s in scenarios:
            ss = {**sel, "scenario": s}
            ps, pb, n = (_one(ds, v, ss) for v in ("p_select_S", "p_select_both", "n_sims"))
            items.append({"quantity": f"P(interim selects {lab['sub_only']})", "scenario": s,
                          "value": (ps - pb, _binom_mcse(ps - pb, n))})
        for s in scenarios:
            items.append({"quantity": f"P(reject H_S: no effect in {pops['sub']})",
                          "scenario": s, "var": "p_reject_S"})
            items.append({"quantity": "P(reject H_F: no effect in all patients)",
                          "scenario": s, "var": "p_reject_F"})
        for k in (str(x) for x in (_design(cfg).get("strata") or {})):
            for s in scenarios:
                items.append({"quantity": f"expected n in {population_label(k)} (both arms)",
                              "scenario": s, "var": f"mean_n_stratum_{k}", "prob": False,
                              "digits": 1})
    else:
        if "p_reject_best" in ds:
            for s in scenarios:
                items.append({"quantity": "P(the truly best dose is rejected (shown effective))",
                              "scenario": s, "var": "p_reject_best"})
        unit = str(_design(cfg).get("dose_unit") or "")
        for d in (float(x) for x in ds["dose"].values):
            for s in scenarios:
                sd = {**sel, "scenario": s, "dose": d}
                v, m = _one(ds, "mean_n_arm", sd), _one(ds, "mean_n_arm_mcse", sd)
                g = "placebo" if d == 0 else f"dose {_dose_label(d, unit)}"
                items.append({"quantity": f"expected n on {g}", "scenario": s,
                              "value": (v, m), "prob": False, "digits": 1})
    for s in scenarios:
        items.append({"quantity": "expected total sample size (patients randomised)",
                      "scenario": s, "var": "expected_n", "prob": False, "digits": 1})
    return _collapse_constant(items, ds, sel)


def _collapse_constant(items: list[dict[str, Any]], ds: xr.Dataset,
                       sel: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A sample-size row that is the same in every scenario with MCSE 0 (a count fixed by the
    design, e.g. the placebo arm or the total without early stopping) is kept once."""
    def val(it):
        if "value" in it:
            return it["value"]
        ss = {**sel, "scenario": it["scenario"]}
        return _one(ds, it["var"], ss), _one(ds, f"{it['var']}_mcse", ss)

    out, seen = [], {}
    for it in items:
        if it.get("prob", True):
            out.append(it)
            continue
        seen.setdefault(it["quantity"], []).append(it)
    for q, group in seen.items():
        vals = [val(it) for it in group]
        const = (len(group) > 1 and q.startswith("expected")
                 and all(np.isfinite(v) and v == vals[0][0] and m == 0 for v, m in vals))
        out += group[:1] if const else group
    order = {id(it): i for i, it in enumerate(items)}
    return sorted(out, key=lambda it: order[id(it)])


def adaptive_html(view: Any, out: Any, name: str, *, xlab: Callable[[str], str],
                  sname: Callable[[Any], str], kinds: Mapping[str, str],
                  html_table: Callable[..., str], planned: Any = None) -> list[str]:
    """The report section: heading, selection figure, adaptive-vs-fixed figure and table,
    FWER and expected-n tables. ``out`` is the report's figure/table writer,
    ``html_table(df, id=, cls=, caption=)`` its table renderer."""
    from functools import partial

    from ..plots.adaptive import (plot_adaptive_vs_fixed, plot_dose_selection,
                                  plot_enrichment_selection)

    ds = view.sim.ds
    kind = adaptive_kind(ds)
    if kind is None:
        return []
    if kind == "rar":
        return rar_html(view, out, name, xlab=xlab, sname=sname, html_table=html_table,
                        planned=planned)
    cfg = parse_config_text(view.sim.provenance.get("config_text"))
    flat = flatten(cfg)
    unit = str(flat.get("design.dose_unit") or "")
    x = view.x_axis
    sel = {k: v for k, v in view.fixed.items() if k in ds.dims and k not in ("scenario", "dose")}
    if planned is not None and x:
        sel[x] = planned
    at = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in sel.items())
    at_txt = f" at {at}" if at else ""
    scen = [str(s) for s in ds["scenario"].values]
    comp = comparator_text(kind, cfg)
    title = ("Adaptive enrichment: selection and comparison with the fixed design"
             if kind == "enrichment" else
             "Adaptive dose selection: selection and comparison with the fixed design")
    parts = [f"<h3 id='adaptive-{name}'>{title}</h3>"]
    if kind == "enrichment":
        pops = enrichment_populations(cfg)
        st = enrichment_selection_table(ds, sel, scenarios=scen, sname=sname, sub=pops["sub"])
        out.table(st, f"{name}_selection")
        parts.append(out.figure(
            partial(plot_enrichment_selection, st), f"{name}_selection",
            f"Interim selection per scenario{at_txt}: the probability that the trial continues "
            f"in {pops['sub']} only, in all patients ({pops['sub']} and {pops['rest']}) only, "
            "in both (both hypotheses tested at the end), or in none (stopped for futility); "
            "error bars \u00b12 Monte Carlo standard errors."))
    else:
        st = dose_selection_table(ds, sel, scenarios=scen, sname=sname, unit=unit)
        out.table(st, f"{name}_dose_selection")
        parts.append(out.figure(
            partial(plot_dose_selection, st), f"{name}_dose_selection",
            f"(a) Probability that each dose is kept after the interim and (b) that its null "
            f"hypothesis (no effect of that dose against placebo) is rejected, per scenario"
            f"{at_txt}" + (f"; doses in {unit}" if unit else "")
            + "; error bars \u00b12 Monte Carlo standard errors."))
    ct = comparison_table(ds, {k: v for k, v in view.fixed.items() if k in ds.dims},
                          x_axis=x, scenarios=scen, sname=sname, kinds=kinds)
    out.table(ct, f"{name}_adaptive_vs_fixed")
    if x and ct["x"].nunique() >= 2:
        parts.append(out.figure(
            partial(plot_adaptive_vs_fixed, ct, x_label=f"maximum {xlab(x)}",
                    comparator=f"fixed comparator ({'all-comers two-arm' if kind == 'enrichment' else 'all doses kept'})"),
            f"{name}_adaptive_vs_fixed",
            f"P(go) of the adaptive design (solid) and of its fixed comparator (dashed) against "
            f"the maximum {xlab(x)}, one panel per scenario; shaded bands \u00b12 Monte Carlo "
            f"standard errors. The comparator is {comp}. The comparison is paired: both "
            "designs are simulated on common random numbers (the same true effects and the "
            "same first-stage data), so the difference has a smaller MCSE than either "
            "probability (table below)."))
    if planned is not None and x:
        shown_ct = ct[np.isclose(ct["x"], float(planned))]
    else:
        shown_ct = ct
    nsim = [_one(ds, "n_sims", {**sel, "scenario": s}) for s in shown_ct["scenario_key"]]
    tab = pd.DataFrame({
        "scenario": shown_ct["scenario"],
        "P(go) adaptive (MCSE)": [_pm(a, m, n) for a, m, n in
                                  zip(shown_ct["adaptive"], shown_ct["adaptive_mcse"], nsim)],
        "P(go) fixed (MCSE)": [_pm(a, m, n) for a, m, n in
                               zip(shown_ct["fixed"], shown_ct["fixed_mcse"], nsim)],
        "paired difference (MCSE)": [f"{d:+.3f} ({fmt_mcse(m)})" if np.isfinite(d) else "n/a"
                                     for d, m in zip(shown_ct["difference"],
                                                     shown_ct["difference_mcse"])]})
    parts.append(html_table(tab, id=f"table-adaptive-vs-fixed-{name}", cls="adaptive-vs-fixed",
                            caption=f"P(go) of the adaptive design and of {comp}{at_txt}; the "
                            "difference is the paired mean of go(adaptive) - go(fixed) over "
                            "trials simulated on common random numbers, with its Monte Carlo "
                            "standard error (MCSE). All values of the grid: tables/"
                            f"{name}_adaptive_vs_fixed.csv."))
    alpha = target_alpha(cfg)
    nulls = null_scenarios(ds, cfg, sel)
    if nulls:
        ft = fwer_table(ds, sel, scenarios=nulls, sname=sname, alpha=alpha)
        out.table(ft, f"{name}_fwer")
        fin = cfg.get("design", {}).get("final") if isinstance(cfg.get("design"), Mapping) else {}
        bayes = isinstance(fin, Mapping) and fin.get("method") == "bayesian_shrinkage"
        nsim = [_one(ds, "n_sims", {**sel, "scenario": s}) for s in ft["scenario_key"]]
        shown = pd.DataFrame({
            "scenario": ft["scenario"],
            "FWER adaptive (MCSE)": [_pm(f, m, n) for f, m, n in
                                     zip(ft["fwer"], ft["fwer_mcse"], nsim)],
            "FWER fixed (MCSE)": [_pm(f, m, n) for f, m, n in
                                  zip(ft["fwer_fixed"], ft["fwer_fixed_mcse"], nsim)],
            "target": [f"\u2264 {fmt(alpha)}"] * len(ft),
            "above target by > 3 MCSE": ["yes" if a else "no" for a in ft["above_target"]]})
        parts.append(html_table(
            shown, id=f"table-fwer-{name}", cls="fwer",
            caption=f"Family-wise error rate{at_txt}: the probability that at least one true "
            "null hypothesis is rejected, in the scenarios where some hypothesis is a true "
            "null; one-sided target alpha " + fmt(alpha)
            + ("" if isinstance(fin, Mapping) and "alpha" in fin
               else " (conventional: design.final sets no alpha)") + ". "
            + ("Simulated, not guaranteed: the Bayesian final rule does not control it by "
               "construction." if bayes else "The closed combination test controls it in the "
               "strong sense whatever the selection; the simulation checks it.")))
    en = expected_n_table(ds, sel, scenarios=scen, sname=sname, cfg=cfg, unit=unit)
    out.table(en, f"{name}_expected_n_by_group")
    wide = en.assign(v=[f"{fmt(v, 1)} ({fmt_mcse(m, 2)})" for v, m in
                        zip(en["mean_n"], en["mean_n_mcse"])]).pivot(
        index="scenario", columns="group", values="v")
    wide = wide.reindex(index=list(dict.fromkeys(en["scenario"])),
                        columns=list(dict.fromkeys(en["group"]))).reset_index()
    parts.append(html_table(
        wide, id=f"table-expected-n-{name}", cls="expected-n-by-group",
        caption=("Expected number randomised by stratum (both arms)" if kind == "enrichment"
                 else "Expected number randomised by arm") + f"{at_txt}; mean (MCSE)."))
    return parts



# ------------------------------------------------------------------ response-adaptive (RAR)
#: trial outcome variables of a RAR design and their plain labels (they sum to 1)
RAR_OUTCOMES: dict[str, str] = {
    "superiority": "stopped: a dose superior to control",
    "equivalence": "stopped: arms equivalent",
    "futility": "stopped: futility",
    "max": "maximum sample size reached",
}


def rar_arm_labels(ds: xr.Dataset, cfg: Mapping[str, Any]) -> list[str]:
    """Plain label per ``dose`` coordinate value, control first: ``"placebo (control)"`` for
    dose 0 (or the first named arm + " (control)"), else the dose with the first word of
    ``design.dose_unit`` (``"3 million"``) or the arm name.

    >>> ds = xr.Dataset(coords={"dose": [0.0, 3.0]})
    >>> rar_arm_labels(ds, {"design": {"dose_unit": "million cells"}})
    ['placebo (control)', '3 million']
    """
    unit = str(_design(cfg).get("dose_unit") or "")
    out = []
    for i, d in enumerate(ds["dose"].values):
        if isinstance(d, str) or not np.issubdtype(np.asarray(d).dtype, np.number):
            out.append(f"{d} (control)" if i == 0 else str(d))
        elif i == 0:
            out.append("placebo (control)" if float(d) == 0 else
                       f"{_dose_label(float(d), unit)} (control)")
        else:
            out.append(_dose_label(float(d), unit))
    return out


def rar_selection_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                        sname: Callable[[Any], str], cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Per scenario and arm (control first, then "no arm selected"): P(selected) and the mean
    achieved allocation share, each with its MCSE, read from ``p_selected`` (the control's
    entry is ``p_select_control``), ``p_select_none`` and ``mean_alloc_arm``.

    Columns ``scenario_key, scenario, arm, label, p_selected, p_selected_mcse, alloc,
    alloc_mcse`` (``alloc`` NaN for "none")."""
    labels = rar_arm_labels(ds, cfg)
    rows = []
    for s in scenarios:
        ss = {**sel, "scenario": s}
        for d, lab in zip(ds["dose"].values, labels):
            sd = {**ss, "dose": d}
            rows.append({"scenario_key": str(s), "scenario": sname(s), "arm": str(d),
                         "label": lab, "p_selected": _one(ds, "p_selected", sd),
                         "p_selected_mcse": _one(ds, "p_selected_mcse", sd),
                         "alloc": _one(ds, "mean_alloc_arm", sd),
                         "alloc_mcse": _one(ds, "mean_alloc_arm_mcse", sd)})
        rows.append({"scenario_key": str(s), "scenario": sname(s), "arm": "none",
                     "label": "no arm selected", "p_selected": _one(ds, "p_select_none", ss),
                     "p_selected_mcse": _one(ds, "p_select_none_mcse", ss),
                     "alloc": np.nan, "alloc_mcse": np.nan})
    return pd.DataFrame(rows)


def rar_outcome_table(ds: xr.Dataset, sel: Mapping[str, Any], *, scenarios: list,
                      sname: Callable[[Any], str]) -> pd.DataFrame:
    """P(each way the trial ends) per scenario (``p_outcome_*``, summing to 1): columns
    ``scenario_key, scenario, outcome, label, p, mcse``."""
    rows = []
    for s in scenarios:
        ss = {**sel, "scenario": s}
        for o, lab in RAR_OUTCOMES.items():
            rows.append({"scenario_key": str(s), "scenario": sname(s), "outcome": o,
                         "label": lab, "p": _one(ds, f"p_outcome_{o}", ss),
                         "mcse": _one(ds, f"p_outcome_{o}_mcse", ss)})
    return pd.DataFrame(rows)


def rar_global_nulls(ds: xr.Dataset, cfg: Mapping[str, Any]) -> list[str]:
    """The fixed scenarios in which no arm is better than the control (every configured effect
    <= 0): there any superiority decision is a type I error."""
    kinds = ({str(s): str(k) for s, k in zip(ds["scenario"].values, ds["scenario_kind"].values)}
             if "scenario_kind" in ds.coords else {})
    scen = cfg.get("scenarios") or {}
    scen = {("null" if k is None else str(k)): v for k, v in scen.items()} \
        if isinstance(scen, Mapping) else {}
    out = []
    for s in map(str, ds["scenario"].values):
        if kinds.get(s, "fixed") == "design_prior":
            continue
        eff = _effects(scen.get(s))
        if eff is not None and max(eff) <= 1e-12:
            out.append(s)
    return out


def _rar_alpha(cfg: Mapping[str, Any]) -> float:
    a = _design(cfg).get("alpha")
    return float(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else 0.025


def rar_summary_items(ds: xr.Dataset, sel: Mapping[str, Any], cfg: Mapping[str, Any], *,
                      scenarios: list[str]) -> list[dict[str, Any]]:
    """OC-summary rows of a RAR design (same item format as :func:`summary_items`): type I
    error under each global-null scenario (with the target ``design.alpha``), P(any
    superiority decision), P(select the best arm), IDP, RMSE and bias of the selected arm's
    effect and the expected total n per scenario."""
    items: list[dict[str, Any]] = []
    alpha = _rar_alpha(cfg)
    sup = "p_superiority_decision" if "p_superiority_decision" in ds else "p_go"
    for s in rar_global_nulls(ds, cfg):
        items.append({"quantity": "type I error: P(any superiority decision) when no arm is "
                                  f"better than control (simulated), target {fmt(alpha)}",
                      "scenario": s, "var": sup})
    if sup != "p_go" and "p_go" in ds and not np.allclose(
            ds[sup].values, ds["p_go"].values, equal_nan=True):  # else the P(go) rows say it
        for s in scenarios:
            if s not in rar_global_nulls(ds, cfg):
                items.append({"quantity": "P(any superiority decision)", "scenario": s,
                              "var": sup})
    for s in scenarios:
        if np.isfinite(_one(ds, "mean_select_best", {**sel, "scenario": s})):
            items.append({"quantity": "P(select the best arm)", "scenario": s,
                          "var": "mean_select_best"})
    for s in scenarios:
        if np.isfinite(_one(ds, "mean_idp", {**sel, "scenario": s})):
            items.append({"quantity": "IDP: ideal design percentage (100 = always the best "
                                      "arm, 0 = always the worst)", "scenario": s,
                          "var": "mean_idp", "prob": False, "digits": 1})
    for var, what in (("rmse", "RMSE of the selected arm's effect (vs control)"),
                      ("bias", "bias of the selected arm's effect (vs control)")):
        for s in scenarios:
            items.append({"quantity": what, "scenario": s, "var": var, "prob": False,
                          "digits": 3})
    for s in scenarios:
        items.append({"quantity": "expected total sample size (patients randomised)",
                      "scenario": s, "var": "expected_n", "prob": False, "digits": 1})
    return items


def _cfg_of(sim: Any) -> Mapping[str, Any]:
    return parse_config_text(sim.provenance.get("config_text"))


def _rar_signature(cfg: Mapping[str, Any], ds: xr.Dataset) -> tuple | None:
    des = _design(cfg)
    if str(des.get("type")) != "rar":
        return None
    arms = des.get("arms") or des.get("doses")
    return (repr(arms), repr(des.get("n_per_arm")),
            tuple(map(str, ds["scenario"].values)))


def _comparison(cfg: Mapping[str, Any]) -> str:
    st = _design(cfg).get("stopping")
    return str(st.get("comparison", "control")) if isinstance(st, Mapping) else "control"


def _is_adaptive(cfg: Mapping[str, Any]) -> bool:
    al = _design(cfg).get("allocation")
    return not (isinstance(al, Mapping) and al.get("adaptive") is False)


def rar_pairs(sims: list) -> list[tuple[int, int]]:
    """Indices ``(rar, fixed)`` of RAR designs and their fixed-allocation comparators among
    ``sims`` (objects with ``.ds`` and ``.provenance``): both ``design.type: rar`` with the
    same arms (``design.doses`` or ``design.arms``), the same ``design.n_per_arm`` and the
    same scenario names, one with ``design.allocation.adaptive`` true (default) and the other
    false. Each design is used in at most one pair (first match in order)."""
    sig = [_rar_signature(_cfg_of(s), s.ds) for s in sims]
    ada = [_is_adaptive(_cfg_of(s)) for s in sims]
    used: set[int] = set()
    out = []
    for i, si in enumerate(sig):
        if si is None or not ada[i]:
            continue
        for j, sj in enumerate(sig):
            if j != i and j not in used and sj == si and not ada[j]:
                out.append((i, j))
                used.add(j)
                break
    return out


#: the quantities compared between a RAR design and its fixed-allocation comparator
RAR_COMPARED: dict[str, tuple[str, bool]] = {
    "P(go)": ("p_go", True),
    "P(select the best arm)": ("mean_select_best", True),
    "IDP (%)": ("mean_idp", False),
    "expected total n": ("expected_n", False),
}


def rar_comparison_table(rar: xr.Dataset, fixed: xr.Dataset, *, scenarios: list,
                         sname: Callable[[Any], str],
                         sel: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Per scenario and quantity of :data:`RAR_COMPARED`: the RAR value, the fixed-allocation
    value, their difference and its MCSE ``sqrt(mcse_rar^2 + mcse_fixed^2)`` (independent
    simulations, so unpaired). Columns ``scenario_key, scenario, quantity, prob, rar,
    rar_mcse, fixed, fixed_mcse, difference, difference_mcse, n_rar, n_fixed``."""
    sel = dict(sel or {})
    rows = []
    for s in scenarios:
        ss = {**sel, "scenario": s}
        for q, (var, prob) in RAR_COMPARED.items():
            a, am = _one(rar, var, ss), _one(rar, f"{var}_mcse", ss)
            f, fm = _one(fixed, var, ss), _one(fixed, f"{var}_mcse", ss)
            rows.append({"scenario_key": str(s), "scenario": sname(s), "quantity": q,
                         "prob": prob, "rar": a, "rar_mcse": am, "fixed": f, "fixed_mcse": fm,
                         "difference": a - f,
                         "difference_mcse": float(np.hypot(am, fm)),
                         "n_rar": _one(rar, "n_sims", ss), "n_fixed": _one(fixed, "n_sims", ss)})
    return pd.DataFrame(rows)


def _v(v: float, m: float, n: float, prob: bool) -> str:
    if not np.isfinite(v):
        return "n/a"
    return _pm(v, m, n) if prob else f"{fmt(v, 1)} ({fmt_mcse(m, 2)})"


def _cell_sel(view: Any, ds: xr.Dataset) -> dict[str, Any]:
    return {k: v for k, v in view.fixed.items() if k in ds.dims and k not in ("scenario", "dose")}


def rar_html(view: Any, out: Any, name: str, *, xlab: Callable[[str], str],
             sname: Callable[[Any], str], html_table: Callable[..., str],
             planned: Any = None) -> list[str]:
    """The RAR report section: selection and achieved-allocation figure, trial-outcome figure,
    expected n per arm table, at the grid slice shown and (with a grid over the x axis) at
    the ``planned`` value of that axis."""
    from functools import partial

    from ..plots.adaptive import plot_rar_outcomes, plot_rar_selection

    ds = view.sim.ds
    cfg = parse_config_text(view.sim.provenance.get("config_text"))
    sel = _cell_sel(view, ds)
    if planned is not None and view.x_axis and view.x_axis in ds.dims:
        sel[view.x_axis] = planned
    at = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in sel.items())
    at_txt = f" at {at}" if at else ""
    scen = [str(s) for s in ds["scenario"].values]
    unit = str(_design(cfg).get("dose_unit") or "")
    what = ("Response-adaptive randomisation" if _is_adaptive(cfg) else
            "Fixed allocation (same rules, no response-adaptive randomisation)")
    parts = [f"<h3 id='rar-{name}'>{what}: selection, allocation and trial outcomes</h3>"]
    st = rar_selection_table(ds, sel, scenarios=scen, sname=sname, cfg=cfg)
    out.table(st, f"{name}_rar_selection")
    parts.append(out.figure(
        partial(plot_rar_selection, st), f"{name}_rar_selection",
        f"(a) Probability that each arm is selected (the winner of a superiority stop, else "
        f"the arm chosen at the end; \"no arm selected\" when none is), and (b) the mean "
        f"share of the patients each arm received (achieved allocation), per scenario"
        f"{at_txt}" + (f"; doses in {unit}" if unit else "")
        + "; error bars \u00b12 Monte Carlo standard errors."))
    ot = rar_outcome_table(ds, sel, scenarios=scen, sname=sname)
    out.table(ot, f"{name}_rar_outcomes")
    parts.append(out.figure(
        partial(plot_rar_outcomes, ot), f"{name}_rar_outcomes",
        f"How the trial ends, per scenario{at_txt}: stopped because a dose is superior to the "
        "control, because the arms are equivalent, for futility, or at the maximum sample "
        "size (the four sum to 1); error bars \u00b12 Monte Carlo standard errors."
        + (" P(go) (a dose declared superior at some look) can exceed P(stopped for "
           "superiority): a superior dose becomes the new control and the trial goes on "
           "while other doses remain." if _comparison(cfg) == "control" else "")))
    labels = rar_arm_labels(ds, cfg)
    rows = []
    for s in scen:
        ss = {**sel, "scenario": s}
        r = {"scenario": sname(s)}
        for d, lab in zip(ds["dose"].values, labels):
            sd = {**ss, "dose": d}
            r[lab] = _v(_one(ds, "mean_n_arm", sd), _one(ds, "mean_n_arm_mcse", sd), np.nan,
                        False)
        r["total (all arms)"] = _v(_one(ds, "expected_n", ss), _one(ds, "expected_n_mcse", ss),
                                   np.nan, False)
        nm = _one(ds, "n_max", ss)
        r["maximum total"] = f"{nm:g}" if np.isfinite(nm) else "n/a"
        rows.append(r)
    parts.append(html_table(pd.DataFrame(rows), id=f"table-rar-expected-n-{name}",
                            cls="expected-n-by-group",
                            caption=f"Expected number randomised per arm and in total{at_txt}; "
                            "mean (MCSE)."))
    return parts


def rar_comparison_html(rar_view: Any, fixed_view: Any, out: Any, *,
                        sname: Callable[[Any], str], html_table: Callable[..., str]) -> str:
    """Table and figure comparing a RAR design with its fixed-allocation comparator (see
    :func:`rar_pairs`); "" when they share no scenario."""
    from functools import partial

    from ..plots.adaptive import plot_rar_vs_fixed

    a, f = rar_view.sim.ds, fixed_view.sim.ds
    scen = [str(s) for s in a["scenario"].values if str(s) in set(map(str, f["scenario"].values))]
    if not scen:
        return ""
    ra, rf = rar_view.sim.name, fixed_view.sim.name
    ct = rar_comparison_table(a, f, scenarios=scen, sname=sname, sel=_cell_sel(rar_view, a))
    stem = f"{ra}_vs_{rf}"
    out.table(ct, stem)
    tab = pd.DataFrame({
        "scenario": ct["scenario"], "quantity": ct["quantity"],
        "RAR (MCSE)": [_v(v, m, n, p) for v, m, n, p in
                       zip(ct["rar"], ct["rar_mcse"], ct["n_rar"], ct["prob"])],
        "fixed allocation (MCSE)": [_v(v, m, n, p) for v, m, n, p in
                                    zip(ct["fixed"], ct["fixed_mcse"], ct["n_fixed"],
                                        ct["prob"])],
        "difference (MCSE)": [f"{d:+.3f} ({fmt_mcse(m)})" if p and np.isfinite(d) else
                              f"{d:+.1f} ({fmt_mcse(m, 2)})" if np.isfinite(d) else "n/a"
                              for d, m, p in zip(ct["difference"], ct["difference_mcse"],
                                                 ct["prob"])]})
    cap = (f"Response-adaptive randomisation ({ra}) against fixed equal allocation ({rf}): "
           "the same arms, maximum n per arm, looks and scenarios, each with its own "
           "calibrated superiority threshold. The two designs are simulated independently "
           "(unpaired), so the MCSE of a difference is the square root of the sum of the "
           "squared MCSEs.")
    return (f"<h2 id='rar-vs-fixed-{_slug(ra)}'>Response-adaptive against fixed allocation</h2>"
            + out.figure(partial(plot_rar_vs_fixed, ct), f"{stem}_rar_vs_fixed",
                         cap + " Error bars \u00b12 MCSE.")
            + html_table(tab, id=f"table-rar-vs-fixed-{_slug(ra)}", cls="rar-vs-fixed",
                         caption=cap))


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", str(s).lower()).strip("-")
