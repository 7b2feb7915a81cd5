"""Typed, validated configuration: YAML in, frozen pydantic models out."""

from .base import (
    MAX_YAML_NODES,
    SEED_MAX,
    ConfigError,
    Seed,
    StrictModel,
    check_out_dir,
    coercion_problems,
    load_yaml,
    parse_yaml,
    validate_config,
)

__all__ = [
    "ConfigError",
    "StrictModel",
    "Seed",
    "SEED_MAX",
    "MAX_YAML_NODES",
    "load_yaml",
    "parse_yaml",
    "validate_config",
    "coercion_problems",
    "check_out_dir",
]
