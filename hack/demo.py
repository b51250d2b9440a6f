"""`make demo`: a whole load test against the SageMaker simulator, no cluster, no AWS.

Starts moto's CloudWatch server and `elt simulate` (a two-instance DistilBERT-like
endpoint that publishes its CloudWatch metrics to moto), runs
examples/distilbert-demo.yaml with `elt run`, prints the verdict, leaves
result.json and the HTML report in demo-output/, and stops what it started.
The AWS credentials are the simulator's dummy ones; nothing leaves this machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output"
EXAMPLE = ROOT / "examples" / "distilbert-demo.yaml"
ENDPOINT = "distilbert-demo"
START_TIMEOUT_SECONDS = 30.0

# A scaled-down endpoint of AWS's load-testing practice: 2 instances x 4 vCPUs x ~18 ms
# => about 400 TPS capacity.
SIMULATOR_ARGS = [
    "--endpoint", ENDPOINT,
    "--instances", "2",
    "--vcpus", "4",
    "--service-time-ms", "18",
    "--metrics-period", "10",
]  # fmt: skip

DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(description: str, check, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            sys.exit(f"demo: {description} did not start; its log ends with:\n{tail}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def start(name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = OUTPUT / f"{name}.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, log


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def dummy_aws_env() -> dict[str, str]:
    """This process's environment with the simulator's dummy AWS credentials only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | DUMMY_AWS


def start_moto(
    label: str, log_name: str, env: dict[str, str], started: list[subprocess.Popen]
) -> str:
    """moto's server (CloudWatch) on a free port; its URL once it answers."""
    moto_port = free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    print(f"{label}: starting moto (CloudWatch) on {moto_url}")
    moto, moto_log = start(
        log_name,
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        env,
    )
    started.append(moto)
    wait_until("moto", lambda: answers(moto_url + "/moto-api/"), moto, moto_log)
    return moto_url


def start_simulator(
    log_name: str,
    ready: Path,
    moto_url: str,
    simulator_args: list[str],
    env: dict[str, str],
    started: list[subprocess.Popen],
) -> str:
    """`elt simulate` publishing to moto; its URL once it wrote the ready file."""
    ready.unlink(missing_ok=True)
    simulator, sim_log = start(
        log_name,
        [sys.executable, "-m", "endpoint_loadtest.cli", "simulate", "--port", "0",
         "--ready-file", str(ready), "--cloudwatch-endpoint-url", moto_url, *simulator_args],
        env,
    )  # fmt: skip
    started.append(simulator)
    wait_until("the simulator", ready.exists, simulator, sim_log)
    return json.loads(ready.read_text())["url"]


def served_requests(simulator_url: str, endpoint: str) -> int:
    """What the simulator counted for the endpoint (its truth, against elt's count)."""
    with urllib.request.urlopen(simulator_url + "/_simulator/stats", timeout=5) as resp:
        return json.load(resp)["endpoints"][endpoint]["requests"]


def print_exit(label: str, code: int) -> None:
    print(f"{label}: elt run exited {code} (0 passed, 1 failed, 2 inconclusive, 3 error)")


@contextmanager
def stopped_at_exit() -> Iterator[list[subprocess.Popen]]:
    """The list of what a demo starts: stopped, last first, however the demo ends."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            stop(proc)


def print_counts(label: str, simulator_url: str, endpoint: str, reported: object) -> None:
    """The simulator's own count beside elt's: they should be the same."""
    served = served_requests(simulator_url, endpoint)
    print(f"\n{label}: the simulator served {served} requests; elt counted {reported}.")


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    env = dummy_aws_env()
    with stopped_at_exit() as started:
        moto_url = start_moto("demo", "moto", env, started)
        print(f"demo: starting the SageMaker simulator ({ENDPOINT}: 2 instances x 4 vCPUs)")
        simulator_url = start_simulator(
            "simulator", OUTPUT / "simulator.ready", moto_url, SIMULATOR_ARGS, env, started
        )

        print(f"demo: elt run {EXAMPLE.relative_to(ROOT)} (about a minute)\n", flush=True)
        run_env = env | {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": simulator_url}
        code = subprocess.call(
            [sys.executable, "-m", "endpoint_loadtest.cli", "run", str(EXAMPLE), "-o", str(OUTPUT)],
            env=run_env,
        )
        result = json.loads((OUTPUT / "result.json").read_text())
        reported = result["status"].get("results", {}).get("totalRequests")
        print_counts("demo", simulator_url, ENDPOINT, reported)
        print(f"demo: output in {OUTPUT.relative_to(ROOT)}/ (result.json, report.html, logs)")
        print_exit("demo", code)
        return code


if __name__ == "__main__":
    sys.exit(main())
