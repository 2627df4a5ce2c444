"""Which Android ABI a binary is built for, read from its ELF header.

Pushing an x86 or 32-bit `benchmark_model` to an arm64 phone fails with a cryptic
"not executable: 64-bit ELF file"; checking e_machine first turns that into one clear line.
"""

from __future__ import annotations

import struct
from pathlib import Path

from mbert_cli.errors import MbertError

# e_machine -> Android ABI name (the class must agree: arm64/x86_64 are 64-bit).
MACHINES = {183: ("arm64-v8a", 2), 40: ("armeabi-v7a", 1), 62: ("x86_64", 2), 3: ("x86", 1)}
HINT = ("use an Android build of TFLite's benchmark_model "
        "(e.g. android_aarch64_benchmark_model from the TFLite releases)")


def elf_abi(path: str | Path) -> str:
    """Returns 'arm64-v8a', 'armeabi-v7a', 'x86_64' or 'x86'; MbertError otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError as exc:
        raise MbertError(f"cannot read {path}: {exc.strerror}", hint=HINT) from None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise MbertError(f"{path} is not an ELF executable", hint=HINT)
    elf_class, data = head[4], head[5]
    if data not in (1, 2):
        raise MbertError(f"{path} has an invalid ELF header", hint=HINT)
    machine = struct.unpack("<H" if data == 1 else ">H", head[18:20])[0]
    abi, expected_class = MACHINES.get(machine, (None, None))
    if abi is None or elf_class != expected_class:
        raise MbertError(f"{path} is an ELF for machine {machine} "
                         f"({'64' if elf_class == 2 else '32'}-bit), not an Android ABI",
                         hint=HINT)
    return abi
