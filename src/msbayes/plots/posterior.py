"""Posterior of the treatment effect by EDSS stratum, prior overlaid, MCID and zero marked.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from msbayes.plots import plot_effect_posterior
>>> x = np.linspace(-1, 1, 101)
>>> dens = pd.DataFrame({"population": "edss_6.0-6.5", "kind": "posterior", "x": x,
...                      "density": np.exp(-x**2 / 0.02)})
>>> panels = pd.DataFrame({"population": ["edss_6.0-6.5"], "status": ["estimate"],
...                        "p_benefit": [0.97], "p_mcid": [0.61]})
>>> fig = plot_effect_posterior(dens, panels=panels, mcid=0.1823, scale="log_speed_ratio")
>>> len(fig.axes)
1
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import OKABE_ITO, REFERENCE, Size, effect_label, new_figure, population_label, style_context

__all__ = ["plot_effect_posterior"]

_REQUIRED_DENS = ("population", "kind", "x", "density")
_REQUIRED_PANELS = ("population", "status", "p_benefit", "p_mcid")


def _check(df: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; required: {list(cols)}")


def _rel(txt: str) -> str:
    """``"> 0.99"`` stays, ``"0.42"`` becomes ``"= 0.42"``."""
    t = str(txt).strip()
    return t if t[:1] in "<>=" else f"= {t}"


def plot_effect_posterior(
    densities: pd.DataFrame,
    *,
    panels: pd.DataFrame,
    mcid: float | None,
    scale: str,
    title: str | None = None,
    mcid_note: str = "",
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per stratum: posterior density (and prior), zero and MCID lines, P annotations.

    Status labels (never dropped): a ``prediction`` panel (stratum without data) is drawn
    dashed, titled and labelled "prediction (no data)" and shows no probability; a
    ``synthetic`` panel is titled "SYNTHETIC data (not evidence)"; a ``borrowing`` other than
    ``"none"`` is written in the panel's annotation box.

    Parameters
    ----------
    densities : DataFrame
        Tidy densities with columns ``population, kind, x, density``; ``kind`` is
        ``"posterior"`` or ``"prior"`` (computed by :func:`msbayes.report.compute.density_table`).
    panels : DataFrame
        One row per panel, in display order: ``population, status, p_benefit, p_mcid``
        (``status`` from the fit: ``estimate`` | ``prediction`` | ``synthetic``). Optional:
        ``p_benefit_text`` / ``p_mcid_text`` (the probabilities as the report prints them, e.g.
        ``"> 0.99"``; used instead of the numbers) and ``borrowing``.
    mcid : float or None
        Minimal clinically important difference on the plotted scale; ``None`` draws no line.
    scale : str
        Name of the effect scale, used in the x label.
    title : str, optional
        Figure title.
    mcid_note : str
        Added to the MCID legend entry, e.g. ``"analogue, not a published MCID"``.
    size : {"column", "slide"}
        Figure size target.
    axes : sequence of Axes, optional
        Existing axes, one per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(densities, _REQUIRED_DENS, "densities")
    _check(panels, _REQUIRED_PANELS, "panels")
    n = len(panels)
    if n == 0:
        raise ValueError("panels: at least one population is required")
    with style_context(size):
        if axes is None:
            fig, axes = new_figure(n, 1, size=size, sharex=True)
        else:
            if len(axes) != n:
                raise ValueError(f"axes: need {n} axes, got {len(axes)}")
            fig = axes[0].figure
        for ax, (_, row) in zip(axes, panels.iterrows()):
            pop = row["population"]
            sub = densities[densities["population"] == pop]
            status = str(row["status"])
            post = sub[sub["kind"] == "posterior"]
            prior = sub[sub["kind"] == "prior"]
            pred = status == "prediction"
            synth = status == "synthetic"
            ls = "--" if pred else "-"
            colour = OKABE_ITO[1] if pred else OKABE_ITO[7] if synth else OKABE_ITO[5]
            lab = ("prediction (no data)" if pred else
                   "posterior (synthetic data, not evidence)" if synth else "posterior")
            ax.plot(post["x"], post["density"], color=colour, ls=ls, label=lab,
                    gid="posterior")
            ax.fill_between(post["x"], 0, post["density"], color=colour,
                            alpha=0.05 if pred else 0.15, lw=0, hatch="//" if pred else None)
            if len(prior):
                ax.plot(prior["x"], prior["density"], color=OKABE_ITO[0], ls=":", lw=1.0,
                        label="prior", gid="prior")
            ax.axvline(0.0, gid="zero", **REFERENCE["zero"])
            if mcid is not None:
                note = f"; {mcid_note}" if mcid_note else ""
                ax.axvline(mcid, gid="mcid", **REFERENCE["mcid"],
                           label=f"MCID ({mcid:.3g}{note})")
            head = population_label(pop)
            if pred:
                head += " \u2014 prediction (no data)"
            elif synth:
                head += " \u2014 SYNTHETIC data (not evidence)"
            ax.set_title(head, loc="left")
            if pred:
                lines = ["prediction from the", "between-stratum model:", "no probability given"]
            else:
                pb = row["p_benefit_text"] if "p_benefit_text" in row.index else (
                    f"= {row['p_benefit']:.2f}")
                lines = [f"P(benefit) {_rel(pb)}"]
                if mcid is not None and pd.notna(row["p_mcid"]):
                    pm = row["p_mcid_text"] if "p_mcid_text" in row.index else (
                        f"= {row['p_mcid']:.2f}")
                    lines.append(f"P(>MCID) {_rel(pm)}")
            bor = str(row["borrowing"]) if "borrowing" in row.index else "none"
            if bor not in ("none", "", "nan"):
                lines.append(f"borrows {bor}")
            ax.text(0.98, 0.95, "\n".join(lines), transform=ax.transAxes, ha="right",
                    va="top", gid="p_annotation",
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.7", "lw": 0.5})
            ax.set_ylabel("density")
            ax.set_ylim(bottom=0)
        axes[-1].set_xlabel(effect_label(scale))
        h: dict = {}
        for ax in axes:
            for hh, ll in zip(*ax.get_legend_handles_labels()):
                h.setdefault(ll, hh)
        axes[0].legend(list(h.values()), list(h), loc="upper left", frameon=False)
        if title:  # wrapped to the figure width: a long model name is never cut off
            fig.suptitle(textwrap.fill(title, 52 if size == "column" else 100))
    return fig
