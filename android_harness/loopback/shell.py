"""The `shell:` and `shell,v2:` services: run a command with the host's /bin/sh.

The command text is mapped from /data/local/tmp to the sandbox and handed to `sh -c`
unchanged, so quoting behaves exactly as on a phone: whatever the client quoted stays
one word, whatever it did not is interpreted. Output is mapped back to device paths.
Shell protocol v2 frames each chunk as [id u8][length u32 LE][data]; id 1 stdout,
2 stderr, 3 exit code (shell_protocol.h).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

from android_harness.loopback.stream import StreamClosed

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # holds android_harness/ and mbert_cli/
# The link drops this long after benchmark_model starts: at once, so that even a model that
# finishes in milliseconds is cut mid-run (a 1 s timer lost that race on a quiet machine).
DISCONNECT_AFTER_S = 0.0


def packet(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data


def kill(proc: subprocess.Popen) -> None:
    """Kills the command and its children (it runs in its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def parse_service(service: str) -> tuple[bool, str]:
    """'shell,v2,TERM=xterm,raw:CMD' -> (v2?, CMD)."""
    head, _, command = service.partition(":")
    args = head.split(",")[1:]
    return "v2" in args, command


def shell_env(device) -> dict[str, str]:
    env = {
        "PATH": f"{device.tools.bin}:/usr/bin:/bin",
        "HOME": str(device.shell_root),
        "LANG": "C.UTF-8",
        "MBERT_LOOPBACK_STATE": str(device.tools.state),
        "MBERT_LOOPBACK_PYTHON": sys.executable,
        "MBERT_LOOPBACK_FAULTS": ",".join(device.faults),
        "PYTHONPATH": str(PACKAGE_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env


def serve(conn, stream, service: str) -> None:
    """Runs one shell command and streams its output (and exit code for v2)."""
    device = conn.device
    v2, command = parse_service(service)
    if not command.strip():
        message = b"loopback device: interactive shells are not supported\n"
        stream.write(packet(ID_STDERR, message) + packet(ID_EXIT, b"\x01") if v2 else message)
        return
    proc = subprocess.Popen(
        ["/bin/sh", "-c", device.to_host(command)], cwd=device.shell_root, env=shell_env(device),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if v2 else subprocess.STDOUT, start_new_session=True)
    conn.processes.add(proc)
    # Only a run of the tool (it always gets --graph), not the chmod/sha256sum of its file.
    if "disconnect_mid_run" in device.faults and "benchmark_model" in command and "--graph" in command \
            and not device.disconnect_fired:
        device.disconnect_fired = True  # once, like a cable glitch; later runs work
        timer = threading.Timer(DISCONNECT_AFTER_S, conn.drop)
        timer.daemon = True
        timer.start()
    try:
        pumps = [threading.Thread(target=_pump, args=(device, stream, proc.stdout,
                                                       ID_STDOUT if v2 else None), daemon=True)]
        if v2:
            pumps.append(threading.Thread(target=_pump, args=(device, stream, proc.stderr,
                                                              ID_STDERR), daemon=True))
        for t in pumps:
            t.start()
        while True:
            try:
                code = proc.wait(0.2)
                break
            except subprocess.TimeoutExpired:
                if stream.closed:  # the client went away: stop the command, as adbd does
                    kill(proc)
        for t in pumps:
            t.join()
        if v2 and conn.alive:
            # Killed by signal N reads as 128+N, as Android's sh reports it.
            stream.write(packet(ID_EXIT, bytes([code & 0xFF if code >= 0 else 128 - code])))
    except StreamClosed:
        kill(proc)
    finally:
        conn.processes.discard(proc)
        kill(proc)
        proc.wait()


def _pump(device, stream, pipe, kind: int | None) -> None:
    """Copies a pipe to the stream line by line (lines keep path mapping intact)."""
    try:
        for line in iter(pipe.readline, b""):
            data = device.to_device(line)
            stream.write(packet(kind, data) if kind is not None else data)
    except (StreamClosed, OSError, ValueError):
        pass
    finally:
        pipe.close()
