"""PodWorker: one thread per Pod, from setup through containers, probes and status to deletion."""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcluster.node import logs
from localcluster.node.container import Container, now_iso
from localcluster.node.dns import PodHosts
from localcluster.node.env import ConfigError, container_env, expand
from localcluster.node.images import ImageRule, argv_for, resolve
from localcluster.node.launcher import DEFAULT_PATH, LaunchSpec, launcher_env, run_once
from localcluster.node.probes import ProbeState, probe_once
from localcluster.node.volumes import PodVolumes
from localcluster.paths import POD_MARKER_ENV
from localcluster.procs import sweep

if TYPE_CHECKING:
    from localcluster.node.agent import Agent

log = logging.getLogger("localcluster.node")
SHUTDOWN_GRACE = 2.0


class PodWorker(threading.Thread):
    """Runs one Pod; the agent feeds it the latest Pod object and deletion news."""

    def __init__(self, agent: Agent, pod: dict[str, Any]) -> None:
        super().__init__(name=f"pod-{pod['metadata']['name']}", daemon=True)
        self.agent = agent
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.wake = threading.Event()
        self.gone = False  # the Pod object no longer exists
        self.shutting_down = False  # the agent is stopping
        self.ip: str | None = None
        self.dir = logs.pod_dir(agent.data_dir, self.namespace, self.name, self.uid)
        self.start_time = now_iso()
        self.conditions: dict[str, dict[str, Any]] = {}
        self.last_sent: dict[str, Any] | None = None
        self.volumes: PodVolumes | None = None
        self.setup_error: str | None = None
        spec = pod["spec"]
        self.rules: dict[str, ImageRule | None] = {}
        self.init_containers = [self._container(c, True) for c in spec.get("initContainers", [])]
        self.containers = [self._container(c, False) for c in spec.get("containers", [])]

    # -- fed by the agent ---------------------------------------------------
    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.wake.set()

    def mark_gone(self) -> None:
        self.gone = True
        self.wake.set()

    def shutdown(self) -> None:
        self.shutting_down = True
        self.wake.set()

    # -- lifecycle ------------------------------------------------------------
    def _container(self, spec: dict[str, Any], init: bool) -> Container:
        rule = resolve(self.agent.images, spec.get("image", ""))
        self.rules[spec["name"]] = rule
        container = Container(spec=spec, log_dir=self.dir / spec["name"], init=init)
        if rule is None:
            container.image_ok = False
            container.waiting(
                "ErrImagePull",
                f'image "{spec.get("image")}" is not in the node\'s image table '
                f"(tests/localcluster/images.yaml)",
            )
        return container

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
        finally:
            self._stop_all(0 if self.gone else SHUTDOWN_GRACE)
            sweep(self.uid, timeout=1, env=POD_MARKER_ENV)  # processes that left their group
            self.agent.hosts.forget_pod(self.uid)
            if self.ip:
                self.agent.ips.release(self.ip)
            shutil.rmtree(self.dir / ".volumes", ignore_errors=True)
            self.agent.worker_done(self)

    def _run(self) -> None:
        if self._deleting():
            self._finalize()
            return
        self._setup()
        while True:
            if self.shutting_down or self.gone:
                return
            if self._deleting():
                grace = self.pod["metadata"].get("deletionGracePeriodSeconds", 30)
                self._stop_all(float(grace))
                sweep(self.uid, timeout=1, env=POD_MARKER_ENV)
                self._finalize()
                return
            self._step()
            self._push_status()
            self.wake.wait(timeout=self._next_tick())
            self.wake.clear()

    def _deleting(self) -> bool:
        return bool(self.pod["metadata"].get("deletionTimestamp"))

    def _setup(self) -> None:
        """Pod IP, hosts file, volumes: what the kubelet calls the sandbox."""
        self.dir.mkdir(parents=True, exist_ok=True)
        spec = self.pod["spec"]
        # hostNetwork pods share the node's address, as in a real cluster.
        self.ip = self.agent.host_ip if spec.get("hostNetwork") else self.agent.ips.allocate()
        hostname = (spec.get("hostname") or self.name)[:63]
        own = [hostname]
        if spec.get("subdomain"):
            own.insert(0, f"{hostname}.{spec['subdomain']}.{self.namespace}.svc.cluster.local")
        self.hostname = hostname
        self.hosts_path = self.dir / ".hosts"
        self.agent.hosts.add_file(
            self.uid,
            PodHosts(self.hosts_path, self.namespace, self.ip, own, spec.get("hostAliases") or []),
        )
        for c in self.init_containers + self.containers:
            if not c.image_ok:
                self.agent.event(self.pod, "Failed", c.state["waiting"]["message"], c.name, True)
        self._set_condition("PodScheduled", True)
        self._push_status()  # podIP early, so fieldRef status.podIP resolves
        self.volumes = PodVolumes(
            self.pod, self.dir / ".volumes", self._lookup, self.agent.service_account_token
        )
        self._try_volumes()

    def _try_volumes(self) -> bool:
        assert self.volumes is not None
        try:
            self.volumes.setup()
            self.setup_error = None
            self._set_condition("PodReadyToStartContainers", True)
            return True
        except (ConfigError, OSError) as exc:
            self.setup_error = str(exc)
            self._set_condition("PodReadyToStartContainers", False)
            return False

    # -- one reconcile pass ---------------------------------------------------
    def _step(self) -> None:
        assert self.volumes is not None
        if self.setup_error is not None and not self._try_volumes():
            return
        try:
            self.volumes.refresh()
        except (ConfigError, OSError) as exc:
            log.warning("pod %s/%s: volume refresh failed: %s", self.namespace, self.name, exc)
        if not self._run_init_containers():
            return
        for container in self.containers:
            self._drive(container)

    def _phase_final(self) -> bool:
        return self._phase() in ("Succeeded", "Failed")

    def _run_init_containers(self) -> bool:
        """Init containers one at a time; True once all have succeeded."""
        for container in self.init_containers:
            state = container.state.get("terminated")
            if state and state["exitCode"] == 0:
                continue
            self._drive(container)
            return False
        return True

    def _restart_wanted(self, container: Container) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        code = container.state["terminated"]["exitCode"]
        if container.init:
            return code != 0 and policy != "Never"
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    def _drive(self, container: Container) -> None:
        """Start, reap, restart and probe one container."""
        if not container.image_ok:
            return
        now = time.monotonic()
        if container.popen is None:
            self._start(container)
            return
        if container.poll():
            log.info("pod %s/%s: container %s exited: %s", self.namespace, self.name,
                     container.name, container.state["terminated"])  # fmt: skip
        if container.terminated:
            if self._phase_final() or not self._restart_wanted(container):
                return
            if container.backoff_until == 0.0:
                container.backoff_until = now + min(2**container.restart_count, 30)
                self.agent.event(self.pod, "BackOff", "Back-off restarting failed container "
                                 f"{container.name}", container.name, True)  # fmt: skip
            if now < container.backoff_until:
                return
            container.last_state = container.state
            container.restart_count += 1
            container.backoff_until = 0.0
            self._start(container)
            return
        self._probe(container, now)

    def _start(self, container: Container) -> None:
        rule = self.rules[container.name]
        assert rule is not None and self.volumes is not None
        try:
            launch = self._launch_spec(container, rule)
        except ConfigError as exc:
            if container.state.get("waiting", {}).get("message") != str(exc):
                self.agent.event(self.pod, "Failed", f"Error: {exc}", container.name, True)
            container.waiting("CreateContainerConfigError", str(exc))
            return
        container.start(launch, self._launcher_env())
        self.agent.event(self.pod, "Started", f"Started container {container.name}",
                         container.name)  # fmt: skip

    def _launch_spec(self, container: Container, rule: ImageRule) -> LaunchSpec:
        assert self.volumes is not None
        base = {
            "PATH": ":".join([*rule.path, DEFAULT_PATH]),
            "HOME": "/root",
            "HOSTNAME": self.hostname,
            **self.agent.kubernetes_env(),
            **rule.env,
        }
        env = container_env(self.pod, container.spec, base, self._lookup, self.agent.allocatable)
        env[self.agent.marker_env] = self.agent.cluster_id
        env[POD_MARKER_ENV] = self.uid
        argv = [expand(a, env) for a in argv_for(rule, container.spec)]
        cwd = container.spec.get("workingDir") or rule.working_dir
        if not cwd:
            cwd = str(self.dir / f".work-{container.name}")
        return LaunchSpec(
            argv=argv,
            env=env,
            cwd=cwd,
            hostname=self.hostname,
            hosts_file=str(self.hosts_path),
            mounts=self.volumes.mounts(container.spec),
        )

    def _launcher_env(self) -> dict[str, str]:
        return launcher_env(self.agent.marker_env, self.agent.cluster_id)

    # -- probes -------------------------------------------------------------
    def _exec_in(self, container: Container) -> Callable[[list[str], float], int]:
        """An exec-probe runner: the command in the container's env and namespaces."""

        def run_exec(argv: list[str], timeout: float) -> int:
            rule = self.rules[container.name]
            assert rule is not None
            launch = self._launch_spec(container, rule)
            launch.argv = argv
            return run_once(launch, container.log_dir, self._launcher_env(), timeout + 1)

        return run_exec

    def _probe(self, container: Container, now: float) -> None:
        if container.killing:
            return
        assert self.ip is not None

        def check(state: ProbeState | None) -> None:
            if state is not None and state.due(now):
                ok, message = probe_once(state.probe, self.ip or "", container.spec,
                                         self._exec_in(container))  # fmt: skip
                state.record(ok, message)
                if not ok and state.failures == 1:
                    kind = {id(container.startup): "Startup", id(container.liveness): "Liveness"}
                    which = kind.get(id(state), "Readiness")
                    self.agent.event(self.pod, "Unhealthy", f"{which} probe failed: {message}",
                                     container.name, True)  # fmt: skip

        if container.startup is not None and not container.startup.ok:
            check(container.startup)
            if container.startup.failures >= int(
                container.startup.probe.get("failureThreshold", 3)
            ):
                self._probe_kill(container, "startup", container.startup.message)
            return
        check(container.liveness)
        if container.liveness is not None and not container.liveness.ok:
            self._probe_kill(container, "liveness", container.liveness.message)
            return
        check(container.readiness)

    def _probe_kill(self, container: Container, which: str, message: str) -> None:
        log.info("pod %s/%s: %s probe failed for %s (%s): restarting", self.namespace,
                 self.name, which, container.name, message)  # fmt: skip
        grace = float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))
        self._stop_containers([container], grace)

    # -- stopping -------------------------------------------------------------
    def _stop_containers(self, containers: list[Container], grace: float) -> None:
        """SIGTERM, wait up to `grace` seconds, SIGKILL, reap."""
        running = [c for c in containers if c.running]
        for c in running:
            c.terminate()
            if not (self.gone or self.shutting_down):
                self.agent.event(self.pod, "Killing", f"Stopping container {c.name}", c.name)
        deadline = time.monotonic() + grace
        while any(c.popen and c.popen.poll() is None for c in running):
            if time.monotonic() >= deadline:
                for c in running:
                    c.kill()
                break
            time.sleep(0.05)
        for c in running:
            if c.popen is not None:
                try:
                    c.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    log.error("pod %s/%s: %s did not die", self.namespace, self.name, c.name)
            c.poll()

    def _stop_all(self, grace: float) -> None:
        self._stop_containers(self.init_containers + self.containers, grace)

    def _finalize(self) -> None:
        """Containers are gone: remove the Pod object for good (as the kubelet does)."""
        with contextlib.suppress(Exception):
            self._push_status()
        self.agent.delete_pod(self.namespace, self.name, self.uid)

    # -- status ---------------------------------------------------------------
    def _set_condition(self, kind: str, value: bool, reason: str = "") -> None:
        status = "True" if value else "False"
        old = self.conditions.get(kind)
        if old and old["status"] == status and old.get("reason", "") == reason:
            return
        cond = {"type": kind, "status": status, "lastTransitionTime": now_iso(),
                "lastProbeTime": None}  # fmt: skip
        if reason:
            cond["reason"] = reason
        self.conditions[kind] = cond

    def _phase(self) -> str:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        for c in self.init_containers:
            term = c.state.get("terminated")
            if term and term["exitCode"] != 0 and policy == "Never":
                return "Failed"
        if self.init_containers and not all(
            c.state.get("terminated", {}).get("exitCode") == 0 for c in self.init_containers
        ):
            return "Pending"
        if not all(c.ever_started for c in self.containers):
            return "Pending"
        done = [c for c in self.containers if c.terminated and not self._restart_wanted(c)]
        if len(done) == len(self.containers):
            ok = all(c.state["terminated"]["exitCode"] == 0 for c in done)
            return "Succeeded" if ok else "Failed"
        return "Running"

    def _readiness_gates_ok(self) -> bool:
        gates = self.pod["spec"].get("readinessGates") or []
        current = {c["type"]: c["status"] for c in self.pod.get("status", {}).get("conditions", [])}
        return all(current.get(g["conditionType"]) == "True" for g in gates)

    def status(self) -> dict[str, Any]:
        phase = self._phase()
        initialized = all(
            c.state.get("terminated", {}).get("exitCode") == 0 for c in self.init_containers
        )
        self._set_condition("Initialized", initialized)
        all_ready = bool(self.containers) and all(c.ready for c in self.containers)
        final = phase in ("Succeeded", "Failed")
        reason = "PodCompleted" if final else ("" if all_ready else "ContainersNotReady")
        self._set_condition("ContainersReady", all_ready, reason)
        self._set_condition("Ready", all_ready and self._readiness_gates_ok(), reason)
        out: dict[str, Any] = {
            "phase": phase,
            "hostIP": self.agent.host_ip,
            "hostIPs": [{"ip": self.agent.host_ip}],
            "startTime": self.start_time,
            "conditions": list(self.conditions.values()),
            "containerStatuses": [self._cstatus(c) for c in self.containers],
        }
        if self.init_containers:
            out["initContainerStatuses"] = [self._cstatus(c) for c in self.init_containers]
        if self.ip:
            out["podIP"] = self.ip
            out["podIPs"] = [{"ip": self.ip}]
        if self.setup_error:
            out["message"] = self.setup_error
        return out

    def _cstatus(self, container: Container) -> dict[str, Any]:
        status = container.status(container.spec.get("image", ""))
        if container.terminated and container.backoff_until and not self._phase_final():
            status["lastState"] = container.state
            message = f"back-off restarting {container.name}"
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        return status

    def _push_status(self) -> None:
        status = self.status()
        if status == self.last_sent:
            return
        if self.agent.patch_pod_status(self.namespace, self.name, status):
            self.last_sent = status
            self.pod.setdefault("status", {}).update(status)
        else:
            self.mark_gone()

    def _next_tick(self) -> float:
        """Sleep until the next probe is due, but wake at least every half second."""
        delay = 0.5
        now = time.monotonic()
        for c in self.containers + self.init_containers:
            for state in (c.startup, c.liveness, c.readiness):
                if state is not None and c.running:
                    delay = min(delay, max(state.next_due - now, 0.02))
            if c.running or (c.terminated and c.backoff_until):
                delay = min(delay, 0.2)
        return delay

    # -- API lookups for env and volumes ----------------------------------------
    def _lookup(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.agent.get_namespaced(self.namespace, kind, name)
