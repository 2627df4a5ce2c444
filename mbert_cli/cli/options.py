"""The choices and options several commands share: one spelling for one idea across the CLI.

Choices are `str` Enums so `--help` lists them and a wrong value fails while the arguments are
parsed, before TensorFlow loads. Folder arguments accept a run folder or one of its stage
folders alike (`stage_folder`, `run_folder`), so `--init`, `--teacher` and `--distill-from`
read the same way.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.errors import MbertError


class Task(StrEnum):
    classification = "classification"
    squad = "squad"


class Strategy(StrEnum):
    progressive = "progressive"
    joint = "joint"
    auxiliary = "auxiliary"


class Distribution(StrEnum):
    default = "default"
    mirrored = "mirrored"
    multiworker = "multiworker"
    tpu = "tpu"


class ImportFormat(StrEnum):
    auto = "auto"
    hf = "hf"
    tf1 = "tf1"
    tf2 = "tf2"


class Which(StrEnum):
    latest = "latest"
    best = "best"


class Delegate(StrEnum):
    cpu = "cpu"
    xnnpack = "xnnpack"
    gpu = "gpu"
    nnapi = "nnapi"


class DemoTeacher(StrEnum):
    minilm = "minilm"
    nano = "nano"


RunOpt = Annotated[Path, typer.Option("--run", metavar="DIR", help="Run folder (runs/NAME); rerun the same command "
                                                                    "to resume.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", metavar="FILE", help="YAML config applied over the preset.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                  help="Override a config key, e.g. --set train.steps=50 (repeatable).")]
DistOpt = Annotated[Distribution, typer.Option("--distribution", case_sensitive=False,
                                               help="How to spread training: one device, all local GPUs, several "
                                                    "machines (reads TF_CONFIG) or a TPU.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show the progress bar / lines.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
FromOpt = Annotated[str | None, typer.Option(
    "--from", metavar="STAGE", help="Stage: teacher, student, finetune-classification or finetune-squad. "
                                    "Default: the most finished stage with a checkpoint.", show_default=False)]


def existing(path: Path, what: str, hint: str) -> Path:
    """`path` when it exists; otherwise the one-line error, before any heavy import."""
    if not path.exists():
        raise MbertError(f"{what} {path} does not exist", hint=hint)
    return path


def is_stage_folder(path: Path) -> bool:
    """A stage folder holds checkpoints/ and sits in a run folder (one with config.yaml)."""
    return (path / "checkpoints").is_dir() and (path.parent / "config.yaml").is_file()


def run_folder(path: Path, option: str) -> Path:
    """A run folder from a run folder or one of its stage folders (runs/NAME or runs/NAME/teacher)."""
    existing(path, f"{option}", hint=f"{option} takes a run folder (runs/NAME) or one of its stages (runs/NAME/teacher)")
    return path.parent if is_stage_folder(path) and not (path / "config.yaml").is_file() else path


def stage_folder(path: Path, option: str, prefer: tuple[str, ...] = ("student", "teacher")) -> Path:
    """A stage folder from a stage folder or a run folder (then its first of `prefer` that has checkpoints)."""
    existing(path, f"{option}", hint=f"{option} takes a stage folder (runs/NAME/student) or a run folder (runs/NAME)")
    if is_stage_folder(path) or not (path / "config.yaml").is_file():
        return path
    for name in prefer:
        if (path / name / "checkpoints").is_dir():
            return path / name
    raise MbertError(f"{option} {path} has no {' or '.join(prefer)} stage with checkpoints",
                     hint=f"train or import one first, or pass the stage folder itself ({path}/<stage>)")
