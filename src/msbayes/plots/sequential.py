"""Figures of designs with interim analyses: stopping boundaries, stopping probabilities per
look, expected against maximum sample size, doses dropped at the interims.

Every function takes already-computed tables (built by :mod:`msbayes.report.sequential` from
``oc.nc``'s ``look`` variables) and draws them; nothing is computed here.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from msbayes.plots.sequential import plot_boundaries
>>> b = pd.DataFrame({"look": [1, 2], "x": [0.5, 1.0], "efficacy_z": [2.96, 1.97],
...                   "futility_z": [0.1, 1.97], "efficacy_effect": [0.33, 0.16],
...                   "futility_effect": [0.01, 0.16]})
>>> fig = plot_boundaries(b, x_label="information fraction")
>>> len(fig.axes)
2
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .posterior import _check
from .style import DECISION_COLOURS, REFERENCE, Size, new_figure, scenario_style, style_context

__all__ = ["plot_boundaries", "plot_stopping_by_look", "plot_expected_n", "plot_dose_dropping"]


def _finite(v: np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(v, float))


def plot_boundaries(
    table: pd.DataFrame,
    *,
    x_label: str,
    effect_label: str = "observed effect",
    mcid: float | None = None,
    size: Size = "column",
    title: str | None = None,
) -> Figure:
    """Efficacy and futility stopping bounds against the look's information (or patients):
    (a) on the z scale, (b) as the observed effect needed, futility region shaded.

    Parameters
    ----------
    table : DataFrame
        One row per look: ``look, x, efficacy_z, futility_z, efficacy_effect,
        futility_effect``. A non-finite bound (``inf``: no efficacy stop, ``-inf``: no
        futility stop, NaN: none defined) is not drawn.
    x_label : str
        What ``x`` is (e.g. "information fraction" or "patients analysed").
    effect_label : str
        The y label of panel (b) (the effect scale in words).
    mcid : float, optional
        Drawn in panel (b) as the neutral dashed line.

    Returns
    -------
    matplotlib.figure.Figure (two axes; one, the z scale, when no effect-scale bound is finite)
    """
    cols = ("look", "x", "efficacy_z", "futility_z", "efficacy_effect", "futility_effect")
    _check(table, cols, "boundary table")
    if table.empty:
        raise ValueError("boundary table is empty")
    t = table.sort_values("x")
    x = t["x"].to_numpy(float)
    has_effect = bool(np.isfinite(t[["efficacy_effect", "futility_effect"]].to_numpy(float)).any())
    span = float(np.nanmax(x) - np.nanmin(x)) if len(x) > 1 else 1.0
    xlim = (float(np.nanmin(x)) - 0.08 * max(span, 0.1), float(np.nanmax(x)) + 0.08 * max(span, 0.1))
    with style_context(size):
        fig, axes = new_figure(2 if has_effect else 1, 1, size=size)
        ax_z, ax_e = axes[0], (axes[1] if has_effect else None)
        panels = [(ax_z, "z", "test statistic (z scale)")]
        if has_effect:
            panels.append((ax_e, "effect", textwrap.fill(effect_label, 40)))
        for ax, suf, ylab in panels:
            eff, fut = t[f"efficacy_{suf}"].to_numpy(float), t[f"futility_{suf}"].to_numpy(float)
            allv = np.r_[eff[_finite(eff)], fut[_finite(fut)]]
            lo = float(allv.min()) if allv.size else 0.0
            hi = float(allv.max()) if allv.size else 1.0
            if suf == "effect" and mcid is not None:  # keep the MCID line inside the panel
                lo, hi = min(lo, float(mcid), 0.0), max(hi, float(mcid))
            pad = max(0.15 * (hi - lo), 0.5 if suf == "z" else 0.05 * max(abs(lo), abs(hi), 1e-3))
            bottom, top = lo - pad - (0.0 if suf == "effect" else 0.5), hi + pad
            e_ok, f_ok = _finite(eff), _finite(fut)
            if e_ok.any():
                ax.plot(x[e_ok], eff[e_ok], marker="o", ms=3.5, color=DECISION_COLOURS["go"],
                        label="efficacy bound (stop: go)", gid="bound_efficacy")
            if f_ok.any():
                ax.plot(x[f_ok], fut[f_ok], marker="s", ms=3.5, color="0.25", ls="--",
                        label="futility bound (stop: no-go)", gid="bound_futility")
                if f_ok.sum() >= 2:
                    ax.fill_between(x[f_ok], bottom, fut[f_ok], color=DECISION_COLOURS["nogo"],
                                    alpha=0.35, lw=0, gid="futility_region", hatch="///",
                                    edgecolor="white")
                else:  # one look: a bar from the axis bottom up to the bound
                    w = 0.04 * (xlim[1] - xlim[0])
                    ax.fill_between([x[f_ok][0] - w, x[f_ok][0] + w], bottom, fut[f_ok][0],
                                    color=DECISION_COLOURS["nogo"], alpha=0.35, lw=0,
                                    gid="futility_region", hatch="///", edgecolor="white")
            for ok, vals, dy in ((e_ok, eff, 1), (f_ok, fut, -1)):
                if 0 < ok.sum() <= 3:  # few points: print the bound beside each
                    for xi, yi in zip(x[ok], vals[ok]):
                        ax.annotate(f"{yi:.2f}", (xi, yi), xytext=(4, 4 * dy),
                                    textcoords="offset points", fontsize="x-small",
                                    va="bottom" if dy > 0 else "top", gid="bound_value")
            if suf == "effect":
                ax.axhline(0.0, gid="zero", **REFERENCE["zero"])
                if mcid is not None:
                    ax.axhline(mcid, gid="mcid", label="MCID", **REFERENCE["mcid"])
            ax.set_ylim(bottom, top)
            ax.set_xlim(*xlim)
            ax.set_xticks(x, [f"{v:g}" for v in x])
            ax.set_xlabel(x_label)
            ax.set_ylabel(ylab)
        if has_effect:
            ax_z.set_title("(a) bounds on the z scale", loc="left")
            ax_e.set_title("(b) observed effect needed to stop", loc="left")
        else:
            ax_z.set_title("bounds on the z scale (no effect-scale bounds recorded)", loc="left")
        last = ax_e if has_effect else ax_z
        h, lab = last.get_legend_handles_labels()
        for hz, lz in zip(*ax_z.get_legend_handles_labels()):
            if lz not in lab:
                h.append(hz)
                lab.append(lz)
        if any(c.get_gid() == "futility_region" for c in last.collections):
            h.append(Patch(facecolor=DECISION_COLOURS["nogo"], alpha=0.35, hatch="///",
                           edgecolor="white", label="stop for futility"))
            lab.append("stop for futility")
        fig.legend(h, lab, loc="outside lower center", ncol=2, frameon=False,
                   fontsize="small")
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig


def plot_stopping_by_look(
    table: pd.DataFrame,
    *,
    size: Size = "two_column",
    title: str | None = None,
) -> Figure:
    """P(stop at each look) for efficacy and for futility, stacked, one panel per scenario,
    with ±2 MCSE bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, look, look_label, efficacy, futility, efficacy_mcse,
        futility_mcse`` (``scenario`` already a display name).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scenario": "no effect", "look": [1, 2],
    ...                   "look_label": ["interim 1\\n(50%)", "final"],
    ...                   "efficacy": [0.003, 0.02], "futility": [0.5, 0.48],
    ...                   "efficacy_mcse": [0.001, 0.002], "futility_mcse": [0.005, 0.005]})
    >>> fig = plot_stopping_by_look(t)
    >>> [x.get_text() for x in fig.legends[0].get_texts()]
    ['futility (no-go)', 'efficacy (go)']
    """
    _check(table, ("scenario", "look", "look_label", "efficacy", "futility", "efficacy_mcse",
                   "futility_mcse"), "stopping table")
    groups = list(dict.fromkeys(table["scenario"]))
    if not groups:
        raise ValueError("stopping table is empty")
    has_consider = ("consider" in table
                    and bool((np.nan_to_num(table["consider"].to_numpy(float)) > 0).any()))
    ncols = min(len(groups), 4 if size != "column" else 2)
    nrows = int(np.ceil(len(groups) / ncols))
    with style_context(size):
        fig, axes = new_figure(nrows, ncols, size=size, sharey=True)
        for ax, g in zip(axes, groups):
            sub = table[table["scenario"] == g].sort_values("look")
            x = np.arange(len(sub), dtype=float)
            fut, eff = sub["futility"].to_numpy(float), sub["efficacy"].to_numpy(float)
            ax.bar(x, fut, width=0.6, color=DECISION_COLOURS["nogo"], hatch="///",
                   edgecolor="white", lw=0, label="futility (no-go)", gid="bar_futility")
            ax.bar(x, eff, width=0.6, bottom=fut, color=DECISION_COLOURS["go"], lw=0,
                   label="efficacy (go)", gid="bar_efficacy")
            if has_consider:
                con = np.nan_to_num(sub["consider"].to_numpy(float))
                ax.bar(x, con, width=0.6, bottom=fut + eff, color=DECISION_COLOURS["consider"],
                       hatch="..", edgecolor="white", lw=0, label="consider (no decision)",
                       gid="bar_consider")
                if "consider_mcse" in sub:
                    cm = np.nan_to_num(sub["consider_mcse"].to_numpy(float))
                    on = con > 0
                    ax.errorbar(x[on], (fut + eff + con)[on], yerr=2 * cm[on], fmt="none",
                                ecolor="0.2", lw=0.7, capsize=1.5, gid="mcse_consider")
            ax.errorbar(x - 0.12, fut, yerr=2 * sub["futility_mcse"].to_numpy(float), fmt="none",
                        ecolor="0.2", lw=0.7, capsize=1.5, gid="mcse_futility")
            ax.errorbar(x + 0.12, fut + eff, yerr=2 * sub["efficacy_mcse"].to_numpy(float),
                        fmt="none", ecolor="0.2", lw=0.7, capsize=1.5, gid="mcse_efficacy")
            ax.set_xticks(x, [str(v).replace(" (", "\n(") for v in sub["look_label"]])
            ax.set_ylim(0, 1)
            ax.set_title(textwrap.fill(str(g), 24 if ncols > 1 else 60), loc="left",
                         fontsize="medium")
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        for r in range(nrows):
            axes[r * ncols].set_ylabel("probability of stopping at the look")
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncol=3 if has_consider else 2,
                   frameon=False)
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig


def plot_dose_dropping(
    table: pd.DataFrame,
    *,
    dose_label: str = "dose",
    size: Size = "two_column",
    title: str | None = None,
) -> Figure:
    """P(dose dropped at interim k) per active dose, one panel per scenario, one bar per
    interim look, with ±2 MCSE bars.

    Parameters
    ----------
    table : DataFrame
        Columns ``scenario, dose, dose_label, look, look_label, p_dropped, lower, upper``
        (built by :func:`msbayes.report.sequential.dropped_table`; ``scenario`` a display
        name).
    dose_label : str
        The x-axis label (the dose in words, with its unit).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scenario": "no effect", "dose": [2.0, 5.0], "dose_label": ["2", "5"],
    ...                   "look": 1, "look_label": "interim 1 (40%)", "p_dropped": [0.69, 0.7],
    ...                   "lower": [0.675, 0.686], "upper": [0.705, 0.714]})
    >>> fig = plot_dose_dropping(t)
    >>> [x.get_text() for x in fig.legends[0].get_texts()]
    ['interim 1 (40%)']
    """
    _check(table, ("scenario", "dose", "dose_label", "look", "look_label", "p_dropped", "lower",
                   "upper"), "dose-dropping table")
    groups = list(dict.fromkeys(table["scenario"]))
    if not groups:
        raise ValueError("dose-dropping table is empty")
    looks = sorted(set(int(v) for v in table["look"]))
    look_lab = {int(r.look): str(r.look_label) for r in table.itertuples()}
    doses = sorted(set(float(v) for v in table["dose"]))
    dlab = {float(r.dose): str(r.dose_label) for r in table.itertuples()}
    ncols = min(len(groups), 4 if size != "column" else 2)
    nrows = int(np.ceil(len(groups) / ncols))
    width = 0.8 / len(looks)
    greys = np.linspace(0.35, 0.75, len(looks)) if len(looks) > 1 else [0.45]
    with style_context(size):
        fig, axes = new_figure(nrows, ncols, size=size, sharey=True)
        for ax, g in zip(axes, groups):
            sub = table[table["scenario"] == g]
            for j, (lk, grey) in enumerate(zip(looks, greys)):
                s2 = sub[sub["look"] == lk].set_index("dose").reindex(doses)
                xs = np.arange(len(doses)) + (j - (len(looks) - 1) / 2) * width
                p = s2["p_dropped"].to_numpy(float)
                ax.bar(xs, p, width=width * 0.9, color=str(grey), lw=0, label=look_lab[lk],
                       gid=f"bar_dropped_look{lk}")
                lo, hi = s2["lower"].to_numpy(float), s2["upper"].to_numpy(float)
                ax.errorbar(xs, p, yerr=np.vstack([p - lo, hi - p]), fmt="none", ecolor="0.1",
                            lw=0.7, capsize=1.5, gid="mcse_dropped")
            ax.set_xticks(np.arange(len(doses)), [dlab[d] for d in doses])
            ax.set_xlabel(dose_label)
            ax.set_ylim(0, 1)
            ax.set_title(textwrap.fill(str(g), 24 if ncols > 1 else 60), loc="left",
                         fontsize="medium")
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        for r in range(nrows):
            axes[r * ncols].set_ylabel("P(dose dropped at the interim)")
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncol=min(len(looks), 4), frameon=False)
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig


def plot_expected_n(
    table: pd.DataFrame,
    *,
    x_label: str = "maximum sample size (patients randomised)",
    y_label: str = "expected sample size (patients randomised)",
    size: Size = "column",
    title: str | None = None,
) -> Figure:
    """Expected sample size against the maximum, one line per scenario, ±2 MCSE bands and the
    line of no saving (expected = maximum); a second panel for the expected duration when the
    table has it.

    Parameters
    ----------
    table : DataFrame
        Columns ``group, kind, n_max, expected_n, lower, upper`` and optionally
        ``duration, duration_lower, duration_upper`` (months); ``kind`` "fixed" or
        "design_prior" (dashed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"group": "no effect", "kind": "fixed", "n_max": [80, 160],
    ...                   "expected_n": [62, 118], "lower": [61, 117], "upper": [63, 119]})
    >>> fig = plot_expected_n(t)
    >>> [x.get_text() for x in fig.axes[0].get_legend().get_texts()]
    ['no effect', 'no early stop (expected = maximum)']
    """
    _check(table, ("group", "kind", "n_max", "expected_n", "lower", "upper"), "expected-n table")
    groups = list(dict.fromkeys(table["group"]))
    if not groups:
        raise ValueError("expected-n table is empty")
    dur = "duration" in table and np.isfinite(table["duration"].to_numpy(float)).any()
    kinds = [str(table.loc[table["group"] == g, "kind"].iloc[0]) for g in groups]
    styles = dict(zip(groups, scenario_style(kinds)))
    with style_context(size):
        fig, axes = new_figure(2 if dur else 1, 1, size=size)
        ax = axes[0]
        for g in groups:
            sub = table[table["group"] == g].sort_values("n_max")
            st = styles[g]
            ax.plot(sub["n_max"], sub["expected_n"], ms=3, label=str(g), gid="expected_n", **st)
            ax.fill_between(sub["n_max"], sub["lower"], sub["upper"], color=st["color"],
                            alpha=0.2, lw=0, gid="mcse_band")
        nm = np.unique(table["n_max"].to_numpy(float))
        ax.plot(nm, nm, color="0.3", ls=":", lw=0.9, gid="no_saving",
                label="no early stop (expected = maximum)")
        ax.set_xlabel(x_label)
        ax.set_ylabel(textwrap.fill(y_label, 36))
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.22), ncol=1)
        if dur:
            ax2 = axes[1]
            for g in groups:
                sub = table[table["group"] == g].sort_values("n_max")
                st = styles[g]
                ax2.plot(sub["n_max"], sub["duration"], ms=3, gid="duration", **st)
                if {"duration_lower", "duration_upper"} <= set(sub.columns):
                    ax2.fill_between(sub["n_max"], sub["duration_lower"], sub["duration_upper"],
                                     color=st["color"], alpha=0.2, lw=0, gid="mcse_band")
            ax2.set_xlabel(x_label)
            ax2.set_ylabel("expected duration (months)")
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig
