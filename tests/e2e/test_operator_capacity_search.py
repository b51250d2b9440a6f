"""A capacity search through the operator: Locust pods on the node step the rate live,
the master's one final result becomes status.capacity, and `kubectl get elt` shows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e_helpers import apply, get_test

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

CAPACITY = 25.0  # 4 vCPUs x 1000 / 160 ms


@pytest.fixture
def slow_endpoint(simulator: Callable[..., Any], kube_cluster: Any, namespace: str) -> Any:
    """A one-instance endpoint of known capacity, and the Secret the pods reach it with."""
    sim = simulator(
        "--instances", "1", "--vcpus", "4", "--service-time-ms", "160",
        "--distribution", "constant", "--queue-depth", "8", "--host", kube_cluster.host_address,
    )  # fmt: skip
    env = sim.env()
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aws-sim"},
        "stringData": {key: env[key] for key in keys},
    }
    apply(kube_cluster, namespace, secret)
    return sim


def test_a_search_through_the_operator_finds_the_capacity(
    kube_cluster: Any, namespace: str, elt_operator: Any, slow_endpoint: Any
) -> None:
    target = {"sagemaker": {"endpointName": slow_endpoint.endpoint, "region": "us-east-1"}}
    manifest = {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": "sizing"},
        "spec": {
            "target": target,
            "payload": {"body": '{"inputs": "I am super happy right now."}'},
            "search": {
                "startTPS": 17.5, "maxTPS": 100, "stepWarmup": "6s", "stepDuration": "6s",
                "maxSteps": 6, "targetTPS": 33.5,
            },
            "load": {"workers": 1},
            "thresholds": {"maxErrorRate": 0.01},
            "pod": {"envFrom": [{"secretRef": {"name": "aws-sim"}}]},
        },
    }  # fmt: skip
    apply(kube_cluster, namespace, manifest)
    waited = kube_cluster.kubectl(
        "wait", "elt/sizing", "-n", namespace, "--for=condition=Completed", "--timeout=300s",
        check=False, timeout=310,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr + elt_operator.log()[-3000:]
    status = get_test(kube_cluster, namespace, "sizing")["status"]
    assert status["phase"] == "Completed", status.get("message")
    capacity = status["capacity"]
    steps = capacity["steps"]
    print(f"\n{status['verdict']['message']}")
    for step in steps:
        print(f"  {step['index']}: {step['offeredTPS']} -> {step['achievedTPS']} {step['message']}")
    assert status["verdict"]["result"] in ("Passed", "Inconclusive"), status["verdict"]
    assert [c["name"] for c in status["verdict"]["checks"]] == [f"step{s['index']}" for s in steps]
    assert steps[0]["offeredTPS"] == 17.5 and steps[1]["offeredTPS"] == 35
    assert not steps[1]["passed"] and steps[1]["limitedBy"] == "errors"  # 35/s > 25/s
    assert capacity["maxTPS"] is not None
    assert 0.8 * CAPACITY <= capacity["maxTPS"] <= CAPACITY * 1.01 + 1 / 6
    assert capacity["recommendation"]["instances"] == 3  # ceil(33.5 / (25 x 0.65))
    served = slow_endpoint.stats()["endpoints"][slow_endpoint.endpoint]["requests"]
    assert status["results"]["totalRequests"] == served
    printed = kube_cluster.kubectl("get", "elt", "sizing", "-n", namespace).stdout
    assert "MAX TPS" in printed and f"{capacity['maxTPS']:g}" in printed, printed
