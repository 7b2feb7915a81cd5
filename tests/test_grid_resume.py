"""Kill a real `msbayes simulate` process midway (SIGINT / SIGKILL), rerun, and check that only
the missing chunks are computed and that the result equals an uninterrupted run bit for bit.

The subprocess runs the real CLI code path (msbayes.grid.cli.main) with the toy engine
patched in (this file run as a script), slowed down by ``sleep_per_chunk`` so the kill lands
mid-run.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _driver_main(argv: list[str]) -> None:
    import msbayes.grid.runner as runner
    from msbayes.grid.cli import main
    from msbayes.grid.toy import toy_hooks

    runner.default_hooks = toy_hooks  # the toy engine instead of the design engine
    main(argv)


def _stored_chunks(out: Path) -> int:
    n = 0
    for f in (out / "cells").glob("*/c*.json"):
        n += len(json.loads(f.read_text())["chunks"])
    return n


CFG = dict(
    name="resume-test",
    seed=99,
    design={"n_per_arm": 20, "sd": 0.35},
    scenarios={"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
    simulation={"n_sims": 600, "chunk_size": 300},
    grid={"design.n_per_arm": [10, 20, 40]},
    sleep_per_chunk=0.2,
)  # 6 cells x 2 chunks, ~2.4 s sequentially


def _cmd(cfg_path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__)), str(cfg_path), "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from msbayes.grid import run_grid
    from msbayes.grid.toy import toy_hooks

    d = tmp_path_factory.mktemp("ref")
    # the same config, run in-process and uninterrupted
    return run_grid(CFG, config_text="x", out_dir=d, hooks=toy_hooks(), backend="sequential", quiet=True,
                    stream=io.StringIO())


@pytest.mark.parametrize(
    ("sig", "backend_args"),
    [(signal.SIGINT, ["--backend", "sequential"]), (signal.SIGKILL, ["--backend", "sequential"]),
     (signal.SIGINT, ["--backend", "loky", "--n-jobs", "2"])],
    ids=["sigint-sequential", "sigkill-sequential", "sigint-loky2"],
)
def test_kill_and_resume(tmp_path, reference, sig, backend_args):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(CFG, sort_keys=False))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(_cmd(cfg_path, out, *backend_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    deadline = time.time() + 60
    while _stored_chunks(out) < 3 if (out / "cells").is_dir() else True:
        assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()}"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "interrupted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not (out / "oc.nc").exists()  # nothing half-written under a final name
    stored = _stored_chunks(out)
    assert 3 <= stored < 12
    # rerun to completion (same command)
    res = subprocess.run(_cmd(cfg_path, out, "--backend", "sequential"), capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    stats = json.loads((out / "run.json").read_text())
    assert stats["chunks_computed"] == 12 - stored
    assert f"{12 - stored} chunks to compute" in res.stderr
    import xarray as xr

    with xr.open_dataset(out / "oc.nc") as ds:
        assert list(ds.scenario.values) == list(reference.scenario.values)
        for v in reference.data_vars:
            assert ds[v].values.tobytes() == reference[v].values.tobytes(), v
    assert list((out / "cells").rglob("*.tmp")) == []


if __name__ == "__main__":
    _driver_main(sys.argv[1:])
