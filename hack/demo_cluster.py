"""`make demo-cluster`: the operator on a real (local) Kubernetes node, start to verdict.

Starts the test cluster (control plane, containerd, kubelet, kube-proxy, CoreDNS; the
image `make image` built is imported), installs the chart, starts the SageMaker
simulator on the host at the address pods reach the host by, applies
examples/distilbert-demo.yaml wired to it through a Secret of dummy credentials,
waits for the verdict, prints `kubectl get elt` and the verdict's checks, and stops
everything it started. Nothing leaves this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from localcluster import ClusterError, LocalCluster  # noqa: E402

CHART = ROOT / "charts" / "endpoint-loadtest-operator"
EXAMPLE = ROOT / "examples" / "distilbert-demo.yaml"
ENDPOINT = "distilbert-demo"
SYSTEM_NAMESPACE = "elt-system"
DEMO_NAMESPACE = "demo"
VERDICT_TIMEOUT_SECONDS = 300
# The example's endpoint, scaled down: 2 instances x 4 vCPUs x ~18 ms, about 400 TPS.
SIMULATOR_ARGS = ["--endpoint", ENDPOINT, "--instances", "2", "--vcpus", "4",
                  "--service-time-ms", "18", "--no-cloudwatch"]  # fmt: skip
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def step(message: str, started: float) -> None:
    print(f"[demo-cluster {time.monotonic() - started:5.1f}s] {message}", flush=True)


def start_simulator(host: str, log: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, **DUMMY_AWS, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "endpoint_loadtest.simulator", "--host", host, "--port", "0",
            *SIMULATOR_ARGS]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()  # the simulator prints its URL once it listens
    if not url.startswith("http"):
        proc.kill()
        sys.exit(f"demo-cluster: the simulator did not start:\n{log.read_text()[-2000:]}")
    return proc, url


def demo_test(url_secret: str) -> str:
    test = yaml.safe_load(EXAMPLE.read_text())
    test["metadata"]["namespace"] = DEMO_NAMESPACE
    test["spec"]["pod"] = {"envFrom": [{"secretRef": {"name": url_secret}}]}
    return yaml.safe_dump(test)


def run(cluster: LocalCluster, started: float, workdir: Path) -> int:
    kubectl = cluster.kubectl
    helm_home = str(workdir / "helm")
    helm_env = {**cluster.env(), "HELM_CACHE_HOME": helm_home, "HELM_CONFIG_HOME": helm_home,
                "HELM_DATA_HOME": helm_home}  # fmt: skip
    for namespace in (SYSTEM_NAMESPACE, DEMO_NAMESPACE):
        kubectl("create", "namespace", namespace)
        kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    step("helm install of the chart (operator from the image `make image` built)", started)
    subprocess.run(
        [str(ROOT / "bin" / "helm"), "install", "elt", str(CHART), "-n", SYSTEM_NAMESPACE,
         "--wait", "--timeout", "120s", "--set", "settings.startTimeoutSeconds=120"],
        env=helm_env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    sim, url = start_simulator(cluster.host_address, workdir / "simulator.log")
    try:
        step(f"simulator serving {ENDPOINT} at {url} (the host, as pods see it)", started)
        credentials = {**DUMMY_AWS, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url}
        secret = {"apiVersion": "v1", "kind": "Secret", "stringData": credentials,
                  "metadata": {"name": "aws-sim", "namespace": DEMO_NAMESPACE}}  # fmt: skip
        kubectl("apply", "-f", "-", input=yaml.safe_dump(secret))
        kubectl("apply", "-f", "-", input=demo_test("aws-sim"))
        step(f"applied {EXAMPLE.relative_to(ROOT)}; waiting for its verdict", started)
        waited = kubectl("wait", f"elt/{ENDPOINT}", "-n", DEMO_NAMESPACE,
                         "--for=condition=Completed", f"--timeout={VERDICT_TIMEOUT_SECONDS}s",
                         check=False, timeout=VERDICT_TIMEOUT_SECONDS + 10)  # fmt: skip
        print(kubectl("get", "elt", "-n", DEMO_NAMESPACE).stdout)
        test = json.loads(
            kubectl("get", "elt", ENDPOINT, "-n", DEMO_NAMESPACE, "-o", "json").stdout
        )
        status = test.get("status") or {}
        verdict = status.get("verdict") or {}
        print(
            f"Verdict: {verdict.get('result', status.get('phase'))}  {verdict.get('message', '')}"
        )
        for check in verdict.get("checks", []):
            print(f"  {'PASS' if check.get('passed') else 'FAIL'}  {check.get('message')}")
        served = json.loads(
            subprocess.run(["curl", "-s", f"{url}/_simulator/stats"], capture_output=True,
                           text=True).stdout or "{}"
        ).get("endpoints", {}).get(ENDPOINT, {}).get("requests")  # fmt: skip
        total = (status.get("results") or {}).get("totalRequests")
        print(f"requests: the test counted {total}, the simulator served {served}")
        if waited.returncode != 0:
            print(f"demo-cluster: no verdict in {VERDICT_TIMEOUT_SECONDS}s: {waited.stderr}")
            return 1
        return {"Passed": 0, "Failed": 1, "Inconclusive": 2}.get(verdict.get("result"), 3)
    finally:
        sim.terminate()
        sim.wait(timeout=15)


def main() -> int:
    started = time.monotonic()
    workdir = ROOT / "demo-output" / "cluster"
    workdir.mkdir(parents=True, exist_ok=True)
    step("starting the cluster (control plane, containerd, kubelet, kube-proxy, CoreDNS)", started)
    cluster = LocalCluster()
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"demo-cluster: {exc}", file=sys.stderr)
        return 3
    try:
        step(f"cluster up in {cluster.timings['start']:.1f}s; image {cluster.image}", started)
        return run(cluster, started, workdir)
    finally:
        step("stopping everything the demo started", started)
        cluster.stop()
        step(f"done (cluster stopped in {cluster.timings['stop']:.1f}s)", started)


if __name__ == "__main__":
    sys.exit(main())
