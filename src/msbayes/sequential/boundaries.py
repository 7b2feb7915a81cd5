"""One-sided group-sequential boundaries by recursive numerical integration.

The canonical joint distribution (Jennison & Turnbull 2000, ch. 3): at information fractions
``0 < t_1 < ... < t_K = 1`` the z statistics are ``Z_k = S_k / sqrt(t_k)`` where the score
``S_k`` has independent normal increments, ``S_k - S_{k-1} ~ N(theta (t_k - t_{k-1}),
t_k - t_{k-1})``; so ``corr(Z_i, Z_j) = sqrt(t_i / t_j)`` and ``E Z_k = theta sqrt(t_k)``.
``theta`` (the *drift*) is the expected z statistic at the final analysis.

Crossing probabilities are computed by the Armitage-McPherson-Rowe recursion: the sub-density
of ``Z_k`` on paths that have not stopped is propagated stage by stage on a grid with
Simpson's rule (the grid of Jennison & Turnbull, ch. 19: ``6r - 1`` points per stage, denser in
the centre, trimmed to the continuation region). Nothing here simulates.

Boundaries
----------
* Efficacy (upper, reject H0 when ``Z_k >= c_k``): an alpha-spending function
  (:class:`Spending`: ``obf``, ``pocock``, ``hsd`` with ``gamma``, ``kd`` with ``rho``, or
  ``user`` cumulative values), a Wang-Tsiatis boundary shape (:class:`WangTsiatis`: classical
  Pocock ``delta=0.5`` and O'Brien-Fleming ``delta=0``), or user z values (:class:`ZBounds`).
* Futility (lower, stop for futility when ``Z_k <= f_k`` at an interim): beta-spending
  (:class:`Spending` on beta, with the drift solved so that power is ``1 - beta`` and the last
  futility bound meets the last efficacy bound) or user z values (:class:`ZBounds`, ``-inf``
  for "no futility stop at this look").
* ``binding=True``: efficacy bounds are computed with the futility stops in the null
  distribution (alpha is spent only on paths that continue); ``binding=False`` (the usual
  choice): efficacy bounds ignore futility, so the type I error is at most alpha whether or
  not futility stops are obeyed.

The conventions (spending functions, which quantities are reported, expected sample size
with futility stops obeyed) follow rpact's ``getDesignGroupSequential`` /
``getDesignCharacteristics`` so the numbers can be compared side by side
(``tests/test_sequential_boundaries.py``).

Examples
--------
>>> from msbayes.sequential.boundaries import Spending, group_sequential_design
>>> d = group_sequential_design([1/3, 2/3, 1], alpha=0.025, beta=0.2,
...                             efficacy=Spending("obf"), futility=Spending("obf"))
>>> [round(c, 3) for c in d.critical_values]
[3.71, 2.511, 1.993]
>>> [round(f, 3) for f in d.futility_bounds]
[-0.236, 1.17]
>>> round(d.inflation_factor, 4)
1.1043
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from scipy import optimize, special

__all__ = [
    "Spending",
    "WangTsiatis",
    "ZBounds",
    "ConditionalPower",
    "GroupSequentialDesign",
    "StageProbabilities",
    "MeansSampleSize",
    "group_sequential_design",
    "crossing_probabilities",
    "sample_size_means",
    "fixed_sample_size_means",
    "stagewise_p",
    "final_inference",
    "FinalInference",
]

#: grid parameter r of Jennison & Turnbull (6r - 1 points before trimming); 16 gives z bounds
#: within ~1e-6 and inflation factors within ~1e-6 of r = 96 (tests/test_sequential_boundaries.py).
GRID_R = 16
_ZMAX = 40.0  # bounds beyond +-_ZMAX are treated as infinite in root finding


def _phi(x):
    return np.exp(-0.5 * x * x) * 0.3989422804014327


def _sf(x):
    return special.ndtr(-x)


def _cdf(x):
    return special.ndtr(x)


# ---------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Spending:
    """A spending function ``f(t) * total`` (cumulative error spent by information fraction t).

    Parameters
    ----------
    family : {"obf", "pocock", "hsd", "kd", "user"}
        ``obf``: Lan-DeMets O'Brien-Fleming type ``2 (1 - Phi(z_{1 - total/2} / sqrt(t)))``;
        ``pocock``: Lan-DeMets Pocock type ``total log(1 + (e - 1) t)``;
        ``hsd``: Hwang-Shih-DeCani ``total (1 - exp(-gamma t)) / (1 - exp(-gamma))``
        (``gamma = 0``: linear);
        ``kd``: Kim-DeMets power family ``total t^rho``;
        ``user``: cumulative values given in ``values`` (one per look, non-decreasing, the last
        equal to the total).
    param : float, optional
        ``gamma`` for ``hsd`` (finite, default -4), ``rho`` for ``kd`` (> 0, default 1).
    values : sequence of float, optional
        ``user`` only: cumulative error spent at each look.
    """

    family: Literal["obf", "pocock", "hsd", "kd", "user"]
    param: float | None = None
    values: tuple[float, ...] | None = None

    def __post_init__(self):
        fam = self.family
        if fam not in ("obf", "pocock", "hsd", "kd", "user"):
            raise ValueError(f"spending.family: {fam!r} is not one of obf, pocock, hsd, kd, user")
        if fam == "hsd":
            g = -4.0 if self.param is None else float(self.param)
            if not math.isfinite(g):
                raise ValueError(f"spending.param (gamma of hsd) must be finite, got {self.param!r}")
            object.__setattr__(self, "param", g)
        elif fam == "kd":
            rho = 1.0 if self.param is None else float(self.param)
            if not (math.isfinite(rho) and rho > 0):
                raise ValueError(f"spending.param (rho of kd) must be > 0, got {self.param!r}")
            object.__setattr__(self, "param", rho)
        elif self.param is not None:
            raise ValueError(f"spending.param is not used by family {fam!r}")
        if fam == "user":
            if self.values is None:
                raise ValueError("spending.values: required for family 'user'")
            v = tuple(float(x) for x in self.values)
            if any(not math.isfinite(x) or x < 0 for x in v) or any(b < a for a, b in zip(v, v[1:])):
                raise ValueError(f"spending.values must be finite, >= 0 and non-decreasing, got {v}")
            object.__setattr__(self, "values", v)
        elif self.values is not None:
            raise ValueError(f"spending.values is only used by family 'user', not {fam!r}")

    def cumulative(self, t: Sequence[float], total: float) -> np.ndarray:
        """Cumulative error spent at information fractions ``t`` (array)."""
        t = np.asarray(t, dtype=float)
        fam = self.family
        if fam == "user":
            v = np.asarray(self.values)
            if v.shape != t.shape:
                raise ValueError(f"spending.values: {len(v)} values for {t.size} looks")
            if abs(v[-1] - total) > 1e-12:
                raise ValueError(f"spending.values: the last value ({v[-1]}) must equal the total error {total}")
            return v.copy()
        if fam == "obf":
            q = special.ndtri(1 - total / 2)
            with np.errstate(divide="ignore"):
                return 2 * _sf(q / np.sqrt(t))
        if fam == "pocock":
            return total * np.log1p((math.e - 1) * t)
        if fam == "kd":
            return total * t**self.param
        g = self.param
        if g == 0:
            return total * t
        return total * (-np.expm1(-g * t)) / (-math.expm1(-g))

    def label(self) -> str:
        if self.family == "hsd":
            return f"Hwang-Shih-DeCani spending (gamma = {self.param:g})"
        if self.family == "kd":
            return f"Kim-DeMets power spending (rho = {self.param:g})"
        return {"obf": "O'Brien-Fleming type spending", "pocock": "Pocock type spending",
                "user": "user-defined spending"}[self.family]


@dataclass(frozen=True)
class WangTsiatis:
    """Efficacy boundary of the Wang-Tsiatis shape ``c_k = C t_k^(delta - 1/2)``.

    ``delta = 0.5``: classical Pocock (constant z bound); ``delta = 0``: classical
    O'Brien-Fleming. ``C`` is solved so that the type I error is alpha.
    """

    delta: float

    def __post_init__(self):
        if not (math.isfinite(self.delta) and -0.5 <= self.delta <= 1.0):
            raise ValueError(f"efficacy.delta must be in [-0.5, 1], got {self.delta!r}")

    def label(self) -> str:
        if self.delta == 0.5:
            return "Pocock (Wang-Tsiatis delta = 0.5)"
        if self.delta == 0:
            return "O'Brien-Fleming (Wang-Tsiatis delta = 0)"
        return f"Wang-Tsiatis (delta = {self.delta:g})"


@dataclass(frozen=True)
class ConditionalPower:
    """Futility when the conditional power at an interim falls below ``threshold``.

    Conditional power at look k with ``Z_k = z`` is ``P(Z_K >= c_K | Z_k = z)`` (later
    interim looks ignored) under the drift ``theta``:
    ``1 - Phi((c_K - z sqrt(t_k) - theta (1 - t_k)) / sqrt(1 - t_k))``.
    ``assume="design"``: theta = the design's drift (power 1 - beta at the alternative);
    ``assume="trend"``: theta = the current estimate ``z / sqrt(t_k)``. Each rule is a z bound
    ``f_k``; with ``binding=True`` the bounds and the efficacy bounds are solved jointly.
    """

    threshold: float
    assume: Literal["design", "trend"] = "design"

    def __post_init__(self):
        if not (math.isfinite(self.threshold) and 0 < self.threshold < 1):
            raise ValueError(f"futility.threshold (conditional power) must be in (0, 1), got {self.threshold!r}")
        if self.assume not in ("design", "trend"):
            raise ValueError(f"futility.assume must be 'design' or 'trend', got {self.assume!r}")

    def bounds(self, t, c_final: float, drift: float) -> np.ndarray:
        """Interim z bounds where the conditional power equals the threshold."""
        t = np.asarray(t, float)[:-1]
        zg = float(special.ndtri(1 - self.threshold))
        if self.assume == "trend":
            return np.sqrt(t) * (c_final - zg * np.sqrt(1 - t))
        return (c_final - drift * (1 - t) - zg * np.sqrt(1 - t)) / np.sqrt(t)

    def label(self) -> str:
        return f"conditional power < {self.threshold:g} ({self.assume})"


@dataclass(frozen=True)
class ZBounds:
    """User-given z boundaries: efficacy one per look; futility one per interim (K - 1).

    ``inf`` (efficacy) or ``-inf`` (futility) means no stop of that kind at that look.
    """

    values: tuple[float, ...]

    def __post_init__(self):
        v = tuple(float(x) for x in self.values)
        if any(math.isnan(x) for x in v):
            raise ValueError(f"bounds.values must not contain NaN, got {v}")
        object.__setattr__(self, "values", v)

    def label(self) -> str:
        return "user-defined z bounds"


# ---------------------------------------------------------------------------------- recursion
def _grid(mean: float, lo: float, hi: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Simpson grid (points, weights) on (lo, hi) for a density centred near ``mean``.

    Jennison & Turnbull (2000), section 19.2: 6r - 1 points, trimmed to (lo, hi) with the
    bounds added, then interval midpoints for Simpson's rule.
    """
    i = np.arange(1, 6 * r, dtype=float)
    x = np.where(
        i < r,
        -3.0 - 4.0 * np.log(r / i),
        np.where(i <= 5 * r, -3.0 + 3.0 * (i - r) / (2.0 * r), 3.0 + 4.0 * np.log(r / np.maximum(6 * r - i, 1e-300))),
    )
    x = x + mean
    inside = x[(x > lo) & (x < hi)]
    pts = []
    if lo > x[0]:
        pts.append(np.array([lo]))
    pts.append(inside)
    if hi < x[-1]:
        pts.append(np.array([hi]))
    x = np.concatenate(pts)
    if x.size < 2:  # empty or degenerate continuation region: a tiny grid carrying ~0 mass
        a = max(lo, mean - 10)
        b = min(hi, mean + 10)
        x = np.array([a, b]) if b > a else np.array([a, a + 1e-12])
    d = np.diff(x)
    z = np.empty(2 * x.size - 1)
    z[0::2] = x
    z[1::2] = x[:-1] + d / 2
    w = np.zeros_like(z)
    w[0:-1:2] += d / 6
    w[1::2] += 4 * d / 6
    w[2::2] += d / 6
    return z, w


def _recursion(t, lower, upper, drift, r=GRID_R, stop_at=None):
    """Exit probabilities per stage: (upper_k, lower_k) arrays of length K.

    ``lower``/``upper`` on the z scale (``-inf``/``inf`` allowed); stage k continues on
    ``lower_k < Z_k < upper_k``.
    """
    t = np.asarray(t, float)
    K = t.size if stop_at is None else stop_at
    up = np.zeros(K)
    lo = np.zeros(K)
    z = wh = None
    for k in range(K):
        a, b = float(lower[k]), float(upper[k])
        if k == 0:
            m = drift * math.sqrt(t[0])
            up[0] = _sf(b - m) if b < np.inf else 0.0
            lo[0] = _cdf(a - m) if a > -np.inf else 0.0
        else:
            up[k], lo[k] = _exits(z, wh, t[k - 1], t[k], drift, a, b)
        if k < K - 1:
            z, wh = _propagate(z, wh, t, k, drift, a, b, r)
    return up, lo


def _exits(z, wh, t0, t1, drift, a, b):
    dt = t1 - t0
    sd = math.sqrt(dt)
    base = (z * math.sqrt(t0) + drift * dt) / sd
    s1 = math.sqrt(t1) / sd
    pu = float(np.dot(wh, _sf(b * s1 - base))) if b < np.inf else 0.0
    pl = float(np.dot(wh, _cdf(a * s1 - base))) if a > -np.inf else 0.0
    return pu, pl


def _propagate(z, wh, t, k, drift, a, b, r):
    """Grid and weighted sub-density of Z_k on its continuation region (a, b)."""
    m = drift * math.sqrt(t[k])
    zk, wk = _grid(m, a, b, r)
    if k == 0:
        return zk, wk * _phi(zk - m)
    dt = t[k] - t[k - 1]
    sd = math.sqrt(dt)
    arg = (zk[:, None] * math.sqrt(t[k]) - z[None, :] * math.sqrt(t[k - 1]) - drift * dt) / sd
    dens = _phi(arg) @ wh
    return zk, wk * dens * (math.sqrt(t[k]) / sd)


class _Stepper:
    """Stage-by-stage recursion state for solving boundaries one look at a time."""

    def __init__(self, t, drift, r=GRID_R):
        self.t = np.asarray(t, float)
        self.drift = float(drift)
        self.r = r
        self.k = 0
        self.z = self.wh = None

    def exits(self, a, b):
        k = self.k
        if k == 0:
            m = self.drift * math.sqrt(self.t[0])
            return (_sf(b - m) if b < np.inf else 0.0), (_cdf(a - m) if a > -np.inf else 0.0)
        return _exits(self.z, self.wh, self.t[k - 1], self.t[k], self.drift, a, b)

    def _stage_fn(self, tail):
        """x -> P(the stage-k statistic falls in ``tail`` of x) (``_sf`` above, ``_cdf`` below)."""
        k = self.k
        if k == 0:
            m = self.drift * math.sqrt(self.t[0])
            return lambda x: float(tail(x - m))
        t0, t1 = self.t[k - 1], self.t[k]
        dt = t1 - t0
        sd = math.sqrt(dt)
        base = (self.z * math.sqrt(t0) + self.drift * dt) / sd
        s1 = math.sqrt(t1) / sd
        wh = self.wh
        return lambda x: float(np.dot(wh, tail(x * s1 - base)))

    def upper_fn(self):
        """Vectorised-scalar function b -> P(exit above b at this stage)."""
        return self._stage_fn(_sf)

    def lower_fn(self):
        """Vectorised-scalar function a -> P(exit below a at this stage)."""
        return self._stage_fn(_cdf)

    def advance(self, a, b):
        self.z, self.wh = _propagate(self.z, self.wh, self.t, self.k, self.drift, a, b, self.r)
        self.k += 1


def _solve_upper(fn, target, lo=-_ZMAX):
    """b with fn(b) = target (fn decreasing); inf if target <= 0."""
    if target <= 1e-15:
        return math.inf
    if fn(lo) <= target:
        raise ValueError(
            f"cannot spend {target:.3g} at this look: the probability of reaching it is too small "
            "(spending function or futility bounds inconsistent)"
        )
    return optimize.brentq(lambda b: fn(b) - target, lo, _ZMAX, xtol=1e-12, rtol=1e-14, maxiter=200)


def _solve_lower(fn, target, hi):
    """a with fn(a) = target (fn increasing in a, a <= hi); -inf if target <= 0; hi if unreachable."""
    if target <= 1e-15:
        return -math.inf
    hi = min(hi, _ZMAX)
    if fn(hi) <= target:
        return hi
    return optimize.brentq(lambda a: fn(a) - target, -_ZMAX, hi, xtol=1e-12, rtol=1e-14, maxiter=200)


def crossing_probabilities(
    information_rates: Sequence[float],
    critical_values: Sequence[float],
    futility_bounds: Sequence[float] | None = None,
    drift: float = 0.0,
    *,
    r: int = GRID_R,
) -> "StageProbabilities":
    """Per-look probabilities of stopping for efficacy and for futility (exact recursion).

    Parameters
    ----------
    information_rates : increasing fractions ``t_k`` in (0, 1] (the last need not be 1)
    critical_values : efficacy z bounds, one per look (``inf``: none)
    futility_bounds : interim futility z bounds (K - 1 values, ``-inf``: none), or None
    drift : float
        ``E Z`` at information fraction 1 (``E Z_k = drift sqrt(t_k)``).

    Returns
    -------
    StageProbabilities
        ``efficacy[k]`` = P(first stop at look k, for efficacy), ``futility[k]`` likewise
        (0 at the last look: the final analysis accepts H0 rather than "stopping for futility").
    """
    t = _check_rates(information_rates)
    K = t.size
    c = np.asarray(critical_values, float)
    if c.shape != (K,):
        raise ValueError(f"critical_values: {c.size} values for {K} looks")
    f = _futility_array(futility_bounds, K)
    lower = np.append(f, -np.inf)
    up, lo = _recursion(t, lower, c, float(drift), r=r)
    return StageProbabilities(efficacy=tuple(up), futility=tuple(lo), information_rates=tuple(t))


@dataclass(frozen=True)
class StageProbabilities:
    """Per-look stopping probabilities (analytic) for one drift."""

    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    information_rates: tuple[float, ...]

    @property
    def power(self) -> float:
        """P(reject H0 at some look)."""
        return float(math.fsum(self.efficacy))

    @property
    def cumulative_power(self) -> np.ndarray:
        return np.cumsum(self.efficacy)

    @property
    def stop(self) -> np.ndarray:
        """P(the trial ends at look k) (the last look takes all remaining mass)."""
        s = np.asarray(self.efficacy) + np.asarray(self.futility)
        s[-1] = 1.0 - s[:-1].sum()
        return s

    @property
    def expected_information(self) -> float:
        """E[information fraction at the end of the trial]."""
        return float(np.dot(self.stop, self.information_rates))


def _check_rates(information_rates) -> np.ndarray:
    t = np.asarray(information_rates, dtype=float).ravel()
    if t.size < 1:
        raise ValueError("information_rates: at least one look is needed")
    if not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
        raise ValueError(f"information_rates must lie in (0, 1], got {t.tolist()}")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"information_rates must be strictly increasing, got {t.tolist()}")
    return t


def _futility_array(futility_bounds, K) -> np.ndarray:
    if futility_bounds is None:
        return np.full(K - 1, -np.inf)
    f = np.asarray(futility_bounds, float).ravel()
    if f.size != K - 1:
        raise ValueError(f"futility_bounds: {f.size} values for {K - 1} interim looks (K - 1 = {K - 1})")
    if np.any(np.isnan(f)):
        raise ValueError("futility_bounds must not contain NaN")
    return f


# ---------------------------------------------------------------------------------- design
@dataclass(frozen=True, repr=False)
class GroupSequentialDesign:
    """A one-sided group-sequential design (frozen; all numbers analytic).

    Attributes
    ----------
    information_rates : t_k
    alpha, beta : one-sided type I error and type II error (power 1 - beta at ``drift``)
    efficacy, futility : the specs the design was built from (futility None: no futility)
    binding : whether futility stops were taken as binding in the efficacy bounds
    critical_values : efficacy z bounds c_k (``inf``: no efficacy stop at that look)
    futility_bounds : interim futility z bounds f_k, K - 1 values (``-inf``: none)
    alpha_spent : cumulative type I error under H0 (with futility stops if binding, without
        otherwise, i.e. the error the bounds guarantee)
    beta_spent : cumulative P(stop for futility by look k | drift) for k < K, and beta at K
    drift : E Z at t = 1 giving power 1 - beta (futility stops obeyed)
    inflation_factor : (drift / (z_{1-alpha} + z_{1-beta}))^2, maximum information relative
        to the fixed design with the same alpha and power
    h0, h1, h01 : :class:`StageProbabilities` at drift 0, ``drift`` and ``drift / 2``
        (futility stops obeyed)
    """

    information_rates: tuple[float, ...]
    alpha: float
    beta: float
    efficacy: object
    futility: object
    binding: bool
    critical_values: tuple[float, ...]
    futility_bounds: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    beta_spent: tuple[float, ...]
    drift: float
    inflation_factor: float
    h0: StageProbabilities = field(compare=False)
    h1: StageProbabilities = field(compare=False)
    h01: StageProbabilities = field(compare=False)

    @property
    def k_max(self) -> int:
        return len(self.information_rates)

    @property
    def fixed_drift(self) -> float:
        return float(special.ndtri(1 - self.alpha) + special.ndtri(1 - self.beta))

    @property
    def stage_levels(self) -> tuple[float, ...]:
        """Nominal one-sided p-value thresholds 1 - Phi(c_k)."""
        return tuple(float(_sf(c)) for c in self.critical_values)

    @property
    def power(self) -> np.ndarray:
        """Cumulative power by look at ``drift``."""
        return self.h1.cumulative_power

    @property
    def asn_ratio_h0(self) -> float:
        """Expected / fixed-design information under H0."""
        return self.h0.expected_information * self.inflation_factor

    @property
    def asn_ratio_h1(self) -> float:
        return self.h1.expected_information * self.inflation_factor

    @property
    def asn_ratio_h01(self) -> float:
        return self.h01.expected_information * self.inflation_factor

    def probabilities(self, drift: float) -> StageProbabilities:
        """Per-look stopping probabilities at another drift (futility stops obeyed)."""
        return crossing_probabilities(self.information_rates, self.critical_values, self.futility_bounds, drift)

    def effect_scale_bounds(self, se_final: float) -> np.ndarray:
        """Bounds on the effect scale, ``z_k se_final / sqrt(t_k)``: array (2, K), row 0 futility
        (NaN at the last look), row 1 efficacy; ``se_final`` = SE of the estimate at t = 1."""
        t = np.asarray(self.information_rates)
        s = se_final / np.sqrt(t)
        return np.vstack([np.append(self.futility_bounds, np.nan) * s, np.asarray(self.critical_values) * s])

    def __repr__(self) -> str:
        def fmt(v, d=3):
            return ", ".join("Inf" if x == np.inf else "-Inf" if x == -np.inf else f"{x:.{d}f}" for x in v)

        def fmtg(v):
            return ", ".join(f"{x:.4g}" for x in v)

        lines = [
            "Group sequential design (one-sided)",
            f"  Efficacy                  : {self.efficacy.label()}",
            f"  Futility                  : {'none' if self.futility is None else self.futility.label()}"
            + ("" if self.futility is None else (" (binding)" if self.binding else " (non-binding)")),
            f"  Maximum number of stages  : {self.k_max}",
            f"  Information rates         : {fmt(self.information_rates)}",
            f"  Significance level        : {self.alpha:.4f}",
            f"  Type II error rate        : {self.beta:.4f}",
            f"  Critical values           : {fmt(self.critical_values)}",
        ]
        if self.k_max > 1:
            lines.append(f"  Futility bounds           : {fmt(self.futility_bounds) if self.futility is not None else 'none'}")
        lines += [
            f"  Cumulative alpha spent    : {fmtg(self.alpha_spent)}",
            f"  Stage levels (one-sided)  : {fmtg(self.stage_levels)}",
            f"  Cumulative power          : {fmt(self.power, 4)}",
        ]
        if self.futility is not None:
            lines.append(f"  Cumulative beta spent     : {fmtg(self.beta_spent)}")
        lines += [
            f"  Drift (E Z at t = 1, H1)  : {self.drift:.4f}",
            f"  Inflation factor          : {self.inflation_factor:.4f}",
            f"  Expected / fixed n, H0    : {self.asn_ratio_h0:.4f}",
            f"  Expected / fixed n, H1/2  : {self.asn_ratio_h01:.4f}",
            f"  Expected / fixed n, H1    : {self.asn_ratio_h1:.4f}",
        ]
        return "\n".join(lines)


def _check_error(name: str, x: float, hi: float = 0.5) -> float:
    x = float(x)
    if not (math.isfinite(x) and 0 < x < hi):
        raise ValueError(f"{name} must be in (0, {hi}), got {x!r}")
    return x


def _wang_tsiatis(t, alpha, delta, lower):
    shape = t ** (delta - 0.5)

    def size(C):
        up, _ = _recursion(t, lower, C * shape, 0.0)
        return up.sum() - alpha

    C = optimize.brentq(size, 0.5, 20.0, xtol=1e-12, rtol=1e-14)
    return C * shape


def _efficacy_by_spending(t, spend, lower, r=GRID_R):
    """Efficacy bounds for cumulative spending ``spend`` under H0 with continuation (lower, c)."""
    K = t.size
    c = np.empty(K)
    st = _Stepper(t, 0.0, r)
    prev = 0.0
    for k in range(K):
        c[k] = _solve_upper(st.upper_fn(), spend[k] - prev)
        prev = spend[k]
        if k < K - 1:
            st.advance(lower[k], c[k])
    return c


def group_sequential_design(
    information_rates: Sequence[float],
    *,
    alpha: float = 0.025,
    beta: float = 0.2,
    efficacy: Spending | WangTsiatis | ZBounds = Spending("obf"),
    futility: Spending | ConditionalPower | ZBounds | None = None,
    binding: bool = False,
    r: int = GRID_R,
) -> GroupSequentialDesign:
    """Compute a one-sided group-sequential design by recursive numerical integration.

    Parameters
    ----------
    information_rates : sequence of float
        Information fractions of the looks, strictly increasing in (0, 1], the last equal to 1.
    alpha : float
        One-sided type I error, in (0, 0.5). With ``efficacy=ZBounds`` the attained level is
        computed instead (``alpha_spent[-1]``).
    beta : float
        Type II error in (0, 0.5): the drift (and hence the maximum information) is solved for
        power ``1 - beta``.
    efficacy : Spending, WangTsiatis or ZBounds
    futility : Spending (beta-spending), ConditionalPower, ZBounds (K - 1 interim z values) or None
    binding : bool
        Futility stops binding (efficacy bounds computed with them) or not.
    r : int
        Grid parameter of the integration (default :data:`GRID_R`).

    Returns
    -------
    GroupSequentialDesign
    """
    t = _check_rates(information_rates)
    if abs(t[-1] - 1.0) > 1e-12:
        raise ValueError(f"information_rates: the last look must be at 1, got {t[-1]}")
    K = t.size
    alpha = _check_error("alpha", alpha)
    beta = _check_error("beta", beta)
    if not isinstance(efficacy, (Spending, WangTsiatis, ZBounds)):
        raise ValueError(f"efficacy must be a Spending, WangTsiatis or ZBounds, got {type(efficacy).__name__}")
    if futility is not None and not isinstance(futility, (Spending, ZBounds, ConditionalPower)):
        raise ValueError(f"futility must be a Spending, ConditionalPower, ZBounds or None, got {type(futility).__name__}")
    if K == 1:
        futility = None
    z_a = float(special.ndtri(1 - alpha))
    fixed = z_a + float(special.ndtri(1 - beta))
    beta_spending = isinstance(futility, Spending)

    if isinstance(efficacy, Spending):
        spend = efficacy.cumulative(t, alpha)
        if spend[-1] > alpha * (1 + 1e-9) or np.any(spend < 0):
            raise ValueError("efficacy.values: cumulative alpha must be in [0, alpha]")
    if isinstance(efficacy, ZBounds):
        c_user = np.asarray(efficacy.values, float)
        if c_user.size != K:
            raise ValueError(f"efficacy.values: {c_user.size} z bounds for {K} looks")
        if not np.isfinite(c_user[-1]):
            raise ValueError("efficacy.values: the final efficacy bound must be finite")
    if isinstance(futility, ZBounds):
        f_user = _futility_array(futility.values, K)
        if np.any(f_user == np.inf):
            raise ValueError("futility.values: a futility bound cannot be +inf")
    if beta_spending:
        bspend = futility.cumulative(t, beta)
        if binding and not isinstance(efficacy, Spending):
            raise ValueError("futility: binding beta-spending needs an alpha-spending efficacy boundary")

    no_fut = np.full(K, -np.inf)

    # --- efficacy bounds (and futility bounds where they depend on the drift)
    if beta_spending:
        if binding:
            def build(theta):
                return _binding_beta(t, spend, bspend, theta, r)
        else:
            if isinstance(efficacy, Spending):
                c0 = _efficacy_by_spending(t, spend, no_fut, r)
            elif isinstance(efficacy, WangTsiatis):
                c0 = _wang_tsiatis(t, alpha, efficacy.delta, no_fut)
            else:
                c0 = c_user

            def build(theta):
                return c0, _futility_by_beta(t, c0, bspend, theta, r)

        def gap(theta):
            try:
                c, f = build(theta)
            except ValueError:  # binding futility so high that alpha cannot be spent: drift too large
                return 1.0
            up, _ = _recursion(t, np.append(f, -np.inf), c, theta, r)
            return up.sum() - (1 - beta)

        lo_, hi_ = 0.8 * fixed, 1.6 * fixed
        while gap(hi_) < 0:
            hi_ *= 1.5
            if hi_ > 20 * fixed:
                raise ValueError("no drift gives the requested power with this beta-spending")
        while gap(lo_) > 0:
            lo_ *= 0.7
        drift = optimize.brentq(gap, lo_, hi_, xtol=1e-10, rtol=1e-13)
        if abs(gap(drift)) > 1e-6:
            raise ValueError("beta-spending: no drift gives power 1 - beta with feasible binding bounds")
        c, f = build(drift)
    else:
        def efficacy_bounds(f):
            lower_h0 = np.append(f, -np.inf) if binding else no_fut
            if isinstance(efficacy, Spending):
                return _efficacy_by_spending(t, spend, lower_h0, r)
            if isinstance(efficacy, WangTsiatis):
                return _wang_tsiatis(t, alpha, efficacy.delta, lower_h0)
            return c_user

        if isinstance(futility, ConditionalPower):
            # fixed point: the CP bounds depend on c_K (binding) and on the design drift
            f = np.full(K - 1, -np.inf)
            for _ in range(200):
                c = efficacy_bounds(f)
                drift = _power_drift(t, c, f, beta, fixed, r)
                f_new = np.minimum(futility.bounds(t, c[-1], drift), c[:-1])
                if np.all(np.isfinite(f)) and np.max(np.abs(f_new - f)) < 1e-10:
                    break
                f = f_new
            else:  # pragma: no cover - contraction in every case tried
                raise ValueError("futility: conditional-power bounds did not converge")
            f = f_new
            c = efficacy_bounds(f)
        else:
            f = _futility_array(futility.values, K) if isinstance(futility, ZBounds) else np.full(K - 1, -np.inf)
            c = efficacy_bounds(f)

    if np.any(f[np.isfinite(f)] > c[:-1][np.isfinite(f)] + 1e-9):
        k = int(np.argmax(f > c[:-1] + 1e-9))
        raise ValueError(f"futility bound at look {k + 1} ({f[k]:.4g}) is above the efficacy bound ({c[k]:.4g})")

    lower = np.append(f, -np.inf)
    # attained alpha: binding -> with futility; non-binding -> ignoring futility
    up0, _ = _recursion(t, lower if binding else no_fut, c, 0.0, r)
    alpha_spent = np.cumsum(up0)
    if not beta_spending:
        drift = _power_drift(t, c, f, beta, fixed, r)
    h1 = crossing_probabilities(t, c, f, drift, r=r)
    h0 = crossing_probabilities(t, c, f, 0.0, r=r)
    h01 = crossing_probabilities(t, c, f, drift / 2, r=r)
    bspent = np.cumsum(h1.futility)
    bspent[-1] = 1 - h1.power
    if isinstance(efficacy, ZBounds):  # the fixed design compared with has the attained alpha
        fixed = float(special.ndtri(1 - alpha_spent[-1]) + special.ndtri(1 - beta))
    return GroupSequentialDesign(
        information_rates=tuple(float(x) for x in t),
        alpha=float(alpha_spent[-1]) if isinstance(efficacy, ZBounds) else alpha,
        beta=beta,
        efficacy=efficacy,
        futility=futility,
        binding=bool(binding) and futility is not None,
        critical_values=tuple(float(x) for x in c),
        futility_bounds=tuple(float(x) for x in f),
        alpha_spent=tuple(float(x) for x in alpha_spent),
        beta_spent=tuple(float(x) for x in bspent),
        drift=float(drift),
        inflation_factor=float((drift / fixed) ** 2),
        h0=h0,
        h1=h1,
        h01=h01,
    )


def _power_drift(t, c, f, beta, fixed, r):
    """Drift giving power 1 - beta with bounds (c, f), futility stops obeyed."""
    lower = np.append(f, -np.inf)

    def pw(theta):
        up, _ = _recursion(t, lower, c, theta, r)
        return up.sum() - (1 - beta)

    hi_ = 1.5 * fixed
    while pw(hi_) < 0:
        hi_ *= 1.5
        if hi_ > 50 * fixed:
            raise ValueError("no drift reaches the requested power (futility bounds too high?)")
    return optimize.brentq(pw, 0.0, hi_, xtol=1e-10, rtol=1e-13)


def _futility_by_beta(t, c, bspend, theta, r):
    """Interim futility bounds from beta-spending at drift ``theta`` (efficacy bounds fixed)."""
    K = t.size
    f = np.empty(K - 1)
    st = _Stepper(t, theta, r)
    prev = 0.0
    for k in range(K - 1):
        f[k] = _solve_lower(st.lower_fn(), bspend[k] - prev, c[k])
        prev = bspend[k]
        st.advance(f[k], c[k])
    return f


def _binding_beta(t, spend, bspend, theta, r):
    """Binding beta-spending: efficacy bounds under H0 with the futility bounds of drift theta."""
    K = t.size
    c = np.empty(K)
    f = np.empty(K - 1)
    s0 = _Stepper(t, 0.0, r)
    s1 = _Stepper(t, theta, r)
    pa = pb = 0.0
    for k in range(K):
        c[k] = _solve_upper(s0.upper_fn(), spend[k] - pa)
        pa = spend[k]
        if k < K - 1:
            f[k] = _solve_lower(s1.lower_fn(), bspend[k] - pb, c[k])
            pb = bspend[k]
            s0.advance(f[k], c[k])
            s1.advance(f[k], c[k])
    return c, f


# ---------------------------------------------------------------------------------- sample size
def fixed_sample_size_means(
    alternative: float, sd: float, *, alpha: float, beta: float, allocation_ratio: float = 1.0,
    normal_approximation: bool = False,
) -> float:
    """Total n of the fixed one-sided two-sample test (rpact ``getSampleSizeMeans`` convention).

    ``normal_approximation=True``: ``(1 + r)^2 / r * sd^2 (z_{1-a} + z_{1-b})^2 / delta^2``;
    otherwise the smallest real n2 (control) solving the noncentral-t power equation with
    ``df = n (1 + r) - 2``, returned as ``n2 (1 + r)``. ``allocation_ratio`` r = n1 / n2.
    """
    from scipy import stats

    if not (sd > 0 and alternative != 0):
        raise ValueError("sample size: sd must be > 0 and alternative != 0")
    ra = float(allocation_ratio)
    delta = abs(float(alternative))
    za, zb = special.ndtri(1 - alpha), special.ndtri(1 - beta)
    if normal_approximation:
        return float((1 + ra) * (sd**2 + ra * sd**2) / ra * (za + zb) ** 2 / delta**2)
    scale = delta / math.sqrt(sd**2 / ra + sd**2)

    def f(n2):
        df = max(0.001, n2 * (1 + ra) - 2)
        return float(stats.nct.cdf(stats.t.ppf(1 - alpha, df), df, math.sqrt(n2) * scale)) - beta

    hi = 2.0
    while f(hi) > 0:
        hi *= 2
    n2 = optimize.brentq(f, 0.001 if f(0.001) > 0 else hi / 2, hi, xtol=1e-10)
    return float(n2 * (1 + ra))


@dataclass(frozen=True)
class MeansSampleSize:
    """Sample sizes of a two-arm means design (totals over both arms)."""

    n_fixed: float
    n_max: float
    cumulative_n: tuple[float, ...]
    cumulative_n1: tuple[float, ...]
    cumulative_n2: tuple[float, ...]
    expected_n_h0: float
    expected_n_h01: float
    expected_n_h1: float
    critical_values_effect: tuple[float, ...]
    futility_bounds_effect: tuple[float, ...]


def sample_size_means(
    design: GroupSequentialDesign,
    *,
    alternative: float,
    sd: float,
    allocation_ratio: float = 1.0,
    normal_approximation: bool = False,
) -> MeansSampleSize:
    """Sample size of a two-arm comparison of means run with ``design``.

    ``n_max = n_fixed * inflation_factor`` (``n_fixed`` by :func:`fixed_sample_size_means`),
    cumulative n at look k = ``n_max t_k``, expected n = ``n_fixed`` times the design's ASN
    ratios (futility stops obeyed). Bounds on the effect scale use the normal approximation
    ``est_k = z_k sd sqrt(1/n1_k + 1/n2_k)``.
    """
    nf = fixed_sample_size_means(alternative, sd, alpha=design.alpha, beta=design.beta,
                                 allocation_ratio=allocation_ratio, normal_approximation=normal_approximation)
    t = np.asarray(design.information_rates)
    nmax = nf * design.inflation_factor
    cum = nmax * t
    ra = float(allocation_ratio)
    n1 = cum * ra / (1 + ra)
    n2 = cum / (1 + ra)
    se = sd * np.sqrt(1 / n1 + 1 / n2)
    return MeansSampleSize(
        n_fixed=nf,
        n_max=float(nmax),
        cumulative_n=tuple(float(x) for x in cum),
        cumulative_n1=tuple(float(x) for x in n1),
        cumulative_n2=tuple(float(x) for x in n2),
        expected_n_h0=float(nf * design.asn_ratio_h0),
        expected_n_h01=float(nf * design.asn_ratio_h01),
        expected_n_h1=float(nf * design.asn_ratio_h1),
        critical_values_effect=tuple(float(x) for x in np.asarray(design.critical_values) * se),
        futility_bounds_effect=tuple(float(x) for x in np.asarray(design.futility_bounds) * se[:-1]),
    )


# ---------------------------------------------------------------------------------- inference
def stagewise_p(design, look, z, drift: float, *, futility: bool | None = None, r: int = GRID_R) -> np.ndarray:
    """P_drift(an outcome at least as extreme as (look, z)) in the stage-wise ordering.

    Stage-wise ordering (Tsiatis, Rosner & Mehta 1984; Jennison & Turnbull 2000, 8.4): an
    efficacy stop at an earlier look is more extreme than any later outcome; at the same look a
    larger z is more extreme; a trial that continued past a look is more extreme than a
    futility stop there. So ``p = sum_{j < k} P(efficacy stop at j) + P(reach k, Z_k >= z)``,
    with the design's bounds obeyed at the looks before k. At the true drift this is
    Uniform(0, 1); at drift 0 it is the one-sided p-value that respects the design.

    Parameters
    ----------
    design : GroupSequentialDesign (or object with information_rates, critical_values,
        futility_bounds)
    look : int or int array, 1-based look at which the trial stopped
    z : float or array, z statistic at that look
    drift : float, E Z at information fraction 1
    futility : bool, optional
        Whether the ordering uses the futility bounds (the earlier futility stops were obeyed).
        Default: ``design.binding`` (rpact's convention: a non-binding design's futility stops
        may be overruled, so they are ignored, which is conservative).
    """
    if futility is None:
        futility = bool(getattr(design, "binding", True))
    t = np.asarray(design.information_rates, float)
    c = np.asarray(design.critical_values, float)
    f = np.append(np.asarray(design.futility_bounds, float), -np.inf)
    if not futility:
        f = np.full(t.size, -np.inf)
    look = np.asarray(look, dtype=np.int64)
    z = np.asarray(z, dtype=float)
    look, z = np.broadcast_arrays(look, z)
    if np.any((look < 1) | (look > t.size)):
        raise ValueError(f"look must be in 1..{t.size}")
    out = np.empty(z.shape, dtype=float)
    st = _Stepper(t, float(drift), r)
    before = 0.0  # P(efficacy stop before the current look)
    for k in range(t.size):
        sel = look == k + 1
        if np.any(sel):
            zs = z[sel]
            if k == 0:
                out[sel] = _sf(zs - drift * math.sqrt(t[0]))
            else:
                t0, t1 = t[k - 1], t[k]
                dt = t1 - t0
                sd = math.sqrt(dt)
                base = (st.z * math.sqrt(t0) + drift * dt) / sd
                s1 = math.sqrt(t1) / sd
                vals = np.empty(zs.size)
                for i in range(0, zs.size, 4096):  # chunks of 4096 x grid
                    blk = zs[i : i + 4096]
                    vals[i : i + 4096] = _sf(blk[:, None] * s1 - base[None, :]) @ st.wh
                out[sel] = vals
            out[sel] += before
        if k < t.size - 1:
            up, _ = st.exits(f[k], c[k])
            before += up
            st.advance(f[k], c[k])
    return out


@dataclass(frozen=True)
class FinalInference:
    """Inference after a group-sequential trial stopped at ``look`` with statistic ``z``.

    On the drift scale (E Z at t = 1) unless ``scale`` (SE of the estimate at t = 1) was given,
    then on the effect scale (drift x scale).
    """

    look: int
    z: float
    p_value: float
    median_unbiased: float
    ci_lower: float
    ci_upper: float
    level: float
    naive: float


def final_inference(design, look: int, z: float, *, level: float = 0.95, scale: float = 1.0,
                    futility: bool | None = None, r: int = GRID_R) -> FinalInference:
    """Stage-wise-ordering p-value, median-unbiased estimate and confidence interval.

    ``median_unbiased`` solves ``stagewise_p(theta) = 0.5``; the two-sided ``level`` interval
    solves it for ``(1 -+ level) / 2``; ``p_value`` is ``stagewise_p`` at drift 0; ``naive`` is
    the maximum likelihood estimate ``z / sqrt(t_look)``. All multiplied by ``scale``.
    ``futility`` as in :func:`stagewise_p`.
    """
    if not (0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    t = np.asarray(design.information_rates, float)
    k = int(look)
    if not 1 <= k <= t.size:
        raise ValueError(f"look must be in 1..{t.size}, got {look!r}")
    z = float(z)
    if not math.isfinite(z):
        raise ValueError(f"z must be finite, got {z!r}")
    naive = z / math.sqrt(t[k - 1])

    def p(theta):
        return float(stagewise_p(design, k, z, theta, futility=futility, r=r))

    def root(target):
        lo, hi = naive - 4.0, naive + 4.0
        while p(lo) > target:
            lo -= 4.0
        while p(hi) < target:
            hi += 4.0
        return optimize.brentq(lambda th: p(th) - target, lo, hi, xtol=1e-10)

    a = (1 - level) / 2
    return FinalInference(
        look=k, z=z, p_value=p(0.0), median_unbiased=root(0.5) * scale,
        ci_lower=root(a) * scale, ci_upper=root(1 - a) * scale, level=float(level), naive=naive * scale,
    )
