"""Analyses of simulated two-arm trials, vectorized across trials (leading ``sim`` axis).

Every analysis maps :class:`TrialStats` (per-arm completer summaries, and for ANCOVA the
pooled within-arm cross-products) to an :class:`AnalysisResult`: the effect estimate, its
standard error and degrees of freedom, and a distribution for the effect from which
``prob_greater(c)`` = P(effect > c) is read:

* ``welch`` / ``ancova``: frequentist; ``prob_greater`` is the confidence distribution
  ``T_df((est - c) / se)`` (equal to the flat-prior posterior of the Student-t model), and
  ``p_value`` gives one- or two-sided t-test p-values;
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

from dataclasses import dataclass

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

    def significant(self, alpha: float, *, sided: str = "one") -> np.ndarray:
        """``p_value(sided) < alpha`` computed via t critical values (fast: one quantile per
        distinct integer df). One-sided: against effect > 0; invalid trials are False."""
        if self.kind != "t":
            raise ValueError("significance is defined for the frequentist analyses (welch, ancova)")
        e = self.estimate
        q = 1.0 - alpha if sided == "one" else 1.0 - alpha / 2.0
        crit = _t_quantile(q, e.df)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = e.est / e.se
            return (t > crit) if sided == "one" else (np.abs(t) > crit)

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
