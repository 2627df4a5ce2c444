"""`mbert eval`: held-out metrics of a trained stage as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mbert_cli.cli.common import handles_errors
from mbert_cli.cli.options import FromOpt, Task, Which, existing


@handles_errors
def eval_cmd(
    run: Annotated[Path, typer.Option("--run", metavar="DIR", help="Run folder (runs/NAME).")],
    stage: FromOpt = None,
    task: Annotated[Task | None, typer.Option("--task", case_sensitive=False,
                                              help="Shorthand for --from finetune-<task>.", show_default=False)]
    = None,
    which: Annotated[Which, typer.Option("--which", case_sensitive=False, help="Which checkpoint to evaluate.")]
    = Which.latest,
    data: Annotated[str | None, typer.Option("--data", help="Task data to evaluate on (default: the run's).")]
    = None,
    max_batches: Annotated[int, typer.Option("--max-batches", min=0, help="Stop after N batches (0 = all).")] = 0,
    old_stage: Annotated[str | None, typer.Option("--stage", hidden=True, help="Old spelling of --from.")] = None,
) -> None:
    """Evaluate a checkpoint on held-out data: accuracy, EM/F1, or MLM accuracy + perplexity, as JSON."""
    existing(run, "run folder", hint="pass the folder a train or import command wrote (runs/NAME)")
    from mbert_cli.training.evaluate import evaluate_run  # noqa: PLC0415

    stage = stage or old_stage or (f"finetune-{task.value}" if task else None)
    result = evaluate_run(run, stage, which=which.value, data=data, max_batches=max_batches)
    print(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
