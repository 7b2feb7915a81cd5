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

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import OKABE_ITO, Size, effect_label, new_figure, population_label, style_context

__all__ = ["plot_effect_posterior"]

_REQUIRED_DENS = ("population", "kind", "x", "density")
_REQUIRED_PANELS = ("population", "status", "p_benefit", "p_mcid")


def _check(df: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; required: {list(cols)}")


def plot_effect_posterior(
    densities: pd.DataFrame,
    *,
    panels: pd.DataFrame,
    mcid: float | None,
    scale: str,
    title: str | None = None,
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per stratum: posterior density (and prior), zero and MCID lines, P annotations.

    Parameters
    ----------
    densities : DataFrame
        Tidy densities with columns ``population, kind, x, density``; ``kind`` is
        ``"posterior"`` or ``"prior"`` (computed by :func:`msbayes.report.compute.density_table`).
    panels : DataFrame
        One row per panel, in display order: ``population, status, p_benefit, p_mcid``
        (``status`` from the fit: ``estimate`` | ``prediction`` | ``synthetic``).
    mcid : float or None
        Minimal clinically important difference on the plotted scale; ``None`` draws no line.
    scale : str
        Name of the effect scale, used in the x label.
    title : str, optional
        Figure title.
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
            ls = "--" if status == "prediction" else "-"
            ax.plot(post["x"], post["density"], color=OKABE_ITO[5], ls=ls, label="posterior",
                    gid="posterior")
            ax.fill_between(post["x"], 0, post["density"], color=OKABE_ITO[5], alpha=0.15,
                            lw=0)
            if len(prior):
                ax.plot(prior["x"], prior["density"], color=OKABE_ITO[0], ls=":", lw=1.0,
                        label="prior", gid="prior")
            ax.axvline(0.0, color="0.4", lw=0.8, ls="-", gid="zero")
            if mcid is not None:
                ax.axvline(mcid, color=OKABE_ITO[6], lw=1.0, ls="--", gid="mcid",
                           label=f"MCID ({mcid:.3g})")
            head = population_label(pop)
            if status == "prediction":
                head += " \u2014 prediction (stratum not reported)"
            elif status == "synthetic":
                head += " \u2014 SYNTHETIC data"
            ax.set_title(head, loc="left")
            lines = [f"P(benefit) = {row['p_benefit']:.2f}"]
            if mcid is not None and pd.notna(row["p_mcid"]):
                lines.append(f"P(>MCID) = {row['p_mcid']:.2f}")
            ax.text(0.98, 0.95, "\n".join(lines), transform=ax.transAxes, ha="right",
                    va="top", gid="p_annotation",
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.7", "lw": 0.5})
            ax.set_ylabel("density")
            ax.set_ylim(bottom=0)
        axes[-1].set_xlabel(effect_label(scale))
        axes[0].legend(loc="upper left", frameon=False)
        if title:
            fig.suptitle(title)
    return fig
