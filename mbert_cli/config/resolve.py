"""Builds the effective RunConfig (preset -> YAML -> --set) and reads/writes config.yaml."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mbert_cli.config.overrides import apply_mapping, apply_set, dump_yaml, load_yaml
from mbert_cli.config.presets import get_preset
from mbert_cli.config.run import RunConfig
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_write_text


def resolve_config(preset: str, config_file: str | Path | None = None,
                   overrides: Iterable[str] = ()) -> RunConfig:
    """Preset first, then a YAML file, then `--set` overrides; validated at the end."""
    return apply_overrides(get_preset(preset).run_config(), config_file, overrides)


def apply_overrides(config: RunConfig, config_file: str | Path | None = None,
                    overrides: Iterable[str] = ()) -> RunConfig:
    """A YAML file, then `--set` overrides, over `config` (changed in place); validated at the end."""
    if config_file:
        data = load_yaml(config_file)
        data.pop("preset", None)
        apply_mapping(config, data)
    for item in overrides:
        apply_set(config, item)
    config.validate()
    return config


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Rebuilds a RunConfig from a saved mapping (strict: unknown keys are errors)."""
    preset = data.get("preset")
    config = get_preset(preset).run_config() if preset else RunConfig()
    apply_mapping(config, data)
    return config


def save_run_config(config: RunConfig, path: str | Path) -> None:
    """Writes config.yaml atomically."""
    atomic_write_text(path, dump_yaml(dataclasses.asdict(config)))


def load_run_config(path: str | Path) -> RunConfig:
    """Reads a run's config.yaml; a config that cannot be rebuilt is one clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise MbertError(f"no config.yaml in {path.parent}",
                         hint="point --run at a folder made by `mbert train`")
    try:
        config = config_from_dict(load_yaml(path))
        config.validate()
    except MbertError as err:
        raise MbertError(f"cannot rebuild the run from {path}: {err.message}",
                         hint="the run was made by another mbert version or edited by hand; start a new run") from None
    return config
