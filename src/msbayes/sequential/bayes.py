"""Bayesian monitoring maths for interim analyses (conjugate normal model, closed form).

The effect estimate of a two-arm trial is modelled as ``est ~ N(effect, se^2)``; the analysis
prior on ``effect`` is normal, a finite normal mixture or flat, exactly as a config's
``analysis.prior`` holds it. Three tools, all vectorized over trials:

* :func:`posterior_prob_above`: ``P(effect > c | est)``;
* :func:`predictive_prob_success`: the predictive probability (Saville et al. 2014) that the
  FINAL analysis meets a go rule given the interim estimate: the future data are the
  independent increment between the interim and final analyses;
* :func:`calibrate_sequential_threshold`: the efficacy threshold ``u`` of a monitoring rule
  "stop for efficacy at the first look whose posterior probability is >= u" that keeps the
  simulated type I error at or below a target.

Predictive probability in closed form
-------------------------------------
With interim SE ``se`` and final SE ``se_final < se``, the data still to come carry the
information ``1 / se_inc^2 = 1 / se_final^2 - 1 / se^2`` and give an independent estimate
``inc ~ N(effect, se_inc^2)``; the final estimate is the information-weighted combination
``est_final = se_final^2 (est / se^2 + inc / se_inc^2)``. ``P(effect > c | est_final)`` is
increasing in ``est_final`` for every prior (the normal location family has a monotone
likelihood ratio), so the final go rule "``P(effect > c_i | final) >= p_i`` for every pair"
holds iff ``est_final >= t*``: closed form for normal and flat priors, vectorized bisection
for mixtures (bracketed by the components' own thresholds). On the increment scale the
threshold is ``t_inc = se_inc^2 (t* / se_final^2 - est / se^2)`` and, since ``inc`` given the
interim data is the current posterior (weights ``w_j``, means ``m_j``, SDs ``s_j``) convolved
with ``N(0, se_inc^2)``::

    PP = sum_j w_j Phi((m_j - t_inc) / sqrt(s_j^2 + se_inc^2)).

Calibrating a sequential design
-------------------------------
For a design that stops for efficacy at the first look k with ``P_k = P(effect > c | data_k)
>= u`` and for futility by rules that do not involve ``u`` (e.g. a predictive-probability or
posterior futility bound), a null trial is a type I error iff ``S >= u`` with
``S = max(P_1, ..., P_K')``, K' = its first futility stop (or the last look): futility stops do
not move with ``u``, and an efficacy stop at an earlier look only needs some ``P_k >= u`` among
the looks the trial reaches. Simulate ``S`` for trials under the null and pass it to
:func:`calibrate_sequential_threshold`. When the last look applies a rule of its own (as a
config's ``decision`` at the final analysis does), a trial also succeeds if it reaches the end
without a futility stop and meets that rule (event ``F``, free of ``u``): set ``S`` above 1
for those trials. :func:`calibrate_interim_efficacy` does this for a config by running its
sequential chunk function on common random numbers.

Examples
--------
>>> import numpy as np
>>> from types import SimpleNamespace as NS
>>> prior = NS(mean=0.0, sd=0.11)
>>> p = posterior_prob_above(np.array([0.1, 0.2]), 0.064, prior, 0.0)
>>> np.round(p, 4).tolist()
[0.9116, 0.9965]
>>> pp = predictive_prob_success(np.array([0.1, 0.2]), 0.064, 0.045, "flat",
...                              go=[(0.0, 0.975), (0.182, 0.5)])
>>> np.round(pp, 4).tolist()
[0.0358, 0.6538]
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from msbayes.oc.decision import CalibrationResult, calibrate_threshold
from msbayes.simulate.analyses import mixture_posterior, normal_posterior_prob

__all__ = [
    "prior_components",
    "posterior_prob_above",
    "success_threshold",
    "predictive_prob_success",
    "calibrate_sequential_threshold",
    "calibrate_interim_efficacy",
    "calibration_field",
    "check_null_scenario",
    "calibrate_config_threshold",
    "THRESHOLD_FIELDS",
]

_WEIGHT_TOL = 1e-8


def prior_components(prior: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(weights, means, sds) of an analysis prior, or ``None`` for ``"flat"``.

    Accepts a ``NormalSpec``-like object (``mean``, ``sd``), a ``MixtureSpec``-like object
    (``weights``, ``means``, ``sds``; a real ``MixtureSpec`` is validated and normalized by
    its ``weights_array``, any other object must have weights summing to 1), a tuple
    ``(weights, means, sds)`` or the string ``"flat"``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> prior_components(NS(mean=0.1, sd=0.2))
    (array([1.]), array([0.1]), array([0.2]))
    >>> prior_components("flat") is None
    True
    """
    if isinstance(prior, str):
        if prior == "flat":
            return None
        raise ValueError(f"prior: unknown string {prior!r} (allowed: 'flat', a normal or a mixture spec)")
    if hasattr(prior, "weights_array"):
        w, m, s = prior.weights_array, prior.means_array, prior.sds_array
    elif hasattr(prior, "weights"):
        w, m, s = prior.weights, prior.means, prior.sds
    elif hasattr(prior, "mean") and hasattr(prior, "sd"):
        w, m, s = [1.0], [prior.mean], [prior.sd]
    elif isinstance(prior, tuple) and len(prior) == 3:
        w, m, s = prior
    else:
        raise ValueError("prior: must be 'flat', a normal spec {mean, sd} or a mixture spec {weights, means, sds}")
    w, m, s = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (w, m, s))
    if not (w.ndim == m.ndim == s.ndim == 1 and w.size == m.size == s.size and w.size > 0):
        raise ValueError(f"prior: weights, means and sds must be 1-D of one length; got {w.shape}, {m.shape}, {s.shape}")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and abs(w.sum() - 1.0) <= _WEIGHT_TOL):
        raise ValueError(f"prior.weights: must be >= 0 and sum to 1; got {w.tolist()}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"prior.means: must be finite; got {m.tolist()}")
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"prior.sds: must be finite and > 0; got {s.tolist()}")
    return w, m, s


def _check_se(name: str, se: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        bad = ~(se > 0) & ~np.isnan(se)
    if np.any(bad) or np.any(np.isinf(se)):
        raise ValueError(f"{name}: must be finite and > 0 (NaN marks an unanalysable trial)")


def _posterior(est: np.ndarray, se: np.ndarray, comps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mixture (w, m, s) of shape (n, K) for flattened est, se (n,)."""
    if comps is None:
        return np.ones((est.size, 1)), est[:, None], se[:, None]
    return mixture_posterior(est, se, *comps)


def posterior_prob_above(est, se, prior, c: float) -> np.ndarray:
    """``P(effect > c | est)`` for ``est ~ N(effect, se^2)`` under the analysis ``prior``.

    Parameters
    ----------
    est, se : array_like
        Estimates and their standard errors (broadcastable; NaN propagates to NaN).
    prior : NormalSpec-like, MixtureSpec-like, (weights, means, sds) or ``"flat"``
        See :func:`prior_components`.
    c : float
        Threshold on the effect.

    Returns
    -------
    ndarray of the broadcast shape of ``est`` and ``se``.

    Examples
    --------
    >>> round(float(posterior_prob_above(0.2, 0.1, "flat", 0.0)), 6)  # Phi(2)
    0.97725
    """
    comps = prior_components(prior)
    if not np.isfinite(c):
        raise ValueError(f"c: must be finite; got {c}")
    e, s = np.broadcast_arrays(np.asarray(est, dtype=float), np.asarray(se, dtype=float))
    _check_se("se", s)
    shape = e.shape
    e, s = e.ravel(), s.ravel()
    if comps is None:
        return special.ndtr((e - c) / s).reshape(shape)
    w, m, sd = mixture_posterior(e, s, *comps)
    return normal_posterior_prob(w, m, sd, float(c)).reshape(shape)


def _check_go(go) -> list[tuple[float, float]]:
    try:
        pairs = [(float(c), float(p)) for c, p in go]
    except (TypeError, ValueError):
        raise ValueError("go: must be a sequence of (c, p) pairs, e.g. [(0.0, 0.975), (mcid, 0.5)]") from None
    if not pairs:
        raise ValueError("go: needs at least one (c, p) pair")
    for i, (c, p) in enumerate(pairs):
        if not math.isfinite(c):
            raise ValueError(f"go[{i}].c: must be finite; got {c}")
        if not 0.0 < p < 1.0:
            raise ValueError(f"go[{i}].p: must be in (0, 1) (exclusive); got {p}")
    return pairs


def _normal_threshold(se_f: np.ndarray, m0, s0, c: float, p: float) -> np.ndarray:
    """Smallest final estimate with P(effect > c | est) >= p; prior N(m0, s0^2) or flat (s0 None)."""
    z = special.ndtri(p)
    if s0 is None:
        return c + z * se_f
    prec = 1.0 / (s0 * s0) + 1.0 / (se_f * se_f)
    v = 1.0 / prec
    # posterior mean v (m0 / s0^2 + t / se_f^2) >= c + z sqrt(v)
    return se_f * se_f * ((c + z * np.sqrt(v)) * prec - m0 / (s0 * s0))


_INTERP_MIN = 64  # more distinct se_final than this: spline the mixture threshold in log(se_final)
_INTERP_RTOL = 1e-10


def _mixture_pair_threshold(u: np.ndarray, comps, c: float, p: float, tol: float, max_iter: int) -> np.ndarray:
    """Bisection for one (c, p) pair at finite se_final values ``u`` (vectorized)."""
    w, m, s = comps
    tk = np.stack([_normal_threshold(u, m[k], s[k], c, p) for k in range(w.size)], axis=1)
    lo, hi = tk.min(axis=1), tk.max(axis=1)
    for _ in range(max_iter):
        if np.all(hi - lo <= tol * np.maximum(1.0, np.abs(hi))):
            break
        mid = 0.5 * (lo + hi)
        ok = normal_posterior_prob(*mixture_posterior(mid, u, w, m, s), c) >= p
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi


_SPLINES: "OrderedDict[tuple, tuple[float, float, Any]]" = OrderedDict()


def _threshold_spline(comps, c: float, p: float, a: float, b: float, tol: float, max_iter: int):
    """Cubic spline of the mixture threshold in log(se_final) on [a, b] (cached, widened on
    demand), accepted only if it matches bisection at every grid midpoint to
    ``_INTERP_RTOL`` (relative); ``None`` if no grid up to 4097 points does."""
    from scipy.interpolate import CubicSpline

    key = (comps[0].tobytes(), comps[1].tobytes(), comps[2].tobytes(), float(c), float(p), tol)
    hit = _SPLINES.get(key)
    if hit is not None and hit[0] <= a and b <= hit[1]:
        _SPLINES.move_to_end(key)
        return hit[2]
    if hit is not None:
        a, b = min(a, hit[0]), max(b, hit[1])
    a, b = a - 0.5, b + 0.5  # room for the next chunks' values
    for g in (129, 257, 513, 1025, 2049, 4097):
        xg = np.linspace(a, b, g)
        xm = 0.5 * (xg[1:] + xg[:-1])
        both = _mixture_pair_threshold(np.exp(np.concatenate([xg, xm])), comps, c, p, tol, max_iter)
        tg, tm = both[:g], both[g:]
        spline = CubicSpline(xg, tg)
        if np.max(np.abs(spline(xm) - tm)) <= _INTERP_RTOL * max(1.0, float(np.max(np.abs(tg)))):
            _SPLINES[key] = (a, b, spline)
            while len(_SPLINES) > 32:
                _SPLINES.popitem(last=False)
            return spline
    return None


def _mixture_threshold(sf: np.ndarray, comps, c: float, p: float, tol: float, max_iter: int) -> np.ndarray:
    """Mixture threshold at finite, positive ``sf`` (1-D): exact bisection over the distinct
    values when there are few (<= 64 values), else the validated spline of
    :func:`_threshold_spline` (bisection if no spline passes)."""
    if sf.size <= _INTERP_MIN:
        u, inv = np.unique(sf, return_inverse=True)
        return _mixture_pair_threshold(u, comps, c, p, tol, max_iter)[inv]
    lx = np.log(sf)
    spline = _threshold_spline(comps, c, p, float(lx.min()), float(lx.max()), tol, max_iter)
    if spline is None:
        u, inv = np.unique(sf, return_inverse=True)
        return _mixture_pair_threshold(u, comps, c, p, tol, max_iter)[inv]
    return spline(lx)


def success_threshold(se_final, prior, *, go, tol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """Smallest final estimate ``t*`` meeting every ``(c, p)`` pair of ``go`` (per ``se_final``).

    Closed form for normal and flat priors. For a mixture, bisection vectorized over the
    distinct ``se_final`` values, bracketed by the components' normal-prior thresholds (the
    mixture posterior probability is a weighted average of the components'); for more than
    64 values, a cubic spline in ``log(se_final)`` through bisection values (cached per prior
    and pair), accepted only if it matches bisection at every grid midpoint to 1e-10
    (relative), else bisection for every value. NaN ``se_final`` gives NaN.

    Examples
    --------
    >>> round(float(success_threshold(0.1, "flat", go=[(0.0, 0.975)])), 6)  # 1.959964 * 0.1
    0.195996
    """
    pairs = _check_go(go)
    comps = prior_components(prior)
    sf = np.asarray(se_final, dtype=float)
    _check_se("se_final", sf)
    shape = sf.shape
    u = sf.ravel()
    fin = np.isfinite(u)
    out = np.full(u.shape, -np.inf)
    for c, p in pairs:
        if comps is None:
            t = _normal_threshold(u, 0.0, None, c, p)
        elif comps[0].size == 1:
            t = _normal_threshold(u, comps[1][0], comps[2][0], c, p)
        else:
            t = np.full(u.shape, np.nan)
            t[fin] = _mixture_threshold(u[fin], comps, c, p, tol, max_iter)
        out = np.maximum(out, t)
    return out.reshape(shape)


def predictive_prob_success(est, se, se_final, prior, *, go: Sequence[tuple[float, float]]) -> np.ndarray:
    """Predictive probability that the final analysis meets ``go``, given the interim data.

    Parameters
    ----------
    est, se : array_like
        Interim estimate and its standard error per trial (broadcastable).
    se_final : array_like
        Standard error the final analysis will have; must be < ``se`` everywhere.
    prior : NormalSpec-like, MixtureSpec-like, (weights, means, sds) or ``"flat"``
        The analysis prior (used at the interim and at the final analysis).
    go : sequence of (c, p)
        Final success iff ``P(effect > c | final data) >= p`` for every pair, ``0 < p < 1``
        (the dual criterion: ``[(0, 0.975), (mcid, 0.5)]``).

    Returns
    -------
    ndarray of the broadcast shape of ``est``, ``se`` and ``se_final`` (NaN where ``est`` or
    ``se`` is NaN).

    Notes
    -----
    Closed form (see the module docstring): the success region is ``{est_final >= t*}``;
    on the scale of the future increment it is ``{inc >= t_inc}``, and ``inc`` given the
    interim data is the current posterior convolved with ``N(0, se_inc^2)``. As
    ``se_final -> se`` this tends to the indicator of the interim go; as ``se_final -> 0`` to
    ``P(effect > max c | interim)``.

    Examples
    --------
    >>> pp = predictive_prob_success(0.2, 0.1, 0.05, "flat", go=[(0.0, 0.975)])
    >>> round(float(pp), 4)  # t* = 1.96 (0.05); Phi((0.2 - 0.064) / sqrt(0.01 + 1/300))
    0.8806
    """
    pairs = _check_go(go)
    comps = prior_components(prior)
    e, s, sf = np.broadcast_arrays(
        np.asarray(est, dtype=float), np.asarray(se, dtype=float), np.asarray(se_final, dtype=float)
    )
    _check_se("se", s)
    _check_se("se_final", sf)
    with np.errstate(invalid="ignore"):
        if np.any(sf >= s):
            raise ValueError("se_final: must be < se (the final analysis has more information than the interim)")
    shape = e.shape
    e, s, sf = e.ravel(), s.ravel(), sf.ravel()
    t_star = success_threshold(sf, comps if comps is not None else "flat", go=pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc_var = 1.0 / (1.0 / (sf * sf) - 1.0 / (s * s))
        t_inc = inc_var * (t_star / (sf * sf) - e / (s * s))
        w, m, sd = _posterior(e, s, comps)
        z = (m - t_inc[:, None]) / np.sqrt(sd * sd + inc_var[:, None])
        pp = np.sum(w * special.ndtr(z), axis=1)
    return pp.reshape(shape)


def calibrate_sequential_threshold(stat_max, *, target: float) -> CalibrationResult:
    """Efficacy threshold ``u`` with simulated type I error ``mean(stat_max >= u) <= target``.

    ``stat_max`` holds, per trial simulated under the null, the statistic whose crossing
    of ``u`` makes the trial a success; for a sequential design, the maximum posterior
    probability over the looks the trial reaches before its first futility stop (see the
    module docstring). Delegates to :func:`msbayes.oc.decision.calibrate_threshold`; the
    attained type I error comes with its binomial MCSE ``sqrt(a (1 - a) / n)``. Check the
    threshold on fresh null simulations (within 3 MCSE of ``target``).

    Examples
    --------
    >>> import numpy as np
    >>> r = calibrate_sequential_threshold(np.random.default_rng(0).random(100_000), target=0.025)
    >>> bool(r.type1 <= 0.025), bool(abs(r.threshold - 0.975) < 0.002)
    (True, True)
    """
    s = np.asarray(stat_max, dtype=float)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"stat_max: must be a non-empty 1-D array; got shape {s.shape}")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target: must be in (0, 1); got {target}")
    return calibrate_threshold(s, target=target)


def calibrate_interim_efficacy(
    cfg,
    *,
    scenario: str,
    target: float,
    n_sims: int = 100_000,
    seed: int | np.random.SeedSequence | None = None,
    tol: float = 1e-7,
) -> CalibrationResult:
    """Common interim efficacy threshold ``u`` (``interims.efficacy.p_benefit``) of a Bayesian
    two-arm design with type I error ``<= target`` under ``scenario``.

    The design's own chunk function (:func:`msbayes.simulate.engine.chunk_function`) simulates
    ``n_sims`` trials of ``cfg`` with ``interims.efficacy: {p_benefit: u}`` (every interim)
    on the same random numbers for every ``u``; futility stops and the final decision do not
    depend on ``u``, so the go rate is non-increasing in ``u`` on these trials and bisection
    finds the smallest ``u`` (to ``tol``) whose go rate is ``<= target``: the
    :func:`calibrate_sequential_threshold` answer for ``S = max(P_k)`` over the interims
    reached (see the module docstring). The attained rate comes with its binomial MCSE;
    check the threshold on fresh simulations.

    Parameters
    ----------
    cfg : SimConfig
        Two-arm config with ``interims.rule: bayesian`` and at least one interim look.
    scenario : str
        The null scenario of ``cfg.scenarios`` (type I error is the go rate under it).
    target : float
        Type I error to keep, in (0, 1); it must exceed the go rate without interim efficacy
        stops (else ``ValueError``).
    n_sims : int
        Simulated trials (in chunks of ``cfg.simulation.chunk_size``).
    seed : int or SeedSequence, optional
        Default: derived from ``cfg.seed`` and ``scenario``.
    tol : float
        Bisection tolerance on ``u``.
    """
    from msbayes.design.interims import BoundarySpec
    from msbayes.rng import as_seed_sequence, cell_seed, chunk_rng
    from msbayes.simulate.engine import chunk_function

    spec = getattr(cfg, "interims", None)
    if spec is None or spec.rule != "bayesian":
        raise ValueError("cfg.interims.rule: must be 'bayesian' to calibrate a posterior efficacy threshold")
    if spec.k < 2:
        raise ValueError(f"cfg.interims.looks: needs at least one interim look before the final one; got {spec.looks}")
    if scenario not in cfg.scenarios:
        raise ValueError(f"scenario: unknown {scenario!r} (allowed: {list(cfg.scenarios)})")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target: must be in (0, 1); got {target}")
    if int(n_sims) < 1:
        raise ValueError(f"n_sims: must be >= 1; got {n_sims}")
    n_sims = int(n_sims)
    if not 0.0 < tol < 0.5:
        raise ValueError(f"tol: must be in (0, 0.5); got {tol}")
    ss = cell_seed(cfg.seed, ("calibrate_interim_efficacy", scenario)) if seed is None else as_seed_sequence(seed)
    chunk = int(getattr(getattr(cfg, "simulation", None), "chunk_size", 10_000))

    def go_count(u: float) -> int:
        c = cfg.model_copy(update={"interims": spec.model_copy(update={"efficacy": BoundarySpec(p_benefit=u)})})
        fn = chunk_function(c)
        total, i, done = 0, 0, 0
        while done < n_sims:
            m = min(chunk, n_sims - done)
            out = fn(c, scenario, m, chunk_rng(ss, i))
            total += int(np.count_nonzero(out["go"]))
            done += m
            i += 1
        return total

    hi = 1.0 - 1e-12
    k_hi = go_count(hi)
    if k_hi / n_sims > target:
        raise ValueError(
            f"target: {target:g} is below the go rate without interim efficacy stops "
            f"({k_hi / n_sims:.4g} on {n_sims} trials): no threshold in (0, 1) attains it"
        )
    lo, it = 0.0, 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        k_mid = go_count(mid)
        if k_mid / n_sims <= target:
            hi, k_hi = mid, k_mid
        else:
            lo = mid
        it += 1
    a = k_hi / n_sims
    return CalibrationResult(float(hi), a, float(math.sqrt(a * (1.0 - a) / n_sims)), float(target), n_sims, it)


#: the config field each kind of design's calibrated threshold goes into
THRESHOLD_FIELDS = {"interim": "interims.efficacy.p_benefit", "fixed": "decision.go.p_benefit"}


def calibration_field(cfg) -> str:
    """The config field whose threshold :func:`calibrate_config_threshold` calibrates.

    ``interims.efficacy.p_benefit`` for a design with a Bayesian interim efficacy rule
    (``interims.rule: bayesian``, ``efficacy: {p_benefit: u}``, at least one interim look);
    ``decision.go.p_benefit`` for a fixed two-arm ``bayes_normal`` design with the dual rule.
    Anything else raises ``ValueError`` naming the field that rules it out.

    Examples
    --------
    >>> from msbayes.design.config import validate_sim_config
    >>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
    ...     "design": {"type": "parallel", "n_per_arm": 30}, "scenarios": {"null": {"effect": 0.0}},
    ...     "analysis": {"method": "bayes_normal", "prior": "flat"}})
    >>> calibration_field(cfg)
    'decision.go.p_benefit'
    """
    spec = getattr(cfg, "interims", None)
    if spec is not None:
        if spec.rule != "bayesian":
            raise ValueError(f"interims.rule: {spec.rule!r} has no posterior threshold to calibrate (its z bounds "
                             "control the type I error by construction); allowed: bayesian")
        if spec.k < 2:
            raise ValueError(f"interims.looks: {spec.looks} has no interim look; give at least one before 1.0")
        eff = None if spec.efficacy in (None, "none") else spec.efficacy
        if eff is None or eff.kind != "p_benefit":
            raise ValueError("interims.efficacy: no Bayesian efficacy threshold to calibrate (allowed: "
                             "{p_benefit: u}, e.g. {p_benefit: 0.99})")
        return THRESHOLD_FIELDS["interim"]
    a = cfg.analysis
    if getattr(cfg.design, "type", None) != "parallel" or getattr(a, "method", None) != "bayes_normal":
        raise ValueError(f"analysis.method: a fixed design is calibrated on its posterior go threshold, which needs "
                         f"design.type parallel and analysis.method bayes_normal (got "
                         f"{getattr(cfg.design, 'type', None)!r}, {getattr(a, 'method', None)!r}); "
                         "or give interims with rule bayesian and efficacy {p_benefit: u}")
    if getattr(cfg.decision, "rule", None) != "dual":
        raise ValueError(f"decision.rule: {cfg.decision.rule!r} has no posterior threshold (allowed: dual)")
    return THRESHOLD_FIELDS["fixed"]


def check_null_scenario(cfg, scenario: str) -> None:
    """Refuse a scenario that is not a null scenario of ``cfg`` (missing, or an effect not all 0)."""
    from msbayes.design.scenarios import FixedScenario

    if scenario not in cfg.scenarios:
        raise ValueError(f"scenarios: no null scenario {scenario!r} to calibrate on (give scenarios.{scenario}: "
                         f"{{effect: 0.0}}, or name one of {list(cfg.scenarios)})")
    sc = cfg.scenarios[scenario]
    vals = (list(sc.effect.values()) if isinstance(sc.effect, dict) else [sc.effect]) \
        if isinstance(sc, FixedScenario) else None
    if vals is None or any(v != 0 for v in vals):
        raise ValueError(f"scenarios.{scenario}: the type I error needs a null scenario with effect 0 "
                         f"(got {type(sc).__name__}{'' if vals is None else ' effect ' + str(sc.effect)})")


def calibrate_config_threshold(cfg, *, scenario: str = "null", target: float = 0.025, n_sims: int = 20_000,
                               seed: int | np.random.SeedSequence | None = None,
                               tol: float = 1e-6) -> tuple[str, CalibrationResult]:
    """Calibrate the posterior threshold of one design (one grid cell) to a type I error target.

    Returns ``(field, result)``: the config field to set (:func:`calibration_field`) and the
    :class:`~msbayes.oc.decision.CalibrationResult` (threshold, attained type I error on the
    ``n_sims`` null trials and its binomial MCSE).

    * interim efficacy (``interims.efficacy.p_benefit``): :func:`calibrate_interim_efficacy`
      (the design's own chunk function on common random numbers, bisection to ``tol``);
    * fixed two-arm ``bayes_normal`` (``decision.go.p_benefit``): the go rule is
      ``P(effect > 0) >= t`` and, when ``decision.go.p_mcid > 0``, ``P(effect > MCID) >=
      p_mcid`` (kept as it is); with ``p_mcid = 0`` this is
      :func:`msbayes.oc.calibrate.calibrate_go_threshold`, otherwise the same calibration on
      ``P(effect > 0)`` of the trials that meet the MCID part (the others never go).

    Parameters
    ----------
    cfg : SimConfig
    scenario : str
        Null scenario (fixed effect 0).
    target : float
        Type I error to attain, in (0, 0.5).
    n_sims : int
        Null trials simulated (>= 100).
    seed : int or SeedSequence, optional
        Default: from ``cfg.seed`` and ``scenario``.
    tol : float
        Bisection tolerance of the interim threshold.
    """
    from msbayes.rng import as_seed_sequence, cell_seed

    field = calibration_field(cfg)
    check_null_scenario(cfg, scenario)
    if not 0.0 < target < 0.5:
        raise ValueError(f"target: must be in (0, 0.5) (a type I error); got {target}")
    if int(n_sims) < 100:
        raise ValueError(f"n_sims: must be >= 100; got {n_sims}")
    ss = cell_seed(cfg.seed, ("calibrate", scenario)) if seed is None else as_seed_sequence(seed)
    if field == THRESHOLD_FIELDS["interim"]:
        return field, calibrate_interim_efficacy(cfg, scenario=scenario, target=target, n_sims=int(n_sims),
                                                 seed=ss, tol=tol)
    from msbayes.oc.calibrate import calibrate_go_threshold, null_go_probabilities

    p_mcid = float(cfg.decision.go.p_mcid)
    if p_mcid <= 0:
        return field, calibrate_go_threshold(cfg, scenario=scenario, target=target, n_sims=int(n_sims), seed=ss)
    p0 = null_go_probabilities(cfg, scenario=scenario, n_sims=int(n_sims), seed=ss)
    pm = null_go_probabilities(cfg, scenario=scenario, n_sims=int(n_sims), seed=ss, c=float(cfg.endpoint.mcid))
    meets = np.isfinite(p0) & (pm >= p_mcid)  # same trials (same seed)
    floor = float(np.mean(meets))
    if floor <= target:
        raise ValueError(f"decision.go.p_mcid: the MCID part of the go rule alone ({p_mcid:g}) keeps the type I "
                         f"error at {floor:.4g} <= target {target:g} on {int(n_sims)} null trials: no "
                         "decision.go.p_benefit threshold is needed (lower p_mcid or the target)")
    return field, calibrate_threshold(np.where(meets, p0, -1.0), target=target)
