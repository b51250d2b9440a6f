"""A real local Kubernetes test cluster: etcd, kube-apiserver, controller-manager,
scheduler and a real node (containerd, runc, CNI, kubelet, kube-proxy, CoreDNS), built
by `make cluster-tools`, running the images `make image` builds.

See docs/test-cluster.md. Entry points: `LocalCluster` (context manager),
`python -m localcluster up|down|status`, and the pytest fixtures in
`localcluster.pytest_plugin`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterError", "LocalCluster"]


def __getattr__(name: str) -> Any:
    # Lazy, so the reaper and the CLI import only what they use.
    if name in __all__:
        from localcluster import controlplane

        return getattr(controlplane, name)
    raise AttributeError(name)
