"""Combination tests and closed testing for two-stage adaptive designs (vectorized).

Stage-wise one-sided p-values (small = evidence of benefit) are combined across the two stages
by the inverse-normal or Fisher's combination function; several elementary hypotheses are
tested with the closure principle, each intersection hypothesis by a stage-wise intersection
test (Bonferroni, Simes, Sidak, Dunnett many-to-one, Spiessens-Debois). Everything is
vectorized over trials (leading axis) and over the ``2**m - 1`` intersection hypotheses.

Conventions follow rpact (``getDesignInverseNormal`` / ``getDesignFisher`` with
``getSimulationMultiArmMeans`` / ``getSimulationEnrichmentMeans``): an intersection's stage-2
p-value uses only its members still tested at stage 2 (``NaN`` p-values are "not tested"); an
intersection none of whose members is tested at a stage is not rejected at that stage; an
elementary hypothesis is rejected when every intersection containing it is rejected.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, special

IntersectionTest = Literal["bonferroni", "simes", "sidak", "dunnett", "spiessens_debois"]
INTERSECTION_TESTS = ("bonferroni", "simes", "sidak", "dunnett", "spiessens_debois")

# probabilists' Gauss-Hermite rule for E[f(U)], U ~ N(0, 1): the one-factor integral of the
# Dunnett / Spiessens-Debois intersection p-value (validated against Monte Carlo and Genz).
_GH_N = 64
_gh_x, _gh_w = np.polynomial.hermite_e.hermegauss(_GH_N)
_GH_X = _gh_x
_GH_W = _gh_w / np.sqrt(2 * np.pi)


_TABLE_Z = np.linspace(-9.0, 9.0, 36_001)  # step 5e-4: linear interpolation error < 2e-8


@functools.lru_cache(maxsize=64)
def _equal_table(lam: float, k: int) -> np.ndarray:
    """``P(max of k equicorrelated normals < z)`` on ``_TABLE_Z`` (correlation ``lam**2``)."""
    s1 = np.sqrt(1.0 - lam**2)
    cond = special.ndtr((_TABLE_Z[:, None] - lam * _GH_X) / s1)
    return (cond**k) @ _GH_W


def _ndtri_upper(p):
    """z with P(Z >= z) = p (``inf`` at p = 0, ``-inf`` at p = 1)."""
    return -special.ndtri(p)


@dataclass(frozen=True)
class CombinationDesign:
    """A two-stage combination-test design.

    Attributes
    ----------
    combination : {"inverse_normal", "fisher"}
    weights : tuple of float
        Inverse normal: ``(w1, w2)`` with ``w1**2 + w2**2 = 1`` (``w_k**2`` = planned stage
        information fraction). Fisher: ``(1, w2)`` exponents of ``p1**1 * p2**w2``.
    critical_values : tuple of float
        Inverse normal: z bounds ``(c1, c2)`` of the combined statistic (``c1 = inf``: the
        interim is for selection only). Fisher: bounds on ``p1 * p2**w2`` (reject if <=).
    alpha : float
        One-sided family-wise level.
    """

    combination: Literal["inverse_normal", "fisher"]
    weights: tuple[float, float]
    critical_values: tuple[float, float]
    alpha: float

    @property
    def early_efficacy(self) -> bool:
        """Whether an intersection can be rejected at the interim."""
        c1 = self.critical_values[0]
        return bool(np.isfinite(c1) and (self.combination == "inverse_normal" or c1 > 0))


def _check_alpha(alpha: float) -> float:
    if not (0 < alpha < 0.5):
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return float(alpha)


def _check_t1(information_rates) -> float:
    t = np.asarray(information_rates, dtype=float)
    if t.shape != (2,) or not (0 < t[0] < 1) or t[1] != 1.0:
        raise ValueError(f"information_rates must be (t1, 1) with t1 in (0, 1), got {information_rates!r}")
    return float(t[0])


def inverse_normal_design(
    *,
    alpha: float = 0.025,
    information_rates=(0.5, 1.0),
    early_efficacy: Literal["none", "obf", "pocock", "obf_spending"] = "none",
) -> CombinationDesign:
    """Inverse-normal two-stage design; weights ``sqrt(t1), sqrt(1 - t1)``.

    Parameters
    ----------
    alpha : float
        One-sided level.
    information_rates : (t1, 1)
        Planned information fraction at the interim.
    early_efficacy : {"none", "obf", "pocock", "obf_spending"}
        ``"none"`` (default): interim for selection only, ``c2 = z_{1-alpha}`` (rpact
        ``typeOfDesign = "noEarlyEfficacy"``). ``"obf"`` / ``"pocock"``: classical
        Wang-Tsiatis bounds (rpact ``"OF"`` / ``"P"``); ``"obf_spending"``: Lan-DeMets
        O'Brien-Fleming-type spending (rpact ``"asOF"``); all from
        :func:`msbayes.sequential.boundaries.group_sequential_design`.

    Examples
    --------
    >>> d = inverse_normal_design(alpha=0.025, information_rates=(0.4, 1.0), early_efficacy="obf")
    >>> [round(c, 4) for c in d.critical_values]
    [3.1095, 1.9666]
    """
    alpha = _check_alpha(alpha)
    t1 = _check_t1(information_rates)
    w = (float(np.sqrt(t1)), float(np.sqrt(1 - t1)))
    if early_efficacy == "none":
        return CombinationDesign("inverse_normal", w, (float("inf"), float(_ndtri_upper(alpha))), alpha)
    from msbayes.sequential.boundaries import Spending, WangTsiatis, group_sequential_design

    eff = {"obf": WangTsiatis(0.0), "pocock": WangTsiatis(0.5), "obf_spending": Spending("obf")}
    if early_efficacy not in eff:
        raise ValueError(f"early_efficacy must be one of none, obf, pocock, obf_spending; got {early_efficacy!r}")
    gs = group_sequential_design([t1, 1.0], alpha=alpha, beta=0.2, efficacy=eff[early_efficacy])
    return CombinationDesign("inverse_normal", w, tuple(float(c) for c in gs.critical_values), alpha)


def fisher_design(*, alpha: float = 0.025, information_rates=(0.5, 1.0)) -> CombinationDesign:
    """Fisher's combination ``p1 * p2**w2`` (``w2 = sqrt((1 - t1) / t1)``, rpact's weights),
    no early stop; the bound ``c`` solves ``P(p1 p2**w2 <= c) = alpha`` for independent
    uniforms: ``c + (c**(1/w2) - c) / (1 - 1/w2)`` (``c (1 - log c)`` when ``w2 = 1``).

    Examples
    --------
    >>> round(fisher_design(alpha=0.025).critical_values[1], 6)   # exp(-chi2_4(0.975) / 2)
    0.003804
    """
    alpha = _check_alpha(alpha)
    t1 = _check_t1(information_rates)
    w2 = float(np.sqrt((1 - t1) / t1))

    def level(logc):
        c = np.exp(logc)
        if abs(w2 - 1) < 1e-12:
            return c * (1 - logc) - alpha
        return c + (c ** (1 / w2) - c) / (1 - 1 / w2) - alpha

    c = float(np.exp(optimize.brentq(level, -60.0, np.log(alpha), xtol=1e-14)))
    return CombinationDesign("fisher", (1.0, w2), (0.0, c), alpha)


def combine(p1, p2, design: CombinationDesign):
    """Combined statistic at stage 2 from stage-wise p-values (broadcast).

    Inverse normal: ``w1 z(p1) + w2 z(p2)`` with ``z(p) = Phi^{-1}(1 - p)`` (reject if >= c2).
    Fisher: ``p1 * p2**w2`` (reject if <= c2). ``NaN`` propagates (not tested).

    Examples
    --------
    >>> d = inverse_normal_design()
    >>> round(float(combine(0.1, 0.01, d)), 4)   # (1.2816 + 2.3263) / sqrt(2)
    2.5512
    """
    p1 = np.asarray(p1, dtype=float)
    p2 = np.asarray(p2, dtype=float)
    if design.combination == "inverse_normal":
        w1, w2 = design.weights
        return w1 * _ndtri_upper(p1) + w2 * _ndtri_upper(p2)
    return p1 * p2 ** design.weights[1]


def rejects(stat, stage: int, design: CombinationDesign):
    """Boolean: the combined (stage 2) or stage-1 statistic crosses the stage's bound."""
    c = design.critical_values[stage - 1]
    stat = np.asarray(stat, dtype=float)
    with np.errstate(invalid="ignore"):
        if design.combination == "inverse_normal":
            return stat >= c
        return stat <= c


def stage1_statistic(p1, design: CombinationDesign):
    """Stage-1 statistic compared with ``critical_values[0]``: ``z(p1)`` or ``p1``."""
    p1 = np.asarray(p1, dtype=float)
    return _ndtri_upper(p1) if design.combination == "inverse_normal" else p1


def intersection_members(m: int) -> np.ndarray:
    """All ``2**m - 1`` non-empty subsets of ``m`` hypotheses as a boolean ``(H, m)`` array.

    Row 0 is the global intersection; rows follow rpact's order (``expand.grid(1:0, ...)``).

    Examples
    --------
    >>> intersection_members(2).astype(int).tolist()
    [[1, 1], [0, 1], [1, 0]]
    """
    if m < 1:
        raise ValueError(f"the number of hypotheses must be >= 1, got {m}")
    codes = np.arange(2**m - 1)
    return ((codes[:, None] >> np.arange(m)[None, :]) & 1) == 0


def max_normal_sf(z, loadings):
    """``P(max_j Z_j >= z)`` for standard normals with one-factor correlation
    ``corr(Z_i, Z_j) = l_i l_j`` (``0 <= l < 1``), by Gauss-Hermite quadrature over the factor.

    Parameters
    ----------
    z : array (...)
        Observed maxima.
    loadings : array (..., k)
        Factor loadings per member; ``NaN`` = member absent (ignored).

    Many-to-one (Dunnett) comparisons with a shared control: ``l_j = sqrt(n_j / (n_j + n_c))``;
    two correlated statistics with correlation ``rho >= 0``: ``l = (sqrt(rho), sqrt(rho))``.

    Examples
    --------
    >>> round(float(max_normal_sf(2.0, [np.sqrt(0.5), np.sqrt(0.5)])), 6)   # 1 - P(both < 2)
    0.041447
    """
    z = np.asarray(z, dtype=float)
    lam = np.asarray(loadings, dtype=float)
    present = ~np.isnan(lam)
    k = present.sum(axis=-1)
    lo = np.where(present, lam, np.inf).min(axis=-1)
    hi = np.where(present, lam, -np.inf).max(axis=-1)
    if lo.size and np.all(lo == hi) and np.all(lo == lo.flat[0]) and z.size > 4 * _TABLE_Z.size // 100:
        # one common loading (equal allocation): tabulate P(max < z) per k, interpolate
        cdf = np.empty(np.broadcast_shapes(z.shape, k.shape))
        zb, kb = np.broadcast_arrays(z, k)
        for kk in np.unique(kb):
            sel = kb == kk
            cdf[sel] = np.interp(zb[sel], _TABLE_Z, _equal_table(float(lo.flat[0]), int(kk)))
    elif np.all(lo == hi):
        # equal loadings within each row: P(all < z | u) = Phi((z - l u) / s)**k
        s1 = np.sqrt(1.0 - lo**2)
        cond = special.ndtr((z[..., None] - lo[..., None] * _GH_X) / s1[..., None])
        cdf = (cond ** k[..., None]) @ _GH_W
    else:
        lam0 = np.where(present, lam, 0.0)
        s = np.sqrt(1.0 - lam0**2)
        arg = (z[..., None, None] - lam0[..., :, None] * _GH_X) / s[..., :, None]
        cond = np.where(present[..., :, None], special.ndtr(arg), 1.0)
        cdf = np.prod(cond, axis=-2) @ _GH_W
    sf = 1.0 - cdf
    return np.clip(sf, 0.0, 1.0)


def _bvn_max_sf(z, rho):
    """``P(max(Z1, Z2) >= z)`` for a standard bivariate normal with correlation ``rho`` (exact,
    Owen's T: ``P(Z1 < z, Z2 < z) = Phi(z) - 2 T(z, sqrt((1 - rho) / (1 + rho)))``)."""
    a = np.sqrt((1 - rho) / (1 + rho))
    return special.ndtr(-z) + 2 * special.owens_t(z, a)


def _max_normal_sf_tested(zmax, lam, tested, k):
    """Intersection p-value for each (trial, intersection): 1 member closed form, 2 members
    Owen's T, 3 or more members one-factor quadrature (on those entries only)."""
    out = np.full(zmax.shape, np.nan)
    one = k == 1
    out[one] = special.ndtr(-zmax[one])
    two = k == 2
    if two.any():
        lt = np.where(tested, lam, 1.0)[two]
        out[two] = _bvn_max_sf(zmax[two], np.prod(lt, axis=-1))
    many = k >= 3
    if many.any():
        out[many] = max_normal_sf(zmax[many], np.where(tested, lam, np.nan)[many])
    return out


def intersection_pvalues(p, members, method: IntersectionTest, *, z=None, loadings=None):
    """Stage-wise p-values of every intersection hypothesis.

    Parameters
    ----------
    p : array (n, m)
        Elementary one-sided p-values of one stage; ``NaN`` = hypothesis not tested at this stage.
    members : bool array (H, m)
        Intersections (see :func:`intersection_members`).
    method : {"bonferroni", "simes", "sidak", "dunnett", "spiessens_debois"}
        ``bonferroni``: ``min(1, k min p)``; ``simes``: ``min_j k p_(j) / j``; ``sidak``:
        ``1 - (1 - min p)**k`` (k = members tested); ``dunnett`` / ``spiessens_debois``:
        ``P(max Z_j >= max z_j)`` over the tested members for the correlated normal
        statistics given by ``loadings`` (one-factor, see :func:`max_normal_sf`).
    z, loadings : array (n, m)
        Required for ``dunnett`` / ``spiessens_debois``.

    Returns
    -------
    array (n, H); ``NaN`` where no member is tested.
    """
    if method not in INTERSECTION_TESTS:
        raise ValueError(f"intersection_test must be one of {', '.join(INTERSECTION_TESTS)}; got {method!r}")
    p = np.asarray(p, dtype=float)
    members = np.asarray(members, dtype=bool)
    tested = ~np.isnan(p)[:, None, :] & members[None, :, :]  # (n, H, m)
    k = tested.sum(axis=-1)
    none = k == 0
    pp = np.where(tested, p[:, None, :], np.inf)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if method == "bonferroni":
            out = np.minimum(1.0, k * pp.min(axis=-1))
        elif method == "sidak":
            out = -np.expm1(k * np.log1p(-np.minimum(pp.min(axis=-1), 1.0)))
        elif method == "simes":
            srt = np.sort(pp, axis=-1)
            j = np.arange(1, p.shape[1] + 1)
            out = np.min(k[..., None] * srt / j, axis=-1)
        else:
            if z is None or loadings is None:
                raise ValueError(f"intersection_test={method!r} needs z and loadings")
            z = np.asarray(z, dtype=float)
            lam = np.broadcast_to(np.asarray(loadings, dtype=float), p.shape)
            zmax = np.where(tested, z[:, None, :], -np.inf).max(axis=-1)
            out = _max_normal_sf_tested(zmax, np.broadcast_to(lam[:, None, :], tested.shape), tested, k)
    return np.where(none, np.nan, out)


@dataclass(frozen=True)
class ClosedTestResult:
    """Closed-test decisions of a two-stage design (arrays over trials).

    Attributes
    ----------
    rejected : bool (n, m)
        Elementary hypotheses rejected at stage 1 or 2 (rpact: counted only while tested).
    rejected_stage1 : bool (n, m)
    stopped_early : bool (n,)
        Trials stopping at the interim for efficacy (``success`` criterion met).
    intersections_rejected : bool (n, H)
    """

    rejected: np.ndarray
    rejected_stage1: np.ndarray
    stopped_early: np.ndarray
    intersections_rejected: np.ndarray


def closed_test_stage1(q1, members, selected1, design: CombinationDesign,
                       success: Literal["all", "at_least_one"] = "all"):
    """Interim part of the closed test: intersections rejected at stage 1 and early stops."""
    rej_I1 = rejects(stage1_statistic(q1, design), 1, design) & ~np.isnan(q1)
    rej1 = _elementary(rej_I1, members) & selected1
    if success == "all":
        stop = np.all(rej1 | ~selected1, axis=1) & rej1.any(axis=1)
    else:
        stop = rej1.any(axis=1)
    return rej_I1, rej1, stop


def _elementary(rej_I, members):
    """Elementary j rejected iff all intersections containing j are rejected."""
    cover = members[None, :, :]
    return np.all(rej_I[:, :, None] | ~cover, axis=1)


def closed_test(q1, q2, members, design: CombinationDesign, *, selected1=None, selected2=None,
                success: Literal["all", "at_least_one"] = "all") -> ClosedTestResult:
    """Closed combination test over two stages.

    Parameters
    ----------
    q1, q2 : array (n, H)
        Stage-wise intersection p-values (:func:`intersection_pvalues`); ``NaN`` = not tested.
    members : bool (H, m)
    design : CombinationDesign
    selected1, selected2 : bool (n, m), optional
        Hypotheses tested at each stage (default: stage 1 all, stage 2 those with a
        non-NaN elementary p-value, i.e. the singletons of ``q2``).
    success : {"all", "at_least_one"}
        Early stop when all (or at least one) of the stage-1 hypotheses are rejected
        (only with early efficacy bounds); rpact ``successCriterion``.

    Examples
    --------
    >>> d = inverse_normal_design()
    >>> M = intersection_members(2)
    >>> p1 = np.array([[0.01, 0.30]]); p2 = np.array([[0.005, np.nan]])
    >>> q1 = intersection_pvalues(p1, M, "bonferroni"); q2 = intersection_pvalues(p2, M, "bonferroni")
    >>> closed_test(q1, q2, M, d).rejected.tolist()
    [[True, False]]
    """
    q1 = np.asarray(q1, dtype=float)
    q2 = np.asarray(q2, dtype=float)
    members = np.asarray(members, dtype=bool)
    n, H = q1.shape
    m = members.shape[1]
    singles = np.array([np.flatnonzero(np.all(members == np.eye(m, dtype=bool)[j], axis=1))[0] for j in range(m)])
    if selected1 is None:
        selected1 = np.ones((n, m), dtype=bool)
    if selected2 is None:
        selected2 = ~np.isnan(q2[:, singles])
    rej_I1, rej1, stop = closed_test_stage1(q1, members, selected1, design, success)
    if not design.early_efficacy:
        rej_I1 = np.zeros_like(rej_I1)
        rej1 = np.zeros_like(rej1)
        stop = np.zeros(n, dtype=bool)
    stat = combine(q1, q2, design)
    rej_I2 = (rejects(stat, 2, design) & ~np.isnan(q2)) | rej_I1
    rej2 = _elementary(rej_I2, members) & selected2 & ~stop[:, None]
    rejected = rej1 | rej2
    return ClosedTestResult(rejected, rej1, stop, np.where(stop[:, None], rej_I1, rej_I2))


@dataclass(frozen=True)
class InverseNormalK:
    """K-stage inverse-normal design: weights ``sqrt(t_k - t_{k-1})``, z bounds per stage."""

    weights: tuple[float, ...]
    critical_values: tuple[float, ...]
    alpha: float


def inverse_normal_design_k(
    information_rates,
    *,
    alpha: float = 0.025,
    early_efficacy: Literal["none", "obf", "pocock", "obf_spending"] = "none",
) -> InverseNormalK:
    """K-stage inverse-normal design (bounds from msbayes.sequential.boundaries).

    Examples
    --------
    >>> d = inverse_normal_design_k([1/3, 2/3, 1], early_efficacy="obf")
    >>> [round(c, 4) for c in d.critical_values]
    [3.4711, 2.4544, 2.004]
    """
    alpha = _check_alpha(alpha)
    t = np.asarray(information_rates, dtype=float)
    if t.ndim != 1 or t.size < 2 or t[-1] != 1.0 or np.any(np.diff(t) <= 0) or t[0] <= 0:
        raise ValueError(f"information_rates must increase strictly in (0, 1] and end at 1, got {information_rates!r}")
    w = tuple(float(x) for x in np.sqrt(np.diff(np.concatenate([[0.0], t]))))
    if early_efficacy == "none":
        c = (float("inf"),) * (t.size - 1) + (float(_ndtri_upper(alpha)),)
        return InverseNormalK(w, c, alpha)
    from msbayes.sequential.boundaries import Spending, WangTsiatis, group_sequential_design

    eff = {"obf": WangTsiatis(0.0), "pocock": WangTsiatis(0.5), "obf_spending": Spending("obf")}
    if early_efficacy not in eff:
        raise ValueError(f"early_efficacy must be one of none, obf, pocock, obf_spending; got {early_efficacy!r}")
    gs = group_sequential_design(list(t), alpha=alpha, beta=0.2, efficacy=eff[early_efficacy])
    return InverseNormalK(w, tuple(float(c) for c in gs.critical_values), alpha)


def closed_test_k(q, members, design: InverseNormalK, *, selected=None):
    """Closed inverse-normal combination test over K stages.

    Parameters
    ----------
    q : array (n, H, K)
        Stage-wise intersection p-values; ``NaN`` = no member tested at that stage.
    members : bool (H, m)
    design : InverseNormalK
    selected : bool (n, m, K), optional
        Hypotheses tested at each stage (default: singletons' p-values not NaN).

    Returns
    -------
    rejected : bool (n, m, K)
        Cumulative rejections by stage, counted as rpact does (an elementary hypothesis
        rejected at stage k while tested, or earlier). The combined statistic of an intersection
        at stage k is ``sum_j w_j z(q_j) / sqrt(sum_j w_j**2)`` over stages 1..k; it is
        undefined (not rejected) once the intersection has an untested stage. Trials are not
        stopped here: apply a success criterion to ``rejected`` if stopping is wanted.
    combined : float (n, H, K)
        The combined statistics.
    """
    q = np.asarray(q, dtype=float)
    members = np.asarray(members, dtype=bool)
    n, H, K = q.shape
    m = members.shape[1]
    if len(design.weights) != K:
        raise ValueError(f"design has {len(design.weights)} stages, q has {K}")
    singles = np.array([np.flatnonzero(np.all(members == np.eye(m, dtype=bool)[j], axis=1))[0] for j in range(m)])
    if selected is None:
        selected = ~np.isnan(q[:, singles, :])
    w = np.asarray(design.weights)
    zq = _ndtri_upper(q)
    rej_I = np.zeros((n, H), dtype=bool)
    before = np.zeros((n, m), dtype=bool)
    out = np.zeros((n, m, K), dtype=bool)
    combined = np.empty((n, H, K))
    for k in range(K):
        stat = (zq[:, :, : k + 1] @ w[: k + 1]) / np.sqrt(np.sum(w[: k + 1] ** 2))
        combined[:, :, k] = stat
        with np.errstate(invalid="ignore"):
            rej_I |= stat >= design.critical_values[k]
        now = _elementary(rej_I, members) & selected[:, :, k]
        before = before | now
        out[:, :, k] = before
    return out, combined
