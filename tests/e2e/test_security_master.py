"""The master on the test cluster: its API needs the run's token, its result is judged only
when signed and fed by the run's own workers, its Secret and NetworkPolicy belong to the
test, and a look-alike child of another owner is never deleted.

The node's bridge network plugin does not enforce NetworkPolicies: the policy object is
checked here, not its enforcement.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from e2e_helpers import apply, load_test, wait_for_phase
from fault_helpers import event_reasons

from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def _status_code(url: str, method: str = "GET", token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = b"user_count=5000&spawn_rate=5000" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _json(kube_cluster: Any, namespace: str, *what: str) -> dict[str, Any]:
    out = kube_cluster.kubectl("get", *what, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def _master_ip(kube_cluster: Any, namespace: str, name: str) -> str:
    def address() -> str | None:
        pods = _json(kube_cluster, namespace, "pods", "-l",
                     f"perf.elt.dev/test={name},app.kubernetes.io/component=master")  # fmt: skip
        ips = [p["status"].get("podIP") for p in pods.get("items", [])]
        return ips[0] if ips and ips[0] else None

    return wait_until(address, timeout=120, what=f"{name}'s master to have an address")


def _owner_uids(manifest: dict[str, Any]) -> list[str]:
    return [o["uid"] for o in manifest["metadata"].get("ownerReferences") or []]


def _secret_and_policy(kube_cluster: Any, namespace: str, name: str, run_id: str) -> list[dict]:
    secret = _json(kube_cluster, namespace, "secret", f"{name}-token-{run_id}")
    policy = _json(kube_cluster, namespace, "networkpolicy", f"{name}-ingress")
    return [m for m in (secret, policy) if m]


def test_the_masters_api_refuses_strangers_and_the_runs_objects_belong_to_it(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    # A Service with the test's labels made by someone else, from an "earlier run": the
    # operator's clean-up of stale children must leave it alone.
    decoy = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "guarded-decoy",
                     "labels": {"perf.elt.dev/test": "guarded", "perf.elt.dev/run": "stale"}},
        "spec": {"ports": [{"port": 80}]},
    }  # fmt: skip
    apply(kube_cluster, namespace, decoy)
    apply(kube_cluster, namespace, load_test("guarded", sim_endpoint.endpoint, duration="20s"))
    running = wait_for_phase(kube_cluster, namespace, "guarded", ("Running",), timeout=180)
    test_uid, run_id = running["metadata"]["uid"], running["status"]["runId"]
    base = f"http://{_master_ip(kube_cluster, namespace, 'guarded')}:8089"
    # From this process (not the operator): nothing without the token, Locust's routes too.
    for method, path in [("GET", "/elt/status"), ("POST", "/swarm"), ("GET", "/stats/reset"),
                         ("POST", "/stats/reset"), ("POST", "/elt/stop"), ("GET", "/elt/result"),
                         ("GET", "/")]:  # fmt: skip
        assert _status_code(base + path, method) == 401, (method, path)
        assert _status_code(base + path, method, token="x" * 43) == 401, (method, path)
    assert _status_code(base + "/elt/healthz") == 200  # the kubelet's readiness probe
    # The run's Secret and NetworkPolicy: the test is their controller.
    secret, policy = _secret_and_policy(kube_cluster, namespace, "guarded", run_id)
    assert _owner_uids(secret) == [test_uid] and _owner_uids(policy) == [test_uid]
    assert set(secret["data"]) == {"token"}
    ports = sorted(r["ports"][0]["port"] for r in policy["spec"]["ingress"])
    assert ports == [5557]  # the operator runs outside the cluster here: no pod gets 8089
    service = _json(kube_cluster, namespace, "service", "guarded-master")
    assert [p["port"] for p in service["spec"]["ports"]] == [5557]
    # The run is undisturbed: a verdict, signed by its master and verified.
    done = wait_for_phase(kube_cluster, namespace, "guarded", ("Completed", "Error"), 180)
    assert done["status"]["phase"] == "Completed", done["status"].get("message")
    assert done["status"]["verdict"]["result"] == "Passed", done["status"]["verdict"]
    wait_until(
        lambda: _secret_and_policy(kube_cluster, namespace, "guarded", run_id) == [],
        timeout=90, what="the run's Secret and NetworkPolicy to be removed",
    )  # fmt: skip
    assert _json(kube_cluster, namespace, "service", "guarded-decoy"), "the decoy was deleted"
    assert "401" not in elt_operator.log()


def test_a_stranger_feeding_the_master_gets_no_verdict_written(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("fed", sim_endpoint.endpoint, duration="25s"))
    wait_for_phase(kube_cluster, namespace, "fed", ("Starting", "Running"), timeout=120)

    def worker_template() -> dict[str, Any] | None:
        deployment = _json(kube_cluster, namespace, "deployment", "fed-worker")
        return deployment["spec"]["template"] if deployment else None

    template = wait_until(worker_template, timeout=60, what="the worker Deployment")
    # A real Locust worker that reaches the master's 5557 but holds a token of its own.
    fake = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stranger-token"},
            "data": {"token": "not-the-run-token-" + "x" * 40}}  # fmt: skip
    apply(kube_cluster, namespace, fake)
    pod_spec = template["spec"]
    pod_spec["volumes"] = [
        {"name": v["name"], "configMap": {"name": "stranger-token"}}
        if v["name"] == "run-token" else v
        for v in pod_spec["volumes"]
    ]  # fmt: skip
    stranger = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "stranger", "labels": {"app": "stranger"}},
                "spec": pod_spec}  # fmt: skip
    apply(kube_cluster, namespace, stranger)
    status = wait_for_phase(kube_cluster, namespace, "fed", ("Completed", "Error"), 240)["status"]
    assert status["phase"] == "Error", status
    assert status["reason"] == "ResultUnverified", status
    assert "without proving the run's token" in status["message"]
    assert status.get("verdict") is None and status.get("results") is None
    assert "ResultUnverified" in event_reasons(kube_cluster, namespace, "fed")
    kube_cluster.kubectl("delete", "pod", "stranger", "-n", namespace, "--wait=false")


def test_the_runs_secret_and_policy_go_with_the_test(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("brief", sim_endpoint.endpoint, duration="5m"))
    running = wait_for_phase(kube_cluster, namespace, "brief", ("Running",), timeout=180)
    run_id = running["status"]["runId"]
    assert len(_secret_and_policy(kube_cluster, namespace, "brief", run_id)) == 2
    kube_cluster.kubectl("delete", "elt", "brief", "-n", namespace, "--timeout=60s", timeout=70)
    wait_until(
        lambda: _secret_and_policy(kube_cluster, namespace, "brief", run_id) == [],
        timeout=90, what="the deleted test's Secret and NetworkPolicy to be collected",
    )  # fmt: skip
