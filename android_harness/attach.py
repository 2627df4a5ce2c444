"""Loopback devices attached to a private adb server: the phone-free device path.

The demo and the tests start loopback devices through here. The adb server runs on a free
port with a temporary HOME, so the user's ~/.android and their own server are untouched;
it is given the user's adb key (ADB_VENDOR_KEYS; made if absent, as adb itself would),
which the loopback devices ask for.
`write_stand_in_binary` makes the header-only arm64 file the loopback device runs as its
`benchmark_model` (its LiteRT stand-in); on a real phone use the real tool.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from android_harness.adb import Adb
from android_harness.elf import MACHINES
from android_harness.loopback.auth import ensure_key_pair
from android_harness.loopback.device import LoopbackDevice
from mbert_cli.errors import MbertError

# Variables that would point the client at another server or device.
_SCRUB = ("ANDROID_ADB_SERVER_PORT", "ANDROID_ADB_SERVER_ADDRESS", "ADB_SERVER_SOCKET",
          "ANDROID_SERIAL", "ADB_VENDOR_KEYS", "ADB_TRACE")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_stand_in_binary(path: str | Path, abi: str = "arm64-v8a", size: int = 4096) -> Path:
    """Writes a file with a valid ELF header for `abi` (not runnable): what the loopback device runs."""
    machine, elf_class = next((m, c) for m, (a, c) in MACHINES.items() if a == abi)
    ident = b"\x7fELF" + bytes([elf_class, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHI", 2, machine, 1)  # ET_EXEC, e_machine, EV_CURRENT
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + bytes(max(0, size - len(header))))
    path.chmod(0o755)
    return path


class LoopbackSetup(tuple):
    """`(adb, serials)` as yielded by loopback_adb; `.devices` holds the LoopbackDevice
    objects (same order as serials) for tests that inspect sandboxes or set thermals."""

    devices: list[LoopbackDevice]

    def __new__(cls, adb: Adb, serials: list[str], devices: list[LoopbackDevice]):
        obj = super().__new__(cls, (adb, serials))
        obj.devices = devices
        return obj


@contextlib.contextmanager
def private_adb(timeout: float = 30.0) -> Iterator[Adb]:
    """An Adb bound to its own server (free port, temporary HOME); killed on exit."""
    user_key = ensure_key_pair()  # the server signs with it too: the loopback devices trust it
    home = Path(tempfile.mkdtemp(prefix="mbert-adb-home-"))
    env = {key: None for key in _SCRUB}
    env.update(HOME=str(home), ANDROID_SDK_HOME=str(home), ANDROID_USER_HOME=str(home / ".android"),
               TMPDIR=str(home), ADB_VENDOR_KEYS=str(user_key))
    adb = None
    try:
        adb = Adb(server_port=free_port(), env=env, timeout=timeout)
        yield adb
    finally:
        if adb is not None:
            adb.kill_server()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def loopback_adb(n_devices: int = 1, faults: list[dict] | None = None,
                 props: list[dict] | None = None, timeout: float = 30.0,
                 attach_timeout: float = 20.0) -> Iterator[LoopbackSetup]:
    """Starts n loopback devices and a private adb server, and attaches them.

    Args:
        n_devices: how many devices.
        faults: one fault dict per device, e.g. [{'slow': 2}, {}].
        props: one dict of property overrides per device.
        timeout: default timeout of the yielded Adb.
        attach_timeout: seconds to wait for every device to reach its state.

    Yields:
        LoopbackSetup: unpacks as (adb, serials); `.devices` has the LoopbackDevice objects.
    """
    faults = list(faults or []) + [{}] * n_devices
    props = list(props or []) + [{}] * n_devices
    devices: list[LoopbackDevice] = []
    with contextlib.ExitStack() as stack:
        for i in range(n_devices):
            device = LoopbackDevice(faults=faults[i], props=props[i])
            stack.callback(device.stop)
            devices.append(device.start())
        adb = stack.enter_context(private_adb(timeout))
        serials = [d.address for d in devices]
        for serial in serials:
            adb.connect(serial)
        want = {d.address: "unauthorized" if "unauthorized" in d.faults else "device"
                for d in devices}
        wait_for_states(adb, want, attach_timeout)
        yield LoopbackSetup(adb, serials, devices)


def wait_for_states(adb: Adb, want: dict[str, str], timeout: float) -> None:
    """Polls `adb devices` until every serial has the wanted state."""
    deadline = time.monotonic() + timeout
    while True:
        states = {d.serial: d.state for d in adb.devices()}
        if all(states.get(s) == st for s, st in want.items()):
            return
        if time.monotonic() > deadline:
            raise MbertError(f"loopback devices did not attach within {timeout:g} s: want {want}, have {states}",
                             hint="check that the adb client works (`adb version`) and nothing else holds the port")
        time.sleep(0.1)
