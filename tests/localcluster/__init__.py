"""A real local Kubernetes test cluster: etcd, kube-apiserver, controller-manager,
scheduler (built by `make cluster-tools`) and a node agent that runs pods as processes.

See docs/test-cluster.md. Entry points: `LocalCluster` (context manager),
`python -m localcluster up|down|status`, and the pytest fixtures in
`localcluster.pytest_plugin`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterError", "LocalCluster"]


def __getattr__(name: str) -> Any:
    # Lazy, so the node agent (localcluster.node) does not import the harness.
    if name in __all__:
        from localcluster import controlplane

        return getattr(controlplane, name)
    raise AttributeError(name)
