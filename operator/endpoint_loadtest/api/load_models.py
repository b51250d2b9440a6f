"""`spec.load`: how much load for how long, closed model (users) or open (targetTPS).

A load is either users or an arrival rate held for a duration, or a profile of
stages; without any of them the test is a capacity search (spec.search) and the
search sets the rates. The properties answer what the planner and the judge ask of
a load (its model, its seconds, its peak concurrency) in one place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.durations import Duration, parse_duration

DEFAULT_MAX_IN_FLIGHT = 1000
LOAD_SHAPE = "set either load.users (or load.targetTPS) and load.duration, or load.stages"
IN_FLIGHT_BELOW_WORKERS = (
    "load.maxInFlight must be at least load.workers: each worker keeps at least one "
    "request in flight, so a smaller cap would not hold"
)
WORKERS_ABOVE_USERS = (
    "load.workers must not exceed the (peak) load.users of the closed model: a worker "
    "without a user sends nothing and its pod sits idle"
)


class Stage(ApiModel):
    """One step of a load profile: hold `users` (closed model) or `targetTPS` (open model)
    for `duration`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.users) != has(self.targetTPS)",
                    "set either users or targetTPS in a stage",
                )
            ]
        }
    )

    duration: Duration = Field(description="How long this stage lasts, e.g. 30s or 2m.")
    users: int | None = Field(
        default=None, ge=0, le=100000, description="Concurrent users during this stage."
    )
    target_tps: float | None = Field(
        default=None,
        gt=0,
        le=1000000,
        alias="targetTPS",
        description="Open model: requests started per second during this stage, across all "
        "workers, whatever the response times.",
    )
    spawn_rate: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        description="Users started (or stopped) per second to reach this stage "
        "(default load.spawnRate).",
    )


class Load(ApiModel):
    """How much load, for how long. Either users+duration or stages."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.stages) ? !has(self.users) && !has(self.targetTPS) "
                    "&& !has(self.duration) "
                    ": (!has(self.users) && !has(self.targetTPS) && !has(self.duration)) "
                    "|| (has(self.users) != has(self.targetTPS) && has(self.duration))",
                    "set either load.users (or load.targetTPS) and load.duration, or load.stages",
                ),
                cel(
                    "!has(self.stages) || self.stages.all(s, has(s.users)) "
                    "|| self.stages.all(s, has(s.targetTPS))",
                    "load.stages must all set users or all set targetTPS",
                ),
                cel(
                    "!has(self.maxInFlight) || has(self.targetTPS) "
                    "|| (has(self.stages) && self.stages.all(s, has(s.targetTPS))) "
                    "|| (!has(self.users) && !has(self.stages))",
                    "load.maxInFlight applies to the open model (targetTPS) only",
                ),
                cel(
                    "!has(self.maxInFlight) || !has(self.workers) "
                    "|| self.maxInFlight >= self.workers",
                    IN_FLIGHT_BELOW_WORKERS,
                    ".maxInFlight",
                ),
                cel(
                    "!has(self.workers) || !has(self.users) || self.workers <= self.users",
                    WORKERS_ABOVE_USERS,
                    ".workers",
                ),
                cel(
                    "!has(self.workers) || !has(self.stages) "
                    "|| self.stages.all(s, has(s.targetTPS)) "
                    "|| self.stages.exists(s, has(s.users) && s.users >= self.workers)",
                    WORKERS_ABOVE_USERS,
                    ".workers",
                ),
            ]
        }
    )

    users: int | None = Field(
        default=None, ge=1, le=100000, description="Concurrent simulated users (closed model)."
    )
    target_tps: float | None = Field(
        default=None,
        gt=0,
        le=1000000,
        alias="targetTPS",
        description="Open model, instead of users: requests started per second across all "
        "workers, at a constant arrival rate whatever the response times. Latency is "
        "measured from each request's intended start (results.latencyMs) and beside it from "
        "the actual send (results.serviceLatencyMs); sends the generator could not make on "
        "time are counted (results.shortfall) and more than 1% makes the verdict "
        "Inconclusive.",
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Open model: the most requests in flight at once across all workers "
        f"(default {DEFAULT_MAX_IN_FLIGHT}, split evenly between workers). An intended send "
        "that finds the cap reached is not made and counts as shortfall.",
    )
    spawn_rate: float = Field(
        default=10, gt=0, le=10000, description="Users started per second during ramp-up."
    )
    workers: int = Field(
        default=1, ge=1, le=500, description="Locust worker processes (pods in a cluster)."
    )
    duration: Duration | None = Field(
        default=None,
        description="Length of the measurement window, after ramp-up and warmup (e.g. 60s, 5m).",
    )
    warmup: Duration = Field(
        default="0s",
        description="Time at full load after ramp-up that is excluded from the verdict. "
        "With stages, the first `warmup` of the profile is excluded.",
    )
    stages: list[Stage] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A load profile: users over time. The whole profile after warmup is measured.",
    )
    request_timeout: Duration = Field(
        default="70s",
        description="Client socket timeout per request (SageMaker allows the model 60 s).",
    )
    client: Literal["fast", "boto3"] = Field(
        default="fast",
        description="SageMaker targets: `fast` signs InvokeEndpoint (SigV4) over Locust's "
        "fast HTTP client, several times cheaper per request; `boto3` calls boto3 "
        "invoke_endpoint like AWS's load-testing practice.",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Load:
        shape = LOAD_SHAPE
        if not self.shaped:  # a capacity search (spec.search) sets the rates itself
            pass
        elif self.stages:
            if self.users is not None or self.target_tps is not None or self.duration is not None:
                raise ValueError(shape)
            for stage in self.stages:
                if (stage.users is None) == (stage.target_tps is None):
                    raise ValueError("set either users or targetTPS in a stage")
            if len({stage.target_tps is None for stage in self.stages}) > 1:
                raise ValueError("load.stages must all set users or all set targetTPS")
            if self.warmup_seconds >= self.total_stage_seconds:
                raise ValueError("load.warmup must be shorter than the stages together")
        elif (self.users is None) == (self.target_tps is None) or self.duration is None:
            raise ValueError(shape)
        elif self.duration_seconds <= 0:
            raise ValueError("load.duration must be longer than 0s")
        if self.max_in_flight is not None and self.shaped and not self.open_model:
            raise ValueError("load.maxInFlight applies to the open model (targetTPS) only")
        if self.max_in_flight is not None and self.max_in_flight < self.workers:
            raise ValueError(
                f"{IN_FLIGHT_BELOW_WORKERS} (load.maxInFlight {self.max_in_flight} < "
                f"workers {self.workers})"
            )
        if self.shaped and not self.open_model and self.workers > self.peak_users:
            raise ValueError(
                f"{WORKERS_ABOVE_USERS} (load.workers {self.workers} > users {self.peak_users})"
            )
        if self.request_timeout_seconds <= 0:
            raise ValueError("load.requestTimeout must be longer than 0s")
        return self

    @property
    def shaped(self) -> bool:
        """Whether the load sets its own shape (users, targetTPS, duration or stages);
        without one the test is a capacity search and spec.search sets the rates."""
        return any(v is not None for v in (self.users, self.target_tps, self.duration, self.stages))

    @property
    def open_model(self) -> bool:
        """Requests at a target arrival rate (targetTPS) rather than by users."""
        if self.stages:
            return self.stages[0].target_tps is not None
        return self.target_tps is not None

    @property
    def in_flight_cap(self) -> int:
        return self.max_in_flight or DEFAULT_MAX_IN_FLIGHT

    @property
    def duration_seconds(self) -> float:
        return parse_duration(self.duration) if self.duration is not None else 0.0

    @property
    def warmup_seconds(self) -> float:
        return parse_duration(self.warmup)

    @property
    def request_timeout_seconds(self) -> float:
        return parse_duration(self.request_timeout)

    @property
    def total_stage_seconds(self) -> float:
        return sum(parse_duration(s.duration) for s in self.stages or [])

    @property
    def peak_users(self) -> int:
        """Users, or in the open model the in-flight cap (the concurrency either way)."""
        if self.open_model or not self.shaped:  # a capacity search is open-model too
            return self.in_flight_cap
        if self.stages:
            return max(s.users or 0 for s in self.stages)
        assert self.users is not None
        return self.users
