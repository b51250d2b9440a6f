"""Faults for the end-to-end suite: restart the API server, read a test's events, wait."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
import urllib3

from localcluster.waiting import wait_until


def restart_apiserver(kube_cluster: Any, down_seconds: float = 3.0) -> None:
    """Stop kube-apiserver, keep it down a moment, start it again on the same port and wait
    until it is ready (the rest of the cluster, the operator included, rides it out)."""
    proc = kube_cluster.procs["kube-apiserver"]
    proc.stop(grace=5)
    time.sleep(down_seconds)  # the outage itself, not a wait for a condition
    proc.start()
    cert = (kube_cluster.pki.admin_crt, kube_cluster.pki.admin_key)

    def ready() -> bool:
        try:
            with_warning = requests.get(
                f"{kube_cluster.server}/readyz", cert=cert, verify=str(kube_cluster.pki.ca_crt),
                timeout=2,
            )  # fmt: skip
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            return False
        return with_warning.status_code == 200

    wait_until(ready, timeout=60, what="kube-apiserver to be ready again")


def events(kube_cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    out = kube_cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}",
        "-o", "json",
    ).stdout  # fmt: skip
    return json.loads(out)["items"]


def event_reasons(kube_cluster: Any, namespace: str, name: str) -> list[str]:
    return [e["reason"] for e in events(kube_cluster, namespace, name)]


def leftovers(kube_cluster: Any, namespace: str, name: str) -> str:
    """The load generator objects of a test still there (Deployments, Services, pods)."""
    return kube_cluster.kubectl(
        "get", "deploy,svc,pods", "-n", namespace, "-l", f"perf.elt.dev/test={name}",
        "-o", "name",
    ).stdout.strip()  # fmt: skip


def wait_nothing_left(kube_cluster: Any, namespace: str, name: str) -> None:
    wait_until(
        lambda: leftovers(kube_cluster, namespace, name) == "",
        timeout=90,
        what=f"the load generator of {name} to be removed",
    )


def pod_names(kube_cluster: Any, namespace: str, name: str, component: str) -> list[str]:
    out = kube_cluster.kubectl(
        "get", "pods", "-n", namespace, "-l",
        f"perf.elt.dev/test={name},app.kubernetes.io/component={component}", "-o", "name",
    ).stdout  # fmt: skip
    return [line.split("/", 1)[1] for line in out.split()]


def api_request_counts(kube_cluster: Any) -> dict[tuple[str, str], float]:
    """kube-apiserver's own count of the requests it served, by (verb, resource)."""
    cert = (kube_cluster.pki.admin_crt, kube_cluster.pki.admin_key)
    text = requests.get(
        f"{kube_cluster.server}/metrics", cert=cert, verify=str(kube_cluster.pki.ca_crt),
        timeout=10,
    ).text  # fmt: skip
    counts: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition(" ")
        labels = dict(
            part.split("=", 1) for part in labels_text[len("apiserver_request_total{") : -1]
            .replace('"', "").split(",") if "=" in part
        )  # fmt: skip
        key = (labels.get("verb", ""), labels.get("resource", ""))
        counts[key] = counts.get(key, 0.0) + float(value)
    return counts
