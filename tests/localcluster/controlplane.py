"""LocalCluster: start, health-check and tear down a whole cluster as local processes:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and a real node
(containerd with runc and CNI, kubelet, kube-proxy, CoreDNS) running the project's
own images, imported into containerd at start.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import urllib3

from localcluster import components
from localcluster.client import ApiError, Credentials, Kube
from localcluster.images import Images, ImagesMissing
from localcluster.kubeconfig import write_kubeconfig
from localcluster.node import claim, leftovers
from localcluster.node import kubelet as node
from localcluster.node.containerd import Containerd
from localcluster.node.dns import resolve_a
from localcluster.node.network import GATEWAY, POD_CIDR, PodNetwork
from localcluster.paths import MARKER_ENV, binary, versions
from localcluster.pki import make_pki
from localcluster.ports import free_ports
from localcluster.procs import ManagedProcess, sweep, wait_for

log = logging.getLogger("localcluster")
TESTS_DIR = Path(__file__).resolve().parents[1]
NODE_NAME = node.NODE_NAME
PORT_RETRIES = 3
#: The kube-proxy first (a running one re-creates its rules), then the node, then the
#: control plane clients before the servers (the API server stops slowly without etcd).
STOP_ORDER = [
    ["kube-proxy"],
    ["kubelet", "coredns"],
    ["containerd"],
    ["kube-scheduler", "kube-controller-manager"],
    ["kube-apiserver"],
    ["etcd"],
]
DNS_PROBE_NAME = "kubernetes.default.svc.cluster.local"


class ClusterError(RuntimeError):
    """A component did not come up; the message names it and ends with its log."""


class LocalCluster:
    """A whole local cluster. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        data_dir: Path | None = None,
        keep_data: bool = False,
        start_timeout: float = 60.0,
        reaper: bool = True,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="localcluster-")).resolve()
        self.keep_data = keep_data
        self.reaper = reaper
        self.start_timeout = start_timeout
        self.procs: dict[str, ManagedProcess] = {}
        self.network = PodNetwork(self.data_dir)
        self.images = Images.from_build()
        self.containerd = Containerd(self.data_dir, self.images.pause)
        self.kube_version = versions()["KUBE_VERSION"]
        self.timings: dict[str, float] = {}
        self._api: Kube | None = None

    # -- public surface -----------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def node_name(self) -> str:
        return NODE_NAME

    @property
    def pod_cidr(self) -> str:
        return POD_CIDR

    @property
    def host_address(self) -> str:
        """The host's address on the pod network: a server the tests run on the host
        (the simulator, moto) binds it to be reachable from pods."""
        return GATEWAY

    @property
    def image(self) -> str:
        """The product's image as `make image` built it (also tagged as the operator's
        default image, so manifests that name that one run it unchanged)."""
        return self.images.product

    def api(self) -> Kube:
        """A JSON REST client with admin credentials."""
        if self._api is None:
            pki = self.pki
            self._api = Kube(Credentials(self.server, pki.ca_crt, pki.admin_crt, pki.admin_key))
        return self._api

    def env(self) -> dict[str, str]:
        """os.environ plus KUBECONFIG for this cluster (for subprocesses and kopf)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl_argv(self) -> list[str]:
        """bin/kubectl with this cluster's kubeconfig, for commands that run on."""
        return [str(binary("kubectl")), f"--kubeconfig={self.kubeconfig}"]

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run bin/kubectl against this cluster; raises CalledProcessError if check."""
        argv = [*self.kubectl_argv(), *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, env=self.env()
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, argv, result.stdout, result.stderr
            )
        return result

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail: int | None = None,
    ) -> str:
        """A pod container's stdout+stderr, as `kubectl logs` gives it."""
        args = ["logs", "-n", namespace, pod]
        args += [f"-c={container}"] if container else []
        args += ["--previous"] if previous else []
        args += [f"--tail={tail}"] if tail is not None else []
        return self.kubectl(*args).stdout

    def component_log(self, name: str, lines: int = 50) -> str:
        """The end of a control-plane component's log (etcd, kube-apiserver, ...)."""
        return self.procs[name].tail(lines)

    # -- start -----------------------------------------------------------------------
    def start(self) -> LocalCluster:
        """Start everything; retried (new ports) if a chosen port was taken meanwhile."""
        t0 = time.monotonic()
        for attempt in range(1, PORT_RETRIES + 1):
            try:
                self._start()
                break
            except ClusterError as exc:
                if attempt == PORT_RETRIES or "address already in use" not in str(exc).lower():
                    self.stop()
                    raise
                log.warning("port taken by someone else, restarting the cluster: %s", exc)
                self._stop_processes()
                self._api = None
                shutil.rmtree(self.data_dir, ignore_errors=True)
            except BaseException:
                self.stop()
                raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _start(self) -> None:
        try:
            claim.claim(self.data_dir)
        except claim.MachineBusy as exc:
            raise ClusterError(str(exc)) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        try:
            self.images.check()
        except ImagesMissing as exc:
            raise ClusterError(str(exc)) from None
        if self.reaper:  # cleans up even if this process is SIGKILLed
            argv = [sys.executable, "-m", "localcluster.reaper", str(os.getpid()), self.id,
                    str(self.data_dir), *(["--keep"] if self.keep_data else [])]  # fmt: skip
            self._launch("reaper", argv, extra_env={"PYTHONPATH": str(TESTS_DIR)})
        self.ports = components.Ports(*free_ports(5))
        self.node_ports = node.NodePorts(*free_ports(6))
        self.pki = make_pki(self.data_dir / "pki", components.SERVICE_IP, GATEWAY, NODE_NAME)
        write_kubeconfig(self.kubeconfig, self.server, self.pki)
        data = self.data_dir
        self.network.setup()
        self.containerd.write_config(self.network.cni_conf_dir)
        # containerd finds its shim on PATH, and runc, iptables and mount in the system's.
        path = f"{binary('containerd').parent}:/usr/sbin:/usr/bin:/sbin:/bin"
        self._launch("containerd", self.containerd.argv(), extra_env={"PATH": path})
        self._launch("etcd", components.etcd(data, self.ports))
        self._launch("kube-apiserver", components.apiserver(data, self.pki, self.ports, GATEWAY))
        self._await("containerd", self._containerd_ready)
        with ThreadPoolExecutor(1) as pool:  # images go in while the API server starts
            imported = pool.submit(self._import_images)
            self._await(
                "etcd", lambda: self._http_ok(f"http://127.0.0.1:{self.ports.etcd_client}/health")
            )
            self._await("kube-apiserver", lambda: self._https_ok(self.ports.apiserver, "/readyz"))
            self._launch(
                "kube-controller-manager",
                components.controller_manager(data, self.pki, self.ports, self.kubeconfig),
            )
            self._launch("kube-scheduler", components.scheduler(data, self.ports, self.kubeconfig))
            proxy = node.kube_proxy(data, self.pki, self.server, self.node_ports)
            self._launch("kube-proxy", proxy)
            self._launch("coredns", node.coredns(data, self.kubeconfig, self.node_ports))
            imported.result()
        self._launch("kubelet", node.kubelet(data, self.pki, self.server, self.node_ports,
                                             self.containerd.socket))  # fmt: skip
        self._await("kube-controller-manager",
                    lambda: self._https_ok(self.ports.controller_manager, "/healthz"))  # fmt: skip
        self._await("kube-scheduler", lambda: self._https_ok(self.ports.scheduler, "/healthz"))
        self._await("kubelet", self._node_ready, what="the Node Ready and untainted")
        self._await("kube-proxy", lambda: self._http_ok(
            f"http://127.0.0.1:{self.node_ports.proxy_healthz}/healthz"))  # fmt: skip
        self._await("coredns", self._dns_answers, what=f"an answer for {DNS_PROBE_NAME}")
        self._await("kube-controller-manager", self._default_service_account,
                    what="the default ServiceAccount (serviceaccount controller)")  # fmt: skip
        self._write_state()

    def _containerd_ready(self) -> bool:
        if not self.containerd.socket.exists():
            return False
        try:
            self.containerd.ctr("version", timeout=5)
        except subprocess.SubprocessError:
            return False
        return True

    def _import_images(self) -> None:
        t0 = time.monotonic()
        self.images.import_into(self.containerd)
        self.timings["import-images"] = time.monotonic() - t0

    def _dns_answers(self) -> bool:
        try:
            return components.SERVICE_IP in resolve_a(GATEWAY, DNS_PROBE_NAME)
        except OSError:
            return False

    def _launch(
        self,
        name: str,
        argv: Sequence[str],
        pass_fds: Sequence[int] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
               MARKER_ENV: self.id, **(extra_env or {})}  # fmt: skip
        proc = ManagedProcess(name, argv, self.data_dir / "logs" / f"{name}.log", env=env)
        proc.start(pass_fds=pass_fds)
        self.procs[name] = proc

    # -- health ------------------------------------------------------------------
    def _await(self, name: str, ready: Callable[[], bool], what: str = "") -> None:
        proc = self.procs[name]
        t0 = time.monotonic()

        def check() -> bool:
            if proc.exited() is not None:
                raise ClusterError(
                    f"{name} exited with code {proc.exited()} before it was ready.\n"
                    f"--- end of {proc.log_path} ---\n{proc.tail()}"
                )
            try:
                return ready()
            except (requests.RequestException, ApiError):
                return False

        if not wait_for(check, self.start_timeout, interval=0.1):
            raise ClusterError(
                f"{name} did not become ready ({what or 'health check'}) within "
                f"{self.start_timeout:.0f}s.\n--- end of {proc.log_path} ---\n{proc.tail()}"
            )
        self.timings[f"ready:{name}"] = time.monotonic() - t0

    @staticmethod
    def _http_ok(url: str) -> bool:
        return requests.get(url, timeout=2).status_code == 200

    def _https_ok(self, port: int, path: str) -> bool:
        url = f"https://127.0.0.1:{port}{path}"
        cert = (self.pki.admin_crt, self.pki.admin_key)
        with warnings.catch_warnings():  # self-signed serving certs of kcm and scheduler
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            return requests.get(url, timeout=2, verify=False, cert=cert).status_code == 200

    def _node_ready(self) -> bool:
        node = self.api().get(f"/api/v1/nodes/{NODE_NAME}")
        conditions = node.get("status", {}).get("conditions", [])
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return ready and not node["spec"].get("taints")

    def _default_service_account(self) -> bool:
        self.api().get("/api/v1/namespaces/default/serviceaccounts/default")
        return True

    # -- state file for `python -m localcluster down` -----------------------------------
    def _write_state(self) -> None:
        state = {
            "id": self.id,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "pids": {name: p.pid for name, p in self.procs.items() if name != "reaper"},
        }
        (self.data_dir / "state.json").write_text(json.dumps(state, indent=2))
        claim.record(self.data_dir, state["pids"])

    # -- stop ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process, remove what the node left (mounts, bridge, iptables
        chains, cgroups), release the machine, remove the data."""
        t0 = time.monotonic()
        self._stop_processes()
        if self._api is not None:
            self._api.session.close()
            self._api = None
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        claim.release(self.data_dir)
        self.timings["stop"] = time.monotonic() - t0

    def _stop_processes(self) -> None:
        for group in STOP_ORDER:
            procs = [self.procs.pop(n) for n in group if n in self.procs]
            if procs:
                with ThreadPoolExecutor(len(procs)) as pool:
                    list(pool.map(lambda p: p.stop(grace=5), procs))
            if group == ["kube-proxy"] and procs:
                subprocess.run(node.kube_proxy_cleanup(), capture_output=True, timeout=30)
            if group == ["containerd"]:
                leftovers.kill_processes(self.data_dir)  # the pods' processes and shims
        for proc in self.procs.values():  # the reaper, last
            proc.stop(grace=2)
        self.procs.clear()
        sweep(self.id)
        leftovers.remove(self.data_dir)

    def leftovers(self) -> list[str]:
        """What of this cluster is still on the machine (empty after a clean stop)."""
        return leftovers.find(self.data_dir)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
