"""Config plumbing shared by every stage: strict models, safe YAML, readable errors.

Every config model derives from :class:`StrictModel`: unknown keys are refused, values are
type-checked without silent coercion of strings to numbers, and objects are frozen. A
validation failure is re-raised as :class:`ConfigError` whose message names each offending
field by its dotted path, e.g. ``design.allocation: ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["ConfigError", "StrictModel", "load_yaml", "validate_config", "format_validation_error"]

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config or input was refused. ``errors`` lists (field, message) pairs."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []


class StrictModel(BaseModel):
    """Base for every config model: no unknown keys, strict types, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)


def _loc(loc: tuple[Any, ...], data: Any = None) -> str:
    """Dotted field path; drops pydantic's union tags by walking the input alongside."""
    parts: list[str] = []
    node = data
    for i, p in enumerate(loc):
        if isinstance(p, int):
            parts.append(f"[{p}]")
            node = node[p] if isinstance(node, list) and -len(node) <= p < len(node) else None
            continue
        s = str(p)
        if s.startswith("function-"):
            continue  # pydantic's tag for validator functions, not a field
        if isinstance(node, dict) and s not in node and i + 1 < len(loc):
            continue  # a discriminated-union tag (e.g. "parallel"), not a key of the input
        parts.append(("." if parts else "") + s)
        node = node.get(s) if isinstance(node, dict) else None
    return "".join(parts) or "<root>"


def format_validation_error(
    err: ValidationError, *, prefix: str = "", data: Any = None
) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        field = _loc(e.get("loc", ()), data)
        if prefix:
            field = f"{prefix}.{field}" if field != "<root>" else prefix
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        ctx = e.get("ctx") or {}
        if "expected" in ctx and "allowed" not in msg:
            msg = f"{msg} (allowed: {ctx['expected']})"
        inp = e.get("input")
        if e.get("type") != "extra_forbidden" and not isinstance(inp, (dict, list)):
            msg = f"{msg}; got {inp!r}"
        out.append((field, msg))
    return out


def validate_config(model: type[M], data: Any, *, source: str = "config", prefix: str = "") -> M:
    """Validate ``data`` into ``model`` or raise :class:`ConfigError` naming each field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = format_validation_error(err, prefix=prefix, data=data)
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors) from None


def load_yaml(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """Read a YAML config with the safe loader; return (mapping, exact text)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}", [("config", "file not found")])
    text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}", [("config", "invalid YAML")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at top level", [("config", "not a mapping")])
    return data, text
