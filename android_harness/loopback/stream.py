"""One adb stream (OPEN ... CLSE) on a loopback connection, with flow control.

Incoming WRTE payloads are buffered for the service thread to read; outgoing data is
sent one WRTE at a time, the next only after the client's OKAY, as adb requires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from android_harness.loopback.protocol import A_CLSE, A_WRTE, Message


class StreamClosed(Exception):  # noqa: N818 - a normal end of stream, not an error
    """The client closed the stream or the connection dropped."""


class Stream:
    """Byte pipe between a device service thread and the client's end of a stream."""

    def __init__(self, local_id: int, remote_id: int, send: Callable[[Message], None],
                 max_payload: int):
        self.local_id = local_id
        self.remote_id = remote_id
        self._send = send
        self._max_payload = max_payload
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._closed = False
        self._write_ok = threading.Event()
        self._write_ok.set()
        self._write_lock = threading.Lock()

    # Called by the connection's reader thread.
    def feed(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self._cond.notify_all()

    def okay(self) -> None:
        self._write_ok.set()

    def remote_close(self) -> None:
        """The client sent CLSE, or the connection is gone: wake everyone up."""
        with self._cond:
            self._eof = True
            self._closed = True
            self._cond.notify_all()
        self._write_ok.set()

    @property
    def closed(self) -> bool:
        return self._closed

    # Called by the service thread.
    def read_exact(self, n: int) -> bytes:
        """Returns exactly n bytes; raises StreamClosed if the client ends first."""
        with self._cond:
            while len(self._buf) < n and not self._eof:
                self._cond.wait(0.5)
            if len(self._buf) < n:
                raise StreamClosed()
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out

    def write(self, data: bytes) -> None:
        """Sends data in WRTE messages, each after the previous one was acknowledged."""
        with self._write_lock:
            for start in range(0, len(data), self._max_payload):
                while not self._write_ok.wait(0.5):
                    pass
                if self._closed:
                    raise StreamClosed()
                self._write_ok.clear()
                self._send(Message(A_WRTE, self.local_id, self.remote_id,
                                   data[start:start + self._max_payload]))

    def close(self) -> None:
        """Closes our end (CLSE) unless the client already did."""
        with self._write_lock:
            # Let the last WRTE be acknowledged first so the client sees all data.
            self._write_ok.wait(5)
            if not self._closed:
                self._closed = True
                self._send(Message(A_CLSE, self.local_id, self.remote_id))
        self.remote_close()
