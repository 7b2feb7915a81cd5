"""MCP-Mod, vectorised over simulated trials (Bretz, Pinheiro & Branson 2005).

Two steps, as in the R package DoseFinding:

1. :func:`prepare_mcpmod` (once per design): standardised candidate means, optimal contrasts
   for homoscedastic independent arms (``c ∝ S^{-1}(mu - mu_bar)``, ``S = diag(1/n_i)``,
   ``mu_bar`` the ``S^{-1}``-weighted mean, unit Euclidean norm: DoseFinding's
   ``optContr(type = "unconstrained")``), their correlation matrix and the one-sided
   multiple-contrast critical value from the multivariate t with ``df = N - k``;
   plus the profile grids used to fit each candidate family.
2. :func:`analyse_mcpmod` (per chunk of trials, arrays ``[sim, dose]``): contrast t
   statistics, the max-t test, model selection among significant families (AIC, max t or
   AIC weights) by least squares fits to the arm means, and the target-dose estimate.

Critical value and p-values: multivariate-t probabilities by radial conditioning
(Deák 1980; Genz & Bretz 2009, ch. 4): with ``Z = A u``, ``A A' = R`` of rank ``r`` and
``u = rho * v`` (``v`` uniform on the sphere), ``P(max_j T_j <= q) =
E_v[ F_{F(r, df)}( (q / m(v))^2 / r ) ]`` where ``m(v) = max_j (A v)_j`` (the term is 1
when ``m(v) <= 0``). The expectation over directions uses ``n_rep`` independently
scrambled Sobol point sets; their spread gives the integration error, reported as
``crit_se`` (about 1e-5 on the probability scale with the defaults, i.e. < 1e-4 on q).

Fits: each family ``f(d) = E0 + A g(d; theta)`` is fitted to the arm means by weighted
least squares (weights ``n_i``; identical to the least-squares fit to patient data), with
``(E0, A)`` in closed form and ``theta`` profiled over a fixed grid inside DoseFinding's
default bounds (``defBnds``: emax ED50 in [0.001, 1.5] x max dose; sigemax ED50 likewise
and Hill in [0.5, 10]; exponential delta in [0.1, 2] x max dose; logistic ED50 in
[0.001, 1.5] and delta in [0.01, 0.5] x max dose). The quadratic is linear in its parameters and fitted
exactly. The profile is searched on a fine log-spaced grid (1-D: 1025 points,
relative step 0.7% for ED50; 2-D: 121 x 73, relative steps 6% in ED50 and 4% in Hill or
5.5% in the logistic delta), coarse-to-fine: a coarse sub-grid (every 16th / 8th point) for
every trial, then local rounds of +-step around the best point, halving the step down to
one fine-grid point. The fit is the best fine-grid point
provided the coarse grid finds the basin of the optimum; the tests compare it with
``scipy.optimize.least_squares`` per trial.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.dosefinding import MCPModAnalysis
>>> an = MCPModAnalysis.model_validate({"method": "mcpmod", "models": {"emax": [2.0],
...     "linear": None}, "target_delta": 0.18})
>>> plan = prepare_mcpmod(an, [0, 3, 6, 10], [30, 30, 30, 30])
>>> round(plan.crit, 2)  # DoseFinding critVal: 2.1418
2.14
>>> res = analyse_mcpmod(plan, np.array([[0.0, 0.15, 0.2, 0.25]]), np.array([0.35**2]))
>>> bool(res["reject"][0])
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats
from scipy.stats import qmc

from msbayes.design.dosefinding import MODEL_PARAMS, MCPModAnalysis
from msbayes.design.doseresponse import DOSE_RESPONSE_MODELS, shape_g, target_dose

__all__ = [
    "MCPModPlan",
    "FamilyFit",
    "prepare_mcpmod",
    "analyse_mcpmod",
    "optimal_contrasts",
    "mct_probability",
    "mct_critical_value",
    "mct_pvalue",
]


# ----------------------------------------------------------------- multivariate t tools
@dataclass(frozen=True)
class _Radial:
    """Directions for radial-conditioning integration of max of a correlated t vector."""

    m: np.ndarray  # (n_rep, n_dir): max_j (A v)_j per direction
    rank: int
    df: float


def _radial(corr: np.ndarray, df: float, *, n_dir: int, n_rep: int, seed: int) -> _Radial:
    corr = np.asarray(corr, dtype=float)
    w, V = np.linalg.eigh(corr)
    keep = w > 1e-10 * w.max()
    A = V[:, keep] * np.sqrt(w[keep])  # (m, r)
    r = int(keep.sum())
    ms = []
    ss = np.random.SeedSequence(seed)
    for child in ss.spawn(n_rep):
        sob = qmc.Sobol(d=r, scramble=True, seed=np.random.default_rng(child))
        u = sob.random(n_dir)
        z = special.ndtri(np.clip(u, 1e-16, 1 - 1e-16))
        v = z / np.linalg.norm(z, axis=1, keepdims=True)
        ms.append((v @ A.T).max(axis=1))
    return _Radial(np.stack(ms), r, float(df))


def _prob_le(rad: _Radial, q) -> np.ndarray:
    """P(max_j T_j <= q) per replicate: array (n_rep, len(q)).

    The F (or chi-square) cdf is tabulated on 16,385 points in log x and interpolated
    linearly (interpolation error < 1e-7, far below the integration error).
    """
    q = np.atleast_1d(np.asarray(q, dtype=float))
    m = rad.m
    pos = m > 0
    inv_m2 = np.where(pos, 1.0 / np.where(pos, m, 1.0) ** 2, 0.0)  # (rep, dir)
    lo_u = np.log(inv_m2[pos].min()) if pos.any() else 0.0
    hi_u = np.log(inv_m2[pos].max()) if pos.any() else 0.0
    out = np.empty((m.shape[0], len(q)))
    for i, qi in enumerate(q):
        if qi <= 0:
            out[:, i] = (~pos).mean(1)
            continue
        lx = np.linspace(lo_u, hi_u, 16385) + 2 * np.log(qi)
        x = np.exp(lx)
        tab = special.fdtr(rad.rank, rad.df, x / rad.rank) if np.isfinite(rad.df) else \
            special.chdtr(rad.rank, x)
        lxs = np.log(np.where(pos, inv_m2, 1.0)) + 2 * np.log(qi)
        cdf = np.interp(lxs, lx, tab)
        out[:, i] = np.where(pos, cdf, 1.0).mean(1)
    return out


def mct_probability(corr, q, *, df: float = np.inf, n_dir: int = 2**16, n_rep: int = 8,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``P(max_j T_j <= q)`` for a central multivariate t (or normal if ``df = inf``).

    Returns the estimate and its integration standard error (from ``n_rep`` scrambles).

    Examples
    --------
    >>> p, se = mct_probability(np.eye(2), 1.959963985, df=np.inf)
    >>> round(float(p[0]), 4)  # P(Z1 <= 1.96) ** 2
    0.9506
    """
    rad = _radial(np.asarray(corr, float), df, n_dir=n_dir, n_rep=n_rep, seed=seed)
    p = _prob_le(rad, q)
    return p.mean(axis=0), p.std(axis=0, ddof=1) / np.sqrt(p.shape[0])


def mct_critical_value(corr, *, alpha: float, df: float = np.inf, n_dir: int = 2**16,
                       n_rep: int = 8, seed: int = 0, _rad: _Radial | None = None
                       ) -> tuple[float, float]:
    """One-sided critical value ``q`` with ``P(max_j T_j > q) = alpha`` and its error.

    Returns ``(q, se_q)``; ``se_q`` is the integration standard error on the q scale.

    Examples
    --------
    >>> q, se = mct_critical_value(np.eye(1), alpha=0.025)
    >>> round(q, 3)
    1.96
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: must be in (0, 1); got {alpha}")
    rad = _rad if _rad is not None else _radial(np.asarray(corr, float), df, n_dir=n_dir,
                                                n_rep=n_rep, seed=seed)
    f = lambda q: _prob_le(rad, [q]).mean() - (1 - alpha)  # noqa: E731
    # bracket: the single-contrast quantile (lower) and the Bonferroni quantile (upper)
    m = np.asarray(corr).shape[0]
    dist = stats.norm if not np.isfinite(df) else stats.t(df)
    lo, hi = dist.ppf(1 - alpha) - 1e-3, dist.ppf(1 - alpha / m) + 1e-3
    if f(lo) > 0 or f(hi) < 0:  # pragma: no cover - defensive
        lo, hi = 1e-6, 50.0
    q = optimize.brentq(f, lo, hi, xtol=1e-10)
    p_rep = _prob_le(rad, [q])[:, 0]
    se_p = p_rep.std(ddof=1) / np.sqrt(len(p_rep))
    h = 1e-4
    dens = (f(q + h) - f(q - h)) / (2 * h)
    return float(q), float(se_p / dens)


def mct_pvalue(plan: "MCPModPlan", t_max) -> np.ndarray:
    """Multiplicity-adjusted one-sided p-value ``P(max_j T_j >= t)`` under H0 (DoseFinding's
    ``MCTtest`` p-values), for a few values of ``t_max`` (not meant per simulated trial)."""
    t = np.atleast_1d(np.asarray(t_max, dtype=float))
    return 1.0 - _prob_le(plan._radial, t).mean(axis=0)


# ----------------------------------------------------------------------- contrasts
def optimal_contrasts(mu: np.ndarray, n) -> np.ndarray:
    """Optimal contrasts for independent homoscedastic arms, unit Euclidean norm.

    ``c ∝ S^{-1}(mu - mu_bar)`` with ``S = diag(1/n)``, ``mu_bar = sum(n mu)/sum(n)``
    (DoseFinding ``optContr``, unconstrained).

    Parameters
    ----------
    mu : ndarray, shape (dose, model)
        Candidate means (any location/scale).
    n : array_like, shape (dose,)
        Arm sizes or allocation weights.

    Examples
    --------
    >>> optimal_contrasts(np.array([[0.], [1.]]), [1, 1]).round(4).ravel().tolist()
    [-0.7071, 0.7071]
    """
    mu = np.asarray(mu, dtype=float)
    w = np.asarray(n, dtype=float)[:, None]
    mbar = (w * mu).sum(0, keepdims=True) / w.sum()
    c = w * (mu - mbar)
    norm = np.linalg.norm(c, axis=0, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("models: a candidate model is flat at the tested doses (no contrast)")
    return c / norm


# --------------------------------------------------------------------------- fitting
def _bounds(name: str, dmax: float) -> dict[str, tuple[float, float]]:
    """DoseFinding ``defBnds(mD)`` for the nonlinear parameters."""
    return {
        "linear": {}, "quadratic": {},
        "emax": {"ed50": (0.001 * dmax, 1.5 * dmax)},
        "exponential": {"delta": (0.1 * dmax, 2.0 * dmax)},
        "sigemax": {"ed50": (0.001 * dmax, 1.5 * dmax), "hill": (0.5, 10.0)},
        "logistic": {"ed50": (0.001 * dmax, 1.5 * dmax), "delta": (0.01 * dmax, 0.5 * dmax)},
    }[name]


@dataclass(frozen=True)
class FamilyFit:
    """Profile grid of one family: a fine log-spaced grid searched coarse-to-fine.

    For every fine grid point ``h`` holds the W-centred, normalised shape column, so the
    drop in weighted RSS from fitting ``(E0, A)`` at that point is ``(y_c . h)^2``. The
    search evaluates a coarse sub-grid for every trial (one matrix product), then local
    rounds of +-step offsets, halving the step, around the running best, by gathering
    precomputed columns: no shape function is evaluated per trial. The grid is padded at
    its edges with copies of the edge points so that offsets never leave the array
    (equivalent to clipping at the bounds).
    """

    name: str
    theta: dict[str, np.ndarray]  # param -> (Gp,) on the padded flat grid
    hT: np.ndarray  # (k, Gp) W-centred normalised shape columns
    h_coarse: np.ndarray  # (k, Gc) float32
    coarse_flat: np.ndarray  # (Gc,) padded flat indices of the coarse points
    hn: np.ndarray  # (Gp,) sqrt(sum w (g - gbar)^2)
    gbar: np.ndarray  # (Gp,)
    rounds: tuple[np.ndarray, ...]  # each (R,) flat offsets
    n_par: int


def _make_family_fit(name: str, doses: np.ndarray, w: np.ndarray, n_grid: int,
                     n_grid_2d: tuple[int, int]) -> FamilyFit:
    bnds = _bounds(name, doses[-1])
    npar = DOSE_RESPONSE_MODELS[name].n_par
    k = len(doses)
    if not bnds:
        z = np.zeros(0)
        return FamilyFit(name, {}, np.zeros((k, 0)), np.zeros((k, 0), np.float32),
                         np.zeros(0, int), z, z, (), npar)
    # rounds halve the step: +-8, +-4, +-2, +-1 fine points (1-D, coarse stride 16);
    # +-4, +-2, +-1 in both parameters (2-D, coarse stride 8)
    if len(bnds) == 1:
        stride, nc, steps = 16, [n_grid], (8, 4, 2, 1)
    else:
        stride, nc, steps = 8, list(n_grid_2d), (4, 2, 1)
    pad = sum(steps)
    nf = [(c - 1) * stride + 1 for c in nc]
    axes = [np.geomspace(lo, hi, m) for (lo, hi), m in zip(bnds.values(), nf)]
    axes = [np.concatenate([np.full(pad, a[0]), a, np.full(pad, a[-1])]) for a in axes]
    npad = [m + 2 * pad for m in nf]
    mesh = np.meshgrid(*axes, indexing="ij")
    theta = {p: m.ravel() for p, m in zip(bnds, mesh)}
    g = shape_g(name, doses, theta)  # (Gp, k)
    gbar = (g * w).sum(1) / w.sum()
    gc = g - gbar[:, None]
    hn = np.sqrt(np.maximum((w * gc**2).sum(1), 1e-300))
    h = w[None, :] * gc / hn[:, None]
    cidx = np.meshgrid(*[np.arange(pad, pad + m, stride) for m in nf], indexing="ij")
    cflat = np.ravel_multi_index(tuple(c.ravel() for c in cidx), npad)
    if len(bnds) == 1:
        rounds = tuple(np.array([-st, 0, st]) for st in steps)
    else:
        rounds = tuple((np.array([-st, 0, st])[:, None] * npad[1] + np.array([-st, 0, st])[None, :]).ravel()
                       for st in steps)
    return FamilyFit(name, theta, np.ascontiguousarray(h.T),
                     np.ascontiguousarray(h[cflat].T.astype(np.float32)), cflat, hn, gbar,
                     rounds, npar)


def _search(ff: FamilyFit, yc: np.ndarray) -> np.ndarray:
    """Padded flat grid index of the best profile fit for each trial."""
    proj = yc.astype(np.float32) @ ff.h_coarse
    np.multiply(proj, proj, out=proj)
    best = ff.coarse_flat[np.argmax(proj, axis=1)]  # (sim,)
    r = np.arange(yc.shape[0])
    hT = ff.hT
    for offs in ff.rounds:
        cand = best[:, None] + offs[None, :]  # (sim, R)
        pr = hT[0][cand] * yc[:, :1]
        for kk in range(1, yc.shape[1]):
            pr += hT[kk][cand] * yc[:, kk:kk + 1]
        np.multiply(pr, pr, out=pr)
        best = cand[r, np.argmax(pr, axis=1)]
    return best


# ------------------------------------------------------------------------------ plan
@dataclass(frozen=True)
class MCPModPlan:
    """Everything MCP-Mod needs that does not depend on the data (computed once)."""

    doses: np.ndarray
    n: np.ndarray
    labels: tuple[str, ...]
    cand_family: np.ndarray  # (m,) index into families
    mu: np.ndarray  # (k, m) standardised candidate means
    contrasts: np.ndarray  # (k, m)
    corr: np.ndarray  # (m, m)
    se_factor: np.ndarray  # (m,) sqrt(sum c^2 / n)
    df: int
    alpha: float
    crit: float
    crit_se: float
    families: tuple[str, ...]
    fits: tuple[FamilyFit, ...]
    selection: str
    dose_estimate: str
    target_delta: float | None
    d_ref: float
    _radial: Any = field(repr=False, default=None)


def prepare_mcpmod(analysis: MCPModAnalysis, doses, n_per_dose, *, target_delta: float | None = None,
                   d_ref: float | None = None, df: int | None = None, n_grid: int = 65,
                   n_grid_2d: tuple[int, int] = (16, 10), n_dir: int = 2**16, n_rep: int = 8, seed: int = 0) -> MCPModPlan:
    """Contrasts, correlation, critical value and fit grids for one design (see module doc).

    Parameters
    ----------
    analysis : MCPModAnalysis
    doses : array_like, shape (k,)
        Placebo (0) first, increasing.
    n_per_dose : array_like, shape (k,)
        Arm sizes.
    target_delta : float, optional
        Clinically relevant effect for the target dose; overrides ``analysis.target_delta``
        (the simulator passes the endpoint MCID when the analysis leaves it unset).
    d_ref : float, optional
        Dose at which ``est`` (fitted effect over placebo) is reported; default max dose.
    df : int, optional
        Residual degrees of freedom; default ``sum(n) - k``.
    n_grid, n_grid_2d : int, (int, int)
        Coarse profile-grid sizes for 1- and 2-parameter nonlinear families (the fine grids
        are 16x / 8x denser per parameter).
    n_dir, n_rep, seed
        Multivariate-t integration: Sobol directions per replicate, replicates, seed.

    Examples
    --------
    >>> from msbayes.design.dosefinding import MCPModAnalysis
    >>> an = MCPModAnalysis.model_validate({"method": "mcpmod", "models": {"linear": None}})
    >>> round(prepare_mcpmod(an, [0, 1], [10, 10]).crit, 3)  # t(18) 97.5% quantile
    2.101
    """
    doses = np.asarray(doses, dtype=float)
    n = np.asarray(n_per_dose, dtype=float)
    k = len(doses)
    if n.shape != (k,) or np.any(n < 1):
        raise ValueError(f"n_per_dose: need {k} arm sizes >= 1; got {n.tolist()}")
    if doses[0] != 0 or np.any(np.diff(doses) <= 0):
        raise ValueError(f"doses: must start at 0 and increase; got {doses.tolist()}")
    cands = analysis.candidates()
    families = tuple(dict.fromkeys(m for m, _ in cands))
    mu = np.stack([shape_g(m, doses, dict(zip(MODEL_PARAMS[m], p))) for m, p in cands], axis=1)
    C = optimal_contrasts(mu, n)
    cov = (C.T * (1.0 / n)) @ C
    sef = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sef, sef)
    dfv = int(n.sum() - k) if df is None else int(df)
    if dfv < 1:
        raise ValueError(f"df: residual degrees of freedom must be >= 1; got {dfv}")
    rad = _radial(corr, dfv, n_dir=n_dir, n_rep=n_rep, seed=seed)
    crit, crit_se = mct_critical_value(corr, alpha=analysis.alpha, df=dfv, _rad=rad)
    labels = tuple(f"{m}({', '.join(f'{x:g}' for x in p)})" if p else m for m, p in cands)
    fits = tuple(_make_family_fit(f, doses, n, n_grid, n_grid_2d) for f in families)
    td = analysis.target_delta if target_delta is None else float(target_delta)
    return MCPModPlan(doses=doses, n=n, labels=labels,
                      cand_family=np.array([families.index(m) for m, _ in cands]),
                      mu=mu, contrasts=C, corr=corr, se_factor=sef, df=dfv,
                      alpha=analysis.alpha, crit=crit, crit_se=crit_se, families=families,
                      fits=fits, selection=analysis.selection,
                      dose_estimate=analysis.dose_estimate, target_delta=td,
                      d_ref=float(doses[-1] if d_ref is None else d_ref), _radial=rad)


# ---------------------------------------------------------------------------- analyse
def _fit_family(ff: FamilyFit, doses, w, y, ybar_w, d_eval):
    """Fit one family to the arm means y (sim, k). Returns rss_means, curve(d_eval), params."""
    yc = y - ybar_w[:, None]
    tot = (w * yc * yc).sum(1)
    dd = np.asarray(d_eval, float)
    if ff.name == "quadratic":
        X = np.stack([doses, doses**2], 1)
        Wn = w / w.sum()
        Xc = X - (Wn @ X)[None, :]
        XtWX = (Xc.T * w) @ Xc
        beta = np.linalg.solve(XtWX, (Xc.T * w) @ yc.T).T  # (sim, 2)
        fitted_c = beta @ Xc.T
        rss = tot - (w * fitted_c * yc).sum(1)
        e0 = ybar_w - beta @ (Wn @ X)
        curve = e0[:, None] + beta[:, :1] * dd + beta[:, 1:] * dd**2
        return rss, curve, {"b1": beta[:, 0], "b2": beta[:, 1], "e0": e0}
    if ff.name == "linear":
        dc = doses - (w * doses).sum() / w.sum()
        hw = (w * dc * dc).sum()
        num = yc @ (w * dc)
        A = num / hw
        e0 = ybar_w - A * (w * doses).sum() / w.sum()
        return tot - num * num / hw, e0[:, None] + A[:, None] * dd, {"A": A, "e0": e0}
    j = _search(ff, yc)
    num = (ff.hT[:, j] * yc.T).sum(0)
    A = num / ff.hn[j]
    e0 = ybar_w - A * ff.gbar[j]
    best = {p: v[j] for p, v in ff.theta.items()}
    curve = e0[:, None] + A[:, None] * shape_g(ff.name, dd, best)
    return tot - num * num, curve, {"A": A, "e0": e0, **best}


def _td_from_params(name, par, delta, dmax):
    if name == "quadratic":
        b1, b2 = par["b1"], par["b2"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return target_dose("quadratic", scale=b1, shape={"delta": b2 / b1},
                               target_delta=delta, d_max=dmax)
    return target_dose(name, scale=par["A"], shape={p: par[p] for p in MODEL_PARAMS[name]},
                       target_delta=delta, d_max=dmax)


def _td_on_grid(dgrid: np.ndarray, eff: np.ndarray, delta: float) -> np.ndarray:
    """First crossing of ``eff`` (sim, G) over ``delta`` by linear interpolation."""
    hit = eff >= delta
    any_ = hit.any(1)
    i = np.argmax(hit, 1)
    i0 = np.maximum(i - 1, 0)
    r = np.arange(len(i))
    e1, e0 = eff[r, i], eff[r, i0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(e1 > e0, (delta - e0) / (e1 - e0), 1.0)
    td = dgrid[i0] + np.clip(frac, 0, 1) * (dgrid[i] - dgrid[i0])
    td = np.where(i == 0, dgrid[0], td)
    return np.where(any_, td, np.nan)


def analyse_mcpmod(plan: MCPModPlan, means: np.ndarray, s2: np.ndarray, *,
                   n: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Analyse simulated trials with MCP-Mod, vectorised over the leading sim axis.

    Parameters
    ----------
    plan : MCPModPlan
    means : ndarray, shape (sim, dose)
        Arm means.
    s2 : ndarray, shape (sim,)
        Pooled within-arm variance with ``plan.df`` degrees of freedom.
    n : ndarray (sim, dose), optional
        Realised arm sizes (e.g. completers after dropout). If given, the standard error of
        each contrast uses them (``s * sqrt(sum c^2 / n)``); the contrasts, the critical
        value (df) and the fit weights stay those of the plan (planning approximation).

    Returns
    -------
    dict with
        ``t`` (sim, model) contrast t statistics; ``max_t`` (sim,); ``reject`` (sim,) bool,
        ``max_t > crit``; ``selected_model`` (sim,) int index into ``plan.families`` (-1 if
        not rejected); ``fitted`` (sim, dose) fitted means of the selected (or AIC-averaged)
        model, computed for every trial (selection among all families when none is
        significant); ``est`` (sim,) fitted effect over placebo at ``plan.d_ref``;
        ``td_est`` (sim,) target-dose estimate (nan if not rejected or TD not reached within
        the dose range); ``selected_dose`` (sim,) int dose index (-1 none).

    Examples
    --------
    See the module docstring.
    """
    y = np.asarray(means, dtype=float)
    s2 = np.asarray(s2, dtype=float)
    if y.ndim != 2 or y.shape[1] != len(plan.doses):
        raise ValueError(f"means: expected shape (sim, {len(plan.doses)}); got {y.shape}")
    nsim = y.shape[0]
    s = np.sqrt(s2)
    if n is None:
        sef = plan.se_factor[None, :]
    else:
        sef = np.sqrt((1.0 / np.asarray(n, dtype=float)) @ (plan.contrasts**2))
    t = (y @ plan.contrasts) / (s[:, None] * sef)
    max_t = t.max(1)
    reject = max_t > plan.crit
    sig_cand = t > plan.crit  # (sim, m)
    nf = len(plan.families)
    sig_fam = np.zeros((nsim, nf), dtype=bool)
    for j, f in enumerate(plan.cand_family):
        sig_fam[:, f] |= sig_cand[:, j]
    # families eligible for selection: the significant ones, or all if none is
    elig = np.where(reject[:, None], sig_fam, True)

    w = plan.n
    N = w.sum()
    ybar_w = (y * w).sum(1) / w.sum()
    d_eval = np.concatenate([plan.doses, [plan.d_ref]])
    rss_within = s2 * plan.df
    aic = np.full((nsim, nf), np.inf)
    curves = np.empty((nf, nsim, len(d_eval)))
    params = []
    for f, ff in enumerate(plan.fits):
        rss, curve, par = _fit_family(ff, plan.doses, w, y, ybar_w, d_eval)
        params.append(par)
        curves[f] = curve
        aic[:, f] = N * np.log((rss_within + np.maximum(rss, 0)) / N) + 2 * (ff.n_par + 1)
    aic_e = np.where(elig, aic, np.inf)
    if plan.selection == "max_t":
        t_e = np.where(reject[:, None], np.where(sig_cand, t, -np.inf), t)
        sel = plan.cand_family[np.argmax(t_e, 1)]
    else:
        sel = np.argmin(aic_e, 1)
    r = np.arange(nsim)
    if plan.selection == "avg_aic":
        a = aic_e - aic_e.min(1, keepdims=True)
        wts = np.exp(-0.5 * a)
        wts /= wts.sum(1, keepdims=True)
        curve = np.einsum("sf,fsd->sd", wts, curves)
    else:
        curve = curves[sel, r]
    k = len(plan.doses)
    fitted = curve[:, :k]
    est = curve[:, k] - curve[:, 0]
    delta = plan.target_delta
    if delta is not None:
        dmax = plan.doses[-1]
        if plan.selection == "avg_aic":
            dgrid = np.linspace(0.0, dmax, 1001)
            eff = np.zeros((nsim, len(dgrid)))
            for f, ff in enumerate(plan.fits):
                par = params[f]
                if ff.name == "quadratic":
                    c = par["b1"][:, None] * dgrid + par["b2"][:, None] * dgrid**2
                elif ff.name == "linear":
                    c = par["A"][:, None] * dgrid
                else:
                    th = {p: par[p] for p in MODEL_PARAMS[ff.name]}
                    c = par["A"][:, None] * shape_g(ff.name, dgrid, th)
                eff += wts[:, f:f + 1] * c
            td = _td_on_grid(dgrid, eff, delta)
        else:
            tds = np.stack([_td_from_params(ff.name, params[f], delta, dmax)
                            for f, ff in enumerate(plan.fits)], 1)
            td = tds[r, sel]
        td = np.where(reject, td, np.nan)
        if plan.dose_estimate == "td":
            # the smallest tested dose at or above the estimated target dose: the dose expected
            # to reach the target, i.e. the estimate of the MED among the tested doses
            reach = plan.doses[None, 1:] >= np.nan_to_num(td, nan=np.inf)[:, None] * (1 - 1e-12)
            sd = np.where(np.isfinite(td) & reach.any(1), np.argmax(reach, 1) + 1, -1)
        else:
            effk = fitted[:, 1:] - fitted[:, :1]
            hit = effk >= delta
            sd = np.where(hit.any(1), np.argmax(hit, 1) + 1, -1)
        sel_dose = np.where(reject, sd, -1)
    else:
        td = np.full(nsim, np.nan)
        sel_dose = np.full(nsim, -1)
    return {
        "t": t, "max_t": max_t, "reject": reject,
        "selected_model": np.where(reject, sel, -1),
        "fitted": fitted, "est": est, "td_est": td, "selected_dose": sel_dose,
    }
