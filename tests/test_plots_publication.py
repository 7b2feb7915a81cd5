"""Publication output and the shared vocabulary: TrueType (Type 42) fonts in PDF, editable
<text> in SVG, 300-dpi PNG, journal sizes, the role colour mapping, plain-language labels,
and the decision figures (stacked go / consider / no-go, go boundary, assurance ceiling).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from msbayes.plots import style  # noqa: E402
from msbayes.plots.decision import plot_assurance, plot_decision_areas, plot_go_boundary  # noqa: E402
from msbayes.report.figures import save_figure  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _fig():
    with style.style_context("column"):
        fig, (ax,) = style.new_figure(1, 1, size="column")
        ax.plot([0, 1], [0, 1], label="curve")
        ax.set_xlabel("patients per arm")
        ax.set_ylabel("P(go)")
    return fig


def _pdf_font_subtypes(pdf: bytes) -> set[str]:
    """Font subtypes named in the PDF, including inside compressed object streams."""
    chunks = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    out = set()
    for c in chunks:
        for m in re.finditer(rb"/Type\s*/Font\b(.{0,400})", c, re.S):
            sub = re.search(rb"/Subtype\s*/(\w+)", m.group(0))
            if sub:
                out.add(sub.group(1).decode())
    return out


def test_pdf_fonts_are_truetype_and_svg_text_is_editable(tmp_path):
    png, paths = save_figure(_fig(), tmp_path, "demo")
    pdf = (tmp_path / "demo.pdf").read_bytes()
    kinds = _pdf_font_subtypes(pdf)
    # Type 42: TrueType outlines, embedded as TrueType or as a CID TrueType (CIDFontType2)
    assert kinds and "Type3" not in kinds, kinds
    assert kinds <= {"TrueType", "CIDFontType2", "Type0"}, kinds
    if shutil.which("pdffonts"):
        res = subprocess.run(["pdffonts", str(tmp_path / "demo.pdf")], capture_output=True,
                             text=True, check=True)
        rows = res.stdout.splitlines()[2:]
        assert rows and all("TrueType" in r and "Type 3" not in r for r in rows), res.stdout
        assert all(" yes " in r for r in rows)  # embedded
    svg = (tmp_path / "demo.svg").read_text()
    assert "<text" in svg and "patients per arm" in svg
    # 300 dpi: 3.5 in wide -> 1050 px
    import struct
    w, _ = struct.unpack(">II", png[16:24])
    assert w == 1050


def test_journal_sizes():
    assert style.SIZES["column"][0] == 3.5 and style.SIZES["two_column"][0] == 7.2
    fig, axes = style.new_figure(1, 2, size="two_column")
    assert fig.get_size_inches()[0] == pytest.approx(7.2)


def test_role_mapping_gives_each_role_its_own_channel():
    sc = style.scenario_style(["fixed", "fixed", "design_prior", "design_prior"])
    # fixed scenarios and design priors never share a colour; design priors are dashed
    assert {s["color"] for s in sc[:2]}.isdisjoint({s["color"] for s in sc[2:]})
    assert [s["ls"] for s in sc] == ["-", "-", "--", "--"]
    assert len({s["marker"] for s in sc}) == 4
    # the MCID / zero / target lines are grey, never a data colour
    for ref in style.REFERENCE.values():
        assert ref["color"] not in style.OKABE_ITO
    assert len(set(style.PRIOR_COLOURS.values())) == 3
    assert set(style.PRIOR_COLOURS.values()).isdisjoint(style.SCENARIO_COLOURS)
    assert set(style.DESIGN_PRIOR_COLOURS) <= set(style.OKABE_ITO)


def test_plain_language_labels():
    assert style.scenario_label("mcid", effect=np.log(1.2), scale="log_speed_ratio") == \
        "effect at the MCID (20% faster walking)"
    assert style.scenario_label("null", effect=0.0, scale="log_speed_ratio") == "no effect"
    assert style.axis_label("design.dose_response.ed50",
                            dose_unit="million cells per injection") == \
        "ED50 (million cells per injection)"
    assert style.axis_label("endpoint.sd", scale="log_speed_ratio") == \
        "SD of the log speed ratio"
    assert style.axis_label("endpoint.sd", overrides={"endpoint.sd": "SD"}) == "SD"


def test_decision_areas_stack_to_one():
    x = [30, 60, 90]
    t = pd.DataFrame({"group": ["no effect"] * 3 + ["at the MCID"] * 3, "x": x * 2,
                      "go": [0.01, 0.02, 0.02, 0.3, 0.5, 0.7],
                      "consider": [0.2, 0.1, 0.05, 0.3, 0.2, 0.1]})
    t["nogo"] = 1 - t["go"] - t["consider"]
    fig = plot_decision_areas(t, x_label="patients per arm")
    ax = fig.axes[0]
    assert [c.get_gid() for c in ax.collections] == ["area_go", "area_consider", "area_nogo"]
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(1.0)
    assert ax.get_title(loc="left") == "no effect" and ax.get_xlabel() == "patients per arm"
    assert ax.get_ylabel() == "probability of each decision"
    leg = [t.get_text() for t in fig.legends[0].get_texts()]
    assert leg == ["go", "consider", "no-go"]


def test_go_boundary_and_assurance_ceiling():
    b = pd.DataFrame({"x": [30, 60, 120], "boundary": [0.32, 0.25, 0.2]})
    ax = plot_go_boundary(b, x_label="patients per arm", y_label="observed log speed ratio",
                          mcid=0.18)
    (ln,) = [l for l in ax.get_lines() if l.get_gid() == "boundary"]
    assert np.all(np.diff(ln.get_ydata()) < 0)  # shrinks with n
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MCID"]
    a = pd.DataFrame({"group": ["posterior"] * 3, "x": [30, 60, 120], "y": [0.06, 0.1, 0.14],
                      "lower": [0.05, 0.09, 0.13], "upper": [0.07, 0.11, 0.15],
                      "ceiling": [0.22] * 3})
    ax = plot_assurance(a, x_label="patients per arm")
    (c,) = [l for l in ax.get_lines() if l.get_gid() == "ceiling"]
    assert np.allclose(c.get_ydata(), 0.22)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        ["posterior", "ceiling (infinite trial)"]
    assert ax.get_ylim()[1] >= 0.22


def test_design_priors_side_by_side():
    from msbayes.plots.decision import plot_design_priors
    from msbayes.report import compute

    rng = np.random.default_rng(1)
    draws = {"design prior: posterior": rng.normal(0.1, 0.1, 2000),
             "design prior: robust": np.r_[rng.normal(0.1, 0.1, 1600), rng.normal(0, 0.5, 400)]}
    dens = compute.density_table(draws)
    fig = plot_design_priors(dens, x_label="true effect (log speed ratio; positive = faster)",
                             mcid=0.18, threshold=0.18,
                             notes={"design prior: robust": "assurance ceiling 0.25 (MCSE 0.01)"})
    a, b = fig.axes
    assert a.get_shared_x_axes().joined(a, b)  # one effect axis for both priors
    assert a.get_title(loc="left") == "design prior: posterior"
    assert b.get_title(loc="left").endswith("assurance ceiling 0.25 (MCSE 0.01)")
    (ca,), (cb,) = ([ln for ln in ax.get_lines() if ln.get_gid() == "design_prior"] for ax in (a, b))
    assert ca.get_color() != cb.get_color()
    # the robust prior has heavier tails: more density far from the centre
    far = np.abs(ca.get_xdata() - 0.1) > 0.6
    assert cb.get_ydata()[far].max() > 5 * ca.get_ydata()[far].max()
    # threshold equal to the MCID: one line, one legend entry saying so
    assert not [ln for ln in a.get_lines() if ln.get_gid() == "threshold"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == \
        ["MCID = the true effect a go needs as n grows"]


def test_designs_compared_told_apart_by_line_style():
    from msbayes.plots.decision import plot_designs_compared

    t = pd.DataFrame({"design": ["two-arm"] * 3 + ["3 doses"] * 3, "x": [60, 120, 180] * 2,
                      "y": [0.2, 0.35, 0.5, 0.3, 0.5, 0.65]})
    t["lower"], t["upper"] = t.y - 0.02, t.y + 0.02
    ax = plot_designs_compared(t, y_label="P(go) when the true effect = MCID")
    a, b = [ln for ln in ax.get_lines() if ln.get_gid() == "design_curve"]
    assert a.get_linestyle() != b.get_linestyle() and a.get_marker() != b.get_marker()
    assert ax.get_xlabel() == "total patients randomised"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["two-arm", "3 doses"]
