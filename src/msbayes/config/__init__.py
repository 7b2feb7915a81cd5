"""Typed, validated configuration: YAML in, frozen pydantic models out."""

from .base import ConfigError, StrictModel, load_yaml, validate_config

__all__ = ["ConfigError", "StrictModel", "load_yaml", "validate_config"]
