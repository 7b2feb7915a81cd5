"""Two-arm parallel trials simulated through exact sufficient statistics.

For each arm ``a`` and stratum ``s`` with ``c`` completers, the outcome mean and the
within-group sum of squares are drawn from their exact sampling distributions:
``ybar ~ N(mu, sigma^2 / c)`` and ``SS / sigma^2 ~ chi2(c - 1)``, independent. With the
baseline covariate (ANCOVA), the within-group scatter matrix of the standardized pair
(x, e) is drawn from ``Wishart_2(c - 1, I)`` by the Bartlett decomposition and mapped to
(x, y) with ``y = mu + sigma (rho x + sqrt(1 - rho^2) e)``. Strata are combined exactly
(within + between sums of squares), so the cost per trial is O(arms x strata) whatever n.

:func:`simulate_chunk` is the engine's per-chunk entry point for ``design.type: parallel``:
it draws true effects, trial data (sufficient or patient level), runs the configured analysis
and decision rule and returns the standard per-trial outcomes (see
:mod:`msbayes.oc.accumulate`).

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.simulate.twoarm import simulate_chunk
>>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "parallel", "n_per_arm": 60}, "scenarios": {"mcid": {"effect": 0.182}},
...     "analysis": {"method": "welch"}, "decision": {"rule": "significance", "alpha": 0.025}})
>>> out = simulate_chunk(cfg, "mcid", 1000, np.random.default_rng(1))
>>> sorted(out)
['constants', 'est', 'failed', 'go', 'n_analysed', 'n_draw_batches', 'n_total', 'nogo', 'reject', 'true']
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

import numpy as np

from msbayes.design.config import (
    AncovaAnalysis,
    BayesNormalAnalysis,
    SimConfig,
    WelchAnalysis,
)
from msbayes.design.endpoint import EndpointSpec, fixed_stratum_counts
from msbayes.design.scenarios import EffectSampler, effect_sampler

from .analyses import (
    AnalysisResult,
    TrialStats,
    ancova_estimate,
    bayes_normal,
    difference_estimate,
    frequentist,
)

__all__ = [
    "randomized_counts",
    "completer_counts",
    "sufficient_stats",
    "analyse",
    "decide",
    "scenario_sampler",
    "standard_draws",
    "combine_strata",
    "stats_from_draws",
    "simulate_trials",
    "outcomes",
    "simulate_chunk",
]

# id(cfg) -> (cfg, {scenario: sampler}); holding cfg keeps its id unique; small LRU.
_SAMPLERS: "OrderedDict[int, tuple[SimConfig, dict[str, EffectSampler]]]" = OrderedDict()
_MAX_CACHED = 16


def scenario_sampler(cfg: SimConfig, scenario: str) -> EffectSampler:
    """The (cached) :class:`EffectSampler` of ``cfg.scenarios[scenario]``."""
    if scenario not in cfg.scenarios:
        raise KeyError(f"unknown scenario {scenario!r} (allowed: {list(cfg.scenarios)})")
    key = id(cfg)
    if key in _SAMPLERS and _SAMPLERS[key][0] is cfg:
        _SAMPLERS.move_to_end(key)
    else:
        _SAMPLERS[key] = (cfg, {})
        while len(_SAMPLERS) > _MAX_CACHED:
            _SAMPLERS.popitem(last=False)
    per = _SAMPLERS[key][1]
    if scenario not in per:
        per[scenario] = effect_sampler(cfg.scenarios[scenario], cfg.endpoint, name=scenario)
    return per[scenario]


def randomized_counts(endpoint: EndpointSpec, arm_sizes: list[int], m: int, *, rng: np.random.Generator) -> np.ndarray:
    """Randomized patients per (trial, arm, stratum), int array (m, arms, strata)."""
    w = endpoint.stratum_weights
    if len(w) == 1:
        return np.broadcast_to(np.asarray(arm_sizes, dtype=np.int64)[None, :, None], (m, len(arm_sizes), 1))
    if endpoint.stratum_enrolment == "fixed":
        per_arm = np.stack([fixed_stratum_counts(n, w) for n in arm_sizes])
        return np.broadcast_to(per_arm[None], (m, *per_arm.shape))
    return np.stack([rng.multinomial(n, w, size=m) for n in arm_sizes], axis=1)


def completer_counts(counts: np.ndarray, dropout: float, *, rng: np.random.Generator) -> np.ndarray:
    """Completers per cell: Binomial(randomized, 1 - dropout) (MCAR).

    When every trial has the same randomized counts (fixed enrolment), draws by the exact
    inverse CDF of one uniform per cell (faster than ``Generator.binomial``); otherwise with
    ``Generator.binomial``.
    """
    if dropout == 0:
        return counts
    q = 1.0 - dropout
    if counts.ndim == 3 and counts.shape[0] > 1 and counts.strides[0] == 0:
        base = counts[0]
        u = rng.random(counts.shape)
        out = np.empty(counts.shape, dtype=np.int64)
        for idx in np.ndindex(base.shape):
            sl = (slice(None), *idx)
            out[sl] = np.searchsorted(_binom_cdf(int(base[idx]), q), u[sl], side="right")
        return out
    return rng.binomial(counts, q)


@functools.lru_cache(maxsize=256)
def _binom_cdf(n: int, q: float) -> np.ndarray:
    from scipy import stats

    cdf = stats.binom.cdf(np.arange(n + 1), n, q)
    cdf[-1] = 1.0
    cdf.setflags(write=False)
    return cdf


def _chi2(df: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """chi2(df) draws for an array of df >= 0 (df = 0 gives 0)."""
    out = rng.standard_gamma(np.maximum(df, 0) * 0.5)
    out *= 2.0
    return out


def standard_draws(shape: tuple[int, ...], completers: np.ndarray, *, rng: np.random.Generator, baseline: bool) -> dict[str, np.ndarray]:
    """Standardized variates for :func:`stats_from_draws` (normals and chi-squares)."""
    c = completers
    if not baseline:
        return {"z": rng.standard_normal(shape), "chi2": _chi2(c - 1.0, rng)}
    return {
        "zx": rng.standard_normal(shape),
        "ze": rng.standard_normal(shape),
        "a11sq": _chi2(c - 1.0, rng),
        "a22sq": _chi2(c - 2.0, rng),
        "a21": rng.standard_normal(shape),
    }


def combine_strata(mu: np.ndarray, completers: np.ndarray, draws: dict[str, np.ndarray], sigma: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arm summaries, ignoring strata, from per-(arm, stratum) cells (exact, no baseline).

    Cell means are ``mu + sigma z / sqrt(c)`` and cell sums of squares ``sigma^2 chi2``
    (``draws`` from :func:`standard_draws`); an arm's mean is the completer-weighted cell mean
    and its sum of squares adds the between-cell spread to the within-cell ones.

    Parameters
    ----------
    mu : ndarray (m, arms, strata)
        True cell means.
    completers : ndarray (m, arms, strata)
    draws : dict with ``z`` ~ N(0, 1) and ``chi2`` ~ chi2(c - 1), shape (m, arms, strata)
    sigma : float

    Returns
    -------
    n (m, arms) completers, mean (m, arms) (NaN where n = 0), sst (m, arms) sum of squares
    about the arm mean.

    Examples
    --------
    >>> d = {"z": np.zeros((1, 2, 2)), "chi2": np.ones((1, 2, 2))}
    >>> mu = np.array([[[0.0, 1.0], [0.0, 0.0]]])  # arm 0: strata differ by 1
    >>> n, mean, sst = combine_strata(mu, np.full((1, 2, 2), 2), d, 1.0)
    >>> n.tolist(), mean.tolist(), sst.tolist()  # arm 0: within 1 + 1, between 2(0.25) + 2(0.25)
    ([[4.0, 4.0]], [[0.5, 0.0]], [[3.0, 2.0]])
    """
    c = np.asarray(completers, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_sqrt_c = np.where(c > 0, 1.0 / np.sqrt(np.maximum(c, 1.0)), 0.0)
    ybar = mu + sigma * inv_sqrt_c * draws["z"]
    ss = draws["chi2"] * (sigma * sigma)
    if c.shape[2] == 1:
        return c[:, :, 0], ybar[:, :, 0], ss[:, :, 0]
    n = c.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (c * ybar).sum(axis=2) / n
        d = ybar - mean[:, :, None]
        sst = ss.sum(axis=2) + (c * d * d).sum(axis=2)
    return n, mean, sst


def stats_from_draws(
    endpoint: EndpointSpec, theta: np.ndarray, completers: np.ndarray, draws: dict[str, np.ndarray], *, baseline: bool
) -> TrialStats:
    """Map standardized variates to per-arm summaries (exact; shared by the CRN search).

    ``draws``: without baseline ``z`` ~ N(0, 1) and ``chi2`` ~ chi2(c - 1); with baseline
    ``zx, ze, a21`` ~ N(0, 1), ``a11sq`` ~ chi2(c - 1), ``a22sq`` ~ chi2(c - 2) (Bartlett
    factors of a Wishart_2(c - 1, I) scatter matrix), all of shape (m, 2, strata).
    """
    c = completers.astype(float)
    m, n_arms, n_strata = c.shape
    sigma = endpoint.sd
    mu = np.empty((m, n_arms, n_strata))
    mu[:, 0, :] = endpoint.placebo_mean
    mu[:, 1, :] = endpoint.placebo_mean + theta
    if not baseline:
        n, mean, sst = combine_strata(mu, c, draws, sigma)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(n >= 2, sst / (n - 1.0), np.nan)
        return TrialStats(n=n, mean=np.where(n > 0, mean, np.nan) if n_strata > 1 else mean, var=var)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_sqrt_c = np.where(c > 0, 1.0 / np.sqrt(np.maximum(c, 1.0)), 0.0)
    rho = endpoint.baseline_corr
    k = math.sqrt(1.0 - rho * rho)
    xbar = inv_sqrt_c * draws["zx"]
    ebar = inv_sqrt_c * draws["ze"]
    a11 = np.sqrt(draws["a11sq"])
    a21 = np.where(c >= 2, draws["a21"], 0.0)
    wxx = a11 * a11
    wxe = a11 * a21
    wee = a21 * a21 + draws["a22sq"]
    ybar = mu + sigma * (rho * xbar + k * ebar)
    sxy_s = sigma * (rho * wxx + k * wxe)
    syy_s = sigma * sigma * (rho * rho * wxx + 2 * rho * k * wxe + k * k * wee)
    n = c.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = (c * xbar).sum(axis=2) / n
        ym = (c * ybar).sum(axis=2) / n
        dx = xbar - xm[:, :, None]
        dy = ybar - ym[:, :, None]
        sxx_a = wxx.sum(axis=2) + (c * dx * dx).sum(axis=2)
        sxy_a = sxy_s.sum(axis=2) + (c * dx * dy).sum(axis=2)
        syy_a = syy_s.sum(axis=2) + (c * dy * dy).sum(axis=2)
        var = np.where(n >= 2, syy_a / (n - 1.0), np.nan)
    return TrialStats(n=n, mean=ym, var=var, xbar=xm, sxx=sxx_a.sum(axis=1), sxy=sxy_a.sum(axis=1), syy=syy_a.sum(axis=1))


def sufficient_stats(
    endpoint: EndpointSpec,
    theta: np.ndarray,
    completers: np.ndarray,
    *,
    rng: np.random.Generator,
    baseline: bool = False,
) -> TrialStats:
    """Draw per-arm completer summaries exactly from sufficient statistics.

    Parameters
    ----------
    endpoint : EndpointSpec
        Outcome model (placebo mean, SD, baseline correlation).
    theta : ndarray (m, strata)
        True treatment effect per trial and stratum.
    completers : ndarray (m, 2, strata)
        Completers per trial, arm and stratum.
    baseline : bool
        Also draw baseline-covariate cross-products (for ANCOVA).
    """
    draws = standard_draws(completers.shape, completers, rng=rng, baseline=baseline)
    return stats_from_draws(endpoint, theta, completers, draws, baseline=baseline)


def _analysis_prior(a: BayesNormalAnalysis):
    if a.prior == "flat":
        return None
    if hasattr(a.prior, "weights"):
        return a.prior.weights_array, a.prior.means_array, a.prior.sds_array
    return np.ones(1), np.array([a.prior.mean]), np.array([a.prior.sd])


def analyse(cfg: SimConfig, ts: TrialStats) -> tuple[AnalysisResult, np.ndarray | None]:
    """Run ``cfg.analysis`` on trial summaries; returns (result, reject or None)."""
    a = cfg.analysis
    ep = cfg.endpoint
    if isinstance(a, WelchAnalysis):
        res = frequentist(difference_estimate(ts, equal_var=a.equal_var))
    elif isinstance(a, AncovaAnalysis):
        res = frequentist(ancova_estimate(ts))
    elif isinstance(a, BayesNormalAnalysis):
        known = None
        if a.variance == "known":
            known = ep.sd * (math.sqrt(1 - ep.baseline_corr**2) if a.estimator == "ancova" else 1.0)
        if a.estimator == "ancova":
            est = ancova_estimate(ts, known_sd=known)
        else:
            est = difference_estimate(ts, equal_var=a.equal_var or a.variance == "student_t", known_sd=known)
        res = bayes_normal(est, prior=_analysis_prior(a), student_t=a.variance == "student_t")
        return res, None
    else:  # pragma: no cover - validation prevents this
        raise TypeError(f"analysis {a.method!r} is not a two-arm analysis")
    reject = res.significant(a.alpha, sided=a.sided) & res.estimate.valid
    return res, reject


def decide(cfg: SimConfig, res: AnalysisResult) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``cfg.decision`` -> (go, nogo) boolean arrays; unanalysable trials are no-go."""
    from msbayes.oc.decision import decision_from_spec

    rule = decision_from_spec(cfg.decision)
    go, nogo = rule(res, mcid=cfg.endpoint.mcid)
    valid = res.estimate.valid
    if not valid.all():
        go = go & valid
        nogo = nogo | ~valid
    return go, nogo


def simulate_trials(cfg: SimConfig, scenario: str, n: int, rng: np.random.Generator):
    """Draw effects and data for ``n`` trials and analyse them.

    Returns
    -------
    theta : ndarray (n, strata)
    ts : TrialStats
    result : AnalysisResult
    reject : ndarray or None
    """
    return _simulate(cfg, scenario, n, rng)[:4]


def cell_constants(cfg: SimConfig, scenario: str) -> dict[str, float]:
    """Cached :func:`msbayes.oc.boundary.cell_constants` of (cfg, scenario)."""
    from msbayes.oc.boundary import cell_constants as _cc

    sampler = scenario_sampler(cfg, scenario)
    per = _SAMPLERS[id(cfg)][1]
    key = ("__constants__", scenario)
    if key not in per:
        per[key] = _cc(cfg, sampler)
    return dict(per[key])


def _simulate(cfg: SimConfig, scenario: str, n: int, rng: np.random.Generator):
    from .patient import patient_stats

    ep = cfg.endpoint
    sampler = scenario_sampler(cfg, scenario)
    theta, batch = sampler.sample_with_batch(n, rng=rng)
    counts = randomized_counts(ep, cfg.design.arm_sizes(), n, rng=rng)
    if cfg.engine == "patient":
        ts = patient_stats(ep, theta, counts, rng=rng, baseline=cfg.analysis_needs_baseline)
    else:
        comp = completer_counts(counts, ep.dropout, rng=rng)
        ts = sufficient_stats(ep, theta, comp, rng=rng, baseline=cfg.analysis_needs_baseline)
    res, reject = analyse(cfg, ts)
    return theta, ts, res, reject, (batch, sampler.n_batches)


def outcomes(cfg: SimConfig, theta: np.ndarray, ts: TrialStats, res: AnalysisResult, reject) -> dict[str, np.ndarray]:
    """Standard per-trial outcome dict (see :mod:`msbayes.oc.accumulate`)."""
    ep = cfg.endpoint
    n = theta.shape[0]
    go, nogo = decide(cfg, res)
    out = {
        "go": go,
        "nogo": nogo,
        "failed": ~res.estimate.valid,
        "est": res.estimate.est,
        "true": theta @ ep.stratum_weights if theta.shape[1] > 1 else theta[:, 0].copy(),
        "n_total": np.full(n, float(sum(cfg.design.arm_sizes()))),
        "n_analysed": ts.n.sum(axis=1),
    }
    if reject is not None:
        out["reject"] = reject
    return out


def simulate_chunk(cfg: SimConfig, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` two-arm trials of ``cfg`` under ``scenario``; per-trial outcomes.

    Returns
    -------
    dict
        ``go, nogo, failed`` (and ``reject`` for welch / ancova) bool[n]; ``est, true,
        n_total, n_analysed`` float[n]. ``true`` is the enrolment-weighted true effect.
        ``n_draw_batches`` (0 unless effects are resampled from posterior draws, then also
        ``draw_batch`` int[n]: the design-prior part of the MCSE); ``constants``: ``go_boundary``,
        ``design_se``, ``ceiling_threshold``, ``assurance_ceiling``,
        ``assurance_ceiling_mcse`` (:func:`msbayes.oc.boundary.cell_constants`).
    """
    theta, ts, res, reject, (batch, n_batches) = _simulate(cfg, scenario, n, rng)
    out = outcomes(cfg, theta, ts, res, reject)
    if batch is not None:
        out["draw_batch"] = batch
    out["n_draw_batches"] = n_batches  # 0: effects not resampled from draws
    out["constants"] = cell_constants(cfg, scenario)
    return out
