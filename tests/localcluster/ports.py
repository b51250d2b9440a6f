"""Free TCP ports and a private pod subnet per cluster, so two clusters never collide."""

from __future__ import annotations

import fcntl
import os
import random
import socket
from pathlib import Path

LOCK_DIR = Path(os.environ.get("LOCALCLUSTER_LOCK_DIR", "/tmp/localcluster-locks"))


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports (all held open while choosing, so no duplicates)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


class SubnetLease:
    """An exclusive 127.0.N.0/24 pod subnet, held by an flock for the cluster's life.

    Pod IPs are loopback addresses; two clusters on one machine must not hand out
    the same ones, so each takes a lock file per subnet and keeps it open.
    """

    def __init__(self) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        candidates = list(range(1, 255))
        random.shuffle(candidates)
        for third in candidates:
            fd = os.open(LOCK_DIR / f"subnet-{third}.lock", os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.fd: int | None = fd
            self.third = third
            return
        raise RuntimeError(f"no free 127.0.N.0/24 pod subnet left (locks in {LOCK_DIR})")

    @property
    def cidr(self) -> str:
        return f"127.0.{self.third}.0/24"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
