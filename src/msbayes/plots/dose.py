"""Dose-response: the design prior's curves (credible band) and P(select each dose).

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots import plot_dose_response
>>> band = pd.DataFrame({"scenario": "prior", "dose": [0, 3, 10], "lower": [0, 0.05, 0.1],
...                      "median": [0, 0.2, 0.38], "upper": [0, 0.35, 0.65]})
>>> sel = pd.DataFrame({"scenario": "prior", "dose": [0, 3, 10], "p": [0.1, 0.3, 0.6],
...                     "lower": [0.08, 0.27, 0.57], "upper": [0.12, 0.33, 0.63]})
>>> fig = plot_dose_response(band, sel, scale="log_speed_ratio", dose_label="million cells")
>>> len(fig.axes)
2
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .posterior import _check
from .style import OKABE_ITO, Size, colour_cycle, effect_label, new_figure, style_context

__all__ = ["plot_dose_response"]


def _positions(doses: Sequence) -> tuple[np.ndarray, list[str], bool]:
    vals = list(doses)
    try:
        x = np.asarray(vals, dtype=float)
        return x, [f"{v:g}" for v in x], True
    except (TypeError, ValueError):
        return np.arange(len(vals), dtype=float), [str(v) for v in vals], False


def plot_dose_response(
    band: pd.DataFrame | None,
    selection: pd.DataFrame,
    *,
    scale: str,
    dose_label: str = "dose",
    mcid: float | None = None,
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Two panels: (a) design-prior dose-response curves with a credible band; (b) P(select).

    Parameters
    ----------
    band : DataFrame or None
        Columns ``scenario, dose, lower, median, upper`` (e.g. from
        :func:`msbayes.report.compute.credible_band`); ``None`` leaves panel (a) with a note.
    selection : DataFrame
        Columns ``scenario, dose, p, lower, upper`` (probability each dose is selected,
        ±2 MCSE), e.g. from :func:`msbayes.report.compute.selection_table`. Rows with a
        missing ``p`` (a dose the design does not test) are not drawn.
    scale : str
        Effect scale name for panel (a).
    dose_label : str
        Dose axis label with units.
    mcid : float, optional
        MCID line in panel (a).
    size : {"column", "slide"}
    axes : two Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(selection, ("scenario", "dose", "p", "lower", "upper"), "selection")
    with style_context(size):
        if axes is None:
            fig, axes = new_figure(2, 1, size=size)
        else:
            if len(axes) != 2:
                raise ValueError(f"axes: need 2 axes, got {len(axes)}")
            fig = axes[0].figure
        ax_a, ax_b = axes
        if band is not None and len(band):
            _check(band, ("scenario", "dose", "lower", "median", "upper"), "band")
            scen = list(dict.fromkeys(band["scenario"]))
            cols = dict(zip(scen, colour_cycle(len(scen))))
            for s in scen:
                sub = band[band["scenario"] == s]
                x, labels, numeric = _positions(sub["dose"])
                ax_a.fill_between(x, sub["lower"], sub["upper"], color=cols[s], alpha=0.25, lw=0,
                                  gid="credible_band")
                ax_a.plot(x, sub["median"], "-o", ms=3, color=cols[s], gid="median_curve",
                          label=str(s))
                if not numeric:
                    ax_a.set_xticks(x, labels)
            ax_a.axhline(0.0, color="0.4", lw=0.8, gid="zero")
            if mcid is not None:
                ax_a.axhline(mcid, color=OKABE_ITO[6], ls="--", lw=1.0, gid="mcid",
                             label="MCID")
            ax_a.legend(title="median, shaded 95% band", frameon=False, fontsize="small",
                        title_fontsize="small")
        else:
            ax_a.text(0.5, 0.5, "design-prior dose-response curves\nnot in the artefacts",
                      ha="center", va="center", transform=ax_a.transAxes, color="0.4",
                      gid="no_band")
        ax_a.set_xlabel(dose_label)
        ax_a.set_ylabel(effect_label(scale))
        ax_a.set_title("(a) design prior: dose-response", loc="left")

        # doses with no value are not in this design's dose set (grids over dose sets): no bar
        selection = selection[selection["p"].notna()]
        scen = list(dict.fromkeys(selection["scenario"]))
        doses = list(dict.fromkeys(selection["dose"]))
        cols = dict(zip(scen, colour_cycle(len(scen))))
        w = 0.8 / max(len(scen), 1)
        base = np.arange(len(doses), dtype=float)
        for k, s in enumerate(scen):
            sub = selection[selection["scenario"] == s].set_index("dose").reindex(doses)
            x = base - 0.4 + w * (k + 0.5)
            ax_b.bar(x, sub["p"], width=w, color=cols[s], label=str(s), gid="select_bar")
            ax_b.errorbar(x, sub["p"], yerr=[sub["p"] - sub["lower"], sub["upper"] - sub["p"]],
                          fmt="none", ecolor="black", lw=0.8, capsize=1.5)
        _, labels, _ = _positions(doses)
        ax_b.set_xticks(base, labels)
        ax_b.set_xlabel(dose_label)
        ax_b.set_ylabel("P(dose selected) (bars: \u00b12 MCSE)")
        ax_b.set_ylim(0, 1)
        ax_b.set_title("(b) probability of selecting each dose", loc="left")
        ax_b.legend(title="scenario", frameon=False, fontsize="small")
    return fig
