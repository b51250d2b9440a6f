"""A minimal loopback HTTP/1.1 target for the benchmark: keep-alive, canned 200, counts.

Raw gevent sockets and bytes.find, no framework: a request costs it a few
microseconds, so on its own core it is far from saturated while one Locust worker
saturates the other (the benchmark reports this process's CPU to show it).

With --service-time-ms (and --service-time-p99-ms, lognormal as in the simulator) it
holds each request for a time drawn from that known distribution before answering,
and records, per request, the server-side time from request read to response sent:
the truth against which the latency fidelity at high rates is measured (the
simulator, with SigV4 verification, serves far fewer requests per core than one
generator core sends, so it cannot be the truth at 80% of the generator's capacity).

GET /_count answers {"requests": n, "connections": open connections};
GET /_stats the truth summary (count, mean, p50, p90, p99 in ms, nearest rank);
POST /_reset clears the truth samples.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from array import array

import gevent
from gevent.server import StreamServer

from endpoint_loadtest.simulator.config import ServiceTime
from endpoint_loadtest.simulator.model import service_time_sampler
from endpoint_loadtest.simulator.stats import summarize

BODY = b'[{"label":"POSITIVE","score":0.9998}]'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
STATE = {"requests": 0, "connections": 0}
TRUTH_MS = array("d")


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end if end > 0 else None])


def _json(payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _control(head: bytes) -> bytes | None:
    if head.startswith(b"GET /_count"):
        return _json(STATE)
    if head.startswith(b"GET /_stats"):
        return _json(summarize(TRUTH_MS))
    if head.startswith(b"POST /_reset"):
        del TRUTH_MS[:]
        return _json({"reset": True})
    return None


def make_handler(draw_seconds):  # type: ignore[no-untyped-def]
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
                if (answer := _control(head)) is not None:
                    sock.sendall(answer)
                    continue
                STATE["requests"] += 1
                if draw_seconds is None:
                    sock.sendall(RESPONSE)
                    continue
                read_at = time.perf_counter()
                gevent.sleep(draw_seconds())
                sock.sendall(RESPONSE)
                TRUTH_MS.append((time.perf_counter() - read_at) * 1000.0)
        except OSError:
            return
        finally:
            STATE["connections"] -= 1
            sock.close()

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--service-time-ms", type=float, help="median; no delay when unset")
    parser.add_argument("--service-time-p99-ms", type=float, help="lognormal p99")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    draw = None
    if args.service_time_ms is not None:
        spec = ServiceTime(
            "lognormal", args.service_time_ms, args.service_time_p99_ms or args.service_time_ms
        )
        draw = service_time_sampler(spec, random.Random(args.seed))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    server = StreamServer(("127.0.0.1", 0), make_handler(draw), backlog=4096)
    server.start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
