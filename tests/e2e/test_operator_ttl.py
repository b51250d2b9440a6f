"""spec.ttlSecondsAfterFinished end to end: the operator deletes a finished test, not too soon."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from e2e_helpers import apply, load_test, wait_for_phase

from localcluster.client import ApiError
from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

TTL_SECONDS = 5
POLL_SECONDS = 2  # the operator's timer interval (Settings.poll_seconds)


def _fetch(kube_cluster: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The test as stored, or None once it is gone (or being deleted)."""
    path = f"/apis/perf.elt.dev/v1alpha1/namespaces/{namespace}/endpointloadtests/{name}"
    try:
        found = kube_cluster.api().get(path)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return None if found["metadata"].get("deletionTimestamp") else found


def _children(kube_cluster: Any, namespace: str, name: str) -> set[str]:
    return set(
        kube_cluster.kubectl(
            "get", "deploy,svc,configmap,pods", "-n", namespace,
            "-l", f"perf.elt.dev/test={name}", "-o", "name",
        ).stdout.split()
    )  # fmt: skip


def _finished_at(status: dict[str, Any]) -> float:
    return datetime.fromisoformat(status["finishedAt"].replace("Z", "+00:00")).timestamp()


def test_ttl_deletes_a_finished_test_and_its_children_but_keeps_one_without_ttl(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    easy = {"minTPS": 1, "minRequests": 10}  # the verdict is not what is tested here
    expiring = load_test("expiring", sim_endpoint.endpoint, duration="3s", thresholds=easy)
    expiring["spec"]["ttlSecondsAfterFinished"] = TTL_SECONDS
    apply(kube_cluster, namespace, expiring)
    apply(kube_cluster, namespace, load_test("kept", sim_endpoint.endpoint, duration="3s"))

    # Every kind of child exists while it runs, so their absence later means something.
    created = {
        "configmap/expiring-plan", "service/expiring-master",
        "deployment.apps/expiring-master", "deployment.apps/expiring-worker",
    }  # fmt: skip
    wait_until(
        lambda: created <= _children(kube_cluster, namespace, "expiring"),
        timeout=120,
        what="the children of the test",
    )

    status = wait_for_phase(kube_cluster, namespace, "expiring", ("Completed", "Error"))["status"]
    assert status["phase"] == "Completed", status.get("message")
    assert status["verdict"]["result"] == "Passed", status["verdict"]
    expires_at = _finished_at(status) + TTL_SECONDS
    # Right after completion the test is still there, for kubectl get and its verdict.
    assert _fetch(kube_cluster, namespace, "expiring") is not None, elt_operator.log()[-3000:]

    def deleted_at() -> float | None:
        return time.time() if _fetch(kube_cluster, namespace, "expiring") is None else None

    gone_at = wait_until(
        deleted_at,
        timeout=TTL_SECONDS + 4 * POLL_SECONDS + 20,
        what="the operator to delete the test after its TTL",
    )
    assert gone_at >= expires_at, f"deleted {expires_at - gone_at:.1f}s before its TTL ran out"
    # The operator removed the Deployments and the Service at completion; the ConfigMap
    # goes with its owner. The garbage collector picks up a CRD installed seconds ago
    # only at its next discovery sync (every 30s) and until then retries with backoff:
    # up to about a minute here, at once on a cluster that has known the CRD for longer.
    wait_until(
        lambda: not _children(kube_cluster, namespace, "expiring"),
        timeout=120,
        what="the children of the expired test to be garbage-collected",
    )

    # Without a TTL, a finished test stays, past the point where a TTL would have fired.
    def kept_finished() -> dict[str, Any] | str | None:
        found = _fetch(kube_cluster, namespace, "kept")
        if found is None:
            return "deleted"
        state = found.get("status") or {}
        return state if state.get("phase") in ("Completed", "Error") else None

    kept = wait_until(kept_finished, timeout=120, what="the test without TTL to finish")
    assert kept != "deleted", "a test without TTL was deleted"
    assert isinstance(kept, dict) and kept.get("verdict"), kept
    keep_until = _finished_at(kept) + TTL_SECONDS + 2 * POLL_SECONDS
    while True:
        assert _fetch(kube_cluster, namespace, "kept") is not None, "a test without TTL was deleted"
        if time.time() > keep_until:
            break
        time.sleep(0.5)
