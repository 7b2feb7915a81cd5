"""check_table: good tables pass; every kind of bad input is reported at the right row/column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msbayes.data import dataset_path
from msbayes.data.schema import Problem, check_frame, check_table
from msbayes.data.synthetic import synthesize_patients


def _good_summary() -> pd.DataFrame:
    return pd.read_csv(dataset_path("harris2024"), dtype=str, keep_default_na=False)


def _good_patient() -> pd.DataFrame:
    return synthesize_patients(seed=5)


def _locs(problems: list[Problem]) -> set[tuple]:
    return {(p.row, p.column) for p in problems}


@pytest.mark.parametrize("name", ["harris2024", "petrou2020"])
def test_builtin_tables_pass(name):
    assert check_table(dataset_path(name)) == []
    assert check_table(dataset_path(name), kind="summary") == []


def test_good_patient_table_passes_csv_and_parquet(tmp_path):
    df = _good_patient()
    df.to_csv(tmp_path / "p.csv", index=False)
    df.to_parquet(tmp_path / "p.parquet")
    assert check_table(tmp_path / "p.csv") == []
    assert check_table(tmp_path / "p.parquet", kind="patient") == []


# (mutation on 0-based data row i, column, value) -> expected (file row, column)
SUMMARY_CASES = [
    ("negative sd", 1, "sd", "-3", (3, "sd")),
    ("n < 2", 8, "n", "1", (10, "n")),
    ("wrong type mean", 2, "mean", "abc", (4, "mean")),
    ("wrong type n", 9, "n", "27.5", (11, "n")),
    ("unknown arm", 0, "arm", "stem_cells", (2, "arm")),
    ("unknown endpoint", 0, "endpoint", "9hpt", (2, "endpoint")),
    ("unknown convention", 3, "convention", "pct", (5, "convention")),
    ("convention/endpoint mismatch", 0, "convention", "pct_improvement_distance", (2, "convention")),
    ("bad population", 2, "population", "edss 6-6.5", (4, "population")),
    ("events > n", 9, "events", "30", (11, "events")),
    ("missing events for proportion", 8, "events", "", (10, "events")),
    ("proportion out of [0,1]", 8, "mean", "33", (10, "mean")),
    ("unknown n_status", 0, "n_status", "guessed", (2, "n_status")),
    ("n missing without unknown status", 8, "n", "", (10, "n")),
    ("mean without sd", 4, "mean", "2.0", (6, "sd")),
    ("ratio mean <= 0", 0, "mean", "150", (2, "mean")),
    ("negative horizon", 5, "horizon_months", "-1", (7, "horizon_months")),
]


@pytest.mark.parametrize("label,i,col,val,expected", SUMMARY_CASES, ids=[c[0] for c in SUMMARY_CASES])
def test_summary_problem_located(label, i, col, val, expected, tmp_path):
    df = _good_summary()
    df.loc[i, col] = val
    path = tmp_path / "s.csv"
    df.to_csv(path, index=False)
    probs = check_table(path)
    assert expected in _locs(probs), [str(p) for p in probs]
    # nothing else is flagged on other rows
    assert {p.row for p in probs} == {expected[0]}, [str(p) for p in probs]


def test_duplicate_key_and_columns(tmp_path):
    df = _good_summary()
    df = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    df["extra"] = "x"
    df = df.drop(columns=["sd"])
    path = tmp_path / "s.csv"
    df.to_csv(path, index=False)
    probs = check_table(path, kind="summary")
    locs = _locs(probs)
    assert (None, "sd") in locs and (None, "extra") in locs
    dup = [p for p in probs if "duplicate key" in p.message]
    assert len(dup) == 1 and dup[0].row == len(df) + 1 and "row 5" in dup[0].message


def test_every_problem_reported_at_once(tmp_path):
    df = _good_summary()
    df.loc[0, "sd"] = "-1"
    df.loc[1, "arm"] = "xx"
    df.loc[9, "events"] = "99"
    path = tmp_path / "s.csv"
    df.to_csv(path, index=False)
    assert {(2, "sd"), (3, "arm"), (11, "events")} <= _locs(check_table(path))


PATIENT_CASES = [
    ("missing baseline", 0, "baseline", None, "baseline"),
    ("negative followup", 1, "followup", -2.0, "followup"),
    ("unknown subtype", 2, "subtype", "rrms", "subtype"),
    ("unknown endpoint", 3, "endpoint", "9hpt", "endpoint"),
    ("unknown arm", 4, "arm", "drug", "arm"),
    ("bad stratum", 5, "stratum", "high", "stratum"),
    ("wrong type baseline", 6, "baseline", "fast", "baseline"),
    ("bad synthetic flag", 7, "synthetic", "maybe", "synthetic"),
    ("implausible unit", 0, "followup", 5000.0, "followup"),
]


@pytest.mark.parametrize("label,i,col,val,expected_col", PATIENT_CASES, ids=[c[0] for c in PATIENT_CASES])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_patient_problem_located(label, i, col, val, expected_col, fmt, tmp_path):
    df = _good_patient().astype(object)
    df.loc[i, col] = val
    path = tmp_path / f"p.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif isinstance(val, str) and col in ("baseline", "followup", "synthetic"):
        df[col] = df[col].astype(str)  # a text value in a numeric/boolean column
        df.convert_dtypes().to_parquet(path)
    else:
        df.convert_dtypes().to_parquet(path)
    probs = check_table(path)
    assert (i + 2, expected_col) in _locs(probs), [str(p) for p in probs]


def test_patient_duplicates_and_inconsistent_patient(tmp_path):
    df = _good_patient()
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    df.loc[1, "arm"] = "saline" if df.loc[1, "arm"] == "msc_np" else "msc_np"  # row 1 is SYN-0001's 2nd endpoint
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    probs = check_table(path)
    assert any(p.row == len(df) + 1 and "duplicate key" in p.message for p in probs)
    assert any(p.row == 3 and "SYN-0001" in p.message for p in probs)


def test_file_level_problems(tmp_path):
    assert "file not found" in check_table(tmp_path / "none.csv")[0].message
    (tmp_path / "x.xlsx").write_text("a")
    assert "unsupported file type" in check_table(tmp_path / "x.xlsx")[0].message
    (tmp_path / "e.csv").write_text("foo,bar\n1,2\n")
    assert "cannot tell" in check_table(tmp_path / "e.csv")[0].message
    (tmp_path / "h.csv").write_text(",".join(_good_summary().columns) + "\n")
    assert any(p.message == "no data rows" for p in check_table(tmp_path / "h.csv"))


def test_problem_str_and_frozen():
    p = Problem(4, "sd", "SD must be > 0; got -1.0")
    assert str(p) == "row 4, column 'sd': SD must be > 0; got -1.0"
    assert str(Problem(None, None, "x")) == "table: x"
    with pytest.raises(Exception):
        p.row = 5  # type: ignore[misc]
    with pytest.raises(ValueError, match="kind must be one of"):
        check_frame(pd.DataFrame(), kind="ipd")  # type: ignore[arg-type]
