"""`mbert data`: placeholder until the data pipeline lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder

data_app = typer.Typer(help="Prepare pre-training and task data (tokenize, mask, write TFRecords).",
                       no_args_is_help=True)
register_placeholder(data_app, "prepare", "Tokenize a corpus into MLM+NSP TFRecords and print statistics.")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
