"""Family-wise error rate under the global null and every partial null (simulated, with MCSE).

A closed test controls the FWER in the strong sense, so every configuration of true and false
nulls should give FWER <= alpha up to Monte Carlo error; these helpers run the configurations
that matter for a design and return one row each.
"""

from __future__ import annotations

import itertools

import numpy as np

from .enrichment import simulate_enrichment
from .multiarm import simulate_multiarm


def enrichment_null_configurations(effect: float, prevalences=(0.5, 0.5)) -> dict[str, tuple[float, float]]:
    """Stratum effects ``(theta_S, theta_R)`` of the null configurations of {H_S, H_F}.

    ``global`` (0, 0); ``only_outside_S`` (0, effect): H_S true; ``theta_F_zero``
    (effect, -effect p_S / p_R): benefit in S balanced by harm outside S, H_F true;
    ``harm_outside_S`` (0, -effect): both true, F below zero.
    """
    p_s, p_r = prevalences
    return {"global": (0.0, 0.0), "only_outside_S": (0.0, effect),
            "theta_F_zero": (effect, -effect * p_s / p_r), "harm_outside_S": (0.0, -effect)}


def enrichment_fwer(effect: float, *, n_sims: int = 50_000, seed: int = 0, **design) -> dict[str, tuple[float, float]]:
    """FWER (estimate, MCSE) of :func:`simulate_enrichment` for each null configuration.

    Examples
    --------
    >>> out = enrichment_fwer(0.2, n_sims=2000, seed=1, n_per_stage=(80, 80))
    >>> sorted(out)
    ['global', 'harm_outside_S', 'only_outside_S', 'theta_F_zero']
    """
    prev = design.get("prevalences", (0.5, 0.5))
    out = {}
    for j, (name, eff) in enumerate(enrichment_null_configurations(effect, prev).items()):
        out[name] = simulate_enrichment(eff, n_sims=n_sims, seed=seed + j, **design).oc()["fwer"]
    return out


def multiarm_fwer(effect: float, n_doses: int, *, n_sims: int = 50_000, seed: int = 0,
                  **design) -> dict[tuple[int, ...], tuple[float, float]]:
    """FWER (estimate, MCSE) of :func:`simulate_multiarm` for every proper subset of effective
    doses (effect ``effect``, the others 0); keys are the 0-based effective doses.

    Examples
    --------
    >>> out = multiarm_fwer(0.2, 2, n_sims=2000, seed=1)
    >>> sorted(out)
    [(), (0,), (1,)]
    """
    out = {}
    subsets = itertools.chain.from_iterable(itertools.combinations(range(n_doses), r) for r in range(n_doses))
    for j, sub in enumerate(subsets):
        eff = np.zeros(n_doses)
        eff[list(sub)] = effect
        out[sub] = simulate_multiarm(eff, n_sims=n_sims, seed=seed + j, **design).oc()["fwer"]
    return out
