"""What a Locust master may answer, as pydantic models: a bad reply is a clear error.

The reader (the operator, `elt run`) checks the shape of each reply before anything
reads a field, so a master that answers nonsense ends in a message naming the field,
never a KeyError deep in the lifecycle. Unknown fields are kept (Locust adds some
between versions); only what the product reads is typed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from endpoint_loadtest.engine.signing import SIGNATURE_ALGORITHM


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class WorkerCounts(_Reply):
    expected: int = 0
    connected: int = 0
    entries: list[dict[str, Any]] = Field(default_factory=list, alias="list")


class ConductorStatus(_Reply):
    """/elt/status."""

    state: str
    message: str | None = None
    run_id: str | None = Field(default=None, alias="runId")
    conductor_id: str | None = Field(default=None, alias="conductorId")
    workers: WorkerCounts | None = None
    users: int | None = None
    target_tps: float | None = Field(default=None, alias="targetTPS")
    started_at: float | None = Field(default=None, alias="startedAt")
    window_start: float | None = Field(default=None, alias="windowStart")
    window_end: float | None = Field(default=None, alias="windowEnd")
    elapsed_seconds: float | None = Field(default=None, alias="elapsedSeconds")
    planned_seconds: float | None = Field(default=None, alias="plannedSeconds")
    max_worker_cpu_percent: float | None = Field(default=None, alias="maxWorkerCpuPercent")
    streaming: dict[str, Any] | None = None


class StatsEntry(_Reply):
    name: str
    num_requests: int = 0
    num_failures: int = 0


class LocustStats(_Reply):
    """Locust's /stats/requests (only what the product reads is typed)."""

    stats: list[StatsEntry] = Field(default_factory=list)
    current_rps: float | None = None
    user_count: int | None = None
    workers: list[dict[str, Any]] = Field(default_factory=list)
    current_response_time_percentiles: dict[str, float | None] | None = None


class SignedResult(_Reply):
    """/elt/result: the window's figures, signed with the run's token."""

    run_id: str = Field(alias="runId")
    figures: dict[str, Any]
    algorithm: Literal["HMAC-SHA256"] = SIGNATURE_ALGORITHM
    signature: str = Field(pattern=r"^[0-9a-f]{64}$")


class NotReady(_Reply):
    """/elt/result before the result exists (HTTP 409)."""

    state: str | None = None
    message: str | None = None


def describe(error: ValidationError) -> str:
    """The first problem of a reply, naming the field: `workers.expected: ...`."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the reply"
    return f"{where}: {first['msg']}"
