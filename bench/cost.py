"""The generator's cost: requests/s per core of each client, and memory per 1,000 users.

Each measurement samples the worker's and the target's CPU over the same interval as
the target's request count, so the table shows the worker saturated and the target not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from harness import (
    ENV_AWS,
    ROOT,
    SAGEMAKER_TARGET,
    Generator,
    first_line_url,
    http,
    measure_interval,
    start_target,
    stop,
    wait_until,
    write_plan,
)

BODY = '{"inputs": "I am super happy right now."}'


def start_generator(workdir: Path, client: str, url: str, users: int) -> Generator:
    """A Locust pair whose worker runs `client` (boto3, fast or raw) against `url`."""
    plan = write_plan(
        workdir / f"plan-{client}-{users}.json", "bench", SAGEMAKER_TARGET, client, BODY, users
    )
    env = {
        **ENV_AWS,
        "BENCH_CLIENT": client,
        "BENCH_RAW_URL": url,
        "BENCH_BODY": BODY,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
        "ELT_PLAN_FILE": str(plan),
    }
    return Generator(workdir, env, client, logs=client)


def target_count(url: str) -> dict[str, int]:
    return http(f"{url}/_count")


def measure_throughput(
    workdir: Path,
    client: str,
    url: str,
    target_pid: int,
    users: int,
    warmup: float,
    seconds: float,
    rate: float | None = None,
) -> dict[str, Any]:
    """Closed model: `users` with zero wait. Open model (`rate`): the pacer asked for more
    than it can send (at most `users` in flight), so what it sends is its capacity."""
    gen = start_generator(workdir, client, url, users)
    try:
        if rate is None:
            gen.swarm(users)
        else:
            gen.pace(rate, users)
        wait_until(lambda: target_count(url)["requests"] > 100, 60, f"{client} requests")
        measured = measure_interval(url, gen.worker.pid, target_pid, warmup, seconds)
    finally:
        gen.close()
    rps = measured.rate("requests")
    return {
        "client": client if rate is None else f"{client}-open",
        "users": users,
        "rps": round(rps, 1),
        "worker_cpu_percent": round(measured.worker_cpu, 1),
        "target_cpu_percent": round(measured.target_cpu, 1),
        # requests per second of one fully used core
        "rps_per_core": round(rps / max(measured.worker_cpu / 100.0, 1e-9), 1),
    }


def measure_memory(workdir: Path, client: str, url: str, users: int) -> dict[str, Any]:
    gen = start_generator(workdir, client, url, users)
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


def cost(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Requests/s per core of the three clients, and memory per 1,000 users."""
    target = start_target([str(ROOT / "bench" / "target.py")], {}, workdir / "target.log")
    try:
        url = first_line_url(target)
        throughput = {
            client: measure_throughput(
                workdir, client, url, target.pid, args.users, args.warmup, args.seconds
            )
            for client in ("boto3", "fast", "raw")
        }
        # the open model's own capacity: asked for twice what the closed model sends
        throughput["fast-open"] = measure_throughput(
            workdir,
            "fast",
            url,
            target.pid,
            1000,
            args.warmup,
            args.seconds,
            rate=round(2 * throughput["fast"]["rps_per_core"], -2),
        )
        for row in throughput.values():
            print(f"  {row}", flush=True)
        memory = {
            client: measure_memory(workdir, client, url, args.memory_users)
            for client in ("fast", "boto3")
        }
    finally:
        stop(target)
    rps = {k.replace("-", "_"): v["rps_per_core"] for k, v in throughput.items()}
    return {
        "rps_per_core": rps,
        "ratios": {
            "fast_vs_boto3": round(rps["fast"] / rps["boto3"], 2),
            "fast_vs_raw": round(rps["fast"] / rps["raw"], 2),
        },
        "throughput": throughput,
        "memory": memory,
    }
