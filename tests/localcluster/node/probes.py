"""Container probes (httpGet, tcpSocket, exec) and their threshold bookkeeping."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ExecFn = Callable[[list[str], float], int]


def resolve_port(port: int | str, container: dict[str, Any]) -> int:
    """A probe port: a number or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for item in container.get("ports", []):
        if item.get("name") == port:
            return int(item["containerPort"])
    raise ValueError(f"port {port!r} not found in the container's ports")


def probe_once(
    probe: dict[str, Any], pod_ip: str, container: dict[str, Any], run_exec: ExecFn
) -> tuple[bool, str]:
    """Run a probe once: (success, message)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            host = spec.get("host") or pod_ip
            port = resolve_port(spec["port"], container)
            if spec.get("scheme", "HTTP").upper() == "HTTPS":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=ssl._create_unverified_context()
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            headers = {h["name"]: h["value"] for h in spec.get("httpHeaders", [])}
            headers.setdefault("User-Agent", "kube-probe/localcluster")
            try:
                conn.request("GET", spec.get("path", "/"), headers=headers)
                status = conn.getresponse().status
            finally:
                conn.close()
            return 200 <= status < 400, f"HTTP probe returned {status}"
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            host = spec.get("host") or pod_ip
            with socket.create_connection((host, resolve_port(spec["port"], container)), timeout):
                return True, "tcp connect ok"
        if "exec" in probe:
            code = run_exec(list(probe["exec"]["command"]), timeout)
            return code == 0, f"exec probe exited {code}"
        return False, f"unsupported probe type: {sorted(probe)}"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, f"probe failed: {exc}"


@dataclass
class ProbeState:
    """Consecutive results against the probe's thresholds, and when it is next due."""

    probe: dict[str, Any]
    started: float
    default_ok: bool = False
    ok: bool = field(init=False)
    successes: int = 0
    failures: int = 0
    next_due: float = field(init=False)
    message: str = ""

    def __post_init__(self) -> None:
        self.ok = self.default_ok
        self.next_due = self.started + float(self.probe.get("initialDelaySeconds", 0))

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def record(self, success: bool, message: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.message = message
        self.next_due = now + float(self.probe.get("periodSeconds", 10))
        if success:
            self.successes += 1
            self.failures = 0
            if self.successes >= int(self.probe.get("successThreshold", 1)):
                self.ok = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= int(self.probe.get("failureThreshold", 3)):
                self.ok = False
