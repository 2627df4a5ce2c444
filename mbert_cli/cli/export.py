"""`mbert export`: placeholder until its issue lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder


def register(app: typer.Typer) -> None:
    register_placeholder(app, "export", "Export a trained run to verified TFLite flatbuffers (float32/dynamic/int8/float16).")
