"""Helpers for the integration tests: write a test document, run the real `elt run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

RUN_TIMEOUT_S = 120


@dataclass
class EltRun:
    returncode: int
    stdout: str
    stderr: str
    output: Path

    @property
    def document(self) -> dict[str, Any]:
        return json.loads((self.output / "result.json").read_text())

    @property
    def status(self) -> dict[str, Any]:
        return self.document["status"]

    @property
    def results(self) -> dict[str, Any]:
        return self.status["results"]

    def failures_csv_by_error(self) -> dict[str, int]:
        """All failures of the run (every phase), from Locust's failures CSV."""
        import csv

        counts: dict[str, int] = {}
        with (self.output / "locust_failures.csv").open() as handle:
            for row in csv.DictReader(handle):
                counts[row["Error"]] = counts.get(row["Error"], 0) + int(row["Occurrences"])
        return counts

    def explain(self) -> str:
        logs = "".join(
            f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.output.glob("*.log"))
        )
        return f"rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}{logs}"


def document(
    target: dict[str, Any],
    load: dict[str, Any],
    thresholds: dict[str, Any] | None = None,
    name: str = "it",
) -> dict[str, Any]:
    return {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": name},
        "spec": {
            "target": target,
            "payload": {"body": '{"inputs": "I am super happy right now."}'},
            "load": load,
            "thresholds": thresholds or {"minRequests": 10},
        },
    }


def sagemaker_target(endpoint: str = "sim-endpoint") -> dict[str, Any]:
    return {"sagemaker": {"endpointName": endpoint, "region": "us-east-1"}}


def elt_command(path: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "endpoint_loadtest.cli",
        "run",
        str(path),
        "-o",
        str(output),
        *extra,
    ]


def elt_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


@pytest.fixture
def elt_run(tmp_path: Path):
    """Run `elt run` on a document to completion; returns an EltRun."""
    counter = iter(range(100))

    def run(doc: dict[str, Any], env: dict[str, str] | None = None, *extra: str) -> EltRun:
        index = next(counter)
        path = tmp_path / f"test-{index}.yaml"
        path.write_text(yaml.safe_dump(doc))
        output = tmp_path / f"out-{index}"
        proc = subprocess.run(
            elt_command(path, output, *extra),
            capture_output=True,
            text=True,
            env=elt_env(env),
            timeout=RUN_TIMEOUT_S,
        )
        return EltRun(proc.returncode, proc.stdout, proc.stderr, output)

    return run
