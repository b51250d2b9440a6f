"""The harness itself: clear start errors, full cleanup, no collisions, the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localcluster import ClusterError, LocalCluster, components
from localcluster.paths import REPO_ROOT, binary
from localcluster.procs import marked

pytestmark = pytest.mark.cluster


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


def test_second_cluster_runs_beside_the_first(kube_cluster: LocalCluster) -> None:
    with LocalCluster() as second:
        assert second.server != kube_cluster.server
        assert second.pod_cidr != kube_cluster.pod_cidr
        nodes = second.kubectl("get", "nodes", "-o", "name").stdout
        assert nodes.strip() == "node/localcluster-node"
        data_dir, cluster_id = second.data_dir, second.id
    assert not data_dir.exists()
    assert marked(cluster_id) == []
    assert kube_cluster.kubectl("get", "--raw", "/readyz").stdout == "ok"


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
        out = subprocess.run([*kubectl, "get", "nodes"], capture_output=True, text=True)
        assert "Ready" in out.stdout, out.stderr
        status = subprocess.run([*cli, "status", "--dir", str(directory)], env=env,
                                capture_output=True, text=True)  # fmt: skip
        assert status.returncode == 0 and "kube-apiserver" in status.stdout
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(directory)], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert not directory.exists()


def test_start_retries_when_a_chosen_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    from localcluster import controlplane
    from localcluster.ports import free_ports

    with socket.socket() as squatter:  # someone else grabs the API server's port first
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        calls: list[int] = []

        def ports_once_taken(count: int) -> list[int]:
            calls.append(count)
            ports = free_ports(count)
            if len(calls) == 1:
                ports[2] = taken  # Ports(etcd_client, etcd_peer, apiserver, ...)
            return ports

        monkeypatch.setattr(controlplane, "free_ports", ports_once_taken)
        with LocalCluster() as cluster:
            assert len(calls) == 2
            assert cluster.ports.apiserver != taken
            assert cluster.kubectl("get", "--raw", "/readyz").stdout == "ok"
