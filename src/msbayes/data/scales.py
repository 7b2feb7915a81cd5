r"""Scales of walking endpoints: percent conventions, ratios, log ratios and MCIDs.

Conventions (a data set states which one it uses, column ``convention``):

====================================  =================================  ===========================
convention                            ratio it is linear in              positive means
====================================  =================================  ===========================
``pct_improvement_time`` (Harris)     time ratio  r = T1/T0 = 1 - p/100  faster (better)
``pct_change_time`` (Petrou)          time ratio  r = T1/T0 = 1 + p/100  slower (worse)
``pct_change_speed``                  speed ratio v = S1/S0 = 1 + q/100  faster (better); r = 1/v
``pct_improvement_distance`` (6MWT)   distance ratio D1/D0 = 1 + p/100   longer (better)
====================================  =================================  ===========================

Analysis scales (``Scale``), positive = better:

- ``log_speed_ratio`` (T25FW): ``-log(T1/T0) = log(S1/S0)``
- ``log_distance_ratio`` (6MWT): ``log(D1/D0)``
- ``pct_improvement``: the percent scale as published (T25FW: % improvement; 6MWT: % distance)

Arm summaries (mean, SD of a percent) are moved to the log scale by log-normal moment matching
of the ratio the percent is linear in: with ratio mean ``m`` and SD ``s``,
:math:`\sigma^2 = \ln(1 + s^2/m^2)`, :math:`\mu = \ln m - \sigma^2/2`; the per-patient log
ratio is then N(mu, sigma^2). For a time ratio the log speed ratio is ``-log r`` so its mean is
``-mu``; the SD is unchanged.

MCIDs: T25FW 20 % speed improvement, ``MCID_T25FW = log(1.2)`` (Hobart et al., Neurology 2013);
6MWT about 20 m at a typical 250 m in this population, i.e. 8 %, ``MCID_6MWT = log(1.08)``
(Oosterveer et al., MSARD 2022). On the published percent scales the same MCIDs are
``MCID_PCT``: T25FW 100 (1 - 1/1.2) = 16.67 % improvement in walk time (a 20 % speed gain),
6MWT 8 % distance, so that P(effect > MCID) and the MCID-calibrated priors mean the same thing
on every scale. (The Harris 2024 EDSS-Plus "≥20 %" T25FW threshold is a change in *time*, i.e.
a 25 % speed gain; give ``mcid.pct.t25fw: 20`` in a fit config to use it instead.)

Examples
--------
>>> from msbayes.data.scales import arm_to_log_scale
>>> mu, sigma = arm_to_log_scale(-54.4, 70.5, convention="pct_improvement_time", endpoint="t25fw")
>>> round(float(sigma), 2)
0.44
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .vocab import ENDPOINT_CONVENTIONS

__all__ = [
    "Scale",
    "PctConvention",
    "SCALES",
    "ENDPOINT_SCALE",
    "MCID_T25FW",
    "MCID_6MWT",
    "MCID_PCT",
    "mcid",
    "ratio_from_pct",
    "pct_from_ratio",
    "log_benefit_from_pct",
    "pct_from_log_benefit",
    "lognormal_moments",
    "lognormal_mean_sd",
    "arm_to_log_scale",
]

Scale = Literal["log_speed_ratio", "log_distance_ratio", "pct_improvement"]
PctConvention = Literal[
    "pct_improvement_time", "pct_change_time", "pct_change_speed", "pct_improvement_distance"
]
SCALES: tuple[str, ...] = ("log_speed_ratio", "log_distance_ratio", "pct_improvement")
PCT_CONVENTIONS: tuple[str, ...] = (
    "pct_improvement_time",
    "pct_change_time",
    "pct_change_speed",
    "pct_improvement_distance",
)
#: default analysis (log) scale of each walking endpoint
ENDPOINT_SCALE: dict[str, str] = {"t25fw": "log_speed_ratio", "6mwt": "log_distance_ratio"}

#: T25FW MCID on the log speed ratio scale: 20 % speed improvement
MCID_T25FW: float = math.log(1.2)
#: 6MWT MCID on the log distance ratio scale: ~20 m at 250 m = 8 % (Oosterveer et al. 2022)
MCID_6MWT: float = math.log(1.08)
#: the same MCIDs on the published percent scales: T25FW time-based % improvement of a 20 %
#: speed gain, 100 (1 - 1/1.2) = 16.67; 6MWT 8 % distance (= log(1.08) exactly)
MCID_PCT: dict[str, float] = {"t25fw": 100.0 * (1.0 - 1.0 / 1.2), "6mwt": 8.0}


def _check_convention(convention: str) -> None:
    if convention not in PCT_CONVENTIONS:
        raise ValueError(
            f"convention must be one of {', '.join(PCT_CONVENTIONS)}; got {convention!r}"
        )


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINT_SCALE:
        raise ValueError(f"endpoint must be one of t25fw, 6mwt; got {endpoint!r}")


def mcid(endpoint: str, scale: Scale | None = None) -> float:
    """Minimal clinically important difference of a walking endpoint on a given scale.

    Parameters
    ----------
    endpoint : {"t25fw", "6mwt"}
    scale : {"log_speed_ratio", "log_distance_ratio", "pct_improvement"}, optional
        Default: the endpoint's log scale (``log_speed_ratio`` for T25FW,
        ``log_distance_ratio`` for 6MWT). ``pct_improvement`` gives the same MCIDs on the
        published percent scales: 16.67 for T25FW (time-based % improvement of a 20 % speed
        gain, 100 (1 - 1/1.2)) and 8 (% distance) for 6MWT.

    Examples
    --------
    >>> from msbayes.data.scales import mcid
    >>> round(mcid("t25fw"), 4), round(mcid("t25fw", "pct_improvement"), 2), mcid("6mwt", "pct_improvement")
    (0.1823, 16.67, 8.0)
    """
    _check_endpoint(endpoint)
    scale = scale or ENDPOINT_SCALE[endpoint]
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    if scale == "pct_improvement":
        return MCID_PCT[endpoint]
    if scale != ENDPOINT_SCALE[endpoint]:
        raise ValueError(
            f"scale {scale!r} does not apply to endpoint {endpoint!r}; use "
            f"{ENDPOINT_SCALE[endpoint]!r} or 'pct_improvement'"
        )
    return MCID_T25FW if endpoint == "t25fw" else MCID_6MWT


def ratio_from_pct(values: ArrayLike, *, convention: PctConvention) -> np.ndarray:
    """Time ratio ``T1/T0`` (time conventions) or distance ratio ``D1/D0`` from a percent.

    Parameters
    ----------
    values : array_like
        Percent values in the given convention.
    convention : {"pct_improvement_time", "pct_change_time", "pct_change_speed",
        "pct_improvement_distance"}

    Examples
    --------
    >>> from msbayes.data.scales import ratio_from_pct
    >>> float(ratio_from_pct(-54.4, convention="pct_improvement_time"))
    1.544
    >>> float(ratio_from_pct(25.0, convention="pct_change_speed"))
    0.8
    """
    _check_convention(convention)
    p = np.asarray(values, dtype=float)
    if convention == "pct_improvement_time":
        return 1.0 - p / 100.0
    if convention == "pct_change_speed":
        return 1.0 / (1.0 + p / 100.0)
    return 1.0 + p / 100.0  # pct_change_time, pct_improvement_distance


def pct_from_ratio(ratio: ArrayLike, *, convention: PctConvention) -> np.ndarray:
    """Inverse of :func:`ratio_from_pct`.

    Examples
    --------
    >>> from msbayes.data.scales import pct_from_ratio
    >>> float(pct_from_ratio(0.8, convention="pct_change_speed"))
    25.0
    """
    _check_convention(convention)
    r = np.asarray(ratio, dtype=float)
    if convention == "pct_improvement_time":
        return 100.0 * (1.0 - r)
    if convention == "pct_change_speed":
        return 100.0 * (1.0 / r - 1.0)
    return 100.0 * (r - 1.0)


def _benefit_sign(convention: str) -> float:
    # log of the ratio returned by ratio_from_pct -> positive-better log ratio
    return 1.0 if convention == "pct_improvement_distance" else -1.0


def log_benefit_from_pct(values: ArrayLike, *, convention: PctConvention) -> np.ndarray:
    """Per-patient percent -> log ratio on the positive = better scale.

    Time conventions give the log speed ratio ``-log(T1/T0)``; the distance convention the log
    distance ratio ``log(D1/D0)``.

    Examples
    --------
    >>> from msbayes.data.scales import log_benefit_from_pct
    >>> round(float(log_benefit_from_pct(20.0, convention="pct_change_speed")), 4)
    0.1823
    """
    r = ratio_from_pct(values, convention=convention)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _benefit_sign(convention) * np.log(r)


def pct_from_log_benefit(values: ArrayLike, *, convention: PctConvention) -> np.ndarray:
    """Inverse of :func:`log_benefit_from_pct`.

    Examples
    --------
    >>> import math
    >>> from msbayes.data.scales import pct_from_log_benefit
    >>> round(float(pct_from_log_benefit(math.log(1.2), convention="pct_change_speed")), 6)
    20.0
    """
    _check_convention(convention)
    r = np.exp(_benefit_sign(convention) * np.asarray(values, dtype=float))
    return pct_from_ratio(r, convention=convention)


def lognormal_moments(m: ArrayLike, s: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of the log-normal with mean ``m`` > 0 and SD ``s`` >= 0 (vectorized).

    sigma^2 = ln(1 + s^2/m^2), mu = ln m - sigma^2/2.

    Raises
    ------
    ValueError
        If any ``m`` <= 0 or ``s`` < 0 (or not finite).

    Examples
    --------
    >>> from msbayes.data.scales import lognormal_moments
    >>> mu, sigma = lognormal_moments(0.963, 0.231)
    >>> round(float(sigma), 2)
    0.24
    """
    m_arr = np.asarray(m, dtype=float)
    s_arr = np.asarray(s, dtype=float)
    if not np.all(np.isfinite(m_arr)) or np.any(m_arr <= 0):
        raise ValueError(
            f"log-normal moment matching needs a ratio mean > 0; got mean {m_arr.tolist()}"
        )
    if not np.all(np.isfinite(s_arr)) or np.any(s_arr < 0):
        raise ValueError(f"log-normal moment matching needs an SD >= 0; got sd {s_arr.tolist()}")
    sigma2 = np.log1p((s_arr / m_arr) ** 2)
    return np.log(m_arr) - sigma2 / 2.0, np.sqrt(sigma2)


def lognormal_mean_sd(mu: ArrayLike, sigma: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of a log-normal with log-mean ``mu`` and log-SD ``sigma`` (inverse of
    :func:`lognormal_moments`).

    Examples
    --------
    >>> from msbayes.data.scales import lognormal_mean_sd
    >>> [round(float(x), 4) for x in lognormal_mean_sd(0.0, 0.0)]
    [1.0, 0.0]
    """
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    mean = np.exp(mu + sigma**2 / 2.0)
    return mean, mean * np.sqrt(np.expm1(sigma**2))


def arm_to_log_scale(
    mean: ArrayLike, sd: ArrayLike, *, convention: PctConvention, endpoint: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of the per-patient log ratio (positive = better) from a percent mean ± SD.

    The ratio the percent is linear in (time, speed or distance ratio) is moment-matched to a
    log-normal; the T25FW result is the log speed ratio, the 6MWT result the log distance ratio.

    Parameters
    ----------
    mean, sd : array_like
        Arm mean and SD of the percent values.
    convention : str
        One of the percent conventions (see module docstring); must fit the endpoint.
    endpoint : {"t25fw", "6mwt"}

    Returns
    -------
    mu, sigma : numpy.ndarray

    Raises
    ------
    ValueError
        If the moment-matched ratio mean is <= 0 (e.g. a % improvement in time >= 100), the SD is
        negative, or the convention does not fit the endpoint.

    Examples
    --------
    >>> from msbayes.data.scales import arm_to_log_scale
    >>> mu, sigma = arm_to_log_scale(3.7, 23.1, convention="pct_improvement_time", endpoint="t25fw")
    >>> round(float(mu), 3), round(float(sigma), 2)
    (0.066, 0.24)
    """
    _check_endpoint(endpoint)
    _check_convention(convention)
    if convention not in ENDPOINT_CONVENTIONS[endpoint]:
        raise ValueError(
            f"convention {convention!r} does not apply to endpoint {endpoint!r}; allowed: "
            f"{', '.join(ENDPOINT_CONVENTIONS[endpoint])}"
        )
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    if convention == "pct_improvement_time":
        m, sign = 1.0 - mean / 100.0, -1.0  # time ratio, log speed = -log r
    elif convention == "pct_change_time":
        m, sign = 1.0 + mean / 100.0, -1.0
    else:  # pct_change_speed (speed ratio) or pct_improvement_distance (distance ratio)
        m, sign = 1.0 + mean / 100.0, 1.0
    s = sd / 100.0
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(
            f"{endpoint}: moment-matched ratio mean must be > 0 but is {np.atleast_1d(m).tolist()} "
            f"(mean {np.atleast_1d(mean).tolist()} under convention {convention!r})"
        )
    try:
        mu, sigma = lognormal_moments(m, s)
    except ValueError as exc:
        raise ValueError(f"{endpoint}: {exc}") from None
    return sign * mu, sigma
