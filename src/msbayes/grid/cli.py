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

__all__ = ["simulate_command", "main"]

BackendOpt = Literal["loky", "dask", "ray", "sequential"]


def _setting(raw: dict, key: str):
    sim = raw.get("simulation")
    return sim.get(key) if isinstance(sim, dict) else None


def simulate_command(
    config: Annotated[Path, typer.Argument(help="Design config (YAML); see docs/configs.md.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (oc.nc, oc.csv, cells/).")],
    backend: Annotated[
        Optional[BackendOpt],
        typer.Option(help="Where cells run (default: simulation.backend in the config, else loky)."),
    ] = None,
    n_jobs: Annotated[
        Optional[int], typer.Option("--n-jobs", help="Workers; -1 = all CPUs (default: simulation.n_jobs).")
    ] = None,
    scheduler: Annotated[
        Optional[str], typer.Option(help="dask scheduler address, e.g. tcp://host:8786 (default: LocalCluster).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Plain log lines instead of a progress bar.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Discard cells in DIR computed from a different config.")
    ] = False,
) -> None:
    """Simulate a design grid and write DIR/oc.nc, DIR/oc.csv (and sample_size.csv).

    Completed cells are kept in DIR/cells: rerunning the same command resumes an interrupted
    run, and raising simulation.n_sims adds only the new simulations. Relative paths in the
    config (from_fit) resolve against the current directory, as in `msbayes run`.
    """
    from .runner import run_grid

    try:
        raw, text = load_yaml(config)
        be = backend or _setting(raw, "backend") or "loky"
        nj = n_jobs if n_jobs is not None else (_setting(raw, "n_jobs") or -1)
        sch = scheduler or (_setting(raw, "scheduler") if be in ("dask", "ray") else None)
        run_grid(raw, config_text=text, out_dir=out, backend=be, n_jobs=nj, scheduler=sch, quiet=quiet,
                 force=force, base_dir=Path.cwd(), source=str(config))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo(f"interrupted: completed cells are kept in {out / 'cells'}; rerun the same command "
                   "to compute only what is missing", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"wrote {out / 'oc.nc'} and {out / 'oc.csv'}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run :func:`simulate_command` as a standalone program."""
    app = typer.Typer(add_completion=False)
    app.command()(simulate_command)
    app(args=argv if argv is not None else sys.argv[1:], prog_name="msbayes simulate")


if __name__ == "__main__":  # pragma: no cover
    main()
