"""Posterior predictive check: observed statistics against their posterior predictive intervals.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots import plot_ppc
>>> t = pd.DataFrame({"label": ["T25FW msc_np", "T25FW saline"], "statistic": "mean",
...                   "observed": [0.03, -0.40], "pred_mean": [0.04, -0.38],
...                   "pred_lower": [-0.14, -0.56], "pred_upper": [0.21, -0.21]})
>>> fig = plot_ppc(t)
>>> len(fig.axes)
1
"""

from __future__ import annotations

import textwrap

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .posterior import _check
from .style import OKABE_ITO, Size, new_figure, style_context

__all__ = ["plot_ppc"]

_REQUIRED = ("label", "statistic", "observed", "pred_mean", "pred_lower", "pred_upper")


def plot_ppc(
    table: pd.DataFrame,
    *,
    scale_note: str = "analysis scale",
    data_note: str = "",
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per summary statistic; a row per (endpoint, stratum, arm).

    Parameters
    ----------
    table : DataFrame
        Columns ``label, statistic, observed, pred_mean, pred_lower, pred_upper`` (95%
        posterior predictive interval), e.g. from :func:`msbayes.report.compute.ppc_table`.
    scale_note : str
        Text naming the scale of the statistics, used in the x label.
    data_note : str
        What the observed values are when it matters, e.g. ``"SYNTHETIC data, not
        evidence"``: added to every panel title and to the "observed" legend entry.
    size : {"column", "slide"}
    axes : sequence of Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, _REQUIRED, "ppc table")
    stats = list(dict.fromkeys(table["statistic"]))
    if not stats:
        raise ValueError("ppc table is empty")
    with style_context(size):
        if axes is None:
            fig, axes = new_figure(len(stats), 1, size=size)
        else:
            fig = axes[0].figure
        for ax, st in zip(axes, stats):
            sub = table[table["statistic"] == st].reset_index(drop=True)
            y = -np.arange(len(sub), dtype=float)
            ax.hlines(y, sub["pred_lower"], sub["pred_upper"], color=OKABE_ITO[5], lw=2.0,
                      label="posterior predictive 95% interval", gid="pred_interval")
            ax.plot(sub["pred_mean"], y, "|", color=OKABE_ITO[5], ms=8, gid="pred_mean")
            ax.plot(sub["observed"], y, "x", color=OKABE_ITO[6], ms=6, mew=1.5,
                    label="observed" + (f" ({data_note})" if data_note else ""), gid="observed")
            w = 26 if size == "column" else 48  # long plain-language labels wrap, never cut
            ax.set_yticks(y, [textwrap.fill(str(v), w) for v in sub["label"]])
            ax.set_xlabel(textwrap.fill(f"{st} ({scale_note})", w + 10))
            ax.set_title(textwrap.fill(f"Posterior predictive check: {st}", w + 10)
                         + (f"\n{data_note}" if data_note else ""), loc="left")
            ax.margins(y=0.15)
        h, lab = axes[0].get_legend_handles_labels()
        fig.legend(h, lab, loc="outside lower center", ncol=2, frameon=False, fontsize="small")
    return fig
