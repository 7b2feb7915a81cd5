"""Shared look of every msbayes figure: colour-blind-safe palette, sizes, axis labels.

The palette is Okabe & Ito (2008), distinguishable under the common colour-vision
deficiencies. Sizes: ``"column"`` fits a single journal column (3.5 in wide),
``"two_column"`` a full page width (7.2 in), ``"slide"`` a 16:9 slide.

One named mapping, :data:`ROLES`, gives every kind of thing drawn its own visual channel so
that a colour never means two things in one figure:

* scenario (a true effect assumed by the simulation): colour from :data:`SCENARIO_COLOURS`
  plus a marker (circle, square, triangle ...), solid line;
* design prior (assurance scenario): colour from :data:`DESIGN_PRIOR_COLOURS`, dashed line,
  open marker;
* analysis prior of the re-analysis (sceptical / neutral / enthusiastic):
  :data:`PRIOR_COLOURS`;
* stratum (EDSS band): marker shape (:data:`STRATUM_MARKERS`), black;
* design compared (two-arm, 2 doses, 3 doses): line style (:data:`DESIGN_LINESTYLES`);
* reference lines: neutral grey, told apart by line style (:data:`REFERENCE`): no effect
  (thin solid), MCID (dashed), target (dotted);
* decision outcome: go / consider / no-go fills (:data:`DECISION_COLOURS`).

Every figure is saved with TrueType (Type 42) fonts in PDF and editable ``<text>`` in SVG
(:data:`PUBLICATION_RC`), PNG at 300 dpi.

Examples
--------
>>> from msbayes.plots.style import OKABE_ITO, effect_label
>>> len(OKABE_ITO)
8
>>> effect_label("log_speed_ratio")
'log speed ratio; positive = faster'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "OKABE_ITO",
    "PRIOR_COLOURS",
    "SCENARIO_COLOURS",
    "SCENARIO_MARKERS",
    "DESIGN_PRIOR_COLOURS",
    "STRATUM_MARKERS",
    "DESIGN_LINESTYLES",
    "REFERENCE",
    "DECISION_COLOURS",
    "SELECTION_COLOURS",
    "DOSE_COLOURS",
    "COMPARATOR_LINESTYLES",
    "RAR_OUTCOME_COLOURS",
    "ROLES",
    "PUBLICATION_RC",
    "scenario_style",
    "SIZES",
    "Size",
    "colour_cycle",
    "effect_label",
    "population_label",
    "endpoint_label",
    "new_figure",
    "metric_label",
    "axis_label",
    "clinical_effect",
    "clinical_axis",
    "model_label",
    "arm_label",
    "statistic_label",
    "study_label",
    "prior_label",
    "scenario_label",
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
#: analysis priors of the re-analysis (fit figures only): one colour each
PRIOR_COLOURS: dict[str, str] = {
    "skeptical": "#56B4E9",  # sky blue
    "sceptical": "#56B4E9",
    "neutral": "#009E73",  # bluish green
    "enthusiastic": "#E69F00",  # orange
}
#: simulation scenarios (fixed true effects), in order of appearance; markers double-encode
SCENARIO_COLOURS: tuple[str, ...] = ("#000000", "#0072B2", "#D55E00", "#CC79A7")
SCENARIO_MARKERS: tuple[str, ...] = ("o", "s", "^", "v", "P", "X")
#: design priors (assurance scenarios): colours not used by fixed scenarios; dashed lines
DESIGN_PRIOR_COLOURS: tuple[str, ...] = ("#E69F00", "#009E73", "#56B4E9")
#: strata (EDSS bands): marker shapes, drawn in black
STRATUM_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v")
#: designs compared in one figure: line styles
DESIGN_LINESTYLES: tuple[str, ...] = ("-", "--", ":", "-.")
#: reference lines: neutral grey, one line style each (the MCID line is never a data colour)
REFERENCE: dict[str, dict[str, object]] = {
    "zero": {"color": "0.55", "ls": "-", "lw": 0.7},
    "mcid": {"color": "0.3", "ls": "--", "lw": 0.9},
    "target": {"color": "0.3", "ls": ":", "lw": 0.9},
    "ceiling": {"color": "0.3", "ls": "-.", "lw": 0.9},
}
#: decision outcomes (stacked areas): go dark blue, consider light grey, no-go vermillion tint
DECISION_COLOURS: dict[str, str] = {"go": "#0072B2", "consider": "#D9D9D9", "nogo": "#F4B183"}
#: interim selection of an adaptive enrichment design (stacked bars): S only blue, F only
#: bluish green, both sky blue, none (futility stop) light grey, stopped early for efficacy orange
SELECTION_COLOURS: dict[str, str] = {"sub_only": "#0072B2", "full_only": "#009E73",
                                     "both": "#56B4E9", "none": "#D9D9D9", "early": "#E69F00"}
#: active doses of a multi-arm design (grouped bars), lowest dose first
DOSE_COLOURS: tuple[str, ...] = ("#56B4E9", "#0072B2", "#CC79A7", "#D55E00", "#E69F00", "#009E73")
#: an adaptive design and its paired fixed comparator: line styles (scenario colour kept)
COMPARATOR_LINESTYLES: dict[str, str] = {"adaptive": "-", "fixed": "--"}
#: how a response-adaptive (RAR) trial ends (stacked bars)
RAR_OUTCOME_COLOURS: dict[str, str] = {"superiority": "#0072B2", "equivalence": "#009E73",
                                       "futility": "#E69F00", "max": "#D9D9D9"}
#: the whole mapping by role (documented in docs/report.md)
ROLES: dict[str, object] = {
    "scenario": {"colour": SCENARIO_COLOURS, "marker": SCENARIO_MARKERS, "line": "-"},
    "design_prior": {"colour": DESIGN_PRIOR_COLOURS, "marker": "open", "line": "--"},
    "prior": PRIOR_COLOURS,
    "stratum": {"marker": STRATUM_MARKERS, "colour": "#000000"},
    "design": {"line": DESIGN_LINESTYLES},
    "reference": REFERENCE,
    "decision": DECISION_COLOURS,
    "selection": SELECTION_COLOURS,
    "dose": {"colour": DOSE_COLOURS},
    "comparator": {"line": COMPARATOR_LINESTYLES},
    "rar_outcome": RAR_OUTCOME_COLOURS,
}
#: matplotlib settings for journal-ready files: TrueType fonts in PDF/PS, SVG text as text
PUBLICATION_RC: dict[str, object] = {
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none", "savefig.dpi": 300,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
}
Size = Literal["column", "two_column", "slide"]
#: (width, height) in inches per panel row for each target
SIZES: dict[str, tuple[float, float]] = {"column": (3.5, 2.6), "two_column": (7.2, 3.0),
                                         "slide": (10.0, 5.625)}


def scenario_style(kinds: Sequence[str]) -> list[dict[str, object]]:
    """Plot keywords per scenario in order: fixed scenarios take :data:`SCENARIO_COLOURS`
    with solid lines and filled markers, design priors (``kind == "design_prior"``)
    :data:`DESIGN_PRIOR_COLOURS` with dashed lines and open markers.

    >>> [s["color"] for s in scenario_style(["point", "point", "design_prior"])]
    ['#000000', '#0072B2', '#E69F00']
    """
    out, i, j = [], 0, 0
    for k in kinds:
        if str(k) == "design_prior":
            c = DESIGN_PRIOR_COLOURS[j % len(DESIGN_PRIOR_COLOURS)]
            m = SCENARIO_MARKERS[(len(kinds) - 1 - j) % len(SCENARIO_MARKERS)]
            out.append({"color": c, "ls": "--", "marker": m, "mfc": "white"})
            j += 1
        else:
            c = SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)]
            out.append({"color": c, "ls": "-", "marker": SCENARIO_MARKERS[i % len(SCENARIO_MARKERS)],
                        "mfc": c})
            i += 1
    return out

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
    """Display name of a population code (``edss_6.0-6.5`` -> ``EDSS 6.0–6.5``).

    >>> population_label("petrou2020/t25fw/all")
    'Petrou 2020, all patients'
    """
    p = str(population)
    if p.count("/") >= 2:  # an external study's estimand: study/endpoint/population
        import re

        study, _, pop = p.split("/")[:3]
        m = re.fullmatch(r"([A-Za-z]+)(\d{4})([a-z]?)", study)
        name = f"{m.group(1).capitalize()} {m.group(2)}{m.group(3)}" if m else study
        return f"{name}, {population_label(pop)}"
    if p.startswith("edss_"):
        return "EDSS " + p[5:].replace("-", "\u2013")
    return "all patients" if p == "all" else p


_MODELS = {
    "summary": "hierarchical model of the published summaries",
    "summary_log": "hierarchical model of the published summaries (ratio scale)",
    "summary_pct": "hierarchical model of the published summaries (% improvement scale)",
    "binary": "hierarchical model of the improver counts",
    "patient": "patient-level model",
    "effects": "model of the published treatment-effect estimates",
}
_PRIORS = {"skeptical": "skeptical", "sceptical": "sceptical", "neutral": "neutral",
           "enthusiastic": "enthusiastic"}


_ARMS = {"msc_np": "MSC-NP", "saline": "saline (control)", "it_msc": "intrathecal MSC",
         "iv_msc": "intravenous MSC", "sham": "sham (control)", "placebo": "placebo",
         "treatment": "treatment", "control": "control"}
_STATISTICS = {"ybar": "arm mean change", "s2": "arm variance (SD squared)",
               "y_t": "improvers, treatment arm", "y_c": "improvers, control arm"}


def arm_label(arm: str) -> str:
    """Plain name of an arm key (``msc_np`` -> ``MSC-NP``; unknown keys lose underscores).

    >>> arm_label("msc_np"), arm_label("saline"), arm_label("new_arm")
    ('MSC-NP', 'saline (control)', 'new arm')
    """
    return _ARMS.get(str(arm), str(arm).replace("_", " "))


def statistic_label(stat: str) -> str:
    """Plain name of a posterior-predictive statistic (``ybar`` -> ``arm mean change``).

    >>> statistic_label("y_t"), statistic_label("ybar")
    ('improvers, treatment arm', 'arm mean change')
    """
    return _STATISTICS.get(str(stat), str(stat).replace("_", " "))


def study_label(study: str) -> str:
    """``harris2024`` -> ``Harris 2024`` (an unrecognised key is returned unchanged).

    >>> study_label("harris2024"), study_label("petrou2020b")
    ('Harris 2024', 'Petrou 2020b')
    """
    import re

    m = re.fullmatch(r"([A-Za-z]+)(\d{4})([a-z]?)", str(study))
    return f"{m.group(1).capitalize()} {m.group(2)}{m.group(3)}" if m else str(study)


def model_label(model: str) -> str:
    """Plain-language name of a fitted model key (a borrowing variant keeps its label).

    >>> model_label("summary_log")
    'hierarchical model of the published summaries (ratio scale)'
    >>> model_label("binary [none]")
    'hierarchical model of the improver counts (no borrowing)'
    """
    m = str(model)
    base, _, variant = m.partition(" [")
    name = _MODELS.get(base, base.replace("_", " "))
    if variant:
        v = variant.rstrip("]")
        name += " (no borrowing)" if v == "none" else f" (borrowing: {v.replace('_', ' ')})"
    return name


def prior_label(prior: str) -> str:
    """Plain-language name of a prior key (presets unchanged; ``my_prior`` -> ``my prior``).

    >>> prior_label("skeptical"), prior_label("custom_wide")
    ('skeptical', 'custom wide')
    """
    p = str(prior)
    return _PRIORS.get(p, p.replace("_", " "))


def metric_label(metric: str) -> str:
    """Display name of an operating characteristic (``p_go`` -> ``P(go)``)."""
    return _METRICS.get(str(metric), str(metric))


#: what the per-patient outcome is on each analysis scale (for "SD of ..." labels)
_SCALE_NOUN = {
    "log_speed_ratio": "log speed ratio",
    "log_distance_ratio": "log distance ratio",
    "pct_improvement_time": "% improvement in walk time",
    "pct_improvement_distance": "% improvement in distance",
    "pct_change_speed": "% change in speed",
}


def axis_label(name: str, *, scale: str | None = None, dose_unit: str | None = None,
               overrides: Mapping[str, str] | None = None) -> str:
    """Plain-language name, with units, of a grid axis given by its dotted config path.

    ``overrides`` (the simulation config's optional ``labels:`` mapping) wins over the
    built-in vocabulary; an unknown path is returned unchanged.

    >>> axis_label("design.dose_response.ed50", dose_unit="million cells per injection")
    'ED50 (million cells per injection)'
    >>> axis_label("endpoint.sd", scale="log_speed_ratio")
    'SD of the log speed ratio'
    >>> axis_label("design.n_per_arm", overrides={"design.n_per_arm": "patients per group"})
    'patients per group'
    """
    if overrides and name in overrides:
        return str(overrides[name])
    noun = _SCALE_NOUN.get(str(scale), "outcome on the analysis scale")
    unit = f" ({dose_unit})" if dose_unit else ""
    known = {
        "design.n_per_arm": "patients per arm",
        "n_total": "total patients",
        "endpoint.sd": f"SD of the {noun}",
        "endpoint.dropout": "dropout (proportion of patients)",
        "endpoint.placebo_mean": f"placebo mean change ({noun})",
        "design.dose_response.ed50": f"ED50{unit}",
        "design.dose_response.emax": f"maximum effect, Emax ({noun})",
        "dose": f"dose{unit}",
    }
    return known.get(name, name)


def clinical_effect(effect: float, scale: str) -> str:
    """A true effect in clinical units.

    >>> clinical_effect(0.1823, "log_speed_ratio"), clinical_effect(0.0, "log_speed_ratio")
    ('20% faster walking', 'no effect')
    >>> clinical_effect(-0.1, "log_distance_ratio"), clinical_effect(0.05, "risk_difference")
    ('10% shorter distance', '+5 percentage points improvers')
    """
    import math

    try:
        e = float(effect)
    except (TypeError, ValueError):
        return str(effect)
    if not math.isfinite(e):
        return "effect unknown"
    if abs(e) < 1e-12:
        return "no effect"
    sc = str(scale)
    if sc in ("log_speed_ratio", "log_distance_ratio"):
        pct = 100.0 * (math.exp(e) - 1.0)
        up, down = (("faster walking", "slower walking") if sc == "log_speed_ratio"
                    else ("farther distance", "shorter distance"))
        return f"{abs(pct):.0f}% {up if pct > 0 else down}"
    if sc.startswith("pct_"):
        return f"{e:+.0f}% {effect_label(sc).split(';')[0].split('% ', 1)[-1]}"
    if sc in ("log_odds", "log_odds_ratio"):
        return f"odds ratio {math.exp(e):.2f}"
    if sc == "risk_difference":
        return f"{100 * e:+.0f} percentage points improvers"
    return f"effect {e:g} ({sc})"


def clinical_axis(effects: Sequence[float], scale: str) -> tuple[np.ndarray, str]:
    """True effects converted to clinical units for an axis, with the axis label.

    Ratio scales become the % change (``100 (exp(e) - 1)``), a risk difference percentage
    points, a log odds ratio the odds ratio; %-scales are already clinical.

    >>> v, lab = clinical_axis([0.0, 0.1823], "log_speed_ratio")
    >>> [round(float(x)) for x in v], lab
    ([0, 20], 'true effect: % change in walking speed (positive = faster)')
    >>> clinical_axis([0.05], "risk_difference")[1]
    'true effect: difference in improvers (percentage points)'
    """
    e = np.asarray(effects, float)
    sc = str(scale)
    if sc == "log_speed_ratio":
        return 100.0 * np.expm1(e), "true effect: % change in walking speed (positive = faster)"
    if sc == "log_distance_ratio":
        return 100.0 * np.expm1(e), "true effect: % change in distance (positive = farther)"
    if sc in ("log_odds", "log_odds_ratio"):
        return np.exp(e), "true effect: odds ratio of improvement"
    if sc == "risk_difference":
        return 100.0 * e, "true effect: difference in improvers (percentage points)"
    return e, f"true effect ({effect_label(sc)})"


_SCENARIO_NAMES = {"null": "no effect", "mcid": "effect at the MCID", "target": "target effect",
                   "large": "large effect", "small": "small effect", "prior": "design prior"}


def scenario_label(key: str, *, effect: float | None = None, scale: str | None = None,
                   kind: str = "point", overrides: Mapping[str, str] | None = None) -> str:
    """Plain-language name of a simulation scenario, with its effect in clinical units.

    >>> scenario_label("mcid", effect=0.1823, scale="log_speed_ratio")
    'effect at the MCID (20% faster walking)'
    >>> scenario_label("null", effect=0.0, scale="log_speed_ratio")
    'no effect'
    >>> scenario_label("posterior_robust", kind="design_prior")
    'design prior: posterior robust'
    >>> scenario_label("mcid", overrides={"mcid": "smallest worthwhile effect"})
    'smallest worthwhile effect'
    """
    k = str(key)
    if overrides and k in overrides:
        return str(overrides[k])
    if str(kind) == "design_prior":
        return "design prior: " + _SCENARIO_NAMES.get(k, k.replace("_", " "))
    name = _SCENARIO_NAMES.get(k, k.replace("_", " "))
    if effect is None or scale is None:
        return name
    eff = clinical_effect(effect, scale)
    if eff == "no effect":
        return name if name == "no effect" else f"{name} (no effect)"
    return f"{name} ({eff})"


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
    elif size == "two_column":
        h = h * nrows
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(w, h), sharex=sharex, sharey=sharey, squeeze=False,
        layout="constrained",
    )
    return fig, list(axes.ravel())


_RC: dict[str, dict[str, float]] = {
    "two_column": {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8,
                   "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7,
                   "lines.linewidth": 1.2},
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
    return plt.rc_context({**_RC[size], **PUBLICATION_RC, "svg.hashsalt": "msbayes", "axes.spines.top": False,
                           "axes.spines.right": False})
