"""The option checks of `mbert train finetune`, TensorFlow-free so a bad combination fails at once."""

from __future__ import annotations

from pathlib import Path

from mbert_cli.errors import MbertError

TASKS = ("classification", "squad")


def check_options(task: str, init: str | Path | None, distill_from: str | Path | None) -> None:
    """Refuses option combinations a fine-tune cannot honour, before any data or model work."""
    if task not in TASKS:
        raise MbertError(f"unknown task {task!r}", hint=f"choose one of: {', '.join(TASKS)}")
    if task == "squad" and init is None:
        raise MbertError("SQuAD fine-tuning needs a pre-trained stage", hint="pass --init runs/NAME/student")
    if task == "squad" and distill_from is not None:
        raise MbertError("--distill-from works with --task classification only (SQuAD fine-tuning has no task "
                         "distillation)", hint="drop --distill-from, or fine-tune --task classification")
