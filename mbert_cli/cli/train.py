"""`mbert train teacher|student|finetune`: thin wrappers over `mbert_cli.training`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import MbertTyper, console, handles_errors
from mbert_cli.cli.options import (
    ConfigOpt,
    DistOpt,
    Distribution,
    ProgressOpt,
    RunOpt,
    SetOpt,
    Strategy,
    Task,
    run_folder,
    stage_folder,
)
from mbert_cli.config import resolve_config
from mbert_cli.training.finetune_options import check_options

train_app = MbertTyper(help="Train the IB-BERT teacher, distill the MobileBERT student, fine-tune on a task.")


def _say(text: str) -> None:
    console().print(text, markup=False, highlight=False)


def _summary(result: dict) -> None:
    console().print_json(json.dumps(result))


@train_app.command("teacher")
@handles_errors
def teacher_cmd(
    run: RunOpt,
    preset: Annotated[str, typer.Option("--preset", help="ib-bert-large | nano-teacher (any preset trains from "
                                                         "scratch with MLM + NSP).")] = "nano-teacher",
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    distribution: DistOpt = Distribution.default,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps (overrides train.steps).")] = None,
    progress: ProgressOpt = True,
) -> None:
    """Pre-train the IB-BERT teacher with MLM + NSP (LAMB, warm-up + decay, clipping)."""
    from mbert_cli.training.teacher import train_teacher  # noqa: PLC0415

    sets = list(overrides or []) + ([f"train.steps={steps}"] if steps is not None else [])
    cfg = resolve_config(preset, config, sets)
    _summary(train_teacher(run, cfg, distribution=distribution.value, progress=progress, say=_say))


@train_app.command("student")
@handles_errors
def student_cmd(
    run: RunOpt,
    teacher: Annotated[Path, typer.Option("--teacher", metavar="DIR",
                                          help="The teacher's run folder (runs/NAME) or its stage folder.")],
    preset: Annotated[str, typer.Option("--preset", help="mobilebert | mobilebert-tiny | nano-student | "
                                                         "minilm-student (for an imported MiniLM teacher).")]
    = "nano-student",
    strategy: Annotated[Strategy | None, typer.Option(
        "--strategy", case_sensitive=False,
        help="Distillation schedule: one layer at a time (progressive, the default), all layers together (joint), "
             "or transfer losses added to pre-training (auxiliary).", show_default=False)] = None,
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    distribution: DistOpt = Distribution.default,
    progress: ProgressOpt = True,
) -> None:
    """Distill the MobileBERT student: layer-wise transfer, then pre-training distillation."""
    from mbert_cli.training.student import train_student  # noqa: PLC0415

    teacher = run_folder(teacher, "--teacher")
    sets = list(overrides or []) + ([f"distill.strategy={strategy.value}"] if strategy else [])
    cfg = resolve_config(preset, config, sets)
    _summary(train_student(run, cfg, teacher, distribution=distribution.value, progress=progress, say=_say))


@train_app.command("finetune")
@handles_errors
def finetune_cmd(
    init: Annotated[Path, typer.Option("--init", metavar="DIR",
                                       help="Pre-trained stage to start from: runs/NAME/student or runs/NAME/teacher "
                                            "(a run folder picks its student, else its teacher).")],
    task: Annotated[Task, typer.Option("--task", case_sensitive=False, help="The task head to train.")]
    = Task.classification,
    run: Annotated[Path | None, typer.Option("--run", help="Run folder to write finetune-<task>/ into "
                                                           "(default: the --init run).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Task data: 'shipped', a CSV/TSV (classification) or "
                                                            "SQuAD JSON. Default: data.task_data.")] = None,
    distill_from: Annotated[Path | None, typer.Option("--distill-from", metavar="DIR",
                                                      help="A run with a fine-tuned model of the same task to "
                                                           "distill from (classification).")] = None,
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    distribution: DistOpt = Distribution.default,
    progress: ProgressOpt = True,
) -> None:
    """Fine-tune a student or teacher on a task with AdamW (optionally with task distillation)."""
    check_options(task.value, init, distill_from)  # option combinations first, then the folders they name
    init = stage_folder(init, "--init")
    if distill_from is not None:
        distill_from = run_folder(distill_from, "--distill-from")
    from mbert_cli.training.finetune import train_finetune  # noqa: PLC0415
    from mbert_cli.training.finetune_base import finetune_run_config  # noqa: PLC0415

    run, cfg = finetune_run_config(init, run, config, overrides or [])
    _summary(train_finetune(run, cfg, init, task.value, data=data, distill_from=distill_from,
                            distribution=distribution.value, progress=progress, say=_say))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
