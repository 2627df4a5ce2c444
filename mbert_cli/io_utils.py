"""Atomic file writes: an interrupted command never leaves a half file under the final name.

The temporary file comes from `mkstemp`, which creates it `0600` whatever the umask; it is
given the mode any other new file gets (`0666 & ~umask`) before the rename, so a teammate, a
web server or a CI step running as another user can read the model when the umask lets them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mbert_cli.errors import MbertError


def current_umask() -> int:
    """The process umask, read without changing it where the OS shows it (Linux /proc).

    `os.umask` can only be read by setting it, which for a moment changes the mode of files
    other threads create; /proc/self/status has it read-only (Linux 4.7+).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open()` would give a new file under the current umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """The mode `mkdir()` would give a new folder under the current umask."""
    return 0o777 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to `path`; renames it onto `path` only on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise MbertError(f"cannot write {path}: {err.strerror}",
                         hint="choose a writable folder with free space") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, file_mode())  # mkstemp's 0600 would follow the file through the rename
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # data on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        raise MbertError(f"cannot write {path}: {err.strerror}",
                         hint="choose a writable folder with free space") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path, tag: str) -> Iterator[Path]:
    """Yields a new temporary folder next to `path` (mode from the umask); on success it
    replaces `path`, which must be absent or empty; on any failure it is removed."""
    import shutil  # noqa: PLC0415

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{tag}-", dir=path.parent))
    try:
        tmp.chmod(dir_mode())  # mkdtemp's 0700 would follow the folder through the rename
        yield tmp
        if path.exists():
            path.rmdir()  # only an empty folder is replaced
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (models, binaries, manifests)."""
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
