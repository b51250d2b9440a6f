"""`make bench`: load-generator cost and latency fidelity, measured in one run.

Layout on a 2-core machine: the Locust worker under test is pinned to core 0 with
taskset; the target (and the Locust master, which only aggregates) to core 1. Each
measurement samples the worker's and the target's CPU from /proc (psutil) over the
same interval as the request count, so the table shows the worker saturated and the
target not. See docs/performance.md for the method and the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
BODY = '{"inputs": "I am super happy right now."}'
GEN_CPU, TARGET_CPU = "0", "1"
ENV_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
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


def write_plan(workdir: Path, url: str, client: str, users: int) -> Path:
    plan = {
        "version": 1,
        "test": {"name": "bench", "runId": "bench"},
        "target": {
            "kind": "sagemaker",
            "endpointName": "sim-endpoint",
            "region": "us-east-1",
            "contentType": "application/json",
        },
        "client": client,
        "payload": {"selection": "roundRobin", "bodies": [{"name": "bench", "inline": BODY}]},
        "schedule": {
            "stages": [{"durationSeconds": None, "users": users, "spawnRate": users}],
            "warmupSeconds": 0,
            "durationSeconds": 60,
            "expectWorkers": 1,
            "workerConnectTimeoutSeconds": 60,
            "requestTimeoutSeconds": 30,
        },
    }
    path = workdir / f"plan-{client}-{users}.json"
    path.write_text(json.dumps(plan))
    return path


class Generator:
    """A Locust master (core 1, web API) and one worker (core 0) running one client."""

    def __init__(self, workdir: Path, client: str, url: str, users: int) -> None:
        self.web = f"http://127.0.0.1:{free_port()}"
        master_port = free_port()
        env = {
            **ENV_AWS,
            "BENCH_CLIENT": client,
            "BENCH_RAW_URL": url,
            "BENCH_BODY": BODY,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
            "ELT_PLAN_FILE": str(write_plan(workdir, url, client, users)),
        }
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
            workdir / f"master-{client}.log",
        )
        self.worker = spawn(
            pinned(
                GEN_CPU,
                [*locust, "--worker", "--master-host=127.0.0.1", f"--master-port={master_port}"],
            ),
            env,
            workdir / f"worker-{client}.log",
        )
        wait_until(self._worker_ready, 60, f"the {client} worker to connect")

    def _worker_ready(self) -> bool:
        try:
            return len(http(f"{self.web}/stats/requests").get("workers", [])) == 1
        except OSError:
            return False

    def swarm(self, users: int) -> None:
        http(f"{self.web}/swarm", "POST", {"user_count": users, "spawn_rate": users})

    def phase(self, phase: str) -> None:
        http(f"{self.web}/bench/phase/{phase}", "POST", {})

    def result(self) -> dict[str, Any]:
        return http(f"{self.web}/bench/result")

    def users(self) -> int:
        return int(http(f"{self.web}/stats/requests").get("user_count", 0))

    def rss(self) -> int:
        return psutil.Process(self.worker.pid).memory_info().rss

    def close(self) -> None:
        stop(self.worker)
        stop(self.master)


def target_count(url: str) -> dict[str, int]:
    return http(f"{url}/_count")


def measure_throughput(
    workdir: Path, client: str, url: str, target_pid: int, users: int, warmup: float, seconds: float
) -> dict[str, Any]:
    gen = Generator(workdir, client, url, users)
    try:
        gen.swarm(users)
        wait_until(lambda: target_count(url)["requests"] > 100, 60, f"{client} requests")
        time.sleep(warmup)  # a fixed warm-up interval: JIT-free Python still fills caches, pools
        c0, t0 = target_count(url)["requests"], time.monotonic()
        worker_cpu, target_cpu = CpuSample(gen.worker.pid), CpuSample(target_pid)
        time.sleep(seconds)  # the measurement interval itself
        c1, t1 = target_count(url)["requests"], time.monotonic()
        w_cpu, tg_cpu = worker_cpu.percent(), target_cpu.percent()
    finally:
        gen.close()
    rps = (c1 - c0) / (t1 - t0)
    return {
        "client": client,
        "users": users,
        "rps": round(rps, 1),
        "worker_cpu_percent": round(w_cpu, 1),
        "target_cpu_percent": round(tg_cpu, 1),
        # requests per second of one fully used core
        "rps_per_core": round(rps / max(w_cpu / 100.0, 1e-9), 1),
    }


def measure_memory(workdir: Path, client: str, url: str, users: int) -> dict[str, Any]:
    gen = Generator(workdir, client, url, users)
    try:
        gen.swarm(1)
        wait_until(lambda: target_count(url)["connections"] >= 1, 60, "one connection")
        time.sleep(2.0)  # let the one user settle before the baseline RSS
        base = gen.rss()
        gen.swarm(users)
        wait_until(lambda: gen.users() >= users, 120, f"{users} running users")
        time.sleep(3.0)  # every user has made requests; the pool has grown to what they need
        connections = target_count(url)["connections"]
        loaded = gen.rss()
    finally:
        gen.close()
    return {
        "client": client,
        "users": users,
        "rss_base_mb": round(base / 2**20, 1),
        "rss_loaded_mb": round(loaded / 2**20, 1),
        "target_connections": connections,
        "mb_per_1000_users": round((loaded - base) / 2**20 / (users - 1) * 1000, 1),
    }


def start_simulator(workdir: Path, median: float, p99: float) -> subprocess.Popen:
    return spawn(
        pinned(
            TARGET_CPU,
            [
                sys.executable,
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
        ),
        ENV_AWS,
        workdir / "simulator.log",
    )


def measure_fidelity(
    workdir: Path,
    users: int,
    warmup: float,
    seconds: float,
    median: float,
    p99: float,
    rate: float | None = None,
) -> dict[str, Any]:
    """Reported vs the simulator's own latency: closed (users), or open (`rate` req/s)."""
    sim = start_simulator(workdir, median, p99)
    try:
        url = first_line_url(sim)
        gen = Generator(workdir, "fast", url, users)
        try:
            if rate is None:
                gen.swarm(users)
            else:  # open model, at most `users` in flight
                http(f"{gen.web}/bench/rate/{rate}/{users}", "POST", {})
            wait_until(lambda: gen.result()["requestsByPhase"]["warmup"] > 100, 60, "warmup")
            time.sleep(warmup)  # fixed warm-up interval
            http(f"{url}/_simulator/reset", "POST", {})
            gen.phase("measure")
            sim_cpu, worker_cpu = CpuSample(sim.pid), CpuSample(gen.worker.pid)
            t0 = time.monotonic()
            time.sleep(seconds)  # the measurement window
            gen.phase("done")
            elapsed = time.monotonic() - t0
            s_cpu, w_cpu = sim_cpu.percent(), worker_cpu.percent()
            measured = wait_until(
                lambda: (
                    (r := gen.result())["requestsByPhase"]["done"] == 0 and r["requests"] > 0 and r
                ),
                30,
                "the measured statistics",
            )
            time.sleep(3.5)  # the worker's final report (every 3 s) reaches the master
            measured = gen.result()
        finally:
            gen.close()
        truth = http(f"{url}/_simulator/stats")
    finally:
        stop(sim)
    variant = truth["endpoints"]["sim-endpoint"]["variants"]["AllTraffic"]["response_ms"]
    reported = measured["latencyMs"]
    service = measured.get("serviceLatencyMs") or {}
    return {
        "mode": "closed" if rate is None else "open",
        "users": users,
        "target_rps": rate,
        "service_ms": {"p50": service.get("p50"), "p99": service.get("p99")},
        "rps": round(measured["requests"] / elapsed, 1),
        "worker_cpu_percent": round(w_cpu, 1),
        "simulator_cpu_percent": round(s_cpu, 1),
        "failures": measured["failures"],
        "true_ms": {"p50": variant["p50"], "p99": variant["p99"], "count": variant["count"]},
        "reported_ms": {"p50": reported["p50"], "p99": reported["p99"]},
        "p50_error": round(abs(reported["p50"] - variant["p50"]) / variant["p50"], 4),
        "p99_error": round(abs(reported["p99"] - variant["p99"]) / variant["p99"], 4),
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=64, help="users for throughput")
    parser.add_argument("--memory-users", type=int, default=1000)
    parser.add_argument("--fidelity-users", type=int, default=40)
    parser.add_argument("--open-rate", type=float, default=1000.0, help="open-model req/s")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    args = parser.parse_args()
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        print("bench: needs taskset (util-linux) and 2 cores", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="elt-bench-") as tmp:
        workdir = Path(tmp)
        target = spawn(
            pinned(TARGET_CPU, [sys.executable, str(ROOT / "bench" / "target.py")]),
            {},
            workdir / "target.log",
        )
        try:
            url = first_line_url(target)
            throughput = {
                client: measure_throughput(
                    workdir, client, url, target.pid, args.users, args.warmup, args.seconds
                )
                for client in ("boto3", "fast", "raw")
            }
            for row in throughput.values():
                print(f"  {row}", flush=True)
            memory = {
                client: measure_memory(workdir, client, url, args.memory_users)
                for client in ("fast", "boto3")
            }
        finally:
            stop(target)
        fidelity = measure_fidelity(workdir, args.fidelity_users, args.warmup, args.seconds, 20, 50)
        fidelity_open = measure_fidelity(
            workdir, 1000, args.warmup, args.seconds, 20, 50, rate=args.open_rate
        )
    rps = {k: v["rps_per_core"] for k, v in throughput.items()}
    results = {
        "date": started,
        "machine": info,
        "rps_per_core": rps,
        "ratios": {
            "fast_vs_boto3": round(rps["fast"] / rps["boto3"], 2),
            "fast_vs_raw": round(rps["fast"] / rps["raw"], 2),
        },
        "throughput": throughput,
        "memory": memory,
        "fidelity": {
            "p50_error": fidelity["p50_error"],
            "p99_error": fidelity["p99_error"],
            "closed": fidelity,
            "open": fidelity_open,
        },
        "targets": {"fast_vs_raw": 0.6, "fast_vs_boto3": 4.0, "fidelity_error": 0.05},
    }
    (args.output / "results.json").write_text(json.dumps(results, indent=2))
    print_table(results)
    return 0


def print_table(r: dict[str, Any]) -> None:
    print(f"\nendpoint-loadtest bench  {r['date']}  {r['machine']['cpu']} x{r['machine']['cores']}")
    print(
        f"{'client':8} {'users':>5} {'req/s':>9} {'gen CPU%':>9} {'req/s/core':>11}"
        f" {'target CPU%':>12}"
    )
    for row in r["throughput"].values():
        print(
            f"{row['client']:8} {row['users']:>5} {row['rps']:>9.0f}"
            f" {row['worker_cpu_percent']:>9.0f}"
            f" {row['rps_per_core']:>11.0f} {row['target_cpu_percent']:>12.0f}"
        )
    ratios = r["ratios"]
    print(
        f"fast/boto3 {ratios['fast_vs_boto3']:.2f} (target >= 4)   "
        f"fast/raw {ratios['fast_vs_raw']:.2f} (target >= 0.6)"
    )
    for row in r["memory"].values():
        print(
            f"memory {row['client']:6} {row['mb_per_1000_users']:.1f} MB per 1,000 connected users "
            f"(RSS {row['rss_base_mb']} -> {row['rss_loaded_mb']} MB)"
        )
    f = r["fidelity"]["closed"]
    print(
        f"fidelity closed, {f['users']} users, {f['rps']:.0f} req/s "
        f"(worker {f['worker_cpu_percent']:.0f}% CPU, "
        f"simulator {f['simulator_cpu_percent']:.0f}%): p50 {f['reported_ms']['p50']} vs true "
        f"{f['true_ms']['p50']:.2f} ms ({f['p50_error']:.1%}), p99 {f['reported_ms']['p99']} vs "
        f"{f['true_ms']['p99']:.2f} ms ({f['p99_error']:.1%})  (target <= 5%)"
    )
    o = r["fidelity"]["open"]
    print(
        f"fidelity open, target {o['target_rps']:.0f} req/s, achieved {o['rps']:.0f} "
        f"(worker {o['worker_cpu_percent']:.0f}% CPU, "
        f"simulator {o['simulator_cpu_percent']:.0f}%): "
        f"p50 {o['reported_ms']['p50']} (service {o['service_ms']['p50']}) vs true "
        f"{o['true_ms']['p50']:.2f} ms ({o['p50_error']:.1%}), p99 {o['reported_ms']['p99']} "
        f"(service {o['service_ms']['p99']}) vs {o['true_ms']['p99']:.2f} ms ({o['p99_error']:.1%})"
    )


if __name__ == "__main__":
    sys.exit(main())
