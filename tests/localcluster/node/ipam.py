"""Pod IPs from the node's loopback /24 (127.0.N.2-254); each pod binds its own address."""

from __future__ import annotations

import threading


class LoopbackIpam:
    """Hands out and takes back the addresses of one 127.0.N.0/24."""

    def __init__(self, third_octet: int) -> None:
        self.prefix = f"127.0.{third_octet}."
        self._free = [f"{self.prefix}{i}" for i in range(2, 255)]
        self._lock = threading.Lock()

    def allocate(self) -> str:
        with self._lock:
            if not self._free:
                raise RuntimeError("pod IP range exhausted")
            return self._free.pop(0)

    def release(self, ip: str) -> None:
        with self._lock:
            if ip.startswith(self.prefix) and ip not in self._free:
                self._free.append(ip)  # reused last, so a new pod rarely gets a just-freed IP
