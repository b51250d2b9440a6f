"""Helpers of the end-to-end tests: manifests of tests and awaited phases."""

from __future__ import annotations

import json
from typing import Any

import yaml

from localcluster.waiting import wait_until


def apply(kube_cluster: Any, namespace: str, manifest: dict[str, Any]) -> None:
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))


def load_test(
    name: str, endpoint: str, *, users: int = 4, workers: int = 1, duration: str = "6s",
    thresholds: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": name},
        "spec": {
            "target": {"sagemaker": {"endpointName": endpoint, "region": "us-east-1"}},
            "payload": {"body": '{"inputs": "I am super happy right now."}'},
            "load": {"users": users, "spawnRate": users, "workers": workers,
                     "warmup": "1s", "duration": duration},
            "thresholds": thresholds or {"minTPS": 20, "maxErrorRate": 0.01,
                                         "latencyMs": {"p99": 500}, "minRequests": 50},
            "pod": {"envFrom": [{"secretRef": {"name": "aws-sim"}}]},
        },
    }  # fmt: skip


def get_test(kube_cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    out = kube_cluster.kubectl("get", "elt", name, "-n", namespace, "-o", "json")
    return json.loads(out.stdout)


def wait_for_phase(
    kube_cluster: Any, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 240
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        found = get_test(kube_cluster, namespace, name)
        return found if (found.get("status") or {}).get("phase") in phases else None

    return wait_until(reached, timeout=timeout, what=f"{name} to reach phase {phases}")
