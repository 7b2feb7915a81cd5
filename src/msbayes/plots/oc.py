"""Operating characteristics: curves against n per arm with MCSE bands, and grid heatmaps.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots import plot_oc_curves
>>> t = pd.DataFrame({"group": "mcid", "x": [20, 40, 60], "y": [0.3, 0.6, 0.8],
...                   "lower": [0.29, 0.59, 0.79], "upper": [0.31, 0.61, 0.81]})
>>> ax = plot_oc_curves(t, metric="p_reject", x_label="patients per arm")
>>> len(ax.get_lines())
1
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes

from .posterior import _check
from .style import REFERENCE, Size, axis_label, metric_label, new_figure, scenario_style, style_context

__all__ = ["plot_oc_curves", "plot_oc_heatmap"]


def plot_oc_curves(
    table: pd.DataFrame,
    *,
    metric: str,
    x_label: str,
    targets: pd.DataFrame | None = None,
    title: str | None = None,
    size: Size = "column",
    ax: Axes | None = None,
) -> Axes:
    """One line per group (scenario or design) with a shaded ±2 MCSE band; targets marked.

    Parameters
    ----------
    table : DataFrame
        Columns ``group, x, y, lower, upper`` (band limits precomputed, e.g. by
        :func:`msbayes.report.compute.oc_curves`); optional ``kind`` (``design_prior`` draws
        the group dashed in a design-prior colour, see :func:`~msbayes.plots.style.scenario_style`).
        The band is Monte Carlo error: say so in the caption, not the axis label.
    metric : str
        OC name (``p_go``, ``p_reject`` ...), used for the y label.
    x_label : str
        Label of the x axis, with units.
    targets : DataFrame, optional
        Columns ``group, target, n, achieved``: a dotted line at the target and a marker at
        the sample size that meets it, annotated ``n = ...``; a missing ``n`` (the search did
        not reach the target) is annotated "target not reached" at the line instead.
    title : str, optional
    size : {"column", "slide"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check(table, ("group", "x", "y", "lower", "upper"), "oc curve table")
    groups = list(dict.fromkeys(table["group"]))
    if not groups:
        raise ValueError("oc curve table is empty")
    kinds = [str(table.loc[table["group"] == g, "kind"].iloc[0]) if "kind" in table else "point"
             for g in groups]
    styles = dict(zip(groups, scenario_style(kinds)))
    colours = {g: st["color"] for g, st in styles.items()}
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        for g in groups:
            sub = table[table["group"] == g].sort_values("x")
            ax.plot(sub["x"], sub["y"], ms=3, label=str(g), gid="curve", **styles[g])
            ax.fill_between(sub["x"], sub["lower"], sub["upper"], color=colours[g], alpha=0.2,
                            lw=0, gid="mcse_band")
        if targets is not None and len(targets):
            _check(targets, ("group", "target", "n", "achieved"), "targets")
            for _, t in targets.iterrows():
                c = colours.get(t["group"], "#000000")
                ax.axhline(t["target"], gid="target_line", **REFERENCE["target"])
                if pd.isna(t["n"]):  # search did not reach the target: say so at the line
                    ax.annotate("target not reached", (1.0, t["target"]), xycoords=("axes fraction", "data"),
                                xytext=(-4, 3), textcoords="offset points", ha="right", fontsize="small",
                                color=c, gid="target_unreached")
                    continue
                ax.plot(t["n"], t["achieved"], marker="*", ms=10, color=c, mec="black",
                        mew=0.5, ls="none", gid="target_marker", zorder=5)
                ax.annotate(f"n = {int(t['n'])}", (t["n"], t["achieved"]),
                            xytext=(4, -10), textcoords="offset points", fontsize="small",
                            color=c, gid="target_label")
        ax.set_xlabel(x_label)
        ax.set_ylabel(metric_label(metric))
        ax.set_ylim(-0.02, 1.02)
        ax.legend(title="true effect (scenario)", frameon=False, fontsize="small",
                  title_fontsize="small")
        if title:
            ax.set_title(title, loc="left")
    return ax


def plot_oc_heatmap(
    grid: xr.DataArray,
    *,
    metric: str,
    annotate: bool = True,
    cell_text: np.ndarray | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    title: str | None = None,
    size: Size = "column",
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of one OC over two grid axes (rows = first dim, columns = second dim).

    Parameters
    ----------
    grid : xarray.DataArray
        Exactly two dims, named by their dotted config paths; values in [0, 1] for
        probabilities (e.g. from :func:`msbayes.report.compute.oc_grid`).
    metric : str
    annotate : bool
        Write each cell's value.
    cell_text : 2-D array of str, optional
        The text of each cell, formatted elsewhere (e.g. ``"< 0.002"`` where no simulated
        trial went; see :func:`msbayes.report.labels.fmt_prob`); default ``f"{v:.2f}"``.
    x_label, y_label : str, optional
        Axis names with units (default: :func:`~msbayes.plots.style.axis_label` of the dims).
    title : str, optional
    size : {"column", "slide"}
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if grid.ndim != 2:
        raise ValueError(f"grid: need a 2-D DataArray, got dims {grid.dims}")
    ydim, xdim = grid.dims
    vals = np.asarray(grid.values, dtype=float)
    is_prob = metric.startswith("p_")
    with style_context(size):
        if ax is None:
            _, (ax,) = new_figure(1, 1, size=size)
        im = ax.imshow(vals, origin="lower", aspect="auto", cmap="cividis",
                       vmin=0 if is_prob else None, vmax=1 if is_prob else None,
                       interpolation="nearest", gid="heatmap")
        ax.set_xticks(np.arange(vals.shape[1]), [f"{v:g}" if isinstance(v, (int, float, np.number))
                      else str(v) for v in grid[xdim].values])
        ax.set_yticks(np.arange(vals.shape[0]), [f"{v:g}" if isinstance(v, (int, float, np.number))
                      else str(v) for v in grid[ydim].values])
        ax.set_xlabel(x_label or axis_label(str(xdim)))
        ax.set_ylabel(y_label or axis_label(str(ydim)))
        cb = ax.figure.colorbar(im, ax=ax)
        cb.set_label(metric_label(metric))
        if annotate:
            for i in range(vals.shape[0]):
                for j in range(vals.shape[1]):
                    v = vals[i, j]
                    if np.isfinite(v):
                        txt = f"{v:.2f}" if cell_text is None else str(cell_text[i][j])
                        ax.text(j, i, txt, ha="center", va="center", fontsize="x-small",
                                color="white" if (is_prob and v < 0.5) else "black",
                                gid="cell_label")
        if title:
            ax.set_title(title, loc="left")
    return ax
