"""`msbayes run`: fit -> simulate -> report, each stage reading the previous stage's artefacts.

The run config names the stage configs and output directories; it adds no statistics of its
own. ``quick=True`` shrinks sampling and simulation sizes for smoke runs (CI), and says so in
every artefact (the reduced sizes are part of the recorded config text).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from .config import ConfigError, StrictModel, load_yaml, validate_config

__all__ = ["RunConfig", "run_pipeline"]


def _nonempty(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        raise ValueError("empty path (give a file or folder name)")
    return v


class StageFit(StrictModel):
    config: Path
    out: Path

    _paths = field_validator("config", "out", mode="before")(classmethod(lambda cls, v: _nonempty(v)))


class StageSim(StrictModel):
    config: Path
    out: Path

    _paths = field_validator("config", "out", mode="before")(classmethod(lambda cls, v: _nonempty(v)))


class StageReport(StrictModel):
    out: Path

    _paths = field_validator("out", mode="before")(classmethod(lambda cls, v: _nonempty(v)))


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
    force_jobs: bool = False,
    max_memory: int | None = None,
    max_cells: int | None = None,
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
    force_jobs : bool
        Start ``n_jobs`` workers even if there are fewer CPUs (otherwise capped).
    max_memory, max_cells : int, optional
        Resource limits of every simulate stage (bytes; grid cells); see
        :func:`msbayes.grid.spec.resource_limits`.

    Raises
    ------
    ConfigError
        Before any stage runs: a bad run config, stage config or output folder; a
        ``from_fit`` scenario whose posterior neither exists nor is written by the fit
        stage, or names a model / prior the fit does not fit; a simulate ``out`` whose cell
        store was made by another config.

    Examples
    --------
    >>> run_pipeline("configs/run/default.yaml", quick=True)  # doctest: +SKIP
    """
    import yaml

    from .config import check_out_dir

    root = Path(root or Path.cwd())
    raw, _ = load_yaml(config_path)
    run = validate_config(RunConfig, raw, source=str(config_path))

    # Validate every stage config and every output folder before any work starts.
    for fld, p in _out_fields(run):
        check_out_dir(root / p, field=fld)
    stages: dict[str, Any] = {}
    if run.fit is not None:
        from .fit.config import validate_fit_config

        fraw, ftext = load_yaml(root / run.fit.config)
        if quick:
            fraw = _quick_fit(fraw)
            ftext = yaml.safe_dump(fraw, sort_keys=False)
        stages["fit"] = (validate_fit_config(fraw, source=str(run.fit.config), base_dir=(root / run.fit.config).parent), ftext)
    fit_post = (root / run.fit.out / "posterior.nc").resolve() if run.fit is not None else None
    sims = []
    from .grid.cli import resolve_workers

    for i, st in enumerate(run.simulate):
        sraw, stext = load_yaml(root / st.config)
        if quick:
            sraw = _quick_sim(sraw)
            stext = yaml.safe_dump(sraw, sort_keys=False)
        needs_fit = _prevalidate_sim(sraw, source=str(st.config), root=root, fit_post=fit_post,
                                     fit_cfg=stages["fit"][0] if "fit" in stages else None, index=i)
        force = _store_action(root / st.out, sraw, field=f"simulate[{i}].out")
        be = backend or _sim_setting(sraw, "backend") or "loky"
        workers, note = resolve_workers(sraw, n_jobs, backend=be, force_jobs=force_jobs)
        if note:
            _say(quiet, f"[simulate] {st.config}: {note}")
        _preflight_grid(sraw, source=str(st.config), root=root, needs_fit=needs_fit,
                        limits=dict(n_workers=workers, max_memory=max_memory, max_cells=max_cells))
        sims.append((st, sraw, stext, needs_fit, force, be, workers))

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
    for st, sraw, stext, _needs, force, be, workers in sims:
        from .grid import run_grid
        from .grid.spec import resource_limits

        t1 = time.perf_counter()
        sim_out = root / st.out
        with resource_limits(n_workers=workers, max_memory=max_memory, max_cells=max_cells):
            run_grid(sraw, config_text=stext, out_dir=sim_out, backend=be, n_jobs=workers, quiet=quiet,
                     base_dir=root, force=force)
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


def _sim_setting(raw: dict[str, Any], key: str) -> Any:
    sim = raw.get("simulation")
    return sim.get(key) if isinstance(sim, dict) else None


def _out_fields(run: RunConfig) -> list[tuple[str, Path]]:
    outs = [("fit.out", run.fit.out)] if run.fit is not None else []
    outs += [(f"simulate[{i}].out", st.out) for i, st in enumerate(run.simulate)]
    if run.report is not None:
        outs.append(("report.out", run.report.out))
    seen: dict[str, str] = {}
    for fld, p in outs:
        key = str(Path(p))
        if key in seen:
            raise ConfigError(f"{fld}: {p} is also {seen[key]}: give every stage its own folder",
                              [(fld, f"same folder as {seen[key]}")])
        seen[key] = fld
    return outs


def _prevalidate_sim(sraw: dict[str, Any], *, source: str, root: Path, fit_post: Path | None,
                     fit_cfg: Any, index: int) -> bool:
    """Validate a simulate stage config before the fit runs; True if it reads the fit's output.

    Scenarios whose ``from_fit`` is the fit stage's own ``posterior.nc`` cannot be checked
    against the file yet: the config is validated without that file (types, values, grid
    axes), and their ``model`` / ``prior`` must be ones the fit stage fits.
    """
    from .design.config import SimConfig, apply_overrides, validate_sim_config
    from .design.scenarios import FitScenario

    scen = sraw.get("scenarios")
    pending: list[str] = []
    errors: list[tuple[str, str]] = []
    if isinstance(scen, dict):
        for name, sc in scen.items():
            if not (isinstance(sc, dict) and isinstance(sc.get("from_fit"), str)):
                continue
            p = Path(sc["from_fit"])
            p = (p if p.is_absolute() else root / p).resolve()
            if fit_post is not None and p == fit_post:
                pending.append(str(name))
            elif not p.is_file():
                errors.append((f"scenarios.{name}.from_fit", f"posterior file not found: {p}"
                               + (f" (the fit stage writes {fit_post})" if fit_post is not None else "")))
    if errors:
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors)
    if not pending:
        validate_sim_config(sraw, source=source, base_dir=root)
        return False
    cfg = validate_config(SimConfig, sraw, source=source)
    grid = sraw.get("grid") if isinstance(sraw.get("grid"), dict) else {}
    for key, values in grid.items():
        for j, val in enumerate(values if isinstance(values, list) else []):
            try:
                validate_config(SimConfig, apply_overrides(sraw, {key: val}, grid=False), source=source)
            except ConfigError as exc:
                detail = "; ".join(f"{f}: {m}" for f, m in exc.errors) or str(exc)
                errors.append((f"grid.{key}[{j}]", f"value {val!r} is invalid: {detail}"))
    if fit_cfg is not None:
        models = list(fit_cfg.models)
        priors = [p.name for p in fit_cfg.prior_presets()]
        for name in pending:
            sc = cfg.scenarios[name]
            if isinstance(sc, FitScenario):
                if sc.model not in models:
                    errors.append((f"scenarios.{name}.model", f"{sc.model!r} is not fitted by the fit stage "
                                   f"(allowed: {models})"))
                if sc.prior not in priors:
                    errors.append((f"scenarios.{name}.prior", f"{sc.prior!r} is not fitted by the fit stage "
                                   f"(allowed: {priors})"))
                fit_pops = list(fit_cfg.data.strata)
                strata = list(cfg.endpoint.stratum_names)
                if sc.population is not None and sc.population not in fit_pops:
                    errors.append((f"scenarios.{name}.population", f"{sc.population!r} is not a stratum of the "
                                   f"fit stage (allowed: {fit_pops})"))
                elif sc.population is None and len(strata) > 1:
                    missing = [x for x in strata if x not in fit_pops]
                    if missing:
                        errors.append((f"scenarios.{name}.population", f"endpoint strata {missing} are not "
                                       f"strata of the fit stage {fit_pops}; name the strata like the fit or "
                                       "set population"))
                    elif sc.mode == "mixture":
                        errors.append((f"scenarios.{name}.mode", "'mixture' needs a single population; use "
                                       "mode 'draws' for joint strata"))
    if errors:
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors)
    return True


def _preflight_grid(sraw: dict[str, Any], *, source: str, root: Path, needs_fit: bool,
                    limits: dict[str, Any]) -> None:
    """Expand the grid now (every cell validated, cell count and chunk memory checked) so a
    simulate stage that cannot run is refused before the fit starts."""
    from dataclasses import replace

    from .design.config import SimConfig
    from .grid.hooks import default_hooks
    from .grid.spec import expand_grid, resource_limits

    hooks = default_hooks()
    if needs_fit:  # the posterior does not exist yet: check everything but the file
        def _validate(raw: dict, *, source: str = "config", base_dir: Any = None) -> Any:
            return validate_config(SimConfig, raw, source=source)

        hooks = replace(hooks, validate=_validate)
    with resource_limits(**limits):
        expand_grid(sraw, hooks=hooks, source=source, base_dir=root)


def _same_study(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two simulate configs are the same study if they agree except for ``simulation``."""
    from .grid.spec import canonical_json

    strip = ("simulation", "name", "description")
    return canonical_json({k: v for k, v in a.items() if k not in strip}) == canonical_json(
        {k: v for k, v in b.items() if k not in strip})


def _store_action(out: Path, sraw: dict[str, Any], *, field: str) -> bool:
    """``force`` for run_grid: discard an old cell store only if it came from this config.

    A store made by this stage config (e.g. before a refit changed its posterior, or with
    ``--quick`` sizes) is replaced; a store made by another config is refused, naming the
    folder, as standalone ``msbayes simulate`` does.
    """
    cells = out / "cells"
    if not cells.exists():
        return False
    oc = out / "oc.nc"
    old = None
    if oc.is_file():
        try:
            import xarray as xr

            with xr.open_dataset(oc) as ds:
                text = str(ds.attrs.get("config_text", ""))
            from .config import parse_yaml

            old = parse_yaml(text)
        except Exception:  # noqa: BLE001 - unreadable: treat as unknown origin
            old = None
    if old is None:
        return False  # no finished run to compare with: run_grid resumes or refuses by hash
    if _same_study(old, sraw):
        return True
    raise ConfigError(
        f"{field}: {out} holds a cell store ({cells}) from a different or unknown configuration; "
        "results of different configs are never mixed: choose another out folder for this stage, "
        "or delete that folder",
        [(field, "cells from another config")])


def _say(quiet: bool, msg: str) -> None:
    from rich.console import Console

    Console(stderr=False).print(msg) if not quiet else print(msg)


