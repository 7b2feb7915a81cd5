"""Grant-ready report additions: decisions against the true effect, the estimated target dose's
distribution with P(true effect at the selected dose >= MCID), the statistical-considerations
text as .docx, and plain-language model names in figures.

Expected values are computed here independently of the code under test (numpy histograms,
direct loops over simulated trials, the closed-form % change 100 (exp(e) - 1), the oc.nc
numbers themselves).
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
import yaml  # noqa: E402

from msbayes.plots.decision import plot_decisions_vs_effect  # noqa: E402
from msbayes.plots.dose import plot_target_dose_distribution  # noqa: E402
from msbayes.report import build_report  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "report"
FIT, TWO, DOSE = FIX / "fit", FIX / "sim_two_arm", FIX / "sim_dose"
TWO_NAME, DOSE_NAME = "t25fw-two-arm-assurance", "msc-np-dose-finding"


# ------------------------------------------------------------------ decisions vs true effect
def test_decisions_vs_effect_plot_areas_stack_to_one_at_the_given_effects():
    t = pd.DataFrame({"x": [20.0, 0.0, 35.0], "go": [0.4, 0.02, 0.8],
                      "consider": [0.3, 0.08, 0.15], "nogo": [0.3, 0.9, 0.05]})
    ax = plot_decisions_vs_effect(t, x_label="true effect: % change", mcid=20.0)
    polys = {c.get_gid(): c for c in ax.collections if str(c.get_gid()).startswith("area_")}
    assert set(polys) == {"area_go", "area_consider", "area_nogo"}
    # the top edge of the last (no-go) area is go + consider + no-go = 1 at every effect
    verts = polys["area_nogo"].get_paths()[0].vertices
    for x in (0.0, 20.0, 35.0):
        top = verts[np.isclose(verts[:, 0], x), 1].max()
        assert top == pytest.approx(1.0, abs=1e-12)
    go_top = polys["area_go"].get_paths()[0].vertices
    assert go_top[np.isclose(go_top[:, 0], 35.0), 1].max() == pytest.approx(0.8)
    marks = next(l for l in ax.lines if l.get_gid() == "scenarios")
    assert sorted(marks.get_xdata()) == [0.0, 20.0, 35.0]
    assert [l.get_gid() for l in ax.lines if l.get_gid() == "mcid"] == ["mcid"]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "go", "consider", "no-go", "MCID", "scenario simulated"]
    assert "% change" in ax.get_xlabel() and ax.get_ylabel() == "probability of each decision"
    assert _texts_outside(ax.figure) == []
    with pytest.raises(ValueError, match="at least two"):
        plot_decisions_vs_effect(t.iloc[:1], x_label="x")


@pytest.fixture(scope="module")
def two_arm_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("grant_two")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(sim_dir=TWO, out_dir=out, formats=("png",))


def test_decisions_vs_effect_table_uses_the_fixed_scenarios_in_clinical_units(two_arm_report):
    ds = xr.open_dataset(TWO / "oc.nc")
    cfg = yaml.safe_load(ds.attrs["config_text"])
    n = cfg["design"]["n_per_arm"]
    assert n in ds["design.n_per_arm"].values  # the planned n is on the grid
    sd_mid = ds["endpoint.sd"].values[(ds.sizes["endpoint.sd"] - 1) // 2]
    t = pd.read_csv(two_arm_report.parent / "tables" / f"{TWO_NAME}_decisions_vs_effect.csv",
                    keep_default_na=False, na_values=[""])
    kinds = dict(zip(ds["scenario"].values, ds["scenario_kind"].values))
    fixed = [s for s in ds["scenario"].values if kinds[s] == "fixed"]
    assert sorted(t["scenario"]) == sorted(fixed)  # the design prior is left out
    for _, r in t.iterrows():
        e = float(ds["true_effect"].sel(scenario=r["scenario"]))
        assert r["x"] == pytest.approx(100 * (np.exp(e) - 1), rel=1e-12)
        cell = ds.sel({"scenario": r["scenario"], "design.n_per_arm": n, "endpoint.sd": sd_mid})
        for k, v in (("go", "p_go"), ("consider", "p_consider"), ("nogo", "p_nogo")):
            assert r[k] == pytest.approx(float(cell[v]))
        assert r["go"] + r["consider"] + r["nogo"] == pytest.approx(1.0, abs=1e-9)
    assert list(t["x"]) == sorted(t["x"])
    html = two_arm_report.read_text(encoding="utf-8")
    assert f"id='fig-{TWO_NAME}_decisions_vs_effect'" in html
    assert (two_arm_report.parent / "figures" / f"{TWO_NAME}_decisions_vs_effect.png").is_file()


# ------------------------------------------------------------------ dose finding outcomes
def test_selection_outcomes_against_numpy_histogram_and_a_loop():
    from msbayes.simulate.dosefinding import TD_BINS, _selection_outcomes

    rng = np.random.default_rng(7)
    n, d_max, mcid = 5000, 10.0, 0.15
    eff = np.c_[np.zeros(n), rng.uniform(0, 0.3, (n, 3))]
    selected = rng.integers(-1, 4, n)
    selected[selected == 0] = -1  # placebo is never selected
    td = rng.uniform(0, d_max, n)
    td[rng.random(n) < 0.2] = np.nan
    td[:3] = [0.0, d_max, d_max / TD_BINS]  # both ends and an inner edge
    out = _selection_outcomes(eff, selected, td, mcid=mcid, d_max=d_max)
    fin = td[np.isfinite(td)]
    counts, _ = np.histogram(fin, bins=np.linspace(0, d_max, TD_BINS + 1))
    assert [int(out[f"td_bin{j}"].sum()) for j in range(TD_BINS)] == counts.tolist()
    assert int(out["td_none"].sum()) == int(np.isnan(td).sum())
    total = sum(out[f"td_bin{j}"].astype(int) for j in range(TD_BINS)) + out["td_none"]
    assert (total == 1).all()  # every trial in exactly one bin
    loop = [s >= 0 and eff[i, s] >= mcid for i, s in enumerate(selected)]
    assert out["selected_ge_mcid"].tolist() == loop


def test_dose_finding_chunk_p_selected_ge_mcid_matches_its_selections():
    """With a fixed dose-response the true effect of each dose is known: P(selected dose's
    true effect >= MCID) must equal the share of trials selecting one of the doses whose
    effect reaches the MCID (counted from the same trials' ``selected``)."""
    from msbayes.design.config import validate_sim_config
    from msbayes.simulate.dosefinding import TD_BINS, simulate_chunk

    cfg = validate_sim_config({
        "name": "df", "seed": 1, "endpoint": {"sd": 0.35, "mcid": 0.182},
        "design": {"type": "dose_finding", "doses": [0, 3, 6, 10],
                   "dose_metric": "cells_per_injection", "dose_unit": "million cells",
                   "reference_dose": 10, "n_per_arm": 30,
                   "dose_response": {"model": "emax", "ed50": 3.0}},
        "scenarios": {"big": {"effect": 0.25}},
        "analysis": {"method": "mcpmod", "models": {"emax": [2.0], "linear": None}}})
    out = simulate_chunk(cfg, "big", 3000, np.random.default_rng(11))
    doses = np.array([0, 3, 6, 10.0])
    true = 0.25 * (doses / (3.0 + doses)) / (10 / 13.0)  # Emax anchored at the reference dose
    good = np.flatnonzero(true >= 0.182)
    assert 0 < len(good) < 3  # the test separates doses
    expect = np.isin(out["selected"], good)
    assert (out["selected_ge_mcid"] == expect).all()
    assert 0.05 < expect.mean() < 0.95
    counts, _ = np.histogram(out["td_est"][np.isfinite(out["td_est"])],
                             bins=np.linspace(0, 10, TD_BINS + 1))
    assert [int(out[f"td_bin{j}"].sum()) for j in range(TD_BINS)] == counts.tolist()


def test_target_dose_plot_bars_errorbars_and_legend():
    t = pd.DataFrame({"scenario": ["a", "a", "a", "b", "b", "b"],
                      "bin": ["0", "1", "none"] * 2,
                      "lower_dose": [0, 5, np.nan] * 2, "upper_dose": [5, 10, np.nan] * 2,
                      "p": [0.3, 0.5, 0.2, 0.1, 0.1, 0.8]})
    t["lower"], t["upper"] = t["p"] - 0.02, t["p"] + 0.02
    ax = plot_target_dose_distribution(t, dose_label="estimated target dose (mg)",
                                       scenario_names={"a": "no effect", "b": "large effect"})
    heights = sorted(round(p.get_height(), 9) for p in ax.patches)
    assert heights == sorted(t["p"].round(9))
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["no effect", "large effect"]
    assert [x.get_text() for x in ax.get_xticklabels()] == ["0", "5", "10", "none"]
    assert ax.get_xlabel() == "estimated target dose (mg)"
    assert _texts_outside(ax.figure) == []


def test_report_shows_target_dose_distribution_and_p_selected_ge_mcid(tmp_path):
    ds = xr.open_dataset(DOSE / "oc.nc").load()
    shape = ds["p_go"].shape
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(11), size=int(np.prod(shape))).reshape(*shape, 11)
    for j in range(10):
        ds[f"p_td_bin{j}"] = (ds["p_go"].dims, w[..., j])
        ds[f"p_td_bin{j}_mcse"] = (ds["p_go"].dims, np.sqrt(w[..., j] * (1 - w[..., j]) / 2000))
    ds["p_td_none"] = (ds["p_go"].dims, w[..., 10])
    ds["p_selected_ge_mcid"] = (ds["p_go"].dims, np.full(shape, 0.4321))
    ds["p_selected_ge_mcid_mcse"] = (ds["p_go"].dims, np.full(shape, 0.0111))
    d = tmp_path / "dose"
    shutil.copytree(DOSE, d)
    (d / "oc.nc").unlink()
    ds.to_netcdf(d / "oc.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = build_report(sim_dir=d, out_dir=tmp_path / "r", formats=("png",))
    t = pd.read_csv(r.parent / "tables" / f"target_dose_{DOSE_NAME}.csv",
                    keep_default_na=False, na_values=[""])
    n_mid = ds["design.n_per_arm"].values[1]
    for sc in ds["scenario"].values:
        sub = t[t["scenario"] == sc]
        assert len(sub) == 11 and sub["p"].sum() == pytest.approx(1.0)
        for j in range(10):
            row = sub[sub["bin"].astype(str) == str(j)].iloc[0]
            assert row["p"] == pytest.approx(float(ds[f"p_td_bin{j}"].sel(
                {"scenario": sc, "design.n_per_arm": n_mid})))
            assert (row["lower_dose"], row["upper_dose"]) == pytest.approx((j, j + 1.0))
    assert (t["p_selected_ge_mcid"] == 0.4321).all()
    html = r.read_text(encoding="utf-8")
    assert f"fig-{DOSE_NAME}_target_dose_distribution" in html
    assert "0.432 (MCSE 0.011" in html
    summ = pd.read_csv(r.parent / "tables" / f"oc-summary_{DOSE_NAME}.csv")
    row = summ[summ["quantity"].str.contains("true effect \u2265 MCID")]
    assert len(row) >= 1 and (row["estimate"] == 0.4321).all()


# ------------------------------------------------------------------ .docx and model names
@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("grant_full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(fit_dir=FIT, sim_dir=[TWO, DOSE], out_dir=out,
                            formats=("svg",), include_synthetic=True)


def test_docx_opens_with_headings_and_the_oc_summary_as_a_word_table(full_report):
    import docx

    p = full_report.parent / "statistical_considerations.docx"
    doc = docx.Document(str(p))
    heads = [x.text for x in doc.paragraphs if x.style.name.startswith(("Heading", "Title"))]
    md = (full_report.parent / "statistical_considerations.md").read_text(encoding="utf-8")
    md_heads = [re.sub(r"^#+\s*", "", ln).strip() for ln in md.splitlines()
                if ln.startswith("#")]
    assert heads == md_heads and "Statistical considerations" in heads
    assert any(h.startswith("Next-trial design") for h in heads)
    assert any("Operating-characteristics summary" in x.text for x in doc.paragraphs)
    for name in (TWO_NAME, DOSE_NAME):
        summ = pd.read_csv(full_report.parent / "tables" / f"oc-summary_{name}.csv")
        want = [[q, s, v] for q, s, v in zip(summ["quantity"], summ["scenario"], summ["printed"])]
        hit = [tab for tab in doc.tables
               if [c.text for c in tab.rows[0].cells] == ["quantity", "scenario", "value (MCSE)"]
               and [[c.text for c in r.cells] for r in tab.rows[1:]] == want]
        assert len(hit) == 1, f"OC summary of {name} not a Word table with its numbers"
    assert "statistical_considerations.docx" in (full_report.parent / "report_manifest.txt").read_text()


def test_no_internal_model_key_in_any_figure_text(full_report):
    from msbayes.fit.config import MODEL_NAMES

    summ = pd.read_csv(FIT / "summary.csv")
    keys = set(MODEL_NAMES) | set(summ["model"].astype(str))
    svgs = sorted((full_report.parent / "figures").glob("*.svg"))
    assert len(svgs) >= 10
    bad = []
    pat = re.compile(r"\bmodel (%s)\b|\b(%s)\b" % (
        "|".join(map(re.escape, sorted(keys))),
        "|".join(re.escape(k) for k in sorted(keys) if "_" in k)))
    for f in svgs:
        texts = re.findall(r"<text[^>]*>(.*?)</text>", f.read_text(encoding="utf-8"), re.S)
        for t in texts:
            if pat.search(t):
                bad.append((f.name, t))
    assert not bad, bad[:5]
    # nor any other internal key (snake_case: arm, statistic, config keys) in figure text
    snake = [(f.name, t) for f in svgs
             for t in re.findall(r"<text[^>]*>(.*?)</text>", f.read_text(encoding="utf-8"), re.S)
             if re.search(r"[A-Za-z]_[A-Za-z]", t)]
    assert not snake, snake[:5]
    # the posterior figures are titled in words
    post = (full_report.parent / "figures" / "posterior_summary_t25fw_neutral.svg").read_text()
    words = " ".join(" ".join(re.findall(r"<text[^>]*>(.*?)</text>", post, re.S)).split())
    assert "hierarchical model of the published summaries" in words


def _texts_outside(fig) -> list[str]:
    """Titles, axis labels and legend entries drawn beyond the figure's edges (cut off)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    texts = list(fig.texts) + ([fig._suptitle] if fig._suptitle else [])
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        if ax.get_legend():
            texts += list(ax.get_legend().get_texts())
    for lg in fig.legends:
        texts += list(lg.get_texts())
    out = []
    for t in texts:
        if not isinstance(t, Text) or not t.get_visible() or not t.get_text().strip():
            continue
        b = t.get_window_extent(r)
        if b.x0 < -1 or b.y0 < -1 or b.x1 > W + 1 or b.y1 > H + 1:
            out.append(t.get_text())
    return out


def test_long_plain_language_titles_stay_inside_the_figure():
    from msbayes.plots import plot_effect_posterior
    from msbayes.plots.style import model_label
    from msbayes.report import compute

    rng = np.random.default_rng(2)
    dens = compute.density_table({"edss_6.0-6.5": rng.normal(0.4, 0.15, 500)}, n_points=32)
    panels = pd.DataFrame({"population": ["edss_6.0-6.5"], "status": ["estimate"],
                           "p_benefit": [0.98], "p_mcid": [0.87]})
    title = f"T25FW: {model_label('summary_pct')}, enthusiastic prior"
    fig = plot_effect_posterior(dens, panels=panels, mcid=0.18, scale="log_speed_ratio",
                                title=title)
    assert _texts_outside(fig) == []
    assert fig._suptitle.get_text().replace("\n", " ") == title


def test_ppc_with_long_plain_labels_stays_inside_the_figure():
    from msbayes.plots import plot_ppc

    lab = "Harris 2024, T25FW, EDSS 6.0\u20136.5, saline (control)"
    t = pd.DataFrame({"label": [lab, lab + " arm"], "statistic": "arm variance (SD squared)",
                      "observed": [0.1, 0.2], "pred_mean": [0.1, 0.2], "pred_lower": [0.0, 0.1],
                      "pred_upper": [0.3, 0.4]})
    fig = plot_ppc(t)
    assert _texts_outside(fig) == []
    assert [x.get_text().replace("\n", " ") for x in fig.axes[0].get_yticklabels()] == [
        lab, lab + " arm"]


def test_forest_does_not_call_an_unborrowed_external_study_borrowed():
    """The default fit shows Petrou 2020 beside its own analysis without borrowing it (its row
    is labelled "not borrowed"): the title must not say the estimates borrow, the legend must
    not say "borrowed evidence", and the title stays inside the figure."""
    from msbayes.plots import plot_forest

    t = pd.DataFrame([
        dict(endpoint="t25fw", population="edss_6.0-6.5", prior="", kind="raw", estimate=0.4,
             lower=0.1, upper=0.7, status="estimate", borrowing="none"),
        dict(endpoint="t25fw", population="edss_6.0-6.5", prior="neutral", kind="shrunk",
             estimate=0.35, lower=0.0, upper=0.7, status="estimate", borrowing="none"),
        dict(endpoint="t25fw", population="petrou2020/t25fw/all", prior="", kind="raw",
             estimate=0.17, lower=0.07, upper=0.27, status="external",
             borrowing="not borrowed")])
    fig = plot_forest(t, mcid={"t25fw": 0.18}, scale={"t25fw": "log_speed_ratio"})
    title = fig.axes[0].get_title(loc="left")
    assert "borrow" not in title
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert "external study (shown, not borrowed)" in legend
    assert not any("borrowed evidence" in x for x in legend)
    assert _texts_outside(fig) == []
