"""The seam between `benchmarks` and the phone side: what an adb client and a device session offer.

`android_harness.adb.Adb` and `android_harness.device.DeviceSession` are the real ones: the same
classes drive a phone and the loopback device (behind a private adb server). `benchmarks.device`
types against these protocols only, so a test double is checked against the same shape
(`isinstance` works: they are runtime-checkable, which checks the members, not their signatures;
tests/android_harness/test_harness_protocols.py compares the signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # records only; importing them at run time would make a cycle with device.py
    from android_harness.adb import AttachedDevice, ShellResult
    from android_harness.device import DeviceInfo, FoundBinary, RawRun
    from android_harness.profiles import DeviceProfile


@runtime_checkable
class AdbClient(Protocol):
    """An adb client bound to one server: the calls the harness makes, each raising MbertError."""

    timeout: float

    def devices(self) -> list[AttachedDevice]: ...

    def connect(self, address: str) -> None: ...

    def disconnect(self, address: str) -> None: ...

    def shell(self, serial: str, argv: list[str], timeout: float | None = None,
              check: bool = True) -> ShellResult: ...

    def push(self, serial: str, local: str | Path, remote: str, timeout: float | None = None) -> None: ...

    def pull(self, serial: str, remote: str, local: str | Path, timeout: float | None = None) -> None: ...

    def getprop(self, serial: str, name: str) -> str: ...


@runtime_checkable
class BenchmarkSession(Protocol):
    """One benchmark session on one device; leaving it removes what the run pushed."""

    serial: str

    def is_loopback(self) -> bool:
        """True on mbert's loopback device, whose timings are the host's, not a phone's.

        A method, not a property: Python 3.11's runtime-checkable `isinstance` reads every
        member, and this one asks the device.
        """
        ...

    def __enter__(self) -> BenchmarkSession: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def prepare_binary(self, local_binary: str | Path) -> str: ...

    def find_binary(self, places: Sequence[str] | None = None) -> FoundBinary: ...

    def push_model(self, local_model: str | Path) -> str: ...

    def thermal(self) -> dict: ...

    def cool_down(self, max_temp_c: float, timeout_s: float, poll_s: float = 5.0) -> float | None: ...

    def run_benchmark_model(self, binary: str, model: str, *, threads: int | None = None,
                            warmup_runs: int = 5, num_runs: int = 50, delegate: str = "xnnpack",
                            op_profiling: bool = False, timeout: float | None = None,
                            extra_flags: list[str] | None = None) -> RawRun: ...


class SessionFactory(Protocol):
    """Opens a BenchmarkSession (the `DeviceSession` class itself is one)."""

    def __call__(self, adb: AdbClient, serial: str, profile: DeviceProfile, keep: bool = False) -> BenchmarkSession: ...


class DeviceResolver(Protocol):
    """Turns `--device` (profile, serial or 'all') into (serial, profile) pairs."""

    def __call__(self, adb: AdbClient, spec: str) -> list[tuple[str, DeviceProfile]]: ...


class DeviceLister(Protocol):
    """Every attached device with its properties, as `mbert devices` shows them."""

    def __call__(self, adb: AdbClient) -> list[DeviceInfo]: ...
