"""Who measured: host environment and mbert build info (commit + dirty flag), cheaply."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from benchmarks.result import BuildInfo, Environment


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


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def build_info() -> BuildInfo:
    """mbert version and the git commit of the checkout it runs from, if any."""
    from mbert_cli import __version__  # noqa: PLC0415

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
