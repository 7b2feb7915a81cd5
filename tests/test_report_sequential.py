"""The report section of a design with interim analyses, on a small hand-built oc.nc that
follows the ``look`` contract of docs/architecture.md ("Designs with interims"): figures
(axes labels, line / bar counts, legend entries drawn), OC-summary rows (checked against sums
done here by hand), and the interim paragraph of the statistical-considerations text.
"""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
import yaml  # noqa: E402

from msbayes.plots.sequential import (  # noqa: E402
    plot_boundaries,
    plot_expected_n,
    plot_stopping_by_look,
)
from msbayes.report import build_report  # noqa: E402
from msbayes.report.sequential import boundary_table, early_stop, stopping_table  # noqa: E402
from test_report_grant import _texts_outside  # noqa: E402

NAME = "hand-built-sequential"
N_SIMS = 10000
CFG = {
    "name": NAME, "seed": 3,
    "endpoint": {"name": "t25fw", "scale": "log_speed_ratio", "sd": 0.35, "mcid": 0.1823},
    "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "n_per_arm": 80},
    "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
    "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
    "interims": {"looks": [0.3333, 0.6667, 1.0], "timing": "accrual",
                 "accrual": {"rate": 4.0, "follow_up": 13.0}, "rule": "group_sequential",
                 "efficacy": {"spending": "obf"}, "futility": {"spending": "hsd", "gamma": -2},
                 "binding": False, "statistic": "t"},
    "grid": {"design.n_per_arm": [40, 80]},
}
# per (n, scenario, look): efficacy / futility stops; the final look's pair sums with the
# interims' to 1 (no "consider" in a group-sequential test)
EFF = np.array([[[0.0, 0.004, 0.021], [0.0, 0.15, 0.45]],
                [[0.0, 0.006, 0.019], [0.0, 0.30, 0.50]]])
FUT = np.array([[[0.0, 0.40, 0.575], [0.0, 0.05, 0.35]],
                [[0.0, 0.50, 0.475], [0.0, 0.02, 0.18]]])


def _dataset() -> xr.Dataset:
    n = [40, 80]
    sc = ["null", "mcid"]
    look = [1, 2, 3]
    d2, d3 = ("design.n_per_arm", "scenario"), ("design.n_per_arm", "scenario", "look")
    dl = ("design.n_per_arm", "look")
    stop = EFF + FUT
    stop[..., -1] = 1 - stop[..., :-1].sum(-1)
    p_go = EFF.sum(-1)
    mc = lambda p: np.sqrt(p * (1 - p) / N_SIMS)  # noqa: E731
    nmax = np.array([80.0, 160.0])
    frac = np.array([0.3333, 0.6667, 1.0])
    ds = xr.Dataset(
        {
            "n_sims": (d2, np.full((2, 2), N_SIMS)),
            "p_go": (d2, p_go), "p_go_mcse": (d2, mc(p_go)),
            "p_nogo": (d2, 1 - p_go), "p_nogo_mcse": (d2, mc(p_go)),
            "p_consider": (d2, np.zeros((2, 2))), "p_consider_mcse": (d2, np.zeros((2, 2))),
            "p_reject": (d2, p_go), "p_reject_mcse": (d2, mc(p_go)),
            "expected_n": (d2, [[61.5, 70.2], [118.4, 131.9]]),
            "expected_n_mcse": (d2, [[0.21, 0.2], [0.33, 0.31]]),
            "expected_duration": (d2, [[25.0, 27.5], [36.0, 40.0]]),
            "expected_duration_mcse": (d2, [[0.1, 0.1], [0.1, 0.1]]),
            "bias": (d2, [[-0.011, 0.021], [-0.008, 0.015]]),
            "bias_mcse": (d2, np.full((2, 2), 0.0012)),
            "bias_mue": (d2, [[-0.001, 0.002], [0.0005, -0.0015]]),
            "bias_mue_mcse": (d2, np.full((2, 2), 0.0011)),
            "n_q10": (d2, [[50, 60], [100, 110]]), "n_q50": (d2, [[60, 70], [120, 130]]),
            "n_q90": (d2, [[80, 80], [160, 160]]),
            "n_max": (("design.n_per_arm",), nmax),
            "p_efficacy": (d3, EFF), "p_efficacy_mcse": (d3, mc(EFF)),
            "p_futility": (d3, FUT), "p_futility_mcse": (d3, mc(FUT)),
            "p_stop": (d3, stop), "p_stop_mcse": (d3, mc(stop)),
            "cumulative_p_go": (d3, np.cumsum(EFF, -1)),
            "cumulative_p_go_mcse": (d3, mc(np.cumsum(EFF, -1))),
            "information_fraction": (dl, np.tile(frac, (2, 1))),
            "bound_efficacy_z": (dl, [[np.inf, 2.96, 1.97]] * 2),  # no efficacy stop at look 1
            "bound_futility_z": (dl, [[-np.inf, 0.56, np.nan]] * 2),
            "bound_efficacy_effect": (dl, [[np.inf, 0.30, 0.16], [np.inf, 0.21, 0.11]]),
            "bound_futility_effect": (dl, [[-np.inf, 0.06, np.nan], [-np.inf, 0.04, np.nan]]),
            "n_analysed_at_look": (dl, np.outer(nmax * 0.88, frac)),
            "n_randomised_at_look": (dl, [[52, 80, 80], [104, 150, 160]]),
            "time_at_look": (dl, [[21.0, 27.0, 33.0], [30.0, 41.0, 53.0]]),
        },
        coords={"design.n_per_arm": n, "scenario": sc, "look": look,
                "scenario_kind": ("scenario", ["fixed", "fixed"]),
                "true_effect": ("scenario", [0.0, 0.1823])},
        attrs={"config_text": yaml.safe_dump(CFG, sort_keys=False), "seed": 3,
               "msbayes_version": "test", "config_sha256": "0" * 64, "data_sha256": "",
               "created_utc": "2026-12-07T00:00:00+00:00", "grid_axes": '["design.n_per_arm"]',
               "decision_rule": "go iff the group-sequential test rejects",
               "interims": "3 looks at 33%, 67%, 100% of information; efficacy: O'Brien-"
                           "Fleming type alpha spending; futility: non-binding HSD(-2) beta "
                           "spending"},
    )
    return ds


def test_hand_built_dataset_is_consistent():
    ds = _dataset()
    tot = ds["p_efficacy"].sum("look") + ds["p_futility"].sum("look")
    assert np.allclose(tot, 1.0)
    assert np.allclose(ds["cumulative_p_go"].isel(look=-1), ds["p_go"])


# ------------------------------------------------------------------------------- plots
def test_boundary_plot_draws_finite_bounds_and_the_futility_region():
    ds = _dataset()
    bt = boundary_table(ds, {"design.n_per_arm": 80}, final_futility_is_efficacy=True)
    assert bt["futility_filled"].tolist() == [False, False, True]
    assert bt.loc[2, "futility_z"] == 1.97  # the final analysis: below the efficacy bound
    fig = plot_boundaries(bt, x_label="information fraction", effect_label="log speed ratio",
                          mcid=0.1823)
    ax_z, ax_e = fig.axes
    assert ax_z.get_ylabel() == "test statistic (z scale)" and ax_e.get_ylabel() == "log speed ratio"
    assert ax_z.get_xlabel() == ax_e.get_xlabel() == "information fraction"
    for ax in (ax_z, ax_e):
        eff = [l for l in ax.lines if l.get_gid() == "bound_efficacy"]
        fut = [l for l in ax.lines if l.get_gid() == "bound_futility"]
        assert len(eff) == len(fut) == 1
        assert len(eff[0].get_xdata()) == 2  # the inf bound at look 1 is not drawn
        assert list(fut[0].get_xdata()) == [0.6667, 1.0]  # -inf at look 1 is not drawn
        assert [c.get_gid() for c in ax.collections].count("futility_region") == 1
    assert [l.get_gid() for l in ax_e.lines].count("mcid") == 1
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["efficacy bound (stop: go)", "futility bound (stop: no-go)", "MCID",
                     "stop for futility"]
    assert _texts_outside(fig) == []


def test_stopping_plot_bars_match_the_table_with_mcse_bars():
    ds = _dataset()
    st = stopping_table(ds, {"design.n_per_arm": 80}, scenarios=["null", "mcid"],
                        sname=lambda s: {"null": "no effect", "mcid": "at the MCID"}[s])
    fig = plot_stopping_by_look(st)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 and [a.get_title(loc="left") for a in axes] == ["no effect", "at the MCID"]
    for a, (i, sc) in zip(axes, enumerate(["null", "mcid"])):
        fut = [p.get_height() for p in a.patches if p.get_gid() == "bar_futility"]
        eff = [p.get_height() for p in a.patches if p.get_gid() == "bar_efficacy"]
        assert fut == pytest.approx(list(FUT[1, i])) and eff == pytest.approx(list(EFF[1, i]))
        bottoms = [p.get_y() for p in a.patches if p.get_gid() == "bar_efficacy"]
        assert bottoms == pytest.approx(list(FUT[1, i]))  # stacked
        assert [t.get_text() for t in a.get_xticklabels()] == [
            "interim 1\n(33%)", "interim 2\n(67%)", "final\n(100%)"]
        assert sum(1 for c in a.containers if type(c).__name__ == "ErrorbarContainer") == 2
    assert axes[0].get_ylabel() == "probability of stopping at the look"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["futility (no-go)",
                                                                  "efficacy (go)"]
    assert _texts_outside(fig) == []


def test_expected_n_plot_lines_bands_reference_and_duration_panel():
    t = pd.DataFrame({"group": ["a", "a", "b", "b"], "kind": "fixed", "n_max": [80, 160] * 2,
                      "expected_n": [60, 118, 70, 130], "lower": [59, 117, 69, 129],
                      "upper": [61, 119, 71, 131], "duration": [25, 36, 27, 40],
                      "duration_lower": [24.8, 35.8, 26.8, 39.8],
                      "duration_upper": [25.2, 36.2, 27.2, 40.2]})
    fig = plot_expected_n(t)
    ax, ax2 = fig.axes
    assert len([l for l in ax.lines if l.get_gid() == "expected_n"]) == 2
    ref = [l for l in ax.lines if l.get_gid() == "no_saving"]
    assert len(ref) == 1 and list(ref[0].get_xdata()) == list(ref[0].get_ydata()) == [80, 160]
    assert [c.get_gid() for c in ax.collections].count("mcse_band") == 2
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "a", "b", "no early stop (expected = maximum)"]
    assert ax2.get_ylabel() == "expected duration (months)"
    assert len([l for l in ax2.lines if l.get_gid() == "duration"]) == 2
    assert len(plot_expected_n(t.drop(columns=["duration"])).axes) == 1
    assert _texts_outside(fig) == []


def test_early_stop_sums_the_interim_looks_with_a_binomial_mcse():
    ds = _dataset()
    p, m = early_stop(ds, {"design.n_per_arm": 80}, "null", "futility")
    assert p == pytest.approx(0.0 + 0.50)
    assert m == pytest.approx(math.sqrt(0.5 * 0.5 / N_SIMS))
    p, m = early_stop(ds, {"design.n_per_arm": 40}, "mcid", "efficacy")
    assert p == pytest.approx(0.15) and m == pytest.approx(math.sqrt(0.15 * 0.85 / N_SIMS))


# ------------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("seq") / "some_folder"
    d.mkdir()
    _dataset().to_netcdf(d / "oc.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(sim_dir=d, out_dir=d.parent / "rep", formats=("png",))


def test_report_has_the_interim_figures_and_tables(report):
    figs = {p.stem for p in (report.parent / "figures").glob("*.png")}
    assert {f"{NAME}_boundaries", f"{NAME}_stopping_by_look", f"{NAME}_expected_n"} <= figs
    html = report.read_text(encoding="utf-8")
    assert "Interim analyses" in html and "non-binding HSD(-2)" in html
    en = pd.read_csv(report.parent / "tables" / f"{NAME}_expected_n.csv",
                     keep_default_na=False, na_values=[""])
    row = en[(en["scenario_key"] == "mcid") & (en["n_max"] == 160)].iloc[0]
    assert row["expected_n"] == 131.9 and row["lower"] == pytest.approx(131.9 - 2 * 0.31)


def test_oc_summary_rows_for_the_interim_design(report):
    s = pd.read_csv(report.parent / "tables" / f"oc-summary_{NAME}.csv")

    def row(q, scen):
        r = s[(s["quantity"] == q) & (s["scenario"].str.startswith(scen))]
        assert len(r) == 1, (q, scen)
        return r.iloc[0]

    # at the planned n (80 per arm): hand sums of the interim looks
    r = row("P(stop at an interim for futility)", "no effect")
    assert r["estimate"] == pytest.approx(0.5) and r["MCSE"] == pytest.approx(0.005)
    r = row("P(stop at an interim for efficacy)", "effect at the MCID")
    assert r["estimate"] == pytest.approx(0.30)
    assert r["MCSE"] == pytest.approx(math.sqrt(0.3 * 0.7 / N_SIMS))
    assert row("expected total sample size (patients randomised)", "no effect")["estimate"] == 118.4
    assert row("bias of the estimate at stopping", "effect at the MCID")["estimate"] == 0.015
    r = row("bias of the median-unbiased estimate at stopping", "effect at the MCID")
    assert r["estimate"] == -0.0015 and r["printed"].startswith("-0.002 (MCSE 0.0011")
    md = (report.parent / "tables" / f"oc-summary_{NAME}.md").read_text(encoding="utf-8")
    assert "**maximum sample size (patients randomised):** 160" in md
    assert "**interim analyses:** 3 looks at 33%, 67%, 100%" in md


def test_interim_paragraph_in_words(report):
    txt = (report.parent / "statistical_considerations.md").read_text(encoding="utf-8")
    para = next(ln for ln in txt.splitlines() if ln.startswith("**Interim analyses.**"))
    for want in ("3 analyses: 2 interim analyses at 33%, 67%",
                 "4 patients a month, 13 months to the primary endpoint",
                 "Lan-DeMets O'Brien-Fleming-type alpha spending (one-sided alpha 0.025)",
                 "Hwang-Shih-DeCani beta spending (gamma -2) (beta 0.2)",
                 "non-binding", "computed from the rule, not simulated",
                 "interim 1 at 47 patients analysed, 104 randomised, 30 months"):
        assert want in para, want
    import docx

    doc = docx.Document(str(report.parent / "statistical_considerations.docx"))
    assert any(p.text.startswith("Interim analyses.") for p in doc.paragraphs)


def test_a_look_dataset_without_bounds_gets_no_empty_boundary_figure(tmp_path):
    ds = _dataset().drop_vars(["bound_efficacy_z", "bound_futility_z", "bound_efficacy_effect",
                               "bound_futility_effect", "information_fraction"])
    d = tmp_path / "x"
    d.mkdir()
    ds.to_netcdf(d / "oc.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = build_report(sim_dir=d, out_dir=tmp_path / "rep", formats=("png",))
    figs = {p.stem for p in (r.parent / "figures").glob("*.png")}
    assert f"{NAME}_boundaries" not in figs and f"{NAME}_stopping_by_look" in figs
    assert "No stopping bounds are recorded" in r.read_text(encoding="utf-8")


def test_interim_paragraph_of_a_dose_finding_design_names_the_drop_rule():
    from msbayes.report.text import interim_paragraph

    ds = xr.Dataset({"p_efficacy": (("scenario", "look"), [[0.0, 0.3]])},
                    coords={"scenario": ["mcid"], "look": [1, 2]})
    cfg = {"design": {"type": "dose_finding", "doses": [0, 3, 10]},
           "analysis": {"method": "mcpmod", "alpha": 0.025},
           "interims": {"looks": [0.5, 1.0], "rule": "group_sequential", "efficacy": "none",
                        "futility": "none", "drop_doses": {"p_mcid_below": 0.1}}}
    para = interim_paragraph(cfg, ds)[0]
    assert "dose arm is dropped when the flat-prior posterior P(effect > MCID) is below 0.1" in para
    assert "the final analysis is MCP-Mod" in para and "Welch" not in para
    assert "computed from the rule" not in para  # no bounds in this oc.nc
    assert interim_paragraph({k: v for k, v in cfg.items() if k != "interims"}, ds) == []


# ------------------------------------------------------------------ the real engine's oc.nc
@pytest.mark.slow
def test_report_of_a_simulated_interim_design(tmp_path):
    """``msbayes simulate`` on a small group-sequential config, then ``msbayes report``: the
    section renders from the engine's own oc.nc, its boundary table is oc.nc's bounds, the
    early-stopping rows are the interim look's probabilities, and under no effect P(go) over
    all looks does not exceed the one-sided alpha 0.025 by more than 4 MCSE (non-binding
    futility only lowers it)."""
    from typer.testing import CliRunner

    from msbayes.cli import app

    cfg = {k: v for k, v in CFG.items() if k != "grid"}
    cfg["interims"] = {"looks": [0.5, 1.0], "rule": "group_sequential",
                       "efficacy": {"spending": "obf"}, "futility": {"spending": "obf"},
                       "binding": False, "statistic": "z"}
    cfg["endpoint"] = {**cfg["endpoint"], "placebo_mean": -0.1, "dropout": 0.0}
    cfg["grid"] = {"design.n_per_arm": [40, 80]}
    cfg["simulation"] = {"n_sims": 4000, "chunk_size": 4000, "backend": "sequential"}
    p = tmp_path / "seq.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    res = CliRunner().invoke(app, ["simulate", str(p), "--out", str(tmp_path / "sim"),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(tmp_path / "sim" / "oc.nc")
    assert "look" in ds.dims
    null = ds.sel({"design.n_per_arm": 80, "scenario": "null"})
    assert float(null["p_go"]) < 0.025 + 4 * float(null["p_go_mcse"])
    res = CliRunner().invoke(app, ["report", "--sim", str(tmp_path / "sim"), "--out",
                                   str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    rep = tmp_path / "rep"
    bt = pd.read_csv(rep / "tables" / f"{NAME}_boundaries.csv")
    cell = ds.sel({"design.n_per_arm": 80})
    assert np.allclose(bt["efficacy_z"], cell["bound_efficacy_z"].values)
    assert bt["futility_z"].iloc[0] == pytest.approx(float(cell["bound_futility_z"][0]))
    s = pd.read_csv(rep / "tables" / f"oc-summary_{NAME}.csv")
    r = s[(s["quantity"] == "P(stop at an interim for futility)")
          & (s["scenario"] == "no effect")].iloc[0]
    assert r["estimate"] == pytest.approx(float(null["p_futility"].sel(look=1)))
    assert {f"{NAME}_boundaries", f"{NAME}_stopping_by_look", f"{NAME}_expected_n"} <= {
        f.stem for f in (rep / "figures").glob("*.png")}
    assert "**Interim analyses.**" in (rep / "statistical_considerations.md").read_text()


# ------------------------------------------------- new-user findings: rows, figures, CSVs
def test_stopping_rules_leave_out_a_rule_the_design_does_not_have():
    from msbayes.report.sequential import stopping_rules

    ds = _dataset()
    assert stopping_rules(ds) == ("efficacy", "futility")
    no_eff = ds.assign(bound_efficacy_z=ds["bound_efficacy_z"].where(False, np.inf).where(
        ds["look"] < 3, 1.97))  # inf at every interim: nobody stops for efficacy
    assert stopping_rules(no_eff) == ("futility",)
    said = ds.copy()
    said.attrs["interims"] = "2 looks at 40%, 100% of information; efficacy: none; futility: z"
    assert stopping_rules(said.drop_vars("bound_efficacy_z")) == ("futility",)
    bayes = ds.copy()
    bayes.attrs["interims"] = "Bayesian monitoring; interim efficacy: P(effect > 0) >= 0.99; interim futility: none"
    assert stopping_rules(bayes.drop_vars("bound_futility_z")) == ("efficacy",)


def test_zero_event_early_stop_bound_is_the_clopper_pearson_upper_limit():
    from scipy import stats

    from msbayes.report.sequential import early_stop_upper

    ds = _dataset()
    # independent answer: the 95% quantile of Beta(1, N), the one-sided CP limit for 0 of N
    assert early_stop_upper(ds, {"design.n_per_arm": 80}, "null") == pytest.approx(
        stats.beta.ppf(0.95, 1, N_SIMS), rel=1e-9)
    p, _ = early_stop(ds, {"design.n_per_arm": 80}, "null", "efficacy")
    assert p > 0  # the hand-built design does stop for efficacy at interim 2


def test_stopping_table_has_one_line_labels_and_a_consider_segment_at_the_final_look():
    ds = _dataset()
    con = np.array([[0.0, 0.0], [0.12, 0.03]])  # per (n, scenario): dual rule's final consider
    ds = ds.assign(p_consider=(("design.n_per_arm", "scenario"), con),
                   p_consider_mcse=(("design.n_per_arm", "scenario"), np.sqrt(con * (1 - con) / N_SIMS)))
    st = stopping_table(ds, {"design.n_per_arm": 80}, scenarios=["null", "mcid"], sname=str)
    assert not st["look_label"].str.contains("\n").any()
    assert st["consider"].tolist() == [0.0, 0.0, 0.12, 0.0, 0.0, 0.03]
    fig = plot_stopping_by_look(st)
    for a, c in zip([a for a in fig.axes if a.get_visible()], (0.12, 0.03)):
        bars = [p for p in a.patches if p.get_gid() == "bar_consider"]
        assert [b.get_height() for b in bars] == pytest.approx([0.0, 0.0, c])
        eff = [p for p in a.patches if p.get_gid() == "bar_efficacy"]
        assert bars[-1].get_y() == pytest.approx(eff[-1].get_y() + eff[-1].get_height())
        assert "interim 1\n(33%)" in [t.get_text() for t in a.get_xticklabels()]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "futility (no-go)", "efficacy (go)", "consider (no decision)"]
    assert _texts_outside(fig) == []


def test_boundary_csv_has_readable_columns():
    from msbayes.report.sequential import boundary_csv

    bt = boundary_table(_dataset(), {"design.n_per_arm": 80}, final_futility_is_efficacy=True)
    cols = list(boundary_csv(bt).columns)
    assert "x" not in cols and "futility_filled" not in cols
    assert cols[-1] == "final_futility_drawn_at_efficacy_bound"
    assert boundary_csv(bt)[cols[-1]].tolist() == [False, False, True]


def test_boundary_plot_of_a_futility_z_only_design_is_readable():
    # MCP-Mod with futility z [0.0] and no efficacy stop: only a z bound at interim 1
    bt = pd.DataFrame({"look": [1, 2], "x": [0.4, 1.0], "efficacy_z": [np.nan, np.nan],
                       "futility_z": [0.0, np.nan], "efficacy_effect": [np.nan, np.nan],
                       "futility_effect": [np.nan, np.nan]})
    fig = plot_boundaries(bt, x_label="information fraction", mcid=0.1823)
    assert len(fig.axes) == 1  # no empty effect panel
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert lo < 0.0 < hi  # the bound is inside the panel, not on its edge
    assert ax.get_xlim()[0] < 0.4 and ax.get_xlim()[1] > 1.0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.4", "1"]
    assert [t.get_text() for t in ax.texts if t.get_gid() == "bound_value"] == ["0.00"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "futility bound (stop: no-go)", "stop for futility"]
    assert _texts_outside(fig) == []


def test_boundary_plot_panels_share_the_x_range():
    bt = boundary_table(_dataset(), {"design.n_per_arm": 80}, final_futility_is_efficacy=True)
    ax_z, ax_e = plot_boundaries(bt, x_label="information fraction", mcid=0.1823).axes
    assert ax_z.get_xlim() == ax_e.get_xlim()


def test_dose_dropping_table_and_figure():
    from msbayes.plots.sequential import plot_dose_dropping
    from msbayes.report.sequential import dropped_table, has_dose_dropping

    p = np.array([[[np.nan, np.nan], [0.69, 0.0], [0.70, 0.0]],
                  [[np.nan, np.nan], [0.55, 0.0], [0.27, 0.0]]])
    m = np.sqrt(p * (1 - p) / 4000)
    ds = xr.Dataset({"p_dropped": (("scenario", "dose", "look"), p),
                     "p_dropped_mcse": (("scenario", "dose", "look"), m),
                     "information_fraction": (("look",), [0.4, 1.0])},
                    coords={"scenario": ["null", "mcid"], "dose": [0.0, 5.0, 20.0], "look": [1, 2]})
    assert has_dose_dropping(ds) and not has_dose_dropping(_dataset())
    t = dropped_table(ds, {}, scenarios=["null", "mcid"], sname=str)
    assert len(t) == 4 and set(t["dose"]) == {5.0, 20.0} and set(t["look"]) == {1}  # no placebo, no final
    assert t["p_dropped"].tolist() == [0.69, 0.70, 0.55, 0.27]
    assert (t["upper"] - t["p_dropped"]).to_numpy() == pytest.approx(2 * m[:, 1:, 0].ravel())
    assert t["look_label"].iloc[0] == "interim 1 (40%)"
    fig = plot_dose_dropping(t, dose_label="dose (million cells)")
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left") for a in axes] == ["null", "mcid"]
    for a, want in zip(axes, ([0.69, 0.70], [0.55, 0.27])):
        assert [b.get_height() for b in a.patches if b.get_gid() == "bar_dropped_look1"] == \
            pytest.approx(want)
        assert [x.get_text() for x in a.get_xticklabels()] == ["5", "20"]
        assert a.get_xlabel() == "dose (million cells)"
        assert sum(1 for c in a.containers if type(c).__name__ == "ErrorbarContainer") == 1
    assert axes[0].get_ylabel() == "P(dose dropped at the interim)"
    assert [x.get_text() for x in fig.legends[0].get_texts()] == ["interim 1 (40%)"]
    assert _texts_outside(fig) == []


def test_report_rows_bounds_and_csv_columns_of_a_futility_only_design(tmp_path):
    ds = _dataset()
    eff = ds["p_efficacy"].copy()
    eff[..., :-1] = 0.0  # no interim efficacy stop at all (bounds inf at every interim)
    fut = ds["p_futility"].copy()
    fut.loc[{"scenario": "mcid"}] = np.where(fut.loc[{"scenario": "mcid"}]["look"] < 3, 0.0,
                                             fut.loc[{"scenario": "mcid"}])
    ds = ds.assign(p_efficacy=eff, p_futility=fut,
                   bound_efficacy_z=ds["bound_efficacy_z"].where(ds["look"] == 3, np.inf))
    d = tmp_path / "sim"
    d.mkdir()
    ds.to_netcdf(d / "oc.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = build_report(sim_dir=d, out_dir=tmp_path / "rep", formats=("png",))
    s = pd.read_csv(rep.parent / "tables" / f"oc-summary_{NAME}.csv")
    assert not (s["quantity"] == "P(stop at an interim for efficacy)").any()
    r = s[(s["quantity"] == "P(stop at an interim for futility)")
          & s["scenario"].str.startswith("effect at the MCID")].iloc[0]
    up = 1 - 0.05 ** (1 / N_SIMS)  # recorded-bound convention; rule of three 3/N also accepted
    assert r["printed"].startswith("< ") and f"(0 of {N_SIMS})" in r["printed"]
    assert float(r["printed"].split()[1]) >= round(up, 3)
    b = pd.read_csv(rep.parent / "tables" / f"{NAME}_boundaries.csv")
    assert "x" not in b.columns and "futility_filled" not in b.columns
    st = (rep.parent / "tables" / f"{NAME}_stopping_by_look.csv").read_text(encoding="utf-8")
    assert all(line.count(",") == st.splitlines()[0].count(",") for line in st.splitlines())
