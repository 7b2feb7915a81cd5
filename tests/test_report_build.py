"""The report built from the contract fixtures (tests/fixtures/report/, made by
tests/fixtures/make_report_fixtures.py): self-contained HTML, figures, tables, the generated
statistical-considerations text (every number traced to an artefact), prediction / synthetic
statements, provenance, and the mismatch / missing-input messages.
"""

from __future__ import annotations

import base64
import re
import shutil
import struct
import warnings
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import typer  # noqa: E402
import xarray as xr  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from msbayes.report import ReportInputError, ReportMismatchWarning, build_report  # noqa: E402
from msbayes.report.cli import report_command  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "report"
FIT, TWO, DOSE = FIX / "fit", FIX / "sim_two_arm", FIX / "sim_dose"
NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")


class _Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.urls, self.tables = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href"):
            if k in a:
                self.urls.append(a[k])
        if tag == "table":
            self.tables.append(a.get("id"))


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        path = build_report(fit_dir=FIT, sim_dir=[TWO, DOSE], out_dir=out,
                            include_synthetic=True)
    return path, [w for w in rec if issubclass(w.category, ReportMismatchWarning)]


def _html(path):
    return path.read_text(encoding="utf-8")


def _png_size(b: bytes) -> tuple[int, int]:
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert b[12:16] == b"IHDR"
    return struct.unpack(">II", b[16:24])


def test_html_is_self_contained_and_images_are_pngs(full):
    path, mism = full
    assert not mism  # fixtures are linked by hash
    p = _Imgs()
    p.feed(_html(path))
    assert not [u for u in p.urls if re.match(r"\s*(https?:)?//", u)], "external URL in src/href"
    assert "<link" not in _html(path) and "<script src" not in _html(path)
    pngs = sorted((path.parent / "figures").glob("*.png"))
    assert len(p.imgs) == len(pngs) >= 10
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        w, h = _png_size(base64.b64decode(src.split(",", 1)[1], validate=True))
        assert w > 300 and h > 300


def test_figures_in_three_formats_at_300_dpi(full):
    figs = path = full[0].parent / "figures"
    stems = {p.stem for p in figs.glob("*.png")}
    for s in stems:
        for ext in ("svg", "pdf"):
            assert (path / f"{s}.{ext}").stat().st_size > 1000
        assert (path / f"{s}.pdf").read_bytes()[:5] == b"%PDF-"
        assert b"<svg" in (path / f"{s}.svg").read_bytes()[:2000]
        b = (path / f"{s}.png").read_bytes()
        i = b.index(b"pHYs")  # pixels per metre; 300 dpi = 11811 px/m
        ppm_x, ppm_y, unit = struct.unpack(">IIB", b[i + 4 : i + 13])
        assert unit == 1 and round(ppm_x * 0.0254) == 300 == round(ppm_y * 0.0254)
    assert {"posterior_summary_t25fw_neutral", "forest_summary", "sensitivity_summary", "ppc_summary",
            "t25fw-two-arm-assurance_p_go_vs_n", "t25fw-two-arm-assurance_heatmap_p_go_posterior",
            "msc-np-dose-finding_dose_response"} <= stems


def test_key_tables_present_with_artefact_values(full):
    path = full[0]
    html = _html(path)
    p = _Imgs()
    p.feed(html)
    assert "table-reanalysis" in p.tables and "table-sample-size-t25fw-two-arm-assurance" in p.tables
    assert "table-oc-t25fw-two-arm-assurance" in p.tables and "table-provenance" in p.tables
    ss = pd.read_csv(TWO / "sample_size.csv")
    m = re.search(r"<table id='table-sample-size-t25fw-two-arm-assurance'.*?</table>", html, re.S)
    for n in ss["n_per_arm"]:
        assert f"<td class='num'>{n}</td>" in m.group(0)
    tables = path.parent / "tables"
    for stem in ("reanalysis", "sample_size_t25fw-two-arm-assurance", "oc_t25fw-two-arm-assurance", "provenance"):
        assert (tables / f"{stem}.csv").is_file() and (tables / f"{stem}.md").is_file()
    re_t = pd.read_csv(tables / "reanalysis.csv")
    summ = pd.read_csv(FIT / "summary.csv")
    assert len(re_t) == len(summ) and np.allclose(re_t["mean"], summ["mean"])


def test_prediction_and_synthetic_statements(full):
    html = _html(full[0])
    assert re.search(r"class='prediction'>EDSS 3\.0\u20135\.5 \(T25FW\): the effect is a "
                     r"PREDICTION", html)
    assert "SYNTHETIC patient-level data" in html
    text = (full[0].parent / "statistical_considerations.md").read_text()
    assert "PREDICTION, not an estimate" in text and "SYNTHETIC DATA" in text


def test_statements_absent_when_all_strata_are_estimates(tmp_path):
    """Negative control for the statements; also: several estimands per stratum (the fit writes
    e.g. log_odds_ratio and risk_difference rows): figures and text use the effect row, the
    full table keeps all."""
    fit = tmp_path / "fit"
    shutil.copytree(FIT, fit)
    s = pd.read_csv(fit / "summary.csv")
    s["status"] = "estimate"
    extra = s[s.model == "patient"].assign(estimand="risk_difference", mean=9.99)
    pd.concat([s, extra]).to_csv(fit / "summary.csv", index=False)
    out = build_report(fit_dir=fit, sim_dir=None, out_dir=tmp_path / "r", formats=("png",))
    html = _html(out)
    assert "PREDICTION" not in html and "SYNTHETIC" not in html
    assert "9.99" not in (out.parent / "statistical_considerations.md").read_text()
    full = pd.read_csv(out.parent / "tables" / "reanalysis.csv")
    assert len(full) == len(s) + len(extra)


def test_provenance_of_each_artefact_shown(full):
    html = _html(full[0])
    post = xr.open_dataset(FIT / "posterior.nc", group="posterior")
    for attrs in (post.attrs, xr.open_dataset(TWO / "oc.nc").attrs,
                  xr.open_dataset(DOSE / "oc.nc").attrs):
        for k in ("config_sha256", "data_sha256", "msbayes_version"):
            assert str(attrs[k]) in html
        assert f"<td class='num'>{int(attrs['seed'])}</td>" in html
    post.close()


def _artefact_numbers() -> np.ndarray:
    """Every number in the artefacts (not the posterior draws): CSV cells and text, netCDF
    variables, coordinates and attrs (incl. config text), fit_meta.json, and the credible
    level implied by the quantile column names."""
    vals: list[float] = []
    for d in (FIT, TWO, DOSE):
        for f in d.glob("*.csv"):
            txt = f.read_text()
            vals += [float(x) for x in NUM.findall(txt)]
            df = pd.read_csv(f)
            vals += list(df.select_dtypes("number").to_numpy(float).ravel())
            qs = sorted(float(c[1:]) for c in df.columns if re.fullmatch(r"q\d+(\.\d+)?", c))
            if len(qs) >= 2:
                vals.append(qs[-1] - qs[0])
        for f in d.glob("*.json"):
            vals += [float(x) for x in NUM.findall(f.read_text())]
    groups = [xr.open_dataset(FIT / "posterior.nc", group="posterior")]
    groups[0] = groups[0].drop_vars("effect")
    groups += [xr.open_dataset(TWO / "oc.nc"), xr.open_dataset(DOSE / "oc.nc")]
    for ds in groups:
        for v in list(ds.data_vars) + list(ds.coords):
            a = ds[v].values
            if np.issubdtype(a.dtype, np.number):
                vals += list(np.asarray(a, float).ravel())
            else:
                for s in np.asarray(a).ravel():
                    vals += [float(x) for x in NUM.findall(str(s))]
        for k, v in ds.attrs.items():
            if isinstance(v, (int, float, np.number)):
                vals.append(float(v))
            else:
                vals += [float(x) for x in NUM.findall(str(v))]
        ds.close()
    a = np.asarray(vals, float)
    return np.unique(a[np.isfinite(a)])


def test_every_number_in_statistical_considerations_comes_from_artefacts(full):
    text = (full[0].parent / "statistical_considerations.md").read_text()
    # bounds ("< 0.001", "> 0.99": rule of three on n, not artefact values) are checked in
    # tests/test_status_labels.py
    nums = NUM.findall(re.sub(r"[<>] \d+(?:\.\d+)?", " ", text))
    assert len(nums) > 100
    art = _artefact_numbers()
    missing = []
    for t in [*nums, "123456.789"]:  # the last one must be reported missing (matcher check)
        d = len(t.split(".")[1]) if "." in t else 0
        tol = 0.5 * 10.0**-d * (1 + 1e-9)
        if not np.any(np.abs(art - float(t)) <= tol):
            missing.append(t)
    assert missing == ["123456.789"], f"numbers not found in any artefact: {missing[:-1]}"


def test_text_follows_the_artefacts_when_they_change(tmp_path):
    sim = tmp_path / "sim_two_arm"
    shutil.copytree(TWO, sim)
    ss = pd.read_csv(sim / "sample_size.csv")
    i = ss.index[(ss.scenario == "mcid") & np.isclose(ss["endpoint.sd"], 0.35)][0]
    ss.loc[i, ["n_per_arm", "achieved", "achieved_mcse"]] = [71, 0.8123, 0.0021]
    ss.to_csv(sim / "sample_size.csv", index=False)
    out = build_report(fit_dir=None, sim_dir=sim, out_dir=tmp_path / "r", formats=("png",),
                       slides=True)
    slide = out.parent / "figures" / "t25fw-two-arm-assurance_p_go_vs_n_slide.png"
    assert _png_size(slide.read_bytes()) == (3000, int(5.625 * 300))  # 10 x 5.625 in, 300 dpi
    text = (out.parent / "statistical_considerations.md").read_text()
    assert ("scenario mcid, power \u2265 0.80: n = 71 per arm (achieved 0.812, MCSE 0.0021) "
            "at endpoint.sd = 0.350.") in text
    html = _html(out)
    assert "<td class='num'>71</td>" in html
    assert "no fit dir was given" in html  # sim-only report: link not verifiable, said so


def test_non_monotone_search_is_flagged_in_the_text(tmp_path):
    sim = tmp_path / "sim_two_arm"
    shutil.copytree(TWO, sim)
    ss = pd.read_csv(sim / "sample_size.csv")
    ss["monotone"] = [False] + [True] * (len(ss) - 1)
    ss.to_csv(sim / "sample_size.csv", index=False)
    out = build_report(fit_dir=None, sim_dir=sim, out_dir=tmp_path / "r", formats=("png",))
    text = (out.parent / "statistical_considerations.md").read_text()
    assert text.count("WARNING: the metric was not monotone in n") == 1
    assert "monotone = " not in text  # the flag is not listed as a grid coordinate


def test_dose_curves_rebuilt_from_config_without_dose_response_csv(tmp_path):
    sim = tmp_path / "sim_dose"
    shutil.copytree(DOSE, sim)
    (sim / "dose_response.csv").unlink()
    out = build_report(fit_dir=None, sim_dir=sim, out_dir=tmp_path / "r", formats=("png",))
    html = _html(out)
    assert "curves rebuilt from the recorded config (400 draws per scenario; emax shape" in html
    assert "posterior_emax: effect distribution not reconstructed" in html  # no fit file recorded


def _mismatched_sim(tmp_path) -> Path:
    sim = tmp_path / "sim_two_arm"
    shutil.copytree(TWO, sim)
    with xr.open_dataset(TWO / "oc.nc") as ds0:
        ds = ds0.load()
    ds.attrs["fit_posterior_sha256"] = "0" * 64
    (sim / "oc.nc").unlink()
    ds.to_netcdf(sim / "oc.nc")
    return sim


def _small_fit(tmp_path) -> Path:
    """posterior.nc + a one-model summary.csv: fewer figures, same link check."""
    fit = tmp_path / "small_fit"
    fit.mkdir()
    shutil.copy(FIT / "posterior.nc", fit / "posterior.nc")
    s = pd.read_csv(FIT / "summary.csv")
    s[(s.model == "summary") & (s.prior == "neutral") & (s.endpoint == "t25fw")].to_csv(
        fit / "summary.csv", index=False)
    return fit


def test_mismatched_sim_warns_in_report_and_terminal(tmp_path):
    sim = _mismatched_sim(tmp_path)
    fit = _small_fit(tmp_path)
    with pytest.raises(ReportInputError, match="different fit"):
        build_report(fit_dir=fit, sim_dir=sim, out_dir=tmp_path / "e", on_mismatch="error")
    assert not (tmp_path / "e" / "report.html").exists()
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(app, ["report", "--fit", str(fit), "--sim", str(sim), "--out",
                                   str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "WARNING" in res.output and "different fit" in res.output
    assert res.output.strip().endswith(str(tmp_path / "r" / "report.html"))
    html = _html(tmp_path / "r" / "report.html")
    assert "class='warning mismatch'" in html and "MISMATCH: sim t25fw-two-arm-assurance" in html


def test_mismatch_warning_category(tmp_path):
    sim = _mismatched_sim(tmp_path)
    with pytest.warns(ReportMismatchWarning, match="0000000000"):
        build_report(fit_dir=_small_fit(tmp_path), sim_dir=sim, out_dir=tmp_path / "r",
                     formats=("png",))


def _cli(args):
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("noop")(lambda: None)
    return CliRunner().invoke(app, ["report", *args])


@pytest.mark.parametrize("remove,match", [("posterior.nc", "posterior.nc not found"),
                                          ("summary.csv", "summary.csv not found")])
def test_missing_fit_file_is_a_clear_error(tmp_path, remove, match):
    fit = tmp_path / "fit"
    shutil.copytree(FIT, fit)
    (fit / remove).unlink()
    with pytest.raises(ReportInputError, match=match):
        build_report(fit_dir=fit, sim_dir=None, out_dir=tmp_path / "r")
    res = _cli(["--fit", str(fit), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and match in res.output


def test_bad_inputs_exit_2(tmp_path):
    res = _cli(["--out", str(tmp_path)])
    assert res.exit_code == 2 and "--fit" in res.output
    res = _cli(["--sim", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "sim dir not found" in res.output
    (tmp_path / "afile").write_text("x")
    res = _cli(["--sim", str(TWO), "--out", str(tmp_path / "afile")])
    assert res.exit_code == 2 and "--out" in res.output and "not a folder" in res.output
    (tmp_path / "empty").mkdir()
    res = _cli(["--sim", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "oc.nc not found" in res.output
    bad = tmp_path / "badsum"
    shutil.copytree(FIT, bad)
    pd.read_csv(FIT / "summary.csv").drop(columns="p_mcid").to_csv(bad / "summary.csv", index=False)
    with pytest.raises(ReportInputError, match=r"missing column\(s\) \['p_mcid'\]"):
        build_report(fit_dir=bad, sim_dir=None, out_dir=tmp_path / "r")
    with pytest.raises(ReportInputError, match="formats"):
        build_report(fit_dir=FIT, sim_dir=None, out_dir=tmp_path / "r", formats=("gif",))


def test_mcid_taken_from_the_summary_row_when_recorded():
    from msbayes.report.build import _mcid

    rows = pd.DataFrame({"endpoint": ["t25fw"], "scale": ["log_speed_ratio"], "mcid": [0.25]})
    assert _mcid(rows, "t25fw", "log_speed_ratio", {}) == 0.25
    assert _mcid(rows.drop(columns="mcid"), "t25fw", "log_speed_ratio",
                 {"mcid": {"t25fw": 0.2}}) == 0.2


def test_power_plot_targets_match_the_shown_slice():
    from msbayes.report.build import _targets
    from msbayes.report.inputs import load_sim

    sim = load_sim(TWO)
    ss = pd.read_csv(TWO / "sample_size.csv")
    tg = _targets(sim, "p_reject", {"endpoint.sd": 0.35})
    exp = ss[np.isclose(ss["endpoint.sd"], 0.35)]
    assert sorted(tg["n"]) == sorted(exp["n_per_arm"])  # power and assurance rows, this SD only
    assert set(tg["group"]) == {"mcid", "posterior"}
    assert _targets(sim, "p_go", {"endpoint.sd": 0.35}) is None  # metrics map to p_reject here


def test_reused_out_dir_keeps_no_stale_outputs_and_no_user_file_is_touched(tmp_path):
    out_dir = tmp_path / "r"
    build_report(fit_dir=None, sim_dir=[TWO, DOSE], out_dir=out_dir, formats=("png",))
    dose_figs = sorted((out_dir / "figures").glob("msc-np-dose-finding_*.png"))
    assert dose_figs, "the two-sim report should have written dose figures"
    user_file = out_dir / "figures" / "my_notes.txt"
    user_file.write_text("mine")
    build_report(fit_dir=None, sim_dir=TWO, out_dir=out_dir, formats=("png",))
    assert not any(p.exists() for p in dose_figs), "figures of the dropped sim run remain"
    assert not list((out_dir / "tables").glob("msc-np-dose-finding_*")), "tables of the dropped sim remain"
    assert list((out_dir / "figures").glob("t25fw-two-arm-assurance_*.png"))
    assert user_file.read_text() == "mine"
    listed = (out_dir / "report_manifest.txt").read_text().split()
    on_disk = sorted(p.relative_to(out_dir).as_posix()
                     for d in ("figures", "tables") for p in (out_dir / d).iterdir())
    assert sorted(r for r in listed if "/" in r) == [r for r in on_disk if r != "figures/my_notes.txt"]
    # a manifest line pointing outside figures/ or tables/ is never acted on
    outside = tmp_path / "keep.txt"
    outside.write_text("x")
    manifest = out_dir / "report_manifest.txt"
    manifest.write_text(manifest.read_text() + "figures/../../keep.txt\n../keep.txt\nfigures/my_notes.txt/..\n")
    build_report(fit_dir=None, sim_dir=TWO, out_dir=out_dir, formats=("png",))
    assert outside.read_text() == "x" and user_file.read_text() == "mine"


def test_file_names_come_from_the_design_name_and_same_names_do_not_overwrite(tmp_path):
    """Figure/table names and HTML ids follow the design config's ``name`` whatever the output
    folder is called; a second design with the same name gets ``-2`` instead of overwriting."""
    a, b = tmp_path / "results" / "first_folder", tmp_path / "elsewhere" / "other"
    shutil.copytree(TWO, a)
    shutil.copytree(TWO, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = build_report(sim_dir=[a, b], out_dir=tmp_path / "r", formats=("png",))
    figs = {p.stem for p in (out.parent / "figures").glob("*.png")}
    tabs = {p.stem for p in (out.parent / "tables").glob("oc_*.csv")}
    name = "t25fw-two-arm-assurance"
    assert tabs == {f"oc_{name}", f"oc_{name}-2"}
    assert {f"{name}_p_go_vs_n", f"{name}-2_p_go_vs_n"} <= figs
    assert not any("first_folder" in s or "other" in s for s in figs | tabs)
    html = _html(out)
    assert f"id='sim-{name}'" in html and f"id='sim-{name}-2'" in html
    ids = re.findall(r"id='([^']+)'", html)
    assert len(ids) == len(set(ids)), "duplicate HTML ids"
