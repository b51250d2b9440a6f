"""Service DNS through per-pod hosts files, rewritten in place as endpoints change.

There is no cluster DNS server and no kube-proxy: each Service name resolves to
the addresses of its *ready* endpoints (pod loopback IPs), so clients must use
the Service's targetPort. Headless-service pod records (hostname.subdomain) work too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_NAMES = (
    "kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local"
)


@dataclass
class PodHosts:
    """One pod's hosts file and what it always contains."""

    path: Path
    namespace: str
    ip: str
    own_names: list[str]
    aliases: list[dict[str, Any]] = field(default_factory=list)


class HostsTable:
    """Endpoint addresses per Service (from EndpointSlices) and every pod's hosts file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slices: dict[tuple[str, str], tuple[str, list[tuple[str, str | None]]]] = {}
        self._pods: dict[str, PodHosts] = {}

    def set_slice(self, slice_obj: dict[str, Any]) -> None:
        meta = slice_obj["metadata"]
        service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        key = (meta["namespace"], meta["name"])
        records: list[tuple[str, str | None]] = []
        for ep in slice_obj.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            records += [(addr, ep.get("hostname")) for addr in ep.get("addresses", [])]
        with self._lock:
            if service:
                self._slices[key] = (service, records)
            else:
                self._slices.pop(key, None)
        self.rewrite_all()

    def remove_slice(self, slice_obj: dict[str, Any]) -> None:
        meta = slice_obj["metadata"]
        with self._lock:
            self._slices.pop((meta["namespace"], meta["name"]), None)
        self.rewrite_all()

    def replace_slices(self, slices: list[dict[str, Any]]) -> None:
        """After a relist: forget everything, then take the listed slices."""
        with self._lock:
            self._slices.clear()
        for item in slices:
            self.set_slice(item)
        self.rewrite_all()

    def add_pod(self, uid: str, hosts: PodHosts) -> None:
        with self._lock:
            self._pods[uid] = hosts
        self._write(hosts)

    def remove_pod(self, uid: str) -> None:
        with self._lock:
            self._pods.pop(uid, None)

    def render(self, pod: PodHosts) -> str:
        """The hosts file text for one pod (its namespace also gets the short names)."""
        lines = [
            "# Kubernetes-managed hosts file (localcluster node agent).",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            f"{pod.ip}\t{' '.join(pod.own_names)}",
            f"127.0.0.1\t{API_NAMES}",
        ]
        for alias in pod.aliases:
            lines.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames', []))}")
        with self._lock:
            slices = sorted(self._slices.items())
        for (namespace, _), (service, records) in slices:
            names = [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]
            names.insert(0, f"{service}.{namespace}")
            if namespace == pod.namespace:
                names.insert(0, service)
            for addr, hostname in records:
                lines.append(f"{addr}\t{' '.join(names)}")
                if hostname:
                    lines.append(
                        f"{addr}\t{hostname}.{service}.{namespace}.svc "
                        f"{hostname}.{service}.{namespace}.svc.cluster.local"
                    )
        return "\n".join(lines) + "\n"

    def _write(self, pod: PodHosts) -> None:
        """Rewrite in place (same inode): the file is bind-mounted into the pod."""
        text = self.render(pod).encode()
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
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            self._write(pod)
