"""The loopback device: a TCP listener on 127.0.0.1 that `adb connect` attaches.

Each accepted connection is one adb transport. It authenticates like a phone: the host's
CNXN gets AUTH(TOKEN, 20 random bytes); a SIGNATURE made with the private half of an
authorised key (by default the starting user's `~/.android/adbkey`) gets CNXN, any other a
fresh token; an RSAPUBLICKEY (what a phone shows its user as a prompt) closes the
connection, since a public key proves nothing; before CNXN nothing but AUTH is served.
Then OPEN of `shell:`, `shell,v2:` and `sync:` streams are served in threads. The
device's storage is a sandbox folder standing in for `/data/local/tmp`; its shell is the host's `/bin/sh` with paths mapped into it, so never
point a loopback device at a folder you care about.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from android_harness.loopback import auth, shell, sync, tools
from android_harness.loopback.protocol import (
    A_AUTH,
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    AUTH_RSAPUBLICKEY,
    AUTH_SIGNATURE,
    AUTH_TOKEN,
    MAX_PAYLOAD,
    Message,
    pack,
    read_message,
)
from android_harness.loopback.stream import Stream

DEVICE_ROOT = "/data/local/tmp"
FAULTS = ("disconnect_mid_run", "unauthorized", "missing_binary", "storage_full", "slow")
FEATURES = "shell_v2,cmd"  # only what is implemented: advertising more breaks the client


def default_props(port: int) -> dict[str, str]:
    """System properties of the stand-in Pixel 4; `ro.mbert.loopback=1` marks it."""
    return {
        "ro.product.name": "flame",
        "ro.product.model": "Pixel 4",
        "ro.product.device": "flame",
        "ro.product.brand": "google",
        "ro.product.manufacturer": "Google",
        "ro.product.cpu.abi": "arm64-v8a",
        "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
        "ro.board.platform": "msmnile",
        "ro.soc.model": "SM8150",
        "ro.build.version.release": "12",
        "ro.build.version.sdk": "31",
        "ro.build.id": "MBERT.LOOPBACK",
        "ro.build.display.id": "mbert-loopback",
        "ro.build.fingerprint": "google/flame/flame:12/MBERT.LOOPBACK/1:userdebug/loopback",
        "ro.serialno": f"loopback-{port}",
        "ro.mbert.loopback": "1",
    }


def normalize_faults(faults: dict | Iterable[str] | None) -> dict[str, float]:
    """Accepts {'slow': 2} or ['missing_binary', 'slow=2']; returns name -> value."""
    out: dict[str, float] = {}
    if not faults:
        return out
    items = faults.items() if isinstance(faults, dict) else (
        (f.split("=", 1)[0], f.split("=", 1)[1] if "=" in f else True) for f in faults)
    for name, value in items:
        if name not in FAULTS:
            raise ValueError(f"unknown loopback fault {name!r}; known: {', '.join(FAULTS)}")
        if value is False or value is None:
            continue
        out[name] = float(value) if name == "slow" and value is not True else (
            2.0 if name == "slow" else 1.0)
    return out


class Connection:
    """One adb transport over one TCP connection."""

    def __init__(self, device: LoopbackDevice, sock: socket.socket):
        self.device = device
        self.sock = sock
        self.max_payload = MAX_PAYLOAD
        self.streams: dict[int, Stream] = {}
        self.processes: set = set()
        self._send_lock = threading.Lock()
        self._next_id = 1
        self._online = False
        self._token: bytes | None = None  # the AUTH token awaiting a signature
        self._host_version = A_VERSION
        self.alive = True

    def send(self, msg: Message) -> None:
        data = pack(msg)
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.drop()

    def drop(self) -> None:
        """Closes the TCP connection at once, as a pulled cable would."""
        if not self.alive:
            return
        self.alive = False
        for proc in list(self.processes):
            shell.kill(proc)
        for stream in list(self.streams.values()):
            stream.remote_close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def serve(self) -> None:
        try:
            while self.alive:
                msg = read_message(self.sock)
                if msg is None:
                    break
                self._dispatch(msg)
        except OSError:
            pass
        finally:
            self.drop()
            self.device._forget(self)  # noqa: SLF001 - the device owns its connection list

    def _dispatch(self, msg: Message) -> None:
        if msg.command == A_CNXN:
            self.max_payload = min(msg.arg1 or MAX_PAYLOAD, MAX_PAYLOAD)
            self._host_version = msg.arg0
            if self._online:  # a reconnecting host on the same transport: no new proof needed
                self._send_cnxn()
            else:
                self._send_auth_token()
        elif msg.command == A_AUTH:
            if not self._online:
                self._auth(msg)
        elif not self._online:
            if msg.command == A_OPEN:  # refused: no service before authentication
                self.send(Message(A_CLSE, 0, msg.arg0))
        elif msg.command == A_OPEN:
            self._open(msg)
        elif msg.command == A_WRTE:
            stream = self.streams.get(msg.arg1)
            if stream is None:
                self.send(Message(A_CLSE, 0, msg.arg0))
                return
            stream.feed(msg.data)
            self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
        elif msg.command == A_OKAY:
            stream = self.streams.get(msg.arg1)
            if stream is not None:
                stream.okay()
        elif msg.command == A_CLSE:
            stream = self.streams.pop(msg.arg1, None)
            if stream is not None:
                stream.remote_close()

    def _auth(self, msg: Message) -> None:
        """One AUTH answer from the host, checked as adbd checks it."""
        if msg.arg0 == AUTH_SIGNATURE and self._token is not None:
            token, self._token = self._token, None  # each token is good for one try
            if "unauthorized" not in self.device.faults and \
                    auth.verify_token(self.device.authorized_keys, token, msg.data):
                self._online = True
                self._send_cnxn()
            else:
                self._send_auth_token()  # the host tries its next key, as with adbd
        elif msg.arg0 == AUTH_RSAPUBLICKEY:
            if "unauthorized" in self.device.faults:
                return  # a phone whose user never answers the prompt: unauthorized for good
            # A phone would ask its user; this device has none to ask, and a public key is
            # no proof of holding its private half, so the host is refused outright.
            self.device.note_refused(auth.describe_key(msg.data))
            self.drop()

    def _send_cnxn(self) -> None:
        self.send(Message(A_CNXN, min(self._host_version, A_VERSION), self.max_payload,
                          self.device.banner().encode()))

    def _send_auth_token(self) -> None:
        self._token = os.urandom(auth.TOKEN_SIZE)
        self.send(Message(A_AUTH, AUTH_TOKEN, 0, self._token))

    def _open(self, msg: Message) -> None:
        service = msg.data.rstrip(b"\0").decode("utf-8", "replace")
        handler = self._service_handler(service)
        if handler is None:
            self.send(Message(A_CLSE, 0, msg.arg0))
            return
        local_id = self._next_id
        self._next_id += 1
        stream = Stream(local_id, msg.arg0, self.send, self.max_payload)
        self.streams[local_id] = stream
        threading.Thread(target=self._run_service, args=(handler, stream, service),
                         name=f"loopback-{service[:20]}", daemon=True).start()

    def _run_service(self, handler, stream: Stream, service: str) -> None:
        slow = self.device.faults.get("slow")
        if slow:
            time.sleep(slow)  # the `slow` fault: every request is answered late
        if not self.alive:
            return
        self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
        try:
            handler(self, stream, service)
        except Exception as exc:  # noqa: BLE001 - a service bug must not take the device down
            print(f"loopback: {service!r} failed: {exc!r}", file=sys.stderr)
        finally:
            if self.alive:
                stream.close()
            self.streams.pop(stream.local_id, None)

    def _service_handler(self, service: str):
        if service.startswith("shell"):
            return shell.serve
        if service == "sync:":
            return sync.serve
        return None


def _load_keys(keys: Iterable[str | Path | rsa.RSAPublicKey] | None) -> list[rsa.RSAPublicKey]:
    """Public keys from files and key objects; the user's own adb key when None."""
    if keys is None:
        return auth.user_public_keys()
    out: list[rsa.RSAPublicKey] = []
    for key in keys:
        out += [key] if isinstance(key, rsa.RSAPublicKey) else auth.read_authorized_keys(key)
    return out


class LoopbackDevice:
    """A stand-in Android device reachable with `adb connect 127.0.0.1:PORT`.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        sandbox: folder standing in for /data/local/tmp; a temporary one when None
            (removed on stop).
        faults: fault switches, e.g. {'slow': 2} or ['missing_binary'].
        props: system properties overriding the Pixel 4 defaults.
        benchmark_model: offer a benchmark_model at /data/local/tmp/benchmark_model, as a
            phone with one already pushed (`mbert bench --device ...` finds it without a
            --benchmark-binary); False for a device that has none.
        authorized_keys: the public keys whose holders get a shell: `adbkey.pub`/`adb_keys`
            files or key objects; None trusts only the starting user's `~/.android/adbkey`
            (made with its pair if absent, as the adb client does on first start).
    """

    def __init__(self, port: int = 0, sandbox: str | Path | None = None,
                 faults: dict | Iterable[str] | None = None, props: dict | None = None,
                 host: str = "127.0.0.1", benchmark_model: bool = True,
                 authorized_keys: Iterable[str | Path | rsa.RSAPublicKey] | None = None):
        self.faults = normalize_faults(faults)
        self.authorized_keys = _load_keys(authorized_keys)
        self._host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self.port = self._listener.getsockname()[1]
        self._own_sandbox = sandbox is None
        self.sandbox = Path(sandbox or tempfile.mkdtemp(prefix="mbert-loopback-sandbox-")).resolve()
        self.sandbox.mkdir(parents=True, exist_ok=True)
        self.props = default_props(self.port) | dict(props or {})
        self.tools = tools.ToolsDir(self.props)
        # Commands are mapped by text substitution, so the sandbox must be reachable by a
        # path with no shell-special characters: a folder "my box" would split in two.
        self.shell_root = self.sandbox
        if not re.fullmatch(r"[\w./+-]+", str(self.sandbox)):
            self.shell_root = self.tools.root / "data_local_tmp"
            self.shell_root.symlink_to(self.sandbox, target_is_directory=True)
        offered = self.sandbox / "benchmark_model"
        if benchmark_model and not offered.exists():
            self.tools.offer_binary(offered, self.props["ro.product.cpu.abi"])
        self.disconnect_fired = False
        self.refused_keys: set[str] = set()  # labels of the keys refused so far
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def note_refused(self, key: str) -> None:
        """Says once per key on stderr that a host was refused (adb retries every second or so)."""
        with self._lock:
            first = key not in self.refused_keys
            self.refused_keys.add(key)
        if first:
            print(f"loopback {self.address}: refused a host whose adb key is not authorised ({key}); "
                  f"only the holder of an authorised key gets a shell", file=sys.stderr)

    @property
    def address(self) -> str:
        """What to pass to `adb connect`; also the device's serial once attached."""
        return f"{self._host}:{self.port}"

    def banner(self) -> str:
        p = self.props
        return (f"device::ro.product.name={p['ro.product.name']};"
                f"ro.product.model={p['ro.product.model']};"
                f"ro.product.device={p['ro.product.device']};features={FEATURES}")

    def start(self) -> LoopbackDevice:
        self._listener.listen(8)
        self._listener.settimeout(0.2)  # lets the accept loop notice stop()
        self._thread = threading.Thread(target=self._accept_loop, name=f"loopback-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=conn.serve, name=f"loopback-conn-{self.port}",
                             daemon=True).start()

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            self._connections.discard(conn)

    def disconnect_all(self) -> None:
        """Drops every transport, as unplugging the cable would."""
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            conn.drop()

    def stop(self) -> None:
        """Stops listening, drops connections, kills processes, removes temporary files."""
        self._stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        self.disconnect_all()
        if self._thread is not None:
            self._thread.join(5)
        self.tools.remove()
        if self._own_sandbox:
            shutil.rmtree(self.sandbox, ignore_errors=True)

    def __enter__(self) -> LoopbackDevice:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Path mapping between the device's /data/local/tmp and the sandbox.
    def to_host(self, text: str) -> str:
        return text.replace(DEVICE_ROOT, str(self.shell_root))

    def to_device(self, data: bytes) -> bytes:
        for root in {str(self.shell_root), str(self.sandbox)}:
            data = data.replace(root.encode(), DEVICE_ROOT.encode())
        return data

    def host_path(self, device_path: str) -> Path | None:
        """Maps a device path into the sandbox; None for paths outside /data/local/tmp."""
        norm = os.path.normpath(device_path)
        if norm == DEVICE_ROOT or norm.startswith(DEVICE_ROOT + "/"):
            return self.sandbox / os.path.relpath(norm, DEVICE_ROOT)
        return None
