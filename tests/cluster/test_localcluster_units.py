"""Unit tests of the node agent's pure parts (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcluster.node.dns import HostsTable, PodHosts
from localcluster.node.env import ConfigError, container_env, expand, resource_value
from localcluster.node.images import argv_for, load_table, normalize, resolve


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--host=$(POD_IP)", "--host=127.0.5.2"),
        ("$$(POD_IP)", "$(POD_IP)"),
        ("$(MISSING) stays", "$(MISSING) stays"),
        ("a $$ b", "a $ b"),
        ("$(POD_IP", "$(POD_IP"),
    ],
)
def test_expand_follows_kubelet_rules(text: str, expected: str) -> None:
    assert expand(text, {"POD_IP": "127.0.5.2"}) == expected


@pytest.mark.parametrize(
    ("image", "name", "tag"),
    [
        ("python:3.11-slim", "docker.io/library/python", "3.11-slim"),
        ("busybox", "docker.io/library/busybox", "latest"),
        ("elt-dev/x:1", "docker.io/elt-dev/x", "1"),
        ("ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0",
         "ghcr.io/elt-dev/endpoint-loadtest-operator", "0.1.0"),
        ("localhost:5000/a/b@sha256:abc", "localhost:5000/a/b", "latest"),
    ],
)  # fmt: skip
def test_normalize_image(image: str, name: str, tag: str) -> None:
    assert normalize(image) == (name, tag)


def test_image_table() -> None:
    table = load_table()
    product = resolve(table, "ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0")
    assert product is not None and product.path[0].endswith("/.venv/bin")
    assert argv_for(product, {"args": ["operator"]}) == ["elt", "operator"]
    assert argv_for(product, {"command": ["elt-loadgen"], "args": ["-v"]}) == ["elt-loadgen", "-v"]
    python = resolve(table, "python:3.11-slim")
    assert python is not None and argv_for(python, {}) == ["python3"]
    assert resolve(table, "nginx:1.27") is None


def test_container_env_order_and_sources() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "labels": {"app": "a"}},
           "spec": {"nodeName": "node"}, "status": {"podIP": "127.0.9.3"}}  # fmt: skip
    objects = {
        ("configmaps", "c"): {"data": {"A": "1", "bad-name!": "x"}},
        ("secrets", "s"): {"data": {"pw": "aHVudGVyMg=="}},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "c"}}, {"secretRef": {"name": "s"}, "prefix": "S_"}],
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "URL", "value": "http://$(IP):$(A)"},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "none", "key": "k",
                                                           "optional": True}}},
        ],
    }  # fmt: skip
    env = container_env(pod, container, {"PATH": "/bin"}, lambda k, n: objects.get((k, n)), {})
    assert env["URL"] == "http://127.0.9.3:1"
    assert env["S_pw"] == "hunter2"
    assert env["APP"] == "a"
    assert "OPT" not in env and "bad-name!" not in env
    missing = {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k"}}}]}
    with pytest.raises(ConfigError, match='configmap "no" not found'):
        container_env(pod, missing, {}, lambda k, n: None, {})


def test_resource_field_ref_defaults_to_allocatable() -> None:
    container = {"resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m"}}}
    alloc = {"cpu": "64", "memory": "256Gi"}
    assert (
        resource_value(container, {"resource": "limits.memory", "divisor": "1Mi"}, alloc) == "1024"
    )
    assert resource_value(container, {"resource": "requests.cpu", "divisor": "1m"}, alloc) == "250"
    assert resource_value(container, {"resource": "limits.cpu"}, alloc) == "64"


def test_hosts_file_has_ready_endpoints_only(tmp_path: Path) -> None:
    table = HostsTable()
    table.set_service({"metadata": {"namespace": "ns", "name": "web"},
                       "spec": {"selector": {"app": "web"}}})  # fmt: skip

    def pod(uid: str, ip: str, ready: bool) -> dict:
        cond = [{"type": "Ready", "status": "True" if ready else "False"}]
        return {"metadata": {"uid": uid, "namespace": "ns", "labels": {"app": "web"}},
                "spec": {}, "status": {"podIP": ip, "conditions": cond}}  # fmt: skip

    table.set_pod(pod("a", "127.0.9.2", True))
    table.set_pod(pod("b", "127.0.9.3", False))
    own = PodHosts(tmp_path / "hosts", "ns", "127.0.9.4", ["client"])
    other = PodHosts(tmp_path / "hosts2", "other", "127.0.9.5", ["far"])
    table.add_file("c", own)
    table.add_file("d", other)
    text = own.path.read_text()
    assert "127.0.9.2\tweb web.ns web.ns.svc web.ns.svc.cluster.local" in text
    assert "127.0.9.3" not in text
    assert "127.0.9.2\tweb.ns web.ns.svc" in other.path.read_text()
    inode = own.path.stat().st_ino
    table.set_pod(pod("b", "127.0.9.3", True))
    assert "127.0.9.3\tweb " in own.path.read_text()
    assert own.path.stat().st_ino == inode  # rewritten in place: it is bind-mounted
