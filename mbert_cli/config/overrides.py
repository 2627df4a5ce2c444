"""YAML files and `--set key=value` overrides onto dataclass configs, strictly typed.

Unknown keys are rejected with the list of valid ones: a typo in a hyper-parameter must
never be silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

from mbert_cli.errors import MbertError


def _field_types(obj: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(type(obj))
    return {f.name: hints[f.name] for f in dataclasses.fields(obj)}


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Converts a YAML/CLI value to the field's declared type or raises MbertError."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif origin in (typing.Union, types.UnionType):
        # `int | list[int] | str` (export.seq_len): the first member type the value fits.
        for member in typing.get_args(annotation):
            try:
                return _coerce(value, member, key)
            except MbertError:
                continue
    elif origin is list:
        (item_type,) = typing.get_args(annotation)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()] if value.strip() else []
        if isinstance(value, (list, tuple)):
            return [_coerce(v, item_type, key) for v in value]
    raise MbertError(f"config key {key!r} expects {getattr(annotation, '__name__', annotation)}, got {value!r}",
                     hint=f"fix the value of {key}")


def apply_mapping(config: Any, mapping: dict[str, Any], prefix: str = "") -> None:
    """Applies a nested dict (e.g. loaded YAML) onto a dataclass config, in place."""
    if not isinstance(mapping, dict):
        raise MbertError(f"config section {prefix or '<root>'!r} must be a mapping, got {type(mapping).__name__}",
                         hint="check the YAML indentation")
    types = _field_types(config)
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if key not in types:
            raise MbertError(f"unknown config key {full!r}",
                             hint=f"valid keys here: {', '.join(sorted(types))}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            apply_mapping(current, value, prefix=f"{full}.")
        else:
            setattr(config, key, _coerce(value, types[key], full))


def apply_set(config: Any, assignment: str) -> None:
    """Applies one `section.key=value` override."""
    if "=" not in assignment:
        raise MbertError(f"--set expects key=value, got {assignment!r}",
                         hint="for example --set train.steps=500")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    target = config
    for i, part in enumerate(parts[:-1]):
        sub = getattr(target, part, None) if part in _field_types(target) else None
        if not dataclasses.is_dataclass(sub):
            valid = [f for f, v in ((f.name, getattr(target, f.name)) for f in dataclasses.fields(target))
                     if dataclasses.is_dataclass(v)]
            raise MbertError(f"unknown config section {'.'.join(parts[:i + 1])!r}",
                             hint=f"valid sections: {', '.join(valid)}")
        target = sub
    leaf = parts[-1]
    types = _field_types(target)
    if leaf not in types or dataclasses.is_dataclass(getattr(target, leaf)):
        raise MbertError(f"unknown config key {key.strip()!r}",
                         hint=f"valid keys here: {', '.join(sorted(types))}")
    import yaml  # noqa: PLC0415  (parses "1e-3", "true", "[1, 2]" the way a YAML file would)

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if value is None:
        value = raw
    setattr(target, leaf, _coerce(value, types[leaf], key.strip()))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML config file; malformed YAML is one clear error."""
    import yaml  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise MbertError(f"config file {str(path)!r} does not exist", hint="check the path given to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise MbertError(f"malformed YAML in {path}{where}", hint="fix the YAML syntax (indentation, colons)") from None
    except UnicodeDecodeError:
        raise MbertError(f"{path} is not UTF-8 text", hint="save the config as UTF-8") from None
    return data or {}


def dump_yaml(data: dict[str, Any]) -> str:
    import yaml  # noqa: PLC0415

    return yaml.safe_dump(data, sort_keys=False)
