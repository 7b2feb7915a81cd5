"""Every example in examples/ runs end to end on reduced sizes (a broken example fails CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_examples_are_listed():
    listed = (ROOT / "examples" / "README.md").read_text()
    assert len(EXAMPLES) >= 3
    for ex in EXAMPLES:
        assert f"`{ex.name}`" in listed, f"{ex.name} is not described in examples/README.md"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(example, tmp_path):
    env = {**os.environ, "MSBAYES_EXAMPLES_QUICK": "1", "MSBAYES_EXAMPLES_OUT": str(tmp_path), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(example)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"{example.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "msbayes " in proc.stdout  # each example prints a result summary
    if example.stem == "reanalysis":
        assert (tmp_path / "reanalysis" / "posterior.nc").is_file() and (tmp_path / "forest.png").is_file()
    if example.stem == "two_arm_design":
        assert (tmp_path / "two_arm.yaml").is_file() and (tmp_path / "two_arm_p_go.png").is_file()
