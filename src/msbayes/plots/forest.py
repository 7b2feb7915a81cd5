"""Forest plot: raw subgroup estimates (published, synthetic or external) against hierarchical
(shrunk) estimates; every raw estimate is labelled by what it is.

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

import textwrap

from collections.abc import Collection, Mapping, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .posterior import _check
from .style import (
    REFERENCE,
    prior_label,
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

#: raw-row styles by kind: colour, marker, marker face, legend label
_RAW_STYLE = {
    "published": (OKABE_ITO[0], "s", OKABE_ITO[0], "published (raw)"),
    "synthetic": ("0.45", "s", "white", "synthetic data (not evidence)"),
    "external": (OKABE_ITO[7], "^", OKABE_ITO[7], "external study (borrowed evidence)"),
}


def _raw_kind(status) -> str:
    st = str(status)
    return st if st in ("synthetic", "external") else "published"


_REQUIRED = ("endpoint", "population", "prior", "kind", "estimate", "lower", "upper", "status")


def plot_forest(
    table: pd.DataFrame,
    *,
    mcid: Mapping[str, float] | None = None,
    scale: Mapping[str, str] | None = None,
    mcid_note: str = "",
    assumed: Collection[tuple[str, str]] = (),
    size: Size = "column",
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per endpoint; per stratum a raw row and one shrunk row per prior.

    The raw row's marker and legend entry follow its ``status``: published data (black
    square, "published (raw)"), ``synthetic`` (open grey square, "synthetic data (not
    evidence)"), ``external`` (triangle, "external study (borrowed evidence)"). Shrunk rows of
    a ``prediction`` (stratum without data) are open diamonds, "prediction (no data)". An
    optional ``borrowing`` column (``"none"`` or e.g. ``"petrou2020(w=0.5)"``) is written under
    the panel title.

    Parameters
    ----------
    table : DataFrame
        Columns ``endpoint, population, prior, kind, estimate, lower, upper, status`` with
        ``kind`` in ``{"raw", "shrunk"}`` and 95% interval limits (computed by
        :func:`msbayes.report.compute.forest_table`). Raw rows may have NaN (not reported).
    mcid, scale : mapping endpoint -> value, optional
        MCID line and x-axis scale name per endpoint.
    mcid_note : str
        Added to the MCID legend entry (e.g. which MCIDs are analogues, not published).
    assumed : collection of (endpoint, population)
        Raw rows whose published SE rests on group sizes that were not reported but assumed
        (``assumed_n`` of the fit); their label says so.
    size : {"column", "slide"}
    axes : sequence of Axes, optional
        One per endpoint.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check(table, _REQUIRED, "forest table")
    assumed_set = {(str(e), str(p)) for e, p in assumed}
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
        used: set[str] = set()
        for ax, ep in zip(axes, endpoints):
            sub = table[table["endpoint"] == ep]
            ticks, labels, y = [], [], 0.0
            synth_ep = (sub["status"] == "synthetic").any()
            for pop in dict.fromkeys(sub["population"]):
                rows = sub[sub["population"] == pop]
                raw = rows[rows["kind"] == "raw"]
                group_top = y
                if len(raw) and raw["estimate"].notna().any():
                    r = raw.iloc[0]
                    kind = _raw_kind(r["status"])
                    used.add(kind)
                    c, mk, mfc, _ = _RAW_STYLE[kind]
                    ax.plot([r["lower"], r["upper"]], [y, y], color=c, lw=1.2,
                            ls=":" if kind == "synthetic" else "-", gid="raw_interval")
                    ax.plot(r["estimate"], y, mk, color=c, mfc=mfc, ms=4, gid="raw_point")
                else:
                    ax.text(0.01, y, "no data: not reported", va="center",
                            fontsize="small", color="0.4", gid="not_reported",
                            transform=ax.get_yaxis_transform())
                y -= 1.0
                for _, r in rows[rows["kind"] == "shrunk"].iterrows():
                    c = colours[r["prior"]]
                    pred = r["status"] == "prediction"
                    used.add("prediction" if pred else "shrunk:" + str(r["prior"]))
                    ax.plot([r["lower"], r["upper"]], [y, y], color=c, lw=1.2,
                            ls="--" if pred else "-", gid="shrunk_interval")
                    ax.plot(r["estimate"], y, "D" if pred else "o", color=c, ms=4,
                            mfc="white" if pred else c, gid="shrunk_point")
                    y -= 0.7
                ticks.append((group_top + y + 0.7) / 2)
                st = rows["status"].iloc[-1]
                labels.append(population_label(pop) + {
                    "prediction": "\n(prediction, no data)",
                    "synthetic": "\n(SYNTHETIC data)", "external": "\n(external study)",
                }.get(str(st), "") + ("\n(SE from assumed group sizes)"
                                     if (str(ep), str(pop)) in assumed_set else ""))
                y -= 0.8
            ax.set_yticks(ticks, labels)
            ax.set_ylim(y + 0.3, 0.6)
            ax.axvline(0.0, gid="zero", **REFERENCE["zero"])
            if mcid and ep in mcid and mcid[ep] is not None:
                ax.axvline(mcid[ep], gid="mcid", **REFERENCE["mcid"])
            what = "synthetic data" if synth_ep else "published"
            title = f"{endpoint_label(ep)}: {what} vs hierarchical\n(95% intervals)"
            if "borrowing" in sub:
                # the external study's own row is labelled "borrowed" / "not borrowed": that
                # says whether this analysis uses it, not what the hierarchical rows borrow
                own = sub["status"].astype(str) != "external" if "status" in sub else True
                bor = [b for b in dict.fromkeys(sub.loc[own, "borrowing"].astype(str))
                       if b not in ("none", "", "nan", "borrowed", "not borrowed")]
                if bor:
                    title += "\nhierarchical estimates borrow " + "; ".join(bor)
            ax.set_title("\n".join(textwrap.fill(x, 50) for x in title.split("\n")), loc="left")
            ax.set_xlabel(effect_label((scale or {}).get(ep, "effect")))
        synth_all = (table["status"] == "synthetic").any()
        ext = table[table["status"].astype(str) == "external"]
        not_used = ("borrowing" in ext and len(ext)
                    and (ext["borrowing"].astype(str) == "not borrowed").all())
        handles = [Line2D([], [], color=_RAW_STYLE[k][0], marker=_RAW_STYLE[k][1],
                          mfc=_RAW_STYLE[k][2], ms=4,
                          label="external study (shown, not borrowed)"
                          if k == "external" and not_used else _RAW_STYLE[k][3])
                   for k in ("published", "synthetic", "external") if k in used]
        handles += [Line2D([], [], color=colours[p], marker="o", ms=4,
                           label=f"hierarchical, {prior_label(p)} prior"
                           + (" (synthetic data)" if synth_all else ""))
                    for p in priors if "shrunk:" + str(p) in used]
        if "prediction" in used:
            handles.append(Line2D([], [], color="0.3", marker="D", mfc="white", ls="--", ms=4,
                                  label="prediction (no data)"))
        if mcid and any(mcid.get(ep) is not None for ep in endpoints):
            handles.append(Line2D([], [], **REFERENCE["mcid"],
                                  label="MCID" + (f" ({mcid_note})" if mcid_note else "")))
        fig.legend(handles=handles, loc="outside lower center", ncol=1, frameon=False,
                   fontsize="small")
    return fig
