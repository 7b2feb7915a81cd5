"""Two-arm trials with interim looks (``interims:``), simulated from stage-wise sufficient statistics.

The engine's chunk function for ``design.type: parallel`` with an ``interims`` section
(:func:`simulate_chunk`). Per trial (leading axis), arm and stage ``k`` the patients whose
endpoint falls due between looks ``k - 1`` and ``k`` give an independent increment: their
completers (MCAR dropout, binomial by the inverse CDF of one uniform), the sum of their
outcomes (normal) and, when the analysis estimates the SD, their within-stage sum of squares
(``sigma^2 chi2(c - 1)`` by the inverse CDF of one uniform). Cumulative statistics are
cumulative sums (the pooled sum of squares adds the between-stage term exactly), so a K-look
trial costs about K fixed ones and no patient is drawn. Every random number is drawn with a
shape that does not depend on the sample size, so one seed gives common random numbers
across ``design.n_per_arm`` (the sample-size search relies on it).

Rules
-----
* ``group_sequential`` (analysis welch, decision significance at one-sided alpha): the
  boundaries of :func:`msbayes.design.interims.group_sequential_of` on the z scale. The
  statistic is the Welch (or pooled, ``equal_var``) t put on the z scale through its one-sided
  p-value (``interims.statistic: t``), or the z statistic with the known ``endpoint.sd``
  (``statistic: z``, the canonical joint distribution exactly). Stop for efficacy (go) at the
  first look with ``z_k >= c_k``; for futility (no-go) at an interim with ``z_k <= f_k``
  (futility stops are always obeyed in the simulation; ``binding`` only changes the bounds).
  ``est_mue`` is the median-unbiased estimate of the stage-wise ordering
  (:func:`msbayes.sequential.boundaries.stagewise_p`), tabulated once per design on a z grid.
* ``bayesian`` (analysis bayes_normal, decision dual): at an interim, go if
  ``P(effect > 0 | data) >= u_k``; no-go if ``P(effect > MCID | data) < l_k`` or if the
  predictive probability of a final go is below ``q_k``; the last look applies the config's
  decision rule unchanged.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.simulate.twoarm_sequential import simulate_chunk
>>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "parallel", "n_per_arm": 100}, "scenarios": {"null": {"effect": 0.0}},
...     "analysis": {"method": "welch", "sided": "one", "alpha": 0.025},
...     "interims": {"looks": [0.5, 1.0], "efficacy": {"spending": "obf"}}})
>>> out = simulate_chunk(cfg, "null", 1000, np.random.default_rng(1))
>>> sorted(k for k in out if "look" in k)[:3]
['efficacy_look1', 'efficacy_look2', 'futility_look1']
>>> float(out["n_total"].max())
200.0
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy import special

from msbayes.design.config import BayesNormalAnalysis, SimConfig, WelchAnalysis
from msbayes.design.interims import group_sequential_of, look_patients

from .analyses import TrialStats, difference_estimate
from .twoarm import _binom_cdf, analyse, decide, scenario_sampler

__all__ = ["LookPlan", "look_plan", "simulate_chunk", "mue_table"]

#: z grid of the median-unbiased-estimate table (outside it the table is clamped)
MUE_Z = np.round(np.arange(-6.0, 10.0 + 1e-9, 0.05), 10)
_MUE_DRIFT_STEP = 0.1


@dataclass(frozen=True)
class LookPlan:
    """Per-look quantities of one cell (one config), planned before any trial is drawn.

    ``due`` (arms, K): cumulative patients per arm whose endpoint is due at look k;
    ``stage`` (arms, K): new ones per stage; ``n_analysed`` (K): expected completers analysed
    (``due`` x (1 - dropout), both arms); ``n_randomised`` (K): patients randomised by the
    look (with the pipeline under ``timing: accrual``); ``time`` (K): months from the first
    randomisation (NaN without ``accrual``); ``info`` (K): planned information fractions
    (the config's looks); ``se_planned`` (K): SE of the difference at the expected completers.
    """

    due: np.ndarray
    stage: np.ndarray
    n_analysed: np.ndarray
    n_randomised: np.ndarray
    time: np.ndarray
    info: np.ndarray
    se_planned: np.ndarray
    n_max: float


def look_plan(cfg: SimConfig) -> LookPlan:
    """The :class:`LookPlan` of a two-arm config with ``interims``.

    ``timing: information``: look k analyses the first ``round(looks[k] x n)`` patients of
    each arm (all with their endpoint); a trial stopping there has randomised no one else.
    ``timing: accrual``: the look happens when those patients have reached the endpoint, at
    month ``n_k / rate + follow_up`` (``n_k`` both arms); by then ``min(N_max, n_k +
    round(rate x follow_up))`` patients are randomised (the pipeline counts in the sample
    size of a stopped trial, its patients are not analysed). With ``accrual`` given and
    ``timing: information`` the times are reported, the pipeline is not counted.
    """
    spec = cfg.interims
    sizes = cfg.design.arm_sizes()
    due = np.array([look_patients(spec.looks, n) for n in sizes], dtype=np.int64)
    stage = np.diff(due, axis=1, prepend=0)
    d = cfg.endpoint.dropout
    tot = due.sum(axis=0).astype(float)
    n_max = float(sum(sizes))
    acc = spec.accrual
    if acc is not None:
        time = tot / acc.rate + acc.follow_up
    else:
        time = np.full(tot.shape, np.nan)
    if spec.timing == "accrual":
        n_rand = np.minimum(n_max, tot + math.floor(acc.rate * acc.follow_up + 0.5))
    else:
        n_rand = tot.copy()
    n_rand[-1] = n_max
    comp = due * (1.0 - d)
    se = cfg.endpoint.sd * np.sqrt(1.0 / comp[0] + 1.0 / comp[1])
    return LookPlan(due=due, stage=stage, n_analysed=tot * (1.0 - d), n_randomised=n_rand, time=time,
                    info=np.asarray(spec.looks, float), se_planned=se, n_max=n_max)


# ------------------------------------------------------------------------- per-cell cache
_CACHE: "OrderedDict[int, tuple[SimConfig, dict]]" = OrderedDict()


def _cached(cfg: SimConfig) -> dict:
    key = id(cfg)
    if key in _CACHE and _CACHE[key][0] is cfg:
        _CACHE.move_to_end(key)
        return _CACHE[key][1]
    _CACHE[key] = (cfg, {})
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return _CACHE[key][1]


def _plan(cfg: SimConfig) -> LookPlan:
    c = _cached(cfg)
    if "plan" not in c:
        c["plan"] = look_plan(cfg)
    return c["plan"]


# ---------------------------------------------------------------- median-unbiased estimate
@functools.lru_cache(maxsize=32)
def _mue_cached(t: tuple, c: tuple, f: tuple) -> tuple:
    from msbayes.sequential.boundaries import stagewise_p

    class _D:  # the fields stagewise_p reads
        information_rates, critical_values, futility_bounds = t, c, f
        binding = True  # the futility bounds are in the ordering: the simulated trials obey them

    K = len(t)
    tables = []
    for k in range(1, K + 1):
        sq = math.sqrt(t[k - 1])
        if k == 1:  # closed form: P(Z_1 >= z) = 1/2 at drift z / sqrt(t_1)
            tables.append(MUE_Z / sq)
            continue
        lo, hi = MUE_Z[0] / sq - 5.0, MUE_Z[-1] / sq + 5.0
        drifts = np.arange(lo, hi + _MUE_DRIFT_STEP, _MUE_DRIFT_STEP)
        P = np.stack([stagewise_p(_D, k, MUE_Z, float(th)) for th in drifts])  # (drift, z), increasing in drift
        P = np.maximum.accumulate(P, axis=0)
        mue = np.array([np.interp(0.5, P[:, j], drifts) for j in range(MUE_Z.size)])
        tables.append(mue)
    return tuple(tables)


def mue_table(design) -> list[np.ndarray]:
    """Median-unbiased estimate of the drift (E Z at t = 1) on the grid :data:`MUE_Z`, per look.

    Look k, statistic z: the drift at which the stage-wise-ordering p-value
    (:func:`msbayes.sequential.boundaries.stagewise_p`) equals 1/2; on a drift grid of step
    0.1 with linear interpolation (error < 1e-3 drift units). Multiply by the final SE to get
    the effect scale. The futility bounds are part of the ordering for binding and non-binding
    designs alike, because the simulated trials obey every futility stop (so the estimate is
    median-unbiased for the trials simulated; rpact's ``getAnalysisResults`` leaves non-binding
    futility bounds out of the ordering, which is what an analyst who may overrule a futility
    stop would report).

    >>> from msbayes.sequential.boundaries import Spending, group_sequential_design, final_inference
    >>> d = group_sequential_design([0.5, 1.0], efficacy=Spending("obf"))
    >>> tab = mue_table(d)
    >>> z = 2.5; j = int(np.argmin(abs(MUE_Z - z)))
    >>> bool(abs(tab[1][j] - final_inference(d, 2, z, futility=True).median_unbiased) < 1e-3)
    True
    """
    return list(_mue_cached(tuple(design.information_rates), tuple(design.critical_values),
                            tuple(design.futility_bounds)))


# ---------------------------------------------------------------------------- Bayesian
def _prior(cfg: SimConfig):
    """The analysis prior as :mod:`msbayes.sequential.bayes` takes it."""
    return cfg.analysis.prior


def _go_pairs(cfg: SimConfig) -> list[tuple[float, float]]:
    """The dual rule's go as (c, p) pairs: P(effect > c | data) >= p for each."""
    g = cfg.decision.go
    pairs = [(0.0, float(g.p_benefit))]
    if g.p_mcid > 0:
        pairs.append((float(cfg.endpoint.mcid), float(g.p_mcid)))
    return pairs


def _prob_above(est, se, prior, c: float) -> np.ndarray:
    from msbayes.sequential.bayes import posterior_prob_above

    return posterior_prob_above(est, se, prior, c)


def _predictive(cfg: SimConfig, est, se, se_final) -> np.ndarray:
    from msbayes.sequential.bayes import predictive_prob_success

    return predictive_prob_success(est, se, se_final, _prior(cfg), go=_go_pairs(cfg))


def _solve_est(fn, target: float, se: float) -> float:
    """Smallest estimate with ``fn(est) >= target`` (``fn`` increasing in the estimate)."""
    lo, hi = -50.0 * se, 50.0 * se
    if fn(hi) < target:
        return math.inf
    if fn(lo) >= target:
        return -math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if fn(mid) >= target:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-12 * max(1.0, abs(hi)):
            break
    return 0.5 * (lo + hi)


def _bayes_bounds(cfg: SimConfig, plan: LookPlan) -> tuple[np.ndarray, np.ndarray]:
    """Bayesian rule on the estimate scale at the planned SEs: (efficacy, futility) per look.

    Interim efficacy: smallest estimate with P(effect > 0) >= u_k; interim futility: the
    estimate below which P(effect > MCID) < l_k (or the predictive probability of a final go
    < q_k, final SE = the planned final SE); last look: the decision rule's go boundary
    (:func:`msbayes.sequential.bayes.success_threshold`) and no-go boundary.
    """
    from msbayes.sequential.bayes import success_threshold

    spec, d = cfg.interims, cfg.decision
    K = spec.k
    prior = _prior(cfg)
    mcid = cfg.endpoint.mcid
    eff = np.full(K, np.inf)
    fut = np.full(K, -np.inf)
    se_f = float(plan.se_planned[-1])
    e_spec = None if spec.efficacy in (None, "none") else spec.efficacy
    f_spec = None if spec.futility in (None, "none") else spec.futility
    for k in range(K - 1):
        se = float(plan.se_planned[k])
        if e_spec is not None:
            u = e_spec.thresholds(K - 1)[k]
            eff[k] = _solve_est(lambda x: float(_prob_above(x, se, prior, 0.0)), u, se)
        if f_spec is not None:
            q = f_spec.thresholds(K - 1)[k]
            if f_spec.kind == "p_mcid_below":
                fut[k] = _solve_est(lambda x: float(_prob_above(x, se, prior, mcid)), q, se)
            else:
                fut[k] = _solve_est(lambda x: float(_predictive(cfg, x, se, se_f)), q, se)
    eff[-1] = float(success_threshold(se_f, prior, go=_go_pairs(cfg)))
    if d.no_go is not None:
        fut[-1] = _solve_est(lambda x: float(_prob_above(x, se_f, prior, mcid)), d.no_go.p_mcid_below, se_f)
    else:
        fut[-1] = np.nan
    return eff, fut


# ---------------------------------------------------------------------------- constants
def _constants(cfg: SimConfig, scenario: str) -> dict[str, float]:
    """Cell constants: per-look bounds, sizes and times (``name_look{k}``) and the fixed-design ones."""
    from .twoarm import cell_constants as fixed_constants

    c = _cached(cfg)
    key = ("const", scenario)
    if key in c:
        return dict(c[key])
    plan = _plan(cfg)
    spec = cfg.interims
    K = spec.k
    out = fixed_constants(cfg, scenario)
    if spec.rule == "group_sequential":
        des = group_sequential_of(spec, alpha=cfg.decision.alpha)
        cz = np.asarray(des.critical_values, float)
        cz = np.where(cz >= 39.9, np.inf, cz)  # a zero-alpha look (futility-only designs): no efficacy stop
        fz = np.append(np.asarray(des.futility_bounds, float), np.nan)
        fz[:-1] = np.where(fz[:-1] <= -39.9, -np.inf, fz[:-1])
        if spec.futility in (None, "none"):
            fz[:-1] = -np.inf
        ce, fe = cz * plan.se_planned, fz * plan.se_planned
    else:
        ce, fe = _bayes_bounds(cfg, plan)
        with np.errstate(invalid="ignore"):
            cz, fz = ce / plan.se_planned, fe / plan.se_planned
    out["go_boundary"] = float(ce[-1])
    out["design_se"] = float(plan.se_planned[-1])
    per = {
        "information_fraction": plan.info,
        "bound_efficacy_z": cz,
        "bound_futility_z": fz,
        "bound_efficacy_effect": ce,
        "bound_futility_effect": fe,
        "n_analysed_at_look": plan.n_analysed,
        "n_randomised_at_look": plan.n_randomised,
        "time_at_look": plan.time,
    }
    for name, arr in per.items():
        for k in range(K):
            out[f"{name}_look{k + 1}"] = float(arr[k])
    out["n_max"] = plan.n_max
    c[key] = out
    return dict(out)


# ------------------------------------------------------------------------------ chunk
def _stage_draws(cfg: SimConfig, plan: LookPlan, theta: np.ndarray, m: int, rng: np.random.Generator, *,
                 need_var: bool):
    """Cumulative completers, means and variances per (trial, arm, look)."""
    ep = cfg.endpoint
    K = plan.stage.shape[1]
    shape = (m, 2, K)
    u_drop = rng.random(shape)
    zn = rng.standard_normal(shape)
    u_chi = rng.random(shape)
    if ep.dropout > 0:
        inc = np.empty(shape, dtype=np.int64)
        for a in range(2):
            for k in range(K):
                inc[:, a, k] = np.searchsorted(_binom_cdf(int(plan.stage[a, k]), 1.0 - ep.dropout), u_drop[:, a, k],
                                               side="right")
    else:
        inc = np.broadcast_to(plan.stage[None], shape).astype(np.int64)
    incf = inc.astype(float)
    sigma = ep.sd
    mu = np.empty((m, 2, 1))
    mu[:, 0, 0] = ep.placebo_mean
    mu[:, 1, 0] = ep.placebo_mean + theta
    s = zn * (sigma * np.sqrt(incf)) + mu * incf  # stage sums of the outcomes
    n = np.cumsum(incf, axis=2)
    S = np.cumsum(s, axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = S / n
    var = None
    if need_var:
        from msbayes.oc.search import _chi2_inv

        ss_w = _chi2_inv(incf - 1.0, u_chi) * sigma**2
        with np.errstate(divide="ignore", invalid="ignore"):
            between = np.where(incf > 0, s * s / np.maximum(incf, 1.0), 0.0)
            ss = np.cumsum(ss_w + between, axis=2) - np.where(n > 0, S * S / np.maximum(n, 1.0), 0.0)
            var = np.where(n >= 2, np.maximum(ss, 0.0) / (n - 1.0), np.nan)
    return n, mean, var


def simulate_chunk(cfg: SimConfig, scenario: str, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``m`` two-arm trials with interim looks under ``scenario``; per-trial outcomes.

    Returns
    -------
    dict
        ``go``, ``nogo``, ``failed`` (and ``reject`` = go for the group-sequential rule) bool[m];
        ``est`` (difference in means at the stopping look), ``true``, ``n_total`` (patients
        randomised by the stop, pipeline included), ``n_analysed`` (completers analysed at the
        stop), ``stop_look`` (1-based) float[m]; ``duration`` (months, with ``accrual``);
        ``est_mue`` (group-sequential: the median-unbiased estimate); bool ``efficacy_look{k}``,
        ``futility_look{k}``, ``stop_look{k}`` for k = 1..K; ``n_draw_batches`` (and
        ``draw_batch``) as the fixed design; ``constants`` per look (``{name}_look{k}``).
    """
    spec = cfg.interims
    if spec is None:
        raise ValueError("interims: this chunk function simulates designs with an interims section")
    a = cfg.analysis
    ep = cfg.endpoint
    plan = _plan(cfg)
    K = spec.k
    sampler = scenario_sampler(cfg, scenario)
    theta2, batch = sampler.sample_with_batch(m, rng=rng)
    theta = theta2[:, 0]
    gs = spec.rule == "group_sequential"
    known = (gs and spec.statistic == "z") or (isinstance(a, BayesNormalAnalysis) and a.variance == "known")
    n, mean, var = _stage_draws(cfg, plan, theta, m, rng, need_var=not known)
    if var is None:
        var = np.full(n.shape, ep.sd**2)
    equal_var = bool(getattr(a, "equal_var", False))
    ests = []
    for k in range(K):
        ts = TrialStats(n=n[:, :, k], mean=mean[:, :, k], var=var[:, :, k])
        ests.append(difference_estimate(ts, equal_var=equal_var, known_sd=ep.sd if known else None))

    out: dict[str, np.ndarray] = {}
    active = np.ones(m, dtype=bool)
    go = np.zeros(m, dtype=bool)
    nogo = np.zeros(m, dtype=bool)
    est_stop = np.full(m, np.nan)
    z_stop = np.full(m, np.nan)
    se_stop = np.full(m, np.nan)
    look_stop = np.full(m, K, dtype=np.int64)
    failed = np.zeros(m, dtype=bool)
    if gs:
        des = group_sequential_of(spec, alpha=cfg.decision.alpha)
        c = np.asarray(des.critical_values, float)
        f = np.append(np.asarray(des.futility_bounds, float), -np.inf)
    else:
        prior = _prior(cfg)
        e_spec = None if spec.efficacy in (None, "none") else spec.efficacy
        f_spec = None if spec.futility in (None, "none") else spec.futility
    for k in range(K):
        e = ests[k]
        last = k == K - 1
        if gs:
            with np.errstate(divide="ignore", invalid="ignore"):
                t = e.est / e.se
                z = t if known else -special.ndtri(special.stdtr(np.where(np.isfinite(e.df), e.df, 1e6), -t))
            z = np.where(e.valid, z, np.nan)
            eff = active & (z >= c[k])
            # an unanalysable interim (z NaN) continues; at the last look everything not a go is a no-go
            fut = active & ~eff & (z <= f[k]) if not last else active & ~eff
            zk = z
        else:
            if last:
                ts = TrialStats(n=n[:, :, k], mean=mean[:, :, k], var=var[:, :, k])
                res, _ = analyse(cfg, ts)
                g_, ng_ = decide(cfg, res)
                eff = active & g_
                fut = active & ng_
            else:
                eff = np.zeros(m, dtype=bool)
                fut = np.zeros(m, dtype=bool)
                ok = e.valid
                se_k = np.where(ok, e.se, np.nan)
                if e_spec is not None:
                    u = e_spec.thresholds(K - 1)[k]
                    eff = active & ok & (_prob_above(e.est, se_k, prior, 0.0) >= u)
                if f_spec is not None:
                    q = f_spec.thresholds(K - 1)[k]
                    if f_spec.kind == "p_mcid_below":
                        pr = _prob_above(e.est, se_k, prior, ep.mcid)
                    else:  # final SE: this trial's SE scaled to full information
                        pr = _predictive(cfg, e.est, se_k, se_k * math.sqrt(plan.info[k]))
                    fut = active & ok & ~eff & (pr < q)
            with np.errstate(divide="ignore", invalid="ignore"):
                zk = e.est / e.se
        ended = (active & (eff | fut)) if not last else active.copy()
        out[f"efficacy_look{k + 1}"] = eff
        out[f"futility_look{k + 1}"] = fut
        out[f"stop_look{k + 1}"] = ended
        go |= eff
        nogo |= fut
        look_stop[ended] = k + 1
        est_stop[ended] = e.est[ended]
        z_stop[ended] = zk[ended]
        se_stop[ended] = e.se[ended]
        if last:
            failed[ended] = ~e.valid[ended]
        active &= ~ended
    idx = look_stop - 1
    out.update(
        go=go,
        nogo=nogo,
        failed=failed,
        est=est_stop,
        true=theta.astype(float).copy(),
        n_total=plan.n_randomised[idx].astype(float),
        n_analysed=n[np.arange(m), :, idx].sum(axis=1),
        stop_look=look_stop.astype(float),
    )
    if gs and isinstance(a, WelchAnalysis):
        out["reject"] = go.copy()
    if spec.accrual is not None:
        out["duration"] = plan.time[idx].astype(float)
    if gs:
        tabs = mue_table(des)
        mue = np.full(m, np.nan)
        for k in range(K):
            sel = (look_stop == k + 1) & np.isfinite(z_stop)
            if np.any(sel):
                drift = np.interp(z_stop[sel], MUE_Z, tabs[k])
                # effect scale: drift x SE at t = 1, the SE at the look scaled by sqrt(t_k)
                mue[sel] = drift * se_stop[sel] * math.sqrt(plan.info[k])
        out["est_mue"] = mue
    if batch is not None:
        out["draw_batch"] = batch
    out["n_draw_batches"] = sampler.n_batches
    out["constants"] = _constants(cfg, scenario)
    return out
