"""The engine functions the grid runner calls, gathered in one injectable object.

The runner never imports the simulation engine at module import time: it receives an
:class:`EngineHooks` (validate a raw config, apply dotted-path overrides, simulate one cell
chunk, rebuild an accumulator, run a sample-size search). :func:`default_hooks` wires in
``msbayes.design`` / ``msbayes.simulate`` / ``msbayes.oc``; tests may inject small, exactly
solvable cell functions to check the runner's own properties (determinism, resume, growth).

Examples
--------
>>> from msbayes.grid.hooks import EngineHooks
>>> EngineHooks.__dataclass_fields__["simulate_cell"].name
'simulate_cell'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["EngineHooks", "default_hooks", "merge_accumulators"]


@dataclass(frozen=True)
class EngineHooks:
    """Callables the runner needs from the simulation engine.

    Parameters
    ----------
    validate : callable(raw: dict, *, source: str, base_dir: Path | None) -> config object
        Fully validates the base config (incl. its ``grid`` section and any files it reads),
        raising :class:`msbayes.config.ConfigError` naming the field.
    apply_overrides : callable(raw: dict, overrides: dict[str, Any]) -> dict
        Returns a copy of ``raw`` with dotted paths set to the given values.
    simulate_cell : callable(cfg, scenario, n_sims, cell_ss, *, chunk_size, first_chunk)
        Simulates ``n_sims`` trials of one cell starting at chunk ``first_chunk`` and returns
        an accumulator with ``merge``, ``finalize`` and ``to_dict``.
    accumulator_from_dict : callable(dict) -> accumulator
        Inverse of ``acc.to_dict()``.
    search_sample_size : callable or None
        The engine's sample-size search (only needed when a config has ``search:``).
    validate_cell : callable(raw: dict, *, source: str) -> config object, optional
        Validates one grid cell's config (no ``grid`` section; files already checked).
        Defaults to ``validate``.
    """

    validate: Callable[..., Any]
    apply_overrides: Callable[[dict, dict], dict]
    simulate_cell: Callable[..., Any]
    accumulator_from_dict: Callable[[dict], Any]
    search_sample_size: Callable[..., Any] | None = None
    validate_cell: Callable[..., Any] | None = None


def _check_scenarios(cfg: Any, *, source: str, base_dir: Any) -> None:
    """Build every scenario's effect sampler once on the base config, so a design prior that
    cannot be built (strata not in the fit, mixture mode with several strata, ...) is refused
    before any cell is simulated or stored."""
    from pathlib import Path

    from msbayes.config import ConfigError
    from msbayes.design.scenarios import effect_sampler

    errors: list[tuple[str, str]] = []
    for name, spec in (getattr(cfg, "scenarios", None) or {}).items():
        try:
            effect_sampler(spec, cfg.endpoint, base_dir=Path(base_dir) if base_dir is not None else None, name=name)
        except ConfigError as exc:
            text = str(exc)
            if len(exc.errors) == 1 and text.startswith(exc.errors[0][0] + ": "):
                errors.append((exc.errors[0][0], text[len(exc.errors[0][0]) + 2:]))  # the full message
            else:
                errors.extend(exc.errors or [(f"scenarios.{name}", text)])
        except (ValueError, KeyError, OSError) as exc:
            errors.append((f"scenarios.{name}", str(exc)))
    if errors:
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors)


def default_hooks() -> EngineHooks:
    """Hooks bound to the real engine (imported lazily, so the grid imports without it)."""
    from msbayes.config import validate_config
    from msbayes.design.config import SimConfig, apply_overrides, validate_sim_config
    from msbayes.oc.accumulate import Accumulator
    from msbayes.simulate.engine import simulate_cell

    try:
        from msbayes.oc.search import search_sample_size
    except ImportError:  # pragma: no cover - search module missing
        search_sample_size = None

    def _validate(raw: dict, *, source: str = "config", base_dir: Any = None) -> Any:
        cfg = validate_sim_config(raw, source=source, base_dir=base_dir)
        _check_scenarios(cfg, source=source, base_dir=base_dir)
        return cfg

    def _validate_cell(raw: dict, *, source: str = "config") -> Any:
        # structure and cross-field checks only: files and grid values were checked once on
        # the base config (reading posterior.nc per cell would be slow)
        return validate_config(SimConfig, raw, source=source)

    return EngineHooks(
        validate=_validate,
        apply_overrides=apply_overrides,
        simulate_cell=simulate_cell,
        accumulator_from_dict=Accumulator.from_dict,
        search_sample_size=search_sample_size,
        validate_cell=_validate_cell,
    )


def merge_accumulators(accs: list[Any]) -> Any:
    """Fold accumulators left to right in the given (chunk) order.

    The order is fixed by the caller (ascending chunk index) so floating-point sums are
    bit-identical however the chunks were batched, scheduled or grown. Works whether
    ``merge`` mutates in place or returns a new accumulator.
    """
    if not accs:
        raise ValueError("no accumulators to merge")
    total = accs[0]
    for acc in accs[1:]:
        out = total.merge(acc)
        total = total if out is None else out
    return total
