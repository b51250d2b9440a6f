"""Starting processes through the sandbox launcher (`python -m localcluster.node.sandbox`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

TESTS_DIR = str(Path(__file__).resolve().parents[2])
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class LaunchSpec:
    """Everything the sandbox needs to start a container's process."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    hostname: str
    hosts_file: str
    mounts: list[dict[str, Any]]


def launcher_env(marker_env: str, cluster_id: str) -> dict[str, str]:
    """The launcher's own environment (the container's is in the spec file)."""
    return {
        "PATH": os.environ.get("PATH", DEFAULT_PATH),
        "PYTHONPATH": TESTS_DIR,
        marker_env: cluster_id,
    }


def spawn(
    launch: LaunchSpec,
    spec_file: Path,
    error_file: Path,
    output: IO[bytes] | int,
    env: dict[str, str],
) -> subprocess.Popen[bytes]:
    """Start the launcher in a new session (its own process group) and return at once."""
    spec_file.write_text(json.dumps({**asdict(launch), "error_file": str(error_file)}))
    return subprocess.Popen(
        [sys.executable, "-m", "localcluster.node.sandbox", str(spec_file)],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def run_once(launch: LaunchSpec, workdir: Path, env: dict[str, str], timeout: float) -> int:
    """Run a command in the container's namespaces to completion (exec probes); -1 on timeout."""
    proc = spawn(launch, workdir / ".probe.spec.json", workdir / ".probe.error",
                 subprocess.DEVNULL, env)  # fmt: skip
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -1
