"""One container of a pod: its process, its state as the API shows it, its probes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcluster.node.launcher import LaunchSpec, spawn
from localcluster.node.probes import ProbeState


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Container:
    """Runtime record of a container; `status()` renders its ContainerStatus."""

    spec: dict[str, Any]
    log_dir: Path
    init: bool = False
    restart_count: int = 0
    popen: subprocess.Popen[bytes] | None = None
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    started_mono: float = 0.0
    backoff_until: float = 0.0
    readiness: ProbeState | None = None
    liveness: ProbeState | None = None
    startup: ProbeState | None = None
    ever_started: bool = False
    image_ok: bool = True
    killing: bool = False

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.returncode is None

    @property
    def terminated(self) -> bool:
        return "terminated" in self.state

    def waiting(self, reason: str, message: str = "") -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}

    def start(self, launch: LaunchSpec, launcher_env: dict[str, str]) -> None:
        """Start (or restart) the process through the sandbox launcher."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        n = self.restart_count
        with open(self.log_dir / f"{n}.log", "ab") as log:
            self.popen = spawn(launch, self.log_dir / f".{n}.spec.json",
                               self.log_dir / f".{n}.error", log, launcher_env)  # fmt: skip
        self.started_mono = time.monotonic()
        self.ever_started = True
        self.killing = False
        self.state = {"running": {"startedAt": now_iso()}}
        self._new_probes()

    def _new_probes(self) -> None:
        start = self.started_mono
        spec = self.spec
        self.startup = ProbeState(spec["startupProbe"], start) if "startupProbe" in spec else None
        self.liveness = (
            ProbeState(spec["livenessProbe"], start, default_ok=True)
            if "livenessProbe" in spec
            else None
        )
        self.readiness = (
            ProbeState(spec["readinessProbe"], start) if "readinessProbe" in spec else None
        )

    @property
    def started(self) -> bool:
        """The `started` field: running and past its startup probe."""
        return self.running and (self.startup is None or self.startup.ok)

    @property
    def ready(self) -> bool:
        if not self.started or self.init:
            return False
        return self.readiness is None or self.readiness.ok

    def poll(self) -> bool:
        """Reap the process if it ended; True when it just turned terminated."""
        if self.popen is None or self.popen.poll() is None or self.terminated:
            return False
        code = self.popen.returncode
        if code < 0:
            code = 128 - code  # killed by signal N -> 128+N, as runtimes report it
        error_file = self.log_dir / f".{self.restart_count}.error"
        reason = "Completed" if code == 0 else "Error"
        message = ""
        if error_file.exists():
            reason, message = "StartError", error_file.read_text()
        started_at = self.state.get("running", {}).get("startedAt", now_iso())
        self.state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": now_iso(),
                "containerID": self.container_id,
                **({"message": message} if message else {}),
            }
        }
        return True

    @property
    def container_id(self) -> str:
        return f"localcluster://{self.popen.pid}" if self.popen else ""

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def terminate(self) -> None:
        self.killing = True
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def status(self, image: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": image,
            "imageID": f"localcluster://{image}",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.ever_started and self.popen is not None:
            out["containerID"] = self.container_id
        return out
