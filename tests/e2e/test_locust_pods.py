"""The Locust pods the operator creates run the product's image on a real node, with
the securityContext their manifests claim: uid 10001, a read-only root, no capabilities."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_helpers import apply, load_test, wait_for_phase

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

CHECK = """
import json, os
lines = open("/proc/self/status").read().splitlines()
status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
try:
    open("/opt/elt/written-by-a-test", "w")
    write = "allowed"
except OSError as exc:
    write = exc.strerror
print(json.dumps({"uid": os.getuid(), "capEff": status["CapEff"].strip(), "write": write}))
"""


def test_locust_pods_run_the_image_as_non_root_with_a_read_only_root(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    kube_cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    apply(kube_cluster, namespace, load_test("hardened", sim_endpoint.endpoint, duration="8s"))
    wait_for_phase(kube_cluster, namespace, "hardened", ("Running",), timeout=120)
    pods = json.loads(
        kube_cluster.kubectl(
            "get", "pods", "-n", namespace, "-l", "perf.elt.dev/test=hardened", "-o", "json"
        ).stdout
    )["items"]  # fmt: skip
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in pods}
    assert set(components) == {"master", "worker"}
    for component, pod in components.items():
        [status] = pod["status"]["containerStatuses"]
        assert status["image"].endswith("endpoint-loadtest-operator:0.1.0"), status
        assert status["containerID"].startswith("containerd://")
        out = kube_cluster.kubectl(
            "exec", "-n", namespace, pod["metadata"]["name"], "--", "python3", "-c", CHECK
        ).stdout
        report = json.loads(out)
        assert report == {"uid": 10001, "capEff": "0000000000000000",
                          "write": "Read-only file system"}, component  # fmt: skip
    done = wait_for_phase(kube_cluster, namespace, "hardened", ("Completed", "Error"), 150)
    assert done["status"]["verdict"]["result"] == "Passed", done["status"]
