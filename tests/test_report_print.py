"""The report as a reviewer prints it: Chromium's print-to-PDF of report.html gives A4 pages
with every section present, and at the printed page width (A4 less the @page margins) no
table is wider than the page, every image decodes and every table-of-contents link points at a
section of the page. Skipped when /usr/bin/chromium is missing.

The print layout is measured by rendering the page with its print rules applied to the screen
(``@media print`` -> ``@media all``) in a window as wide as the printed text block, and a
small script records what overflows; the PDF itself is printed by Chromium and read back with
pdfinfo / pdftotext (poppler-utils; those checks are skipped when they are missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from msbayes.report import build_report  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "report"
CHROMIUM = os.environ.get("MSBAYES_CHROMIUM", "/usr/bin/chromium")
#: A4 (210 mm) less the 12 mm left and right @page margins, at 96 px per inch
PRINT_WIDTH_PX = round((210 - 24) / 25.4 * 96)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)),
                       reason=f"chromium not found at {CHROMIUM}"),
]

_PROBE = """
<script>
window.addEventListener("load", function () {
  var limit = document.body.getBoundingClientRect().right + 1;
  var wide = [];
  document.querySelectorAll("table").forEach(function (t, i) {
    var r = t.getBoundingClientRect();
    var w = t.closest(".table-wrap");
    if (r.right > limit || (w && w.scrollWidth > w.clientWidth + 1)) {
      wide.push(t.id || ("table" + i));
    }
  });
  var bad = [];
  document.querySelectorAll("nav#toc a").forEach(function (a) {
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    if (!document.getElementById(id)) { bad.push(id); }
  });
  document.body.setAttribute("data-wide-tables", wide.join(" "));
  document.body.setAttribute("data-toc-links", String(document.querySelectorAll("nav#toc a").length));
  document.body.setAttribute("data-toc-broken", bad.join(" "));
  document.body.setAttribute("data-body-width", String(Math.round(limit - 1)));
});
</script>
"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chromium-profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("print_report")
    return build_report(fit_dir=FIX / "fit", sim_dir=[FIX / "sim_two_arm", FIX / "sim_dose"],
                        out_dir=out, formats=("png",))


def _print_layout_dom(report: Path, tmp: Path, html: str | None = None) -> str:
    html = report.read_text(encoding="utf-8") if html is None else html
    html = html.replace("@media print", "@media all").replace("</body>", _PROBE + "</body>")
    p = tmp / "print_layout.html"
    p.write_text(html, encoding="utf-8")
    res = _chromium(tmp, f"--window-size={PRINT_WIDTH_PX},1200", "--virtual-time-budget=10000",
                    "--dump-dom", p.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    return re.search(r"<body[^>]*>", res.stdout).group(0)


def test_print_layout_has_no_wide_table_and_toc_links_resolve(report, tmp_path):
    body = _print_layout_dom(report, tmp_path)
    assert int(re.search(r'data-body-width="(\d+)"', body).group(1)) <= PRINT_WIDTH_PX
    assert re.search(r'data-wide-tables="([^"]*)"', body).group(1) == ""
    assert int(re.search(r'data-toc-links="(\d+)"', body).group(1)) >= 8
    assert re.search(r'data-toc-broken="([^"]*)"', body).group(1) == ""
    assert 'data-images-loaded="true"' in body
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_probe_detects_a_wide_table(report, tmp_path):
    # negative control: a table forced wider than the page is reported, a broken TOC link too
    html = report.read_text(encoding="utf-8").replace(
        "</body>", "<div class='table-wrap'><table id='too-wide' style='width:3000px'><tr><td>x"
        "</td></tr></table></div><nav id='toc'><a href='#nowhere'>x</a></nav></body>", 1)
    body = _print_layout_dom(report, tmp_path, html)
    assert "too-wide" in re.search(r'data-wide-tables="([^"]*)"', body).group(1)
    assert "nowhere" in re.search(r'data-toc-broken="([^"]*)"', body).group(1)
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_print_to_pdf_gives_a4_pages_with_every_section(report, tmp_path):
    pdf = tmp_path / "report.pdf"
    res = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                    "--virtual-time-budget=10000", report.resolve().as_uri())
    assert res.returncode == 0 and pdf.is_file() and pdf.stat().st_size > 50_000, res.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdfinfo, pdftotext) not installed")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 5
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (round(w), round(h)) == (595, 842)  # A4 portrait, from the report's @page rule
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = re.sub(r"\s+", " ", text)
    for heading in ("Contents", "Re-analysis of the previous trial",
                    "Operating-characteristics summary", "Statistical considerations",
                    "Provenance"):
        assert heading in flat, heading
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
