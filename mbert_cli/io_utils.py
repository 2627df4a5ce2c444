"""Atomic file and folder writes: an interrupted command never leaves a half file under the final name.

The temporary file comes from `mkstemp`, which creates it `0600` whatever the umask; it is
given the mode any other new file gets (`0666 & ~umask`) before the rename, so a teammate, a
web server or a CI step running as another user can read the model when the umask lets them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
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
        raise _unwritable(path, err) from None
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
        raise _unwritable(path, err) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path, tag: str = "tmp") -> Iterator[Path]:
    """Yields a new temporary folder next to `path`; on success it replaces `path` whole.

    The one way mbert writes a folder (prepared data, an imported run, an HF export, a
    copied data folder): the folder gets the umask's mode, a failure or a stop removes it,
    and a folder already at `path` is moved aside and deleted only after the new one is in
    place. Callers refuse beforehand what must not be replaced (e.g. a non-empty run).

    Raises:
        MbertError: the folder cannot be created or renamed into place (read-only, full disk).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{tag}-", dir=path.parent))
    except OSError as err:
        raise _unwritable(path, err) from None
    try:
        tmp.chmod(dir_mode())  # mkdtemp's 0700 would follow the folder through the rename
        yield tmp  # what the body raises (a read error, a stop) goes on unchanged
        try:
            _replace_dir(tmp, path)
        except OSError as err:
            raise _unwritable(path, err) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(new: Path, path: Path) -> None:
    """Renames `new` onto `path`, moving an existing `path` aside first and deleting it last."""
    if not path.exists() and not path.is_symlink():
        os.replace(new, path)
        return
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(old, path)  # put the previous folder back
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


def _unwritable(path: Path, err: OSError) -> MbertError:
    return MbertError(f"cannot write {path}: {err.strerror or err}",
                      hint="choose a writable folder with free space")


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (models, binaries, manifests)."""
    import hashlib  # noqa: PLC0415 - not loaded by `mbert --help` otherwise

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
