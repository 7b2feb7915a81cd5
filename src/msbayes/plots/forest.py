"""Forest plot: published (raw) subgroup estimates against hierarchical (shrunk) estimates.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots import plot_forest
>>> t = pd.DataFrame({"endpoint": ["t25fw"] * 2, "population": ["edss_6.0-6.5"] * 2,
...                   "prior": ["", "neutral"], "kind": ["raw", "shrunk"],
...                   "estimate": [0.47, 0.38], "lower": [0.14, 0.09], "upper": [0.80, 0.67],
...                   "status": ["estimate"] * 2})
>>> fig = plot_forest(t, mcid={"t25fw": 0.1823}, scale={"t25fw": "log_speed_ratio"})
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .posterior import _check
from .style import (
    OKABE_ITO,
    PRIOR_COLOURS,
    Size,
    colour_cycle,
    effect_label,
    endpoint_label,
    new_figure,
    population_label,
    style_context,
)

__all__ = ["plot_forest"]

_REQUIRED = ("endpoint", "population", "prior", "kind", "estimate", "lower", "upper", "status")


def plot_forest(
    table: pd.DataFrame,
    *,
    mcid: Mapping[str, float] | None = None,
    scale: Mapping[str, str] | None = None,
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per endpoint; per stratum a raw row (black square) and one shrunk row per prior.

    Parameters
    ----------
    table : DataFrame
        Columns ``endpoint, population, prior, kind, estimate, lower, upper, status`` with
        ``kind`` in ``{"raw", "shrunk"}`` and 95% interval limits (computed by
        :func:`msbayes.report.compute.forest_table`). Raw rows may have NaN (not reported).
    mcid, scale : mapping endpoint -> value, optional
        MCID line and x-axis scale name per endpoint.
    size : {"column", "slide"}
    axes : sequence of Axes, optional
        One per endpoint.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, _REQUIRED, "forest table")
    endpoints = list(dict.fromkeys(table["endpoint"]))
    if not endpoints:
        raise ValueError("forest table is empty")
    priors = [p for p in dict.fromkeys(table.loc[table["kind"] == "shrunk", "prior"])]
    colours = {p: PRIOR_COLOURS.get(p, c) for p, c in zip(priors, colour_cycle(len(priors)))}
    with style_context(size):
        if axes is None:
            fig, axes = new_figure(len(endpoints), 1, size=size)
        else:
            fig = axes[0].figure
        for ax, ep in zip(axes, endpoints):
            sub = table[table["endpoint"] == ep]
            ticks, labels, y = [], [], 0.0
            for pop in dict.fromkeys(sub["population"]):
                rows = sub[sub["population"] == pop]
                raw = rows[rows["kind"] == "raw"]
                group_top = y
                if len(raw) and raw["estimate"].notna().any():
                    r = raw.iloc[0]
                    ax.plot([r["lower"], r["upper"]], [y, y], color=OKABE_ITO[0], lw=1.2,
                            gid="raw_interval")
                    ax.plot(r["estimate"], y, "s", color=OKABE_ITO[0], ms=4, gid="raw_point")
                else:
                    ax.text(0.01, y, "published: not reported", va="center",
                            fontsize="small", color="0.4", gid="not_reported",
                            transform=ax.get_yaxis_transform())
                y -= 1.0
                for _, r in rows[rows["kind"] == "shrunk"].iterrows():
                    c = colours[r["prior"]]
                    mk = "o" if r["status"] != "prediction" else "D"
                    ax.plot([r["lower"], r["upper"]], [y, y], color=c, lw=1.2,
                            gid="shrunk_interval")
                    ax.plot(r["estimate"], y, mk, color=c, ms=4,
                            mfc="white" if r["status"] == "prediction" else c, gid="shrunk_point")
                    y -= 0.7
                ticks.append((group_top + y + 0.7) / 2)
                st = rows["status"].iloc[-1]
                labels.append(population_label(pop) + ("\n(prediction)" if st == "prediction"
                                                       else "\n(synthetic)" if st == "synthetic"
                                                       else ""))
                y -= 0.8
            ax.set_yticks(ticks, labels)
            ax.set_ylim(y + 0.3, 0.6)
            ax.axvline(0.0, color="0.4", lw=0.8, gid="zero")
            if mcid and ep in mcid and mcid[ep] is not None:
                ax.axvline(mcid[ep], color=OKABE_ITO[6], ls="--", lw=1.0, gid="mcid")
            ax.set_title(f"{endpoint_label(ep)}: published vs hierarchical (95% intervals)",
                         loc="left")
            ax.set_xlabel(effect_label((scale or {}).get(ep, "effect")))
        handles = [Line2D([], [], color=OKABE_ITO[0], marker="s", ms=4, label="published (raw)")]
        handles += [Line2D([], [], color=colours[p], marker="o", ms=4,
                           label=f"hierarchical, {p} prior") for p in priors]
        handles += [Line2D([], [], color="0.3", marker="D", mfc="white", ls="none", ms=4,
                           label="prediction (not reported)"),
                    Line2D([], [], color=OKABE_ITO[6], ls="--", label="MCID")]
        fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False,
                   fontsize="small")
    return fig
