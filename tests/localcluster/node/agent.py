"""The node agent: registers the Node, keeps it alive, and runs the Pods bound to it.

Threads: a pod list/watch (field selector spec.nodeName, relist on 410 Gone and
every few minutes as a resync), Service and EndpointSlice list/watches feeding the
pods' hosts files, a heartbeat (Lease + Node status), the kubelet port, and one
PodWorker per Pod.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcluster.client import ApiError, Credentials, Kube
from localcluster.node.container import now_iso
from localcluster.node.dns import HostsTable
from localcluster.node.images import load_table
from localcluster.node.informer import list_watch
from localcluster.node.ipam import LoopbackIpam
from localcluster.node.kubeletserver import make_server, serve_in_background
from localcluster.node.nodeobject import ALLOCATABLE, HOST_IP, NodeObject
from localcluster.node.pod import PodWorker

log = logging.getLogger("localcluster.node")


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

    allocatable = ALLOCATABLE
    host_ip = HOST_IP

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
        cidr = f"127.0.{cfg.subnet_third_octet}.0/24"
        self.node = NodeObject(self.kube, cfg.node_name, cidr, cfg.kubelet_port,
                               cfg.kube_version, cfg.cluster_id)  # fmt: skip

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

    # -- watches -----------------------------------------------------------------
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
        self.node.register()
        server = make_server(
            self.cfg.kubelet_port, self.cfg.kubelet_cert, self.cfg.kubelet_key,
            self.cfg.ca_file, self.data_dir, self.container_running,
        )  # fmt: skip
        serve_in_background(server)
        self._thread("heartbeat", self.node.heartbeat, self.stopping)
        self._thread(
            "slices", list_watch, self.kube, "/apis/discovery.k8s.io/v1/endpointslices", {},
            self._slices_listed, self._slice_event, self.stopping,
        )  # fmt: skip
        self._thread(
            "services", list_watch, self.kube, "/api/v1/services", {},
            self._services_listed, self._service_event, self.stopping,
        )  # fmt: skip
        self._thread(
            "pods", list_watch, self.kube, "/api/v1/pods",
            {"fieldSelector": f"spec.nodeName={self.node_name}"},
            self._pods_listed, self._pod_event, self.stopping,
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
