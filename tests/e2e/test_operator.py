"""The operator end to end: kubectl apply, Locust pods on the node, a verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from e2e_helpers import apply, get_test, load_test, wait_for_phase

from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def _children(kube_cluster: Any, namespace: str, name: str) -> str:
    return kube_cluster.kubectl(
        "get", "deploy,svc,pods", "-n", namespace, "-l", f"perf.elt.dev/test={name}",
        "-o", "name",
    ).stdout.strip()  # fmt: skip


def test_apply_runs_to_a_verdict_that_counts_every_request(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("passes", sim_endpoint.endpoint, workers=2))
    waited = kube_cluster.kubectl(
        "wait", "elt/passes", "-n", namespace, "--for=condition=Completed", "--timeout=150s",
        check=False, timeout=160,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr + elt_operator.log()[-3000:]
    status = get_test(kube_cluster, namespace, "passes")["status"]
    assert status["phase"] == "Completed", status.get("message")
    assert status["verdict"]["result"] == "Passed", status["verdict"]
    assert {c["name"] for c in status["verdict"]["checks"]} >= {"minTPS", "latencyMs.p99"}
    results = status["results"]
    # The truth: every request the Locust pods sent reached the simulator, once.
    served = sim_endpoint.stats()["endpoints"][sim_endpoint.endpoint]["requests"]
    assert results["totalRequests"] == served
    assert results["requests"] > 0 and results["tps"] > 20
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Completed": "True", "Passed": "True"}
    kube_cluster.kubectl(
        "wait", "elt/passes", "-n", namespace, "--for=condition=Passed", "--timeout=5s"
    )
    # The load-generator pods are removed once the verdict is stored.
    wait_until(
        lambda: _children(kube_cluster, namespace, "passes") == "",
        timeout=60,
        what="load-generator objects to be removed",
    )
    printed = kube_cluster.kubectl("get", "elt", "-n", namespace).stdout
    assert "Passed" in printed and sim_endpoint.endpoint in printed
    events = kube_cluster.kubectl("describe", "elt", "passes", "-n", namespace).stdout
    assert "Passed" in events


def test_failed_and_inconclusive_verdicts(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    failing = load_test(
        "too-fast", sim_endpoint.endpoint, thresholds={"minTPS": 100000, "minRequests": 10}
    )
    unsure = load_test(
        "too-few", sim_endpoint.endpoint, thresholds={"minTPS": 1, "minRequests": 10000000}
    )
    apply(kube_cluster, namespace, failing)
    apply(kube_cluster, namespace, unsure)
    failed = wait_for_phase(kube_cluster, namespace, "too-fast", ("Completed", "Error"))
    assert failed["status"]["verdict"]["result"] == "Failed", failed["status"]
    assert "TPS" in failed["status"]["verdict"]["message"]
    checks = {c["name"]: c["passed"] for c in failed["status"]["verdict"]["checks"]}
    assert checks["minTPS"] is False
    inconclusive = wait_for_phase(kube_cluster, namespace, "too-few", ("Completed", "Error"))
    verdict = inconclusive["status"]["verdict"]
    assert verdict["result"] == "Inconclusive", inconclusive["status"]
    assert "minRequests" in verdict["message"]
    passed = {c["type"]: c["status"] for c in inconclusive["status"]["conditions"]}
    assert passed["Passed"] == "False"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda spec: spec["load"].update(users=0), "spec.load.users"),
        (lambda spec: spec["target"].update(http={"url": "http://x"}), "exactly one of target"),
        (lambda spec: spec["load"].update(bogus=1), "bogus"),
        (lambda spec: spec["thresholds"].update(maxErrorRate=2), "spec.thresholds.maxErrorRate"),
    ],
)
def test_invalid_resources_are_rejected_by_the_api_server(
    kube_cluster: Any, namespace: str, crd_installed: None, change: Any, field: str
) -> None:
    manifest = load_test("bad", "x")
    change(manifest["spec"])
    result = kube_cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest), check=False
    )
    assert result.returncode != 0
    assert field in result.stderr, result.stderr


def test_deleting_a_running_test_removes_its_children(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("doomed", sim_endpoint.endpoint, duration="5m"))
    wait_for_phase(kube_cluster, namespace, "doomed", ("Running",))
    assert _children(kube_cluster, namespace, "doomed")
    kube_cluster.kubectl("delete", "elt", "doomed", "-n", namespace, "--timeout=60s", timeout=70)
    wait_until(
        lambda: _children(kube_cluster, namespace, "doomed") == "",
        timeout=90,
        what="children of the deleted test to be garbage-collected",
    )


def test_operator_restart_mid_run_gives_one_verdict(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("restarted", sim_endpoint.endpoint, duration="10s"))
    running = wait_for_phase(kube_cluster, namespace, "restarted", ("Running",))
    run_id = running["status"]["runId"]
    elt_operator.kill()
    elt_operator.start()
    done = wait_for_phase(kube_cluster, namespace, "restarted", ("Completed", "Error"))
    status = done["status"]
    assert status["runId"] == run_id, "a restart must not start a new run"
    assert status["verdict"]["result"] == "Passed", status
    assert status["history"] == []
    served = sim_endpoint.stats()["endpoints"][sim_endpoint.endpoint]["requests"]
    assert status["results"]["totalRequests"] == served
    deployments = kube_cluster.kubectl(
        "get", "deploy", "-n", namespace, "-o", "name", check=False
    ).stdout
    assert deployments.count("restarted-master") <= 1


def test_rerun_annotation_starts_a_new_run_and_keeps_history(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("again", sim_endpoint.endpoint, duration="3s"))
    first = wait_for_phase(kube_cluster, namespace, "again", ("Completed",))["status"]
    kube_cluster.kubectl("annotate", "elt", "again", "-n", namespace, "perf.elt.dev/rerun=2")

    def second_run() -> dict[str, Any] | None:
        status = get_test(kube_cluster, namespace, "again").get("status") or {}
        done = status.get("runId") != first["runId"] and status.get("phase") == "Completed"
        return status if done else None

    second = wait_until(second_run, timeout=150, what="a second completed run")
    assert [h["runId"] for h in second["history"]] == [first["runId"]]
    assert second["history"][0]["verdict"] == first["verdict"]["result"]


def test_two_operator_replicas_never_both_drive_a_test(
    kube_cluster: Any, namespace: str, operator_replicas: list[Any], sim_endpoint: Any
) -> None:
    def both_peered() -> bool:
        # Each replica announces itself in the peering object; a replica that finds a
        # higher-priority peer stays paused (kopf logs a pause only when it was working).
        peers = kube_cluster.kubectl(
            "get", "kopfpeering", "elt", "-n", namespace, "-o", "jsonpath={.status}"
        ).stdout
        return len(json.loads(peers or "{}")) == 2

    def active(replica: Any) -> bool:
        lines = [
            line for line in replica.log().splitlines()
            if "Resuming operations" in line or "Pausing operations" in line
        ]  # fmt: skip
        return bool(lines) and "Resuming operations" in lines[-1]

    wait_until(both_peered, timeout=60, what="both replicas to join the peering")
    wait_until(
        lambda: sum(active(r) for r in operator_replicas) == 1,
        timeout=30,
        what="exactly one active replica",
    )
    apply(kube_cluster, namespace, load_test("shared", sim_endpoint.endpoint, duration="3s"))
    status = wait_for_phase(kube_cluster, namespace, "shared", ("Completed", "Error"))["status"]
    assert status["verdict"]["result"] == "Passed", status
    assert status["history"] == []
    events = kube_cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=shared",
        "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}",
    ).stdout.split()  # fmt: skip
    assert events.count("RunCreated") == 1, events
    drivers = [r for r in operator_replicas if "[" + namespace + "/shared]" in r.log()]
    assert len(drivers) == 1, "exactly one replica handled the test"
