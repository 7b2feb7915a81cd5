"""Figures of adaptive designs (enrichment by stratum, multi-arm dose selection): interim
selection probabilities and the adaptive design against its paired fixed comparator.

Every function takes tables already built by :mod:`msbayes.report.adaptive` from ``oc.nc``
and draws them; nothing is computed here except bar positions.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots.adaptive import plot_enrichment_selection
>>> t = pd.DataFrame({"scenario": ["no effect"] * 2, "category": ["sub_only", "both"],
...                   "label": ["EDSS 6.0-6.5 only", "both populations"],
...                   "p": [0.4, 0.6], "mcse": [0.01, 0.01]})
>>> ax = plot_enrichment_selection(t)
>>> len(ax.patches)
2
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .posterior import _check
from .style import (COMPARATOR_LINESTYLES, DOSE_COLOURS, RAR_OUTCOME_COLOURS, SELECTION_COLOURS,
                    Size, new_figure, scenario_style, style_context)

__all__ = ["plot_enrichment_selection", "plot_dose_selection", "plot_adaptive_vs_fixed",
           "plot_rar_selection", "plot_rar_outcomes", "plot_rar_vs_fixed"]


def _wrap(s: object, width: int = 26) -> str:
    return textwrap.fill(str(s), width)


def plot_enrichment_selection(table: pd.DataFrame, *, size: Size = "column",
                              ax: Axes | None = None) -> Axes:
    """Stacked horizontal bars, one per scenario: the probability of each interim selection
    (e.g. sub-population only / full population only / both / none), each segment with a
    ±2 MCSE error bar at its right end.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, category, label, p, mcse``: one row per scenario and category, in
        drawing order; ``category`` keys :data:`~msbayes.plots.style.SELECTION_COLOURS`
        (``sub_only``, ``full_only``, ``both``, ``none``, ``early``), ``label`` is the legend
        text.
    size : {"column", "two_column", "slide"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(table, ("scenario", "category", "label", "p", "mcse"), "selection table")
    if table.empty:
        raise ValueError("selection table is empty")
    scen = list(dict.fromkeys(table["scenario"]))
    cats = list(dict.fromkeys(table["category"]))
    bad = [c for c in cats if c not in SELECTION_COLOURS]
    if bad:
        raise ValueError(f"selection table: unknown category {bad}; allowed: "
                         f"{sorted(SELECTION_COLOURS)}")
    y = np.arange(len(scen))[::-1].astype(float)
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        left = np.zeros(len(scen))
        for c in cats:
            sub = table[table["category"] == c].set_index("scenario").reindex(scen)
            p = sub["p"].to_numpy(float)
            m = np.nan_to_num(sub["mcse"].to_numpy(float))
            p0 = np.nan_to_num(p)
            ax.barh(y, p0, left=left, height=0.6, color=SELECTION_COLOURS[c],
                    edgecolor="white", lw=0.5, label=str(sub["label"].dropna().iloc[0]), gid=c)
            ax.errorbar(left + p0, y, xerr=2 * m, fmt="none", ecolor="0.2", elinewidth=0.7,
                        capsize=1.5, gid=f"mcse_{c}")
            left = left + p0
        ax.set_yticks(y, [_wrap(s) for s in scen])
        ax.set_xlim(0, 1.0)
        ax.set_xlabel("probability of the interim selection")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, frameon=False)
    return ax


def plot_dose_selection(table: pd.DataFrame, *, size: Size = "column") -> Figure:
    """Grouped horizontal bars per scenario, one bar per active dose: (a) P(dose carried
    into the last stage), (b) P(its null hypothesis rejected); ±2 MCSE error bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, dose_label, p_selected, p_selected_mcse, p_rejected,
        p_rejected_mcse``: one row per scenario and active dose (placebo not included).
    size : {"column", "two_column", "slide"}

    Returns
    -------
    matplotlib.figure.Figure (two axes)
    """
    cols = ("scenario", "dose_label", "p_selected", "p_selected_mcse", "p_rejected",
            "p_rejected_mcse")
    _check(table, cols, "dose selection table")
    if table.empty:
        raise ValueError("dose selection table is empty")
    scen = list(dict.fromkeys(table["scenario"]))
    doses = list(dict.fromkeys(table["dose_label"]))
    k = len(doses)
    h = 0.8 / k
    base = np.arange(len(scen))[::-1].astype(float)
    with style_context(size):
        fig, axes = new_figure(2, 1, size=size, sharex=True)
        for ax, var, xl, tag in ((axes[0], "p_selected", "P(dose kept after the interim)", "(a)"),
                                 (axes[1], "p_rejected", "P(dose's null hypothesis rejected)",
                                  "(b)")):
            for j, d in enumerate(doses):
                sub = table[table["dose_label"] == d].set_index("scenario").reindex(scen)
                yy = base + 0.4 - h * (j + 0.5)
                v = np.nan_to_num(sub[var].to_numpy(float))
                m = np.nan_to_num(sub[f"{var}_mcse"].to_numpy(float))
                ax.barh(yy, v, height=h, color=DOSE_COLOURS[j % len(DOSE_COLOURS)],
                        label=str(d), gid=f"dose_{j}")
                ax.errorbar(v, yy, xerr=2 * m, fmt="none", ecolor="0.2", elinewidth=0.6,
                            capsize=1.2, gid=f"mcse_dose_{j}")
            ax.set_yticks(base, [_wrap(s) for s in scen])
            ax.set_xlim(0, 1.0)
            ax.set_xlabel(xl)
            ax.set_title(tag, loc="left")
        axes[0].legend(title="dose", loc="lower right", frameon=False)
    return fig


def plot_adaptive_vs_fixed(table: pd.DataFrame, *, x_label: str, comparator: str = "fixed design",
                           size: Size = "column") -> Figure:
    """P(go) of the adaptive design (solid) and of its paired fixed comparator (dashed, open
    markers) against the maximum n, one panel per scenario, shaded ±2 MCSE bands.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, x, adaptive, adaptive_lower, adaptive_upper, fixed, fixed_lower,
        fixed_upper``; optional ``kind`` (``design_prior`` draws the scenario in a design-prior
        colour).
    x_label : str
        What ``x`` is (maximum patients per arm).
    comparator : str
        Legend text of the fixed comparator.
    size : {"column", "two_column", "slide"}

    Returns
    -------
    matplotlib.figure.Figure (one axes per scenario)
    """
    cols = ("scenario", "x", "adaptive", "adaptive_lower", "adaptive_upper", "fixed",
            "fixed_lower", "fixed_upper")
    _check(table, cols, "adaptive-vs-fixed table")
    if table.empty:
        raise ValueError("adaptive-vs-fixed table is empty")
    scen = list(dict.fromkeys(table["scenario"]))
    kinds = [str(table.loc[table["scenario"] == s, "kind"].iloc[0]) if "kind" in table
             else "point" for s in scen]
    styles = scenario_style(kinds)
    ncols = 1 if len(scen) == 1 else 2
    nrows = int(np.ceil(len(scen) / ncols))
    with style_context(size):
        fig, axes = new_figure(nrows, ncols, size=size, sharex=True, sharey=True)
        for i, (s, st) in enumerate(zip(scen, styles)):
            ax = axes[i]
            sub = table[table["scenario"] == s].sort_values("x")
            c = st["color"]
            for who, mfc in (("adaptive", c), ("fixed", "white")):
                ax.plot(sub["x"], sub[who], color=c, ls=COMPARATOR_LINESTYLES[who],
                        marker=st["marker"], mfc=mfc, ms=3, gid=who)
                ax.fill_between(sub["x"], sub[f"{who}_lower"], sub[f"{who}_upper"], color=c,
                                alpha=0.18 if who == "adaptive" else 0.1, lw=0,
                                gid=f"mcse_{who}")
            ax.set_title(_wrap(s, 34), fontsize="small")
            ax.set_ylim(-0.02, 1.02)
            if i % ncols == 0:
                ax.set_ylabel("P(go)")
            if i >= len(scen) - ncols:
                ax.set_xlabel(_wrap(x_label, 30))
                ax.tick_params(labelbottom=True)
        for ax in axes[len(scen):]:
            ax.set_visible(False)
        handles = [Line2D([], [], color="0.2", ls=COMPARATOR_LINESTYLES["adaptive"], marker="o",
                          ms=3, label="adaptive design"),
                   Line2D([], [], color="0.2", ls=COMPARATOR_LINESTYLES["fixed"], marker="o",
                          mfc="white", ms=3, label=_wrap(comparator, 40))]
        fig.legend(handles=handles, loc="outside lower center", ncol=1, frameon=False)
    return fig



def _grouped_barh(ax: Axes, table: pd.DataFrame, var: str, group: str, scen: list,
                  colours: list[str]) -> None:
    """One horizontal bar per ``group`` value within each scenario, ±2 MCSE error bars."""
    groups = list(dict.fromkeys(table[group]))
    h = 0.8 / max(len(groups), 1)
    base = np.arange(len(scen))[::-1].astype(float)
    for i, g in enumerate(groups):
        sub = table[table[group] == g].set_index("scenario").reindex(scen)
        p = sub[var].to_numpy(float)
        keep = np.isfinite(p)
        if not keep.any():
            continue
        m = np.nan_to_num(sub[f"{var}_mcse"].to_numpy(float))
        y = base + 0.4 - h * (i + 0.5)
        ax.barh(y[keep], p[keep], height=h * 0.9, color=colours[i % len(colours)],
                label=str(g), gid=f"{var}:{g}")
        ax.errorbar(p[keep], y[keep], xerr=2 * m[keep], fmt="none", ecolor="0.2",
                    elinewidth=0.7, capsize=1.5)
    ax.set_yticks(base, [_wrap(s) for s in scen])


def plot_rar_selection(table: pd.DataFrame, *, size: Size = "column") -> Figure:
    """Response-adaptive randomisation: (a) P(each arm selected, incl. the control and "no
    arm selected") and (b) the mean achieved allocation share of each arm, grouped
    horizontal bars per scenario with ±2 MCSE error bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, label, p_selected, p_selected_mcse, alloc, alloc_mcse`` (from
        :func:`msbayes.report.adaptive.rar_selection_table`); ``alloc`` NaN where an arm
        gets no allocation bar (e.g. "no arm selected").
    size : {"column", "two_column", "slide"}

    Returns
    -------
    matplotlib.figure.Figure (two axes)

    Examples
    --------
    >>> t = pd.DataFrame({"scenario": ["null"] * 2, "label": ["placebo", "3 mg"],
    ...                   "p_selected": [0.4, 0.6], "p_selected_mcse": [0.01, 0.01],
    ...                   "alloc": [0.5, 0.5], "alloc_mcse": [0.0, 0.0]})
    >>> len(plot_rar_selection(t).axes[0].patches)
    2
    """
    _check(table, ("scenario", "label", "p_selected", "p_selected_mcse", "alloc",
                   "alloc_mcse"), "RAR selection table")
    if table.empty:
        raise ValueError("RAR selection table is empty")
    scen = list(dict.fromkeys(table["scenario"]))
    labels = list(dict.fromkeys(table["label"]))
    colours = ["#999999"] + list(DOSE_COLOURS)
    colours = [("#D9D9D9" if lab == "no arm selected" else colours[i % len(colours)])
               for i, lab in enumerate(labels)]
    with style_context(size):
        fig, axes = new_figure(2, 1, size=size, sharex=True)
        for ax, var, xl, tag in ((axes[0], "p_selected", "P(arm selected)", "(a)"),
                                 (axes[1], "alloc", "mean share of patients randomised",
                                  "(b)")):
            _grouped_barh(ax, table, var, "label", scen,
                          colours)
            ax.set_xlim(0, 1.0)
            ax.set_xlabel(xl)
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_title(f"{tag} {xl}", loc="left")
        # (a) draws every arm and "no arm selected": its handles make the legend
        axes[1].legend(*axes[0].get_legend_handles_labels(), loc="upper center",
                       bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    return fig


def plot_rar_outcomes(table: pd.DataFrame, *, size: Size = "column",
                      ax: Axes | None = None) -> Axes:
    """Stacked horizontal bars per scenario: how a RAR trial ends (superiority /
    equivalence / futility / maximum sample size), each segment with a ±2 MCSE error bar.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, outcome, label, p, mcse``; ``outcome`` keys
        :data:`~msbayes.plots.style.RAR_OUTCOME_COLOURS`.
    size : {"column", "two_column", "slide"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(table, ("scenario", "outcome", "label", "p", "mcse"), "RAR outcome table")
    if table.empty:
        raise ValueError("RAR outcome table is empty")
    bad = sorted(set(table["outcome"]) - set(RAR_OUTCOME_COLOURS))
    if bad:
        raise ValueError(f"RAR outcome table: unknown outcome {bad}; allowed: "
                         f"{sorted(RAR_OUTCOME_COLOURS)}")
    scen = list(dict.fromkeys(table["scenario"]))
    y = np.arange(len(scen))[::-1].astype(float)
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        left = np.zeros(len(scen))
        for o in dict.fromkeys(table["outcome"]):
            sub = table[table["outcome"] == o].set_index("scenario").reindex(scen)
            p0 = np.nan_to_num(sub["p"].to_numpy(float))
            m = np.nan_to_num(sub["mcse"].to_numpy(float))
            ax.barh(y, p0, left=left, height=0.6, color=RAR_OUTCOME_COLOURS[o],
                    edgecolor="white", lw=0.5, label=str(sub["label"].dropna().iloc[0]), gid=o)
            ax.errorbar(left + p0, y, xerr=2 * m, fmt="none", ecolor="0.2", elinewidth=0.7,
                        capsize=1.5, gid=f"mcse_{o}")
            left = left + p0
        ax.set_yticks(y, [_wrap(s) for s in scen])
        ax.set_xlim(0, 1.0)
        ax.set_xlabel("probability of the trial outcome")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, frameon=False)
    return ax


def plot_rar_vs_fixed(table: pd.DataFrame, *, size: Size = "two_column") -> Figure:
    """One panel per quantity (P(go), P(select the best arm), IDP, expected n): per scenario a
    bar for response-adaptive and one for fixed allocation, ±2 MCSE error bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, quantity, rar, rar_mcse, fixed, fixed_mcse`` (from
        :func:`msbayes.report.adaptive.rar_comparison_table`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, ("scenario", "quantity", "rar", "rar_mcse", "fixed", "fixed_mcse"),
           "RAR comparison table")
    if table.empty:
        raise ValueError("RAR comparison table is empty")
    qs = list(dict.fromkeys(table["quantity"]))
    scen = list(dict.fromkeys(table["scenario"]))
    with style_context(size):
        ncol = 2 if len(qs) > 1 else 1
        fig, axes = new_figure(int(np.ceil(len(qs) / ncol)), ncol, size=size, sharey=True)
        for ax in np.ravel(axes)[len(qs):]:
            ax.set_visible(False)
        for ax, q in zip(np.ravel(axes), qs):
            t = table[table["quantity"] == q]
            long = pd.concat([
                pd.DataFrame({"scenario": t["scenario"], "design": "response-adaptive",
                              "v": t["rar"], "v_mcse": t["rar_mcse"]}),
                pd.DataFrame({"scenario": t["scenario"], "design": "fixed allocation",
                              "v": t["fixed"], "v_mcse": t["fixed_mcse"]})])
            _grouped_barh(ax, long, "v", "design", scen, ["#0072B2", "#BBBBBB"])
            ax.set_xlabel(_wrap(q, 30))
            if q.startswith("P("):
                ax.set_xlim(0, 1.0)
        fig.legend(*np.ravel(axes)[0].get_legend_handles_labels(), loc="outside lower center",
                   ncol=2, frameon=False)
    return fig
