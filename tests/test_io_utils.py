"""Atomic writes give the final file the umask's mode, not mkstemp's 0600, and never leave a temp file."""

import os
import signal
import stat
from pathlib import Path

import pytest

from converters.manifest import write_manifest
from mbert_cli.config import resolve_config, save_run_config
from mbert_cli.interrupts import StopRequested
from mbert_cli.io_utils import atomic_path, atomic_write_bytes, current_umask, dir_mode, file_mode


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it after."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _artifacts(folder: Path) -> list[Path]:
    """The artifacts a run writes atomically: config.yaml, a .tflite, manifest.json, a JSON report."""
    save_run_config(resolve_config("nano-student"), folder / "config.yaml")
    atomic_write_bytes(folder / "export" / "student_int8_seq64.tflite", b"TFL3" + bytes(60))
    write_manifest(folder / "export", {"source": "test"}, [{"file": "student_int8_seq64.tflite"}])
    from benchmarks.report import write_atomic

    write_atomic(folder / "bench" / "host.json", b"{}\n")
    return [folder / "config.yaml", folder / "export" / "student_int8_seq64.tflite",
            folder / "export" / "manifest.json", folder / "bench" / "host.json"]


def test_umask_022_artifacts_are_readable_by_others(tmp_path, umask):
    umask(0o022)
    assert current_umask() == 0o022 and file_mode() == 0o644 and dir_mode() == 0o755
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what any other file gets
    for path in _artifacts(tmp_path):
        assert _mode(path) == _mode(plain) == 0o644, path
        assert _mode(path) & stat.S_IROTH
    assert not list(tmp_path.rglob(".*tmp"))


def test_umask_077_artifacts_are_private(tmp_path, umask):
    umask(0o077)
    assert file_mode() == 0o600
    for path in _artifacts(tmp_path):
        assert _mode(path) == 0o600, path
        assert not _mode(path) & (stat.S_IRGRP | stat.S_IROTH)


def test_umask_002_group_writable_like_any_file(tmp_path, umask):
    umask(0o002)
    with atomic_path(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"1")
    assert _mode(tmp_path / "a.bin") == 0o664


@pytest.mark.parametrize("stop", [RuntimeError("failed"), StopRequested(signal.SIGTERM), KeyboardInterrupt()])
def test_failed_or_stopped_write_leaves_neither_file_nor_temp(tmp_path, umask, stop):
    umask(0o022)
    with pytest.raises(type(stop)), atomic_path(tmp_path / "half.tflite") as tmp:
        tmp.write_bytes(b"half")
        raise stop  # a SIGTERM during an export arrives as StopRequested
    assert list(tmp_path.iterdir()) == []
