"""`mbert demo`: placeholder until its issue lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder


def register(app: typer.Typer) -> None:
    register_placeholder(app, "demo", "Run the whole chain on the shipped data: train, distill, fine-tune, export, bench.")
