"""The NetworkPolicy of a run: who may reach its Locust pods.

The master's 5557 (ZeroMQ) takes reports from anyone who connects, and its 8089 (the
web API) is what the operator reads the verdict from. So only this run's workers may
reach 5557, only the operator's pods may reach 8089, and nothing else gets in (the
policy selects the workers too, which listen on nothing). Egress is left open: the
workers must reach the endpoint. A pure builder; it takes effect only where the
cluster's network plugin enforces NetworkPolicies.
"""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.engine.plan import MASTER_PORT, WEB_PORT
from endpoint_loadtest.k8s.manifests import (
    RUN_LABEL,
    TEST_LABEL,
    child_base_name,
    labels,
    selector,
)


def policy_name(test_name: str) -> str:
    return f"{child_base_name(test_name)}-ingress"


def build_network_policy(
    test_name: str,
    run_id: str,
    *,
    operator_namespace_selector: dict[str, str],
    operator_pod_selector: dict[str, str],
) -> dict[str, Any]:
    """Ingress to the run's pods: 5557 from its workers, 8089 from the operator's pods.

    Without both operator selectors (an operator outside the cluster) no pod may reach
    8089: the rule is left out rather than opened wider (an empty selector is "all")."""
    run_pods = {k: v for k, v in selector(test_name, run_id, "master").items()
                if k in ("app.kubernetes.io/instance", TEST_LABEL, RUN_LABEL)}  # fmt: skip
    ingress: list[dict[str, Any]] = [
        {
            "from": [{"podSelector": {"matchLabels": selector(test_name, run_id, "worker")}}],
            "ports": [{"protocol": "TCP", "port": MASTER_PORT}],
        }
    ]
    if operator_namespace_selector and operator_pod_selector:
        peer: dict[str, Any] = {
            "namespaceSelector": {"matchLabels": dict(operator_namespace_selector)},
            "podSelector": {"matchLabels": dict(operator_pod_selector)},
        }
        ingress.append({"from": [peer], "ports": [{"protocol": "TCP", "port": WEB_PORT}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(test_name), "labels": labels(test_name, run_id, "policy")},
        "spec": {
            "podSelector": {"matchLabels": run_pods},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
