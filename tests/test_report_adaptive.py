"""The report section of adaptive designs (enrichment by stratum, multi-arm dose selection).

Built on small hand-made ``oc.nc`` Datasets that follow the contract of docs/architecture.md
("Adaptive designs"): every drawn or printed number is compared with the Dataset's own
numbers (the figures must show the artefact, not a recomputation). One end-to-end test runs a
tiny real simulation of each study config and builds the report from it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from msbayes.plots.adaptive import (plot_adaptive_vs_fixed, plot_dose_selection,  # noqa: E402
                                    plot_enrichment_selection)
from msbayes.report import adaptive as ad  # noqa: E402
from msbayes.report.inputs import SimArtefacts  # noqa: E402
from msbayes.report.summary import oc_summary  # noqa: E402
from msbayes.report.text import SimView, adaptive_paragraph  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N = 1000  # trials per cell of the hand-made Datasets

ENR_CFG = """
name: enr-test
seed: 5
endpoint: {name: t25fw, scale: log_speed_ratio, sd: 0.35, placebo_mean: -0.18, mcid: 0.1823, dropout: 0.0}
design:
  type: enrichment
  arms: [placebo, msc_np]
  strata: {edss_3.0-5.5: 0.6, edss_6.0-6.5: 0.4}
  subpopulation: edss_6.0-6.5
  n_per_arm: 100
  looks: [0.5, 1.0]
  counts: multinomial
  selection: {rule: epsilon, measure: estimate, epsilon: 0.05}
  final: {method: closed_combination, intersection: spiessens_debois, alpha: 0.025, efficacy: none}
scenarios:
  "null": {effect: 0.0}
  s_only: {effect: {edss_6.0-6.5: 0.26, edss_3.0-5.5: 0.0}}
  f_null: {effect: {edss_6.0-6.5: 0.3, edss_3.0-5.5: -0.2}}
labels:
  s_only: "log 1.3 in EDSS 6.0-6.5 only"
  f_null: "benefit in EDSS 6.0-6.5, harm in 3.0-5.5"
grid:
  design.n_per_arm: [60, 100]
"""

MA_CFG = """
name: ma-test
seed: 6
endpoint: {name: t25fw, scale: log_speed_ratio, sd: 0.35, placebo_mean: -0.18, mcid: 0.1823, dropout: 0.0}
design:
  type: multi_arm
  doses: [0, 3, 10]
  dose_unit: million cells per injection
  n_per_arm: 60
  looks: [0.5, 1.0]
  reference_dose: 10
  dose_response: {model: emax, ed50: 3.0}
  selection: {rule: best, measure: estimate}
  final: {method: closed_combination, intersection: dunnett, alpha: 0.025, efficacy: none}
scenarios:
  "null": {effect: 0.0}
  target: {effect: 0.2624}
  top_only: {effect: {"3": 0.0, "10": 0.2624}}
labels:
  top_only: "log 1.3 at 10 million only"
grid:
  design.n_per_arm: [40, 60]
"""


def _cells(rng, lo, hi, shape):
    return np.round(rng.uniform(lo, hi, size=shape), 4)


def _enr_ds() -> xr.Dataset:
    rng = np.random.default_rng(11)
    sh = (2, 3)
    dims = ("design.n_per_arm", "scenario")
    ps, pf = _cells(rng, 0.5, 0.9, sh), _cells(rng, 0.3, 0.7, sh)
    lo = np.maximum(ps + pf - 1, 0)  # a consistent P(both): between lo and min(S, F)
    pb = np.round(lo + 0.6 * (np.minimum(ps, pf) - lo), 4)
    none = np.clip(np.round(1 - (ps + pf - pb), 4), 0, 1)  # the rest: stopped for futility
    d = {"n_sims": (dims, np.full(sh, N)),
         "p_go": (dims, _cells(rng, 0.02, 0.95, sh)), "p_go_fixed": (dims, _cells(rng, 0.02, 0.9, sh)),
         "mean_go_diff": (dims, _cells(rng, -0.05, 0.3, sh)),
         "mean_go_diff_mcse": (dims, _cells(rng, 0.002, 0.01, sh)),
         "p_fwer": (dims, _cells(rng, 0.005, 0.03, sh)), "p_fwer_fixed": (dims, _cells(rng, 0.005, 0.03, sh)),
         "p_select_S": (dims, ps), "p_select_F": (dims, pf), "p_select_both": (dims, pb),
         "p_select_none": (dims, none), "p_stopped_early": (dims, np.zeros(sh)),
         "p_reject_S": (dims, _cells(rng, 0.01, 0.9, sh)), "p_reject_F": (dims, _cells(rng, 0.01, 0.9, sh)),
         "mean_n_stratum_edss_3.0-5.5": (dims, _cells(rng, 40, 90, sh)),
         "mean_n_stratum_edss_6.0-6.5": (dims, _cells(rng, 60, 140, sh)),
         "expected_n": (dims, np.array([[120.0] * 3, [200.0] * 3])),
         "mean_true_S": (dims, np.array([[0.0, 0.26, 0.26]] * 2)),
         "mean_true_F": (dims, np.array([[0.0, 0.104, 0.0]] * 2))}
    for v in ("p_go", "p_go_fixed", "p_fwer", "p_fwer_fixed", "p_select_S", "p_select_F",
              "p_select_both", "p_select_none", "p_stopped_early", "p_reject_S", "p_reject_F"):
        p = d[v][1]
        d[f"{v}_mcse"] = (dims, np.sqrt(p * (1 - p) / N))
    for v in ("mean_n_stratum_edss_3.0-5.5", "mean_n_stratum_edss_6.0-6.5", "expected_n"):
        d[f"{v}_mcse"] = (dims, _cells(rng, 0.1, 0.6, sh))
    ds = xr.Dataset(d, coords={"design.n_per_arm": [60, 100], "scenario": ["null", "s_only", "f_null"],
                               "scenario_kind": ("scenario", ["fixed"] * 3),
                               "true_effect": ("scenario", [0.0, np.nan, np.nan])})
    ds.attrs.update(config_text=ENR_CFG, seed=5, config_sha256="a" * 64, grid_axes='["design.n_per_arm"]',
                    decision_rule="go iff H_S or H_F is rejected (test)")
    return ds


def _ma_ds() -> xr.Dataset:
    rng = np.random.default_rng(12)
    sh, shd = (2, 3), (2, 3, 3)
    dims, dd = ("design.n_per_arm", "scenario"), ("design.n_per_arm", "scenario", "dose")
    sel = _cells(rng, 0.05, 0.9, shd)
    sel[..., 0] = np.nan  # placebo
    rej = np.round(sel * 0.7, 4)
    d = {"n_sims": (dims, np.full(sh, N)),
         "p_go": (dims, _cells(rng, 0.02, 0.95, sh)), "p_go_fixed": (dims, _cells(rng, 0.02, 0.9, sh)),
         "mean_go_diff": (dims, _cells(rng, -0.05, 0.3, sh)),
         "mean_go_diff_mcse": (dims, _cells(rng, 0.002, 0.01, sh)),
         "p_fwer": (dims, _cells(rng, 0.005, 0.03, sh)), "p_fwer_fixed": (dims, _cells(rng, 0.005, 0.03, sh)),
         "p_select_none": (dims, np.zeros(sh)), "p_stopped_early": (dims, np.zeros(sh)),
         "p_reject_best": (dims, _cells(rng, 0.01, 0.9, sh)),
         "p_selected": (dd, sel), "p_rejected": (dd, rej),
         "mean_n_arm": (dd, np.concatenate([np.full(sh + (1,), 60.0), _cells(rng, 30, 60, sh + (2,))], -1)),
         "expected_n": (dims, np.full(sh, 150.0))}
    for v in ("p_go", "p_go_fixed", "p_fwer", "p_fwer_fixed", "p_select_none", "p_stopped_early",
              "p_reject_best", "p_selected", "p_rejected"):
        p = d[v][1]
        d[f"{v}_mcse"] = (d[v][0], np.sqrt(p * (1 - p) / N))
    mm = _cells(rng, 0.05, 0.4, shd)
    mm[..., 0] = 0.0  # placebo always gets its planned n
    d["mean_n_arm_mcse"] = (dd, mm)
    d["expected_n_mcse"] = (dims, np.zeros(sh))
    ds = xr.Dataset(d, coords={"design.n_per_arm": [40, 60], "scenario": ["null", "target", "top_only"],
                               "dose": [0.0, 3.0, 10.0],
                               "scenario_kind": ("scenario", ["fixed"] * 3),
                               "true_effect": ("scenario", [0.0, 0.2624, np.nan])})
    ds["dose"].attrs["units"] = "million cells per injection"
    ds.attrs.update(config_text=MA_CFG, seed=6, config_sha256="b" * 64, grid_axes='["design.n_per_arm"]',
                    decision_rule="go iff at least one dose is rejected (test)")
    return ds


def _view(ds: xr.Dataset, name: str) -> SimView:
    sim = SimArtefacts(path=Path("."), name=name, ds=ds, provenance=dict(ds.attrs))
    return SimView(sim, x_axis="design.n_per_arm", fixed={})


def _csv(path):
    """A report table as written (a scenario called "null" stays a string)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _sname(s):
    return {"null": "no effect", "s_only": "log 1.3 in EDSS 6.0-6.5 only"}.get(str(s), str(s))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ------------------------------------------------------------------ tables and figures
def test_enrichment_selection_figure_shows_the_oc_numbers():
    ds = _enr_ds()
    cell = {"design.n_per_arm": 100}
    t = ad.enrichment_selection_table(ds, cell, scenarios=["null", "s_only", "f_null"],
                                      sname=_sname, sub="EDSS 6.0\u20136.5")
    ax = plot_enrichment_selection(t)
    # 3 scenarios x 4 categories (no early stop recorded -> no "early" segment)
    assert len(ax.patches) == 12
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["EDSS 6.0\u20136.5 only", "all patients only",
                      "both (EDSS 6.0\u20136.5 and all patients)", "none (stopped for futility)"]
    assert ax.get_xlabel() == "probability of the interim selection"
    assert [x.get_text() for x in ax.get_yticklabels()] == [
        "no effect", "log 1.3 in EDSS 6.0-6.5\nonly", "f_null"]
    r = ds.sel(cell)
    for c, expect in (("sub_only", r["p_select_S"] - r["p_select_both"]),
                      ("full_only", r["p_select_F"] - r["p_select_both"]),
                      ("both", r["p_select_both"]), ("none", r["p_select_none"])):
        widths = [p.get_width() for p in ax.patches if p.get_gid() == c]
        np.testing.assert_allclose(widths, expect.values, atol=1e-12)
    # the categories exclude each other and cover every trial
    lefts = np.array([p.get_x() + p.get_width() for p in ax.patches if p.get_gid() == "none"])
    np.testing.assert_allclose(lefts, 1.0, atol=1e-3)
    # error bars: +-2 binomial MCSE of the derived "S only" proportion
    so = (r["p_select_S"] - r["p_select_both"]).values
    np.testing.assert_allclose(t.loc[t.category == "sub_only", "mcse"],
                               np.sqrt(so * (1 - so) / N), rtol=1e-12)
    segs = [lc for lc in ax.collections if lc.get_gid() == "mcse_sub_only"]
    assert len(segs) == 1
    half = np.array([abs(s[1, 0] - s[0, 0]) / 2 for s in segs[0].get_segments()])
    np.testing.assert_allclose(half, 2 * np.sqrt(so * (1 - so) / N), rtol=1e-9)
    assert not any("select_" in x for x in labels)


def test_dose_selection_figure_grouped_bars_equal_oc():
    ds = _ma_ds()
    cell = {"design.n_per_arm": 60}
    t = ad.dose_selection_table(ds, cell, scenarios=["null", "target", "top_only"], sname=str,
                                unit="million cells per injection")
    assert list(t["dose"].unique()) == [3.0, 10.0]  # placebo left out
    fig = plot_dose_selection(t)
    a, b = fig.axes
    assert a.get_xlabel() == "P(dose kept after the interim)"
    assert b.get_xlabel() == "P(dose's null hypothesis rejected)"
    assert [x.get_text() for x in a.get_legend().get_texts()] == ["3 million", "10 million"]
    assert len(a.patches) == len(b.patches) == 6  # 3 scenarios x 2 doses
    r = ds.sel(cell)
    for ax, var in ((a, "p_selected"), (b, "p_rejected")):
        for j, d in enumerate([3.0, 10.0]):
            w = [p.get_width() for p in ax.patches if p.get_gid() == f"dose_{j}"]
            np.testing.assert_allclose(w, r[var].sel(dose=d).values, atol=1e-12)


def test_adaptive_vs_fixed_figure_and_paired_table():
    ds = _enr_ds()
    ct = ad.comparison_table(ds, {}, x_axis="design.n_per_arm", scenarios=["null", "s_only", "f_null"],
                             sname=_sname)
    # the difference and its MCSE are the recorded paired ones, not a difference of means
    for s in ("null", "s_only", "f_null"):
        sub = ct[ct.scenario_key == s].sort_values("x")
        np.testing.assert_allclose(sub["difference"], ds["mean_go_diff"].sel(scenario=s).values)
        np.testing.assert_allclose(sub["difference_mcse"], ds["mean_go_diff_mcse"].sel(scenario=s).values)
    fig = plot_adaptive_vs_fixed(ct, x_label="patients per arm", comparator="fixed comparator")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 3
    for ax, s in zip(shown, ("null", "s_only", "f_null")):
        lines = {ln.get_gid(): ln for ln in ax.get_lines()}
        assert set(lines) == {"adaptive", "fixed"}
        np.testing.assert_allclose(lines["adaptive"].get_xdata(), [60, 100])
        np.testing.assert_allclose(lines["adaptive"].get_ydata(), ds["p_go"].sel(scenario=s).values)
        np.testing.assert_allclose(lines["fixed"].get_ydata(), ds["p_go_fixed"].sel(scenario=s).values)
        assert lines["fixed"].get_linestyle() == "--" and lines["adaptive"].get_linestyle() == "-"
        band = next(c for c in ax.collections if c.get_gid() == "mcse_adaptive")
        ys = band.get_paths()[0].vertices[:, 1]
        p, m = ds["p_go"].sel(scenario=s).values, ds["p_go_mcse"].sel(scenario=s).values
        assert np.isclose(ys.max(), min(1, (p + 2 * m).max())) and np.isclose(ys.min(), max(0, (p - 2 * m).min()))
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert legend == ["adaptive design", "fixed comparator"]
    assert shown[0].get_ylabel() == "P(go)"


def test_null_scenarios_and_fwer_table():
    ds, cfg = _enr_ds(), yaml.safe_load(ENR_CFG)
    assert ad.null_scenarios(ds, cfg, {"design.n_per_arm": 100}) == ["null", "f_null"]
    ma, mcfg = _ma_ds(), yaml.safe_load(MA_CFG)
    # a single effect > 0 through Emax makes every dose effective; "3": 0.0 is a partial null
    assert ad.null_scenarios(ma, mcfg, {"design.n_per_arm": 60}) == ["null", "top_only"]
    ft = ad.fwer_table(ds, {"design.n_per_arm": 100}, scenarios=["null", "f_null"], sname=str,
                       alpha=ad.target_alpha(cfg))
    np.testing.assert_allclose(ft["fwer"], ds["p_fwer"].sel({"design.n_per_arm": 100,
                                                              "scenario": ["null", "f_null"]}).values)
    assert (ft["target_alpha"] == 0.025).all()
    # 0.03 with MCSE 0.001 is more than 3 MCSE above 0.025
    ds2 = ds.copy(deep=True)
    ds2["p_fwer"].loc[{"design.n_per_arm": 100, "scenario": "null"}] = 0.03
    ds2["p_fwer_mcse"].loc[{"design.n_per_arm": 100, "scenario": "null"}] = 0.001
    ft2 = ad.fwer_table(ds2, {"design.n_per_arm": 100}, scenarios=["null"], sname=str, alpha=0.025)
    assert bool(ft2["above_target"].iloc[0]) and not bool(ft["above_target"].iloc[0])


def test_oc_summary_rows_of_an_enrichment_design():
    ds = _enr_ds()
    summ, head = oc_summary(_view(ds, "enr"))
    r = ds.sel({"design.n_per_arm": 100})  # the planned n
    fw = summ[summ.quantity.str.startswith("FWER")]
    assert list(fw["scenario"]) == ["no effect", "benefit in EDSS 6.0-6.5, harm in 3.0-5.5"]
    assert all("target \u2264 0.025" in q for q in fw["quantity"])
    np.testing.assert_allclose(fw["estimate"], r["p_fwer"].sel(scenario=["null", "f_null"]).values)
    np.testing.assert_allclose(fw["MCSE"], r["p_fwer_mcse"].sel(scenario=["null", "f_null"]).values)
    fx = summ[summ.quantity == "P(go) of the fixed comparator (same maximum n)"]
    np.testing.assert_allclose(fx["estimate"], r["p_go_fixed"].values)
    df = summ[summ.quantity == "P(go) adaptive minus fixed (paired)"]
    np.testing.assert_allclose(df["MCSE"], r["mean_go_diff_mcse"].values)
    en = summ[summ.quantity == "expected n in EDSS 6.0\u20136.5 (both arms)"]
    np.testing.assert_allclose(en["estimate"], r["mean_n_stratum_edss_6.0-6.5"].values)
    so = summ[summ.quantity == "P(interim selects EDSS 6.0\u20136.5 only)"]
    np.testing.assert_allclose(so["estimate"], (r["p_select_S"] - r["p_select_both"]).values)
    assert "all-comers two-arm" in head["fixed comparator (paired on common random numbers)"]
    assert not summ["quantity"].str.contains("select_S|p_fwer|mean_n_stratum").any()


def test_oc_summary_rows_of_a_multi_arm_design():
    ds = _ma_ds()
    summ, head = oc_summary(_view(ds, "ma"))
    r = ds.sel({"design.n_per_arm": 60})
    fw = summ[summ.quantity.str.startswith("FWER")]
    assert list(fw["scenario"]) == ["no effect", "log 1.3 at 10 million only"]
    n10 = summ[summ.quantity == "expected n on dose 10 million"]
    np.testing.assert_allclose(n10["estimate"], r["mean_n_arm"].sel(dose=10.0).values)
    np.testing.assert_allclose(n10["MCSE"], r["mean_n_arm_mcse"].sel(dose=10.0).values)
    pb = summ[summ.quantity == "expected n on placebo"]
    np.testing.assert_allclose(pb["estimate"], 60.0)
    assert "all doses" in head["fixed comparator (paired on common random numbers)"]


# ------------------------------------------------------------------ text
def test_paragraph_enrichment_closed_test():
    txt = adaptive_paragraph(yaml.safe_load(ENR_CFG))[0]
    for s in ("**Adaptive enrichment.** 2 stages", "50% of the maximum 100 patients per arm",
              "EDSS 6.0\u20136.5 (prevalence 0.4)", "EDSS 3.0\u20135.5 (prevalence 0.6)",
              "random (multinomial", "within 0.05 of the largest", "Spiessens-Debois",
              "one-sided alpha 0.025", "strong sense", "no early stop for efficacy",
              "common random numbers", "all-comers two-arm"):
        assert s in txt, s
    assert "edss_" not in txt and "spiessens_debois" not in txt


def test_paragraph_bayesian_rule_is_simulated_not_guaranteed_and_fixed_counts():
    cfg = yaml.safe_load(ENR_CFG)
    cfg["design"]["final"] = {"method": "bayesian_shrinkage", "cutoff": 0.98, "tau": 0.15}
    cfg["design"]["counts"] = "fixed"
    cfg["design"]["selection"] = {"rule": "best", "measure": "posterior_probability",
                                  "threshold": 0.2, "prior": {"mean": 0, "sd": 0.5}}
    txt = adaptive_paragraph(cfg)[0]
    assert "simulated, not guaranteed" in txt and "strong sense" not in txt
    assert "> 0.98" in txt and "SD 0.15" in txt
    assert "fixed at prevalence x stage size" in txt
    assert "at or below 0.2" in txt and "stops for futility" in txt
    assert "normal prior mean 0, SD 0.5" in txt


def test_paragraph_multi_arm_and_other_designs():
    txt = adaptive_paragraph(yaml.safe_load(MA_CFG))[0]
    for s in ("**Adaptive dose selection.**", "Placebo and 2 doses (3, 10 million cells per injection)",
              "the dose with the largest estimated treatment effect is kept", "Dunnett",
              "strong sense", "keeps all doses to the end"):
        assert s in txt, s
    assert adaptive_paragraph({"design": {"type": "parallel"}}) == []


# ------------------------------------------------------------------ the built report
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from msbayes.report.build import build_report

    root = tmp_path_factory.mktemp("adaptive_report")
    for name, ds in (("enr", _enr_ds()), ("ma", _ma_ds())):
        (root / name).mkdir()
        ds.to_netcdf(root / name / "oc.nc")
    out = build_report(sim_dir=[root / "enr", root / "ma"], out_dir=root / "out", formats=("png",))
    return out if out.is_dir() else out.parent


def test_section_in_report_with_working_toc_anchors(built):
    html = (built / "report.html").read_text(encoding="utf-8")
    ids = set(re.findall(r"id='([^']+)'", html))
    hrefs = re.findall(r"href='#([^']+)'", html)
    assert set(hrefs) <= ids
    assert "adaptive-enr-test" in hrefs and "adaptive-ma-test" in hrefs
    assert "Adaptive enrichment: selection and comparison with the fixed design" in html
    assert "Adaptive dose selection: selection and comparison with the fixed design" in html
    for stem in ("enr-test_selection", "enr-test_adaptive_vs_fixed", "ma-test_dose_selection",
                 "ma-test_adaptive_vs_fixed"):
        assert f"id='fig-{stem}'" in html
        assert (built / "figures" / f"{stem}.png").is_file()
    assert "common random numbers" in html and "all-comers two-arm" in html
    assert "id='table-fwer-enr-test'" in html and "id='table-expected-n-ma-test'" in html
    # the section speaks plain language: no oc.nc keys, stratum names as in the config
    sec = html.split("id='adaptive-enr-test'", 1)[1].split("<h2", 1)[0]
    text = re.sub(r"<img[^>]*>", " ", sec)
    text = re.sub(r"<[^>]+>", " ", text)
    for key in ("select_S", "p_select", "p_fwer", "mean_go_diff", "edss_6.0", "sub_only"):
        assert key not in text, key
    assert "EDSS 6.0–6.5 only" in text and "EDSS 3.0–5.5 (both arms)" in text


def test_report_tables_and_statistical_considerations(built):
    ds = _enr_ds()
    ct = _csv(built / "tables" / "enr-test_adaptive_vs_fixed.csv")
    for s in ("null", "s_only", "f_null"):
        sub = ct[ct.scenario_key == s].sort_values("x")
        np.testing.assert_allclose(sub["adaptive"], ds["p_go"].sel(scenario=s).values)
        np.testing.assert_allclose(sub["fixed"], ds["p_go_fixed"].sel(scenario=s).values)
    summ = _csv(built / "tables" / "oc-summary_enr-test.csv")
    assert summ["quantity"].str.startswith("FWER").sum() == 2
    sc = (built / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "**Adaptive enrichment.**" in sc and "**Adaptive dose selection.**" in sc


# ------------------------------------------------------------------ end to end
def test_end_to_end_from_tiny_real_simulations(tmp_path):
    from msbayes.grid.runner import run_grid
    from msbayes.report.build import build_report

    dirs = []
    for study, grid in (("adaptive_enrichment_edss", [60, 100]), ("adaptive_dose_selection", [40, 60])):
        raw = yaml.safe_load((REPO / "simulations" / study / "config.yaml").read_text())
        raw["simulation"] = {"n_sims": 400, "chunk_size": 400, "backend": "sequential", "n_jobs": 1}
        raw["grid"] = {"design.n_per_arm": grid}
        out = tmp_path / study
        run_grid(raw, config_text=yaml.safe_dump(raw), out_dir=out, backend="sequential", n_jobs=1,
                 quiet=True, stream=io.StringIO())
        dirs.append(out)
    rep = build_report(sim_dir=dirs, out_dir=tmp_path / "rep", formats=("png",))
    root = rep if rep.is_dir() else rep.parent
    html = (root / "report.html").read_text(encoding="utf-8")
    enr = xr.open_dataset(dirs[0] / "oc.nc").load()
    sel = _csv(root / "tables" / "adaptive-enrichment-edss_selection.csv")
    # the four selections (no early efficacy stop configured) cover every simulated trial
    tot = sel.groupby("scenario_key")["p"].sum()
    np.testing.assert_allclose(tot.values, 1.0, atol=1e-9)
    ct = _csv(root / "tables" / "adaptive-enrichment-edss_adaptive_vs_fixed.csv")
    got = ct.set_index(["scenario_key", "x"])["difference"]
    for s in map(str, enr["scenario"].values):
        for n in (60, 100):
            want = float(enr["mean_go_diff"].sel({"scenario": s, "design.n_per_arm": n}))
            assert got[(s, float(n))] == pytest.approx(want, abs=1e-12)
    assert "EDSS 6.0\u20136.5 only" in html
    ma = xr.open_dataset(dirs[1] / "oc.nc").load()
    ds_t = _csv(root / "tables" / "adaptive-dose-selection_dose_selection.csv")
    row = ds_t[(ds_t.scenario_key == "top_only") & (ds_t.dose == 10.0)].iloc[0]
    assert row["p_selected"] == pytest.approx(
        float(ma["p_selected"].sel({"scenario": "top_only", "dose": 10.0, "design.n_per_arm": 60})))
    for anchor in ("adaptive-adaptive-enrichment-edss", "adaptive-adaptive-dose-selection"):
        assert f"href='#{anchor}'" in html and f"id='{anchor}'" in html


@pytest.mark.parametrize("module", ["msbayes.plots.adaptive", "msbayes.report.adaptive"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


class _NoFiles:
    """Stands in for the report's figure/table writer: records stems, writes nothing."""

    def __init__(self):
        self.stems = []

    def figure(self, make, stem, caption):
        self.stems.append(stem)
        return f"<figure id='fig-{stem}'><figcaption>{caption}</figcaption></figure>"

    def table(self, df, stem, **kw):
        self.stems.append(stem)


def _section(ds, cfg_text):
    from msbayes.report.build import _html_table

    ds = ds.copy()
    ds.attrs["config_text"] = cfg_text
    out = _NoFiles()
    html = "\n".join(ad.adaptive_html(_view(ds, "x"), out, "x", xlab=lambda a: "patients per arm",
                                      sname=str, kinds={}, html_table=_html_table, planned=100))
    return html, out


def test_fwer_caption_closed_test_versus_bayesian_rule():
    html, out = _section(_enr_ds(), ENR_CFG)
    assert "strong sense" in html and "not guaranteed" not in html
    assert {"x_selection", "x_adaptive_vs_fixed", "x_fwer", "x_expected_n_by_group"} <= set(out.stems)
    cfg = yaml.safe_load(ENR_CFG)
    cfg["design"]["final"] = {"method": "bayesian_shrinkage", "cutoff": 0.975}
    html, _ = _section(_enr_ds(), yaml.safe_dump(cfg))
    assert "Simulated, not guaranteed" in html and "strong sense" not in html
    assert "conventional: design.final sets no alpha" in html
    assert "analysed by the same Bayesian rule" in html


def test_early_efficacy_stop_is_its_own_selection_category():
    ds = _enr_ds()
    # move part of "none" into an early efficacy stop: the five categories still cover 1
    early = np.round(ds["p_select_none"] / 2, 4)
    ds["p_stopped_early"] = early
    ds["p_stopped_early_mcse"] = np.sqrt(early * (1 - early) / N)
    ds["p_select_none"] = ds["p_select_none"] - early
    t = ad.enrichment_selection_table(ds, {"design.n_per_arm": 60}, scenarios=["null", "s_only"],
                                      sname=str, sub="S")
    assert list(t["category"].unique()) == ["sub_only", "full_only", "both", "none", "early"]
    np.testing.assert_allclose(t.groupby("scenario_key")["p"].sum(), 1.0, atol=1e-3)
    ax = plot_enrichment_selection(t)
    assert [x.get_text() for x in ax.get_legend().get_texts()][-1] == "stopped early for efficacy"
    w = [p.get_width() for p in ax.patches if p.get_gid() == "early"]
    np.testing.assert_allclose(w, early.sel({"design.n_per_arm": 60}, drop=True)
                               .sel(scenario=["null", "s_only"]).values)


def test_null_scenarios_of_enrichment_from_the_config_when_true_effects_are_not_recorded():
    ds = _enr_ds().drop_vars(["mean_true_S", "mean_true_S_mcse", "mean_true_F", "mean_true_F_mcse"],
                             errors="ignore")
    # theta_F = 0.4 * 0.3 + 0.6 * (-0.2) = 0 (f_null); s_only: theta_F = 0.4 * 0.26 > 0
    assert ad.null_scenarios(ds, yaml.safe_load(ENR_CFG), {}) == ["null", "f_null"]


def test_summary_keeps_a_design_fixed_count_once():
    summ, _ = oc_summary(_view(_ma_ds(), "ma"))
    # placebo always gets 60 and the total is 150 in every scenario (MCSE 0): one row each
    assert (summ.quantity == "expected n on placebo").sum() == 1
    assert (summ.quantity == "expected total sample size (patients randomised)").sum() == 1
    # the doses' expected n varies by scenario: one row per scenario
    assert (summ.quantity == "expected n on dose 3 million").sum() == 3


def test_zero_event_fwer_prints_a_bound_with_the_count():
    ds = _enr_ds()
    ds["p_fwer"].loc[{"design.n_per_arm": 100, "scenario": "f_null"}] = 0.0
    ds["p_fwer_mcse"].loc[{"design.n_per_arm": 100, "scenario": "f_null"}] = 0.0
    html, _ = _section(ds, ENR_CFG)
    fw = html.split("id='table-fwer-x'", 1)[1].split("</table>", 1)[0]
    assert "&lt; 0.003 (0 of 1000)" in fw  # rule of three: 3/1000, never "0.000"
    assert "0.000" not in fw


def test_summary_bound_of_a_derived_probability_uses_its_own_count():
    ds = _enr_ds()
    cell = {"design.n_per_arm": 100, "scenario": "null"}
    ds["p_select_both"].loc[cell] = float(ds["p_select_S"].sel(cell))  # S only: 0 events
    ds["p_go_upper"] = xr.full_like(ds["p_go"], 0.5)  # a recorded bound of another variable
    summ, _ = oc_summary(_view(ds, "enr"))
    row = summ[(summ.quantity == "P(interim selects EDSS 6.0\u20136.5 only)")
               & (summ.scenario == "no effect")].iloc[0]
    assert row["printed"] == "< 0.003 (0 of 1000)"


def test_paragraph_predictive_probability_selection():
    cfg = yaml.safe_load(ENR_CFG)
    cfg["design"]["selection"] = {"rule": "best", "measure": "predictive_probability",
                                  "threshold": 0.1, "prior": {"mean": 0, "sd": 1}}
    txt = adaptive_paragraph(cfg)[0]
    assert "predictive probability that its final analysis succeeds" in txt
    assert "normal prior mean 0, SD 1" in txt and "predictive_probability" not in txt
