"""adb's RSA keys on the device side: Android's public key format, the user's key pair, token checks.

The adb client signs each 20-byte AUTH token with `RSA_sign(NID_sha1, token)`: PKCS#1 v1.5
over the token taken as a SHA-1 digest. A device checks that signature against the public keys
it trusts, kept in Android's own format (`adbkey.pub`, or a phone's `adb_keys`, one per line):
base64 of {u32 words, u32 n0inv = -1/n mod 2^32, n and R^2 mod n (R = 2^(32*words)) as
little-endian bytes, u32 exponent}, then ` user@host`.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import os
import socket
import struct
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_path

TOKEN_SIZE = 20  # adb's TOKEN_SIZE: the token is signed as if it were a SHA-1 digest
KEY_BITS = 2048  # what adb generates, and the only size adbd decodes
_WORD = struct.Struct("<I")


def encode_public_key(key: rsa.RSAPublicKey) -> bytes:
    """The binary struct Android stores for an RSA public key (android_pubkey_encode)."""
    numbers = key.public_numbers()
    size = (key.key_size + 31) // 32 * 4
    n0inv = (-pow(numbers.n, -1, 2**32)) % 2**32
    rr = pow(2, 2 * 8 * size, numbers.n)
    return (_WORD.pack(size // 4) + _WORD.pack(n0inv) + numbers.n.to_bytes(size, "little")
            + rr.to_bytes(size, "little") + _WORD.pack(numbers.e))


def decode_public_key(blob: bytes) -> rsa.RSAPublicKey:
    """Reads Android's binary public key struct; ValueError when it is not a consistent one."""
    if len(blob) < 12:
        raise ValueError(f"an Android RSA public key has at least 12 bytes, got {len(blob)}")
    words = _WORD.unpack_from(blob, 0)[0]
    size = words * 4
    if words == 0 or len(blob) != 12 + 2 * size:
        raise ValueError(f"an Android RSA public key of {words} words has {12 + 2 * size} bytes, got {len(blob)}")
    n0inv = _WORD.unpack_from(blob, 4)[0]
    n = int.from_bytes(blob[8:8 + size], "little")
    rr = int.from_bytes(blob[8 + size:8 + 2 * size], "little")
    e = _WORD.unpack_from(blob, 8 + 2 * size)[0]
    # n0inv and rr are derived from n: a mismatch means a corrupted (or forged) file.
    if n % 2 == 0 or (n * n0inv + 1) % 2**32 != 0 or rr != pow(2, 2 * 8 * size, n):
        raise ValueError("inconsistent Android RSA public key (n0inv or R^2 do not match the modulus)")
    return rsa.RSAPublicNumbers(e, n).public_key()


def format_public_key(key: rsa.RSAPublicKey, comment: str | None = None) -> str:
    """One `adbkey.pub` line: base64 of the struct, a space, `user@host` (adb's own comment)."""
    return base64.b64encode(encode_public_key(key)).decode() + " " + (comment or _user_at_host())


def parse_public_key(text: str | bytes) -> rsa.RSAPublicKey:
    """The key in one `adbkey.pub` line or AUTH RSAPUBLICKEY payload (base64, optional comment, NUL)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    fields = text.replace("\0", " ").split()
    if not fields:
        raise ValueError("empty Android public key")
    try:
        blob = base64.b64decode(fields[0], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an Android public key starts with base64") from None
    return decode_public_key(blob)


def read_authorized_keys(path: str | Path) -> list[rsa.RSAPublicKey]:
    """Every key in an `adbkey.pub` / `adb_keys` file (one per line); ValueError naming a bad line."""
    keys = []
    for number, line in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
        if line.strip():
            try:
                keys.append(parse_public_key(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    if not keys:
        raise ValueError(f"{path} holds no public key")
    return keys


def describe_key(payload: bytes) -> str:
    """A short printable label for an AUTH RSAPUBLICKEY payload: its `user@host`, or why it is unreadable."""
    try:
        parse_public_key(payload)
    except ValueError as exc:
        return f"unreadable key: {exc}"
    fields = payload.replace(b"\0", b" ").decode("ascii", "replace").split(maxsplit=1)
    comment = fields[1].strip() if len(fields) > 1 else "no comment"
    return "".join(c if c.isprintable() else "?" for c in comment)[:80]


def verify_token(keys: Iterable[rsa.RSAPublicKey], token: bytes, signature: bytes) -> bool:
    """Whether one of `keys` signed `token` the way the adb client does."""
    if len(token) != TOKEN_SIZE:
        return False
    for key in keys:
        try:
            key.verify(signature, token, padding.PKCS1v15(), Prehashed(hashes.SHA1()))
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def user_key_path() -> Path:
    """Where the adb client keeps the user's private key: `$HOME/.android/adbkey`."""
    return Path.home() / ".android" / "adbkey"


def ensure_key_pair(path: str | Path | None = None) -> Path:
    """Makes sure `path` (the user's adbkey by default) and `path.pub` exist, as adb would on first start.

    A missing pair is generated in adb's formats (PKCS#8 PEM, mode 0600; Android public key
    line). An existing private key is never replaced, even by a concurrent generator.
    """
    path = Path(path) if path is not None else user_key_path()
    try:
        return _ensure_key_pair(path)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: a passphrase-protected key
        raise MbertError(f"cannot read or make the adb key {path}: {exc}",
                         hint="fix or remove that key pair (adb makes a new one), or point HOME elsewhere") from None


def _ensure_key_pair(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600, as adb's
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            os.link(tmp, path)  # fails if another process made one meanwhile: that one stays
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    pub = path.with_name(path.name + ".pub")
    if not pub.exists():
        with atomic_path(pub) as tmp_pub:
            tmp_pub.write_text(format_public_key(_private_key(path).public_key()))
    return path


def user_public_keys(path: str | Path | None = None) -> list[rsa.RSAPublicKey]:
    """The public key of the user's adbkey (created with its pair if absent), from `adbkey.pub`."""
    private = ensure_key_pair(path)
    pub = private.with_name(private.name + ".pub")
    try:
        return read_authorized_keys(pub)
    except (OSError, ValueError) as exc:
        raise MbertError(f"cannot read your adb public key: {exc}",
                         hint=f"remove {pub}: it is made again from {private}") from None


def _private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def _user_at_host() -> str:
    try:
        user = os.environ.get("LOGNAME") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{os.environ.get('HOSTNAME') or socket.gethostname() or 'unknown'}"
