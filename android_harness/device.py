"""Devices as mbert sees them: which are attached, which profile fits, and one
benchmark session on a device (binary cache, per-run folder, thermals, cleanup).

Layout on the device:
    /data/local/tmp/mbert/bin/<sha256>/benchmark_model   cached across runs
    /data/local/tmp/mbert/run-<id>/                        models of one run, removed after

Without a local binary, a `benchmark_model` already on the device is used: the first one
found in `binary_places()` (/data/local/tmp first) whose ABI the device runs.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from android_harness.elf import elf_abi
from android_harness.profiles import DeviceProfile, get_profile, load_profiles, match_profile
from android_harness.protocols import AdbClient
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import sha256_file

DEVICE_ROOT = "/data/local/tmp/mbert"
# Where phones usually keep a benchmark_model someone pushed or built in, searched in order
# when no --benchmark-binary is given; MBERT_BENCHMARK_PLACES (colon-separated) replaces it.
BINARY_PLACES = ("/data/local/tmp/benchmark_model", "/data/local/tmp/android_aarch64_benchmark_model",
                 "/data/local/tmp/benchmark_model_plus_flex", "/vendor/bin/benchmark_model",
                 "/system/bin/benchmark_model")
DELEGATE_FLAGS = {
    "cpu": ["--use_xnnpack=false"],
    "xnnpack": ["--use_xnnpack=true"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
}
THERMAL_STATUS = {0: "none", 1: "light", 2: "moderate", 3: "severe", 4: "critical",
                  5: "emergency", 6: "shutdown"}
LOOPBACK_PROP = "ro.mbert.loopback"  # "1" on mbert's loopback device (android_harness.loopback)
NETWORK_SERIAL = re.compile(r"[\w.\-\[\]:]+:\d+")  # HOST:PORT, as `adb connect` names devices
UNAUTHORIZED_HINT = "unlock the phone and accept 'Allow USB debugging?', then retry"
OFFLINE_HINT = "reconnect the cable (or `adb reconnect`), then check `adb devices`"
NO_DEVICE_HINT = ("connect a phone with USB debugging on (see `adb devices`), or start a "
                  "loopback device: `python -m android_harness.loopback --port 5585` and "
                  "`adb connect 127.0.0.1:5585`")


@dataclass
class DeviceInfo:
    """One attached device as `mbert devices` lists it."""

    serial: str
    state: str
    model: str
    device: str
    android_version: str
    build: str
    abi: str
    profile: str
    loopback: bool = False  # the mbert loopback device: host timings, not a phone


@dataclass
class FoundBinary:
    """A benchmark_model already on the device, checked like a pushed one."""

    path: str
    abi: str
    sha256: str


def binary_places() -> tuple[str, ...]:
    """The device paths searched for benchmark_model: $MBERT_BENCHMARK_PLACES or BINARY_PLACES."""
    env = os.environ.get("MBERT_BENCHMARK_PLACES", "")
    places = tuple(p for p in env.split(":") if p.strip())
    return places or BINARY_PLACES


@dataclass
class RawRun:
    """One benchmark_model invocation on a device, unparsed."""

    command: list[str]
    exit_code: int
    stdout: str
    stderr: str
    thermal_before: dict
    thermal_after: dict


def parse_getprop(text: str) -> dict[str, str]:
    """Parses `getprop` output lines `[name]: [value]`."""
    return dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]\s*$", text, flags=re.M))


def is_loopback(props: Mapping[str, str]) -> bool:
    """True for mbert's loopback device (from its `getprop` values): its timings are the host's."""
    return props.get(LOOPBACK_PROP) == "1"


def read_props(adb: AdbClient, serial: str) -> dict[str, str]:
    """All system properties of a device, in one adb call."""
    return parse_getprop(adb.shell(serial, ["getprop"]).stdout)


def list_devices(adb: AdbClient) -> list[DeviceInfo]:
    """Every attached device with model, Android version, ABI and matching profile."""
    out = []
    for attached in adb.devices():
        if attached.state != "device":
            out.append(DeviceInfo(attached.serial, attached.state, "", "", "", "", "", ""))
            continue
        props = read_props(adb, attached.serial)
        out.append(DeviceInfo(
            serial=attached.serial, state=attached.state,
            model=props.get("ro.product.model", ""), device=props.get("ro.product.device", ""),
            android_version=props.get("ro.build.version.release", ""),
            build=props.get("ro.build.display.id", "") or props.get("ro.build.id", ""),
            abi=props.get("ro.product.cpu.abi", ""), profile=match_profile(props).name,
            loopback=is_loopback(props)))
    return out


def _usable(serial: str, state: str) -> None:
    if state == "unauthorized":
        raise MbertError(f"device {serial} is unauthorized", hint=UNAUTHORIZED_HINT)
    if state.startswith("no permissions"):
        raise MbertError(f"no permission to open USB device {serial}",
                         hint="add a udev rule for the phone and join the plugdev group "
                              "(developer.android.com/studio/run/device), then replug it")
    if state != "device":
        raise MbertError(f"device {serial} is {state}", hint=OFFLINE_HINT)


def resolve_devices(adb: AdbClient, spec: str) -> list[tuple[str, DeviceProfile]]:
    """Turns `--device` (profile name, serial or 'all') into (serial, profile) pairs.

    A serial gets the profile its properties match; a profile name selects every
    attached device matching it ('generic' selects all).
    """
    attached = adb.devices()
    if NETWORK_SERIAL.fullmatch(spec) and spec not in {d.serial for d in attached}:
        # A HOST:PORT device (wireless debugging, the loopback device) not attached yet:
        # connect it, as `adb connect` would, instead of calling it unknown.
        adb.connect(spec)
        _wait_attached(adb, spec)
        attached = adb.devices()
    if not attached:
        raise MbertError(f"no Android device attached (asked for --device {spec})", hint=NO_DEVICE_HINT)
    states = {d.serial: d.state for d in attached}
    if spec in states:
        _usable(spec, states[spec])
        return [(spec, match_profile(read_props(adb, spec)))]
    profiles = load_profiles()
    if spec != "all" and spec not in profiles:
        raise MbertError(f"unknown device or profile {spec!r}",
                         hint=f"use a profile ({', '.join(profiles)}), 'all', or a serial "
                              f"from `adb devices` ({', '.join(states)})")
    ready = [s for s, st in states.items() if st == "device"]
    if not ready:
        # Nothing usable: report the first device's problem with its fix.
        _usable(attached[0].serial, attached[0].state)
    chosen = []
    for serial in ready:
        props = read_props(adb, serial)
        matched = match_profile(props)
        if spec == "all":
            chosen.append((serial, matched))
        elif spec == "generic" or profiles[spec].matches(props):
            chosen.append((serial, get_profile(spec)))
    if not chosen:
        others = [s for s, st in states.items() if st != "device"]
        raise MbertError(
            f"no attached device matches profile {spec!r} (attached: {', '.join(states)})",
            hint=(f"{others[0]} is {states[others[0]]}: " + (UNAUTHORIZED_HINT if states[
                others[0]] == "unauthorized" else OFFLINE_HINT)) if others else
            "pass a serial with --device to use another phone (generic profile)")
    return chosen


def _wait_attached(adb: AdbClient, serial: str, timeout_s: float = 10.0) -> None:
    """Waits for a just-connected device to leave the transient 'connecting' states."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = {d.serial: d.state for d in adb.devices()}.get(serial)
        if state in ("device", "unauthorized"):
            return
        time.sleep(0.2)


class DeviceSession:
    """Benchmarks on one device; a context manager that removes its run folder on exit.

    Args:
        adb: the client to use.
        serial: the device.
        profile: how to run there (core mask, threads).
        keep: leave the run folder (models) on the device for inspection.
    """

    def __init__(self, adb: AdbClient, serial: str, profile: DeviceProfile, keep: bool = False):
        self.adb = adb
        self.serial = serial
        self.profile = profile
        self.keep = keep
        self.run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        self.run_dir = f"{DEVICE_ROOT}/run-{self.run_id}"
        self.binary_pushed = False  # whether the last prepare_binary had to push
        self._props: dict[str, str] | None = None
        self._run_dir_made = False
        self._models: dict[str, str] = {}

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.cleanup()
        except MbertError:
            if exc_type is None:
                raise  # otherwise the original error matters more

    @property
    def props(self) -> dict[str, str]:
        """The device's system properties (read once)."""
        if self._props is None:
            self._props = read_props(self.adb, self.serial)
        return self._props

    def is_loopback(self) -> bool:
        """True on the mbert loopback device, whose timings come from the host CPU (reads the props once)."""
        return is_loopback(self.props)

    def _shell(self, argv: list[str], **kw):
        return self.adb.shell(self.serial, argv, **kw)

    def _check_abi(self, binary: Path, label: str) -> str:
        """The binary's ABI; MbertError when the device cannot run it."""
        binary_abi = elf_abi(binary)
        device_abi = self.props.get("ro.product.cpu.abi", "")
        abilist = [a for a in self.props.get("ro.product.cpu.abilist", "").split(",") if a]
        if binary_abi not in (abilist or [device_abi]):
            raise MbertError(
                f"{label} is built for {binary_abi} but device {self.serial} runs "
                f"{device_abi or 'an unknown ABI'}",
                hint=f"use a benchmark_model built for {device_abi or 'the device ABI'}")
        return binary_abi

    def find_binary(self, places: Sequence[str] | None = None) -> FoundBinary:
        """The first benchmark_model on the device (in `places` order) that it can run.

        Each candidate is pulled to read its ELF header (as a pushed binary's is read) and
        hash it for the results; one of the wrong ABI is skipped for the next place.
        """
        places = tuple(places or binary_places())
        rejected: list[MbertError] = []
        for place in places:
            if self._shell(["test", "-f", place], check=False).exit_code != 0:
                continue
            with tempfile.TemporaryDirectory(prefix="mbert-found-binary-") as tmp:
                local = Path(tmp) / "benchmark_model"
                try:
                    self.adb.pull(self.serial, place, local)  # an unreadable place: try the next one
                    abi = self._check_abi(local, f"{place} on the device")
                except MbertError as err:
                    rejected.append(err)
                    continue
                digest = sha256_file(local)
            if self._shell(["test", "-x", place], check=False).exit_code != 0:
                rejected.append(MbertError(f"{place} on {self.serial} is not executable",
                                           hint=f"adb -s {self.serial} shell chmod 755 {place}"))
                continue
            return FoundBinary(place, abi, digest)
        if rejected:
            raise MbertError(f"no usable benchmark_model on device {self.serial}: {rejected[0].message}",
                             hint=rejected[0].hint)
        raise MbertError(f"no benchmark_model given and none on device {self.serial} "
                         f"(looked in {', '.join(places)})",
                         hint="pass --benchmark-binary PATH (arm64 build from the TFLite releases), or push one: "
                              "adb push benchmark_model /data/local/tmp/")

    def prepare_binary(self, local_binary: str | Path) -> str:
        """Checks the binary's ABI against the device, pushes it once (cached by sha256)."""
        local = Path(local_binary)
        if not local.is_file():
            raise MbertError(f"benchmark_model binary not found: {local}",
                             hint="pass --benchmark-binary PATH to an Android build of TFLite's "
                                  "benchmark_model")
        self._check_abi(local, local.name)
        remote_dir = f"{DEVICE_ROOT}/bin/{sha256_file(local)}"
        remote = f"{remote_dir}/benchmark_model"
        self.binary_pushed = False
        if self._shell(["test", "-x", remote], check=False).exit_code == 0:
            return remote
        self._shell(["mkdir", "-p", remote_dir])
        try:
            self.adb.push(self.serial, local, remote)
            self._shell(["chmod", "755", remote])
        except MbertError:
            # Never leave a half-pushed binary that the cache would trust next time.
            self._shell(["rm", "-rf", remote_dir], check=False)
            raise
        self.binary_pushed = True
        return remote

    def push_model(self, local_model: str | Path) -> str:
        """Pushes a model into this run's folder; returns its device path."""
        local = Path(local_model)
        if not local.is_file():
            raise MbertError(f"model not found: {local}", hint="check the .tflite path")
        if str(local.resolve()) in self._models:
            return self._models[str(local.resolve())]
        if not self._run_dir_made:
            self._shell(["mkdir", "-p", self.run_dir])
            self._run_dir_made = True
        name = local.name
        if any(p.rsplit("/", 1)[1] == name for p in self._models.values()):
            name = f"{len(self._models)}-{name}"  # same file name from another folder
        remote = f"{self.run_dir}/{name}"
        self.adb.push(self.serial, local, remote)
        self._models[str(local.resolve())] = remote
        return remote

    def thermal(self) -> dict:
        """Battery temperature (°C) and thermal status; None where the device says nothing."""
        out = self._shell(["sh", "-c", "dumpsys battery; dumpsys thermalservice"],
                          check=False, timeout=30).stdout
        temp = re.search(r"^\s*temperature:\s*(-?\d+)", out, flags=re.M)
        status = re.search(r"^Thermal Status:\s*(\d+)", out, flags=re.M)
        cpu = None
        if status is None:
            # Older Android: no thermalservice; the hottest sysfs zone is the best proxy.
            zones = self._shell(["sh", "-c", "cat /sys/class/thermal/thermal_zone*/temp "
                                             "2>/dev/null"], check=False, timeout=30).stdout
            values = [int(v) for v in re.findall(r"^-?\d+$", zones, flags=re.M)]
            if values:
                hottest = max(values)
                cpu = hottest / 1000.0 if hottest > 1000 else float(hottest)
        code = int(status.group(1)) if status else None
        return {
            "battery_temp_c": int(temp.group(1)) / 10.0 if temp else None,
            "thermal_status": code,
            "thermal_status_name": THERMAL_STATUS.get(code) if code is not None else None,
            "max_zone_temp_c": cpu,
        }

    def cool_down(self, max_temp_c: float, timeout_s: float, poll_s: float = 5.0) -> float | None:
        """Waits until the battery is at most max_temp_c, so runs start from the same state.

        Returns the temperature reached, or None when the device reports none (nothing to
        wait on: the caller says so). Raises MbertError after timeout_s, as a run measured
        on a hot phone is not the run that was asked for.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            temp = self.thermal()["battery_temp_c"]
            if temp is None or temp <= max_temp_c:
                return temp
            if time.monotonic() + poll_s > deadline:
                raise MbertError(
                    f"device {self.serial} is still at {temp:.1f} °C after {timeout_s:g}s of "
                    f"cool-down (limit {max_temp_c:g} °C)",
                    hint="let the phone cool (screen off, off the charger) or raise the limit")
            time.sleep(poll_s)

    def benchmark_command(self, binary: str, model: str, *, threads: int | None = None,
                          warmup_runs: int = 5, num_runs: int = 50, delegate: str = "xnnpack",
                          op_profiling: bool = False,
                          extra_flags: list[str] | None = None) -> list[str]:
        """The argv run on the device: [taskset MASK] benchmark_model --graph=... flags."""
        if delegate not in DELEGATE_FLAGS:
            raise MbertError(f"unknown delegate {delegate!r}",
                             hint=f"use one of: {', '.join(DELEGATE_FLAGS)}")
        cmd = ["taskset", self.profile.cpu_mask] if self.profile.cpu_mask else []
        cmd += [binary, f"--graph={model}", f"--num_threads={threads or self.profile.threads}",
                f"--warmup_runs={warmup_runs}", f"--num_runs={num_runs}",
                *DELEGATE_FLAGS[delegate], "--report_peak_memory_footprint=true"]
        if op_profiling:
            cmd.append("--enable_op_profiling=true")
        return cmd + list(extra_flags or [])

    def run_benchmark_model(self, binary: str, model: str, *, threads: int | None = None,
                            warmup_runs: int = 5, num_runs: int = 50, delegate: str = "xnnpack",
                            op_profiling: bool = False, timeout: float | None = None,
                            extra_flags: list[str] | None = None) -> RawRun:
        """Runs benchmark_model with the profile's flags, thermals read before and after.

        A tool failure (bad model, ...) comes back as a RawRun with its exit code for the
        parser; a device failure (gone, binary missing, timeout) raises MbertError.
        """
        cmd = self.benchmark_command(binary, model, threads=threads, warmup_runs=warmup_runs,
                                     num_runs=num_runs, delegate=delegate,
                                     op_profiling=op_profiling, extra_flags=extra_flags)
        before = self.thermal()
        limit = timeout if timeout is not None else max(self.adb.timeout, 600.0)
        try:
            result = self._shell(cmd, timeout=limit, check=False)
        except MbertError as err:
            self._raise_if_gone(err)
            if "timed out" in err.message:
                raise MbertError(f"benchmark_model did not finish within {limit:g}s on "
                                 f"{self.serial}",
                                 hint="raise the timeout or lower --runs; check the device "
                                      "with `adb devices`") from None
            raise
        output = result.stdout + result.stderr
        if result.exit_code == 127 and "not found" in output:
            # The cache said the binary was there: drop that entry so the next run pushes.
            # Only mbert's own cache entries: a binary found elsewhere is never removed.
            if binary.startswith(f"{DEVICE_ROOT}/bin/"):
                self._shell(["rm", "-rf", binary.rsplit("/", 1)[0]], check=False)
            raise MbertError(f"benchmark_model not found on device {self.serial} ({binary})",
                             hint="run again to push it anew, or check --benchmark-binary")
        if result.exit_code == 126:
            raise MbertError(f"benchmark_model on {self.serial} is not executable ({binary})",
                             hint="check that the binary is built for the device "
                                  f"({self.props.get('ro.product.cpu.abi', '?')})")
        if result.exit_code != 0:
            self._raise_if_gone(None)
        try:
            after = self.thermal()
        except MbertError as err:
            self._raise_if_gone(err)
            raise
        return RawRun(cmd, result.exit_code, result.stdout, result.stderr, before, after)

    def _raise_if_gone(self, err: MbertError | None) -> None:
        """Raises a 'disconnected' error when the device left during a run.

        adb's own "offline"/"closed" answer counts too: a network device may already be
        back in `adb devices` by the time we look.
        """
        states = {d.serial: d.state for d in self.adb.devices()}
        lost = err is not None and any(word in err.message for word in ("offline", "closed", "disconnected"))
        if lost or states.get(self.serial) != "device":
            raise MbertError(
                f"device {self.serial} disconnected during benchmark_model",
                hint="reconnect it (cable, or `adb connect HOST:PORT`) and run again") from err

    def cleanup(self) -> None:
        """Removes this run's folder from the device unless keep=True."""
        if self.keep or not self._run_dir_made:
            return
        try:
            self._shell(["rm", "-rf", self.run_dir], timeout=60)
        except MbertError:
            if not self._reattach():
                raise MbertError(f"could not remove {self.run_dir} from device {self.serial}",
                                 hint=f"remove it by hand: adb -s {self.serial} shell rm -rf "
                                      f"{self.run_dir}") from None
            self._shell(["rm", "-rf", self.run_dir], timeout=60)
        self._run_dir_made = False

    def _reattach(self, wait_s: float = 15.0) -> bool:
        """Reconnects a network device (serial HOST:PORT) that dropped; True if back."""
        if not NETWORK_SERIAL.fullmatch(self.serial):
            return False
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            self.adb.disconnect(self.serial)
            try:
                self.adb.connect(self.serial)
            except MbertError:
                time.sleep(0.5)
                continue
            while time.monotonic() < deadline:
                state = {d.serial: d.state for d in self.adb.devices()}.get(self.serial)
                if state == "device":
                    return True
                time.sleep(0.2)
        return False
