"""Small helpers for the cluster smoke tests: apply manifests, read pods, await states."""

from __future__ import annotations

from typing import Any

import yaml

from localcluster import LocalCluster
from localcluster.client import ApiError
from localcluster.waiting import wait_until


def apply(cluster: LocalCluster, namespace: str, *docs: dict[str, Any]) -> None:
    """kubectl apply the given objects into `namespace`."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))


def pods(cluster: LocalCluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    path = f"/api/v1/namespaces/{namespace}/pods"
    return cluster.api().get(path, labelSelector=selector)["items"]


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_ready_pods(
    cluster: LocalCluster, namespace: str, selector: str, count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """Wait until exactly `count` pods match and all are Running and Ready."""

    def probe() -> list[dict[str, Any]] | None:
        items = [p for p in pods(cluster, namespace, selector)
                 if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
        ok = len(items) == count and all(
            p["status"].get("phase") == "Running" and is_ready(p) for p in items
        )
        return items if ok else None

    return wait_until(probe, timeout, what=f"{count} ready pods {selector} in {namespace}")


def wait_log(
    cluster: LocalCluster, namespace: str, pod: str, text: str, timeout: float = 60
) -> str:
    """Wait until the pod's (single) container has logged `text`; returns the log."""
    return wait_until(
        lambda: (log := cluster.logs(namespace, pod)) and text in log and log,
        timeout,
        what=f"{text!r} in the log of {namespace}/{pod}",
    )


def wait_gone(cluster: LocalCluster, path: str, timeout: float = 60) -> None:
    """Wait until GET `path` answers 404."""

    def probe() -> bool:
        try:
            cluster.api().get(path)
            return False
        except ApiError as exc:
            return exc.status == 404

    wait_until(probe, timeout, what=f"{path} to be deleted")


def python_deployment(
    name: str, script: str, image: str, *, port: int | None = None, sa: str | None = None
) -> dict[str, Any]:
    """A Deployment of one container of `image` (the product's: its Python has the
    kubernetes client) running `script`.

    With `port`, the script gets its listen address from $(POD_IP) and the
    container gets a readiness probe on that port.
    """
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "imagePullPolicy": "Never",
        "command": ["python3", "-c", script],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    }
    if port is not None:
        container["args"] = ["$(POD_IP)", str(port)]
        container["ports"] = [{"name": "http", "containerPort": port}]
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"},
                                       "periodSeconds": 1}  # fmt: skip
    spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 5}
    if sa:
        spec["serviceAccountName"] = sa
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }
