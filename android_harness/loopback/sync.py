"""The `sync:` service (adb SYNC.TXT): STAT, LIST, SEND, RECV, QUIT.

Requests are [id 4 bytes][length u32 LE][payload] and may span WRTE messages, so they
are read from the stream's byte buffer, never from one message.
"""

from __future__ import annotations

import os
import stat
import struct
import tempfile
from pathlib import Path

from android_harness.loopback.stream import StreamClosed

SYNC_DATA_MAX = 64 * 1024
U32 = struct.Struct("<I")


def _fail(stream, message: str) -> None:
    data = message.encode()
    stream.write(b"FAIL" + U32.pack(len(data)) + data)


def serve(conn, stream, service: str) -> None:
    device = conn.device
    try:
        while True:
            head = stream.read_exact(8)
            ident, length = head[:4], U32.unpack(head[4:])[0]
            if ident == b"QUIT":
                return
            payload = stream.read_exact(length).decode("utf-8", "replace") if length else ""
            if ident == b"STAT":
                _stat(device, stream, payload)
            elif ident == b"LIST":
                _list(device, stream, payload)
            elif ident == b"SEND":
                _send(device, stream, payload)
            elif ident == b"RECV":
                _recv(device, stream, payload)
            else:
                _fail(stream, f"unknown sync request {ident!r}")
                return
    except StreamClosed:
        return


def _stat(device, stream, remote: str) -> None:
    path = device.host_path(remote)
    mode = size = mtime = 0
    if path is not None and path.exists():
        st = path.stat()
        shadow = device.tools.shadow_for(path) if path.is_file() else None
        mode, mtime = st.st_mode, int(st.st_mtime)
        size = shadow.stat().st_size if shadow else st.st_size
    elif remote.rstrip("/") in ("", "/data", "/data/local"):
        mode = stat.S_IFDIR | 0o771  # parents of the sandbox exist, as on a phone
    stream.write(b"STAT" + struct.pack("<III", mode, size & 0xFFFFFFFF, mtime))


def _list(device, stream, remote: str) -> None:
    path = device.host_path(remote)
    out = bytearray()
    if path is not None and path.is_dir():
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            st = entry.stat(follow_symlinks=False)
            name = entry.name.encode()
            out += b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size & 0xFFFFFFFF,
                                         int(st.st_mtime), len(name)) + name
    stream.write(bytes(out) + b"DONE" + struct.pack("<IIII", 0, 0, 0, 0))


def _send(device, stream, payload: str) -> None:
    remote, _, mode_text = payload.rpartition(",")
    if not remote:
        remote, mode_text = payload, "33188"
    mode = int(mode_text or "33188") & 0o777
    path = device.host_path(remote)
    # Like adbd, read the whole upload before answering so the client is never blocked.
    fd, tmp_name = tempfile.mkstemp(prefix=".mbert-push-", dir=device.tools.root)
    try:
        with os.fdopen(fd, "wb") as tmp:
            while True:
                head = stream.read_exact(8)
                ident, length = head[:4], U32.unpack(head[4:])[0]
                if ident == b"DATA":
                    tmp.write(stream.read_exact(length))
                elif ident == b"DONE":
                    mtime = length
                    break
                else:
                    _fail(stream, f"invalid data message {ident!r}")
                    return
        if path is None:
            _fail(stream, f"couldn't create file: Read-only file system: {remote}")
            return
        if "storage_full" in device.faults:
            _fail(stream, "write failed: No space left on device")
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_path = Path(tmp_name)
            if path.name == "benchmark_model" and tmp_path.read_bytes()[:4] == b"\x7fELF":
                device.tools.install_binary(path, tmp_path)
            else:
                os.replace(tmp_path, path)
            path.chmod(mode)
            os.utime(path, (mtime, mtime))
        except OSError as exc:
            _fail(stream, f"couldn't create file: {exc.strerror}")
            return
        stream.write(b"OKAY" + U32.pack(0))
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _recv(device, stream, remote: str) -> None:
    path = device.host_path(remote)
    if path is None or not path.is_file():
        _fail(stream, "open failed: No such file or directory")
        return
    source = device.tools.shadow_for(path) or path
    with open(source, "rb") as f:
        while chunk := f.read(SYNC_DATA_MAX):
            stream.write(b"DATA" + U32.pack(len(chunk)) + chunk)
    stream.write(b"DONE" + U32.pack(0))
