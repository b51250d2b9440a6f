"""What a node leaves on the machine, found and removed: processes, mounts, network
namespaces (containerd keeps them under its state dir, so they are mounts there), the
bridge, iptables chains, cgroups, CNI caches.

`find(data_dir)` lists what is left (a test asserts it is empty after teardown);
`remove(data_dir)` removes it, in the order that makes each step possible: processes
first (nothing can be unmounted or rmdir'ed while used), then mounts and namespaces,
then the bridge, the chains and the cgroups.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

from localcluster.node.network import BRIDGE, NETWORK_NAME, POD_CIDR, PodNetwork, bridge_exists
from localcluster.procs import gone, wait_gone

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "kubepods"
TABLES = ("filter", "nat", "mangle")
CNI_CACHE = Path("/var/lib/cni/results")
OWN_CHAIN_PREFIXES = ("KUBE-",)


# -- processes ---------------------------------------------------------------------


def _cgroup_dirs() -> list[Path]:
    """Every kubepods cgroup directory of every v1 controller, deepest first."""
    found: list[Path] = []
    if not CGROUP_ROOT.is_dir():
        return found
    for controller in CGROUP_ROOT.iterdir():
        top = controller / CGROUP_NAME
        if top.is_dir():
            found += [Path(root) for root, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _pod_pids() -> set[int]:
    pids: set[int] = set()
    for directory in _cgroup_dirs():
        with contextlib.suppress(OSError):
            pids |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
    return pids


def _node_processes(data_dir: Path) -> list[psutil.Process]:
    """Processes of this node: in its pods' cgroups, or started with its data dir
    on their command line (containerd, its shims, kubelet, kube-proxy, CoreDNS)."""
    mark = str(data_dir)
    pods = _pod_pids()
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if proc.pid == os.getpid():
            continue
        if (proc.pid in pods or mark in cmdline) and not gone(proc):
            found.append(proc)
    return found


def kill_processes(data_dir: Path) -> None:
    procs = _node_processes(data_dir)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    wait_gone(procs, timeout=5)


# -- mounts ------------------------------------------------------------------------


def _mounts_under(data_dir: Path) -> list[str]:
    prefix = str(data_dir).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def unmount_all(data_dir: Path) -> None:
    for _ in range(3):  # stacked mounts on one point come off one at a time
        points = _mounts_under(data_dir)
        if not points:
            return
        for point in points:
            subprocess.run(["umount", "-l", point], capture_output=True)


# -- iptables ------------------------------------------------------------------------


def _rules(tool: str, table: str) -> list[str]:
    if shutil.which(tool) is None:
        return []
    out = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True)
    return out.stdout.splitlines() if out.returncode == 0 else []


def _own_chains(rules: list[str]) -> set[str]:
    chains = {line.split()[1] for line in rules if line.startswith("-N ")}
    own = {c for c in chains if c.startswith(OWN_CHAIN_PREFIXES)}
    for line in rules:  # the bridge plugin's per-pod masquerade chains carry our name
        if line.startswith("-A ") and NETWORK_NAME in line and "-j CNI-" in line:
            own.add(line.split("-j ")[1].split()[0])
    return own


def _chains_left() -> list[str]:
    left = []
    for tool in ("iptables", "ip6tables"):
        for table in TABLES:
            left += [f"{tool} -t {table} {c}" for c in sorted(_own_chains(_rules(tool, table)))]
    return left


def remove_chains() -> None:
    for tool in ("iptables", "ip6tables"):
        for table in TABLES:
            rules = _rules(tool, table)
            own = _own_chains(rules)
            if not own:
                continue
            for line in rules:  # jumps into our chains from any other chain first
                if line.startswith("-A ") and line.split()[1] not in own:
                    target = line.split("-j ")[-1].split()[0] if "-j " in line else ""
                    if target in own or NETWORK_NAME in line or POD_CIDR in line:
                        spec = line.split()[1:]
                        subprocess.run([tool, "-w", "-t", table, "-D", *_unquote(spec)],
                                       capture_output=True)  # fmt: skip
            for chain in own:
                subprocess.run([tool, "-w", "-t", table, "-F", chain], capture_output=True)
            for chain in own:
                subprocess.run([tool, "-w", "-t", table, "-X", chain], capture_output=True)


def _unquote(spec: list[str]) -> list[str]:
    """iptables -S quotes comments; rejoin the quoted words into single arguments."""
    return shlex.split(" ".join(spec))


# -- the rest --------------------------------------------------------------------------


def remove_cgroups() -> None:
    for directory in _cgroup_dirs():
        with contextlib.suppress(OSError):
            directory.rmdir()


def _cni_cache_files() -> list[Path]:
    if not CNI_CACHE.is_dir():
        return []
    return [p for p in CNI_CACHE.iterdir() if p.name.startswith(f"{NETWORK_NAME}-")]


def find(data_dir: Path) -> list[str]:
    """Everything of the node still on the machine, one line each; empty when clean."""
    left = [f"process {p.pid} {' '.join(p.cmdline())[:120]}" for p in _node_processes(data_dir)]
    left += [f"mount {m}" for m in _mounts_under(data_dir)]
    if bridge_exists():
        left.append(f"bridge {BRIDGE}")
    left += [f"iptables chain {c}" for c in _chains_left()]
    left += [f"cgroup {d}" for d in _cgroup_dirs()]
    left += [f"CNI cache {p}" for p in _cni_cache_files()]
    return left


def remove(data_dir: Path) -> None:
    """Remove whatever `find` would list (safe to call when nothing is left)."""
    kill_processes(data_dir)
    unmount_all(data_dir)
    PodNetwork(data_dir).teardown()
    remove_chains()
    remove_cgroups()
    for path in _cni_cache_files():
        path.unlink(missing_ok=True)
