"""Service DNS through per-pod hosts files, rewritten in place as endpoints change.

There is no cluster DNS server and no kube-proxy: each Service name resolves to
the addresses of its *ready* endpoints (pod loopback IPs), so clients must use
the Service's targetPort. Headless-service pod records (hostname.subdomain) work.

The endpoints are computed here from Services and Pods (selector match, pod
Ready, not terminating; publishNotReadyAddresses honoured), because the API
server rejects loopback addresses in EndpointSlices, so the endpointslice
controller cannot record pod IPs of 127.0.N.x. EndpointSlices that someone else
manages (Services without a selector) are taken as they are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_NAMES = (
    "kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local"
)
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


@dataclass
class PodHosts:
    """One pod's hosts file and what it always contains."""

    path: Path
    namespace: str
    ip: str
    own_names: list[str]
    aliases: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PodInfo:
    """What DNS needs to know of a pod (from the API's view of it)."""

    namespace: str
    ip: str
    labels: dict[str, str]
    ready: bool
    hostname: str
    subdomain: str


@dataclass(frozen=True)
class ServiceInfo:
    selector: dict[str, str]
    publish_not_ready: bool


def pod_info(pod: dict[str, Any]) -> PodInfo | None:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    if not status.get("podIP"):
        return None
    conditions = status.get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    ready = ready and not meta.get("deletionTimestamp")
    return PodInfo(meta["namespace"], status["podIP"], meta.get("labels") or {}, ready,
                   spec.get("hostname", ""), spec.get("subdomain", ""))  # fmt: skip


Record = tuple[str, str | None]  # (address, hostname for a headless pod record)


class HostsTable:
    """Services, pods and manual EndpointSlices; renders every pod's hosts file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], ServiceInfo] = {}
        self._pods: dict[str, PodInfo] = {}
        self._slices: dict[tuple[str, str], tuple[str, list[Record]]] = {}
        self._files: dict[str, PodHosts] = {}
        # Serializes compute + write, so a slower writer never leaves older contents.
        self._write_lock = threading.Lock()

    # -- inputs ------------------------------------------------------------------
    def set_service(self, svc: dict[str, Any], rewrite: bool = True) -> None:
        meta, spec = svc["metadata"], svc.get("spec", {})
        info = ServiceInfo(spec.get("selector") or {}, bool(spec.get("publishNotReadyAddresses")))
        with self._lock:
            self._services[(meta["namespace"], meta["name"])] = info
        if rewrite:
            self.rewrite_all()

    def remove_service(self, svc: dict[str, Any]) -> None:
        meta = svc["metadata"]
        with self._lock:
            self._services.pop((meta["namespace"], meta["name"]), None)
        self.rewrite_all()

    def replace_services(self, services: list[dict[str, Any]]) -> None:
        with self._lock:
            self._services.clear()
        for svc in services:
            self.set_service(svc, rewrite=False)
        self.rewrite_all()

    def set_pod(self, pod: dict[str, Any]) -> None:
        info = pod_info(pod)
        uid = pod["metadata"]["uid"]
        with self._lock:
            changed = self._pods.get(uid) != info
            if info is None:
                self._pods.pop(uid, None)
            else:
                self._pods[uid] = info
        if changed:
            self.rewrite_all()

    def forget_pod(self, uid: str) -> None:
        with self._lock:
            known = self._pods.pop(uid, None) is not None
            self._files.pop(uid, None)
        if known:
            self.rewrite_all()

    def set_slice(self, slice_obj: dict[str, Any], rewrite: bool = True) -> None:
        meta = slice_obj["metadata"]
        labels = meta.get("labels") or {}
        service = labels.get("kubernetes.io/service-name")
        key = (meta["namespace"], meta["name"])
        records: list[Record] = []
        for ep in slice_obj.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            records += [(addr, ep.get("hostname")) for addr in ep.get("addresses", [])]
        with self._lock:
            if service and labels.get("endpointslice.kubernetes.io/managed-by") != SLICE_CONTROLLER:
                self._slices[key] = (service, records)
            else:
                self._slices.pop(key, None)
        if rewrite:
            self.rewrite_all()

    def remove_slice(self, slice_obj: dict[str, Any]) -> None:
        meta = slice_obj["metadata"]
        with self._lock:
            self._slices.pop((meta["namespace"], meta["name"]), None)
        self.rewrite_all()

    def replace_slices(self, slices: list[dict[str, Any]]) -> None:
        with self._lock:
            self._slices.clear()
        for item in slices:
            self.set_slice(item, rewrite=False)
        self.rewrite_all()

    def add_file(self, uid: str, hosts: PodHosts) -> None:
        with self._lock:
            self._files[uid] = hosts
        with self._write_lock:
            self._write(hosts, self._endpoints())

    # -- rendering ----------------------------------------------------------------
    def _endpoints(self) -> dict[tuple[str, str], list[Record]]:
        """(namespace, service) -> its endpoint records."""
        with self._lock:
            services = dict(self._services)
            pods = list(self._pods.values())
            slices = list(self._slices.values())
            slice_keys = [(k[0], v[0]) for k, v in self._slices.items()]
        out: dict[tuple[str, str], list[Record]] = {}
        for (ns, name), svc in services.items():
            if not svc.selector:
                continue
            records = []
            for pod in pods:
                if pod.namespace != ns or not (pod.ready or svc.publish_not_ready):
                    continue
                if all(pod.labels.get(k) == v for k, v in svc.selector.items()):
                    host = pod.hostname if pod.hostname and pod.subdomain == name else None
                    records.append((pod.ip, host))
            out[(ns, name)] = sorted(records)
        for (ns, name), (_, records) in zip(slice_keys, slices, strict=True):
            out.setdefault((ns, name), []).extend(records)
        return out

    def render(self, pod: PodHosts, endpoints: dict[tuple[str, str], list[Record]]) -> str:
        """The hosts file text for one pod (its own namespace also gets short names)."""
        lines = [
            "# Kubernetes-managed hosts file (localcluster node agent).",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            f"{pod.ip}\t{' '.join(pod.own_names)}",
            f"127.0.0.1\t{API_NAMES}",
        ]
        for alias in pod.aliases:
            lines.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames', []))}")
        for (namespace, service), records in sorted(endpoints.items()):
            fqdn = f"{service}.{namespace}.svc"
            names = [f"{service}.{namespace}", fqdn, f"{fqdn}.cluster.local"]
            if namespace == pod.namespace:
                names.insert(0, service)
            for addr, hostname in records:
                lines.append(f"{addr}\t{' '.join(names)}")
                if hostname:
                    lines.append(f"{addr}\t{hostname}.{fqdn} {hostname}.{fqdn}.cluster.local")
        return "\n".join(lines) + "\n"

    def _write(self, pod: PodHosts, endpoints: dict[tuple[str, str], list[Record]]) -> None:
        """Rewrite in place (same inode): the file is bind-mounted into the pod."""
        text = self.render(pod, endpoints).encode()
        try:
            with open(pod.path, "r+b") as handle:
                if handle.read() == text:
                    return
                handle.seek(0)
                handle.write(text)
                handle.truncate()
        except FileNotFoundError:
            pod.path.write_bytes(text)

    def rewrite_all(self) -> None:
        with self._write_lock:
            endpoints = self._endpoints()
            with self._lock:
                files = list(self._files.values())
            for pod in files:
                self._write(pod, endpoints)
