"""`msbayes data` sub-commands through typer's CliRunner."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from msbayes.data import dataset_path, dataset_sha256
from msbayes.data.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def _flat(out: str) -> str:
    """Output with rich's error-box borders and line wrapping removed."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", out)


def test_show_prints_sources_pvalues_hash():
    r = _run("show", "harris2024")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "https://stemcellres.biomedcentral.com/articles/10.1186/s13287-024-03765-6" in out
    assert "-54.4" in out and "70.5" in out and "0.030" in out and "0.036" in out and "not named" in out
    assert "not reported; effect is a model prediction" in out
    assert dataset_sha256("harris2024") in out
    r2 = _run("show", "harris2024", "--edss-plus-denominator", "completers")
    assert r2.exit_code == 0 and "ALTERNATIVE" in r2.output


def test_show_bad_name():
    r = _run("show", "harris2025")
    assert r.exit_code != 0 and "available: harris2024, petrou2020" in _flat(r.output)
    assert "Traceback" not in r.output and not isinstance(r.exception, (ValueError, KeyError))


def test_check_exit_codes(tmp_path):
    r = _run("check", str(dataset_path("harris2024")))
    assert r.exit_code == 0 and "OK: 10 rows" in r.output
    df = pd.read_csv(dataset_path("harris2024"), dtype=str, keep_default_na=False)
    df.loc[1, "sd"] = "-5"
    df.loc[8, "events"] = "40"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    r = _run("check", str(bad), "--kind", "summary")
    assert r.exit_code == 1
    assert "row 3, column 'sd'" in r.output and "row 10, column 'events'" in r.output
    assert "2 problem(s)" in r.output
    r = _run("check", str(bad), "--kind", "weird")
    assert r.exit_code == 2 and "--kind" in _flat(r.output)
    r = _run("check", str(tmp_path / "missing.csv"))
    assert r.exit_code == 1 and "file not found" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_infer_n_dataset_output():
    r = _run("infer-n", "--dataset", "harris2024", "--endpoint", "t25fw", "--population", "edss_6.0-6.5", "--test", "welch")
    assert r.exit_code == 0, r.output
    rows = re.findall(r"│\s+(\d+) │\s+(\d+) │\s+welch │\s+([\d.]+) │.*│\s+yes │", r.output)
    assert rows
    for n1, n2, _ in rows:  # scipy reproduces the reported p to its rounding at every listed pair
        p = stats.ttest_ind_from_stats(3.7, 23.1, int(n1), -54.4, 70.5, int(n2), equal_var=False).pvalue
        assert abs(p - 0.030) <= 0.0005
    assert "Assumed sizes used by the built-in config" in r.output and "rule:" in r.output


def test_infer_n_joint_and_explicit():
    r = _run("infer-n", "--joint", "--test", "welch", "--test", "student", "--top", "3")
    assert r.exit_code == 0, r.output
    assert "joint fit of t25fw, 6mwt" in r.output and "jointly consistent pairs in the box" in r.output
    r = _run("infer-n", "--mean1", "1", "--sd1", "1", "--mean2", "0", "--sd2", "1", "--p", "0.030", "--test", "student")
    assert r.exit_code == 0 and "consistent pair(s)" in r.output


@pytest.mark.parametrize(
    "args,hint",
    [
        (["--test", "wilcoxon"], "--test"),
        (["--mean1", "1", "--sd1", "1"], "--mean2"),
        (["--mean1", "1", "--sd1", "-1", "--mean2", "0", "--sd2", "1", "--p", "0.03"], "--sd1"),
        (["--mean1", "1", "--sd1", "1", "--mean2", "0", "--sd2", "1", "--p", "2"], "--p"),
        (["--mean1", "1", "--sd1", "1", "--mean2", "0", "--sd2", "1", "--p", "0.03", "--dataset", "harris2024"], "--dataset"),
        (["--dataset", "nope"], "--dataset"),
        (["--endpoint", "9hpt"], "--endpoint"),
        (["--n-max1", "2"], "--n-max1"),
        (["--dataset", "petrou2020", "--joint"], "--joint"),
    ],
)
def test_infer_n_bad_input(args, hint):
    r = _run("infer-n", *args)
    assert r.exit_code == 2, r.output
    assert hint in _flat(r.output) and "Traceback" not in r.output
