"""Shared look of every msbayes figure: colour-blind-safe palette, sizes, axis labels.

The palette is Okabe & Ito (2008), distinguishable under the common colour-vision
deficiencies. Sizes: ``"column"`` fits a single journal column (3.5 in wide), ``"slide"`` a
16:9 slide.

Examples
--------
>>> from msbayes.plots.style import OKABE_ITO, effect_label
>>> len(OKABE_ITO)
8
>>> effect_label("log_speed_ratio")
'log speed ratio; positive = faster'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "OKABE_ITO",
    "PRIOR_COLOURS",
    "SIZES",
    "Size",
    "colour_cycle",
    "effect_label",
    "population_label",
    "endpoint_label",
    "new_figure",
    "metric_label",
    "axis_label",
    "style_context",
]

#: Okabe-Ito palette (black first so that "observed / raw" can use it)
OKABE_ITO: tuple[str, ...] = (
    "#000000",  # black
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
)
#: fixed colours for the prior presets so that every figure agrees
PRIOR_COLOURS: dict[str, str] = {
    "skeptical": "#0072B2",
    "neutral": "#009E73",
    "enthusiastic": "#D55E00",
}
Size = Literal["column", "slide"]
#: (width, height) in inches per panel row for each target
SIZES: dict[str, tuple[float, float]] = {"column": (3.5, 2.6), "slide": (10.0, 5.625)}

_SCALE_LABELS = {
    "log_speed_ratio": "log speed ratio; positive = faster",
    "log_distance_ratio": "log distance ratio; positive = farther",
    "log_odds": "log odds ratio; positive = more improvers",
    "log_odds_ratio": "log odds ratio; positive = more improvers",
    "pct_improvement_time": "% improvement in walk time; positive = faster",
    "pct_improvement_distance": "% improvement in distance; positive = farther",
    "pct_change_speed": "% change in speed; positive = faster",
    "pct_improvement": "% improvement; positive = better",
    "risk_difference": "risk difference; positive = more improvers",
}
_ENDPOINTS = {"t25fw": "T25FW", "6mwt": "6MWT", "edss_plus": "EDSS Plus"}
_METRICS = {
    "p_go": "P(go)",
    "p_nogo": "P(no-go)",
    "p_consider": "P(consider)",
    "p_reject": "P(reject H0)",
    "p_correct_dose": "P(correct dose)",
    "p_select": "P(dose selected)",
    "bias": "bias of the effect estimate",
    "rmse": "RMSE of the effect estimate",
    "expected_n": "expected sample size",
}


def colour_cycle(n: int) -> list[str]:
    """``n`` colours from the Okabe-Ito palette, skipping black and yellow first."""
    order = [5, 6, 3, 1, 7, 2, 0, 4]
    return [OKABE_ITO[order[i % len(order)]] for i in range(n)]


def effect_label(scale: str) -> str:
    """Axis label naming the effect scale and its direction."""
    return _SCALE_LABELS.get(str(scale), f"treatment effect ({scale})")


def endpoint_label(endpoint: str) -> str:
    """Display name of an endpoint code (``t25fw`` -> ``T25FW``)."""
    return _ENDPOINTS.get(str(endpoint), str(endpoint))


def population_label(population: str) -> str:
    """Display name of a population code (``edss_6.0-6.5`` -> ``EDSS 6.0–6.5``)."""
    p = str(population)
    if p.startswith("edss_"):
        return "EDSS " + p[5:].replace("-", "\u2013")
    return "all patients" if p == "all" else p


def metric_label(metric: str) -> str:
    """Display name of an operating characteristic (``p_go`` -> ``P(go)``)."""
    return _METRICS.get(str(metric), str(metric))


def axis_label(name: str) -> str:
    """Display name of a grid axis given by its dotted config path."""
    known = {
        "design.n_per_arm": "sample size per arm (patients)",
        "endpoint.sd": "outcome SD (analysis scale)",
        "endpoint.dropout": "dropout proportion",
        "endpoint.placebo_mean": "placebo mean change (analysis scale)",
        "dose": "dose",
    }
    return known.get(name, name)


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: Size = "column", sharex: bool = False,
    sharey: bool = False,
) -> tuple[Figure, Sequence[Axes]]:
    """A figure with ``nrows x ncols`` panels sized for ``size``; axes returned flat.

    A column figure stays 3.5 in wide and grows in height with the number of rows; a slide
    figure keeps the 16:9 page.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    w, h = SIZES[size]
    if size == "column":
        h = h * nrows if ncols == 1 else 2.2 * nrows
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(w, h), sharex=sharex, sharey=sharey, squeeze=False,
        layout="constrained",
    )
    return fig, list(axes.ravel())


_RC: dict[str, dict[str, float]] = {
    "column": {"font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "xtick.labelsize": 6,
               "ytick.labelsize": 6, "legend.fontsize": 6, "lines.linewidth": 1.2},
    "slide": {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12,
              "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 10,
              "lines.linewidth": 2.0},
}


def style_context(size: Size = "column"):
    """``matplotlib.rc_context`` with the font sizes for ``size`` (use around figure creation)."""
    if size not in _RC:
        raise ValueError(f"size must be one of {sorted(_RC)}, got {size!r}")
    return plt.rc_context({**_RC[size], "svg.hashsalt": "msbayes", "axes.spines.top": False,
                           "axes.spines.right": False})
