"""The loopback targets' HTTP/1.1 side: keep-alive request reading and the server.

Raw gevent sockets and bytes.find, no framework, so that a request costs a target a
few microseconds: what each target answers is its own `respond`.
"""

from __future__ import annotations

import json
import resource
import socket
from collections.abc import Callable

from gevent.server import StreamServer

Respond = Callable[[socket.socket, bytes], None]


def content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end if end > 0 else None])


def json_response(payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def serve_connection(sock: socket.socket, state: dict[str, int], respond: Respond) -> None:
    """Read requests until the peer closes, each answered by `respond(sock, head)` (the
    body is read and dropped); counted in state["connections"] while open."""
    state["connections"] += 1
    buffer = b""
    try:
        while True:
            at = buffer.find(b"\r\n\r\n")
            while at < 0:
                chunk = sock.recv(262144)
                if not chunk:
                    return
                buffer += chunk
                at = buffer.find(b"\r\n\r\n")
            head = buffer[:at]
            need = at + 4 + content_length(head)
            while len(buffer) < need:
                chunk = sock.recv(262144)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[need:]
            respond(sock, head)
    except OSError:
        return
    finally:
        state["connections"] -= 1
        sock.close()


def serve(handler: Callable[[socket.socket, object], None]) -> None:
    """Listen on a free loopback port, print its URL (the benchmark reads it), serve."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    server = StreamServer(("127.0.0.1", 0), handler, backlog=4096)
    server.start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
