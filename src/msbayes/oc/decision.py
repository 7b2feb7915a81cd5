"""Decision rules: small frozen callables mapping an analysis result to (go, no-go).

A trial that is neither go nor no-go is "consider". Rules read the analysis result's
``prob_greater(c)`` = P(effect > c) (posterior, or confidence distribution for frequentist
analyses) or its one-sided ``p_value``.

Examples
--------
>>> from msbayes.oc.decision import DualCriterion, Significance
>>> DualCriterion(p_benefit=0.95, p_mcid=0.5, nogo_p_mcid_below=0.1)
DualCriterion(p_benefit=0.95, p_mcid=0.5, nogo_p_mcid_below=0.1)
>>> Significance(alpha=0.025)
Significance(alpha=0.025)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["DecisionRule", "DualCriterion", "Significance", "decision_from_spec", "describe_decision",
           "calibrate_threshold", "CalibrationResult"]


class _Result(Protocol):
    def prob_greater(self, c: float) -> np.ndarray: ...
    def p_value(self, *, sided: str = "one") -> np.ndarray: ...


class DecisionRule(Protocol):
    def __call__(self, result: _Result, *, mcid: float) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class DualCriterion:
    """Go if P(effect > 0) >= p_benefit and P(effect > MCID) >= p_mcid; no-go if
    P(effect > MCID) < nogo_p_mcid_below (``None``: never no-go); otherwise consider.
    """

    p_benefit: float = 0.95
    p_mcid: float = 0.0
    nogo_p_mcid_below: float | None = None

    def __post_init__(self):
        for f in ("p_benefit", "p_mcid", "nogo_p_mcid_below"):
            v = getattr(self, f)
            if v is not None and not 0 <= v <= 1:
                raise ValueError(f"{f} must be in [0, 1]; got {v}")

    def __call__(self, result: _Result, *, mcid: float) -> tuple[np.ndarray, np.ndarray]:
        p0 = result.prob_greater(0.0)
        go = p0 >= self.p_benefit
        need_mcid = self.p_mcid > 0 or self.nogo_p_mcid_below is not None
        pm = result.prob_greater(mcid) if need_mcid else None
        if self.p_mcid > 0:
            go &= pm >= self.p_mcid
        nogo = (pm < self.nogo_p_mcid_below) if self.nogo_p_mcid_below is not None else np.zeros_like(go)
        return go, nogo & ~go


@dataclass(frozen=True)
class Significance:
    """Go iff the one-sided p-value for effect > 0 is below ``alpha``; no-go otherwise.

    Evaluated as ``t > t_{1 - alpha, df}`` (``result.significant``), the same event.
    """

    alpha: float = 0.025

    def __post_init__(self):
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1); got {self.alpha}")

    def __call__(self, result: _Result, *, mcid: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(result, "significant"):
            go = result.significant(self.alpha, sided="one")
        else:  # results that only expose p-values (e.g. dose-finding posteriors)
            with np.errstate(invalid="ignore"):
                go = result.p_value(sided="one") < self.alpha
        return go, ~go


def decision_from_spec(spec) -> DecisionRule:
    """Rule object from a config ``decision`` spec (``DualCriterionSpec`` / ``SignificanceSpec``)."""
    if getattr(spec, "rule", None) == "significance":
        return Significance(alpha=spec.alpha)
    return DualCriterion(
        p_benefit=spec.go.p_benefit,
        p_mcid=spec.go.p_mcid,
        nogo_p_mcid_below=None if spec.no_go is None else spec.no_go.p_mcid_below,
    )


def describe_decision(cfg) -> str:
    """One sentence saying what "go" (``p_go``) and, if the analysis has a test, ``p_reject`` mean.

    Stored as the ``decision_rule`` attribute of ``oc.nc`` and quoted by the report, so the
    alpha behind every probability is stated next to it.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> cfg = N(analysis=N(method="welch", alpha=0.05, sided="two"),
    ...         decision=N(rule="significance", alpha=0.025))
    >>> describe_decision(cfg)  # doctest: +NORMALIZE_WHITESPACE
    'go iff the one-sided welch test of effect > 0 has p < 0.025, no-go otherwise;
     p_reject: two-sided welch test at alpha 0.05'
    """
    a, d = cfg.analysis, cfg.decision
    method = getattr(a, "method", "?")
    test = ""
    if method in ("welch", "ancova"):
        test = f"; p_reject: {a.sided}-sided {method} test at alpha {a.alpha:g}"
    if method == "mcpmod":
        return (f"go iff the MCP-Mod multiple contrast test rejects the flat dose-response at one-sided "
                f"alpha {a.alpha:g}, no-go otherwise; p_reject: the same test")
    if getattr(d, "rule", "dual") == "significance":
        return f"go iff the one-sided {method} test of effect > 0 has p < {d.alpha:g}, no-go otherwise{test}"
    where = " at the decision dose" if method == "bayes_emax" else ""
    go = f"go iff P(effect > 0{where}) >= {d.go.p_benefit:g}"
    if d.go.p_mcid > 0:
        go += f" and P(effect > MCID) >= {d.go.p_mcid:g}"
    nogo = (f"no-go iff P(effect > MCID) < {d.no_go.p_mcid_below:g}" if d.no_go is not None
            else "never no-go")
    prob = "posterior" if method in ("bayes_normal", "bayes_emax") else "confidence-distribution"
    return f"{go}, {nogo}, otherwise consider ({prob} probabilities){test}"


@dataclass(frozen=True)
class CalibrationResult:
    """Calibrated go threshold and the type I error it gives on the calibration sample."""

    threshold: float
    type1: float
    type1_mcse: float
    target: float
    n_sims: int
    iterations: int


def calibrate_threshold(
    probs: np.ndarray, *, target: float, tol: float = 1e-12, max_iter: int = 200
) -> CalibrationResult:
    """Smallest threshold ``t`` with ``mean(probs >= t) <= target``, by bisection.

    ``probs`` are the go statistics (e.g. posterior P(effect > 0)) of ONE set of trials
    simulated under the null; the go rule ``probs >= t`` then has type I error at most
    ``target`` on that set (the achieved value is returned with its MCSE). Check the rule on
    fresh simulations: the type I error should be within 3 MCSE of ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.random.default_rng(0).random(100_000)
    >>> r = calibrate_threshold(u, target=0.025)
    >>> bool(abs(r.threshold - 0.975) < 0.002), bool(r.type1 <= 0.025)
    (True, True)
    """
    p = np.asarray(probs, dtype=float)
    p = p[np.isfinite(p)]
    if p.size == 0:
        raise ValueError("calibrate_threshold: no finite probabilities")
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1); got {target}")
    lo, hi = float(np.min(p)) - 1e-9, float(np.max(p)) + 1e-9  # rate(lo) = 1 > target >= rate(hi) = 0
    p_sorted = np.sort(p)

    def rate(t: float) -> float:
        return (p.size - np.searchsorted(p_sorted, t, side="left")) / p.size

    it = 0
    while hi - lo > tol and it < max_iter:
        mid = 0.5 * (lo + hi)
        if rate(mid) <= target:
            hi = mid
        else:
            lo = mid
        it += 1
    t1 = rate(hi)
    return CalibrationResult(hi, t1, float(np.sqrt(t1 * (1 - t1) / p.size)), target, int(p.size), it)
