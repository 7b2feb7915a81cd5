"""Posterior summaries of effect draws and the diagnostics gate.

Examples
--------
>>> import numpy as np
>>> from msbayes.fit.summarize import summarize_draws
>>> d = np.random.default_rng(0).normal(0.3, 0.1, size=(2, 2000))
>>> s = summarize_draws(d, mcid=0.18)
>>> round(s["mean"], 1), s["p_benefit"] > 0.99
(0.3, True)
"""

from __future__ import annotations

import arviz as az
import numpy as np

from .config import DiagnosticsSpec

__all__ = ["summarize_draws", "gate", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = (
    "model", "prior", "endpoint", "population", "estimand", "scale", "mean", "sd", "q2.5", "q97.5",
    "p_benefit", "p_mcid", "r_hat", "ess_bulk", "ess_tail", "n_divergences", "status",
    "diagnostics_ok", "flag",
)


def summarize_draws(draws: np.ndarray, *, mcid: float) -> dict[str, float]:
    """Mean, SD, 95% equal-tailed interval, P(>0), P(>MCID), R-hat, bulk/tail ESS, MCSE.

    Parameters
    ----------
    draws : ndarray (chain, draw)
    mcid : float
        MCID on the same scale (``p_mcid`` = P(effect > mcid)).
    """
    d = np.asarray(draws, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"draws must have shape (chain, draw), got {d.shape}")
    flat = d.ravel()
    ok_chains = d.shape[0] >= 2 and d.shape[1] >= 4
    rhat = float(az.rhat(d)) if ok_chains else float("nan")
    ess_b = float(az.ess(d, method="bulk"))
    ess_t = float(az.ess(d, method="tail"))
    return {
        "mean": float(flat.mean()),
        "sd": float(flat.std(ddof=1)),
        "q2.5": float(np.quantile(flat, 0.025)),
        "q97.5": float(np.quantile(flat, 0.975)),
        "p_benefit": float((flat > 0).mean()),
        "p_mcid": float((flat > mcid).mean()),
        "r_hat": rhat,
        "ess_bulk": ess_b,
        "ess_tail": ess_t,
        "mcse_mean": float(az.mcse(az.convert_to_dataset({"x": d}), method="mean")["x"]),
    }


def gate(row: dict, *, n_divergences: int, spec: DiagnosticsSpec) -> tuple[bool, str]:
    """Diagnostics gate for one reported estimand: (ok, flag text; empty when ok).

    Fails when R-hat > ``spec.rhat_max`` (or not computable), bulk ESS < ``spec.ess_min``,
    tail ESS < ``spec.ess_min`` / 2 or divergences > ``spec.max_divergences``.

    Examples
    --------
    >>> from msbayes.fit.config import DiagnosticsSpec
    >>> gate({"r_hat": 1.05, "ess_bulk": 900, "ess_tail": 900}, n_divergences=0, spec=DiagnosticsSpec())
    (False, 'r_hat 1.050 > 1.01')
    """
    flags = []
    rh = row.get("r_hat", float("nan"))
    if not np.isfinite(rh) or rh > spec.rhat_max:
        flags.append(f"r_hat {rh:.3f} > {spec.rhat_max:g}")
    if not row.get("ess_bulk", 0) >= spec.ess_min:
        flags.append(f"ess_bulk {row.get('ess_bulk', 0):.0f} < {spec.ess_min:g}")
    if not row.get("ess_tail", 0) >= spec.ess_min / 2:
        flags.append(f"ess_tail {row.get('ess_tail', 0):.0f} < {spec.ess_min / 2:g}")
    if n_divergences > spec.max_divergences:
        flags.append(f"{n_divergences} divergent transitions")
    return (not flags), "; ".join(flags)
