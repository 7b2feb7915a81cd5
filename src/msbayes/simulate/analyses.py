"""Analyses of simulated two-arm trials, vectorized across trials (leading ``sim`` axis).

Every analysis maps :class:`TrialStats` (per-arm completer summaries, and for ANCOVA the
pooled within-arm cross-products) to an :class:`AnalysisResult`: the effect estimate, its
standard error and degrees of freedom, and a distribution for the effect from which
``prob_greater(c)`` = P(effect > c) is read:

* ``welch`` / ``ancova``: frequentist; ``prob_greater`` is the confidence distribution
  ``T_df((est - c) / se)`` (equal to the flat-prior posterior of the Student-t model),
  ``p_value`` gives one- or two-sided t-test p-values and ``significant`` the decisions
  ``p < alpha`` from tabulated critical values (:func:`t_exceeds`; identical decisions,
  about 30x cheaper than a p-value per trial);
* ``bayes_normal``: conjugate normal likelihood ``est ~ N(effect, se^2)`` with a normal,
  normal-mixture or flat prior; the posterior is a normal mixture in closed form.

Examples
--------
>>> import numpy as np
>>> from msbayes.simulate.analyses import TrialStats, difference_estimate, bayes_normal
>>> ts = TrialStats(n=np.array([[60., 60.]]), mean=np.array([[0.0, 0.2]]), var=np.array([[0.1225, 0.1225]]))
>>> r = bayes_normal(difference_estimate(ts), prior=None)
>>> round(float(r.prob_greater(0.0)[0]), 4)   # Phi(0.2 / (0.35 * sqrt(2/60)))
0.9991
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special

__all__ = [
    "TrialStats",
    "Estimate",
    "AnalysisResult",
    "difference_estimate",
    "ancova_estimate",
    "frequentist",
    "bayes_normal",
    "normal_posterior_prob",
    "mixture_posterior",
    "t_exceeds",
    "t_critical_table",
    "significance_via",
]


@dataclass
class TrialStats:
    """Per-trial arm summaries (arm 0 = control, arm 1 = treatment).

    Attributes
    ----------
    n, mean, var : ndarray (sim, 2)
        Completers, mean and unbiased variance of the outcome per arm (var NaN if n < 2).
    xbar : ndarray (sim, 2), optional
        Mean baseline covariate per arm (ANCOVA).
    sxx, sxy, syy : ndarray (sim,), optional
        Within-arm centred cross-products of (x, y), summed over the two arms.
    """

    n: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    xbar: np.ndarray | None = None
    sxx: np.ndarray | None = None
    sxy: np.ndarray | None = None
    syy: np.ndarray | None = None


@dataclass
class Estimate:
    """Effect estimate ``est`` with standard error ``se`` and t degrees of freedom ``df``."""

    est: np.ndarray
    se: np.ndarray
    df: np.ndarray
    valid: np.ndarray


@dataclass
class AnalysisResult:
    """Result of one analysis for every simulated trial.

    ``kind`` is ``"t"`` (frequentist / Student-t posterior) or ``"mixture"`` (normal-mixture
    posterior with ``weights``, ``means``, ``sds`` of shape (sim, K)).
    """

    estimate: Estimate
    kind: str
    weights: np.ndarray | None = None
    means: np.ndarray | None = None
    sds: np.ndarray | None = None
    _significance: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def est(self) -> np.ndarray:
        return self.estimate.est

    def prob_greater(self, c: float) -> np.ndarray:
        """P(effect > c) per trial (posterior or confidence distribution)."""
        if self.kind == "t":
            e = self.estimate
            return _t_cdf(e.df, (e.est - c) / e.se)
        return normal_posterior_prob(self.weights, self.means, self.sds, c)

    def p_value(self, *, sided: str = "one") -> np.ndarray:
        """t-test p-value for H0: effect = 0 (one-sided: against effect > 0)."""
        if self.kind != "t":
            raise ValueError("p-values are defined for the frequentist analyses (welch, ancova)")
        e = self.estimate
        t = e.est / e.se
        if sided == "one":
            return _t_cdf(e.df, -t)
        return 2.0 * _t_cdf(e.df, -np.abs(t))

    def significant(self, alpha: float, *, sided: Literal["one", "two"] = "one",
                    via: Literal["critical", "p_value"] | None = None) -> np.ndarray:
        """``p_value(sided) < alpha`` per trial; one-sided: against effect > 0.

        ``via="critical"`` (the default, see :func:`significance_via`) compares ``t`` with
        tabulated critical values and evaluates the p-value only for the few trials whose
        ``t`` the table cannot place (:func:`t_exceeds`): the decisions are identical to
        ``via="p_value"``, which evaluates every p-value. Invalid trials (NaN) are False.
        Results are cached per (alpha, sided, via) on this object.
        """
        if self.kind != "t":
            raise ValueError("significance is defined for the frequentist analyses (welch, ancova)")
        if sided not in ("one", "two"):
            raise ValueError(f"sided must be 'one' or 'two'; got {sided!r}")
        via = _SIGNIFICANCE_VIA[0] if via is None else via
        key = (float(alpha), sided, via)
        hit = self._significance.get(key)
        if hit is not None:
            return hit.copy()
        e = self.estimate
        with np.errstate(invalid="ignore", divide="ignore"):
            t = e.est / e.se
        if via == "p_value":
            with np.errstate(invalid="ignore"):
                p = _t_cdf(e.df, -t) if sided == "one" else 2.0 * _t_cdf(e.df, -np.abs(t))
                out = p < alpha
        elif via == "critical":
            out = t_exceeds(t, e.df, alpha, sided=sided)
        else:
            raise ValueError(f"via must be 'critical' or 'p_value'; got {via!r}")
        self._significance[key] = out
        return out.copy()

    def posterior_mean(self) -> np.ndarray:
        """Posterior mean of the effect (the estimate itself for frequentist analyses)."""
        if self.kind == "t":
            return self.estimate.est
        return np.sum(self.weights * self.means, axis=1)


def _t_cdf(df, x):
    df = np.asarray(df, dtype=float)
    if df.ndim == 0 and not np.isfinite(df):
        return special.ndtr(x)
    return np.where(np.isfinite(df), special.stdtr(np.where(np.isfinite(df), df, 1.0), x), special.ndtr(x))


def _t_quantile(q: float, df) -> np.ndarray:
    """t quantile for scalar or per-trial df (inf = normal); integer df done once per value."""
    df = np.asarray(df, dtype=float)
    if df.ndim == 0:
        return special.ndtri(q) if not np.isfinite(df) else special.stdtrit(df, q)
    fin = np.isfinite(df)
    if fin.all() and np.all(df == np.round(df)) and df.size > 64:
        u, inv = np.unique(df, return_inverse=True)
        return special.stdtrit(np.maximum(u, 1.0), q)[inv]
    safe = np.where(fin, np.maximum(df, 1e-300), 1.0)
    return np.where(fin, special.stdtrit(safe, q), special.ndtri(q))


# ------------------------------------------------------------------ fast t decisions
# Critical values c(df) = t_{q, df} tabulated on a uniform grid in x = 1 / df on [0, 1]
# (x = 0: the normal quantile). For df in grid interval j, c(df) lies between the values at
# the interval's ends (the quantile is monotone in df), so t above both ends is "p < alpha" and
# t below both is not, whatever the interpolation; only t inside the bracket (widened by a
# rounding margin) gets its p-value evaluated. Integer df use an exact per-df table.
_GRID = 1 << 14
_MARGIN = 1e-8  # relative; covers the rounding of stdtrit / stdtr (~1e-13)
_SIGNIFICANCE_VIA: list[str] = ["critical"]


@functools.lru_cache(maxsize=64)
def _grid_brackets(q: float, n: int = _GRID) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n + 1) / n
    with np.errstate(divide="ignore"):
        df = 1.0 / x
    c = np.empty(n + 1)
    c[0] = special.ndtri(q)
    c[1:] = special.stdtrit(df[1:], q)
    lo = np.minimum(c[:-1], c[1:])
    hi = np.maximum(c[:-1], c[1:])
    pad = _MARGIN * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    lo, hi = lo - pad, hi + pad
    lo.setflags(write=False)
    hi.setflags(write=False)
    return lo, hi


_INT_TABLES: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _int_tables(q: float, max_df: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c, c - margin, c + margin) for integer df = 0 .. >= max_df (entry 0 NaN); cached."""
    tab = _INT_TABLES.get(q)
    if tab is None or tab[0].size <= max_df:
        size = max(int(max_df) + 1, 2 * (0 if tab is None else tab[0].size), 256)
        c = np.full(size, np.nan)
        c[1:] = special.stdtrit(np.arange(1, size, dtype=float), q)
        pad = _MARGIN * (1.0 + np.abs(c))
        tab = (c, c - pad, c + pad)
        for arr in tab:
            arr.setflags(write=False)
        if len(_INT_TABLES) > 64:
            _INT_TABLES.clear()
        _INT_TABLES[q] = tab
    return tab


def t_critical_table(q: float, max_df: int) -> np.ndarray:
    """Critical values ``t_{q, df}`` (scipy ``stdtrit``) for integer ``df = 0 .. max_df``
    (entry 0 is NaN); cached per ``q`` and grown on demand.

    Examples
    --------
    >>> round(float(t_critical_table(0.975, 10)[10]), 4)
    2.2281
    """
    return _int_tables(q, int(max_df))[0][: int(max_df) + 1].copy()


def t_exceeds(t, df, alpha: float, *, sided: Literal["one", "two"] = "one") -> np.ndarray:
    """Decisions ``p < alpha`` of t tests from statistics and (possibly non-integer) df.

    One-sided ``p = T_df(-t)``; two-sided ``p = 2 T_df(-|t|)`` (``df = inf``: normal). The
    result equals the p-value comparison for every trial: ``t`` is compared with tabulated
    critical values (exact per integer df when every df is an integer, as for Student's t;
    otherwise the bracket of a monotone table on a grid in ``1 / df``, as for Welch), and the
    p-value is evaluated only where the table cannot decide (``t`` within the bracket or
    the rounding margin, non-finite values, ``df < 1``). NaN gives False.

    Examples
    --------
    >>> t_exceeds(np.array([2.0, 2.3, np.nan]), np.array([10.0, 10.5, 10.0]), 0.025).tolist()
    [False, True, False]
    """
    t = np.asarray(t, dtype=float)
    df = np.asarray(df, dtype=float)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    t, df = np.broadcast_arrays(t, df)
    shape = t.shape
    t, df = t.ravel(), df.ravel()
    if sided == "two":
        t = np.abs(t)
        q = 1.0 - alpha / 2.0
    elif sided == "one":
        q = 1.0 - alpha
    else:
        raise ValueError(f"sided must be 'one' or 'two'; got {sided!r}")
    if t.size == 0:
        return np.zeros(shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        di = df.astype(np.intp)
        if np.array_equal(di, df) and di.min() >= 1 and di.max() < 10**7:
            _, lo, hi = _int_tables(q, int(di.max()))
            go = t > hi[di]
            unsure = ~(go | (t < lo[di]))
        else:
            lo, hi = _grid_brackets(q)
            x = 1.0 / df
            j = (x * _GRID).astype(np.intp)
            go = t > hi.take(j, mode="clip")
            unsure = ~(go | (t < lo.take(j, mode="clip")))
            unsure |= ~((x >= 0.0) & (x <= 1.0))
        if unsure.any():
            k = np.flatnonzero(unsure)
            p = _t_cdf(df[k], -t[k])
            go[k] = (p < alpha) if sided == "one" else (2.0 * p < alpha)
    return go.reshape(shape)


@contextlib.contextmanager
def significance_via(via: Literal["critical", "p_value"]):
    """Temporarily set how :meth:`AnalysisResult.significant` decides (benchmarks, tests).

    Examples
    --------
    >>> with significance_via("p_value"):
    ...     pass
    """
    if via not in ("critical", "p_value"):
        raise ValueError(f"via must be 'critical' or 'p_value'; got {via!r}")
    old = _SIGNIFICANCE_VIA[0]
    _SIGNIFICANCE_VIA[0] = via
    try:
        yield
    finally:
        _SIGNIFICANCE_VIA[0] = old


def difference_estimate(ts: TrialStats, *, equal_var: bool = False, known_sd: float | None = None) -> Estimate:
    """Difference in completer means (treatment - control) with Welch or pooled SE.

    ``known_sd`` uses the true SD (z-test setting, ``df = inf``). Trials with fewer than two
    completers in an arm are ``valid = False`` (their estimate is NaN).
    """
    n0, n1 = ts.n[:, 0], ts.n[:, 1]
    valid = (n0 >= 2) & (n1 >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = ts.mean[:, 1] - ts.mean[:, 0]
        if known_sd is not None:
            se = known_sd * np.sqrt(1.0 / n1 + 1.0 / n0)
            df = np.full_like(se, np.inf)
        elif equal_var:
            dfp = n0 + n1 - 2.0
            sp2 = ((n0 - 1) * ts.var[:, 0] + (n1 - 1) * ts.var[:, 1]) / dfp
            se = np.sqrt(sp2 * (1.0 / n0 + 1.0 / n1))
            df = dfp
        else:
            a0 = ts.var[:, 0] / n0
            a1 = ts.var[:, 1] / n1
            se2 = a0 + a1
            se = np.sqrt(se2)
            df = se2 * se2 / (a0 * a0 / (n0 - 1) + a1 * a1 / (n1 - 1))
    if not valid.all():
        est = np.where(valid, est, np.nan)
    return Estimate(est, se, df, valid)


def ancova_estimate(ts: TrialStats, *, known_sd: float | None = None) -> Estimate:
    """ANCOVA (outcome ~ treatment + baseline, common slope) from sufficient cross-products.

    ``est = (ybar1 - ybar0) - beta (xbar1 - xbar0)`` with ``beta = Sxy / Sxx`` (pooled within
    arms); residual variance ``s^2 = (Syy - Sxy^2 / Sxx) / (n - 3)``;
    ``se^2 = s^2 (1/n0 + 1/n1 + (xbar1 - xbar0)^2 / Sxx)``. Identical to least squares on the
    patient data (tested against ``numpy.linalg.lstsq``).
    """
    if ts.sxx is None:
        raise ValueError("ancova needs baseline cross-products (simulate with the baseline covariate)")
    n0, n1 = ts.n[:, 0], ts.n[:, 1]
    df = n0 + n1 - 3.0
    valid = (n0 >= 1) & (n1 >= 1) & (df >= 1) & (ts.sxx > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = ts.sxy / ts.sxx
        dx = ts.xbar[:, 1] - ts.xbar[:, 0]
        est = (ts.mean[:, 1] - ts.mean[:, 0]) - beta * dx
        if known_sd is not None:
            s2 = np.full_like(est, known_sd**2)
            df = np.full_like(est, np.inf)
        else:
            s2 = (ts.syy - ts.sxy * beta) / df
        se = np.sqrt(s2 * (1.0 / n0 + 1.0 / n1 + dx * dx / ts.sxx))
    if not valid.all():
        est = np.where(valid, est, np.nan)
    return Estimate(est, se, df, valid)


def frequentist(estimate: Estimate) -> AnalysisResult:
    """Wrap an estimate as a t-based (frequentist) analysis result."""
    return AnalysisResult(estimate, "t")


def mixture_posterior(
    est: np.ndarray, se: np.ndarray, weights: np.ndarray, means: np.ndarray, sds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior of ``effect`` given ``est ~ N(effect, se^2)`` and a normal-mixture prior.

    Component k updates conjugately; its posterior weight is proportional to
    ``weights[k] * N(est; means[k], sds[k]^2 + se^2)``.

    Returns
    -------
    w, m, s : ndarray (sim, K)
    """
    est = np.asarray(est, dtype=float)[:, None]
    se2 = np.asarray(se, dtype=float)[:, None] ** 2
    v0 = np.asarray(sds, dtype=float) ** 2
    m0 = np.asarray(means, dtype=float)
    tot = v0 + se2
    post_v = v0 * se2 / tot
    post_m = (m0 * se2 + est * v0) / tot
    if len(m0) == 1:
        return np.ones_like(post_m), post_m, np.sqrt(post_v)
    logw = np.log(np.asarray(weights, dtype=float)) - 0.5 * np.log(tot) - 0.5 * (est - m0) ** 2 / tot
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(axis=1, keepdims=True)
    return w, post_m, np.sqrt(post_v)


def normal_posterior_prob(weights: np.ndarray, means: np.ndarray, sds: np.ndarray, c: float) -> np.ndarray:
    """P(effect > c) for a normal-mixture posterior (arrays (sim, K))."""
    if means.shape[1] == 1:
        return special.ndtr((means[:, 0] - c) / sds[:, 0])
    return np.sum(weights * special.ndtr((means - c) / sds), axis=1)


def bayes_normal(
    estimate: Estimate,
    *,
    prior: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    student_t: bool = False,
) -> AnalysisResult:
    """Conjugate normal analysis: ``prior`` = (weights, means, sds) or ``None`` (flat).

    With ``student_t=True`` (flat prior only) the posterior is the scaled t
    ``est + se * t_df`` (flat prior on the effect, Jeffreys prior on sigma).
    """
    if prior is None:
        if student_t:
            return AnalysisResult(estimate, "t")
        e = estimate
        return AnalysisResult(e, "mixture", np.ones((e.est.size, 1)), e.est[:, None], e.se[:, None])
    if student_t:
        raise ValueError("student_t posterior needs a flat prior")
    w, m, s = mixture_posterior(estimate.est, estimate.se, *prior)
    return AnalysisResult(estimate, "mixture", w, m, s)
