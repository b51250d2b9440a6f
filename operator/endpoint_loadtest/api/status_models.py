"""`status`: where a test is (phase, progress, conditions) and what it concluded.

The operator writes it and `elt` reads it. Unlike the spec's models, these ignore
fields they do not know rather than reject them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field

from endpoint_loadtest.api.base import ApiModel
from endpoint_loadtest.api.results_models import CloudWatchResults, Results
from endpoint_loadtest.api.search_models import Capacity


class Phase(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    EVALUATING = "Evaluating"
    COMPLETED = "Completed"
    ERROR = "Error"


class VerdictResult(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class Condition(ApiModel):
    """A Kubernetes-style condition."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(description="Condition type, e.g. Completed or Passed.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: datetime | None = Field(default=None, description="Last change.")
    observed_generation: int | None = Field(default=None, description="Generation seen.")


class Check(ApiModel):
    """One line of the verdict."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="The threshold checked, e.g. latencyMs.p99.")
    threshold: float | None = Field(default=None, description="The limit.")
    observed: float | None = Field(default=None, description="What was measured.")
    passed: bool = Field(description="Whether the limit was met.")
    message: str = Field(default="", description="The check in words.")


class Verdict(ApiModel):
    model_config = ConfigDict(extra="ignore")

    result: VerdictResult = Field(description="Passed, Failed or Inconclusive.")
    checks: list[Check] = Field(default_factory=list, description="One line per check.")
    message: str = Field(default="", description="Why, in one sentence.")


class RunResult(StrEnum):
    """How a past run ended: its verdict, Error, or Superseded (the spec changed under it)."""

    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    SUPERSEDED = "Superseded"


class RunRecord(ApiModel):
    """A past run, kept in status.history."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: VerdictResult | None = None
    result: RunResult | None = Field(default=None, description="How the run ended.")
    reason: str | None = Field(default=None, description="Why it ended (status.reason).")
    tps: float | None = None
    p99_ms: float | None = None


class WorkerCounts(ApiModel):
    model_config = ConfigDict(extra="ignore")

    expected: int = 0
    connected: int = 0


class StreamingProgress(ApiModel):
    """Live token-stream figures over the last seconds."""

    model_config = ConfigDict(extra="ignore")

    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    tpot_p50_ms: float | None = None
    tpot_p99_ms: float | None = None
    output_tokens_per_second: float | None = None


class Progress(ApiModel):
    """Live figures while the test runs."""

    model_config = ConfigDict(extra="ignore")

    stage: str | None = Field(default=None, description="waiting, rampUp, warmup, measuring...")
    elapsed_seconds: float | None = None
    total_seconds: float | None = None
    users: int | None = Field(default=None, description="Running users (closed model).")
    target_tps: float | None = Field(
        default=None,
        alias="targetTPS",
        description="The arrival rate being sent now (open model: load.targetTPS).",
    )
    current_rps: float | None = None
    current_p50_ms: float | None = None
    current_p99_ms: float | None = None
    failures: int | None = None
    max_worker_cpu_percent: float | None = None
    cloudwatch: CloudWatchResults | None = Field(
        default=None, description="The endpoint's CloudWatch figures so far (cloudwatch.enabled)."
    )
    streaming: StreamingProgress | None = Field(
        default=None, description="Token-stream figures of the last seconds (streamed targets)."
    )


class EndpointLoadTestStatus(ApiModel):
    """Where the test is and what it found."""

    model_config = ConfigDict(extra="ignore")

    phase: Phase | None = Field(default=None, description="Lifecycle phase.")
    run_id: str | None = Field(default=None, description="Identifier of the current run.")
    run_token: str | None = Field(
        default=None,
        description="Generation and rerun annotation the current run answers; a change "
        "starts a new run.",
    )
    message: str | None = Field(default=None, description="Human-readable state.")
    reason: str | None = Field(
        default=None,
        description="Why the run ended: its verdict, WorkerLost, MasterRestarted, Refused, "
        "StartTimeout, MasterSilent, DeadlineExceeded, ...",
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None
    workers: WorkerCounts | None = None
    progress: Progress | None = None
    results: Results | None = None
    verdict: Verdict | None = None
    capacity: Capacity | None = Field(
        default=None, description="What the capacity search found (spec.search)."
    )
    conditions: list[Condition] = Field(default_factory=list)
    history: list[RunRecord] = Field(default_factory=list)
    observed_generation: int | None = None
    series: dict[str, Any] | None = Field(
        default=None,
        description="The run's live figures over time, for its report (`elt report`): one "
        "list per figure, at most 200 points (at most 15 kB), downsampled evenly: start "
        "(epoch seconds), t (seconds from start), rps, p50Ms, p99Ms, failures (cumulative), "
        "users, targetTPS, workerCpu; windowStart and windowEnd (epoch seconds) mark the "
        "measured window.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    lifecycle: dict[str, Any] | None = Field(
        default=None,
        description="The run's lifecycle bookkeeping (deadlines, the master's identity).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
