"""Bayesian (sigmoid) Emax analysis: exact grid posterior, vectorised over simulated trials.

Model for the arm means of one trial (sufficient statistics of a normal outcome)::

    ybar_i ~ N(E0 + Emax g(d_i; ED50, h), sigma^2 / n_i),   g = d^h / (ED50^h + d^h)
    E0 ~ N(m0, s0^2),  Emax ~ N(m1, s1^2),  (ED50, h) ~ discrete prior on a grid

with ``sigma^2`` plugged in from the pooled within-arm variance. Given a grid point the
model is linear-Gaussian in ``(E0, Emax)``, so the marginal likelihood of the arm means and
the normal posterior of ``(E0, Emax)`` are closed form; the grid weights are the normalised
products of prior weight and marginal likelihood. The posterior of
``effect(d) = Emax g(d)`` is a mixture of normals over the grid, from which
P(effect(d) > c), the posterior mean, the MED estimate (smallest tested dose with
P(effect > MCID) >= gamma) and the target dose of the posterior-mean curve follow.

Grid prior weights: the prior density of ED50 (``log_uniform``: density ∝ 1/ED50 on
[lower, upper]; or log-normal) times the grid cell width (midpoint rule), likewise for Hill
when it is a grid; so a log-uniform prior on a log-spaced grid gives equal weights. The
discretisation is the only approximation (besides the plug-in sigma).

Examples
--------
>>> import numpy as np
>>> from msbayes.design.dosefinding import BayesEmaxAnalysis
>>> an = BayesEmaxAnalysis.model_validate({"method": "bayes_emax",
...     "ed50_grid": {"lower": 0.5, "upper": 30, "n": 64},
...     "prior_e0": {"mean": 0, "sd": 1}, "prior_emax": {"mean": 0, "sd": 1}})
>>> plan = prepare_bayes_emax(an, [0, 3, 6, 10], d_ref=10, mcid=0.18)
>>> res = analyse_bayes_emax(plan, np.array([[0.0, 0.15, 0.2, 0.25]]), np.array([0.1]),
...                          n=np.array([30, 30, 30, 30]))
>>> bool(res["p_gt0"][0, -1] > 0.99)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from msbayes.design.dosefinding import BayesEmaxAnalysis, GridSpec, LogNormalPrior
from msbayes.design.doseresponse import shape_g

__all__ = ["BayesEmaxPlan", "prepare_bayes_emax", "analyse_bayes_emax", "grid_log_prior"]


@dataclass(frozen=True)
class BayesEmaxPlan:
    """Data-independent parts of the grid posterior (computed once per design)."""

    doses: np.ndarray  # (k,)
    ed50: np.ndarray  # (G,)
    hill: np.ndarray  # (G,)
    log_prior: np.ndarray  # (G,)
    g: np.ndarray  # (G, k) shape at the tested doses
    g_eval: np.ndarray  # (G, k) at active doses (k-1) + d_ref
    d_fine: np.ndarray  # (F,) fine dose grid for the target dose
    g_fine: np.ndarray  # (G, F)
    m0: float
    s0: float
    m1: float
    s1: float
    mcid: float
    gamma: float
    d_ref: float
    decision_dose: str


def _cell_widths(x: np.ndarray) -> np.ndarray:
    if len(x) == 1:
        return np.ones(1)
    mid = 0.5 * (x[1:] + x[:-1])
    edges = np.concatenate([[x[0]], mid, [x[-1]]])
    return np.diff(edges)


def grid_log_prior(points: np.ndarray, prior) -> np.ndarray:
    """Log prior weights (unnormalised) of grid ``points`` under ``prior``.

    ``"log_uniform"``: density ∝ 1/x; ``LogNormalPrior``: log-normal density; times the
    midpoint-rule cell width.

    Examples
    --------
    >>> w = np.exp(grid_log_prior(np.geomspace(1, 100, 5), "log_uniform"))
    >>> np.allclose(w[1:-1] / w[1], 1.0)
    True
    """
    x = np.asarray(points, dtype=float)
    if isinstance(prior, LogNormalPrior):
        mu, sd = np.log(prior.lognormal.median), prior.lognormal.sd_log
        if sd == 0:
            raise ValueError("prior: a log-normal grid prior needs sd_log > 0")
        logd = -np.log(x) - 0.5 * ((np.log(x) - mu) / sd) ** 2
    elif prior == "log_uniform":
        logd = -np.log(x)
    else:
        raise ValueError(f"prior: unknown grid prior {prior!r} (allowed: log_uniform, lognormal)")
    return logd + np.log(_cell_widths(x))


def prepare_bayes_emax(analysis: BayesEmaxAnalysis, doses, *, d_ref: float | None = None,
                       mcid: float | None = None, n_fine: int = 201) -> BayesEmaxPlan:
    """Grid, prior weights and shape values for one design (see module docstring).

    Parameters
    ----------
    analysis : BayesEmaxAnalysis
    doses : array_like (k,)
        Placebo (0) first, increasing.
    d_ref : float, optional
        Reference (tested) dose; default the highest dose.
    mcid : float, optional
        Overrides ``analysis.mcid`` (the simulator passes the endpoint MCID when unset).
    n_fine : int
        Points of the dose grid on which the target dose of the posterior-mean curve is found.
    """
    doses = np.asarray(doses, dtype=float)
    if doses[0] != 0 or np.any(np.diff(doses) <= 0):
        raise ValueError(f"doses: must start at 0 and increase; got {doses.tolist()}")
    e = analysis.ed50_points()
    h = analysis.hill_points()
    E, H = np.meshgrid(e, h, indexing="ij")
    lp = grid_log_prior(e, analysis.prior_ed50)[:, None] + (
        grid_log_prior(h, analysis.prior_hill)[None, :] if isinstance(analysis.hill, GridSpec)
        else np.zeros((1, 1)))
    ed50, hill = E.ravel(), H.ravel()
    lp = lp.ravel()
    lp = lp - special.logsumexp(lp)
    shape = {"ed50": ed50, "hill": hill}
    d_ref = float(doses[-1] if d_ref is None else d_ref)
    mc = analysis.mcid if mcid is None else float(mcid)
    if mc is None or not mc > 0:
        raise ValueError("mcid: give analysis.mcid or the endpoint MCID (> 0)")
    d_fine = np.linspace(0.0, doses[-1], n_fine)
    return BayesEmaxPlan(
        doses=doses, ed50=ed50, hill=hill, log_prior=lp,
        g=shape_g("sigemax", doses, shape),
        g_eval=shape_g("sigemax", np.concatenate([doses[1:], [d_ref]]), shape),
        d_fine=d_fine, g_fine=shape_g("sigemax", d_fine, shape),
        m0=analysis.prior_e0.mean, s0=analysis.prior_e0.sd,
        m1=analysis.prior_emax.mean, s1=analysis.prior_emax.sd,
        mcid=mc, gamma=analysis.gamma, d_ref=d_ref, decision_dose=analysis.decision_dose,
    )


def _grid_posterior(plan: BayesEmaxPlan, y: np.ndarray, s2: np.ndarray, n: np.ndarray):
    """Per (sim, grid): log weights, Emax posterior mean and variance."""
    g = plan.g  # (G, k)
    if n.ndim == 1:
        N = n.sum()
        a = g @ n  # (G,)
        c = (g * g) @ n
        a, c = a[None, :], c[None, :]
        Nn = np.full(y.shape[0], N)
    else:
        Nn = n.sum(1)
        a = n @ g.T
        c = n @ (g * g).T
    ny = n * y
    Sy = ny.sum(1)
    Syy = (ny * y).sum(1)
    Sgy = ny @ g.T  # (sim, G)
    m0, s0, m1, s1 = plan.m0, plan.s0, plan.m1, plan.s1
    iv = 1.0 / s2[:, None]
    R0 = (Sy - m0 * Nn)[:, None] - m1 * a
    R1 = Sgy - m0 * a - m1 * c
    rWr = (Syy - 2 * m0 * Sy + m0 * m0 * Nn)[:, None] - 2 * m1 * Sgy + 2 * m0 * m1 * a + m1 * m1 * c
    b0, b1 = R0 * iv, R1 * iv
    L00 = 1.0 / s0**2 + Nn[:, None] * iv
    L01 = a * iv
    L11 = 1.0 / s1**2 + c * iv
    det = L00 * L11 - L01 * L01
    V00, V01, V11 = L11 / det, -L01 / det, L00 / det
    quad = b0 * b0 * V00 + 2 * b0 * b1 * V01 + b1 * b1 * V11
    logw = -0.5 * rWr * iv + 0.5 * quad - 0.5 * np.log(det) + plan.log_prior[None, :]
    logw -= logw.max(1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(1, keepdims=True)
    mu1 = m1 + V01 * b0 + V11 * b1
    return w, mu1, V11


def analyse_bayes_emax(plan: BayesEmaxPlan, means: np.ndarray, s2: np.ndarray, *,
                       n, thresholds: tuple[float, ...] = ()) -> dict[str, np.ndarray]:
    """Grid posterior of the Emax model for each simulated trial.

    Parameters
    ----------
    plan : BayesEmaxPlan
    means : ndarray (sim, k)
        Arm means.
    s2 : ndarray (sim,)
        Pooled within-arm variance (plug-in sigma^2).
    n : ndarray (k,) or (sim, k)
        Completers per arm.
    thresholds : tuple of float
        Extra values c for which ``p_gt[c]`` = P(effect(d) > c) is returned.

    Returns
    -------
    dict with ``weights`` (sim, G); ``post_mean``, ``p_gt0``, ``p_mcid`` (sim, k) (placebo
    column: 0); ``mean_ref``, ``p_gt0_ref``, ``p_mcid_ref`` (sim,) at ``plan.d_ref``;
    ``med`` (sim,) dose index (-1 none); ``td_est`` (sim,) target dose (effect = MCID) of
    the posterior-mean curve (nan if not reached); ``p_gt`` dict c -> (sim, k + 1) with the
    last column at d_ref; ``emax_mean``, ``emax_var`` (sim, G) conditional moments.
    """
    y = np.asarray(means, dtype=float)
    s2 = np.asarray(s2, dtype=float)
    n = np.asarray(n, dtype=float)
    k = len(plan.doses)
    if y.ndim != 2 or y.shape[1] != k:
        raise ValueError(f"means: expected shape (sim, {k}); got {y.shape}")
    w, mu1, v1 = _grid_posterior(plan, y, s2, n)
    sd1 = np.sqrt(v1)
    ge = plan.g_eval  # (G, k): active doses + d_ref
    post = (w * mu1) @ ge  # (sim, k)
    cs = sorted({0.0, plan.mcid, *map(float, thresholds)})
    p_gt = {}
    # P(Emax g > c) = Phi((mu g - c) / (sd g)); for c = 0 it does not depend on the dose.
    # Columns with the same dose (d_ref among the tested doses) are computed once.
    uniq, inv = np.unique(np.concatenate([plan.doses[1:], [plan.d_ref]]), return_inverse=True)
    first = np.array([np.nonzero(inv == u)[0][0] for u in range(len(uniq))])
    for c in cs:
        if c == 0.0:
            p = (w * special.ndtr(mu1 / sd1)).sum(1)
            p_gt[c] = np.repeat(p[:, None], k, axis=1)
            continue
        cols = np.empty((y.shape[0], len(uniq)))
        for u, j in enumerate(first):
            gj = ge[:, j]
            cols[:, u] = (w * special.ndtr((mu1 - c / gj) / sd1)).sum(1)
        p_gt[c] = cols[:, inv]
    zero = np.zeros((y.shape[0], 1))
    p0 = np.concatenate([zero, p_gt[0.0][:, :k - 1]], 1)
    pm = np.concatenate([zero, p_gt[plan.mcid][:, :k - 1]], 1)
    hit = pm[:, 1:] >= plan.gamma
    med = np.where(hit.any(1), np.argmax(hit, 1) + 1, -1)
    curve = (w * mu1) @ plan.g_fine
    from msbayes.simulate.mcpmod import _td_on_grid

    td = _td_on_grid(plan.d_fine, curve, plan.mcid)
    return {
        "weights": w, "emax_mean": mu1, "emax_var": v1,
        "post_mean": np.concatenate([zero, post[:, :k - 1]], 1),
        "p_gt0": p0, "p_mcid": pm,
        "mean_ref": post[:, k - 1], "p_gt0_ref": p_gt[0.0][:, k - 1],
        "p_mcid_ref": p_gt[plan.mcid][:, k - 1],
        "med": med, "td_est": td, "p_gt": p_gt,
    }
