"""`msbayes run`: fit -> simulate -> report, each stage reading the previous stage's artefacts.

The run config names the stage configs and output directories; it adds no statistics of its
own. ``quick=True`` shrinks sampling and simulation sizes for smoke runs (CI), and says so in
every artefact (the reduced sizes are part of the recorded config text).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from .config import ConfigError, StrictModel, load_yaml, validate_config

__all__ = ["RunConfig", "run_pipeline"]


class StageFit(StrictModel):
    config: Path
    out: Path


class StageSim(StrictModel):
    config: Path
    out: Path


class StageReport(StrictModel):
    out: Path


class RunConfig(StrictModel):
    """Top-level run config: which stage configs to chain and where their outputs go."""

    name: str
    fit: StageFit | None = None
    simulate: list[StageSim] = Field(default_factory=list)
    report: StageReport | None = None


def _quick_fit(raw: dict[str, Any]) -> dict[str, Any]:
    raw = dict(raw)
    sampler = dict(raw.get("sampler") or {})
    sampler.update(draws=min(int(sampler.get("draws", 1000)), 500), tune=min(int(sampler.get("tune", 1000)), 500))
    raw["sampler"] = sampler
    return raw


def _quick_sim(raw: dict[str, Any]) -> dict[str, Any]:
    raw = dict(raw)
    sim = dict(raw.get("simulation") or {})
    chunk = int(sim.get("chunk_size", 10_000))
    chunk = min(chunk, 2_000)
    sim["chunk_size"] = chunk
    sim["n_sims"] = chunk
    raw["simulation"] = sim
    return raw


def run_pipeline(
    config_path: str | Path,
    *,
    quick: bool = False,
    backend: str | None = None,
    n_jobs: int | None = None,
    quiet: bool = False,
    root: Path | None = None,
) -> dict[str, Path]:
    """Run every stage named in a run config; return the output directories by stage.

    Parameters
    ----------
    config_path : path
        Run config (see ``configs/run/default.yaml``).
    quick : bool
        Reduced sampling and simulation sizes, for smoke tests.
    backend, n_jobs : optional
        Passed to the grid runner.
    root : path, optional
        Directory the stage paths are relative to (default: the current directory).

    Examples
    --------
    >>> run_pipeline("configs/run/default.yaml", quick=True)  # doctest: +SKIP
    """
    import yaml

    root = Path(root or Path.cwd())
    raw, _ = load_yaml(config_path)
    run = validate_config(RunConfig, raw, source=str(config_path))

    # Validate every stage config before any work starts.
    stages: dict[str, Any] = {}
    if run.fit is not None:
        from .fit.config import validate_fit_config

        fraw, ftext = load_yaml(root / run.fit.config)
        if quick:
            fraw = _quick_fit(fraw)
            ftext = yaml.safe_dump(fraw, sort_keys=False)
        stages["fit"] = (validate_fit_config(fraw, source=str(run.fit.config), base_dir=(root / run.fit.config).parent), ftext)
    sims = []
    for st in run.simulate:
        from .design.config import validate_sim_config

        sraw, stext = load_yaml(root / st.config)
        if quick:
            sraw = _quick_sim(sraw)
            stext = yaml.safe_dump(sraw, sort_keys=False)
        needs_fit = any(
            isinstance(s, dict) and "from_fit" in s for s in (sraw.get("scenarios") or {}).values()
        )
        if not needs_fit:
            validate_sim_config(sraw, source=str(st.config), base_dir=root)
        sims.append((st, sraw, stext, needs_fit))

    out: dict[str, Path] = {}
    t0 = time.perf_counter()
    if "fit" in stages:
        from .fit import run_fit

        cfg, text = stages["fit"]
        fit_out = root / run.fit.out
        run_fit(cfg, out_dir=fit_out, config_text=text, progress=not quiet)
        out["fit"] = fit_out
        _say(quiet, f"[fit] done in {time.perf_counter() - t0:.0f} s -> {fit_out}")
    sim_dirs = []
    for st, sraw, stext, _needs in sims:
        from .grid import run_grid

        t1 = time.perf_counter()
        sim_out = root / st.out
        run_grid(sraw, config_text=stext, out_dir=sim_out, backend=backend, n_jobs=n_jobs, quiet=quiet, base_dir=root, force=True)
        sim_dirs.append(sim_out)
        _say(quiet, f"[simulate] {st.config} done in {time.perf_counter() - t1:.0f} s -> {sim_out}")
    if sim_dirs:
        out["simulate"] = sim_dirs[0]
    if run.report is not None:
        from .report import build_report

        rep_out = root / run.report.out
        path = build_report(fit_dir=out.get("fit"), sim_dirs=sim_dirs or None, out_dir=rep_out)
        out["report"] = Path(path)
    _say(quiet, f"[run] finished in {time.perf_counter() - t0:.0f} s")
    return out


def _say(quiet: bool, msg: str) -> None:
    from rich.console import Console

    Console(stderr=False).print(msg) if not quiet else print(msg)


