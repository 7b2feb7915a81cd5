"""The Python API: the command line's jobs as functions that return results in memory.

``msbayes.fit_reanalysis`` re-analyses a trial, ``msbayes.simulate_design`` evaluates a design
or a grid of designs, ``msbayes.write_report`` writes the report, ``msbayes.load_data`` reads
built-in data, ``msbayes.load_fit`` / ``msbayes.load_simulation`` read saved results, and
``msbayes.fit_config`` / ``msbayes.sim_config`` / ``msbayes.to_yaml`` build and save configs in
Python with the same validation (and the same error messages) as the YAML files.

Nothing is written unless an ``out_dir`` is given; with one, the files are those of the
command line (the same cell store, so an interrupted or enlarged simulation resumes).
``quiet=True`` prints nothing: warnings are kept in the result's ``notes``.

Examples
--------
>>> import msbayes
>>> cfg = msbayes.sim_config({
...     "name": "demo", "seed": 1,
...     "endpoint": {"name": "t25fw", "sd": 0.35, "mcid": 0.1823},
...     "design": {"type": "parallel", "arms": ["placebo", "msc_np"], "n_per_arm": 40},
...     "scenarios": {"null": {"effect": 0.0}, "mcid": {"effect": 0.1823}},
...     "analysis": {"method": "welch", "alpha": 0.05},
...     "simulation": {"n_sims": 2000, "chunk_size": 1000}})
>>> res = msbayes.simulate_design(cfg, backend="sequential", quiet=True)
>>> {"p_go", "p_go_mcse", "p_reject", "p_reject_mcse"} <= set(res.oc.data_vars)
True
>>> float(res.oc["p_reject"].sel(scenario="null")) < 0.1
True
>>> print(msbayes.to_yaml(cfg).splitlines()[0])
name: demo
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .config import ConfigError, load_yaml, validate_config

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .design.config import SimConfig
    from .fit.config import FitConfig
    from .results import ReanalysisResult, SimulationResult

__all__ = ["load_data", "fit_config", "sim_config", "to_yaml", "config_from_yaml", "fit_reanalysis",
           "simulate_design", "write_report", "load_fit", "load_simulation", "calibrate_design",
           "calibration_hint"]

Backend = Literal["loky", "dask", "ray", "sequential"]
PathLike = str | os.PathLike
#: loggers silenced by ``quiet=True``
_LOGGERS = ("pymc", "pytensor", "nutpie", "distributed", "arviz", "numba", "jax")


# ----------------------------------------------------------------------------- helpers
def _plain(obj: Any) -> Any:
    """A YAML-safe copy: mappings -> dict, sequences -> list, numpy scalars -> Python, paths -> str."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "shape", None) == ():
        return obj.item()
    return obj


def _set_dotted(raw: dict, key: str, value: Any) -> dict:
    out = dict(raw)
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        child = node.get(p)
        child = dict(child) if isinstance(child, Mapping) else {}
        node[p] = child
        node = child
    node[parts[-1]] = value
    return out


def _with_overrides(raw: dict, overrides: Mapping[str, Any] | None) -> dict:
    if overrides is None:
        return raw
    if not isinstance(overrides, Mapping):
        raise ConfigError("overrides: expected a mapping of dotted config paths to values, e.g. "
                          "{'simulation.n_sims': 2000}", [("overrides", "not a mapping")])
    for k, v in overrides.items():
        raw = _set_dotted(raw, str(k), _plain(v))
    return raw


def _raw_of(config: Any, *, kind: str) -> tuple[dict, str | None, Path | None, str]:
    """``(raw mapping, exact text or None, folder relative paths resolve against, source name)``."""
    from pydantic import BaseModel

    if isinstance(config, BaseModel):
        return _input_form(config.model_dump(mode="json", exclude_unset=True)), None, None, f"{kind} config"
    if isinstance(config, Mapping):
        return _plain(config), None, None, f"{kind} config"
    if isinstance(config, (str, os.PathLike)):
        p = Path(config)
        if not p.is_file():
            raise ConfigError(f"config: {p} is not a file (give a YAML path, a dict or a validated config)",
                              [("config", "file not found")])
        raw, text = load_yaml(p)
        return raw, text, p.resolve().parent, str(p)
    raise ConfigError(f"config: expected a YAML path, a dict or a validated config, got {type(config).__name__}",
                      [("config", "wrong type")])


def _yaml_text(raw: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(_plain(raw), sort_keys=False, allow_unicode=True)


@contextmanager
def _quiet(enabled: bool, notes: list[str]) -> Iterator[None]:
    """With ``enabled``: nothing on stdout / stderr, library loggers silenced, warnings kept in ``notes``."""
    if not enabled:
        yield
        return
    levels = [(lg, lg.level) for lg in map(logging.getLogger, _LOGGERS)]
    for lg, _ in levels:
        lg.setLevel(logging.CRITICAL + 1)
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, redirect_stdout(sink), redirect_stderr(sink):
            warnings.simplefilter("always")
            yield
        for w in caught:
            msg = f"{w.category.__name__}: {w.message}"
            if not issubclass(w.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning)) \
                    and msg not in notes:
                notes.append(msg)
    finally:
        for lg, lvl in levels:
            lg.setLevel(lvl)


def _notebook_without_widgets() -> bool:
    """True in a Jupyter kernel without ipywidgets: rich cannot draw a live bar there, so
    progress is printed as plain lines instead (never as terminal control characters)."""
    import importlib.util
    import sys

    ip = sys.modules.get("IPython")
    shell = getattr(ip, "get_ipython", lambda: None)() if ip is not None else None
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return importlib.util.find_spec("ipywidgets") is None


# ----------------------------------------------------------------------------- data, configs
def load_data(name: str = "harris2024") -> pd.DataFrame:
    """The published summaries of a built-in data set, one row per (endpoint, stratum, arm).

    Parameters
    ----------
    name : str
        Built-in data set (``msbayes data show`` lists them): ``"harris2024"``, ``"petrou2020"``.

    Returns
    -------
    pandas.DataFrame
        Columns as documented in ``docs/data.md`` (endpoint, population, arm, n, mean, sd,
        scale convention, source ...).

    Raises
    ------
    ConfigError
        Unknown data set name (the message lists the built-in ones).

    Examples
    --------
    >>> import msbayes
    >>> df = msbayes.load_data("harris2024")
    >>> sorted(df["endpoint"].unique())[:2]
    ['6mwt', 'edss_plus']
    """
    from .data import list_datasets, load_summaries

    if name not in list_datasets():
        raise ConfigError(f"name: unknown built-in data set {name!r} (allowed: {', '.join(list_datasets())})",
                          [("name", "unknown data set")])
    return load_summaries(name)


def fit_config(config: PathLike | Mapping[str, Any] | FitConfig, *,
               overrides: Mapping[str, Any] | None = None) -> FitConfig:
    """Validate a re-analysis config given as a YAML path, a dict or a :class:`FitConfig`.

    Parameters
    ----------
    config : path, dict or FitConfig
        The same keys as a YAML fit config (``docs/models.md``).
    overrides : mapping, optional
        Dotted config paths to replace, e.g. ``{"sampler.draws": 200}``.

    Returns
    -------
    FitConfig
        Validated, immutable. Relative data paths of a YAML file resolve against its folder;
        of a dict, against the current directory.

    Raises
    ------
    ConfigError
        Any unknown key, wrong type or impossible value, naming the field (as for YAML).

    Examples
    --------
    >>> import msbayes
    >>> cfg = msbayes.fit_config({"name": "demo", "seed": 1, "models": ["summary_log"],
    ...                           "priors": ["neutral"]}, overrides={"sampler.draws": 200})
    >>> cfg.sampler.draws
    200
    >>> try:
    ...     msbayes.fit_config({"name": "demo", "seed": 1, "sampler": {"draws": "many"}})
    ... except msbayes.ConfigError as exc:
    ...     print(exc.errors[0][0])
    sampler.draws
    """
    from .fit.config import validate_fit_config

    raw, _, base, source = _raw_of(config, kind="fit")
    raw = _with_overrides(raw, overrides)
    return validate_fit_config(raw, source=source, base_dir=base or Path.cwd())


def sim_config(config: PathLike | Mapping[str, Any] | SimConfig, *,
               overrides: Mapping[str, Any] | None = None) -> SimConfig:
    """Validate a design-simulation config given as a YAML path, a dict or a :class:`SimConfig`.

    Parameters
    ----------
    config : path, dict or SimConfig
        The same keys as a YAML simulation config (``docs/configs.md``).
    overrides : mapping, optional
        Dotted config paths to replace, e.g. ``{"simulation.n_sims": 2000,
        "grid": {"design.n_per_arm": [40, 60]}}``.

    Returns
    -------
    SimConfig
        Validated, immutable (every grid value and ``from_fit`` file checked; relative
        ``from_fit`` paths resolve against the current folder, as on the command line).

    Raises
    ------
    ConfigError
        Any unknown key, wrong type or impossible value, naming the field (as for YAML).

    Examples
    --------
    >>> import msbayes
    >>> try:
    ...     msbayes.sim_config({"name": "x", "seed": 1, "endpoint": {"name": "t25fw", "sd": -1},
    ...                         "design": {"type": "parallel", "arms": ["a", "b"], "n_per_arm": 10},
    ...                         "scenarios": {"null": {"effect": 0}}, "analysis": {"method": "welch"}})
    ... except msbayes.ConfigError as exc:
    ...     print(exc.errors[0][0])
    endpoint.sd
    """
    from .design.config import validate_sim_config

    raw, _, _, source = _raw_of(config, kind="simulation")
    raw = _with_overrides(raw, overrides)
    return validate_sim_config(raw, source=source, base_dir=Path.cwd())


def to_yaml(config: FitConfig | SimConfig | Mapping[str, Any], path: PathLike | None = None) -> str:
    """The config as YAML text (keys as set, defaults left out); also written to ``path`` if given.

    Validating the text again gives an equal config, so a design explored in a notebook
    becomes a file for ``msbayes simulate`` or a grid.

    Parameters
    ----------
    config : FitConfig, SimConfig or dict
    path : path, optional
        Write the text there (atomically).

    Returns
    -------
    str

    Examples
    --------
    >>> import msbayes
    >>> cfg = msbayes.fit_config({"name": "demo", "seed": 7, "priors": ["skeptical"]})
    >>> msbayes.fit_config(msbayes.config_from_yaml(msbayes.to_yaml(cfg))) == cfg
    True
    """
    from pydantic import BaseModel

    raw = _input_form(config.model_dump(mode="json", exclude_unset=True)) if isinstance(config, BaseModel) \
        else _plain(config)
    text = _yaml_text(raw)
    if path is not None:
        from .io import atomic_write_text

        atomic_write_text(Path(path), text)
    return text


def _input_form(obj: Any) -> Any:
    """Undo the one normalisation whose dumped form is not accepted as input: a model without
    parameters (MCP-Mod ``linear``) is held as ``[[]]`` and written ``null``."""
    if isinstance(obj, dict):
        return {k: _input_form(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return None if obj == [[]] else [_input_form(v) for v in obj]
    return obj


def config_from_yaml(text: str) -> dict[str, Any]:
    """Parse YAML config text (safe loader, duplicate keys refused) into a dict.

    Examples
    --------
    >>> import msbayes
    >>> msbayes.config_from_yaml("name: x\\nseed: 3\\n")
    {'name': 'x', 'seed': 3}
    """
    from .config import parse_yaml

    raw = parse_yaml(text)
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping at top level", [("<root>", "not a mapping")])
    return raw


# ----------------------------------------------------------------------------- fit
def fit_reanalysis(config: PathLike | Mapping[str, Any] | FitConfig, *, out_dir: PathLike | None = None,
        overrides: Mapping[str, Any] | None = None, quiet: bool = False,
        progress: bool | None = None) -> ReanalysisResult:
    """Fit every configured model under every configured prior; return the results in memory.

    Parameters
    ----------
    config : path, dict or FitConfig
        A fit config (``configs/reanalysis/harris2024.yaml`` is the built-in re-analysis).
    out_dir : path, optional
        Also write the ``msbayes fit`` artefacts there (``posterior.nc``, ``summary.csv`` ...).
        None (default): nothing is written.
    overrides : mapping, optional
        Dotted config paths to replace, e.g. ``{"sampler.draws": 300, "priors": ["neutral"]}``.
    quiet : bool
        Print nothing (no progress bar, no sampler log); warnings go to ``result.notes``.
    progress : bool, optional
        Show a progress bar (default: unless ``quiet``).

    Returns
    -------
    ReanalysisResult
        ``.idata`` (InferenceData), ``.summary`` (DataFrame), ``.diagnostics``, the other
        tables, ``.plot_forest()`` ...; ``print(result)`` gives a short summary.

    Raises
    ------
    ConfigError
        A bad config (naming the field) or unwritable ``out_dir``, before any sampling.

    Examples
    --------
    >>> import msbayes
    >>> res = msbayes.fit_reanalysis("configs/reanalysis/harris2024.yaml",
    ...                   overrides={"sampler.draws": 300, "sampler.tune": 300}, quiet=True)  # doctest: +SKIP
    >>> res.summary[["prior", "endpoint", "population", "mean", "p_mcid"]]             # doctest: +SKIP
    """
    from .fit.config import FitConfig as _FitConfig
    from .results import ReanalysisResult

    raw, text, _, _ = _raw_of(config, kind="fit")
    cfg = config if isinstance(config, _FitConfig) and overrides is None else fit_config(config, overrides=overrides)
    if text is None or overrides is not None:
        text = _yaml_text(_with_overrides(raw, overrides))
    if out_dir is not None:
        from .config import check_out_dir

        check_out_dir(out_dir, field="out_dir")
    notes: list[str] = []
    show = (not quiet) if progress is None else bool(progress and not quiet)
    with _quiet(quiet, notes):
        from .fit import run_fit

        res = run_fit(cfg, out_dir=out_dir, config_text=text, progress=show and not _notebook_without_widgets())
    idata = res.idata
    if idata is None:  # pragma: no cover - run_fit always returns its draws
        import arviz as az

        idata = az.from_netcdf(Path(out_dir) / "posterior.nc")
    meta = dict(res.meta)
    meta.setdefault("config_name", cfg.name)
    import pandas as pd

    return ReanalysisResult(idata=idata, summary=res.summary, sensitivity=res.sensitivity,
                            raw_vs_shrunk=res.raw_vs_shrunk, ppc=res.ppc,
                            mcid_sensitivity=res.mcid_sensitivity if res.mcid_sensitivity is not None else pd.DataFrame(),
                            meta=meta, config_text=text, out_dir=Path(out_dir) if out_dir is not None else None,
                            notes=notes)


# ----------------------------------------------------------------------------- simulate
def simulate_design(config: PathLike | Mapping[str, Any] | SimConfig, *, out_dir: PathLike | None = None,
             overrides: Mapping[str, Any] | None = None, backend: Backend | None = None,
             n_jobs: int | None = None, scheduler: str | None = None, quiet: bool = False,
             force: bool = False) -> SimulationResult:
    """Simulate a design (or a grid of designs); return the operating characteristics in memory.

    Parameters
    ----------
    config : path, dict or SimConfig
        A simulation config (``docs/configs.md``); a ``grid:`` makes one cell per combination.
    out_dir : path, optional
        Keep the run there: ``oc.nc``, ``oc.csv``, ``sample_size.csv`` and the cell store, as
        ``msbayes simulate --out`` (an interrupted run resumes, a larger ``n_sims`` adds
        simulations). None (default): nothing is kept; the cell store lives in a temporary
        folder that is removed before returning.
    overrides : mapping, optional
        Dotted config paths to replace, e.g. ``{"simulation.n_sims": 4000}``.
    backend : {"loky", "dask", "ray", "sequential"}, optional
        Where cells run (default: ``simulation.backend`` of the config, else loky).
        Results do not depend on the backend or the number of workers.
    n_jobs : int, optional
        Workers (``-1``: all CPUs; default: ``simulation.n_jobs``), capped at the CPUs available.
    scheduler : str, optional
        dask scheduler address (``tcp://host:8786``) or ray cluster address.
    quiet : bool
        Print nothing; warnings and notes (an unreached sample-size target ...) go to
        ``result.notes`` and the printed summary. Otherwise a progress bar (a widget in
        Jupyter; plain lines in a notebook without ipywidgets).
    force : bool
        Discard a cell store in ``out_dir`` made by a different config instead of refusing.

    Returns
    -------
    SimulationResult
        ``.oc`` (xarray Dataset: every OC with its ``_mcse``), ``.sample_size`` (DataFrame or
        None), ``.summary``, ``.to_dataframe()``, ``.plot_oc()``; ``print(result)`` gives the
        design, the key OCs with MCSE and the sample size.

    Raises
    ------
    ConfigError
        A bad config (naming the field), backend or ``out_dir``, before any simulation.

    Examples
    --------
    >>> import msbayes
    >>> res = msbayes.simulate_design("configs/design/two_arm_sample_size.yaml", quiet=True,
    ...                        overrides={"simulation.n_sims": 2000, "simulation.chunk_size": 1000,
    ...                                   "search": None})          # doctest: +SKIP
    >>> res.oc["p_go"].sel(scenario="target")                      # doctest: +SKIP
    """
    from .design.config import validate_sim_config
    from .grid import run_grid
    from .grid.cli import resolve_workers
    from .results import SimulationResult

    raw, text, _, source = _raw_of(config, kind="simulation")
    raw = _with_overrides(raw, overrides)
    if overrides is not None or text is None:
        text = _yaml_text(raw)
    base = Path.cwd()  # relative from_fit paths resolve against the current folder, as on the command line
    validate_sim_config(raw, source=source, base_dir=base)  # refuse a bad config before anything else
    be = backend or ((raw.get("simulation") or {}).get("backend") if isinstance(raw.get("simulation"), Mapping)
                     else None) or "loky"
    workers, note = resolve_workers(raw, n_jobs, backend=be, force_jobs=False)
    notes: list[str] = [note] if note else []
    stream = io.StringIO() if quiet else None
    tmp = tempfile.TemporaryDirectory(prefix="msbayes-sim-") if out_dir is None else None
    try:
        target = Path(tmp.name) if tmp is not None else Path(out_dir)
        with _quiet(quiet, notes):
            ds = run_grid(raw, config_text=text, out_dir=target, backend=be, n_jobs=workers, scheduler=scheduler,
                          quiet=quiet or _notebook_without_widgets(), force=force, base_dir=base, source=source,
                          stream=stream)
        ds = ds.load()
        ss_path = target / "sample_size.csv"
        import pandas as pd

        sample_size = pd.read_csv(ss_path) if ss_path.is_file() else None
    finally:
        if tmp is not None:
            tmp.cleanup()
    if stream is not None:
        notes += [ln.split(":", 1)[1].strip() for ln in stream.getvalue().splitlines()
                  if ln.startswith(("warning:", "note:"))]
    return SimulationResult(oc=ds, sample_size=sample_size, config_text=text,
                            out_dir=Path(out_dir) if out_dir is not None else None, notes=notes)


# ----------------------------------------------------------------------------- calibrate
CALIBRATION_COLUMNS = ("cell", "field", "threshold", "type1", "type1_mcse", "target", "n_sims")


def calibrate_design(config: PathLike | Mapping[str, Any] | SimConfig, *, target: float = 0.025,
                     scenario: str = "null", n_sims: int | None = None, out: PathLike | None = None,
                     seed: int | None = None, overrides: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Calibrate the posterior threshold of every grid cell to a type I error target.

    For each design cell of ``config`` (one per combination of its ``grid:`` values), the
    threshold with simulated type I error ``<= target`` under the null ``scenario``:
    ``interims.efficacy.p_benefit`` for a design with a Bayesian interim efficacy rule (one
    threshold for every interim look; futility stops and the final decision rule kept), or
    ``decision.go.p_benefit`` for a fixed two-arm ``bayes_normal`` design (the ``p_mcid`` part
    of the go rule kept). See
    :func:`msbayes.sequential.bayes.calibrate_config_threshold`.

    Parameters
    ----------
    config : path, dict or SimConfig
        A simulation config.
    target : float
        Type I error to attain, in (0, 0.5).
    scenario : str
        The null scenario (a fixed effect of 0).
    n_sims : int, optional
        Null trials per cell (>= 100; default ``simulation.n_sims``). The attained type I
        error has binomial MCSE about ``sqrt(target (1 - target) / n_sims)``.
    out : path, optional
        Also write the table there as CSV (atomically: a reader never sees half a file).
    seed : int, optional
        Base seed (default: the config's ``seed``); each cell's seed follows from it and the
        cell's grid values.
    overrides : mapping, optional
        Dotted config paths to replace first, e.g. ``{"grid": None}``.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``cell`` (grid values, ``base`` without a grid), one column per grid
        axis, ``field`` (the config path to set), ``threshold``, ``type1`` (attained on the
        calibration trials), ``type1_mcse``, ``target``, ``n_sims``. Check on fresh seeds:
        ``msbayes simulate`` with the threshold put in gives ``p_go`` under the null within
        about 3 MCSE of the target.

    Raises
    ------
    ConfigError
        Before any simulation: a bad config, no null scenario, ``target`` outside (0, 0.5),
        ``n_sims`` < 100, an ``out`` that cannot be written, or a cell with no threshold to
        calibrate (the message names the field).

    Examples
    --------
    >>> import msbayes
    >>> tab = msbayes.calibrate_design({"name": "x", "seed": 3, "endpoint": {"sd": 0.35},
    ...     "design": {"type": "parallel", "n_per_arm": 30}, "scenarios": {"null": {"effect": 0.0}},
    ...     "analysis": {"method": "bayes_normal", "prior": {"mean": 0.1, "sd": 0.1}}},
    ...     target=0.05, n_sims=20_000)
    >>> tab.loc[0, "field"], bool(tab.loc[0, "threshold"] > 0.95), bool(tab.loc[0, "type1"] <= 0.05)
    ('decision.go.p_benefit', True, True)
    """
    import pandas as pd

    from .grid.hooks import default_hooks
    from .grid.spec import axis_label, expand_grid
    from .rng import cell_seed
    from .sequential.bayes import calibrate_config_threshold, calibration_field, check_null_scenario

    raw, _text, _, source = _raw_of(config, kind="simulation")
    raw = _with_overrides(raw, overrides)
    base = Path.cwd()  # relative from_fit paths resolve against the current folder, as on the command line
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.0 < float(target) < 0.5:
        raise ConfigError(f"target: must be a type I error in (0, 0.5); got {target!r}",
                          [("target", "allowed: a number in (0, 0.5), e.g. 0.025")])
    if n_sims is not None and (isinstance(n_sims, bool) or not isinstance(n_sims, int) or n_sims < 100):
        raise ConfigError(f"n_sims: must be an integer >= 100; got {n_sims!r}", [("n_sims", "allowed: >= 100")])
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f"seed: must be an integer >= 0; got {seed!r}", [("seed", "allowed: >= 0")])
    out_path = None
    if out is not None:
        out_path = Path(out)
        if out_path.is_dir() or not out_path.parent.is_dir():
            raise ConfigError(f"out: {out_path} cannot be written (give a file in an existing folder)",
                              [("out", "a CSV file path in an existing folder")])
    hooks = default_hooks()
    spec = expand_grid(raw, hooks=hooks, source=source, base_dir=base)
    cells = [c for c in spec.cells if c.scenario == spec.scenarios[0]]  # one per design
    plan = []
    for c in cells:
        where = ", ".join(f"{p}={axis_label(v)}" for p, v in c.coords) or "base"
        try:
            check_null_scenario(c.config, scenario)
            field = calibration_field(c.config)
        except ValueError as exc:
            at = "" if where == "base" else f" [grid cell {where}]"
            name = str(exc).split(":", 1)[0]
            raise ConfigError(f"{source}{at}: {exc}", [(name, str(exc))]) from None
        plan.append((c, where, field))
    n = int(n_sims if n_sims is not None else spec.n_sims)
    base_seed = int(seed if seed is not None else spec.seed)
    rows = []
    for c, where, field in plan:
        ss = cell_seed(base_seed, {**dict(c.coords), "scenario": scenario, "calibrate": "threshold"})
        try:
            f, res = calibrate_config_threshold(c.config, scenario=scenario, target=float(target), n_sims=n,
                                                seed=ss)
        except ValueError as exc:  # a target the design cannot attain (named field), found by simulation
            at = "" if where == "base" else f" [grid cell {where}]"
            raise ConfigError(f"{source}{at}: {exc}", [(str(exc).split(":", 1)[0], str(exc))]) from None
        row = {"cell": where, **{p: axis_label(v) for p, v in c.coords}, "field": f, "threshold": res.threshold,
               "type1": res.type1, "type1_mcse": res.type1_mcse, "target": float(target), "n_sims": res.n_sims}
        rows.append(row)
    axes = [a.path for a in spec.axes]
    df = pd.DataFrame(rows, columns=["cell", *axes, *CALIBRATION_COLUMNS[1:]])
    if out_path is not None:
        from .io import atomic_to_csv

        atomic_to_csv(df, out_path)
    return df


def calibration_hint(table: pd.DataFrame) -> str:
    """One line saying how to put the calibrated threshold(s) of ``table`` into the config.

    Examples
    --------
    >>> import pandas as pd
    >>> print(calibration_hint(pd.DataFrame({"cell": ["base"], "field": ["decision.go.p_benefit"],
    ...                                      "threshold": [0.98123]})))
    Put the threshold into the config: decision.go.p_benefit: 0.98123 (then check it: msbayes simulate, p_go under the null scenario).
    """
    fields = list(dict.fromkeys(table["field"]))
    if len(table) == 1:
        return (f"Put the threshold into the config: {fields[0]}: {table['threshold'].iloc[0]:.5g} "
                "(then check it: msbayes simulate, p_go under the null scenario).")
    return (f"Put each cell's threshold into its config: {' / '.join(fields)} (the thresholds differ by cell: "
            "run one config per cell, with the grid values of that row fixed; then check p_go under the null "
            "scenario with msbayes simulate).")


# ----------------------------------------------------------------------------- report
def write_report(*, out_dir: PathLike, fit: ReanalysisResult | PathLike | None = None,
           sims: Sequence[SimulationResult | PathLike] = (), quiet: bool = False,
           **options: Any) -> Path:
    """Write the report (``report.html``, ``figures/``, ``tables/``) from results or folders.

    Parameters
    ----------
    out_dir : path
        Report folder (created if needed).
    fit : ReanalysisResult or path, optional
        A fit result (from :func:`fit_reanalysis`) or a ``msbayes fit`` folder.
    sims : sequence of SimulationResult or paths
        Simulation results (from :func:`simulate_design`) or ``msbayes simulate`` folders.
    quiet : bool
        Print nothing; warnings are discarded.
    **options
        Passed to :func:`msbayes.report.build_report` (``formats``, ``primary_prior``, ``title``,
        ``slides`` ...).

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    ConfigError
        Neither a fit nor a simulation given, or a folder that is not an msbayes output.

    Examples
    --------
    >>> import msbayes
    >>> msbayes.write_report(fit="results/reanalysis", sims=["results/sims/two_arm"],
    ...                out_dir="results/report")                  # doctest: +SKIP
    """
    from .report import build_report
    from .results import ReanalysisResult, SimulationResult

    if isinstance(sims, (str, os.PathLike, SimulationResult)):
        sims = [sims]
    if fit is None and not sims:
        raise ConfigError("report: give a fit result or folder (fit=) and/or simulation results (sims=)",
                          [("fit", "nothing to report")])
    with tempfile.TemporaryDirectory(prefix="msbayes-report-") as tmp:
        fit_dir = None
        if isinstance(fit, ReanalysisResult):
            fit_dir = fit.out_dir if fit.out_dir is not None and (fit.out_dir / "posterior.nc").is_file() \
                else _save_copy(fit, Path(tmp) / "fit")
        elif fit is not None:
            fit_dir = Path(fit)
        sim_dirs = []
        for i, s in enumerate(sims):
            if isinstance(s, SimulationResult):
                sim_dirs.append(s.out_dir if s.out_dir is not None and (s.out_dir / "oc.nc").is_file()
                                else _save_copy(s, Path(tmp) / f"sim{i}"))
            else:
                sim_dirs.append(Path(s))
        notes: list[str] = []
        with _quiet(quiet, notes):
            return Path(build_report(fit_dir=fit_dir, sim_dirs=sim_dirs or None, out_dir=Path(out_dir), **options))


def load_fit(fit_dir: PathLike) -> ReanalysisResult:
    """Read a ``msbayes fit`` output folder into a :class:`~msbayes.results.ReanalysisResult`.

    Examples
    --------
    >>> import msbayes
    >>> res = msbayes.load_fit("results/reanalysis")      # doctest: +SKIP
    """
    from .results import ReanalysisResult

    return ReanalysisResult.load(fit_dir)


def load_simulation(sim_dir: PathLike) -> SimulationResult:
    """Read a ``msbayes simulate`` output folder into a :class:`~msbayes.results.SimulationResult`.

    Examples
    --------
    >>> import msbayes
    >>> res = msbayes.load_simulation("results/sims/two_arm")   # doctest: +SKIP
    """
    from .results import SimulationResult

    return SimulationResult.load(sim_dir)


def _save_copy(res: Any, folder: Path) -> Path:
    """Write ``res``'s artefacts to ``folder`` without changing its ``out_dir``."""
    keep = res.out_dir
    try:
        return res.save(folder)
    finally:
        res.out_dir = keep
