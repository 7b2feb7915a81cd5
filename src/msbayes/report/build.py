"""Build the report: ``report.html`` (self-contained), ``figures/`` and ``tables/``.

Examples
--------
>>> from msbayes.report import build_report
>>> build_report(fit_dir="results/reanalysis", sim_dir=["results/sims/two_arm"],
...              out_dir="results/report")  # doctest: +SKIP
PosixPath('results/report/report.html')
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import textwrap
from functools import partial
import re
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal

import numpy as np
import pandas as pd

from .. import __version__
from ..io import atomic_to_csv, atomic_write_text, sha256_file
from ..plots import (
    plot_dose_response,
    plot_effect_posterior,
    plot_forest,
    plot_oc_curves,
    plot_oc_heatmap,
    plot_ppc,
    plot_prior_sensitivity,
)
from ..plots.style import (
    axis_label,
    effect_label,
    endpoint_label,
    metric_label,
    model_label,
    population_label,
    prior_label,
    scenario_label,
)
from ..plots.decision import (
    plot_assurance,
    plot_decision_areas,
    plot_go_boundary,
    plot_design_priors,
    plot_designs_compared,
    plot_sample_size_curve,
)
from . import compute
from . import labels as _lab
from .figures import FORMATS, Format, save_figure
from .summary import display_labels, latex_table, oc_summary
from .inputs import (
    FitArtefacts,
    LinkCheck,
    ReportInputError,
    ReportMismatchWarning,
    SimArtefacts,
    check_link,
    effect_draws,
    effect_rows,
    load_fit,
    load_sim,
)
from .text import (
    SimView,
    _md_table,
    flatten,
    fmt,
    oc_table,
    parse_config_text,
    statistical_considerations,
)

__all__ = ["build_report", "FigureRecord"]

PathLike = str | os.PathLike


@dataclass(frozen=True)
class FigureRecord:
    stem: str
    caption: str
    png: bytes


MANIFEST = "report_manifest.txt"
FIXED_OUTPUTS = ["report.html", "statistical_considerations.md", "statistical_considerations.html",
                 "statistical_considerations.docx"]


STAGING = ".report-staging"  #: where figures and tables wait until the report is complete


class _Out:
    """Collects figures and tables as they are written.

    Files go to a staging folder ``out_dir/.report-staging`` and are moved into ``figures/``
    and ``tables/`` only by :meth:`retire_stale`, after every figure and table was made: a
    report that fails half-way leaves the previous one intact (see :func:`build_report`).
    """

    def __init__(self, out_dir: Path, formats: Sequence[Format], *, slides: bool = False):
        self.final = out_dir
        self.dir = out_dir / STAGING
        shutil.rmtree(self.dir, ignore_errors=True)  # left by a killed run
        self.formats = tuple(formats)
        self.slides = slides
        self.figures: list[FigureRecord] = []
        self.written: list[Path] = []

    def figure(self, make, stem: str, caption: str) -> str:
        """``make(size)`` draws the figure (Figure or Axes) for ``"column"`` / ``"slide"``."""
        if isinstance(make, partial):
            make = (lambda p: (lambda size: p(size=size)))(make)
        if self.slides:
            f = make("slide")
            _, paths = save_figure(getattr(f, "figure", f), self.dir / "figures",
                                   f"{stem}_slide", formats=self.formats)
            self.written += paths
        f = make("column")
        png, paths = save_figure(getattr(f, "figure", f), self.dir / "figures", stem,
                                 formats=self.formats)
        self.written += paths
        rec = FigureRecord(stem, caption, png)
        self.figures.append(rec)
        return _figure_html(rec)

    def table(self, df: pd.DataFrame, stem: str, *, latex: bool = False) -> None:
        atomic_to_csv(df, self.dir / "tables" / f"{stem}.csv")
        atomic_write_text(self.dir / "tables" / f"{stem}.md", _md_table(_printable(df)) + "\n")
        self.written += [self.dir / "tables" / f"{stem}.csv", self.dir / "tables" / f"{stem}.md"]
        if latex:
            atomic_write_text(self.dir / "tables" / f"{stem}.tex", latex_table(df))
            self.written.append(self.dir / "tables" / f"{stem}.tex")

    def summary(self, full: pd.DataFrame, shown: pd.DataFrame, head: dict[str, str],
                stem: str) -> None:
        """The OC summary: every number in CSV; the printed table with its header (design,
        planned n, decision rule) as Markdown and as a LaTeX ``tabular``."""
        t = self.dir / "tables"
        atomic_to_csv(full, t / f"{stem}.csv")
        md = (f"## Operating characteristics: {head.get('design', '')}\n\n"
              + "".join(f"- **{k}:** {v}\n" for k, v in head.items() if k != "design")
              + "\n" + _md_table(shown) + "\n")
        atomic_write_text(t / f"{stem}.md", md)
        tex = ("% Operating characteristics: " + str(head.get("design", "")) + "\n"
               + "".join(f"% {k}: {v}\n" for k, v in head.items() if k != "design")
               + latex_table(shown))
        atomic_write_text(t / f"{stem}.tex", tex)
        self.written += [t / f"{stem}.csv", t / f"{stem}.md", t / f"{stem}.tex"]

    def retire_stale(self) -> list[str]:
        """Delete files an earlier report wrote here that this one did not; record this one's.

        Only files named in the earlier ``MANIFEST`` are touched (never a user's own files), so
        a reused ``--out`` holds no figure or table left over from a different run. First moves
        the staged files into place (one atomic rename each).
        """
        for i, p in enumerate(self.written):
            target = self.final / p.relative_to(self.dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p, target)
            self.written[i] = target
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = self.final
        manifest = self.dir / MANIFEST
        new = sorted({p.relative_to(self.dir).as_posix() for p in self.written})
        removed = []
        if manifest.exists():
            old = [ln.strip() for ln in manifest.read_text(encoding="utf-8").splitlines()]
            for rel in old:
                parts = rel.split("/")
                if (rel not in new and len(parts) == 2 and parts[0] in ("figures", "tables")
                        and parts[1] not in ("", ".", "..")):
                    target = self.dir / rel
                    if target.is_file():
                        target.unlink()
                        removed.append(rel)
        atomic_write_text(manifest, "".join(f"{r}\n" for r in new + FIXED_OUTPUTS))
        return removed


# ---------------------------------------------------------------------------- html helpers
def _printable(df: pd.DataFrame) -> pd.DataFrame:
    """The Markdown copy of a table: floats to 4 significant digits, blanks for missing (the
    CSV keeps full precision)."""
    out = df.astype(object).where(df.notna(), "")
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            out[c] = [("" if pd.isna(v) else f"{v:.4g}") for v in df[c]]
    return out


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def _cell(v: object) -> str:
    if v is None or (not isinstance(v, (str, bytes)) and np.ndim(v) == 0 and pd.isna(v)):
        return "<td></td>"
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "<td class='num'></td>"
        return f"<td class='num'>{_esc(f'{float(v):.3f}')}</td>"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"<td class='num'>{int(v)}</td>"
    return f"<td>{_esc('' if v is None or (isinstance(v, float) and np.isnan(v)) else v)}</td>"


def _html_table(df: pd.DataFrame, *, id: str, cls: str = "", caption: str = "") -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        rc = ""
        st = str(r["status"]).split(" ")[0] if "status" in df.columns else ""
        if st in ("prediction", "synthetic", "external"):
            rc = f" class='{_esc(st)}'"
        body.append(f"<tr{rc}>" + "".join(_cell(r[c]) for c in df.columns) + "</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (f"<div class='table-wrap'><table id='{_esc(id)}' class='{_esc(cls)}'>{cap}<thead>"
            f"<tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _figure_html(rec: FigureRecord) -> str:
    b64 = base64.b64encode(rec.png).decode("ascii")
    return (f"<figure id='fig-{_esc(rec.stem)}'><img alt='{_esc(rec.caption)}' "
            f"src='data:image/png;base64,{b64}'><figcaption><b>{_esc(rec.stem)}</b>: "
            f"{_esc(rec.caption)}</figcaption></figure>")


def _markdown(text: str, *, shift: int = 0) -> str:
    """Markdown -> HTML with markdown-it-py (CommonMark plus tables; raw HTML escaped);
    ``shift`` demotes headings (``# x`` -> ``<h3>`` with ``shift=2``) for embedding."""
    from markdown_it import MarkdownIt

    out = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    if shift:
        out = re.sub(r"<(/?)h([1-6])>", lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + shift)}>",
                     out)
    return out


_HEAD = re.compile(r"<h([23])(?P<attrs>[^>]*)>(?P<text>.*?)</h\1>", re.S)


def _toc(body: str) -> tuple[str, str]:
    """A table of contents of the page's h2 / h3 headings; headings without an id get one,
    so every section can be linked to (``report.html#sim-two_arm``)."""
    items, taken = [], set(re.findall(r"id='([^']+)'", body))

    def fix(m: re.Match) -> str:
        attrs, text = m.group("attrs"), m.group("text")
        idm = re.search(r"id='([^']+)'", attrs)
        if idm:
            hid = idm.group(1)
        else:
            base = "sec-" + (_slug(re.sub(r"<[^>]+>", "", html.unescape(text))).lower() or "x")
            hid, k = base, 1
            while hid in taken:
                k += 1
                hid = f"{base}-{k}"
            taken.add(hid)
            attrs = f"{attrs} id='{hid}'"
        items.append((int(m.group(1)), hid, re.sub(r"<[^>]+>", "", text)))
        return f"<h{m.group(1)}{attrs}>{text}</h{m.group(1)}>"

    body = _HEAD.sub(fix, body)
    out, open_sub = ["<nav id='toc' aria-label='Contents'><h2 class='toc-title'>Contents</h2><ol>"], False
    for level, hid, text in items:
        if level == 2:
            if open_sub:
                out.append("</ol></li>")
                open_sub = False
            elif len(out) > 1:
                out.append("</li>")
            out.append(f"<li><a href='#{_esc(hid)}'>{text}</a>")
        else:
            if not open_sub:
                out.append("<ol>")
                open_sub = True
            out.append(f"<li><a href='#{_esc(hid)}'>{text}</a></li>")
    if open_sub:
        out.append("</ol>")
    if len(out) > 1:
        out.append("</li>")
    out.append("</ol></nav>")
    return "".join(out), body


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(s)).strip("_")


# ---------------------------------------------------------------------------- fit section
def _primary_priors(summary: pd.DataFrame, preferred: str) -> dict[str, str]:
    out = {}
    for m, g in summary.groupby("model", sort=False):
        pri = list(dict.fromkeys(g["prior"]))
        out[str(m)] = preferred if preferred in pri else pri[0]
    return out


def _prefer_log(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (model, endpoint) keep the log-ratio scale when several scales were fitted."""
    keep = []
    for _, g in summary.groupby(["model", "endpoint"], sort=False):
        scales = list(dict.fromkeys(g["scale"]))
        logs = [s for s in scales if str(s).startswith("log")]
        keep.append(g[g["scale"] == (logs[0] if logs else scales[0])])
    return pd.concat(keep) if keep else summary


def _mcid(rows: pd.DataFrame, endpoint: str, scale: str, meta: dict) -> float | None:
    """The MCID recorded with the estimand (summary.csv ``mcid``), else fit_meta / default."""
    if "mcid" in rows.columns:
        v = pd.to_numeric(rows.loc[(rows["endpoint"] == endpoint) & (rows["scale"] == scale),
                                   "mcid"], errors="coerce").dropna()
        if len(v):
            return float(v.iloc[0])
    return compute.mcid_for(endpoint, scale, meta)


REANALYSIS_COLS = ["model", "prior", "endpoint", "population", "status", "borrowing", "scale",
                   "mean", "sd", "q2.5", "q97.5", "p_benefit", "p_mcid", "mcid_source", "r_hat",
                   "ess_bulk", "flag"]
PROB_COLS = ("p_benefit", "p_mcid")
#: other probability columns of the fit tables: (column, draws group its n comes from)
OTHER_PROB_COLS = (("p_rep_ge_obs", "posterior"), ("prior_p_benefit", "prior"),
                   ("prior_p_mcid", "prior"))


def _fmt_probs(df: pd.DataFrame, fit: FitArtefacts, digits: int = 3) -> pd.DataFrame:
    """Probability columns as printed: zero / all draws as a bound (never 0.000 / 1.000); none
    for a prediction (stratum without data: its probabilities are the prior model's, not
    evidence)."""
    df = df.copy()
    pred = (df["status"].astype(str) == "prediction") if "status" in df else pd.Series(False, df.index)
    for c in PROB_COLS:
        if c in df:
            df[c] = ["not given (prediction)" if pr else
                     _lab.fmt_prob(v, digits, n=_lab.prob_n(fit, r)) if pd.notna(v) else ""
                     for v, pr, (_, r) in zip(df[c], pred, df.iterrows())]
    for c, group in OTHER_PROB_COLS:
        if c in df:
            n = _lab.n_posterior_draws(fit, group=group)
            df[c] = [_lab.fmt_prob(v, digits, n=n) if pd.notna(v) else "" for v in df[c]]
    return df


def _assumed_pairs(meta: dict) -> set[tuple[str, str]]:
    """(endpoint, population) pairs whose raw SE rests on assumed group sizes: the keys
    ``study/endpoint/population/arm`` of ``assumed_n`` in fit_meta.json, as the stratum
    (``edss_6.0-6.5``) and as the external estimand (``study/endpoint/population``)."""
    out: set[tuple[str, str]] = set()
    an = meta.get("assumed_n") if isinstance(meta, dict) else None
    for k in (an or {}):
        parts = str(k).split("/")
        if len(parts) == 4:
            out.add((parts[1], parts[2]))
            out.add((parts[1], "/".join(parts[:3])))
    return out


def _draws(fit: FitArtefacts, *, model: str, prior: str, endpoint: str,
           group: str = "posterior") -> dict[str, np.ndarray]:
    """Effect draws per population of a displayed model (a borrowing variant when split)."""
    real, bor = _lab.variant_of(fit, model)
    if bor is None:
        return effect_draws(fit, model=real, prior=prior, endpoint=endpoint, group=group)
    from msbayes.fit.artefact import read_effect_draws

    try:
        da = read_effect_draws(fit.posterior_path, model=real, prior=prior, endpoint=endpoint,
                               group=group, borrowing=bor)
    except (KeyError, OSError, ValueError):
        return {}
    return {str(p): np.asarray(da.sel(population=p).values, float) for p in da["population"].values}


def _borrowing_html(fit: FitArtefacts, s: pd.DataFrame, primary: dict[str, str]) -> str:
    """One statement per model: the external evidence its primary analysis borrows (or that
    it borrows none) and whether an analysis with the borrowing switched is shown."""
    from .text import borrowing_statements

    out = []
    for txt, alt in borrowing_statements(fit, s, primary):
        if alt is not None:
            txt += " the results in the sensitivity table (analysis column) and the text below."
        out.append(txt)
    return "".join(f"<p class='borrowing'>{_esc(t)}</p>" for t in out)


PPC_MAX_ROWS = 40


def _fit_html(fit: FitArtefacts, out: _Out, primary: dict[str, str]) -> tuple[str, list[str]]:
    s = fit.summary
    parts = ["<h2 id='reanalysis'>Re-analysis of the previous trial</h2>"]
    warn: list[str] = []
    if s.empty:
        return "\n".join(parts + ["<p class='note'>No re-analysis results to show.</p>"]), warn
    stat = s["status"].astype(str)
    for _, r in s[stat == "prediction"].drop_duplicates(["endpoint", "population"]).iterrows():
        parts.append(
            f"<p class='prediction'>{_esc(population_label(r['population']))} "
            f"({_esc(endpoint_label(r['endpoint']))}): the effect is a PREDICTION from the "
            "hierarchical model (between-stratum distribution), not an estimate: no results were "
            "reported for this stratum, so no probability is given for it.</p>")
    parts.append(_borrowing_html(fit, s, primary))
    mnotes = _lab.endpoint_mcid_note(s)
    if mnotes:
        parts.append("<p class='mcid-source'>MCIDs: " + "; ".join(
            f"{_esc(endpoint_label(e))}: {_esc(v)}" for e, v in mnotes.items()) + ".</p>")
    synth = sorted(set(s.loc[stat == "synthetic", "model"].astype(str)))
    for m in synth:
        msg = (f"Model {m} is fitted to SYNTHETIC patient-level data (generated to match the "
               "published summaries); its results illustrate the method and are not evidence.")
        parts.append(f"<p class='synthetic'>{_esc(msg)}</p>")
        warn.append(msg)
    if "diagnostics_ok" in s:
        bad = s[s["diagnostics_ok"].astype(str).str.lower() == "false"]
        if len(bad):
            warn.append(f"{len(bad)} estimand(s) failed the MCMC diagnostics gate (see the flag "
                        "column of the re-analysis table).")
    cols = [c for c in REANALYSIS_COLS if c in s.columns]
    cols += [c for c in s.columns if c not in cols and c in ("estimand",)]
    table = _fmt_probs(s[cols], fit)
    out.table(table, "reanalysis")
    key = effect_rows(s)
    key = key[[primary.get(str(m)) == str(p) for m, p in zip(key["model"], key["prior"])]]
    pred = key["status"].astype(str) == "prediction"
    kp = _fmt_probs(key, fit)
    compact = pd.DataFrame({
        "model": key["model"], "prior": key["prior"],
        "endpoint": key["endpoint"].map(endpoint_label),
        "population": key["population"].map(population_label),
        "status": key["status"].map(_lab.status_text),
        "borrowing": key["borrowing"] if "borrowing" in key else "unknown",
        "scale": key["scale"], "mean": key["mean"], "95% CrI": [
            f"{a:.3f} to {b:.3f}" for a, b in zip(key["q2.5"], key["q97.5"])],
        "P(benefit)": kp["p_benefit"], "P(>MCID)": kp["p_mcid"]})
    if "mcid_source" in key:
        compact["MCID source"] = key["mcid_source"].map(
            lambda v: _lab.mcid_kind(v) or "") if "mcid_source" in key else ""
    for c, lab in (("r_hat", "R-hat"), ("ess_bulk", "bulk ESS")):
        if c in key:
            compact[lab] = key[c].round(0).astype("Int64") if c == "ess_bulk" else key[c]
    out.table(compact, "reanalysis_primary")
    parts.append("<h3>Posterior summaries</h3>")
    parts.append(_html_table(compact, id="table-reanalysis", cls="reanalysis",
                             caption="Treatment effect per stratum (primary prior of each model; "
                             "all priors and estimands in the full table below). Status "
                             "'prediction (no data)' = stratum not reported: its effect comes from "
                             "the between-stratum model and no probability is given; 'borrowing' "
                             "names external evidence and its power-prior weight; MCID source "
                             "'analogue' / 'documented choice' = not a published MCID."))
    full_html = ("<details><summary>Full table: every model, prior and estimand "
                 "(summary.csv)</summary>"
                 + _html_table(table, id="table-reanalysis-full", cls="reanalysis-full")
                 + "</details>")
    # posterior figures
    parts.append("<h3>Posterior of the treatment effect by EDSS stratum</h3>")
    sl = _prefer_log(effect_rows(s))
    for model, prior in primary.items():
        sub = sl[(sl["model"] == model) & (sl["prior"] == prior)]
        for (ep, scale), g in sub.groupby(["endpoint", "scale"], sort=False):
            post = _draws(fit, model=model, prior=prior, endpoint=ep)
            pri = _draws(fit, model=model, prior=prior, endpoint=ep, group="prior")
            pops = [p for p in g["population"] if p in post]
            if not pops:
                continue
            dens = compute.density_table({p: post[p] for p in pops},
                                         {p: pri[p] for p in pops if p in pri})
            pcols = ["status", "p_benefit", "p_mcid"] + (["borrowing"] if "borrowing" in g else [])
            panels = g.set_index("population").loc[pops, pcols].reset_index()
            gi = g.set_index("population").loc[pops].reset_index()
            panels["p_benefit_text"] = _fmt_probs(gi, fit, 2)["p_benefit"].to_numpy()
            panels["p_mcid_text"] = _fmt_probs(gi, fit, 2)["p_mcid"].to_numpy()
            mcid = _mcid(g, ep, scale, fit.meta)
            msrc = _lab.endpoint_mcid_note(g).get(str(ep), "")
            fig = partial(plot_effect_posterior,
                dens, panels=panels, mcid=mcid, scale=scale, mcid_note=_lab.mcid_short(msrc),
                title=f"{endpoint_label(ep)}: {model_label(model)}, {prior_label(prior)} prior")
            mtxt = f"MCID = {mcid:.4f}" if mcid is not None else "no MCID on this scale"
            if mcid is not None and msrc:
                mtxt += f" ({msrc})"
            st_txt = ""
            if (g["status"] == "prediction").any():
                st_txt += (" Dashed, hatched = prediction (no data) for a stratum without "
                           "results, from the between-stratum model; no probability is given.")
            if (g["status"] == "synthetic").any():
                st_txt += " SYNTHETIC data: illustrates the method, not evidence."
            if "borrowing" in g and (g["borrowing"].astype(str) != "none").any():
                st_txt += (" Borrows external evidence: "
                           + _lab.borrowing_text(g["borrowing"].astype(str).iloc[0]) + ".")
            parts.append(out.figure(
                fig, _slug(f"posterior_{model}_{ep}_{prior}"),
                f"Posterior (solid) and prior (dotted) of the treatment "
                f"effect (x axis: {effect_label(scale)}), {model_label(model)}, "
                f"{prior_label(prior)} prior; "
                f"grey line = no effect, dashed line = {mtxt}. P(benefit) = P(effect > 0)."
                + st_txt))
    # forest
    if fit.raw_vs_shrunk is not None and len(fit.raw_vs_shrunk):
        parts.append("<h3>Raw vs hierarchical estimates</h3>")
        rvs = fit.raw_vs_shrunk
        for model in dict.fromkeys(rvs["model"]):
            ft = compute.forest_table(rvs, effect_rows(s), model=model)
            if ft.empty:
                continue
            sc = {r.endpoint: r.scale for r in sl[sl["model"] == model].itertuples()}
            mc = {ep: _mcid(sl, ep, sc.get(ep, ""), fit.meta) for ep in sc}
            mnote = "; ".join(f"{endpoint_label(e)}: {_lab.mcid_short(v)}"
                              for e, v in _lab.endpoint_mcid_note(sl[sl["model"] == model]).items()
                              if _lab.mcid_short(v) and e in sc)
            assumed = _assumed_pairs(fit.meta)
            fig = partial(plot_forest, ft, mcid=mc, scale=sc, mcid_note=mnote, assumed=assumed)
            kinds = set(ft.loc[ft["kind"] == "raw", "status"].astype(str))
            raw_txt = ("Raw estimates from SYNTHETIC patient-level data (open grey squares; "
                       "synthetic data, not evidence)" if "synthetic" in kinds else
                       "Published subgroup estimates (black squares)")
            if "external" in kinds:
                raw_txt += ", the external study borrowed from (triangles)"
            bor = ""
            if "borrowing" in ft and (ft["borrowing"].astype(str) != "none").any():
                bor = (" The hierarchical estimates borrow from "
                       + _lab.borrowing_text(next(b for b in ft["borrowing"].astype(str)
                                                 if b != "none")) + ".")
            parts.append(out.figure(
                fig, _slug(f"forest_{model}"),
                f"{raw_txt}, estimate \u00b1 1.96 SE, and "
                f"hierarchical posterior means with 95% credible intervals by prior, "
                f"{model_label(model)}. Open diamonds = predictions (no data) for unreported strata."
                + bor + _lab.mcid_caption(sl[sl["model"] == model], list(sc))
                + (" Rows marked 'SE from assumed group sizes': the group sizes were not "
                   "reported, so the published SE was rebuilt from assumed sizes (fit_meta.json "
                   "assumed_n)." if any((e, p) in assumed for e, p in
                                        zip(ft["endpoint"], ft["population"])) else "")))
        out.table(rvs, "raw_vs_shrunk")
        parts.append(_html_table(rvs, id="table-raw-vs-shrunk", cls="raw-vs-shrunk",
                                 caption="Raw (published, synthetic or external, see status) vs "
                                 "hierarchical (shrunk) estimates"))
    # sensitivity
    multi = [m for m, g in sl.groupby("model", sort=False) if g["prior"].nunique() > 1]
    if multi:
        parts.append("<h3>Prior sensitivity</h3>")
        for model in multi:
            st = compute.sensitivity_table(sl, model=model)
            sc = {r.endpoint: r.scale for r in sl[sl["model"] == model].itertuples()}
            mc = {ep: _mcid(sl, ep, sc[ep], fit.meta) for ep in sc}
            mnote = "; ".join(f"{endpoint_label(e)}: {_lab.mcid_short(v)}"
                              for e, v in _lab.endpoint_mcid_note(sl[sl["model"] == model]).items()
                              if _lab.mcid_short(v) and e in sc)
            fig = partial(plot_prior_sensitivity, st, mcid=mc, scale=sc, mcid_note=mnote)
            sts = set(st["status"].astype(str))
            st_txt = (" Open diamonds, dashed = prediction (no data)." if "prediction" in sts else "")
            st_txt += (" SYNTHETIC data: not evidence." if "synthetic" in sts else "")
            parts.append(out.figure(
                fig, _slug(f"sensitivity_{model}"),
                f"Posterior mean and 95% credible interval of the treatment effect under each "
                f"prior preset, {model_label(model)}; dashed line = MCID, grey line = no effect."
                + st_txt + _lab.mcid_caption(sl[sl["model"] == model], list(sc))))
    if fit.sensitivity is not None:
        sens = _fmt_probs(fit.sensitivity, fit)
        out.table(sens, "sensitivity")
        keep = [c for c in ("model", "endpoint", "population", "status", "prior", "analysis",
                            "borrowing", "mean", "sd", "q2.5", "q97.5", "p_benefit", "p_mcid")
                if c in sens.columns]
        parts.append(_html_table(sens[keep], id="table-sensitivity", cls="sensitivity",
                                 caption="Prior-sensitivity table: status and borrowing of each "
                                 "row; the prior settings and diagnostics of every row are in "
                                 "tables/sensitivity.csv"))
    if fit.ppc is not None and len(fit.ppc):
        parts.append("<h3>Posterior predictive check</h3>")
        ppc = fit.ppc
        for model in dict.fromkeys(ppc["model"]) if "model" in ppc else [None]:
            sub = ppc if model is None else ppc[ppc["model"] == model]
            if "prior" in sub and model in primary:
                sub = sub[sub["prior"] == primary[model]]
            if sub.empty:
                continue
            if len(sub) > PPC_MAX_ROWS:
                parts.append(f"<p class='note'>Posterior predictive check of model "
                             f"{_esc(model)}: {len(sub)} observed values (patient level), "
                             "not plotted; see tables/ppc.csv.</p>")
                continue
            try:
                pt = compute.ppc_table(sub.reset_index(drop=True))
            except ValueError as exc:
                warn.append(f"ppc.csv not plotted: {exc}")
                break
            synth = "status" in sub and (sub["status"].astype(str) == "synthetic").any()
            fig = partial(plot_ppc, pt,
                          data_note="SYNTHETIC data, not evidence" if synth else "")
            pr = f", {prior_label(primary.get(model))} prior" if model in primary else ""
            pr += ("; the observed values are SYNTHETIC data (not evidence)" if synth else "")
            parts.append(out.figure(
                fig, _slug(f"ppc_{model}") if model else "ppc",
                f"Posterior predictive check, {model_label(model)}{pr}: observed summary statistics "
                "(crosses) against their 95% posterior predictive intervals (bars) and "
                "predictive means (ticks)."))
        out.table(_fmt_probs(ppc, fit), "ppc")
    parts.append(full_html)
    return "\n".join(parts), warn


# ---------------------------------------------------------------------------- sim section
def _view(sim: SimArtefacts) -> SimView:
    ds = sim.ds
    axes = [str(d) for d in ds.dims if d not in ("scenario", "dose", "look")]
    x = "design.n_per_arm" if "design.n_per_arm" in axes else next(
        (a for a in axes if np.issubdtype(ds[a].dtype, np.number)), None)
    fixed = compute.default_slice(ds, keep=[x] if x else [])
    return SimView(sim, x_axis=x, fixed=fixed)


def _scenario_labels(ds, notes: dict[str, str] | None = None) -> dict[str, str]:
    """Legend names: design-prior scenarios marked (their P(go) is an assurance), with the
    status of the evidence behind them (``notes``: e.g. "prediction, no data")."""
    out = {}
    for s in ds["scenario"].values:
        kind = ""
        if "scenario_kind" in ds.coords:
            kind = str(np.ravel(ds["scenario_kind"].sel(scenario=s).values)[0])
        note = (notes or {}).get(str(s), "")
        out[str(s)] = (f"{s} (design prior" + (f"; {note}" if note else "") + ")"
                       if kind == "design_prior" else str(s))
    return out


def _oc_var_for(metric: str, ds) -> str:
    if metric in ds:
        return metric
    if metric in ("power", "assurance", "type1", "type_i_error"):
        return "p_reject" if "p_reject" in ds else "p_go"
    return "p_go"


def _targets(sim: SimArtefacts, var: str, fixed: dict) -> pd.DataFrame | None:
    ss = sim.sample_size
    if ss is None or ss.empty:
        return None
    rows = []
    for _, r in ss.iterrows():
        if _oc_var_for(str(r["metric"]), sim.ds) != var:
            continue
        ok = all(_same_label(r[k], v) for k, v in fixed.items() if k in ss.columns and pd.notna(r[k]))
        if ok:
            rows.append({"group": r["scenario"], "target": r["target"], "n": r["n_per_arm"],
                         "achieved": r["achieved"]})
    return pd.DataFrame(rows) if rows else None


def _same_label(a: object, b: object) -> bool:
    """Grid coordinate equality: numbers within rounding, list/mapping axes by their JSON label."""
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return str(a) == str(b)


def _decisions_vs_effect(view: SimView, out: _Out, name: str, *, xlab, kinds: dict,
                         scale: str, mcid: float | None, slice_txt: str) -> str:
    """Go / consider / no-go against the true effect of the fixed scenarios at the planned n
    (design-prior scenarios have no single true effect and are left out)."""
    from ..plots.decision import plot_decisions_vs_effect
    from ..plots.style import clinical_axis
    from .summary import planned_n

    ds, x = view.sim.ds, view.x_axis
    if ("true_effect" not in ds.coords or ds["true_effect"].dims != ("scenario",)
            or not all(v in ds for v in ("p_go", "p_consider", "p_nogo"))):
        return ""
    fixed = [s for s in ds["scenario"].values if kinds.get(str(s), "fixed") != "design_prior"]
    eff = np.array([float(ds["true_effect"].sel(scenario=s)) for s in fixed])
    keep = np.isfinite(eff)
    fixed, eff = [s for s, k in zip(fixed, keep) if k], eff[keep]
    if len(np.unique(eff)) < 2:
        return ""
    sel = {k: v for k, v in view.fixed.items() if k in ds["p_go"].dims and k != "scenario"}
    n = planned_n(view)
    if n is not None and x in ds["p_go"].dims:
        sel[x] = n
    elif x in ds["p_go"].dims:
        xs = ds[x].values
        sel[x] = xs[(len(xs) - 1) // 2].item()
    cx, clabel = clinical_axis(eff, scale)
    rows = []
    for s, xv, e in zip(fixed, cx, eff):
        r = ds.sel({**sel, "scenario": s})
        rows.append({"scenario": str(s), "true_effect": float(e), "x": float(xv),
                     "go": float(r["p_go"]), "consider": float(r["p_consider"]),
                     "nogo": float(r["p_nogo"])})
    t = pd.DataFrame(rows).sort_values("x")
    out.table(t, f"{name}_decisions_vs_effect")
    cmcid = float(clinical_axis([mcid], scale)[0][0]) if mcid is not None else None
    at = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in sel.items())
    return out.figure(
        partial(plot_decisions_vs_effect, t, x_label=clabel, mcid=cmcid),
        f"{name}_decisions_vs_effect",
        f"Probability of each decision (go, consider, no-go) against the true treatment "
        f"effect" + (f", at {at}" if at else "") + "; triangles mark the effects simulated "
        "(the areas are interpolated between them); dashed line = MCID. Design-prior "
        "scenarios have no single true effect and are not shown. Monte Carlo standard errors "
        "are in the OC table.")


def _decision_figures(view: SimView, out: _Out, name: str, *, xlab, sname, kinds: dict,
                      scale: str, mcid: float | None, slice_txt: str,
                      fit_path: Path | None = None) -> list[str]:
    """Go / consider / no-go against n, the go boundary against n, assurance with ceiling."""
    ds, x = view.sim.ds, view.x_axis
    parts: list[str] = []
    at = f", at {slice_txt}" if slice_txt else ""
    fx = {k: v for k, v in view.fixed.items() if k != x}
    if all(v in ds and x in ds[v].dims for v in ("p_go", "p_consider", "p_nogo")):
        rows = []
        for s in ds["scenario"].values:
            sub = ds.sel({**{k: v for k, v in fx.items() if k in ds["p_go"].dims}, "scenario": s})
            for xv in ds[x].values:
                r = sub.sel({x: xv})
                rows.append({"group": sname(s), "x": float(xv), "go": float(r["p_go"]),
                             "consider": float(r["p_consider"]), "nogo": float(r["p_nogo"])})
        t = pd.DataFrame(rows)
        parts.append(out.figure(
            partial(plot_decision_areas, t, x_label=xlab(x)),
            f"{name}_decisions_vs_n",
            f"Probability of each decision (go, consider, no-go) against {xlab(x)}, one panel "
            f"per true effect{at}. Monte Carlo standard errors are in the OC table."))
        eff_fig = _decisions_vs_effect(view, out, name, xlab=xlab, kinds=kinds, scale=scale,
                                       mcid=mcid, slice_txt=slice_txt)
        if eff_fig:
            parts.append(eff_fig)
    if "go_boundary" in ds and x in ds["go_boundary"].dims:
        gb = ds["go_boundary"].sel({k: v for k, v in fx.items() if k in ds["go_boundary"].dims})
        if "scenario" in gb.dims:
            gb = gb.isel(scenario=0)
        t = pd.DataFrame({"x": ds[x].values.astype(float), "boundary": np.asarray(gb.values, float)})
        if np.isfinite(t["boundary"]).any():
            parts.append(out.figure(
                partial(plot_go_boundary, t, x_label=xlab(x), mcid=mcid,
                        y_label=f"observed effect needed for go\n({effect_label(scale)})"),
                f"{name}_go_boundary_vs_n",
                f"Decision boundary: the smallest observed treatment effect that gives a go, "
                f"against {xlab(x)}{at}; dashed line = MCID, grey line = no effect. Computed "
                "from the decision rule, not simulated."))
    pri = [s for s in ds["scenario"].values if kinds.get(str(s)) == "design_prior"]
    if pri and "assurance_ceiling" in ds and x in ds["p_go"].dims:
        rows = []
        for s in pri:
            sel = {**{k: v for k, v in fx.items() if k in ds["p_go"].dims}, "scenario": s}
            y = ds["p_go"].sel(sel)
            m = ds["p_go_mcse"].sel(sel) if "p_go_mcse" in ds else 0 * y
            c = ds["assurance_ceiling"].sel({k: v for k, v in sel.items()
                                             if k in ds["assurance_ceiling"].dims})
            for xv in ds[x].values:
                yy, mm = float(y.sel({x: xv})), float(m.sel({x: xv}))
                cc = float(c.sel({x: xv})) if x in c.dims else float(np.ravel(c.values)[0])
                rows.append({"group": sname(s), "x": float(xv), "y": yy,
                             "lower": max(0.0, yy - 2 * mm), "upper": min(1.0, yy + 2 * mm),
                             "ceiling": cc})
        parts.append(out.figure(
            partial(plot_assurance, pd.DataFrame(rows), x_label=xlab(x)),
            f"{name}_assurance_vs_n",
            f"Assurance (probability of go averaged over each design prior) against {xlab(x)}"
            f"{at}; dash-dot lines = its ceiling, the assurance of an infinitely large trial "
            "(no sample size exceeds it); shaded bands \u00b12 Monte Carlo standard errors."))
    if pri:
        prov = view.sim.provenance
        try:
            files = json.loads(str(prov.get("fit_posterior_files", "[]") or "[]"))
        except ValueError:
            files = []
        if fit_path is not None and (not files or not all(Path(f).is_file() for f in files)):
            files = [str(fit_path)]  # the report's fit, verified by hash to be the sim's
        draws, note = compute.design_prior_draws(
            parse_config_text(prov.get("config_text")), fit_files=files,
            seed=abs(int(prov.get("seed", 0) or 0)))
        draws = {sname(k): v for k, v in draws.items() if k in {str(p) for p in pri}
                 and np.isfinite(v).all() and np.std(v) > 0}  # a point mass has no density
        if draws:
            thr = (np.ravel(ds["ceiling_threshold"].values) if "ceiling_threshold" in ds
                   else np.array([]))
            thr = thr[np.isfinite(thr)]
            dens = compute.density_table(draws)
            notes = {}
            for sc in pri:  # the recorded ceiling (oc.nc), not a recomputation
                if "assurance_ceiling" in ds:
                    c = ds["assurance_ceiling"].sel(scenario=sc)
                    cm = (ds["assurance_ceiling_mcse"].sel(scenario=sc)
                          if "assurance_ceiling_mcse" in ds else None)
                    cv = float(np.ravel(c.values)[0])
                    if np.isfinite(cv):
                        notes[sname(sc)] = (f"assurance ceiling {fmt(cv, 3)}" + (
                            f" (MCSE {_lab.fmt_mcse(float(np.ravel(cm.values)[0]), 3)})"
                            if cm is not None else ""))
            parts.append(out.figure(
                partial(plot_design_priors, dens, x_label=f"true effect ({effect_label(scale)})",
                        mcid=mcid, threshold=float(thr.max()) if thr.size else None,
                        notes=notes),
                f"{name}_design_priors",
                "The design priors side by side: the distribution of the true effect each "
                f"assumes ({note}); dashed line = MCID, dash-dot line = the true effect a go "
                "needs as n grows (the assurance ceiling is the prior probability above it)."))
    return parts


def _sequential_html(view: SimView, out: _Out, name: str, *, xlab, sname, kinds: dict,
                     scale: str, mcid: float | None, cfg: dict) -> list[str]:
    """Interim designs: boundary plot, stopping probabilities per look, expected n vs n_max."""
    from ..plots.sequential import (plot_boundaries, plot_dose_dropping, plot_expected_n,
                                    plot_stopping_by_look)
    from . import sequential as seq
    from .summary import planned_n

    ds, x = view.sim.ds, view.x_axis
    sel = {k: v for k, v in view.fixed.items() if k in ds.dims and k not in ("look", "scenario")}
    n = planned_n(view)
    if n is not None and x is not None:  # no grid axis: no "at None = n" in the captions
        sel[x] = n
    at = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in sel.items())
    at_txt = f" at {at}" if at else ""
    rule = str((cfg.get("interims") or {}).get("rule", "group_sequential"))
    parts = ["<h3>Interim analyses</h3>"]
    if ds.attrs.get("interims"):
        parts.append(f"<p class='interims'>{_esc(ds.attrs['interims'])}.</p>")
    bt = seq.boundary_table(ds, sel, final_futility_is_efficacy=(rule == "group_sequential"))
    out.table(seq.boundary_csv(bt), f"{name}_boundaries")
    filled = bool(bt["futility_filled"].any())
    bounds = bt[["efficacy_z", "futility_z", "efficacy_effect", "futility_effect"]].to_numpy(float)
    x_lab = "information fraction (share of the final analysis)"
    if not np.isfinite(bt["x"]).all():  # no information fractions recorded: by look number
        bt["x"], x_lab = bt["look"].astype(float), "look"
    has_eff = bool(np.isfinite(bounds[:, 2:]).any())
    if np.isfinite(bounds).any():
        parts.append(out.figure(
            partial(plot_boundaries, bt, x_label=x_lab,
                    effect_label=f"observed effect needed ({effect_label(scale)})", mcid=mcid),
            f"{name}_boundaries",
            f"Stopping boundaries{at_txt}: "
            + ("(a) on the z scale, (b) as the observed treatment effect needed at the planned "
               "standard error" if has_eff else "on the z scale (no effect-scale bounds recorded)")
            + ", against the information fraction of each look"
            + (" (patients analysed: " + ", ".join(f"{fmt(v)}" for v in bt["n_analysed"]) + ")"
               if np.isfinite(bt["n_analysed"].to_numpy(float)).any() else "")
            + ". Above the efficacy bound the trial stops with a go; in the shaded region it "
            "stops for futility (no-go); in between it continues."
            + (" At the final analysis the futility line is drawn at the efficacy bound (below "
               "it = no-go)." if filled else "")
            + " Computed from the rule, not simulated."))
    else:
        parts.append("<p class='note'>No stopping bounds are recorded for this design "
                     "(oc.nc has no finite bound_* values); see the stopping probabilities.</p>")
    scen = list(ds["scenario"].values)
    st = seq.stopping_table(ds, sel, scenarios=scen, sname=sname)
    out.table(st, f"{name}_stopping_by_look")
    parts.append(out.figure(
        partial(plot_stopping_by_look, st), f"{name}_stopping_by_look",
        f"Probability that the trial stops at each look for efficacy (go) or futility (no-go), "
        f"per scenario{at_txt}; bars \u00b12 Monte Carlo standard errors. At the final look "
        "the bars are P(reaching it and ending with go / no-go)"
        + ("; the dotted segment is the final 'consider' (no decision) of the dual rule"
           if (st["consider"] > 0).any() else "")
        + "."))
    if seq.has_dose_dropping(ds) and (cfg.get("interims") or {}).get("drop_doses"):
        dt = seq.dropped_table(ds, sel, scenarios=scen, sname=sname)
        if len(dt):
            out.table(dt, f"{name}_dose_dropping")
            dose_lab = xlab("dose") if "dose" in ds.dims else "dose"
            parts.append(out.figure(
                partial(plot_dose_dropping, dt, dose_label=dose_lab), f"{name}_dose_dropping",
                f"Probability that each active dose is dropped at each interim look, per "
                f"scenario{at_txt} (the drop rule of interims.drop_doses); bars \u00b12 Monte "
                "Carlo standard errors. A dropped dose randomises no further patients."))
    en = seq.expected_n_table(ds, view.fixed, x_axis=x, scenarios=scen, sname=sname,
                              kinds=kinds)
    if en is not None and len(en):
        out.table(en, f"{name}_expected_n")
        dur = np.isfinite(en["duration"].to_numpy(float)).any()
        other = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in view.fixed.items()
                          if k not in (x, "look") and k in ds.dims)
        parts.append(out.figure(
            partial(plot_expected_n, en), f"{name}_expected_n",
            "Expected number of patients randomised (mean over simulated trials, counting "
            "patients still in follow-up at a stop) against the maximum sample size of the "
            "design, per scenario" + (f", at {other}" if other else "")
            + "; dotted line = no early stopping (expected = maximum); shaded bands \u00b12 "
            "Monte Carlo standard errors."
            + (" Lower panel: expected duration in months from the first randomisation to "
               "the stopping look." if dur else "")))
    return parts


def _sim_html(view: SimView, link: LinkCheck, out: _Out, fit: FitArtefacts | None = None) -> str:
    sim, ds = view.sim, view.sim.ds
    name = _slug(sim.name)
    flat_cfg = flatten(parse_config_text(sim.provenance.get("config_text")))
    title = str(flat_cfg.get("name") or sim.name)
    parts = [f"<h2 id='sim-{_esc(name)}'>Next-trial design: {_esc(title)}</h2>"]
    scale = str(flat_cfg.get("endpoint.scale") or ds.attrs.get("scale", "") or "log_speed_ratio")
    dose_unit = str(flat_cfg.get("design.dose_unit") or "") or (
        str(ds["dose"].attrs.get("units", "") or "") if "dose" in ds.coords else "") or None
    overrides = display_labels(view)
    xlab = (lambda a: axis_label(a, scale=scale, dose_unit=dose_unit, overrides=overrides))
    kinds = ({str(k): str(v) for k, v in zip(ds["scenario"].values, ds["scenario_kind"].values)}
             if "scenario_kind" in ds.coords else {})
    effects = ({str(k): float(v) for k, v in zip(ds["scenario"].values, ds["true_effect"].values)}
               if "true_effect" in ds.coords and ds["true_effect"].dims == ("scenario",) else {})
    mcid_cfg = (float(flat_cfg["endpoint.mcid"]) if isinstance(flat_cfg.get("endpoint.mcid"),
                                                                  (int, float)) else None)
    snotes = _lab.scenario_notes(sim, fit)

    def sname(s: object) -> str:
        e = effects.get(str(s), float("nan"))
        lab = scenario_label(str(s), effect=e if np.isfinite(e) else None, scale=scale,
                             kind=kinds.get(str(s), "fixed"), overrides=overrides)
        note = snotes.get(str(s), "")
        return lab + (f" ({note})" if note and kinds.get(str(s)) == "design_prior" else "")

    if link.status == "mismatch":
        parts.append(f"<div class='warning mismatch'>{_esc(link.message)}</div>")
    elif link.message:
        parts.append(f"<p class='note'>{_esc(link.message)}</p>")
    slice_txt = view.slice_text()
    if slice_txt:
        parts.append(f"<p>Figures and tables below are at {_esc(slice_txt)} (the middle value "
                     "of each other grid axis); the full grid is in oc.csv / oc.nc.</p>")
    summ, head = oc_summary(view)
    if len(summ):
        shown = summ[["quantity", "scenario", "printed"]].rename(
            columns={"printed": "value (MCSE)"})
        out.summary(summ, shown, head, f"oc-summary_{name}")
        hd = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in head.items())
        parts.append(
            f"<section class='oc-summary-page' id='summary-{_esc(name)}'>"
            f"<h3 id='summary-{_esc(name)}-title'>Operating-characteristics summary: "
            f"{_esc(head['design'])}</h3><dl class='summary-head'>{hd}</dl>"
            + _html_table(shown, id=f"table-oc-summary-{name}", cls="oc-summary",
                          caption="At the planned sample size; Monte Carlo standard error "
                          "(MCSE) in brackets; a probability with no simulated event is an "
                          "upper bound. Also in tables/oc-summary_" + name
                          + ".csv, .md and .tex.")
            + "</section>")
    if sim.sample_size is not None:
        out.table(sim.sample_size, f"sample_size_{name}")
        parts.append("<h3>Sample size</h3>")
        parts.append(_html_table(sim.sample_size, id=f"table-sample-size-{name}",
                                 cls="sample-size", caption="Smallest n per arm meeting each "
                                 "target (sample_size.csv); achieved value with its MCSE"))
        ss = sim.sample_size
        from msbayes.grid.search import FIRST_COLUMNS

        extra = [c for c in ss.columns if c not in FIRST_COLUMNS
                 and pd.to_numeric(ss[c], errors="coerce").notna().all() and ss[c].nunique() > 1]
        if extra and "n_per_arm" in ss:
            a = extra[0]
            n = pd.to_numeric(ss["n_per_arm"], errors="coerce")
            reached = n.notna() & ~ss.get("reached", pd.Series(True, ss.index)).astype(str) \
                .str.lower().isin(("false", "0"))
            nmax = pd.to_numeric(ss.get("n_max", pd.Series(np.nan, ss.index)), errors="coerce")
            t = pd.DataFrame({
                "group": [f"{metric_label(m)} \u2265 {fmt(tg, 2)}: {sname(sc)}"
                          for m, tg, sc in zip(ss["metric"], ss["target"], ss["scenario"])],
                "x": pd.to_numeric(ss[a]), "n": n.where(reached, nmax), "reached": reached})
            t = t[t["n"].notna()]
            if len(t):
                parts.append(out.figure(
                    partial(plot_sample_size_curve, t, x_label=xlab(a)),
                    f"{name}_sample_size_vs_{_slug(a.split('.')[-1])}",
                    f"Smallest number of patients per arm meeting each target against "
                    f"{xlab(a)}; an open triangle marks a target not reached up to the largest "
                    "n searched. Each point is a search on simulated trials (see the sample-size "
                    "table for the achieved value and its Monte Carlo standard error)."))
    ot = oc_table(view)
    out.table(ot, f"oc_{name}")
    parts.append("<h3>Operating characteristics</h3>")
    parts.append(_html_table(ot, id=f"table-oc-{name}", cls="oc",
                             caption="Operating characteristics: value (MCSE)"))
    if view.x_axis:
        for var in ("p_go", "p_reject", "p_correct_dose"):
            if var not in ds or view.x_axis not in ds[var].dims:
                continue
            fx = {k: v for k, v in view.fixed.items() if k in ds[var].dims}
            cur = compute.oc_curves(ds, var, x=view.x_axis, fixed=fx)
            tg = _targets(sim, var, fx)
            cur["kind"] = cur["group"].map(lambda g: kinds.get(str(g), "fixed"))
            cur["group"] = cur["group"].map(sname)
            if tg is not None:
                tg["group"] = tg["group"].map(sname)
            ax = partial(plot_oc_curves, cur, metric=var, x_label=xlab(view.x_axis), targets=tg)
            cap = (f"{metric_label(var)} against {xlab(view.x_axis)}, one line per true effect "
                   "(dashed: a design prior, where the curve is the assurance)"
                   + (f", at {slice_txt}" if slice_txt else "")
                   + "; shaded bands are \u00b12 Monte Carlo standard errors (MCSE).")
            if tg is not None:
                cap += " Stars mark the smallest n meeting the target (dotted line)."
            parts.append(out.figure(ax, f"{name}_{var}_vs_n", cap))
        parts += _decision_figures(view, out, name, xlab=xlab, sname=sname, kinds=kinds,
                                   scale=scale, mcid=mcid_cfg, slice_txt=slice_txt,
                                   fit_path=fit.posterior_path if fit is not None
                                   and link.status == "match" else None)
    from .sequential import is_sequential

    if is_sequential(ds):
        parts += _sequential_html(view, out, name, xlab=xlab, sname=sname, kinds=kinds,
                                  scale=scale, mcid=mcid_cfg, cfg=parse_config_text(
                                      sim.provenance.get("config_text")))
    from .adaptive import adaptive_html, adaptive_kind
    from .summary import planned_n as _planned_n

    if adaptive_kind(ds) is not None:  # enrichment / multi-arm selection (report/adaptive.py)
        parts += adaptive_html(view, out, name, xlab=xlab, sname=sname, kinds=kinds,
                               html_table=_html_table, planned=_planned_n(view))
    axes = [d for d in ds["p_go"].dims if d not in ("scenario", "dose")]
    if view.x_axis and len(axes) >= 2:
        other = next(a for a in axes if a != view.x_axis)
        fx = {k: v for k, v in view.fixed.items() if k != other}
        for s in ds["scenario"].values:
            grid = compute.oc_grid(ds, "p_go", rows=other, cols=view.x_axis,
                                   fixed={**fx, "scenario": s})
            ns = (compute.oc_grid(ds, "n_sims", rows=other, cols=view.x_axis,
                                  fixed={**fx, "scenario": s}).values if "n_sims" in ds else None)
            txt = [[_lab.fmt_prob(v, 2, n=None if ns is None else float(ns[i][j]))
                    for j, v in enumerate(row)] for i, row in enumerate(grid.values)]
            ax = partial(plot_oc_heatmap, grid, metric="p_go", cell_text=txt,
                         x_label=xlab(view.x_axis), y_label=xlab(other),
                         title=f"P(go): {sname(s)}")
            parts.append(out.figure(ax, _slug(f"{name}_heatmap_p_go_{s}"),
                                    f"P(go) over {xlab(other)} and {xlab(view.x_axis)}, "
                                    f"true effect: {sname(s)}. A cell with no simulated go "
                                    "shows an upper bound (< 3/number of simulated trials)."))
    if "p_select" in ds and "dose" in ds["p_select"].dims:
        fx = {k: v for k, v in view.fixed.items() if k in ds["p_select"].dims}
        if view.x_axis and view.x_axis in ds["p_select"].dims:
            xs = ds[view.x_axis].values
            fx[view.x_axis] = xs[(len(xs) - 1) // 2].item()
        sel = compute.selection_table(ds, fixed=fx)
        band = None
        dr = sim.dose_response
        band_note = "from dose_response.csv"
        if dr is None or not len(dr):
            try:
                files = json.loads(str(sim.provenance.get("fit_posterior_files", "[]") or "[]"))
                dr, band_note = compute.dose_response_draws(
                    parse_config_text(sim.provenance.get("config_text")), fixed=view.fixed,
                    fit_files=files, seed=abs(int(sim.provenance.get("seed", 0) or 0)),
                    curve_points=41)
            except Exception as exc:  # noqa: BLE001 - the figure is still drawn without (a)
                dr, band_note = None, f"design-prior curves not reconstructed ({exc})"
        if dr is not None and len(dr):
            if {"lower", "median", "upper"} <= set(dr.columns):
                band = dr
            else:
                band = compute.credible_band(dr)
        scale = str(ds.attrs.get("scale", "")) or "log_speed_ratio"
        cfg_mcid = None
        flat = flatten(parse_config_text(sim.provenance.get("config_text")))
        if isinstance(flat.get("endpoint.mcid"), (int, float)):
            cfg_mcid = float(flat["endpoint.mcid"])
        if isinstance(flat.get("endpoint.scale"), str):
            scale = flat["endpoint.scale"]
        units = str(ds["dose"].attrs.get("units", "") or "") if "dose" in ds.coords else ""
        metric = str(ds["dose"].attrs.get("dose_metric", "") or "") if "dose" in ds.coords else ""
        dose_label = textwrap.fill(f"dose ({units})" if units else f"dose ({metric})" if metric
                                   else "dose", 48)
        dd = [float(d) for d in ds["dose"].values] if "dose" in ds.coords else None
        fig = partial(plot_dose_response, band, sel, scale=scale, mcid=cfg_mcid,
                      dose_label=dose_label, design_doses=dd,
                      scenario_names={str(k): sname(k) for k in ds["scenario"].values})
        at = ", ".join(f"{xlab(k)} = {fmt(v)}" for k, v in fx.items())
        parts.append(out.figure(fig, f"{name}_dose_response",
                                "(a) True dose-response curves of each scenario: pointwise median and "
                                f"95% credible band where the shape is uncertain ({band_note}); "
                                "markers = the doses tested; (b) probability that each dose (not "
                                "placebo) or no dose is selected, per scenario; bars \u00b12 "
                                "Monte Carlo standard errors" + (f", at {at}" if at else "") + "."))
        out.table(sel, f"dose_selection_{name}")
        parts.append(_target_dose_html(ds, out, name, fx=fx, dose_label=dose_label, sname=sname))
    return "\n".join(parts)


def _target_dose_html(ds, out: _Out, name: str, *, fx: dict, dose_label: str, sname) -> str:
    """The estimated target dose's distribution per scenario, with P(the true effect at the
    selected dose >= MCID) in the caption and table."""
    from ..plots.dose import plot_target_dose_distribution

    td = compute.td_histogram(ds, fixed=fx)
    if td is None or td.empty:
        return ""
    ge = ""
    if "p_selected_ge_mcid" in ds:
        v = ds["p_selected_ge_mcid"].sel({k: x for k, x in fx.items()
                                          if k in ds["p_selected_ge_mcid"].dims})
        m = (ds["p_selected_ge_mcid_mcse"].sel({k: x for k, x in fx.items()
                                                if k in ds["p_selected_ge_mcid_mcse"].dims})
             if "p_selected_ge_mcid_mcse" in ds else None)
        ns = ds["n_sims"].sel({k: x for k, x in fx.items() if k in ds["n_sims"].dims}) \
            if "n_sims" in ds else None
        items = []
        for sc in v["scenario"].values:
            pv = float(v.sel(scenario=sc))
            nn = float(ns.sel(scenario=sc)) if ns is not None and "scenario" in ns.dims else None
            txt = _lab.fmt_prob(pv, 3, n=nn)
            if m is not None:
                txt += f" (MCSE {_lab.fmt_mcse(float(m.sel(scenario=sc)), 3)})"
            items.append(f"{sname(sc)}: {txt}")
            td.loc[td["scenario"] == str(sc), "p_selected_ge_mcid"] = pv
            if m is not None:
                td.loc[td["scenario"] == str(sc), "p_selected_ge_mcid_mcse"] = float(m.sel(scenario=sc))
        ge = (" Probability that a dose is selected and its true effect is at least the MCID: "
              + "; ".join(items) + ".")
    out.table(td, f"target_dose_{name}")
    names = {str(k): sname(k) for k in ds["scenario"].values}
    return out.figure(
        partial(plot_target_dose_distribution, td, scenario_names=names,
                dose_label=textwrap.fill("estimated target " + dose_label.replace("\n", " "), 48)),
        f"{name}_target_dose_distribution",
        "Distribution of the estimated target dose (the dose estimated to give the target "
        "effect) over simulated trials, per scenario, in equal-width dose bins; 'none' = no "
        "estimate (target not reached within the dose range, or the trial not analysable); "
        "bars \u00b12 Monte Carlo standard errors." + ge)


def _designs_compared_html(views: Sequence[SimView], out: _Out) -> str:
    """P(go) at the MCID of every design against the total number of patients randomised
    (n per arm x arms), when two or more designs simulated that scenario on one scale."""
    rows, keys = [], set()
    for v in views:
        ds = v.sim.ds
        flat = flatten(parse_config_text(v.sim.provenance.get("config_text")))
        mcid, x = flat.get("endpoint.mcid"), v.x_axis
        arms = flat.get("design.arms") or flat.get("design.doses")
        if (not isinstance(mcid, (int, float)) or x != "design.n_per_arm" or "p_go" not in ds
                or "true_effect" not in ds.coords or not isinstance(arms, list)):
            continue
        kinds = (dict(zip(map(str, ds["scenario"].values), map(str, ds["scenario_kind"].values)))
                 if "scenario_kind" in ds.coords else {})
        hit = [str(s) for s, e in zip(ds["scenario"].values, np.ravel(ds["true_effect"].values))
               if kinds.get(str(s), "fixed") != "design_prior"
               and np.isclose(float(e), float(mcid), rtol=1e-3, atol=1e-4)]
        if not hit:
            continue
        keys.add((str(flat.get("endpoint.scale")), round(float(mcid), 6)))
        fx = {k: val for k, val in v.fixed.items() if k in ds["p_go"].dims and k != x}
        y = ds["p_go"].sel({**fx, "scenario": hit[0]})
        m = ds["p_go_mcse"].sel({**fx, "scenario": hit[0]}) if "p_go_mcse" in ds else 0 * y
        from .sequential import is_sequential

        label = (f"{flat.get('name') or v.sim.name} ({len(arms)} arms"
                 + (f", {len(arms) - 1} doses" if flat.get("design.doses") else "")
                 + (", interim analyses: at its maximum n" if is_sequential(ds) else "") + ")")
        for n in ds[x].values:
            yy, mm = float(y.sel({x: n})), float(m.sel({x: n}))
            rows.append({"design": label, "x": float(n) * len(arms), "y": yy,
                         "lower": max(0.0, yy - 2 * mm), "upper": min(1.0, yy + 2 * mm)})
    t = pd.DataFrame(rows)
    if len(keys) != 1 or t.empty or t["design"].nunique() < 2:
        return ""
    out.table(t, "designs_compared")
    return ("<h2 id='designs-compared'>Designs compared at equal total sample size</h2>"
            + out.figure(partial(plot_designs_compared, t, y_label="P(go) when the true effect = MCID"),
                         "designs_compared_p_go_at_mcid",
                         "P(go) when the true effect equals the MCID, for each simulated design, "
                         "against the total number of patients randomised (patients per arm "
                         "times arms); shaded bands \u00b12 Monte Carlo standard errors. Each "
                         "design with its own decision rule and at its shown grid slice (see "
                         "its summary): a higher curve is a more permissive rule as well as "
                         "a more efficient design."
                         + (" A design with interim analyses is drawn at its maximum sample "
                            "size (it uses fewer patients on average; see its expected-n "
                            "figure)." if t["design"].str.contains("interim analyses").any()
                            else "")))


def _rar_compared_html(views: Sequence[SimView], out: _Out) -> str:
    """Each response-adaptive design against its fixed-allocation comparator (pairing:
    :func:`msbayes.report.adaptive.rar_pairs`)."""
    from .adaptive import rar_comparison_html, rar_pairs

    parts = []
    for i, j in rar_pairs([v.sim for v in views]):
        v = views[i]
        ds = v.sim.ds
        scale = str(flatten(parse_config_text(v.sim.provenance.get("config_text")))
                    .get("endpoint.scale") or "log_speed_ratio")
        eff = ({str(k): float(e) for k, e in zip(ds["scenario"].values, ds["true_effect"].values)}
               if "true_effect" in ds.coords and ds["true_effect"].dims == ("scenario",) else {})
        kinds = ({str(k): str(x) for k, x in zip(ds["scenario"].values,
                                                  ds["scenario_kind"].values)}
                 if "scenario_kind" in ds.coords else {})
        over = display_labels(v)

        def sname(s: object, eff=eff, kinds=kinds, over=over, scale=scale) -> str:
            e = eff.get(str(s), float("nan"))
            return scenario_label(str(s), effect=e if np.isfinite(e) else None, scale=scale,
                                  kind=kinds.get(str(s), "fixed"), overrides=over)

        parts.append(rar_comparison_html(v, views[j], out, sname=sname, html_table=_html_table))
    return "".join(parts)


# ---------------------------------------------------------------------------- provenance
def _provenance_table(fit: FitArtefacts | None, sims: Sequence[SimArtefacts],
                      links: Sequence[LinkCheck]) -> pd.DataFrame:
    rows = []
    if fit is not None:
        p = fit.provenance
        rows.append({"artefact": "fit posterior.nc", "path": str(fit.posterior_path),
                     "file sha256": fit.posterior_sha256, "msbayes version": p.get("msbayes_version", ""),
                     "config sha256": p.get("config_sha256", ""), "data sha256": p.get("data_sha256", ""),
                     "seed": p.get("seed", ""), "created (UTC)": p.get("created_utc", ""),
                     "link to fit": ""})
    for sim, link in zip(sims, links):
        p = sim.provenance
        rows.append({"artefact": f"sim {sim.name} oc.nc", "path": str(sim.path / "oc.nc"),
                     "file sha256": sha256_file(sim.path / "oc.nc"), "msbayes version": p.get("msbayes_version", ""),
                     "config sha256": p.get("config_sha256", ""), "data sha256": p.get("data_sha256", ""),
                     "seed": p.get("seed", ""), "created (UTC)": p.get("created_utc", ""),
                     "link to fit": link.status})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- entry point
def _unique_names(sims: Sequence[SimArtefacts]) -> list[SimArtefacts]:
    """Name each sim run uniquely; the name prefixes its figure and table files.

    The name is the design config's ``name`` (slugged), so the same design gives the same
    file names wherever its output folder is; the folder name only when the config has no
    name. Designs sharing a name get ``-2``, ``-3`` ... in the order given, so none
    overwrites another's files.
    """
    from dataclasses import replace

    out, taken = [], set()
    for s in sims:
        cfg_name = parse_config_text(s.provenance.get("config_text")).get("name")
        base = _slug(str(cfg_name)) if cfg_name else ""
        name = base = base or _slug(s.name) or "design"
        k = 1
        while name in taken:
            k += 1
            name = f"{base}-{k}"
        taken.add(name)
        out.append(replace(s, name=name) if name != s.name else s)
    return out


def build_report(**kwargs) -> Path:
    """Build the report; on any failure remove what this call staged (see :func:`_build_report`)."""
    out_dir = Path(kwargs["out_dir"]) if kwargs.get("out_dir") is not None else None
    existed = out_dir is not None and out_dir.exists()
    try:
        return _build_report(**kwargs)
    except BaseException:
        if out_dir is not None:
            shutil.rmtree(out_dir / STAGING, ignore_errors=True)
            if not existed and out_dir.is_dir() and not any(out_dir.iterdir()):
                out_dir.rmdir()
        raise


def _build_report(
    *,
    fit_dir: PathLike | None = None,
    sim_dir: PathLike | Sequence[PathLike] | None = None,
    out_dir: PathLike,
    sim_dirs: Sequence[PathLike] | None = None,
    formats: Sequence[Format] = ("png", "svg", "pdf"),
    primary_prior: str = "neutral",
    on_mismatch: Literal["warn", "error"] = "warn",
    title: str = "msbayes report: re-analysis and next-trial design",
    slides: bool = False,
    include_synthetic: bool = False,
) -> Path:
    """Write ``out_dir/report.html``, ``out_dir/figures/`` and ``out_dir/tables/``.

    Parameters
    ----------
    fit_dir : path or None
        A ``msbayes fit`` output dir (``posterior.nc``, ``summary.csv``, ...).
    sim_dir : path, sequence of paths, or None
        One or more ``msbayes simulate`` output dirs (``oc.nc``, ``sample_size.csv``, ...).
    out_dir : path
        Where to write; created if missing.
    sim_dirs : sequence of paths, optional
        Alias of ``sim_dir`` for several runs (both may be given; their union is used).
    formats : sequence of {"png", "svg", "pdf"}
        Figure file formats (the HTML always embeds PNG).
    primary_prior : str
        The prior whose posterior is drawn and quoted per model (falls back to the model's
        first prior).
    on_mismatch : {"warn", "error"}
        A sim run made from a different fit than ``fit_dir`` (hash mismatch): ``"warn"``
        (default) emits :class:`ReportMismatchWarning` and a red box in the report;
        ``"error"`` raises :class:`ReportInputError` before anything is written.
    title : str
    slides : bool
        Also write every figure at slide size (16:9) as ``figures/<name>_slide.*``.
    include_synthetic : bool
        Show results of models fitted to synthetic data (labelled SYNTHETIC everywhere). By
        default they are left out of every figure, table and sentence (a note says so).

    Returns
    -------
    Path of ``report.html``.

    Raises
    ------
    ReportInputError
        Neither input given, a required file missing or malformed, an unknown format.
    """
    if fit_dir is None and not sim_dir and not sim_dirs:
        raise ReportInputError("give at least one of --fit DIR or --sim DIR")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ReportInputError(f"formats: unknown {bad}; allowed: {list(FORMATS)}")
    if on_mismatch not in ("warn", "error"):
        raise ReportInputError(f"on_mismatch must be 'warn' or 'error', got {on_mismatch!r}")
    all_sims: list[PathLike] = ([] if sim_dir is None else [sim_dir]
                                if isinstance(sim_dir, (str, os.PathLike)) else list(sim_dir))
    all_sims += [d for d in (sim_dirs or ()) if d not in all_sims]
    fit = load_fit(fit_dir) if fit_dir is not None else None
    dropped_synthetic: list[str] = []
    if fit is not None:
        fit = _lab.annotate_fit(fit)
        if not include_synthetic:
            fit, dropped_synthetic = _lab.drop_synthetic(fit)
    sims = _unique_names([load_sim(d) for d in all_sims])
    links = [check_link(fit, s) for s in sims]
    mism = [lk for lk in links if lk.status == "mismatch"]
    if mism and on_mismatch == "error":
        raise ReportInputError("\n".join(lk.message for lk in mism))
    for lk in mism:
        warnings.warn(lk.message, ReportMismatchWarning, stacklevel=2)

    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    out = _Out(out_path, formats, slides=slides)
    warn_msgs = [lk.message for lk in mism]
    notes = list(fit.notes if fit else ()) + [n for s in sims for n in s.notes]
    if dropped_synthetic:
        warn_msgs.append(
            f"Left out: model(s) {', '.join(dropped_synthetic)} fitted to SYNTHETIC patient-level "
            "data (not evidence). Use `msbayes report --include-synthetic` to show them, labelled.")
    notes += [lk.message for lk in links if lk.status == "unverifiable"]
    body = []
    primary = _primary_priors(fit.summary, primary_prior) if fit is not None else {}
    if fit is not None:
        h, w = _fit_html(fit, out, primary)
        body.append(h)
        warn_msgs += w
    views = [_view(s) for s in sims]
    for v, lk in zip(views, links):
        body.append(_sim_html(v, lk, out, fit))
    body.append(_designs_compared_html(views, out))
    body.append(_rar_compared_html(views, out))

    text = statistical_considerations(fit, views, links, primary=primary,
                                      dropped_synthetic=dropped_synthetic)
    atomic_write_text(out_path / "statistical_considerations.md", text)
    from .word import markdown_to_docx

    markdown_to_docx(text, out_path / "statistical_considerations.docx",
                     title="Statistical considerations")
    body.append("<h2 id='statistical-considerations'>Statistical considerations (for pasting)</h2>"
                "<p>Generated from the artefacts listed under Provenance; every number is read "
                "from them. Also saved as <code>statistical_considerations.docx</code> (Word, "
                "tables as Word tables), <code>statistical_considerations.md</code> (Markdown) "
                "and <code>statistical_considerations.html</code>."
                "</p>"
                f"<div class='considerations' id='considerations-text'>{_markdown(text, shift=3)}</div>")
    atomic_write_text(out_path / "statistical_considerations.html",
                      "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
                      "Statistical considerations</title></head><body>" + _markdown(text)
                      + "</body></html>\n")
    prov = _provenance_table(fit, sims, links)
    out.table(prov, "provenance")
    body.append("<h2 id='provenance'>Provenance</h2>"
                + _html_table(prov, id="table-provenance", cls="provenance",
                              caption="Each artefact's msbayes version, config and data hashes, "
                              "and seed"))
    if notes:
        body.append("<h2 id='notes'>Notes on the inputs</h2><ul>"
                    + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")

    warn_html = "".join(f"<div class='warning'>{_esc(m)}</div>" for m in warn_msgs)
    toc, body_html = _toc("\n".join(body))
    tpl = Template(resources.files("msbayes.report").joinpath("templates/report.html")
                   .read_text(encoding="utf-8"))
    page = tpl.substitute(
        title=_esc(title), version=_esc(__version__),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        warnings=warn_html, toc=toc, body=body_html)
    out.retire_stale()  # figures and tables into place, then the page that shows them
    html_path = atomic_write_text(out_path / "report.html", page)
    return html_path


build_report.__doc__ = _build_report.__doc__
build_report.__wrapped__ = _build_report  # inspect.signature shows the keyword arguments
