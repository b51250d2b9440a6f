"""Latency fidelity: what the fast client reports against the server's own response times.

Closed and open model at LOAD_FRACTION of the worker's capacity against the timed
target (bench/target.py: the known distribution, fast enough for high rates), and at a
low rate against the SageMaker simulator (SigV4 verified); a one-request-at-a-time
baseline shows what any client sees beyond the server's own time.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from array import array
from pathlib import Path
from typing import Any

from cost import BODY, measure_throughput, start_generator
from harness import (
    ENV_AWS,
    GEN_CPU,
    ROOT,
    CpuSample,
    first_line_url,
    http,
    start_target,
    stop,
    wait_until,
)

from endpoint_loadtest.simulator.config import ServiceTime
from endpoint_loadtest.simulator.stats import summarize

MEDIAN_MS, P99_MS = 20.0, 50.0  # the known service-time distribution (lognormal)
LOAD_FRACTION = 0.8  # fidelity at this fraction of the fast client's capacity


def start_simulator(workdir: Path, median: float, p99: float) -> subprocess.Popen:
    return start_target(
        [
            "-m",
            "endpoint_loadtest.simulator",
            "--port=0",
            "--no-cloudwatch",
            "--log-level=warning",
            "--instances=50",
            "--vcpus=16",
            "--queue-depth=1000",
            "--distribution=lognormal",
            f"--service-time-ms={median}",
            f"--service-time-p99-ms={p99}",
            "--overhead-ms=0",
            "--seed=7",
        ],
        ENV_AWS,
        workdir / "simulator.log",
    )


def start_timed_target(workdir: Path, median: float, p99: float) -> subprocess.Popen:
    return start_target(
        [
            str(ROOT / "bench" / "target.py"),
            f"--service-time-ms={median}",
            f"--service-time-p99-ms={p99}",
        ],
        {},
        workdir / "timed-target.log",
    )


class Truth:
    """The server's own response times: the simulator's, or the timed target's."""

    def __init__(self, url: str, simulator: bool) -> None:
        self.url, self.simulator = url, simulator

    def reset(self) -> None:
        http(f"{self.url}/{'_simulator/reset' if self.simulator else '_reset'}", "POST", {})

    def summary(self) -> dict[str, Any]:
        if not self.simulator:
            return http(f"{self.url}/_stats")
        stats = http(f"{self.url}/_simulator/stats")
        return stats["endpoints"]["sim-endpoint"]["variants"]["AllTraffic"]["response_ms"]


def _error(reported: float | None, true: float) -> float | None:
    return None if reported is None else round(abs(reported - true) / true, 4)


class Server:
    """A running truth server: the simulator (SigV4 verified) or the timed target
    (bench/target.py with the same distribution, fast enough for high rates)."""

    def __init__(self, workdir: Path, kind: str, median: float, p99: float) -> None:
        self.kind = kind
        start = start_simulator if kind == "simulator" else start_timed_target
        self.proc = start(workdir, median, p99)
        self.url = first_line_url(self.proc)
        self.truth = Truth(self.url, kind == "simulator")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)


def measure_fidelity(
    workdir: Path,
    server: Server,
    users: int,
    warmup: float,
    seconds: float,
    rate: float | None = None,
) -> dict[str, Any]:
    """Reported vs the server's own latency: closed (`users`), or open (`rate` req/s,
    at most `users` in flight)."""
    gen = start_generator(workdir, "fast", server.url, users)
    try:
        if rate is None:
            gen.swarm(users)
        else:
            gen.pace(rate, users)
        wait_until(lambda: gen.result()["requestsByPhase"]["warmup"] > 100, 60, "warmup")
        time.sleep(warmup)  # fixed warm-up interval
        server.truth.reset()
        gen.phase("measure")
        server_cpu, worker_cpu = CpuSample(server.proc.pid), CpuSample(gen.worker.pid)
        t0 = time.monotonic()
        time.sleep(seconds)  # the measurement window
        gen.phase("done")
        elapsed = time.monotonic() - t0
        s_cpu, w_cpu = server_cpu.percent(), worker_cpu.percent()
        # the worker's final flush: its last statistics and its fine histograms
        measured = wait_until(
            lambda: (r := gen.result())["flushed"] == 1 and r, 60, "the worker's flush"
        )
    finally:
        gen.close()
    true = server.truth.summary()
    reported = measured["latencyMs"]
    service = measured.get("serviceLatencyMs") or {}
    return {
        "mode": "closed" if rate is None else "open",
        "server": server.kind,
        "users" if rate is None else "max_in_flight": users,
        "target_rps": rate,
        "rps": round(measured["requests"] / elapsed, 1),
        "requests": measured["requests"],
        "failures": measured["failures"],
        "shortfall": measured.get("shortfall"),
        "worker_cpu_percent": round(w_cpu, 1),
        "server_cpu_percent": round(s_cpu, 1),
        "true_ms": {"p50": true["p50"], "p99": true["p99"], "count": true["count"]},
        "reported_ms": {"p50": reported["p50"], "p99": reported["p99"]},
        "service_ms": {"p50": service.get("p50"), "p99": service.get("p99")},
        "p50_error": _error(reported["p50"], true["p50"]),
        "p99_error": _error(reported["p99"], true["p99"]),
        "service_p50_error": _error(service.get("p50"), true["p50"]),
        "service_p99_error": _error(service.get("p99"), true["p99"]),
    }


def measure_baseline(server: Server, requests: int = 600) -> dict[str, Any]:
    """What any client sees beyond the server's own time: one blocking socket client on
    the worker's core, one request at a time, prebuilt bytes, no event loop. The
    difference to the truth is the loopback and the server's own reading and writing,
    not the generator's error."""
    request = (
        b"POST /endpoints/sim-endpoint/invocations HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(BODY)).encode()
        + b"\r\n\r\n"
        + BODY.encode()
    )
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(GEN_CPU)})
    try:
        with socket.create_connection((host, int(port))) as sock:

            def one() -> float:
                started = time.perf_counter()
                sock.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(rest) < length:
                    rest += sock.recv(65536)
                return (time.perf_counter() - started) * 1000.0

            one()
            server.truth.reset()
            seen = [one() for _ in range(requests)]
    finally:
        os.sched_setaffinity(0, affinity)
    true, client = server.truth.summary(), summarize(array("d", seen))
    return {
        "requests": requests,
        "client_p50_ms": round(client["p50"], 3),
        "true_p50_ms": round(true["p50"], 3),
        "client_mean_ms": round(client["mean"], 3),
        "true_mean_ms": round(true["mean"], 3),
        "overhead_ms": round(client["mean"] - true["mean"], 3),
    }


def fidelity_runs(
    args: argparse.Namespace, workdir: Path, canned: tuple[float, float]
) -> dict[str, Any]:
    """Closed and open model at LOAD_FRACTION of the worker's capacity against the
    timed target, and at a low rate against the SigV4-verifying simulator.

    The capacity is measured against the timed target itself, as requests per second of
    worker CPU at half of `canned` (the capacities against the instant target): with
    20 ms responses more requests are in flight and each costs the worker more CPU,
    and a saturated worker batches its work, so what it sends saturated overstates
    what it sends with its latency intact."""
    mean_s = ServiceTime("lognormal", MEDIAN_MS, P99_MS).mean_ms / 1000.0
    runs: dict[str, Any] = {}
    common = (args.warmup, args.seconds)
    with Server(workdir, "timed", MEDIAN_MS, P99_MS) as timed:
        baseline = measure_baseline(timed)
        closed_cap = measure_throughput(
            workdir, "fast", timed.url, timed.proc.pid, round(0.5 * canned[0] * mean_s), *common
        )["rps_per_core"]
        open_cap = measure_throughput(
            workdir, "fast", timed.url, timed.proc.pid, 1000, *common, rate=round(0.5 * canned[1])
        )["rps_per_core"]
        rate = round(LOAD_FRACTION * open_cap, -1)
        # Little's law: the users that offer LOAD_FRACTION of the capacity in a closed loop
        users = max(1, round(LOAD_FRACTION * closed_cap * mean_s))
        runs["closed_high"] = measure_fidelity(workdir, timed, users, *common)
        runs["open_high"] = measure_fidelity(
            workdir, timed, max(1000, round(4 * rate * mean_s)), *common, rate=rate
        )
        runs["closed_high"]["load_fraction"] = round(runs["closed_high"]["rps"] / closed_cap, 2)
        runs["open_high"]["load_fraction"] = round(runs["open_high"]["rps"] / open_cap, 2)
    with Server(workdir, "simulator", MEDIAN_MS, P99_MS) as simulator:
        runs["closed_simulator"] = measure_fidelity(
            workdir, simulator, args.fidelity_users, *common
        )
        runs["open_simulator"] = measure_fidelity(
            workdir, simulator, 1000, *common, rate=args.open_rate
        )
        for name in ("closed_simulator", "open_simulator"):
            full = closed_cap if name.startswith("closed") else open_cap
            runs[name]["load_fraction"] = round(runs[name]["rps"] / full, 2)
    for name, row in runs.items():
        print(f"  {name}: {row}", flush=True)
    return {
        "capacity_rps_per_core": {"closed": closed_cap, "open": open_cap},
        "baseline": baseline,
        **runs,
    }
