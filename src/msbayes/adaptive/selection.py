"""Interim selection rules (vectorized over trials) and Monte Carlo summaries.

A selection rule looks at one measure per candidate (effect estimate, z statistic, posterior
probability of benefit or, for enrichment, the predictive probability of final success) and keeps: the best (``"best"``), the ``r`` best (``"rbest"``), all
within ``epsilon`` of the best (``"epsilon"``) or all (``"all"``); candidates whose measure is
``<= threshold`` are then dropped (rpact's ``threshold``). Ties in ``"best"`` go to the first.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special

SelectionRule = Literal["best", "rbest", "epsilon", "all"]
EffectMeasure = Literal["estimate", "statistic", "posterior", "predictive"]
SELECTION_RULES = ("best", "rbest", "epsilon", "all")
EFFECT_MEASURES = ("estimate", "statistic", "posterior", "predictive")


def check_selection(*, selection: str, epsilon: float, r_best: int, threshold: float | None,
                    effect_measure: str, n_candidates: int, prefix: str = "") -> None:
    """Refuse invalid selection options, naming the argument."""
    if selection not in SELECTION_RULES:
        raise ValueError(f"{prefix}selection must be one of {', '.join(SELECTION_RULES)}; got {selection!r}")
    if effect_measure not in EFFECT_MEASURES:
        raise ValueError(f"{prefix}effect_measure must be one of {', '.join(EFFECT_MEASURES)}; got {effect_measure!r}")
    if not np.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"{prefix}epsilon must be a finite number >= 0, got {epsilon!r}")
    if selection == "rbest" and not (1 <= int(r_best) <= n_candidates):
        raise ValueError(f"{prefix}r_best must be in 1..{n_candidates}, got {r_best!r}")
    if threshold is not None:
        if effect_measure in ("posterior", "predictive") and not (0 < threshold < 1):
            raise ValueError(f"{prefix}threshold must be in (0, 1) for effect_measure={effect_measure!r}, "
                             f"got {threshold!r}")
        if not np.isfinite(threshold):
            raise ValueError(f"{prefix}threshold must be finite or None, got {threshold!r}")


def select(measure, *, selection: SelectionRule = "best", epsilon: float = 0.0, r_best: int = 1,
           threshold: float | None = None, eligible=None) -> np.ndarray:
    """Boolean selection ``(n, k)`` from a measure ``(n, k)`` (larger = better).

    ``eligible`` (bool ``(k,)``) excludes candidates from selection altogether.

    Examples
    --------
    >>> select(np.array([[0.1, 0.3, 0.25]]), selection="epsilon", epsilon=0.06).tolist()
    [[False, True, True]]
    """
    x = np.asarray(measure, dtype=float)
    if eligible is not None:
        x = np.where(np.asarray(eligible, dtype=bool), x, -np.inf)
    n, k = x.shape
    if selection == "all":
        sel = np.ones((n, k), dtype=bool)
    elif selection == "best":
        sel = np.zeros((n, k), dtype=bool)
        sel[np.arange(n), np.argmax(x, axis=1)] = True
    elif selection == "rbest":
        order = np.argsort(-x, axis=1, kind="stable")[:, :r_best]
        sel = np.zeros((n, k), dtype=bool)
        np.put_along_axis(sel, order, True, axis=1)
    elif selection == "epsilon":
        sel = x.max(axis=1, keepdims=True) - x <= epsilon
    else:
        raise ValueError(f"selection must be one of {', '.join(SELECTION_RULES)}; got {selection!r}")
    sel &= np.isfinite(x)
    if threshold is not None:
        sel &= x > threshold
    return sel


def predictive_prob_final(estimate, se, se_more, *, alpha: float, prior_mean: float = 0.0,
                          prior_sd: float = np.inf):
    """Predictive probability that the final analysis of a candidate succeeds if the rest of
    the trial enrols that candidate only.

    ``estimate`` / ``se``: the interim estimate and its standard error; ``se_more``: the
    standard error of the estimate from the remaining patients (all given to this candidate).
    Success = the posterior probability of benefit from all the data (under the normal
    ``prior``; flat by default, when it is the inverse-variance pooled z test) is at least
    ``1 - alpha``. Closed form (conjugate normal, :func:`msbayes.sequential.bayes.predictive_prob_success`).
    A measure for selection only: the final test of an adaptive design is its own.

    Examples
    --------
    >>> round(float(predictive_prob_final(0.0, 0.1, np.inf, alpha=0.025)), 6)   # nothing more to come
    0.0
    """
    from msbayes.sequential.bayes import predictive_prob_success

    est = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    se_more = np.asarray(se_more, dtype=float)
    prior = "flat" if not np.isfinite(prior_sd) else (np.array([1.0]), np.array([prior_mean]), np.array([prior_sd]))
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    est_, se_ = np.broadcast_arrays(np.where(ok, est, 0.0), np.where(ok, se, 1.0))
    with np.errstate(divide="ignore"):
        se_final = 1.0 / np.sqrt(1.0 / se_ ** 2 + np.where(np.isfinite(se_more) & (se_more > 0), 1.0 / se_more ** 2, 0.0))
    more = se_final < se_ * (1 - 1e-12)
    out = np.empty(est_.shape)
    if more.any():
        out[more] = predictive_prob_success(est_[more], se_[more], se_final[more], prior, go=[(0.0, 1.0 - alpha)])
    if (~more).any():  # no more patients: success is decided by the current data
        from msbayes.sequential.bayes import posterior_prob_above

        out[~more] = (posterior_prob_above(est_[~more], se_[~more], prior, 0.0) >= 1.0 - alpha).astype(float)
    return np.where(ok, out, np.nan)


def posterior_prob_positive(estimate, se, *, prior_mean: float = 0.0, prior_sd: float = np.inf):
    """``P(theta > 0 | estimate)`` for ``estimate ~ N(theta, se**2)``, ``theta ~ N(prior_mean, prior_sd**2)``.

    Examples
    --------
    >>> round(float(posterior_prob_positive(0.2, 0.1)), 6)   # flat prior: Phi(2)
    0.97725
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    prec0 = 0.0 if np.isinf(prior_sd) else 1.0 / prior_sd**2
    prec = prec0 + 1.0 / se**2
    mean = (prec0 * prior_mean + est / se**2) / prec
    return special.ndtr(mean * np.sqrt(prec))


def proportion(x) -> tuple[float, float]:
    """Mean of a 0/1 array and its Monte Carlo standard error."""
    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    return m, float(np.sqrt(max(m * (1 - m), 0.0) / x.size))


def mean_se(x) -> tuple[float, float]:
    """Mean and Monte Carlo standard error of a sample."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
