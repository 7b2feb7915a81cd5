"""Dose-response truth: standardised shapes, anchoring at the tested regimen, target doses.

Every model is written as ``f(d) = E0 + A * g(d; shape)`` with a standardised shape ``g``
satisfying ``g(0) = 0`` (DoseFinding's parameterisations; the logistic model is shifted by
its value at 0). The true effect over placebo is anchored at the tested regimen ``d_ref``
(the anchoring used throughout msbayes)::

    effect(d) = theta_ref * g(d) / g(d_ref)

so that ``theta_ref`` carries the re-analysis posterior (or a fixed scenario) and the shape
parameters carry their own prior.

==============  ================  ===========================================  =========
model           shape params      g(d)                                         monotone
==============  ================  ===========================================  =========
linear          (none)            d                                            yes
emax            ed50              d / (ed50 + d)                               yes
sigemax         ed50, hill        d^h / (ed50^h + d^h)                         yes
exponential     delta             exp(d / delta) - 1                           yes
quadratic       delta             d + delta d^2                                no
logistic        ed50, delta       L(d) - L(0), L(d) = 1/(1+exp((ed50-d)/delta)) yes
==============  ================  ===========================================  =========

Examples
--------
>>> import numpy as np
>>> eff = anchored_effects("emax", [0, 3, 6, 10], d_ref=10, theta_ref=np.array([0.2]),
...                        shape={"ed50": 3.0})
>>> np.round(eff, 4).tolist()
[[0.0, 0.13, 0.1733, 0.2]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from msbayes.design.dosefinding import MODEL_PARAMS, DoseResponseSpec, LogNormalPrior, UniformPrior

__all__ = [
    "DOSE_RESPONSE_MODELS",
    "DoseResponseModel",
    "anchored_effects",
    "draw_shape",
    "shape_g",
    "target_dose",
    "true_med",
]

ArrayLike = np.ndarray | float


def _g_linear(d, p):
    return d * 1.0


def _g_emax(d, p):
    return d / (p["ed50"] + d)


def _g_sigemax(d, p):
    h = p["hill"]
    # d^h / (ed50^h + d^h) = 1 / (1 + (ed50/d)^h), written to avoid overflow; g(0) = 0
    with np.errstate(divide="ignore", over="ignore"):
        r = np.where(d > 0, (p["ed50"] / np.where(d > 0, d, 1.0)) ** h, np.inf)
        return np.where(d > 0, 1.0 / (1.0 + r), 0.0)


def _g_exponential(d, p):
    return np.expm1(d / p["delta"])


def _g_quadratic(d, p):
    return d + p["delta"] * d * d


def _logistic_cdf(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1+exp(-x)), overflow-free


def _g_logistic(d, p):
    return _logistic_cdf((d - p["ed50"]) / p["delta"]) - _logistic_cdf(-p["ed50"] / p["delta"])


@dataclass(frozen=True)
class DoseResponseModel:
    """One dose-response family: ``f(d) = E0 + A g(d)``; quadratic has ``A = b1``."""

    name: str
    params: tuple[str, ...]
    g: Callable[[np.ndarray, Mapping[str, ArrayLike]], np.ndarray]
    monotone: bool
    n_par: int  # number of parameters incl. E0 (DoseFinding's count, used for AIC)


#: Registry name -> :class:`DoseResponseModel` (names as in configs).
DOSE_RESPONSE_MODELS: dict[str, DoseResponseModel] = {
    "linear": DoseResponseModel("linear", (), _g_linear, True, 2),
    "emax": DoseResponseModel("emax", ("ed50",), _g_emax, True, 3),
    "sigemax": DoseResponseModel("sigemax", ("ed50", "hill"), _g_sigemax, True, 4),
    "exponential": DoseResponseModel("exponential", ("delta",), _g_exponential, True, 3),
    "quadratic": DoseResponseModel("quadratic", ("delta",), _g_quadratic, False, 3),
    "logistic": DoseResponseModel("logistic", ("ed50", "delta"), _g_logistic, True, 4),
}
assert {k: v.params for k, v in DOSE_RESPONSE_MODELS.items()} == MODEL_PARAMS


def _get(model: str) -> DoseResponseModel:
    try:
        return DOSE_RESPONSE_MODELS[model]
    except KeyError:
        raise ValueError(
            f"model: unknown dose-response model {model!r} "
            f"(allowed: {list(DOSE_RESPONSE_MODELS)})") from None


def _shape_cols(m: DoseResponseModel, shape: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    missing = [p for p in m.params if p not in shape]
    if missing:
        raise ValueError(f"shape: model {m.name!r} needs {list(m.params)}; missing {missing}")
    return {p: np.asarray(shape[p], dtype=float)[..., None] for p in m.params}


def shape_g(model: str, doses, shape: Mapping[str, ArrayLike]) -> np.ndarray:
    """Standardised shape ``g(d)`` with ``g(0) = 0``, shape ``[sim, dose]`` (or ``[dose]``).

    Parameters
    ----------
    model : str
        A key of :data:`DOSE_RESPONSE_MODELS`.
    doses : array_like, shape (dose,)
    shape : mapping of parameter name -> float or ndarray[sim]

    Examples
    --------
    >>> shape_g("emax", [0, 1, 3], {"ed50": 1.0}).tolist()
    [0.0, 0.5, 0.75]
    """
    m = _get(model)
    d = np.asarray(doses, dtype=float)
    return m.g(d, _shape_cols(m, shape))


def anchored_effects(model: str, doses, *, d_ref: float, theta_ref: ArrayLike,
                     shape: Mapping[str, ArrayLike] | None = None) -> np.ndarray:
    """True effects over placebo anchored at ``d_ref``: ``theta_ref g(d)/g(d_ref)``.

    Parameters
    ----------
    model : str
        Dose-response model name.
    doses : array_like, shape (dose,)
    d_ref : float
        The tested reference regimen (must have ``g(d_ref) != 0``).
    theta_ref : ndarray, shape (sim,)
        Effect at ``d_ref`` (from the design prior or a fixed scenario).
    shape : mapping of parameter -> float or ndarray[sim]

    Returns
    -------
    ndarray, shape (sim, dose)

    Examples
    --------
    >>> import numpy as np
    >>> anchored_effects("linear", [0, 5, 10], d_ref=10, theta_ref=np.array([0.2, 0.4])).tolist()
    [[0.0, 0.1, 0.2], [0.0, 0.2, 0.4]]
    """
    m = _get(model)
    theta = np.atleast_1d(np.asarray(theta_ref, dtype=float))
    cols = _shape_cols(m, shape or {})
    g = m.g(np.asarray(doses, dtype=float), cols)
    g_ref = m.g(np.asarray([float(d_ref)]), cols)
    if np.any(g_ref == 0) or not np.all(np.isfinite(g_ref)):
        raise ValueError(f"d_ref: g(d_ref) must be finite and non-zero for model {model!r}")
    g = np.broadcast_to(g, (theta.shape[0], g.shape[-1])) if g.ndim == 1 else g
    return theta[:, None] * (g / g_ref)


def draw_shape(spec: DoseResponseSpec, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``n`` values of each shape parameter of ``spec`` (fixed values are repeated).

    Examples
    --------
    >>> from msbayes.design.dosefinding import DoseResponseSpec
    >>> spec = DoseResponseSpec.model_validate(
    ...     {"model": "emax", "ed50": {"lognormal": {"median": 3.0, "sd_log": 0.0}}})
    >>> draw_shape(spec, 2, np.random.default_rng(0))["ed50"].tolist()
    [3.0, 3.0]
    """
    out: dict[str, np.ndarray] = {}
    for p in MODEL_PARAMS[spec.model]:
        v = getattr(spec, p)
        if isinstance(v, LogNormalPrior):
            out[p] = v.lognormal.median * np.exp(v.lognormal.sd_log * rng.standard_normal(n))
        elif isinstance(v, UniformPrior):
            out[p] = rng.uniform(v.uniform.lower, v.uniform.upper, n)
        else:
            out[p] = np.full(n, float(v))
    return out


def target_dose(model: str, *, scale: ArrayLike, shape: Mapping[str, ArrayLike],
                target_delta: float, d_max: float) -> np.ndarray:
    """Target dose: smallest dose in ``[0, d_max]`` with ``scale * g(d) >= target_delta``.

    Closed form for every model (TD in DoseFinding's sense, continuous dose); ``nan`` where
    the target is not reached within ``[0, d_max]``.

    Parameters
    ----------
    model : str
    scale : ndarray[sim]
        ``A`` in ``effect(d) = A g(d)`` (for anchored truth, ``theta_ref / g(d_ref)``).
    shape : mapping of parameter -> float or ndarray[sim]
    target_delta : float (> 0)
    d_max : float
        Largest dose considered (the highest tested dose).

    Examples
    --------
    >>> import numpy as np
    >>> target_dose("emax", scale=np.array([0.3]), shape={"ed50": 2.0},
    ...             target_delta=0.1, d_max=10).round(6).tolist()
    [1.0]
    """
    if not target_delta > 0:
        raise ValueError(f"target_delta: must be > 0; got {target_delta}")
    m = _get(model)
    A = np.atleast_1d(np.asarray(scale, dtype=float))
    D = float(target_delta)
    p = {k: np.asarray(shape[k], dtype=float) for k in m.params}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if model == "linear":
            td = np.where(A > 0, D / A, np.nan)
        elif model == "emax":
            td = np.where(A > D, D * p["ed50"] / (A - D), np.nan)
        elif model == "sigemax":
            td = np.where(A > D, p["ed50"] * (D / (A - D)) ** (1.0 / p["hill"]), np.nan)
        elif model == "exponential":
            td = np.where(A > 0, p["delta"] * np.log1p(D / A), np.nan)
        elif model == "quadratic":
            a, b = A * p["delta"], A  # a d^2 + b d - D = 0
            disc = b * b + 4.0 * a * D
            sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
            r1 = 2.0 * D / (b + sq)
            r2 = 2.0 * D / (b - sq)
            r1 = np.where(r1 > 0, r1, np.inf)
            r2 = np.where(r2 > 0, r2, np.inf)
            td = np.minimum(r1, r2)
            td = np.where(np.isfinite(td), td, np.nan)
        elif model == "logistic":
            L0 = _logistic_cdf(-p["ed50"] / p["delta"])
            q = L0 + D / A
            ok = (A > 0) & (q < 1)
            td = np.where(ok, p["ed50"] - p["delta"] * np.log(1.0 / q - 1.0), np.nan)
        else:  # pragma: no cover - registry and branches kept in sync
            raise AssertionError(model)
    td = np.asarray(td, dtype=float)
    return np.where((td >= 0) & (td <= d_max * (1 + 1e-12)), td, np.nan)


def true_med(effects: np.ndarray, target_delta: float) -> np.ndarray:
    """Index of the smallest tested active dose with effect >= ``target_delta`` (-1: none).

    Parameters
    ----------
    effects : ndarray, shape (sim, dose)
        Effects over placebo; column 0 is placebo and is never selected.

    Examples
    --------
    >>> import numpy as np
    >>> true_med(np.array([[0, .1, .2, .3], [0, 0, 0, .1]]), 0.15).tolist()
    [2, -1]
    """
    e = np.asarray(effects, dtype=float)
    hit = e[:, 1:] >= target_delta
    idx = np.argmax(hit, axis=1) + 1
    return np.where(hit.any(axis=1), idx, -1)
