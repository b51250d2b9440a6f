"""`python -m localcluster.reaper PARENT_PID CLUSTER_ID DATA_DIR [--keep]`.

A watchdog started next to the cluster: if the process that owns the cluster
dies without stopping it (SIGKILL, OOM, a hard crash of pytest), it kills every
process carrying the cluster's marker, removes what the node left on the machine
(pods' processes, mounts, bridge, iptables chains, cgroups), releases the machine's
claim and removes the data dir. When the owner
stops the cluster normally, the owner's sweep ends the reaper as well (it carries
the marker too).
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path

import psutil

from localcluster.node import claim, leftovers
from localcluster.procs import gone, sweep


def main() -> None:
    parent_pid, cluster_id, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    keep = "--keep" in sys.argv[4:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle
    try:
        parent = psutil.Process(parent_pid)
    except psutil.NoSuchProcess:
        parent = None
    while parent is not None and not gone(parent):
        time.sleep(0.5)
    sweep(cluster_id)
    leftovers.remove(Path(data_dir))
    claim.release(Path(data_dir))
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
