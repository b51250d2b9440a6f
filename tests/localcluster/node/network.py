"""The node's pod network: one Linux bridge, one /24, the CNI config that uses them.

The bridge is made before anything starts, so its gateway address exists from the
first second: the API server advertises it (pods reach it through the `kubernetes`
Service), CoreDNS listens on it, and host-side test servers (the simulator, moto)
bind it to be reachable from pods. The CNI bridge plugin finds the bridge ready and
only attaches veths to it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "elt0"
NETWORK_NAME = "elt-cluster"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
#: Kernel settings a node needs; their old values are restored at teardown.
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
}
CNI_BIN_DIR = "/usr/lib/cni"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def bridge_exists() -> bool:
    return ip("link", "show", BRIDGE, check=False).returncode == 0


@dataclass
class PodNetwork:
    """Creates and removes the bridge, and writes the CNI conflist for containerd."""

    data_dir: Path

    @property
    def cni_conf_dir(self) -> Path:
        return self.data_dir / "cni" / "net.d"

    @property
    def saved_sysctls(self) -> Path:
        return self.data_dir / "cni" / "sysctls.json"

    def setup(self) -> None:
        self.cni_conf_dir.mkdir(parents=True, exist_ok=True)
        saved = {}
        for key, value in SYSCTLS.items():
            path = Path("/proc/sys") / key
            saved[key] = path.read_text().strip()
            path.write_text(value)
        self.saved_sysctls.write_text(json.dumps(saved))
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        conflist = {
            "cniVersion": "1.0.0",
            "name": NETWORK_NAME,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.data_dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (self.cni_conf_dir / "10-elt.conflist").write_text(json.dumps(conflist, indent=2))

    def teardown(self) -> None:
        if bridge_exists():
            ip("link", "delete", BRIDGE, check=False)
        try:
            saved = json.loads(self.saved_sysctls.read_text())
        except (FileNotFoundError, ValueError):
            return
        for key, value in saved.items():
            (Path("/proc/sys") / key).write_text(value)
