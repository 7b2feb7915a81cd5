"""Honesty labels (issue 9): no synthetic, predicted or borrowed evidence in disguise.

Every output of a fit + report run is walked: each CSV row, each figure's text (titles, tick
labels, legend entries, annotations; Agg backend), each HTML table row and each sentence of
``statistical_considerations.md``. A synthetic or predicted value must carry its status where it
is shown; a prediction gets no probability; synthetic results are left out unless asked; zero
counts print as bounds; MCIDs that are not published say so; external borrowing is disclosed.

The fast tests use the report fixtures (tests/fixtures/report: a summary model with an
unreported stratum and a patient model on synthetic data); the ``slow`` test runs a real tiny
fit (models summary_log + patient on synthetic data) and walks the same way.
"""

from __future__ import annotations

import html
import math
import re
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from msbayes.fit.summarize import (  # noqa: E402
    borrowing_label,
    borrowing_of,
    label_tables,
    mcid_kind,
    mcid_source,
)
from msbayes.plots import plot_forest, plot_prior_sensitivity  # noqa: E402
from msbayes.report import build_report  # noqa: E402
from msbayes.report import build as build_mod  # noqa: E402
from msbayes.report.labels import fmt_prob, prob_bound  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "report"
FIT, TWO = FIX / "fit", FIX / "sim_two_arm"
ENDPOINTS = {"t25fw": "T25FW", "6mwt": "6MWT", "edss_plus": "EDSS Plus"}
PROB_WORDS = ("P(benefit)", "P(effect > MCID)", "P(>MCID)")


# ----------------------------------------------------------------------------- units
def test_probability_bounds_follow_the_rule_of_three():
    # 3/20000 = 0.00015 -> printed bound rounded up to 0.001; 3/400 = 0.0075 -> 0.01
    assert prob_bound(20000, 3) == (0.001, 0.999)
    assert prob_bound(400, 2) == (0.01, 0.99)
    assert prob_bound(4000, 4) == (0.0008, 0.9992)  # 0.00075 rounded up, 0.99925 down
    assert fmt_prob(0.0, 3, n=20000) == "< 0.001"
    assert fmt_prob(1.0, 3, n=20000) == "> 0.999"
    assert fmt_prob(1.0, 2, n=400) == "> 0.99"
    assert fmt_prob(0.25, 3, n=400) == "0.250"
    assert fmt_prob(0.9996, 3) == "> 0.999"  # would print 1.000
    assert fmt_prob(0.0, 3) == "0 (no events)"  # no n: no bound can be claimed
    assert fmt_prob(0.0, 3, n=4000, upper=0.0021) == "< 0.003"  # a recorded bound wins


@pytest.mark.parametrize("endpoint,scale,mcid,kind", [
    ("t25fw", "log_speed_ratio", math.log(1.2), "published"),
    ("t25fw", "pct_improvement", 100 * (1 - 1 / 1.2), "published"),
    ("6mwt", "log_distance_ratio", math.log(1.08), "documented choice"),
    ("6mwt", "pct_improvement", 8.0, "documented choice"),
    ("edss_plus", "log_odds_ratio", math.log(2.0), "analogue"),
    ("t25fw", "log_speed_ratio", 0.25, "user-set"),
])
def test_mcid_source_says_which_thresholds_are_not_published(endpoint, scale, mcid, kind):
    src = mcid_source(endpoint, scale=scale, mcid=mcid)
    assert mcid_kind(src) == kind
    if kind in ("documented choice", "analogue"):
        assert "not a published MCID" in src
    assert mcid_source("edss_plus", scale="risk_difference", mcid=0.0) == ""


def test_mcid_sources_name_the_references():
    assert "Hobart" in mcid_source("t25fw", scale="log_speed_ratio", mcid=math.log(1.2))
    six = mcid_source("6mwt", scale="log_distance_ratio", mcid=math.log(1.08))
    assert "Oosterveer" in six and "20 m" in six and "4%" in six


def test_borrowing_labels():
    ext = [{"dataset": "petrou2020", "discount": 0.5, "endpoints": ["t25fw"]}]
    assert borrowing_label([]) == "none"
    assert borrowing_of("summary_log", "t25fw", ext) == "petrou2020(w=0.5)"
    assert borrowing_of("summary_log", "6mwt", ext) == "none"
    assert borrowing_of("summary_log", "6mwt", ext, endpoint_correlation=0.3) == "petrou2020(w=0.5)"
    assert borrowing_of("binary", "t25fw", ext) == "none"


def test_label_tables_give_every_row_its_status():
    s = pd.DataFrame({"model": ["m", "m", "p"], "prior": "n", "endpoint": "t25fw",
                      "population": ["a", "b", "a"], "scale": "log_speed_ratio",
                      "mcid": math.log(1.2), "status": ["prediction", "estimate", "synthetic"]})
    rvs = pd.DataFrame({"model": ["m", "p"], "prior": "n", "endpoint": "t25fw",
                        "population": ["b", "a"], "raw_mean": [0.1, 0.2]})
    ppc = pd.DataFrame({"model": ["m", "p"], "prior": "n", "variable": "y", "observed": [1, 2]})
    s2, rvs2, ppc2 = label_tables(s, rvs, ppc, borrowing={("m", "t25fw"): "x(w=0.5)"})
    assert list(rvs2["status"]) == ["estimate", "synthetic"]
    assert list(ppc2["status"]) == ["observed", "synthetic"]
    assert list(s2["borrowing"]) == ["x(w=0.5)", "x(w=0.5)", "none"]
    assert list(rvs2["borrowing"]) == ["x(w=0.5)", "none"]
    assert set(s2["mcid_source"].map(mcid_kind)) == {"published"}


# ----------------------------------------------------------------------------- figures
def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for lg in fig.legends:
        out += [t.get_text() for t in lg.get_texts()]
    for ax in fig.axes:
        out += [ax.get_title(loc=k) for k in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        out += [t.get_text() for t in ax.texts]
        if ax.get_legend() is not None:
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return [t for t in out if t]


def test_forest_never_calls_synthetic_or_external_data_published():
    t = pd.DataFrame([
        dict(endpoint="t25fw", population="edss_6.0-6.5", prior="", kind="raw", estimate=0.4,
             lower=0.1, upper=0.7, status="synthetic"),
        dict(endpoint="t25fw", population="edss_6.0-6.5", prior="neutral", kind="shrunk",
             estimate=0.3, lower=0.1, upper=0.5, status="synthetic"),
        dict(endpoint="t25fw", population="edss_3.0-5.5", prior="", kind="raw", estimate=np.nan,
             lower=np.nan, upper=np.nan, status="prediction"),
        dict(endpoint="t25fw", population="edss_3.0-5.5", prior="neutral", kind="shrunk",
             estimate=0.2, lower=-0.4, upper=0.8, status="prediction"),
        dict(endpoint="t25fw", population="petrou2020/t25fw/all", prior="", kind="raw",
             estimate=0.17, lower=0.07, upper=0.27, status="external"),
    ])
    t["borrowing"] = "petrou2020(w=0.5)"
    fig = plot_forest(t, mcid={"t25fw": 0.18}, scale={"t25fw": "log_speed_ratio"})
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert "published (raw)" not in legend
    assert "synthetic data (not evidence)" in legend
    assert "prediction (no data)" in legend
    assert "external study (borrowed evidence)" in legend
    ticks = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    assert any("SYNTHETIC" in x for x in ticks) and any("prediction, no data" in x for x in ticks)
    assert "borrow petrou2020(w=0.5)" in fig.axes[0].get_title(loc="left")
    # the synthetic raw point is drawn open (white face), not as the black published square
    raw = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "raw_point"]
    faces = sorted(str(ln.get_markerfacecolor()) for ln in raw)
    assert "white" in faces


def test_sensitivity_series_keep_their_status():
    t = pd.DataFrame({"endpoint": "t25fw", "population": ["a", "a", "b", "b"],
                      "prior": ["skeptical", "neutral"] * 2, "mean": [0.1, 0.2, 0.3, 0.4],
                      "lower": -0.1, "upper": 0.8,
                      "status": ["prediction"] * 2 + ["synthetic"] * 2})
    fig = plot_prior_sensitivity(t, mcid={"t25fw": 0.18}, mcid_note="analogue, not a published MCID")
    legend = [x.get_text() for x in fig.legends[0].get_texts()]
    assert "a (prediction, no data)" in legend
    assert "b (synthetic data, not evidence)" in legend
    assert "MCID (analogue, not a published MCID)" in legend


# ----------------------------------------------------------------------------- the walk
class _Rows(HTMLParser):
    """Text of every <tr> of every table, with the table id."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[str, str]] = []
        self._table = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id", "")
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append((self._table or "", " | ".join(self._row)))
            self._row = None

    def handle_data(self, data):
        if self._row is not None:
            self._row.append(data)


def _capture(monkeypatch) -> dict[str, list[str]]:
    """Record every figure's text as the report saves it."""
    seen: dict[str, list[str]] = {}
    orig = build_mod.save_figure

    def spy(fig, out_dir, stem, **kw):
        seen[stem] = _texts(fig)
        return orig(fig, out_dir, stem, **kw)

    monkeypatch.setattr(build_mod, "save_figure", spy)
    return seen


def _labels(fit_dir: Path) -> tuple[set[str], dict[tuple[str, str, str], str]]:
    s = pd.read_csv(fit_dir / "summary.csv")
    synth = set(s.loc[s["status"] == "synthetic", "model"].astype(str))
    status = {(str(r.model), str(r.endpoint), str(r.population)): str(r.status)
              for r in s.itertuples()}
    return synth, status


def _pop(p: str) -> str:
    return "EDSS " + p[5:].replace("-", "\u2013") if p.startswith("edss_") else p


def walk(out: Path, fit_dir: Path, figures: dict[str, list[str]], *, synthetic_shown: bool) -> list[str]:
    """Every problem found in a report folder (empty list = honest)."""
    synth, status = _labels(fit_dir)
    preds = {k for k, v in status.items() if v == "prediction"}
    problems: list[str] = []
    # --- CSV tables: a row of a synthetic model or a predicted stratum carries its status
    for f in sorted((out / "tables").glob("*.csv")):
        df = pd.read_csv(f)
        if "model" not in df.columns:
            continue
        for i, r in df.iterrows():
            m = str(r["model"])
            st = str(r.get("status", ""))
            if m in synth:
                if not synthetic_shown:
                    problems.append(f"{f.name} row {i}: synthetic model {m} in a default report")
                elif "synthetic" not in st:
                    problems.append(f"{f.name} row {i}: synthetic model {m} without status ({st!r})")
            ep, pop = str(r.get("endpoint", "")), str(r.get("population", ""))
            ep = {v: k for k, v in ENDPOINTS.items()}.get(ep, ep)
            pops = {pop} | {p for (_, _, p) in preds if _pop(p) == pop}
            if any((m, ep, p) in preds for p in pops):
                if "prediction" not in st:
                    problems.append(f"{f.name} row {i}: prediction without status ({st!r})")
                for c in ("p_benefit", "p_mcid", "P(benefit)", "P(>MCID)"):
                    if c in df.columns and re.search(r"\d", str(r[c])) and pd.notna(r[c]):
                        problems.append(f"{f.name} row {i}: probability {r[c]!r} for a prediction")
            if "borrowing" not in df.columns and f.stem.startswith(("reanalysis", "raw_vs", "sensitivity")):
                problems.append(f"{f.name}: no borrowing column")
        if f.stem.startswith("reanalysis") and not ({"mcid_source", "MCID source"} & set(df.columns)):
            problems.append(f"{f.name}: no MCID source column")
    # --- figures
    for stem, texts in figures.items():
        joined = "\n".join(texts)
        model = next((m for m in synth if f"_{m}" in stem), None)
        if model is not None:
            if not synthetic_shown:
                problems.append(f"figure {stem}: synthetic model drawn in a default report")
            if "published" in joined:
                problems.append(f"figure {stem}: synthetic data labelled 'published'")
            if "SYNTHETIC" not in joined and "synthetic data" not in joined:
                problems.append(f"figure {stem}: no synthetic label")
        # a stratum predicted (no data) wherever it appears: every text naming it says so
        for (m, _e, pp) in preds:
            if f"_{m}" not in stem or any(v != "prediction" for (mm, _, q), v in status.items()
                                          if mm == m and q == pp):
                continue
            for t in texts:
                if _pop(pp) in t and "prediction" not in t:
                    problems.append(f"figure {stem}: {t!r} names a predicted stratum without "
                                    "'prediction'")
        if re.search(r"P\(benefit\) = 1\.00|= 0\.00\b", joined):
            problems.append(f"figure {stem}: probability printed as 0/1")
    # --- HTML table rows
    p = _Rows()
    p.feed((out / "report.html").read_text(encoding="utf-8"))
    for table, row in p.rows:
        if not table.startswith("table-") or table in ("table-provenance",):
            continue
        cells = [c.strip() for c in row.split("|")]
        if cells and cells[0] in synth and "synthetic" not in row:
            problems.append(f"HTML {table}: synthetic row without status: {row[:80]}")
        if "0.000 (0.000)" in row:
            problems.append(f"HTML {table}: '0.000 (0.000)' printed")
    # --- the text
    text = (out / "statistical_considerations.md").read_text(encoding="utf-8")
    problems += _walk_text(text, synth, status, synthetic_shown=synthetic_shown)
    for f in (out / "tables").glob("*.md"):
        if "0.000 (0.000)" in f.read_text(encoding="utf-8"):
            problems.append(f"{f.name}: '0.000 (0.000)' printed")
    return problems


def _walk_text(text: str, synth: set[str], status: dict, *, synthetic_shown: bool) -> list[str]:
    problems = []
    if "0.000 (0.000)" in text or re.search(r"P\(benefit\) = 1\.00", text):
        problems.append("text: a 0/1 probability printed as a number")
    model = None
    models = {m for (m, _, _) in status}
    for ln in text.splitlines():
        head = re.match(r"\*\*Model (\S+), ", ln) or re.search(r"analysis of model (\S+) ", ln)
        if head:
            model = head.group(1)
        if ln.startswith("## ") and not ln.startswith("## Re-analysis"):
            model = None
        if not ln.startswith("- "):
            continue
        first = ln[2:].split(",")[0]
        m = first if first in models else model
        if m is None:
            continue
        hits = [(e, p) for (mm, e, p) in status if mm == m
                and f"{ENDPOINTS.get(e, e)}, {_pop(p)}" in ln]
        for e, p in hits:
            st = status[(m, e, p)]
            if st == "prediction":
                if "PREDICTION" not in ln:
                    problems.append(f"text: prediction without label: {ln[:90]}")
                if any(w in ln for w in PROB_WORDS):
                    problems.append(f"text: probability given for a prediction: {ln[:90]}")
            if st == "synthetic":
                if not synthetic_shown:
                    problems.append(f"text: synthetic result in a default report: {ln[:90]}")
                elif "SYNTHETIC" not in ln:
                    problems.append(f"text: synthetic result without label: {ln[:90]}")
    return problems


@pytest.fixture(scope="module")
def fixture_reports(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    out = {}
    try:
        for shown in (False, True):
            figs = _capture(mp)
            d = tmp_path_factory.mktemp(f"rep_{shown}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build_report(fit_dir=FIT, sim_dir=TWO, out_dir=d, formats=("png",),
                             include_synthetic=shown)
            out[shown] = (d, dict(figs))
            mp.undo()
    finally:
        mp.undo()
    return out


@pytest.mark.parametrize("shown", [False, True])
def test_walk_report_from_fixtures(fixture_reports, shown):
    d, figs = fixture_reports[shown]
    assert figs, "no figure captured"
    assert walk(d, FIT, figs, synthetic_shown=shown) == []


def test_walker_catches_an_unlabelled_synthetic_row_and_a_prediction_probability(fixture_reports, tmp_path):
    """Negative control: the walk must fail when a label is stripped."""
    d, figs = fixture_reports[True]
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    t = pd.read_csv(bad / "tables" / "reanalysis.csv")
    t.loc[t["model"] == "patient", "status"] = "estimate"
    t.loc[t["status"] == "prediction", "p_benefit"] = "0.71"
    t.to_csv(bad / "tables" / "reanalysis.csv", index=False)
    text = (bad / "statistical_considerations.md").read_text()
    text = text.replace("[SYNTHETIC data, not evidence] ", "")
    (bad / "statistical_considerations.md").write_text(text)
    figs = dict(figs)
    figs["forest_patient"] = ["published (raw)", "T25FW"]
    figs["posterior_summary_t25fw_neutral"] = ["EDSS 3.0\u20135.5", "P(benefit) = 0.71"]
    problems = "\n".join(walk(bad, FIT, figs, synthetic_shown=True))
    assert "names a predicted stratum without 'prediction'" in problems
    assert "synthetic model patient without status" in problems
    assert "probability '0.71' for a prediction" in problems
    assert "synthetic result without label" in problems
    assert "forest_patient: synthetic data labelled 'published'" in problems


def test_default_report_leaves_synthetic_out_and_says_so(fixture_reports):
    d, figs = fixture_reports[False]
    assert not [s for s in figs if "patient" in s]
    html = (d / "report.html").read_text(encoding="utf-8")
    assert "--include-synthetic" in html
    text = (d / "statistical_considerations.md").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if "patient" in ln]
    assert lines and all("not reported here" in ln for ln in lines)
    assert not re.search(r"\d", " ".join(lines))


def test_predictions_get_no_probability_in_text_and_figures(fixture_reports):
    d, figs = fixture_reports[True]
    text = (d / "statistical_considerations.md").read_text(encoding="utf-8")
    pred_lines = [ln for ln in text.splitlines() if "EDSS 3.0\u20135.5" in ln and "summary" in ln
                  or ("PREDICTION" in ln and ln.startswith("- "))]
    assert pred_lines
    for ln in pred_lines:
        assert "PREDICTION" in ln and not any(w in ln for w in PROB_WORDS), ln
    post = figs["posterior_summary_t25fw_neutral"]
    assert "prediction (no data)" in post  # legend entry of the dashed line
    assert any("no probability given" in t for t in post)
    assert sum(t.startswith("P(benefit)") for t in post) == 1  # only the reported stratum


def test_borrowing_and_mcid_sources_are_disclosed(fixture_reports, tmp_path):
    d, figs = fixture_reports[False]
    text = (d / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "BORROWS external evidence from petrou2020 (power-prior weight 0.5)" in text
    assert "6MWT 0.0770 (documented choice, not a published MCID" in text
    assert "Hobart" in text and "Oosterveer" in text
    t = pd.read_csv(d / "tables" / "reanalysis.csv")
    assert set(t.loc[t["endpoint"] == "t25fw", "borrowing"]) == {"petrou2020(w=0.5)"}
    assert set(t.loc[t["endpoint"] == "6mwt", "mcid_source"].map(mcid_kind)) == {"documented choice"}
    assert any("not a published MCID" in x for x in figs["sensitivity_summary"])
    # an older fit without the borrowing column: read from the recorded fit config, noted
    old = tmp_path / "old_fit"
    shutil.copytree(FIT, old)
    s = pd.read_csv(old / "summary.csv").drop(columns=["borrowing", "mcid_source"])
    s.to_csv(old / "summary.csv", index=False)
    r = build_report(fit_dir=old, out_dir=tmp_path / "r", formats=("png",))
    t2 = pd.read_csv(r.parent / "tables" / "reanalysis.csv")
    assert set(t2.loc[t2["endpoint"] == "t25fw", "borrowing"]) == {"petrou2020(w=0.5)"}
    assert set(t2.loc[t2["endpoint"] == "6mwt", "borrowing"]) == {"none"}
    assert "read from the fit's recorded config" in html.unescape(r.read_text(encoding="utf-8"))


def test_zero_event_oc_prints_a_bound_from_n_sims(fixture_reports):
    d, _ = fixture_reports[False]
    ds = xr.open_dataset(TWO / "oc.nc")
    n = int(ds["n_sims"].max())
    ds.close()
    assert 3 / n <= 0.001  # 4000 sims: bound 0.00075 prints as < 0.001
    md = (d / "tables" / "oc_t25fw-two-arm-assurance.md").read_text(encoding="utf-8")
    assert f"< 0.001 (0 of {n})" in md
    for m in re.finditer(r"([<>]) (0\.\d+) \((\d+) of (\d+)\)", md):
        op, b, k, nn = m.group(1), float(m.group(2)), int(m.group(3)), int(m.group(4))
        assert (k / nn < b) if op == "<" else (k / nn > b)
        if k == 0:
            assert b >= 3 / nn


# ----------------------------------------------------------------------------- real fit
TINY_FIT = """\
name: labels-tiny
seed: 7
data:
  dataset: harris2024
  external:
    - {dataset: petrou2020, treatment_arm: it_msc, control_arm: sham, endpoints: [t25fw],
       discount: 0.5, between_study_sd: 0.5}
assumed_n:
  edss_6.0-6.5:
    t25fw: {msc_np: 12, saline: 10}
    6mwt: {msc_np: 12, saline: 12}
  edss_3.0-5.5:
    t25fw: {msc_np: 12, saline: 17}
    6mwt: {msc_np: 12, saline: 15}
models: [summary_log, patient]
priors: [neutral]
patient: {source: synthetic, allow_synthetic: true}
sensitivity: {subgroup_n: false, between_share: [], tau_prior_sd: []}
sampler: {draws: 200, tune: 200, prior_draws: 100, chains: 2, cores: 1}
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from msbayes.fit import load_fit_config, run_fit

    d = tmp_path_factory.mktemp("labels_fit")
    (d / "fit.yaml").write_text(TINY_FIT)
    cfg, text = load_fit_config(d / "fit.yaml")
    run_fit(cfg, out_dir=d / "fit", config_text=text, progress=False)
    return d


@pytest.mark.slow
@pytest.mark.parametrize("shown", [False, True])
def test_walk_a_real_fit_and_report(real_run, tmp_path, monkeypatch, shown):
    figs = _capture(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(fit_dir=real_run / "fit", out_dir=tmp_path / "r", formats=("png",),
                     include_synthetic=shown)
    assert walk(tmp_path / "r", real_run / "fit", figs, synthetic_shown=shown) == []
    text = (tmp_path / "r" / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "does not borrow external evidence; a sensitivity analysis borrowing from petrou2020" in text


@pytest.mark.slow
def test_every_fit_csv_row_carries_its_status(real_run):
    fit = real_run / "fit"
    for name in ("summary", "sensitivity", "raw_vs_shrunk", "ppc", "mcid_sensitivity"):
        df = pd.read_csv(fit / f"{name}.csv")
        assert "status" in df.columns, f"{name}.csv has no status column"
        assert "borrowing" in df.columns, f"{name}.csv has no borrowing column"
    assert "mcid_source" in pd.read_csv(fit / "summary.csv").columns


def test_design_prior_scenarios_carry_the_status_of_their_evidence(fixture_reports, tmp_path, monkeypatch):
    _, figs = fixture_reports[False]
    legend = figs["t25fw-two-arm-assurance_p_go_vs_n"]
    # fixture: scenario 'posterior' reads summary/neutral/t25fw/edss_6.0-6.5, which borrows
    assert "design prior: posterior (borrows petrou2020(w=0.5))" in legend
    sim = tmp_path / "sim_two_arm"
    shutil.copytree(TWO, sim)
    with xr.open_dataset(TWO / "oc.nc") as ds0:
        ds = ds0.load()
    ds.attrs["config_text"] = ds.attrs["config_text"].replace("population: edss_6.0-6.5",
                                                              "population: edss_3.0-5.5")
    (sim / "oc.nc").unlink()
    ds.to_netcdf(sim / "oc.nc")
    seen = _capture(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = build_report(fit_dir=FIT, sim_dir=sim, out_dir=tmp_path / "r", formats=("png",))
    assert ("design prior: posterior (prediction, no data; borrows petrou2020(w=0.5))"
            in seen["t25fw-two-arm-assurance_p_go_vs_n"])
    text = (r.parent / "statistical_considerations.md").read_text(encoding="utf-8")
    assert "PREDICTION (no data for this stratum" in text


def test_assumption_rows_say_what_the_simulation_did_with_each_design_prior(tmp_path):
    """A normal design prior is listed as a design prior (not 'fixed'), and a from_fit design
    prior whose unreported strata were set to no effect says so (oc.nc attr scenario_labels)."""
    import json

    import numpy as np
    import xarray as xr

    from msbayes.report.inputs import SimArtefacts
    from msbayes.report.text import _scenario_kind_of, _scenario_label_attr

    ds = xr.Dataset({"p_go": ("scenario", np.array([0.1, 0.2, 0.3]))},
                    coords={"scenario": ["null", "prior", "post"],
                            "scenario_kind": ("scenario", ["fixed", "design_prior", "design_prior"])},
                    attrs={"scenario_labels": json.dumps(
                        {"post": "no effect in unreported strata ['edss_3.0-5.5'] (fit predictions not used)"})})
    sim = SimArtefacts(path=tmp_path, name="s", ds=ds, provenance={})
    assert _scenario_kind_of(sim, "prior") == "design_prior"
    assert _scenario_kind_of(sim, "null") == "fixed"
    assert "no effect in unreported strata" in _scenario_label_attr(sim, "post")
    assert _scenario_label_attr(sim, "prior") == ""
