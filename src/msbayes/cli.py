"""The ``msbayes`` command line: ``data``, ``fit``, ``simulate``, ``report``, ``run``, ``calibrate``.

Each sub-command lives beside the stage it drives (``msbayes/<stage>/cli.py``); this module
only mounts them, so ``msbayes --help`` lists the whole data flow: data, fit, simulate, report.

Exit codes: 0 done; 2 refused input (config, data table, option, output folder), printed
without a traceback, before any work and with nothing written; 3 ``msbayes fit`` finished
but every estimand failed the diagnostics gate; 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from .data.cli import app as data_app
from .fit.cli import fit_command
from .grid.cli import simulate_command
from .report.cli import report_command

app = typer.Typer(
    name="msbayes",
    help="Plan the next clinical trial from the evidence of the last: re-analysis, design simulation, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags show no "<bool>" metavar
)
app.add_typer(data_app, name="data", help="Built-in published data, table checks, subgroup-size inference.")
app.command("fit", help="Fit the re-analysis models: writes posterior.nc and summary.csv.")(fit_command)
app.command("simulate", help="Run a design grid: writes oc.nc, oc.csv (and sample_size.csv).")(simulate_command)
app.command("report", help="Build report.html, figures/ and tables/ from fit and/or sim results.")(report_command)


@app.command("run")
def run_command(
    config: Path = typer.Argument(..., help="Run config naming the stage configs (e.g. configs/run/default.yaml)."),
    quick: bool = typer.Option(False, "--quick", help="Reduced draws and simulations (smoke test; recorded in artefacts)."),
    backend: str = typer.Option(None, "--backend", help="Grid backend: loky | dask | ray | sequential."),
    n_jobs: int = typer.Option(None, "--n-jobs", help="Workers for the grid runner: -1 = all CPUs, or k >= 1."),
    quiet: bool = typer.Option(False, "--quiet", help="Plain log lines instead of progress bars."),
    force_jobs: bool = typer.Option(False, "--force-jobs", help="Start --n-jobs workers even if there are fewer CPUs."),
    max_memory: str = typer.Option(None, "--max-memory", help="Memory the simulation chunks of all workers may use, "
                                   "e.g. 8GB (default: 80% of the memory available)."),
    max_cells: int = typer.Option(None, "--max-cells", help="Most grid cells per simulate stage (default 20000)."),
) -> None:
    """Chain fit -> simulate -> report as named in CONFIG.

    Every stage config and output folder is checked before the fit starts.
    """
    from .config import ConfigError
    from .pipeline import run_pipeline

    if backend is not None and backend not in ("loky", "dask", "ray", "sequential"):
        typer.echo(f"error: --backend: unknown backend {backend!r} (allowed: loky, dask, ray, sequential)", err=True)
        raise typer.Exit(code=2)
    try:
        from .grid.spec import parse_bytes

        if max_cells is not None and max_cells < 1:
            raise ConfigError(f"--max-cells: must be >= 1; got {max_cells}", [("--max-cells", "allowed: >= 1")])
        mem = parse_bytes(max_memory, field_="--max-memory") if max_memory is not None else None
        out = run_pipeline(config, quick=quick, backend=backend, n_jobs=n_jobs, quiet=quiet, force_jobs=force_jobs,
                           max_memory=mem, max_cells=max_cells)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if "report" in out:
        typer.echo(f"Report written to {out['report']}")


def _check_out_file(out: Path) -> None:
    """Refuse an output FILE that cannot be written (naming ``--out``), before any work.

    Its folder must exist or be creatable and be writable (:func:`msbayes.config.check_out_dir`);
    the path itself must not be an existing folder. Nothing is created.
    """
    from .config import ConfigError, check_out_dir

    p = Path(out)
    if not str(out).strip():
        raise ConfigError("--out: empty path (give a CSV file name)", [("--out", "empty path")])
    if p.is_dir():
        raise ConfigError(f"--out: {p.absolute()} is a folder (give a CSV file name)", [("--out", "is a folder")])
    check_out_dir(p.absolute().parent, field="--out")


@app.command("calibrate")
def calibrate_command(
    config: Path = typer.Argument(..., help="Simulation config with a Bayesian threshold (interims.efficacy.p_benefit, "
                                  "or decision.go.p_benefit of a fixed bayes_normal design)."),
    target: float = typer.Option(0.025, "--target", help="Type I error to attain, in (0, 0.5)."),
    scenario: str = typer.Option("null", "--scenario", help="The null scenario (effect 0) of the config."),
    n_sims: int = typer.Option(None, "--n-sims", help="Null trials per grid cell (default: simulation.n_sims)."),
    out: Path = typer.Option(Path("calibration.csv"), "--out", help="CSV file for the table (written atomically)."),
    seed: int = typer.Option(None, "--seed", help="Base seed (default: the config's seed)."),
) -> None:
    """Find, for every grid cell, the posterior threshold with simulated type I error <= TARGET.

    Prints cell, threshold, attained type I error, its MCSE and n_sims; writes the table to
    --out; says which config field takes the threshold.
    """
    from .api import calibrate_design, calibration_hint
    from .config import ConfigError

    try:
        _check_out_file(out)
        tab = calibrate_design(config, target=target, scenario=scenario, n_sims=n_sims, out=out, seed=seed)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    show = tab.drop(columns=[c for c in tab.columns if c not in ("cell", "field", "threshold", "type1",
                                                                   "type1_mcse", "n_sims")])
    typer.echo(show.to_string(index=False, formatters={"threshold": "{:.5f}".format, "type1": "{:.4f}".format,
                                                        "type1_mcse": "{:.4f}".format}))
    typer.echo(f"Table written to {out}")
    typer.echo(calibration_hint(tab))


@app.command("version")
def version_command() -> None:
    """Print the msbayes version."""
    from . import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
