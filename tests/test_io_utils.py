"""Atomic writes (files and folders) give the umask's mode, not mkstemp's 0600, and never leave a temp or half folder."""

import os
import signal
import stat
from pathlib import Path

import pytest

from converters.manifest import write_manifest
from mbert_cli.config import resolve_config, save_run_config
from mbert_cli.errors import MbertError
from mbert_cli.interrupts import StopRequested
from mbert_cli.io_utils import atomic_dir, atomic_path, atomic_write_bytes, current_umask, dir_mode, file_mode


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


def _write_folder(path: Path, files: dict[str, str]) -> None:
    with atomic_dir(path, "test") as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)


def test_atomic_dir_creates_the_folder_with_the_umask_mode(tmp_path, umask):
    umask(0o022)
    _write_folder(tmp_path / "data", {"meta.json": "{}"})
    assert (tmp_path / "data" / "meta.json").read_text() == "{}"
    assert _mode(tmp_path / "data") == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_atomic_dir_replaces_an_existing_folder_whole(tmp_path):
    _write_folder(tmp_path / "data", {"a": "old", "b": "old"})
    _write_folder(tmp_path / "data", {"a": "new"})
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["a"]
    assert (tmp_path / "data" / "a").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # neither the temporary nor the old folder is left


@pytest.mark.parametrize("stop", [RuntimeError("failed"), OSError(28, "No space left on device"),
                                  StopRequested(signal.SIGTERM), KeyboardInterrupt()])
def test_atomic_dir_failure_keeps_the_previous_folder(tmp_path, stop):
    _write_folder(tmp_path / "data", {"a": "old"})
    with pytest.raises(type(stop)), atomic_dir(tmp_path / "data", "test") as tmp:
        (tmp / "a").write_text("half")
        raise stop  # the body's own error goes on unchanged
    assert (tmp_path / "data" / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_atomic_dir_rename_failure_is_one_line_and_puts_the_previous_folder_back(tmp_path, monkeypatch):
    _write_folder(tmp_path / "data", {"a": "old"})
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:  # the new folder onto `data`, after the old one moved aside
            raise OSError(30, "Read-only file system")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(MbertError, match="cannot write .*data: Read-only file system"):
        _write_folder(tmp_path / "data", {"a": "new"})
    assert (tmp_path / "data" / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_atomic_dir_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MbertError, match="cannot write"):
        _write_folder(tmp_path / "file" / "data", {"a": "x"})
