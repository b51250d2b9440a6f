"""Many tests applied at once: each ends with one verdict; finished, they cost nothing.

Also records the operator's peak memory and the API server's request rate while the
finished tests sit idle (printed with -s). `make test` applies 20; `make bench-cluster`
applies 50 (ELT_MANY_TESTS=50), the figures in the README.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from e2e_helpers import load_test
from fault_helpers import api_request_counts, event_reasons

from conftest import OperatorProcess, operator_env, release_unfinished_tests
from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

COUNT = int(os.environ.get("ELT_MANY_TESTS", "20"))
# Long enough to tell "no timer" from a 2-second timer per finished test (15 requests
# each in 30 s); make bench-cluster measures a full minute.
IDLE_SECONDS = float(os.environ.get("ELT_IDLE_SECONDS", "30"))
# A hundred Locust pods starting at once on a 2-core node take minutes of CPU to import
# Python and Locust: the operator's start timeout must allow for it, or every test ends
# in Error "did not start" (rightly: that is what the node could do).
START_TIMEOUT_SECONDS = 600
# What only the operator reads or writes: a finished test must not touch them.
OPERATOR_RESOURCES = ("endpointloadtests", "pods", "deployments", "services", "configmaps")


class PeakMemory:
    """The highest RSS of a process, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@pytest.fixture
def patient_operator(
    kube_cluster: Any, namespace: str, crd_installed: None, tmp_path: Any
) -> Iterator[OperatorProcess]:
    env = {**operator_env(kube_cluster), "ELT_START_TIMEOUT_SECONDS": str(START_TIMEOUT_SECONDS)}
    operator = OperatorProcess(namespace, tmp_path / "operator.log", env)
    operator.start()
    yield operator
    operator.stop()
    release_unfinished_tests(kube_cluster, namespace)


@pytest.mark.timeout(1500)
def test_many_tests_at_once_end_with_one_verdict_each_and_idle_for_free(
    kube_cluster: Any, namespace: str, patient_operator: OperatorProcess, sim_endpoint: Any
) -> None:
    elt_operator = patient_operator
    memory = PeakMemory(elt_operator.proc.pid)
    manifests = [
        load_test(f"many-{i:02d}", sim_endpoint.endpoint, users=1, duration="2s",
                  thresholds={"minRequests": 1})
        for i in range(COUNT)
    ]  # fmt: skip
    documents = "\n---\n".join(json.dumps(m) for m in manifests)
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=documents)

    def all_ended() -> list[dict[str, Any]] | None:
        items = json.loads(
            kube_cluster.kubectl("get", "elt", "-n", namespace, "-o", "json").stdout
        )["items"]
        ended = [i for i in items if (i.get("status") or {}).get("phase") in ("Completed", "Error")]
        done = len(ended) == COUNT and all(
            not i["metadata"].get("finalizers") for i in ended
        )  # fmt: skip
        return items if done else None

    items = wait_until(all_ended, timeout=900, interval=2.0, what=f"{COUNT} tests to end")
    phases = {i["metadata"]["name"]: i["status"]["phase"] for i in items}
    errors = {
        i["metadata"]["name"]: i["status"].get("message") for i in items
        if i["status"]["phase"] != "Completed"
    }  # fmt: skip
    assert not errors, errors
    assert all(i["status"]["history"] == [] for i in items)
    for name in list(phases)[:5]:  # one verdict each: one run, one verdict event
        reasons = event_reasons(kube_cluster, namespace, name)
        assert reasons.count("RunCreated") == 1, (name, reasons)
    wait_until(
        lambda: kube_cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == "",
        timeout=300, interval=2.0, what="every load-generator pod to be removed",
    )  # fmt: skip

    # Other tests' namespaces still being deleted are relisted by the namespace controller,
    # whose LISTs of every resource (ours too) the API server's counts cannot tell apart.
    wait_until(
        lambda: "Terminating" not in kube_cluster.kubectl(
            "get", "namespaces", "--no-headers").stdout,
        timeout=300, interval=2.0, what="other tests' namespaces to be deleted",
    )  # fmt: skip
    before = api_request_counts(kube_cluster)
    threading.Event().wait(IDLE_SECONDS)  # the measurement interval itself
    after = api_request_counts(kube_cluster)
    peak = memory.stop()

    def rate(select: Any) -> float:
        delta = sum(v - before.get(k, 0) for k, v in after.items() if select(k))
        return delta / IDLE_SECONDS

    idle_operator = rate(lambda k: k[1] in OPERATOR_RESOURCES and k[0] != "WATCH")
    idle_tests = rate(lambda k: k[1] == "endpointloadtests" and k[0] != "WATCH")
    idle_all = rate(lambda k: k[0] != "WATCH")
    figures = {
        "tests": COUNT,
        "operatorPeakRssMiB": round(peak / 2**20, 1),
        "idleRequestsPerSecondOperatorResources": round(idle_operator, 3),
        "idleRequestsPerSecondEndpointLoadTests": round(idle_tests, 3),
        "idleRequestsPerSecondAll": round(idle_all, 3),
        "idleSeconds": IDLE_SECONDS,
    }
    busiest = sorted(
        ((v - before.get(k, 0), "/".join(k)) for k, v in after.items()
         if k[0] != "WATCH" and v > before.get(k, 0)),
        reverse=True,
    )[:12]  # fmt: skip
    print(f"\n{COUNT} finished tests idle: {json.dumps(figures)}; busiest: {busiest}")
    # Finished tests: no timer, so no recurring request for them (a timer per finished
    # test would be about 1.5 a second each). kopf may still make one late pass over a
    # test it had not caught up with (seen: 1 PATCH in a minute, on a loaded node).
    assert idle_tests * IDLE_SECONDS < COUNT, (figures, busiest)
