"""One node per machine: kubelet and kube-proxy own host-wide iptables chains, and the
bridge and pod subnet are fixed, so a second cluster would break the first.

A claim file records who runs the node (pid, data dir, component pids); a start is
refused while any of those processes lives. An flock makes check-and-write atomic.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

CLAIM_DIR = Path(os.environ.get("LOCALCLUSTER_LOCK_DIR", "/tmp/localcluster-locks"))
CLAIM_FILE = CLAIM_DIR / "node.json"


class MachineBusy(RuntimeError):
    """Another test cluster runs on this machine."""


@contextmanager
def _locked() -> Iterator[None]:
    CLAIM_DIR.mkdir(parents=True, exist_ok=True)
    with open(CLAIM_DIR / "node.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read() -> dict | None:
    try:
        return json.loads(CLAIM_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _alive(claim: dict) -> bool:
    pids = [claim.get("owner"), *claim.get("pids", {}).values()]
    return any(isinstance(p, int) and psutil.pid_exists(p) for p in pids)


def holder() -> dict | None:
    """The running cluster's claim, or None when the machine is free."""
    claim = _read()
    return claim if claim and _alive(claim) else None


def claim(data_dir: Path) -> None:
    """Take the machine for a cluster in `data_dir`, or raise MachineBusy naming the holder."""
    with _locked():
        current = holder()
        if current is not None and current.get("data_dir") != str(data_dir):
            raise MachineBusy(
                "a test cluster already runs on this machine (data dir "
                f"{current.get('data_dir')}, started by pid {current.get('owner')}): one node "
                "per machine, since kubelet and kube-proxy own host-wide iptables chains. "
                "Stop it first (`make cluster-down`, or end the test session that started it)."
            )
        CLAIM_FILE.write_text(json.dumps({"owner": os.getpid(), "data_dir": str(data_dir)}))


def record(data_dir: Path, pids: dict[str, int]) -> None:
    """Add the component pids, so the claim outlives its owner (`make cluster-up`)."""
    with _locked():
        CLAIM_FILE.write_text(
            json.dumps({"owner": os.getpid(), "data_dir": str(data_dir), "pids": pids})
        )


def release(data_dir: Path) -> None:
    with _locked():
        current = _read()
        if current is None or current.get("data_dir") == str(data_dir):
            CLAIM_FILE.unlink(missing_ok=True)
