"""Fixtures of the observability tests (moto_server and simulator come from simfixtures)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from endpoint_loadtest.observability import cloudwatch_api


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch):
    """Point this process's boto3 CloudWatch client at `url` (the standard variable)."""

    def point(url: str) -> None:
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    return point


@pytest.fixture(autouse=True)
def _fresh_clients(monkeypatch) -> Iterator[None]:
    """Each test its own Session and clients: tests change the identity and endpoint."""
    cloudwatch_api._clients.clear()
    monkeypatch.setattr(cloudwatch_api, "_session", None)
    yield
    cloudwatch_api._clients.clear()


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


@pytest.fixture(scope="module")
def moto_percentiles() -> Iterator[str]:
    """moto's CloudWatch server, extended to compute percentile statistics (pNN).

    moto answers `Stat: p99` with a null value (a 500 in server mode). This runs moto's
    own threaded server in the test process with `Statistics.get_statistics_for_type`
    extended: pNN over the raw values moto stored (published as Values/Counts, the
    simulator's `--metrics-format values`), nearest rank like the simulator's counters.
    Everything else is unchanged moto."""
    import re

    from moto.cloudwatch import models
    from moto.server import ThreadedMotoServer

    from simfixtures import free_port

    original = models.Statistics.get_statistics_for_type

    def with_percentiles(self, stat):
        match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", stat)
        if match is None:
            return original(self, stat)
        values = self.metric_single_values_list
        return _nearest_rank(values, float(match.group(1)) / 100.0) if values else None

    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models.Statistics, "get_statistics_for_type", with_percentiles)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


def run_elt(doc: dict, workdir, env: dict[str, str], *extra: str, timeout: float = 120):
    """The real `elt run` on a document; returns (CompletedProcess, result.json as dict)."""
    import json
    import subprocess
    import sys

    import yaml

    from simfixtures import _clean_env

    path = workdir / f"{doc['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    output = workdir / f"out-{doc['metadata']['name']}"
    proc = subprocess.run(
        [sys.executable, "-m", "endpoint_loadtest.cli", "run", str(path), "-o", str(output),
         "-q", *extra],
        capture_output=True,
        text=True,
        env=_clean_env(env),
        timeout=timeout,
    )  # fmt: skip
    result = output / "result.json"
    if not result.exists():
        logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in output.glob("*.log"))
        pytest.fail(f"elt run wrote no result: {proc.stdout}\n{proc.stderr}{logs}")
    return proc, json.loads(result.read_text())


def load_test(name: str, endpoint: str, **spec) -> dict:
    """A short test document against the simulator: 4 users, 1 worker, 3 s window."""
    return {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": name},
        "spec": {
            "target": {"sagemaker": {"endpointName": endpoint, "region": "us-east-1"}},
            "payload": {"body": '{"inputs": "I am super happy right now."}'},
            "load": {"users": 4, "spawnRate": 4, "workers": 1, "duration": "3s"},
            **spec,
        },
    }
