"""Root of the `mbert` Typer app: wires one module per command group, nothing else."""

from __future__ import annotations

import atexit
import os
import sys

import typer

from mbert_cli.cli import bench, config, data, demo, devices, evaluate, export, import_cmd, presets, train, version
from mbert_cli.cli.common import set_debug
from mbert_cli.interrupts import STOP_SIGNALS

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


for module in (presets, config, version, data, train, export, bench, evaluate, devices, demo, import_cmd):
    module.register(app)


def run() -> None:
    """Console-script entry point. A command stopped by Ctrl-C/SIGTERM leaves at once (`exit_now`)."""
    try:
        app()
    except SystemExit as done:
        if done.code in {128 + int(s) for s in STOP_SIGNALS}:
            exit_now(int(done.code))
        raise


def exit_now(code: int) -> None:
    """Ends the process without the interpreter's teardown: atexit handlers run, streams are flushed.

    A stopped command has saved its checkpoint and printed its line; what is left is Python's
    final garbage collection over every TensorFlow object of the run (graphs, traced
    functions, datasets), which on a loaded machine kept a stopped fine-tune alive for minutes
    with its threads idle on a futex, past a scheduler's grace period.
    """
    atexit._run_exitfuncs()  # noqa: SLF001 (the handlers registered to run at exit still run)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
