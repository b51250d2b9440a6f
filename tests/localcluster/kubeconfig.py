"""The admin kubeconfig (client certificate in group system:masters)."""

from __future__ import annotations

from pathlib import Path

import yaml

from localcluster.pki import Pki


def write_kubeconfig(path: Path, server: str, pki: Pki, name: str = "localcluster") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server,
                                                 "certificate-authority": pki.ca_crt}}],
        "users": [{"name": f"{name}-admin", "user": {"client-certificate": pki.admin_crt,
                                                       "client-key": pki.admin_key}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin",
                                                  "namespace": "default"}}],
        "current-context": name,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
