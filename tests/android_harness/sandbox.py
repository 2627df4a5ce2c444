"""What a test inspects in a loopback device's sandbox (devices start through `android_harness.attach`)."""

from __future__ import annotations

from pathlib import Path

from android_harness.loopback.device import LoopbackDevice


def sandbox_files(device: LoopbackDevice) -> list[str]:
    """Every file (not folder) in a loopback device's sandbox, relative to it."""
    root = Path(device.sandbox)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def run_dirs(device: LoopbackDevice) -> list[str]:
    """The per-run folders (/data/local/tmp/mbert/run-*) left on a loopback device."""
    root = Path(device.sandbox) / "mbert"
    return sorted(p.name for p in root.glob("run-*")) if root.exists() else []
