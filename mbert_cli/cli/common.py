"""Shared CLI plumbing: the console, `--debug`, and turning MbertError into two lines.

Every command is wrapped by `handles_errors` so a known problem prints
`Error: <message>` / `Hint: <fix>` and exits non-zero without a traceback, unless the
user asked for `--debug` (or set MBERT_DEBUG=1).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from mbert_cli.errors import MbertError
from mbert_cli.interrupts import catching_ctrl_c

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": os.environ.get("MBERT_DEBUG", "") not in ("", "0")}


def set_debug(enabled: bool) -> None:
    """Called by the root callback when `--debug` is given."""
    _state["debug"] = _state["debug"] or enabled


def debug_enabled() -> bool:
    return _state["debug"]


def console():
    """The rich console for normal output (imported lazily: rich costs ~50 ms)."""
    from rich.console import Console  # noqa: PLC0415

    # Piped output (CI logs, `| tee`) would otherwise be squeezed to 80 columns.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(soft_wrap=True, width=width)


def error_console():
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=True, soft_wrap=True, highlight=False)


def report_error(err: MbertError) -> None:
    """Prints the one-line error and its hint on stderr (no markup interpretation)."""
    out = error_console()
    out.print(f"Error: {err.message}", markup=False)
    if err.hint:
        out.print(f"Hint: {err.hint}", markup=False)


def handles_errors(fn: F) -> F:
    """Decorator for commands: MbertError -> message + exit code; Ctrl-C -> clean stop."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with catching_ctrl_c():
                return fn(*args, **kwargs)
        except MbertError as err:
            if debug_enabled():
                raise
            report_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            print("Interrupted: stopped cleanly; rerun the same command to resume.", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def quiet_tensorflow() -> None:
    """Keeps TensorFlow's C++ start-up chatter and a known harmless Keras warning off the terminal.

    Call it inside a command before TensorFlow is imported.
    """
    import warnings  # noqa: PLC0415

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="Input dict contained keys")
