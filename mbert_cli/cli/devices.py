"""`mbert devices`: placeholder until its issue lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder


def register(app: typer.Typer) -> None:
    register_placeholder(app, "devices", "List attached Android devices and their matching profiles.")
