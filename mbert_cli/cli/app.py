"""Root of the `mbert` Typer app: wires one module per command group, nothing else."""

from __future__ import annotations

import typer

from mbert_cli.cli import (
    bench,
    config,
    data,
    demo,
    devices,
    evaluate,
    export,
    import_cmd,
    predict,
    presets,
    train,
    version,
)
from mbert_cli.cli.common import set_debug

app = typer.Typer(
    name="mbert",
    help="MobileBERT from training to a phone: train, export (TFLite), benchmark (host or adb).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """MobileBERT from training to a phone."""
    set_debug(debug)


for module in (presets, config, version, data, train, export, bench, evaluate, devices, demo, import_cmd, predict):
    module.register(app)


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
