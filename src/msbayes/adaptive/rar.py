"""Response-adaptive randomisation (Thompson-type) for several doses and a control (vectorized).

Patients arrive in ``len(block_sizes)`` blocks. Before each block after the first, the doses'
allocation probabilities are set proportional to ``P(dose g is best | data)**power`` (tempered
Thompson sampling), each dose gets at least ``min_allocation``, and the control keeps a fixed
share ``control_share``; block counts are multinomial. Posteriors are conjugate normal per arm
(known SD, prior ``N(prior_mean, prior_sd**2)`` on every arm mean); ``P(best)`` is computed by
Gauss-Hermite quadrature, ``P(g best) = E[prod_{h != g} Phi((X_g - m_h) / s_h)]`` with
``X_g ~ N(m_g, s_g**2)``. With ``adaptive=False`` the allocation stays at the first block's
(fixed design), so every count is deterministic (``round``-free: blocks must then divide
exactly). Final analysis: each dose vs control by a one-sided z test at ``alpha / G``
(Bonferroni); under RAR its type I error is what simulation shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from msbayes.rng import SeedLike, as_seed_sequence, chunk_rng

from .selection import proportion

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(48)
_GH_W = _GH_W / np.sqrt(2 * np.pi)


def prob_best(mean, sd):
    """``P(arm g has the largest mean)`` for independent normal posteriors.

    Parameters
    ----------
    mean, sd : array (n, G)

    Returns
    -------
    array (n, G), rows summing to 1.

    Examples
    --------
    >>> p = prob_best(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]))
    >>> [round(float(x), 6) for x in p[0]]
    [0.5, 0.5]
    """
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    x = mean[:, :, None] + sd[:, :, None] * _GH_X  # (n, G, nodes): X_g at the nodes
    # log Phi((x_g - m_h) / s_h) for all h, then drop h = g
    lp = special.log_ndtr((x[:, :, None, :] - mean[:, None, :, None]) / sd[:, None, :, None])  # (n, g, h, nodes)
    G = mean.shape[1]
    lp = np.where(np.eye(G, dtype=bool)[None, :, :, None], 0.0, lp)
    p = np.exp(lp.sum(axis=2)) @ _GH_W
    return p / p.sum(axis=1, keepdims=True)


def allocation_probabilities(p_best, *, power: float, min_allocation: float, control_share: float):
    """Block allocation (control first, then the doses) from ``P(best)`` of the doses.

    Doses share ``1 - control_share`` in proportion to ``p_best**power``, each at least
    ``min_allocation`` (of all patients); the floor is met by mixing with the equal split.

    Examples
    --------
    >>> a = allocation_probabilities(np.array([[0.9, 0.1]]), power=1.0, min_allocation=0.1, control_share=0.2)
    >>> [round(float(x), 4) for x in a[0]]
    [0.2, 0.7, 0.1]
    """
    pb = np.asarray(p_best, dtype=float) ** power
    w = pb / pb.sum(axis=1, keepdims=True)
    G = w.shape[1]
    share = 1.0 - control_share
    dose = share * w
    # smallest mixing with the equal split that lifts every dose to the floor
    eq = share / G
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(dose < min_allocation, (min_allocation - dose) / (eq - dose), 0.0)
    lam = np.clip(need.max(axis=1, keepdims=True), 0.0, 1.0)
    dose = (1 - lam) * dose + lam * eq
    return np.column_stack([np.full(len(dose), control_share), dose])


def rar_allocation(sums, n, *, sd: float, prior_mean: float = 0.0, prior_sd: float = 1.0, power: float = 0.5,
                   min_allocation: float = 0.05, control_share: float = 0.25):
    """Next block's allocation (control first) from the doses' outcome sums and counts ``(n, G)``.

    Conjugate normal posterior per dose, :func:`prob_best`, then :func:`allocation_probabilities`.
    """
    mean, s = _posterior(np.asarray(sums, float), np.asarray(n, float), sd, prior_mean, prior_sd)
    return allocation_probabilities(prob_best(mean, s), power=power, min_allocation=min_allocation,
                                    control_share=control_share)


@dataclass
class RARResult:
    """Per-trial outcomes: ``n_arm`` (n, G + 1; control first), ``rejected`` (n, G),
    ``p_best`` (n, G) at the end, ``allocations`` (n, blocks, G + 1) used per block."""

    n_arm: np.ndarray
    rejected: np.ndarray
    p_best: np.ndarray
    allocations: np.ndarray
    theta: np.ndarray

    def oc(self) -> dict[str, tuple[float, float]]:
        """``reject_any``, ``fwer`` (a dose with ``theta <= 0`` rejected), ``reject_best``,
        ``expected_n_control`` and ``expected_n_g`` (g = 1..G) with MCSE."""
        best = np.argmax(self.theta, axis=1)
        out = {"reject_any": proportion(self.rejected.any(axis=1)),
               "fwer": proportion((self.rejected & (self.theta <= 0)).any(axis=1)),
               "reject_best": proportion(self.rejected[np.arange(len(best)), best])}
        for g in range(self.n_arm.shape[1]):
            x = self.n_arm[:, g]
            key = "expected_n_control" if g == 0 else f"expected_n_{g}"
            out[key] = (float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else 0.0)
        return out


def simulate_rar(
    effects,
    *,
    block_sizes=(40, 40, 40, 40),
    sd: float = 0.35,
    control_share: float = 0.25,
    min_allocation: float = 0.05,
    power: float = 0.5,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    adaptive: bool = True,
    alpha: float = 0.025,
    n_sims: int = 10_000,
    seed: SeedLike = 0,
    chunk_size: int = 50_000,
) -> RARResult:
    """Simulate Thompson-type response-adaptive randomisation (see module docstring).

    Parameters
    ----------
    effects : array (G,) or (n_sims, G)
        Dose effects vs control (positive = benefit).
    block_sizes : sequence of int
        Patients per block (all arms).
    control_share : float in (0, 1)
        Fixed control share of every block.
    min_allocation : float
        Floor of every dose's allocation probability; ``G * min_allocation <= 1 - control_share``.
    power : float >= 0
        Tempering power of ``P(best)`` (0 = equal split of the dose share).
    adaptive : bool
        ``False``: fixed allocation (control share, equal split), counts deterministic.

    Examples
    --------
    >>> r = simulate_rar([0.0, 0.3], n_sims=500, seed=1)
    >>> r.oc()["expected_n_2"][0] > r.oc()["expected_n_1"][0]
    True
    """
    eff = np.asarray(effects, dtype=float)
    if eff.ndim == 1:
        eff = np.broadcast_to(eff, (int(n_sims), eff.size))
    G = eff.shape[1]
    blocks = np.asarray(block_sizes)
    if blocks.ndim != 1 or blocks.size < 1 or np.any(blocks < 1) or np.any(blocks != np.round(blocks)):
        raise ValueError(f"block_sizes must be positive integers, got {block_sizes!r}")
    if not (0 < control_share < 1):
        raise ValueError(f"control_share must be in (0, 1), got {control_share!r}")
    if not (0 <= min_allocation and G * min_allocation <= 1 - control_share + 1e-12):
        raise ValueError(f"min_allocation must be in [0, (1 - control_share) / G] = [0, {(1 - control_share) / G:.4g}], "
                         f"got {min_allocation!r}")
    if not (np.isfinite(power) and power >= 0):
        raise ValueError(f"power must be >= 0, got {power!r}")
    if not (sd > 0 and prior_sd > 0):
        raise ValueError("sd and prior_sd must be > 0")
    if not (0 < alpha < 0.5):
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    fixed = np.concatenate([[control_share], np.full(G, (1 - control_share) / G)])
    if not adaptive:
        cnt = blocks[:, None] * fixed[None, :]
        if np.any(np.abs(cnt - np.round(cnt)) > 1e-9):
            raise ValueError("block_sizes must split exactly by control_share and the equal dose split when adaptive=False")
    ss = as_seed_sequence(seed)
    parts = []
    for j, start in enumerate(range(0, int(n_sims), chunk_size)):
        parts.append(_chunk(eff[start:start + chunk_size], chunk_rng(ss, j), blocks, sd, control_share, min_allocation,
                            power, prior_mean, prior_sd, adaptive, alpha, fixed))
    cat = [np.concatenate([p[k] for p in parts]) for k in range(4)]
    return RARResult(cat[0], cat[1], cat[2], cat[3], np.asarray(eff))


def _posterior(sums, n, sd, prior_mean, prior_sd):
    prec = 1 / prior_sd**2 + n / sd**2
    mean = (prior_mean / prior_sd**2 + sums / sd**2) / prec
    return mean, 1 / np.sqrt(prec)


def _chunk(eff, rng, blocks, sd, c0, floor, power, m0, s0, adaptive, alpha, fixed):
    m, G = eff.shape
    mu = np.column_stack([np.zeros(m), eff])  # arm means, control first
    sums = np.zeros((m, G + 1))
    n = np.zeros((m, G + 1))
    alloc = np.empty((m, len(blocks), G + 1))
    for b, size in enumerate(blocks):
        if b == 0 or not adaptive:
            probs = np.broadcast_to(fixed, (m, G + 1))
        else:
            probs = rar_allocation(sums[:, 1:], n[:, 1:], sd=sd, prior_mean=m0, prior_sd=s0, power=power,
                                   min_allocation=floor, control_share=c0)
        alloc[:, b] = probs
        if adaptive:
            k = rng.multinomial(int(size), probs)
        else:
            k = np.broadcast_to(np.round(size * fixed), (m, G + 1))
        # sum of k normal outcomes with mean mu: N(k mu, k sd^2)
        sums += k * mu + np.sqrt(k) * sd * rng.standard_normal((m, G + 1))
        n += k
    mean, s = _posterior(sums[:, 1:], n[:, 1:], sd, m0, s0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xbar = sums / n
        z = (xbar[:, 1:] - xbar[:, :1]) / (sd * np.sqrt(1 / n[:, 1:] + 1 / n[:, :1]))
    rejected = np.nan_to_num(z, nan=-np.inf) >= -special.ndtri(alpha / G)
    return n, rejected, prob_best(mean, s), alloc
