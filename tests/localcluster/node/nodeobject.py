"""The Node object: registration, the Ready status, and the heartbeat (Lease + status)."""

from __future__ import annotations

import logging
import platform
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from localcluster.client import ApiError, Kube
from localcluster.node.container import now_iso

log = logging.getLogger("localcluster.node")
HEARTBEAT_SECONDS = 10
ALLOCATABLE = {"cpu": "64", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
HOST_IP = "127.0.0.1"


class NodeObject:
    """Keeps this agent's Node registered, Ready, untainted and its Lease fresh."""

    def __init__(
        self, kube: Kube, name: str, pod_cidr: str, kubelet_port: int, kube_version: str,
        machine_id: str,
    ) -> None:  # fmt: skip
        self.kube = kube
        self.name = name
        self.pod_cidr = pod_cidr
        self.kubelet_port = kubelet_port
        self.kube_version = kube_version
        self.machine_id = machine_id
        self.boot_id = str(uuid.uuid4())
        self.started_at = now_iso()

    def status(self) -> dict[str, Any]:
        stamp = now_iso()
        conditions = [
            ("Ready", "True", "KubeletReady", "localcluster node agent is ready"),
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
            ("PIDPressure", "False", "KubeletHasSufficientPID", ""),
        ]
        return {
            "capacity": ALLOCATABLE,
            "allocatable": ALLOCATABLE,
            "conditions": [self._condition(c, stamp) for c in conditions],
            "addresses": [
                {"type": "InternalIP", "address": HOST_IP},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {
                "machineID": self.machine_id,
                "systemUUID": self.machine_id,
                "bootID": self.boot_id,
                "kernelVersion": platform.release(),
                "osImage": "localcluster node agent",
                "containerRuntimeVersion": "localcluster://1",
                "kubeletVersion": self.kube_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def _condition(self, cond: tuple[str, str, str, str], stamp: str) -> dict[str, str]:
        kind, status, reason, message = cond
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": stamp, "lastTransitionTime": self.started_at}  # fmt: skip

    def register(self) -> None:
        """Create (or take over) the Node object, mark it Ready and untaint it."""
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.kubernetes.io/instance-type": "localcluster",
                },
            },
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]},
        }
        try:
            self.kube.post("/api/v1/nodes", node)
        except ApiError as exc:
            if exc.status != 409:
                raise
        self.kube.merge_patch(f"/api/v1/nodes/{self.name}/status", {"status": self.status()})
        self._untaint()

    def _untaint(self) -> None:
        """Drop the not-ready taint the TaintNodesByCondition admission puts on new nodes.

        In a real cluster the node-lifecycle controller removes it once the node is
        Ready; that controller is not run here (it would evict pods on a slow heartbeat).
        """
        node = self.kube.get(f"/api/v1/nodes/{self.name}")
        taints = node["spec"].get("taints") or []
        kept = [t for t in taints if not t["key"].startswith("node.kubernetes.io/not-ready")]
        if len(kept) != len(taints):
            self.kube.merge_patch(f"/api/v1/nodes/{self.name}", {"spec": {"taints": kept}})

    def heartbeat(self, stopping: threading.Event) -> None:
        """Renew the Lease every HEARTBEAT_SECONDS and the status every fourth beat."""
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        beats = 0
        while not stopping.wait(HEARTBEAT_SECONDS if beats else 0):
            beats += 1
            renew = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": renew}
            try:
                try:
                    self.kube.merge_patch(lease_path, {"spec": spec})
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                             "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                             "spec": spec}  # fmt: skip
                    self.kube.post(lease_path.rsplit("/", 1)[0], lease)
                if beats % 4 == 0:
                    self.kube.merge_patch(f"/api/v1/nodes/{self.name}/status",
                                          {"status": self.status()})  # fmt: skip
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
