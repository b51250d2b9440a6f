"""Fixtures for end-to-end operator tests on the local cluster (a real node).

Each test gets its own namespace and its own operator process watching only that
namespace, so a test can restart "the operator" without touching the others. The
Locust pods run the product's image on the node; they reach the SageMaker simulator,
a process on the host bound to the address the cluster gives pods for the host,
through a Secret of dummy credentials and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, exactly
as a user would wire a real one.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import apply

from localcluster.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"


@pytest.fixture(scope="session")
def crd_installed(kube_cluster: Any) -> None:
    kube_cluster.kubectl("apply", "-f", str(CRD_DIR))
    # Awaited by reading the condition: `kubectl wait` right after the apply can fail at
    # once when its discovery has not seen the new CRD yet.
    jsonpath = '{.status.conditions[?(@.type=="Established")].status}'
    wait_until(
        lambda: kube_cluster.kubectl(
            "get", "crd/endpointloadtests.perf.elt.dev", "-o", f"jsonpath={jsonpath}",
            check=False,
        ).stdout.strip() == "True",
        timeout=60, interval=0.5, what="the EndpointLoadTest CRD to be Established",
    )  # fmt: skip


class OperatorProcess:
    """`elt-operator -n NAMESPACE` as a real process; restartable."""

    def __init__(
        self, namespace: str, log_path: Path, env: dict[str, str], extra: list[str] | None = None
    ) -> None:
        self.namespace = namespace
        self.log_path = log_path
        self.env = env
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "endpoint_loadtest.k8s", "-n", self.namespace, *self.extra],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: the harshest restart, no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def release_unfinished_tests(kube_cluster: Any, namespace: str) -> None:
    """After a test's operator is gone, drop the finalizers of its tests still running.

    Nothing will handle them any more, and the namespace deleted next would otherwise
    stay Terminating for the rest of the session, relisted by the namespace controller
    every minute (requests a later test measuring the API's idle rate would count).
    """
    names = kube_cluster.kubectl(
        "get", "elt", "-n", namespace, "-o", "name", check=False
    ).stdout.split()
    for name in names:
        kube_cluster.kubectl(
            "patch", "-n", namespace, name, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip


_RUN_TOKEN_KEY: list[Path] = []


def run_token_key_file() -> Path:
    """The operators' run token key, one for the session: a restarted operator (or a
    replica taking over) derives the same tokens, as the chart's mounted Secret gives."""
    if not _RUN_TOKEN_KEY:
        handle, name = tempfile.mkstemp(prefix="elt-run-token-key-")
        os.write(handle, secrets.token_urlsafe(48).encode())
        os.close(handle)
        _RUN_TOKEN_KEY.append(Path(name))
        atexit.register(Path(name).unlink, missing_ok=True)
    return _RUN_TOKEN_KEY[0]


def operator_env(kube_cluster: Any) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kube_cluster.kubeconfig),
        "ELT_START_TIMEOUT_SECONDS": "120",
        "ELT_RUN_TOKEN_KEY_FILE": str(run_token_key_file()),
    }


@pytest.fixture
def elt_operator(
    kube_cluster: Any, namespace: str, crd_installed: None, tmp_path: Path
) -> Iterator[OperatorProcess]:
    operator = OperatorProcess(namespace, tmp_path / "operator.log", operator_env(kube_cluster))
    operator.start()
    yield operator
    operator.stop()
    release_unfinished_tests(kube_cluster, namespace)


@pytest.fixture
def operator_replicas(
    kube_cluster: Any, namespace: str, crd_installed: None, tmp_path: Path
) -> Iterator[list[OperatorProcess]]:
    """Two operator processes on one namespace, electing a leader through kopf peering."""
    kube_cluster.kubectl("apply", "-f", str(CRD_DIR / "kopf-peering.yaml"))
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=30s"
    )
    peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "elt"}}
    apply(kube_cluster, namespace, peering)
    replicas = [
        OperatorProcess(
            namespace, tmp_path / f"operator-{i}.log", operator_env(kube_cluster),
            ["--peering", "elt"],
        )
        for i in range(2)
    ]  # fmt: skip
    # One after the other, as a rollout starts them: the first is working when the second
    # arrives and must give way (or take over, if the second draws the higher priority).
    first, second = replicas
    first.start()
    wait_until(
        lambda: "Resuming operations" in first.log(), timeout=60, what="the first replica to peer"
    )
    second.start()
    yield replicas
    for replica in replicas:
        replica.stop()
    release_unfinished_tests(kube_cluster, namespace)


@pytest.fixture
def sim_endpoint(simulator: Callable[..., Any], kube_cluster: Any, namespace: str) -> Any:
    """A simulated endpoint plus the Secret the Locust pods use to reach it."""
    sim = simulator(
        "--instances", "2", "--vcpus", "4", "--service-time-ms", "10",
        "--host", kube_cluster.host_address,
    )  # fmt: skip
    env = sim.env()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aws-sim"},
        "stringData": {
            "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"],
        },
    }
    apply(kube_cluster, namespace, secret)
    return sim
