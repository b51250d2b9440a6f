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
import random
import sys
import time
from array import array

import gevent
from loopback import json_response, serve, serve_connection

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


def _control(head: bytes) -> bytes | None:
    if head.startswith(b"GET /_count"):
        return json_response(STATE)
    if head.startswith(b"GET /_stats"):
        return json_response(summarize(TRUTH_MS))
    if head.startswith(b"POST /_reset"):
        del TRUTH_MS[:]
        return json_response({"reset": True})
    return None


def make_handler(draw_seconds):  # type: ignore[no-untyped-def]
    def respond(sock, head: bytes) -> None:  # type: ignore[no-untyped-def]
        if (answer := _control(head)) is not None:
            sock.sendall(answer)
            return
        STATE["requests"] += 1
        if draw_seconds is None:
            sock.sendall(RESPONSE)
            return
        read_at = time.perf_counter()
        gevent.sleep(draw_seconds())
        sock.sendall(RESPONSE)
        TRUTH_MS.append((time.perf_counter() - read_at) * 1000.0)

    def handle(sock, _address) -> None:  # type: ignore[no-untyped-def]
        serve_connection(sock, STATE, respond)

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
    serve(make_handler(draw))


if __name__ == "__main__":
    sys.exit(main())
