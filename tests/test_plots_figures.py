"""Content tests of every figure function (Agg backend) on small tidy results.

Each test checks what a reader relies on: number of panels / lines / bands, axis labels with
units and scale, the MCID and zero reference lines at their values, the P(benefit) and
P(>MCID) annotations, the target marker on the power plot, heatmap shape.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from msbayes.plots import (  # noqa: E402
    OKABE_ITO,
    plot_dose_response,
    plot_effect_posterior,
    plot_forest,
    plot_oc_curves,
    plot_oc_heatmap,
    plot_ppc,
    plot_prior_sensitivity,
)
from msbayes.report import compute  # noqa: E402

MCID = float(np.log(1.2))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _lines(ax, gid):
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid]


def _vline_at(ax, gid, x):
    ls = _lines(ax, gid)
    return any(np.allclose(ln.get_xdata(), [x, x]) for ln in ls)


def _hline_at(ax, gid, y):
    return any(np.allclose(ln.get_ydata(), [y, y]) for ln in _lines(ax, gid))


def test_palette_is_okabe_ito():
    # the eight Okabe & Ito (2008) colours, independent listing
    assert {c.upper() for c in OKABE_ITO} == {
        "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def test_effect_posterior_panels_lines_and_annotations():
    rng = np.random.default_rng(1)
    post = {"edss_3.0-5.5": rng.normal(0.2, 0.3, 800), "edss_6.0-6.5": rng.normal(0.38, 0.15, 800)}
    prior = {k: rng.normal(0, 0.5, 800) for k in post}
    dens = compute.density_table(post, prior, n_points=64)
    panels = pd.DataFrame({"population": list(post), "status": ["prediction", "estimate"],
                           "p_benefit": [0.731, 0.994], "p_mcid": [0.468, 0.903]})
    fig = plot_effect_posterior(dens, panels=panels, mcid=MCID, scale="log_speed_ratio")
    assert len(fig.axes) == 2
    assert fig.get_size_inches()[0] == pytest.approx(3.5)
    for ax, (_, row) in zip(fig.axes, panels.iterrows()):
        assert len(_lines(ax, "posterior")) == 1 and len(_lines(ax, "prior")) == 1
        assert _vline_at(ax, "mcid", MCID)
        assert _vline_at(ax, "zero", 0.0)
        txt = [t.get_text() for t in ax.texts if t.get_gid() == "p_annotation"]
        if row.status == "prediction":  # no data: no probability is shown
            assert txt == ["prediction from the\nbetween-stratum model:\nno probability given"]
        else:
            assert txt == [f"P(benefit) = {row.p_benefit:.2f}\nP(>MCID) = {row.p_mcid:.2f}"]
        assert ax.get_ylabel() == "density"
    assert "prediction" in fig.axes[0].get_title(loc="left")
    assert "prediction" not in fig.axes[1].get_title(loc="left")
    assert fig.axes[-1].get_xlabel() == "log speed ratio; positive = faster"


def test_effect_posterior_without_mcid_and_synthetic_label():
    x = np.linspace(-1, 1, 11)
    dens = pd.DataFrame({"population": "all", "kind": "posterior", "x": x, "density": 1 - x**2})
    panels = pd.DataFrame({"population": ["all"], "status": ["synthetic"], "p_benefit": [0.5],
                           "p_mcid": [np.nan]})
    fig = plot_effect_posterior(dens, panels=panels, mcid=None, scale="log_odds", size="slide")
    ax = fig.axes[0]
    assert not _lines(ax, "mcid") and _vline_at(ax, "zero", 0.0)
    assert "SYNTHETIC" in ax.get_title(loc="left")
    assert [t.get_text() for t in ax.texts if t.get_gid() == "p_annotation"] == ["P(benefit) = 0.50"]
    assert fig.get_size_inches()[0] == pytest.approx(10.0)


def test_effect_posterior_refuses_missing_columns():
    with pytest.raises(ValueError, match="missing column"):
        plot_effect_posterior(pd.DataFrame({"x": [0]}), panels=pd.DataFrame(), mcid=None,
                              scale="s")


def _forest_table():
    rows = []
    for ep in ("t25fw", "6mwt"):
        rows.append(dict(endpoint=ep, population="edss_6.0-6.5", prior="", kind="raw",
                         estimate=0.47, lower=0.14, upper=0.80, status="estimate"))
        rows.append(dict(endpoint=ep, population="edss_3.0-5.5", prior="", kind="raw",
                         estimate=np.nan, lower=np.nan, upper=np.nan, status="prediction"))
        for p, m in (("skeptical", 0.26), ("neutral", 0.38), ("enthusiastic", 0.42)):
            rows.append(dict(endpoint=ep, population="edss_6.0-6.5", prior=p, kind="shrunk",
                             estimate=m, lower=m - 0.3, upper=m + 0.3, status="estimate"))
            rows.append(dict(endpoint=ep, population="edss_3.0-5.5", prior=p, kind="shrunk",
                             estimate=m / 2, lower=m / 2 - 0.6, upper=m / 2 + 0.6,
                             status="prediction"))
    return pd.DataFrame(rows)


def test_forest_rows_reference_lines_and_labels():
    t = _forest_table()
    mc = {"t25fw": MCID, "6mwt": float(np.log(1.08))}
    fig = plot_forest(t, mcid=mc, scale={"t25fw": "log_speed_ratio", "6mwt": "log_distance_ratio"})
    assert len(fig.axes) == 2
    for ax, ep in zip(fig.axes, ("t25fw", "6mwt")):
        assert len(_lines(ax, "raw_point")) == 1  # only the reported stratum
        assert len(_lines(ax, "shrunk_point")) == 6  # 2 strata x 3 priors
        assert sorted(ln.get_xdata()[0] for ln in _lines(ax, "raw_point")) == [0.47]
        assert _vline_at(ax, "mcid", mc[ep]) and _vline_at(ax, "zero", 0.0)
        assert any(t.get_gid() == "not_reported" for t in ax.texts)
        assert any("prediction" in lab.get_text() for lab in ax.get_yticklabels())
    assert fig.axes[0].get_xlabel() == "log speed ratio; positive = faster"
    assert fig.axes[1].get_xlabel() == "log distance ratio; positive = farther"
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "published (raw)" in legend_texts and "hierarchical, neutral prior" in legend_texts
    # the legend lists only what is drawn: no external / synthetic symbol, and no MCID entry
    # when no panel has an MCID line
    assert not any("external" in x or "synthetic" in x for x in legend_texts)
    fig2 = plot_forest(t, mcid={"edss_plus": 0.5}, scale={"t25fw": "log_speed_ratio"})
    assert not any(_lines(ax, "mcid") for ax in fig2.axes)
    assert not any(x.get_text().startswith("MCID") for x in fig2.legends[0].get_texts())
    # the MCID line is neutral grey, never a data colour
    assert _lines(fig.axes[0], "mcid")[0].get_color() not in OKABE_ITO


def test_prior_sensitivity_series_and_mcid():
    t = sensitivity_rows = pd.DataFrame({
        "endpoint": "t25fw", "population": ["edss_3.0-5.5"] * 3 + ["edss_6.0-6.5"] * 3,
        "prior": ["skeptical", "neutral", "enthusiastic"] * 2,
        "mean": [0.15, 0.18, 0.2, 0.26, 0.38, 0.42], "lower": [-0.4] * 3 + [0.0] * 3,
        "upper": [0.7] * 3 + [0.7] * 3, "status": ["prediction"] * 3 + ["estimate"] * 3})
    fig = plot_prior_sensitivity(sensitivity_rows, mcid={"t25fw": MCID},
                                 scale={"t25fw": "log_speed_ratio"})
    (ax,) = fig.axes
    eb = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(eb) == 2  # one series per stratum
    ys = sorted(np.round(np.asarray(eb[1].lines[0].get_ydata(), float), 6))
    assert ys == sorted(t["mean"].iloc[3:].round(6))
    assert _hline_at(ax, "mcid", MCID) and _hline_at(ax, "zero", 0.0)
    assert [lab.get_text() for lab in ax.get_xticklabels()] == [
        "skeptical\nprior", "neutral\nprior", "enthusiastic\nprior"]
    assert ax.get_ylabel() == "log speed ratio; positive = faster"


def test_ppc_panels_and_points():
    t = pd.DataFrame({"label": ["a", "b", "a", "b"], "statistic": ["mean", "mean", "sd", "sd"],
                      "observed": [0.1, -0.4, 0.2, 0.4], "pred_mean": [0.1, -0.3, 0.2, 0.5],
                      "pred_lower": [-0.1, -0.6, 0.1, 0.3], "pred_upper": [0.3, 0.0, 0.3, 0.7]})
    fig = plot_ppc(t)
    assert len(fig.axes) == 2
    for ax, st in zip(fig.axes, ("mean", "sd")):
        obs = _lines(ax, "observed")[0].get_xdata()
        assert np.allclose(obs, t.loc[t.statistic == st, "observed"])
        assert ax.get_xlabel().startswith(st)
        segs = [c for c in ax.collections if c.get_gid() == "pred_interval"][0].get_segments()
        assert len(segs) == 2


def test_oc_curves_lines_bands_and_target():
    cur = pd.DataFrame({"group": ["null"] * 3 + ["mcid"] * 3, "x": [20, 40, 60] * 2,
                        "y": [0.05, 0.05, 0.05, 0.3, 0.6, 0.8],
                        "lower": [0.04, 0.04, 0.04, 0.29, 0.59, 0.79],
                        "upper": [0.06, 0.06, 0.06, 0.31, 0.61, 0.81]})
    tg = pd.DataFrame({"group": ["mcid"], "target": [0.8], "n": [58], "achieved": [0.802]})
    ax = plot_oc_curves(cur, metric="p_reject", x_label="sample size per arm (patients)",
                        targets=tg)
    assert len(_lines(ax, "curve")) == 2
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)
             and c.get_gid() == "mcse_band"]
    assert len(bands) == 2
    # the band polygon spans exactly lower..upper
    v = bands[1].get_paths()[0].vertices
    assert v[:, 1].min() == pytest.approx(0.29) and v[:, 1].max() == pytest.approx(0.81)
    (mk,) = _lines(ax, "target_marker")
    assert mk.get_xdata()[0] == 58 and mk.get_ydata()[0] == pytest.approx(0.802)
    assert _hline_at(ax, "target_line", 0.8)
    assert any(t.get_text() == "n = 58" for t in ax.texts)
    assert ax.get_xlabel() == "sample size per arm (patients)"
    # Monte Carlo error belongs in the caption, not in every y label
    assert ax.get_ylabel() == "P(reject H0)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["null", "mcid"]


def test_oc_heatmap_shape_and_labels():
    g = xr.DataArray(np.linspace(0, 1, 15).reshape(3, 5), dims=("endpoint.sd", "design.n_per_arm"),
                     coords={"endpoint.sd": [0.25, 0.35, 0.44],
                             "design.n_per_arm": [20, 40, 60, 80, 100]})
    ax = plot_oc_heatmap(g, metric="p_go")
    (im,) = ax.get_images()
    assert im.get_array().shape == (3, 5)
    assert np.allclose(im.get_array(), g.values)
    assert len([t for t in ax.texts if t.get_gid() == "cell_label"]) == 15
    assert ax.get_xlabel() == "patients per arm"
    assert ax.get_ylabel() == "SD of the outcome on the analysis scale"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "40", "60", "80", "100"]
    with pytest.raises(ValueError, match="2-D"):
        plot_oc_heatmap(g.isel({"endpoint.sd": 0}), metric="p_go")


def test_dose_response_two_panels_band_and_bars():
    rng = np.random.default_rng(3)
    fine = np.union1d([0, 3, 6, 10], np.linspace(0, 10, 41))
    draws = pd.DataFrame([{"scenario": "prior", "dose": d, "draw": i,
                           "effect": th * d / (3 + d) / (10 / 13)}
                          for i, th in enumerate(rng.normal(0.38, 0.15, 200))
                          for d in fine])
    band = compute.credible_band(draws)
    sel = pd.DataFrame({"scenario": ["a"] * 5 + ["b"] * 5,
                        "dose": [0.0, 3.0, 6.0, 10.0, "none"] * 2,
                        "p": [0.0, 0.2, 0.3, 0.4, 0.1, 0.0, 0.1, 0.1, 0.1, 0.7]})
    sel["lower"], sel["upper"] = sel.p - 0.02, sel.p + 0.02
    fig = plot_dose_response(band, sel, scale="log_speed_ratio", mcid=MCID,
                             design_doses=[0, 3, 6, 10],
                             dose_label="million cells per injection")
    ax_a, ax_b = fig.axes
    assert len([c for c in ax_a.collections if c.get_gid() == "credible_band"]) == 1
    (curve,) = _lines(ax_a, "median_curve")
    # a curve, not four points joined by straight segments: concave Emax, evaluated densely
    x, y = curve.get_xdata(), curve.get_ydata()
    assert len(x) >= 40 and np.all(np.diff(y) > 0) and np.all(np.diff(y, 2) < 1e-9)
    (marks,) = _lines(ax_a, "design_dose")
    assert list(marks.get_xdata()) == [0, 3, 6, 10]
    assert _hline_at(ax_a, "mcid", MCID)
    assert _lines(ax_a, "mcid")[0].get_color() not in OKABE_ITO[1:]  # MCID line is neutral
    leg = [t.get_text() for t in ax_a.get_legend().get_texts()]
    assert leg == ["prior", "MCID", "95% credible band"]
    bars = [p for p in ax_b.patches if isinstance(p, Rectangle) and p.get_gid() == "select_bar"]
    # placebo is not selectable; "no dose selected" is its own bar
    assert len(bars) == 8
    assert [t.get_text() for t in ax_b.get_xticklabels()] == ["3", "6", "10", "no dose\nselected"]
    assert sorted(round(b.get_height(), 6) for b in bars) == sorted(sel.p[sel.p > 0].round(6))
    assert ax_a.get_ylabel() == "log speed ratio; positive = faster"
    assert ax_b.get_xlabel() == "million cells per injection"
    assert ax_b.get_ylabel() == "probability the dose is selected"
    # a band evaluated only at the design doses: points with bars, no straight segments
    coarse = band[band["dose"].isin([0, 3, 6, 10])]
    fig3 = plot_dose_response(coarse, sel, scale="log_speed_ratio")
    assert not _lines(fig3.axes[0], "median_curve")
    fig2 = plot_dose_response(None, sel, scale="log_speed_ratio")
    assert any(t.get_gid() == "no_band" for t in fig2.axes[0].texts)


def test_forest_marks_ses_resting_on_assumed_group_sizes():
    t = _forest_table()
    fig = plot_forest(t, mcid={"t25fw": MCID}, assumed={("t25fw", "edss_6.0-6.5")})
    labs = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    marked = [x for x in labs if "SE from assumed group sizes" in x]
    assert len(marked) == 1 and marked[0].startswith("EDSS 6.0\u20136.5")
    labs6 = [x.get_text() for x in fig.axes[1].get_yticklabels()]
    assert not any("assumed" in x for x in labs6)  # other endpoint: not marked
