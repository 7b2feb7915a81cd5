"""Built-in published data (package data): loaders, paths and hashes.

Each built-in data set ``NAME`` ships as CSV files in ``msbayes/data/builtin/``:

- ``NAME.csv``: one row per (study, endpoint, population, arm): the published arm summaries,
  typed, with a provenance column (``source`` URL, ``locator``, ``note``); see docs/data.md.
- ``NAME_pvalues.csv``: reported p-values (test as stated in the source, usually "not named").
- ``NAME_design.csv``: design facts (key, value, unit, source, locator, note).
- ``NAME_alternatives.csv`` (optional): documented alternative readings of ambiguous numbers,
  selected by a loader option (e.g. the EDSS Plus denominator).

Examples
--------
>>> from msbayes.data import load_summaries
>>> df = load_summaries("harris2024")
>>> df.loc[(df.endpoint == "edss_plus") & (df.arm == "msc_np"), ["n", "events"]].iloc[0].tolist()
[27, 9]
>>> load_summaries("harris2024", edss_plus_denominator="completers").query(
...     "endpoint == 'edss_plus' and arm == 'msc_np'")["n"].iloc[0]
np.int64(24)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from collections.abc import Mapping
from typing import Literal

import pandas as pd

from .vocab import SUMMARY_COLUMNS, SUMMARY_DTYPES, SUMMARY_KEY

__all__ = [
    "BUILTIN_DIR",
    "list_datasets",
    "dataset_path",
    "dataset_files",
    "dataset_sha256",
    "load_summaries",
    "load_pvalues",
    "load_design_facts",
    "fill_assumed_n",
]

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
_SUFFIXES = ("_pvalues", "_design", "_alternatives")

EdssPlusDenominator = Literal["randomized", "completers"]


def list_datasets() -> list[str]:
    """Names of the built-in data sets (sorted).

    Examples
    --------
    >>> from msbayes.data import list_datasets
    >>> list_datasets()
    ['harris2024', 'petrou2020']
    """
    return sorted(
        p.stem for p in BUILTIN_DIR.glob("*.csv") if not any(p.stem.endswith(s) for s in _SUFFIXES)
    )


def _check_name(name: str) -> str:
    avail = list_datasets()
    if not isinstance(name, str) or name not in avail:
        raise ValueError(f"unknown data set {name!r}; available: {', '.join(avail)}")
    return name


def dataset_path(name: str) -> Path:
    """Path of the main summary file ``NAME.csv`` of a built-in data set.

    Examples
    --------
    >>> from msbayes.data import dataset_path
    >>> dataset_path("harris2024").name
    'harris2024.csv'
    """
    return BUILTIN_DIR / f"{_check_name(name)}.csv"


def dataset_files(name: str) -> list[Path]:
    """All shipped files of a data set (main file first, then companions in fixed order)."""
    main = dataset_path(name)
    extra = [BUILTIN_DIR / f"{name}{s}.csv" for s in _SUFFIXES]
    return [main, *[p for p in extra if p.is_file()]]


def dataset_sha256(name: str) -> str:
    """SHA-256 over the data set's shipped files.

    Computed as SHA-256 of the concatenated hex digests of :func:`dataset_files` in order (the
    same rule as :func:`msbayes.io.provenance` uses for ``data_files``), so any edit to any of
    the files changes it.

    Examples
    --------
    >>> from msbayes.data import dataset_sha256
    >>> len(dataset_sha256("harris2024"))
    64
    """
    parts = "".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in dataset_files(name))
    return hashlib.sha256(parts.encode("utf-8")).hexdigest()


def _read_typed(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in SUMMARY_COLUMNS if c not in raw.columns]
    if missing:  # pragma: no cover - shipped files are tested
        raise ValueError(f"{path}: missing columns {missing}")
    out = pd.DataFrame(index=raw.index)
    for col in SUMMARY_COLUMNS:
        dt = SUMMARY_DTYPES[col]
        if dt == "float64":
            out[col] = pd.to_numeric(raw[col]).astype("float64")
        elif dt == "Int64":
            out[col] = pd.to_numeric(raw[col]).astype("Int64")
        else:
            out[col] = raw[col].astype("str").where(raw[col].notna(), "")
    return out


def load_summaries(
    name: str, *, edss_plus_denominator: EdssPlusDenominator = "randomized"
) -> pd.DataFrame:
    """Load the typed published arm summaries of a built-in data set.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets`.
    edss_plus_denominator : {"randomized", "completers"}
        Denominator of the EDSS Plus responder proportion. ``"randomized"`` (default) uses 9/27
        for MSC-NP; ``"completers"`` uses 8/24 (year-1 completers), from
        ``NAME_alternatives.csv``. Data sets without an alternative are unchanged.

    Returns
    -------
    pandas.DataFrame
        Columns ``study, endpoint, population, arm, horizon_months, convention, n, n_status,
        mean, sd, events, source, locator, note``; ``n`` and ``events`` are nullable ``Int64``
        (``<NA>`` when unknown), ``mean``, ``sd``, ``horizon_months`` are float (NaN when not
        reported), text columns are strings ("" when empty). ``df.attrs`` holds ``dataset``,
        ``sha256`` and ``edss_plus_denominator``.

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the available names) or unknown option value.

    Examples
    --------
    >>> from msbayes.data import load_summaries
    >>> df = load_summaries("harris2024")
    >>> sorted(df.population.unique())
    ['all', 'edss_3.0-5.5', 'edss_6.0-6.5']
    """
    _check_name(name)
    if edss_plus_denominator not in ("randomized", "completers"):
        raise ValueError(
            "edss_plus_denominator must be one of 'randomized', 'completers'; "
            f"got {edss_plus_denominator!r}"
        )
    df = _read_typed(dataset_path(name))
    alt_path = BUILTIN_DIR / f"{name}_alternatives.csv"
    if edss_plus_denominator != "randomized" and alt_path.is_file():
        alt = pd.read_csv(alt_path, dtype=str, keep_default_na=False)
        alt = alt[(alt["option"] == "edss_plus_denominator") & (alt["choice"] == edss_plus_denominator)]
        for _, a in alt.iterrows():
            mask = pd.Series(True, index=df.index)
            for k in SUMMARY_KEY:
                mask &= df[k] == a[k]
            if mask.sum() != 1:  # pragma: no cover - shipped files are tested
                raise ValueError(f"{alt_path}: alternative row does not match one summary row: {a.to_dict()}")
            col = a["column"]
            df.loc[mask, col] = pd.array([int(a["value"])], dtype="Int64") if SUMMARY_DTYPES[col] == "Int64" else float(a["value"])
            extra = f"ALTERNATIVE edss_plus_denominator={edss_plus_denominator}: {col}={a['value']} ({a['note']}; {a['source']}, {a['locator']})"
            df.loc[mask, "note"] = df.loc[mask, "note"] + "; " + extra
    df.attrs.update(
        dataset=name, sha256=dataset_sha256(name), edss_plus_denominator=edss_plus_denominator
    )
    return df


def _load_companion(name: str, suffix: str) -> pd.DataFrame:
    _check_name(name)
    path = BUILTIN_DIR / f"{name}{suffix}.csv"
    if not path.is_file():
        raise ValueError(f"data set {name!r} ships no {suffix.lstrip('_')} table")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def load_pvalues(name: str) -> pd.DataFrame:
    """Reported p-values of a built-in data set.

    Columns ``study, endpoint, population, arm, comparator, p_value`` (float), ``p_text`` (as
    printed), ``decimals`` (int, the rounding of the printed value), ``test`` (as named in the
    source; "not named" when the source does not say), ``sided``, ``source, locator, note``.

    Examples
    --------
    >>> from msbayes.data import load_pvalues
    >>> load_pvalues("harris2024")[["endpoint", "p_value"]].values.tolist()
    [['t25fw', 0.03], ['6mwt', 0.036]]
    """
    df = _load_companion(name, "_pvalues")
    df["p_value"] = pd.to_numeric(df["p_value"]).astype("float64")
    df["decimals"] = pd.to_numeric(df["decimals"]).astype("int64")
    for c in df.columns:
        if c not in ("p_value", "decimals"):
            df[c] = df[c].fillna("").astype("str")
    return df


def load_design_facts(name: str) -> pd.DataFrame:
    """Design facts of a built-in data set: columns ``key, value`` (float), ``unit, source,
    locator, note``.

    Examples
    --------
    >>> from msbayes.data import load_design_facts
    >>> f = load_design_facts("harris2024").set_index("key")["value"]
    >>> int(f["dose_cells_per_injection"]), int(f["n_injections"])
    (10000000, 6)
    """
    df = _load_companion(name, "_design")
    df["value"] = pd.to_numeric(df["value"]).astype("float64")
    for c in df.columns:
        if c != "value":
            df[c] = df[c].fillna("").astype("str")
    return df


def fill_assumed_n(
    df: pd.DataFrame, sizes: Mapping[str, int] | Mapping[str, Mapping[str, int]] | None = None
) -> pd.DataFrame:
    """Copy of a summary table with unknown n filled by assumed sizes (``n_status = assumed``).

    Only rows with ``n_status == "unknown"`` and a reported mean are filled; unreported strata
    keep ``n = <NA>`` (their effect is a model prediction).

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`load_summaries`.
    sizes : mapping, optional
        ``{arm: n}`` (same for every endpoint) or ``{endpoint: {arm: n}}``. Default:
        :func:`msbayes.data.infer_n.default_subgroup_n` of ``df.attrs["dataset"]``.

    Examples
    --------
    >>> from msbayes.data import load_summaries, fill_assumed_n
    >>> df = fill_assumed_n(load_summaries("harris2024"), {"msc_np": 12, "saline": 11})
    >>> df.query("endpoint == 't25fw' and population == 'edss_6.0-6.5'")[["n", "n_status"]].values.tolist()
    [[12, 'assumed'], [11, 'assumed']]
    """
    out = df.copy()
    if sizes is None:
        from .infer_n import default_subgroup_n

        name = df.attrs.get("dataset")
        if not name:
            raise ValueError("sizes not given and df.attrs['dataset'] is not set")
        sizes = default_subgroup_n(name)
    todo = (out.n_status == "unknown") & out["mean"].notna()
    for i in out.index[todo]:
        ep, arm = out.at[i, "endpoint"], out.at[i, "arm"]
        per = sizes.get(ep) if isinstance(sizes.get(ep), Mapping) else sizes  # type: ignore[union-attr]
        if not isinstance(per, Mapping) or arm not in per:
            raise ValueError(f"sizes: no assumed n for endpoint {ep!r}, arm {arm!r}")
        n = per[arm]
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"sizes[{arm!r}] must be an integer >= 2; got {n!r}")
        out.at[i, "n"] = n
        out.at[i, "n_status"] = "assumed"
        out.at[i, "note"] = (out.at[i, "note"] + "; " if out.at[i, "note"] else "") + f"n = {n} ASSUMED (infer-n)"
    return out
