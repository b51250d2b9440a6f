"""LocalCluster: start, health-check and tear down etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and the node agent as local processes.
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests
import urllib3

from localcluster import components
from localcluster.client import ApiError, Credentials, Kube
from localcluster.kubeconfig import write_kubeconfig
from localcluster.node import logs as pod_logs
from localcluster.paths import MARKER_ENV, binary, versions
from localcluster.pki import make_pki
from localcluster.ports import SubnetLease, free_ports
from localcluster.procs import ManagedProcess, sweep, wait_for

log = logging.getLogger("localcluster")
TESTS_DIR = Path(__file__).resolve().parents[1]
NODE_NAME = "localcluster-node"
PORT_RETRIES = 3
STOP_ORDER = [
    ["node-agent"],
    ["kube-scheduler", "kube-controller-manager"],
    ["kube-apiserver"],
    ["etcd"],
]


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
        self.subnet: SubnetLease | None = None
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
        assert self.subnet is not None
        return self.subnet.cidr

    def api(self) -> Kube:
        """A JSON REST client with admin credentials."""
        if self._api is None:
            pki = self.pki
            self._api = Kube(Credentials(self.server, pki.ca_crt, pki.admin_crt, pki.admin_key))
        return self._api

    def env(self) -> dict[str, str]:
        """os.environ plus KUBECONFIG for this cluster (for subprocesses and kopf)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run bin/kubectl against this cluster; raises CalledProcessError if check."""
        argv = [str(binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args]
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
        """A pod container's stdout+stderr as the node agent recorded it."""
        return pod_logs.read_log(self.data_dir, namespace, pod, container, previous, tail)

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
                if self.subnet is not None:
                    self.subnet.release()
                self._api = None
                shutil.rmtree(self.data_dir, ignore_errors=True)
            except BaseException:
                self.stop()
                raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        if self.reaper:  # cleans up even if this process is SIGKILLed
            argv = [sys.executable, "-m", "localcluster.reaper", str(os.getpid()), self.id,
                    str(self.data_dir), *(["--keep"] if self.keep_data else [])]  # fmt: skip
            self._launch("reaper", argv, extra_env={"PYTHONPATH": str(TESTS_DIR)})
        self.subnet = SubnetLease()
        self.ports = components.Ports(*free_ports(6))
        self.pki = make_pki(self.data_dir / "pki", components.SERVICE_IP)
        write_kubeconfig(self.kubeconfig, self.server, self.pki)
        data = self.data_dir
        self._launch("etcd", components.etcd(data, self.ports))
        self._launch("kube-apiserver", components.apiserver(data, self.pki, self.ports))
        self._await(
            "etcd", lambda: self._http_ok(f"http://127.0.0.1:{self.ports.etcd_client}/health")
        )
        self._await("kube-apiserver", lambda: self._https_ok(self.ports.apiserver, "/readyz"))
        self._launch(
            "kube-controller-manager",
            components.controller_manager(data, self.pki, self.ports, self.kubeconfig),
        )
        self._launch("kube-scheduler", components.scheduler(data, self.ports, self.kubeconfig))
        self._launch_node()
        self._await("kube-controller-manager",
                    lambda: self._https_ok(self.ports.controller_manager, "/healthz"))  # fmt: skip
        self._await("kube-scheduler", lambda: self._https_ok(self.ports.scheduler, "/healthz"))
        self._await("node-agent", self._node_ready)
        self._await("kube-controller-manager", self._default_service_account,
                    what="the default ServiceAccount (serviceaccount controller)")  # fmt: skip
        self._write_state()

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

    def _launch_node(self) -> None:
        assert self.subnet is not None and self.subnet.fd is not None
        from localcluster.node.agent import AgentConfig

        pki = self.pki
        cfg = AgentConfig(
            server=self.server,
            ca_file=pki.ca_crt,
            cert_file=pki.admin_crt,
            key_file=pki.admin_key,
            node_name=NODE_NAME,
            subnet_third_octet=self.subnet.third,
            kubelet_port=self.ports.kubelet,
            kubelet_cert=pki.kubelet_crt,
            kubelet_key=pki.kubelet_key,
            data_dir=str(self.data_dir),
            cluster_id=self.id,
            marker_env=MARKER_ENV,
            api_host="127.0.0.1",
            api_port=self.ports.apiserver,
            kube_version=self.kube_version,
        )
        cfg_path = self.data_dir / "node-agent.json"
        cfg_path.write_text(json.dumps(asdict(cfg), indent=2))
        argv = [sys.executable, "-m", "localcluster.node", str(cfg_path)]
        self._launch("node-agent", argv, [self.subnet.fd], {"PYTHONPATH": str(TESTS_DIR)})

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

    # -- stop ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process (node agent first), sweep leftovers, remove the data."""
        t0 = time.monotonic()
        self._stop_processes()
        if self.subnet is not None:
            self.subnet.release()
        if self._api is not None:
            self._api.session.close()
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - t0

    def _stop_processes(self) -> None:
        # Clients before servers: the API server shuts down slowly once etcd is gone.
        for group in STOP_ORDER:
            procs = [self.procs.pop(n) for n in group if n in self.procs]
            if procs:
                with ThreadPoolExecutor(len(procs)) as pool:
                    list(
                        pool.map(lambda p: p.stop(grace=8 if p.name == "node-agent" else 5), procs)
                    )
        for proc in self.procs.values():  # the reaper, last
            proc.stop(grace=2)
        self.procs.clear()
        sweep(self.id)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
