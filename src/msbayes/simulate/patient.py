"""Patient-level simulation of two-arm trials, vectorized as (sim, arm, patient) arrays.

Needed where sufficient statistics cannot express the data-generating process (informative
dropout) and used to validate the sufficient-statistic path. Each patient gets a stratum, a
standardized baseline covariate ``x ~ N(0, 1)``, an outcome
``y = mu(arm, stratum) + sd (rho x + sqrt(1 - rho^2) e)`` and a dropout indicator:

* MCAR: drop with probability ``dropout``;
* informative: ``logit P(drop) = logit(dropout) + dropout_slope * (y - placebo_mean) / sd``.

The completers' sums and cross-products are reduced per arm into the same
:class:`~msbayes.simulate.analyses.TrialStats` as the sufficient-statistic path, so every
analysis runs unchanged. Memory is O(sims x patients) per chunk.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.endpoint import EndpointSpec
>>> from msbayes.simulate.patient import patient_stats
>>> ep = EndpointSpec(sd=0.35, baseline_corr=0.5)
>>> counts = np.full((4, 2, 1), 60)
>>> ts = patient_stats(ep, np.zeros((4, 1)), counts, rng=np.random.default_rng(0), baseline=True)
>>> ts.n.tolist()[0], ts.sxx.shape
([60.0, 60.0], (4,))
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from msbayes.design.endpoint import EndpointSpec

from .analyses import TrialStats

__all__ = ["simulate_patients", "patient_stats", "stats_from_patients"]


def simulate_patients(
    endpoint: EndpointSpec,
    theta: np.ndarray,
    counts: np.ndarray,
    *,
    rng: np.random.Generator,
    baseline: bool = True,
    buffers: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Draw patient-level data for ``m`` trials.

    Parameters
    ----------
    theta : ndarray (m, strata)
        True effects.
    counts : ndarray (m, 2, strata)
        Randomized patients per trial, arm and stratum.
    buffers : (ndarray, ndarray), optional
        Preallocated C-contiguous float64 arrays of at least ``m * 2 * n_max`` elements,
        filled in place (avoids allocation; the draws are the same).

    Returns
    -------
    dict with ``y`` and ``x`` (m, 2, n_max) float (``x`` None if not needed), ``w``
    (m, 2, n_max) float completer weights (0 for padding and dropouts; None if every patient
    completes) and ``stratum`` (m, 2, n_max) int.
    """
    m, n_arms, n_strata = counts.shape
    sizes = counts.sum(axis=2)
    n_max = int(sizes.max())
    j = np.arange(n_max)
    cum = np.cumsum(counts, axis=2)  # (m, 2, S)
    if n_strata == 1:
        stratum = np.zeros((1, 1, n_max), dtype=np.int64)
    else:
        stratum = (j[None, None, :, None] >= cum[:, :, None, :-1]).sum(axis=3)
    present = j[None, None, :] < sizes[:, :, None]
    sigma = endpoint.sd
    rho = endpoint.baseline_corr
    shape = (m, n_arms, n_max)
    size = int(np.prod(shape))
    if buffers is not None:
        noise = rng.standard_normal(out=buffers[0][:size].reshape(shape))
    else:
        noise = rng.standard_normal(shape)
    if baseline or rho != 0:
        x = rng.standard_normal(out=buffers[1][:size].reshape(shape)) if buffers is not None else rng.standard_normal(shape)
        noise *= sigma * math.sqrt(1 - rho * rho)
        if rho != 0:
            noise += (sigma * rho) * x
    else:
        x = None
        noise *= sigma
    mu = np.zeros((m, n_arms, n_strata)) + endpoint.placebo_mean
    mu[:, 1, :] += theta
    if n_strata == 1:
        noise += mu[:, :, :1]
        y = noise
    else:
        y = noise + np.take_along_axis(mu, np.broadcast_to(stratum, shape), axis=2)
    keep = present
    if endpoint.dropout > 0 and endpoint.dropout_mechanism == "mcar" and n_strata == 1:
        # exchangeable patients: the completers are the first Binomial(n, 1 - p) of each arm
        from .twoarm import completer_counts

        comp = completer_counts(counts, endpoint.dropout, rng=rng)[:, :, 0]
        keep = j[None, None, :] < comp[:, :, None]
    elif endpoint.dropout > 0:
        u = rng.random(shape)
        if endpoint.dropout_mechanism == "mcar":
            keep = keep & (u >= endpoint.dropout)
        else:
            lp = special.logit(endpoint.dropout) + endpoint.dropout_slope * (y - endpoint.placebo_mean) / sigma
            keep = keep & (u >= special.expit(lp))
    w = None if (endpoint.dropout == 0 and bool(present.all())) else keep.astype(float)
    return {"y": y, "x": x, "w": w, "stratum": np.broadcast_to(stratum, shape)}


def stats_from_patients(y: np.ndarray, w: np.ndarray | None, x: np.ndarray | None = None) -> TrialStats:
    """Reduce patient arrays (m, 2, n) with completer weights ``w`` (None = all) to :class:`TrialStats`.

    Uses raw cross-product sums (one pass each) and centres them per arm.
    """
    dot = _rowdot
    if w is None:
        n = np.full(y.shape[:2], float(y.shape[2]))
        wy, wx = y, x
    else:
        n = w.sum(axis=2)
        wy = w * y
        wx = None if x is None else w * x
    sy = wy.sum(axis=2)
    syy_raw = dot(wy, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        ym = sy / n
        syy_a = syy_raw - sy * ym
        var = np.where(n >= 2, syy_a / (n - 1.0), np.nan)
        if x is None:
            return TrialStats(n=n, mean=ym, var=var)
        sx = wx.sum(axis=2)
        xm = sx / n
        sxx_a = dot(wx, x) - sx * xm
        sxy_a = dot(wx, y) - sx * ym
    return TrialStats(n=n, mean=ym, var=var, xbar=xm, sxx=sxx_a.sum(axis=1), sxy=sxy_a.sum(axis=1), syy=syy_a.sum(axis=1))


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b, axis=-1) for (m, 2, n) arrays."""
    return np.einsum("ijk,ijk->ij", a, b)


def patient_stats(
    endpoint: EndpointSpec,
    theta: np.ndarray,
    counts: np.ndarray,
    *,
    rng: np.random.Generator,
    baseline: bool = False,
    block: int = 512,
) -> TrialStats:
    """Simulate patients and reduce to :class:`TrialStats`, ``block`` trials at a time.

    Blocks keep the (block, 2, n) arrays in cache; the result depends on ``block`` only
    through the order of random draws (the default is fixed, so runs are reproducible).
    """
    m = counts.shape[0]
    parts = []
    cap = min(block, m) * counts.shape[1] * int(counts.sum(axis=2).max())
    buffers = (np.empty(cap), np.empty(cap))
    fast = counts.shape[2] == 1 and (endpoint.dropout == 0 or endpoint.dropout_mechanism == "mcar")
    for lo in range(0, m, block):
        hi = min(m, lo + block)
        if fast:
            parts.append(_block_one_stratum(endpoint, theta[lo:hi], counts[lo:hi], rng=rng, baseline=baseline, buffers=buffers))
            continue
        d = simulate_patients(endpoint, theta[lo:hi], counts[lo:hi], rng=rng, baseline=baseline, buffers=buffers)
        parts.append(stats_from_patients(d["y"], d["w"], d["x"] if baseline else None))
    if len(parts) == 1:
        return parts[0]
    fields = ("n", "mean", "var", "xbar", "sxx", "sxy", "syy")
    return TrialStats(**{f: (None if getattr(parts[0], f) is None else np.concatenate([getattr(p, f) for p in parts])) for f in fields})


def _block_one_stratum(
    endpoint: EndpointSpec, theta: np.ndarray, counts: np.ndarray, *, rng: np.random.Generator, baseline: bool, buffers
) -> TrialStats:
    """One stratum, MCAR or no dropout: the same patient draws as :func:`simulate_patients`
    (same random stream order), reduced through sums of the standardized (x, e) instead of
    forming y: ``y = mu + sd (rho x + sqrt(1 - rho^2) e)`` is affine in (x, e) within an arm,
    so its completer sums follow exactly from those of (x, e)."""
    from .twoarm import completer_counts

    m, n_arms, _ = counts.shape
    sizes = counts[:, :, 0]
    n_max = int(sizes.max())
    shape = (m, n_arms, n_max)
    size = m * n_arms * n_max
    e = rng.standard_normal(out=buffers[0][:size].reshape(shape))
    rho = endpoint.baseline_corr
    use_x = baseline or rho != 0
    x = rng.standard_normal(out=buffers[1][:size].reshape(shape)) if use_x else None
    j = np.arange(n_max)
    if endpoint.dropout > 0:
        n_int = completer_counts(counts, endpoint.dropout, rng=rng)[:, :, 0]
    else:
        n_int = sizes
    n = n_int.astype(float)
    if endpoint.dropout == 0 and bool((sizes == n_max).all()):
        we, wx = e, x
    else:
        w = (j[None, None, :] < n_int[:, :, None]).astype(float)
        we = w * e
        wx = None if x is None else w * x
    se = we.sum(axis=2)
    see = _rowdot(we, e)
    sigma = endpoint.sd
    k = math.sqrt(1.0 - rho * rho)
    mu = np.zeros((m, n_arms)) + endpoint.placebo_mean
    mu[:, 1] += theta[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ebar = se / n
        see_c = see - se * ebar
        if x is None:
            ym = mu + sigma * ebar
            syy = sigma * sigma * see_c
            return TrialStats(n=n, mean=ym, var=np.where(n >= 2, syy / (n - 1.0), np.nan))
        sx = wx.sum(axis=2)
        xbar = sx / n
        sxx_c = _rowdot(wx, x) - sx * xbar
        sxe_c = _rowdot(wx, e) - sx * ebar
        ym = mu + sigma * (rho * xbar + k * ebar)
        syy = sigma * sigma * (rho * rho * sxx_c + 2 * rho * k * sxe_c + k * k * see_c)
        sxy = sigma * (rho * sxx_c + k * sxe_c)
        var = np.where(n >= 2, syy / (n - 1.0), np.nan)
    if not baseline:
        return TrialStats(n=n, mean=ym, var=var)
    return TrialStats(n=n, mean=ym, var=var, xbar=xbar, sxx=sxx_c.sum(axis=1), sxy=sxy.sum(axis=1), syy=syy.sum(axis=1))
