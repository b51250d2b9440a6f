"""`python -m localcluster up|down|status [--dir .cluster]`: a cluster for manual use.

`up` starts the cluster with its data (kubeconfig, logs, pod logs) in --dir and
returns, leaving the processes running in the background; `down` stops them
(found through the state file and the cluster's process marker) and removes --dir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from localcluster.controlplane import STOP_ORDER, ClusterError, LocalCluster
from localcluster.node import claim, leftovers
from localcluster.node.kubelet import kube_proxy_cleanup
from localcluster.procs import kill_group, sweep, wait_gone


def up(directory: Path) -> int:
    if (directory / "state.json").exists() and _alive(directory):
        print(f"a cluster is already running from {directory}; `make cluster-down` first")
        return 1
    running = claim.holder()
    if running is not None:
        print(
            "cluster-up refused: a test cluster already runs on this machine (data dir "
            f"{running.get('data_dir')}, pid {running.get('owner')}); one node per machine"
        )
        return 1
    shutil.rmtree(directory, ignore_errors=True)
    cluster = LocalCluster(data_dir=directory, keep_data=True, reaper=False)
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"cluster-up failed: {exc}", file=sys.stderr)
        return 1
    kubeconfig = cluster.kubeconfig.resolve()
    print(
        f"Cluster up in {cluster.timings['start']:.1f}s: API {cluster.server}, node "
        f"{cluster.node_name} (pod IPs {cluster.pod_cidr}, host {cluster.host_address})"
    )
    print(f"  export KUBECONFIG={kubeconfig}")
    print("  bin/kubectl get nodes -o wide")
    print(f"  image: {cluster.image}")
    print(f"  logs: {directory}/logs (components), {directory}/pod-logs (containers)")
    print("  stop with: make cluster-down")
    return 0


def _state(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def _alive(directory: Path) -> bool:
    state = _state(directory)
    return bool(state) and any(psutil.pid_exists(p) for p in state["pids"].values())


def down(directory: Path) -> int:
    state = _state(directory)
    if state is None:
        print(f"no cluster state in {directory}; nothing to stop")
        shutil.rmtree(directory, ignore_errors=True)
        return 0
    t0 = time.monotonic()
    for group in STOP_ORDER:
        procs = []
        for name in group:
            pid = state["pids"].get(name)
            if pid and psutil.pid_exists(pid):
                kill_group(pid, signal.SIGTERM)
                procs.append(psutil.Process(pid))
        for proc in wait_gone(procs, timeout=8):
            kill_group(proc.pid, signal.SIGKILL)
        if group == ["kube-proxy"]:
            subprocess.run(kube_proxy_cleanup(), capture_output=True, timeout=30)
    killed = sweep(state["id"])
    leftovers.remove(directory.resolve())
    claim.release(directory.resolve())
    shutil.rmtree(directory, ignore_errors=True)
    extra = f" ({killed} leftover processes killed)" if killed else ""
    print(f"Cluster stopped in {time.monotonic() - t0:.1f}s and {directory} removed{extra}.")
    return 0


def status(directory: Path) -> int:
    state = _state(directory)
    if state is None or not _alive(directory):
        print("no cluster running")
        return 1
    for name, pid in state["pids"].items():
        print(f"{name:24} pid {pid:<8} {'running' if psutil.pid_exists(pid) else 'DEAD'}")
    print(f"export KUBECONFIG={os.path.abspath(state['kubeconfig'])}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=Path(".cluster"))
    args = parser.parse_args()
    return {"up": up, "down": down, "status": status}[args.command](args.dir)


if __name__ == "__main__":
    sys.exit(main())
