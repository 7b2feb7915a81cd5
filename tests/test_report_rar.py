"""The report section of response-adaptive randomisation (``design.type: rar``) designs.

Built on small hand-made ``oc.nc`` Datasets following the contract of docs/architecture.md
("RAR"): every drawn or printed number is compared with the Dataset's own numbers (the figures
must show the artefact, not a recomputation), and the comparison with fixed allocation is
checked against differences and MCSEs worked out by hand. One end-to-end test runs a tiny
real simulation of the study configs (simulations/rar_dose_allocation, config.yaml and
fixed.yaml) and builds the report from it; there the IDP is checked against an independent
per-cell formula from the selection probabilities and the configured effects.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from msbayes.plots.adaptive import (plot_rar_outcomes, plot_rar_selection,  # noqa: E402
                                    plot_rar_vs_fixed)
from msbayes.report import adaptive as ad  # noqa: E402
from msbayes.report.inputs import SimArtefacts  # noqa: E402
from msbayes.report.summary import oc_summary  # noqa: E402
from msbayes.report.text import SimView, adaptive_paragraph, rar_paragraph  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N = 1000

RAR_CFG = """
name: rar-test
seed: 7
endpoint: {name: t25fw, scale: log_speed_ratio, sd: 0.35, placebo_mean: -0.18, mcid: 0.1823, dropout: 0.0}
design:
  type: rar
  doses: [0, 3, 10]
  dose_unit: million cells per injection
  n_per_arm: 60
  looks: [0.5, 1.0]
  reference_dose: 10
  dose_response: {model: emax, ed50: 3.0}
  allocation: {adaptive: ADAPTIVE, control_allocation: fixed, control_share: 0.3, power: 0.75, min_allocation: 0.125, max_allocation: 0.7}
  stopping:
    comparison: control
    superiority: 0.996487
    inferiority: 0.0125
    futility: {prob: 0.05, diff: 0.1}
  select: best
  prior: {mean: 0.0, sd: 1.0}
  alpha: 0.025
scenarios:
  "null": {effect: 0.0}
  top_only: {effect: {"3": 0.0, "10": 0.2624}}
labels:
  top_only: "log 1.3 at 10 million only"
"""

SCEN = ["null", "top_only"]
DOSES = [0.0, 3.0, 10.0]


def _rar_ds(*, adaptive: bool = True, seed: int = 21) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    dd = ("scenario", "dose")
    sel = np.array([[0.31, 0.3, 0.29], [0.0, 0.05, 0.93]])
    none = 1 - sel.sum(1)  # 0.10, 0.02
    alloc = np.array([[0.3, 0.36, 0.34], [0.3, 0.2, 0.5]])
    out = np.array([[0.0, 0.0, 0.2, 0.8], [0.9, 0.0, 0.0, 0.1]])  # sup, equiv, fut, max
    d = {"n_sims": ("scenario", [N, N]),
         "p_go": ("scenario", [0.024, 0.91]), "p_superiority_decision": ("scenario", [0.024, 0.91]),
         "p_selected": (dd, sel), "p_select_none": ("scenario", none),
         "p_select_control": ("scenario", sel[:, 0]),
         "mean_alloc_arm": (dd, alloc), "mean_alloc_arm_mcse": (dd, np.full((2, 3), 0.002)),
         "mean_n_arm": (dd, alloc * 120), "mean_n_arm_mcse": (dd, np.full((2, 3), 0.3)),
         "expected_n": ("scenario", [180.0, 120.0]), "expected_n_mcse": ("scenario", [0.0, 1.5]),
         "n_max": ("scenario", [180.0, 180.0]),
         "mean_select_best": ("scenario", [np.nan, 0.93]),
         "mean_select_best_mcse": ("scenario", [np.nan, np.sqrt(0.93 * 0.07 / N)]),
         "mean_idp": ("scenario", [np.nan, 94.9]), "mean_idp_mcse": ("scenario", [np.nan, 0.7]),
         "rmse": ("scenario", [0.071, 0.088]), "rmse_mcse": ("scenario", [0.002, 0.003]),
         "bias": ("scenario", [0.05, 0.021]), "bias_mcse": ("scenario", [0.0021, 0.0031])}
    for k, o in enumerate(("superiority", "equivalence", "futility", "max")):
        d[f"p_outcome_{o}"] = ("scenario", out[:, k])
    for v in ("p_go", "p_superiority_decision", "p_selected", "p_select_none",
              "p_select_control") + tuple(f"p_outcome_{o}" for o in
                                          ("superiority", "equivalence", "futility", "max")):
        p = np.asarray(d[v][1], float)
        d[f"{v}_mcse"] = (d[v][0], np.sqrt(p * (1 - p) / N))
    if not adaptive:  # the comparator: other numbers
        for v in ("p_go", "mean_select_best", "mean_idp", "expected_n"):
            d[v] = (d[v][0], np.round(np.asarray(d[v][1]) * rng.uniform(0.85, 0.99), 4))
    ds = xr.Dataset(d, coords={"scenario": SCEN, "dose": DOSES,
                               "scenario_kind": ("scenario", ["fixed"] * 2),
                               "true_effect": ("scenario", [0.0, 0.2624])})
    cfg = RAR_CFG.replace("ADAPTIVE", "true" if adaptive else "false")
    if not adaptive:
        cfg = cfg.replace("name: rar-test", "name: rar-test-fixed")
    ds.attrs.update(config_text=cfg, seed=7, config_sha256="b" * 64, grid_axes="[]",
                    decision_rule="go iff a dose is declared superior (test)")
    return ds


def _view(ds: xr.Dataset, name: str) -> SimView:
    sim = SimArtefacts(path=Path("."), name=name, ds=ds, provenance=dict(ds.attrs))
    return SimView(sim, x_axis=None, fixed={})


def _cfg(ds: xr.Dataset) -> dict:
    return yaml.safe_load(ds.attrs["config_text"])


def _sname(s):
    return {"null": "no effect", "top_only": "log 1.3 at 10 million only"}[str(s)]


# ------------------------------------------------------------------ detection
def test_rar_detected_before_multi_arm():
    ds = _rar_ds()
    assert ad.adaptive_kind(ds) == "rar"
    # a multi-arm Dataset (no allocation or outcome variables) stays multi_arm
    assert ad.adaptive_kind(ds.drop_vars([v for v in ds.data_vars if v.startswith(
        ("mean_alloc", "p_outcome"))])) == "multi_arm"


# ------------------------------------------------------------------ figures
def test_selection_figure_bars_equal_oc_values_with_labels():
    ds = _rar_ds()
    t = ad.rar_selection_table(ds, {}, scenarios=SCEN, sname=_sname, cfg=_cfg(ds))
    fig = plot_rar_selection(t)
    a_sel, a_alloc = fig.axes[:2]
    labels = ["placebo (control)", "3 million", "10 million", "no arm selected"]
    for j, lab in enumerate(labels):
        got = sorted(p.get_width() for p in a_sel.patches if p.get_gid() == f"p_selected:{lab}")
        want = (ds["p_select_none"].values if lab == "no arm selected"
                else ds["p_selected"].isel(dose=j).values)
        np.testing.assert_allclose(got, sorted(want), atol=1e-12)
        if lab != "no arm selected":
            got = sorted(p.get_width() for p in a_alloc.patches if p.get_gid() == f"alloc:{lab}")
            np.testing.assert_allclose(got, sorted(ds["mean_alloc_arm"].isel(dose=j).values),
                                       atol=1e-12)
    # no allocation bar for "no arm selected"
    assert not [p for p in a_alloc.patches if p.get_gid() == "alloc:no arm selected"]
    # the control's selection is p_select_control, stored as the dose-0 entry
    np.testing.assert_allclose(t[t.arm == "0.0"]["p_selected"], ds["p_select_control"].values)
    assert [x.get_text() for x in fig.axes[1].get_legend().get_texts()] == labels
    assert a_sel.get_xlabel() == "P(arm selected)"
    assert a_alloc.get_xlabel() == "mean share of patients randomised"
    assert [x.get_text() for x in a_sel.get_yticklabels()] == [
        "no effect", "log 1.3 at 10 million only"]
    # ±2 MCSE error bars: one per bar drawn in (a), centred on the bar end
    seg = [c for c in a_sel.collections if hasattr(c, "get_segments")]
    ends = sorted(round(float(s[1][0] - s[0][0]), 10) for c in seg for s in c.get_segments())
    want = sorted(round(4 * float(m), 10) for m in t["p_selected_mcse"])
    assert ends == want
    plt.close(fig)


def test_outcome_figure_stacks_the_outcome_probabilities():
    ds = _rar_ds()
    t = ad.rar_outcome_table(ds, {}, scenarios=SCEN, sname=_sname)
    ax = plot_rar_outcomes(t)
    for o in ("superiority", "equivalence", "futility", "max"):
        bars = [p for p in ax.patches if p.get_gid() == o]
        assert len(bars) == 2
        # top bar = first scenario
        bars.sort(key=lambda p: -p.get_y())
        np.testing.assert_allclose([b.get_width() for b in bars], ds[f"p_outcome_{o}"].values)
    # stacked: each scenario's segments end at 1
    right = {}
    for p in ax.patches:
        right[round(p.get_y(), 6)] = max(right.get(round(p.get_y(), 6), 0), p.get_x() + p.get_width())
    np.testing.assert_allclose(list(right.values()), 1.0)
    assert [x.get_text() for x in ax.get_legend().get_texts()] == list(ad.RAR_OUTCOMES.values())
    assert ax.get_xlabel() == "probability of the trial outcome"
    plt.close(ax.figure)


def test_bad_outcome_category_refused():
    t = pd.DataFrame({"scenario": ["a"], "outcome": ["win"], "label": ["x"], "p": [1.0],
                      "mcse": [0.0]})
    with pytest.raises(ValueError, match="unknown outcome.*allowed"):
        plot_rar_outcomes(t)


# ------------------------------------------------------------------ summary rows
def test_summary_rows():
    ds = _rar_ds()
    summ, head = oc_summary(_view(ds, "rar"))
    q = summ.set_index(["quantity", "scenario"])["printed"]
    t1 = [k for k in q.index if k[0].startswith("type I error: P(any superiority decision)")]
    assert len(t1) == 1 and t1[0][1] == "no effect" and "target 0.025" in t1[0][0]
    assert q[t1[0]] == "0.024 (MCSE 0.005)"  # sqrt(.024 .976 / 1000) = 0.00484
    best = summ[summ.quantity == "P(select the best arm)"]
    assert list(best["printed"]) == ["0.930 (MCSE 0.008)"]  # NaN under the null: no row
    idp = summ[summ.quantity.str.startswith("IDP")]
    assert list(idp["printed"]) == ["94.9 (MCSE 0.70)"]
    rm = summ[summ.quantity.str.startswith("RMSE of the selected arm")]
    assert list(rm["printed"]) == ["0.071 (MCSE 0.0020)", "0.088 (MCSE 0.0030)"]
    bi = summ[summ.quantity.str.startswith("bias of the selected arm")]
    assert list(bi["estimate"]) == [0.05, 0.021]
    en = summ[summ.quantity.str.startswith("expected total sample size")]
    assert list(en["estimate"]) == [180.0, 120.0]
    # p_superiority_decision equals p_go: not repeated
    assert not (summ.quantity == "P(any superiority decision)").any()
    assert not any("paired" in k for k in head)


def test_zero_event_probability_is_an_upper_bound():
    ds = _rar_ds()
    ds["p_go"][0] = 0.0
    ds["p_go_mcse"][0] = 0.0
    ds["p_superiority_decision"][0] = 0.0
    ds["p_superiority_decision_mcse"][0] = 0.0
    summ, _ = oc_summary(_view(ds, "rar"))
    row = summ[summ.quantity.str.startswith("type I error: P(any superiority")].iloc[0]
    assert row["printed"].startswith("< ") and row["printed"].endswith(f"(0 of {N})")


# ------------------------------------------------------------------ paragraph
def test_paragraph_quotes_thresholds_exactly():
    txt = rar_paragraph(_cfg(_rar_ds()))[0]
    assert txt == adaptive_paragraph(_cfg(_rar_ds()))[0]
    for s in ("> 0.996487", "< 0.0125", "power 0.75", "floor of 0.125", "cap of 0.7",
              "fixed share of 0.3", "P(dose - first control > 0.1 | data) < 0.05",
              "maximum 180 patients in total (60 per arm times 3 arms)",
              "after 50%, 100% of the maximum (90, 180 patients)",
              "one-sided 0.025 / 2", "not guaranteed by construction",
              "ideal design percentage (IDP)", "100 means the best arm"):
        assert s in txt, s
    assert "calibrated by simulation to meet the target (one-sided 0.025)" in txt
    best = rar_paragraph({"design": {
        "type": "rar", "arms": ["usual care", "A", "B"], "n_per_arm": 50,
        "looks_n": [60, 150], "allocation": {"control_allocation": "sqrt"},
        "stopping": {"comparison": "best", "superiority": 0.9875, "inferiority": 0.0125,
                     "equivalence": {"prob": 0.9, "diff": 0.05}}}})[0]
    for s in ("3 arms (usual care as the control, then A, B)", "at total sample sizes 60, 150",
              "P(best | data) > 0.9875 (that arm wins)", "P(best | data) < 0.0125",
              "largest - smallest active arm mean < 0.05 | data) > 0.9",
              "sqrt(k) / (k + sqrt(k))", "floor of 0.05 and no cap"):
        assert s in best, s
    fixed = rar_paragraph(_cfg(_rar_ds(adaptive=False)))[0]
    assert "Allocation is fixed" in fixed and "Thompson" not in fixed
    assert rar_paragraph({"design": {"type": "multi_arm"}}) == []


# ------------------------------------------------------------------ comparison
def test_pairs_need_same_arms_n_and_scenarios_and_one_fixed():
    a, f = _rar_ds(), _rar_ds(adaptive=False)
    sims = [SimArtefacts(path=Path("."), name=n, ds=d, provenance=dict(d.attrs))
            for n, d in (("f", f), ("a", a))]
    assert ad.rar_pairs(sims) == [(1, 0)]
    assert ad.rar_pairs(sims[1:]) == []  # no comparator
    f2 = f.copy()
    f2.attrs = {**f.attrs, "config_text": f.attrs["config_text"].replace("n_per_arm: 60",
                                                                        "n_per_arm: 80")}
    sims[0] = SimArtefacts(path=Path("."), name="f", ds=f2, provenance=dict(f2.attrs))
    assert ad.rar_pairs(sims) == []  # different maximum n
    a2 = a.copy()  # two adaptive designs: no pair
    sims = [SimArtefacts(path=Path("."), name=n, ds=d, provenance=dict(d.attrs))
            for n, d in (("a", a), ("a2", a2))]
    assert ad.rar_pairs(sims) == []


def test_comparison_table_unpaired_mcse_by_hand():
    a, f = _rar_ds(), _rar_ds(adaptive=False)
    a["p_go_mcse"][1] = 0.03
    f["p_go_mcse"][1] = 0.04
    ct = ad.rar_comparison_table(a, f, scenarios=SCEN, sname=_sname)
    r = ct[(ct.scenario_key == "top_only") & (ct.quantity == "P(go)")].iloc[0]
    assert r["difference_mcse"] == pytest.approx(0.05, abs=1e-15)  # 3-4-5
    assert r["difference"] == pytest.approx(0.91 - float(f["p_go"][1]), abs=1e-15)
    r = ct[(ct.scenario_key == "top_only") & (ct.quantity == "IDP (%)")].iloc[0]
    assert r["rar"] == 94.9 and r["fixed"] == float(f["mean_idp"][1])
    assert r["difference_mcse"] == pytest.approx(0.7 * np.sqrt(2), abs=1e-12)
    r = ct[(ct.scenario_key == "null") & (ct.quantity == "P(select the best arm)")].iloc[0]
    assert np.isnan(r["difference"]) and np.isnan(r["difference_mcse"])
    fig = plot_rar_vs_fixed(ct)
    axes = [x for x in fig.axes if x.get_visible()]
    assert [x.get_xlabel() for x in axes] == ["P(go)", "P(select the best arm)", "IDP (%)",
                                              "expected total n"]
    go = sorted(p.get_width() for p in axes[0].patches if p.get_gid() == "v:response-adaptive")
    np.testing.assert_allclose(go, sorted(a["p_go"].values))
    go = sorted(p.get_width() for p in axes[0].patches if p.get_gid() == "v:fixed allocation")
    np.testing.assert_allclose(go, sorted(f["p_go"].values))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["response-adaptive",
                                                                  "fixed allocation"]
    plt.close(fig)


class _NoFiles:
    def __init__(self):
        self.stems = []

    def figure(self, make, stem, caption):
        self.stems.append(stem)
        fig = make(size="column")
        plt.close(getattr(fig, "figure", fig))
        return f"<figure id='fig-{stem}'><figcaption>{caption}</figcaption></figure>"

    def table(self, df, stem, **kw):
        self.stems.append(stem)


def _html_table(df, *, id, cls="", caption=""):
    return f"<table id='{id}'><caption>{caption}</caption>{df.to_html()}</table>"


def test_section_and_comparison_html():
    a, f = _rar_ds(), _rar_ds(adaptive=False)
    out = _NoFiles()
    parts = ad.adaptive_html(_view(a, "rar"), out, "rar", xlab=str, sname=_sname, kinds={},
                             html_table=_html_table)
    html = "".join(parts)
    assert out.stems == ["rar_rar_selection", "rar_rar_selection", "rar_rar_outcomes",
                         "rar_rar_outcomes"]
    assert "id='rar-rar'" in html and "doses in million cells per injection" in html
    assert "<h3 id='rar-rar'>Response-adaptive randomisation:" in html
    fh = "".join(ad.adaptive_html(_view(f, "fx"), _NoFiles(), "fx", xlab=str, sname=_sname,
                                  kinds={}, html_table=_html_table))
    assert "<h3 id='rar-fx'>Fixed allocation (same rules" in fh
    assert "table-rar-expected-n-rar" in html and "36.0 (0.30)" in html  # 0.3 x 120 (MCSE 0.3)
    h = ad.rar_comparison_html(_view(a, "rar"), _view(f, "rar-fixed"), out, sname=_sname,
                               html_table=_html_table)
    assert "unpaired" in h and "square root of the sum of the squared MCSEs" in h
    assert "rar_vs_rar-fixed_rar_vs_fixed" in out.stems


# ------------------------------------------------------------------ end to end
def _emax(dose: float, ref_effect: float, ed50: float = 3.0, ref: float = 10.0) -> float:
    return ref_effect * (dose / (ed50 + dose)) / (ref / (ed50 + ref))


def test_end_to_end_from_tiny_real_simulations(tmp_path):
    from msbayes.grid.runner import run_grid
    from msbayes.report.build import build_report

    dirs = []
    for f in ("config.yaml", "fixed.yaml"):
        raw = yaml.safe_load((REPO / "simulations" / "rar_dose_allocation" / f).read_text())
        raw["simulation"] = {"n_sims": 500, "chunk_size": 500, "backend": "sequential",
                             "n_jobs": 1}
        out = tmp_path / f.split(".")[0]
        run_grid(raw, config_text=yaml.safe_dump(raw), out_dir=out, backend="sequential",
                 n_jobs=1, quiet=True, stream=io.StringIO())
        dirs.append(out)
    rep = build_report(sim_dir=dirs, out_dir=tmp_path / "rep", formats=("png",))
    root = rep if rep.is_dir() else rep.parent
    html = (root / "report.html").read_text(encoding="utf-8")
    ds = xr.open_dataset(dirs[0] / "oc.nc").load()
    name = "rar-dose-allocation"
    assert f"id='rar-{name}'" in html and "Response-adaptive against fixed allocation" in html
    for stem in (f"{name}_rar_selection", f"{name}_rar_outcomes",
                 f"{name}_vs_{name}-fixed_rar_vs_fixed"):
        assert (root / "figures" / f"{stem}.png").stat().st_size > 1000
    st = pd.read_csv(root / "tables" / f"{name}_rar_selection.csv")
    # selections (control, doses, none) cover every simulated trial
    np.testing.assert_allclose(st.groupby("scenario_key")["p_selected"].sum(), 1.0, atol=1e-9)
    ot = pd.read_csv(root / "tables" / f"{name}_rar_outcomes.csv")
    np.testing.assert_allclose(ot.groupby("scenario_key")["p"].sum(), 1.0, atol=1e-9)
    # IDP against the per-cell formula from p_selected and the configured effects (fixed
    # effects: Emax through the reference dose 10, ED50 3; top_only given per dose)
    cfg = yaml.safe_load(ds.attrs["config_text"])
    summ = pd.read_csv(root / "tables" / f"oc-summary_{name}.csv")
    idp = summ[summ.quantity.str.startswith("IDP")]
    for s, mu in (("target", [0.0] + [_emax(d, 0.2624) for d in (3, 6, 10)]),
                  ("top_only", [0.0, 0.0, 0.0, 0.2624])):
        p = st[st.scenario_key == s].set_index("arm")["p_selected"]
        psel = np.array([p[a] for a in ("0.0", "3.0", "6.0", "10.0")])
        mu = np.asarray(mu)
        want = 100 * np.sum(psel * (mu - mu.min()) / (mu.max() - mu.min())) / (1 - p["none"])
        lab = {"target": cfg["labels"]["target"], "top_only": cfg["labels"]["top_only"]}[s]
        got = idp[idp.scenario.str.startswith(lab.split(" (")[0])]["estimate"]
        assert len(got) >= 1
        assert float(got.iloc[-1 if s == "top_only" else 0]) == pytest.approx(want, abs=1e-6)
    ct = pd.read_csv(root / "tables" / f"{name}_vs_{name}-fixed.csv")
    fx = xr.open_dataset(dirs[1] / "oc.nc").load()
    r = ct[(ct.scenario_key == "mcid") & (ct.quantity == "P(go)")].iloc[0]
    assert r["difference"] == pytest.approx(float(ds["p_go"].sel(scenario="mcid"))
                                            - float(fx["p_go"].sel(scenario="mcid")), abs=1e-12)
    assert r["difference_mcse"] == pytest.approx(np.hypot(
        float(ds["p_go_mcse"].sel(scenario="mcid")), float(fx["p_go_mcse"].sel(scenario="mcid"))),
        abs=1e-12)
    sc = (root / "statistical_considerations.md").read_text(encoding="utf-8")
    assert sc.count("**Response-adaptive randomisation.**") == 2
    assert "> 0.99649 " in sc and "> 0.99685 " in sc
    summ_t1 = summ[summ.quantity.str.startswith("type I error: P(any superiority")]
    assert list(summ_t1["estimate"]) == [float(ds["p_go"].sel(scenario="null"))]


@pytest.mark.parametrize("module", ["msbayes.plots.adaptive", "msbayes.report.adaptive"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_grid_section_shows_the_planned_n():
    a = _rar_ds()
    b = a.copy(deep=True)
    b["p_selected"] = b["p_selected"] * 0.5  # a different cell: must not be shown
    ds = xr.concat([b, a], dim=pd.Index([40, 60], name="design.n_per_arm"),
                   data_vars="all", coords="minimal", compat="override")
    ds.attrs = a.attrs
    sim = SimArtefacts(path=Path("."), name="g", ds=ds, provenance=dict(ds.attrs))
    view = SimView(sim, x_axis="design.n_per_arm", fixed={})
    tabs = {}

    class _Keep(_NoFiles):
        def table(self, df, stem, **kw):
            tabs[stem] = df

    html = "".join(ad.adaptive_html(view, _Keep(), "g", xlab=str, sname=_sname, kinds={},
                                    html_table=_html_table, planned=60))
    st = tabs["g_rar_selection"]
    got = st[st.arm != "none"]["p_selected"].to_numpy()
    np.testing.assert_allclose(got, a["p_selected"].values.ravel())
    assert "at design.n_per_arm = 60" in html
