"""Sample-size search: smallest n per arm whose OC reaches a target.

:func:`bracket_bisect` is generic (any ``n -> (metric, mcse)``): it doubles n from ``n_lo``
until the target is met (bracketing), then bisects on integers. :func:`search_sample_size`
evaluates a two-arm config's ``p_go`` / ``p_reject`` with **common random numbers** across n:
every trial keeps its true effect, its uniforms for dropout, its normals for the arm means and
its uniforms for the chi-square variances (drawn by the inverse CDF, so the variance draw of
a trial changes smoothly and monotonically with n). The metric is then a nearly monotone
function of n and the bisection is stable. Dose-finding designs use the same seed for every
n (correlated, not exactly common, random numbers). Two-arm designs with ``interims`` also run
the engine with the same seed for every n; their chunk function draws every random number
with a shape that does not depend on n (inverse-CDF completers and chi-squares), so these are
common random numbers too, and the search finds the smallest *maximum* n per arm.

Examples
--------
>>> from msbayes.oc.search import bracket_bisect
>>> r = bracket_bisect(lambda n: (1 - 0.9 ** n, 0.0), 0.8, n_lo=2, n_hi=100)
>>> r.n, round(r.achieved, 3)   # smallest n with 1 - 0.9^n >= 0.8 is 16
(16, 0.815)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import special, stats

from msbayes.config import ConfigError
from msbayes.rng import as_seed_sequence, cell_seed

__all__ = ["SearchResult", "bracket_bisect", "search_sample_size", "crn_metric_function", "metric_ceiling", "Ceiling"]


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a sample-size search.

    ``n`` is the smallest n meeting the target (None if even ``n_hi`` does not);
    ``achieved`` / ``achieved_mcse`` the metric at ``n``; ``evaluations`` every (n, value,
    mcse) computed, in order; ``increasing`` the direction the search assumed.
    """

    n: int | None
    achieved: float
    achieved_mcse: float
    target: float
    reached: bool
    evaluations: tuple[tuple[int, float, float], ...] = field(default=())
    increasing: bool = True
    n_hi: int | None = None
    ceiling: Ceiling | None = None

    @property
    def best(self) -> tuple[int, float, float] | None:
        """The evaluated (n, value, mcse) closest to the target side (largest value if increasing)."""
        if not self.evaluations:
            return None
        sign = 1.0 if self.increasing else -1.0
        return max(self.evaluations, key=lambda e: (sign * e[1], -e[0]))

    @property
    def monotone(self) -> bool:
        """False if the evaluated points contradict the monotonicity bisection relies on.

        A contradiction is a pair n1 < n2 whose values go the wrong way by more than 3 times
        the MCSE of their difference (taken as independent: conservative under common random
        numbers, so only clear reversals are flagged). A flagged search's ``n`` may not be the
        smallest n meeting the target; evaluate the metric over a grid of n instead.
        """
        pts = sorted(self.evaluations)
        sign = 1.0 if self.increasing else -1.0
        for i, (n1, v1, s1) in enumerate(pts):
            for n2, v2, s2 in pts[i + 1:]:
                if sign * (v1 - v2) > 3.0 * math.hypot(s1, s2) + 1e-12:
                    return False
        return True

    def to_row(self, **extra) -> dict:
        """One row for ``sample_size.csv``.

        If the target was not reached, ``achieved`` is the best evaluated value, at ``best_n``,
        and ``ceiling`` (with ``ceiling_mcse``, ``ceiling_note``) the metric's limit as n grows
        where it is known (NaN otherwise).
        """
        best = self.best if not self.reached else None
        achieved, mcse = (best[1], best[2]) if best else (self.achieved, self.achieved_mcse)
        c = self.ceiling
        return {**extra, "target": self.target, "n_per_arm": self.n, "achieved": achieved,
                "achieved_mcse": mcse, "reached": self.reached, "n_evaluations": len(self.evaluations),
                "monotone": self.monotone, "n_max": self.n_hi, "best_n": best[0] if best else None,
                "ceiling": c.value if c else math.nan, "ceiling_mcse": c.mcse if c else math.nan,
                "ceiling_note": c.note if c else ""}


@dataclass(frozen=True)
class Ceiling:
    """Limit of a search metric as n per arm grows, under one scenario.

    ``mcse`` is 0 for closed forms; ``note`` says which event it is the probability of.
    """

    value: float
    mcse: float
    note: str


def bracket_bisect(
    f: Callable[[int], tuple[float, float]],
    target: float,
    *,
    n_lo: int,
    n_hi: int,
    increasing: bool = True,
) -> SearchResult:
    """Smallest integer n in [n_lo, n_hi] with ``f(n)[0] >= target`` (``<=`` if not increasing).

    Brackets by doubling from ``n_lo``, then bisects; assumes the metric is monotone in n
    (use common random numbers for simulated metrics).
    """
    if n_lo < 1 or n_hi < n_lo:
        raise ValueError(f"need 1 <= n_lo <= n_hi; got n_lo={n_lo}, n_hi={n_hi}")
    evals: dict[int, tuple[float, float]] = {}
    order: list[tuple[int, float, float]] = []

    def ev(n: int) -> tuple[float, float]:
        if n not in evals:
            v, se = f(n)
            evals[n] = (float(v), float(se))
            order.append((n, float(v), float(se)))
        return evals[n]

    def ok(n: int) -> bool:
        v = ev(n)[0]
        return v >= target if increasing else v <= target

    def result(n, v, se, reached):
        return SearchResult(n, v, se, target, reached, tuple(order), increasing, n_hi=n_hi)

    if ok(n_lo):
        v, se = ev(n_lo)
        return result(n_lo, v, se, True)
    lo, hi = n_lo, None
    n = n_lo
    while hi is None:
        if n >= n_hi:
            v, se = ev(n_hi)
            return result(None, v, se, False)
        n = min(max(2 * n, n + 1), n_hi)
        if ok(n):
            hi = n
        else:
            lo = n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    v, se = ev(hi)
    return result(hi, v, se, True)


def _crn_multinomial(u: np.ndarray, n: int, weights: np.ndarray) -> np.ndarray:
    """Multinomial(n, weights) by conditional binomial inverse CDFs of uniforms u (..., S-1)."""
    s = len(weights)
    out = np.zeros((*u.shape[:-1], s), dtype=np.int64)
    left = np.full(u.shape[:-1], n, dtype=np.int64)
    rest = 1.0
    for j in range(s - 1):
        p = min(max(weights[j] / rest, 0.0), 1.0) if rest > 0 else 0.0
        out[..., j] = stats.binom.ppf(u[..., j], left, p).astype(np.int64)
        left = left - out[..., j]
        rest -= weights[j]
    out[..., s - 1] = left
    return out


def _chi2_inv(df: np.ndarray, u: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    out = np.zeros(np.broadcast(df, u).shape)
    pos = df > 0
    out[pos] = 2.0 * special.gammaincinv(0.5 * np.broadcast_to(df, out.shape)[pos], np.broadcast_to(u, out.shape)[pos])
    return out


def crn_metric_function(cfg, *, scenario: str, metric: str, n_sims: int, seed) -> Callable[[int], tuple[float, float]]:
    """``n -> (metric, mcse)`` for a two-arm config, with common random numbers across n."""
    from msbayes.design.config import validate_sim_config  # noqa: F401 - cfg already validated
    from msbayes.simulate.twoarm import analyse, decide, scenario_sampler, stats_from_draws

    if metric not in ("p_go", "p_reject"):
        raise ConfigError(f"search.metric {metric!r} not available for two-arm designs (allowed: p_go, p_reject)",
                          [("search.metric", "not allowed")])
    if metric == "p_reject" and cfg.analysis.method == "bayes_normal":
        raise ConfigError("search.metric 'p_reject' needs analysis welch or ancova", [("search.metric", "not allowed")])
    if getattr(cfg, "interims", None) is not None:
        raise ConfigError("interims: a design with interim looks is searched through the engine "
                          "(search_sample_size), not the fixed-design common-random-number function",
                          [("interims", "not a fixed design")])
    if cfg.engine == "patient":
        raise ConfigError("the sample-size search uses sufficient statistics; informative dropout is not supported",
                          [("search", "patient-level engine")])
    ep = cfg.endpoint
    rng = np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
    m = n_sims
    S = len(ep.strata)
    sampler = scenario_sampler(cfg, scenario)
    theta, batch = sampler.sample_with_batch(m, rng=rng)  # same stream as sample(): same effects
    n_batches = sampler.n_batches
    baseline = cfg.analysis_needs_baseline
    shape = (m, 2, S)
    u_strata = rng.random((m, 2, max(S - 1, 1)))
    u_drop = rng.random(shape)
    z = {k: rng.standard_normal(shape) for k in (("zx", "ze", "a21") if baseline else ("z",))}
    u_chi = {k: rng.random(shape) for k in (("a11sq", "a22sq") if baseline else ("chi2",))}

    def f(n: int) -> tuple[float, float]:
        sizes = cfg.design.arm_sizes(n)
        if S == 1:
            counts = np.broadcast_to(np.asarray(sizes)[None, :, None], shape)
        elif ep.stratum_enrolment == "fixed":
            from msbayes.design.endpoint import fixed_stratum_counts

            counts = np.broadcast_to(np.stack([fixed_stratum_counts(a, ep.stratum_weights) for a in sizes])[None], shape)
        else:
            counts = np.stack([_crn_multinomial(u_strata[:, a, :], sizes[a], ep.stratum_weights) for a in range(2)], axis=1)
        comp = counts if ep.dropout == 0 else stats.binom.ppf(u_drop, counts, 1.0 - ep.dropout).astype(np.int64)
        draws = dict(z)
        if baseline:
            draws["a11sq"] = _chi2_inv(comp - 1.0, u_chi["a11sq"])
            draws["a22sq"] = _chi2_inv(comp - 2.0, u_chi["a22sq"])
        else:
            draws["chi2"] = _chi2_inv(comp - 1.0, u_chi["chi2"])
        ts = stats_from_draws(ep, theta, comp, draws, baseline=baseline)
        res, reject = analyse(cfg, ts)
        hit = decide(cfg, res)[0] if metric == "p_go" else reject
        p = float(np.mean(hit))
        var = p * (1 - p) / m
        if batch is not None and n_batches >= 2:
            # effects resampled from a finite set of posterior draws: cluster (batch-means)
            # variance with the draw batches as clusters, as for the grid's p_go_mcse
            s_b = np.bincount(batch, weights=np.asarray(hit, float), minlength=n_batches)
            n_b = np.bincount(batch, minlength=n_batches).astype(float)
            v_c = float(np.sum((s_b - p * n_b) ** 2) / (m * m) * n_batches / (n_batches - 1))
            var = max(var, v_c)
        return p, math.sqrt(var)

    return f


def search_sample_size(
    cfg,
    *,
    scenario: str | None = None,
    metric: str | None = None,
    target: float | None = None,
    n_min: int | None = None,
    n_max: int | None = None,
    n_sims: int | None = None,
    seed=None,
) -> SearchResult:
    """Smallest ``design.n_per_arm`` whose ``metric`` under ``scenario`` reaches ``target``.

    Arguments default to ``cfg.search`` (and ``cfg.simulation.n_sims``, ``cfg.seed``).
    """
    s = cfg.search
    scenario = scenario or (s.scenario if s else None)
    metric = metric or (s.metric if s else "p_go")
    target = target if target is not None else (s.target if s else None)
    n_min = n_min or (s.n_min if s else 10)
    n_max = n_max or (s.n_max if s else 500)
    n_sims = n_sims or (s.n_sims if s and s.n_sims else cfg.simulation.n_sims)
    if scenario is None or target is None:
        raise ConfigError("search: give scenario and target (or a search section)", [("search", "missing")])
    if scenario not in cfg.scenarios:
        raise ConfigError(f"search.scenario {scenario!r} unknown (allowed: {list(cfg.scenarios)})", [("search.scenario", "unknown")])
    seed = cell_seed(cfg.seed, {"search": scenario, "metric": metric}) if seed is None else seed
    if cfg.design.type == "parallel" and getattr(cfg, "interims", None) is None:
        f = crn_metric_function(cfg, scenario=scenario, metric=metric, n_sims=n_sims, seed=seed)
    else:
        f = _same_seed_function(cfg, scenario=scenario, metric=metric, n_sims=n_sims, seed=seed)
    res = bracket_bisect(f, target, n_lo=n_min, n_hi=n_max)
    if not res.reached:
        c = metric_ceiling(cfg, scenario=scenario, metric=metric)
        if c is not None:
            res = replace(res, ceiling=c)
    return res


def metric_ceiling(cfg, *, scenario: str, metric: str) -> Ceiling | None:
    """Limit of a two-arm search metric as ``n_per_arm`` grows, under ``scenario``.

    As n grows the estimate converges to the true effect theta (enrolment-weighted over
    strata) and its standard error to 0, so every go rule and test becomes the indicator of
    an event about theta:

    * ``p_go``: theta > c* (:func:`msbayes.oc.boundary.ceiling_threshold`: MCID if
      ``go.p_mcid`` > 0, else 0; significance rule: 0);
    * ``p_reject``: theta > 0 (one-sided test) or theta != 0 (two-sided).

    The limit is the probability of that event under the scenario
    (:meth:`EffectSampler.prob_above`: closed form for fixed, normal and mixture scenarios,
    the share of posterior draws with its batch-means MCSE for ``from_fit``): the assurance
    ceiling, e.g. P(theta > 0) = Phi(m / s) under N(m, s^2); 0 or 1 for a fixed effect. A
    target above it cannot be reached at any n. Returns None for dose-finding designs (no
    simple limit is computed there).

    Parameters
    ----------
    cfg : SimConfig
    scenario, metric : str

    Returns
    -------
    Ceiling or None

    Examples
    --------
    >>> from msbayes.design.config import validate_sim_config
    >>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.3},
    ...     "design": {"type": "parallel", "n_per_arm": 20}, "scenarios": {"fx": {"effect": 0.1}},
    ...     "analysis": {"method": "bayes_normal", "prior": "flat"}, "decision": {"go": {"p_mcid": 0.5}}})
    >>> c = metric_ceiling(cfg, scenario="fx", metric="p_go")
    >>> c.value, c.note
    (0.0, 'P(true effect > 0.1823)')
    """
    if getattr(cfg.design, "type", None) != "parallel" or metric not in ("p_go", "p_reject"):
        return None
    from msbayes.oc.boundary import ceiling_threshold
    from msbayes.simulate.twoarm import scenario_sampler

    sampler = scenario_sampler(cfg, scenario)
    w = cfg.endpoint.stratum_weights
    prior = " under the design prior" if sampler.kind != "fixed" else ""
    if metric == "p_reject" and getattr(cfg.analysis, "sided", "two") == "two":
        up, se_up = sampler.prob_above(0.0, w)
        not_down, se_dn = sampler.prob_above(float(np.nextafter(0.0, -1.0)), w)  # P(theta >= 0)
        return Ceiling(up + 1.0 - not_down, se_up + se_dn, "P(true effect != 0)" + prior)
    c = 0.0 if metric == "p_reject" else ceiling_threshold(cfg)
    if math.isinf(c):
        return Ceiling(1.0 if c < 0 else 0.0, 0.0, "always go" if c < 0 else "never go (a go probability of 1)")
    p, se = sampler.prob_above(c, w)
    return Ceiling(float(p), float(se), f"P(true effect > {c:.4g})" + prior)


def _same_seed_function(cfg, *, scenario, metric, n_sims, seed):
    from msbayes.simulate.engine import simulate_cell

    ss = as_seed_sequence(seed)

    def f(n: int) -> tuple[float, float]:
        # only n_per_arm changes (>= n_min >= 2, validated), so copy instead of re-validating
        c = cfg.model_copy(update={"design": cfg.design.model_copy(update={"n_per_arm": int(n)})})
        r = simulate_cell(c, scenario, n_sims, ss).finalize()
        if metric not in r:
            raise ConfigError(f"search.metric {metric!r} not produced by this design", [("search.metric", "not produced")])
        return float(r[metric]), float(r[f"{metric}_mcse"])

    return f
