"""Typed dataclass configs, named presets, YAML files and `--set` overrides."""

from mbert_cli.config.data import DataConfig
from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.config.export import ExportConfig
from mbert_cli.config.presets import PRESETS, Preset, get_preset
from mbert_cli.config.resolve import load_run_config, resolve_config, save_run_config
from mbert_cli.config.run import RunConfig
from mbert_cli.config.training import DistillConfig, FinetuneConfig, OptimizerConfig, TrainConfig

__all__ = [
    "DataConfig", "DistillConfig", "EncoderConfig", "ExportConfig", "FinetuneConfig",
    "OptimizerConfig", "PRESETS", "Preset", "RunConfig", "TrainConfig", "get_preset",
    "load_run_config", "resolve_config", "save_run_config",
]
