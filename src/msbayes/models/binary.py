"""Binary responder model (EDSS Plus) on the log-odds scale, same hierarchy by population.

For comparison ``g`` (population ``s``) with ``y_t / n_t`` responders on treatment and
``y_c / n_c`` on control:

    logit p_cg = control_sd * z_g,      logit p_tg = logit p_cg + theta_s
    y ~ Binomial(n, p)

with ``theta_s = mu + tau z_s`` (non-centred; ``mu ~ N(prior_mean, prior_sd^2)``, ``tau`` half
normal) when several populations are given, and ``theta = mu`` when only one is (Harris 2024
reports EDSS Plus for the whole population only). Benefit = higher odds of improvement, so
``theta`` is the log odds ratio treatment vs control; ``risk_difference`` = ``p_t - p_c`` is a
derived summary.

Examples
--------
>>> import numpy as np
>>> from msbayes.models.binary import BinaryInputs, build_binary_model
>>> d = BinaryInputs(populations=("all",), events_t=np.array([9]), n_t=np.array([27]),
...                  events_c=np.array([10]), n_c=np.array([27]))
>>> m = build_binary_model(d, prior_mean=0.0, prior_sd=0.42)
>>> "log_odds_ratio" in m.named_vars
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm

from .hierarchy import PriorOn, effect_hierarchy

__all__ = ["BinaryInputs", "build_binary_model"]


@dataclass(frozen=True)
class BinaryInputs:
    """Responder counts per population (one comparison each), arrays of shape (P,)."""

    populations: tuple[str, ...]
    events_t: np.ndarray
    n_t: np.ndarray
    events_c: np.ndarray
    n_c: np.ndarray

    def __post_init__(self) -> None:
        P = len(self.populations)
        for name in ("events_t", "n_t", "events_c", "n_c"):
            a = np.asarray(getattr(self, name))
            if a.shape != (P,):
                raise ValueError(f"BinaryInputs.{name}: expected shape ({P},), got {a.shape}")
            if np.any(a < 0) or np.any(a != np.round(a)):
                raise ValueError(f"BinaryInputs.{name}: must be non-negative integers")
        if np.any(np.asarray(self.events_t) > np.asarray(self.n_t)) or np.any(
            np.asarray(self.events_c) > np.asarray(self.n_c)
        ):
            raise ValueError("BinaryInputs: events cannot exceed n")
        if np.any(np.asarray(self.n_t) < 1) or np.any(np.asarray(self.n_c) < 1):
            raise ValueError("BinaryInputs.n_t/n_c: must be >= 1")


def build_binary_model(
    data: BinaryInputs,
    *,
    prior_mean: float,
    prior_sd: float,
    tau_sd: float = 0.5,
    control_sd: float = 2.0,
    prior_on: PriorOn = "stratum_effect",
    share_a: float = 1.0,
    share_b: float = 1.0,
) -> pm.Model:
    """Build the log-odds responder model (no sampling).

    Parameters
    ----------
    data : BinaryInputs
    prior_mean, prior_sd : float
        Normal prior on the (mean) log odds ratio.
    tau_sd : float
        Half-normal scale of the between-population SD (``prior_on="mean_effect"`` with >= 2
        populations only).
    prior_on, share_a, share_b
        Where the named prior sits with >= 2 populations (:mod:`msbayes.models.hierarchy`);
        with one population it is the prior of its log odds ratio.
    control_sd : float
        Normal(0, control_sd) prior on the control log-odds.

    Returns
    -------
    pymc.Model
        Variables ``log_odds_ratio`` and ``risk_difference`` (dim ``population``), observed
        ``y_t`` and ``y_c``.
    """
    P = len(data.populations)
    with pm.Model(coords={"population": list(data.populations)}) as model:
        p_mean = pm.Data("prior_mean", float(prior_mean))
        p_sd = pm.Data("prior_sd", float(prior_sd))
        c_sd = pm.Data("control_sd", float(control_sd))
        if P > 1:
            t_sd = pm.Data("tau_sd", float(tau_sd)) if prior_on == "mean_effect" else None
            sh = (pm.Data("share_a", float(share_a)), pm.Data("share_b", float(share_b))) if prior_on == "stratum_effect" else (None, None)
            _, _, th = effect_hierarchy(p_mean, p_sd, dims="population", prior_on=prior_on, tau_sd=t_sd,
                                        share_a=sh[0], share_b=sh[1], z_name="z_population")
            theta = pm.Deterministic("log_odds_ratio", th, dims="population")
        else:
            # one population: the named prior sits on its log odds ratio directly
            z_mu = pm.Normal("z_mu", 0.0, 1.0)
            mu = pm.Deterministic("mu_effect", p_mean + p_sd * z_mu)
            theta = pm.Deterministic("log_odds_ratio", mu[None], dims="population")
        z_c = pm.Normal("z_control", 0.0, 1.0, dims="population")
        lc = c_sd * z_c
        p_c = pm.Deterministic("p_control", pm.math.invlogit(lc), dims="population")
        p_t = pm.Deterministic("p_treatment", pm.math.invlogit(lc + theta), dims="population")
        pm.Deterministic("risk_difference", p_t - p_c, dims="population")
        n_t = pm.Data("n_t", np.asarray(data.n_t, dtype="int64"), dims="population")
        n_c = pm.Data("n_c", np.asarray(data.n_c, dtype="int64"), dims="population")
        y_t = pm.Data("y_t_obs", np.asarray(data.events_t, dtype="int64"), dims="population")
        y_c = pm.Data("y_c_obs", np.asarray(data.events_c, dtype="int64"), dims="population")
        pm.Binomial("y_t", n=n_t, p=p_t, observed=y_t, dims="population")
        pm.Binomial("y_c", n=n_c, p=p_c, observed=y_c, dims="population")
    return model
