"""Dose-finding trials with interim looks: drop doses, stop early, final MCP-Mod / Bayesian Emax.

:func:`simulate_chunk` is the engine's per-chunk entry point for ``design.type:
dose_finding`` with an ``interims:`` section (:class:`msbayes.design.interims.InterimsSpec`);
:func:`simulate_trials` is the same with the spec passed explicitly. Per trial (trials are
the leading axis of every array; the only Python loop is over looks):

1. truth as in the fixed design (:mod:`msbayes.simulate.dosefinding`): ``theta_ref`` from the
   scenario, the shape parameters, the true effect at every dose;
2. stage-wise sufficient statistics: look ``k`` analyses the first ``looks[k]`` share of each
   arm's planned patients (``timing: information``: everyone randomised by the look has the
   endpoint; ``timing: accrual``: the look is when those patients have the endpoint, and the
   patients randomised by then but still in follow-up, the pipeline, are randomised to the
   arms enrolling before the look: :func:`accrual_plan`). The patients entering the analysis
   in stage ``k`` (``m`` per arm; for a dropped dose or a stopped trial only those randomised
   by its last look, pipeline included, and only once their endpoint is due) give ``c ~ Binomial(m, 1 - dropout)`` completers (MCAR), a stage mean
   ``~ N(placebo_mean + effect, sd^2 / c)`` and a within-stage sum of squares pooled over arms
   ``sd^2 chi2(sum(c - 1))``: independent increments. Cumulative arm means and the pooled
   within-arm sum of squares (with the between-stage term) are updated exactly, so the
   statistics at every look have the distribution of patient-level data
   (:func:`stage_statistics`, checked against a patient-level simulation in the tests);
3. at each interim look (not the last), in this order:

   a. **dose dropping** (``interims.drop_doses``): each dose still enrolling is compared with
      placebo pairwise, ``diff = mean_d - mean_0``, ``se = sd sqrt(1/c_d + 1/c_0)`` with the
      planning SD ``endpoint.sd`` (known-SD z, as rpact's normal approximation). ``z_below``:
      drop if ``diff / se < z_below`` (with ``rule: group_sequential`` and ``statistic: t``,
      the default there, the pooled-variance t of all arms put on the z scale by its p-value,
      :func:`pairwise_t_as_z`, in place of the known-SD z); ``p_mcid_below``: drop if the
      flat-prior conjugate posterior (known SD)
      ``P(effect_d > MCID | data) = Phi((diff - MCID) / se) < p_mcid_below``.
      A dropped dose enrols nobody after the look; its data stay in every later analysis.
      Its unused patients are **not reallocated**: the trial is smaller (``n_total``);
   b. **futility stop** of the whole trial if every dose is dropped, or by ``interims.futility``
      on the best remaining dose: ``z`` bounds or beta-``spending`` bounds
      (``rule: group_sequential``; the bounds of the two-arm design,
      :func:`msbayes.design.interims.group_sequential_of`, applied to the largest pairwise z),
      or ``p_mcid_below`` (``rule: bayesian``; the largest pairwise P(effect_d > MCID)), or
      ``predictive_below: q`` (``rule: bayesian``, ``analysis.method: bayes_emax``): stop if the
      predictive probability that the final Bayesian Emax analysis says go (the config's
      decision rule at its decision dose) is below ``q``. It is a nested simulation
      (:func:`predictive_prob_emax`): ``interims.predictive_draws`` (J) parameter sets from the
      interim grid posterior per trial, the remaining patients' statistics of the arms still in
      the trial (enrolling arms to their size; dropped arms with their pipeline), and the final
      grid analysis on all trials x J at once. Its inner Monte Carlo SE, ``sqrt(PP (1 - PP) /
      J)``, makes the stop decision noisy near ``q`` (outcomes ``predictive_mcse`` and
      ``predictive_near_threshold``); the nested draws use a stream of their own;
   c. **success stop** (``rule: bayesian`` only, ``efficacy: {p_benefit: u}``): some remaining
      dose has ``P(effect_d > 0 | data) >= u``. With ``analysis.method: mcpmod`` this is the
      pairwise flat-prior posterior ``Phi(z_d)``; with ``bayes_emax`` it is the analysis's own
      grid posterior of the Emax model on the cumulative data (``P(Emax > 0)``, the same at
      every dose), computed only for trials still running. A trial meeting both the futility
      and the success rule stops for futility.

4. the final analysis (the fixed design's MCP-Mod or Bayesian Emax, unchanged) on the
   cumulative statistics of every arm (all stages, unequal arm sizes) of each trial at the
   look where it ended. MCP-Mod contrasts, correlation, critical value and degrees of freedom
   are computed for the realised randomised arm sizes (one plan per pattern of arm sizes,
   times ``1 - dropout`` as in the fixed design; cached); with dropout the t statistics use
   the realised completers.

Decisions: a trial that reaches the last look goes as in the fixed design. A futility stop is
no-go (``reject`` False, no dose selected, ``td_est`` NaN; ``est`` is the analysis's estimate on
the data at the stop). A success stop is go (and, with MCP-Mod, ``reject`` True: H0 rejected by the
sequential procedure); its dose and target dose are what the analysis gives on the data at that look.
Early success stopping is Bayesian only, and the type I error of any design here is **not
controlled by construction**: it is simulated under the null scenario and reported with its
MCSE (``p_go``, ``p_reject``).

Outcome keys: the standard keys of :mod:`msbayes.oc.accumulate` (``go, nogo, failed, reject``
(MCP-Mod only, as in the fixed design), ``est, true, n_total`` (patients
randomised when the trial ended), ``selected, n_doses, correct, td_est, td_true``), and per
look ``k = 1..K``: ``efficacy_look{k}`` (success stop at interim k, or go at the last look),
``futility_look{k}`` (futility stop at interim k, or no-go at the last look),
``stop_look{k}`` (the trial ended at look k) and ``dropped_dose{d}_look{k}`` (active dose
``d``, 0-based, i.e. ``design.doses[d + 1]``, was dropped at look k; always False at the last
look, where nothing is dropped). ``selected_dropped``: the selected dose was dropped at an
interim (the final analysis may still select it). With ``interims.accrual``: ``duration``
(months to the look where the trial ended; the planned look times, which dose dropping does
not move: each arm keeps its own recruitment rate). With ``predictive_below``:
``predictive_mcse`` (inner SE of the predictive probability at the first interim that computed
it) and ``predictive_near_threshold`` (``|PP - q| < 2 SE`` at some interim: the decision could
have gone the other way with other inner draws). ``constants`` (:func:`look_constants`):
information fractions, patients randomised by each look (without dose dropping only;
pipeline included with ``timing: accrual``), ``time_at_look`` (with ``accrual``),
group-sequential futility z bounds, ``n_max``.

Not supported (refused with the field named): several EDSS strata, ``conditional_power``
futility, ``predictive_below`` with MCP-Mod, group-sequential efficacy stopping.

Examples
--------
>>> import numpy as np
>>> from msbayes.config import validate_config
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.design.interims import InterimsSpec
>>> cfg = validate_sim_config({"name": "df", "seed": 1,
...     "endpoint": {"sd": 0.35, "mcid": 0.182},
...     "design": {"type": "dose_finding", "doses": [0, 10], "reference_dose": 10,
...                "n_per_arm": 40, "dose_response": {"model": "linear"}},
...     "scenarios": {"null": {"effect": 0.0}},
...     "analysis": {"method": "mcpmod", "models": {"linear": None}}})
>>> spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "rule": "bayesian",
...     "efficacy": "none", "drop_doses": {"p_mcid_below": 0.1}})
>>> out = simulate_trials(cfg, "null", 4000, np.random.default_rng(1), interims=spec)
>>> p1 = out["stop_look1"].mean()  # the only dose dropped; closed form Phi(0.182/se - 1.2816)
>>> bool(abs(p1 - 0.6416) < 4 * np.sqrt(0.6416 * 0.3584 / 4000))  # se = 0.35 sqrt(2/20)
True
>>> bool(np.isclose(out["n_total"].mean(), 40 * p1 + 80 * out["stop_look2"].mean()))
True
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from scipy import special

from msbayes.design.dosefinding import BayesEmaxAnalysis, DoseFindingDesign, MCPModAnalysis
from msbayes.design.doseresponse import anchored_effects, draw_shape, shape_g, target_dose, true_med
from msbayes.design.interims import InterimsSpec, look_patients

from .bayes_emax import analyse_bayes_emax
from .dosefinding import PosteriorAtDose, plan_for
from .mcpmod import analyse_mcpmod, prepare_mcpmod

__all__ = ["simulate_chunk", "simulate_trials", "check_dose_interims", "stage_sizes", "accrual_plan",
           "emax_joint_posterior", "predictive_prob_emax", "emax_final_go",
           "stage_statistics", "StageStats", "pairwise_vs_placebo", "pairwise_t_as_z", "look_constants"]

_PLANS: "OrderedDict[tuple, object]" = OrderedDict()
_MAX_PLANS = 32  # ~5 MB each (multivariate-t directions and fit grids)


def _none(b) -> bool:
    return b is None or b == "none"


# ----------------------------------------------------------------------------- checks
def check_dose_interims(cfg, interims: InterimsSpec | None = None) -> None:
    """Refuse an ``interims`` section this simulator cannot run, naming the field.

    Raises ``ValueError`` before any simulation. ``interims`` defaults to ``cfg.interims``.
    """
    spec = cfg.interims if interims is None else interims
    design = cfg.design
    if getattr(design, "type", None) != "dose_finding":
        if spec is not None and spec.drop_doses is not None:
            raise ValueError("interims.drop_doses: only for design.type dose_finding (this design has no doses "
                             f"to drop: design.type {getattr(design, 'type', None)!r})")
        raise ValueError(f"design.type: the dose-finding interim simulator needs dose_finding; got "
                         f"{getattr(design, 'type', None)!r}")
    if spec is None:
        raise ValueError("interims: missing (the dose-finding interim simulator needs an interims section)")
    if len(cfg.endpoint.stratum_weights) > 1:
        raise ValueError("endpoint.strata: dose-finding interims simulate one stratum only "
                         f"(got {len(cfg.endpoint.stratum_weights)} strata)")
    if cfg.endpoint.dropout_mechanism != "mcar":
        raise ValueError("endpoint.dropout_mechanism: dose-finding designs simulate MCAR dropout only "
                         "(allowed: mcar)")
    if spec.drop_doses is not None and spec.drop_doses.p_mcid_below is not None:
        l = spec.drop_doses.p_mcid_below
        if not (0 < l < 1):
            raise ValueError(f"interims.drop_doses.p_mcid_below: must be in (0, 1) (exclusive); got {l}")
    eff, fut = spec.efficacy, spec.futility
    if spec.rule == "group_sequential":
        if not _none(eff):
            raise ValueError("interims.efficacy: dose-finding designs stop early for success only with rule "
                             f"bayesian (allowed with group_sequential: none); got {eff.kind!r}")
        if not _none(fut) and fut.kind not in ("z", "spending"):
            raise ValueError(f"interims.futility: {fut.kind!r} is not supported for dose-finding designs "
                             "(allowed with group_sequential: z, spending or none)")
        if not _none(fut) and fut.kind == "spending" and not isinstance(cfg.analysis, MCPModAnalysis):
            raise ValueError("interims.futility: beta-spending futility needs analysis.method mcpmod (its alpha); "
                             "use z bounds or rule bayesian")
    else:
        if not _none(fut) and fut.kind not in ("p_mcid_below", "predictive_below"):
            raise ValueError(f"interims.futility: {fut.kind!r} is not supported for dose-finding designs "
                             "(allowed with bayesian: p_mcid_below, predictive_below or none)")
        if not _none(fut) and fut.kind == "predictive_below" and not isinstance(cfg.analysis, BayesEmaxAnalysis):
            raise ValueError("interims.futility: predictive_below for a dose-finding design needs analysis.method "
                             f"bayes_emax (got {getattr(cfg.analysis, 'method', None)!r}); with mcpmod use "
                             "p_mcid_below")
    sizes = design.arm_sizes()
    cum = stage_sizes(sizes, spec.looks)
    if cum[0].min() < 2:
        raise ValueError(f"interims.looks: the first look ({spec.looks[0]:g}) leaves arm sizes {cum[0].tolist()}; "
                         "every arm needs >= 2 patients at each look")
    if spec.k > 1 and np.any(np.diff(cum, axis=0) < 1):
        raise ValueError(f"interims.looks: looks {spec.looks} give cumulative arm sizes {cum.tolist()} that do not "
                         "increase at every look for every arm (add patients or move the looks apart)")


def stage_sizes(arm_sizes, looks) -> np.ndarray:
    """Cumulative randomised patients per look and arm, ``round(looks[k] * n_arm)``, (K, arms).

    Examples
    --------
    >>> stage_sizes([30, 30, 41], [0.5, 1.0]).tolist()
    [[15, 15, 21], [30, 30, 41]]
    """
    return np.array([look_patients(looks, int(n)) for n in arm_sizes], dtype=np.int64).T


# ------------------------------------------------------------------ stage statistics
class StageStats:
    """Cumulative sufficient statistics of k normal arms, updated stage by stage.

    Attributes (leading axis = trials): ``c`` completers (sim, k) float, ``mean`` arm means
    (sim, k), ``ss`` pooled within-arm sum of squares (sim,), ``r`` randomised (sim, k) int.
    """

    def __init__(self, nsim: int, k: int):
        self.c = np.zeros((nsim, k))
        self.mean = np.zeros((nsim, k))
        self.ss = np.zeros(nsim)
        self.r = np.zeros((nsim, k), dtype=np.int64)

    def add_stage(self, randomised: np.ndarray, mu: np.ndarray, *, sd, dropout: float,
                  rng: np.random.Generator) -> None:
        """Add one stage: ``randomised`` (sim, k) new patients per arm, true arm means ``mu``
        (sim, k), outcome SD ``sd`` (a float or one per trial, (sim,)). Draw order: completers (if dropout > 0), stage means, pooled within-stage SS
        (the fixed design's order, so a single stage reproduces its draws exactly)."""
        m = np.asarray(randomised, dtype=np.int64)
        sd = np.asarray(sd, dtype=float)
        sd_col = sd[:, None] if sd.ndim == 1 else sd  # per-trial SD (sim,) or one SD
        if dropout > 0:
            c = rng.binomial(m, 1.0 - dropout).astype(float)
        else:
            c = m.astype(float)
        cs = np.where(c >= 1, c, 1.0)
        smean = mu + sd_col * rng.standard_normal(c.shape) / np.sqrt(cs)
        dfw = np.maximum(c - 1.0, 0.0).sum(axis=1)
        w = sd * sd * 2.0 * rng.standard_gamma(0.5 * dfw)
        cn = self.c + c
        has = c >= 1
        first = has & (self.c == 0)
        both = has & (self.c > 0)
        cn_s = np.where(cn > 0, cn, 1.0)
        prev = self.mean
        # between-stage sum of squares: c_old c / (c_old + c) (stage mean - old mean)^2
        between = np.where(both, self.c * c / cn_s * (smean - prev) ** 2, 0.0)
        upd = prev + (c / cn_s) * (smean - prev)
        self.mean = np.where(first, smean, np.where(both, upd, prev))
        self.ss = self.ss + w + between.sum(axis=1)
        self.c = cn
        self.r = self.r + m

    def pooled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pooled variance ``s2``, ``df = sum(c) - k`` and ``ok`` (every arm >= 1 completer, df >= 1)."""
        k = self.c.shape[1]
        df = self.c.sum(axis=1) - k
        ok = (self.c.min(axis=1) >= 1) & (df >= 1)
        s2 = np.where(ok, self.ss / np.maximum(df, 1.0), 1.0)
        return s2, df, ok


def stage_statistics(mu, stage_randomised, *, sd: float, dropout: float = 0.0,
                     rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cumulative arm means, pooled variance and completers at every look, no stopping.

    Parameters
    ----------
    mu : ndarray (sim, k)
        True arm means.
    stage_randomised : array_like (K, k)
        Cumulative randomised patients per look and arm.
    sd, dropout : float
    rng : numpy.random.Generator

    Returns
    -------
    list over looks of ``(means (sim, k), s2 (sim,), completers (sim, k))``.

    Examples
    --------
    >>> out = stage_statistics(np.zeros((3, 2)), [[5, 5], [10, 10]], sd=1.0,
    ...                        rng=np.random.default_rng(0))
    >>> [o[2][0].tolist() for o in out]
    [[5.0, 5.0], [10.0, 10.0]]
    """
    mu = np.asarray(mu, dtype=float)
    cum = np.asarray(stage_randomised, dtype=np.int64)
    st = StageStats(*mu.shape)
    out = []
    prev = np.zeros(mu.shape[1], dtype=np.int64)
    for row in cum:
        st.add_stage(np.broadcast_to(row - prev, mu.shape), mu, sd=sd, dropout=dropout, rng=rng)
        prev = row
        s2, _df, _ok = st.pooled()
        out.append((st.mean.copy(), s2, st.c.copy()))
    return out


def pairwise_vs_placebo(means: np.ndarray, completers: np.ndarray, *, sd: float,
                        mcid: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise comparison of every dose with placebo, known SD.

    Returns ``z`` (sim, doses) = ``(mean_d - mean_0) / (sd sqrt(1/c_d + 1/c_0))``, the flat-prior
    posterior ``P(effect_d > 0) = Phi(z)`` and ``P(effect_d > mcid) = Phi((diff - mcid) / se)``.

    Examples
    --------
    >>> z, p0, pm = pairwise_vs_placebo(np.array([[0.0, 0.2]]), np.array([[50., 50.]]),
    ...                                 sd=0.5, mcid=0.2)
    >>> round(float(z[0, 0]), 3), round(float(pm[0, 0]), 3)
    (2.0, 0.5)
    """
    c = np.where(completers >= 1, completers, 1.0)
    diff = means[:, 1:] - means[:, :1]
    se = sd * np.sqrt(1.0 / c[:, 1:] + 1.0 / c[:, :1])
    z = diff / se
    return z, special.ndtr(z), special.ndtr((diff - mcid) / se)


def pairwise_t_as_z(means: np.ndarray, completers: np.ndarray, s2: np.ndarray,
                    df: np.ndarray) -> np.ndarray:
    """Pooled-variance t statistic of every dose against placebo, on the z scale.

    ``t_d = (mean_d - mean_0) / (s sqrt(1/c_d + 1/c_0))`` with the pooled within-arm variance
    of all arms (``df`` degrees of freedom), mapped by its p-value: ``z = Phi^-1(T_df(t))``
    (as the two-arm group-sequential simulator does with ``statistic: t``).

    Examples
    --------
    >>> z = pairwise_t_as_z(np.array([[0.0, 0.5]]), np.array([[10., 10.]]), np.array([1.0]),
    ...                     np.array([18.0]))
    >>> bool(0 < z[0, 0] < 0.5 / np.sqrt(0.2))  # the t tail is heavier: smaller z
    True
    """
    c = np.where(completers >= 1, completers, 1.0)
    diff = means[:, 1:] - means[:, :1]
    t = diff / (np.sqrt(s2)[:, None] * np.sqrt(1.0 / c[:, 1:] + 1.0 / c[:, :1]))
    return special.ndtri(special.stdtr(np.maximum(df, 1.0)[:, None], t))


def look_constants(spec: InterimsSpec, cum: np.ndarray, futility_z=None, *, randomised=None,
                   time=None) -> dict[str, float]:
    """Cell constants per look (``{name}_look{k}``, e.g. ``n_randomised_at_look_look1``) for the
    grid's ``look`` dimension (:data:`msbayes.oc.accumulate.LOOK_CONSTANTS`).

    ``information_fraction``; ``n_randomised_at_look`` (patients randomised by each look when
    no dose is dropped: given only without ``drop_doses``, since with dropping it varies by
    trial); ``bound_futility_z`` (group-sequential futility bound on the best dose's z, NaN at
    the last look) when given; ``n_max`` (all arms to the end).

    Examples
    --------
    >>> from msbayes.config import validate_config
    >>> spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "efficacy": "none",
    ...                                       "futility": {"z": [0.0]}})
    >>> look_constants(spec, stage_sizes([30, 30], spec.looks), [0.0])["n_randomised_at_look_look1"]
    30.0
    """
    K = spec.k
    out: dict[str, float] = {"n_max": float(cum[-1].sum())}
    for k in range(K):
        out[f"information_fraction_look{k + 1}"] = float(spec.looks[k])
        if spec.drop_doses is None:
            rk = cum[k] if randomised is None else np.asarray(randomised)[k]
            out[f"n_randomised_at_look_look{k + 1}"] = float(np.sum(rk))
        if time is not None and spec.accrual is not None:
            out[f"time_at_look_look{k + 1}"] = float(np.asarray(time)[k])
        if futility_z is not None:
            out[f"bound_futility_z_look{k + 1}"] = float(futility_z[k]) if k < K - 1 else math.nan
    return out


# ------------------------------------------------------------------------- accrual
def accrual_plan(spec: InterimsSpec, arm_sizes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patients with the endpoint, patients randomised and months at every look.

    Returns ``due`` (K, arms): cumulative patients per arm whose endpoint is due at look k
    (:func:`stage_sizes`); ``randomised`` (K, arms): patients per arm randomised by look k when
    no dose is dropped; ``time`` (K,): months from the first randomisation (NaN without
    ``interims.accrual``).

    ``timing: accrual`` (as the two-arm engine, :func:`msbayes.simulate.twoarm_sequential.look_plan`):
    patients are randomised at ``rate`` per month over all arms in the allocation ratio; look k
    happens when the first ``due[k]`` patients (``n_k`` in all) have the endpoint, at month
    ``n_k / rate + follow_up``; by then ``P = round(rate x follow_up)`` more are randomised
    (the pipeline), shared over the arms in proportion to the arm sizes (largest remainders,
    so they sum to ``P``), each arm capped at its size; the last look has everyone.
    ``timing: information``: ``randomised = due`` (the times are reported when ``accrual``
    is given, the pipeline is not counted).

    Examples
    --------
    >>> from msbayes.config import validate_config
    >>> spec = validate_config(InterimsSpec, {"looks": [0.5, 1.0], "rule": "bayesian",
    ...     "efficacy": "none", "futility": {"p_mcid_below": 0.1}, "timing": "accrual",
    ...     "accrual": {"rate": 4.0, "follow_up": 12.0}})
    >>> due, rand, time = accrual_plan(spec, [30, 30, 30])
    >>> due[0].tolist(), rand[0].tolist(), time.tolist()  # pipeline 48 = 16 per arm
    ([15, 15, 15], [30, 30, 30], [23.25, 34.5])
    """
    sizes = np.asarray(arm_sizes, dtype=np.int64)
    due = stage_sizes(sizes, spec.looks)
    tot = due.sum(axis=1).astype(float)
    acc = spec.accrual
    time = tot / acc.rate + acc.follow_up if acc is not None else np.full(tot.shape, np.nan)
    if spec.timing != "accrual":
        return due, due.copy(), time
    pipe_total = int(math.floor(acc.rate * acc.follow_up + 0.5))
    share = pipe_total * sizes / sizes.sum()
    pipe = np.floor(share).astype(np.int64)
    rest = pipe_total - int(pipe.sum())
    if rest > 0:  # largest remainders first (ties: first arm)
        order = np.argsort(-(share - pipe), kind="stable")
        pipe[order[:rest]] += 1
    rand = np.minimum(sizes[None, :], due + pipe[None, :])
    rand[-1] = sizes
    return due, rand, time


# ------------------------------------------------------- predictive probability (Emax)
def emax_joint_posterior(plan, means: np.ndarray, s2: np.ndarray, n: np.ndarray):
    """Grid posterior of the Bayesian Emax model with the joint normal of ``(E0, Emax)`` per grid point.

    The same model and algebra as :func:`msbayes.simulate.bayes_emax.analyse_bayes_emax`
    (arm means ``N(E0 + Emax g(d), sigma^2 / n)``, plug-in ``sigma^2 = s2``, normal priors on
    ``E0`` and ``Emax``), also returning the ``E0`` moments needed to draw the parameters.

    Returns
    -------
    tuple ``(w, mu0, mu1, v00, v01, v11)``, each (sim, G): grid weights, posterior means of
    ``E0`` and ``Emax`` and their covariance given the grid point.
    """
    y = np.asarray(means, dtype=float)
    n = np.asarray(n, dtype=float)
    g = plan.g  # (G, k)
    nn = n.sum(1)
    a = n @ g.T
    c = n @ (g * g).T
    ny = n * y
    sy = ny.sum(1)
    syy = (ny * y).sum(1)
    sgy = ny @ g.T
    m0, s0, m1, s1 = plan.m0, plan.s0, plan.m1, plan.s1
    iv = 1.0 / np.asarray(s2, dtype=float)[:, None]
    b0 = ((sy - m0 * nn)[:, None] - m1 * a) * iv
    b1 = (sgy - m0 * a - m1 * c) * iv
    rwr = (syy - 2 * m0 * sy + m0 * m0 * nn)[:, None] - 2 * m1 * sgy + 2 * m0 * m1 * a + m1 * m1 * c
    l00 = 1.0 / s0**2 + nn[:, None] * iv
    l01 = a * iv
    l11 = 1.0 / s1**2 + c * iv
    det = l00 * l11 - l01 * l01
    v00, v01, v11 = l11 / det, -l01 / det, l00 / det
    quad = b0 * b0 * v00 + 2 * b0 * b1 * v01 + b1 * b1 * v11
    logw = -0.5 * rwr * iv + 0.5 * quad - 0.5 * np.log(det) + plan.log_prior[None, :]
    logw -= logw.max(1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(1, keepdims=True)
    mu0 = m0 + v00 * b0 + v01 * b1
    mu1 = m1 + v01 * b0 + v11 * b1
    return w, mu0, mu1, v00, v01, v11


def _sample_rows(w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Grid index per (row, draw) by the inverse CDF of each row of ``w`` at uniforms ``u`` (rows, J)."""
    rows, G = w.shape
    cdf = np.cumsum(w, axis=1)
    cdf /= cdf[:, -1:]
    off = np.arange(rows, dtype=float)[:, None]
    pos = np.searchsorted((cdf + off).ravel(), (u + off).ravel(), side="right")
    idx = pos.reshape(u.shape) - (np.arange(rows) * G)[:, None]
    return np.clip(idx, 0, G - 1)


_PP_BLOCK = 1_000_000  # (trials x draws) x grid points per block of the nested analysis


def predictive_prob_emax(plan, decide, means: np.ndarray, s2: np.ndarray, comp: np.ndarray,
                         remaining: np.ndarray, *, draws: int, dropout: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Predictive probability that the final Bayesian Emax analysis says go, by nested simulation.

    For each trial (row): draw ``draws`` parameter sets from the interim grid posterior (grid
    point by its weight, then ``(E0, Emax)`` from its bivariate normal), simulate the
    sufficient statistics of the ``remaining`` patients per arm (completers ``Binomial(m,
    1 - dropout)``, stage means and within-stage sum of squares as :class:`StageStats`, with
    the interim plug-in SD ``sqrt(s2)``), add them to the interim statistics and run the final
    grid analysis and go rule (``decide``) on all trials x draws at once (in blocks of about
    ``1e6 / G`` rows). ``PP`` is the share of the draws that go; its inner Monte Carlo SE is
    ``sqrt(PP (1 - PP) / draws)``.

    Parameters
    ----------
    plan : BayesEmaxPlan
    decide : callable
        ``decide(means, s2, completers) -> go (rows,) bool``: the final analysis and go rule.
    means, s2, comp : ndarray
        Interim arm means (sim, k), pooled variance (sim,) and completers (sim, k).
    remaining : ndarray (sim, k) int
        Patients per arm still to enter the analysis by the final look.
    draws : int
        Inner draws ``J`` per trial.
    dropout : float
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (sim,) of predictive probabilities.
    """
    means = np.asarray(means, dtype=float)
    n, k = means.shape
    J = int(draws)
    G = plan.g.shape[0]
    out = np.empty(n)
    per = max(1, _PP_BLOCK // (G * J))
    for lo in range(0, n, per):
        sl = slice(lo, min(n, lo + per))
        m = sl.stop - sl.start
        w, mu0, mu1, v00, v01, v11 = emax_joint_posterior(plan, means[sl], s2[sl], comp[sl])
        idx = _sample_rows(w, rng.random((m, J)))
        take = lambda a: np.take_along_axis(a, idx, axis=1)  # noqa: E731
        a00, a01, a11 = take(v00), take(v01), take(v11)
        l00 = np.sqrt(a00)
        l10 = a01 / l00
        l11 = np.sqrt(np.maximum(a11 - l10 * l10, 0.0))
        z = rng.standard_normal((2, m, J))
        e0 = take(mu0) + l00 * z[0]
        em = take(mu1) + l10 * z[0] + l11 * z[1]
        mu = (e0[..., None] + em[..., None] * plan.g[idx]).reshape(m * J, k)
        st = StageStats(m * J, k)
        st.c = np.repeat(comp[sl], J, axis=0).astype(float)
        st.mean = np.repeat(means[sl], J, axis=0)
        s2_rep = np.repeat(s2[sl], J)
        df0 = st.c.sum(1) - k
        st.ss = s2_rep * df0
        st.add_stage(np.repeat(remaining[sl], J, axis=0), mu, sd=np.sqrt(s2_rep), dropout=dropout, rng=rng)
        s2f, _df, okf = st.pooled()
        go = decide(st.mean, s2f, st.c) & okf
        out[sl] = go.reshape(m, J).mean(axis=1)
    return out


# ---------------------------------------------------------------------------- analyses
def _mcpmod_plan(design: DoseFindingDesign, analysis: MCPModAnalysis, randomised: tuple, *,
                 mcid: float, dropout: float):
    """MCP-Mod plan for realised randomised arm sizes (times 1 - dropout, as the fixed design)."""
    if tuple(randomised) == tuple(design.arm_sizes()):
        return plan_for(design, analysis, mcid=mcid, dropout=dropout)  # the fixed design's plan
    planned = np.asarray(randomised, dtype=float) * (1.0 - dropout)
    key = (tuple(design.doses), tuple(planned.tolist()), float(design.reference_dose),
           analysis.model_dump_json(), float(mcid))
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    td = analysis.target_delta if analysis.target_delta is not None else mcid
    plan = prepare_mcpmod(analysis, design.doses, planned, target_delta=td, d_ref=design.reference_dose,
                          df=max(int(round(planned.sum())) - len(planned), 1))
    _PLANS[key] = plan
    while len(_PLANS) > _MAX_PLANS:
        _PLANS.popitem(last=False)
    return plan


def _run_mcpmod(cfg, means, s2, comp, randomised):
    """MCP-Mod per pattern of randomised arm sizes; dict of (sim,) arrays."""
    design, an, ep = cfg.design, cfg.analysis, cfg.endpoint
    n = means.shape[0]
    pats, inv = np.unique(randomised, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out = {"reject": np.zeros(n, bool), "est": np.zeros(n), "selected_dose": np.zeros(n, np.int64),
           "td_est": np.zeros(n)}
    delta = None
    for j, pat in enumerate(pats):
        plan = _mcpmod_plan(design, an, tuple(int(x) for x in pat), mcid=ep.mcid, dropout=ep.dropout)
        delta = plan.target_delta
        if len(pats) == 1:
            res = analyse_mcpmod(plan, means, s2, n=comp if ep.dropout > 0 else None)
            for key in out:
                out[key] = np.asarray(res[key]).copy()
            break
        idx = np.nonzero(inv == j)[0]
        res = analyse_mcpmod(plan, means[idx], s2[idx], n=comp[idx] if ep.dropout > 0 else None)
        for key in out:
            out[key][idx] = res[key]
    return out, float(delta)


def _emax_decision(cfg, plan, res) -> tuple[np.ndarray, np.ndarray]:
    """The config's decision rule on a Bayesian Emax analysis ``res`` at the decision dose
    (reference dose, highest dose, or the estimated MED, else the highest dose), as the fixed
    design: (go, no-go) per trial."""
    from msbayes.oc.decision import decision_from_spec

    k = len(plan.doses)
    m = res["med"].shape[0]
    if plan.decision_dose == "reference":
        col = np.full(m, k - 1)
    elif plan.decision_dose == "max":
        col = np.full(m, k - 2)
    else:
        col = np.where(res["med"] > 0, res["med"] - 1, k - 2)
    r = np.arange(m)
    delta = float(plan.mcid)
    probs = {0.0: res["p_gt"][0.0][r, col], delta: res["p_gt"][plan.mcid][r, col]}
    return decision_from_spec(cfg.decision)(PosteriorAtDose(probs), mcid=delta)


def emax_final_go(cfg, plan, means: np.ndarray, s2: np.ndarray, comp: np.ndarray) -> np.ndarray:
    """Go of the final Bayesian Emax analysis per trial (the fixed design's rule, :func:`_emax_decision`).

    With ``decision_dose`` ``reference`` or ``max`` only the two probabilities the rule reads
    are computed (``P(effect > 0)`` and ``P(effect > MCID)`` at that dose, from the grid
    posterior of :func:`emax_joint_posterior`), not the whole analysis; with ``med`` (the
    decision dose depends on every dose) the full :func:`analyse_bayes_emax`. Both give the
    same answer (tested).
    """
    if plan.decision_dose == "med":
        return _emax_decision(cfg, plan, analyse_bayes_emax(plan, means, s2, n=comp))[0]
    from msbayes.oc.decision import decision_from_spec

    k = len(plan.doses)
    w, _mu0, mu1, _v00, _v01, v11 = emax_joint_posterior(plan, means, s2, comp)
    sd1 = np.sqrt(v11)
    gd = plan.g_eval[:, k - 1 if plan.decision_dose == "reference" else k - 2]  # (G,), > 0
    delta = float(plan.mcid)
    probs = {0.0: (w * special.ndtr(mu1 / sd1)).sum(1),
             delta: (w * special.ndtr((mu1 - delta / gd) / sd1)).sum(1)}
    return decision_from_spec(cfg.decision)(PosteriorAtDose(probs), mcid=delta)[0]


# ------------------------------------------------------------------------- simulation
def simulate_chunk(cfg, scenario: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Engine entry point: :func:`simulate_trials` with ``cfg.interims``."""
    return simulate_trials(cfg, scenario, n, rng, interims=cfg.interims)


def simulate_trials(cfg, scenario: str, n: int, rng: np.random.Generator, *,
                    interims: InterimsSpec) -> dict[str, np.ndarray]:
    """Simulate ``n`` dose-finding trials of ``cfg`` with ``interims`` under ``scenario``.

    See the module docstring for the procedure and the outcome keys.

    Parameters
    ----------
    cfg : SimConfig
        Validated dose-finding config (``design.type: dose_finding``).
    scenario : str
        A key of ``cfg.scenarios``.
    n : int
        Trials.
    rng : numpy.random.Generator
        The chunk's generator (every number follows from it).
    interims : InterimsSpec
        The interim looks and rules.

    Returns
    -------
    dict of per-trial arrays.
    """
    from .twoarm import scenario_sampler

    check_dose_interims(cfg, interims)
    spec = interims
    design: DoseFindingDesign = cfg.design
    ep, an = cfg.endpoint, cfg.analysis
    doses = np.asarray(design.doses, dtype=float)
    k = len(doses)
    nd = k - 1
    K = spec.k
    dmax = float(doses[-1])
    dr = design.dose_response
    sizes = design.arm_sizes()
    cum, rand_at, look_time = accrual_plan(spec, sizes)  # (K, k), (K, k), (K,)
    is_mcp = isinstance(an, MCPModAnalysis)
    mcid = float(an.target_delta if is_mcp and an.target_delta is not None else
                 (an.mcid if not is_mcp and an.mcid is not None else ep.mcid))

    # --- truth (the fixed design's draws, in its order)
    sampler = scenario_sampler(cfg, scenario)
    theta, draw_batch = sampler.sample_with_batch(n, rng=rng)
    theta_ref = theta[:, 0].copy()
    shape = draw_shape(dr, n, rng)
    eff = anchored_effects(dr.model, doses, d_ref=design.reference_dose, theta_ref=theta_ref, shape=shape)
    mu = ep.placebo_mean + eff

    # --- interim rules
    drop = spec.drop_doses
    fut = None if _none(spec.futility) else spec.futility
    effb = None if _none(spec.efficacy) else spec.efficacy
    fut_bounds = None
    if fut is not None and fut.kind == "z":
        fut_bounds = np.asarray(fut.z, dtype=float)
    elif fut is not None and fut.kind == "spending":
        from msbayes.design.interims import group_sequential_of

        fb = group_sequential_of(spec, alpha=an.alpha).futility_bounds
        fut_bounds = np.asarray(fb, dtype=float)[: K - 1]
    elif fut is not None:
        fut_bounds = np.asarray(fut.thresholds(K - 1), dtype=float)
    use_pp = fut is not None and fut.kind == "predictive_below" and K > 1
    # the nested draws of the predictive probability come from a stream of their own, so the
    # trials' data are the same whatever the predictive draws consume (common random numbers
    # across interim thresholds, e.g. when calibrating the efficacy threshold)
    pp_rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1))) if use_pp else None
    eff_u = np.asarray(effb.thresholds(K - 1), dtype=float) if effb is not None else None
    emax_plan = None if is_mcp else plan_for(design, an, mcid=ep.mcid, dropout=ep.dropout)
    use_t = spec.rule == "group_sequential" and spec.statistic == "t"

    def emax_decide(means_, s2_, comp_):
        return emax_final_go(cfg, emax_plan, means_, s2_, comp_)

    # --- looks. cap: patients per arm who will ever be in the analysis (all of the arm while it
    # enrols; those randomised by the look, pipeline included, once it is dropped or the trial stops)
    st = StageStats(n, k)
    cap = np.broadcast_to(np.asarray(sizes, dtype=np.int64), (n, k)).copy()
    enrol = np.ones((n, k), dtype=bool)  # arm still enrolling (placebo: while the trial runs)
    running = np.ones(n, dtype=bool)
    stop_look = np.full(n, K, dtype=np.int64)  # 1-based look at which the trial ended
    eff_stop = np.zeros(n, dtype=bool)
    fut_stop = np.zeros(n, dtype=bool)
    dropped = np.zeros((nd, K, n), dtype=bool)
    n_rand = np.zeros(n)  # patients randomised when the trial ended (pipeline included)
    pp_seen = np.full(n, np.nan)  # predictive probability at the first interim that computed it
    pp_near = np.zeros(n, dtype=bool)
    for j in range(K):
        target = np.minimum(cum[j][None, :], cap)
        inc = np.where(running[:, None], target - st.r, 0)
        st.add_stage(inc, mu, sd=ep.sd, dropout=ep.dropout, rng=rng)
        if j == K - 1:
            break
        z, p0, pm = pairwise_vs_placebo(st.mean, st.c, sd=ep.sd, mcid=mcid)
        if use_t:
            s2_k, df_k, _ok = st.pooled()
            z = pairwise_t_as_z(st.mean, st.c, s2_k, df_k)
        act = enrol[:, 1:] & running[:, None]
        if drop is not None:
            bad = (z < drop.z_below) if drop.z_below is not None else (pm < drop.p_mcid_below)
            newly = act & bad
            dropped[:, j, :] = newly.T
            act = act & ~newly
        any_left = act.any(axis=1)
        stop_f = running & ~any_left
        if use_pp:
            cand = running & any_left
            s2_k, _df, ok_k = st.pooled()
            idx = np.nonzero(cand & ok_k)[0]
            if idx.size:
                # arms in the final analysis: enrolling ones to their size; dropped ones (now or
                # before) with the patients randomised by their drop, pipeline included
                cap_f = np.where(np.concatenate([np.ones((n, 1), bool), act], axis=1), cap,
                                 np.minimum(cap, rand_at[j][None, :]))[idx]
                pp = predictive_prob_emax(emax_plan, emax_decide, st.mean[idx], s2_k[idx], st.c[idx],
                                          cap_f - st.r[idx], draws=spec.predictive_draws, dropout=ep.dropout,
                                          rng=pp_rng)
                pp_se = np.sqrt(pp * (1.0 - pp) / spec.predictive_draws)
                first = np.isnan(pp_seen[idx])
                pp_seen[idx[first]] = pp[first]
                pp_near[idx] |= np.abs(pp - fut_bounds[j]) < 2.0 * np.maximum(pp_se, 0.5 / spec.predictive_draws)
                hit = np.zeros(n, dtype=bool)
                hit[idx] = pp < fut_bounds[j]
                stop_f |= hit
        elif fut is not None:
            if fut.kind in ("z", "spending"):
                best = np.where(act, z, -np.inf).max(axis=1)
            else:
                best = np.where(act, pm, -np.inf).max(axis=1)
            stop_f |= running & any_left & (best < fut_bounds[j])
        stop_e = np.zeros(n, dtype=bool)
        if eff_u is not None:
            cand = running & any_left & ~stop_f
            if is_mcp:
                pb = np.where(act, p0, -np.inf).max(axis=1)
                stop_e = cand & (pb >= eff_u[j])
            elif cand.any():
                idx = np.nonzero(cand)[0]
                s2, _df, ok = st.pooled()
                res = analyse_bayes_emax(emax_plan, st.mean[idx], s2[idx], n=st.c[idx])
                stop_e[idx] = ok[idx] & (res["p_gt0_ref"] >= eff_u[j])
        stop = stop_f | stop_e
        fut_stop |= stop_f
        eff_stop |= stop_e
        stop_look = np.where(stop, j + 1, stop_look)
        # arms that stop enrolling now (dropped, or the whole trial stopped): the patients
        # randomised by this look are all the arm will ever have
        still = np.concatenate([np.ones((n, 1), bool), act], axis=1) & ~stop[:, None]
        closing = enrol & running[:, None] & ~still
        cap = np.where(closing, np.minimum(cap, rand_at[j][None, :]), cap)
        n_rand = np.where(stop, cap.sum(axis=1), n_rand)
        running &= ~stop
        enrol[:, 1:] &= act
        enrol &= running[:, None]

    # --- analysis of every trial on its data when it ended
    s2, _df, ok = st.pooled()
    means, comp, rand = st.mean, st.c, st.r
    if is_mcp:
        res, delta = _run_mcpmod(cfg, means, s2, comp, rand)
        final_go = res["reject"] & ok
        est, selected, td_est = res["est"], res["selected_dose"], res["td_est"]
    else:
        delta = emax_plan.mcid
        one = (len(np.unique(rand, axis=0)) == 1) and ep.dropout == 0
        res = analyse_bayes_emax(emax_plan, means, s2, n=np.asarray(sizes, dtype=float) if one and K == 1
                                 else comp)
        g, ng = _emax_decision(cfg, emax_plan, res)
        final_go = g & ok
        final_nogo = (ng | ~ok) & ~final_go
        est, selected, td_est = res["mean_ref"], res["med"], res["td_est"]
    reached = stop_look == K
    go = np.where(reached, final_go, eff_stop)
    if is_mcp:
        nogo = ~go
    else:
        nogo = np.where(reached, final_nogo, fut_stop)
    selected = np.where(ok & ~fut_stop & (reached | eff_stop), selected, -1)
    td_est = np.where(ok & ~fut_stop, td_est, np.nan)
    g_ref = np.broadcast_to(shape_g(dr.model, [design.reference_dose], shape), (n, 1))[:, 0]
    td_true = target_dose(dr.model, scale=theta_ref / g_ref, shape=shape, target_delta=float(delta), d_max=dmax)
    med_true = true_med(eff, float(delta))
    out = {
        "go": go, "nogo": nogo, "failed": ~ok,
        "est": np.where(ok, est, np.nan), "true": theta_ref,
        "n_total": np.where(stop_look == K, cap.sum(axis=1), n_rand).astype(float),
        "selected": selected.astype(np.int64), "n_doses": np.asarray(k),
        "correct": selected == med_true,
        "td_est": td_est, "td_true": td_true,
    }
    if is_mcp:
        out["reject"] = go.copy()
    ever = dropped.any(axis=1)  # (nd, n)
    sel_d = np.where(selected > 0, selected - 1, 0)
    out["selected_dropped"] = (selected > 0) & ever[sel_d, np.arange(n)]
    for kk in range(K):
        at = stop_look == kk + 1
        last = kk == K - 1
        out[f"efficacy_look{kk + 1}"] = at & (go if last else eff_stop)
        out[f"futility_look{kk + 1}"] = at & (nogo if last else fut_stop)
        out[f"stop_look{kk + 1}"] = at
    for d in range(nd):
        for kk in range(K):
            out[f"dropped_dose{d}_look{kk + 1}"] = dropped[d, kk]
    from . import dosefinding as _fixed

    extra = getattr(_fixed, "_selection_outcomes", None)  # the fixed design's report keys, if any
    if extra is not None:
        out.update(extra(eff, out["selected"], out["td_est"], mcid=float(ep.mcid), d_max=dmax))
    if spec.accrual is not None:
        out["duration"] = look_time[stop_look - 1].astype(float)
    if use_pp:
        # inner Monte Carlo error of the predictive probability: its SE at the first interim
        # computed, and whether |PP - q| < 2 SE at some interim (the decision could flip)
        out["predictive_mcse"] = np.sqrt(pp_seen * (1.0 - pp_seen) / spec.predictive_draws)
        out["predictive_near_threshold"] = pp_near
    out["constants"] = look_constants(spec, cum, fut_bounds if fut is not None and fut.kind in ("z", "spending")
                                      else None, randomised=rand_at, time=look_time)
    if draw_batch is not None:
        out["draw_batch"] = draw_batch
    out["n_draw_batches"] = np.asarray(sampler.n_batches)
    return out
