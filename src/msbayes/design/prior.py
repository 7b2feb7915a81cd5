"""Design priors: the distribution the "true" effect of a simulated trial is drawn from.

Three sources, all on the analysis scale (positive = better):

* a normal prior ``N(mean, sd^2)`` or a normal mixture given in the config;
* posterior draws of the re-analysis (``posterior.nc``), resampled jointly across strata so a
  draw keeps the correlation the hierarchical model implies (``mode: draws``);
* a normal mixture fitted to those draws by EM (``mode: mixture``).

Either posterior form can be made less optimistic (see :mod:`msbayes.design.scenarios`):
**shrunk** toward no effect (``shrink`` f: every draw moved by ``-(1 - f) * posterior mean``,
spread kept: the skeptical variant), **discounted** (total variance divided by ``discount`` in
(0, 1], about the mean) and **robustified** (weight ``w`` moved onto a vague component
``N(0, unit-information SD^2)``, RBesT's ``robustify`` convention).

:func:`batch_means_variance` gives the Monte Carlo variance of a mean over posterior draws
(contiguous batches, so MCMC autocorrelation is included), used for the design-prior part of
the assurance MCSE and for the assurance ceiling.

Examples
--------
>>> import numpy as np
>>> from msbayes.design.prior import MixtureSpec, mixture_cdf
>>> m = MixtureSpec(weights=[0.5, 0.5], means=[0.0, 1.0], sds=[1.0, 1.0])
>>> round(float(mixture_cdf(0.5, m.weights_array, m.means_array, m.sds_array)), 6)
0.5
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator, model_validator
from scipy import special

from msbayes.config import ConfigError, StrictModel

__all__ = [
    "NormalSpec",
    "MixtureSpec",
    "EffectDraws",
    "fit_normal_mixture",
    "mixture_cdf",
    "sample_mixture",
    "robustify",
    "discount_mixture",
    "load_effect_draws",
    "list_fit_estimands",
    "shrink_mixture",
    "draw_batches",
    "batch_means_variance",
]


class NormalSpec(StrictModel):
    """A normal distribution ``N(mean, sd^2)`` (``sd > 0``)."""

    mean: float
    sd: float = Field(gt=0)

    @field_validator("mean", "sd")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be finite")
        return v


class MixtureSpec(StrictModel):
    """A finite normal mixture: ``sum_k weights[k] N(means[k], sds[k]^2)``.

    Weights must be >= 0 with a positive sum (they are normalized); ``sds > 0``; all three
    lists the same length.
    """

    weights: list[float]
    means: list[float]
    sds: list[float]

    @model_validator(mode="after")
    def _check(self) -> MixtureSpec:
        k = len(self.weights)
        if k == 0:
            raise ValueError("weights: needs at least one component")
        if len(self.means) != k or len(self.sds) != k:
            raise ValueError(
                f"weights, means and sds must have the same length; got {k}, {len(self.means)}, {len(self.sds)}"
            )
        if any((not math.isfinite(w)) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"weights must be >= 0 and sum to a positive value; got {self.weights}")
        if any((not math.isfinite(s)) or s <= 0 for s in self.sds):
            raise ValueError(f"sds must all be > 0; got {self.sds}")
        if any(not math.isfinite(m) for m in self.means):
            raise ValueError(f"means must be finite; got {self.means}")
        return self

    @property
    def weights_array(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    @property
    def means_array(self) -> np.ndarray:
        return np.asarray(self.means, dtype=float)

    @property
    def sds_array(self) -> np.ndarray:
        return np.asarray(self.sds, dtype=float)


# --------------------------------------------------------------------------------------------
# mixture utilities
# --------------------------------------------------------------------------------------------


def mixture_cdf(x: np.ndarray | float, weights: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """CDF of a normal mixture at ``x`` (vectorized over ``x``)."""
    x = np.asarray(x, dtype=float)[..., None]
    return np.sum(weights * special.ndtr((x - means) / sds), axis=-1)


def sample_mixture(
    n: int, weights: np.ndarray, means: np.ndarray, sds: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """``n`` draws from a normal mixture (component by inverse-CDF of one uniform)."""
    u = rng.random(n)
    k = np.searchsorted(np.cumsum(weights), u, side="right")
    k = np.minimum(k, len(weights) - 1)
    return means[k] + sds[k] * rng.standard_normal(n)


def fit_normal_mixture(
    x: np.ndarray, *, n_components: int = 2, max_iter: int = 500, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit a 1-D normal mixture to draws ``x`` by EM (deterministic: quantile start).

    Parameters
    ----------
    x : ndarray
        Draws (1-D).
    n_components : int
        Number of components K >= 1. K = 1 returns the sample mean and SD.

    Returns
    -------
    weights, means, sds : ndarray
        Each of length K, means in increasing order.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> w, m, s = fit_normal_mixture(rng.normal(0.2, 0.1, 5000), n_components=1)
    >>> bool(abs(m[0] - 0.2) < 0.01 and abs(s[0] - 0.1) < 0.01)
    True
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError("fit_normal_mixture: need >= 2 finite draws")
    if n_components < 1:
        raise ValueError("n_components must be >= 1")
    sd_all = float(np.std(x))
    if n_components == 1 or sd_all == 0:
        return np.ones(1), np.array([x.mean()]), np.array([max(sd_all, 1e-12)])
    k = n_components
    qs = (np.arange(k) + 0.5) / k
    means = np.quantile(x, qs)
    sds = np.full(k, sd_all / math.sqrt(k))
    weights = np.full(k, 1.0 / k)
    floor = 1e-6 * sd_all
    ll_old = -np.inf
    for _ in range(max_iter):
        z = (x[:, None] - means) / sds
        logp = np.log(weights) - np.log(sds) - 0.5 * z * z
        lse = special.logsumexp(logp, axis=1)
        r = np.exp(logp - lse[:, None])
        nk = r.sum(axis=0) + 1e-300
        weights = nk / x.size
        means = (r * x[:, None]).sum(axis=0) / nk
        var = (r * (x[:, None] - means) ** 2).sum(axis=0) / nk
        sds = np.sqrt(np.maximum(var, floor**2))
        ll = float(lse.sum())
        if abs(ll - ll_old) <= tol * max(1.0, abs(ll)):
            break
        ll_old = ll
    order = np.argsort(means)
    return weights[order], means[order], sds[order]


def discount_mixture(
    weights: np.ndarray, means: np.ndarray, sds: np.ndarray, discount: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discount a normal mixture: the law of ``c + (X - c) / sqrt(discount)``, ``c = E[X]``.

    Component means move away from the mixture mean ``c`` and component SDs are divided by
    ``sqrt(discount)``, so the mixture keeps its mean and shape and its **total** variance
    (within + between components) is divided by ``discount`` (``discount`` in (0, 1]) --
    the same transformation as ``mode: draws`` applies to posterior draws.

    >>> w, m, s = discount_mixture(np.array([0.5, 0.5]), np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.25)
    >>> m.tolist(), s.tolist()
    ([-0.5, 1.5], [2.0, 2.0])
    """
    if not 0 < discount <= 1:
        raise ValueError(f"discount must be in (0, 1]; got {discount}")
    w = np.asarray(weights, dtype=float)
    m = np.asarray(means, dtype=float)
    c = float(np.sum(w * m) / np.sum(w))
    k = 1.0 / math.sqrt(discount)
    return weights, c + (m - c) * k, np.asarray(sds, dtype=float) * k


def shrink_mixture(
    weights: np.ndarray, means: np.ndarray, sds: np.ndarray, shrink: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skeptical shift of a normal mixture: the law of ``X - (1 - shrink) E[X]``.

    The mixture mean is multiplied by ``shrink`` (in [0, 1]); shape and spread are kept (the
    same transformation ``mode: draws`` applies to each posterior draw).

    >>> w, m, s = shrink_mixture(np.array([0.5, 0.5]), np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.5)
    >>> m.tolist(), s.tolist()
    ([-0.25, 0.75], [1.0, 1.0])
    """
    if not 0 <= shrink <= 1:
        raise ValueError(f"shrink must be in [0, 1]; got {shrink}")
    w = np.asarray(weights, dtype=float)
    m = np.asarray(means, dtype=float)
    c = float(np.sum(w * m) / np.sum(w))
    return weights, m - (1.0 - shrink) * c, np.asarray(sds, dtype=float)


def draw_batches(n_draws: int, max_batches: int = 40, min_batch: int = 20) -> int:
    """Number of contiguous draw batches used for batch means: ``min(max_batches, K // min_batch)``, >= 1.

    Batches of at least 20 draws keep batch means nearly independent for MCMC draws with an
    integrated autocorrelation time of a few draws (ESS / K >= ~0.2); 40 batches at most keep
    the variance estimate's own relative SE near 1/sqrt(2 * 39) = 11%.

    >>> draw_batches(2000), draw_batches(200), draw_batches(30)
    (40, 10, 1)
    """
    return int(max(1, min(max_batches, n_draws // min_batch)))


def batch_means_variance(x: np.ndarray, n_batches: int | None = None) -> float:
    """Variance of ``mean(x)`` over a sequence of (possibly autocorrelated) draws, by batch means.

    The draws are cut into ``n_batches`` contiguous batches (the posterior file stores draws
    chain by chain, so batches lie within chains and their means are nearly independent when a
    batch is much longer than the autocorrelation time). Returns
    ``sum_b n_b^2 (mean_b - mean)^2 / K^2 * B / (B - 1)`` (0 for a constant, NaN for one batch).
    For independent draws its expectation is ``var(x) / K``.

    >>> x = np.random.default_rng(0).normal(size=4000)
    >>> bool(abs(batch_means_variance(x) * 4000 - 1) < 0.5)
    True
    """
    x = np.asarray(x, dtype=float).ravel()
    k = x.size
    b = draw_batches(k) if n_batches is None else int(n_batches)
    if b < 2:
        return math.nan
    lab = (np.arange(k) * b) // k
    n_b = np.bincount(lab, minlength=b).astype(float)
    s_b = np.bincount(lab, weights=x, minlength=b)
    mu = s_b.sum() / k
    return float(np.sum((s_b - mu * n_b) ** 2) / (k * k) * b / (b - 1))


def robustify(
    weights: np.ndarray, means: np.ndarray, sds: np.ndarray, *, weight: float, mean: float, sd: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add a vague component ``N(mean, sd^2)`` with weight ``weight``; others scaled by 1 - weight."""
    if not 0 <= weight < 1:
        raise ValueError(f"robust weight must be in [0, 1); got {weight}")
    if weight == 0:
        return weights, means, sds
    return (
        np.append(np.asarray(weights) * (1 - weight), weight),
        np.append(means, mean),
        np.append(sds, sd),
    )


# --------------------------------------------------------------------------------------------
# reading the re-analysis posterior
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectDraws:
    """Posterior effect draws: ``values`` (sample, population), aligned across populations.

    ``status`` gives each population's status in the fit (``estimate`` | ``prediction`` |
    ``synthetic``; empty if the file has none).
    """

    values: np.ndarray
    populations: tuple[str, ...]
    scale: str
    status: tuple[str, ...] = ()


def _readers():
    """The fit module's reader API (imported lazily: the fit stack is heavy)."""
    from msbayes.fit.artefact import list_estimands, read_effect_draws

    return list_estimands, read_effect_draws


def list_fit_estimands(path: str | os.PathLike):
    """Table of estimands in a ``posterior.nc`` (columns model, prior, endpoint, population, ...)."""
    return _readers()[0](Path(path))


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, model: str, prior: str, endpoint: str, population: str | None) -> EffectDraws:
    _, read = _readers()
    da = read(Path(path), model=model, prior=prior, endpoint=endpoint, population=population)
    da = da.transpose("sample", "population")
    vals = np.ascontiguousarray(np.asarray(da.values, dtype=float))
    vals.setflags(write=False)
    pops = tuple(np.asarray(da["population"].values).astype(str).tolist()) if "population" in da.coords else ("",)
    status = tuple(np.asarray(da["status"].values).astype(str).tolist()) if "status" in da.coords else ()
    return EffectDraws(vals, pops, str(da.attrs.get("scale", "")), status)


def load_effect_draws(
    path: str | os.PathLike, *, model: str, prior: str, endpoint: str, population: str | None = None
) -> EffectDraws:
    """Read effect draws (sample, population) from ``posterior.nc`` (cached per file version).

    Raises
    ------
    ConfigError
        If the file is missing or no estimand matches; the message lists what is available.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise ConfigError(f"from_fit: posterior file not found: {p}", [("from_fit", "file not found")])
    try:
        return _load_cached(str(p), p.stat().st_mtime_ns, model, prior, endpoint, population)
    except (KeyError, ValueError) as exc:
        try:
            tab = list_fit_estimands(p)
            avail = tab[["model", "prior", "endpoint", "population"]].drop_duplicates().to_string(index=False)
        except Exception:  # pragma: no cover - only used to enrich the message
            avail = "(could not list estimands)"
        raise ConfigError(
            f"from_fit: no effect draws for model={model!r}, prior={prior!r}, endpoint={endpoint!r}, "
            f"population={population!r} in {p} ({exc}); available:\n{avail}",
            [("from_fit", "no matching estimand")],
        ) from None
