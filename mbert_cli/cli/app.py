"""Root of the `mbert` Typer app: wires one module per command group, and the entry point."""

from __future__ import annotations

import atexit
import os
import sys

import typer
from typer import Abort
from typer._click import exceptions as click  # the click Typer vendors: its exceptions are the ones raised

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
from mbert_cli.cli.common import MbertTyper, set_debug
from mbert_cli.interrupts import STOP_SIGNALS

# Exit code of a usage error (unknown option, missing or invalid argument), as click's.
USAGE_ERROR = 2

app = MbertTyper(
    name="mbert",
    help="MobileBERT from training to a phone: train, export (TFLite), benchmark (host or adb).",
    add_completion=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors "
                                                      "(accepted anywhere on the line; or MBERT_DEBUG=1)."),
) -> None:
    """MobileBERT from training to a phone.

    Exit codes: 0 success; 1 bad input or a failed check; 2 usage error; 3 partial failure
    (bench); 130 / 143 stopped by Ctrl-C / SIGTERM (rerun the same command to resume).
    """
    set_debug(debug or os.environ.get("MBERT_DEBUG", "") not in ("", "0"))


for module in (presets, config, version, data, train, export, bench, evaluate, devices, demo, import_cmd, predict):
    module.register(app)


def take_debug_flag(args: list[str]) -> tuple[list[str], bool]:
    """Removes `--debug` wherever it stands before a `--` separator: `mbert bench x --debug` works
    like `mbert --debug bench x`."""
    cut = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:cut] if a != "--debug"]
    return head + args[cut:], len(head) != cut


def usage_error_lines(err: click.UsageError) -> tuple[str, str]:
    """The one-line error and its hint for a usage error (click prints a boxed panel instead)."""
    command = err.ctx.command_path if err.ctx is not None else "mbert"
    return f"Error: {err.format_message()}", f"Hint: see '{command} --help'"


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: `--debug` anywhere, usage errors as one line + hint (exit 2); a command
    stopped by Ctrl-C/SIGTERM leaves at once (`exit_now`)."""
    args, debug = take_debug_flag(list(sys.argv[1:] if argv is None else argv))
    if debug:
        os.environ["MBERT_DEBUG"] = "1"
    try:
        code = app(args=args, prog_name="mbert", standalone_mode=False)
    except click.NoArgsIsHelpError as err:
        print(err.format_message(), file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except click.UsageError as err:
        if debug:
            raise
        for line in usage_error_lines(err):
            print(line, file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except click.ClickException as err:
        print(f"Error: {err.format_message()}", file=sys.stderr)
        sys.exit(err.exit_code)
    except Abort:
        sys.exit(1)
    code = code if isinstance(code, int) else 0
    if code in {128 + int(s) for s in STOP_SIGNALS}:
        exit_now(code)
    sys.exit(code)


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
