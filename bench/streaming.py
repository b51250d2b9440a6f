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

BODY = '{"inputs": "one two three four five six seven eight"}'
CLIENTS = {"fast": "eventstream", "boto3": "eventstream", "http": "sse"}


def stream_plan(workdir: Path, url: str, client: str, users: int) -> Path:
    if client == "http":
        target = {
            "kind": "http",
            "url": f"{url}/v1/completions",
            "stream": {"format": "openai", "includeUsage": True},
        }
    else:
        target = {**SAGEMAKER_TARGET, "stream": {"format": "jsonlines"}}
    plan_client = "boto3" if client == "boto3" else "fast"
    path = workdir / f"plan-stream-{client}.json"
    return write_plan(path, "bench-stream", target, plan_client, BODY, users)


def measure(workdir: Path, client: str, users: int, tokens: int, warmup: float, seconds: float):
    script = str(ROOT / "bench" / "stream_target.py")
    target = start_target(
        [script, "--tokens", str(tokens), "--format", CLIENTS[client]],
        {},
        workdir / f"stream-target-{client}.log",
    )
    gen = None
    try:
        url = first_line_url(target)
        env = {
            **ENV_AWS,
            "BENCH_CLIENT": "boto3" if client == "boto3" else "fast",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
            "ELT_PLAN_FILE": str(stream_plan(workdir, url, client, users)),
        }
        gen = Generator(workdir, env, client, logs=f"stream-{client}")
        gen.phase("measure")
        gen.swarm(users)
        wait_until(lambda: http(f"{url}/_count")["requests"] > 50, 60, f"{client} streams")
        measured = measure_interval(url, gen.worker.pid, target.pid, warmup, seconds)
        stats = gen.stats()
    finally:
        if gen is not None:
            gen.close()
        stop(target)
    aggregated = next(e for e in stats["stats"] if e["name"] == "Aggregated")
    token_rate = measured.rate("tokens")
    return {
        "client": client,
        "users": users,
        "tokens_per_request": tokens,
        "tokens_per_second": round(token_rate, 1),
        "streams_per_second": round(measured.rate("requests"), 1),
        "worker_cpu_percent": round(measured.worker_cpu, 1),
        "target_cpu_percent": round(measured.target_cpu, 1),
        "tokens_per_second_per_core": round(token_rate / max(measured.worker_cpu / 100.0, 1e-9), 1),
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
