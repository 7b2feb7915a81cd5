"""Summary-level continuous model: arm means and SDs with their exact normal-theory likelihood.

For each reported arm ``r`` (a study x endpoint x population x arm row) with size ``n_r``,
mean ``ybar_r`` and SD ``s_r`` on the analysis scale (log ratio or "% improvement", positive =
better), assuming normal patient-level outcomes with mean ``m_r`` and SD ``sigma_r``:

    ybar_r ~ N(m_r, sigma_r^2 / n_r),      s_r^2 ~ Gamma((n_r - 1)/2, rate=(n_r - 1)/(2 sigma_r^2))

(the second is ``(n_r - 1) s_r^2 / sigma_r^2 ~ chi2(n_r - 1)`` written on ``s_r^2`` itself, so
the Jacobian ``(n_r - 1)/sigma_r^2`` is included). The two are independent. Arm SDs are
arm-specific (``sigma_r = sigma_scale_e * |N(0,1)|``, half-normal).

Comparisons (groups) ``g`` = (study, endpoint, population) have a control mean
``c_g = control_sd_e * z_g`` and a treatment effect ``theta_g``; ``m_r = c_g + treated_r theta_g``.
Effects are partially pooled, non-centred (:mod:`msbayes.models.hierarchy`):

    u_e        = sqrt(rho) eta + sqrt(1 - rho) z_e            (rho = endpoint correlation)
    theta_es   = m_e + s_e (sqrt(1 - w_e) u_e + sqrt(w_e) z_es),  w_e ~ Beta(a, b)
               (prior_on="stratum_effect", default: every theta_es ~ N(m_e, s_e^2) exactly)
    theta_es   = mu_e + tau_e z_es, mu_e = m_e + s_e u_e, tau_e = tau_sd_e |N(0, 1)|
               (prior_on="mean_effect": the preset sits on mu_e; theta_es is wider)
    theta_g    = theta_{e,s}                                  for the primary study's groups
    theta_g    = mu_e + sqrt(tau_e^2 + between_study_sd_e^2) z'_g   for external groups

External groups enter through a power prior: their log-likelihood is multiplied by a weight
``0 <= w <= 1`` (``w`` = 1 is full borrowing, 0 = none). The marginal prior of each
``theta_es`` (or of ``mu_e``) is exactly the named prior whatever ``rho`` is, so presets keep
their meaning under endpoint pooling. A stratum with
no data for an endpoint still gets ``theta_es`` from the between-stratum prior: a *prediction*.

All data and prior hyperparameters are ``pm.Data`` so one compiled model serves every prior
preset and every simulated data set (see :mod:`msbayes.fit.sampling`).

Examples
--------
>>> import numpy as np
>>> from msbayes.models.summary import SummaryInputs, build_summary_model
>>> d = SummaryInputs.two_arm(endpoint="t25fw", stratum="edss_6.0-6.5", n=(10, 10),
...                           mean=(0.07, -0.34), sd=(0.24, 0.44))
>>> m = build_summary_model(d, prior_mean=[0.0], prior_sd=[0.11], tau_sd=[0.18],
...                         control_sd=[1.0], sigma_sd=[1.8])
>>> {"theta", "ybar", "s2"} <= set(m.named_vars)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .hierarchy import PriorOn, effect_hierarchy

__all__ = ["SummaryInputs", "build_summary_model", "stratum_status"]


@dataclass(frozen=True)
class SummaryInputs:
    """Typed arrays for :func:`build_summary_model` (no DataFrames in model builders).

    Parameters
    ----------
    endpoints : tuple of str
        Endpoint labels (dim ``endpoint``).
    strata : tuple of str
        Primary-study populations that get an effect (dim ``stratum``), reported or not.
    group_labels : tuple of str
        One label per comparison (study/endpoint/population).
    group_endpoint : int array (G,)
        Endpoint index of each group.
    group_stratum : int array (G,)
        Stratum index for primary-study groups, -1 for external groups.
    group_weight : float array (G,)
        Power-prior weight (1 for primary-study groups; in (0, 1] for external ones).
    row_labels : tuple of str
        One label per arm row.
    row_group : int array (R,)
    row_treated : int array (R,)
        1 for the treatment arm, 0 for control.
    n, mean, sd : arrays (R,)
        Arm size (>= 2), mean and SD on the analysis scale (positive = better).
    """

    endpoints: tuple[str, ...]
    strata: tuple[str, ...]
    group_labels: tuple[str, ...]
    group_endpoint: np.ndarray
    group_stratum: np.ndarray
    group_weight: np.ndarray
    row_labels: tuple[str, ...]
    row_group: np.ndarray
    row_treated: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        G, R = len(self.group_labels), len(self.row_labels)
        for name, arr, ln in [
            ("group_endpoint", self.group_endpoint, G),
            ("group_stratum", self.group_stratum, G),
            ("group_weight", self.group_weight, G),
            ("row_group", self.row_group, R),
            ("row_treated", self.row_treated, R),
            ("n", self.n, R),
            ("mean", self.mean, R),
            ("sd", self.sd, R),
        ]:
            if np.shape(arr) != (ln,):
                raise ValueError(f"SummaryInputs.{name}: expected shape ({ln},), got {np.shape(arr)}")
        if np.any(np.asarray(self.n) < 2):
            raise ValueError("SummaryInputs.n: every arm needs n >= 2")
        if np.any(~np.isfinite(self.mean)) or np.any(~np.isfinite(self.sd)):
            raise ValueError("SummaryInputs.mean/sd: must be finite (drop unreported rows first)")
        if np.any(np.asarray(self.sd) <= 0):
            raise ValueError("SummaryInputs.sd: must be positive")
        w = np.asarray(self.group_weight, dtype=float)
        if np.any(~(w > 0)) or np.any(w > 1):
            raise ValueError("SummaryInputs.group_weight: must be in (0, 1]")
        gs = np.asarray(self.group_stratum)
        if np.any(w[gs >= 0] != 1.0):
            raise ValueError("SummaryInputs.group_weight: primary-study groups must have weight 1")

    @property
    def primary_rows(self) -> np.ndarray:
        """Boolean mask of rows belonging to primary-study groups (stratum index >= 0)."""
        return np.asarray(self.group_stratum)[np.asarray(self.row_group)] >= 0

    @classmethod
    def two_arm(
        cls,
        *,
        endpoint: str,
        stratum: str,
        n: tuple[int, int],
        mean: tuple[float, float],
        sd: tuple[float, float],
        extra_strata: tuple[str, ...] = (),
    ) -> "SummaryInputs":
        """One comparison, arms ordered (treatment, control); for tests and examples."""
        strata = (stratum, *extra_strata)
        return cls(
            endpoints=(endpoint,),
            strata=strata,
            group_labels=(f"{endpoint}/{stratum}",),
            group_endpoint=np.array([0]),
            group_stratum=np.array([0]),
            group_weight=np.array([1.0]),
            row_labels=("treatment", "control"),
            row_group=np.array([0, 0]),
            row_treated=np.array([1, 0]),
            n=np.asarray(n, dtype=float),
            mean=np.asarray(mean, dtype=float),
            sd=np.asarray(sd, dtype=float),
        )

    def with_values(self, *, mean: np.ndarray, sd: np.ndarray) -> "SummaryInputs":
        """Same structure, new observed means and SDs (e.g. simulated data sets)."""
        return SummaryInputs(
            self.endpoints, self.strata, self.group_labels, self.group_endpoint,
            self.group_stratum, self.group_weight, self.row_labels, self.row_group,
            self.row_treated, self.n, np.asarray(mean, float), np.asarray(sd, float), self.meta,
        )


def stratum_status(data: SummaryInputs) -> np.ndarray:
    """``(E, S)`` array of ``"estimate"`` (primary-study data) or ``"prediction"`` (none)."""
    out = np.full((len(data.endpoints), len(data.strata)), "prediction", dtype=object)
    for g in range(len(data.group_labels)):
        s = int(data.group_stratum[g])
        if s >= 0 and np.any(np.asarray(data.row_group) == g):
            out[int(data.group_endpoint[g]), s] = "estimate"
    return out


def _vec(x, E: int, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(x, dtype=float), (E,)).copy()
    if np.any(~np.isfinite(a)):
        raise ValueError(f"{name}: must be finite")
    return a


def build_summary_model(
    data: SummaryInputs,
    *,
    prior_mean,
    prior_sd,
    tau_sd,
    control_sd,
    sigma_sd,
    between_study_sd=0.0,
    endpoint_correlation: float = 0.0,
    known_sigma: np.ndarray | None = None,
    prior_on: PriorOn = "stratum_effect",
    share_a=1.0,
    share_b=1.0,
    n_alternatives: np.ndarray | None = None,
    n_logw: np.ndarray | None = None,
) -> pm.Model:
    """Build the hierarchical summary-level model (no sampling).

    Parameters
    ----------
    data : SummaryInputs
    prior_mean, prior_sd : float or array (E,)
        The named normal prior (absolute units): on each stratum effect ``theta_es``
        (``prior_on="stratum_effect"``, exact marginal) or on the mean effect ``mu_e``.
    tau_sd : float or array (E,)
        ``prior_on="mean_effect"`` only: half-normal scale of the between-stratum SD.
    control_sd : float or array (E,)
        Normal(0, control_sd) prior on each group's control-arm mean.
    sigma_sd : float or array (E,)
        Half-normal scale of the arm SDs.
    between_study_sd : float or array (E,)
        Extra SD of an external study's effect around ``mu_e`` (0 = same effect).
    endpoint_correlation : float in [0, 1)
        Prior correlation of the endpoints' mean effects (0 = no pooling across endpoints).
    known_sigma : array (R,), optional
        Treat arm SDs as known (drops the ``s^2`` likelihood); for closed-form checks.
    prior_on : {"stratum_effect", "mean_effect"}
        Which parameter carries the named prior (:mod:`msbayes.models.hierarchy`).
    share_a, share_b : float or array (E,)
        ``prior_on="stratum_effect"`` only: Beta prior of the between-stratum share of the
        prior variance.
    n_alternatives : array (K, R), optional
        Unknown arm sizes: K alternative size vectors (one per row); the primary rows'
        likelihood becomes a mixture over the alternatives of each group, with prior log
        weights ``n_logw`` (K, G) (``-inf`` pads groups with fewer alternatives). Adds
        ``n_alt_prob`` (the conditional posterior weight of each alternative) and
        ``arm_mean``; ``ybar`` / ``s2`` are then not observed nodes.

    Returns
    -------
    pymc.Model
        Named variables include ``theta`` (endpoint, stratum), ``mu_effect``, ``tau``,
        ``ybar`` and ``s2`` (observed, primary rows) and ``group_effect``.
    """
    E, S, G = len(data.endpoints), len(data.strata), len(data.group_labels)
    if not 0.0 <= float(endpoint_correlation) < 1.0:
        raise ValueError("endpoint_correlation must be in [0, 1)")
    prim = data.primary_rows
    rows_p = np.flatnonzero(prim)
    rows_x = np.flatnonzero(~prim)
    ext_groups = np.flatnonzero(np.asarray(data.group_stratum) < 0)
    coords = {
        "endpoint": list(data.endpoints),
        "stratum": list(data.strata),
        "group": list(data.group_labels),
        "row": [data.row_labels[i] for i in rows_p],
    }
    if len(rows_x):
        coords["ext_row"] = [data.row_labels[i] for i in rows_x]
    if len(ext_groups):
        coords["ext_group"] = [data.group_labels[i] for i in ext_groups]
    ge = np.asarray(data.group_endpoint, dtype=int)
    gs = np.asarray(data.group_stratum, dtype=int)
    rg = np.asarray(data.row_group, dtype=int)
    re_ = ge[rg]
    with pm.Model(coords=coords) as model:
        p_mean = pm.Data("prior_mean", _vec(prior_mean, E, "prior_mean"), dims="endpoint")
        p_sd = pm.Data("prior_sd", _vec(prior_sd, E, "prior_sd"), dims="endpoint")
        t_sd = pm.Data("tau_sd", _vec(tau_sd, E, "tau_sd"), dims="endpoint")
        c_sd = pm.Data("control_sd", _vec(control_sd, E, "control_sd"), dims="endpoint")
        s_sd = pm.Data("sigma_sd", _vec(sigma_sd, E, "sigma_sd"), dims="endpoint")
        b_sd = pm.Data("between_study_sd", _vec(between_study_sd, E, "between_study_sd"), dims="endpoint")
        z_mu = pm.Normal("z_mu", 0.0, 1.0, dims="endpoint")
        rho = float(endpoint_correlation)
        if rho > 0 and E > 1:
            eta = pm.Normal("eta", 0.0, 1.0)
            u = np.sqrt(rho) * eta + np.sqrt(1.0 - rho) * z_mu
        else:
            u = z_mu
        if prior_on == "stratum_effect":
            sh_a = pm.Data("share_a", _vec(share_a, E, "share_a"), dims="endpoint")
            sh_b = pm.Data("share_b", _vec(share_b, E, "share_b"), dims="endpoint")
        else:
            sh_a = sh_b = None
        mu, tau, theta_ = effect_hierarchy(
            p_mean, p_sd, dims=("endpoint", "stratum"), prior_on=prior_on, tau_sd=t_sd,
            share_a=sh_a, share_b=sh_b, mean_dims="endpoint", u=u,
        )
        theta = pm.Deterministic("theta", theta_, dims=("endpoint", "stratum"))
        # effect of each group: primary groups index theta, external groups their own draw.
        # An external study's effect varies around mu by at least the between-stratum SD
        # (another population is at least as different as another stratum) plus an extra
        # between-study SD.
        flat = theta.flatten()
        if len(ext_groups):
            z_x = pm.Normal("z_study", 0.0, 1.0, dims="ext_group")
            eg = ge[ext_groups]
            ext_eff = mu[eg] + pt.sqrt(tau[eg] ** 2 + b_sd[eg] ** 2) * z_x
            flat = pt.concatenate([flat, ext_eff])
        idx = np.where(gs >= 0, ge * S + np.maximum(gs, 0), 0)
        for j, g in enumerate(ext_groups):
            idx[g] = E * S + j
        g_eff = pm.Deterministic("group_effect", flat[idx], dims="group")
        z_c = pm.Normal("z_control", 0.0, 1.0, dims="group")
        ctrl = pm.Deterministic("control_mean", c_sd[ge] * z_c, dims="group")
        arm_mu = ctrl[rg] + np.asarray(data.row_treated, dtype=float) * g_eff[rg]
        n_all = pm.Data("n", np.asarray(data.n, dtype=float))
        if known_sigma is None:
            sig_raw = pm.HalfNormal("sigma_raw", 1.0, shape=len(rg))
            sigma = s_sd[re_] * sig_raw
        else:
            sigma = pm.Data("known_sigma", np.asarray(known_sigma, dtype=float))
        ybar_all = pm.Data("ybar_obs_all", np.asarray(data.mean, dtype=float))
        s2_all = pm.Data("s2_obs_all", np.asarray(data.sd, dtype=float) ** 2)
        if len(rows_p) and n_alternatives is None:
            pm.Normal("ybar", mu=arm_mu[rows_p], sigma=sigma[rows_p] / pt.sqrt(n_all[rows_p]),
                      observed=ybar_all[rows_p], dims="row")
            if known_sigma is None:
                df = n_all[rows_p] - 1.0
                pm.Gamma("s2", alpha=df / 2.0, beta=df / (2.0 * sigma[rows_p] ** 2),
                         observed=s2_all[rows_p], dims="row")
        elif len(rows_p):
            # unknown group sizes: the likelihood is a mixture over K alternative (n_t, n_c) per
            # group (those consistent with a reported p-value), prior weights exp(n_logw)
            K = int(np.shape(n_alternatives)[0])
            model.add_coord("n_alternative", list(range(K)))
            n_alt = pm.Data("n_alt", np.asarray(n_alternatives, dtype=float)[:, rows_p], dims=("n_alternative", "row"))
            logw = pm.Data("n_logw", np.asarray(n_logw, dtype=float), dims=("n_alternative", "group"))
            mu_p, sig_p = arm_mu[rows_p][None, :], sigma[rows_p][None, :]
            ll = pm.logp(pm.Normal.dist(mu=mu_p, sigma=sig_p / pt.sqrt(n_alt)), ybar_all[rows_p][None, :])
            if known_sigma is None:
                df = n_alt - 1.0
                ll = ll + pm.logp(pm.Gamma.dist(alpha=df / 2.0, beta=df / (2.0 * sig_p**2)), s2_all[rows_p][None, :])
            onehot = np.zeros((len(rows_p), G))
            onehot[np.arange(len(rows_p)), rg[rows_p]] = 1.0
            ll_kg = pt.dot(ll, onehot) + logw  # (K, G); padded alternatives carry logw = -1e6
            has_rows = onehot.sum(axis=0) > 0
            lse = pt.logsumexp(ll_kg, axis=0)
            pm.Potential("summary_loglik", pt.sum(lse[np.flatnonzero(has_rows)]))
            pm.Deterministic("n_alt_prob", pt.exp(ll_kg - lse[None, :]), dims=("n_alternative", "group"))
            pm.Deterministic("arm_mean", arm_mu[rows_p], dims="row")
        if len(rows_x):
            w_all = pm.Data("group_weight", np.asarray(data.group_weight, dtype=float), dims="group")
            wx = w_all[rg[rows_x]]
            ll = pm.logp(pm.Normal.dist(mu=arm_mu[rows_x], sigma=sigma[rows_x] / pt.sqrt(n_all[rows_x])),
                         ybar_all[rows_x])
            if known_sigma is None:
                dfx = n_all[rows_x] - 1.0
                ll = ll + pm.logp(pm.Gamma.dist(alpha=dfx / 2.0, beta=dfx / (2.0 * sigma[rows_x] ** 2)),
                                  s2_all[rows_x])
            pm.Potential("external_loglik", pt.sum(wx * ll))
        if known_sigma is None:
            pm.Deterministic("sigma", sigma, dims=None)
    return model
