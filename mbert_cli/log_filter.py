"""A filter on file descriptor 2 that drops known-harmless native log lines and passes the rest.

TensorFlow, XLA, the TFLite converter and LiteRT log from C++ straight to fd 2, some of it
past TF_CPP_MIN_LOG_LEVEL (absl logging, printf). Python's `sys.stderr` cannot see those
writes, so fd 2 is pointed at a pipe whose reader thread forwards every line to the real
stderr except the ones `is_noise` names. Unknown lines always pass: the filter only removes
what is known to say nothing is wrong.
"""

from __future__ import annotations

import atexit
import os
import re
import select
import sys
import threading
from pathlib import Path

# absl-format lines (I0000 00:00:1700000000.123 1234 file.cc:12] ...) and TF-format lines
# (2026-01-01 10:00:00.123: W tensorflow/...] ...) at INFO or WARNING level.
_ABSL_INFO_WARN = re.compile(rb"^[IW]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] ")
_TF_INFO_WARN = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\] ")
_CUINIT = re.compile(rb"cuda_platform\.cc:\d+\] failed call to cuInit")
_EXACT_NOISE = (
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),  # LiteRT's own INFO
    re.compile(rb"^INFO: Initialized TensorFlow Lite runtime\.$"),
    # the TFLite calibrator's printf of its settings, once per quantized file
    re.compile(rb"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$"),
)


def nvidia_driver_present() -> bool:
    """True when an NVIDIA kernel driver is loaded: then a failed cuInit is a real problem."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


def is_noise(line: bytes, gpu_driver: bool) -> bool:
    """True for a native log line known to be harmless (`line` without its newline)."""
    line = line.rstrip(b"\r")
    if _ABSL_INFO_WARN.match(line) or _TF_INFO_WARN.match(line):
        return True
    if any(p.match(line) for p in _EXACT_NOISE):
        return True
    # On a machine without an NVIDIA driver, cuInit failing is the expected answer.
    return not gpu_driver and bool(_CUINIT.search(line))


class _Filter:
    def __init__(self) -> None:
        self.gpu_driver = nvidia_driver_present()
        self.saved = os.dup(2)
        read_end, write_end = os.pipe()
        self.pipe_inode = os.fstat(write_end).st_ino
        sys.stderr.flush()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.read_end = read_end
        self.thread = threading.Thread(target=self._pump, name="mbert-stderr-filter", daemon=True)
        self.thread.start()

    def attached(self) -> bool:
        try:
            return os.fstat(2).st_ino == self.pipe_inode
        except OSError:
            return False

    def _emit(self, data: bytes) -> None:
        try:
            os.write(self.saved, data)
        except OSError:
            pass  # the real stderr is gone (closed terminal); keep draining so writers never block

    def _pump(self) -> None:
        pending = b""
        while True:
            # A partial line (a prompt, a progress write) is passed on after 0.2 s of quiet.
            ready, _, _ = select.select([self.read_end], [], [], 0.2 if pending else None)
            if not ready:
                self._emit(pending)
                pending = b""
                continue
            try:
                chunk = os.read(self.read_end, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line, self.gpu_driver))
            if kept:
                self._emit(kept)
        if pending and not is_noise(pending, self.gpu_driver):
            self._emit(pending)
        os.close(self.read_end)
        os.close(self.saved)

    def close(self) -> None:
        """Points fd 2 back at the real stderr and lets the reader drain what is left."""
        if not self.attached():
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.saved, 2)  # closes our write end; children that kept one delay EOF, hence the timeout
        self.thread.join(timeout=2.0)


_active: list[_Filter] = []


def install_stderr_filter() -> None:
    """Installs the filter once per process (again if someone re-pointed fd 2, e.g. pytest's capture)."""
    if _active and _active[-1].attached():
        return
    try:
        filt = _Filter()
    except OSError:
        return  # no fd 2 to filter (daemonised): nothing to keep quiet
    if not _active:
        atexit.register(_close_all)
    _active.append(filt)


def _close_all() -> None:
    for filt in reversed(_active):
        filt.close()
