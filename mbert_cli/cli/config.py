"""`mbert config --show`: every setting of a resolved config with its value and valid range (no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.config import resolve_config
from mbert_cli.config.fields import describe_settings


@handles_errors
def config_cmd(
    show: Annotated[bool, typer.Option("--show", hidden=True, help="Accepted for older scripts; printing the "
                                                                   "settings is what this command does.")] = True,
    preset: Annotated[str, typer.Option("--preset", help="Preset to start from (see `mbert presets`).")]
    = "nano-student",
    config: Annotated[Path | None, typer.Option("--config", help="YAML config applied over the preset.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a key, e.g. --set train.steps=50 "
                                                                      "(repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the settings a preset (+ --config, --set) resolves to, each with its valid range; bad values fail here."""
    rows = describe_settings(resolve_config(preset, config, list(overrides or [])))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"mbert settings ({preset}); change any with --set KEY=VALUE or --config FILE")
    for col in ("key", "type", "value", "valid"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["key"], r["type"], json.dumps(r["value"]), r["range"])
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("config")(config_cmd)
