"""What every benchmark script runs on: pinned processes, a Locust pair, CPU samples, plans.

The Locust worker under test is pinned to GEN_CPU; the target and the Locust master
(which only aggregates) to TARGET_CPU, so the worker's CPU is the generator's cost.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
GEN_CPU, TARGET_CPU = "0", "1"
ENV_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
SAGEMAKER_TARGET = {
    "kind": "sagemaker",
    "endpointName": "sim-endpoint",
    "region": "us-east-1",
    "contentType": "application/json",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, method: str = "GET", data: dict[str, Any] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def wait_until(condition, timeout: float, what: str, poll: float = 0.1) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out waiting for {what}")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv]


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        cwd=ROOT,
    )


def start_target(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python ARGS` on TARGET_CPU: a target or the simulator, which prints its URL."""
    return spawn(pinned(TARGET_CPU, [sys.executable, *args]), env, log)


def first_line_url(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("process exited before printing its URL")
        if line.startswith("http"):
            return line.strip()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CpuSample:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.t0 = self._busy()
        self.w0 = time.monotonic()

    def _busy(self) -> float:
        times = self.proc.cpu_times()
        return times.user + times.system

    def percent(self) -> float:
        return 100.0 * (self._busy() - self.t0) / (time.monotonic() - self.w0)


@dataclass(frozen=True)
class Interval:
    """A target's /_count before and after a measured interval, and the CPU over it."""

    before: dict[str, int]
    after: dict[str, int]
    seconds: float
    worker_cpu: float  # percent of one core
    target_cpu: float

    def rate(self, key: str) -> float:
        return (self.after[key] - self.before[key]) / self.seconds


def measure_interval(
    url: str, worker_pid: int, target_pid: int, warmup: float, seconds: float
) -> Interval:
    time.sleep(warmup)  # a fixed warm-up interval: JIT-free Python still fills caches, pools
    c0, t0 = http(f"{url}/_count"), time.monotonic()
    worker_cpu, target_cpu = CpuSample(worker_pid), CpuSample(target_pid)
    time.sleep(seconds)  # the measurement interval itself
    c1, t1 = http(f"{url}/_count"), time.monotonic()
    return Interval(c0, c1, t1 - t0, worker_cpu.percent(), target_cpu.percent())


def write_plan(
    path: Path, name: str, target: dict[str, Any], client: str, body: str, users: int
) -> Path:
    """A one-worker plan for the locustfile: one stage of `users`, no warm-up of its own."""
    plan = {
        "version": 1,
        "test": {"name": name, "runId": "bench"},
        "target": target,
        "client": client,
        "payload": {"selection": "roundRobin", "bodies": [{"name": "bench", "inline": body}]},
        "schedule": {
            "stages": [{"durationSeconds": None, "users": users, "spawnRate": users}],
            "warmupSeconds": 0,
            "durationSeconds": 60,
            "expectWorkers": 1,
            "workerConnectTimeoutSeconds": 60,
            "requestTimeoutSeconds": 30,
        },
    }
    path.write_text(json.dumps(plan))
    return path


class Generator:
    """A Locust master (TARGET_CPU, web API) and one worker (GEN_CPU) running one client.

    `env` carries the locustfile's settings (BENCH_CLIENT, ELT_PLAN_FILE, ...); the logs
    are master-LOGS.log and worker-LOGS.log in `workdir`."""

    def __init__(self, workdir: Path, env: dict[str, str], client: str, logs: str) -> None:
        self.web = f"http://127.0.0.1:{free_port()}"
        master_port = free_port()
        locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
        self.master = spawn(
            pinned(
                TARGET_CPU,
                [
                    *locust,
                    "--master",
                    "--master-bind-host=127.0.0.1",
                    f"--master-bind-port={master_port}",
                    "--web-host=127.0.0.1",
                    f"--web-port={self.web.rsplit(':', 1)[1]}",
                ],
            ),
            env,
            workdir / f"master-{logs}.log",
        )
        worker = [*locust, "--worker", "--master-host=127.0.0.1", f"--master-port={master_port}"]
        try:
            self.worker = spawn(pinned(GEN_CPU, worker), env, workdir / f"worker-{logs}.log")
        except BaseException:
            stop(self.master)
            raise
        try:
            wait_until(self._worker_ready, 60, f"the {client} worker to connect")
        except BaseException:
            self.close()
            raise

    def _worker_ready(self) -> bool:
        try:
            return len(self.stats().get("workers", [])) == 1
        except OSError:
            return False

    def stats(self) -> dict[str, Any]:
        return http(f"{self.web}/stats/requests")

    def swarm(self, users: int) -> None:
        http(f"{self.web}/swarm", "POST", {"user_count": users, "spawn_rate": users})

    def pace(self, rate: float, users: int) -> None:
        """Open model: the worker paces `rate` requests/s, at most `users` in flight."""
        http(f"{self.web}/bench/rate/{rate}/{users}", "POST", {})

    def phase(self, phase: str) -> None:
        http(f"{self.web}/bench/phase/{phase}", "POST", {})

    def result(self) -> dict[str, Any]:
        return http(f"{self.web}/bench/result")

    def users(self) -> int:
        return int(self.stats().get("user_count", 0))

    def rss(self) -> int:
        return psutil.Process(self.worker.pid).memory_info().rss

    def close(self) -> None:
        stop(self.worker)
        stop(self.master)
