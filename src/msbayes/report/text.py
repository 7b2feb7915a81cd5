"""The "statistical considerations" text block, generated from the artefacts only.

Every number in the text is read from an artefact (summary.csv, oc.nc and its config text,
sample_size.csv, attrs); nothing is typed in here. The text is Markdown, for pasting into a
proposal, protocol or statistical analysis plan.

Examples
--------
>>> from msbayes.report.text import fmt
>>> fmt(0.81234, 3), fmt(60, 3), fmt(1.0, 2), fmt(-0.001, 2)
('0.812', '60', '1.00', '0.00')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..plots.style import effect_label, endpoint_label, metric_label, population_label
from .inputs import FitArtefacts, LinkCheck, SimArtefacts, effect_rows

__all__ = ["fmt", "statistical_considerations", "parse_config_text", "flatten", "oc_table",
           "SimView", "adaptive_paragraph", "rar_paragraph"]


def fmt(v: Any, digits: int = 3) -> str:
    """Format a number for the text: integers as integers, floats with ``digits`` decimals."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        txt = f"{float(v):.{digits}f}"
        return txt[1:] if txt.startswith("-") and float(txt) == 0 else txt  # no "-0.00"
    return str(v)


def parse_config_text(text: str | None) -> dict[str, Any]:
    """The config a sim artefact records (``config_text`` attr), parsed with the safe loader."""
    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys (lists kept as values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _val(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_val(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


class SimView:
    """What the report shows of one sim run: the slice of the grid and the axes used."""

    def __init__(self, sim: SimArtefacts, *, x_axis: str | None, fixed: dict[str, Any]):
        self.sim = sim
        self.x_axis = x_axis
        self.fixed = fixed

    def axis_name(self, name: str) -> str:
        """Plain name of a grid axis, with units (the config's ``labels:`` win)."""
        from ..plots.style import axis_label

        flat = flatten(parse_config_text(self.sim.provenance.get("config_text")))
        lab = parse_config_text(self.sim.provenance.get("config_text")).get("labels") or {}
        return axis_label(name, scale=flat.get("endpoint.scale"),
                          dose_unit=flat.get("design.dose_unit") or None,
                          overrides=lab if isinstance(lab, Mapping) else None)

    def slice_text(self) -> str:
        if not self.fixed:
            return ""
        return ", ".join(f"{self.axis_name(k)} = {fmt(v)}" for k, v in self.fixed.items())


def _scenario_kind_of(sim: SimArtefacts, name: str) -> str:
    """``fixed`` or ``design_prior`` as the simulation recorded it (oc.nc ``scenario_kind``)."""
    ds = sim.ds
    if "scenario_kind" in ds.coords and name in set(map(str, ds["scenario"].values)):
        return str(np.ravel(ds["scenario_kind"].sel(scenario=name).values)[0])
    return "fixed"


def _scenario_label_attr(sim: SimArtefacts, name: str) -> str:
    """What the simulation said about a design prior (oc.nc attr ``scenario_labels``)."""
    import json

    raw = sim.ds.attrs.get("scenario_labels")
    if not raw:
        return ""
    try:
        return str(json.loads(raw).get(name, "") or "")
    except (ValueError, TypeError, AttributeError):
        return ""


def oc_table(view: SimView, *, digits: int = 3) -> pd.DataFrame:
    """OC table at the view's slice: one row per scenario x n (x axis), value (MCSE) columns.

    Two-arm designs also get the decision boundary (the smallest observed effect that gives a
    go, ``go_boundary``) and, for design-prior scenarios, the assurance ceiling (P under the
    design prior that the true effect clears what a go needs as n grows)."""
    from .labels import fmt_mcse
    ds = view.sim.ds.sel(view.fixed) if view.fixed else view.sim.ds
    metrics = [m for m in ("p_go", "p_nogo", "p_consider", "p_reject", "p_correct_dose")
               if m in ds and set(ds[m].dims) <= {"scenario", view.x_axis}]
    rows = []
    xs = ds[view.x_axis].values if view.x_axis else [None]
    for s in ds["scenario"].values:
        for x in xs:
            sel = {"scenario": s} | ({view.x_axis: x} if view.x_axis else {})
            r: dict[str, Any] = {"scenario": str(s)}
            if "scenario_kind" in ds.coords:
                r["kind"] = str(np.ravel(ds["scenario_kind"].sel(scenario=s).values)[0])
            if "true_effect" in ds.coords:
                te = ds["true_effect"].sel({k: v for k, v in sel.items()
                                            if k in ds["true_effect"].dims})
                r["true effect"] = fmt(float(np.ravel(te.values)[0]), digits)
            if view.x_axis:
                r["n per arm" if view.x_axis == "design.n_per_arm" else view.x_axis] = fmt(x.item())
            for m in metrics:
                r[f"{metric_label(m)} (MCSE)"] = _oc_cell(ds, m, sel, digits)
            if "go_boundary" in ds and set(ds["go_boundary"].dims) <= set(sel) | {"scenario"}:
                gb = float(np.ravel(ds["go_boundary"].sel({k: v for k, v in sel.items()
                                                           if k in ds["go_boundary"].dims}).values)[0])
                r["go needs observed effect ≥"] = fmt(gb, digits) if np.isfinite(gb) else "n/a"
            if "assurance_ceiling" in ds and set(ds["assurance_ceiling"].dims) <= set(sel) | {"scenario"}:
                sub = {k: v for k, v in sel.items() if k in ds["assurance_ceiling"].dims}
                c = float(np.ravel(ds["assurance_ceiling"].sel(sub).values)[0])
                if np.isfinite(c) and r.get("kind", "") != "fixed":
                    cm = (float(np.ravel(ds["assurance_ceiling_mcse"].sel(sub).values)[0])
                          if "assurance_ceiling_mcse" in ds else float("nan"))
                    r["assurance ceiling (MCSE)"] = fmt(c, digits) + (f" ({fmt_mcse(cm, digits)})" if np.isfinite(cm) else "")
                else:
                    r["assurance ceiling (MCSE)"] = ""
            rows.append(r)
    return pd.DataFrame(rows)


def _oc_cell(ds, m: str, sel: Mapping[str, Any], digits: int) -> str:
    """``value (MCSE)``; with no (or only) events in the cell's simulations, a bound instead:
    ``< 0.001 (0 of 20000)`` (rule of three, or the upper bound oc.nc records as
    ``<metric>_upper``), never ``0.000 (0.000)``."""
    from .labels import fmt_mcse, fmt_prob

    v = float(ds[m].sel(sel).item())
    n = None
    if "n_sims" in ds:
        nv = ds["n_sims"].sel({k: x for k, x in sel.items() if k in ds["n_sims"].dims})
        n = float(np.ravel(nv.values)[0])
    if m.startswith("p_") and n and np.isfinite(v):
        up = lo = None
        for name in (f"{m}_upper", f"{m}_ub"):
            if name in ds:
                up = float(ds[name].sel({k: x for k, x in sel.items() if k in ds[name].dims}).item())
                break
        if f"{m}_lower" in ds:
            lo = float(ds[f"{m}_lower"].sel({k: x for k, x in sel.items() if k in ds[f"{m}_lower"].dims}).item())
        txt = fmt_prob(v, digits, n=n, upper=up, lower=lo)
        if txt[:1] in "<>":
            k = int(round(v * n))
            return f"{txt} ({k} of {int(n)})"
    txt = fmt(v, digits)
    mc = f"{m}_mcse"
    if mc in ds:
        txt += f" ({fmt_mcse(float(ds[mc].sel(sel).item()), digits)})"
    return txt


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in df.columns) + " |")
    return "\n".join(lines)


_RULE_WORDS = {
    "p_benefit": ("P(effect > 0)", "\u2265"),
    "p_mcid": ("P(effect > MCID)", "\u2265"),
    "p_mcid_below": ("P(effect > MCID)", "<"),
    "p_benefit_below": ("P(effect > 0)", "<"),
}


def _decision_text(dec: Mapping[str, Any]) -> str:
    parts = []
    rule = dec.get("rule")
    for outcome, crit in dec.items():
        if outcome == "rule":
            continue
        if isinstance(crit, Mapping):
            conds = []
            for k, v in crit.items():
                word, op = _RULE_WORDS.get(k, (k, "="))
                conds.append(f"{word} {op} {_val(v)}")
            parts.append(f"{outcome.replace('_', '-')} if " + " and ".join(conds))
        else:
            parts.append(f"{outcome} = {_val(crit)}")
    txt = "; ".join(parts) + ("; otherwise consider" if parts else "")
    return f"({rule}) {txt}" if rule else txt


def _interval_level(summary: pd.DataFrame) -> str:
    lo = [c for c in summary.columns if c.startswith("q") and c[1:].replace(".", "").isdigit()]
    vals = sorted(float(c[1:]) for c in lo)
    if len(vals) >= 2:
        return fmt(vals[-1] - vals[0], 0) if (vals[-1] - vals[0]).is_integer() else fmt(vals[-1] - vals[0], 1)
    return ""


def _prob(fit: FitArtefacts, r: Any, col: str, digits: int = 2) -> str:
    from .labels import fmt_prob, prob_n

    txt = fmt_prob(r[col], digits, n=prob_n(fit, r))
    return txt if txt[:1] in "<>" else f"= {txt}"


def _status_tag(st: str) -> str:
    return {"prediction": " [PREDICTION, no data]",
            "synthetic": " [SYNTHETIC data, not evidence]"}.get(str(st), "")


BORROWING_ANALYSES = ("with_borrowing", "without_borrowing")


def borrowing_statements(fit: FitArtefacts, s: pd.DataFrame,
                         primary: Mapping[str, str]) -> list[tuple[str, pd.DataFrame | None]]:
    """Per model: a sentence on the external evidence its primary analysis borrows, and the
    rows (primary prior) of the side-by-side analysis with the borrowing switched, if any
    (``sensitivity.csv`` rows with ``analysis`` ``with_borrowing`` / ``without_borrowing``)."""
    from .labels import borrowing_text

    if "borrowing" not in s:
        return []
    sens = fit.sensitivity
    out = []
    for m in dict.fromkeys(s["model"].astype(str)):
        g = s[s["model"] == m]
        bors = [b for b in dict.fromkeys(g["borrowing"].astype(str)) if b not in ("none", "nan", "")]
        alt = None
        if sens is not None and {"model", "analysis", "borrowing"} <= set(sens.columns):
            alt = sens[(sens["model"].astype(str) == m)
                       & sens["analysis"].astype(str).isin(BORROWING_ANALYSES)]
            if "prior" in alt and primary.get(m) in set(alt["prior"]):
                alt = alt[alt["prior"] == primary.get(m)]
            alt = alt if len(alt) else None
        alt_bor = ""
        if alt is not None:
            alt_bor = next((b for b in alt["borrowing"].astype(str) if b not in ("none", "nan", "")),
                           "none")
        if not bors:
            txt = f"The primary analysis of model {m} does not borrow external evidence"
            txt += (f"; a sensitivity analysis borrowing from {borrowing_text(alt_bor)} gives"
                    if alt is not None and alt_bor != "none" else ".")
        else:
            txt = (f"The primary analysis of model {m} BORROWS external evidence from "
                   f"{' and '.join(borrowing_text(b) for b in bors)} (its likelihood enters with "
                   "that power-prior weight, through the between-study hierarchy)")
            txt += ("; the same analysis without borrowing gives" if alt is not None else ".")
        out.append((txt, alt))
    return out


def _borrowing_lines(fit: FitArtefacts, s: pd.DataFrame, primary: Mapping[str, str],
                     lvl: str) -> list[str]:
    lines = []
    for txt, alt in borrowing_statements(fit, s, primary):
        if alt is None:
            lines.append(txt)
            continue
        pr = f" ({alt['prior'].iloc[0]} prior)" if "prior" in alt else ""
        lines.append(txt + pr + ":")
        for _, r in alt.iterrows():
            st = str(r.get("status", ""))
            where = f"- {endpoint_label(r['endpoint'])}, {population_label(r['population'])}"
            if st == "prediction":
                lines.append(f"{where}{_status_tag(st)}: {lvl}% predictive interval "
                             f"{fmt(r['q2.5'], 2)} to {fmt(r['q97.5'], 2)} (prediction from the "
                             "between-stratum model; no probability given).")
                continue
            mc = (f", P(effect > MCID) {_prob(fit, r, 'p_mcid')}"
                  if "p_mcid" in r and pd.notna(r["p_mcid"]) else "")
            lines.append(f"{where}{_status_tag(st)}: mean {fmt(r['mean'], 2)} ({lvl}% CrI "
                         f"{fmt(r['q2.5'], 2)} to {fmt(r['q97.5'], 2)}), P(benefit) "
                         f"{_prob(fit, r, 'p_benefit')}{mc}.")
    return lines


def _fit_section(fit: FitArtefacts, primary: Mapping[str, str],
                 dropped_synthetic: Sequence[str] = ()) -> list[str]:
    from .labels import endpoint_mcid_note

    s = effect_rows(fit.summary)
    out = ["## Re-analysis of the previous trial", ""]
    if dropped_synthetic:
        out += [f"Model(s) {', '.join(dropped_synthetic)} fitted to synthetic patient-level data "
                "are not reported here: synthetic data are not evidence.", ""]
    if s.empty:
        return out
    lvl = _interval_level(s)
    models = list(dict.fromkeys(s["model"]))
    priors = list(dict.fromkeys(s["prior"]))
    out.append(f"Bayesian re-analysis (models: {', '.join(models)}; priors: "
               f"{', '.join(priors)}). Posterior summaries are means with {lvl}% credible "
               "intervals (CrI); P(benefit) = P(effect > 0). Probabilities estimated as 0 or 1 "
               "from the posterior draws are given as bounds (rule of three on the effective "
               "sample size).")
    mc = fit.meta.get("mcid") if isinstance(fit.meta.get("mcid"), Mapping) else {}
    src = endpoint_mcid_note(s)
    if mc:
        from ..fit.summarize import mcid_source

        for k, v in mc.items():  # endpoints of the fit without a row here: the documented source
            if k not in src and isinstance(v, (int, float)):
                src[k] = mcid_source(k, scale="log", mcid=float(v))
        out.append("MCIDs on the analysis scale (fit_meta.json): "
                   + "; ".join(f"{endpoint_label(k)} {fmt(v, 4)}"
                               + (f" ({src[k]})" if src.get(k) else "")
                               for k, v in mc.items() if isinstance(v, (int, float))) + ".")
    elif src:
        out.append("MCID sources: " + "; ".join(f"{endpoint_label(k)}: {v}"
                                                for k, v in src.items()) + ".")
    out += _borrowing_lines(fit, s, primary, lvl)
    out.append("")
    for model in models:
        prior = primary.get(model, "")
        sub = s[(s["model"] == model) & (s["prior"] == prior)]
        if sub.empty:
            continue
        synthetic = (sub["status"] == "synthetic").any()
        head = f"**Model {model}, {prior} prior.**"
        if synthetic:
            head += (" SYNTHETIC DATA: this model is fitted to synthetic patient-level data; its "
                     "results illustrate the method and are not evidence about the therapy.")
        out.append(head)
        for _, r in sub.iterrows():
            st = str(r["status"])
            where = (f"- {endpoint_label(r['endpoint'])}, {population_label(r['population'])} "
                     f"[{effect_label(r['scale'])}]")
            if st == "prediction":
                out.append(
                    f"{where}: PREDICTION, not an estimate: no results were reported for this "
                    "stratum, so its effect is a prediction from the between-stratum model "
                    f"({lvl}% predictive interval {fmt(r['q2.5'], 2)} to {fmt(r['q97.5'], 2)}); "
                    "no probability of benefit or of exceeding the MCID is given.")
                continue
            mcid_txt = (f", P(effect > MCID) {_prob(fit, r, 'p_mcid')}"
                        if pd.notna(r["p_mcid"]) else "")
            out.append(
                f"{where}:{_status_tag(st)} mean {fmt(r['mean'], 2)} ({lvl}% CrI "
                f"{fmt(r['q2.5'], 2)} to {fmt(r['q97.5'], 2)}), P(benefit) "
                f"{_prob(fit, r, 'p_benefit')}{mcid_txt}.")
        out.append("")
    # prior sensitivity
    sens_lines = []
    for model in models:
        ms = s[s["model"] == model]
        if ms["prior"].nunique() < 2:
            continue
        pri = list(dict.fromkeys(ms["prior"]))
        for (ep, pop, sc), g in ms.groupby(["endpoint", "population", "scale"], sort=False):
            g = g.set_index("prior").reindex(pri)
            st = str(g["status"].dropna().iloc[0]) if g["status"].notna().any() else ""
            head = f"- {model}, {endpoint_label(ep)}, {population_label(pop)}{_status_tag(st)}: "
            if st == "prediction":
                sens_lines.append(
                    head + f"{lvl}% predictive interval "
                    + " / ".join(f"{fmt(a, 2)} to {fmt(b, 2)}" for a, b in zip(g["q2.5"], g["q97.5"]))
                    + f" under the {' / '.join(pri)} priors (prediction from the between-stratum "
                    "model; no probability given).")
                continue
            sens_lines.append(
                head + "posterior mean "
                + " / ".join(fmt(v, 2) for v in g["mean"]) + "; P(benefit) "
                + " / ".join(_prob(fit, r, "p_benefit").removeprefix("= ")
                             for _, r in g.iterrows())
                + f" under the {' / '.join(pri)} priors.")
    if sens_lines:
        out += ["**Prior sensitivity.**", *sens_lines, ""]
    # diagnostics
    diag = []
    if "r_hat" in s:
        diag.append(f"largest R-hat {fmt(s['r_hat'].max(), 3)}")
    if "ess_bulk" in s:
        diag.append(f"smallest bulk ESS {fmt(int(np.floor(s['ess_bulk'].min())))}")
    if "n_divergences" in s:
        diag.append(f"divergent transitions {fmt(int(s['n_divergences'].sum()))}")
    bad = s[s["diagnostics_ok"].astype(str).str.lower() == "false"] if "diagnostics_ok" in s else s.iloc[:0]
    line = "**MCMC diagnostics:** " + ", ".join(diag) + "."
    if len(bad):
        line += (" WARNING: estimands failing the diagnostics gate: "
                 + "; ".join(f"{r.model}/{r.prior}/{r.endpoint}/{r.population}"
                             for r in bad.itertuples()) + ".")
    out += [line, ""]
    return out


def _sim_section(view: SimView, link: LinkCheck, fit: FitArtefacts | None,
                 primary: Mapping[str, str]) -> list[str]:
    sim = view.sim
    cfg = parse_config_text(sim.provenance.get("config_text"))
    flat = flatten({k: v for k, v in cfg.items() if k not in ("scenarios", "grid", "decision")})
    name = cfg.get("name", sim.name)
    out = [f"## Next-trial design: {name}", ""]
    des = cfg.get("design", {}) if isinstance(cfg.get("design"), Mapping) else {}
    bits = []
    if des.get("type"):
        bits.append(f"design type {des['type']}")
    if des.get("arms"):
        bits.append(f"arms {_val(des['arms'])}")
    if des.get("doses"):
        bits.append(f"doses {_val(des['doses'])}")
    if des.get("allocation"):
        bits.append("allocation " + ":".join(_val(a) for a in des["allocation"]))
    ana = cfg.get("analysis", {}) if isinstance(cfg.get("analysis"), Mapping) else {}
    if ana.get("method"):
        bits.append(f"analysis {ana['method']}")
    if bits:
        out.append("**Design.** " + "; ".join(bits) + ".")
    grid_axes = [d for d in sim.ds.dims if d not in ("scenario", "dose", "look")]
    if grid_axes:
        gtxt = "; ".join(f"{d} in {{{', '.join(fmt(v.item()) for v in sim.ds[d].values)}}}"
                         for d in grid_axes)
        out.append(f"Grid of designs and assumptions: {gtxt}; scenarios: "
                   f"{', '.join(map(str, sim.ds['scenario'].values))}.")
    if "n_sims" in sim.ds:
        ns = np.asarray(sim.ds["n_sims"].values).ravel()
        nt = fmt(int(ns.min())) if ns.min() == ns.max() else f"{fmt(int(ns.min()))}\u2013{fmt(int(ns.max()))}"
        out.append(f"Simulated trials per grid cell: {nt} (seed {fmt(sim.provenance.get('seed'))});"
                   " Monte Carlo standard errors (MCSE) are given with every operating characteristic.")
    out.append("")
    # assumptions with sources
    # provenance once, as a footnote (marked †), not the hash on every row
    cfg_src = f"config of sim {sim.name}†"
    foot = (f"† Config of sim {sim.name}: sha256 "
            f"{str(sim.provenance.get('config_sha256', ''))[:12]}, seed "
            f"{fmt(sim.provenance.get('seed'))}, recorded in its oc.nc.")
    rows = []
    for k, v in flat.items():
        if k in ("name", "seed") or k.startswith(("simulation.", "design.type", "design.arms",
                                                   "analysis.method")):
            continue
        if k in sim.ds.dims:
            v = f"{_val(v)} (grid: {', '.join(fmt(x.item()) for x in sim.ds[k].values)})"
        rows.append({"assumption": k, "value": _val(v), "source": f"`{k}` in {cfg_src}"})
    scen = cfg.get("scenarios") or {}
    if isinstance(scen, list):  # list form: [{name: ..., ...}, ...]
        scen = {str(x.get("name")): {k: v for k, v in x.items() if k != "name"}
                for x in scen if isinstance(x, Mapping)}
    for sname, spec in scen.items():
        sname = "null" if sname is None else str(sname)  # YAML reads a bare `null:` key as None
        if isinstance(spec, Mapping) and "from_fit" in spec:
            src = f"re-analysis posterior `{spec.get('from_fit')}`"
            if link.status == "match":
                src += f" (sha256 {str(sim.provenance.get('fit_posterior_sha256'))[:12]}, verified)"
            elif link.status == "mismatch":
                src += " (MISMATCH: not the fit in this report)"
            desc = ", ".join(f"{k} {v}" for k, v in spec.items() if k != "from_fit")
            if fit is not None and link.status == "match":
                m = fit.summary
                hit = m[(m["model"] == spec.get("model")) & (m["prior"] == spec.get("prior"))
                        & (m["endpoint"] == spec.get("endpoint"))
                        & (m["population"] == spec.get("population"))]
                if len(hit):
                    r = hit.iloc[0]
                    desc += (f"; posterior mean {fmt(r['mean'], 2)} ({_interval_level(m)}% CrI "
                             f"{fmt(r['q2.5'], 2)} to {fmt(r['q97.5'], 2)})")
                    st = str(r.get("status", ""))
                    if st == "prediction":
                        desc += ("; PREDICTION (no data for this stratum: the design prior is the "
                                 "between-stratum model's prediction)")
                    elif st == "synthetic":
                        desc += "; SYNTHETIC data (not evidence)"
                    if str(r.get("borrowing", "none")) not in ("none", "nan", ""):
                        from .labels import borrowing_text

                        desc += f"; borrows from {borrowing_text(r['borrowing'])}"
            extra = _scenario_label_attr(sim, sname)
            if extra:  # e.g. "no effect in unreported strata [...]" (oc.nc attr scenario_labels)
                desc += f"; {extra}"
            rows.append({"assumption": f"scenario {sname} (design prior)", "value": desc,
                         "source": src})
        elif isinstance(spec, Mapping):
            kind = _scenario_kind_of(sim, sname)
            rows.append({"assumption": f"scenario {sname} ({'design prior' if kind == 'design_prior' else 'fixed'})",
                         "value": ", ".join(f"{k} {_val(v)}" for k, v in spec.items()),
                         "source": f"`scenarios.{sname}` in {cfg_src}"})
    if rows:
        out += ["**Assumptions and their sources.**", "", _md_table(pd.DataFrame(rows)), "",
                foot, ""]
    if isinstance(cfg.get("decision"), Mapping):
        out += [f"**Decision rule.** {_decision_text(cfg['decision'])} (`decision` in {cfg_src}).", ""]
    if sim.provenance.get("decision_rule"):  # as simulated, with its alpha (oc.nc attrs)
        out += [f"**Decision rule as simulated** (oc.nc `decision_rule`): {sim.provenance['decision_rule']}.", ""]
    out += interim_paragraph(cfg, sim.ds)
    out += adaptive_paragraph(cfg, sim.ds)
    # OC table
    ttl = "**Operating characteristics**"
    if view.slice_text():
        ttl += f" (at {view.slice_text()})"
    out += [ttl + "; value (MCSE):", "", _md_table(oc_table(view)), ""]
    from .summary import oc_summary  # summary imports this module

    summ, head = oc_summary(view)
    if len(summ):
        out += [f"**Operating-characteristics summary** (planned n per arm "
                f"{head.get('planned n per arm', 'n/a')}; value (MCSE)):", "",
                _md_table(summ[["quantity", "scenario", "printed"]].rename(
                    columns={"printed": "value (MCSE)"})), ""]
    ds_ = sim.ds
    if "assurance_ceiling" in ds_ and "ceiling_threshold" in ds_:
        thr = np.ravel(ds_["ceiling_threshold"].values)
        thr = thr[np.isfinite(thr)]
        if thr.size:
            out += [f"**Decision boundary and assurance ceiling.** A go needs the observed effect to reach the "
                    f"boundary in the table at each n; as n grows, a go needs the true effect to exceed "
                    f"{fmt(float(thr.max()))}, so assurance cannot exceed the ceiling: the design-prior "
                    f"probability of that. A target assurance above the ceiling is out of reach at any sample size.", ""]
    ss = sim.sample_size
    if ss is not None and len(ss):
        from msbayes.grid.search import FIRST_COLUMNS  # the sample_size.csv contract

        extra = [c for c in ss.columns if c not in FIRST_COLUMNS]
        out.append("**Sample size.** Smallest n per arm meeting each target:")
        for _, r in ss.iterrows():
            at = ", ".join(f"{c} = {fmt(r[c])}" for c in extra if pd.notna(r[c]))
            reached = str(r.get("reached", True)).lower() not in ("false", "0")
            if pd.isna(r["n_per_arm"]):
                best = (f"; best value reached {fmt(r['achieved'], 3)} (MCSE {fmt(r['achieved_mcse'], 4)})"
                        + (f" at n = {fmt(int(r['best_n']))} per arm" if pd.notna(r.get("best_n")) else "")
                        if pd.notna(r.get("achieved")) else "")
                ceil = (f"; as n grows the metric tends to {fmt(r['ceiling'], 3)}"
                        + (f" ({r['ceiling_note']})" if pd.notna(r.get("ceiling_note")) and str(r.get("ceiling_note")) else "")
                        + (", below the target: no sample size reaches it"
                           if float(r["ceiling"]) < float(r["target"]) else "")
                        if pd.notna(r.get("ceiling")) else "")
                out.append(f"- scenario {r['scenario']}, {r['metric']} \u2265 "
                           f"{fmt(r['target'], 2)}: target NOT REACHED up to the largest n searched"
                           + (f" (n_max = {fmt(int(r['n_max']))})" if pd.notna(r.get("n_max")) else "")
                           + best + ceil + (f" at {at}" if at else "") + ".")
                continue
            head = "n = " if reached else "NOT REACHED; largest n tried = "
            out.append(f"- scenario {r['scenario']}, {r['metric']} \u2265 {fmt(r['target'], 2)}: "
                       f"{head}{fmt(int(r['n_per_arm']))} per arm (achieved {fmt(r['achieved'], 3)}, "
                       f"MCSE {fmt(r['achieved_mcse'], 4)})" + (f" at {at}" if at else "") + "."
                       + (" WARNING: the metric was not monotone in n at the evaluated sample "
                          "sizes, so this may not be the smallest n meeting the target."
                          if str(r.get("monotone", True)).lower() in ("false", "0") else ""))
        out.append("")
    if link.status == "mismatch":
        out += [f"WARNING: {link.message}", ""]
    return out


_SPENDING = {"obf": "Lan-DeMets O'Brien-Fleming-type", "pocock": "Lan-DeMets Pocock-type",
             "hsd": "Hwang-Shih-DeCani", "kd": "Kim-DeMets power", "user": "user-given"}


def _g(v: Any) -> str:
    """A config number as written (``4.0`` -> ``4``, ``0.025`` -> ``0.025``)."""
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def _exact(v: Any) -> str:
    """A config threshold exactly as given (shortest round-trip form: 0.99874, not 0.999)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return repr(x).removesuffix(".0") if np.isfinite(x) else str(v)


def _boundary_words(b: Any, *, error: str) -> str:
    """One boundary of ``interims`` (efficacy or futility) in words."""
    if b in (None, "none") or not isinstance(b, Mapping):
        return "none"
    if b.get("spending"):
        sp = str(b["spending"])
        extra = (f" (gamma {_g(b['gamma'])})" if sp == "hsd" and "gamma" in b else
                 f" (rho {_g(b['rho'])})" if sp == "kd" and "rho" in b else
                 f" (cumulative {', '.join(_g(v) for v in b.get('values') or [])})"
                 if sp == "user" else "")
        return f"{_SPENDING.get(sp, sp)} {error} spending{extra}"
    if b.get("wang_tsiatis") is not None:
        return f"Wang-Tsiatis bounds (delta {_g(b['wang_tsiatis'])})"
    if b.get("z") is not None:
        return "fixed z bounds " + ", ".join(_exact(v) for v in b["z"])
    if b.get("conditional_power") is not None:
        return (f"conditional power below {_exact(b['conditional_power'])} (assuming the "
                f"{'observed trend' if b.get('assume') == 'trend' else 'design effect'})")
    for k, words in (("p_benefit", "posterior P(effect > 0) at least"),
                     ("p_mcid_below", "posterior P(effect > MCID) below"),
                     ("predictive_below", "predictive probability of final success below")):
        if b.get(k) is not None:
            v = b[k]
            return f"{words} {', '.join(_exact(x) for x in v) if isinstance(v, list) else _exact(v)}"
    return "as configured"


def interim_paragraph(cfg: Mapping[str, Any], ds: Any) -> list[str]:
    """The interim rule in words (looks, timing, spending functions, binding or not) and what
    is simulated versus computed; empty for a design without ``interims``."""
    spec = cfg.get("interims")
    if not isinstance(spec, Mapping) or "look" not in getattr(ds, "dims", {}):
        return []
    looks = [float(x) for x in spec.get("looks") or []]
    k = len(looks)
    rule = str(spec.get("rule", "group_sequential"))
    ana = cfg.get("analysis") if isinstance(cfg.get("analysis"), Mapping) else {}
    parts = [f"**Interim analyses.** {k} analyses: {k - 1} interim "
             f"analys{'i' if k - 1 == 1 else 'e'}s at "
             + ", ".join(f"{100 * f:.0f}%" for f in looks[:-1])
             + " of the final analysis's information and the final analysis at 100%."]
    acc = spec.get("accrual") if isinstance(spec.get("accrual"), Mapping) else None
    if str(spec.get("timing", "information")) == "accrual" and acc:
        parts.append(f"Looks are timed by recruitment ({_g(acc.get('rate'))} patients a month, "
                     f"{_g(acc.get('follow_up'))} months to the primary endpoint): patients "
                     "randomised but still in follow-up when the trial stops count in its "
                     "sample size.")
    else:
        parts.append("Look k analyses the first share of the patients with their endpoint; "
                     "nobody is in follow-up when the trial stops.")
    eff = _boundary_words(spec.get("efficacy"), error="alpha")
    fut = _boundary_words(spec.get("futility"), error="beta")
    des0 = cfg.get("design") if isinstance(cfg.get("design"), Mapping) else {}
    drop = spec.get("drop_doses") if isinstance(spec.get("drop_doses"), Mapping) else None
    if drop:
        crit = (f"the flat-prior posterior P(effect > MCID) is below {_g(drop['p_mcid_below'])}"
                if drop.get("p_mcid_below") is not None else
                f"its z statistic against placebo is below {_g(drop.get('z_below'))}")
        fut_rule = _boundary_words(spec.get("futility"), error="beta") != "none"
        parts.append(f"At an interim a dose arm is dropped when {crit}; the trial stops for "
                     + ("futility when every dose is dropped, and by the futility rule below."
                        if fut_rule else "futility only if every dose is dropped."))
    if str(des0.get("type", "")) == "dose_finding":
        parts.append("Early stop for efficacy: " + ("none" if eff == "none" else eff)
                     + "; for futility: " + ("none besides dropping every dose" if fut == "none"
                                             else fut)
                     + "; the final analysis is "
                     + {"mcpmod": "MCP-Mod", "bayes_emax": "the Bayesian Emax model"}.get(
                         str(ana.get("method")), str(ana.get("method", "the design's analysis")))
                     + " on all stages of the arms kept.")
    elif rule == "group_sequential":
        alpha = ana.get("alpha")
        stat = "Welch t statistic (through its p-value)" if spec.get("statistic", "t") == "t" \
            else "z statistic"
        parts.append(f"Rule: a group-sequential test on the {stat}; efficacy bound: {eff}"
                     + (f" (one-sided alpha {_g(alpha)})" if alpha is not None and eff != "none"
                        else "")
                     + f"; futility bound: {fut}"
                     + (f" (beta {_g(spec.get('beta', 0.2))})" if "spending" in fut else "")
                     + ".")
        if fut != "none":
            parts.append(
                "The futility bound is BINDING: the efficacy bounds assume the trial always "
                "stops when futility is crossed." if spec.get("binding") else
                "The futility bound is non-binding: the efficacy bounds are computed as if "
                "there were no futility stop, so the type I error is controlled even if a "
                "futility stop is overruled.")
    else:
        parts.append(f"Rule: Bayesian; stop for efficacy at an interim if {eff}; for futility "
                     f"if {fut}; the final analysis uses the decision rule below.")
    if getattr(ds, "attrs", {}).get("interims"):
        parts.append(f"As simulated (oc.nc `interims`): {ds.attrs['interims']}.")
    des = cfg.get("design") if isinstance(cfg.get("design"), Mapping) else {}
    n = des.get("n_per_arm")
    if ("design.n_per_arm" in ds.dims and isinstance(n, (int, float))
            and np.any(np.isclose(ds["design.n_per_arm"].values, n))):
        cell = ds.sel({"design.n_per_arm": ds["design.n_per_arm"].values[
            np.isclose(ds["design.n_per_arm"].values, n)][0]})
        looks_txt = []
        for i in range(cell.sizes["look"] - 1):
            bits = []
            for var, unit in (("n_analysed_at_look", "patients analysed"),
                              ("n_randomised_at_look", "randomised"),
                              ("time_at_look", "months after the first randomisation")):
                if var in cell:
                    v = float(np.ravel(cell[var].isel(look=i).values)[0])
                    if np.isfinite(v):
                        bits.append(f"{v:.0f} {unit}")
            if bits:
                looks_txt.append(f"interim {i + 1} at " + ", ".join(bits))
        if looks_txt:
            parts.append(f"At the planned maximum of {_g(n)} patients per arm: "
                         + "; ".join(looks_txt) + " (expected).")
    computed = ("The stopping bounds (z scale and the observed effect needed at the planned "
                "standard error) are computed from the rule, not simulated; the stopping "
                if "bound_efficacy_z" in getattr(ds, "data_vars", {}) else "The stopping ")
    has_mue = "bias_mue" in getattr(ds, "data_vars", {})
    has_dur = "expected_duration" in getattr(ds, "data_vars", {})
    parts.append(computed + "probabilities per look, P(go), the expected number of patients"
                 + (" and duration" if has_dur else "") + ", and the bias of the naive estimate"
                 + (" and of the median-unbiased estimate" if has_mue else "")
                 + " at stopping are simulated, each with its Monte Carlo standard error.")
    return [" ".join(parts), ""]


_MEASURE_WORDS = {"estimate": "estimated treatment effect", "z": "z statistic",
                  "posterior_probability": "posterior probability of benefit, P(effect > 0 | "
                                           "first-stage data)",
                  "predictive_probability": "predictive probability that its final analysis "
                                            "succeeds if all remaining patients enrol in it"}
_INTERSECTION_WORDS = {
    "spiessens_debois": "the Spiessens-Debois test (the larger of the correlated z statistics "
                        "of the sub-population and the full population, with their correlation "
                        "from the share of the sub-population's information)",
    "dunnett": "Dunnett's many-to-one test (the largest of the doses' z statistics, correlated "
               "through the shared placebo arm)",
    "bonferroni": "the Bonferroni test", "simes": "the Simes test", "sidak": "the Sidak test"}
_EFFICACY_WORDS = {"obf": "O'Brien-Fleming-type", "pocock": "Pocock-type"}


def _selection_words(sel: Mapping[str, Any], *, what: str, unit_of: str) -> str:
    """The interim selection rule in words (``what``: "population" / "dose")."""
    rule = str(sel.get("rule", "best"))
    measure = _MEASURE_WORDS.get(str(sel.get("measure", "estimate")),
                                 str(sel.get("measure", "estimate")))
    if rule == "best":
        txt = f"the {what} with the largest {measure} is kept"
    elif rule == "r_best":
        txt = f"the {_g(sel.get('r', 1))} {what}s with the largest {measure} are kept"
    elif rule == "epsilon":
        txt = (f"every {what} whose {measure} is within {_g(sel.get('epsilon', 0))} of the "
               f"largest is kept (so several can be kept when they are close)")
    elif rule == "all":
        txt = f"every {what} is kept"
    else:
        txt = f"{what}s are kept by the rule {rule} on the {measure}"
    pr = sel.get("prior")
    if str(sel.get("measure")) in ("posterior_probability", "predictive_probability"):
        txt += (f" (normal prior mean {_g(pr.get('mean'))}, SD {_g(pr.get('sd'))})"
                if isinstance(pr, Mapping) else " (flat prior)")
    if sel.get("threshold") is not None:
        txt += (f"; a {what} whose {measure} is at or below {_g(sel['threshold'])} is dropped, "
                "and the trial stops for futility when none is left")
    if sel.get("candidates"):
        txt += f"; eligible {unit_of}: {_val(sel['candidates'])}"
    return txt


def adaptive_paragraph(cfg: Mapping[str, Any], ds: Any = None) -> list[str]:
    """The adaptive rule of an enrichment or multi-arm design in words: stages, selection
    rule and threshold, final test and intersection test, strong FWER control (closed test)
    or "simulated, not guaranteed" (Bayesian final rule), prevalences and whether stratum
    counts are random, and the paired fixed comparator; empty for other designs.

    >>> cfg = {"design": {"type": "multi_arm", "doses": [0, 3, 6], "n_per_arm": 60,
    ...                   "selection": {"rule": "best"}, "final": {"intersection": "dunnett"}}}
    >>> "strong sense" in adaptive_paragraph(cfg)[0]
    True
    """
    des = cfg.get("design") if isinstance(cfg.get("design"), Mapping) else {}
    typ = str(des.get("type", ""))
    if typ == "rar":
        return rar_paragraph(cfg)
    if typ not in ("enrichment", "multi_arm"):
        return []
    from ..plots.style import population_label

    looks = [float(x) for x in des.get("looks") or [0.5, 1.0]]
    k = len(looks)
    n = des.get("n_per_arm")
    sel = des.get("selection") if isinstance(des.get("selection"), Mapping) else {}
    fin = des.get("final") if isinstance(des.get("final"), Mapping) else {}
    method = str(fin.get("method", "closed_combination"))
    alpha = fin.get("alpha", 0.025)
    stages = (f"{k} stages: interim analys{'i' if k == 2 else 'e'}s after "
              + ", ".join(f"{100 * f:.0f}%" for f in looks[:-1])
              + f" of the maximum {_g(n)} patients per arm, and the final analysis at 100%.")
    parts = []
    if typ == "enrichment":
        strata = {str(a): b for a, b in (des.get("strata") or {}).items()}
        sub = str(des.get("subpopulation") or "")
        rest = next((x for x in strata if x != sub), "")
        S, R = population_label(sub), population_label(rest)
        counts = str(des.get("counts", "multinomial"))
        parts.append(f"**Adaptive enrichment.** {stages}")
        parts.append(
            f"Patients come from two strata, {S} (prevalence {_g(strata.get(sub))}) and {R} "
            f"(prevalence {_g(strata.get(rest))}); the number from each stratum in a stage is "
            + ("random (multinomial with these prevalences)." if counts == "multinomial"
               else "fixed at prevalence x stage size."))
        parts.append(
            f"The first stage enrols all comers. At the interim the populations {S} (S) and "
            f"all patients (F) compete: {_selection_words(sel, what='population', unit_of='populations')}. "
            f"The remaining patients are randomised in {S} only when only S is kept, otherwise "
            "across both strata.")
        hyp = (f"The final analysis tests H_S (no effect in {S}) and H_F (no effect in all "
               "patients, the prevalence-weighted mean of the stratum effects)")
    else:
        doses = [d for d in (des.get("doses") or [])][1:]
        unit = str(des.get("dose_unit") or "")
        ratio = des.get("allocation_ratio", 1)
        parts.append(f"**Adaptive dose selection.** {stages}")
        parts.append(
            f"Placebo and {len(doses)} doses ({_val(doses)}{' ' + unit if unit else ''}); "
            f"allocation dose : placebo {_g(ratio)} : 1 in every stage. At the interim "
            f"{_selection_words(sel, what='dose', unit_of='doses')}; dropped doses stop "
            "enrolling and the kept doses continue with placebo.")
        hyp = ("The final analysis tests, for every dose, H_g (no effect of dose g against "
               "placebo)")
    if method == "bayesian_shrinkage":
        parts.append(
            f"{hyp} by a Bayesian rule: H_P is rejected when P(effect in P > 0 | all data) > "
            f"{_g(fin.get('cutoff', 0.975))}, with stratum effects normal around a common mean "
            f"(between-stratum SD {_g(fin.get('tau', 0.1))}, fixed). Its family-wise error rate "
            "(FWER) is simulated, not guaranteed: the rule does not control it by construction.")
    else:
        inter = str(fin.get("intersection", "spiessens_debois" if typ == "enrichment"
                              else "dunnett"))
        eff = str(fin.get("efficacy", "none"))
        parts.append(
            f"{hyp} by a closed combination test: the stage-wise one-sided p-values are combined "
            "by the inverse normal method (weights from the planned stage sizes), every "
            f"intersection hypothesis is tested by {_INTERSECTION_WORDS.get(inter, inter)}, and a "
            f"hypothesis is rejected at one-sided alpha {_g(alpha)} when every intersection "
            "containing it is rejected. This controls the family-wise error rate (FWER) in "
            "the strong sense whatever the selection at the interim; the simulation checks it.")
        parts.append("The interims serve selection only (no early stop for efficacy)."
                     if eff == "none" else
                     f"The trial can stop early for efficacy ({_EFFICACY_WORDS.get(eff, eff)} "
                     "bounds on the combination statistic; it stops when "
                     + ("at least one selected hypothesis is rejected)."
                        if fin.get("success") == "at_least_one"
                        else "all selected hypotheses are rejected)."))
    parts.append(
        "A go is at least one hypothesis rejected. Every simulated trial is paired, on common "
        "random numbers (the same true effects and first-stage data), with "
        + ("the fixed all-comers two-arm trial with the same maximum n per arm"
           if typ == "enrichment" else
           "the fixed design that keeps all doses to the end with the same maximum n per arm")
        + "; the report gives P(go) of both and their paired difference with its Monte Carlo "
        "standard error, the FWER in every scenario with a true null hypothesis, and the "
        "expected number randomised by " + ("stratum." if typ == "enrichment" else "arm."))
    return [" ".join(parts), ""]


def statistical_considerations(
    fit: FitArtefacts | None,
    views: Sequence[SimView],
    links: Sequence[LinkCheck],
    *,
    primary: Mapping[str, str],
    dropped_synthetic: Sequence[str] = (),
) -> str:
    """Markdown text: re-analysis, design, assumptions with sources, decision rule, OCs.

    Parameters
    ----------
    fit : FitArtefacts or None
    views : sequence of SimView
        One per sim dir, with the grid slice the report shows.
    links : sequence of LinkCheck
        The fit-sim link check of each view.
    primary : mapping model -> prior
        The prior whose results are quoted for each model.
    dropped_synthetic : sequence of str
        Models left out because they were fitted to synthetic data (named, without numbers).
    """
    out = ["# Statistical considerations", ""]
    if fit is not None:
        out += _fit_section(fit, primary, dropped_synthetic)
    for v, link in zip(views, links):
        out += _sim_section(v, link, fit, primary)
    return "\n".join(out).rstrip() + "\n"



def _q(x: Any) -> str:
    """A threshold exactly as configured (no rounding)."""
    return str(x)


def rar_paragraph(cfg: Mapping[str, Any]) -> list[str]:
    """A response-adaptive randomisation design (``design.type: rar``) in words: looks,
    allocation rule (tempering power, floor and cap, the control's share), stopping rules
    with their thresholds exactly as configured, the final test, that the type I error is
    simulated (calibrated), not guaranteed by construction, and what the IDP means.

    >>> cfg = {"design": {"type": "rar", "doses": [0, 3, 6], "n_per_arm": 60,
    ...                   "stopping": {"superiority": 0.99649}}}
    >>> "0.99649" in rar_paragraph(cfg)[0]
    True
    """
    des = cfg.get("design") if isinstance(cfg.get("design"), Mapping) else {}
    if str(des.get("type", "")) != "rar":
        return []
    arms = des.get("arms") or des.get("doses") or []
    n_arms = len(arms)
    n = des.get("n_per_arm")
    nmax = n * n_arms if isinstance(n, int) and n_arms else None
    unit = str(des.get("dose_unit") or "")
    if des.get("arms"):
        arm_txt = (f"{n_arms} arms ({arms[0]} as the control, then "
                   + ", ".join(map(str, arms[1:])) + ")")
    else:
        arm_txt = (f"{n_arms} arms (control dose {_g(arms[0])}, then doses "
                   + ", ".join(_g(d) for d in arms[1:]) + (f" {unit}" if unit else "") + ")"
                   if arms else "its arms")
    if des.get("looks_n"):
        looks = "at total sample sizes " + ", ".join(_g(x) for x in des["looks_n"])
    elif des.get("block_sizes"):
        looks = "after blocks of " + ", ".join(_g(x) for x in des["block_sizes"]) + " patients"
    else:
        fr = [float(x) for x in des.get("looks") or [0.25, 0.5, 0.75, 1.0]]
        looks = ("after " + ", ".join(f"{100 * f:g}%" for f in fr) + " of the maximum"
                 + (f" ({', '.join(_g(round(f * nmax)) for f in fr)} patients)" if nmax else ""))
    al = des.get("allocation") if isinstance(des.get("allocation"), Mapping) else {}
    adaptive = al.get("adaptive", True) is not False
    power = al.get("power", 0.5)
    floor = al.get("min_allocation", 0.05)
    cap = al.get("max_allocation")
    ctrl = str(al.get("control_allocation", "fixed"))
    share = al.get("control_share", 0.25)
    ctrl_txt = {"fixed": f"the control keeps a fixed share of {_q(share)} of every block",
                "sqrt": "the control's share is sqrt(k) / (k + sqrt(k)) with k the number of "
                        "active doses (the square-root rule)",
                "match": "the control's share matches the largest dose share",
                "thompson": "the control competes for allocation like a dose"}.get(ctrl, ctrl)
    if adaptive:
        alloc = ("Allocation is response-adaptive (Thompson-type): after each look, each "
                 f"competing arm's share is proportional to its posterior probability of being "
                 f"the best arm raised to the power {_q(power)} (tempering; 0 = equal split), "
                 f"with a floor of {_q(floor)}"
                 + (f" and a cap of {_q(cap)}" if cap is not None else " and no cap")
                 + f" per arm; {ctrl_txt}.")
    else:
        alloc = ("Allocation is fixed: every block is split at the starting shares with "
                 "deterministic counts (the fixed-allocation comparator).")
    st = des.get("stopping") if isinstance(des.get("stopping"), Mapping) else {}
    comp = str(st.get("comparison", "control"))
    sup = st.get("superiority", 0.99)
    rules = []
    if sup is not None:
        rules.append(("a dose is declared superior to the current control when P(dose "
                      f"better than control | data) > {_q(sup)} (the best such dose becomes the "
                      "new control and the old control is dropped; the trial stops for "
                      "superiority when no other arm is left)")
                     if comp == "control" else
                     f"the trial stops when an arm's P(best | data) > {_q(sup)} (that arm wins)")
    if st.get("inferiority") is not None:
        rules.append((f"a dose is dropped for inferiority when P(dose better than control | "
                      f"data) < {_q(st['inferiority'])}") if comp == "control" else
                     (f"an arm is dropped for inferiority when its P(best | data) < "
                      f"{_q(st['inferiority'])} (never the most probable arm)"))
    fut = st.get("futility") if isinstance(st.get("futility"), Mapping) else None
    if fut:
        rules.append(f"a dose is dropped for futility when P(dose - first control > "
                     f"{_q(fut.get('diff', 0.0))} | data) < {_q(fut.get('prob'))}")
    eq = st.get("equivalence") if isinstance(st.get("equivalence"), Mapping) else None
    if eq:
        rules.append((f"a dose is dropped as equivalent to the control when P(|dose - "
                      f"control| < {_q(eq.get('diff'))} | data) > {_q(eq.get('prob'))}")
                     if comp == "control" else
                     (f"the trial stops for equivalence when P(largest - smallest active arm "
                      f"mean < {_q(eq.get('diff'))} | data) > {_q(eq.get('prob'))}"))
    stop = ("Stopping and dropping rules, checked at every look: " + "; ".join(rules)
            + ". The trial stops when one arm is left; otherwise it runs to the maximum sample "
            "size." if rules else
            "No stopping rule: the trial runs to the maximum sample size.")
    alpha = des.get("alpha", 0.025)
    sel = str(des.get("select", "best"))
    prior = des.get("prior") if isinstance(des.get("prior"), Mapping) else {}
    txt = (f"**Response-adaptive randomisation.** {arm_txt}, maximum "
           + (f"{_g(nmax)} patients in total ({_g(n)} per arm times {n_arms} arms)"
              if nmax else "sample size n_per_arm times the number of arms")
           + f"; the posterior of each arm mean is updated {looks}"
           + (f" (normal prior, mean {_q(prior.get('mean'))}, SD {_q(prior.get('sd'))})"
              if prior else "") + f". {alloc} {stop} "
           f"When no arm wins, the arm selected at the end is chosen by the rule '{sel}'. "
           f"At the end a Bonferroni z test compares each dose with the control at one-sided "
           f"{_q(alpha)} / {max(n_arms - 1, 1)} (reported alongside, not adjusted for the "
           "adaptive stops). The type I error of the superiority decision (the probability of "
           "declaring any arm superior when none is better than the control) is not "
           "guaranteed by construction: it is estimated by simulation under the global-null "
           "scenario, and the superiority threshold has to be calibrated by simulation to meet "
           f"the target (one-sided {_q(alpha)}). The ideal "
           "design percentage (IDP) is 100 (E[true effect of the selected arm] - worst arm) / "
           "(best arm - worst arm) over the trials that select an arm: 100 means the best arm "
           "is always selected, 0 the worst; it is not defined when all arms are equal.")
    return [txt, ""]
