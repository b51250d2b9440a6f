"""containerd 2 as the node's CRI runtime: its config (version 4, containerd 2.4's),
its command line, image import.

Everything containerd keeps (content, snapshots, task state, pod network namespaces)
lives under the cluster's data dir, and its socket too, so it never meets a
containerd of the machine and teardown knows exactly what to remove.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from localcluster.node.network import CNI_BIN_DIR
from localcluster.paths import binary

NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin uses
RUNC = "/usr/sbin/runc"  # Debian's runc; crun cannot run on this kernel's hybrid cgroups


@dataclass(frozen=True)
class Containerd:
    data_dir: Path
    pause_image: str

    @property
    def home(self) -> Path:
        return self.data_dir / "containerd"

    @property
    def socket(self) -> Path:
        return self.home / "containerd.sock"

    @property
    def state(self) -> Path:
        return self.home / "state"

    @property
    def root(self) -> Path:
        return self.home / "root"

    @property
    def runc_root(self) -> Path:
        return self.state / "runc"

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    def write_config(self, cni_conf_dir: Path) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"""version = 4
root = "{self.root}"
state = "{self.state}"
imports = []
# Nothing of the machine's: no NRI socket, no /opt plugins, no image verifiers.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.nri.v1.nri",
  "io.containerd.image-verifier.v1.bindir",
]

[debug]
  level = "warn"

[plugins."io.containerd.server.v1.grpc"]
  address = "{self.socket}"

[plugins."io.containerd.server.v1.ttrpc"]
  address = "{self.socket}.ttrpc"

[plugins."io.containerd.server.v1.metrics"]
  address = ""

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "{self.pause_image}"

[plugins."io.containerd.cri.v1.runtime"]
  # kubelet asks for negative oom_score_adj values, which need CAP_SYS_RESOURCE: this
  # machine's bounding set lacks it, and without the restriction every sandbox fails.
  restrict_oom_score_adj = true
  disable_apparmor = true
  disable_hugetlb_controller = true
  netns_mounts_under_state_dir = true

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "{RUNC}"
  Root = "{self.runc_root}"
  SystemdCgroup = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["{CNI_BIN_DIR}"]
  conf_dir = "{cni_conf_dir}"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""
        )

    def argv(self) -> list[str]:
        return [str(binary("containerd")), "--config", str(self.config_path)]

    def ctr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [str(binary("ctr")), "--address", str(self.socket), "-n", NAMESPACE, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True)

    def import_image(self, archive: Path, ref: str, *aliases: str) -> None:
        """Import a docker-archive tarball holding `ref`; tag it under `aliases` too."""
        self.ctr("images", "import", str(archive))
        names = self.image_names()
        if ref not in names:
            raise RuntimeError(f"{archive} did not bring {ref}; containerd has {names}")
        for alias in aliases:
            if alias not in names:
                self.ctr("images", "tag", ref, alias)

    def image_names(self) -> list[str]:
        out = self.ctr("images", "ls", "-q").stdout
        return [line.strip() for line in out.splitlines() if line.strip()]
