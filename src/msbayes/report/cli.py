"""``msbayes report``: the command function the CLI registers (``app.command("report")``).

Bad input (missing dir or file, malformed artefact) prints a clear message and exits with
code 2. A sim run made from a different fit than ``--fit`` is reported loudly (red warning in
the terminal and in the report) but the report is still written; see docs/report.md.

Examples
--------
>>> import typer
>>> from msbayes.report.cli import report_command
>>> app = typer.Typer()
>>> _ = app.command("report")(report_command)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.text import Text

from .inputs import ReportInputError, ReportMismatchWarning

__all__ = ["report_command"]


def report_command(
    fit: Optional[Path] = typer.Option(None, "--fit", help="fit output dir (posterior.nc, summary.csv)"),
    sim: Optional[list[Path]] = typer.Option(
        None, "--sim", help="simulate output dir (oc.nc, sample_size.csv); repeat for several"),
    out: str = typer.Option(..., "--out", metavar="DIR", help="where to write report.html, figures/, tables/"),
    slides: bool = typer.Option(False, "--slides", help="also write 16:9 slide-size figures"),
    include_synthetic: bool = typer.Option(
        False, "--include-synthetic",
        help="also show results of models fitted to synthetic data (labelled SYNTHETIC); "
             "left out by default"),
) -> None:
    """Write a self-contained report.html plus figures/ (PNG, SVG, PDF) and tables/ (CSV, MD)."""
    from ..config import ConfigError, check_out_dir
    from .build import build_report

    err = Console(stderr=True)
    if fit is None and not sim:
        err.print("[bold red]error:[/] give at least one of --fit DIR or --sim DIR", soft_wrap=True)
        raise typer.Exit(code=2)
    try:
        check_out_dir(out, field="--out")
    except ConfigError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        raise typer.Exit(code=2) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReportMismatchWarning)
        try:
            path = build_report(fit_dir=fit, sim_dir=list(sim) if sim else None, out_dir=Path(out),
                                slides=slides, include_synthetic=include_synthetic)
        except ReportInputError as exc:
            err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
            raise typer.Exit(code=2) from None
        except OSError as exc:  # e.g. --out not writable
            err.print(Text.assemble(("error: ", "bold red"), f"cannot write the report: {exc}"),
                      soft_wrap=True)
            raise typer.Exit(code=2) from None
    for w in caught:
        if issubclass(w.category, ReportMismatchWarning):
            err.print(Text.assemble(("WARNING: ", "bold red"), str(w.message)), soft_wrap=True)
    Console().print(f"report written: {path}", highlight=False, soft_wrap=True)
