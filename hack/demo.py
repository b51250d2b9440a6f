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


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | DUMMY_AWS
    started: list[subprocess.Popen] = []
    try:
        moto_port = free_port()
        moto_url = f"http://127.0.0.1:{moto_port}"
        print(f"demo: starting moto (CloudWatch) on {moto_url}")
        moto, moto_log = start(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            env,
        )
        started.append(moto)
        wait_until("moto", lambda: answers(moto_url + "/moto-api/"), moto, moto_log)

        ready = OUTPUT / "simulator.ready"
        ready.unlink(missing_ok=True)
        print(f"demo: starting the SageMaker simulator ({ENDPOINT}: 2 instances x 4 vCPUs)")
        simulator, sim_log = start(
            "simulator",
            [sys.executable, "-m", "endpoint_loadtest.cli", "simulate", "--port", "0",
             "--ready-file", str(ready), "--cloudwatch-endpoint-url", moto_url, *SIMULATOR_ARGS],
            env,
        )  # fmt: skip
        started.append(simulator)
        wait_until("the simulator", ready.exists, simulator, sim_log)
        simulator_url = json.loads(ready.read_text())["url"]

        print(f"demo: elt run {EXAMPLE.relative_to(ROOT)} (about a minute)\n", flush=True)
        run_env = env | {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": simulator_url}
        code = subprocess.call(
            [sys.executable, "-m", "endpoint_loadtest.cli", "run", str(EXAMPLE), "-o", str(OUTPUT)],
            env=run_env,
        )
        with urllib.request.urlopen(simulator_url + "/_simulator/stats", timeout=5) as resp:
            served = json.load(resp)["endpoints"][ENDPOINT]["requests"]
        result = json.loads((OUTPUT / "result.json").read_text())
        reported = result["status"].get("results", {}).get("totalRequests")
        print(f"\ndemo: the simulator served {served} requests; elt counted {reported}.")
        print(f"demo: output in {OUTPUT.relative_to(ROOT)}/ (result.json, report.html, logs)")
        print(f"demo: elt run exited {code} (0 passed, 1 failed, 2 inconclusive, 3 error)")
        return code
    finally:
        for proc in reversed(started):
            stop(proc)


if __name__ == "__main__":
    sys.exit(main())
