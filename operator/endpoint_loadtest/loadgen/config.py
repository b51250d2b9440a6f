"""The load generator's configuration: plan.json, written by the engine's plan.

The Locust processes are configured only through environment variables that the
plan sets: ELT_PLAN_FILE names the plan file (the plan ConfigMap mounted in a cluster,
a file of the output folder locally; never a variable, which Linux caps at 128 KiB).
This module reads it; nothing here knows where it runs.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLAN_FILE_ENV = "ELT_PLAN_FILE"
PLAN_VERSION = 1


@dataclass(frozen=True)
class Stage:
    duration_seconds: float
    users: int
    spawn_rate: float
    # Open model: requests per second across all workers (users is then 0).
    target_tps: float | None = None


@dataclass(frozen=True)
class Schedule:
    """When to start, measure and stop; the master's conductor follows it."""

    stages: list[Stage]
    warmup_seconds: float
    # Without explicit stages the window opens after ramp-up + warmup and lasts this long.
    duration_seconds: float | None
    expect_workers: int
    worker_connect_timeout_seconds: float
    request_timeout_seconds: float
    # Open model: the most requests in flight at once across all workers.
    max_in_flight: int | None = None
    # A capacity search (plan "search"): its rule's settings and the thresholds each
    # step is judged on; the steps' warmup and window are warmup/duration_seconds.
    search: dict[str, Any] | None = None

    @property
    def staged(self) -> bool:
        return self.duration_seconds is None

    @property
    def open_model(self) -> bool:
        return self.stages[0].target_tps is not None

    @property
    def peak_users(self) -> int:
        """The concurrency to size connection pools for: users, or the in-flight cap."""
        if self.open_model:
            return self.max_in_flight or 1
        return max(stage.users for stage in self.stages)


@dataclass(frozen=True)
class Body:
    name: str
    data: bytes
    weight: int = 1
    # Streaming: the most tokens to generate (written into the body; see streaming/bodies.py).
    max_tokens: int | None = None


@dataclass
class Payload:
    """Request bodies in the order a user sends them."""

    bodies: list[Body]
    selection: str = "roundRobin"
    _next: int = field(default=0, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> Body:
        if len(self.bodies) == 1:
            return self.bodies[0]
        if self.selection == "weighted":
            return self._rng.choices(self.bodies, weights=[b.weight for b in self.bodies])[0]
        body = self.bodies[self._next % len(self.bodies)]
        self._next += 1
        return body


@dataclass(frozen=True)
class LoadgenConfig:
    test_name: str
    run_id: str
    target: dict[str, Any]
    schedule: Schedule
    payload: Payload
    # SageMaker targets: "fast" (SigV4 over geventhttpclient) or "boto3" (AWS's load-testing
    # practice's way).
    client: str = "fast"

    @property
    def target_kind(self) -> str:
        return self.target["kind"]


def _read_body(spec: dict[str, Any], plan_dir: Path) -> bytes:
    if "inline" in spec:
        return spec["inline"].encode()
    path = Path(spec["file"])
    if not path.is_absolute():
        path = plan_dir / path
    return path.read_bytes()


def parse_plan(data: dict[str, Any], plan_dir: Path) -> LoadgenConfig:
    if data.get("version") != PLAN_VERSION:
        raise ValueError(f"unsupported plan version {data.get('version')!r}")
    sched = data["schedule"]
    schedule = Schedule(
        stages=[
            Stage(s["durationSeconds"], s["users"], s["spawnRate"], s.get("targetTps"))
            for s in sched["stages"]
        ],
        warmup_seconds=sched["warmupSeconds"],
        duration_seconds=sched.get("durationSeconds"),
        expect_workers=sched["expectWorkers"],
        worker_connect_timeout_seconds=sched["workerConnectTimeoutSeconds"],
        request_timeout_seconds=sched["requestTimeoutSeconds"],
        max_in_flight=sched.get("maxInFlight"),
        search=sched.get("search"),
    )
    payload = Payload(
        bodies=[
            Body(b["name"], _read_body(b, plan_dir), b.get("weight", 1), b.get("maxTokens"))
            for b in data["payload"]["bodies"]
        ],
        selection=data["payload"].get("selection", "roundRobin"),
    )
    return LoadgenConfig(
        test_name=data["test"]["name"],
        run_id=data["test"]["runId"],
        target=data["target"],
        schedule=schedule,
        payload=payload,
        client=data.get("client", "fast"),
    )


def load_from_environment() -> LoadgenConfig:
    """The plan file named by ELT_PLAN_FILE; a clear error if it is not set."""
    path = os.environ.get(PLAN_FILE_ENV)
    if not path:
        raise RuntimeError(f"{PLAN_FILE_ENV} is not set: the load generator needs a plan")
    plan_path = Path(path)
    return parse_plan(json.loads(plan_path.read_text()), plan_path.parent)
