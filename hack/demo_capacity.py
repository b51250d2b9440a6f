"""`make demo-capacity`: a whole capacity search against the SageMaker simulator.

AWS's load-testing practice, steps 1 and 2: the search drives one simulated instance
(4 vCPUs, about 42 ms per request: a capacity of about 96 requests/s) until the SLO
breaks, finds the highest rate within it, sizes the deployment for 500 TPS at 65%
utilization and proposes the autoscaling target. It runs a shorter copy of
examples/capacity-search.yaml (10 s steps, CloudWatch's high-resolution 10 s period,
published by the simulator to moto), prints the steps and the answer beside the
simulator's true capacity, and leaves result.json in demo-output/capacity/.
About 2-3 minutes on 2 cores (2 min 6 s measured). Nothing leaves this machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import yaml
from demo import (
    dummy_aws_env,
    print_counts,
    print_exit,
    start_moto,
    start_simulator,
    stopped_at_exit,
)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output" / "capacity"
EXAMPLE = ROOT / "examples" / "capacity-search.yaml"
ENDPOINT = "distilbert-demo"
VCPUS, MEDIAN_MS, P99_MS = 4, 40.0, 80.0

SIMULATOR_ARGS = [
    "--endpoint", ENDPOINT,
    "--instances", "1",
    "--vcpus", str(VCPUS),
    "--service-time-ms", str(MEDIAN_MS),
    "--service-time-p99-ms", str(P99_MS),
    "--metrics-period", "10",
]  # fmt: skip


def true_capacity() -> float:
    """instances x vCPUs / mean service time (lognormal by median and p99)."""
    sigma = math.log(P99_MS / MEDIAN_MS) / 2.3263478740408408
    return VCPUS * 1000.0 / (MEDIAN_MS * math.exp(sigma**2 / 2))


def demo_document() -> Path:
    """The example with steps short enough for a demo (and CloudWatch's 10 s period)."""
    document = yaml.safe_load(EXAMPLE.read_text())
    spec = document["spec"]
    spec["search"].update(
        startTPS=25, maxTPS=400, stepWarmup="5s", stepDuration="10s", maxSteps=10, targetTPS=500
    )
    spec["load"]["workers"] = 1
    spec["cloudwatch"].update(period=10, instanceVcpus=VCPUS, lastPeriodTimeout="30s")
    path = OUTPUT / "capacity-search.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    env = dummy_aws_env()
    with stopped_at_exit() as started:
        moto_url = start_moto("demo-capacity", "capacity-moto", env, started)
        print(
            f"demo-capacity: the simulator serves {ENDPOINT} on 1 instance x {VCPUS} vCPUs "
            f"(true capacity {true_capacity():.1f} requests/s)"
        )
        simulator_url = start_simulator(
            "capacity-simulator", OUTPUT / "simulator.ready", moto_url, SIMULATOR_ARGS, env, started
        )
        document = demo_document()
        print(f"demo-capacity: elt run {document.relative_to(ROOT)} (a few minutes)\n", flush=True)
        run_env = env | {
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": simulator_url,
            "AWS_ENDPOINT_URL_CLOUDWATCH": moto_url,
        }
        command = [sys.executable, "-m", "endpoint_loadtest.cli", "run", str(document)]
        code = subprocess.call([*command, "-o", str(OUTPUT)], env=run_env)
        status = json.loads((OUTPUT / "result.json").read_text())["status"]
        capacity = status.get("capacity") or {}
        reported = (status.get("results") or {}).get("totalRequests")
        print_counts("demo-capacity", simulator_url, ENDPOINT, reported)
        if capacity.get("maxTPS") is not None:
            share = capacity["maxTPS"] / true_capacity()
            print(
                f"demo-capacity: found {capacity['maxTPS']:g} TPS within the SLO, "
                f"{share:.0%} of the simulator's true capacity {true_capacity():.1f}."
            )
        print(f"demo-capacity: output in {OUTPUT.relative_to(ROOT)}/ (result.json, logs)")
        print_exit("demo-capacity", code)
        return code


if __name__ == "__main__":
    sys.exit(main())
