"""A one-question DNS client over UDP, to await the cluster DNS (no extra dependency)."""

from __future__ import annotations

import random
import socket
import struct


def _question(name: str) -> tuple[int, bytes]:
    ident = random.randrange(1 << 16)
    header = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    return ident, header + labels + b"\x00" + struct.pack(">HH", 1, 1)  # A, IN


def resolve_a(server: str, name: str, timeout: float = 1.0) -> list[str]:
    """The A records `server` gives for `name` (empty on NXDOMAIN or no answer)."""
    ident, query = _question(name)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query, (server, 53))
        reply, _ = sock.recvfrom(4096)
    got_id, flags, _, answers, _, _ = struct.unpack(">HHHHHH", reply[:12])
    if got_id != ident or flags & 0x000F:
        return []
    offset = len(query)
    found = []
    for _ in range(answers):
        if reply[offset] & 0xC0 == 0xC0:  # a compressed name pointer
            offset += 2
        else:
            while reply[offset]:
                offset += reply[offset] + 1
            offset += 1
        kind, _, _, length = struct.unpack(">HHIH", reply[offset : offset + 10])
        offset += 10
        if kind == 1 and length == 4:
            found.append(socket.inet_ntoa(reply[offset : offset + 4]))
        offset += length
    return found
