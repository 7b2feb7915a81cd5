"""Decision figures: go / consider / no-go against n, the go boundary, assurance with its ceiling.

Every function takes already-computed tables (see :mod:`msbayes.report.compute`) and draws
them; Monte Carlo error bands are named in the caption, not the axis label.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots.decision import plot_decision_areas
>>> t = pd.DataFrame({"group": "no effect", "x": [30, 60], "go": [0.01, 0.02],
...                   "consider": [0.1, 0.05], "nogo": [0.89, 0.93]})
>>> fig = plot_decision_areas(t, x_label="patients per arm")
>>> [p.get_label() for p in fig.axes[0].collections]
['go', 'consider', 'no-go']
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .posterior import _check
from .style import (
    DECISION_COLOURS,
    DESIGN_LINESTYLES,
    REFERENCE,
    Size,
    new_figure,
    scenario_style,
    style_context,
)

__all__ = ["plot_decision_areas", "plot_decisions_vs_effect", "plot_go_boundary", "plot_assurance", "plot_sample_size_curve",
           "plot_design_priors", "plot_designs_compared"]

_DECISIONS = (("go", "go"), ("consider", "consider"), ("nogo", "no-go"))


def plot_decision_areas(
    table: pd.DataFrame,
    *,
    x_label: str,
    size: Size = "two_column",
    title: str | None = None,
) -> Figure:
    """Go / consider / no-go as stacked areas against ``x``, one panel per group (scenario).

    Parameters
    ----------
    table : DataFrame
        Columns ``group, x, go, consider, nogo`` (probabilities per x, summing to 1 up to
        failed trials).
    x_label : str
        Name of the x axis with units (e.g. "patients per arm" or the true effect).
    size : {"column", "two_column", "slide"}
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, ("group", "x", "go", "consider", "nogo"), "decision table")
    groups = list(dict.fromkeys(table["group"]))
    if not groups:
        raise ValueError("decision table is empty")
    ncols = min(len(groups), 4 if size != "column" else 2)
    nrows = int(np.ceil(len(groups) / ncols))
    with style_context(size):
        fig, axes = new_figure(nrows, ncols, size=size, sharey=True)
        for ax, g in zip(axes, groups):
            sub = table[table["group"] == g].sort_values("x")
            ys = [sub[k].to_numpy(float) for k, _ in _DECISIONS]
            polys = ax.stackplot(sub["x"].to_numpy(float), *ys,
                                 colors=[DECISION_COLOURS[k] for k, _ in _DECISIONS],
                                 labels=[lab for _, lab in _DECISIONS], lw=0)
            for p, (k, _) in zip(polys, _DECISIONS):
                p.set_gid(f"area_{k}")
                if k == "nogo":
                    p.set_hatch("///")
                    p.set_edgecolor("white")
            ax.set_ylim(0, 1)
            ax.set_xlim(sub["x"].min(), sub["x"].max())
            ax.set_title(textwrap.fill(str(g), 34 if ncols > 1 and size == "column" else 60),
                         loc="left", fontsize="medium")
            ax.set_xlabel(x_label)
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        axes[0].set_ylabel("probability of each decision")
        for r in range(nrows):
            axes[r * ncols].set_ylabel("probability of each decision")
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncol=3, frameon=False)
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig


def plot_decisions_vs_effect(
    table: pd.DataFrame,
    *,
    x_label: str,
    mcid: float | None = None,
    size: Size = "column",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Go / consider / no-go as stacked areas against the true effect (at one sample size).

    Parameters
    ----------
    table : DataFrame
        Columns ``x, go, consider, nogo``: one row per fixed scenario, ``x`` its true effect
        (already in the units of ``x_label``).
    x_label : str
        The true effect with its units (e.g. "% change in walking speed").
    mcid : float, optional
        The MCID in the same units, drawn as the neutral dashed line.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"x": [0, 10, 20], "go": [0.02, 0.4, 0.8],
    ...                   "consider": [0.1, 0.3, 0.15], "nogo": [0.88, 0.3, 0.05]})
    >>> ax = plot_decisions_vs_effect(t, x_label="% change in speed", mcid=10)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['go', 'consider', 'no-go', 'MCID', 'scenario simulated']
    """
    _check(table, ("x", "go", "consider", "nogo"), "decision-by-effect table")
    if len(table) < 2:
        raise ValueError("decision-by-effect table needs at least two true effects")
    t = table.sort_values("x")
    x = t["x"].to_numpy(float)
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        polys = ax.stackplot(x, *[t[k].to_numpy(float) for k, _ in _DECISIONS],
                             colors=[DECISION_COLOURS[k] for k, _ in _DECISIONS],
                             labels=[lab for _, lab in _DECISIONS], lw=0)
        for p, (k, _) in zip(polys, _DECISIONS):
            p.set_gid(f"area_{k}")
            if k == "nogo":
                p.set_hatch("///")
                p.set_edgecolor("white")
        if mcid is not None and x.min() <= mcid <= x.max():
            ax.axvline(mcid, gid="mcid", label="MCID", **REFERENCE["mcid"])
        ax.plot(x, np.ones_like(x), ls="none", marker="v", color="0.2", ms=4, clip_on=False,
                gid="scenarios", label="scenario simulated")
        ax.set_ylim(0, 1)
        ax.set_xlim(x.min(), x.max())
        ax.set_xlabel(x_label)
        ax.set_ylabel("probability of each decision")
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.2), ncol=3)
        if title:
            ax.set_title(title, loc="left")
    return ax


def plot_go_boundary(
    table: pd.DataFrame,
    *,
    x_label: str,
    y_label: str,
    mcid: float | None = None,
    size: Size = "column",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The smallest observed effect that leads to "go", against ``x`` (usually n per arm).

    Parameters
    ----------
    table : DataFrame
        Columns ``x, boundary`` and optionally ``group`` (one line per group, e.g. an SD
        assumption).
    x_label, y_label : str
        Axis names with units (y: the observed effect on the analysis scale).
    mcid : float, optional
        Drawn as the neutral dashed reference line.
    """
    _check(table, ("x", "boundary"), "boundary table")
    t = table if "group" in table else table.assign(group="")
    groups = list(dict.fromkeys(t["group"]))
    styles = scenario_style(["point"] * len(groups))
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for g, st in zip(groups, styles):
            sub = t[t["group"] == g].sort_values("x")
            ax.plot(sub["x"], sub["boundary"], ms=3, gid="boundary", label=str(g) or None, **st)
        ax.axhline(0.0, gid="zero", **REFERENCE["zero"])
        if mcid is not None:
            ax.axhline(mcid, gid="mcid", label="MCID", **REFERENCE["mcid"])
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if len(groups) > 1 or mcid is not None:
            ax.legend(frameon=False, fontsize="small")
        if title:
            ax.set_title(title, loc="left")
    return ax


def plot_assurance(
    table: pd.DataFrame,
    *,
    x_label: str,
    size: Size = "column",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Assurance (P(go) averaged over a design prior) against ``x``, one line per design
    prior, with its ceiling (the assurance an infinitely large trial would reach) as a
    dash-dot line in the same colour.

    Parameters
    ----------
    table : DataFrame
        Columns ``group, x, y, lower, upper, ceiling`` (band limits precomputed, e.g.
        ±2 MCSE).
    """
    _check(table, ("group", "x", "y", "lower", "upper", "ceiling"), "assurance table")
    groups = list(dict.fromkeys(table["group"]))
    if not groups:
        raise ValueError("assurance table is empty")
    styles = dict(zip(groups, scenario_style(["design_prior"] * len(groups))))
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for g in groups:
            sub = table[table["group"] == g].sort_values("x")
            st = styles[g]
            ax.plot(sub["x"], sub["y"], ms=3, label=str(g), gid="assurance", **st)
            ax.fill_between(sub["x"], sub["lower"], sub["upper"], color=st["color"], alpha=0.2,
                            lw=0, gid="mcse_band")
            ceil = float(np.nanmean(sub["ceiling"]))
            if np.isfinite(ceil):
                ax.axhline(ceil, color=st["color"], ls=REFERENCE["ceiling"]["ls"], lw=0.9,
                           gid="ceiling")
        ax.plot([], [], color="0.3", ls=REFERENCE["ceiling"]["ls"], lw=0.9,
                label="ceiling (infinite trial)")
        ax.set_ylim(0, max(0.05, min(1.0, 1.15 * float(np.nanmax(
            np.r_[table["upper"].to_numpy(float), table["ceiling"].to_numpy(float)])))))
        ax.set_xlabel(x_label)
        ax.set_ylabel("assurance, P(go) under the design prior")
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.22), ncol=1)
        if title:
            ax.set_title(title, loc="left")
    return ax


def plot_sample_size_curve(
    table: pd.DataFrame,
    *,
    x_label: str,
    size: Size = "column",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Smallest n per arm meeting a target against an assumption (e.g. the outcome SD), one
    line per target; a target not reached up to the largest n searched is an open marker at
    that n with an upward arrow ("not reached").

    Parameters
    ----------
    table : DataFrame
        Columns ``group, x, n, reached`` (``n`` = the n found, or the largest n searched when
        ``reached`` is False).
    """
    _check(table, ("group", "x", "n", "reached"), "sample-size table")
    groups = list(dict.fromkeys(table["group"]))
    styles = dict(zip(groups, scenario_style(["point"] * len(groups))))
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for g in groups:
            sub = table[table["group"] == g].sort_values("x")
            st = styles[g]
            ok = sub["reached"].astype(bool).to_numpy()
            ax.plot(sub["x"][ok], sub["n"][ok], ms=4, label=str(g), gid="n_required", **st)
            if (~ok).any():
                ax.plot(sub["x"][~ok], sub["n"][~ok], ls="none", marker="^", mfc="white",
                        color=st["color"], ms=6, gid="not_reached")
                for xv, nv in zip(sub["x"][~ok], sub["n"][~ok]):
                    ax.annotate("not reached", (xv, nv), xytext=(0, 6),
                                textcoords="offset points", ha="center", fontsize="x-small",
                                color=st["color"])
        ax.set_xlabel(x_label)
        ax.set_ylabel("patients per arm needed")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.22))
        if title:
            ax.set_title(title, loc="left")
    return ax


def plot_design_priors(
    densities: pd.DataFrame,
    *,
    x_label: str,
    mcid: float | None = None,
    threshold: float | None = None,
    notes: dict[str, str] | None = None,
    size: Size = "column",
) -> Figure:
    """The design priors side by side: one panel per prior on a shared effect axis, with the
    MCID (dashed) and the true effect a go needs as n grows (dash-dot; above it lies the
    assurance ceiling).

    Parameters
    ----------
    densities : DataFrame
        Columns ``population`` (the design prior's name), ``x``, ``density`` (e.g.
        :func:`msbayes.report.compute.density_table` of the prior draws; ``kind`` rows other
        than ``posterior`` are ignored).
    notes : mapping name -> text, optional
        Written under each panel's title (e.g. "assurance ceiling 0.22 (MCSE 0.02)").
    """
    _check(densities, ("population", "x", "density"), "design-prior densities")
    d = densities[densities["kind"] == "posterior"] if "kind" in densities else densities
    names = list(dict.fromkeys(d["population"]))
    if not names:
        raise ValueError("design-prior densities are empty")
    styles = scenario_style(["design_prior"] * len(names))
    same = (threshold is not None and mcid is not None
            and bool(np.isclose(threshold, mcid, rtol=1e-3, atol=1e-6)))
    with style_context(size):
        fig, axes = new_figure(len(names), 1, size=size, sharex=True)
        if size == "column":
            fig.set_size_inches(fig.get_size_inches()[0], 1.45 * len(names) + 0.9)
        for ax, nm, st in zip(axes, names, styles):
            sub = d[d["population"] == nm].sort_values("x")
            ax.fill_between(sub["x"], 0, sub["density"], color=st["color"], alpha=0.3, lw=0)
            ax.plot(sub["x"], sub["density"], color=st["color"], ls="-", gid="design_prior")
            ax.axvline(0.0, gid="zero", **REFERENCE["zero"])
            if mcid is not None:
                ax.axvline(mcid, gid="mcid", **REFERENCE["mcid"])
            if threshold is not None and not same:
                ax.axvline(threshold, gid="threshold", color="0.3",
                           ls=REFERENCE["ceiling"]["ls"], lw=0.9)
            note = (notes or {}).get(nm, "")
            ax.set_title(str(nm) + (f"\n{note}" if note else ""), loc="left", fontsize="medium")
            ax.set_ylabel("density")
            ax.set_ylim(bottom=0)
        axes[-1].set_xlabel(x_label)
        from matplotlib.lines import Line2D

        handles = ([Line2D([], [], **REFERENCE["mcid"], label="MCID" + (
            " = the true effect a go needs as n grows" if same else ""))]
            if mcid is not None else [])
        if threshold is not None and not same:
            handles.append(Line2D([], [], color="0.3", ls=REFERENCE["ceiling"]["ls"], lw=0.9,
                                  label="true effect a go needs as n grows"))
        if handles:
            fig.legend(handles=handles, loc="outside lower center", frameon=False,
                       fontsize="small", ncol=1)
    return fig


def plot_designs_compared(
    table: pd.DataFrame,
    *,
    x_label: str = "total patients randomised",
    y_label: str = "P(go)",
    size: Size = "column",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Designs compared at equal total sample size: one line per design (line style and
    marker tell the designs apart), with a ±2 MCSE band.

    Parameters
    ----------
    table : DataFrame
        Columns ``design, x, y, lower, upper`` (x = total patients, e.g. n per arm x arms).
    """
    _check(table, ("design", "x", "y", "lower", "upper"), "design comparison table")
    designs = list(dict.fromkeys(table["design"]))
    if not designs:
        raise ValueError("design comparison table is empty")
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for i, d in enumerate(designs):
            sub = table[table["design"] == d].sort_values("x")
            ls = DESIGN_LINESTYLES[i % len(DESIGN_LINESTYLES)]
            mk = ("o", "s", "^", "D")[i % 4]
            ax.plot(sub["x"], sub["y"], color="#000000", ls=ls, marker=mk, ms=3.5,
                    label=str(d), gid="design_curve")
            ax.fill_between(sub["x"], sub["lower"], sub["upper"], color="0.5", alpha=0.2,
                            lw=0, gid="mcse_band")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(frameon=False, fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.22), title="design", title_fontsize="small")
        if title:
            ax.set_title(title, loc="left")
    return ax
