"""The fault suite: each fault on the test cluster ends in one verdict with its reason.

Every test asserts the end (phase, reason), the history, the events and that nothing of
the load generator is left behind. Windows are short; the faults come mid-window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from e2e_helpers import apply, get_test, load_test, wait_for_phase
from fault_helpers import (
    event_reasons,
    pod_names,
    restart_apiserver,
    wait_nothing_left,
)

from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def _measuring(kube_cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    def window_open() -> dict[str, Any] | None:
        status = get_test(kube_cluster, namespace, name).get("status") or {}
        return status if (status.get("progress") or {}).get("stage") == "measuring" else None

    return wait_until(window_open, timeout=180, what=f"{name}'s window to open")


def _ended(kube_cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    return wait_for_phase(kube_cluster, namespace, name, ("Completed", "Error"))["status"]


def test_master_pod_deleted_mid_window_is_an_error_master_restarted(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("master-lost", sim_endpoint.endpoint, duration="30s"))
    _measuring(kube_cluster, namespace, "master-lost")
    [master] = pod_names(kube_cluster, namespace, "master-lost", "master")
    kube_cluster.kubectl("delete", "pod", master, "-n", namespace, "--wait=false")
    status = _ended(kube_cluster, namespace, "master-lost")
    assert status["phase"] == "Error", status
    assert status["reason"] == "MasterRestarted", status
    assert "measured before" in status["message"]
    assert status.get("verdict") is None, "never a verdict on a second run"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Completed"] == ("True", "MasterRestarted")
    assert "MasterRestarted" in event_reasons(kube_cluster, namespace, "master-lost")
    wait_nothing_left(kube_cluster, namespace, "master-lost")
    assert not get_test(kube_cluster, namespace, "master-lost")["metadata"].get("finalizers")


def test_worker_pod_deleted_mid_window_is_inconclusive_naming_it_soon_after_the_window(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    manifest = load_test("worker-lost", sim_endpoint.endpoint, workers=2, duration="12s")
    apply(kube_cluster, namespace, manifest)
    _measuring(kube_cluster, namespace, "worker-lost")
    worker = pod_names(kube_cluster, namespace, "worker-lost", "worker")[0]
    kube_cluster.kubectl("delete", "pod", worker, "-n", namespace, "--wait=false")
    status = _ended(kube_cluster, namespace, "worker-lost")
    assert status["phase"] == "Completed", status
    assert status["verdict"]["result"] == "Inconclusive", status["verdict"]
    assert status["reason"] == "WorkerLost"
    assert "WorkerLost" in event_reasons(kube_cluster, namespace, "worker-lost")
    assert "worker" in status["verdict"]["message"].lower(), status["verdict"]["message"]
    # The verdict comes within seconds of the window's end, not after minutes.
    window_end = status["lifecycle"]["window"][1]
    finished = datetime.fromisoformat(status["finishedAt"].replace("Z", "+00:00")).timestamp()
    assert finished - window_end < 20, (window_end, finished)
    wait_nothing_left(kube_cluster, namespace, "worker-lost")


def test_a_child_the_api_server_refuses_is_an_error_with_its_message(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    manifest = load_test("bad-quantity", sim_endpoint.endpoint)
    manifest["spec"]["pod"]["resources"] = {"limits": {"cpu": "lots"}}
    apply(kube_cluster, namespace, manifest)
    status = _ended(kube_cluster, namespace, "bad-quantity")
    assert status["phase"] == "Error" and status["reason"] == "Refused", status
    assert "quantities must match" in status["message"] or "invalid" in status["message"]
    assert "Refused" in event_reasons(kube_cluster, namespace, "bad-quantity")
    wait_nothing_left(kube_cluster, namespace, "bad-quantity")
    log = elt_operator.log()
    assert "Traceback" not in log, log[-3000:]


def test_spec_edited_mid_run_supersedes_the_run_and_the_new_run_completes(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("edited", sim_endpoint.endpoint, duration="60s"))
    first = _measuring(kube_cluster, namespace, "edited")["runId"]
    apply(kube_cluster, namespace, load_test("edited", sim_endpoint.endpoint, duration="4s"))

    def second_done() -> dict[str, Any] | None:
        status = get_test(kube_cluster, namespace, "edited").get("status") or {}
        done = status.get("runId") != first and status.get("phase") in ("Completed", "Error")
        return status if done else None

    status = wait_until(second_done, timeout=180, what="the new run to end")
    assert status["phase"] == "Completed" and status["verdict"]["result"] == "Passed", status
    assert [(h["runId"], h["result"]) for h in status["history"]] == [(first, "Superseded")]
    assert "Superseded" in event_reasons(kube_cluster, namespace, "edited")
    wait_nothing_left(kube_cluster, namespace, "edited")


def test_a_200_kib_inline_payload_runs(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    manifest = load_test("big-body", sim_endpoint.endpoint, duration="3s")
    text = "x" * (200 * 1024)
    manifest["spec"]["payload"] = {"body": '{"inputs": "' + text + '"}'}
    manifest["spec"]["thresholds"] = {"minRequests": 5}
    apply(kube_cluster, namespace, manifest)
    status = _ended(kube_cluster, namespace, "big-body")
    assert status["phase"] == "Completed", status
    assert status["results"]["requests"] >= 5 and status["results"]["failures"] == 0


def test_kube_apiserver_restarted_mid_run_still_gives_one_verdict(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("api-restart", sim_endpoint.endpoint, duration="15s"))
    run_id = _measuring(kube_cluster, namespace, "api-restart")["runId"]
    restart_apiserver(kube_cluster)
    status = _ended(kube_cluster, namespace, "api-restart")
    assert status["runId"] == run_id and status["history"] == []
    assert status["phase"] == "Completed" and status["verdict"]["result"] == "Passed", status
    reasons = event_reasons(kube_cluster, namespace, "api-restart")
    assert reasons.count("RunCreated") == 1 and reasons.count("Passed") == 1, reasons
    wait_nothing_left(kube_cluster, namespace, "api-restart")


# Where the operator is killed: any first status (Pending), each phase, after the verdict.
# (Evaluating lasts less than a tick without CloudWatch: the lifecycle's unit tests hold it.)
KILL_POINTS = {
    "Pending": ("Pending", "Starting", "Running", "Completed"),
    "Starting": ("Starting",),
    "Running": ("Running",),
    "Completed": ("Completed",),
}


@pytest.mark.parametrize("phase", list(KILL_POINTS))
def test_operator_sigkilled_in_a_phase_resumes_to_one_verdict(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any, phase: str
) -> None:
    apply(kube_cluster, namespace, load_test("killed", sim_endpoint.endpoint, duration="6s"))
    seen = wait_for_phase(kube_cluster, namespace, "killed", KILL_POINTS[phase])["status"]
    elt_operator.kill()
    elt_operator.start()
    status = _ended(kube_cluster, namespace, "killed")
    assert status["runId"] == seen["runId"] and status["history"] == []
    assert status["phase"] == "Completed" and status["verdict"]["result"] == "Passed", status
    wait_nothing_left(kube_cluster, namespace, "killed")
    reasons = event_reasons(kube_cluster, namespace, "killed")
    assert reasons.count("RunCreated") == 1 and reasons.count("Passed") == 1, reasons


def test_finished_test_is_deleted_without_the_operator(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("done", sim_endpoint.endpoint, duration="2s"))
    _ended(kube_cluster, namespace, "done")
    wait_nothing_left(kube_cluster, namespace, "done")
    wait_until(
        lambda: not get_test(kube_cluster, namespace, "done")["metadata"].get("finalizers"),
        timeout=30,
        what="the finalizer to go",
    )
    elt_operator.kill()
    kube_cluster.kubectl("delete", "elt", "done", "-n", namespace, "--timeout=20s", timeout=30)
    elt_operator.start()


def test_namespace_deleted_mid_run_is_deleted_with_nothing_left(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    apply(kube_cluster, namespace, load_test("ns-gone", sim_endpoint.endpoint, duration="60s"))
    _measuring(kube_cluster, namespace, "ns-gone")
    kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")

    def gone() -> bool:
        found = kube_cluster.kubectl("get", "namespace", namespace, "-o", "json", check=False)
        if found.returncode != 0 and "NotFound" in found.stderr:
            return True
        left = kube_cluster.kubectl("get", "elt,all", "-n", namespace, check=False).stdout
        raise AssertionError(f"{found.stdout[-1500:]}\n{left}")  # reported on timeout

    wait_until(gone, timeout=120, what=f"namespace {namespace} to be deleted")
    pods = kube_cluster.kubectl(
        "get", "pods", "-A", "-o", "name", "-l", "perf.elt.dev/test=ns-gone"
    )
    assert pods.stdout.strip() == ""
    assert "Traceback" not in elt_operator.log(), elt_operator.log()[-3000:]
