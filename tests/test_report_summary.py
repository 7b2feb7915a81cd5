"""The one-page operating-characteristics summary (tables/oc-summary_<design>.{csv,md,tex} and
its HTML section): the right scenario behind each row, values and MCSEs read from oc.nc at the
planned n, bounds for zero events, LaTeX escaping; and the report page around it (table of
contents, rendered statistical-considerations text, provenance once per artefact).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from msbayes.report import build_report  # noqa: E402
from msbayes.report.build import _view  # noqa: E402
from msbayes.report.inputs import load_sim  # noqa: E402
from msbayes.report.summary import SUMMARY_COLUMNS, latex_table, oc_summary  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "report"
TWO, DOSE = FIX / "sim_two_arm", FIX / "sim_dose"


def _summary(d: Path):
    return oc_summary(_view(load_sim(d)))


def test_two_arm_summary_rows_come_from_oc_nc_at_the_planned_n():
    df, head = _summary(TWO)
    assert list(df.columns) == SUMMARY_COLUMNS
    assert head["planned n per arm"] == "60" and head["design"] == "t25fw-two-arm-assurance"
    ds = xr.open_dataset(TWO / "oc.nc")
    cell = ds.sel({"design.n_per_arm": 60, "endpoint.sd": 0.35})
    by = {q: r for q, r in zip(df["quantity"], df.itertuples())}
    t1 = by["type I error, P(go) with no effect"]
    assert t1.estimate == pytest.approx(float(cell["p_go"].sel(scenario="null")))
    assert t1.MCSE == pytest.approx(float(cell["p_go_mcse"].sel(scenario="null")))
    pw = by["power, P(go) at the MCID"]
    assert pw.scenario == "effect at the MCID (20% faster walking)"
    assert pw.estimate == pytest.approx(float(cell["p_go"].sel(scenario="mcid")))
    assert "(MCSE " in pw.printed
    asr = by["assurance, P(go) under the design prior"]
    assert asr.scenario.startswith("design prior:")
    assert asr.estimate == pytest.approx(float(cell["p_go"].sel(scenario="posterior")))
    ds.close()


def test_zero_events_print_as_a_bound_with_the_count(tmp_path):
    ds = xr.open_dataset(TWO / "oc.nc").load()
    ds["p_go"].loc[{"scenario": "null"}] = 0.0
    d = tmp_path / "sim"
    d.mkdir()
    for f in TWO.iterdir():
        if f.name != "oc.nc":
            (d / f.name).write_bytes(f.read_bytes())
    ds.to_netcdf(d / "oc.nc")
    df, _ = _summary(d)
    txt = df.loc[df["quantity"].str.startswith("type I"), "printed"].iloc[0]
    n = int(ds["n_sims"].max())
    assert txt.startswith("< ") and txt.endswith(f"(0 of {n})")
    assert not re.search(r"\b0\.000\b", txt)


def test_dose_finding_summary_has_correct_dose_and_no_placebo_row():
    df, _ = _summary(DOSE)
    assert "P(correct dose selected)" in set(df["quantity"])
    assert df["quantity"].str.startswith("type I error").sum() == 1


def test_latex_escapes_and_is_a_tabular():
    tex = latex_table(pd.DataFrame({"quantity": ["P(go) ≥ 80% & n_1"], "value": ["< 0.002"]}))
    assert tex.startswith("\\begin{tabular}{ll}") and tex.rstrip().endswith("\\end{tabular}")
    assert r"$\geq$ 80\% \& n\_1" in tex and r"$<$ 0.002" in tex


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("summary_report")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = build_report(fit_dir=FIX / "fit", sim_dir=[TWO, DOSE], out_dir=out,
                            formats=("png",))
    return path


def test_summary_files_and_section_for_every_design(page):
    html = page.read_text(encoding="utf-8")
    for name in ("t25fw-two-arm-assurance", "msc-np-dose-finding"):
        t = page.parent / "tables"
        csv = pd.read_csv(t / f"oc-summary_{name}.csv")
        assert list(csv.columns) == SUMMARY_COLUMNS and len(csv) >= 3
        md = (t / f"oc-summary_{name}.md").read_text()
        assert "planned n per arm" in md and "| quantity | scenario | value (MCSE) |" in md
        tex = (t / f"oc-summary_{name}.tex").read_text()
        assert "\\begin{tabular}" in tex and "type I error" in tex
        assert f"id='summary-{name}'" in html and f"id='table-oc-summary-{name}'" in html


def test_toc_links_resolve_and_considerations_are_rendered(page):
    html = page.read_text(encoding="utf-8")
    toc = re.search(r"<nav id='toc'.*?</nav>", html, re.S).group(0)
    links = re.findall(r"href='#([^']+)'", toc)
    ids = set(re.findall(r"id='([^']+)'", html)) | set(re.findall(r'id="([^"]+)"', html))
    assert len(links) >= 8 and set(links) <= ids
    assert {"reanalysis", "statistical-considerations", "provenance"} <= set(links)
    cons = re.search(r"<div class='considerations' id='considerations-text'>(.*?)</div>", html,
                     re.S).group(1)
    assert "<table>" in cons and "<strong>" in cons and "**" not in cons
    assert "<pre class='considerations'" not in html
    assert (page.parent / "statistical_considerations.html").is_file()


def test_config_hash_is_a_footnote_not_on_every_row(page):
    text = (page.parent / "statistical_considerations.md").read_text(encoding="utf-8")
    for d in (TWO, DOSE):
        h = str(xr.open_dataset(d / "oc.nc").attrs["config_sha256"])[:12]
        assert text.count(h) == 1, h
    assert "\u2020 Config of sim" in text


def test_figures_use_plain_labels(page):
    # no internal config paths or scenario keys as axis names in the SVG-free PNG report:
    # check the captions, which name the axes as the figures do
    html = page.read_text(encoding="utf-8")
    caps = " ".join(re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S))
    assert "design.n_per_arm" not in caps and "endpoint.sd" not in caps
    assert "patients per arm" in caps
    assert "(band: \u00b12 MCSE)" not in html


def test_design_priors_come_from_the_simulation_sampler(page):
    from msbayes.report import compute
    from msbayes.report.text import parse_config_text

    ds = xr.open_dataset(TWO / "oc.nc")
    draws, note = compute.design_prior_draws(parse_config_text(ds.attrs["config_text"]),
                                             fit_files=[str(FIX / "fit" / "posterior.nc")],
                                             n_draws=4000, seed=1)
    kinds = dict(zip(map(str, ds["scenario"].values), map(str, ds["scenario_kind"].values)))
    assert set(draws) == {k for k, v in kinds.items() if v == "design_prior"}
    assert all(v.shape == (4000,) and np.isfinite(v).all() and v.std() > 0 for v in draws.values())
    ds.close()
    assert (page.parent / "figures" / "t25fw-two-arm-assurance_design_priors.png").is_file()
    assert "own sampler" in page.read_text(encoding="utf-8")


def test_designs_compared_at_equal_total_n(page):
    t = pd.read_csv(page.parent / "tables" / "designs_compared.csv")
    assert t["design"].nunique() == 2
    two = t[t["design"].str.contains("2 arms")]
    dose = t[t["design"].str.contains("4 arms")]
    # x is the total randomised: n per arm x arms, from each design's own grid
    assert set(two["x"]) == {2.0 * n for n in xr.open_dataset(TWO / "oc.nc")["design.n_per_arm"].values}
    assert set(dose["x"]) == {4.0 * n for n in xr.open_dataset(DOSE / "oc.nc")["design.n_per_arm"].values}
    ds = xr.open_dataset(TWO / "oc.nc").sel({"endpoint.sd": 0.35, "scenario": "mcid"})
    assert np.allclose(two.sort_values("x")["y"], ds["p_go"].values)
    assert (page.parent / "figures" / "designs_compared_p_go_at_mcid.png").is_file()
    assert "id='designs-compared'" in page.read_text(encoding="utf-8")


def test_config_labels_override_the_vocabulary(tmp_path):
    import yaml

    from msbayes.design.config import SimConfig

    ds = xr.open_dataset(TWO / "oc.nc").load()
    cfg = yaml.safe_load(ds.attrs["config_text"])
    cfg["labels"] = {"mcid": "smallest worthwhile effect", "design.n_per_arm": "patients per group"}
    SimConfig.model_validate({**cfg, "scenarios": {("null" if k is None else k): v
                                                   for k, v in cfg["scenarios"].items()}})
    ds.attrs["config_text"] = yaml.safe_dump(cfg, sort_keys=False)
    d = tmp_path / "sim_two_arm"
    d.mkdir()
    for f in TWO.iterdir():
        if f.name != "oc.nc":
            (d / f.name).write_bytes(f.read_bytes())
    ds.to_netcdf(d / "oc.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = build_report(sim_dir=d, out_dir=tmp_path / "r", formats=("svg",))
    svg = (r.parent / "figures" / "t25fw-two-arm-assurance_p_go_vs_n.svg").read_text()
    assert "smallest worthwhile effect" in svg and "patients per group" in svg
    assert "effect at the MCID" not in svg
    summ = pd.read_csv(r.parent / "tables" / "oc-summary_t25fw-two-arm-assurance.csv")
    assert "smallest worthwhile effect" in set(summ["scenario"])
