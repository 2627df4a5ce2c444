"""Ctrl-C and SIGTERM stop a command cleanly; in the training loop, at the next step boundary.

Cluster schedulers, spot machines and `docker stop` send SIGTERM and wait a grace period;
a person presses Ctrl-C. Both get the same handler: it records the signal and raises
`StopRequested` (a KeyboardInterrupt, so every `finally`/atomic write cleans up as for
Ctrl-C). Inside `deferring()` (the training step loop) the first signal only sets the flag:
the loop stops at its next step boundary, where the model, optimizer and step counter agree,
and saves a checkpoint there, so the rerun resumes from that very step. A second signal
raises at once. The flag also covers a KeyboardInterrupt that Python swallowed because it
was raised inside a finaliser (a TensorFlow iterator's `__del__`).

The exit code is 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), as a shell
reports a process killed by it, so schedulers and scripts read it the usual way.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """A stop asked for by Ctrl-C or SIGTERM.

    Attributes:
        signum: the signal.
        at_boundary: raised by `check()` between training steps (the state is consistent
            and may be checkpointed), not in the middle of some other code.
        detail: what was saved on the way out (set by the training loop), for the message.
    """

    def __init__(self, signum: int, at_boundary: bool = False):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.at_boundary = at_boundary
        self.detail = ""

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


_requested: int | None = None
_deferring = 0
_installed: tuple = ()  # the signals `catching_stop_signals` handles now


def _on_signal(signum, frame) -> None:
    global _requested
    first = _requested is None
    _requested = signum
    if _deferring and first:
        return  # the step loop stops at its next step boundary and saves there
    raise StopRequested(signum)


def requested() -> int | None:
    """The stop signal received during this command, if any (readable from any thread)."""
    return _requested


def check() -> None:
    """Raises StopRequested if a stop was asked for, even if its first raise was swallowed."""
    if _requested is not None:
        raise StopRequested(_requested, at_boundary=True)


def deferring(active: bool) -> None:
    """Enters (True) or leaves (False) a region where the first stop signal only sets the flag.

    The training loop enters it around its steps and calls `check()` at each boundary.
    """
    global _deferring
    _deferring = max(0, _deferring + (1 if active else -1))


def rearm() -> None:
    """Installs the stop handler again for the signals this command catches (main thread only).

    TensorFlow's MultiWorkerMirroredStrategy replaces the process's SIGTERM handler in C++
    when it starts (its coordination service's preemption notifier, which records the signal
    and lets training run on); `signal.getsignal` still names ours, so only setting it again
    brings it back. mbert does its own agreement on the stop (`distribute.make_stop_vote`).
    """
    if threading.current_thread() is threading.main_thread():
        for sig in _installed:
            signal.signal(sig, _on_signal)


@contextmanager
def catching_stop_signals() -> Iterator[None]:
    """Installs the handler for SIGINT and SIGTERM for one command (main thread only), then restores the old ones.

    A signal the process was started with ignored (SIGINT under nohup or `cmd &`) stays ignored.
    """
    global _requested, _deferring, _installed
    _requested, _deferring = None, 0
    if threading.current_thread() is not threading.main_thread():
        yield  # not ours to handle: signals reach the main thread only
        return
    previous = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _on_signal)
    _installed = tuple(previous)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _requested, _deferring, _installed = None, 0, ()


# The name the Ctrl-C-only version had.
catching_ctrl_c = catching_stop_signals
