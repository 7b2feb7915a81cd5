"""Estimate-and-SE model: re-analyse published treatment effects reported with their standard errors.

For each reported effect ``g`` (an endpoint x population row of the user's table) with
estimate ``y_g`` and standard error ``se_g`` on a scale the user declares (positive = better):

    y_g ~ N(theta_{e(g), s(g)}, se_g^2)

with the same stratum hierarchy as the other models (:mod:`msbayes.models.hierarchy`; the named
prior is the marginal prior of each ``theta_es``), or, with ``pooling="none"``, independent
``theta_es ~ N(m_e, s_e^2)``: then each posterior is the exact normal-normal update
``N((m/s^2 + y/se^2) / (1/s^2 + 1/se^2), 1 / (1/s^2 + 1/se^2))``. Populations listed for an
endpoint without a row get a *prediction* from the hierarchy.

Examples
--------
>>> import numpy as np
>>> from msbayes.models.effects import EffectInputs, build_effects_model
>>> d = EffectInputs(endpoints=("sbp",), strata=("all",), group_endpoint=np.array([0]),
...                  group_stratum=np.array([0]), estimate=np.array([3.0]), se=np.array([1.5]))
>>> m = build_effects_model(d, prior_mean=[0.0], prior_sd=[2.0], pooling="none")
>>> "theta" in m.named_vars
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymc as pm

from .hierarchy import PriorOn, effect_hierarchy

__all__ = ["EffectInputs", "build_effects_model"]

Pooling = Literal["hierarchical", "none"]


@dataclass(frozen=True)
class EffectInputs:
    """Reported effects: ``estimate`` and ``se`` (G,) for group ``g`` of endpoint
    ``group_endpoint[g]`` and stratum ``group_stratum[g]`` (indices into ``endpoints`` /
    ``strata``), on the positive = better scale."""

    endpoints: tuple[str, ...]
    strata: tuple[str, ...]
    group_endpoint: np.ndarray
    group_stratum: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    scales: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        G = len(self.estimate)
        for name in ("group_endpoint", "group_stratum", "se"):
            if np.shape(getattr(self, name)) != (G,):
                raise ValueError(f"EffectInputs.{name}: expected shape ({G},)")
        if np.any(~np.isfinite(self.estimate)) or np.any(~(np.asarray(self.se) > 0)):
            raise ValueError("EffectInputs: estimates must be finite and SEs > 0")

    def status(self) -> np.ndarray:
        """(E, S) ``"estimate"`` where a row exists, else ``"prediction"``."""
        out = np.full((len(self.endpoints), len(self.strata)), "prediction", dtype=object)
        out[np.asarray(self.group_endpoint), np.asarray(self.group_stratum)] = "estimate"
        return out


def build_effects_model(
    data: EffectInputs,
    *,
    prior_mean,
    prior_sd,
    pooling: Pooling = "hierarchical",
    prior_on: PriorOn = "stratum_effect",
    tau_sd=1.0,
    share_a=1.0,
    share_b=1.0,
) -> pm.Model:
    """Build the estimate-and-SE model (no sampling).

    Parameters
    ----------
    data : EffectInputs
    prior_mean, prior_sd : float or array (E,)
        The named normal prior, absolute units of each endpoint's scale.
    pooling : {"hierarchical", "none"}
        ``none``: independent stratum effects, each with the named prior (exact conjugate).
    prior_on, tau_sd, share_a, share_b
        The hierarchy (:mod:`msbayes.models.hierarchy`), ``pooling="hierarchical"`` only.

    Returns
    -------
    pymc.Model
        ``theta`` (endpoint, stratum); observed ``y`` (group).
    """
    E, S, G = len(data.endpoints), len(data.strata), len(data.estimate)
    coords = {"endpoint": list(data.endpoints), "stratum": list(data.strata), "group": list(range(G))}
    ge = np.asarray(data.group_endpoint, int)
    gs = np.asarray(data.group_stratum, int)
    with pm.Model(coords=coords) as model:
        p_mean = pm.Data("prior_mean", np.broadcast_to(np.asarray(prior_mean, float), (E,)).copy(), dims="endpoint")
        p_sd = pm.Data("prior_sd", np.broadcast_to(np.asarray(prior_sd, float), (E,)).copy(), dims="endpoint")
        if pooling == "none":
            z = pm.Normal("z_stratum", 0.0, 1.0, dims=("endpoint", "stratum"))
            theta = pm.Deterministic("theta", p_mean[:, None] + p_sd[:, None] * z, dims=("endpoint", "stratum"))
        else:
            if prior_on == "stratum_effect":
                sh_a = pm.Data("share_a", np.full(E, float(np.ravel(share_a)[0])), dims="endpoint")
                sh_b = pm.Data("share_b", np.full(E, float(np.ravel(share_b)[0])), dims="endpoint")
                t_sd = None
            else:
                sh_a = sh_b = None
                t_sd = pm.Data("tau_sd", np.broadcast_to(np.asarray(tau_sd, float), (E,)).copy(), dims="endpoint")
            _, _, th = effect_hierarchy(p_mean, p_sd, dims=("endpoint", "stratum"), prior_on=prior_on,
                                        tau_sd=t_sd, share_a=sh_a, share_b=sh_b, mean_dims="endpoint")
            theta = pm.Deterministic("theta", th, dims=("endpoint", "stratum"))
        se = pm.Data("se", np.asarray(data.se, float), dims="group")
        y = pm.Data("y_obs", np.asarray(data.estimate, float), dims="group")
        pm.Normal("y", mu=theta[ge, gs], sigma=se, observed=y, dims="group")
    return model
