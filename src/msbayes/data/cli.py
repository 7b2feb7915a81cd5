"""``msbayes data``: show the built-in published data, check a user table, infer subgroup sizes.

Mounted by the main CLI as ``msbayes data``; usable alone through :data:`app`.

Examples
--------
>>> from typer.testing import CliRunner
>>> from msbayes.data.cli import app
>>> r = CliRunner().invoke(app, ["show", "harris2024"])
>>> r.exit_code, "sha256" in r.output
(0, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Built-in published data (show), table validation (check), subgroup sizes from p-values (infer-n).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags show no "<bool>" metavar
)

_KINDS = ("auto", "summary", "patient", "effects")
_DENOMS = ("randomized", "completers")


def _console() -> Console:
    return Console(width=160, soft_wrap=False, highlight=False)


def _fmt(x: object, nd: int = 4) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and pd.isna(x)):
        return "NA"
    if isinstance(x, float):
        return f"{x:.{nd}g}"
    return str(x)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Built-in data set name (e.g. harris2024, petrou2020)."),
    edss_plus_denominator: str = typer.Option(
        "randomized", "--edss-plus-denominator", help="EDSS Plus denominator: randomized (9/27) | completers (8/24)."
    ),
) -> None:
    """Print the built-in published data with sources, the reported p-values and the sha256."""
    from .builtin import dataset_sha256, list_datasets, load_design_facts, load_pvalues, load_summaries

    if name not in list_datasets():
        raise typer.BadParameter(f"unknown data set {name!r}; available: {', '.join(list_datasets())}", param_hint="NAME")
    if edss_plus_denominator not in _DENOMS:
        raise typer.BadParameter(f"must be one of {', '.join(_DENOMS)}; got {edss_plus_denominator!r}",
                                 param_hint="--edss-plus-denominator")
    df = load_summaries(name, edss_plus_denominator=edss_plus_denominator)  # type: ignore[arg-type]
    con = _console()
    sources: list[str] = []

    def src_ref(url: str) -> str:
        if url not in sources:
            sources.append(url)
        return f"[{sources.index(url) + 1}]"

    t = Table(title=f"{name}: published arm summaries (convention as published)")
    for c in ("endpoint", "population", "arm", "months", "convention", "n (status)", "mean", "sd", "events", "src", "locator"):
        t.add_column(c, overflow="fold")
    for _, r in df.iterrows():
        t.add_row(r.endpoint, r.population, r.arm, _fmt(r.horizon_months), r.convention,
                  f"{_fmt(r.n)} ({r.n_status})", _fmt(r["mean"]), _fmt(r.sd), _fmt(r.events),
                  src_ref(r.source), r.locator)
    con.print(t)
    notes = [f"  {r.endpoint}/{r.population}/{r.arm}: {r.note}" for _, r in df.iterrows() if r.note]
    if notes:
        con.print("Notes:", soft_wrap=True)
        for line in notes:
            con.print(line, soft_wrap=True, markup=False)
    try:
        pv = load_pvalues(name)
    except ValueError:
        pv = None
    if pv is not None and len(pv):
        tp = Table(title="Reported p-values")
        for c in ("endpoint", "population", "comparison", "p", "test", "sided", "src"):
            tp.add_column(c)
        for _, r in pv.iterrows():
            tp.add_row(r.endpoint, r.population, f"{r.arm} vs {r.comparator}", r.p_text, r.test, r.sided, src_ref(r.source))
        con.print(tp)
        for _, r in pv[pv.note != ""].iterrows():
            con.print(f"  {r.endpoint}/{r.population}/{r.arm} vs {r.comparator}: {r.note}", soft_wrap=True, markup=False)
    if ((df.n_status == "unknown") & df["mean"].notna()).any():
        from .infer_n import default_subgroup_n_details

        try:
            d = default_subgroup_n_details(name)  # the one source of the assumed sizes
            per = "; ".join(f"{ep}: " + (", ".join(f"{a} = {n}" for a, n in s.items()) if s else "none")
                            for ep, s in d["per_endpoint"].items())
            sizes = ", ".join(f"{a} = {n}" for a, n in d["sizes"].items())
            con.print(f"Unknown subgroup n ({d['population']}): sizes reconstructed from the reported p-values "
                      f"by 'msbayes data infer-n': per endpoint {per}; one pair for both endpoints: {sizes} "
                      f"(jointly consistent: {'yes' if d['jointly_consistent'] else 'no'}). A fit config states the "
                      "sizes it assumes under assumed_n.", soft_wrap=True, markup=False)
        except ValueError:
            pass
    try:
        facts = load_design_facts(name)
    except ValueError:
        facts = None
    if facts is not None and len(facts):
        tf = Table(title="Design facts")
        for c in ("key", "value", "unit", "src"):
            tf.add_column(c)
        for _, r in facts.iterrows():
            tf.add_row(r.key, f"{r.value:,.10g}", r.unit, src_ref(r.source))
        con.print(tf)
    con.print("Sources:", soft_wrap=True)
    for i, u in enumerate(sources, 1):
        con.print(f"  [{i}] {u}", soft_wrap=True, markup=False)
    con.print(f"sha256 ({name}, all shipped files): {dataset_sha256(name)}", soft_wrap=True)


def _checked(fn, *args, **kwargs):
    """Run an infer-n search; a bad search box is the user's option, not a crash."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        msg = str(exc)
        hint = "--n-min" if "n_min" in msg or "n_max" in msg else ("--test" if "test" in msg else "--p")
        raise typer.BadParameter(msg, param_hint=hint) from None


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="Summary, patient-level or estimate-and-SE table (.csv or .parquet)."),
    kind: str = typer.Option("auto", "--kind", help="auto | summary | patient | effects"),
) -> None:
    """Validate a table against the documented schema; list every problem (row, column)."""
    from .schema import check_frame, read_table

    if kind not in _KINDS:
        raise typer.BadParameter(f"must be one of {', '.join(_KINDS)}; got {kind!r}", param_hint="--kind")
    con = _console()
    try:
        df = read_table(file)
    except ValueError as exc:
        con.print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(code=1) from None
    problems = check_frame(df, kind=kind)  # type: ignore[arg-type]
    if problems:
        con.print(f"{len(problems)} problem(s) in {file} (rows numbered as in the file: header = row 1):",
                  soft_wrap=True, markup=False)
        for p in problems:
            con.print(f"  {p}", soft_wrap=True, markup=False)
        raise typer.Exit(code=1)
    con.print(f"OK: {len(df)} rows", soft_wrap=True)


def _pairs_table(df: pd.DataFrame, title: str, joint_eps: list[str] | None = None) -> Table:
    t = Table(title=title)
    cols = ["n1", "n2", "test"]
    if joint_eps:
        for ep in joint_eps:
            cols += [f"p_{ep}", f"rel_err_{ep}", f"ok_{ep}"]
        cols += ["max_rel_err", "consistent"]
    else:
        cols += ["p_computed", "p_reported", "rel_error", "consistent"]
    for c in cols:
        t.add_column(c, justify="right")
    for _, r in df.iterrows():
        row = [str(int(r.n1)), str(int(r.n2)), r.test]
        if joint_eps:
            for ep in joint_eps:
                row += [f"{r[f'p_computed_{ep}']:.4f}", f"{r[f'rel_error_{ep}']:.3f}", "yes" if r[f"consistent_{ep}"] else "no"]
            row += [f"{r.max_rel_error:.3f}", "yes" if r.consistent else "no"]
        else:
            row += [f"{r.p_computed:.4f}", f"{r.p_reported:g}", f"{r.rel_error:.3f}", "yes" if r.consistent else "no"]
        t.add_row(*row)
    return t


@app.command("infer-n")
def infer_n_cmd(
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Built-in data set (default harris2024 when no explicit statistics)."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="t25fw | 6mwt (default: every endpoint with a p-value)."),
    population: Optional[str] = typer.Option(None, "--population", help="e.g. edss_6.0-6.5 (default: every population with a p-value)."),
    mean1: Optional[float] = typer.Option(None, "--mean1", help="Arm 1 (treatment) mean."),
    sd1: Optional[float] = typer.Option(None, "--sd1", help="Arm 1 SD."),
    mean2: Optional[float] = typer.Option(None, "--mean2", help="Arm 2 (control) mean."),
    sd2: Optional[float] = typer.Option(None, "--sd2", help="Arm 2 SD."),
    p: Optional[str] = typer.Option(None, "--p", help="Reported two-sided p as printed (e.g. 0.030: trailing zeros count)."),
    test: Optional[list[str]] = typer.Option(None, "--test", help="welch | student | rank | rank_lognormal (repeatable; default welch, student, rank)."),
    n_min: int = typer.Option(3, "--n-min", help="Smallest n per arm searched."),
    n_max1: Optional[int] = typer.Option(None, "--n-max1", help="Largest n of arm 1 (default 27; data set: year-1 completers)."),
    n_max2: Optional[int] = typer.Option(None, "--n-max2", help="Largest n of arm 2 (default 27; data set: year-1 completers)."),
    top: int = typer.Option(10, "--top", help="Rows shown per test."),
    joint: bool = typer.Option(False, "--joint", help="One (n1, n2) for both endpoints of the subgroup."),
) -> None:
    """List subgroup sizes (n per arm) consistent with reported summary statistics and p-values."""
    from .builtin import list_datasets, load_design_facts, load_pvalues, load_summaries
    from .infer_n import TESTS, default_subgroup_n_details, infer_n, infer_n_joint

    tests = tuple(test) if test else ("welch", "student", "rank")
    bad = [t for t in tests if t not in TESTS]
    if bad:
        raise typer.BadParameter(f"unknown test(s) {bad}; allowed: {', '.join(TESTS)}", param_hint="--test")
    if top < 1:
        raise typer.BadParameter("must be >= 1", param_hint="--top")
    if n_min < 2:
        raise typer.BadParameter("must be >= 2", param_hint="--n-min")
    for hint, v in (("--n-max1", n_max1), ("--n-max2", n_max2)):
        if v is not None and v < n_min:
            raise typer.BadParameter(f"must be >= --n-min ({n_min}); got {v}", param_hint=hint)
    explicit = {"--mean1": mean1, "--sd1": sd1, "--mean2": mean2, "--sd2": sd2, "--p": p}
    con = _console()
    if any(v is not None for v in explicit.values()):
        missing = [k for k, v in explicit.items() if v is None]
        if missing:
            raise typer.BadParameter(f"explicit statistics need all of --mean1 --sd1 --mean2 --sd2 --p; missing {' '.join(missing)}",
                                     param_hint=missing[0])
        clash = [k for k, v in (("--dataset", dataset), ("--endpoint", endpoint), ("--population", population)) if v is not None]
        if clash or joint:
            raise typer.BadParameter("give either explicit statistics or --dataset/--endpoint/--population/--joint, not both",
                                     param_hint=(clash or ["--joint"])[0])
        for k in ("--sd1", "--sd2"):
            if explicit[k] <= 0:  # type: ignore[operator]
                raise typer.BadParameter(f"must be > 0; got {explicit[k]}", param_hint=k)
        try:
            pv = float(p)  # type: ignore[arg-type]
        except ValueError:
            raise typer.BadParameter(f"not a number: {p!r}", param_hint="--p") from None
        if not 0 < pv < 1:
            raise typer.BadParameter(f"must be in (0, 1); got {p}", param_hint="--p")
        full = _checked(infer_n, mean1, sd1, mean2, sd2, p, tests=tests, n_min=n_min,  # type: ignore[arg-type]
                        n_max1=n_max1 or 27, n_max2=n_max2 or 27, top=None)
        con.print(_pairs_table(_top(full, top), f"(n1, n2) for p = {p}, n in [{n_min}, {n_max1 or 27}] x [{n_min}, {n_max2 or 27}]"))
        _summary_line(con, full)
        return

    name = dataset or "harris2024"
    if name not in list_datasets():
        raise typer.BadParameter(f"unknown data set {name!r}; available: {', '.join(list_datasets())}", param_hint="--dataset")
    summ = load_summaries(name)
    pvals = load_pvalues(name)
    if endpoint is not None and endpoint not in set(pvals.endpoint):
        raise typer.BadParameter(f"no reported p-value for endpoint {endpoint!r} in {name}; available: "
                                 f"{', '.join(sorted(set(pvals.endpoint)))}", param_hint="--endpoint")
    if population is not None and population not in set(pvals.population):
        raise typer.BadParameter(f"no reported p-value for population {population!r} in {name}; available: "
                                 f"{', '.join(sorted(set(pvals.population)))}", param_hint="--population")
    mask = pd.Series(True, index=pvals.index)
    if endpoint:
        mask &= pvals.endpoint == endpoint
    if population:
        mask &= pvals.population == population
    sel = pvals[mask]
    facts = load_design_facts(name).set_index("key")["value"]

    def bound(arm: str, given: int | None) -> int:
        if given is not None:
            return given
        v = facts.get(f"n_completed_year1_{arm}", facts.get(f"n_randomized_{arm}"))
        if v is not None and pd.notna(v):
            return int(v)
        known = summ[(summ.arm == arm) & summ.n.notna()].n
        return max(27, 2 * int(known.max())) if len(known) else 27

    stats: dict[str, dict] = {}
    for _, r in sel.iterrows():
        sub = summ[(summ.endpoint == r.endpoint) & (summ.population == r.population)].set_index("arm")
        a, b = sub.loc[r.arm], sub.loc[r.comparator]
        st = dict(mean1=float(a["mean"]), sd1=float(a["sd"]), mean2=float(b["mean"]), sd2=float(b["sd"]),
                  p=r.p_text, decimals=int(r.decimals), convention=a["convention"])
        b1, b2 = bound(r.arm, n_max1), bound(r.comparator, n_max2)
        label = f"{name} {r.endpoint} {r.population}: {r.arm} {st['mean1']:g} ± {st['sd1']:g} vs {r.comparator} " \
                f"{st['mean2']:g} ± {st['sd2']:g}, p = {r.p_text} (test {r.test}); n1 in [{n_min}, {b1}], n2 in [{n_min}, {b2}]"
        if joint:
            stats[r.endpoint] = st | {"_b": (b1, b2), "_pop": r.population}
            continue
        full = _checked(infer_n, st["mean1"], st["sd1"], st["mean2"], st["sd2"], st["p"], tests=tests, n_min=n_min,
                        n_max1=b1, n_max2=b2, top=None, decimals=st["decimals"], convention=st["convention"])
        con.print(label, soft_wrap=True, markup=False)
        con.print(_pairs_table(_top(full, top), "consistent = p_computed rounds to the reported p"))
        _summary_line(con, full)
    if joint:
        pops = {v["_pop"] for v in stats.values()}
        if len(stats) < 2 or len(pops) != 1:
            raise typer.BadParameter("--joint needs two or more endpoints with p-values in one population "
                                     "(drop --endpoint, or give --population)", param_hint="--joint")
        b1 = min(v["_b"][0] for v in stats.values())
        b2 = min(v["_b"][1] for v in stats.values())
        clean = {ep: {k: v for k, v in s.items() if not k.startswith("_")} for ep, s in stats.items()}
        full = _checked(infer_n_joint, clean, tests=tests, n_min=n_min, n_max1=b1, n_max2=b2, top=None)
        res = _top(full, top)
        eps = list(clean)
        con.print(f"{name} {pops.pop()}: joint fit of {', '.join(eps)} (same n for both); n1 in [{n_min}, {b1}], "
                  f"n2 in [{n_min}, {b2}]", soft_wrap=True, markup=False)
        con.print(_pairs_table(res, "jointly consistent = every p_computed rounds to its reported p", joint_eps=eps))
        n_ok = int(full.consistent.sum())
        con.print(f"jointly consistent pairs in the box: {n_ok}" + ("" if n_ok else " (none: no single (n1, n2) reproduces "
                  "both p-values under these tests)"), soft_wrap=True)
    # the default assumed sizes
    try:
        d = default_subgroup_n_details(name)
    except ValueError:
        return
    sizes = ", ".join(f"{a} = {n}" for a, n in d["sizes"].items())
    ch = d["chosen"]
    fit = ", ".join(f"{ep}: p = {ch[f'p_computed_{ep}']:.4f} (reported {ch[f'p_reported_{ep}']:g})"
                    for ep in d["per_endpoint"])
    con.print(f"\nBest single (joint) pair for both endpoints ({d['population']}): {sizes}", soft_wrap=True)
    con.print(f"  fit under {d['test']}: {fit}; jointly consistent: {'yes' if d['jointly_consistent'] else 'NO (best joint fit used)'}",
              soft_wrap=True, markup=False)
    per = "; ".join(f"{ep}: " + (", ".join(f"{a} = {n}" for a, n in s.items()) if s else "none") for ep, s in d["per_endpoint"].items())
    con.print(f"Assumed sizes used by the built-in config (configs/reanalysis/harris2024.yaml, assumed_n): "
              f"the per-endpoint nearest-equal consistent pairs: {per}", soft_wrap=True, markup=False)
    con.print("  (each reproduces its own reported p-value; the joint pair above is the sensitivity alternative)",
              soft_wrap=True, markup=False)
    con.print(f"  rule: {d['rule']}", soft_wrap=True, markup=False)


def _top(full: pd.DataFrame, top: int) -> pd.DataFrame:
    """Best ``top`` rows per test (``full`` is already ranked), in overall rank order."""
    keep = full.groupby("test", sort=False).head(top)
    return keep.reset_index(drop=True)


def _summary_line(con: Console, full: pd.DataFrame) -> None:
    for t, g in full.groupby("test", sort=False):
        k = int(g.consistent.sum())
        con.print(f"  {t}: {k} consistent pair(s) of {len(g)} evaluated", soft_wrap=True)
