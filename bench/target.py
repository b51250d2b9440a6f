"""A minimal loopback HTTP/1.1 target for the benchmark: keep-alive, canned 200, counts.

Raw gevent sockets and bytes.find, no framework: a request costs it a few
microseconds, so on its own core it is far from saturated while one Locust worker
saturates the other (the benchmark reports this process's CPU to show it).
GET /_count answers {"requests": n, "connections": open connections}.
"""

from __future__ import annotations

import json
import resource
import sys

from gevent.server import StreamServer

BODY = b'[{"label":"POSITIVE","score":0.9998}]'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
STATE = {"requests": 0, "connections": 0}


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end if end > 0 else None])


def handle(sock, _address) -> None:  # type: ignore[no-untyped-def]
    STATE["connections"] += 1
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
            need = at + 4 + _content_length(head)
            while len(buffer) < need:
                chunk = sock.recv(262144)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[need:]
            if head.startswith(b"GET /_count"):
                body = json.dumps(STATE).encode()
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                continue
            STATE["requests"] += 1
            sock.sendall(RESPONSE)
    except OSError:
        return
    finally:
        STATE["connections"] -= 1
        sock.close()


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    server = StreamServer(("127.0.0.1", 0), handle, backlog=4096)
    server.start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
