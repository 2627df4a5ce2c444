"""`mbert bench`: placeholder until its issue lands."""

from __future__ import annotations

import typer

from mbert_cli.cli.common import register_placeholder


def register(app: typer.Typer) -> None:
    register_placeholder(app, "bench", "Benchmark .tflite models on the host (LiteRT) or on phones over adb.")
