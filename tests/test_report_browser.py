"""Render the report in headless Chromium: it loads offline, every embedded image decodes
(naturalWidth > 0, reported by the report's own inline script through a body attribute read
back with --dump-dom), the key tables are in the rendered DOM, and a screenshot is kept in
test-artifacts/report_screenshot.png. A report with a corrupted image is detected (negative
control). Skipped cleanly when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import pytest  # noqa: E402

from msbayes.report import build_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "report"
CHROMIUM = os.environ.get("MSBAYES_CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)),
                       reason=f"chromium not found at {CHROMIUM}"),
]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chromium-profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser_report")
    return build_report(fit_dir=FIX / "fit", sim_dir=[FIX / "sim_two_arm", FIX / "sim_dose"],
                        out_dir=out, formats=("png",))


def _dom(tmp: Path, html: Path) -> str:
    res = _chromium(tmp, "--virtual-time-budget=10000", "--dump-dom", html.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_report_renders_all_images_and_tables(report, tmp_path):
    dom = _dom(tmp_path, report)
    body = re.search(r"<body[^>]*>", dom).group(0)
    total = int(re.search(r'data-images-total="(\d+)"', body).group(1))
    ok = int(re.search(r'data-images-ok="(\d+)"', body).group(1))
    assert total == len(list((report.parent / "figures").glob("*.png"))) >= 10
    assert ok == total and 'data-images-loaded="true"' in body
    for tid in ("table-reanalysis", "table-sample-size-t25fw-two-arm-assurance", "table-oc-t25fw-two-arm-assurance",
                "table-provenance"):
        assert f'id="{tid}"' in dom
    assert "Statistical considerations" in dom

    art = ROOT / "test-artifacts"
    art.mkdir(exist_ok=True)
    shot = art / "report_screenshot.png"
    shot.unlink(missing_ok=True)
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000",
                    "--virtual-time-budget=10000", "--hide-scrollbars", report.resolve().as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    img = mpimg.imread(shot)
    assert img.shape[:2] == (2000, 1280)
    assert img[..., :3].std() > 0.05  # not a blank page


def test_broken_image_is_detected(report, tmp_path):
    html = report.read_text(encoding="utf-8")
    bad = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,AAAA", html,
                 count=1)
    p = tmp_path / "broken.html"
    p.write_text(bad, encoding="utf-8")
    body = re.search(r"<body[^>]*>", _dom(tmp_path, p)).group(0)
    assert 'data-images-loaded="false"' in body
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
