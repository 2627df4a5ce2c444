"""`mbert train teacher|student|finetune`: placeholder until the training issue lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder

train_app = typer.Typer(help="Train the IB-BERT teacher, distill the MobileBERT student, fine-tune on a task.",
                        no_args_is_help=True)

register_placeholder(train_app, "teacher", "Pre-train the IB-BERT teacher with MLM + NSP.")
register_placeholder(train_app, "student", "Distill the MobileBERT student from a teacher run.")
register_placeholder(train_app, "finetune", "Fine-tune a student or teacher on a task.")


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
