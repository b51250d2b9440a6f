"""The harness itself: clear start errors, one node per machine, teardown that leaves
nothing behind, the CLI, port retries. Each test starts clusters of its own, so they
run before the session's shared cluster (marker `own_cluster`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcluster import ClusterError, LocalCluster, components
from localcluster.node import leftovers
from localcluster.paths import REPO_ROOT, binary
from localcluster.procs import marked
from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.own_cluster]

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "sleeper", "labels": {"app": "sleeper"}},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "main",
                "imagePullPolicy": "Never",
                "command": ["python3", "-c", "import time; time.sleep(3600)"],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            }
        ],
        "volumes": [{"name": "scratch", "emptyDir": {}}],
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "sleeper"},
    "spec": {"selector": {"app": "sleeper"}, "ports": [{"port": 80}]},
}


def test_a_component_that_fails_is_named_with_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        components, "etcd", lambda data, ports: [str(binary("etcd")), "--no-such-flag"]
    )
    cluster = LocalCluster(start_timeout=20)
    with pytest.raises(ClusterError) as err:
        cluster.start()
    message = str(err.value)
    assert message.startswith("etcd exited with code")
    assert "no-such-flag" in message  # the end of etcd's own log
    assert not cluster.data_dir.exists()
    assert marked(cluster.id) == []
    assert leftovers.find(cluster.data_dir) == []


def test_one_node_per_machine_and_teardown_leaves_nothing() -> None:
    with LocalCluster() as first:
        pod = {**POD, "spec": {**POD["spec"]}}
        pod["spec"]["containers"] = [{**POD["spec"]["containers"][0], "image": first.image}]
        first.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([pod, SERVICE]))
        first.kubectl("wait", "pod/sleeper", "--for=condition=Ready", "--timeout=60s")
        # The pod made what teardown must remove: a sandbox, a mount, a veth, rules.
        left_while_running = first.leftovers()
        assert any(line.startswith("process") for line in left_while_running)
        assert any(line.startswith("mount") for line in left_while_running)
        assert any(line.startswith("iptables chain") for line in left_while_running)
        assert any(line.startswith("cgroup") for line in left_while_running)

        second = LocalCluster()
        with pytest.raises(ClusterError) as err:
            second.start()
        assert "already runs on this machine" in str(err.value)
        assert str(first.data_dir) in str(err.value)
        assert first.kubectl("get", "--raw", "/readyz").stdout == "ok"  # untouched
        data_dir, cluster_id = first.data_dir, first.id
    print(f"\nstart {first.timings['start']:.1f}s, stop {first.timings['stop']:.1f}s")
    assert not data_dir.exists()
    assert marked(cluster_id) == []
    assert leftovers.find(data_dir) == []


def test_cli_up_and_down(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests")}
    cli = [sys.executable, "-m", "localcluster"]
    up = subprocess.run([*cli, "up", "--dir", str(directory)], env=env, capture_output=True,
                        text=True, timeout=120)  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert f"export KUBECONFIG={directory / 'kubeconfig'}" in up.stdout
    try:
        kubectl = [str(binary("kubectl")), f"--kubeconfig={directory / 'kubeconfig'}"]
        out = subprocess.run([*kubectl, "get", "nodes", "-o", "wide"], capture_output=True,
                             text=True)  # fmt: skip
        assert " Ready " in out.stdout and "containerd://2." in out.stdout, out.stderr
        status = subprocess.run([*cli, "status", "--dir", str(directory)], env=env,
                                capture_output=True, text=True)  # fmt: skip
        assert status.returncode == 0 and "kubelet" in status.stdout
        again = subprocess.run([*cli, "up", "--dir", str(tmp_path / "other")], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert again.returncode == 1 and "one node per machine" in again.stdout
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(directory)], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    assert leftovers.find(directory) == []


def test_start_retries_when_a_chosen_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    from localcluster import controlplane
    from localcluster.ports import free_ports

    with socket.socket() as squatter:  # someone else grabs the API server's port first
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        control_plane_calls: list[int] = []

        def ports_once_taken(count: int) -> list[int]:
            ports = free_ports(count)
            if count == 5:  # components.Ports(etcd_client, etcd_peer, apiserver, ...)
                control_plane_calls.append(count)
                if len(control_plane_calls) == 1:
                    ports[2] = taken
            return ports

        monkeypatch.setattr(controlplane, "free_ports", ports_once_taken)
        with LocalCluster() as cluster:
            assert len(control_plane_calls) == 2
            assert cluster.ports.apiserver != taken
            assert cluster.kubectl("get", "--raw", "/readyz").stdout == "ok"
            wait_until(lambda: cluster.api().get("/api/v1/nodes")["items"], 10, what="a node")
