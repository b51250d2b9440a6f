"""Start and stop the Locust processes of a local run, leaving none behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from endpoint_loadtest.engine.plan import LOCUST_COMMAND, ProcessPlan

STOP_GRACE_SECONDS = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def local_command(command: list[str]) -> list[str]:
    """The plan's command, run with this interpreter (works without the venv on PATH)."""
    if command and command[0] == LOCUST_COMMAND:
        return [sys.executable, "-m", "endpoint_loadtest.loadgen", *command[1:]]
    return command


@dataclass
class ProcessGroup:
    """Child processes, each in its own session so a stop reaches its children too."""

    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, plan: ProcessPlan, extra_args: list[str] | None = None) -> None:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            self.processes[name] = subprocess.Popen(
                local_command(plan.command) + (extra_args or []),
                env={**os.environ, **plan.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> dict[str, int]:
        """Processes that ended, with their exit codes."""
        return {
            name: code for name, proc in self.processes.items() if (code := proc.poll()) is not None
        }

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM everyone, then SIGKILL whoever is left after the grace period."""
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGKILL)  # stragglers in the group, if any


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
