"""Vectorized two-arm group-sequential trials through stage-wise sufficient statistics.

For each trial (leading simulation axis), arm and stage ``k`` the ``m_k`` new completers
contribute an independent increment: their outcome sum ``~ N(m_k mu_arm, m_k sigma^2)`` and
(for the t statistic) their within-stage sum of squares ``sigma^2 chi2(m_k - 1)``. Cumulative
statistics at look k are cumulative sums of the increments (exact: the pooled sum of squares
adds the between-stage term), so a K-look trial costs about K fixed trials and no patient is
drawn. Every look is computed for every trial; an ``active`` mask says which trials are still
running, and a trial stops at the first look where its z statistic crosses a bound.

Statistics: ``"z"`` (known SD, the canonical joint distribution exactly; what rpact's
``getSimulationMeans`` simulates with its default ``normalApproximation = TRUE``) or ``"t"``
(pooled-variance Student t on the cumulative data, put on the z scale by its p-value,
``z = Phi^-1(T_df(t))``; an approximation to the boundaries, exact per look).

Per-trial outcomes go through :class:`msbayes.oc.accumulate.Accumulator`, so every OC has its
Monte Carlo standard error and chunks merge exactly (chunk ``j`` uses
``msbayes.rng.chunk_rng(seed_sequence, j)``).

Examples
--------
>>> from msbayes.sequential.boundaries import Spending, group_sequential_design
>>> from msbayes.sequential.simulate import simulate_two_arm
>>> d = group_sequential_design([0.5, 1.0], efficacy=Spending("obf"), futility=Spending("obf"))
>>> res = simulate_two_arm(d, n_per_arm=[50, 100], effect=0.182, sd=0.35, n_sims=20_000, seed=1)
>>> res.p_efficacy.shape, 0.94 < res.power < 0.98
((2,), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import special

from msbayes.oc.accumulate import Accumulator
from msbayes.rng import SeedLike, as_seed_sequence, chunk_rng

from .boundaries import StageProbabilities, crossing_probabilities

__all__ = ["SequentialSimResult", "simulate_two_arm", "simulate_chunk", "analytic_probabilities", "look_information"]


def _cum_sizes(name: str, n, K: int) -> np.ndarray:
    n = np.asarray(n)
    if n.ndim != 1 or n.size != K:
        raise ValueError(f"{name}: {n.size} cumulative sizes for {K} looks")
    if not np.issubdtype(n.dtype, np.integer):
        if not np.all(np.isfinite(n)) or np.any(n != np.round(n)):
            raise ValueError(f"{name} must be whole numbers of patients, got {n.tolist()}")
        n = n.astype(np.int64)
    if np.any(n < 1) or np.any(np.diff(n) <= 0):
        raise ValueError(f"{name} must be cumulative patients per look, >= 1 and strictly increasing, got {n.tolist()}")
    return n.astype(np.int64)


def _bounds(design) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(design.critical_values, float)
    f = np.asarray(design.futility_bounds, float)
    if f.size != c.size - 1:
        raise ValueError(f"futility_bounds: {f.size} values for {c.size - 1} interim looks")
    return c, f


def look_information(n_control: np.ndarray, n_treatment: np.ndarray) -> tuple[np.ndarray, float]:
    """Information fractions of the looks and 1 / SE at the last look, per unit SD."""
    info = 1.0 / (1.0 / n_control + 1.0 / n_treatment)
    return info / info[-1], math.sqrt(info[-1])


def analytic_probabilities(design, n_control, n_treatment, *, effect: float, sd: float) -> StageProbabilities:
    """Exact stopping probabilities of the simulated z-statistic trial (recursive integration).

    Uses the information fractions implied by the actual cumulative sizes (which may differ
    slightly from the design's planned fractions after rounding to whole patients).
    """
    c, f = _bounds(design)
    n0 = _cum_sizes("n_control", n_control, c.size)
    n1 = _cum_sizes("n_treatment", n_treatment, c.size)
    t, root_info = look_information(n0, n1)
    return crossing_probabilities(t, c, f, drift=effect / sd * root_info)


def simulate_chunk(
    c: np.ndarray,
    f: np.ndarray,
    n_control: np.ndarray,
    n_treatment: np.ndarray,
    *,
    effect: float,
    sd: float,
    m: int,
    rng: np.random.Generator,
    statistic: Literal["z", "t"] = "z",
    obey_futility: bool = True,
    dropout: float = 0.0,
) -> dict[str, np.ndarray]:
    """Simulate ``m`` trials; per-trial outcomes (standard keys + per-look stop indicators).

    Returns
    -------
    dict
        ``go`` (H0 rejected at some look), ``nogo`` (not rejected), ``est`` (difference in means
        at the stopping look), ``true``, ``n_total`` (patients randomized by the stopping look),
        ``n_analysed`` (completers by then),
        ``stop_look`` (float, 1-based), and bool ``efficacy_look{k}``, ``futility_look{k}``,
        ``stop_look{k}`` for k = 1..K (all standard :class:`Accumulator` input).
    """
    K = c.size
    if dropout > 0:  # MCAR: completers among each stage's new patients
        q = 1.0 - dropout
        inc0 = rng.binomial(np.diff(n_control, prepend=0), q, size=(m, K)).astype(float)
        inc1 = rng.binomial(np.diff(n_treatment, prepend=0), q, size=(m, K)).astype(float)
    else:
        inc0 = np.diff(n_control, prepend=0).astype(float)
        inc1 = np.diff(n_treatment, prepend=0).astype(float)
    n0 = np.cumsum(inc0, axis=-1)
    n1 = np.cumsum(inc1, axis=-1)
    # stage increments of the outcome sums (deviations from the control mean: the statistics
    # depend only on the difference)
    s0 = rng.standard_normal((m, K))
    s0 *= sd * np.sqrt(inc0)
    s1 = rng.standard_normal((m, K))
    s1 *= sd * np.sqrt(inc1)
    s1 += effect * inc1
    np.cumsum(s0, axis=1, out=s0)
    np.cumsum(s1, axis=1, out=s1)
    with np.errstate(divide="ignore", invalid="ignore"):  # no completers yet in an arm: NaN, never crosses
        est = s1 / n1 - s0 / n0
        if statistic == "z":
            z = est / (sd * np.sqrt(1.0 / n0 + 1.0 / n1))
        else:
            # within-stage sums of squares, then the cumulative pooled SS (adds the between-stage
            # spread): SS_cum = sum_k (SS_k + S_k^2 / m_k) - S_cum^2 / n, stage sums S_k by diff
            stage0 = np.diff(s0, axis=1, prepend=0.0)
            stage1 = np.diff(s1, axis=1, prepend=0.0)
            df0 = np.broadcast_to(np.maximum(inc0 - 1, 0), (m, K))
            df1 = np.broadcast_to(np.maximum(inc1 - 1, 0), (m, K))
            q0 = 2.0 * rng.standard_gamma(df0 / 2) * sd**2 + np.where(inc0 > 0, stage0**2 / np.maximum(inc0, 1), 0.0)
            q1 = 2.0 * rng.standard_gamma(df1 / 2) * sd**2 + np.where(inc1 > 0, stage1**2 / np.maximum(inc1, 1), 0.0)
            ss = np.cumsum(q0, axis=1) - s0**2 / n0 + np.cumsum(q1, axis=1) - s1**2 / n1
            df = n0 + n1 - 2
            tstat = est / np.sqrt(ss / df * (1.0 / n0 + 1.0 / n1))
            z = np.where(df > 0, -special.ndtri(special.stdtr(np.maximum(df, 1), -tstat)), np.nan)
    active = np.ones(m, dtype=bool)
    out: dict[str, np.ndarray] = {}
    go = np.zeros(m, dtype=bool)
    stop_look = np.full(m, K, dtype=np.int64)
    est_stop = np.empty(m)
    n_stop = np.empty(m)
    n_done = np.empty(m)
    n_tot = (n_control + n_treatment).astype(float)  # randomized
    n_comp = np.broadcast_to(n0 + n1, (m, K))  # completers
    for k in range(K):
        zk = z[:, k]
        e = active & (zk >= c[k])
        if k < K - 1:
            g = active & ~e & (zk <= f[k]) if obey_futility else np.zeros(m, dtype=bool)
            ended = active & (e | g)
        else:
            g = active & ~e
            ended = active.copy()
        out[f"efficacy_look{k + 1}"] = e
        out[f"futility_look{k + 1}"] = g
        out[f"stop_look{k + 1}"] = ended
        go |= e
        stop_look[ended] = k + 1
        est_stop[ended] = est[ended, k]
        n_stop[ended] = n_tot[k]
        n_done[ended] = n_comp[ended, k]
        active &= ~ended
    out.update(go=go, nogo=~go, est=est_stop, true=np.full(m, float(effect)), n_total=n_stop,
               n_analysed=n_done, stop_look=stop_look.astype(float))
    return out


@dataclass(frozen=True)
class SequentialSimResult:
    """Operating characteristics of a simulated group-sequential design, with MCSE.

    Arrays are per look (length K). ``p_futility[-1]`` is P(reaching the last look and not
    rejecting). ``power`` = P(reject at some look) (type I error under effect 0).
    """

    n_sims: int
    effect: float
    p_efficacy: np.ndarray
    p_efficacy_mcse: np.ndarray
    p_futility: np.ndarray
    p_futility_mcse: np.ndarray
    p_stop: np.ndarray
    p_stop_mcse: np.ndarray
    cumulative_power: np.ndarray
    cumulative_power_mcse: np.ndarray
    power: float
    power_mcse: float
    expected_n: float
    expected_n_mcse: float
    mean_n_analysed: float
    mean_n_analysed_mcse: float
    mean_est: float
    mean_est_mcse: float
    bias: float
    bias_mcse: float
    accumulator: Accumulator

    def __repr__(self) -> str:
        def v(a, e):
            return ", ".join(f"{x:.4f} ({y:.4f})" for x, y in zip(a, e))

        return "\n".join([
            f"Simulated group-sequential trials: {self.n_sims} trials, effect {self.effect:g} (MCSE in brackets)",
            f"  P(stop for efficacy) by look : {v(self.p_efficacy, self.p_efficacy_mcse)}",
            f"  P(stop for futility) by look : {v(self.p_futility, self.p_futility_mcse)}",
            f"  Cumulative power             : {v(self.cumulative_power, self.cumulative_power_mcse)}",
            f"  Power / type I error         : {self.power:.4f} ({self.power_mcse:.4f})",
            f"  Expected n (both arms)       : {self.expected_n:.2f} ({self.expected_n_mcse:.2f})",
            f"  Bias of estimate at stopping : {self.bias:.4f} ({self.bias_mcse:.4f})",
        ])


def _result(acc: Accumulator, K: int, effect: float) -> SequentialSimResult:
    r = acc.finalize()
    n = acc.n
    pe = np.array([r[f"p_efficacy_look{k}"] for k in range(1, K + 1)])
    pf = np.array([r[f"p_futility_look{k}"] for k in range(1, K + 1)])
    ps = np.array([r[f"p_stop_look{k}"] for k in range(1, K + 1)])
    cp = np.cumsum(pe)
    return SequentialSimResult(
        n_sims=n,
        effect=float(effect),
        p_efficacy=pe,
        p_efficacy_mcse=np.sqrt(pe * (1 - pe) / n),
        p_futility=pf,
        p_futility_mcse=np.sqrt(pf * (1 - pf) / n),
        p_stop=ps,
        p_stop_mcse=np.sqrt(ps * (1 - ps) / n),
        cumulative_power=cp,
        cumulative_power_mcse=np.sqrt(cp * (1 - cp) / n),
        power=float(r["p_go"]),
        power_mcse=float(math.sqrt(r["p_go"] * (1 - r["p_go"]) / n)),
        expected_n=float(r["expected_n"]),
        expected_n_mcse=float(r["expected_n_mcse"]),
        mean_n_analysed=float(r["mean_n_analysed"]),
        mean_n_analysed_mcse=float(r["mean_n_analysed_mcse"]),
        mean_est=float(r["mean_est"]),
        mean_est_mcse=float(r["mean_est_mcse"]),
        bias=float(r["bias"]),
        bias_mcse=float(r["bias_mcse"]),
        accumulator=acc,
    )


def simulate_two_arm(
    design,
    *,
    n_per_arm: Sequence[int] | None = None,
    n_control: Sequence[int] | None = None,
    n_treatment: Sequence[int] | None = None,
    effect: float,
    sd: float,
    n_sims: int,
    seed: SeedLike,
    statistic: Literal["z", "t"] = "z",
    obey_futility: bool = True,
    dropout: float = 0.0,
    chunk_size: int = 100_000,
    first_chunk: int = 0,
) -> SequentialSimResult:
    """Simulate a two-arm group-sequential trial ``n_sims`` times.

    Parameters
    ----------
    design : GroupSequentialDesign (or any object with ``critical_values`` and
        ``futility_bounds`` on the z scale)
    n_per_arm : cumulative completers per arm at each look (both arms), or give
        ``n_control`` and ``n_treatment`` separately (unequal allocation)
    effect : true difference in means (treatment - control; positive = better)
    sd : within-arm SD (> 0)
    n_sims : number of simulated trials (>= 1)
    seed : int or SeedSequence (chunk ``j`` uses ``msbayes.rng.chunk_rng(seed, first_chunk + j)``)
    statistic : ``"z"`` (known SD) or ``"t"`` (pooled t, mapped to the z scale by its p-value)
    obey_futility : False simulates a non-binding design whose futility stops are ignored
    dropout : MCAR probability in [0, 1) that a patient has no primary outcome; the sizes are
        then patients randomized, completers are Binomial per stage and arm, and the bounds are
        the design's (planned) z bounds applied to the observed statistics
    """
    c, f = _bounds(design)
    K = c.size
    if n_per_arm is not None:
        if n_control is not None or n_treatment is not None:
            raise ValueError("n_per_arm: give either n_per_arm or n_control and n_treatment, not both")
        n_control = n_treatment = n_per_arm
    if n_control is None or n_treatment is None:
        raise ValueError("n_per_arm: required (or n_control and n_treatment)")
    n0 = _cum_sizes("n_control", n_control, K)
    n1 = _cum_sizes("n_treatment", n_treatment, K)
    if statistic not in ("z", "t"):
        raise ValueError(f"statistic must be 'z' or 't', got {statistic!r}")
    if statistic == "t" and (n0[0] + n1[0] < 3):
        raise ValueError("n_per_arm: the t statistic needs at least 3 patients at the first look")
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(f"sd must be > 0, got {sd!r}")
    if not (math.isfinite(dropout) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not math.isfinite(effect):
        raise ValueError(f"effect must be finite, got {effect!r}")
    if int(n_sims) < 1 or int(chunk_size) < 1:
        raise ValueError(f"n_sims and chunk_size must be >= 1, got {n_sims}, {chunk_size}")
    ss = as_seed_sequence(seed)
    acc = Accumulator()
    done = 0
    j = first_chunk
    while done < n_sims:
        m = min(int(chunk_size), int(n_sims) - done)
        out = simulate_chunk(c, f, n0, n1, effect=float(effect), sd=float(sd), m=m, rng=chunk_rng(ss, j),
                             statistic=statistic, obey_futility=obey_futility, dropout=float(dropout))
        acc.add(out, chunk=j)
        done += m
        j += 1
    return _result(acc, K, effect)
