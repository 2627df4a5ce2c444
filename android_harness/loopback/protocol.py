"""adb wire format: the 24-byte message header and its commands.

Follows adb's protocol.txt: six little-endian u32 (command, arg0, arg1, data_length,
data_check, magic = command ^ 0xffffffff) followed by the payload.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<6I")

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257

A_VERSION = 0x01000001  # newest version we speak; the lower of both is answered
MAX_PAYLOAD = 256 * 1024

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN",
         A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE"}


@dataclass
class Message:
    """One adb message: command, two arguments and the payload."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, hex(self.command))


def checksum(data: bytes) -> int:
    """Byte sum of the payload; always sent because some clients reject 0."""
    return sum(data) & 0xFFFFFFFF


def pack(msg: Message) -> bytes:
    """Serializes a message with its header."""
    return HEADER.pack(msg.command, msg.arg0, msg.arg1, len(msg.data), checksum(msg.data),
                       msg.command ^ 0xFFFFFFFF) + msg.data


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_message(sock: socket.socket) -> Message | None:
    """Reads one message; None when the peer closed or sent a malformed header."""
    head = _read_exact(sock, HEADER.size)
    if head is None:
        return None
    command, arg0, arg1, length, _check, magic = HEADER.unpack(head)
    # The checksum is not verified: clients at A_VERSION >= 0x01000001 send 0.
    if magic != command ^ 0xFFFFFFFF or length > 16 * 1024 * 1024:
        return None
    data = _read_exact(sock, length) if length else b""
    if data is None:
        return None
    return Message(command, arg0, arg1, data)
