"""Shared CLI plumbing: the console, `--debug`, and turning MbertError into two lines.

Every command is wrapped by `handles_errors` so a known problem prints
`Error: <message>` / `Hint: <fix>` and exits non-zero without a traceback, unless the
user asked for `--debug` (or set MBERT_DEBUG=1).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, get_args

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from mbert_cli.errors import MbertError
from mbert_cli.interrupts import StopRequested, catching_stop_signals
from mbert_cli.log_filter import install_stderr_filter

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": os.environ.get("MBERT_DEBUG", "") not in ("", "0")}


# Every command and group accepts -h as well as --help (inherited by the sub-commands' contexts).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _readable_metavars(params) -> None:
    """Names a user reads in place of Typer's Python types (`--json <bool>`, `--set <list[str]>`).

    Flags show nothing (they take no value), paths `PATH`, numbers `N` / `X`, other values the
    option's own name (`--seq-len SEQ_LEN`), arguments their name (`MODELS...`); choices keep
    Typer's `a|b|c` list. An explicit metavar is kept.
    """
    for p in params:
        if p.metavar is not None:
            continue
        desc = getattr(p, "type_descriptor", None)  # Typer's parameters; the help option has none
        annotation = desc.annotation if desc is not None else None
        if desc is not None and desc.is_list:
            annotation = get_args(annotation)[0]
        if p.param_type_name == "argument":
            _readable_argument(p)
        elif getattr(p, "is_flag", False) or getattr(p, "count", False):
            p.metavar = ""
        elif desc is None or desc.is_choice:
            continue
        elif desc.is_path:
            p.metavar = "PATH"
        elif annotation is int:
            p.metavar = "N"
        elif annotation is float:
            p.metavar = "X"
        else:
            p.metavar = max(p.opts, key=len).lstrip("-").upper().replace("-", "_")


def _readable_argument(arg) -> None:
    """`MODEL...` for a list argument and `SOURCE` for one, in the usage line and the help table,
    without Typer's `{models}...` braces and `<list[Path]>` type (set on the instance: Typer has
    no option for it)."""
    many = arg.nargs != 1
    name = arg.name.upper()
    arg.metavar = name[:-1] if many and name.endswith("S") else name
    usage = arg.metavar + ("..." if many else "")
    arg._usage_display_name = lambda: usage if arg.required else f"[{usage}]"  # noqa: SLF001 - no public hook
    arg._rich_display_name = lambda: usage  # noqa: SLF001
    arg.display_type_rich = lambda ctx: None


class MbertCommand(TyperCommand):
    """A Typer command whose help shows readable metavars (its --help option included)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable_metavars(params)
        return params


class MbertGroup(TyperGroup):
    """The same for command groups (the root app, `train`, `data`)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable_metavars(params)
        return params


class MbertTyper(typer.Typer):
    """typer.Typer whose groups and commands are MbertGroup / MbertCommand, with -h for help."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", MbertGroup)
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("cls", MbertCommand)
        return super().command(*args, **kwargs)


def set_debug(enabled: bool) -> None:
    """Called by the root callback on every invocation: `--debug` or MBERT_DEBUG=1 (set, not
    accumulated, so one `--debug` call does not leak into the next in the same process)."""
    _state["debug"] = enabled or os.environ.get("MBERT_DEBUG", "") not in ("", "0")


def debug_enabled() -> bool:
    return _state["debug"]


def console():
    """The rich console for normal output (imported lazily: rich costs ~50 ms)."""
    # Piped output (CI logs, `| tee`) would otherwise be squeezed to 80 columns.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(soft_wrap=True, width=width)


def error_console():
    return Console(stderr=True, soft_wrap=True, highlight=False)


def report_error(err: MbertError) -> None:
    """Prints the one-line error and its hint on stderr (no markup interpretation)."""
    out = error_console()
    out.print(f"Error: {err.message}", markup=False)
    if err.hint:
        out.print(f"Hint: {err.hint}", markup=False)


def handles_errors(fn: F) -> F:
    """Decorator for commands: MbertError -> message + exit code; Ctrl-C or SIGTERM -> clean stop.

    A stop prints one line (what was saved, how to resume) and exits 128 + the signal
    number: 130 for Ctrl-C, 143 for SIGTERM.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet_tensorflow()  # before any command imports TensorFlow or LiteRT
        try:
            with catching_stop_signals():
                return fn(*args, **kwargs)
        except MbertError as err:
            if debug_enabled():
                raise
            report_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt as stop:
            if debug_enabled():
                raise
            print(stop_message(stop), file=sys.stderr, flush=True)
            raise typer.Exit(stop.exit_code if isinstance(stop, StopRequested) else 130) from None

    return wrapper  # type: ignore[return-value]


def stop_message(stop: KeyboardInterrupt) -> str:
    """The one line a stopped command prints: which signal, what was saved, how to resume."""
    term = isinstance(stop, StopRequested) and stop.signum == signal.SIGTERM
    what = "Terminated (SIGTERM)" if term else "Interrupted"
    detail = getattr(stop, "detail", "")
    saved = f" {detail[:1].upper()}{detail[1:]}." if detail else ""
    return f"{what}: stopped cleanly; rerun the same command to resume.{saved}"


def quiet_tensorflow() -> None:
    """Keeps TensorFlow's and LiteRT's start-up chatter off the terminal; real errors still show.

    `handles_errors` calls it once, before any command runs (commands import TensorFlow
    inside their bodies); a script that is not an mbert command calls it before its imports. TF_CPP_MIN_LOG_LEVEL=2 drops TensorFlow's own INFO/WARNING lines, but not what
    bypasses it: the `E ... cuda_platform.cc] failed call to cuInit` line every CPU-only machine
    prints, and the TFLite converter's absl `I0000`/`W0000` lines. Those are dropped by a filter
    on file descriptor 2 (C++ writes there directly), by pattern, so any other line, every
    `E`/`F` line and every Python traceback passes. With `--debug` nothing is filtered and
    TensorFlow logs everything.
    """
    if debug_enabled():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="Input dict contained keys")
    install_stderr_filter()

