"""pytest fixtures for tests that need AWS stand-ins, as real separate processes.

- `moto_server` (session): moto in server mode on a free loopback port; yields its URL.
  Use `moto_reset(url)` to clear its state between tests if you need to.
- `simulator` (function): a factory starting `elt simulate` subprocesses; each call
  returns a SimulatorProcess (.url, .stats(), .reset(), .env(), .client(), .stop()).
  Everything started is stopped at teardown.

Example::

    def test_invoke(simulator, moto_server):
        sim = simulator("--instances", "2", cloudwatch_url=moto_server)
        client = sim.client()  # boto3 sagemaker-runtime, retries off
        client.invoke_endpoint(EndpointName=sim.endpoint, Body=b"{}")
        assert sim.stats()["endpoints"][sim.endpoint]["successes"] == 1
        # or hand the variables to a subprocess:
        # subprocess.run(..., env={**os.environ, **sim.env()})

Readiness is awaited without sleeps: the simulator prints its URL on stdout once it is
listening (moto prints its "Running on" line), and the fixtures block on that line.
The simulator is started as `python -m endpoint_loadtest.simulator`, which is
`elt simulate` (the same add_arguments/run) without importing the other sub-commands.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without AWS endpoint or profile overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE"))
    }
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PYTHONUNBUFFERED="1",
    )
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(extra or {})
    return env


def _watch_lines(
    stream: Any, predicate: Any, timeout: float, proc: subprocess.Popen, log_path: Path | None
) -> str:
    """Block (no sleeping) until a line of the stream matches; raise on exit or timeout.

    A daemon thread reads the stream for the process's whole life, so its pipe never
    fills; every line also goes to log_path when given.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        out = log_path.open("a", encoding="utf-8", errors="replace") if log_path else None
        try:
            for line in iter(stream.readline, ""):
                lines.put(line)
                if out:
                    out.write(line)
                    out.flush()
        finally:
            lines.put(None)
            if out:
                out.close()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            raise TimeoutError(f"no ready line within {timeout}s; output: {seen[-20:]}") from None
        if line is None:
            proc.wait(timeout=5)
            raise RuntimeError(f"exited with {proc.returncode} before ready: {seen[-20:]}")
        seen.append(line.rstrip())
        if predicate(line):
            return line.strip()


def http_json(url: str, method: str = "GET", timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def moto_reset(url: str) -> None:
    """Clear every mocked service's state in a moto server."""
    urllib.request.urlopen(
        urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b""), timeout=10
    ).close()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode (a real process) on a free loopback port; yields its URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert proc.stderr is not None
        _watch_lines(
            proc.stderr, lambda line: "Running on" in line, START_TIMEOUT_S, proc, log_path
        )
        url = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{url}/moto-api/", timeout=10).close()  # it answers
        yield url
    finally:
        terminate(proc)


class SimulatorProcess:
    """One running `elt simulate`; see the module docstring."""

    def __init__(self, proc: subprocess.Popen, url: str, endpoint: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url
        self.endpoint = endpoint  # the first endpoint's name
        self.log_path = log_path
        self.access_key_id = ACCESS_KEY_ID
        self.secret_access_key = SECRET_ACCESS_KEY
        self.region = REGION

    def stats(self) -> dict[str, Any]:
        """The simulator's own counts (GET /_simulator/stats)."""
        return http_json(f"{self.url}/_simulator/stats")

    def reset(self) -> None:
        http_json(f"{self.url}/_simulator/reset", method="POST")

    def invocations_between(self, endpoint: str, start: str, end: str) -> int:
        """What the endpoint served in the metric periods from `start` to `end` (ISO 8601,
        as status.results.cloudwatch gives them): CloudWatch's Invocations Sum must match."""
        first, last = (datetime.fromisoformat(at).timestamp() for at in (start, end))
        periods = self.stats()["cloudwatch"]["invocationsByPeriod"].get(endpoint, {})
        return sum(n for at, n in periods.items() if first <= float(at) < last)

    def env(self) -> dict[str, str]:
        """Variables pointing boto3 (sagemaker-runtime) at this simulator."""
        return {
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 sagemaker-runtime client for this simulator, retries off by default."""
        import boto3
        from botocore.config import Config

        options = {"retries": {"max_attempts": 0}, "read_timeout": 70, **config}
        return boto3.session.Session().client(
            "sagemaker-runtime",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(**options),
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (the simulator flushes its last metrics period), wait, return the code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class SimulatorFactory:
    """Call with `elt simulate` flags; `config=` a dict (written as YAML) or a path,
    `cloudwatch_url=` to publish metrics there (else CloudWatch is off), `env=` extras."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[SimulatorProcess] = []

    def __call__(
        self,
        *args: str,
        config: dict[str, Any] | str | Path | None = None,
        cloudwatch_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> SimulatorProcess:
        index = len(self.started)
        argv = [sys.executable, "-m", "endpoint_loadtest.simulator", "--port", "0", *args]
        endpoint = "sim-endpoint"
        if isinstance(config, dict):
            import yaml

            path = self.workdir / f"simulator-{index}.yaml"
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            argv += ["--config", str(path)]
            endpoint = config["endpoints"][0]["name"]
        elif config is not None:
            import yaml

            argv += ["--config", str(config)]
            endpoint = yaml.safe_load(Path(config).read_text())["endpoints"][0]["name"]
        elif "--endpoint" in args:
            endpoint = args[args.index("--endpoint") + 1]
        if cloudwatch_url:
            argv += ["--cloudwatch-endpoint-url", cloudwatch_url]
        elif "--cloudwatch-endpoint-url" not in args:
            argv.append("--no-cloudwatch")
        log_path = self.workdir / f"simulator-{index}.log"
        stderr = log_path.open("w", encoding="utf-8")
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=_clean_env(env)
        )
        stderr.close()
        try:
            assert proc.stdout is not None
            url = _watch_lines(
                proc.stdout, lambda line: line.startswith("http"), START_TIMEOUT_S, proc, None
            )
        except Exception as exc:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"simulator did not start: {exc}\n{log_path.read_text()}") from exc
        sim = SimulatorProcess(proc, url, endpoint, log_path)
        self.started.append(sim)
        return sim

    def stop_all(self) -> None:
        for sim in self.started:
            sim.stop()


@pytest.fixture
def simulator() -> Iterator[SimulatorFactory]:
    """Factory of `elt simulate` subprocesses, all stopped at teardown."""
    with tempfile.TemporaryDirectory(prefix="elt-sim-") as workdir:
        factory = SimulatorFactory(Path(workdir))
        try:
            yield factory
        finally:
            factory.stop_all()
