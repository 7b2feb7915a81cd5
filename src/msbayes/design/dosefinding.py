"""Config models for multi-arm dose-finding designs and their analyses.

Four frozen :class:`~msbayes.config.StrictModel` classes, validated before any work:

- :class:`DoseFindingDesign` (``design.type: dose_finding``): dose levels (placebo first),
  dose metric, the tested reference regimen, allocation, ``n_per_arm`` and the
  dose-response truth;
- :class:`DoseResponseSpec`: the true dose-response shape (linear, emax, sigemax,
  exponential, quadratic, logistic) with fixed shape parameters or priors on them;
- :class:`MCPModAnalysis` (``analysis.method: mcpmod``): candidate models in DoseFinding
  ``Mods`` style, one-sided alpha, model selection and the dose estimate;
- :class:`BayesEmaxAnalysis` (``analysis.method: bayes_emax``): grid over ED50 (and Hill),
  conjugate normal priors on E0 and Emax, go rule on P(effect(d) > MCID).

Examples
--------
>>> d = DoseFindingDesign.model_validate({
...     "type": "dose_finding", "doses": [0, 3, 6, 10], "dose_metric": "cells_per_injection",
...     "dose_unit": "million cells x 6", "reference_dose": 10, "allocation": [1, 1, 1, 1],
...     "n_per_arm": 30, "dose_response": {"model": "emax", "ed50": {"lognormal":
...     {"median": 3.0, "sd_log": 0.5}}}})
>>> d.arm_sizes()
[30, 30, 30, 30]
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from msbayes.config import StrictModel

__all__ = [
    "BayesEmaxAnalysis",
    "DoseFindingDesign",
    "DoseResponseSpec",
    "GridSpec",
    "LogNormalParams",
    "LogNormalPrior",
    "MCPModAnalysis",
    "NormalPrior",
    "UniformParams",
    "UniformPrior",
    "DOSE_RESPONSE_MODEL_NAMES",
    "MODEL_PARAMS",
]

#: Names of the dose-response models (the registry itself lives in ``doseresponse``).
DOSE_RESPONSE_MODEL_NAMES = ("linear", "emax", "sigemax", "exponential", "quadratic", "logistic")

#: Shape parameters each model takes, in the order used by MCP-Mod candidate tuples.
MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "linear": (),
    "emax": ("ed50",),
    "sigemax": ("ed50", "hill"),
    "exponential": ("delta",),
    "quadratic": ("delta",),
    "logistic": ("ed50", "delta"),
}

# parameters that must be strictly positive, per model (quadratic delta may be negative)
_POSITIVE = {("emax", "ed50"), ("sigemax", "ed50"), ("sigemax", "hill"),
             ("exponential", "delta"), ("logistic", "ed50"), ("logistic", "delta")}


# ----------------------------------------------------------------------------- priors
class LogNormalParams(StrictModel):
    """Log-normal distribution by its median and SD on the log scale."""

    median: float = Field(gt=0)
    sd_log: float = Field(ge=0)


class LogNormalPrior(StrictModel):
    """``{lognormal: {median: 3.0, sd_log: 0.5}}``."""

    lognormal: LogNormalParams


class UniformParams(StrictModel):
    """Uniform distribution on ``[lower, upper]``."""

    lower: float
    upper: float

    @field_validator("upper")
    @classmethod
    def _upper_above_lower(cls, v: float, info: ValidationInfo) -> float:
        lo = info.data.get("lower")
        if lo is not None and not v > lo:
            raise ValueError(f"must be greater than lower ({lo})")
        return v


class UniformPrior(StrictModel):
    """``{uniform: {lower: -0.05, upper: 0.0}}``."""

    uniform: UniformParams


class NormalPrior(StrictModel):
    """Normal prior ``{mean, sd}`` (sd > 0)."""

    mean: float
    sd: float = Field(gt=0)


ParamSpec = float | LogNormalPrior | UniformPrior


def _param_support(spec: ParamSpec) -> tuple[float, float]:
    """Smallest/largest value a parameter spec can take (inf for unbounded)."""
    if isinstance(spec, LogNormalPrior):
        return (0.0, math.inf) if spec.lognormal.sd_log > 0 else (spec.lognormal.median,) * 2
    if isinstance(spec, UniformPrior):
        return spec.uniform.lower, spec.uniform.upper
    return float(spec), float(spec)


# ------------------------------------------------------------------ dose-response truth
class DoseResponseSpec(StrictModel):
    """True dose-response shape with fixed values or priors for its shape parameters.

    Models and parameters (standardised shapes ``g`` with ``g(0) = 0``):
    ``linear`` (none), ``emax`` (ed50), ``sigemax`` (ed50, hill), ``exponential`` (delta),
    ``quadratic`` (delta; g = d + delta d^2), ``logistic`` (ed50, delta).
    A parameter is a number or ``{lognormal: {median, sd_log}}`` or
    ``{uniform: {lower, upper}}``.
    """

    model: Literal["linear", "emax", "sigemax", "exponential", "quadratic", "logistic"]
    ed50: ParamSpec | None = None
    hill: ParamSpec | None = None
    delta: ParamSpec | None = None

    @field_validator("ed50", "hill", "delta")
    @classmethod
    def _param_for_model(cls, v: Any, info: ValidationInfo) -> Any:
        model = info.data.get("model")
        name = info.field_name
        if model is None:  # model itself invalid: its own error is reported
            return v
        needed = MODEL_PARAMS[model]
        if name not in needed:
            if v is not None:
                raise ValueError(f"not used by model {model!r} (it takes: {list(needed) or 'none'})")
            return v
        if v is None:
            raise ValueError(f"required by model {model!r} (it takes: {list(needed)})")
        lo, hi = _param_support(v)
        if (model, name) in _POSITIVE and not lo > 0 and not (
            isinstance(v, LogNormalPrior)):
            raise ValueError(f"must be > 0 for model {model!r}")
        if model == "quadratic" and lo == hi == 0:
            raise ValueError("quadratic delta = 0 is the linear model; use model: linear")
        return v

    def fixed_shape(self) -> dict[str, float] | None:
        """Shape parameters as numbers when none has a prior, else ``None``."""
        out = {}
        for p in MODEL_PARAMS[self.model]:
            v = getattr(self, p)
            if not isinstance(v, (int, float)):
                return None
            out[p] = float(v)
        return out


# ----------------------------------------------------------------------------- design
class DoseFindingDesign(StrictModel):
    """Multi-arm dose-finding design (placebo first, then increasing doses).

    ``n_per_arm`` is the average arm size: the total ``n_per_arm * len(doses)`` is split in
    proportion to ``allocation`` (largest-remainder rounding), so equal allocation gives
    exactly ``n_per_arm`` per arm.
    """

    type: Literal["dose_finding"]
    doses: list[float]
    #: what the dose numbers measure (a label for tables and plots; the engine only uses the
    #: numbers): ``dose`` for a generic design, or one of the cell-therapy metrics
    dose_metric: Literal["dose", "cells_per_injection", "n_injections", "cumulative_cells"] = "dose"
    dose_unit: str = ""
    reference_dose: float
    allocation: list[float] | None = None
    n_per_arm: int = Field(ge=2)
    dose_response: DoseResponseSpec

    @field_validator("doses")
    @classmethod
    def _doses_ok(cls, v: list[float]) -> list[float]:
        if len(v) < 2:
            raise ValueError(f"need placebo (0) and at least one active dose; got {v}")
        if not all(math.isfinite(x) for x in v):
            raise ValueError(f"must be finite numbers; got {v}")
        if v[0] != 0:
            raise ValueError(f"first dose must be 0 (placebo); got {v}")
        if any(b <= a for a, b in zip(v[:-1], v[1:])):
            raise ValueError(f"must be strictly increasing; got {v}")
        return v

    @field_validator("reference_dose")
    @classmethod
    def _ref_ok(cls, v: float, info: ValidationInfo) -> float:
        doses = info.data.get("doses")
        if doses is not None and not (0 < v <= doses[-1]):
            raise ValueError(
                f"must be > 0 and within the dose range (0, {doses[-1]}]")
        return v

    @field_validator("allocation")
    @classmethod
    def _alloc_ok(cls, v: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if v is None:
            return v
        doses = info.data.get("doses")
        if doses is not None and len(v) != len(doses):
            raise ValueError(f"needs one weight per dose ({len(doses)}); got {len(v)}")
        if any((not math.isfinite(a)) or a <= 0 for a in v):
            raise ValueError(f"weights must be finite and > 0 (sum > 0); got {v}")
        return v

    @field_validator("dose_response")
    @classmethod
    def _anchor_ok(cls, v: DoseResponseSpec, info: ValidationInfo) -> DoseResponseSpec:
        ref = info.data.get("reference_dose")
        if ref is None:
            return v
        if v.model == "quadratic":
            lo, _ = _param_support(v.delta)
            if lo == -math.inf or 1 + lo * ref <= 0:
                raise ValueError(
                    "quadratic delta must keep g(reference_dose) = d + delta d^2 > 0, i.e. "
                    f"delta > {-1 / ref:.6g}; got {v.delta!r}")
        return v

    @model_validator(mode="after")
    def _arms_big_enough(self) -> "DoseFindingDesign":
        try:
            self.arm_sizes()
        except ValueError as exc:
            raise ValueError(str(exc).replace("design.allocation: ", "allocation: ")) from None
        return self

    def weights(self) -> np.ndarray:
        """Normalised allocation weights (equal if ``allocation`` is omitted)."""
        a = np.ones(len(self.doses)) if self.allocation is None else np.asarray(self.allocation)
        return a / a.sum()

    def arm_sizes(self, n_per_arm: int | None = None) -> list[int]:
        """Arm sizes: total ``n_per_arm * k`` split by allocation, largest remainder."""
        n = self.n_per_arm if n_per_arm is None else int(n_per_arm)
        k = len(self.doses)
        total = n * k
        raw = self.weights() * total
        base = np.floor(raw + 1e-9).astype(int)
        rem = total - base.sum()
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rem]] += 1
        if base.min() < 2:
            raise ValueError(f"design.allocation: arm sizes {base.tolist()} include an arm < 2")
        return base.tolist()


# --------------------------------------------------------------------------- analyses
def _as_tuple_list(name: str, v: Any, width: int) -> tuple[tuple[float, ...], ...]:
    """Normalise DoseFinding ``Mods`` style values to a tuple of parameter tuples."""
    if width == 0:
        if v not in (None, [], True):
            raise ValueError(f"{name}: linear takes no parameters (write `linear: null`)")
        return ((),)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)) or len(v) == 0:
        raise ValueError(f"{name}: expected a non-empty list of guesstimates; got {v!r}")
    out = []
    if width == 1:
        for x in v:
            if isinstance(x, (list, tuple)) and len(x) == 1:
                x = x[0]
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ValueError(f"{name}: expected numbers; got {x!r}")
            out.append((float(x),))
    else:
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            if len(v) % width:
                raise ValueError(f"{name}: expected pairs {list(MODEL_PARAMS[name])}; got {v!r}")
            v = [v[i: i + width] for i in range(0, len(v), width)]
        for x in v:
            if not isinstance(x, (list, tuple)) or len(x) != width:
                raise ValueError(f"{name}: expected pairs {list(MODEL_PARAMS[name])}; got {x!r}")
            out.append(tuple(float(y) for y in x))
    for tup in out:
        for p, val in zip(MODEL_PARAMS[name], tup):
            if not math.isfinite(val):
                raise ValueError(f"{name}: {p} must be finite; got {val}")
            if (name, p) in _POSITIVE and val <= 0:
                raise ValueError(f"{name}: {p} must be > 0; got {val}")
            if name == "quadratic" and val == 0:
                raise ValueError("quadratic: delta = 0 is the linear model")
    return tuple(out)


class MCPModAnalysis(StrictModel):
    """MCP-Mod (Bretz, Pinheiro & Branson 2005) with DoseFinding ``Mods``-style candidates.

    ``models`` example: ``{linear: null, emax: [2.0, 5.0], sigemax: [[4, 3]],
    exponential: [5.0], quadratic: [-0.05], logistic: [[5, 1]]}``. Increasing
    dose-response (positive = better) is tested at one-sided level ``alpha``.
    """

    method: Literal["mcpmod"]
    models: dict[str, Any]
    alpha: float = Field(default=0.025, gt=0, lt=0.5)
    selection: Literal["aic", "max_t", "avg_aic"] = "aic"
    target_delta: float | None = Field(default=None, gt=0)
    dose_estimate: Literal["td", "med"] = "td"

    @field_validator("models")
    @classmethod
    def _models_ok(cls, v: dict[str, Any]) -> dict[str, tuple[tuple[float, ...], ...]]:
        if not v:
            raise ValueError(f"give at least one candidate model (allowed: "
                             f"{list(DOSE_RESPONSE_MODEL_NAMES)})")
        out = {}
        for name, val in v.items():
            if name not in MODEL_PARAMS:
                raise ValueError(f"unknown model {name!r} (allowed: {list(DOSE_RESPONSE_MODEL_NAMES)})")
            out[name] = _as_tuple_list(name, val, len(MODEL_PARAMS[name]))
        return out

    def candidates(self) -> list[tuple[str, tuple[float, ...]]]:
        """Flat list of (model name, shape tuple), in config order."""
        return [(m, p) for m, ps in self.models.items() for p in ps]


class GridSpec(StrictModel):
    """A 1-D grid ``{lower, upper, n, spacing}`` (log spacing needs lower > 0)."""

    lower: float = Field(gt=0)
    upper: float
    n: int = Field(default=64, ge=2, le=4096)
    spacing: Literal["log", "linear"] = "log"

    @field_validator("upper")
    @classmethod
    def _upper_ok(cls, v: float, info: ValidationInfo) -> float:
        lo = info.data.get("lower")
        if lo is not None and not v > lo:
            raise ValueError(f"must be greater than lower ({lo})")
        return v

    def points(self) -> np.ndarray:
        """The grid points."""
        if self.spacing == "log":
            return np.geomspace(self.lower, self.upper, self.n)
        return np.linspace(self.lower, self.upper, self.n)


class BayesEmaxAnalysis(StrictModel):
    """Bayesian (sigmoid) Emax on a grid over ED50 (and Hill), conjugate in E0 and Emax.

    Model for the arm means: ``mean_i ~ N(E0 + Emax g(d_i; ED50, h), sigma^2 / n_i)`` with
    ``g = d^h / (ED50^h + d^h)``, sigma^2 plugged in from the pooled within-arm variance,
    independent normal priors on E0 and Emax and a discrete prior on the grid.

    The go / no-go rule is the config's ``decision`` (e.g. dual criterion on P(effect > 0)
    and P(effect > MCID)), applied to the posterior of the effect at ``decision_dose``
    (``reference``: the tested regimen; ``max``: the highest dose; ``med``: the estimated
    MED). The MED estimate is the smallest tested active dose with
    P(effect > MCID) >= ``gamma``. ``mcid`` defaults to the endpoint MCID.
    """

    method: Literal["bayes_emax"]
    ed50_grid: GridSpec
    hill: float | GridSpec = 1.0
    prior_e0: NormalPrior
    prior_emax: NormalPrior
    prior_ed50: Literal["log_uniform"] | LogNormalPrior = "log_uniform"
    prior_hill: Literal["log_uniform"] | LogNormalPrior = "log_uniform"
    mcid: float | None = Field(default=None, gt=0)
    decision_dose: Literal["reference", "max", "med"] = "reference"
    gamma: float = Field(default=0.5, ge=0, le=1)

    @field_validator("hill")
    @classmethod
    def _hill_ok(cls, v: float | GridSpec) -> float | GridSpec:
        if isinstance(v, (int, float)) and not v > 0:
            raise ValueError(f"must be > 0; got {v}")
        return v

    @model_validator(mode="after")
    def _prior_hill_used(self) -> "BayesEmaxAnalysis":
        if "prior_hill" in self.model_fields_set and not isinstance(self.hill, GridSpec):
            raise ValueError(
                "prior_hill: only used when hill is a grid ({lower, upper, n}); with a fixed hill "
                f"({self.hill}) remove prior_hill"
            )
        return self

    def ed50_points(self) -> np.ndarray:
        """ED50 grid points."""
        return self.ed50_grid.points()

    def hill_points(self) -> np.ndarray:
        """Hill grid points (one point if Hill is fixed)."""
        return np.array([float(self.hill)]) if not isinstance(self.hill, GridSpec) else self.hill.points()
