"""Prior presets for treatment effects, calibrated to the minimal clinically important difference.

Every preset is a normal prior ``N(mean, sd^2)`` on the treatment effect expressed in **MCID
units** (effect / MCID), so one preset works on every analysis scale (log speed ratio, log
distance ratio, "% improvement", log odds ratio): it is turned into absolute numbers with the
MCID of that endpoint on that scale (:func:`resolve_prior`).

==============  =========================  ================================================
preset          effect prior               meaning
==============  =========================  ================================================
skeptical       N(0, (MCID/1.645)^2)       centred on no effect, 5% mass beyond the MCID
enthusiastic    N(MCID, (MCID/1.645)^2)    centred on the MCID, 5% mass below 0
neutral         N(0, (4 MCID)^2)           weakly informative: 95% of mass within +-7.8 MCID
==============  =========================  ================================================

Custom priors come from the fit config as ``{name, mean, sd, units}`` with ``units`` either
``"mcid"`` (default: multiples of the MCID, portable across scales) or ``"absolute"``
(numbers used as given on every scale; only sensible when one model is fitted).

Examples
--------
>>> import math
>>> from msbayes.models.priors import PRIORS, resolve_prior
>>> p = resolve_prior(PRIORS["skeptical"], mcid=math.log(1.2))
>>> round(p.sd * 1.645, 4) == round(math.log(1.2), 4)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Z95",
    "PriorPreset",
    "NormalPrior",
    "PRIORS",
    "resolve_prior",
    "Scale",
    "SCALES",
]

#: one-sided 95% standard-normal quantile used in the calibration of the presets
Z95 = 1.6448536269514722

Scale = Literal["log_speed_ratio", "log_distance_ratio", "pct_improvement", "log_odds_ratio"]
SCALES: tuple[str, ...] = ("log_speed_ratio", "log_distance_ratio", "pct_improvement", "log_odds_ratio")


@dataclass(frozen=True)
class PriorPreset:
    """A named normal prior on the effect, in MCID units (``units="mcid"``) or absolute.

    Parameters
    ----------
    name : str
        Registry / config name (appears as the ``prior`` column of every output).
    mean, sd : float
        Prior mean and SD of the effect, in ``units``.
    units : {"mcid", "absolute"}
        ``"mcid"``: multiply by the endpoint's MCID on the analysis scale.
    description : str
        One line for reports.
    """

    name: str
    mean: float
    sd: float
    units: Literal["mcid", "absolute"] = "mcid"
    description: str = ""

    def __post_init__(self) -> None:
        if not (self.sd > 0 and math.isfinite(self.sd)):
            raise ValueError(f"prior {self.name!r}: sd must be a positive finite number, got {self.sd!r}")
        if not math.isfinite(self.mean):
            raise ValueError(f"prior {self.name!r}: mean must be finite, got {self.mean!r}")


@dataclass(frozen=True)
class NormalPrior:
    """A resolved normal prior ``N(mean, sd^2)`` on the effect, in absolute units of one scale."""

    name: str
    mean: float
    sd: float


PRIORS: dict[str, PriorPreset] = {
    "skeptical": PriorPreset(
        "skeptical", 0.0, 1.0 / Z95, description="N(0, (MCID/1.645)^2): 5% prior mass beyond the MCID"
    ),
    "enthusiastic": PriorPreset(
        "enthusiastic", 1.0, 1.0 / Z95, description="N(MCID, (MCID/1.645)^2): 5% prior mass below 0"
    ),
    "neutral": PriorPreset(
        "neutral", 0.0, 4.0, description="N(0, (4 MCID)^2): weakly informative, centred on 0"
    ),
}


def resolve_prior(preset: PriorPreset, *, mcid: float) -> NormalPrior:
    """Turn a preset into absolute numbers on one scale.

    Parameters
    ----------
    preset : PriorPreset
    mcid : float
        The endpoint's MCID on the analysis scale (positive).

    Returns
    -------
    NormalPrior

    Examples
    --------
    >>> resolve_prior(PRIORS["enthusiastic"], mcid=2.0).mean
    2.0
    """
    if not mcid > 0:
        raise ValueError(f"mcid must be positive, got {mcid!r}")
    if preset.units == "absolute":
        return NormalPrior(preset.name, float(preset.mean), float(preset.sd))
    return NormalPrior(preset.name, float(preset.mean * mcid), float(preset.sd * mcid))
