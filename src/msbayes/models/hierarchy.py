"""The between-stratum hierarchy of treatment effects, shared by every re-analysis model.

The named prior (``N(m, s^2)``, :mod:`msbayes.models.priors`) can sit on one of two
parameters, chosen by ``prior_on``:

``"stratum_effect"`` (default)
    The prior is the **marginal prior of every stratum's effect** ``theta_s``, the quantity
    that is reported and carried into the design. The prior variance ``s^2`` is split into a
    part shared by all strata and a between-stratum part, with the share ``w ~ Beta(a, b)``:

        theta_s = m + s (sqrt(1 - w) u + sqrt(w) z_s),    u, z_s ~ N(0, 1)

    so ``theta_s ~ N(m, s^2)`` exactly, whatever ``w`` is: "skeptical" puts 5% prior mass
    beyond the MCID on each stratum effect. The mean effect is ``mu = m + s sqrt(1 - w) u``
    and the between-stratum SD ``tau = s sqrt(w)`` (at most ``s``); the correlation of two
    strata's effects a priori is ``1 - w``.

``"mean_effect"``
    The prior sits on the mean effect ``mu ~ N(m, s^2)``, with ``tau ~ HalfNormal(tau_sd)``
    and ``theta_s = mu + tau z_s``. The marginal prior of ``theta_s`` is then wider than
    ``N(m, s^2)`` (a normal scale mixture): a preset's stated tail does **not** hold for the
    stratum effects. Kept for sensitivity analyses on the between-stratum SD.

Examples
--------
>>> import numpy as np, pymc as pm
>>> from msbayes.models.hierarchy import effect_hierarchy
>>> with pm.Model(coords={"stratum": ["a", "b"]}) as m:
...     mu, tau, theta = effect_hierarchy(0.0, 0.11, dims="stratum")
>>> draws = pm.draw(theta, draws=20000, random_seed=1)
>>> bool(abs(draws[:, 0].std() - 0.11) < 0.003)
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

__all__ = ["PriorOn", "PRIOR_ON", "effect_hierarchy", "marginal_effect_draws"]

PriorOn = Literal["stratum_effect", "mean_effect"]
PRIOR_ON: tuple[str, ...] = ("stratum_effect", "mean_effect")


def effect_hierarchy(
    prior_mean,
    prior_sd,
    *,
    dims: str | tuple[str, ...],
    prior_on: PriorOn = "stratum_effect",
    tau_sd=1.0,
    share_a=1.0,
    share_b=1.0,
    mean_dims: str | None = None,
    z_name: str = "z_stratum",
    u=None,
):
    """Add the effect hierarchy to the current PyMC model; return ``(mu, tau, theta)``.

    Parameters
    ----------
    prior_mean, prior_sd : scalar or tensor (E,)
        The named prior ``N(m, s^2)`` (absolute units), per endpoint when vectors.
    dims : str or tuple of str
        Dims of ``theta``: ``"stratum"`` (scalar prior) or ``("endpoint", "stratum")``.
    prior_on : {"stratum_effect", "mean_effect"}
        Which parameter carries the named prior (module docstring).
    tau_sd : scalar or tensor (E,)
        ``mean_effect`` only: half-normal scale of the between-stratum SD.
    share_a, share_b : scalar
        ``stratum_effect`` only: Beta(a, b) prior of the between-stratum share ``w`` of the
        prior variance.
    mean_dims : str, optional
        Dim of ``mu`` / ``tau`` (``"endpoint"`` for vector priors).
    z_name : str
        Name of the standardised stratum deviations.
    u : tensor, optional
        Standard-normal deviate(s) of the shared part (default: a new ``z_mu``); the summary
        model passes a correlated one when endpoints are pooled.

    Returns
    -------
    mu, tau, theta : tensors
        Registered as deterministics ``mu_effect``, ``tau`` and the caller names ``theta``.
    """
    if prior_on not in PRIOR_ON:
        raise ValueError(f"prior_on must be one of {PRIOR_ON}, got {prior_on!r}")
    kw = {"dims": mean_dims} if mean_dims is not None else {}
    if u is None:
        u = pm.Normal("z_mu", 0.0, 1.0, **kw)
    z_s = pm.Normal(z_name, 0.0, 1.0, dims=dims)
    if prior_on == "stratum_effect":
        w = pm.Beta("between_share", alpha=share_a, beta=share_b, **kw)
        mu = pm.Deterministic("mu_effect", prior_mean + prior_sd * pt.sqrt(1.0 - w) * u, **kw)
        tau = pm.Deterministic("tau", prior_sd * pt.sqrt(w), **kw)
    else:
        mu = pm.Deterministic("mu_effect", prior_mean + prior_sd * u, **kw)
        tau_raw = pm.HalfNormal("tau_raw", 1.0, **kw)
        tau = pm.Deterministic("tau", tau_sd * tau_raw, **kw)
    if mean_dims is not None:
        theta = mu[..., None] + tau[..., None] * z_s
    else:
        theta = mu + tau * z_s
    return mu, tau, theta


def marginal_effect_draws(
    prior_mean: float,
    prior_sd: float,
    *,
    prior_on: PriorOn = "stratum_effect",
    tau_sd: float = 1.0,
    share_a: float = 1.0,
    share_b: float = 1.0,
    n: int = 100_000,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of one stratum's effect under the hierarchy prior, in plain numpy.

    An independent re-implementation of the generative model (no PyMC) for checks and for the
    prior tables of the report.

    Examples
    --------
    >>> import numpy as np
    >>> d = marginal_effect_draws(0.0, 0.11, rng=np.random.default_rng(0))
    >>> round(float(d.std()), 2)
    0.11
    """
    u, z = rng.standard_normal(n), rng.standard_normal(n)
    if prior_on == "stratum_effect":
        w = rng.beta(share_a, share_b, n)
        return prior_mean + prior_sd * (np.sqrt(1 - w) * u + np.sqrt(w) * z)
    tau = tau_sd * np.abs(rng.standard_normal(n))
    return prior_mean + prior_sd * u + tau * z
