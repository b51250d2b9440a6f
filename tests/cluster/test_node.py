"""The node is real: containerd runs the product's image, applies the securityContext
and the limits, and kubectl logs, exec and port-forward reach it."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from typing import Any

import pytest

from cluster.kube import apply, wait_ready_pods
from localcluster import LocalCluster
from localcluster.ports import free_port
from localcluster.waiting import wait_until

pytestmark = pytest.mark.cluster

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
REPORT = """
import json, os
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
try:
    open("/opt/elt/written-by-a-test", "w")
    write = "allowed"
except OSError as exc:
    write = exc.strerror
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "capEff": status["CapEff"].strip(),
                  "noNewPrivs": status["NoNewPrivs"].strip(),
                  "seccomp": status["Seccomp"].strip(), "write": write}), flush=True)
import time; time.sleep(3600)
"""


def pod(name: str, image: str, command: list[str], **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    **container,
                }
            ],
        },
    }


def test_the_node_runs_containerd_2(kube_cluster: LocalCluster) -> None:
    wide = kube_cluster.kubectl("get", "node", "-o", "wide").stdout
    assert "containerd://2." in wide
    node = json.loads(kube_cluster.kubectl("get", "node", "-o", "json").stdout)["items"][0]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == kube_cluster.kube_version


def test_a_hardened_pod_of_the_product_image_gets_all_of_its_security_context(
    kube_cluster: LocalCluster, namespace: str
) -> None:
    kube_cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    manifest = pod(
        "hardened", kube_cluster.image, ["python3", "-c", REPORT], securityContext=RESTRICTED
    )
    manifest["spec"]["securityContext"] = {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    apply(kube_cluster, namespace, manifest)
    line = wait_until(
        lambda: kube_cluster.logs(namespace, "hardened").strip(), 60, what="the pod's report"
    )
    report = json.loads(line.splitlines()[0])
    assert report["uid"] == 10001 and report["gid"] == 10001  # the image's numeric user
    assert report["capEff"] == "0000000000000000"
    assert report["noNewPrivs"] == "1"
    assert report["seccomp"] == "2"  # filter mode: RuntimeDefault applied
    assert report["write"] == "Read-only file system"


def test_a_memory_limit_is_enforced(kube_cluster: LocalCluster, namespace: str) -> None:
    hog = "x = bytearray(256 * 1024 * 1024); import time; time.sleep(60)"
    limits = {"limits": {"memory": "64Mi", "cpu": "200m"}}
    apply(kube_cluster, namespace, pod("hog", kube_cluster.image, ["python3", "-c", hog],
                                       resources=limits))  # fmt: skip

    def terminated() -> dict[str, Any] | None:
        found = kube_cluster.api().get(f"/api/v1/namespaces/{namespace}/pods/hog")
        for status in found.get("status", {}).get("containerStatuses", []):
            if "terminated" in status.get("state", {}):
                return status["state"]["terminated"]
        return None

    state = wait_until(terminated, 60, what="the hog to be killed")
    assert state["reason"] == "OOMKilled" and state["exitCode"] == 137


def test_logs_exec_and_port_forward(kube_cluster: LocalCluster, namespace: str) -> None:
    server = (
        "import http.server as h; h.test(h.SimpleHTTPRequestHandler, port=8080, bind='0.0.0.0')"
    )
    manifest = pod("web", kube_cluster.image, ["python3", "-u", "-c", server],
                   workingDir="/opt/elt",
                   readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1})  # fmt: skip
    manifest["metadata"]["labels"] = {"app": "web"}
    apply(kube_cluster, namespace, manifest)
    wait_ready_pods(kube_cluster, namespace, "app=web", 1)
    whoami = kube_cluster.kubectl("exec", "-n", namespace, "web", "--", "id", "-u").stdout
    assert whoami.strip() == "10001"
    port = free_port()
    forward = subprocess.Popen(
        [*kube_cluster.kubectl_argv(), "port-forward", "-n", namespace, "pod/web", f"{port}:8080"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None
        assert "Forwarding from" in forward.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
    finally:
        forward.terminate()
        forward.wait(timeout=10)
    assert "GET / HTTP/1.1" in kube_cluster.logs(namespace, "web")


def test_pods_resolve_services_and_reach_the_host(
    kube_cluster: LocalCluster, namespace: str
) -> None:
    with socket.socket() as listener:  # a server on the host, at the address pods are given
        listener.bind((kube_cluster.host_address, 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = (
            "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'));"
            f"socket.create_connection(('{kube_cluster.host_address}', {port}), timeout=5);"
            "print('reached the host', flush=True)"
        )
        apply(kube_cluster, namespace, pod("probe", kube_cluster.image, ["python3", "-c", probe]))
        listener.settimeout(60)
        connection, _ = listener.accept()
        connection.close()
    log = wait_until(
        lambda: "reached the host" in (out := kube_cluster.logs(namespace, "probe")) and out,
        30, what="the probe's log",
    )  # fmt: skip
    assert log.splitlines()[0] == "10.96.0.1"  # the kubernetes Service's ClusterIP
