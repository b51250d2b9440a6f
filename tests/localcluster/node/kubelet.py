"""kubelet, kube-proxy and CoreDNS of the node: configs and command lines, one function each.

kubelet and kube-proxy are the real ones, built from the pinned k8s.io/kubernetes
module; CoreDNS runs on the host, listening on the bridge's gateway address that
kubelet hands to every pod as its nameserver, and watches Services through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from localcluster.node.network import GATEWAY, POD_CIDR
from localcluster.paths import binary
from localcluster.pki import Pki

NODE_NAME = "localcluster-node"
CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class NodePorts:
    kubelet: int
    kubelet_healthz: int
    proxy_healthz: int
    proxy_metrics: int
    dns_health: int
    dns_ready: int


def _kubeconfig(path: Path, server: str, ca: str, cert: str, key: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "me", "user": {"client-certificate": cert, "client-key": key}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "me"}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def kubelet(data: Path, pki: Pki, server: str, ports: NodePorts, runtime_socket: Path) -> list[str]:
    home = data / "kubelet"
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = _kubeconfig(
        home / "kubeconfig", server, pki.ca_crt, pki.node_client_crt, pki.node_client_key
    )
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine has cgroup v1 (hybrid); 1.35+ refuses it unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": pki.ca_crt},
        },
        "authorization": {"mode": "Webhook"},
        "address": GATEWAY,
        "port": ports.kubelet,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports.kubelet_healthz,
        "tlsCertFile": pki.kubelet_crt,
        "tlsPrivateKeyFile": pki.kubelet_key,
        "clusterDNS": [GATEWAY],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "/etc/resolv.conf",
        "podLogsDir": str(data / "pod-logs"),
        "containerRuntimeEndpoint": f"unix://{runtime_socket}",
        # A shared disk: evict only when it is really full, and never collect our images.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "maxPods": 110,
        "syncFrequency": "10s",
        "nodeStatusReportFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "staticPodPath": "",
    }
    config_path = home / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return [
        str(binary("kubelet")),
        f"--config={config_path}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={home / 'root'}",
        f"--node-ip={GATEWAY}",
        f"--hostname-override={NODE_NAME}",
        "--v=1",
    ]


def kube_proxy(data: Path, pki: Pki, server: str, ports: NodePorts) -> list[str]:
    home = data / "kube-proxy"
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = _kubeconfig(home / "kubeconfig", server, pki.ca_crt, pki.admin_crt, pki.admin_key)
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE_NAME,
        "bindAddress": GATEWAY,
        "healthzBindAddress": f"127.0.0.1:{ports.proxy_healthz}",
        "metricsBindAddress": f"127.0.0.1:{ports.proxy_metrics}",
        # 0: leave the machine's conntrack sysctls as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    config_path = home / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return [str(binary("kube-proxy")), f"--config={config_path}", "--v=1"]


def kube_proxy_cleanup() -> list[str]:
    """`kube-proxy --cleanup`: removes the KUBE-* rules of every proxy mode, then exits."""
    return [str(binary("kube-proxy")), "--cleanup", "--v=0"]


def coredns(data: Path, kubeconfig: Path, ports: NodePorts) -> list[str]:
    home = data / "coredns"
    home.mkdir(parents=True, exist_ok=True)
    corefile = home / "Corefile"
    corefile.write_text(
        # Cluster names only: pods have nothing outside the machine to look up.
        f""".:53 {{
    bind {GATEWAY}
    errors
    health 127.0.0.1:{ports.dns_health}
    ready 127.0.0.1:{ports.dns_ready}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        ttl 5
    }}
    cache 5
    loadbalance
}}
"""
    )
    return [str(binary("coredns")), "-conf", str(corefile)]
