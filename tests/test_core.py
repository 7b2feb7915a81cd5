"""Seeds, atomic I/O and config validation shared by every stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import Field

from msbayes.config import ConfigError, StrictModel, load_yaml, validate_config
from msbayes.io import atomic_path, atomic_write_text, provenance, sha256_file, sha256_text
from msbayes.rng import as_seed_sequence, cell_seed, chunk_rng, key_entropy


def test_cell_seed_depends_only_on_seed_and_key_not_order():
    a = cell_seed(7, {"design.n_per_arm": 60, "scenario": "null"})
    b = cell_seed(7, {"scenario": "null", "design.n_per_arm": 60})
    assert np.array_equal(chunk_rng(a, 0).standard_normal(5), chunk_rng(b, 0).standard_normal(5))
    c = cell_seed(7, {"design.n_per_arm": 61, "scenario": "null"})
    d = cell_seed(8, {"design.n_per_arm": 60, "scenario": "null"})
    x = chunk_rng(a, 0).standard_normal(5)
    assert not np.array_equal(x, chunk_rng(c, 0).standard_normal(5))
    assert not np.array_equal(x, chunk_rng(d, 0).standard_normal(5))


def test_key_entropy_numpy_scalars_match_python_scalars():
    assert key_entropy({"n": np.int64(60), "sd": np.float64(0.35)}) == key_entropy({"n": 60, "sd": 0.35})


def test_chunks_are_distinct_streams():
    ss = cell_seed(1, ("x",))
    draws = [chunk_rng(ss, k).standard_normal(1000) for k in range(3)]
    # independent streams: sample correlation near 0 (|r| < 4/sqrt(n) with overwhelming probability)
    for i in range(3):
        for j in range(i + 1, 3):
            assert abs(np.corrcoef(draws[i], draws[j])[0, 1]) < 4 / np.sqrt(1000)
    assert np.array_equal(draws[1], chunk_rng(ss, 1).standard_normal(1000))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_refused(bad):
    with pytest.raises(ValueError, match="seed"):
        as_seed_sequence(bad)


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path):
    target = tmp_path / "out" / "file.txt"

    def boom(p: Path) -> None:
        p.write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_path(target, boom)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    atomic_write_text(target, "done")
    assert target.read_text() == "done"
    assert sha256_file(target) == sha256_text("done")


def test_provenance_records_version_config_data_seed(tmp_path: Path):
    f = tmp_path / "d.csv"
    f.write_text("a,b\n1,2\n")
    attrs = provenance(config_text="seed: 3\n", seed=3, data_files=[f])
    assert attrs["config_sha256"] == sha256_text("seed: 3\n")
    assert attrs["data_sha256"] == sha256_text(sha256_file(f))
    assert attrs["seed"] == 3
    assert attrs["msbayes_version"]


class _Inner(StrictModel):
    sd: float = Field(gt=0)


class _Outer(StrictModel):
    name: str
    endpoint: _Inner


def test_config_error_names_nested_field_and_unknown_key():
    with pytest.raises(ConfigError) as ei:
        validate_config(_Outer, {"name": "x", "endpoint": {"sd": -1.0}, "extra": 1})
    fields = [f for f, _ in ei.value.errors]
    assert "endpoint.sd" in fields
    assert "extra" in fields
    assert "unknown key" in str(ei.value)


def test_load_yaml_safe_loader_refuses_python_tags(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("a: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p)
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_atomic_write_respects_umask(tmp_path: Path):
    import os

    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644


def test_config_error_drops_union_tags_from_field_path():
    from msbayes.design.config import validate_sim_config

    raw = {"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
           "design": {"type": "parallel", "n_per_arm": 1},
           "scenarios": {"null": {"effect": 0.0}}, "analysis": {"method": "welch"},
           "decision": {"rule": "significance", "alpha": 0.025}}
    with pytest.raises(ConfigError) as ei:
        validate_sim_config(raw)
    assert [f for f, _ in ei.value.errors] == ["design.n_per_arm"]


def test_lazy_exports_load_on_first_use_and_keep_dir():
    """msbayes.fit / msbayes.models resolve their public names lazily (no PyMC at import)."""
    import doctest
    import subprocess
    import sys

    import msbayes._lazy as lazy

    res = doctest.testmod(lazy)
    assert res.failed == 0 and res.attempted > 0
    code = ("import sys, msbayes.fit, msbayes.models, msbayes.cli; assert 'pymc' not in sys.modules; "
            "from msbayes.fit import run_fit; assert 'pymc' in sys.modules; "
            "import msbayes.fit as f; assert 'run_fit' in dir(f) and callable(f.FitConfig)")
    subprocess.run([sys.executable, "-c", code], check=True)
