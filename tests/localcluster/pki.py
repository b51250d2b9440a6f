"""The cluster's own certificates, made with the openssl CLI (no extra Python deps).

One CA signs the API server's serving certificate, the admin client certificate
(group system:masters), the API server's client certificate for the kubelet, the
kubelet's serving certificate and its client certificate (system:node:<name>, so the
Node authorizer and NodeRestriction treat it as a real node); an RSA key pair signs
ServiceAccount tokens.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVICE_DNS = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
]


@dataclass(frozen=True)
class Pki:
    """Paths of every file the control plane needs."""

    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    ca_crt = property(lambda self: self.path("ca.crt"))
    ca_key = property(lambda self: self.path("ca.key"))
    apiserver_crt = property(lambda self: self.path("apiserver.crt"))
    apiserver_key = property(lambda self: self.path("apiserver.key"))
    admin_crt = property(lambda self: self.path("admin.crt"))
    admin_key = property(lambda self: self.path("admin.key"))
    kubelet_client_crt = property(lambda self: self.path("kubelet-client.crt"))
    kubelet_client_key = property(lambda self: self.path("kubelet-client.key"))
    kubelet_crt = property(lambda self: self.path("kubelet.crt"))
    kubelet_key = property(lambda self: self.path("kubelet.key"))
    node_client_crt = property(lambda self: self.path("node-client.crt"))
    node_client_key = property(lambda self: self.path("node-client.key"))
    sa_key = property(lambda self: self.path("sa.key"))
    sa_pub = property(lambda self: self.path("sa.pub"))


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _leaf(pki: Pki, name: str, subject: str, sans: list[str], usage: str) -> None:
    """Key + certificate `name` signed by the CA with the given SANs and usage."""
    key, csr, crt = pki.path(f"{name}.key"), pki.path(f"{name}.csr"), pki.path(f"{name}.crt")
    ext = pki.dir / f"{name}.ext"
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", key, "-out", csr, "-subj", subject,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", pki.ca_crt, "-CAkey", pki.ca_key,
        "-CAcreateserial", "-days", "3650", "-extfile", str(ext), "-out", crt,
    )  # fmt: skip


def make_pki(directory: Path, service_ip: str, node_ip: str, node_name: str) -> Pki:
    """Create every key and certificate under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", pki.ca_key, "-out", pki.ca_crt, "-days", "3650",
        "-subj", "/CN=localcluster-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )  # fmt: skip
    api_sans = ["IP:127.0.0.1", f"IP:{service_ip}", f"IP:{node_ip}"]
    api_sans += [f"DNS:{d}" for d in SERVICE_DNS]
    _leaf(pki, "apiserver", "/CN=kube-apiserver", api_sans, "serverAuth")
    _leaf(pki, "admin", "/O=system:masters/CN=localcluster-admin", [], "clientAuth")
    _leaf(pki, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", [],
          "clientAuth")  # fmt: skip
    _leaf(pki, "kubelet", f"/CN={node_name}",
          [f"IP:{node_ip}", "IP:127.0.0.1", f"DNS:{node_name}"], "serverAuth")  # fmt: skip
    _leaf(pki, "node-client", f"/O=system:nodes/CN=system:node:{node_name}", [],
          "clientAuth")  # fmt: skip
    _openssl("genrsa", "-out", pki.sa_key, "2048")
    _openssl("rsa", "-in", pki.sa_key, "-pubout", "-out", pki.sa_pub)
    return pki
