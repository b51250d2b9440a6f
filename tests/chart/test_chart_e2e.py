"""The operator as its chart installs it: a pod of the image `make image` built, with the chart's
ServiceAccount token (the RBAC under test is the chart's own), in a namespace that
enforces Pod Security "restricted", carrying an EndpointLoadTest to its verdict."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, ROOT, Helm, set_values

from e2e.e2e_helpers import apply, get_test, load_test, wait_for_phase

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

# Words of a refused API call; 403 only as a status on its own (uids contain "403").
DENIED = re.compile(r"forbidden|not enough permissions|\b403\b")


def restrict(kube_cluster: Any, namespace: str) -> None:
    kube_cluster.kubectl(
        "label", "ns", namespace, "--overwrite",
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )  # fmt: skip


def operator_log(kube_cluster: Any, namespace: str) -> str:
    out = kube_cluster.kubectl(
        "logs", "-n", namespace, "deploy/elt-endpoint-loadtest-operator", check=False
    )
    return out.stdout + out.stderr


def test_chart_installs_an_operator_that_runs_a_test_to_its_verdict(
    kube_cluster: Any, namespace: str, cluster_helm: Helm, simulator: Any
) -> None:
    kube_cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    restrict(kube_cluster, namespace)
    values = {
        "rbac.scope": "namespaced",
        "crds.install": "false",
        "settings.startTimeoutSeconds": "120",
        "settings.maxUsers": "50",
        "locust.resources.requests.cpu": "50m",
        "resources.requests.cpu": "50m",
        "logFormat": "json",
    }
    cluster_helm(
        "install", "elt", str(CHART), "-n", namespace,
        "--wait", "--timeout", "90s", *set_values(values), timeout=120,
    )  # fmt: skip
    pod = json.loads(
        kube_cluster.kubectl(
            "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=operator",
            "-o", "json",
        ).stdout
    )["items"][0]  # fmt: skip
    assert pod["spec"]["serviceAccountName"] == "elt-endpoint-loadtest-operator"
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready["Ready"] == "True", pod["status"]

    sim = simulator(
        "--instances", "2", "--vcpus", "4", "--service-time-ms", "10",
        "--host", kube_cluster.host_address,
    )  # fmt: skip
    env = sim.env()
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-sim"},
              "stringData": {k: env[k] for k in keys}}  # fmt: skip
    apply(kube_cluster, namespace, secret)
    apply(kube_cluster, namespace, load_test("passes", sim.endpoint, duration="5s"))
    # Above the chart's cap (settings.maxUsers=50): refused with a message naming it.
    apply(kube_cluster, namespace, load_test("too-big", sim.endpoint, users=100))

    refused = wait_for_phase(kube_cluster, namespace, "too-big", ("Error", "Completed"), 60)
    assert refused["status"]["phase"] == "Error", refused["status"]
    assert "at most 50" in json.dumps(refused["status"]), refused["status"]

    waited = kube_cluster.kubectl(
        "wait", "elt/passes", "-n", namespace, "--for=condition=Completed", "--timeout=120s",
        check=False, timeout=130,
    )  # fmt: skip
    log = operator_log(kube_cluster, namespace)
    assert waited.returncode == 0, waited.stderr + log[-3000:]
    status = get_test(kube_cluster, namespace, "passes")["status"]
    assert status["verdict"]["result"] == "Passed", status["verdict"]
    served = sim.stats()["endpoints"][sim.endpoint]["requests"]
    assert status["results"]["totalRequests"] == served
    # The Locust pods ran as the chart's ServiceAccount for them, and passed "restricted".
    events = kube_cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    assert "violates PodSecurity" not in events
    # kopf could post its events on the test (events: create).
    posted = [e for e in json.loads(events)["items"]
              if e["involvedObject"]["kind"] == "EndpointLoadTest"]  # fmt: skip
    assert posted, "no events posted on the EndpointLoadTests"
    # The operator never hit a permission it lacks.
    lowered = log.lower()
    assert not DENIED.findall(lowered), log[-3000:]
    # JSON logs (logFormat=json).
    first = next(line for line in log.splitlines() if line.startswith("{"))
    assert "message" in yaml.safe_load(first)
    # Tests go before their operator: kopf drops a finished test's finalizer on its next
    # pass, which may come after `kubectl wait` returned.
    kube_cluster.kubectl("delete", "elt", "--all", "-n", namespace, "--wait", timeout=90)
    cluster_helm("uninstall", "elt", "-n", namespace, "--wait", "--timeout", "60s", timeout=90)
