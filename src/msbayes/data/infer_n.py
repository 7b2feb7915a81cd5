r"""Reconstruct unreported group sizes from reported summary statistics and p-values.

Given two arms' means and SDs and the reported two-sided p-value of their comparison,
:func:`infer_n` evaluates every (n1, n2) in a box and lists the pairs whose p-value, under a
named test, rounds to the reported value. :func:`infer_n_joint` does the same for several
endpoints measured on the same subgroup (one (n1, n2) must fit all of them) and
:func:`default_subgroup_n` applies the documented rule that gives the sizes the built-in
config assumes.

Tests (two-sided, computed here in closed form, independently of ``scipy.stats.ttest_ind``):

- ``welch``: t = (m1 - m2) / sqrt(s1²/n1 + s2²/n2), Welch–Satterthwaite df.
- ``student``: pooled-variance t, df = n1 + n2 - 2.
- ``rank``: Wilcoxon–Mann–Whitney, **approximate**. The data are not available, so the
  statistic is replaced by its expectation under normal data with the reported moments:
  E[U] = n1 n2 θ with θ = P(X1 > X2) = Φ((m1 - m2) / sqrt(s1² + s2²)), standardised by the null
  SD sqrt(n1 n2 (n1 + n2 + 1) / 12) (no ties, no continuity correction) and referred to N(0, 1).
  This is the p-value of a "typical" data set with these moments (the expected statistic, not
  the expected p-value). It reflects the rank test's own null variance, unlike the cruder
  asymptotic-relative-efficiency (3/π) rescaling of the t statistic.
- ``rank_lognormal``: as ``rank`` but θ computed under a log-normal model of the ratio the
  percent is linear in (requires ``convention``); the rank test is invariant to monotone
  transforms, so θ = Φ(±(μ1 - μ2) / sqrt(σ1² + σ2²)) with (μ, σ) the log-normal
  moment-matched parameters of each arm's ratio (sign by the direction of the ratio in the
  percent). Better suited to skewed % changes.

Consistency: a reported p printed with ``d`` decimals (``"0.030"`` -> d = 3) is reproduced by
any p_computed with |p_computed - p| <= 0.5·10^-d (it would be printed the same).

Examples
--------
>>> from msbayes.data.infer_n import infer_n
>>> res = infer_n(-9.2, 18.2, -32.1, 30.0, "0.036", tests=("welch",), n_max1=24)
>>> bool(((res.n1 == 12) & (res.n2 == 12) & res.consistent).any())
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special


__all__ = [
    "TESTS",
    "Test",
    "DEFAULT_N_RULE",
    "p_two_sample",
    "rank_p_from_theta",
    "rank_theta",
    "reported_decimals",
    "infer_n",
    "infer_n_joint",
    "default_subgroup_n",
    "default_subgroup_n_details",
]

Test = Literal["welch", "student", "rank", "rank_lognormal"]
TESTS: tuple[str, ...] = ("welch", "student", "rank", "rank_lognormal")

DEFAULT_N_RULE = (
    "Welch t-test, jointly for T25FW and 6MWT in the same subgroup (one (n_msc_np, n_saline) for "
    "both endpoints), n_msc_np <= 24 (year-1 completers), n_saline <= 27, n >= 3. Among pairs "
    "whose p-values both round to the reported ones, take the most nearly equal pair (|n1 - n2| "
    "smallest; stratified 1:1 randomization), then the best fit (smallest max relative error of "
    "the two p-values). If no pair is jointly consistent, take the best joint fit among nearly "
    "equal pairs (|n1 - n2| <= 2), and say so."
)


def _t_sf2(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of a t statistic: P(|T_df| >= |t|) = I_{df/(df+t²)}(df/2, 1/2)."""
    t = np.abs(t)
    return special.betainc(df / 2.0, 0.5, df / (df + t * t))


def _norm_p2(z: np.ndarray) -> np.ndarray:
    return special.erfc(np.abs(z) / np.sqrt(2.0))


def p_two_sample(
    mean1: float,
    sd1: float,
    n1: Any,
    mean2: float,
    sd2: float,
    n2: Any,
    *,
    test: Test = "welch",
    convention: str | None = None,
) -> np.ndarray:
    """Two-sided p-value of a two-sample comparison from summary statistics (vectorized in n).

    Parameters
    ----------
    mean1, sd1, mean2, sd2 : float
        Arm means and SDs.
    n1, n2 : int or array_like of int
        Group sizes (broadcast together).
    test : {"welch", "student", "rank", "rank_lognormal"}
        See the module docstring; ``rank`` and ``rank_lognormal`` are approximations.
    convention : str, optional
        Percent convention (needed for ``rank_lognormal`` only).

    Examples
    --------
    >>> from msbayes.data.infer_n import p_two_sample
    >>> round(float(p_two_sample(-9.2, 18.2, 12, -32.1, 30.0, 12, test="welch")), 4)
    0.0363
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {', '.join(TESTS)}; got {test!r}")
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    if np.any(n1 < 2) or np.any(n2 < 2):
        raise ValueError("group sizes n1, n2 must be >= 2")
    if sd1 < 0 or sd2 < 0:
        raise ValueError(f"sd1, sd2 must be >= 0; got {sd1}, {sd2}")
    v1, v2 = sd1**2, sd2**2
    diff = mean1 - mean2
    if test == "welch":
        a, b = v1 / n1, v2 / n2
        se2 = a + b
        df = se2**2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
        return _t_sf2(diff / np.sqrt(se2), df)
    if test == "student":
        df = n1 + n2 - 2
        sp2 = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
        return _t_sf2(diff / np.sqrt(sp2 * (1 / n1 + 1 / n2)), df)
    if test == "rank":
        theta = rank_theta(mean1, sd1, mean2, sd2)
    else:  # rank_lognormal
        if convention is None:
            raise ValueError("test 'rank_lognormal' needs convention= (the percent convention)")
        theta = rank_theta(mean1, sd1, mean2, sd2, distribution="lognormal", convention=convention)
    return rank_p_from_theta(theta, n1, n2)


def rank_p_from_theta(theta: Any, n1: Any, n2: Any) -> np.ndarray:
    """Two-sided normal-approximation p of the Mann–Whitney test with U = theta·n1·n2.

    z = (U - n1 n2 / 2) / sqrt(n1 n2 (n1 + n2 + 1) / 12); no tie or continuity correction
    (the same as ``scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=False)``
    without ties).

    Examples
    --------
    >>> from msbayes.data.infer_n import rank_p_from_theta
    >>> float(rank_p_from_theta(0.5, 10, 10))
    1.0
    """
    theta = np.asarray(theta, dtype=float)
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    nn = n1 * n2
    z = (theta - 0.5) * nn / np.sqrt(nn * (n1 + n2 + 1) / 12.0)
    return _norm_p2(z)


def rank_theta(
    mean1: float, sd1: float, mean2: float, sd2: float, *, distribution: Literal["normal", "lognormal"] = "normal",
    convention: str | None = None,
) -> float:
    """θ = P(X1 > X2) for independent arms with the given moments (normal or log-normal ratio).

    For ``lognormal``, X is the ratio the percent is linear in, moment-matched per arm; the
    order of X1, X2 on the percent scale is kept (θ is the probability that an arm-1 percent
    exceeds an arm-2 percent).

    Examples
    --------
    >>> from msbayes.data.infer_n import rank_theta
    >>> round(rank_theta(1.0, 1.0, 0.0, 1.0), 4)
    0.7602
    """
    if distribution == "normal":
        return float(special.ndtr((mean1 - mean2) / np.sqrt(sd1**2 + sd2**2)))
    if distribution != "lognormal":
        raise ValueError(f"distribution must be 'normal' or 'lognormal'; got {distribution!r}")
    if convention is None:
        raise ValueError("distribution='lognormal' needs convention= (the percent convention)")
    from .scales import lognormal_moments, ratio_from_pct

    # the ratio r is a monotone function of the percent: increasing unless r = 1 - p/100 or 1/(1+q/100)
    increasing = convention in ("pct_change_time", "pct_improvement_distance")
    if convention in ("pct_improvement_time", "pct_change_time", "pct_improvement_distance"):
        m1, m2 = (float(ratio_from_pct(m, convention=convention)) for m in (mean1, mean2))
        mu1, s1 = lognormal_moments(m1, sd1 / 100.0)
        mu2, s2 = lognormal_moments(m2, sd2 / 100.0)
    elif convention == "pct_change_speed":  # speed ratio 1 + q/100 is increasing in q
        mu1, s1 = lognormal_moments(1 + mean1 / 100.0, sd1 / 100.0)
        mu2, s2 = lognormal_moments(1 + mean2 / 100.0, sd2 / 100.0)
        increasing = True
    else:
        raise ValueError(f"unknown convention {convention!r}")
    d = float(mu1 - mu2) / float(np.sqrt(s1**2 + s2**2))
    return float(special.ndtr(d if increasing else -d))


def reported_decimals(p: float | str) -> int:
    """Number of decimals a p-value was printed with (``"0.030"`` -> 3, ``0.03`` -> 2).

    Pass the printed text to keep trailing zeros; a float loses them.

    Examples
    --------
    >>> from msbayes.data.infer_n import reported_decimals
    >>> reported_decimals("0.030"), reported_decimals(0.036), reported_decimals(0.0009)
    (3, 3, 4)
    """
    d = Decimal(str(p).strip()) if isinstance(p, str) else Decimal(repr(float(p)))
    exp = d.as_tuple().exponent
    return max(0, -int(exp)) if isinstance(exp, int) else 0


def _parse_p(p: float | str, decimals: int | None) -> tuple[float, int]:
    try:
        pv = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a number in (0, 1); got {p!r}") from None
    if not 0.0 < pv < 1.0:
        raise ValueError(f"p must be in (0, 1); got {p!r}")
    d = reported_decimals(p) if decimals is None else int(decimals)
    if d < 1:
        raise ValueError(f"decimals must be >= 1; got {d}")
    return pv, d


def _check_box(n_min: int, n_max1: int, n_max2: int) -> None:
    for name, v in (("n_min", n_min), ("n_max1", n_max1), ("n_max2", n_max2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer; got {v!r}")
    if n_min < 2:
        raise ValueError(f"n_min must be >= 2; got {n_min}")
    if n_max1 < n_min or n_max2 < n_min:
        raise ValueError(f"n_max1 and n_max2 must be >= n_min={n_min}; got {n_max1}, {n_max2}")
    if n_max1 * n_max2 > 4_000_000:
        raise ValueError("n_max1 * n_max2 too large (> 4e6 pairs)")


def _check_tests(tests: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tests, str):
        tests = (tests,)
    tests = tuple(tests)
    bad = [t for t in tests if t not in TESTS]
    if bad or not tests:
        raise ValueError(f"tests must be a non-empty subset of {', '.join(TESTS)}; got {list(tests)!r}")
    return tests


def _check_stats(mean1: float, sd1: float, mean2: float, sd2: float) -> None:
    for name, v in (("mean1", mean1), ("sd1", sd1), ("mean2", mean2), ("sd2", sd2)):
        if not np.isfinite(float(v)):
            raise ValueError(f"{name} must be a finite number; got {v!r}")
    if sd1 <= 0 or sd2 <= 0:
        raise ValueError(f"sd1 and sd2 must be > 0; got {sd1}, {sd2}")


def _grid(n_min: int, n_max1: int, n_max2: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.arange(n_min, n_max1 + 1), np.arange(n_min, n_max2 + 1), indexing="ij")
    return a.ravel(), b.ravel()


def infer_n(
    mean1: float,
    sd1: float,
    mean2: float,
    sd2: float,
    p: float | str,
    *,
    tests: Sequence[Test] = ("welch", "student", "rank"),
    n_min: int = 3,
    n_max1: int = 27,
    n_max2: int = 27,
    top: int | None = 10,
    decimals: int | None = None,
    convention: str | None = None,
) -> pd.DataFrame:
    """Group sizes (n1, n2) whose two-sided p-value reproduces a reported p.

    Parameters
    ----------
    mean1, sd1, mean2, sd2 : float
        Reported arm means and SDs (arm 1 = treatment, arm 2 = control).
    p : float or str
        Reported p-value; give the printed text (``"0.030"``) to keep trailing zeros.
    tests : sequence of {"welch", "student", "rank", "rank_lognormal"}
    n_min, n_max1, n_max2 : int
        Box of sizes searched: n_min <= n1 <= n_max1, n_min <= n2 <= n_max2.
    top : int or None
        Rows kept per test (best fit first); ``None`` keeps every pair evaluated.
    decimals : int, optional
        Decimals of the printed p (default: from ``p``).
    convention : str, optional
        Percent convention, needed for ``rank_lognormal``.

    Returns
    -------
    pandas.DataFrame
        Columns ``n1, n2, test, p_computed, p_reported, decimals, rel_error, consistent, rank``;
        ``rel_error = |p_computed / p_reported - 1|``; ``consistent`` if p_computed rounds to
        the reported value. Rows: per test the ``top`` best by (consistent first, rel_error,
        |n1 - n2|), then all tests together sorted the same way.

    Examples
    --------
    >>> from msbayes.data.infer_n import infer_n
    >>> r = infer_n(3.7, 23.1, -54.4, 70.5, "0.030", tests=("welch",), n_max1=24, top=3)
    >>> row = r.iloc[0]
    >>> int(row.n1), int(row.n2), bool(row.consistent)
    (14, 10, True)
    """
    tests = _check_tests(tests)
    _check_stats(mean1, sd1, mean2, sd2)
    pv, d = _parse_p(p, decimals)
    _check_box(n_min, n_max1, n_max2)
    if top is not None and (not isinstance(top, (int, np.integer)) or top < 1):
        raise ValueError(f"top must be a positive integer or None; got {top!r}")
    n1, n2 = _grid(n_min, n_max1, n_max2)
    tol = 0.5 * 10.0**-d
    frames = []
    for t in tests:
        pc = p_two_sample(mean1, sd1, n1, mean2, sd2, n2, test=t, convention=convention)
        f = pd.DataFrame(
            {
                "n1": n1.astype("int64"),
                "n2": n2.astype("int64"),
                "test": t,
                "p_computed": pc,
                "p_reported": pv,
                "decimals": d,
                "rel_error": np.abs(pc / pv - 1.0),
                "consistent": np.abs(pc - pv) <= tol * (1 + 1e-9),
            }
        )
        f["_imb"] = (f.n1 - f.n2).abs()
        f = f.sort_values(["consistent", "rel_error", "_imb", "n1"], ascending=[False, True, True, True])
        f["rank"] = np.arange(1, len(f) + 1)
        frames.append(f if top is None else f.head(top))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["consistent", "rel_error", "_imb"], ascending=[False, True, True], kind="stable")
    return out.drop(columns="_imb").reset_index(drop=True)


def infer_n_joint(
    stats: Mapping[str, Mapping[str, Any]],
    *,
    tests: Sequence[Test] = ("welch", "student", "rank"),
    n_min: int = 3,
    n_max1: int = 27,
    n_max2: int = 27,
    top: int | None = 10,
) -> pd.DataFrame:
    """Sizes (n1, n2) consistent with the p-values of several endpoints on the same subgroup.

    Parameters
    ----------
    stats : mapping endpoint -> mapping
        Each value has keys ``mean1, sd1, mean2, sd2, p`` and optionally ``decimals``,
        ``convention``.
    tests, n_min, n_max1, n_max2, top :
        As in :func:`infer_n` (``top`` rows per test).

    Returns
    -------
    pandas.DataFrame
        Columns ``n1, n2, test``; per endpoint ``E``: ``p_computed_E, p_reported_E, rel_error_E,
        consistent_E``; then ``consistent`` (all endpoints), ``max_rel_error``, ``rank``.
        Sorted by consistent first, then max_rel_error, then |n1 - n2|.

    Examples
    --------
    >>> from msbayes.data.infer_n import infer_n_joint
    >>> s = {"a": dict(mean1=1.0, sd1=1.0, mean2=0.0, sd2=1.0, p="0.03"),
    ...      "b": dict(mean1=0.5, sd1=1.0, mean2=0.0, sd2=1.0, p="0.3")}
    >>> r = infer_n_joint(s, tests=("student",), n_max1=20, n_max2=20)
    >>> list(r.columns[:4])
    ['n1', 'n2', 'test', 'p_computed_a']
    """
    tests = _check_tests(tests)
    _check_box(n_min, n_max1, n_max2)
    if not isinstance(stats, Mapping) or len(stats) < 1:
        raise ValueError("stats must be a non-empty mapping endpoint -> statistics")
    parsed = {}
    for ep, s in stats.items():
        missing = [k for k in ("mean1", "sd1", "mean2", "sd2", "p") if k not in s]
        if missing:
            raise ValueError(f"stats[{ep!r}] is missing {', '.join(missing)}")
        _check_stats(float(s["mean1"]), float(s["sd1"]), float(s["mean2"]), float(s["sd2"]))
        pv, d = _parse_p(s["p"], s.get("decimals"))
        parsed[ep] = (s, pv, d)
    n1, n2 = _grid(n_min, n_max1, n_max2)
    frames = []
    for t in tests:
        cols: dict[str, Any] = {"n1": n1.astype("int64"), "n2": n2.astype("int64"), "test": t}
        cons = np.ones(n1.shape, bool)
        maxerr = np.zeros(n1.shape)
        for ep, (s, pv, d) in parsed.items():
            pc = p_two_sample(
                float(s["mean1"]), float(s["sd1"]), n1, float(s["mean2"]), float(s["sd2"]), n2,
                test=t, convention=s.get("convention"),
            )
            err = np.abs(pc / pv - 1.0)
            ok = np.abs(pc - pv) <= 0.5 * 10.0**-d * (1 + 1e-9)
            cols |= {f"p_computed_{ep}": pc, f"p_reported_{ep}": pv, f"rel_error_{ep}": err,
                     f"consistent_{ep}": ok}
            cons &= ok
            maxerr = np.maximum(maxerr, err)
        f = pd.DataFrame(cols)
        f["consistent"] = cons
        f["max_rel_error"] = maxerr
        f["_imb"] = (f.n1 - f.n2).abs()
        f = f.sort_values(["consistent", "max_rel_error", "_imb", "n1"], ascending=[False, True, True, True])
        f["rank"] = np.arange(1, len(f) + 1)
        frames.append(f if top is None else f.head(top))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["consistent", "max_rel_error", "_imb"], ascending=[False, True, True], kind="stable")
    return out.drop(columns="_imb").reset_index(drop=True)


def _subgroup_stats(dataset: str) -> tuple[str, str, str, dict[str, dict[str, Any]], int, int]:
    """Walking-endpoint stats of the (first) subgroup with unknown n and reported p-values."""
    from .builtin import load_design_facts, load_pvalues, load_summaries

    summ = load_summaries(dataset)
    pv = load_pvalues(dataset)
    unknown = summ[(summ.n_status == "unknown") & summ["mean"].notna()]
    if unknown.empty:
        raise ValueError(f"data set {dataset!r} has no reported subgroup with unknown n")
    pop = unknown.population.iloc[0]
    stats: dict[str, dict[str, Any]] = {}
    arm1 = arm2 = ""
    for _, row in pv[pv.population == pop].iterrows():
        sub = unknown[(unknown.endpoint == row.endpoint)].set_index("arm")
        if row.arm not in sub.index or row.comparator not in sub.index:
            continue
        a, b = sub.loc[row.arm], sub.loc[row.comparator]
        arm1, arm2 = row.arm, row.comparator
        stats[row.endpoint] = dict(
            mean1=float(a["mean"]), sd1=float(a["sd"]), mean2=float(b["mean"]), sd2=float(b["sd"]),
            p=row.p_text or row.p_value, decimals=int(row.decimals), convention=a["convention"],
        )
    if not stats:
        raise ValueError(f"data set {dataset!r}: no p-values for subgroup {pop!r}")
    facts = load_design_facts(dataset).set_index("key")["value"]
    n_max1 = int(facts.get(f"n_completed_year1_{arm1}", facts.get(f"n_randomized_{arm1}", 27)))
    n_max2 = int(facts.get(f"n_completed_year1_{arm2}", facts.get(f"n_randomized_{arm2}", 27)))
    return pop, arm1, arm2, stats, n_max1, n_max2


def default_subgroup_n_details(
    dataset: str = "harris2024", *, test: Test = "welch", max_imbalance: int = 2
) -> dict[str, Any]:
    """:func:`default_subgroup_n` with its working: the rule, the candidate table and a flag.

    Returns a dict with keys ``sizes`` ({arm: n}), ``population``, ``test``, ``rule``,
    ``jointly_consistent`` (bool), ``chosen`` (the chosen row as a dict), ``table`` (the joint
    infer-n table, every pair), ``n_max`` ({arm: bound}) and ``per_endpoint`` ({endpoint:
    {arm: n} or None}: the most nearly equal pair consistent with that endpoint alone, for
    sensitivity analyses when the endpoints may have had different numbers of patients).
    """
    pop, arm1, arm2, stats, n_max1, n_max2 = _subgroup_stats(dataset)
    tab = infer_n_joint(stats, tests=(test,), n_min=3, n_max1=n_max1, n_max2=n_max2, top=None)
    imb = (tab.n1 - tab.n2).abs()
    cons = tab[tab.consistent]
    if not cons.empty:
        cand = cons.assign(_imb=imb[cons.index]).sort_values(["_imb", "max_rel_error"])
        joint = True
    else:
        near = tab[imb <= max_imbalance]
        cand = (near if not near.empty else tab).sort_values("max_rel_error")
        joint = False
    best = cand.iloc[0]
    per_endpoint: dict[str, dict[str, int] | None] = {}
    for ep in stats:
        ok = tab[tab[f"consistent_{ep}"]]
        if ok.empty:
            per_endpoint[ep] = None
            continue
        r = ok.assign(_imb=imb[ok.index]).sort_values(["_imb", f"rel_error_{ep}"]).iloc[0]
        per_endpoint[ep] = {arm1: int(r.n1), arm2: int(r.n2)}
    return {
        "per_endpoint": per_endpoint,
        "sizes": {arm1: int(best.n1), arm2: int(best.n2)},
        "population": pop,
        "test": test,
        "rule": DEFAULT_N_RULE,
        "jointly_consistent": joint,
        "chosen": {k: (v.item() if hasattr(v, "item") else v) for k, v in best.drop(labels=["_imb"], errors="ignore").items()},
        "table": tab,
        "n_max": {arm1: n_max1, arm2: n_max2},
    }


def default_subgroup_n(dataset: str = "harris2024") -> dict[str, int]:
    """Subgroup sizes (n per arm) the built-in config assumes, computed by :func:`infer_n_joint`.

    The rule is :data:`DEFAULT_N_RULE` (Welch, joint over the subgroup's walking endpoints,
    bounded by the year-1 completers, most nearly equal consistent pair; falling back to the
    best joint fit among nearly equal pairs when no pair reproduces both p-values). Use
    :func:`default_subgroup_n_details` to see whether the fallback was used.

    Examples
    --------
    >>> from msbayes.data.infer_n import default_subgroup_n
    >>> sorted(default_subgroup_n("harris2024"))
    ['msc_np', 'saline']
    """
    return dict(default_subgroup_n_details(dataset)["sizes"])
