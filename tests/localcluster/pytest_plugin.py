"""pytest fixtures for the local cluster. Register with
`pytest_plugins = ["localcluster.pytest_plugin"]`.

- `kube_cluster` (session): a started `LocalCluster`; `.kubeconfig`, `.server`,
  `.kubectl(...)`, `.logs(ns, pod, container)`, `.api()`, `.env()`.
- `namespace` (function): a fresh namespace (its default ServiceAccount exists),
  deleted after the test.
- `kubeconfig` (session): the kubeconfig path; also exported as KUBECONFIG while
  the session runs, so kopf and the kubernetes client find the cluster.

The cluster is started lazily by the first test that asks for it and stopped at
session end, also on failures and Ctrl-C; an atexit hook, a process sweep and the
node's leftover removal make sure nothing outlives the session.

One node per machine: tests marked `own_cluster` start and stop clusters of their
own, so they are run first, before anything starts the session's cluster.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.client import ApiError
from localcluster.controlplane import LocalCluster
from localcluster.paths import BIN_DIR
from localcluster.procs import wait_for
from localcluster.waiting import wait_until

__all__ = ["wait_until"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_cluster: starts clusters of its own (one node per machine: runs before the "
        "session's shared cluster starts)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("own_cluster") is None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("localcluster")
    group.addoption(
        "--keep-cluster-data",
        action="store_true",
        help="keep the local cluster's data dir (logs, pod logs) after the session",
    )


@pytest.fixture(scope="session")
def kube_cluster(request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    """The session's local cluster (etcd, apiserver, controllers, scheduler, node)."""
    if not (BIN_DIR / "kube-apiserver").exists():
        pytest.fail(f"{BIN_DIR}/kube-apiserver is missing: run `make cluster-tools`")
    keep = bool(request.config.getoption("--keep-cluster-data"))
    cluster = LocalCluster(keep_data=keep)
    atexit.register(cluster.stop)
    old = os.environ.get("KUBECONFIG")
    cluster.start()
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        cluster.stop()
        atexit.unregister(cluster.stop)
        if keep:
            print(f"\nlocalcluster data kept in {cluster.data_dir}")


@pytest.fixture(scope="session")
def kubeconfig(kube_cluster: LocalCluster) -> Path:
    return kube_cluster.kubeconfig


@pytest.fixture
def namespace(kube_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test; deleted afterwards (without waiting for it)."""
    base = request.node.name.lower().replace("_", "-")
    name = "".join(ch for ch in base if ch.isalnum() or ch == "-")[:40].strip("-")
    name = f"{name}-{uuid.uuid4().hex[:5]}"
    api = kube_cluster.api()
    api.post("/api/v1/namespaces", {"metadata": {"name": name}})

    def default_sa() -> bool:
        try:
            api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default")
            return True
        except Exception:
            return False

    assert wait_for(default_sa, 30), f"namespace {name}: no default ServiceAccount after 30s"
    yield name
    try:
        api.delete(f"/api/v1/namespaces/{name}")
    except ApiError as exc:
        if exc.status != 404:  # the test may have deleted it itself
            raise
