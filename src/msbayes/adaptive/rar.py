"""Response-adaptive randomisation (RAR) with arm dropping and adaptive stopping (vectorized).

A multi-arm trial (arm 0 = control, arms 1..G = doses) recruits in blocks; after each block
there is a *look*: conjugate normal posteriors per arm (known SD ``sd``, prior
``N(prior_mean, prior_sd**2)`` on every arm mean), then the stopping / dropping rules, then the
next block's allocation. The design follows the R package adaptr (``setup_trial``,
``run_trials``, ``check_performance``, ``calibrate_trial``); outcomes are "higher is better".

Allocation (Thompson-type, restricted to the active arms)
    ``P(arm g is best | data)`` among the active arms by Gauss-Hermite quadrature,
    ``P(g best) = E[prod_{h != g} Phi((X_g - m_h) / s_h)]``, ``X_g ~ N(m_g, s_g**2)``; raised
    to the tempering ``power`` and normalised. The control (the current one, see below) gets
    a fixed ``control_share``
    (``control_allocation="fixed"``), ``sqrt(k) / (k + sqrt(k))`` with ``k`` the number of
    active doses (``"sqrt"``, adaptr's ``control_prob_fixed = "sqrt-based"``; also the start
    allocation), the largest dose probability (``"match"``, adaptr's
    ``control_prob_fixed = "match"``) or takes part in the Thompson allocation like any arm
    (``"thompson"``). Every active dose (every active arm for ``"thompson"``) gets at least
    ``min_allocation``, met by the smallest mixing with the equal split of its share, and at
    most ``max_allocation`` (adaptr's ``max_probs``; the excess goes to the arms below the cap
    in proportion to their allocation). The
    first block uses the start allocation (control share, equal doses). Counts of a block
    are multinomial (by inversion of one uniform per patient, so that a trial's random numbers
    do not depend on its decisions or on other trials).

Stopping rules at each look (``comparison``)
    ``"control"`` (adaptr's ``control`` argument): every active dose against the current
    control, ``D = theta_g - theta_c``. Superiority: ``P(D > 0) > superiority``: the best such
    dose becomes the new control, the old control is dropped, and the trial stops
    (superiority, that arm selected) when it is the only arm left. Otherwise doses are dropped
    for inferiority (``P(D > 0) < inferiority``), futility against the *first* control
    (``P(D > futility_diff) < futility_prob``) and equivalence
    (``P(|D| < equivalence_diff) > equivalence_prob``); when no other arm is left the trial
    stops: superiority of the current control if it is a dose (it won a superiority decision
    earlier), else equivalence if a dose was dropped for equivalence at that look, else futility.
    ``"best"`` (adaptr without a control): superiority if ``P(best) > superiority`` among the
    active arms (stop, that arm wins); inferiority drops arms with ``P(best) < inferiority``
    (never the most probable one); equivalence stops if
    ``P(max - min of the active arm means < equivalence_diff) > equivalence_prob``; a single
    remaining arm is declared superior. The final look (all blocks recruited) uses the same
    rules; a trial still running then ends as "max" (maximum sample size).

``adaptive=False`` keeps the start allocation (fixed design) with deterministic counts (blocks
must split exactly). The final Bonferroni z test of each dose against control at ``alpha / G``
(``rejected``) is kept for comparison with the fixed design. Performance metrics with Monte
Carlo standard errors (MCSE) are in :meth:`RARResult.performance`; the superiority threshold
with type I error at most a target is :func:`calibrate_superiority`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from scipy import special

from msbayes.rng import SeedLike, as_seed_sequence, chunk_rng

from .selection import mean_se, proportion

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(64)
_GH_W = _GH_W / np.sqrt(2 * np.pi)

ControlAllocation = Literal["fixed", "sqrt", "match", "thompson"]
Comparison = Literal["control", "best"]
SelectStrategy = Literal["none", "control", "final_control", "best", "list"]
CONTROL_ALLOCATIONS = ("fixed", "sqrt", "match", "thompson")
COMPARISONS = ("control", "best")
SELECT_STRATEGIES = ("none", "control", "final_control", "best", "list")
#: trial outcome codes of :attr:`RARResult.outcome`
OUTCOMES = {0: "max", 1: "superiority", 2: "equivalence", 3: "futility"}
MAX, SUPERIORITY, EQUIVALENCE, FUTILITY = 0, 1, 2, 3


def prob_best(mean, sd, active=None):
    """``P(arm g has the largest mean)`` for independent normal posteriors.

    Parameters
    ----------
    mean, sd : array (n, G)
    active : bool array (n, G) or (G,), optional
        Only active arms compete; inactive arms get probability 0.

    Returns
    -------
    array (n, G), rows summing to 1.

    Examples
    --------
    >>> p = prob_best(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]))
    >>> [round(float(x), 6) for x in p[0]]
    [0.5, 0.5]
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    n, G = mean.shape
    act = np.ones((n, G), bool) if active is None else np.broadcast_to(np.asarray(active, bool), (n, G))
    p = np.zeros((n, G))
    for g in range(G):
        x = mean[:, g, None] + sd[:, g, None] * _GH_X  # (n, nodes)
        prod = np.ones_like(x)
        for h in range(G):
            if h != g:
                prod *= np.where(act[:, h, None], special.ndtr((x - mean[:, h, None]) / sd[:, h, None]), 1.0)
        p[:, g] = prod @ _GH_W
    p = np.where(act, p, 0.0)
    return p / p.sum(axis=1, keepdims=True)


def prob_all_within(mean, sd, margin: float, active=None):
    """``P(max_g theta_g - min_g theta_g < margin)`` over the active arms (independent normals).

    Exact decomposition by the arm that is the minimum:
    ``sum_g E[prod_{h != g} (Phi((X_g + margin - m_h)/s_h) - Phi((X_g - m_h)/s_h))]``,
    ``X_g ~ N(m_g, s_g**2)``, by Gauss-Hermite quadrature.

    Examples
    --------
    >>> from scipy import stats
    >>> p = prob_all_within(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]), 1.0)
    >>> bool(abs(p[0] - (2 * stats.norm.cdf(1 / np.sqrt(2)) - 1)) < 1e-8)
    True
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    n, G = mean.shape
    act = np.ones((n, G), bool) if active is None else np.broadcast_to(np.asarray(active, bool), (n, G))
    out = np.zeros(n)
    for g in range(G):
        x = mean[:, g, None] + sd[:, g, None] * _GH_X
        prod = np.ones_like(x)
        for h in range(G):
            if h != g:
                f = special.ndtr((x + margin - mean[:, h, None]) / sd[:, h, None]) - special.ndtr(
                    (x - mean[:, h, None]) / sd[:, h, None])
                prod *= np.where(act[:, h, None], f, 1.0)
        out += np.where(act[:, g], prod @ _GH_W, 0.0)
    return np.clip(out, 0.0, 1.0)


def _floor_mix(w, share, floor, active):
    """Spread ``share`` over the active columns in proportion to ``w`` (rows summing to 1 over
    the active columns), each active column at least ``floor``: smallest mixing with the equal split."""
    share = np.asarray(share, float).reshape(-1, 1)
    k = active.sum(axis=1, keepdims=True)
    dose = share * w
    eq = np.where(active, share / np.maximum(k, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(active & (dose < floor), (floor - dose) / (eq - dose), 0.0)
    lam = np.clip(np.nan_to_num(need, nan=0.0).max(axis=1, keepdims=True), 0.0, 1.0)
    return np.where(active, (1 - lam) * dose + lam * eq, 0.0)


def _cap(x, share, cap, compete):
    """Cap every competing arm at ``cap``; the excess goes to the arms below the cap in
    proportion to their allocation (repeated until no arm exceeds the cap). Rows where the cap
    cannot hold (``k * cap < share`` for ``k`` competing arms) get the equal split."""
    if cap is None:
        return x
    share = np.asarray(share, float).reshape(-1, 1)
    for _ in range(x.shape[1]):
        over = compete & (x > cap + 1e-15)
        if not over.any():
            break
        excess = np.where(over, x - cap, 0.0).sum(axis=1, keepdims=True)
        x = np.where(over, cap, x)
        free = compete & (x < cap - 1e-15)
        fx = np.where(free, x, 0.0)
        tot = fx.sum(axis=1, keepdims=True)
        nfree = free.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            add = np.where(tot > 0, excess * fx / tot, excess * free / np.maximum(nfree, 1))
        x = x + add
    k = compete.sum(axis=1, keepdims=True)
    infeasible = k * cap < share - 1e-12
    return np.where(infeasible & compete, share / np.maximum(k, 1), x)


def allocation_probabilities(p_best, *, power: float, min_allocation: float, control_share: float | None = None,
                             control_allocation: ControlAllocation = "fixed", active=None,
                             max_allocation: float | None = None):
    """Block allocation (control first, then the doses) from ``P(best)``.

    Parameters
    ----------
    p_best : array (n, G) or (n, G + 1)
        ``P(best)`` of the doses (``"fixed"`` / ``"sqrt"`` / ``"match"``: ``(n, G)``, among the doses) or of
        all arms, control first (``"thompson"``: ``(n, G + 1)``).
    power : float
        Tempering power (0 = equal split).
    min_allocation : float
        Floor of every active dose's (``"thompson"``: every active arm's) allocation.
    control_share : float
        Control's fixed share (``"fixed"`` only).
    control_allocation : {"fixed", "sqrt", "match", "thompson"}
        ``"sqrt"``: the control gets ``sqrt(k) / (k + sqrt(k))``, ``k`` active doses (adaptr's
        ``"sqrt-based"``); ``"match"``: the control gets the largest dose probability (before the floor), as
        adaptr's ``control_prob_fixed = "match"``.
    active : bool array (n, G + 1), optional
        Active arms (control first); inactive arms get 0. An inactive control gives its share
        to the doses.
    max_allocation : float, optional
        Cap of every competing arm (adaptr's ``max_probs``), applied after the floor; the
        excess goes to the arms below the cap in proportion to their allocation.

    Examples
    --------
    >>> a = allocation_probabilities(np.array([[0.9, 0.1]]), power=1.0, min_allocation=0.1, control_share=0.2)
    >>> [round(float(x), 4) for x in a[0]]
    [0.2, 0.7, 0.1]
    """
    pb = np.asarray(p_best, dtype=float)
    n = pb.shape[0]
    if control_allocation == "thompson":
        act = np.ones(pb.shape, bool) if active is None else np.broadcast_to(np.asarray(active, bool), pb.shape)
        return _allocate(pb, np.zeros(n, int), act, power=power, floor=min_allocation, control_share=None,
                         control_allocation="thompson", cap=max_allocation)
    G = pb.shape[1]
    act = np.ones((n, G + 1), bool) if active is None else np.broadcast_to(np.asarray(active, bool), (n, G + 1))
    full = np.column_stack([np.zeros(n), pb])
    return _allocate(full, np.zeros(n, int), act, power=power, floor=min_allocation, control_share=control_share,
                     control_allocation=control_allocation, cap=max_allocation)


def _allocate(pb, ctrl, active, *, power, floor, control_share, control_allocation, cap=None):
    """Allocation over all arms ``(n, A)`` with the control at column ``ctrl`` (n,); ``pb`` is
    P(best) among the competing arms (the active non-control arms, or all active arms for
    ``"thompson"``)."""
    n, A = pb.shape
    is_c = np.arange(A)[None, :] == np.asarray(ctrl)[:, None]
    if control_allocation == "thompson":
        compete = active
    else:
        compete = active & ~is_c
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(compete, np.where(compete, pb, 0.0) ** power, 0.0)
        w = np.nan_to_num(w / w.sum(axis=1, keepdims=True))
    if control_allocation == "thompson":
        return _cap(_floor_mix(w, np.ones(n), floor, compete), np.ones(n), cap, compete)
    if control_allocation == "fixed":
        c = np.full(n, float(control_share))
    elif control_allocation == "sqrt":
        k = np.sqrt(compete.sum(axis=1))
        c = k / (k**2 + k)
    elif control_allocation == "match":
        c = w.max(axis=1) / (1 + w.max(axis=1))
    else:
        raise ValueError(f"control_allocation must be one of {', '.join(CONTROL_ALLOCATIONS)}; got {control_allocation!r}")
    c_act = (active & is_c).any(axis=1)
    c = np.where(c_act, c, 0.0)
    c = np.where(compete.any(axis=1), c, 1.0)  # only the control left
    dose = _cap(_floor_mix(w, 1 - c, floor, compete), 1 - c, cap, compete)
    return np.where(is_c, c[:, None], dose)


def rar_allocation(sums, n, *, sd: float, prior_mean: float = 0.0, prior_sd: float = 1.0, power: float = 0.5,
                   min_allocation: float = 0.05, control_share: float = 0.25):
    """Next block's allocation (control first) from the doses' outcome sums and counts ``(n, G)``.

    Conjugate normal posterior per dose, :func:`prob_best`, then :func:`allocation_probabilities`
    with a fixed control share.
    """
    mean, s = _posterior(np.asarray(sums, float), np.asarray(n, float), sd, prior_mean, prior_sd)
    return allocation_probabilities(prob_best(mean, s), power=power, min_allocation=min_allocation,
                                    control_share=control_share)


def ideal_design_percentage(selected, arm_means) -> tuple[float, float]:
    """Ideal design percentage (IDP, adaptr / Viele et al. 2020) and its MCSE.

    ``100 * (E[mu_selected] - min(mu)) / (max(mu) - min(mu))`` over the trials that selected an
    arm (``selected >= 0``; -1 = no arm), higher = better; MCSE of the mean over those trials.
    ``nan`` if no trial selected an arm or all arms are equal.

    Examples
    --------
    >>> ideal_design_percentage(np.array([2, 1, 0, -1]), np.array([0.0, 0.1, 0.3]))[0]  # doctest: +ELLIPSIS
    44.44...
    """
    sel = np.asarray(selected)
    mu = np.asarray(arm_means, float)
    if mu.ndim == 1:
        mu = np.broadcast_to(mu, (sel.size, mu.size))
    rng_ = mu.max(axis=1) - mu.min(axis=1)
    ok = (sel >= 0) & (rng_ > 0)
    if not ok.any():
        return float("nan"), float("nan")
    r = mu[ok, sel[ok]]
    x = 100 * (r - mu[ok].min(axis=1)) / rng_[ok]
    if x.size == 1:
        return float(x[0]), 0.0
    return mean_se(x)


def _quantile_mcse(x, q):
    """Sample quantile and its MCSE (half the distance between the quantiles at ``q -+ sqrt(q(1-q)/n)``)."""
    x = np.asarray(x, float)
    d = np.sqrt(q * (1 - q) / x.size)
    lo, mid, hi = np.quantile(x, [max(q - d, 0.0), q, min(q + d, 1.0)])
    return float(mid), float((hi - lo) / 2)


@dataclass
class RARResult:
    """Per-trial outcomes of :func:`simulate_rar` (arms: control first, then doses 1..G).

    ``n_arm`` (n, G + 1) patients per arm; ``rejected`` (n, G) final Bonferroni z test per dose;
    ``p_best`` (n, G) P(best) among the active doses at the end; ``allocations``
    (n, blocks, G + 1) allocation probabilities used per block (0 after the stop); ``theta``
    (n, G) dose effects. ``outcome`` (n,) codes of :data:`OUTCOMES`; ``stop_look`` (n,) index of
    the last look; ``winner`` (n,) arm declared superior (-1 none); ``active`` (n, G + 1) at the
    end; ``control`` (n,) current control at the end; ``estimate`` (n, G + 1) posterior means at
    the end; ``p_best_all`` (n, G + 1) P(best) among all active arms at the end; ``sup_stat``
    (n,) largest superiority statistic seen before the first superiority decision (the
    quantity :func:`calibrate_superiority` thresholds); ``superiority_decision`` (n,) a
    superiority decision was made (also a control switch of ``comparison="control"`` that did
    not end the trial); ``looks`` cumulative n at the looks.
    """

    n_arm: np.ndarray
    rejected: np.ndarray
    p_best: np.ndarray
    allocations: np.ndarray
    theta: np.ndarray
    outcome: np.ndarray | None = None
    stop_look: np.ndarray | None = None
    winner: np.ndarray | None = None
    active: np.ndarray | None = None
    control: np.ndarray | None = None
    estimate: np.ndarray | None = None
    p_best_all: np.ndarray | None = None
    sup_stat: np.ndarray | None = None
    superiority_decision: np.ndarray | None = None
    looks: np.ndarray | None = field(default=None)

    @property
    def arm_means(self) -> np.ndarray:
        """True arm means (n, G + 1): control 0, doses ``theta``."""
        return np.column_stack([np.zeros(len(self.theta)), self.theta])

    def selected(self, select_strategy: SelectStrategy = "control", select_preferences=None) -> np.ndarray:
        """Selected arm per trial (-1 = none): the winner of a superiority stop, else by strategy.

        ``"none"``: no arm; ``"control"``: the first control (arm 0) if still active;
        ``"final_control"``: the current control (a dose after a superiority decision);
        ``"best"``: the active arm with the largest ``P(best)`` at the last look; ``"list"``:
        the first active arm of ``select_preferences`` (arm indices, control = 0), else none.
        """
        _check_strategy(select_strategy, select_preferences, self.n_arm.shape[1])
        n = len(self.outcome)
        if select_strategy == "none":
            other = np.full(n, -1)
        elif select_strategy == "control":
            other = np.where(self.active[:, 0], 0, -1)
        elif select_strategy == "final_control":
            other = self.control.copy()
        elif select_strategy == "best":
            other = np.argmax(np.where(self.active, self.p_best_all, -1.0), axis=1)
        else:
            other = np.full(n, -1)
            for a in reversed(list(select_preferences)):
                other = np.where(self.active[:, a], a, other)
        return np.where(self.winner >= 0, self.winner, other)

    def performance(self, *, select_strategy: SelectStrategy = "control", select_preferences=None,
                    quantiles: Sequence[float] = (0.025, 0.25, 0.5, 0.75, 0.975)) -> dict[str, tuple[float, float]]:
        """adaptr-style performance metrics, each ``(value, MCSE)``.

        ``prob_superiority``, ``prob_equivalence``, ``prob_futility``, ``prob_max`` (how the
        trials ended; they sum to 1); ``prob_superiority_decision`` (any superiority decision,
        the Bayesian type I error under the null);
        ``prob_select_none`` and ``prob_select_<arm>`` (arm 0 = control); ``prob_select_best``
        (an arm with the largest true mean selected; ``nan`` if all arms are equal);
        ``idp`` (:func:`ideal_design_percentage`); ``rmse`` / ``bias`` of the selected arm's
        posterior mean and ``rmse_te`` / ``bias_te`` of its effect against arm 0 (selected dose
        only), over the trials selecting such an arm; ``n_total`` (mean) and ``n_total_q<q>``
        quantiles; ``n_<arm>`` mean; ``alloc_<arm>`` achieved allocation ``n_arm / n_total``
        (mean) and ``alloc_<arm>_q<q>`` quantiles.
        """
        sel = self.selected(select_strategy, select_preferences)
        mu = self.arm_means
        n, A = mu.shape
        out = {"prob_superiority": proportion(self.outcome == SUPERIORITY),
               "prob_superiority_decision": proportion(self.superiority_decision),
               "prob_equivalence": proportion(self.outcome == EQUIVALENCE),
               "prob_futility": proportion(self.outcome == FUTILITY),
               "prob_max": proportion(self.outcome == MAX),
               "prob_select_none": proportion(sel < 0)}
        for a in range(A):
            out[f"prob_select_{a}"] = proportion(sel == a)
        best = mu >= mu.max(axis=1, keepdims=True) - 1e-12
        if np.all(best.all(axis=1)):
            out["prob_select_best"] = (float("nan"), float("nan"))
        else:
            out["prob_select_best"] = proportion((sel >= 0) & best[np.arange(n), np.maximum(sel, 0)])
        out["idp"] = ideal_design_percentage(sel, mu)
        has = sel >= 0
        err = self.estimate[has, sel[has]] - mu[has, sel[has]] if has.any() else np.array([])
        out.update(_rmse_bias(err, ""))
        dose = sel >= 1
        te = (self.estimate[dose, sel[dose]] - self.estimate[dose, 0]) - (mu[dose, sel[dose]] - mu[dose, 0])
        out.update(_rmse_bias(te, "_te"))
        tot = self.n_arm.sum(axis=1)
        out["n_total"] = mean_se(tot)
        for q in quantiles:
            out[f"n_total_q{q:g}"] = _quantile_mcse(tot, q)
        frac = self.n_arm / tot[:, None]
        for a in range(A):
            out[f"n_{a}"] = mean_se(self.n_arm[:, a])
            out[f"alloc_{a}"] = mean_se(frac[:, a])
            for q in quantiles:
                out[f"alloc_{a}_q{q:g}"] = _quantile_mcse(frac[:, a], q)
        return out

    def oc(self, **kw) -> dict[str, tuple[float, float]]:
        """``reject_any``, ``fwer`` (a dose with ``theta <= 0`` rejected by the final z test),
        ``reject_best``, ``expected_n_control`` and ``expected_n_g`` (g = 1..G) with MCSE, and
        (when simulated with this version) :meth:`performance` (``kw`` passed on)."""
        best = np.argmax(self.theta, axis=1)
        out = {"reject_any": proportion(self.rejected.any(axis=1)),
               "fwer": proportion((self.rejected & (self.theta <= 0)).any(axis=1)),
               "reject_best": proportion(self.rejected[np.arange(len(best)), best])}
        for g in range(self.n_arm.shape[1]):
            x = self.n_arm[:, g]
            key = "expected_n_control" if g == 0 else f"expected_n_{g}"
            out[key] = (float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else 0.0)
        if self.outcome is not None:
            out.update(self.performance(**kw))
        return out


def _rmse_bias(err, suffix):
    if err.size < 2:
        nan = (float("nan"), float("nan"))
        return {f"rmse{suffix}": nan, f"bias{suffix}": nan}
    sq = err**2
    mse, mse_se = mean_se(sq)
    rmse = float(np.sqrt(mse))
    return {f"rmse{suffix}": (rmse, mse_se / (2 * rmse) if rmse > 0 else 0.0), f"bias{suffix}": mean_se(err)}


def _check_strategy(select_strategy, select_preferences, n_arms):
    if select_strategy not in SELECT_STRATEGIES:
        raise ValueError(f"select_strategy must be one of {', '.join(SELECT_STRATEGIES)}; got {select_strategy!r}")
    if select_strategy == "list":
        prefs = list(select_preferences or [])
        if not prefs or any(not (0 <= int(a) < n_arms) or int(a) != a for a in prefs):
            raise ValueError(f"select_preferences must be a non-empty list of arm indices in 0..{n_arms - 1} "
                             f"(0 = control) for select_strategy='list'; got {select_preferences!r}")


def _check_prob(name, value):
    if value is not None and not (np.isfinite(value) and 0 < value < 1):
        raise ValueError(f"{name} must be in (0, 1) or None, got {value!r}")


def simulate_rar(
    effects,
    *,
    block_sizes=(40, 40, 40, 40),
    looks=None,
    sd: float = 0.35,
    control_share: float = 0.25,
    min_allocation: float = 0.05,
    max_allocation: float | None = None,
    power: float = 0.5,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    adaptive: bool = True,
    alpha: float = 0.025,
    control_allocation: ControlAllocation = "fixed",
    comparison: Comparison = "control",
    superiority: float | None = None,
    inferiority: float | None = None,
    futility_prob: float | None = None,
    futility_diff: float = 0.0,
    equivalence_prob: float | None = None,
    equivalence_diff: float | None = None,
    n_sims: int = 10_000,
    seed: SeedLike = 0,
    chunk_size: int = 20_000,
) -> RARResult:
    """Simulate response-adaptive randomisation with arm dropping and stopping (module docstring).

    Parameters
    ----------
    effects : array (G,) or (n_sims, G)
        Dose effects vs control (positive = benefit); the control mean is 0.
    block_sizes : sequence of int
        Patients per block (all arms); a look follows each block.
    looks : sequence of int, optional
        Cumulative sample sizes at the looks (strictly increasing), instead of ``block_sizes``.
    control_share : float in (0, 1)
        Control share of every block (``control_allocation="fixed"``) and of the first block.
    min_allocation : float
        Floor of every active dose's allocation; ``G * min_allocation <= 1 - control_share``
        (``"thompson"``: of every arm, ``(G + 1) * min_allocation <= 1``).
    max_allocation : float, optional
        Cap of every competing arm's allocation (adaptr's ``max_probs``), above
        ``min_allocation``; the start allocation must respect it. When too few arms remain to
        hold it, they share equally.
    power : float >= 0
        Tempering power of ``P(best)`` (0 = equal split).
    adaptive : bool
        ``False``: fixed allocation (control share, equal split), counts deterministic.
    control_allocation : {"fixed", "sqrt", "match", "thompson"}
    comparison : {"control", "best"}
        Stopping rules against the (current) control, or on ``P(best)`` among all arms.
    superiority, inferiority, futility_prob, equivalence_prob : float in (0, 1) or None
        Posterior-probability thresholds (None = rule off); ``inferiority < superiority``.
    futility_diff : float
        Minimal clinically important difference of the futility rule (``"control"`` only).
    equivalence_diff : float > 0
        Equivalence margin (required with ``equivalence_prob``).

    Examples
    --------
    >>> r = simulate_rar([0.0, 0.3], n_sims=500, seed=1)
    >>> r.oc()["expected_n_2"][0] > r.oc()["expected_n_1"][0]
    True
    >>> r = simulate_rar([0.0, 0.3], superiority=0.99, inferiority=0.01, n_sims=500, seed=1)
    >>> 0 < r.performance()["prob_superiority"][0] < 1
    True
    """
    eff = np.asarray(effects, dtype=float)
    if eff.ndim not in (1, 2) or eff.shape[-1] < 1 or not np.all(np.isfinite(eff)):
        raise ValueError(f"effects must be a finite array (G,) or (n_sims, G) with G >= 1, got shape {eff.shape}")
    if eff.ndim == 1:
        eff = np.broadcast_to(eff, (int(n_sims), eff.size))
    G = eff.shape[1]
    if looks is not None:
        lk = np.asarray(looks)
        if lk.ndim != 1 or lk.size < 1 or np.any(lk != np.round(lk)) or lk[0] < 1 or np.any(np.diff(lk) <= 0):
            raise ValueError(f"looks must be strictly increasing positive integers (cumulative n), got {looks!r}")
        blocks = np.diff(np.concatenate([[0], lk])).astype(int)
    else:
        blocks = np.asarray(block_sizes)
        if blocks.ndim != 1 or blocks.size < 1 or np.any(blocks < 1) or np.any(blocks != np.round(blocks)):
            raise ValueError(f"block_sizes must be positive integers, got {block_sizes!r}")
        blocks = blocks.astype(int)
    if control_allocation not in CONTROL_ALLOCATIONS:
        raise ValueError(f"control_allocation must be one of {', '.join(CONTROL_ALLOCATIONS)}; got {control_allocation!r}")
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}; got {comparison!r}")
    if not (0 < control_share < 1):
        raise ValueError(f"control_share must be in (0, 1), got {control_share!r}")
    if control_allocation == "thompson":
        if not (0 <= min_allocation and (G + 1) * min_allocation <= 1 + 1e-12):
            raise ValueError(f"min_allocation must be in [0, 1 / (G + 1)] = [0, {1 / (G + 1):.4g}] for "
                             f"control_allocation='thompson' (floors sum to at most 1), got {min_allocation!r}")
    elif control_allocation in ("sqrt", "match"):
        c_max = np.sqrt(G) / (G + np.sqrt(G)) if control_allocation == "sqrt" else 0.5
        if not (0 <= min_allocation and G * min_allocation <= 1 - c_max + 1e-12):
            raise ValueError(f"min_allocation must be in [0, {(1 - c_max) / G:.4g}] for control_allocation="
                             f"{control_allocation!r} (floors sum to at most the dose share), got {min_allocation!r}")
    elif not (0 <= min_allocation and G * min_allocation <= 1 - control_share + 1e-12):
        raise ValueError(f"min_allocation must be in [0, (1 - control_share) / G] = [0, {(1 - control_share) / G:.4g}] "
                         f"(floors sum to at most the dose share), got {min_allocation!r}")
    if not (np.isfinite(power) and power >= 0):
        raise ValueError(f"power must be >= 0, got {power!r}")
    if max_allocation is not None and not (np.isfinite(max_allocation) and min_allocation < max_allocation <= 1):
        raise ValueError(f"max_allocation must be in (min_allocation, 1] = ({min_allocation!r}, 1] or None, "
                         f"got {max_allocation!r}")
    if not (sd > 0 and prior_sd > 0):
        raise ValueError("sd and prior_sd must be > 0")
    if not (0 < alpha < 0.5):
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    for name, v in (("superiority", superiority), ("inferiority", inferiority), ("futility_prob", futility_prob),
                    ("equivalence_prob", equivalence_prob)):
        _check_prob(name, v)
    if superiority is not None and inferiority is not None and not inferiority < superiority:
        raise ValueError(f"inferiority must be below superiority, got {inferiority!r} >= {superiority!r}")
    if futility_prob is not None and comparison != "control":
        raise ValueError("futility_prob needs comparison='control' (futility is judged against the control)")
    if not np.isfinite(futility_diff):
        raise ValueError(f"futility_diff must be finite, got {futility_diff!r}")
    if (equivalence_prob is None) != (equivalence_diff is None):
        raise ValueError("equivalence_prob and equivalence_diff must be given together")
    if equivalence_diff is not None and not (np.isfinite(equivalence_diff) and equivalence_diff > 0):
        raise ValueError(f"equivalence_diff must be > 0, got {equivalence_diff!r}")
    if int(n_sims) < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims!r}")
    if control_allocation == "fixed":
        fixed = np.concatenate([[control_share], np.full(G, (1 - control_share) / G)])
    elif control_allocation == "sqrt":
        c = np.sqrt(G) / (G + np.sqrt(G))
        fixed = np.concatenate([[c], np.full(G, (1 - c) / G)])
    elif control_allocation == "match":
        fixed = np.full(G + 1, 1 / (G + 1))
    else:
        fixed = np.full(G + 1, 1 / (G + 1))
    if max_allocation is not None:
        start_compete = fixed if control_allocation == "thompson" else fixed[1:]
        if np.any(start_compete > max_allocation + 1e-12):
            raise ValueError(f"max_allocation must be at least the start allocation of every arm it caps "
                             f"({start_compete.max():.4g}), got {max_allocation!r}")
    if not adaptive:
        cnt = blocks[:, None] * fixed[None, :]
        if np.any(np.abs(cnt - np.round(cnt)) > 1e-9):
            raise ValueError("block_sizes must split exactly by the start allocation when adaptive=False")
    rules = dict(comparison=comparison, u=superiority, l=inferiority, fp=futility_prob, fd=futility_diff,
                 ep=equivalence_prob, ed=equivalence_diff)
    ss = as_seed_sequence(seed)
    parts = []
    for j, start in enumerate(range(0, int(n_sims), chunk_size)):
        parts.append(_chunk(eff[start:start + chunk_size], chunk_rng(ss, j), blocks, sd, control_share, min_allocation,
                            power, prior_mean, prior_sd, adaptive, alpha, fixed, control_allocation, rules,
                            max_allocation))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return RARResult(cat["n"], cat["rejected"], cat["p_best"], cat["alloc"], np.asarray(eff), cat["outcome"],
                     cat["stop_look"], cat["winner"], cat["active"], cat["control"], cat["estimate"],
                     cat["p_best_all"], cat["sup_stat"], cat["sup_seen"], np.cumsum(blocks))


def _posterior(sums, n, sd, prior_mean, prior_sd):
    prec = 1 / prior_sd**2 + n / sd**2
    mean = (prior_mean / prior_sd**2 + sums / sd**2) / prec
    return mean, 1 / np.sqrt(prec)


def _multinomial(rng, size, probs):
    """Multinomial counts ``(m, A)`` by inverting ``size`` uniforms per trial at the cumulative
    probabilities: every trial uses the same random numbers whatever the other trials' (or
    its own) probabilities, so a trial's path depends only on its own decisions."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = np.inf
    u = rng.random((probs.shape[0], size))
    below = (u[:, :, None] < cum[:, None, :]).sum(axis=1)  # patients in arms 0..a
    return np.diff(below, axis=1, prepend=0).astype(float)


def _take(x, idx):
    return np.take_along_axis(x, idx[:, None], axis=1)[:, 0]


def _chunk(eff, rng, blocks, sd, c0, floor, power, m0, s0, adaptive, alpha, fixed, ctrl_alloc, rules, cap):
    m, G = eff.shape
    A = G + 1
    rows = np.arange(m)
    mu = np.column_stack([np.zeros(m), eff])  # arm means, control first
    sums = np.zeros((m, A))
    n = np.zeros((m, A))
    alloc = np.zeros((m, len(blocks), A))
    active = np.ones((m, A), bool)
    running = np.ones(m, bool)
    ctrl = np.zeros(m, int)
    outcome = np.full(m, MAX)
    winner = np.full(m, -1)
    stop_look = np.full(m, len(blocks) - 1)
    sup_stat = np.zeros(m)
    sup_seen = np.zeros(m, bool)
    u, lo, fp, fd, ep, ed = rules["u"], rules["l"], rules["fp"], rules["fd"], rules["ep"], rules["ed"]
    for b, size in enumerate(blocks):
        if b == 0 or not adaptive:
            probs = np.where(active, fixed, 0.0)
            probs = probs / probs.sum(axis=1, keepdims=True)
        else:
            mean, s = _posterior(sums, n, sd, m0, s0)
            compete = active if ctrl_alloc == "thompson" else active & (np.arange(A)[None, :] != ctrl[:, None])
            pb = prob_best(mean, s, compete | ~compete.any(axis=1, keepdims=True))
            probs = _allocate(pb, ctrl, active, power=power, floor=floor, control_share=c0,
                              control_allocation=ctrl_alloc, cap=cap)
        probs = np.where(running[:, None], probs, 0.0)
        alloc[:, b] = probs
        if adaptive:
            k = _multinomial(rng, int(size), np.where(running[:, None], probs, fixed))
        else:
            k = np.round(size * fixed) * active
        k = k * running[:, None]
        # sum of k normal outcomes with mean mu: N(k mu, k sd^2)
        sums += k * mu + np.sqrt(k) * sd * rng.standard_normal((m, A))
        n += k
        mean, s = _posterior(sums, n, sd, m0, s0)
        if rules["comparison"] == "best":
            pb = prob_best(mean, s, active)
            stat = pb.max(axis=1)
            sup_stat = np.where(running & ~sup_seen, np.maximum(sup_stat, stat), sup_stat)
            sup = running & (stat > u) if u is not None else np.zeros(m, bool)
            winner = np.where(sup, np.argmax(pb, axis=1), winner)
            outcome = np.where(sup, SUPERIORITY, outcome)
            sup_seen |= sup
            go = running & ~sup
            if ep is not None:
                eq = go & (prob_all_within(mean, s, ed, active) > ep)
                outcome = np.where(eq, EQUIVALENCE, outcome)
                go &= ~eq
            if lo is not None:
                top = np.zeros((m, A), bool)
                top[rows, np.argmax(pb, axis=1)] = True
                active &= ~(go[:, None] & (pb < lo) & ~top)
                last = go & (active.sum(axis=1) == 1)
                winner = np.where(last, np.argmax(active, axis=1), winner)
                outcome = np.where(last, SUPERIORITY, outcome)
                go &= ~last
        else:
            mc, sc = _take(mean, ctrl), _take(s, ctrl)
            D = mean - mc[:, None]
            S = np.sqrt(s**2 + sc[:, None] ** 2)
            cand = running[:, None] & active & (np.arange(A)[None, :] != ctrl[:, None])
            p_better = special.ndtr(D / S)
            stat = np.where(cand, p_better, 0.0).max(axis=1)
            sup_stat = np.where(running & ~sup_seen, np.maximum(sup_stat, stat), sup_stat)
            go = running.copy()
            if u is not None:
                supm = cand & (p_better > u)
                anys = supm.any(axis=1)
                new = np.argmax(np.where(supm, p_better, -1.0), axis=1)
                active[rows[anys], ctrl[anys]] = False
                ctrl = np.where(anys, new, ctrl)
                sup_seen |= anys
                alone = anys & (active.sum(axis=1) == 1)
                winner = np.where(alone, ctrl, winner)
                outcome = np.where(alone, SUPERIORITY, outcome)
                go &= ~anys  # no dropping at a look with a superiority decision
            drop_eq = np.zeros((m, A), bool)
            drop = np.zeros((m, A), bool)
            if lo is not None:
                drop |= cand & (p_better < lo)
            if fp is not None:
                drop |= cand & (ctrl == 0)[:, None] & (special.ndtr((D - fd) / S) < fp)
            if ep is not None:
                drop_eq = cand & (special.ndtr((ed - D) / S) - special.ndtr((-ed - D) / S) > ep)
            drop = (drop | drop_eq) & go[:, None]
            active &= ~drop
            none_left = go & (active.sum(axis=1) == 1)
            eqs = (drop_eq & go[:, None]).any(axis=1)
            # only the control left: a dose that won a superiority decision earlier wins the trial
            won = none_left & (ctrl != 0)
            winner = np.where(won, ctrl, winner)
            outcome = np.where(won, SUPERIORITY, np.where(none_left, np.where(eqs, EQUIVALENCE, FUTILITY), outcome))
            go &= ~none_left
        stopped_now = running & (outcome != MAX)
        stop_look = np.where(stopped_now, b, stop_look)
        running &= ~stopped_now
    mean, s = _posterior(sums, n, sd, m0, s0)
    dact = active[:, 1:]
    p_best = prob_best(mean[:, 1:], s[:, 1:], dact | ~dact.any(axis=1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        xbar = sums / n
        z = (xbar[:, 1:] - xbar[:, :1]) / (sd * np.sqrt(1 / n[:, 1:] + 1 / n[:, :1]))
    rejected = np.nan_to_num(z, nan=-np.inf) >= -special.ndtri(alpha / G)
    return dict(n=n, rejected=rejected, p_best=p_best, alloc=alloc, outcome=outcome, stop_look=stop_look,
                winner=winner, active=active, control=ctrl, estimate=mean, p_best_all=prob_best(mean, s, active),
                sup_stat=sup_stat, sup_seen=sup_seen)


@dataclass
class RARCalibration:
    """Calibrated superiority threshold: ``threshold`` (its MCSE ``threshold_mcse``: half the
    distance between the ``sup_stat`` quantiles at ``1 - target -+ sqrt(target (1 - target) / n)``)
    with ``type1`` (P(any superiority) on the
    calibration trials) and its ``type1_mcse``; ``check`` / ``check_mcse`` the same rate on fresh
    trials simulated at the threshold (``nan`` if not checked)."""

    threshold: float
    threshold_mcse: float
    type1: float
    type1_mcse: float
    target: float
    n_sims: int
    check: float = float("nan")
    check_mcse: float = float("nan")


def calibrate_superiority(n_doses: int, *, target: float = 0.05, n_sims: int = 20_000, seed: SeedLike = 0,
                          check_sims: int = 0, **design) -> RARCalibration:
    """Superiority threshold ``u`` with ``P(any superiority decision) <= target`` under the null.

    All arms equal (effects 0). Until its first superiority decision a trial's path does not
    depend on ``u`` (allocation, dropping and the other stops do not use it), so the trial
    has a superiority decision at threshold ``u`` iff its :attr:`RARResult.sup_stat` (the
    largest superiority statistic over the looks, simulated with superiority off) exceeds
    ``u``; :func:`msbayes.oc.decision.calibrate_threshold` then finds the smallest such ``u``
    on these trials (bisection). With ``check_sims > 0`` the design is simulated again at ``u``
    on fresh random numbers and P(superiority decision) is reported with its MCSE.

    Parameters
    ----------
    n_doses : int
        Number of doses G (control extra).
    target : float in (0, 1)
        Type I error to keep (adaptr's Bayesian type I error: probability of a superiority
        decision under the null).
    design
        Keyword options of :func:`simulate_rar` (not ``effects``, ``superiority``, ``n_sims``, ``seed``).

    Examples
    --------
    >>> c = calibrate_superiority(2, target=0.05, n_sims=2000, seed=1, comparison="best", block_sizes=(30, 30))
    >>> bool(0.5 < c.threshold < 1 and c.type1 <= 0.05)
    True
    """
    from msbayes.oc.decision import calibrate_threshold

    if not (0 < target < 1):
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    if int(n_doses) < 1:
        raise ValueError(f"n_doses must be >= 1, got {n_doses!r}")
    bad = {"effects", "superiority", "n_sims", "seed"} & set(design)
    if bad:
        raise ValueError(f"calibrate_superiority sets {sorted(bad)} itself; do not pass them")
    ss = as_seed_sequence(seed)
    s_cal, s_chk = ss.spawn(2)
    eff = np.zeros(int(n_doses))
    r = simulate_rar(eff, n_sims=n_sims, seed=s_cal, superiority=None, **design)
    c = calibrate_threshold(r.sup_stat, target=target)
    u = float(min(c.threshold, 1 - 1e-12))
    d = np.sqrt(target * (1 - target) / r.sup_stat.size)
    q_lo, q_hi = np.quantile(r.sup_stat, [max(1 - target - d, 0.0), min(1 - target + d, 1.0)])
    out = RARCalibration(u, float((q_hi - q_lo) / 2), float(c.type1), float(c.type1_mcse), target, int(n_sims))
    if check_sims:
        rc = simulate_rar(eff, n_sims=check_sims, seed=s_chk, superiority=u, **design)
        out.check, out.check_mcse = proportion(rc.superiority_decision)
    return out
