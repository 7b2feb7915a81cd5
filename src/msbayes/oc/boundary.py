"""Decision boundary and assurance ceiling of a two-arm design.

**Go boundary.** Every two-arm analysis turns the effect estimate ``x`` (with standard error
``se``) into P(effect > c | x), which increases with ``x`` (normal likelihood: monotone
likelihood ratio, whatever the prior). So "go" is the event ``x >= b``: ``b`` is the smallest
observed effect that gives "go". At the design's nominal standard error

    se = sd_eff * sqrt(1 / c0 + 1 / c1),   c_i = n_i (1 - dropout),
    sd_eff = sd (difference in means) or sd sqrt(1 - rho^2) (ANCOVA estimate),

closed forms (z_p, t_p: standard normal / Student-t quantiles):

* dual rule, each condition P(effect > c) >= p with p in (0, 1) (c = 0 with ``p_benefit``,
  c = MCID with ``p_mcid``); ``b`` = the largest of:
  - flat prior or frequentist confidence distribution: ``c + q_p se`` (``q`` = z for
    ``plugin`` / ``known`` variance, t with df = c0 + c1 - 2 (ANCOVA: - 3) for ``student_t``,
    welch and ancova);
  - normal prior N(m0, s0^2): ``((c + z_p s_post)(s0^2 + se^2) - m0 se^2) / s0^2`` with
    ``s_post = s0 se / sqrt(s0^2 + se^2)``;
  - normal-mixture prior: no closed form; bisection on the rule itself;
* significance rule (one-sided alpha): ``b = t_{1 - alpha, df} se``.

With ``variance: plugin`` / welch / ancova the observed SE varies from trial to trial, so
the boundary is that at the nominal SE (exact for ``variance: known``).

**Assurance ceiling.** As n grows, se -> 0 and the posterior (or confidence distribution)
concentrates at the estimate, which converges to the true (enrolment-weighted) effect: "go"
then needs true effect > c*, with c* = MCID if ``go.p_mcid > 0``, else 0 (significance rule:
0). So assurance -> P(effect > c*) under the design prior: the **assurance ceiling**, which no
sample size can exceed in the limit.

Examples
--------
>>> from msbayes.design.config import validate_sim_config
>>> from msbayes.oc.boundary import go_boundary
>>> cfg = validate_sim_config({"name": "x", "seed": 1, "endpoint": {"sd": 0.35},
...     "design": {"type": "parallel", "n_per_arm": 100}, "scenarios": {"null": {"effect": 0.0}},
...     "analysis": {"method": "bayes_normal", "prior": "flat", "variance": "known"},
...     "decision": {"go": {"p_benefit": 0.975, "p_mcid": 0.0}}})
>>> b = go_boundary(cfg)
>>> round(b.boundary, 4), round(b.se, 4)   # 1.96 * 0.35 * sqrt(2 / 100)
(0.097, 0.0495)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["DesignBoundary", "design_se", "go_boundary", "go_boundary_bisect", "ceiling_threshold", "cell_constants"]


@dataclass(frozen=True)
class DesignBoundary:
    """Smallest observed effect giving "go" (``boundary``) at standard error ``se``, t ``df``
    (inf: normal), and how it was found (``method``: ``closed_form`` | ``bisection``)."""

    boundary: float
    se: float
    df: float
    method: str


def design_se(cfg, n_per_arm: int | None = None) -> tuple[float, float]:
    """Nominal ``(se, df)`` of the design's effect estimate (expected completers, true SD).

    ``df`` is what the analysis uses for its quantiles: inf for ``bayes_normal`` with
    ``plugin`` / ``known`` variance, ``c0 + c1 - 2`` (ANCOVA ``- 3``) otherwise.
    """
    ep = cfg.endpoint
    sizes = cfg.design.arm_sizes(n_per_arm)
    c = [n * (1.0 - ep.dropout) for n in sizes]
    anc = cfg.analysis_needs_baseline
    sd = ep.sd * (math.sqrt(1.0 - ep.baseline_corr**2) if anc else 1.0)
    se = sd * math.sqrt(1.0 / c[0] + 1.0 / c[1])
    df = c[0] + c[1] - (3.0 if anc else 2.0)
    a = cfg.analysis
    if a.method == "bayes_normal" and a.variance in ("plugin", "known"):
        df = math.inf
    return se, df


def _q(p: float, df: float) -> float:
    return float(special.ndtri(p)) if not math.isfinite(df) else float(special.stdtrit(df, p))


def _conditions(cfg) -> list[tuple[float, float]]:
    """(c, p): go needs P(effect > c) >= p (conditions with p = 0 always hold)."""
    d = cfg.decision
    if getattr(d, "rule", "dual") == "significance":
        return [(0.0, 1.0 - d.alpha)]
    out = []
    if d.go.p_benefit > 0:
        out.append((0.0, d.go.p_benefit))
    if d.go.p_mcid > 0:
        out.append((cfg.endpoint.mcid, d.go.p_mcid))
    return out


def ceiling_threshold(cfg) -> float:
    """c* such that, as n grows, "go" <=> true effect > c* (``-inf``: always go, ``inf``: never)."""
    conds = _conditions(cfg)
    if not conds:
        return -math.inf
    if any(p >= 1 for _, p in conds):
        return math.inf
    return max(c for c, _ in conds)


def go_boundary(cfg, *, n_per_arm: int | None = None, se: float | None = None, df: float | None = None) -> DesignBoundary:
    """The go boundary of a two-arm design (closed form where one exists, else bisection)."""
    if se is None:
        se, df0 = design_se(cfg, n_per_arm)
        df = df0 if df is None else df
    elif df is None:
        df = design_se(cfg, n_per_arm)[1]
    a = cfg.analysis
    conds = _conditions(cfg)
    if not conds:
        return DesignBoundary(-math.inf, se, df, "closed_form")
    if any(p >= 1 for _, p in conds):
        return DesignBoundary(math.inf, se, df, "closed_form")
    prior = getattr(a, "prior", "flat")
    if a.method == "bayes_normal" and prior != "flat" and hasattr(prior, "weights"):
        return go_boundary_bisect(cfg, se=se, df=df)
    bs = []
    for c, p in conds:
        if a.method == "bayes_normal" and prior != "flat":
            m0, s0 = prior.mean, prior.sd
            tot = s0 * s0 + se * se
            s_post = s0 * se / math.sqrt(tot)
            bs.append(((c + _q(p, math.inf) * s_post) * tot - m0 * se * se) / (s0 * s0))
        else:
            bs.append(c + _q(p, df) * se)
    return DesignBoundary(max(bs), se, df, "closed_form")


def _go_at(cfg, x: np.ndarray, se: float, df: float) -> np.ndarray:
    """The engine's own go decision for estimates ``x`` at standard error ``se``."""
    from msbayes.oc.decision import decision_from_spec
    from msbayes.simulate.analyses import Estimate, bayes_normal, frequentist
    from msbayes.simulate.twoarm import _analysis_prior

    x = np.asarray(x, dtype=float)
    est = Estimate(x, np.full_like(x, se), np.full_like(x, df), np.ones(x.shape, bool))
    a = cfg.analysis
    if a.method == "bayes_normal":
        if a.variance == "student_t":
            res = bayes_normal(est, prior=None, student_t=True)
        else:
            res = bayes_normal(est, prior=_analysis_prior(a))
    else:
        res = frequentist(est)
    go, _ = decision_from_spec(cfg.decision)(res, mcid=cfg.endpoint.mcid)
    return np.asarray(go, bool)


def go_boundary_bisect(cfg, *, se: float, df: float, tol: float = 1e-12) -> DesignBoundary:
    """Go boundary by bisection on the engine's decision rule (any prior)."""
    scale = max(abs(cfg.endpoint.mcid), se, 1e-6)
    lo, hi = -10 * scale, 10 * scale
    for _ in range(200):
        if not _go_at(cfg, np.array([hi]), se, df)[0]:
            hi = hi + (hi - lo)
        elif _go_at(cfg, np.array([lo]), se, df)[0]:
            lo = lo - (hi - lo)
        else:
            break
    else:  # pragma: no cover - the rule is monotone with finite limits
        return DesignBoundary(math.nan, se, df, "bisection")
    while hi - lo > tol * max(1.0, abs(hi)):
        mid = 0.5 * (lo + hi)
        if _go_at(cfg, np.array([mid]), se, df)[0]:
            hi = mid
        else:
            lo = mid
    return DesignBoundary(hi, se, df, "bisection")


def cell_constants(cfg, sampler) -> dict[str, float]:
    """Per-cell constants written next to the OCs in ``oc.nc``.

    ``go_boundary`` and ``design_se`` (see module docstring), ``assurance_ceiling`` =
    P(enrolment-weighted true effect > c*) under the scenario and
    ``assurance_ceiling_mcse`` (batch means over posterior draws; 0 for closed forms),
    ``ceiling_threshold`` = c*.
    """
    b = go_boundary(cfg)
    cstar = ceiling_threshold(cfg)
    if math.isinf(cstar):
        ceil, ceil_se = (1.0 if cstar < 0 else 0.0), 0.0
    else:
        ceil, ceil_se = sampler.prob_above(cstar, cfg.endpoint.stratum_weights)
    return {"go_boundary": float(b.boundary), "design_se": float(b.se), "ceiling_threshold": float(cstar),
            "assurance_ceiling": float(ceil), "assurance_ceiling_mcse": float(ceil_se)}
