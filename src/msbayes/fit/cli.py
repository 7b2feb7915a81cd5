"""``msbayes fit CONFIG --out DIR``: a plain function the integrator mounts on the typer app.

Examples
--------
>>> import typer
>>> from msbayes.fit.cli import fit_command
>>> app = typer.Typer()
>>> _ = app.command("fit")(fit_command)
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import ConfigError

__all__ = ["fit_command", "print_summary", "EXIT_FAILED_DIAGNOSTICS"]


def print_summary(summary, *, console, gate=None) -> None:
    """Key table (rich) and a loud warning for estimands that fail the diagnostics gate.

    ``gate`` is the config's ``diagnostics`` section (thresholds quoted in the warning;
    defaults R-hat <= 1.01, no divergences, ESS bulk >= 400).
    """
    from rich.panel import Panel
    from rich.table import Table

    t = Table(title="msbayes fit: treatment effects (positive = better)", show_lines=False)
    for c in ("model", "prior", "endpoint", "population", "status", "mean [95% CrI]", "P(>0)", "P(>MCID)", "R-hat", "ESS", "ok"):
        t.add_column(c, justify="right" if c not in ("model", "prior", "endpoint", "population", "status") else "left")
    for d in summary.to_dict("records"):
        pm = "" if d["p_mcid"] != d["p_mcid"] else f"{d['p_mcid']:.2f}"
        pb = f"{d['p_benefit']:.2f}"
        if d["status"] == "prediction":  # no data: a probability would be a prior artefact
            pm = pb = "-"
        t.add_row(d["model"], d["prior"], d["endpoint"] + ("" if d["estimand"] in ("effect", "log_odds_ratio") else f" ({d['estimand']})"),
                  d["population"], d["status"], f"{d['mean']:.3g} [{d['q2.5']:.3g}, {d['q97.5']:.3g}]",
                  pb, pm, f"{d['r_hat']:.3f}", f"{d['ess_bulk']:.0f}",
                  "[green]yes[/green]" if d["diagnostics_ok"] else "[bold red]NO[/bold red]")
    console.print(t)
    if (summary["status"] == "prediction").any():
        console.print("predictions (no data in that stratum) come from the between-stratum model: "
                      "no probabilities are shown for them (summary.csv keeps the numbers for checks)")
    bad = summary[~summary["diagnostics_ok"].astype(bool)]
    if len(bad):
        lines = "\n".join(f"{r.model} x {r.prior}: {r.endpoint} / {r.population}: {r.flag}" for r in bad.itertuples(index=False))
        from .config import DiagnosticsSpec

        gate = gate if gate is not None else DiagnosticsSpec()
        rhat, ess, div = gate.rhat_max, gate.ess_min, gate.max_divergences
        divs = "no divergences" if div == 0 else f"at most {div} divergences"
        console.print(Panel(f"[bold]{len(bad)} estimand(s) FAILED the diagnostics gate[/bold] "
                            f"(R-hat <= {rhat:g}, {divs}, ESS bulk >= {ess:g}). Do not report them as they are."
                            f"\n{lines}",
                            title="[bold red]DIAGNOSTICS WARNING[/bold red]", border_style="red"))


#: exit code of ``msbayes fit`` when every estimand fails the diagnostics gate
EXIT_FAILED_DIAGNOSTICS = 3


def fit_command(
    config: Path = typer.Argument(..., help="Fit config (YAML), e.g. configs/reanalysis/harris2024.yaml"),
    out: str = typer.Option(..., "--out", metavar="DIR", help="Output folder (posterior.nc, summary.csv, ...)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar or table"),
    allow_failed_diagnostics: bool = typer.Option(
        False, "--allow-failed-diagnostics",
        help="Exit 0 even if every estimand fails the diagnostics gate (default: exit 3)"),
) -> None:
    """Fit the re-analysis models under every prior and write posterior.nc + summary.csv.

    Exit codes: 0 done; 2 refused config or --out (nothing written); 3 every estimand failed
    the diagnostics gate (artefacts written; see the warning).
    """
    from rich.console import Console

    from ..config import check_out_dir
    from .config import load_fit_config
    from .runner import run_fit

    console = Console(stderr=False)
    if console.width < 150:
        console = Console(stderr=False, width=150)
    err = Console(stderr=True)
    try:
        cfg, text = load_fit_config(config)
        check_out_dir(out, field="--out")
        res = run_fit(cfg, out_dir=Path(out), config_text=text, progress=not quiet, console=console)
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/bold red] {exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    if not quiet:
        print_summary(res.summary, console=console, gate=cfg.diagnostics)
        console.print(f"wrote {', '.join(p.name for p in res.paths.values())} to {res.out_dir}")
    ok = res.summary["diagnostics_ok"].astype(bool) if len(res.summary) else None
    if ok is not None and not ok.any() and not allow_failed_diagnostics:
        err.print(f"[bold red]error:[/bold red] every estimand ({len(ok)}) failed the diagnostics gate; "
                  f"the artefacts in {res.out_dir} are written but must not be reported as they are "
                  "(more draws or tuning, or --allow-failed-diagnostics to exit 0)",
                  markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code=EXIT_FAILED_DIAGNOSTICS)
