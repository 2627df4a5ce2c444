"""`mbert eval`: held-out metrics of a trained stage as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import handles_errors


@handles_errors
def eval_cmd(
    run: Annotated[Path, typer.Option("--run", help="Run folder (runs/NAME).")],
    stage: Annotated[str | None, typer.Option(
        "--stage", help="teacher | student | finetune-classification | finetune-squad "
                        "(default: the last one trained).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="classification | squad: shorthand for "
                                                            "--stage finetune-<task>.")] = None,
    which: Annotated[str, typer.Option("--which", help="latest | best checkpoint.")] = "latest",
    data: Annotated[str | None, typer.Option("--data", help="Task data to evaluate on (default: the run's).")]
    = None,
    max_batches: Annotated[int, typer.Option("--max-batches", help="Stop after N batches (0 = all).")] = 0,
) -> None:
    """Evaluate a checkpoint on held-out data: accuracy, EM/F1, or MLM accuracy + perplexity, as JSON."""
    from mbert_cli.cli.common import quiet_tensorflow  # noqa: PLC0415

    quiet_tensorflow()
    from mbert_cli.training.evaluate import evaluate_run  # noqa: PLC0415

    if task and not stage:
        stage = f"finetune-{task}"
    result = evaluate_run(run, stage, which=which, data=data, max_batches=max_batches)
    print(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
