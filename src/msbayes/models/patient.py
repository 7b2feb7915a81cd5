"""Patient-level model: robust ANCOVA of the log ratio on centred log baseline.

For patient ``i`` in EDSS stratum ``s[i]`` with subtype ``k[i]``, treatment indicator
``t_i``, outcome ``y_i`` (log ratio, positive = better) and centred log baseline ``x_i``:

    y_i ~ StudentT(nu, alpha_s + beta x_i + gamma_k + theta_s t_i, sigma)
    theta_s ~ N(prior_mean, prior_sd^2) marginally (msbayes.models.hierarchy; or the prior on mu)
    alpha_s = control_sd * a_s,   gamma_1 = 0, gamma_k = control_sd * g_k (k > 1),
    beta ~ N(0, 1), sigma = sigma_sd |N(0,1)|, nu ~ Gamma(2, 0.1) (or fixed)

Examples
--------
>>> import numpy as np
>>> from msbayes.models.patient import PatientInputs, build_patient_model
>>> rng = np.random.default_rng(1)
>>> d = PatientInputs(strata=("a", "b"), subtypes=("spms", "ppms"), y=rng.normal(size=8),
...                   x=rng.normal(size=8), treated=np.tile([0, 1], 4),
...                   stratum=np.repeat([0, 1], 4), subtype=np.zeros(8, int))
>>> m = build_patient_model(d, prior_mean=0.0, prior_sd=0.5)
>>> "theta" in m.named_vars
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm

from .hierarchy import PriorOn, effect_hierarchy

__all__ = ["PatientInputs", "build_patient_model"]


@dataclass(frozen=True)
class PatientInputs:
    """Patient-level arrays of shape (N,); ``stratum``/``subtype`` index ``strata``/``subtypes``."""

    strata: tuple[str, ...]
    subtypes: tuple[str, ...]
    y: np.ndarray
    x: np.ndarray
    treated: np.ndarray
    stratum: np.ndarray
    subtype: np.ndarray

    def __post_init__(self) -> None:
        N = np.shape(self.y)[0]
        for name in ("y", "x", "treated", "stratum", "subtype"):
            a = np.asarray(getattr(self, name))
            if a.shape != (N,):
                raise ValueError(f"PatientInputs.{name}: expected shape ({N},), got {a.shape}")
        if not np.all(np.isfinite(self.y)) or not np.all(np.isfinite(self.x)):
            raise ValueError("PatientInputs.y/x: must be finite")
        if set(np.unique(self.treated)) - {0, 1}:
            raise ValueError("PatientInputs.treated: must be 0/1")
        if np.any(np.asarray(self.stratum) < 0) or np.any(np.asarray(self.stratum) >= len(self.strata)):
            raise ValueError("PatientInputs.stratum: index out of range")
        if np.any(np.asarray(self.subtype) < 0) or np.any(np.asarray(self.subtype) >= len(self.subtypes)):
            raise ValueError("PatientInputs.subtype: index out of range")


def build_patient_model(
    data: PatientInputs,
    *,
    prior_mean: float,
    prior_sd: float,
    tau_sd: float = 0.18,
    control_sd: float = 1.0,
    sigma_sd: float = 1.0,
    nu: float | None = None,
    prior_on: PriorOn = "stratum_effect",
    share_a: float = 1.0,
    share_b: float = 1.0,
) -> pm.Model:
    """Build the robust ANCOVA model (no sampling).

    Parameters
    ----------
    data : PatientInputs
    prior_mean, prior_sd : float
        The named normal prior (log ratio): on each ``theta_s`` by default.
    tau_sd : float
        Half-normal scale of the between-stratum SD of the effect.
    control_sd : float
        Normal(0, control_sd) prior on stratum intercepts and subtype offsets.
    sigma_sd : float
        Half-normal scale of the residual scale ``sigma``.
    nu : float, optional
        Fixed Student-t degrees of freedom; ``None`` puts a Gamma(2, 0.1) prior on it.
    prior_on, share_a, share_b
        Where the named prior sits (:mod:`msbayes.models.hierarchy`); default: on each
        stratum effect ``theta_s``.

    Returns
    -------
    pymc.Model
        ``theta`` (dim ``stratum``) is the treatment effect per stratum; ``y`` is observed.
    """
    coords = {"stratum": list(data.strata), "subtype": list(data.subtypes)}
    K = len(data.subtypes)
    with pm.Model(coords=coords) as model:
        p_mean = pm.Data("prior_mean", float(prior_mean))
        p_sd = pm.Data("prior_sd", float(prior_sd))
        t_sd = pm.Data("tau_sd", float(tau_sd)) if prior_on == "mean_effect" else None
        c_sd = pm.Data("control_sd", float(control_sd))
        s_sd = pm.Data("sigma_sd", float(sigma_sd))
        sh = (pm.Data("share_a", float(share_a)), pm.Data("share_b", float(share_b))) if prior_on == "stratum_effect" else (None, None)
        _, _, th = effect_hierarchy(p_mean, p_sd, dims="stratum", prior_on=prior_on, tau_sd=t_sd,
                                    share_a=sh[0], share_b=sh[1])
        theta = pm.Deterministic("theta", th, dims="stratum")
        alpha = pm.Deterministic("alpha", c_sd * pm.Normal("z_alpha", 0.0, 1.0, dims="stratum"), dims="stratum")
        beta = pm.Normal("beta", 0.0, 1.0)
        if K > 1:
            g_raw = pm.Normal("z_subtype", 0.0, 1.0, shape=K - 1)
            gamma = pm.Deterministic(
                "gamma", pm.math.concatenate([np.zeros(1), c_sd * g_raw]), dims="subtype"
            )
        else:
            gamma = np.zeros(1)
        sigma = pm.Deterministic("sigma", s_sd * pm.HalfNormal("sigma_raw", 1.0))
        nu_v = pm.Gamma("nu", alpha=2.0, beta=0.1) if nu is None else float(nu)
        x = pm.Data("x", np.asarray(data.x, dtype=float))
        t = pm.Data("treated", np.asarray(data.treated, dtype=float))
        s = pm.Data("stratum_idx", np.asarray(data.stratum, dtype="int64"))
        k = pm.Data("subtype_idx", np.asarray(data.subtype, dtype="int64"))
        y = pm.Data("y_obs", np.asarray(data.y, dtype=float))
        loc = alpha[s] + beta * x + gamma[k] + theta[s] * t
        pm.StudentT("y", nu=nu_v, mu=loc, sigma=sigma, observed=y, shape=x.shape)
    return model
