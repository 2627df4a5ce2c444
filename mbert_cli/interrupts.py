"""Ctrl-C that always stops a run: the SIGINT handler also leaves a flag the step loop checks.

Python turns SIGINT into KeyboardInterrupt in whatever Python code runs next on the main
thread. When that code is a finaliser (a TensorFlow iterator's or tensor's `__del__`),
Python prints "Exception ignored" and training goes on, so a Ctrl-C could be lost. The
flag lets the training loop stop at its next step anyway.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = False


def _on_sigint(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def check() -> None:
    """Raises KeyboardInterrupt if Ctrl-C was pressed, even if its first raise was swallowed."""
    if _requested:
        raise KeyboardInterrupt


@contextmanager
def catching_ctrl_c() -> Iterator[None]:
    """Installs the handler for the duration of a command (main thread only), then restores the old one."""
    global _requested
    _requested = False
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield  # not ours to handle: another thread, or started with Ctrl-C ignored (nohup, `cmd &`)
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested = False
