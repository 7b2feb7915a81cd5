"""Dose-response: the true curves (credible band) and P(select each dose), placebo excluded.

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
from matplotlib.patches import Patch

from .posterior import _check
from .style import REFERENCE, Size, effect_label, new_figure, scenario_style, style_context

__all__ = ["plot_dose_response", "plot_target_dose_distribution"]


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
    design_doses: Sequence[float] | None = None,
    placebo_dose: float | None = 0.0,
    scenario_names: dict[str, str] | None = None,
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Two panels: (a) true dose-response curves with a credible band; (b) P(select).

    Parameters
    ----------
    band : DataFrame or None
        Columns ``scenario, dose, lower, median, upper`` (e.g. from
        :func:`msbayes.report.compute.credible_band`); ``None`` leaves panel (a) with a note.
        Evaluated on a fine dose grid it is drawn as a smooth curve; evaluated only at the
        design doses, as points with interval bars (never joined by straight segments).
        The band is drawn (and named in the legend) only where it has width.
    selection : DataFrame
        Columns ``scenario, dose, p, lower, upper`` (probability each dose is selected,
        ±2 MCSE), e.g. from :func:`msbayes.report.compute.selection_table`; a ``dose`` of
        ``"none"`` is the probability that no dose is selected (drawn as its own bar).
        Rows with a missing ``p`` (a dose the design does not test) are not drawn, nor is the
        placebo dose (never selectable).
    scale : str
        Effect scale name for panel (a).
    dose_label : str
        Dose axis label with units.
    mcid : float, optional
        MCID line in panel (a) (neutral grey, dashed).
    design_doses : sequence of float, optional
        The doses the design tests, marked on the curves (default: all doses in ``band``).
    placebo_dose : float or None
        Dose left out of panel (b) (placebo); ``None`` keeps every dose.
    scenario_names : mapping, optional
        Display name per scenario key.
    size : {"column", "slide"}
    axes : two Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(selection, ("scenario", "dose", "p", "lower", "upper"), "selection")
    names = scenario_names or {}
    axes_given = axes is not None
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
            styles = dict(zip(scen, scenario_style(["point"] * len(scen))))
            any_band = False
            for s in scen:
                sub = band[band["scenario"] == s]
                x, labels, numeric = _positions(sub["dose"])
                st = styles[s]
                dd = (np.asarray(design_doses, float) if design_doses is not None and numeric
                      else x)
                dense = numeric and len(np.setdiff1d(x, dd)) > 0
                wide = bool(np.nanmax(np.abs(sub["upper"].to_numpy(float)
                                             - sub["lower"].to_numpy(float))) > 1e-12)
                lab = names.get(str(s), str(s))
                if dense:
                    if wide:
                        ax_a.fill_between(x, sub["lower"], sub["upper"], color=st["color"],
                                          alpha=0.2, lw=0, gid="credible_band")
                    ax_a.plot(x, sub["median"], color=st["color"], ls=st["ls"],
                              gid="median_curve", label=lab)
                    on = np.isin(x, dd)
                    ax_a.plot(x[on], sub["median"].to_numpy(float)[on], ls="none",
                              marker=st["marker"], mfc=st["mfc"], color=st["color"], ms=3.5,
                              gid="design_dose")
                else:
                    med = sub["median"].to_numpy(float)
                    ax_a.errorbar(x, med, yerr=[med - sub["lower"].to_numpy(float),
                                                sub["upper"].to_numpy(float) - med] if wide
                                  else None, fmt=st["marker"], color=st["color"], mfc=st["mfc"],
                                  ms=3.5, lw=0.9, capsize=1.5, label=lab, gid="median_points")
                    if not numeric:
                        ax_a.set_xticks(x, labels)
                any_band = any_band or wide
            ax_a.axhline(0.0, gid="zero", **REFERENCE["zero"])
            if mcid is not None:
                ax_a.axhline(mcid, gid="mcid", label="MCID", **REFERENCE["mcid"])
            handles, labels_ = ax_a.get_legend_handles_labels()
            if any_band:
                handles.append(Patch(facecolor="0.5", alpha=0.3, label="95% credible band"))
                labels_.append("95% credible band")
            ax_a.legend(handles, labels_, frameon=False, fontsize="small", loc="upper center",
                        bbox_to_anchor=(0.5, -0.3), title="median true effect",
                        title_fontsize="small")
        else:
            ax_a.text(0.5, 0.5, "design-prior dose-response curves\nnot in the artefacts",
                      ha="center", va="center", transform=ax_a.transAxes, color="0.4",
                      gid="no_band")
        ax_a.set_xlabel(dose_label)
        ax_a.set_ylabel(effect_label(scale))
        ax_a.set_title("(a) true dose-response", loc="left")

        # doses with no value are not in this design's dose set (grids over dose sets): no bar;
        # placebo is never selectable
        selection = selection[selection["p"].notna()]
        if placebo_dose is not None:
            is_pl = [(str(d) != "none" and _isclose(d, placebo_dose)) for d in selection["dose"]]
            selection = selection[~np.asarray(is_pl, bool)]
        scen = list(dict.fromkeys(selection["scenario"]))
        doses = [d for d in dict.fromkeys(selection["dose"]) if str(d) != "none"]
        if (selection["dose"].astype(str) == "none").any():
            doses.append("none")
        styles = dict(zip(scen, scenario_style(["point"] * len(scen))))
        w = 0.8 / max(len(scen), 1)
        base = np.arange(len(doses), dtype=float)
        for k, s in enumerate(scen):
            sub = selection[selection["scenario"] == s].set_index("dose").reindex(doses)
            x = base - 0.4 + w * (k + 0.5)
            ax_b.bar(x, sub["p"], width=w, color=styles[s]["color"],
                     label=names.get(str(s), str(s)), gid="select_bar")
            ax_b.errorbar(x, sub["p"], yerr=[sub["p"] - sub["lower"], sub["upper"] - sub["p"]],
                          fmt="none", ecolor="0.5", lw=0.8, capsize=1.5)
        _, labels, _ = _positions([d for d in doses if str(d) != "none"])
        if doses and str(doses[-1]) == "none":
            labels = list(labels) + ["no dose\nselected"]
        ax_b.set_xticks(base, labels)
        ax_b.set_xlabel(dose_label)
        ax_b.set_ylabel("probability the dose is selected")
        ax_b.set_ylim(0, 1)
        ax_b.set_title("(b) probability of selecting each dose", loc="left")
        if axes_given:
            ax_b.legend(title="true effect (scenario)", frameon=False, fontsize="small",
                        title_fontsize="small")
        else:
            fig.legend(*ax_b.get_legend_handles_labels(), title="true effect (scenario)",
                       frameon=False, fontsize="small", title_fontsize="small",
                       loc="outside lower center")
    return fig


def _isclose(a, b) -> bool:
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return False


def plot_target_dose_distribution(
    table: pd.DataFrame,
    *,
    dose_label: str = "estimated target dose",
    scenario_names: dict[str, str] | None = None,
    size: Size = "column",
    ax: Axes | None = None,
) -> Axes:
    """Distribution of the estimated target dose: one bar per dose bin and scenario, with
    ±2 MCSE bars, and a separate bar for "no estimate" (target not reached in the dose range).

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, bin, lower_dose, upper_dose, p, lower, upper`` (e.g. from
        :func:`msbayes.report.compute.td_histogram`); ``bin = "none"`` = no estimate.
    dose_label : str
        The x axis label (the estimated target dose with its units).
    scenario_names : mapping, optional
        Display name per scenario key.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.DataFrame({"scenario": "a", "bin": ["0", "1", "none"],
    ...                   "lower_dose": [0, 5, np.nan], "upper_dose": [5, 10, np.nan],
    ...                   "p": [0.3, 0.5, 0.2], "lower": [0.28, 0.48, 0.18],
    ...                   "upper": [0.32, 0.52, 0.22]})
    >>> ax = plot_target_dose_distribution(t, scenario_names={"a": "effect at the MCID"})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['effect at the MCID']
    """
    _check(table, ("scenario", "bin", "lower_dose", "upper_dose", "p", "lower", "upper"),
           "target-dose table")
    names = scenario_names or {}
    scen = list(dict.fromkeys(table["scenario"]))
    if not scen:
        raise ValueError("target-dose table is empty")
    styles = dict(zip(scen, scenario_style(["point"] * len(scen))))
    binned = table[table["bin"].astype(str) != "none"]
    edges = np.unique(np.r_[binned["lower_dose"].to_numpy(float),
                            binned["upper_dose"].to_numpy(float)])
    width = float(np.min(np.diff(edges))) if len(edges) > 1 else 1.0
    none_x = (float(edges.max()) if len(edges) else 0.0) + 1.2 * width
    w = 0.85 * width / len(scen)
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for i, s in enumerate(scen):
            sub = table[table["scenario"] == s]
            mid = np.where(sub["bin"].astype(str) == "none", none_x,
                           0.5 * (sub["lower_dose"].to_numpy(float)
                                  + sub["upper_dose"].to_numpy(float)))
            x = mid - 0.425 * width + (i + 0.5) * w
            p = sub["p"].to_numpy(float)
            st = styles[s]
            ax.bar(x, p, width=w, color=st["color"], alpha=0.85, label=names.get(str(s), str(s)),
                   gid="td_bars")
            ax.errorbar(x, p, yerr=[p - sub["lower"].to_numpy(float),
                                    sub["upper"].to_numpy(float) - p],
                        fmt="none", ecolor="0.2", lw=0.7, capsize=1.2, gid="mcse_bars")
        ticks = list(edges) + [none_x]
        ax.set_xticks(ticks, [f"{e:g}" for e in edges] + ["none"])
        ax.set_xlabel(dose_label)
        ax.set_ylabel("proportion of simulated trials")
        ax.set_ylim(0, min(1.0, 1.15 * float(np.nanmax(table["upper"].to_numpy(float))) + 0.02))
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.25), ncol=1)
    return ax
