"""One-page operating-characteristics summary per simulated design (in the manner of FACTS
or rpact): type I error, power at the MCID and at the target effect, assurance under each
design prior with its ceiling, expected sample size and the decision rule in words, each with
its Monte Carlo standard error, at the planned sample size.

Written as a tidy table (CSV), Markdown, a LaTeX ``tabular`` and an HTML table.

Examples
--------
>>> from msbayes.report.summary import latex_table
>>> import pandas as pd
>>> print(latex_table(pd.DataFrame({"a": ["x_1 & 5%"]})), end="")
\\begin{tabular}{l}
\\hline
a \\\\
\\hline
x\\_1 \\& 5\\% \\\\
\\hline
\\end{tabular}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..plots.style import clinical_effect, scenario_label
from .labels import fmt_mcse, fmt_prob
from .text import SimView, flatten, fmt, parse_config_text

__all__ = ["oc_summary", "latex_table", "planned_n", "display_labels"]

SUMMARY_COLUMNS = ["quantity", "scenario", "true effect", "estimate", "MCSE", "printed"]


def display_labels(view: SimView) -> dict[str, str]:
    """The sim config's optional ``labels:`` mapping (display names set by the user)."""
    cfg = parse_config_text(view.sim.provenance.get("config_text"))
    lab = cfg.get("labels") or {}
    return {str(k): str(v) for k, v in lab.items()} if isinstance(lab, Mapping) else {}


def planned_n(view: SimView) -> Any:
    """The planned n per arm: the config's ``design.n_per_arm`` when it is on the grid (or when
    n is not a grid axis), else the n of the slice the report shows (the middle grid value)."""
    ds = view.sim.ds
    x = view.x_axis
    flat = flatten(parse_config_text(view.sim.provenance.get("config_text")))
    n = flat.get("design.n_per_arm")
    if "design.n_per_arm" not in ds.dims:
        # no grid over n: the config's own n per arm is the planned one
        return n if isinstance(n, (int, float)) and not isinstance(n, bool) else None
    if x != "design.n_per_arm":
        return None
    xs = ds[x].values
    if isinstance(n, (int, float)) and np.any(np.isclose(xs, n)):
        return xs[np.isclose(xs, n)][0].item()
    return xs[(len(xs) - 1) // 2].item()


def _one(ds, var: str, sel: Mapping[str, Any]) -> float:
    if var not in ds:
        return float("nan")
    da = ds[var]
    return float(np.ravel(da.sel({k: v for k, v in sel.items() if k in da.dims}).values)[0])


def oc_summary(view: SimView, *, digits: int = 3) -> tuple[pd.DataFrame, dict[str, str]]:
    """The summary rows and a header (design name, planned n, grid slice, decision rule).

    Returns
    -------
    (DataFrame with :data:`SUMMARY_COLUMNS`, header mapping)
    """
    sim, ds = view.sim, view.sim.ds
    cfg = parse_config_text(sim.provenance.get("config_text"))
    flat = flatten(cfg)
    scale = str(flat.get("endpoint.scale") or ds.attrs.get("scale", "") or "log_speed_ratio")
    mcid = flat.get("endpoint.mcid")
    labels = display_labels(view)
    n = planned_n(view)
    sel0 = dict(view.fixed)
    if n is not None:
        sel0[view.x_axis] = n
    dsel = ds.sel({k: v for k, v in sel0.items() if k in ds.dims and k != "scenario"})
    kinds = ({str(s): str(k) for s, k in zip(ds["scenario"].values, ds["scenario_kind"].values)}
             if "scenario_kind" in ds.coords else {})
    effects = ({str(s): float(e) for s, e in zip(ds["scenario"].values, ds["true_effect"].values)}
               if "true_effect" in ds.coords and ds["true_effect"].dims == ("scenario",) else {})
    go = "p_go" if "p_go" in ds else "p_reject"
    fixed = [s for s in map(str, ds["scenario"].values) if kinds.get(s, "fixed") != "design_prior"]
    priors = [s for s in map(str, ds["scenario"].values) if kinds.get(s) == "design_prior"]
    null = [s for s in fixed if np.isclose(effects.get(s, np.nan), 0.0)]
    at_mcid = [s for s in fixed if isinstance(mcid, (int, float))
               and np.isclose(effects.get(s, np.nan), float(mcid), rtol=1e-3, atol=1e-4)]
    target = [s for s in fixed if s not in null + at_mcid]
    rows = []

    def add(quantity: str, s: str, var: str = go, *, prob: bool = True,
            value: tuple[float, float] | None = None, value_digits: int = 1) -> None:
        v = _one(dsel, var, {"scenario": s}) if value is None else value[0]
        m = _one(dsel, f"{var}_mcse", {"scenario": s}) if value is None else value[1]
        ns = _one(dsel, "n_sims", {"scenario": s})
        up = _one(dsel, f"{var}_upper", {"scenario": s})
        if prob:
            txt = fmt_prob(v, digits, n=ns if np.isfinite(ns) else None,
                           upper=up if np.isfinite(up) else None)
            k = round(v * ns) if np.isfinite(ns) and np.isfinite(v) else None
            if k == 0:  # no event: an upper bound, with the count behind it
                txt += f" (0 of {int(ns)})"
            elif k is not None and k == int(ns):
                txt += f" ({int(ns)} of {int(ns)})"
            else:
                if txt[:1] in "<>" and np.isfinite(v):  # events, but fewer than 1 in 10^digits
                    txt = f"{v:.2g}"
                txt += f" (MCSE {fmt_mcse(m, digits)})"
        else:
            txt = (f"{fmt(v, value_digits)} (MCSE {fmt_mcse(m, value_digits + 1)})"
                   if np.isfinite(v) else "n/a")
        eff = effects.get(s, float("nan"))
        rows.append({"quantity": quantity,
                     "scenario": scenario_label(s, effect=eff if np.isfinite(eff) else None,
                                                scale=scale, kind=kinds.get(s, "fixed"),
                                                overrides=labels),
                     "true effect": clinical_effect(eff, scale) if np.isfinite(eff) else
                     "design prior (distribution)",
                     "estimate": v, "MCSE": m, "printed": txt})

    for s in null:
        add("type I error, P(go) with no effect", s)
    for s in at_mcid:
        add("power, P(go) at the MCID", s)
    for s in target:
        add("power, P(go) at the target effect", s)
    for s in priors:
        add("assurance, P(go) under the design prior", s)
        if "assurance_ceiling" in dsel:
            add("assurance ceiling (infinitely large trial)", s, "assurance_ceiling")
    if "p_correct_dose" in dsel:
        for s in at_mcid + target:
            add("P(correct dose selected)", s, "p_correct_dose")
    if "p_selected_ge_mcid" in dsel:
        for s in at_mcid + target + priors:
            add("P(a dose is selected and its true effect \u2265 MCID)", s, "p_selected_ge_mcid")
    from .sequential import early_stop, is_sequential, stopping_rules

    if is_sequential(ds):
        every = null + at_mcid + target + priors
        cell = {k: v for k, v in sel0.items() if k in ds.dims and k not in ("scenario", "look")}
        for s in every:
            add("expected total sample size (patients randomised)", s, "expected_n", prob=False)
        for kind in stopping_rules(ds):  # no row for a rule the design does not have
            for s in every:
                p, m = early_stop(ds, cell, s, kind)
                # a probability: no simulated event prints the upper bound "< x (0 of N)"
                add(f"P(stop at an interim for {kind})", s, f"p_{kind}", value=(p, m))
        for var, what in (("bias", "bias of the estimate at stopping"),
                          ("bias_mue", "bias of the median-unbiased estimate at stopping")):
            if var in dsel:
                for s in every:
                    add(what, s, var, prob=False, value_digits=digits)
    from .adaptive import adaptive_kind, summary_items

    if adaptive_kind(ds) is not None:  # enrichment / multi-arm: docs/architecture.md
        cell = {k: v for k, v in sel0.items() if k in ds.dims and k not in ("scenario", "dose")}
        for it in summary_items(ds, cell, cfg, scenarios=null + at_mcid + target + priors):
            # a derived value ("value") has no oc.nc variable: no recorded bound is borrowed
            add(it["quantity"], it["scenario"], it.get("var", "_derived"), prob=it.get("prob", True),
                value=it.get("value"), value_digits=it.get("digits", digits))
    elif "expected_n" in dsel and not is_sequential(ds):
        for s in (null + at_mcid + target + priors)[:1]:
            add("expected total sample size (patients randomised)", s, "expected_n", prob=False)
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    rule = str(sim.provenance.get("decision_rule") or "").strip()
    head = {"design": str(cfg.get("name") or sim.name),
            "planned n per arm": fmt(n) if n is not None else "n/a",
            "other assumptions": ", ".join(f"{view.axis_name(k)} = {fmt(v)}" for k, v in view.fixed.items()
                                           if k != view.x_axis) or "none",
            "simulated trials per scenario": fmt(int(np.nanmax(np.ravel(ds["n_sims"].values))))
            if "n_sims" in ds else "n/a",
            "decision rule": rule or "not recorded"}
    if "n_max" in ds and n is not None:
        nm = _one(ds, "n_max", {k: v for k, v in sel0.items() if k in ds.dims})
        if np.isfinite(nm):
            head["maximum sample size (patients randomised)"] = f"{nm:g}"
    if ds.attrs.get("interims"):
        head["interim analyses"] = str(ds.attrs["interims"])
    ak = adaptive_kind(ds)
    if ak is not None and ak != "rar":  # RAR: compared with a separate fixed-allocation sim
        from .adaptive import comparator_text

        head["fixed comparator (paired on common random numbers)"] = comparator_text(ak, cfg)
    return df, head


def _tex(s: object) -> str:
    """Escape LaTeX's special characters (and write >=, <=, +- as math)."""
    out = str(s).replace("\\", "\x00")
    for a, b in (("{", r"\{"), ("}", r"\}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("~", r"\~{}"), ("^", r"\^{}")):
        out = out.replace(a, b)
    for a, b in (("\u2265", r"$\geq$"), ("\u2264", r"$\leq$"), ("\u00b1", r"$\pm$"),
                 ("\u2013", "--"), ("<", r"$<$"), (">", r"$>$")):
        out = out.replace(a, b)
    return out.replace("\x00", r"\textbackslash{}")


def latex_table(df: pd.DataFrame) -> str:
    """A plain LaTeX ``tabular`` (no packages needed) of ``df``, cells escaped."""
    cols = list(df.columns)
    lines = [f"\\begin{{tabular}}{{{'l' * len(cols)}}}", "\\hline",
             " & ".join(_tex(c) for c in cols) + " \\\\", "\\hline"]
    for _, r in df.iterrows():
        lines.append(" & ".join(_tex("" if pd.isna(r[c]) else r[c]) for c in cols) + " \\\\")
    lines += ["\\hline", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
