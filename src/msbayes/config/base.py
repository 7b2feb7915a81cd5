"""Config plumbing shared by every stage: strict models, safe YAML, readable errors.

Every config model derives from :class:`StrictModel`: unknown keys are refused, objects are
frozen, and :func:`validate_config` refuses silent coercions before pydantic sees the data
(a string or a boolean where a number is expected, a number where a boolean is expected;
an integer where a float is expected stays accepted). A validation failure is re-raised as
:class:`ConfigError` whose message names each offending field by its dotted path, e.g.
``design.allocation: ...``.

:func:`load_yaml` reads a config with PyYAML's safe loader and also refuses what the safe
loader lets through: duplicate keys in one mapping (YAML keeps the last one silently), alias
"bombs" (a few lines of anchors that expand to billions of values) and text that is not
UTF-8. :data:`Seed` is the one seed type of every config.

Examples
--------
>>> from msbayes.config import StrictModel, validate_config, ConfigError
>>> class Demo(StrictModel):
...     n: int
...     sd: float = 1.0
>>> validate_config(Demo, {"n": 3, "sd": 2}).sd
2.0
>>> try:
...     validate_config(Demo, {"n": "3"})
... except ConfigError as exc:
...     print(exc.errors[0][0])
n
"""

from __future__ import annotations

import enum
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ConfigError",
    "StrictModel",
    "Seed",
    "SEED_MAX",
    "MAX_YAML_NODES",
    "MAX_CONFIG_BYTES",
    "load_yaml",
    "parse_yaml",
    "validate_config",
    "format_validation_error",
    "coercion_problems",
    "check_out_dir",
]

M = TypeVar("M", bound=BaseModel)

#: largest seed: seeds are stored as signed 64-bit integers (netCDF attributes)
SEED_MAX = 2**63 - 1
#: one seed type for every config (fit and simulate): an integer in [0, 2^63 - 1]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX, strict=True)]
#: a config may hold at most this many YAML values after expanding aliases
MAX_YAML_NODES = 200_000
#: a config file larger than this is refused unread
MAX_CONFIG_BYTES = 5_000_000


class ConfigError(ValueError):
    """A config or input was refused. ``errors`` lists (field, message) pairs."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []


class StrictModel(BaseModel):
    """Base for every config model: no unknown keys, no silent coercion, immutable.

    Validate through :func:`validate_config`, which also refuses strings and booleans where
    numbers are expected (pydantic's lax mode would coerce ``"60"`` to 60 and ``true`` to 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True)


# --------------------------------------------------------------------------- error paths
_UNION_LABEL = re.compile(r"^(float|int|str|bool|bytes|none|list|dict|tuple|set|nullable|"
                          r"literal\[.*\]|.*\[.*\]|function-.*|is-instance\[.*\])$", re.IGNORECASE)


def _loc(loc: tuple[Any, ...], data: Any = None, *, missing: bool = False) -> str:
    """Dotted field path; drops pydantic's union tags by walking the input alongside.

    ``missing``: the error is a missing field, so a last part absent from the input is the
    field's name (otherwise it is a union tag).
    """
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
        if node is not None and not isinstance(node, (dict, list)):
            continue  # below a scalar input only union-member labels remain (e.g. "float")
        if isinstance(node, dict) and s not in node and (i + 1 < len(loc) or not missing or _UNION_LABEL.match(s)):
            continue  # a discriminated-union tag (e.g. "parallel"), not a key of the input
        parts.append(("." if parts else "") + s)
        node = node.get(s) if isinstance(node, dict) else None
    return "".join(parts) or "<root>"


_FIELD_IN_MSG = re.compile(r"^([A-Za-z_][\w-]*(?:\.[\w.\-]+)?)(?=[\s:(\[])")


def _node_at(data: Any, field: str) -> Any:
    node = data
    for part in re.split(r"\.|(?=\[)", field):
        if not part:
            continue
        if part.startswith("[") and isinstance(node, list):
            try:
                node = node[int(part[1:-1])]
            except (ValueError, IndexError):
                return None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _field_from_message(field: str, msg: str, data: Any, model: type[BaseModel] | None) -> str:
    """A model-level check ("search.scenario 'x' is not a scenario") names its field first."""
    m = _FIELD_IN_MSG.match(msg)
    if not m:
        return field
    first = m.group(1).split(".")[0]
    last = field.rsplit(".", 1)[-1]
    if field != "<root>" and first == last and "." in m.group(1):  # "decision.rule ..." at decision
        return field[: len(field) - len(last)] + m.group(1).rstrip(".")
    node = data if field == "<root>" else _node_at(data, field)
    known = isinstance(node, dict) and first in node
    if not known and field == "<root>" and model is not None:
        known = first in model.model_fields
    if not known:
        return field
    name = m.group(1).rstrip(".")
    return name if field == "<root>" else f"{field}.{name}"


def _noise_literal(e: Any, errors: list[Any]) -> bool:
    """A union member ``Literal[...]`` refusing a mapping / list input, beside another member's
    errors at the same field: the input is plainly not that string, so the line only confuses
    (``interims.efficacy: {spendng: obf}`` is not "Input should be 'none'")."""
    if e.get("type") != "literal_error" or not isinstance(e.get("input"), (dict, list)):
        return False
    loc = tuple(e.get("loc", ()))[:-1]
    return any(o is not e and tuple(o.get("loc", ()))[: len(loc)] == loc and len(o.get("loc", ())) > len(loc)
               for o in errors)


def _strip_field_echo(field: str, msg: str) -> str:
    """``interims.looks: interims.looks: ...`` -> ``interims.looks: ...``: drop a leading
    ``name:`` from the message when the dotted field already ends with ``name``. Only below
    ``interims`` (the other sections' messages are kept word for word)."""
    head, sep, rest = msg.partition(": ")
    if not sep or not rest or " " in head or not (field == "interims" or field.startswith("interims.")):
        return msg
    if field == head or field.endswith("." + head):
        return rest
    return msg


def format_validation_error(
    err: ValidationError, *, prefix: str = "", data: Any = None, model: type[BaseModel] | None = None
) -> list[tuple[str, str]]:
    """(dotted field, message) pairs of a pydantic error; one pair per field."""
    merged: dict[str, list[str]] = {}
    errors = err.errors()
    for e in errors:
        if _noise_literal(e, errors):
            continue
        # a field validator that refuses an absent value (validate_default) names a field the
        # input does not have, like a missing-field error: keep its name, it is no union tag
        absent_ok = e.get("type") == "missing" or "required" in str(e.get("msg", ""))
        field = _loc(e.get("loc", ()), data, missing=absent_ok)
        msg = e.get("msg", "invalid")
        ctx = e.get("ctx") or {}
        if e.get("type") == "union_tag_invalid":
            key = str(ctx.get("discriminator", "")).strip("'\"")
            if key.isidentifier():
                field = f"{field}.{key}" if field != "<root>" else key
            msg = f"unknown value {ctx.get('tag')!r} (allowed: {ctx.get('expected_tags')})"
        elif e.get("type") == "union_tag_not_found":
            key = str(ctx.get("discriminator", "")).strip("'\"")
            if key.isidentifier():
                field = f"{field}.{key}" if field != "<root>" else key
                msg = "missing (required to choose the kind)"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, "):]
        if e.get("type") == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        elif e.get("type") != "missing":
            field = _field_from_message(field, msg, data, model)
        if "expected" in ctx and "allowed" not in msg:
            msg = f"{msg} (allowed: {ctx['expected']})"
        inp = e.get("input")
        if e.get("type") != "extra_forbidden" and not isinstance(inp, (dict, list)) and "got " not in msg:
            msg = f"{msg}; got {inp!r}"
        msg = _strip_field_echo(field, msg)
        if prefix:
            field = f"{prefix}.{field}" if field != "<root>" else prefix
        if msg not in merged.setdefault(field, []):
            merged[field].append(msg)
    # alternatives of one union (e.g. "a number" or "a mapping") are one problem of one field
    return [(f, " | or: ".join(ms)) for f, ms in merged.items()]


# ------------------------------------------------------------------ no silent coercion
def _members(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(tp):
            out.extend(_members(a))
        return out
    return [tp]


def _is_model(m: Any) -> bool:
    return isinstance(m, type) and issubclass(m, BaseModel)


def _takes_str(m: Any) -> bool:
    if m is str or m is Any or m is object:
        return True
    if isinstance(m, type) and issubclass(m, (str, os.PathLike, enum.Enum)):
        return True
    if typing.get_origin(m) is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(m))
    return isinstance(m, typing.TypeVar)


def _takes_bool(m: Any) -> bool:
    if m is bool or m is Any or m is object:
        return True
    if typing.get_origin(m) is typing.Literal:
        return any(isinstance(a, bool) for a in typing.get_args(m))
    return False


def _takes_number(m: Any) -> bool:
    if m is Any or m is object:
        return True
    if isinstance(m, type) and issubclass(m, (int, float)) and m is not bool:
        return True
    if typing.get_origin(m) is typing.Literal:
        return any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in typing.get_args(m))
    return False


def _numeric_only(ms: list[Any]) -> bool:
    return any(isinstance(m, type) and m in (int, float) for m in ms)


def _field_key(name: str, info: Any) -> str:
    return info.alias or name


def _check_value(value: Any, anns: list[Any], path: str, out: list[tuple[str, str]]) -> None:
    ms: list[Any] = []
    for a in anns:
        ms.extend(_members(a))
    if not ms or any(m is Any or m is object for m in ms):
        return
    if isinstance(value, bool):
        if not any(_takes_bool(m) for m in ms) and _numeric_only(ms):
            out.append((path, f"expected a number, got the boolean {value!r} (not coerced)"))
        return
    if isinstance(value, str):
        if not any(_takes_str(m) for m in ms) and (_numeric_only(ms) or bool in ms):
            what = "a number" if _numeric_only(ms) else "true or false"
            out.append((path, f"expected {what}, got the string {value!r} (quoted values are text; "
                              "not coerced)"))
        return
    if isinstance(value, (int, float)):
        if bool in ms and not any(_takes_number(m) for m in ms):
            out.append((path, f"expected true or false, got the number {value!r} (not coerced)"))
        return
    if isinstance(value, dict):
        models = [m for m in ms if _is_model(m)]
        dicts = [m for m in ms if typing.get_origin(m) in (dict, typing.Mapping) and len(typing.get_args(m)) == 2]
        keys = {str(k) for k in value}
        cands = [m for m in models
                 if keys <= {_field_key(n, f) for n, f in m.model_fields.items()}]
        if not cands and not dicts:
            return
        for k, v in value.items():
            if not isinstance(k, str):
                continue
            sub: list[Any] = []
            for m in cands:
                for n, f in m.model_fields.items():
                    if _field_key(n, f) == k:
                        sub.append(f.annotation)
            sub.extend(typing.get_args(d)[1] for d in dicts)
            _check_value(v, sub, f"{path}.{k}" if path else k, out)
        return
    if isinstance(value, (list, tuple)):
        elems: list[Any] = []
        for m in ms:
            if typing.get_origin(m) in (list, tuple, set, frozenset, typing.Sequence):
                elems.extend(a for a in typing.get_args(m) if a is not Ellipsis)
        if elems:
            for i, v in enumerate(value):
                _check_value(v, elems, f"{path}[{i}]", out)


def coercion_problems(model: type[BaseModel], data: Any) -> list[tuple[str, str]]:
    """Fields of ``data`` that pydantic's lax mode would silently coerce into ``model``.

    Strings and booleans where only numbers are allowed, and numbers or strings where only
    booleans are allowed; ints where floats are expected are fine.

    Examples
    --------
    >>> class D(StrictModel):
    ...     n: int
    ...     flag: bool = False
    >>> coercion_problems(D, {"n": "60", "flag": 1})[0][0]
    'n'
    """
    out: list[tuple[str, str]] = []
    _check_value(data, [model], "", out)
    return out


def validate_config(
    model: type[M], data: Any, *, source: str = "config", prefix: str = ""
) -> M:
    """Validate ``data`` into ``model`` or raise :class:`ConfigError` naming each field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at top level, got {type(data).__name__}",
                          [(prefix or "<root>", "not a mapping")])
    errors = coercion_problems(model, data)
    if prefix:
        errors = [(f"{prefix}.{f}", m) for f, m in errors]
    try:
        obj = model.model_validate(data)
    except ValidationError as err:
        seen = {f for f, _ in errors}

        def related(f: str) -> bool:
            return any(f == g or g.startswith(f + ".") or g.startswith(f + "[") or f.startswith(g + ".")
                       for g in seen)

        errors += [(f, m) for f, m in format_validation_error(err, prefix=prefix, data=data, model=model)
                   if not related(f)]
        obj = None
    if errors:
        lines = "\n".join(f"  - {f}: {m}" for f, m in errors)
        raise ConfigError(f"{source}: invalid configuration\n{lines}", errors)
    return obj  # type: ignore[return-value]


# ------------------------------------------------------------------------------- YAML
class _ConfigLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys (YAML would keep the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """Number of values ``node`` stands for once aliases are expanded (stops past ``limit``)."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        k = id(n)
        if k in memo:
            return memo[k]
        if depth > 200:
            raise RecursionError
        memo[k] = limit + 1  # a cycle (recursive alias) counts as too big
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(a, depth + 1) + size(b, depth + 1) for a, b in n.value)
        else:
            total = 1
        memo[k] = min(total, limit + 1)
        return memo[k]

    return size(node, 0)


def parse_yaml(text: str, *, source: str = "config", max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML text safely: no duplicate keys, at most ``max_nodes`` values after aliases.

    Raises
    ------
    ConfigError
        Invalid YAML (with line), a duplicate key (key and both lines), or an expansion
        beyond ``max_nodes`` values (checked before any Python object is built).

    Examples
    --------
    >>> parse_yaml("a: 1\\nb: [1, 2]")
    {'a': 1, 'b': [1, 2]}
    >>> try:
    ...     parse_yaml("a: 1\\na: 2")
    ... except ConfigError as exc:
    ...     print(exc.errors)
    [('a', 'duplicate key (lines 1 and 2)')]
    """
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            n = _expanded_size(node, max_nodes)
        except RecursionError:
            n = max_nodes + 1
        if n > max_nodes:
            raise ConfigError(
                f"{source}: YAML expands to more than {max_nodes:,} values (anchors/aliases "
                "nested too deeply or recursive); refused before building it",
                [("<yaml>", f"more than {max_nodes:,} values after expanding aliases")])
        return loader.construct_document(node)
    except _DuplicateKey as d:
        raise ConfigError(
            f"{source}: line {d.line}: duplicate key {d.key!r} (first at line {d.first}); YAML would keep "
            "only the last value: remove one",
            [(str(d.key), f"duplicate key (lines {d.first} and {d.line})")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", [("<yaml>", "invalid YAML")]) from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply", [("<yaml>", "nested too deeply")]) from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike, *, max_nodes: int = MAX_YAML_NODES) -> tuple[dict[str, Any], str]:
    """Read a YAML config with the safe loader; return (mapping, exact text).

    Refuses (:class:`ConfigError`) a missing or unreadable file, text that is not UTF-8,
    invalid YAML, duplicate keys, alias expansion beyond ``max_nodes`` values and a top level
    that is not a mapping.
    """
    p = Path(path)
    if str(path) == "" or not p.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}", [("config", "file not found")])
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{p}: {size:,} bytes; a config is at most {MAX_CONFIG_BYTES:,} bytes",
                              [("config", "file too large")])
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})", [("config", "unreadable")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}); save the "
                          "config as UTF-8", [("config", "not UTF-8")]) from None
    data = parse_yaml(text, source=str(p), max_nodes=max_nodes)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at top level, got {type(data).__name__}",
                          [("config", "not a mapping")])
    return data, text


# ------------------------------------------------------------------------ output folders
def check_out_dir(out: str | os.PathLike | None, *, field: str = "--out") -> Path:
    """Refuse an output folder that cannot be used, before any work; return it as a Path.

    Refused (:class:`ConfigError` naming ``field``): an empty path (it would write into the
    working directory), an existing file, a path below a file, and a folder (or, if it does
    not exist yet, its nearest existing parent) where a probe file cannot be created. Nothing
    is created or left behind.

    Examples
    --------
    >>> try:
    ...     check_out_dir("")
    ... except ConfigError as exc:
    ...     print(exc.errors[0][0])
    --out
    """
    import tempfile

    text = "" if out is None else os.fspath(out)
    if not text.strip():
        raise ConfigError(f"{field}: empty path (give a folder name; '.' for the working directory)",
                          [(field, "empty path")])
    p = Path(text).absolute()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{field}: {p} exists and is not a folder", [(field, "exists and is not a folder")])
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{field}: cannot create {p}: {probe} is not a folder",
                          [(field, "parent is not a folder")])
    try:
        fd, name = tempfile.mkstemp(prefix=".msbayes-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(f"{field}: {p} is not writable ({exc.strerror or exc})",
                          [(field, "not writable")]) from None
    return p
