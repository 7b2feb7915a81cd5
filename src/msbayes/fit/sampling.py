"""Sampling: compile a PyMC model once, then sample it many times with new data / priors.

Backends: ``nutpie`` (numba-compiled logp; the compiled model is reused and its ``pm.Data``
values swapped with ``CompiledModel.with_data``, so a model is compiled once per run whatever
the number of priors) and ``pymc`` (PyMC's NUTS, ``cores`` processes; ``pm.set_data``
before each run). ``auto`` = nutpie when importable, else pymc.

Examples
--------
>>> import pymc as pm
>>> from msbayes.fit.sampling import compile_model, sample_compiled
>>> with pm.Model() as m:
...     loc = pm.Data("loc", 0.0)
...     x = pm.Normal("x", loc, 1.0)
>>> cm = compile_model(m, backend="pymc")
>>> idata = sample_compiled(cm, data={"loc": 3.0}, draws=200, tune=200, chains=1, cores=1, seed=1)
>>> 2.5 < float(idata.posterior["x"].mean()) < 3.5
True
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import arviz as az
import numpy as np
import pymc as pm

__all__ = ["Backend", "resolve_backend", "CompiledFit", "compile_model", "sample_compiled", "n_divergences"]

Backend = Literal["auto", "nutpie", "pymc"]


def resolve_backend(backend: Backend) -> Literal["nutpie", "pymc"]:
    """``auto`` -> ``nutpie`` if importable else ``pymc``; explicit names are checked."""
    has_nutpie = importlib.util.find_spec("nutpie") is not None
    if backend == "auto":
        return "nutpie" if has_nutpie else "pymc"
    if backend == "nutpie" and not has_nutpie:
        raise ValueError("sampler.backend: 'nutpie' is not installed (use 'auto' or 'pymc')")
    if backend not in ("nutpie", "pymc"):
        raise ValueError(f"sampler.backend must be one of auto, nutpie, pymc; got {backend!r}")
    return backend


@dataclass
class CompiledFit:
    """A model ready to be sampled repeatedly (``compiled`` is nutpie's object or None)."""

    model: pm.Model
    backend: Literal["nutpie", "pymc"]
    compiled: Any = None


def compile_model(model: pm.Model, *, backend: Backend = "auto") -> CompiledFit:
    """Compile ``model`` once for ``backend`` (nutpie: numba logp + gradient)."""
    be = resolve_backend(backend)
    if be == "nutpie":
        import nutpie

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            compiled = nutpie.compile_pymc_model(model, backend="numba")
        return CompiledFit(model, "nutpie", compiled)
    return CompiledFit(model, "pymc", None)


def sample_compiled(
    cf: CompiledFit,
    *,
    data: dict[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 2,
    target_accept: float = 0.9,
    seed: int,
    progress: bool = False,
) -> az.InferenceData:
    """Sample the compiled model with ``data`` (pm.Data name -> new value).

    Returns an InferenceData with ``posterior`` (free variables and deterministics) and
    ``sample_stats`` (with ``diverging``).
    """
    data = {k: np.asarray(v) for k, v in (data or {}).items()}
    if cf.backend == "nutpie":
        import nutpie

        # pm.Data the logp graph does not use (e.g. the tau scale when the prior sits on the
        # stratum effect) are not part of nutpie's compiled model: drop them, refuse unknown names
        known = set(getattr(cf.compiled, "shared_data", {}) or {})
        model_data = {v.name for v in cf.model.data_vars} if hasattr(cf.model, "data_vars") else set(known)
        unknown = sorted(k for k in data if k not in known and k not in model_data)
        if unknown:
            raise KeyError(f"unknown model data {unknown}")
        data = {k: v for k, v in data.items() if k in known}
        compiled = cf.compiled.with_data(**data) if data else cf.compiled
        return nutpie.sample(
            compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=int(seed),
            target_accept=target_accept, progress_bar=progress,
        )
    with cf.model:
        if data:
            pm.set_data(data)
        logger = logging.getLogger("pymc")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            return pm.sample(
                draws=draws, tune=tune, chains=chains, cores=cores, random_seed=int(seed),
                target_accept=target_accept, progressbar=progress, compute_convergence_checks=False,
                nuts_sampler="pymc",
            )
        finally:
            logger.setLevel(level)


def n_divergences(idata: az.InferenceData) -> int:
    """Number of divergent transitions after warm-up."""
    ss = idata.sample_stats
    for name in ("diverging", "divergences"):
        if name in ss:
            return int(np.asarray(ss[name]).sum())
    return 0
