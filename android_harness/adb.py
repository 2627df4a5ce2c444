"""A thin layer over the real `adb` client: subprocess calls with timeouts, no shell.

Every failure a user can fix (adb missing, device gone, unauthorized, storage full,
timeout) becomes an MbertError with one line saying what and one saying how to fix it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mbert_cli.errors import MbertError

ADB_MISSING_HINT = ("apt-get install adb (Debian/Ubuntu) or install Android platform-tools "
                    "and put adb on PATH")


@dataclass
class ShellResult:
    """What a command run with `adb shell` returned (exit code via shell protocol v2)."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass
class AttachedDevice:
    """One line of `adb devices`: serial and state ('device', 'unauthorized', 'offline'...)."""

    serial: str
    state: str


def device_error(serial: str, text: str) -> MbertError | None:
    """Maps adb's own error text about a device to an MbertError; None if it is not one."""
    low = text.lower()
    if "unauthorized" in low:
        return MbertError(f"device {serial} is unauthorized",
                          hint="unlock the phone and accept 'Allow USB debugging?', then retry")
    if "device offline" in low:
        return MbertError(f"device {serial} is offline",
                          hint="reconnect the cable (or `adb reconnect`), then check `adb devices`")
    if re.search(r"device '.*' not found|no devices/emulators found|device not found", low):
        return MbertError(f"device {serial} is not attached",
                          hint="check `adb devices`; reconnect it (or `adb connect HOST:PORT`)")
    if "error: closed" in low or "protocol fault" in low:
        return MbertError(f"lost the connection to device {serial}",
                          hint="check the cable / network and `adb devices`, then run again")
    return None


class Adb:
    """Runs the adb client.

    Args:
        adb_path: the adb executable; found on PATH when None.
        server_port: adb server port (`adb -P`); adb's default (5037) when None.
        env: variables merged over os.environ for every call (None values remove one).
        timeout: default seconds before a call is killed.
    """

    def __init__(self, adb_path: str | None = None, server_port: int | None = None,
                 env: dict | None = None, timeout: float = 60.0):
        path = adb_path or shutil.which("adb")
        if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise MbertError(f"adb not found{f' at {adb_path}' if adb_path else ' on PATH'}",
                             hint=ADB_MISSING_HINT)
        self.adb_path = path
        self.server_port = server_port
        self.timeout = timeout
        self.env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = str(value)

    def run(self, args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
        """Runs `adb [-P port] ARGS`; returns the completed process (text, not checked)."""
        cmd = [self.adb_path] + (["-P", str(self.server_port)] if self.server_port else []) + args
        limit = self.timeout if timeout is None else timeout
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  env=self.env, timeout=limit, check=False,
                                  encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise MbertError(f"adb not found at {self.adb_path}", hint=ADB_MISSING_HINT) from None
        except subprocess.TimeoutExpired:
            what = " ".join(a for a in args[:4] if not a.startswith("-"))[:80]
            raise MbertError(f"adb timed out after {limit:g}s ({what})",
                             hint="check the device with `adb devices`; raise the timeout "
                                  "for slow devices") from None

    def devices(self) -> list[AttachedDevice]:
        """Attached devices with their states, as `adb devices` lists them."""
        proc = self.run(["devices"])
        if proc.returncode != 0:
            raise MbertError(f"`adb devices` failed: {_last_line(proc)}",
                             hint="run `adb kill-server` and try again")
        out = []
        for line in proc.stdout.splitlines():
            if not line.strip() or line.startswith(("List of devices", "*")):
                continue
            serial, _, state = line.partition("\t")
            out.append(AttachedDevice(serial.strip(), state.strip() or "unknown"))
        return out

    def connect(self, address: str) -> None:
        """`adb connect HOST:PORT` (a device over TCP, e.g. the loopback device)."""
        proc = self.run(["connect", address])
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
                 if ln.strip() and not ln.startswith("*")]
        text = "\n".join(lines)
        # "failed to authenticate" still attaches the device, as 'unauthorized': the
        # user accepts the prompt on the phone, and resolve_devices says so.
        if ("connected to" in text or "failed to authenticate" in text) \
                and "cannot" not in text and "failed to connect" not in text:
            return
        raise MbertError(f"cannot connect to {address}: {lines[-1] if lines else 'no answer'}",
                         hint="check that the device listens there (wireless debugging on, "
                              "or `python -m android_harness.loopback --port PORT` running)")

    def disconnect(self, address: str) -> None:
        """`adb disconnect HOST:PORT`; a device already gone is not an error."""
        self.run(["disconnect", address])

    def shell(self, serial: str, argv: list[str], timeout: float | None = None,
              check: bool = True) -> ShellResult:
        """Runs argv on the device; each argument arrives as one word, whatever it holds.

        adb joins its arguments with spaces and the device's sh parses the result, so the
        argv is quoted with shlex.join into one string first.
        """
        proc = self.run(["-s", serial, "shell", shlex.join(str(a) for a in argv)], timeout)
        result = ShellResult(proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode != 0:
            err = device_error(serial, _adb_errors(proc.stderr))
            if err is not None:
                raise err
            if check:
                raise MbertError(f"`{shlex.join(str(a) for a in argv)[:120]}` failed on {serial} "
                                 f"(exit {proc.returncode}): {_last_line(proc)}",
                                 hint="check the device with `adb devices` and `adb shell`")
        return result

    def push(self, serial: str, local: str | Path, remote: str,
             timeout: float | None = None) -> None:
        """Copies a local file to the device (adb sync protocol)."""
        local = Path(local)
        if not local.is_file():
            raise MbertError(f"file to push not found: {local}", hint="check the path")
        proc = self.run(["-s", serial, "push", str(local), remote], timeout)
        if proc.returncode == 0:
            return
        text = proc.stderr + proc.stdout
        if "No space left on device" in text:
            raise MbertError(f"device {serial} is out of storage: could not push {local.name}",
                             hint="free space on the device (e.g. `adb shell rm -rf "
                                  "/data/local/tmp/mbert`), then retry")
        raise device_error(serial, _adb_errors(text)) or MbertError(
            f"adb push of {local.name} to {serial} failed: {_last_line(proc)}",
            hint="check the device with `adb devices` and its free space")

    def pull(self, serial: str, remote: str, local: str | Path, timeout: float | None = None) -> None:
        """Copies a device file to `local` (adb sync protocol)."""
        proc = self.run(["-s", serial, "pull", remote, str(local)], timeout)
        if proc.returncode != 0:
            raise device_error(serial, _adb_errors(proc.stderr + proc.stdout)) or MbertError(
                f"adb pull of {remote} from {serial} failed: {_last_line(proc)}",
                hint="check the device with `adb devices`")

    def getprop(self, serial: str, name: str) -> str:
        """One system property (empty string when unset)."""
        return self.shell(serial, ["getprop", name]).stdout.strip()

    def kill_server(self) -> None:
        """Stops the adb server this object talks to (its port)."""
        try:
            self.run(["kill-server"], timeout=15)
        except MbertError:
            pass


def _adb_errors(text: str) -> str:
    """Only adb's own complaints, not what the remote command printed."""
    return "\n".join(ln for ln in text.splitlines() if ln.startswith(("error:", "adb: error")))


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else f"exit code {proc.returncode}"
