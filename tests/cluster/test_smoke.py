"""Smoke tests: the local cluster behaves like a real one where the operator needs it."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from cluster.kube import (
    apply,
    pods,
    python_deployment,
    wait_gone,
    wait_log,
    wait_ready_pods,
)
from localcluster import LocalCluster
from localcluster.waiting import wait_until

pytestmark = pytest.mark.cluster

HTTP_SERVER = """
import http.server, socket, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + socket.gethostname()).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
print("serving on", sys.argv[1], sys.argv[2], flush=True)
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""

HTTP_CLIENT = """
import time, urllib.request
url = "http://web.{ns}.svc.cluster.local/"  # the Service port: kube-proxy, DNS
while True:
    try:
        print("OK", urllib.request.urlopen(url, timeout=2).read().decode(), flush=True)
    except Exception as exc:
        print("FAIL", exc, flush=True)
    time.sleep(0.5)
"""

LIST_CONFIGMAPS = """
import time
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
api = client.CoreV1Api()
while True:
    try:
        api.list_namespaced_config_map(ns)
        print("STATUS 200", flush=True)
    except ApiException as exc:
        print("STATUS", exc.status, flush=True)
    time.sleep(0.5)
"""


def web_service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def test_deployment_service_dns(kube_cluster: LocalCluster, namespace: str) -> None:
    apply(
        kube_cluster,
        namespace,
        python_deployment("web", HTTP_SERVER, kube_cluster.image, port=8080),
        web_service(),
    )
    [web] = wait_ready_pods(kube_cluster, namespace, "app=web", 1)
    assert ipaddress.ip_address(web["status"]["podIP"]) in ipaddress.ip_network(
        kube_cluster.pod_cidr
    )
    apply(
        kube_cluster,
        namespace,
        python_deployment("client", HTTP_CLIENT.format(ns=namespace), kube_cluster.image),
    )
    [client] = wait_ready_pods(kube_cluster, namespace, "app=client", 1)
    log = wait_log(kube_cluster, namespace, client["metadata"]["name"], "OK hello from web-")
    assert web["metadata"]["name"] in log
    # kubectl logs goes apiserver -> the kubelet's port.
    out = kube_cluster.kubectl("logs", "-n", namespace, web["metadata"]["name"]).stdout
    assert "serving on" in out


def test_garbage_collection_and_namespace_deletion(
    kube_cluster: LocalCluster, namespace: str
) -> None:
    apply(
        kube_cluster,
        namespace,
        python_deployment("web", HTTP_SERVER, kube_cluster.image, port=8080),
    )
    wait_ready_pods(kube_cluster, namespace, "app=web", 1)
    rs_path = f"/apis/apps/v1/namespaces/{namespace}/replicasets"
    assert len(kube_cluster.api().get(rs_path)["items"]) == 1
    kube_cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--wait=false")
    wait_until(lambda: not kube_cluster.api().get(rs_path)["items"], 30, what="ReplicaSet GC")
    wait_until(lambda: not pods(kube_cluster, namespace, "app=web"), 30, what="pods GC")
    apply(
        kube_cluster,
        namespace,
        python_deployment("web", HTTP_SERVER, kube_cluster.image, port=8080),
    )
    wait_ready_pods(kube_cluster, namespace, "app=web", 1)
    kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    wait_gone(kube_cluster, f"/api/v1/namespaces/{namespace}", timeout=60)


def test_service_account_rbac(kube_cluster: LocalCluster, namespace: str) -> None:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}
    apply(
        kube_cluster,
        namespace,
        sa,
        python_deployment("lister", LIST_CONFIGMAPS, kube_cluster.image, sa="reader"),
    )
    [pod] = wait_ready_pods(kube_cluster, namespace, "app=lister", 1)
    name = pod["metadata"]["name"]
    wait_log(kube_cluster, namespace, name, "STATUS 403")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "configmap-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "configmap-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    }  # fmt: skip
    apply(kube_cluster, namespace, role, binding)
    wait_log(kube_cluster, namespace, name, "STATUS 200")


def test_pod_security_restricted(kube_cluster: LocalCluster, namespace: str) -> None:
    kube_cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"],
                                 "securityContext": {"privileged": True}}]},
    }  # fmt: skip
    with pytest.raises(subprocess.CalledProcessError) as err:
        apply(kube_cluster, namespace, pod)
    assert 'violates PodSecurity "restricted:latest"' in err.value.stderr
    assert "privileged" in err.value.stderr
