"""The loopback device's stand-in system tools and state, in a private temp folder.

`getprop`, `dumpsys` and `taskset` are small sh scripts first on the shell's PATH; the
props and the thermal state they report live in files here so tests can change them.
Pushed ELF `benchmark_model` binaries keep their real bytes in `shadow/` (served back
by sync) while the sandbox holds a wrapper that runs the Python stand-in instead.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import tempfile
from pathlib import Path

from android_harness.elf import MACHINES

GETPROP = """#!/bin/sh
# getprop [NAME]: one value, or every property as [name]: [value]
props="$MBERT_LOOPBACK_STATE/props"
if [ $# -eq 0 ]; then
  awk -F= '{k=$1; sub(/^[^=]*=/, ""); print "[" k "]: [" $0 "]"}' "$props"
else
  awk -F= -v k="$1" '$1 == k {sub(/^[^=]*=/, ""); print; found=1; exit} END {if (!found) print ""}' "$props"
fi
"""

DUMPSYS = """#!/bin/sh
# dumpsys battery | thermalservice, in the shape Android 12 prints them.
state="$MBERT_LOOPBACK_STATE"
case "$1" in
battery)
  t=$(cat "$state/battery_temp")
  cat <<END
Current Battery Service state:
  AC powered: false
  USB powered: true
  Wireless powered: false
  Max charging current: 500000
  Max charging voltage: 5000000
  Charge counter: 2812000
  status: 2
  health: 2
  present: true
  level: 87
  scale: 100
  voltage: 4312
  temperature: $t
  technology: Li-ion
END
  # A hot phone cools while idle: each reading is 1 degree lower, down to about 31 C.
  if [ "$t" -gt 310 ]; then echo $((t - 10)) > "$state/battery_temp"; fi
  ;;
thermalservice)
  s=$(cat "$state/thermal_status")
  t=$(cat "$state/battery_temp")
  cat <<END
IsStatusOverride: false
ThermalEventListeners:
	callbacks: 1
	killed: false
	broadcasts count: -1
ThermalStatusListeners:
	callbacks: 1
	killed: false
	broadcasts count: -1
Thermal Status: $s
Cached temperatures:
	Temperature{mValue=$((t / 10)).$((t % 10)), mType=2, mName=battery, mStatus=$s}
	Temperature{mValue=38.5, mType=0, mName=cpu0-silver-usr, mStatus=$s}
HAL Ready: true
END
  ;;
*)
  echo "Can't find service: $1" >&2
  exit 1
  ;;
esac
"""

TASKSET = """#!/bin/sh
# taskset MASK CMD...: checks the mask (8 CPUs, like a Snapdragon 855), then runs CMD.
mask="$1"; shift
case "$mask" in
  ''|*[!0-9a-fA-Fx]*) echo "taskset: bad mask '$mask'" >&2; exit 1 ;;
esac
if [ $((0x${mask#0x} & 0xff)) -eq 0 ]; then
  echo "taskset: sched_setaffinity: Invalid argument" >&2; exit 1
fi
if [ $# -eq 0 ]; then echo "pid's current affinity mask: ff"; exit 0; fi
exec "$@"
"""

WRAPPER = """#!/bin/sh
# Loopback stand-in for an ELF benchmark_model (sha256 {sha}); real bytes kept by the device.
MBERT_ARGV0="$0" exec "$MBERT_LOOPBACK_PYTHON" -m android_harness.loopback.benchmark_model "$@"
"""


def stand_in_elf(abi: str) -> bytes:
    """The bytes the loopback's own benchmark_model shows to `adb pull`: an ELF header for
    `abi` (the device runs the Python stand-in, so the body is padding)."""
    machine, elf_class = next((m, c) for m, (a, c) in MACHINES.items() if a == abi)
    header = b"\x7fELF" + bytes([elf_class, 1, 1, 0]) + bytes(8) + struct.pack("<HHI", 2, machine, 1)
    return header + b"mbert loopback benchmark_model stand-in\n".ljust(4096 - len(header), b"\0")


class ToolsDir:
    """Temporary folder with bin/ (stand-in tools), state/ (props, thermal), shadow/."""

    def __init__(self, props: dict[str, str]):
        self.root = Path(tempfile.mkdtemp(prefix="mbert-loopback-tools-"))
        self.bin = self.root / "bin"
        self.state = self.root / "state"
        self.shadow = self.root / "shadow"
        for d in (self.bin, self.state, self.shadow):
            d.mkdir()
        for name, text in (("getprop", GETPROP), ("dumpsys", DUMPSYS), ("taskset", TASKSET)):
            path = self.bin / name
            path.write_text(text)
            path.chmod(0o755)
        (self.state / "props").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.set_thermal(31.2, 0)

    def set_thermal(self, battery_c: float, status: int = 0) -> None:
        """Sets the battery temperature (°C) and thermal status that dumpsys reports."""
        (self.state / "battery_temp").write_text(f"{round(battery_c * 10)}\n")
        (self.state / "thermal_status").write_text(f"{status}\n")

    def install_binary(self, target: Path, data_file: Path) -> None:
        """Puts a wrapper at target and keeps the real ELF bytes in shadow/."""
        digest = hashlib.sha256(data_file.read_bytes()).hexdigest()
        shadow = self.shadow / digest
        shutil.copyfile(data_file, shadow)
        target.write_text(WRAPPER.format(sha=digest))

    def offer_binary(self, target: Path, abi: str) -> None:
        """Puts a benchmark_model at target, as a phone that already has one pushed."""
        data = self.root / f"stand-in-{abi}"
        data.write_bytes(stand_in_elf(abi))
        self.install_binary(target, data)
        target.chmod(0o755)

    def shadow_for(self, path: Path) -> Path | None:
        """The real bytes behind a wrapper at path, if it is one."""
        try:
            head = path.read_bytes()[:200].decode("utf-8", "replace")
        except OSError:
            return None
        marker = "benchmark_model (sha256 "
        if marker not in head:
            return None
        digest = head.split(marker, 1)[1].split(")", 1)[0]
        shadow = self.shadow / digest
        return shadow if shadow.exists() else None

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
