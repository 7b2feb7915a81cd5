"""Validate a user's summary table or patient-level table (CSV or Parquet).

:func:`check_table` reports **every** problem it finds, each as a :class:`Problem` naming the
row and the column. Row numbers are 1-based as in the CSV file: the header is row 1 and the
first data row is row 2. Parquet files are numbered the same way (as if written to CSV with
a header), so a problem points at the same record in either format. File-level and
column-level problems have ``row=None``.

The schemas are in docs/data.md; the vocabularies in :mod:`msbayes.data.vocab`.

Examples
--------
>>> from msbayes.data import dataset_path
>>> from msbayes.data.schema import check_table
>>> check_table(dataset_path("harris2024"))
[]
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .vocab import (
    ARMS,
    CONVENTIONS,
    ENDPOINT_CONVENTIONS,
    ENDPOINTS,
    N_STATUS,
    PATIENT_COLUMNS,
    PATIENT_KEY,
    SUBTYPES,
    SUMMARY_COLUMNS,
    SUMMARY_KEY,
    WALK_ENDPOINTS,
    valid_population,
)

__all__ = [
    "Problem",
    "TableKind",
    "check_table",
    "check_frame",
    "read_table",
    "SUMMARY_REQUIRED",
    "PATIENT_REQUIRED",
    "PATIENT_LIMITS",
    "EFFECTS_REQUIRED",
    "EFFECTS_COLUMNS",
]

TableKind = Literal["auto", "summary", "patient", "effects"]

SUMMARY_REQUIRED: tuple[str, ...] = ("study", "endpoint", "population", "arm", "convention", "n", "mean", "sd")
PATIENT_REQUIRED: tuple[str, ...] = PATIENT_COLUMNS
#: plausible ranges of patient-level values (units: T25FW seconds, 6MWT metres)
PATIENT_LIMITS: dict[str, tuple[float, float]] = {"t25fw": (0.0, 600.0), "6mwt": (0.0, 1000.0)}
_FIRST_DATA_ROW = 2  # header is row 1
#: estimate-and-SE table: one reported treatment effect per (endpoint, population)
EFFECTS_REQUIRED: tuple[str, ...] = ("study", "endpoint", "population", "scale", "estimate", "se")
EFFECTS_COLUMNS: tuple[str, ...] = (*EFFECTS_REQUIRED, "higher_is_better", "source", "note")
_LABEL_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class Problem:
    """One problem in a table.

    Attributes
    ----------
    row : int or None
        1-based row as in the CSV file (header = 1, first data row = 2); None for file- or
        column-level problems.
    column : str or None
        Column name; None for row- or file-level problems.
    message : str

    Examples
    --------
    >>> from msbayes.data.schema import Problem
    >>> str(Problem(3, "sd", "must be > 0; got -1.0"))
    "row 3, column 'sd': must be > 0; got -1.0"
    """

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'table'}: {self.message}"


# ---------------------------------------------------------------------------- cell parsers
def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() in ("", "NA", "NaN", "nan", "<NA>", "None")


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError
    f = float(v)
    if not math.isfinite(f):
        raise ValueError
    return f


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError
    f = float(v)
    if not math.isfinite(f) or f != int(f):
        raise ValueError
    return int(f)


_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError


def _to_str(v: Any) -> str:
    return str(v).strip()


# ---------------------------------------------------------------------------- reading
def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or Parquet table without coercing types (CSV cells stay text).

    Raises
    ------
    ValueError
        Unknown extension or unreadable file (the message says why).
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        _check_field_counts(p)
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(p, dtype=str, keep_default_na=False)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p).astype(object)
    except Exception as exc:  # noqa: BLE001 - turn any reader error into a message
        raise ValueError(f"cannot read {p.name}: {type(exc).__name__}: {exc}") from None
    raise ValueError(f"unsupported file type {suffix!r} for {p.name}; use .csv or .parquet")


def _check_field_counts(p: Path, *, show: int = 5) -> None:
    """Refuse a CSV whose rows do not all have as many fields as the header (one message).

    Rows are numbered as in the file (header = row 1); blank lines are skipped as pandas does.
    """
    import csv

    try:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header is None:
                raise ValueError(f"{p.name}: empty file (no header row)")
            bad = []
            for row in rows:
                if not row:
                    continue
                if len(row) != len(header):
                    bad.append(f"row {rows.line_num} has {len(row)} field{'s' if len(row) != 1 else ''}")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"{p.name}: not a valid CSV file ({exc})") from None
    if bad:
        more = f" (and {len(bad) - show} more row(s))" if len(bad) > show else ""
        raise ValueError(f"{p.name}: {', '.join(bad[:show])}{more}, header has {len(header)}: "
                         "check for a missing or extra comma (quote text containing commas)")


# ---------------------------------------------------------------------------- checking
class _Ctx:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, row: int | None, col: str | None, msg: str) -> None:
        self.problems.append(Problem(row, col, msg))

    def parse(self, row: int, col: str, v: Any, fn: Callable[[Any], Any], what: str, *,
              required: bool) -> Any:
        if _is_missing(v):
            if required:
                self.add(row, col, f"missing value (expected {what})")
            return None
        try:
            return fn(v)
        except (TypeError, ValueError):
            self.add(row, col, f"wrong type: expected {what}, got {v!r}")
            return None

    def choice(self, row: int, col: str, v: Any, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        s = self.parse(row, col, v, _to_str, "text", required=required)
        if s is not None and s not in allowed:
            self.add(row, col, f"unknown value {s!r}; allowed: {', '.join(allowed)}")
            return None
        return s


def _check_columns(df: pd.DataFrame, ctx: _Ctx, required: tuple[str, ...], known: tuple[str, ...]) -> None:
    for c in required:
        if c not in df.columns:
            ctx.add(None, c, f"missing column (required: {', '.join(required)})")
    for c in df.columns:
        if c not in known:
            ctx.add(None, str(c), f"unknown column; allowed: {', '.join(known)}")
    dup = [c for c in df.columns[df.columns.duplicated()]]
    for c in dup:
        ctx.add(None, str(c), "duplicate column name")


def _get(rec: dict[str, Any], col: str) -> Any:
    return rec.get(col)


def _check_summary(df: pd.DataFrame, ctx: _Ctx) -> None:
    _check_columns(df, ctx, SUMMARY_REQUIRED, SUMMARY_COLUMNS)
    seen: dict[tuple, int] = {}
    has = set(df.columns)
    for i, rec in enumerate(df.to_dict("records")):
        r = i + _FIRST_DATA_ROW
        ctx.parse(r, "study", _get(rec, "study"), _to_str, "text", required="study" in has)
        endpoint = ctx.choice(r, "endpoint", _get(rec, "endpoint"), ENDPOINTS) if "endpoint" in has else None
        pop = ctx.parse(r, "population", _get(rec, "population"), _to_str, "text", required="population" in has)
        if pop is not None and not valid_population(pop):
            ctx.add(r, "population", f"bad population {pop!r}; expected 'all' or 'edss_<lo>-<hi>' (e.g. edss_6.0-6.5)")
        if "arm" in has:
            ctx.choice(r, "arm", _get(rec, "arm"), ARMS)
        conv = ctx.choice(r, "convention", _get(rec, "convention"), CONVENTIONS) if "convention" in has else None
        if endpoint and conv and conv not in ENDPOINT_CONVENTIONS[endpoint]:
            ctx.add(r, "convention", f"convention {conv!r} does not fit endpoint {endpoint!r}; allowed: "
                    f"{', '.join(ENDPOINT_CONVENTIONS[endpoint])}")
        status = None
        if "n_status" in has:
            status = ctx.choice(r, "n_status", _get(rec, "n_status"), N_STATUS, required=False)
        n = ctx.parse(r, "n", _get(rec, "n"), _to_int, "integer", required=False) if "n" in has else None
        if "n" in has and n is None and _is_missing(_get(rec, "n")) and status != "unknown":
            ctx.add(r, "n", "missing value (leave n empty only with n_status = unknown)")
        if n is not None and n < 2:
            ctx.add(r, "n", f"n must be >= 2; got {n}")
        if n is not None and status == "unknown":
            ctx.add(r, "n_status", "n_status is 'unknown' but n is given")
        if "horizon_months" in has:
            h = ctx.parse(r, "horizon_months", _get(rec, "horizon_months"), _to_float, "number", required=False)
            if h is not None and h <= 0:
                ctx.add(r, "horizon_months", f"must be > 0; got {h}")
        mean = ctx.parse(r, "mean", _get(rec, "mean"), _to_float, "number", required=False) if "mean" in has else None
        sd = ctx.parse(r, "sd", _get(rec, "sd"), _to_float, "number", required=False) if "sd" in has else None
        events = ctx.parse(r, "events", _get(rec, "events"), _to_int, "integer", required=False) if "events" in has else None
        if sd is not None and sd <= 0:
            ctx.add(r, "sd", f"SD must be > 0; got {sd}")
        if conv == "proportion" or endpoint == "edss_plus":
            if "events" not in has or _is_missing(_get(rec, "events")):
                ctx.add(r, "events", "missing value (required for a proportion)")
            if events is not None and events < 0:
                ctx.add(r, "events", f"events must be >= 0; got {events}")
            if events is not None and n is not None and events > n:
                ctx.add(r, "events", f"events ({events}) > n ({n})")
            if mean is not None and not 0.0 <= mean <= 1.0:
                ctx.add(r, "mean", f"a proportion must be in [0, 1]; got {mean}")
            elif mean is not None and events is not None and n and events <= n and abs(events / n - mean) > 0.005 + 1e-9:
                ctx.add(r, "mean", f"proportion {mean} does not match events/n = {events}/{n} = {events / n:.4f}")
        elif endpoint in WALK_ENDPOINTS:
            no_mean = "mean" in has and _is_missing(_get(rec, "mean"))
            no_sd = "sd" in has and _is_missing(_get(rec, "sd"))
            if no_mean != no_sd:
                ctx.add(r, "mean" if no_mean else "sd",
                        "missing value: mean and sd must both be given, or both be empty (stratum not reported)")
            if events is not None:
                ctx.add(r, "events", "events are only for convention 'proportion'")
            if mean is not None and conv is not None and conv != "proportion":
                # the ratio the percent is linear in (time, speed or distance ratio) must be > 0
                ratio_mean = 1 - mean / 100 if conv == "pct_improvement_time" else 1 + mean / 100
                if not ratio_mean > 0:
                    ctx.add(r, "mean", f"mean {mean} implies a ratio mean <= 0 under convention {conv!r}")
        key = tuple(_to_str(rec.get(k, "")) for k in SUMMARY_KEY)
        if all(k in has for k in SUMMARY_KEY):
            if key in seen:
                ctx.add(r, None, f"duplicate key ({', '.join(SUMMARY_KEY)}) = {key}: same as row {seen[key]}")
            else:
                seen[key] = r


def _check_patient(df: pd.DataFrame, ctx: _Ctx) -> None:
    _check_columns(df, ctx, PATIENT_REQUIRED, PATIENT_COLUMNS)
    has = set(df.columns)
    seen: dict[tuple, int] = {}
    attrs_of: dict[str, tuple[tuple, int]] = {}
    for i, rec in enumerate(df.to_dict("records")):
        r = i + _FIRST_DATA_ROW
        pid = ctx.parse(r, "patient_id", rec.get("patient_id"), _to_str, "text", required="patient_id" in has)
        ctx.parse(r, "study", rec.get("study"), _to_str, "text", required="study" in has)
        arm = ctx.choice(r, "arm", rec.get("arm"), ARMS) if "arm" in has else None
        stratum = ctx.parse(r, "stratum", rec.get("stratum"), _to_str, "text", required="stratum" in has)
        if stratum is not None and not valid_population(stratum):
            ctx.add(r, "stratum", f"bad stratum {stratum!r}; expected 'edss_<lo>-<hi>' (e.g. edss_6.0-6.5) or 'all'")
        subtype = ctx.choice(r, "subtype", rec.get("subtype"), SUBTYPES) if "subtype" in has else None
        endpoint = ctx.choice(r, "endpoint", rec.get("endpoint"), WALK_ENDPOINTS) if "endpoint" in has else None
        unit = {"t25fw": "seconds", "6mwt": "metres"}.get(endpoint or "", "seconds or metres")
        for col, req in (("baseline", True), ("followup", False)):
            if col not in has:
                continue
            v = ctx.parse(r, col, rec.get(col), _to_float, f"number ({unit})", required=req)
            if v is None:
                continue
            if v <= 0:
                ctx.add(r, col, f"must be > 0 ({unit}); got {v}")
            elif endpoint in PATIENT_LIMITS and v > PATIENT_LIMITS[endpoint][1]:
                ctx.add(r, col, f"implausible {endpoint} value {v} (> {PATIENT_LIMITS[endpoint][1]:g} {unit}); wrong unit?")
        if "synthetic" in has:
            ctx.parse(r, "synthetic", rec.get("synthetic"), _to_bool, "boolean (true/false)", required=True)
        if pid is not None and "endpoint" in has:
            key = (pid, _to_str(rec.get("endpoint", "")))
            if key in seen:
                ctx.add(r, None, f"duplicate key ({', '.join(PATIENT_KEY)}) = {key}: same as row {seen[key]}")
            else:
                seen[key] = r
        if pid is not None:
            a = (arm, stratum, subtype)
            if pid in attrs_of and attrs_of[pid][0] != a:
                ctx.add(r, None, f"patient {pid!r} has arm/stratum/subtype {a} but {attrs_of[pid][0]} in row {attrs_of[pid][1]}")
            attrs_of.setdefault(pid, (a, r))


def _check_effects(df: pd.DataFrame, ctx: _Ctx) -> None:
    _check_columns(df, ctx, EFFECTS_REQUIRED, EFFECTS_COLUMNS)
    has = set(df.columns)
    seen: dict[tuple, int] = {}
    scale_of: dict[str, tuple[str, int]] = {}
    for i, rec in enumerate(df.to_dict("records")):
        r = i + _FIRST_DATA_ROW
        ctx.parse(r, "study", rec.get("study"), _to_str, "text", required="study" in has)
        labels = {}
        for col in ("endpoint", "population", "scale"):
            if col not in has:
                continue
            v = ctx.parse(r, col, rec.get(col), _to_str, "text", required=True)
            if v is not None and not set(v) <= _LABEL_OK:
                ctx.add(r, col, f"label {v!r} may contain only letters, digits, '_', '-' and '.'")
                v = None
            labels[col] = v
        if "estimate" in has:
            est = ctx.parse(r, "estimate", rec.get("estimate"), _to_float, "number", required=True)
            if est is not None and not math.isfinite(est):
                ctx.add(r, "estimate", f"must be finite; got {est}")
        if "se" in has:
            se = ctx.parse(r, "se", rec.get("se"), _to_float, "number", required=True)
            if se is not None and not (math.isfinite(se) and se > 0):
                ctx.add(r, "se", f"SE must be > 0 and finite; got {se}")
        if "higher_is_better" in has:
            ctx.parse(r, "higher_is_better", rec.get("higher_is_better"), _to_bool, "boolean (true/false)",
                      required=False)
        ep, pop, sc = labels.get("endpoint"), labels.get("population"), labels.get("scale")
        if ep is not None and pop is not None:
            key = (ep, pop)
            if key in seen:
                ctx.add(r, None, f"duplicate (endpoint, population) = {key}: same as row {seen[key]}")
            else:
                seen[key] = r
        if ep is not None and sc is not None:
            if ep in scale_of and scale_of[ep][0] != sc:
                ctx.add(r, "scale", f"endpoint {ep!r} is on scale {scale_of[ep][0]!r} in row {scale_of[ep][1]}; "
                        "one scale per endpoint")
            scale_of.setdefault(ep, (sc, r))


def _detect_kind(df: pd.DataFrame) -> str | None:
    cols = set(df.columns)
    if {"estimate", "se"} <= cols:
        return "effects"
    if "patient_id" in cols or {"baseline", "followup"} <= cols:
        return "patient"
    if {"mean", "sd"} & cols or "convention" in cols:
        return "summary"
    return None


def check_frame(df: pd.DataFrame, *, kind: TableKind = "auto") -> list[Problem]:
    """Check an in-memory table (see :func:`check_table`); rows numbered as in a CSV file.

    Examples
    --------
    >>> import pandas as pd
    >>> from msbayes.data.schema import check_frame
    >>> bad = pd.DataFrame({"study": ["x"], "endpoint": ["t25fw"], "population": ["all"],
    ...     "arm": ["saline"], "convention": ["pct_change_time"], "n": [1], "mean": [1.0],
    ...     "sd": [-2.0]})
    >>> [str(p) for p in check_frame(bad)]
    ["row 2, column 'n': n must be >= 2; got 1", "row 2, column 'sd': SD must be > 0; got -2.0"]
    """
    if kind not in ("auto", "summary", "patient", "effects"):
        raise ValueError(f"kind must be one of auto, summary, patient, effects; got {kind!r}")
    ctx = _Ctx()
    df = df.rename(columns=lambda c: str(c).strip())
    k = _detect_kind(df) if kind == "auto" else kind
    if k is None:
        return [Problem(None, None, "cannot tell whether this is a summary, patient-level or estimate-and-SE "
                        "table; pass kind='summary', 'patient' or 'effects'")]
    if len(df) == 0:
        ctx.add(None, None, "no data rows")
    {"summary": _check_summary, "patient": _check_patient, "effects": _check_effects}[k](df, ctx)
    return ctx.problems


def check_table(path: str | os.PathLike, *, kind: TableKind = "auto") -> list[Problem]:
    """Validate a summary or patient-level table (CSV or Parquet) and list every problem.

    Parameters
    ----------
    path : path-like
        ``.csv`` or ``.parquet`` file.
    kind : {"auto", "summary", "patient", "effects"}
        ``auto`` detects the kind from the columns (``patient_id`` -> patient;
        ``estimate`` and ``se`` -> effects; ``mean``/``sd``/``convention`` -> summary).

    Returns
    -------
    list of Problem
        Empty if the table is valid. Rows are 1-based as in the CSV file (header = row 1,
        first data row = row 2); unreadable files give one problem with ``row=None``.

    Examples
    --------
    >>> from msbayes.data import dataset_path
    >>> from msbayes.data.schema import check_table
    >>> check_table(dataset_path("petrou2020"), kind="summary")
    []
    """
    if kind not in ("auto", "summary", "patient", "effects"):
        raise ValueError(f"kind must be one of auto, summary, patient, effects; got {kind!r}")
    try:
        df = read_table(path)
    except ValueError as exc:
        return [Problem(None, None, str(exc))]
    return check_frame(df, kind=kind)
