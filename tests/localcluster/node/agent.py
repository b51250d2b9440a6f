"""The node agent: registers the Node, keeps it alive, and runs the Pods bound to it.

Threads: a pod list/watch (field selector spec.nodeName, relist on 410 Gone and
every few minutes as a resync), an EndpointSlice list/watch feeding the pods'
hosts files, a heartbeat (Lease + Node status), the kubelet port, and one
PodWorker per Pod.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcluster.client import ApiError, Credentials, Kube
from localcluster.node.container import now_iso
from localcluster.node.dns import HostsTable
from localcluster.node.images import load_table
from localcluster.node.ipam import LoopbackIpam
from localcluster.node.kubeletserver import make_server, serve_in_background
from localcluster.node.pod import PodWorker

log = logging.getLogger("localcluster.node")
WATCH_SECONDS = 60
RESYNC_SECONDS = 300
HEARTBEAT_SECONDS = 10


@dataclass(frozen=True)
class AgentConfig:
    """What the harness tells the agent (written as JSON by the harness)."""

    server: str
    ca_file: str
    cert_file: str
    key_file: str
    node_name: str
    subnet_third_octet: int
    kubelet_port: int
    kubelet_cert: str
    kubelet_key: str
    data_dir: str
    cluster_id: str
    marker_env: str
    api_host: str
    api_port: int
    kube_version: str


class Agent:
    """One node; `run()` blocks until `stop()`."""

    allocatable = {"cpu": "64", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    host_ip = "127.0.0.1"

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.kube = Kube(Credentials(cfg.server, cfg.ca_file, cfg.cert_file, cfg.key_file), 64)
        self.node_name = cfg.node_name
        self.data_dir = Path(cfg.data_dir)
        self.cluster_id = cfg.cluster_id
        self.marker_env = cfg.marker_env
        self.images = load_table()
        self.ips = LoopbackIpam(cfg.subnet_third_octet)
        self.hosts = HostsTable()
        self.workers: dict[str, PodWorker] = {}
        self.finished: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.boot_id = str(uuid.uuid4())

    # -- helpers used by the pod workers ------------------------------------
    def kubernetes_env(self) -> dict[str, str]:
        """The `kubernetes` Service env vars, pointing at the real API server."""
        host, port = self.cfg.api_host, str(self.cfg.api_port)
        return {
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://{host}:{port}",
            f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
            f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
            f"KUBERNETES_PORT_{port}_TCP_PORT": port,
            f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
        }

    def get_namespaced(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return self.kube.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def service_account_token(
        self, pod: dict[str, Any], source: dict[str, Any]
    ) -> tuple[str, float]:
        """A TokenRequest token bound to the pod: (token, lifetime in seconds)."""
        meta = pod["metadata"]
        sa = pod["spec"].get("serviceAccountName") or "default"
        seconds = int(source.get("expirationSeconds", 3607))
        spec: dict[str, Any] = {
            "expirationSeconds": seconds,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"],
                               "uid": meta["uid"]},
        }  # fmt: skip
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        out = self.kube.post(
            f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{sa}/token", body
        )
        return out["status"]["token"], float(seconds)

    def event(
        self, pod: dict[str, Any], reason: str, message: str, container: str = "",
        warning: bool = False,
    ) -> None:  # fmt: skip
        """Record a kubelet-style Event on the pod (shown by `kubectl describe`)."""
        meta = pod["metadata"]
        stamp = now_iso()
        involved = {"kind": "Pod", "apiVersion": "v1", "namespace": meta["namespace"],
                    "name": meta["name"], "uid": meta["uid"]}  # fmt: skip
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        body = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                         "namespace": meta["namespace"]},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": "kubelet", "host": self.node_name},
            "reportingComponent": "kubelet",
            "reportingInstance": self.node_name,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }  # fmt: skip
        try:
            self.kube.post(f"/api/v1/namespaces/{meta['namespace']}/events", body)
        except Exception as exc:  # events are best effort, as in the kubelet
            log.debug("event %s for %s failed: %s", reason, meta["name"], exc)

    def patch_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """Strategic-merge the pod's status; False when the pod no longer exists."""
        try:
            self.kube.strategic_patch(
                f"/api/v1/namespaces/{namespace}/pods/{name}/status", {"status": status}
            )
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            log.warning("pod %s/%s: status update failed: %s", namespace, name, exc)
            return True

    def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self.kube.delete(f"/api/v1/namespaces/{namespace}/pods/{name}", body)
        except ApiError as exc:
            if exc.status not in (404, 409):
                log.warning("pod %s/%s: final delete failed: %s", namespace, name, exc)

    def worker_done(self, worker: PodWorker) -> None:
        with self.lock:
            if self.workers.get(worker.uid) is worker:
                del self.workers[worker.uid]
            self.finished.add(worker.uid)

    def container_running(self, namespace: str, pod: str, container: str) -> bool:
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            if w.namespace == namespace and w.name == pod:
                return any(c.running for c in w.containers + w.init_containers
                           if c.name == container)  # fmt: skip
        return False

    # -- node ------------------------------------------------------------------
    def _node_status(self) -> dict[str, Any]:
        stamp = now_iso()
        conditions = [
            ("Ready", "True", "KubeletReady", "localcluster node agent is ready"),
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
            ("PIDPressure", "False", "KubeletHasSufficientPID", ""),
        ]
        return {
            "capacity": self.allocatable,
            "allocatable": self.allocatable,
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    "reason": r,
                    "message": m,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": self.started_at,
                }
                for t, s, r, m in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.host_ip},
                {"type": "Hostname", "address": self.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.cfg.kubelet_port}},
            "nodeInfo": {
                "machineID": self.cluster_id,
                "systemUUID": self.cluster_id,
                "bootID": self.boot_id,
                "kernelVersion": platform.release(),
                "osImage": "localcluster node agent",
                "containerRuntimeVersion": "localcluster://1",
                "kubeletVersion": self.cfg.kube_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def register(self) -> None:
        """Create (or take over) the Node object and mark it Ready."""
        self.started_at = now_iso()
        third = self.cfg.subnet_third_octet
        cidr = f"127.0.{third}.0/24"
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.kubernetes.io/instance-type": "localcluster",
                },
            },
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        }
        try:
            self.kube.post("/api/v1/nodes", node)
        except ApiError as exc:
            if exc.status != 409:
                raise
        self.kube.merge_patch(f"/api/v1/nodes/{self.node_name}/status",
                              {"status": self._node_status()})  # fmt: skip
        self._untaint()

    def _untaint(self) -> None:
        """Drop the not-ready taint the TaintNodesByCondition admission puts on new nodes.

        In a real cluster the node-lifecycle controller removes it once the node is
        Ready; that controller is not run here (it would evict pods on a slow heartbeat).
        """
        node = self.kube.get(f"/api/v1/nodes/{self.node_name}")
        taints = node["spec"].get("taints") or []
        kept = [t for t in taints if not t["key"].startswith("node.kubernetes.io/not-ready")]
        if len(kept) != len(taints):
            self.kube.merge_patch(f"/api/v1/nodes/{self.node_name}", {"spec": {"taints": kept}})

    def _heartbeat(self) -> None:
        lease_path = (
            f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node_name}"
        )
        beats = 0
        while not self.stopping.wait(HEARTBEAT_SECONDS if beats else 0):
            beats += 1
            renew = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": 40,
                         "renewTime": renew},
            }  # fmt: skip
            try:
                try:
                    self.kube.merge_patch(lease_path, {"spec": lease["spec"]})
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    self.kube.post(lease_path.rsplit("/", 1)[0], lease)
                if beats % 4 == 0:
                    self.kube.merge_patch(f"/api/v1/nodes/{self.node_name}/status",
                                          {"status": self._node_status()})  # fmt: skip
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)

    # -- watches -----------------------------------------------------------------
    def _list_watch(
        self,
        path: str,
        params: dict[str, str],
        on_list: Callable[[list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> None:
        """List, then watch from the list's resourceVersion; relist on 410 or resync."""
        while not self.stopping.is_set():
            try:
                listed = self.kube.get(path, **params)
                on_list(listed.get("items", []))
                rv = listed["metadata"]["resourceVersion"]
                deadline = time.monotonic() + RESYNC_SECONDS
                while not self.stopping.is_set() and time.monotonic() < deadline:
                    for event in self.kube.watch(path, rv, WATCH_SECONDS, **params):
                        rv = event["object"]["metadata"].get("resourceVersion", rv)
                        if event["type"] != "BOOKMARK":
                            on_event(event["type"], event["object"])
            except ApiError as exc:
                if exc.status != 410:
                    log.warning("watch %s: %s", path, exc)
                    self.stopping.wait(1)
            except Exception as exc:
                if not self.stopping.is_set():
                    log.warning("watch %s failed, relisting: %s", path, exc)
                    self.stopping.wait(1)

    def _pods_listed(self, pods: list[dict[str, Any]]) -> None:
        present = {p["metadata"]["uid"] for p in pods}
        with self.lock:
            missing = [w for uid, w in self.workers.items() if uid not in present]
        for worker in missing:
            worker.mark_gone()
        for pod in pods:
            self._pod_event("MODIFIED", pod)

    def _pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED":
            self.hosts.forget_pod(uid)
        else:
            self.hosts.set_pod(pod)
        with self.lock:
            worker = self.workers.get(uid)
            if kind == "DELETED":
                if worker:
                    worker.mark_gone()
                return
            if worker:
                worker.update(pod)
                return
            if uid in self.finished or self.stopping.is_set():
                return
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                if pod["metadata"].get("deletionTimestamp"):
                    meta = pod["metadata"]
                    threading.Thread(
                        target=self.delete_pod, args=(meta["namespace"], meta["name"], uid),
                        daemon=True,
                    ).start()  # fmt: skip
                return
            worker = PodWorker(self, pod)
            self.workers[uid] = worker
        worker.start()

    def _slices_listed(self, slices: list[dict[str, Any]]) -> None:
        self.hosts.replace_slices(slices)

    def _slice_event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.hosts.remove_slice(obj)
        else:
            self.hosts.set_slice(obj)

    def _services_listed(self, services: list[dict[str, Any]]) -> None:
        self.hosts.replace_services(services)

    def _service_event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.hosts.remove_service(obj)
        else:
            self.hosts.set_service(obj)

    def _thread(self, name: str, target: Callable[..., None], *args: Any) -> None:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    # -- run / stop ---------------------------------------------------------------
    def run(self) -> None:
        self.register()
        server = make_server(
            self.cfg.kubelet_port, self.cfg.kubelet_cert, self.cfg.kubelet_key,
            self.cfg.ca_file, self.data_dir, self.container_running,
        )  # fmt: skip
        serve_in_background(server)
        self._thread("heartbeat", self._heartbeat)
        self._thread(
            "slices", self._list_watch, "/apis/discovery.k8s.io/v1/endpointslices", {},
            self._slices_listed, self._slice_event,
        )  # fmt: skip
        self._thread(
            "services", self._list_watch, "/api/v1/services", {},
            self._services_listed, self._service_event,
        )  # fmt: skip
        self._thread(
            "pods", self._list_watch, "/api/v1/pods",
            {"fieldSelector": f"spec.nodeName={self.node_name}"},
            self._pods_listed, self._pod_event,
        )  # fmt: skip
        log.info("node %s ready (pods on 127.0.%s.0/24, kubelet port %s)",
                 self.node_name, self.cfg.subnet_third_octet, self.cfg.kubelet_port)  # fmt: skip
        self.stopping.wait()
        self._shutdown_workers(self.workers.values())
        server.shutdown()

    def _shutdown_workers(self, workers: Iterable[PodWorker]) -> None:
        """Stop every pod's processes (SIGTERM, short grace, SIGKILL) in parallel."""
        with self.lock:
            active = list(workers)
        for worker in active:
            worker.shutdown()
        for worker in active:
            worker.join(timeout=10)

    def stop(self) -> None:
        self.stopping.set()
