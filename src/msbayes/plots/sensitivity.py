"""Prior-sensitivity plot: posterior mean and 95% interval by prior preset, per stratum.

Examples
--------
>>> import pandas as pd
>>> from msbayes.plots import plot_prior_sensitivity
>>> t = pd.DataFrame({"endpoint": "t25fw", "population": "edss_6.0-6.5",
...                   "prior": ["skeptical", "neutral", "enthusiastic"],
...                   "mean": [0.26, 0.38, 0.42], "lower": [-0.05, 0.08, 0.13],
...                   "upper": [0.55, 0.67, 0.71], "status": "estimate"})
>>> fig = plot_prior_sensitivity(t, mcid={"t25fw": 0.1823}, scale={"t25fw": "log_speed_ratio"})
>>> len(fig.axes)
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .posterior import _check
from .style import (
    REFERENCE,
    prior_label,
    STRATUM_MARKERS,
    OKABE_ITO,
    Size,
    effect_label,
    endpoint_label,
    new_figure,
    population_label,
    style_context,
)

__all__ = ["plot_prior_sensitivity"]

_REQUIRED = ("endpoint", "population", "prior", "mean", "lower", "upper", "status")


def plot_prior_sensitivity(
    table: pd.DataFrame,
    *,
    mcid: Mapping[str, float] | None = None,
    scale: Mapping[str, str] | None = None,
    mcid_note: str = "",
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per endpoint: x = prior preset, y = effect; one series per stratum.

    Parameters
    ----------
    table : DataFrame
        Columns ``endpoint, population, prior, mean, lower, upper, status`` (optional
        ``borrowing``, written under the panel title when not ``"none"``); priors are shown
        in their order of first appearance (e.g. skeptical, neutral, enthusiastic). Series
        keep their status in the legend: "(prediction, no data)" (open diamonds, dashed
        bars), "(synthetic data, not evidence)" (open circles).
    mcid, scale : mapping endpoint -> value, optional
    mcid_note : str
        Added to the MCID legend entry.
    size : {"column", "slide"}
    axes : sequence of Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, _REQUIRED, "sensitivity table")
    endpoints = list(dict.fromkeys(table["endpoint"]))
    if not endpoints:
        raise ValueError("sensitivity table is empty")
    priors = list(dict.fromkeys(table["prior"]))
    pops = list(dict.fromkeys(table["population"]))
    # strata are told apart by marker shape (their own channel), drawn in black
    colours = {p: "#000000" for p in pops}
    markers = {p: STRATUM_MARKERS[i % len(STRATUM_MARKERS)] for i, p in enumerate(pops)}
    width = 0.5
    offs = np.linspace(-width / 2, width / 2, len(pops)) if len(pops) > 1 else np.zeros(1)
    with style_context(size):
        if axes is None:
            fig, axes = new_figure(len(endpoints), 1, size=size)
        else:
            fig = axes[0].figure
        for ax, ep in zip(axes, endpoints):
            sub = table[table["endpoint"] == ep]
            for k, pop in enumerate(pops):
                rows = sub[sub["population"] == pop].set_index("prior").reindex(priors)
                if rows["mean"].isna().all():
                    continue
                x = np.arange(len(priors)) + offs[k]
                pred = (rows["status"] == "prediction").any()
                synth = (rows["status"] == "synthetic").any()
                lab = population_label(pop) + (" (prediction, no data)" if pred else
                                               " (synthetic data, not evidence)" if synth else "")
                eb = ax.errorbar(x, rows["mean"], yerr=[rows["mean"] - rows["lower"],
                                 rows["upper"] - rows["mean"]], fmt="D" if pred else markers[pop],
                                 color=colours[pop], mfc="white" if pred or synth else colours[pop],
                                 ms=4, capsize=2, lw=1.0, label=lab, gid="series")
                if pred:
                    for ln in eb.lines[2]:
                        ln.set_linestyle("--")
            ax.axhline(0.0, gid="zero", **REFERENCE["zero"])
            if mcid and ep in mcid and mcid[ep] is not None:
                ax.axhline(mcid[ep], gid="mcid", **REFERENCE["mcid"],
                           label="MCID" + (f" ({mcid_note})" if mcid_note else ""))
            ax.set_xticks(np.arange(len(priors)), [f"{prior_label(p)}\nprior" for p in priors])
            ax.set_ylabel(effect_label((scale or {}).get(ep, "effect")))
            title = f"{endpoint_label(ep)}: posterior mean and 95% interval by prior"
            if "borrowing" in sub:
                bor = [b for b in dict.fromkeys(sub["borrowing"].astype(str))
                       if b not in ("none", "", "nan")]
                if bor:
                    title += "\nborrows " + "; ".join(bor)
            ax.set_title(title, loc="left")
        h, lab = {}, []
        for ax in axes:
            for hh, ll in zip(*ax.get_legend_handles_labels()):
                h.setdefault(ll, hh)
        fig.legend(list(h.values()), list(h), loc="outside lower center", ncol=2,
                   frameon=False, fontsize="small")
    return fig
