"""``msbayes simulate CONFIG --out DIR``: the command-line face of the grid runner.

:func:`simulate_command` is a plain function that the top-level typer app registers as
``msbayes simulate``; ``python -m msbayes.grid.cli`` runs it standalone. A refused config (or
output directory, or scheduler) prints the reason naming the field and exits with code 2
before any work; an interrupted run (Ctrl-C) keeps its completed cells and exits with 130.

Examples
--------
>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer(); _ = app.command("simulate")(simulate_command)
>>> res = CliRunner().invoke(app, ["does-not-exist.yaml", "--out", "x"])
>>> res.exit_code
2
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from msbayes.config import ConfigError, load_yaml

__all__ = ["simulate_command", "resolve_workers", "main"]

BackendOpt = Literal["loky", "dask", "ray", "sequential"]


def _setting(raw: dict, key: str):
    sim = raw.get("simulation")
    return sim.get(key) if isinstance(sim, dict) else None


def resolve_workers(raw: dict, n_jobs: int | None, *, backend: str, force_jobs: bool) -> tuple[int, str | None]:
    """Workers for a run: ``--n-jobs`` or ``simulation.n_jobs`` (both: -1 = all CPUs, k >= 1),
    capped at the CPUs available unless ``force_jobs``; ``(workers, note or None)``."""
    from .backends import plan_workers

    if n_jobs is not None:
        value, field = n_jobs, "--n-jobs"
    else:
        value, field = _setting(raw, "n_jobs"), "simulation.n_jobs"
        value = -1 if value is None else value
    if backend == "sequential":
        plan_workers(value, force=True, field=field)  # still refuse a bad value
        return 1, None
    return plan_workers(value, force=force_jobs, field=field)


def simulate_command(
    config: Annotated[Path, typer.Argument(help="Design config (YAML); see docs/configs.md.")],
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Output directory (oc.nc, oc.csv, cells/).")],
    backend: Annotated[
        Optional[BackendOpt],
        typer.Option(help="Where cells run (default: simulation.backend in the config, else loky)."),
    ] = None,
    n_jobs: Annotated[
        Optional[int], typer.Option("--n-jobs", help="Workers: -1 = all CPUs, or k >= 1, capped at the CPUs "
                                    "available (default: simulation.n_jobs).")
    ] = None,
    scheduler: Annotated[
        Optional[str], typer.Option(help="dask scheduler address, e.g. tcp://host:8786 (default: LocalCluster).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Plain log lines instead of a progress bar.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Discard cells in DIR computed from a different config.")
    ] = False,
    force_jobs: Annotated[
        bool, typer.Option("--force-jobs", help="Start --n-jobs workers even if there are fewer CPUs.")
    ] = False,
    max_memory: Annotated[
        Optional[str], typer.Option("--max-memory", help="Memory the chunks of all workers may use, e.g. 8GB "
                                    "(default: 80% of the memory available).")
    ] = None,
    max_cells: Annotated[
        Optional[int], typer.Option("--max-cells", help="Most grid cells (axis values x scenarios); default 20000.")
    ] = None,
) -> None:
    """Simulate a design grid and write DIR/oc.nc, DIR/oc.csv (and sample_size.csv).

    Completed cells are kept in DIR/cells: rerunning the same command resumes an interrupted
    run, and raising simulation.n_sims adds only the new simulations. Relative paths in the
    config (from_fit) resolve against the current directory, as in `msbayes run`. The memory
    of one chunk and the number of cells are estimated before any work and refused beyond
    the limits (--max-memory, --max-cells).
    """
    from msbayes.config import check_out_dir

    from .runner import run_grid
    from .spec import parse_bytes, resource_limits

    out_p = Path(out)
    try:
        raw, text = load_yaml(config)
        check_out_dir(out, field="--out")
        be = backend or _setting(raw, "backend") or "loky"
        nj, note = resolve_workers(raw, n_jobs, backend=be, force_jobs=force_jobs)
        if max_cells is not None and max_cells < 1:
            raise ConfigError(f"--max-cells: must be >= 1; got {max_cells}", [("--max-cells", "allowed: >= 1")])
        mem = parse_bytes(max_memory, field_="--max-memory") if max_memory is not None else None
        if note:
            typer.echo(note, err=True)
        sch = scheduler or (_setting(raw, "scheduler") if be in ("dask", "ray") else None)
        with resource_limits(max_memory=mem, max_cells=max_cells, n_workers=nj):
            run_grid(raw, config_text=text, out_dir=out_p, backend=be, n_jobs=nj, scheduler=sch, quiet=quiet,
                     force=force, base_dir=Path.cwd(), source=str(config))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo(f"interrupted: completed cells are kept in {out_p / 'cells'}; rerun the same command "
                   "to compute only what is missing", err=True)
        raise typer.Exit(130) from None
    ss = out_p / "sample_size.csv"
    if ss.is_file() and "search" in raw:
        typer.echo(f"wrote {out_p / 'oc.nc'}, {out_p / 'oc.csv'} and {ss}", err=True)
        _echo_search(ss, maximum="interims" in raw)
    else:
        typer.echo(f"wrote {out_p / 'oc.nc'} and {out_p / 'oc.csv'}", err=True)


def _echo_search(path: Path, *, maximum: bool = False) -> None:
    """One line per sample-size search: the n found (or that the target was not reached)."""
    import pandas as pd

    try:
        tab = pd.read_csv(path)
    except Exception:  # noqa: BLE001 - the summary line is a courtesy; the file is written
        return
    other = [c for c in tab.columns if c not in _SEARCH_COLUMNS]
    for _, r in tab.iterrows():
        where = ", ".join(f"{c} = {r[c]}" for c in other)
        head = f"search: {r['metric']} >= {r['target']:g} under {r['scenario']!r}" + (f" at {where}" if where else "")
        if str(r.get("reached", "True")).lower() in ("true", "1"):
            mc = r.get("achieved_mcse")
            tail = f"{'maximum ' if maximum else ''}n per arm {int(r['n_per_arm'])} (achieved {r['achieved']:.3f}" + (
                f", MCSE {mc:.3f})" if pd.notna(mc) else ")")
        else:
            tail = f"not reached up to {'maximum ' if maximum else ''}n per arm {r.get('n_max')}"
        typer.echo(f"{head}: {tail}", err=True)


_SEARCH_COLUMNS = ("scenario", "metric", "target", "n_per_arm", "achieved", "achieved_mcse", "reached",
                   "n_evaluations", "monotone", "n_max", "best_n", "ceiling", "ceiling_mcse", "ceiling_note")


def main(argv: list[str] | None = None) -> None:
    """Run :func:`simulate_command` as a standalone program."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    app.command()(simulate_command)
    app(args=argv if argv is not None else sys.argv[1:], prog_name="msbayes simulate")


if __name__ == "__main__":  # pragma: no cover
    main()
