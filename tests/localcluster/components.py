"""Command lines of the control-plane components (one function each, flags documented)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from localcluster.paths import binary
from localcluster.pki import Pki

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
CONTROLLERS = [
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "root-ca-certificate-publisher-controller",
    "disruption-controller",
    "pod-garbage-collector-controller",
    "resourcequota-controller",
    "clusterrole-aggregation-controller",
    "replicationcontroller-controller",
    "horizontal-pod-autoscaler-controller",
    "node-lifecycle-controller",  # lifts the not-ready taint once the kubelet reports Ready
]


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


def etcd(data: Path, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    return [
        str(binary("etcd")),
        f"--data-dir={data / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
        f"--initial-cluster=default=http://127.0.0.1:{ports.etcd_peer}",
        "--listen-metrics-urls=",
        "--unsafe-no-fsync=true",  # test data: durability not wanted, speed is
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]


def apiserver(data: Path, pki: Pki, ports: Ports, advertise: str) -> list[str]:
    """Bound on all addresses and advertised at the node's bridge address: pods reach
    it through the `kubernetes` Service, whose endpoint is that address."""
    url = f"https://127.0.0.1:{ports.apiserver}"
    return [
        str(binary("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=0.0.0.0",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={data / 'apiserver-certs'}",
        f"--tls-cert-file={pki.apiserver_crt}",
        f"--tls-private-key-file={pki.apiserver_key}",
        f"--client-ca-file={pki.ca_crt}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,"
        "LimitRanger,ResourceQuota,DefaultTolerationSeconds,NodeRestriction",
        f"--service-account-issuer={url}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        f"--kubelet-client-certificate={pki.kubelet_client_crt}",
        f"--kubelet-client-key={pki.kubelet_client_key}",
        f"--kubelet-certificate-authority={pki.ca_crt}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--advertise-address={advertise}",
        "--profiling=false",
        "--v=1",
    ]


def controller_manager(data: Path, pki: Pki, ports: Ports, kubeconfig: Path) -> list[str]:
    return [
        str(binary("kube-controller-manager")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_crt}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={data / 'kcm-certs'}",
        f"--controllers={','.join(CONTROLLERS)}",
        "--concurrent-gc-syncs=5",
        "--profiling=false",
        "--v=1",
    ]


def scheduler(data: Path, ports: Ports, kubeconfig: Path) -> list[str]:
    return [
        str(binary("kube-scheduler")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={data / 'scheduler-certs'}",
        "--profiling=false",
        "--v=1",
    ]
