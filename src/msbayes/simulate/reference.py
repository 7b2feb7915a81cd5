"""Slow reference path: full PyMC fits of the Bayesian normal analysis on simulated trials.

Used only to validate the fast conjugate path (:mod:`msbayes.simulate.analyses`). The model
is compiled ONCE with ``pm.Data`` containers for the arm summaries and re-run per trial with
``nutpie``'s ``with_data`` (no recompilation). Likelihood: the exact normal-theory summary
likelihood of each arm, ``ybar_a ~ N(mu_a, sigma_a^2 / n_a)`` and
``s2_a ~ Gamma((n_a - 1) / 2, rate = (n_a - 1) / (2 sigma_a^2))``, with ``mu_1 = mu_0 + effect``,
``mu_0 ~ N(0, 1)``, ``sigma_a ~ HalfNormal(1)`` (or ``sigma`` fixed at ``known_sd``) and the
analysis prior on ``effect`` (normal or normal mixture).

Examples
--------
Compiling takes ~10 s and each trial ~0.2 s, so the example is not run as a doctest::

    import numpy as np
    from msbayes.design.endpoint import EndpointSpec
    from msbayes.simulate.twoarm import randomized_counts, sufficient_stats
    ep = EndpointSpec(sd=0.35)
    rng = np.random.default_rng(0)
    ts = sufficient_stats(ep, np.full((5, 1), 0.15), randomized_counts(ep, [60, 60], 5, rng=rng), rng=rng)
    prior = (np.array([0.8, 0.2]), np.array([0.0, 0.0]), np.array([0.11, 0.5]))
    ref = ReferenceBayesNormal(prior=prior, mcid=0.182, known_sd=0.35)
    out = ref.fit(ts, draws=2000, tune=1000, seed=1)   # dict of arrays over the 5 trials
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .analyses import TrialStats

__all__ = ["ReferenceBayesNormal"]


@dataclass
class ReferenceBayesNormal:
    """PyMC reference for ``bayes_normal`` (compile once, fit many trials).

    Parameters
    ----------
    prior : (weights, means, sds)
        Analysis prior on the effect (one component = normal).
    mcid : float
        Threshold for P(effect > MCID).
    known_sd : float, optional
        Fix sigma in both arms (compare with ``variance: known``); otherwise sigma per arm is
        estimated (compare with ``variance: plugin``).
    """

    prior: tuple[np.ndarray, np.ndarray, np.ndarray]
    mcid: float
    known_sd: float | None = None
    _compiled: object = field(default=None, init=False, repr=False)

    def _build(self):
        import nutpie
        import pymc as pm

        w, m, s = (np.asarray(x, dtype=float) for x in self.prior)
        with pm.Model() as model:
            ybar = pm.Data("ybar", np.zeros(2))
            s2 = pm.Data("s2", np.ones(2))
            n = pm.Data("n", np.full(2, 10.0))
            mu0 = pm.Normal("mu0", 0.0, 1.0)
            if len(w) == 1:
                effect = pm.Normal("effect", m[0], s[0])
            else:
                effect = pm.NormalMixture("effect", w=w, mu=m, sigma=s)
            mu = pm.math.stack([mu0, mu0 + effect])
            if self.known_sd is not None:
                sigma = pm.math.stack([self.known_sd, self.known_sd])
            else:
                sigma = pm.HalfNormal("sigma", 1.0, shape=2)
                pm.Gamma("s2_obs", alpha=(n - 1) / 2, beta=(n - 1) / (2 * sigma**2), observed=s2)
            pm.Normal("ybar_obs", mu=mu, sigma=sigma / pm.math.sqrt(n), observed=ybar)
        self._compiled = nutpie.compile_pymc_model(model)

    def fit(self, ts: TrialStats, *, draws: int = 2000, tune: int = 1000, chains: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
        """Fit every trial in ``ts``; returns P(effect > 0), P(effect > MCID), posterior mean,
        and the MCMC standard errors of the two probabilities (from the bulk ESS)."""
        import arviz as az
        import nutpie

        if self._compiled is None:
            self._build()
        k = ts.n.shape[0]
        out = {key: np.empty(k) for key in ("p_benefit", "p_mcid", "mean", "mcse_benefit", "mcse_mcid")}
        for i in range(k):
            data = {"ybar": ts.mean[i], "n": ts.n[i]}
            if self.known_sd is None:
                data["s2"] = ts.var[i]
            model = self._compiled.with_data(**data)
            idata = nutpie.sample(model, draws=draws, tune=tune, chains=chains, cores=1, seed=seed + i, progress_bar=False)
            eff = idata.posterior["effect"]
            for name, c in (("benefit", 0.0), ("mcid", self.mcid)):
                ind = (eff > c).astype(float)
                p = float(ind.mean())
                ess = float(az.ess(ind.to_dataset(name="x"), method="bulk")["x"]) if 0 < p < 1 else float(eff.size)
                out[f"p_{name}"][i] = p
                out[f"mcse_{name}"][i] = np.sqrt(max(p * (1 - p), 1.0 / eff.size) / max(ess, 1.0))
            out["mean"][i] = float(eff.mean())
        return out
