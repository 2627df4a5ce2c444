"""The loopback device authenticates like a phone: adb's RSA AUTH, Android's key format."""

from __future__ import annotations

import base64
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from android_harness.attach import loopback_adb, private_adb
from android_harness.loopback import auth
from android_harness.loopback.device import LoopbackDevice
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
from mbert_cli.errors import MbertError

pytestmark = pytest.mark.timeout(180)
needs_adb = pytest.mark.skipif(shutil.which("adb") is None, reason="needs the adb client (make adb)")
ROOT = Path(__file__).resolve().parents[2]


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(key: rsa.RSAPrivateKey, token: bytes) -> bytes:
    """What the adb client sends: RSA_sign(NID_sha1, token) with its private key."""
    return key.sign(token, padding.PKCS1v15(), Prehashed(hashes.SHA1()))


# --- Android's public key format -------------------------------------------------------

def test_public_key_round_trip():
    key = new_key().public_key()
    line = auth.format_public_key(key, "me@box")
    blob = base64.b64decode(line.split()[0])
    # adb's layout: 64 words, n0inv, n and R^2 (little-endian), exponent last.
    assert len(blob) == 4 + 4 + 256 + 256 + 4 and struct.unpack_from("<I", blob)[0] == 64
    n = key.public_numbers().n
    assert int.from_bytes(blob[8:264], "little") == n
    assert struct.unpack_from("<I", blob, 4)[0] * n % 2**32 == 2**32 - 1
    assert struct.unpack_from("<I", blob, 520)[0] == 65537
    parsed = auth.parse_public_key(line)
    assert (parsed.public_numbers().n, parsed.public_numbers().e) == (n, 65537)
    assert line.endswith(" me@box")
    # As sent in AUTH RSAPUBLICKEY: NUL-terminated.
    assert auth.parse_public_key(line.encode() + b"\0").public_numbers() == key.public_numbers()


@pytest.mark.parametrize("damage", ["rr", "n0inv", "short", "not base64", "empty"])
def test_parser_rejects_damaged_keys(damage):
    blob = bytearray(auth.encode_public_key(new_key().public_key()))
    if damage == "rr":
        blob[300] ^= 1
    elif damage == "n0inv":
        blob[4] ^= 1
    elif damage == "short":
        del blob[-5:]
    text = {"not base64": "%%% me@box", "empty": " "}.get(damage, base64.b64encode(bytes(blob)).decode())
    with pytest.raises(ValueError):
        auth.parse_public_key(text)


def test_key_pair_made_once_in_adbs_formats(tmp_path):
    path = auth.ensure_key_pair(tmp_path / "dot-android" / "adbkey")
    assert path.stat().st_mode & 0o777 == 0o600
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    (public,) = auth.read_authorized_keys(path.with_name("adbkey.pub"))
    assert public.public_numbers() == private.public_key().public_numbers()
    before = path.read_bytes()
    auth.ensure_key_pair(path)
    assert path.read_bytes() == before  # an existing key is kept


def test_damaged_key_pair_is_one_clear_error(tmp_path):
    (tmp_path / "adbkey").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(MbertError, match="cannot read or make the adb key .*adbkey") as err:
        auth.user_public_keys(tmp_path / "adbkey")
    assert "adb makes a new one" in err.value.hint
    assert not (tmp_path / "adbkey.pub").exists()


@needs_adb
def test_formats_match_the_adb_client(tmp_path):
    # adb's own key pair parses, and adb reads the pair made here to the same public key.
    subprocess.run(["adb", "keygen", str(tmp_path / "theirs")], check=True, capture_output=True,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    theirs = serialization.load_pem_private_key((tmp_path / "theirs").read_bytes(), password=None)
    (parsed,) = auth.read_authorized_keys(tmp_path / "theirs.pub")
    assert parsed.public_numbers() == theirs.public_key().public_numbers()
    ours = auth.ensure_key_pair(tmp_path / "ours")
    shown = subprocess.run(["adb", "pubkey", str(ours)], check=True, capture_output=True, text=True,
                           env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
    assert shown.split()[0] == (tmp_path / "ours.pub").read_text().split()[0]


# --- the protocol, spoken over a raw socket ----------------------------------------------

class RawHost:
    """A bare adb host: the wire protocol only, no adb client."""

    def __init__(self, device: LoopbackDevice):
        self.sock = socket.create_connection(("127.0.0.1", device.port), timeout=20)

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        self.sock.sendall(pack(Message(command, arg0, arg1, data)))

    def recv(self) -> Message | None:
        return read_message(self.sock)

    def connect(self) -> bytes:
        """CNXN; returns the AUTH token the device answers with."""
        self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, b"host::\0")
        return self.expect_token()

    def expect_token(self) -> bytes:
        msg = self.recv()
        assert msg is not None and (msg.name, msg.arg0, len(msg.data)) == ("AUTH", AUTH_TOKEN, 20)
        return msg.data

    def shell(self, command: str, local_id: int = 7) -> Message | bytes:
        """OPEN shell:COMMAND; its output once it closes, or the device's first other answer."""
        self.send(A_OPEN, local_id, 0, f"shell:{command}\0".encode())
        msg = self.recv()
        if msg is None or msg.command != A_OKAY:
            return msg
        out = b""
        while (msg := self.recv()) is not None and msg.command != A_CLSE:
            if msg.command == A_WRTE:
                out += msg.data
                self.send(A_OKAY, local_id, msg.arg0)
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def device_key(tmp_path):
    """A fresh key pair and a loopback device that trusts only it (read from its .pub file)."""
    key = new_key()
    pub = tmp_path / "adb_keys"
    pub.write_text(auth.format_public_key(key.public_key(), "owner@host") + "\n")
    with LoopbackDevice(authorized_keys=[pub]) as device:
        yield device, key


def test_raw_host_without_the_key_gets_no_shell(device_key, capfd):
    device, key = device_key
    intruder = new_key()
    host = RawHost(device)
    try:
        token = host.connect()
        # No service before authentication: OPEN is refused, nothing runs.
        refused = host.shell("touch /data/local/tmp/pwned")
        assert refused is not None and refused.name == "CLSE"
        # A wrong key's signature, and the right key's signature of an old token, get new tokens.
        host.send(A_AUTH, AUTH_SIGNATURE, 0, sign(intruder, token))
        second = host.expect_token()
        host.send(A_AUTH, AUTH_SIGNATURE, 0, sign(key, token))
        third = host.expect_token()
        assert len({token, second, third}) == 3
        # The unknown public key is refused outright: the connection closes, no CNXN ever.
        host.send(A_AUTH, AUTH_RSAPUBLICKEY, 0,
                  auth.format_public_key(intruder.public_key(), "mallory@elsewhere").encode() + b"\0")
        assert host.recv() is None
    finally:
        host.close()
    assert not (device.sandbox / "pwned").exists()
    assert device.refused_keys == {"mallory@elsewhere"}
    assert "refused a host whose adb key is not authorised (mallory@elsewhere)" in capfd.readouterr().err


def test_raw_host_offering_the_authorised_public_key_is_still_refused(device_key):
    # The public key is public (adbkey.pub is world-readable): only a signature proves the holder.
    device, key = device_key
    host = RawHost(device)
    try:
        host.connect()
        host.send(A_AUTH, AUTH_RSAPUBLICKEY, 0,
                  auth.format_public_key(key.public_key(), "owner@host").encode() + b"\0")
        assert host.recv() is None
    finally:
        host.close()


def test_raw_host_with_the_key_gets_a_shell(device_key):
    # The control for the refusals above: the same raw host, signing with the authorised key.
    device, key = device_key
    host = RawHost(device)
    try:
        token = host.connect()
        host.send(A_AUTH, AUTH_SIGNATURE, 0, sign(new_key(), token))  # a first key that fails...
        host.send(A_AUTH, AUTH_SIGNATURE, 0, sign(key, host.expect_token()))  # ...then the right one
        msg = host.recv()
        assert msg is not None and msg.name == "CNXN" and b"ro.product.model=Pixel 4" in msg.data
        assert host.shell("echo hello > /data/local/tmp/made; cat /data/local/tmp/made") == b"hello\n"
    finally:
        host.close()
    assert (device.sandbox / "made").read_text() == "hello\n"


# --- the real adb client ----------------------------------------------------------------

@needs_adb
def test_real_client_signs_with_the_users_key(loopback):
    # The default device trusts the starting user's ~/.android/adbkey, which the private server holds.
    adb, (serial,) = loopback
    (trusted,) = loopback.devices[0].authorized_keys
    (users,) = auth.user_public_keys()
    assert trusted.public_numbers() == users.public_numbers()
    assert adb.shell(serial, ["sh", "-c", "echo hi"]).stdout == "hi\n"


@needs_adb
def test_first_start_makes_the_users_key(tmp_path, monkeypatch):
    # A user who never ran adb: the key pair is made in adb's place, then used by both sides.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with loopback_adb(1) as (adb, (serial,)):
        assert adb.shell(serial, ["echo", "first"]).stdout == "first\n"
    key = tmp_path / "home" / ".android" / "adbkey"
    assert key.stat().st_mode & 0o777 == 0o600 and key.with_name("adbkey.pub").is_file()


@needs_adb
def test_real_client_without_the_key_gets_no_shell(device_key):
    device, _key = device_key  # the private server holds the user's key, not this one
    with private_adb(timeout=20) as adb:
        adb.connect(device.address)
        with pytest.raises(MbertError):
            adb.shell(device.address, ["touch", "/data/local/tmp/pwned"])
        assert {d.serial: d.state for d in adb.devices()}.get(device.address) != "device"
    assert not (device.sandbox / "pwned").exists()
    assert device.refused_keys  # the client did offer its public key, and was turned away


def test_command_line_rejects_a_bad_key_file(tmp_path):
    bad = tmp_path / "adb_keys"
    bad.write_text("not a key\n")
    proc = subprocess.run([sys.executable, "-m", "android_harness.loopback", "--port", "0",
                           "--authorized-key", str(bad)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert f"{bad}:1: an Android public key starts with base64" in proc.stderr
    assert "Traceback" not in proc.stderr
