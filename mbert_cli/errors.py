"""The one error type every mbert package raises for a problem the user can fix.

The CLI turns it into `Error: <message>` and `Hint: <hint>` with exit code 1; any other
exception is a bug and gets a traceback (with `--debug`) instead.
"""

from __future__ import annotations


class MbertError(Exception):
    """A user-facing error: what went wrong and how to fix it, one line each."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def first_line(err: BaseException) -> str:
    """The first non-blank line of an exception's message, stripped, for a one-line error.

    Library errors (TensorFlow, LiteRT, safetensors) often carry a stack or a dump after the
    first line; an exception with an empty message gives its type name instead.
    """
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
