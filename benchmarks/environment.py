"""Who measured: host environment and mbert build info (commit + dirty flag), cheaply."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from benchmarks.result import BuildInfo, Environment
from mbert_cli import __version__

CPUINFO = Path("/proc/cpuinfo")
# The flags that change how fast TensorFlow and LiteRT kernels run on x86 (FMA, AVX2 and
# AVX-512 widths, the int8 dot products of VNNI, the bfloat16 and AMX tile units).
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def host_environment(runtime_name: str | None = None, runtime_version: str | None = None) -> Environment:
    """CPU model, cores, OS and runtime of this machine."""
    return Environment(
        cpu_model=_cpu_model(),
        cores=os.cpu_count(),
        os=f"{platform.system()} {platform.release()}",
        runtime_name=runtime_name,
        runtime_version=runtime_version,
        python=platform.python_version(),
    )


def _cpu_model(cpuinfo: Path = CPUINFO) -> str | None:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def cpu_flags(cpuinfo: Path = CPUINFO) -> list[str]:
    """The speed-relevant flags (`SPEED_FLAGS`, in that order) the CPU reports; none where
    /proc/cpuinfo is absent or has no flags line (ARM lists "Features", not x86 flags)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                present = set(value.split())
                return [f for f in SPEED_FLAGS if f in present]
    except OSError:
        pass
    return []


def _physical_cores(cpuinfo: Path) -> int | None:
    """Distinct (socket, core) pairs in /proc/cpuinfo: cores without their SMT siblings."""
    cores, socket = set(), "0"
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                socket = value.strip()
            elif key.strip() == "core id":
                cores.add((socket, value.strip()))
    except OSError:
        return None
    return len(cores) or None


def cpu_summary(cpuinfo: Path = CPUINFO) -> dict:
    """What a timing needs beside it: the CPU's model, its speed flags, physical cores and the
    hardware threads this process may use (an affinity mask or a container's CPU set counts)."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": _cpu_model(cpuinfo), "flags": cpu_flags(cpuinfo), "cores": _physical_cores(cpuinfo),
            "threads": threads}


def build_info() -> BuildInfo:
    """mbert version and the git commit of the checkout it runs from, if any."""
    repo = Path(__file__).resolve().parent.parent
    commit = _git(repo, "rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git(repo, "status", "--porcelain", "--untracked-files=no")
        dirty = bool(status)
    return BuildInfo(mbert_version=__version__, git_commit=commit, git_dirty=dirty)


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
