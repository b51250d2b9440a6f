"""`make bench` (streaming row): streamed tokens per second per core of the generator.

One Locust worker running the product's streaming user (fast: SigV4 over
geventhttpclient with the incremental event-stream decoder; boto3:
invoke_endpoint_with_response_stream; http: OpenAI-compatible SSE) is pinned to core 0;
a canned streaming target (bench/stream_target.py, every token its own HTTP chunk) and
the Locust master to core 1. The tokens the target sent over an interval, divided by the
worker's CPU over the same interval, is what one generator core can read: the cost of
the client side of an LLM load test. The worker's statistics are checked too: every
request it reported succeeded and carried its tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import (
    ENV_AWS,
    GEN_CPU,
    LOCUSTFILE,
    ROOT,
    TARGET_CPU,
    CpuSample,
    first_line_url,
    free_port,
    http,
    pinned,
    spawn,
    stop,
    wait_until,
)

BODY = '{"inputs": "one two three four five six seven eight"}'
CLIENTS = {"fast": "eventstream", "boto3": "eventstream", "http": "sse"}


def write_plan(workdir: Path, url: str, client: str, users: int) -> Path:
    if client == "http":
        target = {
            "kind": "http",
            "url": f"{url}/v1/completions",
            "stream": {"format": "openai", "includeUsage": True},
        }
    else:
        target = {
            "kind": "sagemaker",
            "endpointName": "sim-endpoint",
            "region": "us-east-1",
            "contentType": "application/json",
            "stream": {"format": "jsonlines"},
        }
    plan = {
        "version": 1,
        "test": {"name": "bench-stream", "runId": "bench"},
        "target": target,
        "client": "boto3" if client == "boto3" else "fast",
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
    path = workdir / f"plan-stream-{client}.json"
    path.write_text(json.dumps(plan))
    return path


def measure(workdir: Path, client: str, users: int, tokens: int, warmup: float, seconds: float):
    target = spawn(
        pinned(
            TARGET_CPU,
            [
                sys.executable,
                str(ROOT / "bench" / "stream_target.py"),
                "--tokens",
                str(tokens),
                "--format",
                CLIENTS[client],
            ],
        ),
        {},
        workdir / f"stream-target-{client}.log",
    )
    master = worker = None
    try:
        url = first_line_url(target)
        web = f"http://127.0.0.1:{free_port()}"
        master_port = free_port()
        env = {
            **ENV_AWS,
            "BENCH_CLIENT": "boto3" if client == "boto3" else "fast",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
            "ELT_PLAN_FILE": str(write_plan(workdir, url, client, users)),
        }
        locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
        master = spawn(
            pinned(
                TARGET_CPU,
                [
                    *locust,
                    "--master",
                    "--master-bind-host=127.0.0.1",
                    f"--master-bind-port={master_port}",
                    "--web-host=127.0.0.1",
                    f"--web-port={web.rsplit(':', 1)[1]}",
                ],
            ),
            env,
            workdir / f"master-stream-{client}.log",
        )
        worker = spawn(
            pinned(
                GEN_CPU,
                [*locust, "--worker", "--master-host=127.0.0.1", f"--master-port={master_port}"],
            ),
            env,
            workdir / f"worker-stream-{client}.log",
        )

        def connected() -> bool:
            try:
                return len(http(f"{web}/stats/requests").get("workers", [])) == 1
            except OSError:
                return False

        wait_until(connected, 60, f"the {client} worker to connect")
        http(f"{web}/bench/phase/measure", "POST", {})
        http(f"{web}/swarm", "POST", {"user_count": users, "spawn_rate": users})
        wait_until(lambda: http(f"{url}/_count")["requests"] > 50, 60, f"{client} streams")
        time.sleep(warmup)  # a fixed warm-up interval before the measured one
        c0, t0 = http(f"{url}/_count"), time.monotonic()
        worker_cpu, target_cpu = CpuSample(worker.pid), CpuSample(target.pid)
        time.sleep(seconds)  # the measurement interval itself
        c1, t1 = http(f"{url}/_count"), time.monotonic()
        w_cpu, tg_cpu = worker_cpu.percent(), target_cpu.percent()
        stats = http(f"{web}/stats/requests")
    finally:
        for proc in (worker, master, target):
            if proc is not None:
                stop(proc)
    aggregated = next(e for e in stats["stats"] if e["name"] == "Aggregated")
    token_rate = (c1["tokens"] - c0["tokens"]) / (t1 - t0)
    return {
        "client": client,
        "users": users,
        "tokens_per_request": tokens,
        "tokens_per_second": round(token_rate, 1),
        "streams_per_second": round((c1["requests"] - c0["requests"]) / (t1 - t0), 1),
        "worker_cpu_percent": round(w_cpu, 1),
        "target_cpu_percent": round(tg_cpu, 1),
        "tokens_per_second_per_core": round(token_rate / max(w_cpu / 100.0, 1e-9), 1),
        "reported_requests": aggregated["num_requests"],
        "reported_failures": aggregated["num_failures"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=list(CLIENTS))
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="elt-bench-stream-") as tmp:
        for client in args.clients:
            row = measure(Path(tmp), client, args.users, args.tokens, args.warmup, args.seconds)
            print(f"  streaming {client}: {row}", flush=True)
            rows.append(row)
    (args.output / "streaming.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\nstreamed tokens per second per generator core")
    print(f"{'client':8} {'tokens/s':>10} {'worker CPU':>11} {'tokens/s/core':>14} {'failures':>9}")
    for row in rows:
        print(
            f"{row['client']:8} {row['tokens_per_second']:>10.0f} "
            f"{row['worker_cpu_percent']:>10.0f}% {row['tokens_per_second_per_core']:>14.0f} "
            f"{row['reported_failures']:>9}"
        )
    failed = [r["client"] for r in rows if r["reported_failures"]]
    if failed:
        print(f"bench: streamed requests failed with {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
